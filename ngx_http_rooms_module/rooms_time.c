
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>
#include <time.h>

#include "rooms_time.h"


static int rooms_time_digits(const unsigned char *p, size_t n);
static int rooms_time_days_in_month(int y, int m);
static void rooms_time_civil_from_days(int64_t z, int *y, int *m, int *d);
static int rooms_time_weekday(int64_t days);
static int rooms_time_month(const unsigned char *p);
static int rooms_time_hms(const unsigned char *p, int *h, int *mi, int *s);
static int rooms_time_make_http(int wday, int y, int m, int d, int h, int mi,
    int s, int64_t *sec);


static const char  *rooms_time_wdays[] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday"
};

static const char  rooms_time_months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";


/* value of exactly n ASCII digits, or -1 */

static int
rooms_time_digits(const unsigned char *p, size_t n)
{
    int  v;

    v = 0;

    while (n--) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        v = v * 10 + (*p++ - '0');
    }

    return v;
}


static int
rooms_time_days_in_month(int y, int m)
{
    static const int  mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        return 29;
    }

    return mdays[m - 1];
}


/*
 * H. Hinnant's days_from_civil()/civil_from_days(): exact for the whole
 * proleptic Gregorian calendar, no libc time zone machinery involved.
 */

int64_t
rooms_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


static void
rooms_time_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t   era;
    unsigned  doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) ((int64_t) yoe + era * 400 + (*m <= 2));
}


/* 0 is Sunday */

static int
rooms_time_weekday(int64_t days)
{
    return (int) (days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}


int
rooms_time_parse(const char *s, size_t len, int64_t *us)
{
    int                   year, month, day, hour, min, sec, frac, ndig,
                          sign, oh, om;
    int64_t               t;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + len;

    /* "YYYY-MM-DD" + separator + "hh:mm" */

    if (len < 16 || p[4] != '-' || p[7] != '-' || p[13] != ':') {
        return -1;
    }

    year = rooms_time_digits(p, 4);
    month = rooms_time_digits(p + 5, 2);
    day = rooms_time_digits(p + 8, 2);
    hour = rooms_time_digits(p + 11, 2);
    min = rooms_time_digits(p + 14, 2);

    if (year < 1 || month < 1 || month > 12 || day < 1
        || day > rooms_time_days_in_month(year, month)
        || hour < 0 || hour > 23 || min < 0 || min > 59)
    {
        return -1;
    }

    if (p[10] != 'T' && p[10] != 't' && p[10] != ' ') {
        return -1;
    }

    p += 16;
    sec = 0;
    frac = 0;

    if (p < end && *p == ':') {
        if (end - p < 3) {
            return -1;
        }

        sec = rooms_time_digits(p + 1, 2);

        if (sec < 0 || sec > 60) {
            return -1;
        }

        if (sec == 60) {
            sec = 59;
        }

        p += 3;

        if (p < end && *p == '.') {
            p++;

            for (ndig = 0; p < end && *p >= '0' && *p <= '9'; ndig++, p++) {
                if (ndig == 9) {
                    return -1;
                }

                if (ndig < 6) {
                    frac = frac * 10 + (*p - '0');
                }
            }

            if (ndig == 0) {
                return -1;
            }

            for ( /* void */ ; ndig < 6; ndig++) {
                frac *= 10;
            }
        }
    }

    sign = 0;
    oh = 0;
    om = 0;

    if (p < end) {
        if (*p == 'Z' || *p == 'z') {
            p++;

        } else if (*p == '+' || *p == '-') {
            sign = (*p == '+') ? 1 : -1;
            p++;

            if (end - p == 5 && p[2] == ':') {
                oh = rooms_time_digits(p, 2);
                om = rooms_time_digits(p + 3, 2);

            } else if (end - p == 4) {
                oh = rooms_time_digits(p, 2);
                om = rooms_time_digits(p + 2, 2);

            } else {
                return -1;
            }

            if (oh < 0 || oh > 23 || om < 0 || om > 59) {
                return -1;
            }

            p = end;

        } else {
            return -1;
        }
    }

    if (p != end) {
        return -1;
    }

    t = rooms_time_days_from_civil(year, (unsigned) month, (unsigned) day);
    t = t * 86400 + hour * 3600 + min * 60 + sec;
    t -= (int64_t) sign * (oh * 3600 + om * 60);
    t = t * ROOMS_TIME_US_PER_SEC + frac;

    if (t < ROOMS_TIME_MIN || t > ROOMS_TIME_MAX) {
        return -1;
    }

    *us = t;

    return 0;
}


size_t
rooms_time_format(char *buf, int64_t us)
{
    int      y, m, d, n, frac, i;
    char    *p;
    int64_t  days, rem;

    if (us < ROOMS_TIME_MIN || us > ROOMS_TIME_MAX) {
        buf[0] = '\0';
        return 0;
    }

    days = us / ROOMS_TIME_US_PER_DAY;
    rem = us % ROOMS_TIME_US_PER_DAY;

    if (rem < 0) {
        rem += ROOMS_TIME_US_PER_DAY;
        days--;
    }

    rooms_time_civil_from_days(days, &y, &m, &d);

    frac = (int) (rem % ROOMS_TIME_US_PER_SEC);
    rem /= ROOMS_TIME_US_PER_SEC;

    p = buf;

    *p++ = (char) ('0' + y / 1000);
    *p++ = (char) ('0' + y / 100 % 10);
    *p++ = (char) ('0' + y / 10 % 10);
    *p++ = (char) ('0' + y % 10);
    *p++ = '-';
    *p++ = (char) ('0' + m / 10);
    *p++ = (char) ('0' + m % 10);
    *p++ = '-';
    *p++ = (char) ('0' + d / 10);
    *p++ = (char) ('0' + d % 10);
    *p++ = 'T';

    n = (int) (rem / 3600);
    *p++ = (char) ('0' + n / 10);
    *p++ = (char) ('0' + n % 10);
    *p++ = ':';

    n = (int) (rem / 60 % 60);
    *p++ = (char) ('0' + n / 10);
    *p++ = (char) ('0' + n % 10);
    *p++ = ':';

    n = (int) (rem % 60);
    *p++ = (char) ('0' + n / 10);
    *p++ = (char) ('0' + n % 10);

    if (frac != 0) {
        *p++ = '.';

        for (i = 100000; frac != 0; i /= 10) {
            *p++ = (char) ('0' + frac / i);
            frac %= i;
        }
    }

    memcpy(p, "+00:00", sizeof("+00:00"));
    p += sizeof("+00:00") - 1;

    return (size_t) (p - buf);
}


/* month number 1..12 of a case-sensitive 3-letter name, or -1 */

static int
rooms_time_month(const unsigned char *p)
{
    int  i;

    for (i = 0; i < 12; i++) {
        if (memcmp(p, &rooms_time_months[i * 3], 3) == 0) {
            return i + 1;
        }
    }

    return -1;
}


/* "hh:mm:ss" */

static int
rooms_time_hms(const unsigned char *p, int *h, int *mi, int *s)
{
    if (p[2] != ':' || p[5] != ':') {
        return -1;
    }

    *h = rooms_time_digits(p, 2);
    *mi = rooms_time_digits(p + 3, 2);
    *s = rooms_time_digits(p + 6, 2);

    /* HTTP-date allows a leap second */

    if (*h < 0 || *h > 23 || *mi < 0 || *mi > 59 || *s < 0 || *s > 60) {
        return -1;
    }

    if (*s == 60) {
        *s = 59;
    }

    return 0;
}


static int
rooms_time_make_http(int wday, int y, int m, int d, int h, int mi, int s,
    int64_t *sec)
{
    int64_t  days;

    if (y < 1 || m < 1 || d < 1 || d > rooms_time_days_in_month(y, m)) {
        return -1;
    }

    days = rooms_time_days_from_civil(y, (unsigned) m, (unsigned) d);

    if (rooms_time_weekday(days) != wday) {
        return -1;
    }

    *sec = days * 86400 + h * 3600 + mi * 60 + s;

    return 0;
}


int
rooms_time_parse_http(const char *s, size_t len, int64_t *sec)
{
    int                   wday, y, m, d, h, mi, ss;
    size_t                n;
    const unsigned char  *p;

    p = (const unsigned char *) s;

    for (wday = 0; wday < 7; wday++) {
        n = strlen(rooms_time_wdays[wday]);

        if (len >= n && memcmp(p, rooms_time_wdays[wday], n) == 0) {
            break;
        }

        if (len >= 3 && memcmp(p, rooms_time_wdays[wday], 3) == 0) {
            n = 3;
            break;
        }
    }

    if (wday == 7) {
        return -1;
    }

    if (n == 3 && len == 29 && p[3] == ',') {

        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */

        if (p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' '
            || p[25] != ' ' || memcmp(p + 26, "GMT", 3) != 0)
        {
            return -1;
        }

        d = rooms_time_digits(p + 5, 2);
        m = rooms_time_month(p + 8);
        y = rooms_time_digits(p + 12, 4);

        if (rooms_time_hms(p + 17, &h, &mi, &ss) != 0) {
            return -1;
        }

        return rooms_time_make_http(wday, y, m, d, h, mi, ss, sec);
    }

    if (n == 3 && len == 24 && p[3] == ' ') {

        /* asctime: "Sun Nov  6 08:49:37 1994" */

        if (p[7] != ' ' || p[10] != ' ' || p[19] != ' ') {
            return -1;
        }

        m = rooms_time_month(p + 4);

        if (p[8] == ' ') {
            d = rooms_time_digits(p + 9, 1);

        } else {
            d = rooms_time_digits(p + 8, 2);
        }

        y = rooms_time_digits(p + 20, 4);

        if (rooms_time_hms(p + 11, &h, &mi, &ss) != 0) {
            return -1;
        }

        return rooms_time_make_http(wday, y, m, d, h, mi, ss, sec);
    }

    if (n > 3 && len == n + 24 && p[n] == ',') {

        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */

        p += n;

        if (p[1] != ' ' || p[4] != '-' || p[8] != '-' || p[11] != ' '
            || p[20] != ' ' || memcmp(p + 21, "GMT", 3) != 0)
        {
            return -1;
        }

        d = rooms_time_digits(p + 2, 2);
        m = rooms_time_month(p + 5);
        y = rooms_time_digits(p + 9, 2);

        if (y < 0 || rooms_time_hms(p + 12, &h, &mi, &ss) != 0) {
            return -1;
        }

        y += (y < 70) ? 2000 : 1900;

        return rooms_time_make_http(wday, y, m, d, h, mi, ss, sec);
    }

    return -1;
}


int
rooms_time_parse_int(const char *s, size_t len, int64_t *v)
{
    size_t    i;
    uint64_t  n, max;
    unsigned  d;

    i = 0;
    max = INT64_MAX;

    if (len && s[0] == '-') {
        i = 1;
        max = (uint64_t) INT64_MAX + 1;
    }

    if (i == len || len - i > 19) {
        return -1;
    }

    /* 19 digits fit in 64 bits unsigned: one range check at the end */

    n = 0;

    for ( /* void */ ; i < len; i++) {
        d = (unsigned char) s[i] - '0';

        if (d > 9) {
            return -1;
        }

        n = n * 10 + d;
    }

    if (n > max) {
        return -1;
    }

    if (s[0] == '-') {
        *v = (n == max) ? INT64_MIN : -(int64_t) n;

    } else {
        *v = (int64_t) n;
    }

    return 0;
}


int64_t
rooms_time_now_us(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }

    return (int64_t) ts.tv_sec * ROOMS_TIME_US_PER_SEC + ts.tv_nsec / 1000;
}
