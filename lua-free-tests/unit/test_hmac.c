
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The request vector was produced by the real JS SDK policy
 * (@azure/communication-common 2.4.2, lua-free-tests/sdk):
 *
 *   createCommunicationAccessKeyCredentialPolicy({ key }).sendRequest()
 *   key = base64("rooms-unit-test-access-key-0123456789abcdef")
 *   PATCH https://contoso.communication.azure.com:8443/rooms/
 *         99117812428622880/participants?api-version=2024-04-15
 *   body {"participants":{"8:acs:1_2":{"role":"Presenter"}}}
 *
 * and cross-checked with
 *
 *   printf 'PATCH\n/rooms/...?api-version=2024-04-15\n<date>;<host>;<hash>' \
 *     | openssl dgst -sha256 -hmac 'rooms-unit-test-access-key-...' \
 *       -binary | base64
 *
 * The other vectors: RFC 4231 test case 2 (key "Jefe"), and
 *   printf '' | openssl dgst -sha256 -mac HMAC -macopt hexkey:00 -binary
 *   printf 'GET\n/rooms?api-version=2025-03-13\nSat, 28 Nov 2026 20:36:07 \
 *     GMT;localhost;47DEQ...' | openssl dgst -sha256 -mac HMAC \
 *     -macopt hexkey:000102...1f -binary | base64
 */


#include <string.h>

#include "check.h"
#include "rooms_b64.h"
#include "rooms_hmac.h"


#define SDK_KEY_B64                                                          \
    "cm9vbXMtdW5pdC10ZXN0LWFjY2Vzcy1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
#define SDK_KEY        "rooms-unit-test-access-key-0123456789abcdef"
#define SDK_PATH                                                             \
    "/rooms/99117812428622880/participants?api-version=2024-04-15"
#define SDK_DATE       "Sat, 28 Nov 2026 20:43:20 GMT"
#define SDK_HOST       "contoso.communication.azure.com:8443"
#define SDK_BODY                                                             \
    "{\"participants\":{\"8:acs:1_2\":{\"role\":\"Presenter\"}}}"
#define SDK_HASH       "NW5ENRSZS7UjM2l/HQJyYjvyiVBDip9N5AmLmKhXeW4="
#define SDK_SIG        "n7GNXPk5esK0SSjLtw7sJUFgCwUt5OLsAHdFJzRf8zg="
#define SDK_AUTH                                                             \
    "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"           \
    "&Signature=" SDK_SIG
#define SDK_STS                                                              \
    "PATCH\n" SDK_PATH "\n" SDK_DATE ";" SDK_HOST ";" SDK_HASH


static int
parse_ok(const char *v)
{
    rooms_hmac_header_t  h;

    return rooms_hmac_parse(v, strlen(v), &h) == 0;
}


static int
sh_ok(const char *s)
{
    return rooms_hmac_signed_headers_ok(s, strlen(s));
}


static void
test_parse(void)
{
    rooms_hmac_header_t  h;
    const char          *v;

    v = SDK_AUTH;

    CHECK_INT(rooms_hmac_parse(v, strlen(v), &h), 0);
    CHECK_INT(h.signed_headers_len, strlen(ROOMS_HMAC_SIGNED_HEADERS));
    CHECK(memcmp(h.signed_headers, ROOMS_HMAC_SIGNED_HEADERS,
                 h.signed_headers_len) == 0);
    CHECK(h.signed_headers == v + strlen("HMAC-SHA256 SignedHeaders="));
    CHECK_INT(h.signature_len, 44);
    CHECK(memcmp(h.signature, SDK_SIG, 44) == 0);
    CHECK(h.signature + h.signature_len == v + strlen(v));

    /* either order, scheme in any case, several blanks */

    v = "HMAC-SHA256 Signature=" SDK_SIG
        "&SignedHeaders=x-ms-date;host;x-ms-content-sha256";

    CHECK_INT(rooms_hmac_parse(v, strlen(v), &h), 0);
    CHECK_INT(h.signature_len, 44);
    CHECK(memcmp(h.signature, SDK_SIG, 44) == 0);
    CHECK_INT(h.signed_headers_len, strlen(ROOMS_HMAC_SIGNED_HEADERS));

    CHECK(parse_ok("hmac-sha256 SignedHeaders=a&Signature=b"));
    CHECK(parse_ok("Hmac-Sha256 SignedHeaders=a&Signature=b"));
    CHECK(parse_ok("HMAC-SHA256  \t SignedHeaders=a&Signature=b"));
    CHECK(parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b=="));

    /* a len shorter than the string */

    CHECK_INT(rooms_hmac_parse(SDK_AUTH, strlen(SDK_AUTH) - 1, &h), 0);
    CHECK_INT(h.signature_len, 43);

    /* wrong scheme or separator */

    CHECK(!parse_ok(""));
    CHECK(!parse_ok("HMAC-SHA256"));
    CHECK(!parse_ok("HMAC-SHA256 "));
    CHECK(!parse_ok("HMAC-SHA256SignedHeaders=a&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA25 SignedHeaders=a&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA512 SignedHeaders=a&Signature=b"));
    CHECK(!parse_ok("Bearer SignedHeaders=a&Signature=b"));
    CHECK(!parse_ok("Basic dXNlcjpwYXNz"));
    CHECK(!parse_ok(" HMAC-SHA256 SignedHeaders=a&Signature=b"));

    /* missing, empty, repeated or unknown parameters */

    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a"));
    CHECK(!parse_ok("HMAC-SHA256 Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature="));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&SignedHeaders=a"
                    "&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b&Extra=c"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b&"));
    CHECK(!parse_ok("HMAC-SHA256 &SignedHeaders=a&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 signedheaders=a&signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a, Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders = a&Signature = b"));

    /* characters */

    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b "));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b c"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b-c"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b_c"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a b&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a:b&Signature=b"));
    CHECK(!parse_ok("HMAC-SHA256 SignedHeaders=a&Signature=b\r\n"));
    CHECK(rooms_hmac_parse("HMAC-SHA256 SignedHeaders=a&Signature=b\0", 40,
                           &h) == -1);
    CHECK(rooms_hmac_parse("HMAC-SHA256 SignedHeaders=a\0&Signature=b", 40,
                           &h) == -1);
}


static void
test_signed_headers(void)
{
    CHECK(sh_ok("x-ms-date;host;x-ms-content-sha256"));
    CHECK(sh_ok("X-MS-Date;Host;X-MS-Content-SHA256"));

    CHECK(!sh_ok(""));
    CHECK(!sh_ok("host;x-ms-date;x-ms-content-sha256"));
    CHECK(!sh_ok("date;host;x-ms-content-sha256"));
    CHECK(!sh_ok("x-ms-date;host"));
    CHECK(!sh_ok("x-ms-date;host;x-ms-content-sha256;"));
    CHECK(!sh_ok("x-ms-date;host;x-ms-content-sha256;content-type"));
    CHECK(!sh_ok("x-ms-date; host; x-ms-content-sha256"));
    CHECK(rooms_hmac_signed_headers_ok("x-ms-date;host;x-ms-content-sha256",
                                       33) == 0);
}


static void
test_string_to_sign(void)
{
    char    buf[256];
    size_t  n, expect;

    expect = strlen(SDK_STS);

    memset(buf, 'x', sizeof(buf));

    n = rooms_hmac_string_to_sign(buf, sizeof(buf),
                                  "PATCH", 5,
                                  SDK_PATH, strlen(SDK_PATH),
                                  SDK_DATE, strlen(SDK_DATE),
                                  SDK_HOST, strlen(SDK_HOST),
                                  SDK_HASH, strlen(SDK_HASH));
    CHECK_INT(n, expect);
    CHECK_STR(buf, SDK_STS);

    /* too small: nothing written; exactly n + 1: written */

    memset(buf, 'x', sizeof(buf));

    n = rooms_hmac_string_to_sign(buf, expect,
                                  "PATCH", 5,
                                  SDK_PATH, strlen(SDK_PATH),
                                  SDK_DATE, strlen(SDK_DATE),
                                  SDK_HOST, strlen(SDK_HOST),
                                  SDK_HASH, strlen(SDK_HASH));
    CHECK_INT(n, expect);
    CHECK(buf[0] == 'x' && buf[expect - 1] == 'x');

    n = rooms_hmac_string_to_sign(NULL, 0, "GET", 3, "/", 1, "d", 1, "h", 1,
                                  "c", 1);
    CHECK_INT(n, strlen("GET\n/\nd;h;c"));

    n = rooms_hmac_string_to_sign(buf, expect + 1,
                                  "PATCH", 5,
                                  SDK_PATH, strlen(SDK_PATH),
                                  SDK_DATE, strlen(SDK_DATE),
                                  SDK_HOST, strlen(SDK_HOST),
                                  SDK_HASH, strlen(SDK_HASH));
    CHECK_INT(n, expect);
    CHECK_STR(buf, SDK_STS);

    n = rooms_hmac_string_to_sign(buf, sizeof(buf), "", 0, "", 0, "", 0,
                                  "", 0, "", 0);
    CHECK_INT(n, 4);
    CHECK_STR(buf, "\n\n;;");
}


static void
test_sign_verify(void)
{
    int             i;
    long            klen;
    char            sig[45];
    unsigned char   key[64], key32[32];
    const char     *sts;

    /* the SDK's key is base64 of the secret; the HMAC key is decoded */

    klen = rooms_b64_decode(key, SDK_KEY_B64, strlen(SDK_KEY_B64));
    CHECK_INT(klen, strlen(SDK_KEY));
    CHECK(memcmp(key, SDK_KEY, strlen(SDK_KEY)) == 0);

    rooms_sha256_b64(sig, (const unsigned char *) SDK_BODY,
                     strlen(SDK_BODY));
    CHECK_STR(sig, SDK_HASH);

    sts = SDK_STS;

    rooms_hmac_sign(sig, key, (size_t) klen, sts, strlen(sts));
    CHECK_STR(sig, SDK_SIG);

    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                SDK_SIG, 44), 0);

    /* any change breaks it */

    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts) - 1,
                                SDK_SIG, 44), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen - 1, sts, strlen(sts),
                                SDK_SIG, 44), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                "n7GNXPk5esK0SSjLtw7sJUFgCwUt5OLsAHdFJzRf8zh=",
                                44), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                "o7GNXPk5esK0SSjLtw7sJUFgCwUt5OLsAHdFJzRf8zg=",
                                44), -1);

    /* malformed signatures */

    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                SDK_SIG, 43), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                SDK_SIG "=", 45), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                "", 0), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                "n7GNXPk5esK0SSjLtw7sJUFgCwUt5OLsAHdFJzRf8z==",
                                44), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                "n7GNXPk5esK0SSjLtw7sJUFgCwUt5OLsAHdFJzRf8z-=",
                                44), -1);
    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, strlen(sts),
                                "n7GNXPk5esK0SSjLtw7sJUFgCwUt5OLsAHdFJzRf8zg",
                                44), -1);

    /* RFC 4231 test case 2 */

    rooms_hmac_sign(sig, (const unsigned char *) "Jefe", 4,
                    "what do ya want for nothing?", 28);
    CHECK_STR(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    CHECK_INT(rooms_hmac_verify((const unsigned char *) "Jefe", 4,
                                "what do ya want for nothing?", 28,
                                "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
                                44), 0);

    /* empty key and message */

    rooms_hmac_sign(sig, NULL, 0, NULL, 0);
    CHECK_STR(sig, "thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0=");
    rooms_hmac_sign(sig, (const unsigned char *) "", 0, "", 0);
    CHECK_STR(sig, "thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0=");

    /* a binary 32-byte key */

    for (i = 0; i < 32; i++) {
        key32[i] = (unsigned char) i;
    }

    sts = "GET\n/rooms?api-version=2025-03-13\n"
          "Sat, 28 Nov 2026 20:36:07 GMT;localhost;"
          "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    rooms_hmac_sign(sig, key32, 32, sts, strlen(sts));
    CHECK_STR(sig, "Z17dNe8H4Pn+rBj9nLOZ8VftV0j91UqhDkEyFnXeYQc=");
}


/* what the module does with an incoming request */

static void
test_end_to_end(void)
{
    long                 klen;
    char                 sts[512], hash[45];
    size_t               n;
    unsigned char        key[64];
    rooms_hmac_header_t  h;

    CHECK_INT(rooms_hmac_parse(SDK_AUTH, strlen(SDK_AUTH), &h), 0);
    CHECK(rooms_hmac_signed_headers_ok(h.signed_headers,
                                       h.signed_headers_len));

    rooms_sha256_b64(hash, (const unsigned char *) SDK_BODY,
                     strlen(SDK_BODY));

    n = rooms_hmac_string_to_sign(sts, sizeof(sts), "PATCH", 5,
                                  SDK_PATH, strlen(SDK_PATH),
                                  SDK_DATE, strlen(SDK_DATE),
                                  SDK_HOST, strlen(SDK_HOST),
                                  hash, strlen(hash));
    CHECK(n < sizeof(sts));

    klen = rooms_b64_decode(key, SDK_KEY_B64, strlen(SDK_KEY_B64));
    CHECK(klen > 0);

    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, n, h.signature,
                                h.signature_len), 0);

    /* the same request to another host fails */

    n = rooms_hmac_string_to_sign(sts, sizeof(sts), "PATCH", 5,
                                  SDK_PATH, strlen(SDK_PATH),
                                  SDK_DATE, strlen(SDK_DATE),
                                  "contoso.communication.azure.com", 31,
                                  hash, strlen(hash));

    CHECK_INT(rooms_hmac_verify(key, (size_t) klen, sts, n, h.signature,
                                h.signature_len), -1);
}


int
main(void)
{
    test_parse();
    test_signed_headers();
    test_string_to_sign();
    test_sign_verify();
    test_end_to_end();

    CHECK_DONE("test_hmac");
}
