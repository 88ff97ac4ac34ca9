
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>

#include "rooms_sentinel.h"


static int rooms_port_valid(const rooms_field_t *f);


int
rooms_switch_master_parse(const char *s, size_t len, rooms_switch_t *sw)
{
    size_t          i, n;
    const char     *start;
    rooms_field_t  *f[5];

    memset(sw, 0, sizeof(rooms_switch_t));

    f[0] = &sw->name;
    f[1] = &sw->old_host;
    f[2] = &sw->old_port;
    f[3] = &sw->new_host;
    f[4] = &sw->new_port;

    n = 0;
    start = s;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != ' ') {
            continue;
        }

        if (n == 5 || s + i == start) {
            /* a sixth field, or an empty one */
            goto invalid;
        }

        f[n]->data = start;
        f[n]->len = s + i - start;
        n++;

        start = s + i + 1;
    }

    if (n != 5 || !rooms_port_valid(&sw->old_port)
        || !rooms_port_valid(&sw->new_port))
    {
        goto invalid;
    }

    return 0;

invalid:

    memset(sw, 0, sizeof(rooms_switch_t));
    return -1;
}


static int
rooms_port_valid(const rooms_field_t *f)
{
    size_t    i;
    unsigned  port;

    if (f->len == 0 || f->len > 5 || f->data[0] == '0') {
        return 0;
    }

    port = 0;

    for (i = 0; i < f->len; i++) {
        if (f->data[i] < '0' || f->data[i] > '9') {
            return 0;
        }

        port = port * 10 + (unsigned) (f->data[i] - '0');
    }

    return port <= 65535;
}
