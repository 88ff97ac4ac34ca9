
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "rooms_b64.h"
#include "rooms_jwt.h"


#define ROOMS_JWKS_MAX_KEYS     256
#define ROOMS_JWT_RSA_MIN_BITS  2048
#define ROOMS_JWT_RSA_MAX_BITS  16384
#define ROOMS_JWT_RSA_E_BITS    64

/* the longest raw signature: RS256 with a 16384-bit modulus */
#define ROOMS_JWT_SIG_MAX       (ROOMS_JWT_RSA_MAX_BITS / 8)

/* an ES256 signature in DER: SEQUENCE of two INTEGERs of up to 33 bytes */
#define ROOMS_JWT_ECDSA_DER_MAX 72

/* decoded header or payload of a token of ROOMS_JWT_MAX_TOKEN bytes */
#define ROOMS_JWT_PART_MAX      rooms_b64_decoded_len(ROOMS_JWT_MAX_TOKEN)


#if defined(__GNUC__) || defined(__clang__)
#define ROOMS_JWT_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define ROOMS_JWT_PRINTF(f, a)
#endif


typedef enum {
    ROOMS_JWA_HS256 = 0,
    ROOMS_JWA_RS256,
    ROOMS_JWA_ES256,
    ROOMS_JWA_EDDSA
} rooms_jwa_e;


typedef struct {
    const char   *name;         /* JWS "alg" */
    const char   *kty;          /* JWK "kty" */
    const char   *what;         /* for error messages */
    const char   *mdname;       /* digest; NULL for EdDSA */
} rooms_jwa_t;


static const rooms_jwa_t  rooms_jwa[] = {
    { "HS256", "oct", "an oct key", "SHA256" },
    { "RS256", "RSA", "an RSA key", "SHA256" },
    { "ES256", "EC", "an EC P-256 key", "SHA256" },
    { "EdDSA", "OKP", "an OKP Ed25519 key", NULL }
};


typedef struct {
    char          kid[ROOMS_JWT_KID_MAX + 1];
    size_t        kid_len;
    rooms_jwa_e   alg;
    int           can_sign;
    size_t        sig_len;      /* raw JWS signature length */
    EVP_PKEY     *pkey;         /* RS256, ES256, EdDSA */
    EVP_MAC_CTX  *mac;          /* HS256: keyed HMAC-SHA256, duplicated */
} rooms_jwk_t;


struct rooms_jwks_s {
    rooms_jwk_t  *keys;
    size_t        nkeys;
    size_t        signer;       /* first key that can sign, or nkeys */
};


typedef struct {
    char         *err;
    size_t        errlen;
    size_t        index;        /* 1-based key number; 0: the document */
    const char   *kid;          /* once known and valid */
} rooms_jwk_ctx_t;


static const char  *rooms_jwt_errors[] = {
    "ok",
    "malformed token",
    "bad header",
    "unsupported alg",
    "alg none",
    "alg does not match key",
    "unknown kid",
    "bad signature",
    "expired",
    "not yet valid",
    "missing sub",
    "bad claims",
    "token too large",
    "internal error"
};


static void rooms_jwk_error(rooms_jwk_ctx_t *ctx, const char *fmt, ...)
    ROOMS_JWT_PRINTF(2, 3);


/* common helpers */


static int
rooms_jwt_has_ctl(const char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c < 0x20 || c == 0x7f) {
            return 1;
        }
    }

    return 0;
}


static int
rooms_jwt_strcaseeq(const char *s, size_t len, const char *lower)
{
    size_t         i;
    unsigned char  c;

    if (len != strlen(lower)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char) (c - 'A' + 'a');
        }

        if (c != (unsigned char) lower[i]) {
            return 0;
        }
    }

    return 1;
}


static int
rooms_jwt_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


static const char *
rooms_jwt_ossl_reason(void)
{
    const char     *reason;
    unsigned long   e;

    e = ERR_peek_last_error();
    reason = (e != 0) ? ERR_reason_error_string(e) : NULL;

    return (reason != NULL) ? reason : "unknown OpenSSL error";
}


/*
 * ES256 signatures are R || S (RFC 7518, 3.4); OpenSSL wants DER:
 * SEQUENCE { INTEGER r, INTEGER s }, minimal, at most 72 bytes.
 */

static size_t
rooms_jwt_der_int(unsigned char *p, const unsigned char *v, size_t len)
{
    size_t  n;

    while (len > 1 && *v == 0) {
        v++;
        len--;
    }

    n = 0;
    p[n++] = 0x02;

    if (v[0] & 0x80) {
        p[n++] = (unsigned char) (len + 1);
        p[n++] = 0x00;

    } else {
        p[n++] = (unsigned char) len;
    }

    memcpy(p + n, v, len);

    return n + len;
}


static size_t
rooms_jwt_ecdsa_to_der(unsigned char *der, const unsigned char *raw)
{
    size_t  n;

    n = 2;
    n += rooms_jwt_der_int(der + n, raw, 32);
    n += rooms_jwt_der_int(der + n, raw + 32, 32);

    der[0] = 0x30;
    der[1] = (unsigned char) (n - 2);

    return n;
}


static int
rooms_jwt_der_to_ecdsa(unsigned char *raw, const unsigned char *der,
    size_t len)
{
    size_t  i, k, n;

    if (len < 8 || len > ROOMS_JWT_ECDSA_DER_MAX || der[0] != 0x30
        || der[1] != len - 2)
    {
        return -1;
    }

    i = 2;

    for (k = 0; k < 2; k++) {
        if (len - i < 3 || der[i] != 0x02) {
            return -1;
        }

        n = der[i + 1];
        i += 2;

        if (n == 0 || n > len - i) {
            return -1;
        }

        while (n > 1 && der[i] == 0) {
            i++;
            n--;
        }

        if (n > 32) {
            return -1;
        }

        memset(raw + 32 * k, 0, 32 - n);
        memcpy(raw + 32 * k + 32 - n, der + i, n);

        i += n;
    }

    return (i == len) ? 0 : -1;
}


/* raw signatures with a built key; callers keep OpenSSL's error queue */

static int
rooms_jwk_verify_raw(const rooms_jwk_t *key, const unsigned char *in,
    size_t inlen, const unsigned char *sig, size_t siglen)
{
    int             rc;
    size_t          maclen;
    EVP_MD_CTX     *md;
    EVP_MAC_CTX    *mac;
    unsigned char   buf[EVP_MAX_MD_SIZE];
    unsigned char   der[ROOMS_JWT_ECDSA_DER_MAX];

    if (siglen != key->sig_len) {
        return ROOMS_JWT_ERR_SIGNATURE;
    }

    if (key->alg == ROOMS_JWA_HS256) {
        mac = EVP_MAC_CTX_dup(key->mac);
        if (mac == NULL) {
            return ROOMS_JWT_ERR_INTERNAL;
        }

        rc = EVP_MAC_update(mac, in, inlen)
             && EVP_MAC_final(mac, buf, &maclen, sizeof(buf));

        EVP_MAC_CTX_free(mac);

        if (!rc || maclen != siglen) {
            return ROOMS_JWT_ERR_INTERNAL;
        }

        return (rooms_ct_memcmp(buf, sig, siglen) == 0)
               ? ROOMS_JWT_OK : ROOMS_JWT_ERR_SIGNATURE;
    }

    if (key->alg == ROOMS_JWA_ES256) {
        siglen = rooms_jwt_ecdsa_to_der(der, sig);
        sig = der;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return ROOMS_JWT_ERR_INTERNAL;
    }

    if (EVP_DigestVerifyInit_ex(md, NULL, rooms_jwa[key->alg].mdname, NULL,
                                NULL, key->pkey, NULL)
        != 1)
    {
        rc = ROOMS_JWT_ERR_INTERNAL;

    } else if (EVP_DigestVerify(md, sig, siglen, in, inlen) == 1) {
        rc = ROOMS_JWT_OK;

    } else {
        rc = ROOMS_JWT_ERR_SIGNATURE;
    }

    EVP_MD_CTX_free(md);

    return rc;
}


/* sig must hold ROOMS_JWT_SIG_MAX bytes */

static int
rooms_jwk_sign_raw(const rooms_jwk_t *key, const unsigned char *in,
    size_t inlen, unsigned char *sig, size_t *siglen)
{
    int             rc;
    size_t          len;
    EVP_MD_CTX     *md;
    EVP_MAC_CTX    *mac;
    unsigned char   der[ROOMS_JWT_ECDSA_DER_MAX + 16];

    if (key->alg == ROOMS_JWA_HS256) {
        mac = EVP_MAC_CTX_dup(key->mac);
        if (mac == NULL) {
            return -1;
        }

        rc = EVP_MAC_update(mac, in, inlen)
             && EVP_MAC_final(mac, sig, &len, ROOMS_JWT_SIG_MAX);

        EVP_MAC_CTX_free(mac);

        if (!rc || len != key->sig_len) {
            return -1;
        }

        *siglen = len;
        return 0;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return -1;
    }

    rc = -1;

    if (EVP_DigestSignInit_ex(md, NULL, rooms_jwa[key->alg].mdname, NULL,
                              NULL, key->pkey, NULL)
        != 1)
    {
        goto done;
    }

    if (key->alg == ROOMS_JWA_ES256) {
        len = sizeof(der);

        if (EVP_DigestSign(md, der, &len, in, inlen) != 1
            || rooms_jwt_der_to_ecdsa(sig, der, len) != 0)
        {
            goto done;
        }

        len = 64;

    } else {
        len = ROOMS_JWT_SIG_MAX;

        if (EVP_DigestSign(md, sig, &len, in, inlen) != 1) {
            goto done;
        }
    }

    if (len != key->sig_len) {
        goto done;
    }

    *siglen = len;
    rc = 0;

done:

    EVP_MD_CTX_free(md);

    return rc;
}


/* JWKS */


static void
rooms_jwk_error(rooms_jwk_ctx_t *ctx, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (ctx->err == NULL || ctx->errlen == 0) {
        return;
    }

    n = 0;

    if (ctx->index != 0) {
        if (ctx->kid != NULL) {
            n = snprintf(ctx->err, ctx->errlen, "key %zu (\"%s\"): ",
                         ctx->index, ctx->kid);

        } else {
            n = snprintf(ctx->err, ctx->errlen, "key %zu: ", ctx->index);
        }

        if (n < 0) {
            n = 0;
            ctx->err[0] = '\0';
        }

        if ((size_t) n >= ctx->errlen) {
            return;
        }
    }

    va_start(args, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - (size_t) n, fmt, args);
    va_end(args);
}


static void
rooms_jwk_free_bytes(unsigned char *p, size_t len)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, len);
        free(p);
    }
}


/*
 * A base64url member: 1 and a malloc()ed *out when present, 0 when
 * absent and not required, -1 on error.
 */

static int
rooms_jwk_bytes(rooms_jwk_ctx_t *ctx, json_t *jwk, const char *name,
    int required, unsigned char **out, size_t *outlen)
{
    long         n;
    size_t       len;
    json_t      *v;
    const char  *s;

    *out = NULL;
    *outlen = 0;

    v = json_object_get(jwk, name);

    if (v == NULL) {
        if (required) {
            rooms_jwk_error(ctx, "missing \"%s\"", name);
            return -1;
        }

        return 0;
    }

    if (!json_is_string(v)) {
        rooms_jwk_error(ctx, "\"%s\" must be a string", name);
        return -1;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len == 0) {
        rooms_jwk_error(ctx, "\"%s\" is empty", name);
        return -1;
    }

    *out = malloc(rooms_b64_decoded_len(len));
    if (*out == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        return -1;
    }

    n = rooms_b64url_decode(*out, s, len);

    if (n <= 0) {
        free(*out);
        *out = NULL;
        rooms_jwk_error(ctx, "bad base64url in \"%s\"", name);
        return -1;
    }

    *outlen = (size_t) n;

    return 1;
}


/* a member of exactly len bytes: 1 when present, 0 when absent, -1 */

static int
rooms_jwk_fixed(rooms_jwk_ctx_t *ctx, json_t *jwk, const char *name,
    int required, unsigned char *dst, size_t len)
{
    int             rc;
    size_t          n;
    unsigned char  *p;

    rc = rooms_jwk_bytes(ctx, jwk, name, required, &p, &n);

    if (rc != 1) {
        return rc;
    }

    if (n != len) {
        rooms_jwk_free_bytes(p, n);
        rooms_jwk_error(ctx, "\"%s\" must be %zu bytes, not %zu",
                        name, len, n);
        return -1;
    }

    memcpy(dst, p, len);
    rooms_jwk_free_bytes(p, n);

    return 1;
}


static int
rooms_jwk_crv(rooms_jwk_ctx_t *ctx, json_t *jwk, const char *kty,
    const char *crv)
{
    json_t  *v;

    v = json_object_get(jwk, "crv");

    if (v == NULL) {
        rooms_jwk_error(ctx, "%s key has no \"crv\"", kty);
        return -1;
    }

    if (!json_is_string(v)) {
        rooms_jwk_error(ctx, "\"crv\" must be a string");
        return -1;
    }

    if (strcmp(json_string_value(v), crv) != 0) {
        rooms_jwk_error(ctx, "%s key has curve \"%.64s\", only %s is supported",
                        kty, json_string_value(v), crv);
        return -1;
    }

    return 0;
}


static int
rooms_jwk_fromdata(rooms_jwk_ctx_t *ctx, rooms_jwk_t *key, const char *type,
    OSSL_PARAM_BLD *bld, int priv)
{
    int            rc;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *pctx;

    rc = -1;
    pctx = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (pctx == NULL) {
        rooms_jwk_error(ctx, "%s keys are not available (%s)",
                        type, rooms_jwt_ossl_reason());
        goto done;
    }

    if (EVP_PKEY_fromdata_init(pctx) != 1
        || EVP_PKEY_fromdata(pctx, &key->pkey,
                             priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                             params)
           != 1)
    {
        rooms_jwk_error(ctx, "invalid %s key (%s)",
                        rooms_jwa[key->alg].kty, rooms_jwt_ossl_reason());
        goto done;
    }

    EVP_PKEY_CTX_free(pctx);

    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (pctx == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    if (EVP_PKEY_public_check(pctx) != 1) {
        rooms_jwk_error(ctx, "invalid %s public key (%s)",
                        rooms_jwa[key->alg].kty, rooms_jwt_ossl_reason());
        goto done;
    }

    rc = 0;

done:

    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);

    return rc;
}


static int
rooms_jwk_oct(rooms_jwk_ctx_t *ctx, json_t *jwk, rooms_jwk_t *key)
{
    int             rc;
    size_t          len;
    EVP_MAC        *mac;
    OSSL_PARAM      params[2];
    unsigned char  *k;

    if (rooms_jwk_bytes(ctx, jwk, "k", 1, &k, &len) != 1) {
        return -1;
    }

    rc = -1;

    if (len < 32) {
        rooms_jwk_error(ctx, "oct key is %zu bytes, HS256 requires at least 32",
                        len);
        goto done;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        rooms_jwk_error(ctx, "HMAC is not available (%s)",
                        rooms_jwt_ossl_reason());
        goto done;
    }

    key->mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (key->mac == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(key->mac, k, len, params) != 1) {
        rooms_jwk_error(ctx, "HMAC-SHA256 is not available (%s)",
                        rooms_jwt_ossl_reason());
        goto done;
    }

    key->sig_len = 32;
    key->can_sign = 1;
    rc = 0;

done:

    rooms_jwk_free_bytes(k, len);

    return rc;
}


static int
rooms_jwk_rsa(rooms_jwk_ctx_t *ctx, json_t *jwk, rooms_jwk_t *key)
{
    /* n, e, d, then the CRT parameters */
    static const char  *names[] = { "n", "e", "d", "p", "q", "dp", "dq", "qi" };
    static const char  *params[] = {
        OSSL_PKEY_PARAM_RSA_N,
        OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1
    };

    int              rc, bits, ncrt, found;
    size_t           i, len[8];
    BIGNUM          *bn[8];
    unsigned char   *bytes[8];
    OSSL_PARAM_BLD  *bld;

    rc = -1;
    bld = NULL;

    for (i = 0; i < 8; i++) {
        bytes[i] = NULL;
        len[i] = 0;
        bn[i] = NULL;
    }

    ncrt = 0;

    for (i = 0; i < 8; i++) {
        found = rooms_jwk_bytes(ctx, jwk, names[i], i < 2, &bytes[i],
                                &len[i]);
        if (found < 0) {
            goto done;
        }

        if (found && i >= 3) {
            ncrt++;
        }
    }

    if (ncrt != 0 && bytes[2] == NULL) {
        rooms_jwk_error(ctx, "RSA key has CRT parameters but no \"d\"");
        goto done;
    }

    if (ncrt != 0 && ncrt != 5) {
        rooms_jwk_error(ctx, "RSA key has only some of \"p\", \"q\", \"dp\", "
                        "\"dq\", \"qi\" (all or none are needed)");
        goto done;
    }

    for (i = 0; i < 8; i++) {
        if (bytes[i] == NULL) {
            continue;
        }

        bn[i] = BN_bin2bn(bytes[i], (int) len[i], NULL);
        if (bn[i] == NULL) {
            rooms_jwk_error(ctx, "out of memory");
            goto done;
        }
    }

    bits = BN_num_bits(bn[0]);

    if (bits < ROOMS_JWT_RSA_MIN_BITS) {
        rooms_jwk_error(ctx, "RSA modulus is %d bits, at least %d are required",
                        bits, ROOMS_JWT_RSA_MIN_BITS);
        goto done;
    }

    if (bits > ROOMS_JWT_RSA_MAX_BITS) {
        rooms_jwk_error(ctx, "RSA modulus is %d bits, at most %d are supported",
                        bits, ROOMS_JWT_RSA_MAX_BITS);
        goto done;
    }

    if (!BN_is_odd(bn[0])) {
        rooms_jwk_error(ctx, "RSA modulus is even");
        goto done;
    }

    if (!BN_is_odd(bn[1]) || BN_is_one(bn[1])
        || BN_num_bits(bn[1]) > ROOMS_JWT_RSA_E_BITS)
    {
        rooms_jwk_error(ctx, "RSA public exponent must be odd, greater "
                        "than 1 and at most %d bits", ROOMS_JWT_RSA_E_BITS);
        goto done;
    }

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    for (i = 0; i < 8; i++) {
        if (bn[i] != NULL && !OSSL_PARAM_BLD_push_BN(bld, params[i], bn[i])) {
            rooms_jwk_error(ctx, "out of memory");
            goto done;
        }
    }

    if (rooms_jwk_fromdata(ctx, key, "RSA", bld, bn[2] != NULL) != 0) {
        goto done;
    }

    key->sig_len = (size_t) EVP_PKEY_get_size(key->pkey);
    key->can_sign = (bn[2] != NULL);
    rc = 0;

done:

    OSSL_PARAM_BLD_free(bld);

    for (i = 0; i < 8; i++) {
        BN_clear_free(bn[i]);
        rooms_jwk_free_bytes(bytes[i], len[i]);
    }

    return rc;
}


static int
rooms_jwk_ec(rooms_jwk_ctx_t *ctx, json_t *jwk, rooms_jwk_t *key)
{
    int              rc, priv;
    BIGNUM          *d;
    unsigned char    pub[65], dbytes[32];
    OSSL_PARAM_BLD  *bld;

    if (rooms_jwk_crv(ctx, jwk, "EC", "P-256") != 0) {
        return -1;
    }

    pub[0] = 0x04;

    if (rooms_jwk_fixed(ctx, jwk, "x", 1, pub + 1, 32) != 1
        || rooms_jwk_fixed(ctx, jwk, "y", 1, pub + 33, 32) != 1)
    {
        return -1;
    }

    priv = rooms_jwk_fixed(ctx, jwk, "d", 0, dbytes, 32);
    if (priv < 0) {
        return -1;
    }

    rc = -1;
    d = NULL;

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    if (priv) {
        d = BN_bin2bn(dbytes, 32, NULL);
        if (d == NULL) {
            rooms_jwk_error(ctx, "out of memory");
            goto done;
        }
    }

    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         "prime256v1", 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             pub, sizeof(pub))
        || (d != NULL
            && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
    {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    if (rooms_jwk_fromdata(ctx, key, "EC", bld, priv) != 0) {
        goto done;
    }

    key->sig_len = 64;
    key->can_sign = priv;
    rc = 0;

done:

    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    OPENSSL_cleanse(dbytes, sizeof(dbytes));

    return rc;
}


static int
rooms_jwk_okp(rooms_jwk_ctx_t *ctx, json_t *jwk, rooms_jwk_t *key)
{
    int              rc, priv;
    unsigned char    x[32], d[32];
    OSSL_PARAM_BLD  *bld;

    if (rooms_jwk_crv(ctx, jwk, "OKP", "Ed25519") != 0) {
        return -1;
    }

    if (rooms_jwk_fixed(ctx, jwk, "x", 1, x, 32) != 1) {
        return -1;
    }

    priv = rooms_jwk_fixed(ctx, jwk, "d", 0, d, 32);
    if (priv < 0) {
        return -1;
    }

    rc = -1;

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    if (!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                          x, sizeof(x))
        || (priv
            && !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PRIV_KEY,
                                                 d, sizeof(d))))
    {
        rooms_jwk_error(ctx, "out of memory");
        goto done;
    }

    if (rooms_jwk_fromdata(ctx, key, "ED25519", bld, priv) != 0) {
        goto done;
    }

    key->sig_len = 64;
    key->can_sign = priv;
    rc = 0;

done:

    OSSL_PARAM_BLD_free(bld);
    OPENSSL_cleanse(d, sizeof(d));

    return rc;
}


/* a private key must sign something its public key verifies */

static int
rooms_jwk_self_test(rooms_jwk_ctx_t *ctx, const rooms_jwk_t *key)
{
    static const unsigned char  msg[] = "rooms_jwks_parse self-test";

    size_t                      len;
    unsigned char               sig[ROOMS_JWT_SIG_MAX];

    if (rooms_jwk_sign_raw(key, msg, sizeof(msg) - 1, sig, &len) != 0) {
        rooms_jwk_error(ctx, "private key cannot sign (%s)",
                        rooms_jwt_ossl_reason());
        return -1;
    }

    if (rooms_jwk_verify_raw(key, msg, sizeof(msg) - 1, sig, len)
        != ROOMS_JWT_OK)
    {
        rooms_jwk_error(ctx, "private key does not match public key");
        return -1;
    }

    return 0;
}


static int
rooms_jwk_parse(rooms_jwk_ctx_t *ctx, json_t *jwk, rooms_jwk_t *key,
    const rooms_jwk_t *prev, size_t nprev)
{
    int           rc;
    size_t        i, len;
    json_t       *v;
    const char   *s;
    rooms_jwa_e   alg;

    if (!json_is_object(jwk)) {
        rooms_jwk_error(ctx, "not a JSON object");
        return -1;
    }

    v = json_object_get(jwk, "kid");

    if (v == NULL) {
        rooms_jwk_error(ctx, "missing \"kid\"");
        return -1;
    }

    if (!json_is_string(v)) {
        rooms_jwk_error(ctx, "\"kid\" must be a string");
        return -1;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len == 0) {
        rooms_jwk_error(ctx, "\"kid\" is empty");
        return -1;
    }

    if (len > ROOMS_JWT_KID_MAX) {
        rooms_jwk_error(ctx, "\"kid\" is longer than %d bytes",
                        ROOMS_JWT_KID_MAX);
        return -1;
    }

    if (rooms_jwt_has_ctl(s, len)) {
        rooms_jwk_error(ctx, "\"kid\" contains control characters");
        return -1;
    }

    for (i = 0; i < nprev; i++) {
        if (prev[i].kid_len == len && memcmp(prev[i].kid, s, len) == 0) {
            rooms_jwk_error(ctx, "duplicate kid \"%s\" (also key %zu)",
                            s, i + 1);
            return -1;
        }
    }

    memcpy(key->kid, s, len);
    key->kid[len] = '\0';
    key->kid_len = len;
    ctx->kid = key->kid;

    v = json_object_get(jwk, "kty");

    if (v == NULL) {
        rooms_jwk_error(ctx, "missing \"kty\"");
        return -1;
    }

    if (!json_is_string(v)) {
        rooms_jwk_error(ctx, "\"kty\" must be a string");
        return -1;
    }

    s = json_string_value(v);

    for (alg = ROOMS_JWA_HS256; alg <= ROOMS_JWA_EDDSA; alg++) {
        if (strcmp(s, rooms_jwa[alg].kty) == 0) {
            break;
        }
    }

    if (alg > ROOMS_JWA_EDDSA) {
        rooms_jwk_error(ctx, "unsupported \"kty\" \"%.64s\" "
                        "(oct, RSA, EC and OKP are)", s);
        return -1;
    }

    key->alg = alg;

    v = json_object_get(jwk, "use");

    if (v != NULL) {
        if (!json_is_string(v)) {
            rooms_jwk_error(ctx, "\"use\" must be a string");
            return -1;
        }

        if (strcmp(json_string_value(v), "sig") != 0) {
            rooms_jwk_error(ctx, "\"use\" is \"%.64s\", only \"sig\" is "
                            "supported", json_string_value(v));
            return -1;
        }
    }

    v = json_object_get(jwk, "alg");

    if (v != NULL) {
        if (!json_is_string(v)) {
            rooms_jwk_error(ctx, "\"alg\" must be a string");
            return -1;
        }

        if (strcmp(json_string_value(v), rooms_jwa[alg].name) != 0) {
            rooms_jwk_error(ctx, "\"alg\" is \"%.64s\", but %s is used "
                            "with \"%s\"", json_string_value(v),
                            rooms_jwa[alg].what, rooms_jwa[alg].name);
            return -1;
        }
    }

    switch (alg) {

    case ROOMS_JWA_HS256:
        rc = rooms_jwk_oct(ctx, jwk, key);
        break;

    case ROOMS_JWA_RS256:
        rc = rooms_jwk_rsa(ctx, jwk, key);
        break;

    case ROOMS_JWA_ES256:
        rc = rooms_jwk_ec(ctx, jwk, key);
        break;

    default: /* ROOMS_JWA_EDDSA */
        rc = rooms_jwk_okp(ctx, jwk, key);
        break;
    }

    if (rc != 0) {
        return -1;
    }

    if (key->can_sign && alg != ROOMS_JWA_HS256) {
        return rooms_jwk_self_test(ctx, key);
    }

    return 0;
}


rooms_jwks_t *
rooms_jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
    size_t            i, n;
    json_t           *doc, *keys;
    json_error_t      jerr;
    rooms_jwks_t     *jwks;
    rooms_jwk_ctx_t   ctx;

    ctx.err = err;
    ctx.errlen = errlen;
    ctx.index = 0;
    ctx.kid = NULL;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if (json == NULL) {
        rooms_jwk_error(&ctx, "no JWKS");
        return NULL;
    }

    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);

    if (doc == NULL) {
        rooms_jwk_error(&ctx, "invalid JSON at line %d, column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        return NULL;
    }

    jwks = NULL;

    if (!json_is_object(doc)) {
        rooms_jwk_error(&ctx, "JWKS must be a JSON object with \"keys\"");
        goto failed;
    }

    keys = json_object_get(doc, "keys");

    if (keys == NULL) {
        rooms_jwk_error(&ctx, "missing \"keys\"");
        goto failed;
    }

    if (!json_is_array(keys)) {
        rooms_jwk_error(&ctx, "\"keys\" must be an array");
        goto failed;
    }

    n = json_array_size(keys);

    if (n == 0) {
        rooms_jwk_error(&ctx, "no keys");
        goto failed;
    }

    if (n > ROOMS_JWKS_MAX_KEYS) {
        rooms_jwk_error(&ctx, "too many keys (%zu, at most %d)",
                        n, ROOMS_JWKS_MAX_KEYS);
        goto failed;
    }

    jwks = calloc(1, sizeof(rooms_jwks_t));
    if (jwks == NULL) {
        rooms_jwk_error(&ctx, "out of memory");
        goto failed;
    }

    jwks->keys = calloc(n, sizeof(rooms_jwk_t));
    if (jwks->keys == NULL) {
        rooms_jwk_error(&ctx, "out of memory");
        goto failed;
    }

    ERR_set_mark();

    for (i = 0; i < n; i++) {
        ctx.index = i + 1;
        ctx.kid = NULL;

        /* a key that fails half-built is freed with the set */
        jwks->nkeys = i + 1;

        if (rooms_jwk_parse(&ctx, json_array_get(keys, i), &jwks->keys[i],
                            jwks->keys, i)
            != 0)
        {
            ERR_pop_to_mark();
            goto failed;
        }
    }

    ERR_pop_to_mark();

    jwks->signer = n;

    for (i = 0; i < n; i++) {
        if (jwks->keys[i].can_sign) {
            jwks->signer = i;
            break;
        }
    }

    json_decref(doc);

    return jwks;

failed:

    rooms_jwks_free(jwks);
    json_decref(doc);

    return NULL;
}


void
rooms_jwks_free(rooms_jwks_t *jwks)
{
    size_t  i;

    if (jwks == NULL) {
        return;
    }

    if (jwks->keys != NULL) {
        for (i = 0; i < jwks->nkeys; i++) {
            EVP_PKEY_free(jwks->keys[i].pkey);
            EVP_MAC_CTX_free(jwks->keys[i].mac);
        }

        free(jwks->keys);
    }

    free(jwks);
}


size_t
rooms_jwks_count(const rooms_jwks_t *jwks)
{
    return (jwks != NULL) ? jwks->nkeys : 0;
}


int
rooms_jwks_can_sign(const rooms_jwks_t *jwks)
{
    return jwks != NULL && jwks->signer < jwks->nkeys;
}


const char *
rooms_jwks_kid(const rooms_jwks_t *jwks, size_t i)
{
    if (jwks == NULL || i >= jwks->nkeys) {
        return NULL;
    }

    return jwks->keys[i].kid;
}


const char *
rooms_jwks_alg(const rooms_jwks_t *jwks, size_t i)
{
    if (jwks == NULL || i >= jwks->nkeys) {
        return NULL;
    }

    return rooms_jwa[jwks->keys[i].alg].name;
}


/* verification */


static int
rooms_jwt_header(const rooms_jwks_t *jwks, const unsigned char *buf,
    size_t len, const rooms_jwk_t **keyp, rooms_jwt_claims_t *claims)
{
    int                 rc;
    size_t              i, n;
    json_t             *hdr, *v;
    const char         *s;
    json_error_t        jerr;
    rooms_jwa_e         alg;
    const rooms_jwk_t  *key;

    hdr = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES, &jerr);

    if (hdr == NULL) {
        return (json_error_code(&jerr) == json_error_duplicate_key)
               ? ROOMS_JWT_ERR_MALFORMED : ROOMS_JWT_ERR_HEADER;
    }

    rc = ROOMS_JWT_ERR_HEADER;

    if (!json_is_object(hdr)) {
        goto done;
    }

    v = json_object_get(hdr, "alg");

    if (!json_is_string(v)) {
        goto done;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    if (rooms_jwt_strcaseeq(s, n, "none")) {
        rc = ROOMS_JWT_ERR_ALG_NONE;
        goto done;
    }

    for (alg = ROOMS_JWA_HS256; alg <= ROOMS_JWA_EDDSA; alg++) {
        if (n == strlen(rooms_jwa[alg].name)
            && memcmp(s, rooms_jwa[alg].name, n) == 0)
        {
            break;
        }
    }

    if (alg > ROOMS_JWA_EDDSA) {
        rc = ROOMS_JWT_ERR_ALG;
        goto done;
    }

    if (json_object_get(hdr, "crit") != NULL) {
        goto done;
    }

    v = json_object_get(hdr, "typ");

    if (v != NULL
        && !(json_is_string(v)
             && rooms_jwt_strcaseeq(json_string_value(v),
                                    json_string_length(v), "jwt")))
    {
        goto done;
    }

    v = json_object_get(hdr, "kid");

    if (!json_is_string(v)) {
        goto done;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    if (n == 0 || n > ROOMS_JWT_KID_MAX || rooms_jwt_has_ctl(s, n)) {
        goto done;
    }

    memcpy(claims->kid, s, n);
    claims->kid[n] = '\0';

    key = NULL;

    for (i = 0; i < jwks->nkeys; i++) {
        if (jwks->keys[i].kid_len == n
            && memcmp(jwks->keys[i].kid, s, n) == 0)
        {
            key = &jwks->keys[i];
            break;
        }
    }

    if (key == NULL) {
        rc = ROOMS_JWT_ERR_KID;
        goto done;
    }

    if (key->alg != alg) {
        rc = ROOMS_JWT_ERR_ALG_MISMATCH;
        goto done;
    }

    *keyp = key;
    rc = ROOMS_JWT_OK;

done:

    json_decref(hdr);

    return rc;
}


static int
rooms_jwt_numeric_date(json_t *v, int64_t *out)
{
    double      d;
    json_int_t  i;

    if (json_is_integer(v)) {
        i = json_integer_value(v);

        if (i < 0 || i > ROOMS_JWT_TIME_MAX) {
            return -1;
        }

        *out = (int64_t) i;
        return 0;
    }

    if (json_is_real(v)) {
        d = json_real_value(v);

        /* also refuses NaN */
        if (!(d >= 0.0 && d <= (double) ROOMS_JWT_TIME_MAX)) {
            return -1;
        }

        *out = (int64_t) d;
        return 0;
    }

    return -1;
}


/* copies a string claim of min..max bytes without control characters */

static int
rooms_jwt_string_claim(json_t *v, char *dst, size_t min, size_t max)
{
    size_t       n;
    const char  *s;

    if (!json_is_string(v)) {
        return -1;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    if (n < min || n > max || rooms_jwt_has_ctl(s, n)) {
        return -1;
    }

    memcpy(dst, s, n);
    dst[n] = '\0';

    return 0;
}


static int
rooms_jwt_scp(json_t *v, rooms_jwt_claims_t *claims)
{
    size_t       i, n, len;
    json_t      *e;
    const char  *s;

    if (json_is_string(v)) {
        return rooms_jwt_string_claim(v, claims->scope, 0,
                                      ROOMS_JWT_SCOPE_MAX);
    }

    if (!json_is_array(v)) {
        return -1;
    }

    n = 0;

    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            return -1;
        }

        s = json_string_value(e);
        len = json_string_length(e);

        if (len == 0 || rooms_jwt_has_ctl(s, len)
            || memchr(s, ' ', len) != NULL)
        {
            return -1;
        }

        if (n + (n != 0) + len > ROOMS_JWT_SCOPE_MAX) {
            return -1;
        }

        if (n != 0) {
            claims->scope[n++] = ' ';
        }

        memcpy(claims->scope + n, s, len);
        n += len;
    }

    claims->scope[n] = '\0';

    return 0;
}


static int
rooms_jwt_claims(const unsigned char *buf, size_t len,
    rooms_jwt_claims_t *claims)
{
    int            rc;
    json_t        *payload, *v, *scp;
    json_error_t   jerr;

    payload = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES,
                         &jerr);

    if (payload == NULL) {
        return (json_error_code(&jerr) == json_error_duplicate_key)
               ? ROOMS_JWT_ERR_MALFORMED : ROOMS_JWT_ERR_CLAIMS;
    }

    rc = ROOMS_JWT_ERR_CLAIMS;

    if (!json_is_object(payload)) {
        goto done;
    }

    v = json_object_get(payload, "sub");

    if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
        rc = ROOMS_JWT_ERR_NO_SUB;
        goto done;
    }

    if (rooms_jwt_string_claim(v, claims->sub, 1, ROOMS_JWT_SUB_MAX) != 0) {
        goto done;
    }

    v = json_object_get(payload, "exp");

    if (v == NULL || rooms_jwt_numeric_date(v, &claims->exp) != 0) {
        goto done;
    }

    v = json_object_get(payload, "iat");

    if (v != NULL) {
        if (rooms_jwt_numeric_date(v, &claims->iat) != 0) {
            goto done;
        }

        claims->has_iat = 1;
    }

    v = json_object_get(payload, "nbf");

    if (v != NULL) {
        if (rooms_jwt_numeric_date(v, &claims->nbf) != 0) {
            goto done;
        }

        claims->has_nbf = 1;
    }

    v = json_object_get(payload, "room");

    if (v != NULL) {
        if (rooms_jwt_string_claim(v, claims->room, 1, ROOMS_JWT_ROOM_MAX)
            != 0)
        {
            goto done;
        }

        claims->has_room = 1;
    }

    v = json_object_get(payload, "scope");
    scp = json_object_get(payload, "scp");

    if (v != NULL && scp != NULL) {
        goto done;
    }

    if (v != NULL) {
        if (rooms_jwt_string_claim(v, claims->scope, 0, ROOMS_JWT_SCOPE_MAX)
            != 0)
        {
            goto done;
        }

        claims->has_scope = 1;

    } else if (scp != NULL) {
        if (rooms_jwt_scp(scp, claims) != 0) {
            goto done;
        }

        claims->has_scope = 1;
    }

    rc = ROOMS_JWT_OK;

done:

    json_decref(payload);

    return rc;
}


/*
 * The order of checks: size; shape (three non-empty base64url parts, the
 * signature may be empty); the header (JSON, "alg" none, a known "alg",
 * "crit", "typ", "kid"); the key named by kid and its algorithm; the
 * signature; only then the payload's JSON and claims; last the clock.
 */

int
rooms_jwt_verify(const rooms_jwks_t *jwks, const char *token, size_t len,
    int64_t now, int64_t leeway, rooms_jwt_claims_t *claims)
{
    int                  rc;
    long                 n, plen;
    size_t               i, ndots, dots[2], slen;
    unsigned char        c;
    const rooms_jwk_t   *key;
    rooms_jwt_claims_t   scratch;
    unsigned char        buf[ROOMS_JWT_PART_MAX];
    unsigned char        payload[ROOMS_JWT_PART_MAX];
    unsigned char        sig[ROOMS_JWT_SIG_MAX + 3];

    if (claims == NULL) {
        claims = &scratch;
    }

    memset(claims, 0, sizeof(rooms_jwt_claims_t));

    if (jwks == NULL || token == NULL || len == 0) {
        return ROOMS_JWT_ERR_MALFORMED;
    }

    if (len > ROOMS_JWT_MAX_TOKEN) {
        return ROOMS_JWT_ERR_TOO_LARGE;
    }

    ndots = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) token[i];

        if (c == '.') {
            if (ndots == 2) {
                return ROOMS_JWT_ERR_MALFORMED;
            }

            dots[ndots++] = i;
            continue;
        }

        if (!rooms_jwt_b64url_char(c)) {
            return ROOMS_JWT_ERR_MALFORMED;
        }
    }

    if (ndots != 2 || dots[0] == 0 || dots[1] == dots[0] + 1) {
        return ROOMS_JWT_ERR_MALFORMED;
    }

    n = rooms_b64url_decode(buf, token, dots[0]);
    plen = rooms_b64url_decode(payload, token + dots[0] + 1,
                               dots[1] - dots[0] - 1);

    if (n < 0 || plen < 0) {
        return ROOMS_JWT_ERR_MALFORMED;
    }

    key = NULL;

    rc = rooms_jwt_header(jwks, buf, (size_t) n, &key, claims);
    if (rc != ROOMS_JWT_OK) {
        return rc;
    }

    slen = len - dots[1] - 1;

    if (rooms_b64_decoded_len(slen) > sizeof(sig)) {
        return ROOMS_JWT_ERR_SIGNATURE;
    }

    n = rooms_b64url_decode(sig, token + dots[1] + 1, slen);
    if (n < 0) {
        return ROOMS_JWT_ERR_MALFORMED;
    }

    ERR_set_mark();

    rc = rooms_jwk_verify_raw(key, (const unsigned char *) token, dots[1],
                              sig, (size_t) n);

    ERR_pop_to_mark();

    if (rc != ROOMS_JWT_OK) {
        return rc;
    }

    rc = rooms_jwt_claims(payload, (size_t) plen, claims);
    if (rc != ROOMS_JWT_OK) {
        return rc;
    }

    if (leeway < 0) {
        leeway = 0;

    } else if (leeway > ROOMS_JWT_TIME_MAX) {
        leeway = ROOMS_JWT_TIME_MAX;
    }

    /* exp <= now - leeway, and nbf > now + leeway, without overflow */

    if (claims->exp + leeway <= now) {
        return ROOMS_JWT_ERR_EXPIRED;
    }

    if (claims->has_nbf && claims->nbf - leeway > now) {
        return ROOMS_JWT_ERR_NOT_YET_VALID;
    }

    return ROOMS_JWT_OK;
}


const char *
rooms_jwt_strerror(int rc)
{
    int  n;

    n = (int) (sizeof(rooms_jwt_errors) / sizeof(rooms_jwt_errors[0]));

    if (rc > 0 || rc <= -n) {
        return "unknown error";
    }

    return rooms_jwt_errors[-rc];
}


/* signing */


static int
rooms_jwt_sign_arg(const char *s, size_t min, size_t max)
{
    size_t  n;

    n = strlen(s);

    return n >= min && n <= max && !rooms_jwt_has_ctl(s, n);
}


char *
rooms_jwt_sign(const rooms_jwks_t *jwks, const char *sub, int64_t iat,
    int64_t exp, const char *scope, const char *room)
{
    char               *header, *payload, *token;
    size_t              hlen, plen, siglen, n, total;
    json_t             *h, *p;
    const rooms_jwk_t  *key;
    unsigned char       sig[ROOMS_JWT_SIG_MAX];

    if (!rooms_jwks_can_sign(jwks) || sub == NULL
        || !rooms_jwt_sign_arg(sub, 1, ROOMS_JWT_SUB_MAX)
        || (room != NULL && !rooms_jwt_sign_arg(room, 1, ROOMS_JWT_ROOM_MAX))
        || (scope != NULL
            && !rooms_jwt_sign_arg(scope, 0, ROOMS_JWT_SCOPE_MAX))
        || iat < 0 || iat > ROOMS_JWT_TIME_MAX
        || exp < 0 || exp > ROOMS_JWT_TIME_MAX)
    {
        return NULL;
    }

    key = &jwks->keys[jwks->signer];

    header = NULL;
    payload = NULL;
    token = NULL;

    h = json_pack("{s:s, s:s, s:s}", "alg", rooms_jwa[key->alg].name,
                  "kid", key->kid, "typ", "JWT");

    p = json_pack("{s:s, s:I, s:I}", "sub", sub, "iat", (json_int_t) iat,
                  "exp", (json_int_t) exp);

    if (h == NULL || p == NULL) {
        goto done;
    }

    if (room != NULL
        && json_object_set_new(p, "room", json_string(room)) != 0)
    {
        goto done;
    }

    if (scope != NULL
        && json_object_set_new(p, "scope", json_string(scope)) != 0)
    {
        goto done;
    }

    header = json_dumps(h, JSON_COMPACT);
    payload = json_dumps(p, JSON_COMPACT);

    if (header == NULL || payload == NULL) {
        goto done;
    }

    hlen = strlen(header);
    plen = strlen(payload);

    total = rooms_b64_encoded_len(hlen) + 1 + rooms_b64_encoded_len(plen)
            + 1 + rooms_b64_encoded_len(key->sig_len);

    if (total > ROOMS_JWT_MAX_TOKEN + 8) {
        goto done;
    }

    token = malloc(total + 1);
    if (token == NULL) {
        goto done;
    }

    n = rooms_b64url_encode(token, (const unsigned char *) header, hlen);
    token[n++] = '.';
    n += rooms_b64url_encode(token + n, (const unsigned char *) payload,
                             plen);

    ERR_set_mark();

    if (rooms_jwk_sign_raw(key, (const unsigned char *) token, n, sig,
                           &siglen)
        != 0)
    {
        ERR_pop_to_mark();
        free(token);
        token = NULL;
        goto done;
    }

    ERR_pop_to_mark();

    token[n++] = '.';
    n += rooms_b64url_encode(token + n, sig, siglen);
    token[n] = '\0';

    if (n > ROOMS_JWT_MAX_TOKEN) {
        free(token);
        token = NULL;
    }

done:

    free(header);
    free(payload);
    json_decref(h);
    json_decref(p);

    return token;
}
