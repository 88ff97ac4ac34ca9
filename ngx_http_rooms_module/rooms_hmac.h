
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * ACS HMAC-SHA256 request authentication:
 *
 *     Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;
 *                    x-ms-content-sha256&Signature=<base64>
 *
 * where the signature is HMAC-SHA256, keyed with the base64-DECODED
 * access key, over "VERB\npath?query\ndate;host;contenthash".
 * No nginx dependency: unit tests and fuzzers link this file directly.
 */


#ifndef _ROOMS_HMAC_H_INCLUDED_
#define _ROOMS_HMAC_H_INCLUDED_


#include <stddef.h>


#define ROOMS_HMAC_SIGNED_HEADERS  "x-ms-date;host;x-ms-content-sha256"

/* base64 of a SHA-256 digest, without NUL */
#define ROOMS_HMAC_SIG_LEN         44


typedef struct {
    const char  *signed_headers;
    size_t       signed_headers_len;
    const char  *signature;
    size_t       signature_len;
} rooms_hmac_header_t;


/*
 * Parses an Authorization header value.  The scheme "HMAC-SHA256" is
 * matched case-insensitively and followed by one or more spaces or tabs;
 * then exactly the two parameters "SignedHeaders=" and "Signature="
 * (case-sensitive names, either order, joined by '&'), each exactly once
 * and non-empty.  SignedHeaders may hold header-name characters and ';',
 * Signature only base64 characters.  Anything else, including trailing
 * bytes, is rejected.  On success out points into value.  Returns 0 or
 * -1.
 */
int rooms_hmac_parse(const char *value, size_t len, rooms_hmac_header_t *out);

/*
 * Returns 1 when the SignedHeaders list is "x-ms-date;host;
 * x-ms-content-sha256" (compared case-insensitively), the only list ACS
 * accepts, else 0.
 */
int rooms_hmac_signed_headers_ok(const char *s, size_t len);

/*
 * Builds "method\npath_and_query\ndate;host;content_hash".  Returns the
 * length of that string (without NUL); buf is written, NUL-terminated,
 * only when size is greater than that length.
 */
size_t rooms_hmac_string_to_sign(char *buf, size_t size,
    const char *method, size_t method_len,
    const char *path_and_query, size_t path_and_query_len,
    const char *date, size_t date_len,
    const char *host, size_t host_len,
    const char *content_hash, size_t content_hash_len);

/*
 * Checks a base64 signature against HMAC-SHA256(key, sts) in constant
 * time.  Returns 0 when valid, -1 otherwise (including malformed base64
 * or a wrong length).
 */
int rooms_hmac_verify(const unsigned char *key, size_t keylen,
    const char *sts, size_t stslen, const char *sig_b64, size_t siglen);

/* out = base64(HMAC-SHA256(key, sts)), NUL-terminated */
void rooms_hmac_sign(char out[45], const unsigned char *key, size_t keylen,
    const char *sts, size_t len);


#endif /* _ROOMS_HMAC_H_INCLUDED_ */
