
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * JSON Web Key Sets (RFC 7517) and compact JWS JSON Web Tokens (RFC 7515,
 * RFC 7519) for the rooms module: HS256, RS256, ES256 and EdDSA (Ed25519).
 *
 * No nginx dependency (C99, jansson, OpenSSL 3 EVP): unit tests and
 * fuzzers link this file directly, together with rooms_b64.c.
 *
 * The algorithm of a token is fixed by the key its "kid" names:
 *
 *     JWK "kty"           algorithm   key requirement
 *     oct                 HS256       "k" of at least 32 bytes
 *     RSA                 RS256       modulus of 2048..16384 bits
 *     EC, crv P-256       ES256       "x", "y" of 32 bytes
 *     OKP, crv Ed25519    EdDSA       "x" of 32 bytes
 *
 * Keys are built once, by rooms_jwks_parse(); a parsed key set is never
 * modified afterwards, so it may be shared by threads.
 */


#ifndef _ROOMS_JWT_H_INCLUDED_
#define _ROOMS_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* limits, in bytes; the claims buffers below are one byte larger (NUL) */
#define ROOMS_JWT_MAX_TOKEN          8192
#define ROOMS_JWT_KID_MAX            128
#define ROOMS_JWT_SUB_MAX            256
#define ROOMS_JWT_ROOM_MAX           64
#define ROOMS_JWT_SCOPE_MAX          256

/* largest accepted NumericDate: 9999-12-31T23:59:59Z */
#define ROOMS_JWT_TIME_MAX           INT64_C(253402300799)


/* rooms_jwt_verify() results; rooms_jwt_strerror() gives the text */
#define ROOMS_JWT_OK                 0
#define ROOMS_JWT_ERR_MALFORMED      -1   /* "malformed token" */
#define ROOMS_JWT_ERR_HEADER         -2   /* "bad header" */
#define ROOMS_JWT_ERR_ALG            -3   /* "unsupported alg" */
#define ROOMS_JWT_ERR_ALG_NONE       -4   /* "alg none" */
#define ROOMS_JWT_ERR_ALG_MISMATCH   -5   /* "alg does not match key" */
#define ROOMS_JWT_ERR_KID            -6   /* "unknown kid" */
#define ROOMS_JWT_ERR_SIGNATURE      -7   /* "bad signature" */
#define ROOMS_JWT_ERR_EXPIRED        -8   /* "expired" */
#define ROOMS_JWT_ERR_NOT_YET_VALID  -9   /* "not yet valid" */
#define ROOMS_JWT_ERR_NO_SUB         -10  /* "missing sub" */
#define ROOMS_JWT_ERR_CLAIMS         -11  /* "bad claims" */
#define ROOMS_JWT_ERR_TOO_LARGE      -12  /* "token too large" */
#define ROOMS_JWT_ERR_INTERNAL       -13  /* "internal error" */


typedef struct rooms_jwks_s  rooms_jwks_t;


/*
 * Verified claims.  Strings are NUL-terminated and hold no control
 * characters (bytes < 0x20 and 0x7f); sizes are in bytes.
 *
 *   kid     header "kid", 1..128
 *   sub     "sub", 1..256, required
 *   room    "room", 1..64, optional (has_room)
 *   scope   "scope" (a string, 0..256), or "scp" (a string, or an array
 *           of strings without spaces joined by single spaces), optional
 *           (has_scope); a token may not carry both
 *   exp     "exp", required; iat, nbf optional (has_iat, has_nbf)
 *
 * NumericDates are integers or reals in 0..ROOMS_JWT_TIME_MAX; a real is
 * truncated to whole seconds.
 */
typedef struct {
    char     kid[ROOMS_JWT_KID_MAX + 1];
    char     sub[ROOMS_JWT_SUB_MAX + 1];
    char     room[ROOMS_JWT_ROOM_MAX + 1];
    char     scope[ROOMS_JWT_SCOPE_MAX + 1];
    int64_t  exp;
    int64_t  iat;
    int64_t  nbf;
    int      has_room;
    int      has_scope;
    int      has_iat;
    int      has_nbf;
} rooms_jwt_claims_t;


/*
 * Parses a JWKS document ({"keys": [...]}) of len bytes, which need not
 * be NUL-terminated.  Returns NULL on error, with a human-readable reason
 * in err (always NUL-terminated when errlen > 0), such as
 *
 *     key 2 ("kid-a"): EC key has curve "P-384", only P-256 is supported
 *
 * Every key must have a unique "kid"; "alg", if present, must be the
 * key type's algorithm; "use", if present, must be "sig".  A key with
 * its private part ("d"; for RSA, "d" with all or none of p, q, dp, dq,
 * qi) can sign, and is checked to match its public part.  An oct key
 * always can sign.
 */
rooms_jwks_t *rooms_jwks_parse(const char *json, size_t len, char *err,
    size_t errlen);
void rooms_jwks_free(rooms_jwks_t *jwks);

size_t rooms_jwks_count(const rooms_jwks_t *jwks);
int rooms_jwks_can_sign(const rooms_jwks_t *jwks);

/* the i-th key (0-based, in document order): its kid and its algorithm */
const char *rooms_jwks_kid(const rooms_jwks_t *jwks, size_t i);
const char *rooms_jwks_alg(const rooms_jwks_t *jwks, size_t i);


/*
 * Verifies a compact JWS token of len bytes (not NUL-terminated) at time
 * now (seconds since the epoch), allowing leeway seconds of clock skew
 * (clamped to 0..ROOMS_JWT_TIME_MAX).  The token is expired when
 * exp <= now - leeway, and not yet valid when nbf > now + leeway.
 *
 * claims may be NULL.  It is zeroed first; it is meaningful on
 * ROOMS_JWT_OK and also, fully filled from an authentic token, on
 * ROOMS_JWT_ERR_EXPIRED and ROOMS_JWT_ERR_NOT_YET_VALID (for logging).
 * On other errors its content is unspecified, but for claims->kid, which
 * holds the header's kid (or "") and may be logged.
 *
 * Nothing is allocated here apart from jansson's parse of the header and
 * the payload and OpenSSL's short-lived operation context; the payload
 * is parsed only after the signature is verified.
 */
int rooms_jwt_verify(const rooms_jwks_t *jwks, const char *token,
    size_t len, int64_t now, int64_t leeway, rooms_jwt_claims_t *claims);

/* a short reason for a rooms_jwt_verify() result, never NULL */
const char *rooms_jwt_strerror(int rc);


/*
 * Signs {"sub","iat","exp"[,"room"][,"scope"]} with the first key of
 * the set that can sign; the header is {"alg","kid","typ":"JWT"}.
 * scope and room may be NULL to omit them.  Returns a malloc()ed,
 * NUL-terminated token, or NULL if no key can sign, an argument is out
 * of the limits above (or is not UTF-8), or on failure.
 */
char *rooms_jwt_sign(const rooms_jwks_t *jwks, const char *sub, int64_t iat,
    int64_t exp, const char *scope, const char *room);


#endif /* _ROOMS_JWT_H_INCLUDED_ */
