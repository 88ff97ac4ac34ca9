
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: rooms_jwks_parse().  A refused key set must come with
 * a reason; an accepted one must describe its keys, and, when it can sign,
 * sign a token that it then verifies.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rooms_jwt.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc;
    char                 err[256], *token;
    size_t               i, n;
    const char          *kid, *alg;
    rooms_jwks_t        *jwks;
    rooms_jwt_claims_t   c;

    memset(err, 'x', sizeof(err));

    jwks = rooms_jwks_parse((const char *) data, size, err, sizeof(err));

    if (jwks == NULL) {
        n = strnlen(err, sizeof(err));

        if (n == 0 || n == sizeof(err)) {
            abort();
        }

        return 0;
    }

    n = rooms_jwks_count(jwks);

    if (n == 0) {
        abort();
    }

    for (i = 0; i < n; i++) {
        kid = rooms_jwks_kid(jwks, i);
        alg = rooms_jwks_alg(jwks, i);

        if (kid == NULL || alg == NULL || kid[0] == '\0'
            || strlen(kid) > ROOMS_JWT_KID_MAX)
        {
            abort();
        }
    }

    if (rooms_jwks_kid(jwks, n) != NULL || rooms_jwks_alg(jwks, n) != NULL) {
        abort();
    }

    if (rooms_jwks_can_sign(jwks)) {
        token = rooms_jwt_sign(jwks, "fuzz", 1, 100, "a b", "room");
        if (token == NULL) {
            abort();
        }

        rc = rooms_jwt_verify(jwks, token, strlen(token), 50, 0, &c);

        if (rc != ROOMS_JWT_OK || strcmp(c.sub, "fuzz") != 0
            || c.exp != 100 || c.iat != 1 || strcmp(c.room, "room") != 0
            || strcmp(c.scope, "a b") != 0)
        {
            abort();
        }

        /* one flipped bit in the signature must not verify */
        token[strlen(token) - 2] ^= 0x01;

        if (rooms_jwt_verify(jwks, token, strlen(token), 50, 0, NULL)
            == ROOMS_JWT_OK)
        {
            abort();
        }

        free(token);

    } else if (rooms_jwt_sign(jwks, "fuzz", 1, 100, NULL, NULL) != NULL) {
        abort();
    }

    rooms_jwks_free(jwks);

    return 0;
}
