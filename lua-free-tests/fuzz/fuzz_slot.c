
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: rooms_slot_of_key() must agree with a plain bitwise
 * CRC16 of the hash tag found by a separate loop, and a key's slot must
 * be its tag's; rooms_redirect_parse() must stay inside the input, keep
 * slot, port and host in range, and read back what it parsed once
 * printed again as Redis prints it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms_slot.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static unsigned
ref_slot(const uint8_t *key, size_t len)
{
    int       j;
    size_t    i, from, to;
    unsigned  crc;

    /* the tag: after the first '{', up to the first '}' after it */

    from = 0;
    to = len;

    for (i = 0; i < len && key[i] != '{'; i++) {
        /* void */
    }

    if (i < len) {
        for (to = i + 1; to < len && key[to] != '}'; to++) {
            /* void */
        }

        if (to < len && to > i + 1) {
            from = i + 1;

        } else {
            to = len;
        }
    }

    crc = 0;

    for (i = from; i < to; i++) {
        crc ^= (unsigned) key[i] << 8;

        for (j = 0; j < 8; j++) {
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff
                                 : (crc << 1) & 0xffff;
        }
    }

    return crc % 16384;
}


static void
check_slot(const uint8_t *data, size_t size)
{
    unsigned     slot;
    const char  *key, *open, *close;

    key = (const char *) data;
    slot = rooms_slot_of_key(key, size);

    if (slot >= ROOMS_SLOTS || slot != ref_slot(data, size)) {
        abort();
    }

    open = size ? memchr(key, '{', size) : NULL;

    if (open == NULL) {
        return;
    }

    close = memchr(open + 1, '}', size - (size_t) (open + 1 - key));

    if (close != NULL && close > open + 1
        && rooms_slot_of_key(open + 1, (size_t) (close - open - 1)) != slot)
    {
        abort();
    }
}


static void
check_redirect(const uint8_t *data, size_t size)
{
    int               kind, again;
    char              buf[ROOMS_REDIRECT_HOST_MAX + 64];
    size_t            n;
    const char       *s;
    rooms_redirect_t  rd, rd2;

    s = (const char *) data;
    kind = rooms_redirect_parse(s, size, &rd);

    if (kind < ROOMS_REDIRECT_NONE || kind > ROOMS_REDIRECT_MALFORMED) {
        abort();
    }

    if (kind != ROOMS_REDIRECT_MOVED && kind != ROOMS_REDIRECT_ASK) {
        if (rd.slot != 0 || rd.port != 0 || rd.host != NULL
            || rd.host_len != 0)
        {
            abort();
        }

        return;
    }

    if (rd.slot >= ROOMS_SLOTS || rd.port == 0 || rd.port > 65535
        || rd.host == NULL || rd.host < s || rd.host_len > size
        || rd.host + rd.host_len > s + size
        || rd.host_len > ROOMS_REDIRECT_HOST_MAX)
    {
        abort();
    }

    n = (size_t) snprintf(buf, sizeof(buf), "%s %u %.*s:%u",
                          kind == ROOMS_REDIRECT_MOVED ? "MOVED" : "ASK",
                          rd.slot, (int) rd.host_len, rd.host, rd.port);

    if (n >= sizeof(buf)) {
        abort();
    }

    again = rooms_redirect_parse(buf, n, &rd2);

    if (again != kind || rd2.slot != rd.slot || rd2.port != rd.port
        || rd2.host_len != rd.host_len
        || memcmp(rd2.host, rd.host, rd.host_len) != 0)
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_slot(data, size);
    check_redirect(data, size);

    return 0;
}
