
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * rooms_sentinel.c: +switch-master payloads as redis-sentinel 7.0
 * publishes them, and what must not pass for one.
 */


#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rooms_sentinel.h"


static int
parse(const char *s, rooms_switch_t *sw)
{
    int     rc;
    char   *copy;
    size_t  len;

    /* a copy of exactly len bytes: ASan sees any read past the end */

    len = strlen(s);
    copy = malloc(len ? len : 1);
    memcpy(copy, s, len);

    rc = rooms_switch_master_parse(copy, len, sw);

    if (rc == 0) {
        /* the fields point into the copy */
        CHECK(sw->name.data >= copy && sw->new_port.data + sw->new_port.len
                                       <= copy + len);
    }

    free(copy);
    return rc;
}


static void
test_ok(void)
{
    const char      *s;
    rooms_switch_t   sw;

    s = "rooms 127.0.0.1 6379 127.0.0.1 6380";
    CHECK_INT(rooms_switch_master_parse(s, strlen(s), &sw), 0);
    CHECK_INT(sw.name.len, 5);
    CHECK(strncmp(sw.name.data, "rooms", 5) == 0);
    CHECK(strncmp(sw.old_host.data, "127.0.0.1", sw.old_host.len) == 0);
    CHECK_INT(sw.old_port.len, 4);
    CHECK(strncmp(sw.new_host.data, "127.0.0.1 6380", 9) == 0);
    CHECK_INT(sw.new_host.len, 9);
    CHECK(strncmp(sw.new_port.data, "6380", 4) == 0);
    CHECK_INT(sw.new_port.len, 4);

    s = "m ::1 1 ::1 65535";
    CHECK_INT(rooms_switch_master_parse(s, strlen(s), &sw), 0);
    CHECK_INT(sw.new_host.len, 3);
    CHECK_INT(sw.new_port.len, 5);

    CHECK_INT(parse("rooms 10.0.0.1 26379 10.0.0.2 6379", &sw), 0);
}


static void
test_invalid(void)
{
    size_t           i;
    rooms_switch_t   sw;

    static const char  *bad[] = {
        "",
        "rooms",
        "rooms 127.0.0.1 6379 127.0.0.1",
        "rooms 127.0.0.1 6379 127.0.0.1 6380 extra",
        "rooms 127.0.0.1 6379 127.0.0.1 6380 ",
        " rooms 127.0.0.1 6379 127.0.0.1 6380",
        "rooms  127.0.0.1 6379 127.0.0.1 6380",
        "rooms 127.0.0.1 6379 127.0.0.1 0",
        "rooms 127.0.0.1 6379 127.0.0.1 65536",
        "rooms 127.0.0.1 6379 127.0.0.1 06380",
        "rooms 127.0.0.1 6379 127.0.0.1 +6380",
        "rooms 127.0.0.1 6379 127.0.0.1 6380x",
        "rooms 127.0.0.1 x 127.0.0.1 6380",
        "rooms 127.0.0.1 6379 127.0.0.1 999999",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &sw) != -1) {
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
            CHECK(0);
        }

        CHECK(sw.name.data == NULL && sw.new_port.len == 0);
    }
}


int
main(void)
{
    test_ok();
    test_invalid();

    CHECK_DONE("test_sentinel");
}
