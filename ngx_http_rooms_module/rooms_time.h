
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Date-time parsing and formatting.  Times are int64_t microseconds since
 * the Unix epoch, UTC, proleptic Gregorian calendar, years 0001..9999.
 * No nginx dependency: unit tests and fuzzers link this file directly.
 */


#ifndef _ROOMS_TIME_H_INCLUDED_
#define _ROOMS_TIME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define ROOMS_TIME_UNSET         INT64_MIN

#define ROOMS_TIME_US_PER_SEC    INT64_C(1000000)
#define ROOMS_TIME_US_PER_DAY    (INT64_C(86400) * ROOMS_TIME_US_PER_SEC)

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z */
#define ROOMS_TIME_MIN           INT64_C(-62135596800000000)
#define ROOMS_TIME_MAX           INT64_C(253402300799999999)

/* buffer size that always suffices for rooms_time_format() */
#define ROOMS_TIME_FORMAT_SIZE   40


/*
 * Parses an RFC 3339 / ISO 8601 extended date-time:
 *
 *     YYYY-MM-DD('T'|'t'|' ')hh:mm[:ss[.f{1,9}]][('Z'|'z'|+hh:mm|+hhmm)]
 *
 * ('+' may be '-').  Fractions longer than 6 digits are truncated to
 * microseconds, a leap second (ss = 60) is read as 59, a missing zone
 * means UTC.  The UTC result must lie within ROOMS_TIME_MIN..MAX.  The
 * whole of s[0..len) must match: trailing bytes and NULs are rejected.
 * Returns 0 and sets *us, or -1.
 */
int rooms_time_parse(const char *s, size_t len, int64_t *us);

/*
 * Writes us the way ACS (System.Text.Json) renders a DateTimeOffset:
 * "2023-06-26T05:46:17.815913+00:00"; trailing zeros of the fraction are
 * dropped and a zero fraction is omitted: "2023-06-30T00:00:00+00:00".
 * buf must hold ROOMS_TIME_FORMAT_SIZE bytes; the result is NUL-terminated
 * and parses back to the same value.  Returns the length, or 0 (with buf
 * set to "") when us is outside ROOMS_TIME_MIN..MAX.
 */
size_t rooms_time_format(char *buf, int64_t us);

/*
 * Parses an HTTP-date (RFC 7231 section 7.1.1.1): IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" (years 70..99 are 19xx, 00..69 20xx)
 * and asctime "Sun Nov  6 08:49:37 1994" forms.  Names are
 * case-sensitive and the weekday must match the date.  Returns 0 and sets
 * *sec (seconds since the epoch), or -1.
 */
int rooms_time_parse_http(const char *s, size_t len, int64_t *sec);

/*
 * Parses a time as the module stores it in Redis: a decimal integer
 * (microseconds or seconds since the epoch), an optional '-' and 1 to 19
 * digits, nothing else, within int64_t.  Much cheaper than strtoll(),
 * which also accepts what the module never writes (blanks, '+', junk
 * after the digits) and reads junk as 0.  Returns 0 and sets *v, or -1.
 */
int rooms_time_parse_int(const char *s, size_t len, int64_t *v);

/* the current time, CLOCK_REALTIME */
int64_t rooms_time_now_us(void);

/* days since 1970-01-01 of a proleptic Gregorian date (no range check) */
int64_t rooms_time_days_from_civil(int64_t y, unsigned m, unsigned d);


#endif /* _ROOMS_TIME_H_INCLUDED_ */
