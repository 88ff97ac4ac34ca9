
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>

#include "rooms_mask.h"


static int rooms_mask_named(const char *p, size_t len,
    const rooms_mask_name_t *names, size_t n);
static int rooms_mask_name_is(const char *p, size_t len,
    const rooms_mask_name_t *name);


size_t
rooms_mask_line(char *out, const char *line, size_t len,
    const rooms_mask_name_t *names, size_t n, size_t *masked)
{
    size_t       i, olen, count;
    const char  *p, *q, *target, *end, *arg, *next, *value, *copied;

    count = 0;
    olen = len;
    copied = line;
    end = line + len;

    /*
     * the target: after the method, before " HTTP/x.y" and the spaces
     * around it (nginx takes several before the version, and after it)
     */

    target = memchr(line, ' ', len);

    if (target == NULL) {
        goto done;
    }

    target++;

    while (end > target && end[-1] == ' ') {
        end--;
    }

    for (p = end; p > target; p--) {
        if (p[-1] == ' ') {
            if (end - p >= 5 && memcmp(p, "HTTP/", 5) == 0) {
                for (end = p - 1; end > target && end[-1] == ' '; end--) {
                    /* void */
                }
            }

            break;
        }
    }

    q = (target < end) ? memchr(target, '?', end - target) : NULL;

    if (q == NULL) {
        goto done;
    }

    for (arg = q + 1; /* void */; arg = next + 1) {
        next = memchr(arg, '&', end - arg);

        if (next == NULL) {
            next = end;
        }

        for (i = 0; i < n; i++) {
            if (rooms_mask_name_is(arg, next - arg, &names[i])) {
                break;
            }
        }

        value = (i < n) ? arg + names[i].len + 1 : next;

        if (value < next) {
            count++;
            olen = olen - (next - value) + ROOMS_MASK_LEN;

            if (out != NULL) {
                memcpy(out, copied, value - copied);
                out += value - copied;
                memcpy(out, ROOMS_MASK, ROOMS_MASK_LEN);
                out += ROOMS_MASK_LEN;
                copied = next;
            }
        }

        if (next == end) {
            break;
        }
    }

done:

    if (out != NULL) {
        memcpy(out, copied, line + len - copied);
    }

    if (masked != NULL) {
        *masked = count;
    }

    return olen;
}


size_t
rooms_mask_strip(char *out, const char *args, size_t len,
    const rooms_mask_name_t *names, size_t n, size_t *removed)
{
    char        *o;
    size_t       count;
    const char  *arg, *next, *end;

    o = out;
    count = 0;
    end = args + len;

    for (arg = args; len; arg = next + 1) {
        next = memchr(arg, '&', end - arg);

        if (next == NULL) {
            next = end;
        }

        if (rooms_mask_named(arg, next - arg, names, n)) {
            count++;

        } else {
            if (o > out) {
                *o++ = '&';
            }

            memcpy(o, arg, next - arg);
            o += next - arg;
        }

        if (next == end) {
            break;
        }
    }

    if (removed != NULL) {
        *removed = count;
    }

    return o - out;
}


/* one of the names, with '=', at p[0..len) */

static int
rooms_mask_named(const char *p, size_t len, const rooms_mask_name_t *names,
    size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (rooms_mask_name_is(p, len, &names[i])) {
            return 1;
        }
    }

    return 0;
}


/* "name=" at p, in p[0..len) */

static int
rooms_mask_name_is(const char *p, size_t len, const rooms_mask_name_t *name)
{
    size_t         i;
    unsigned char  a, b;

    if (len <= name->len || p[name->len] != '=') {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        a = (unsigned char) p[i];
        b = (unsigned char) name->data[i];

        if (a >= 'A' && a <= 'Z') {
            a |= 0x20;
        }

        if (b >= 'A' && b <= 'Z') {
            b |= 0x20;
        }

        if (a != b) {
            return 0;
        }
    }

    return 1;
}
