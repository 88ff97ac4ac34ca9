
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "rooms_b64.h"
#include "rooms_hmac.h"


#define ROOMS_HMAC_SCHEME  "HMAC-SHA256"


static int rooms_hmac_compute(unsigned char md[32], const unsigned char *key,
    size_t keylen, const char *sts, size_t len);
static int rooms_hmac_header_char(unsigned char c);
static int rooms_hmac_b64_char(unsigned char c);


static const unsigned char  rooms_hmac_empty[1] = { 0 };


static int
rooms_hmac_header_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
           || c == ';';
}


static int
rooms_hmac_b64_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}


int
rooms_hmac_parse(const char *value, size_t len, rooms_hmac_header_t *out)
{
    size_t       n, i, vlen;
    const char  *p, *end, *amp, *v;

    n = sizeof(ROOMS_HMAC_SCHEME) - 1;

    if (len <= n || strncasecmp(value, ROOMS_HMAC_SCHEME, n) != 0) {
        return -1;
    }

    p = value + n;
    end = value + len;

    if (*p != ' ' && *p != '\t') {
        return -1;
    }

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    out->signed_headers = NULL;
    out->signed_headers_len = 0;
    out->signature = NULL;
    out->signature_len = 0;

    while (p < end) {
        amp = memchr(p, '&', (size_t) (end - p));

        if (amp == NULL) {
            amp = end;
        }

        n = (size_t) (amp - p);

        if (n > sizeof("SignedHeaders=") - 1
            && memcmp(p, "SignedHeaders=", sizeof("SignedHeaders=") - 1) == 0)
        {
            if (out->signed_headers != NULL) {
                return -1;
            }

            v = p + sizeof("SignedHeaders=") - 1;
            vlen = (size_t) (amp - v);

            for (i = 0; i < vlen; i++) {
                if (!rooms_hmac_header_char((unsigned char) v[i])) {
                    return -1;
                }
            }

            out->signed_headers = v;
            out->signed_headers_len = vlen;

        } else if (n > sizeof("Signature=") - 1
                   && memcmp(p, "Signature=", sizeof("Signature=") - 1) == 0)
        {
            if (out->signature != NULL) {
                return -1;
            }

            v = p + sizeof("Signature=") - 1;
            vlen = (size_t) (amp - v);

            for (i = 0; i < vlen; i++) {
                if (!rooms_hmac_b64_char((unsigned char) v[i])) {
                    return -1;
                }
            }

            out->signature = v;
            out->signature_len = vlen;

        } else {
            return -1;
        }

        if (amp == end) {
            break;
        }

        /* a trailing '&' leaves an empty parameter */

        p = amp + 1;

        if (p == end) {
            return -1;
        }
    }

    if (out->signed_headers == NULL || out->signature == NULL) {
        return -1;
    }

    return 0;
}


int
rooms_hmac_signed_headers_ok(const char *s, size_t len)
{
    size_t  n;

    n = sizeof(ROOMS_HMAC_SIGNED_HEADERS) - 1;

    return len == n && strncasecmp(s, ROOMS_HMAC_SIGNED_HEADERS, n) == 0;
}


size_t
rooms_hmac_string_to_sign(char *buf, size_t size,
    const char *method, size_t method_len,
    const char *path_and_query, size_t path_and_query_len,
    const char *date, size_t date_len,
    const char *host, size_t host_len,
    const char *content_hash, size_t content_hash_len)
{
    char    *p;
    size_t   n;

    n = method_len + 1 + path_and_query_len + 1 + date_len + 1 + host_len + 1
        + content_hash_len;

    if (size <= n) {
        return n;
    }

    p = buf;

    memcpy(p, method, method_len);
    p += method_len;
    *p++ = '\n';

    memcpy(p, path_and_query, path_and_query_len);
    p += path_and_query_len;
    *p++ = '\n';

    memcpy(p, date, date_len);
    p += date_len;
    *p++ = ';';

    memcpy(p, host, host_len);
    p += host_len;
    *p++ = ';';

    memcpy(p, content_hash, content_hash_len);
    p += content_hash_len;
    *p = '\0';

    return n;
}


static int
rooms_hmac_compute(unsigned char md[32], const unsigned char *key,
    size_t keylen, const char *sts, size_t len)
{
    unsigned int  mdlen;

    /* OpenSSL treats a NULL key specially: never pass one */

    if (key == NULL || keylen == 0) {
        key = rooms_hmac_empty;
        keylen = 0;
    }

    if (sts == NULL) {
        sts = (const char *) rooms_hmac_empty;
        len = 0;
    }

    mdlen = 0;

    if (HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) sts,
             len, md, &mdlen)
        == NULL
        || mdlen != 32)
    {
        return -1;
    }

    return 0;
}


int
rooms_hmac_verify(const unsigned char *key, size_t keylen,
    const char *sts, size_t stslen, const char *sig_b64, size_t siglen)
{
    long           n;
    unsigned char  md[32], sig[rooms_b64_decoded_len(ROOMS_HMAC_SIG_LEN)];

    if (siglen != ROOMS_HMAC_SIG_LEN || keylen > 0x7fffffff) {
        return -1;
    }

    n = rooms_b64_decode(sig, sig_b64, siglen);

    if (n != 32) {
        return -1;
    }

    if (rooms_hmac_compute(md, key, keylen, sts, stslen) != 0) {
        return -1;
    }

    return rooms_ct_memcmp(md, sig, 32) == 0 ? 0 : -1;
}


void
rooms_hmac_sign(char out[45], const unsigned char *key, size_t keylen,
    const char *sts, size_t len)
{
    unsigned char  md[32];

    if (keylen > 0x7fffffff
        || rooms_hmac_compute(md, key, keylen, sts, len) != 0)
    {
        out[0] = '\0';
        return;
    }

    out[rooms_b64_encode(out, md, sizeof(md))] = '\0';
}
