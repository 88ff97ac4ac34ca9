
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Expected epoch values were computed once with Python's datetime:
 *   python3 -c "from datetime import *; d = datetime.fromisoformat(S) - \
 *     datetime(1970, 1, 1, tzinfo=timezone.utc); \
 *     print((d.days * 86400 + d.seconds) * 10**6 + d.microseconds)"
 */


#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rooms_time.h"


static int64_t
parse(const char *s)
{
    int64_t  us;

    if (rooms_time_parse(s, strlen(s), &us) != 0) {
        return ROOMS_TIME_UNSET;
    }

    return us;
}


static int
bad(const char *s)
{
    int64_t  us;

    us = 12345;

    return rooms_time_parse(s, strlen(s), &us) == -1 && us == 12345;
}


static int64_t
http(const char *s)
{
    int64_t  sec;

    if (rooms_time_parse_http(s, strlen(s), &sec) != 0) {
        return ROOMS_TIME_UNSET;
    }

    return sec;
}


static const char *
fmt(int64_t us)
{
    static char  buf[ROOMS_TIME_FORMAT_SIZE];

    rooms_time_format(buf, us);

    return buf;
}


static void
test_parse(void)
{
    /* zones */

    CHECK_INT(parse("2023-12-13T11:51:22Z"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13T11:51:22z"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13t11:51:22Z"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13 11:51:22Z"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13T11:51:22"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13T11:51:22+00:00"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13T11:51:22-00:00"), INT64_C(1702468282000000));
    CHECK_INT(parse("2023-12-13T11:51:22+05:30"), INT64_C(1702448482000000));
    CHECK_INT(parse("2023-12-13T11:51:22+0530"), INT64_C(1702448482000000));
    CHECK_INT(parse("2023-12-13T11:51:22-05:30"), INT64_C(1702488082000000));
    CHECK_INT(parse("2023-12-13T11:51:22-0530"), INT64_C(1702488082000000));

    /* ISO 8601 allows omitting the seconds, as System.Text.Json does */

    CHECK_INT(parse("2023-12-13T11:51Z"), INT64_C(1702468260000000));
    CHECK_INT(parse("2023-12-13T11:51"), INT64_C(1702468260000000));

    /* fractions: 1..9 digits, truncated to microseconds */

    CHECK_INT(parse("2023-12-13T11:51:22.2359170+00:00"),
              INT64_C(1702468282235917));
    CHECK_INT(parse("2023-12-13T11:51:22.235917Z"),
              INT64_C(1702468282235917));
    CHECK_INT(parse("2023-12-13T11:51:22.235917999Z"),
              INT64_C(1702468282235917));
    CHECK_INT(parse("2023-12-13T11:51:22.2Z"), INT64_C(1702468282200000));
    CHECK_INT(parse("2023-12-13T11:51:22.02Z"), INT64_C(1702468282020000));
    CHECK_INT(parse("2023-12-13T11:51:22.000001Z"),
              INT64_C(1702468282000001));
    CHECK_INT(parse("2023-12-13T11:51:22.0000009Z"),
              INT64_C(1702468282000000));
    CHECK_INT(parse("1969-12-31T23:59:59.5Z"), -500000);

    /* the API's own examples */

    CHECK_INT(parse("2023-06-30T00:00:00+00:00"), INT64_C(1688083200000000));
    CHECK_INT(parse("2025-06-26T01:37:00.659722+00:00"),
              INT64_C(1750901820659722));

    /* leap years */

    CHECK_INT(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800000000));
    CHECK_INT(parse("2000-02-29T23:59:59Z"), INT64_C(951868799000000));
    CHECK(parse("1600-02-29T00:00:00Z") != ROOMS_TIME_UNSET);
    CHECK_INT(parse("1600-03-01T00:00:00Z"), INT64_C(-11670912000000000));
    CHECK(bad("2023-02-29T00:00:00Z"));
    CHECK(bad("1900-02-29T00:00:00Z"));
    CHECK(bad("2100-02-29T00:00:00Z"));

    /* leap second read as :59 */

    CHECK_INT(parse("2016-12-31T23:59:60Z"), parse("2016-12-31T23:59:59Z"));

    /* range */

    CHECK_INT(parse("0001-01-01T00:00:00Z"), ROOMS_TIME_MIN);
    CHECK_INT(parse("9999-12-31T23:59:59.999999Z"), ROOMS_TIME_MAX);
    CHECK_INT(parse("9999-12-31T23:59:59.999999999Z"), ROOMS_TIME_MAX);
    CHECK(bad("0000-12-31T00:00:00Z"));
    CHECK(bad("0001-01-01T00:00:00+00:01"));
    CHECK(bad("9999-12-31T23:59:59-00:01"));
    CHECK_INT(parse("0001-01-01T00:00:00-00:01"), ROOMS_TIME_MIN + 60000000);

    /* field validation */

    CHECK(bad("2023-00-13T11:51:22Z"));
    CHECK(bad("2023-13-13T11:51:22Z"));
    CHECK(bad("2023-12-00T11:51:22Z"));
    CHECK(bad("2023-12-32T11:51:22Z"));
    CHECK(bad("2023-04-31T11:51:22Z"));
    CHECK(bad("2023-12-13T24:00:00Z"));
    CHECK(bad("2023-12-13T11:60:22Z"));
    CHECK(bad("2023-12-13T11:51:61Z"));
    CHECK(bad("2023-12-13T11:51:22+24:00"));
    CHECK(bad("2023-12-13T11:51:22+05:60"));

    /* syntax */

    CHECK(bad(""));
    CHECK(bad("2023-12-13"));
    CHECK(bad("2023-12-13T"));
    CHECK(bad("2023-12-13T11"));
    CHECK(bad("2023-12-13T11:5"));
    CHECK(bad("2023-12-13T11:51:"));
    CHECK(bad("2023-12-13T11:51:2"));
    CHECK(bad("2023-12-13T11:51:22."));
    CHECK(bad("2023-12-13T11:51:22.Z"));
    CHECK(bad("2023-12-13T11:51:22.1234567890Z"));
    CHECK(bad("2023-12-13T11:51:22,5Z"));
    CHECK(bad("2023-12-13T11:51:22ZZ"));
    CHECK(bad("2023-12-13T11:51:22Z "));
    CHECK(bad(" 2023-12-13T11:51:22Z"));
    CHECK(bad("2023-12-13T11:51:22 Z"));
    CHECK(bad("2023-12-13T11:51:22+05"));
    CHECK(bad("2023-12-13T11:51:22+5:30"));
    CHECK(bad("2023-12-13T11:51:22+05:3"));
    CHECK(bad("2023-12-13T11:51:22+05:300"));
    CHECK(bad("2023-12-13T11:51:22+05-30"));
    CHECK(bad("2023-12-13T11:51:22UTC"));
    CHECK(bad("2023-12-13X11:51:22Z"));
    CHECK(bad("2023/12/13T11:51:22Z"));
    CHECK(bad("20231213T115122Z"));
    CHECK(bad("+2023-12-13T11:51:22Z"));
    CHECK(bad("-2023-12-13T11:51:22Z"));
    CHECK(bad("12023-12-13T11:51:22Z"));
    CHECK(bad("2023-1-13T11:51:22Z"));
    CHECK(bad("2023-12-13T1:51:22Z"));
    CHECK(bad("2023-12-13T11:51:22.-1Z"));
    CHECK(bad("2023-12-13T11:51:2aZ"));
    CHECK(bad("Wed, 13 Dec 2023 11:51:22 GMT"));
    CHECK(bad("1702468282"));

    /* an embedded NUL or a shorter len must not be read past */

    {
        int64_t  us;

        CHECK_INT(rooms_time_parse("2023-12-13T11:51:22Z\0", 21, &us), -1);
        CHECK_INT(rooms_time_parse("2023-12-13T11:51:22\0Z", 20, &us), -1);
        CHECK_INT(rooms_time_parse("2023-12-13T11:51:22Zjunk", 20, &us), 0);
        CHECK_INT(us, INT64_C(1702468282000000));
        CHECK_INT(rooms_time_parse("2023-12-13T11:51:22.25", 21, &us), 0);
        CHECK_INT(us, INT64_C(1702468282200000));
    }
}


static void
test_format(void)
{
    int64_t  us, step;
    size_t   n;
    char     buf[ROOMS_TIME_FORMAT_SIZE];

    /* ACS (System.Text.Json) drops trailing zeros of the fraction */

    CHECK_STR(fmt(INT64_C(1702468282235917)),
              "2023-12-13T11:51:22.235917+00:00");
    CHECK_STR(fmt(INT64_C(1688083200000000)), "2023-06-30T00:00:00+00:00");
    CHECK_STR(fmt(INT64_C(1750901820659722)),
              "2025-06-26T01:37:00.659722+00:00");
    CHECK_STR(fmt(INT64_C(1702468282200000)), "2023-12-13T11:51:22.2+00:00");
    CHECK_STR(fmt(INT64_C(1702468282000001)),
              "2023-12-13T11:51:22.000001+00:00");
    CHECK_STR(fmt(0), "1970-01-01T00:00:00+00:00");
    CHECK_STR(fmt(-1), "1969-12-31T23:59:59.999999+00:00");
    CHECK_STR(fmt(-500000), "1969-12-31T23:59:59.5+00:00");
    CHECK_STR(fmt(ROOMS_TIME_MIN), "0001-01-01T00:00:00+00:00");
    CHECK_STR(fmt(ROOMS_TIME_MAX), "9999-12-31T23:59:59.999999+00:00");
    CHECK_STR(fmt(INT64_C(951868799000000)), "2000-02-29T23:59:59+00:00");
    CHECK_STR(fmt(INT64_C(-11670912000000000)), "1600-03-01T00:00:00+00:00");

    n = rooms_time_format(buf, INT64_C(1702468282235917));
    CHECK_INT(n, strlen("2023-12-13T11:51:22.235917+00:00"));
    CHECK_INT(n, strlen(buf));

    /* out of range */

    memset(buf, 'x', sizeof(buf));
    CHECK_INT(rooms_time_format(buf, ROOMS_TIME_MIN - 1), 0);
    CHECK_STR(buf, "");
    CHECK_INT(rooms_time_format(buf, ROOMS_TIME_MAX + 1), 0);
    CHECK_INT(rooms_time_format(buf, ROOMS_TIME_UNSET), 0);
    CHECK_INT(rooms_time_format(buf, INT64_MAX), 0);

    /* round trip format -> parse over the whole range */

    step = INT64_C(7777777777777) + 13;

    for (us = ROOMS_TIME_MIN; us <= ROOMS_TIME_MAX - step; us += step) {
        n = rooms_time_format(buf, us);

        if (n == 0 || n >= sizeof(buf) || parse(buf) != us) {
            CHECK_STR(buf, "(round trip)");
            break;
        }
    }

    CHECK(us > ROOMS_TIME_MAX - step);

    /* and around the epoch and leap days, to the microsecond */

    for (us = -3 * ROOMS_TIME_US_PER_DAY; us < 3 * ROOMS_TIME_US_PER_DAY;
         us += INT64_C(86399999999) / 997)
    {
        rooms_time_format(buf, us);

        if (parse(buf) != us) {
            CHECK_STR(buf, "(round trip near epoch)");
            break;
        }
    }

    for (us = parse("2024-02-28T23:59:59.999998Z");
         us < parse("2024-03-01T00:00:00.000002Z");
         us += 1 + (us & 0xffff) * 97)
    {
        rooms_time_format(buf, us);

        if (parse(buf) != us) {
            CHECK_STR(buf, "(round trip near leap day)");
            break;
        }
    }

    CHECK_STR(fmt(parse("2024-02-29T12:00:00-12:00")),
              "2024-03-01T00:00:00+00:00");
}


static void
test_days(void)
{
    CHECK_INT(rooms_time_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(rooms_time_days_from_civil(1969, 12, 31), -1);
    CHECK_INT(rooms_time_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(rooms_time_days_from_civil(1, 1, 1), -719162);
}


static void
test_http(void)
{
    int64_t  sec;

    /* python3 -c "import calendar, time; print(calendar.timegm(...))" */

    CHECK_INT(http("Sat, 28 Nov 2026 20:36:07 GMT"), INT64_C(1795898167));
    CHECK_INT(http("Sun, 06 Nov 1994 08:49:37 GMT"), INT64_C(784111777));
    CHECK_INT(http("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_INT(http("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
    CHECK_INT(http("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800);

    /* obsolete forms */

    CHECK_INT(http("Sunday, 06-Nov-94 08:49:37 GMT"), INT64_C(784111777));
    CHECK_INT(http("Saturday, 28-Nov-26 20:36:07 GMT"), INT64_C(1795898167));
    CHECK_INT(http("Sun Nov  6 08:49:37 1994"), INT64_C(784111777));
    CHECK_INT(http("Sat Nov 28 20:36:07 2026"), INT64_C(1795898167));

    /* the weekday must match */

    CHECK_INT(http("Mon, 06 Nov 1994 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Monday, 06-Nov-94 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Mon Nov  6 08:49:37 1994"), ROOMS_TIME_UNSET);

    /* malformed */

    CHECK_INT(http(""), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 Nov 1994 08:49:37 UTC"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 Nov 1994 08:49:37 GMT "), ROOMS_TIME_UNSET);
    CHECK_INT(http("sun, 06 Nov 1994 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 nov 1994 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 6 Nov 1994 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 Nov 94 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 Nov 1994 8:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 Nov 1994 24:00:00 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Tue, 31 Nov 1994 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Tue, 29 Feb 2023 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06 Nov 1994 08:49:37 +0000"), ROOMS_TIME_UNSET);
    CHECK_INT(http("2026-11-28T20:36:07Z"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sunday, 06 Nov 1994 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun, 06-Nov-94 08:49:37 GMT"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun Nov 6 08:49:37 1994"), ROOMS_TIME_UNSET);
    CHECK_INT(http("Sun Nov  6 08:49:37 1994 "), ROOMS_TIME_UNSET);

    CHECK_INT(rooms_time_parse_http("Sat, 28 Nov 2026 20:36:07 GMT", 28,
                                    &sec), -1);
}


static int64_t
parse_int(const char *s)
{
    int64_t  v;

    if (rooms_time_parse_int(s, strlen(s), &v) != 0) {
        return -42;
    }

    return v;
}


static void
test_parse_int(void)
{
    int64_t  v;

    CHECK_INT(parse_int("0"), 0);
    CHECK_INT(parse_int("7"), 7);
    CHECK_INT(parse_int("-1"), -1);
    CHECK_INT(parse_int("1764000000000000"), INT64_C(1764000000000000));
    CHECK_INT(parse_int("-1764000000000000"), -INT64_C(1764000000000000));
    CHECK_INT(parse_int("0001"), 1);
    CHECK(parse_int("9223372036854775807") == INT64_MAX);
    CHECK(parse_int("-9223372036854775808") == INT64_MIN);

    /* what strtoll() would have read as a number, or as 0 */

    CHECK_INT(parse_int("9223372036854775808"), -42);
    CHECK_INT(parse_int("9999999999999999999"), -42);
    CHECK_INT(parse_int("-9999999999999999999"), -42);
    CHECK_INT(parse_int("-9223372036854775809"), -42);
    CHECK_INT(parse_int("18446744073709551616"), -42);
    CHECK_INT(parse_int("99999999999999999999"), -42);
    CHECK_INT(parse_int("00000000000000000001"), -42);
    CHECK_INT(parse_int(""), -42);
    CHECK_INT(parse_int("-"), -42);
    CHECK_INT(parse_int("--1"), -42);
    CHECK_INT(parse_int("+1"), -42);
    CHECK_INT(parse_int(" 1"), -42);
    CHECK_INT(parse_int("1 "), -42);
    CHECK_INT(parse_int("12x"), -42);
    CHECK_INT(parse_int("abc"), -42);
    CHECK_INT(parse_int("1e6"), -42);
    CHECK_INT(parse_int("0x10"), -42);
    CHECK_INT(parse_int("1.5"), -42);

    /* the length bounds the digits: no NUL needed, none accepted */

    CHECK_INT(rooms_time_parse_int("123456", 3, &v), 0);
    CHECK_INT(v, 123);
    CHECK_INT(rooms_time_parse_int("12\0003", 4, &v), -1);
    CHECK_INT(rooms_time_parse_int(NULL, 0, &v), -1);
}


static void
test_now(void)
{
    int64_t  a, b;

    a = rooms_time_now_us();
    b = rooms_time_now_us();

    /* after 2025-01-01 and monotonic enough for two calls */

    CHECK(a > INT64_C(1735689600000000));
    CHECK(b >= a);
}


int
main(void)
{
    test_parse();
    test_format();
    test_days();
    test_http();
    test_parse_int();
    test_now();

    CHECK_DONE("test_time");
}
