
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: what an anonymous request line reaches in the pure
 * core.  rooms_mask_line() must write exactly the length it measured, into
 * a buffer of exactly that size, and leave no value of a masked argument
 * readable: an nginx-style argument lookup on the result finds "***" or
 * nothing for every masked name, and masking again changes nothing.
 * rooms_mask_strip() must leave none of those arguments in a query.
 * rooms_id_parse() must give one value per spelling: what it accepts
 * prints back to the same string.
 */


#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rooms_id.h"
#include "rooms_mask.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const rooms_mask_name_t  names[] = {
    { "access_token", 12 },
    { "t", 1 }
};


static int
lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}


/*
 * As ngx_http_arg() over the query of the line (from the first '?' after
 * the first space to the end of the target): 1 if some argument named
 * name has a value that is neither empty nor "***"
 */

static int
readable(const char *line, size_t len, const rooms_mask_name_t *name)
{
    size_t       i;
    const char  *end, *target, *q, *p, *v, *amp;

    end = line + len;
    target = memchr(line, ' ', len);

    if (target == NULL) {
        return 0;
    }

    target++;

    /* the version, spaces around it: the last word, if it is HTTP/... */

    while (end > target && end[-1] == ' ') {
        end--;
    }

    p = end;

    while (p > target && p[-1] != ' ') {
        p--;
    }

    if (p > target && end - p >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        for (end = p - 1; end > target && end[-1] == ' '; end--) {
            /* void */
        }
    }

    if (target >= end || (q = memchr(target, '?', end - target)) == NULL) {
        return 0;
    }

    for (p = q + 1; p + name->len < end; p++) {
        if (p != q + 1 && p[-1] != '&') {
            continue;
        }

        for (i = 0; i < name->len; i++) {
            if (lower((unsigned char) p[i]) != lower(name->data[i])) {
                break;
            }
        }

        if (i < name->len || p[name->len] != '=') {
            continue;
        }

        v = p + name->len + 1;
        amp = memchr(v, '&', end - v);

        if (amp == NULL) {
            amp = end;
        }

        if (amp > v && !(amp - v == 3 && memcmp(v, "***", 3) == 0)) {
            return 1;
        }
    }

    return 0;
}


static void
check_mask(const char *line, size_t size, size_t n)
{
    char    *out, *again;
    size_t   len, len2, i, masked;

    len = rooms_mask_line(NULL, line, size, names, n, &masked);

    if (masked == 0 && len != size) {
        abort();
    }

    out = malloc(len ? len : 1);
    if (out == NULL) {
        return;
    }

    if (rooms_mask_line(out, line, size, names, n, NULL) != len) {
        abort();
    }

    if (masked == 0 && memcmp(out, line, size) != 0) {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (readable(out, len, &names[i])) {
            abort();
        }
    }

    /* masked once is masked for good */

    again = malloc(len ? len : 1);
    if (again != NULL) {
        len2 = rooms_mask_line(again, out, len, names, n, NULL);

        if (len2 != len || memcmp(again, out, len) != 0) {
            abort();
        }

        free(again);
    }

    free(out);
}


/* the query without the names: none of them left, the rest in order */

static void
check_strip(const char *args, size_t size, size_t n)
{
    char        *out, *line;
    size_t       len, removed, i;
    const char  *p, *q, *end;

    out = malloc(size ? size : 1);
    if (out == NULL) {
        return;
    }

    len = rooms_mask_strip(out, args, size, names, n, &removed);

    if (len > size || (removed == 0 && len < size
                       && memmem(args, size, "&&", 2) == NULL
                       && args[0] != '&'))
    {
        /* nothing removed: only empty arguments may go */
        abort();
    }

    /* read as a request line's query, no argument of a name is left */

    line = malloc(len + 7);
    if (line != NULL) {
        memcpy(line, "GET /?", 6);
        memcpy(line + 6, out, len);

        for (i = 0; i < n; i++) {
            for (p = line + 6, end = line + 6 + len; p < end; p = q + 1) {
                q = memchr(p, '&', end - p);
                if (q == NULL) {
                    q = end;
                }

                if ((size_t) (q - p) > names[i].len
                    && p[names[i].len] == '='
                    && lower((unsigned char) p[0]) == lower(names[i].data[0])
                    && strncasecmp(p, names[i].data, names[i].len) == 0)
                {
                    abort();
                }
            }
        }

        free(line);
    }

    free(out);
}


static void
check_id(const char *s, size_t size)
{
    char      buf[24];
    uint64_t  id;

    if (rooms_id_parse(s, size, &id) != ROOMS_ID_OK) {
        return;
    }

    snprintf(buf, sizeof(buf), "%llu", (unsigned long long) id);

    if (strlen(buf) != size || memcmp(buf, s, size) != 0) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *line;

    if (size == 0) {
        return 0;
    }

    /* a copy of exactly the input's size, so that ASan sees any overread */

    line = malloc(size - 1 ? size - 1 : 1);
    if (line == NULL) {
        return 0;
    }

    memcpy(line, data + 1, size - 1);

    check_mask(line, size - 1, 1 + (data[0] & 1));
    check_strip(line, size - 1, 1 + (data[0] & 1));
    check_id(line, size - 1);

    free(line);

    return 0;
}
