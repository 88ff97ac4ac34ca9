
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>
#include <openssl/sha.h>

#include "rooms_b64.h"


static const char  rooms_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  rooms_b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static size_t
rooms_b64_encode_internal(char *dst, const unsigned char *src, size_t len,
    const char *alphabet, int pad)
{
    char  *d;

    d = dst;

    while (len > 2) {
        *d++ = alphabet[(src[0] >> 2) & 0x3f];
        *d++ = alphabet[((src[0] & 3) << 4) | (src[1] >> 4)];
        *d++ = alphabet[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = alphabet[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len) {
        *d++ = alphabet[(src[0] >> 2) & 0x3f];

        if (len == 1) {
            *d++ = alphabet[(src[0] & 3) << 4];

            if (pad) {
                *d++ = '=';
            }

        } else {
            *d++ = alphabet[((src[0] & 3) << 4) | (src[1] >> 4)];
            *d++ = alphabet[(src[1] & 0x0f) << 2];
        }

        if (pad) {
            *d++ = '=';
        }
    }

    return (size_t) (d - dst);
}


size_t
rooms_b64_encode(char *dst, const unsigned char *src, size_t len)
{
    return rooms_b64_encode_internal(dst, src, len, rooms_b64_std, 1);
}


size_t
rooms_b64url_encode(char *dst, const unsigned char *src, size_t len)
{
    return rooms_b64_encode_internal(dst, src, len, rooms_b64_url, 0);
}


static int
rooms_b64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (url) {
        return c == '-' ? 62 : (c == '_' ? 63 : -1);
    }

    return c == '+' ? 62 : (c == '/' ? 63 : -1);
}


static long
rooms_b64_decode_internal(unsigned char *dst, const char *src, size_t len,
    int url)
{
    int             v[4];
    size_t          i, n, rem;
    unsigned char  *d;

    if (!url) {
        if (len % 4) {
            return -1;
        }

        if (len && src[len - 1] == '=') {
            len--;

            if (src[len - 1] == '=') {
                len--;
            }
        }
    }

    rem = len % 4;

    if (rem == 1) {
        return -1;
    }

    d = dst;
    n = len - rem;

    for (i = 0; i < n; i += 4) {
        v[0] = rooms_b64_value((unsigned char) src[i], url);
        v[1] = rooms_b64_value((unsigned char) src[i + 1], url);
        v[2] = rooms_b64_value((unsigned char) src[i + 2], url);
        v[3] = rooms_b64_value((unsigned char) src[i + 3], url);

        if ((v[0] | v[1] | v[2] | v[3]) < 0) {
            return -1;
        }

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);
        *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);
        *d++ = (unsigned char) (v[2] << 6 | v[3]);
    }

    if (rem) {
        v[0] = rooms_b64_value((unsigned char) src[n], url);
        v[1] = rooms_b64_value((unsigned char) src[n + 1], url);
        v[2] = rem == 3 ? rooms_b64_value((unsigned char) src[n + 2], url)
                        : 0;

        if ((v[0] | v[1] | v[2]) < 0) {
            return -1;
        }

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);

        if (rem == 2) {
            if (v[1] & 0x0f) {
                return -1;
            }

        } else {
            if (v[2] & 0x03) {
                return -1;
            }

            *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);
        }
    }

    return (long) (d - dst);
}


long
rooms_b64_decode(unsigned char *dst, const char *src, size_t len)
{
    return rooms_b64_decode_internal(dst, src, len, 0);
}


long
rooms_b64url_decode(unsigned char *dst, const char *src, size_t len)
{
    return rooms_b64_decode_internal(dst, src, len, 1);
}


int
rooms_ct_memcmp(const void *a, const void *b, size_t len)
{
    size_t                i;
    unsigned char         r;
    const unsigned char  *p, *q;

    p = a;
    q = b;
    r = 0;

    for (i = 0; i < len; i++) {
        r |= p[i] ^ q[i];
    }

    return r;
}


void
rooms_sha256_b64(char out[45], const unsigned char *data, size_t len)
{
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);

    out[rooms_b64_encode(out, md, sizeof(md))] = '\0';
}
