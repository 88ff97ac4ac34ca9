
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Unit tests of rooms_jwt.c.
 *
 *     test_jwt VECTORS.json C-SIGNED.json
 *
 * VECTORS.json comes from lua-free-tests/vectors/make-jwt-vectors.mjs
 * (jose and node:crypto: an implementation independent of ours): every
 * key set, token case and bad key set in it is checked here.  Tokens that
 * rooms_jwt_sign() makes are written to C-SIGNED.json, which
 * lua-free-tests/vectors/check-c-tokens.mjs verifies with Node.
 *
 * Prints "N passed, N failed" last; exits non-zero on any failure.
 */


#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rooms_jwt.h"


#define TEST_NOW     INT64_C(1700000000)
#define TEST_LEEWAY  30


typedef struct {
    const char    *name;
    rooms_jwks_t  *jwks;
} test_jwks_t;


static unsigned    passed;
static unsigned    failed;
static int         verbose;

static test_jwks_t  test_sets[64];
static size_t       test_nsets;


static void test_fail(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;


static void
test_fail(const char *fmt, ...)
{
    va_list  args;

    failed++;

    fprintf(stderr, "FAIL: ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");
}


#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
                                                                              \
        } else {                                                              \
            test_fail(__VA_ARGS__);                                           \
        }                                                                     \
    } while (0)


static const char *
test_str(json_t *obj, const char *name)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, name));

    return (s != NULL) ? s : "";
}


static rooms_jwks_t *
test_find_set(const char *name)
{
    size_t  i;

    for (i = 0; i < test_nsets; i++) {
        if (strcmp(test_sets[i].name, name) == 0) {
            return test_sets[i].jwks;
        }
    }

    return NULL;
}


/* key sets: each must load, with its keys in order */

static void
test_key_sets(json_t *vectors)
{
    char           err[256];
    size_t         i;
    json_t        *set, *v;
    const char    *name;
    rooms_jwks_t  *jwks;

    json_object_foreach(json_object_get(vectors, "jwks"), name, set) {
        jwks = rooms_jwks_parse(test_str(set, "json"),
                                strlen(test_str(set, "json")),
                                err, sizeof(err));

        CHECK(jwks != NULL, "key set %s: %s", name, err);

        if (jwks == NULL) {
            continue;
        }

        if (test_nsets == sizeof(test_sets) / sizeof(test_sets[0])) {
            test_fail("too many key sets");
            rooms_jwks_free(jwks);
            continue;
        }

        test_sets[test_nsets].name = name;
        test_sets[test_nsets].jwks = jwks;
        test_nsets++;

        CHECK((json_int_t) rooms_jwks_count(jwks)
              == json_integer_value(json_object_get(set, "count")),
              "key set %s: count %zu", name, rooms_jwks_count(jwks));

        CHECK(rooms_jwks_can_sign(jwks)
              == json_integer_value(json_object_get(set, "can_sign")),
              "key set %s: can_sign %d", name, rooms_jwks_can_sign(jwks));

        for (i = 0; i < rooms_jwks_count(jwks); i++) {
            v = json_array_get(json_object_get(set, "kids"), i);
            CHECK(v != NULL
                  && strcmp(rooms_jwks_kid(jwks, i), json_string_value(v))
                     == 0,
                  "key set %s: key %zu kid %s", name, i,
                  rooms_jwks_kid(jwks, i));

            v = json_array_get(json_object_get(set, "algs"), i);
            CHECK(v != NULL
                  && strcmp(rooms_jwks_alg(jwks, i), json_string_value(v))
                     == 0,
                  "key set %s: key %zu alg %s", name, i,
                  rooms_jwks_alg(jwks, i));
        }

        CHECK(rooms_jwks_kid(jwks, i) == NULL
              && rooms_jwks_alg(jwks, i) == NULL,
              "key set %s: key past the end", name);
    }
}


static void
test_claims(const char *name, json_t *want, const rooms_jwt_claims_t *c)
{
    json_t  *v;

    CHECK(strcmp(c->kid, test_str(want, "kid")) == 0,
          "%s: kid \"%s\"", name, c->kid);
    CHECK(strcmp(c->sub, test_str(want, "sub")) == 0,
          "%s: sub \"%s\"", name, c->sub);
    CHECK(c->exp == json_integer_value(json_object_get(want, "exp")),
          "%s: exp %" PRId64, name, c->exp);

    v = json_object_get(want, "iat");
    CHECK(c->has_iat == (v != NULL)
          && (v == NULL || c->iat == json_integer_value(v)),
          "%s: iat %d %" PRId64, name, c->has_iat, c->iat);

    v = json_object_get(want, "nbf");
    CHECK(c->has_nbf == (v != NULL)
          && (v == NULL || c->nbf == json_integer_value(v)),
          "%s: nbf %d %" PRId64, name, c->has_nbf, c->nbf);

    v = json_object_get(want, "room");
    CHECK(c->has_room == (v != NULL)
          && strcmp(c->room, v ? json_string_value(v) : "") == 0,
          "%s: room %d \"%s\"", name, c->has_room, c->room);

    v = json_object_get(want, "scope");
    CHECK(c->has_scope == (v != NULL)
          && strcmp(c->scope, v ? json_string_value(v) : "") == 0,
          "%s: scope %d \"%s\"", name, c->has_scope, c->scope);
}


static void
test_cases(json_t *vectors)
{
    int                  rc;
    size_t               i;
    json_t              *c, *want;
    const char          *name, *token, *expect;
    rooms_jwks_t        *jwks;
    rooms_jwt_claims_t   claims;

    json_array_foreach(json_object_get(vectors, "cases"), i, c) {
        name = test_str(c, "name");
        token = test_str(c, "token");
        expect = test_str(c, "expect");

        jwks = test_find_set(test_str(c, "jwks"));

        if (jwks == NULL) {
            test_fail("%s: no key set %s", name, test_str(c, "jwks"));
            continue;
        }

        rc = rooms_jwt_verify(jwks, token, strlen(token),
                 json_integer_value(json_object_get(c, "now")),
                 json_integer_value(json_object_get(c, "leeway")), &claims);

        CHECK(strcmp(rooms_jwt_strerror(rc), expect) == 0,
              "%s: got \"%s\" (%d), want \"%s\"",
              name, rooms_jwt_strerror(rc), rc, expect);

        if (verbose) {
            printf("  %-60.60s %s\n", name, rooms_jwt_strerror(rc));
        }

        want = json_object_get(c, "claims");

        if (want != NULL && strcmp(rooms_jwt_strerror(rc), expect) == 0) {
            test_claims(name, want, &claims);
        }

        /* the same without a claims buffer */
        CHECK(rooms_jwt_verify(jwks, token, strlen(token),
                  json_integer_value(json_object_get(c, "now")),
                  json_integer_value(json_object_get(c, "leeway")), NULL)
              == rc, "%s: NULL claims", name);
    }
}


static void
test_bad_jwks(json_t *vectors)
{
    char           err[512];
    size_t         i;
    json_t        *c;
    const char    *name, *text, *want;
    rooms_jwks_t  *jwks;

    json_array_foreach(json_object_get(vectors, "bad_jwks"), i, c) {
        name = test_str(c, "name");
        text = test_str(c, "json");
        want = test_str(c, "error");

        strcpy(err, "unset");
        jwks = rooms_jwks_parse(text, strlen(text), err, sizeof(err));

        CHECK(jwks == NULL && strstr(err, want) != NULL,
              "bad JWKS %s: got \"%s\", want \"%s\"",
              name, jwks ? "(accepted)" : err, want);

        if (verbose) {
            printf("  %-32.32s %s\n", name, err);
        }

        rooms_jwks_free(jwks);
    }
}


/* key set errors that need no key material */

static void
test_bad_jwks_inline(void)
{
    static const struct {
        const char  *json;
        const char  *error;
    } tests[] = {
        { "", "invalid JSON at line 1, column 0: '[' or '{' expected" },
        { "[]", "JWKS must be a JSON object with \"keys\"" },
        { "{}", "missing \"keys\"" },
        { "{\"keys\":{}}", "\"keys\" must be an array" },
        { "{\"keys\":[]}", "no keys" },
        { "{\"keys\":[]} x", "invalid JSON at line 1, column 13" },
        { "{\"keys\":[1]}", "key 1: not a JSON object" },
        { "{\"keys\":[{\"kty\":\"oct\"}]}", "key 1: missing \"kid\"" },
        { "{\"keys\":[{\"kid\":7}]}", "key 1: \"kid\" must be a string" },
        { "{\"keys\":[{\"kid\":\"\"}]}", "key 1: \"kid\" is empty" },
        { "{\"keys\":[{\"kid\":\"a\"}]}", "key 1 (\"a\"): missing \"kty\"" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":1}]}",
          "key 1 (\"a\"): \"kty\" must be a string" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"use\":1}]}",
          "key 1 (\"a\"): \"use\" must be a string" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"alg\":[]}]}",
          "key 1 (\"a\"): \"alg\" must be a string" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"k\":5}]}",
          "key 1 (\"a\"): \"k\" must be a string" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"k\":\"\"}]}",
          "key 1 (\"a\"): \"k\" is empty" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"k\":\"A\"}]}",
          "key 1 (\"a\"): bad base64url in \"k\"" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"k\":\"AB\"}]}",
          "key 1 (\"a\"): bad base64url in \"k\"" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\","
          "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
          "key 1 (\"a\"): oct key is 31 bytes, HS256 requires at least 32" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"EC\",\"crv\":7}]}",
          "key 1 (\"a\"): \"crv\" must be a string" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"OKP\"}]}",
          "key 1 (\"a\"): OKP key has no \"crv\"" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
          "key 1 (\"a\"): missing \"x\"" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"OKP\",\"crv\":\"Ed25519\","
          "\"x\":\"AAAA\"}]}",
          "key 1 (\"a\"): \"x\" must be 32 bytes, not 3" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAB\","
          "\"e\":\"AQAB\"}]}",
          "key 1 (\"a\"): RSA modulus is 17 bits, at least 2048 are "
          "required" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAB\","
          "\"e\":\"AQAB\",\"p\":\"AQAB\"}]}",
          "key 1 (\"a\"): RSA key has CRT parameters but no \"d\"" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\",\"k\":\"AQAB\"},"
          "{\"kid\":\"a\"}]}",
          "key 1 (\"a\"): oct key is 3 bytes" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\","
          "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
          "{\"kid\":\"a\"}]}",
          "key 2: duplicate kid \"a\" (also key 1)" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"oct\","
          "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
          "{\"kid\":\"b\",\"kty\":\"oct\",\"use\":\"enc\"}]}",
          "key 2 (\"b\"): \"use\" is \"enc\", only \"sig\" is supported" },
        { "{\"keys\":[{\"kid\":\"a\",\"kty\":\"dir\"}]}",
          "key 1 (\"a\"): unsupported \"kty\" \"dir\" (oct, RSA, EC and OKP "
          "are)" },
        { "{\"keys\":[{\"kid\":\"a\\u0000b\"}]}",
          "invalid JSON at line 1, column 26: \\u0000 is not allowed" },
        { "{\"keys\":[{\"kid\":\"a\"},\n{\"kid\":\"a\",\"kid\":\"b\"}]}",
          "invalid JSON at line 2, column 16: duplicate object key" },
        { "{\"keys\":[{\"kid\":\"\x80\"}]}",
          "invalid JSON at line 1, column 17: unable to decode byte 0x80" }
    };

    char           err[256], small[8];
    size_t         i;
    rooms_jwks_t  *jwks;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        strcpy(err, "unset");
        jwks = rooms_jwks_parse(tests[i].json, strlen(tests[i].json), err,
                                sizeof(err));

        CHECK(jwks == NULL && strstr(err, tests[i].error) != NULL,
              "inline bad JWKS %zu: got \"%s\", want \"%s\"",
              i, jwks ? "(accepted)" : err, tests[i].error);

        if (verbose) {
            printf("  %s\n", err);
        }

        rooms_jwks_free(jwks);

        /* no err buffer, and a truncating one */
        CHECK(rooms_jwks_parse(tests[i].json, strlen(tests[i].json), NULL, 0)
              == NULL, "inline bad JWKS %zu without err", i);

        memset(small, 'x', sizeof(small));
        CHECK(rooms_jwks_parse(tests[i].json, strlen(tests[i].json), small,
                               sizeof(small)) == NULL
              && strlen(small) < sizeof(small),
              "inline bad JWKS %zu with a small err", i);
    }

    CHECK(rooms_jwks_parse(NULL, 0, err, sizeof(err)) == NULL
          && strcmp(err, "no JWKS") == 0, "NULL JWKS: %s", err);

    /* 257 keys */
    {
        char    *doc, *p;
        size_t   n;

        doc = malloc(257 * 64 + 32);
        if (doc == NULL) {
            test_fail("out of memory");
            return;
        }

        p = doc + sprintf(doc, "{\"keys\":[");

        for (n = 0; n < 257; n++) {
            p += sprintf(p, "%s{\"kid\":\"%zu\"}", n ? "," : "", n);
        }

        strcpy(p, "]}");

        CHECK(rooms_jwks_parse(doc, strlen(doc), err, sizeof(err)) == NULL
              && strcmp(err, "too many keys (257, at most 256)") == 0,
              "257 keys: %s", err);

        free(doc);
    }
}


static void
test_strerror(void)
{
    static const char  *want[] = {
        "ok", "malformed token", "bad header", "unsupported alg",
        "alg none", "alg does not match key", "unknown kid",
        "bad signature", "expired", "not yet valid", "missing sub",
        "bad claims", "token too large", "internal error"
    };

    int  rc;

    for (rc = 0; rc >= ROOMS_JWT_ERR_INTERNAL; rc--) {
        CHECK(strcmp(rooms_jwt_strerror(rc), want[-rc]) == 0,
              "strerror(%d) = %s", rc, rooms_jwt_strerror(rc));
    }

    CHECK(strcmp(rooms_jwt_strerror(ROOMS_JWT_ERR_INTERNAL - 1),
                 "unknown error") == 0
          && strcmp(rooms_jwt_strerror(1), "unknown error") == 0
          && strcmp(rooms_jwt_strerror(-1000000), "unknown error") == 0
          && strcmp(rooms_jwt_strerror(INT_MIN), "unknown error") == 0
          && strcmp(rooms_jwt_strerror(INT_MAX), "unknown error") == 0,
          "strerror of unknown codes");
}


/* signing: round trips here, and tokens for check-c-tokens.mjs */

static void
test_sign(json_t *vectors, const char *outfile)
{
    static const struct {
        const char  *sub;
        int64_t      iat;
        int64_t      exp;
        const char  *scope;
        const char  *room;
    } claims[] = {
        { "alice", TEST_NOW - 5, TEST_NOW + 3600, "chat voip", "room-1" },
        { "zo\xc3\xab \"quoted\" \\ / \xe2\x9c\x93", TEST_NOW, TEST_NOW + 60,
          NULL, NULL },
        { NULL, 0, ROOMS_JWT_TIME_MAX, "", NULL },
        { "8:acs:1f2e3d4c-0000-4000-8000-00000000cafe_0000001a-b2c3",
          TEST_NOW, TEST_NOW + 1, "rooms.join", "99199690362660524" }
    };

    int                  rc;
    char                 sub[ROOMS_JWT_SUB_MAX + 1];
    char                 room[ROOMS_JWT_ROOM_MAX + 1];
    char                *token;
    size_t               i, j;
    json_t              *set, *out, *tokens, *t;
    const char          *name, *s;
    rooms_jwks_t        *jwks;
    rooms_jwt_claims_t   c;

    memset(sub, 'x', ROOMS_JWT_SUB_MAX);
    sub[ROOMS_JWT_SUB_MAX] = '\0';
    memset(room, 'r', ROOMS_JWT_ROOM_MAX);
    room[ROOMS_JWT_ROOM_MAX] = '\0';

    tokens = json_array();
    out = json_pack("{s:I, s:o}", "now", (json_int_t) TEST_NOW,
                    "tokens", tokens);

    json_array_foreach(json_object_get(vectors, "sign_sets"), i, set) {
        name = test_str(set, "name");
        jwks = test_find_set(test_str(set, "jwks"));

        if (jwks == NULL) {
            test_fail("sign set %s: no key set", name);
            continue;
        }

        CHECK(rooms_jwks_can_sign(jwks), "sign set %s: cannot sign", name);

        for (j = 0; j < sizeof(claims) / sizeof(claims[0]); j++) {
            s = (claims[j].sub != NULL) ? claims[j].sub : sub;

            token = rooms_jwt_sign(jwks, s, claims[j].iat, claims[j].exp,
                                   claims[j].scope,
                                   (j == 2) ? room : claims[j].room);

            CHECK(token != NULL, "sign set %s: claims %zu: no token",
                  name, j);

            if (token == NULL) {
                continue;
            }

            rc = rooms_jwt_verify(jwks, token, strlen(token), TEST_NOW,
                                  TEST_LEEWAY, &c);

            CHECK(rc == ROOMS_JWT_OK
                  && strcmp(c.kid, test_str(set, "kid")) == 0
                  && strcmp(c.sub, s) == 0
                  && c.has_iat && c.iat == claims[j].iat
                  && c.exp == claims[j].exp && !c.has_nbf
                  && c.has_scope == (claims[j].scope != NULL)
                  && c.has_room == (j == 2 || claims[j].room != NULL),
                  "sign set %s: claims %zu: round trip: %s, kid %s",
                  name, j, rooms_jwt_strerror(rc), c.kid);

            /* any change to the signed bytes is caught */
            token[10] ^= 0x01;
            rc = rooms_jwt_verify(jwks, token, strlen(token), TEST_NOW,
                                  TEST_LEEWAY, NULL);
            token[10] ^= 0x01;

            CHECK(rc != ROOMS_JWT_OK, "sign set %s: claims %zu: flipped "
                  "header bit verifies", name, j);

            t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
                          "set", name,
                          "alg", test_str(set, "alg"),
                          "kid", test_str(set, "kid"),
                          "token", token,
                          "sub", s,
                          "iat", (json_int_t) claims[j].iat,
                          "exp", (json_int_t) claims[j].exp);

            if (t == NULL) {
                test_fail("json_pack");
                free(token);
                continue;
            }

            json_object_set_new(t, "scope", claims[j].scope
                                ? json_string(claims[j].scope) : json_null());
            json_object_set_new(t, "room", (j == 2) ? json_string(room)
                                : claims[j].room ? json_string(claims[j].room)
                                : json_null());
            json_array_append_new(tokens, t);

            free(token);
        }
    }

    CHECK(json_array_size(tokens) >= 4 * 4,
          "only %zu signed tokens", json_array_size(tokens));

    CHECK(json_dump_file(out, outfile, JSON_INDENT(1)) == 0,
          "cannot write %s", outfile);

    json_decref(out);
}


static void
test_sign_args(void)
{
    char           big[ROOMS_JWT_SCOPE_MAX + 2];
    char          *token;
    rooms_jwks_t  *hs, *pub;

    static const char  hs_json[] =
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\","
        "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}";

    hs = rooms_jwks_parse(hs_json, sizeof(hs_json) - 1, NULL, 0);
    pub = test_find_set("public");

    if (hs == NULL || pub == NULL) {
        test_fail("sign args: no key sets");
        rooms_jwks_free(hs);
        return;
    }

    token = rooms_jwt_sign(hs, "a", 0, 1, NULL, NULL);
    CHECK(token != NULL, "sign args: minimal token");
    free(token);

    CHECK(rooms_jwt_sign(pub, "a", 0, 1, NULL, NULL) == NULL,
          "sign args: public-only set signs");
    CHECK(rooms_jwt_sign(NULL, "a", 0, 1, NULL, NULL) == NULL,
          "sign args: NULL set");
    CHECK(rooms_jwt_sign(hs, NULL, 0, 1, NULL, NULL) == NULL,
          "sign args: NULL sub");
    CHECK(rooms_jwt_sign(hs, "", 0, 1, NULL, NULL) == NULL,
          "sign args: empty sub");
    CHECK(rooms_jwt_sign(hs, "a\nb", 0, 1, NULL, NULL) == NULL,
          "sign args: sub with a newline");
    CHECK(rooms_jwt_sign(hs, "\xff", 0, 1, NULL, NULL) == NULL,
          "sign args: sub not UTF-8");
    CHECK(rooms_jwt_sign(hs, "a", -1, 1, NULL, NULL) == NULL,
          "sign args: negative iat");
    CHECK(rooms_jwt_sign(hs, "a", 0, ROOMS_JWT_TIME_MAX + 1, NULL, NULL)
          == NULL, "sign args: exp after year 9999");
    CHECK(rooms_jwt_sign(hs, "a", 0, INT64_MIN, NULL, NULL) == NULL,
          "sign args: exp INT64_MIN");
    CHECK(rooms_jwt_sign(hs, "a", 0, 1, NULL, "") == NULL,
          "sign args: empty room");
    CHECK(rooms_jwt_sign(hs, "a", 0, 1, "\xc3", NULL) == NULL,
          "sign args: scope not UTF-8");

    memset(big, 's', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    CHECK(rooms_jwt_sign(hs, big, 0, 1, NULL, NULL) == NULL,
          "sign args: sub of 257 bytes");
    CHECK(rooms_jwt_sign(hs, "a", 0, 1, big, NULL) == NULL,
          "sign args: scope of 257 bytes");

    big[ROOMS_JWT_ROOM_MAX + 1] = '\0';
    CHECK(rooms_jwt_sign(hs, "a", 0, 1, NULL, big) == NULL,
          "sign args: room of 65 bytes");

    big[ROOMS_JWT_ROOM_MAX] = '\0';
    token = rooms_jwt_sign(hs, "a", 0, 1, NULL, big);
    CHECK(token != NULL, "sign args: room of 64 bytes");
    free(token);

    rooms_jwks_free(hs);
}


/* clock arithmetic at the extremes */

static void
test_clock(void)
{
    char                *token;
    rooms_jwks_t        *jwks;
    rooms_jwt_claims_t   c;

    static const char  hs_json[] =
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\","
        "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}";

    jwks = rooms_jwks_parse(hs_json, sizeof(hs_json) - 1, NULL, 0);
    token = rooms_jwt_sign(jwks, "a", 100, 1000, NULL, NULL);

    if (token == NULL) {
        test_fail("clock: no token");
        rooms_jwks_free(jwks);
        return;
    }

#define VERIFY(now, leeway)                                                   \
    rooms_jwt_verify(jwks, token, strlen(token), now, leeway, &c)

    CHECK(VERIFY(999, 0) == ROOMS_JWT_OK, "clock: 999");
    CHECK(VERIFY(1000, 0) == ROOMS_JWT_ERR_EXPIRED, "clock: 1000");
    CHECK(VERIFY(1000, 1) == ROOMS_JWT_OK, "clock: 1000 + 1");
    CHECK(VERIFY(1000, -5) == ROOMS_JWT_ERR_EXPIRED, "clock: leeway < 0");
    CHECK(VERIFY(INT64_MAX, INT64_MAX) == ROOMS_JWT_ERR_EXPIRED,
          "clock: INT64_MAX");
    CHECK(VERIFY(INT64_MIN, INT64_MAX) == ROOMS_JWT_OK, "clock: INT64_MIN");
    CHECK(VERIFY(INT64_MIN, INT64_MIN) == ROOMS_JWT_OK,
          "clock: INT64_MIN, INT64_MIN");
    CHECK(VERIFY(0, INT64_MAX) == ROOMS_JWT_OK, "clock: huge leeway");
    CHECK(VERIFY(ROOMS_JWT_TIME_MAX + 999, INT64_MAX) == ROOMS_JWT_OK,
          "clock: leeway clamped to the year 9999");
    CHECK(VERIFY(ROOMS_JWT_TIME_MAX + 1000, INT64_MAX)
          == ROOMS_JWT_ERR_EXPIRED, "clock: leeway clamped, expired");

#undef VERIFY

    CHECK(rooms_jwt_verify(NULL, token, strlen(token), 0, 0, &c)
          == ROOMS_JWT_ERR_MALFORMED, "NULL key set");
    CHECK(rooms_jwt_verify(jwks, NULL, 0, 0, 0, &c)
          == ROOMS_JWT_ERR_MALFORMED, "NULL token");
    CHECK(rooms_jwt_verify(jwks, token, 0, 0, 0, &c)
          == ROOMS_JWT_ERR_MALFORMED, "empty token");

    /* the length counts, not a NUL */
    CHECK(rooms_jwt_verify(jwks, token, strlen(token) - 1, 0, 0, &c)
          != ROOMS_JWT_OK, "token one byte short");

    free(token);
    rooms_jwks_free(jwks);
}


int
main(int argc, char **argv)
{
    size_t        i;
    json_t       *vectors;
    json_error_t  jerr;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        argc--;
        argv++;
    }

    if (argc != 3) {
        fprintf(stderr, "usage: test_jwt [-v] VECTORS.json C-SIGNED.json\n");
        return 2;
    }

    vectors = json_load_file(argv[1], 0, &jerr);

    if (vectors == NULL) {
        fprintf(stderr, "test_jwt: %s: line %d: %s\n"
                "test_jwt: make the vectors with "
                "lua-free-tests/vectors/make-jwt-vectors.mjs\n",
                argv[1], jerr.line, jerr.text);
        return 2;
    }

    CHECK(json_array_size(json_object_get(vectors, "cases")) > 400,
          "too few cases in %s", argv[1]);

    test_key_sets(vectors);
    test_cases(vectors);
    test_bad_jwks(vectors);
    test_bad_jwks_inline();
    test_strerror();
    test_sign(vectors, argv[2]);
    test_sign_args();
    test_clock();

    printf("test_jwt: %zu cases, %zu bad key sets, %zu key sets\n",
           json_array_size(json_object_get(vectors, "cases")),
           json_array_size(json_object_get(vectors, "bad_jwks")),
           test_nsets);

    for (i = 0; i < test_nsets; i++) {
        rooms_jwks_free(test_sets[i].jwks);
    }

    json_decref(vectors);

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
