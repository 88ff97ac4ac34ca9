
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: rooms_switch_master_parse() must stay inside the
 * input, and what it accepts must be five fields that print back to the
 * input with single spaces between them, the ports 1 to 65535.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms_sentinel.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            *s, *p;
    size_t           i, j;
    unsigned long    port;
    rooms_switch_t   sw;
    rooms_field_t   *f[5];

    /* exactly size bytes: ASan sees a read past the end */

    s = malloc(size ? size : 1);
    if (s == NULL) {
        return 0;
    }

    memcpy(s, data, size);

    if (rooms_switch_master_parse(s, size, &sw) != 0) {
        if (sw.name.data != NULL || sw.new_port.len != 0) {
            abort();
        }

        free(s);
        return 0;
    }

    f[0] = &sw.name;
    f[1] = &sw.old_host;
    f[2] = &sw.old_port;
    f[3] = &sw.new_host;
    f[4] = &sw.new_port;

    p = s;

    for (i = 0; i < 5; i++) {
        if (f[i]->data != p || f[i]->len == 0
            || memchr(f[i]->data, ' ', f[i]->len) != NULL)
        {
            abort();
        }

        p += f[i]->len;

        if (i < 4) {
            if (*p != ' ') {
                abort();
            }

            p++;
        }
    }

    if (p != s + size) {
        abort();
    }

    for (i = 2; i <= 4; i += 2) {
        port = 0;

        for (j = 0; j < f[i]->len; j++) {
            if (f[i]->data[j] < '0' || f[i]->data[j] > '9') {
                abort();
            }

            port = port * 10 + (unsigned long) (f[i]->data[j] - '0');
        }

        if (f[i]->len > 5 || port < 1 || port > 65535) {
            abort();
        }
    }

    free(s);
    return 0;
}
