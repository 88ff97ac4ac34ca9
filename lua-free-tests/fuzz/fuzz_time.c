
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: rooms_time_parse(), rooms_time_parse_http() and
 * rooms_time_format(); whatever parses must format and parse back to the
 * same value.  rooms_time_parse_int() must agree with strtoll() on what
 * it accepts.
 */


#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rooms_time.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
round_trip(int64_t us)
{
    char     buf[ROOMS_TIME_FORMAT_SIZE];
    size_t   n;
    int64_t  back;

    n = rooms_time_format(buf, us);

    if (us < ROOMS_TIME_MIN || us > ROOMS_TIME_MAX) {
        if (n != 0 || buf[0] != '\0') {
            abort();
        }

        return;
    }

    if (n == 0 || n >= sizeof(buf) || strlen(buf) != n) {
        abort();
    }

    if (rooms_time_parse(buf, n, &back) != 0 || back != us) {
        abort();
    }
}


static void
check_int(const char *s, size_t size)
{
    char     buf[24], *end;
    int64_t  v;

    if (rooms_time_parse_int(s, size, &v) != 0) {
        return;
    }

    if (size >= sizeof(buf)) {
        abort();
    }

    memcpy(buf, s, size);
    buf[size] = '\0';
    errno = 0;

    if (strtoll(buf, &end, 10) != v || errno != 0 || *end != '\0') {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t      us, sec;
    const char  *s;

    s = (const char *) data;

    if (rooms_time_parse(s, size, &us) == 0) {
        if (us < ROOMS_TIME_MIN || us > ROOMS_TIME_MAX) {
            abort();
        }

        round_trip(us);
    }

    check_int(s, size);

    if (rooms_time_parse_http(s, size, &sec) == 0) {
        if (sec < ROOMS_TIME_MIN / ROOMS_TIME_US_PER_SEC
            || sec > ROOMS_TIME_MAX / ROOMS_TIME_US_PER_SEC)
        {
            abort();
        }

        round_trip(sec * ROOMS_TIME_US_PER_SEC);
    }

    if (size >= sizeof(int64_t)) {
        memcpy(&us, data, sizeof(int64_t));
        round_trip(us);

        /* and near the valid range, where the calendar math is */

        round_trip(ROOMS_TIME_MIN + (int64_t) ((uint64_t) us
                        % (uint64_t) (ROOMS_TIME_MAX - ROOMS_TIME_MIN + 1)));
    }

    return 0;
}
