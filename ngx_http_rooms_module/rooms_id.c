
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>
#include <openssl/rand.h>
#include <openssl/evp.h>

#include "rooms_id.h"


typedef struct {
    const char  *prefix;
    size_t       len;
    int          acs;
} rooms_raw_prefix_t;


static const rooms_raw_prefix_t  rooms_raw_prefixes[] = {
    { "8:acs:", sizeof("8:acs:") - 1, 1 },
    { "8:spool:", sizeof("8:spool:") - 1, 0 },
    { "8:dod-acs:", sizeof("8:dod-acs:") - 1, 1 },
    { "8:gcch-acs:", sizeof("8:gcch-acs:") - 1, 1 },
    { NULL, 0, 0 }
};

static const char  rooms_id_hex[] = "0123456789abcdef";


int
rooms_id_generate(char *buf, size_t *len)
{
    size_t         n, i;
    unsigned char  rnd[32], b;

    n = 0;
    i = sizeof(rnd);

    while (n < ROOMS_ID_LEN) {

        if (i == sizeof(rnd)) {
            if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
                return -1;
            }

            i = 0;
        }

        b = rnd[i++];

        if (n == 0) {

            /* 252 = 28 * 9: uniform over 1..9 */

            if (b < 252) {
                buf[n++] = (char) ('1' + b % 9);
            }

        } else {

            /* 250 = 25 * 10: uniform over 0..9 */

            if (b < 250) {
                buf[n++] = (char) ('0' + b % 10);
            }
        }
    }

    buf[n] = '\0';
    *len = n;

    return 0;
}


int
rooms_id_for_request(char *buf, size_t *len, const char *rid, size_t rlen)
{
    int            ok;
    size_t         i;
    uint64_t       v;
    EVP_MD_CTX    *md_ctx;
    unsigned char  md[EVP_MAX_MD_SIZE];

    md_ctx = EVP_MD_CTX_new();
    if (md_ctx == NULL) {
        return -1;
    }

    /* a prefix of its own: these digests are for nothing else */

    ok = EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL)
         && EVP_DigestUpdate(md_ctx, "rooms repeatable create\n", 24)
         && EVP_DigestUpdate(md_ctx, rid, rlen)
         && EVP_DigestFinal_ex(md_ctx, md, NULL);

    EVP_MD_CTX_free(md_ctx);

    if (!ok) {
        return -1;
    }

    v = 0;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | md[i];
    }

    /* 10^16 .. 10^17 - 1: the bias of the modulo is below 2^-7 */

    v = UINT64_C(10000000000000000) + v % UINT64_C(90000000000000000);

    for (i = ROOMS_ID_LEN; i > 0; i--) {
        buf[i - 1] = (char) ('0' + v % 10);
        v /= 10;
    }

    buf[ROOMS_ID_LEN] = '\0';
    *len = ROOMS_ID_LEN;

    return 0;
}


int
rooms_id_check(const char *s, size_t len)
{
    uint64_t  id;

    return rooms_id_parse(s, len, &id);
}


int
rooms_id_parse(const char *s, size_t len, uint64_t *id)
{
    size_t    i;
    uint64_t  n;
    unsigned  d;

    if (len < ROOMS_ID_MIN_LEN || len > ROOMS_ID_MAX_LEN) {
        return ROOMS_ID_BAD_LENGTH;
    }

    /* 18 digits at most: no overflow */

    n = 0;

    for (i = 0; i < len; i++) {
        d = (unsigned char) s[i] - '0';

        if (d > 9) {
            return ROOMS_ID_BAD_CHARS;
        }

        n = n * 10 + d;
    }

    if (s[0] == '0') {
        return ROOMS_ID_NOT_CANONICAL;
    }

    *id = n;

    return ROOMS_ID_OK;
}


int
rooms_raw_id_check(const char *s, size_t len)
{
    size_t                     i, underscores;
    unsigned char              c;
    const rooms_raw_prefix_t  *pr;

    if (len > ROOMS_RAW_ID_MAX_LEN) {
        return -1;
    }

    for (pr = rooms_raw_prefixes; pr->prefix != NULL; pr++) {
        if (len > pr->len && memcmp(s, pr->prefix, pr->len) == 0) {
            break;
        }
    }

    if (pr->prefix == NULL) {
        return -1;
    }

    underscores = 0;

    for (i = pr->len; i < len; i++) {
        c = (unsigned char) s[i];

        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '"' || c == '\\'
            || c == '{' || c == '}')
        {
            return -1;
        }

        if (c == '_') {
            underscores++;
        }
    }

    if (pr->acs && underscores == 2) {
        return -1;
    }

    return 0;
}


int
rooms_raw_id_is_phone(const char *s, size_t len)
{
    return len >= 2 && s[0] == '4' && s[1] == ':';
}


int
rooms_user_id_generate(char *buf, size_t *len, const char *resource)
{
    size_t         rlen, i, n;
    unsigned char  g[16], c;

    rlen = strlen(resource);

    if (rlen == 0 || rlen > ROOMS_USER_RESOURCE_MAX) {
        return -1;
    }

    for (i = 0; i < rlen; i++) {
        c = (unsigned char) resource[i];

        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '_' || c == '"'
            || c == '\\' || c == '{' || c == '}')
        {
            return -1;
        }
    }

    if (RAND_bytes(g, sizeof(g)) != 1) {
        return -1;
    }

    /* RFC 4122 version 4, variant 10xx */

    g[6] = (unsigned char) ((g[6] & 0x0f) | 0x40);
    g[8] = (unsigned char) ((g[8] & 0x3f) | 0x80);

    memcpy(buf, "8:acs:", 6);
    n = 6;

    memcpy(buf + n, resource, rlen);
    n += rlen;

    buf[n++] = '_';

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            buf[n++] = '-';
        }

        buf[n++] = rooms_id_hex[g[i] >> 4];
        buf[n++] = rooms_id_hex[g[i] & 0x0f];
    }

    buf[n] = '\0';
    *len = n;

    return 0;
}
