
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: rooms_jwt_verify() against a fixed key set with one
 * key of every type.  Each input is verified twice:
 *
 *   1. as a token, byte for byte;
 *   2. if it holds a '\n', as "HEADER-JSON\nPAYLOAD-JSON": both parts are
 *      base64url-encoded and HMAC-SHA256-signed with the set's oct key
 *      here, so that header and claims parsing are reached past a valid
 *      signature (with the header {"alg":"HS256","kid":"fz-hs"}).
 *
 * Any result must be a known code, and an accepted token must keep the
 * documented promises about its claims.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "rooms_b64.h"
#include "rooms_jwt.h"


#define FUZZ_NOW     INT64_C(1700000000)
#define FUZZ_LEEWAY  30


static const char  fuzz_jwks_json[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"kid\":\"fz-hs\","
    "\"k\":\"9UmXLF6SHCPw0sqnvqpAYVaPbW_uNJLnfY0eC8krkz8\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"fz-ed\","
    "\"x\":\"wmJI52luysAXxUSW3jY_reqGurSo5MfEG09o4icyyDc\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fz-es\","
    "\"x\":\"-wk6gZf_WrIRLn-aHHD8kofkFgG1ZgTINwxdy1Mfvv0\","
    "\"y\":\"F8pnjOg33z4Hx9LbZAOCUsG7RMleN4YZSuw1o3acm-U\"},"
    "{\"kty\":\"RSA\",\"kid\":\"fz-rs\",\"e\":\"AQAB\","
    "\"n\":\"oSVyBt1qZoKhFOmcqwCHUtPQ4VgWXrPfumfHjTIbsELvA4ncW8LVxJ14zde8qZSb"
    "ThqGOeFGY3fJDN0JmAu46BLCwLp-fzn4j61GUnVIOO4sFWXNi8iQWOEJPVxsm3QurYwhcCml"
    "UFSEb_GuPH4q98DIAaisbx3_eXBMxhJBtx_6Yx9lU1DNxoBB88pyOYpPLYPDSwL4Ftx7F_PN"
    "Tenw4M2qWTI4jk1mcMu67X2uWqDG082FPnJ8z5Mc3qhebTVcVWIt2PNaGTimlW1SoXVhgZPk"
    "9zjn-HWBpze2cTfNOVIP2qN79wAQyi4drPxtA7ZbX4o34Kdffhn1T3IxRZrWFQ\"}"
    "]}";

static const char  fuzz_hs_key[] =
    "9UmXLF6SHCPw0sqnvqpAYVaPbW_uNJLnfY0eC8krkz8";


static rooms_jwks_t   *fuzz_jwks;
static unsigned char   fuzz_secret[32];
static char            fuzz_token[2 * ROOMS_JWT_MAX_TOKEN];


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
fuzz_clean(const char *s, size_t min, size_t max)
{
    size_t  i, n;

    n = strlen(s);

    if (n < min || n > max) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_check(int rc, const rooms_jwt_claims_t *c)
{
    if (rc > 0 || rc < ROOMS_JWT_ERR_TOO_LARGE) {
        /* ROOMS_JWT_ERR_INTERNAL, too: no allocation fails here */
        abort();
    }

    if (strcmp(rooms_jwt_strerror(rc), "unknown error") == 0) {
        abort();
    }

    if (rc != ROOMS_JWT_OK && rc != ROOMS_JWT_ERR_EXPIRED
        && rc != ROOMS_JWT_ERR_NOT_YET_VALID)
    {
        return;
    }

    if (!fuzz_clean(c->kid, 1, ROOMS_JWT_KID_MAX)
        || !fuzz_clean(c->sub, 1, ROOMS_JWT_SUB_MAX)
        || !fuzz_clean(c->room, c->has_room, c->has_room
                                             ? ROOMS_JWT_ROOM_MAX : 0)
        || !fuzz_clean(c->scope, 0, c->has_scope ? ROOMS_JWT_SCOPE_MAX : 0))
    {
        abort();
    }

    if (c->exp < 0 || c->exp > ROOMS_JWT_TIME_MAX
        || c->iat < 0 || c->iat > ROOMS_JWT_TIME_MAX
        || c->nbf < 0 || c->nbf > ROOMS_JWT_TIME_MAX
        || (!c->has_iat && c->iat != 0) || (!c->has_nbf && c->nbf != 0))
    {
        abort();
    }

    if (rc == ROOMS_JWT_OK
        && (c->exp + FUZZ_LEEWAY <= FUZZ_NOW
            || (c->has_nbf && c->nbf - FUZZ_LEEWAY > FUZZ_NOW)))
    {
        abort();
    }
}


static void
fuzz_resign(const rooms_jwt_claims_t *c)
{
    int                  rc;
    char                *token;
    rooms_jwt_claims_t   c2;

    token = rooms_jwt_sign(fuzz_jwks, c->sub, c->iat, c->exp,
                           c->has_scope ? c->scope : NULL,
                           c->has_room ? c->room : NULL);
    if (token == NULL) {
        abort();
    }

    rc = rooms_jwt_verify(fuzz_jwks, token, strlen(token), FUZZ_NOW,
                          FUZZ_LEEWAY, &c2);

    if (rc != ROOMS_JWT_OK
        || strcmp(c2.kid, "fz-hs") != 0
        || strcmp(c2.sub, c->sub) != 0
        || c2.exp != c->exp || c2.iat != c->iat || !c2.has_iat
        || c2.has_nbf
        || c2.has_room != c->has_room || strcmp(c2.room, c->room) != 0
        || c2.has_scope != c->has_scope || strcmp(c2.scope, c->scope) != 0)
    {
        abort();
    }

    free(token);
}


static void
fuzz_init(void)
{
    fuzz_jwks = rooms_jwks_parse(fuzz_jwks_json, sizeof(fuzz_jwks_json) - 1,
                                 NULL, 0);

    if (fuzz_jwks == NULL
        || rooms_b64url_decode(fuzz_secret, fuzz_hs_key,
                               sizeof(fuzz_hs_key) - 1)
           != (long) sizeof(fuzz_secret))
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc;
    size_t               n, hlen, maclen;
    const uint8_t       *nl;
    unsigned char        mac[32];
    rooms_jwt_claims_t   c;

    if (fuzz_jwks == NULL) {
        fuzz_init();
    }

    rc = rooms_jwt_verify(fuzz_jwks, (const char *) data, size, FUZZ_NOW,
                          FUZZ_LEEWAY, &c);
    fuzz_check(rc, &c);

    nl = memchr(data, '\n', size);

    if (nl == NULL || size > ROOMS_JWT_MAX_TOKEN) {
        return 0;
    }

    hlen = (size_t) (nl - data);

    n = rooms_b64url_encode(fuzz_token, data, hlen);
    fuzz_token[n++] = '.';
    n += rooms_b64url_encode(fuzz_token + n, nl + 1, size - hlen - 1);

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, fuzz_secret,
                  sizeof(fuzz_secret), (unsigned char *) fuzz_token, n,
                  mac, sizeof(mac), &maclen)
        == NULL)
    {
        abort();
    }

    fuzz_token[n++] = '.';
    n += rooms_b64url_encode(fuzz_token + n, mac, maclen);

    rc = rooms_jwt_verify(fuzz_jwks, fuzz_token, n, FUZZ_NOW, FUZZ_LEEWAY,
                          &c);
    fuzz_check(rc, &c);

    /* our signer must make a token of the same claims that verifies */
    if (rc == ROOMS_JWT_OK) {
        fuzz_resign(&c);
    }

    return 0;
}
