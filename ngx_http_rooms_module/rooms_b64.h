
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Base64 (RFC 4648 section 4) and base64url (section 5, unpadded) codecs,
 * plus small crypto helpers shared by the HMAC and JWT code.
 * No nginx dependency: unit tests and fuzzers link this file directly.
 */


#ifndef _ROOMS_B64_H_INCLUDED_
#define _ROOMS_B64_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define rooms_b64_encoded_len(n)  ((((n) + 2) / 3) * 4)
#define rooms_b64_decoded_len(n)  ((((n) + 3) / 4) * 3)


/* standard alphabet, with '=' padding; returns the length written */
size_t rooms_b64_encode(char *dst, const unsigned char *src, size_t len);

/* base64url without padding; returns the length written */
size_t rooms_b64url_encode(char *dst, const unsigned char *src, size_t len);

/*
 * Strict decoders: reject characters outside the alphabet, bad padding
 * and non-zero trailing bits.  The url decoder refuses '=' altogether.
 * Return the decoded length, or -1 on error.  dst must hold
 * rooms_b64_decoded_len(len) bytes.
 */
long rooms_b64_decode(unsigned char *dst, const char *src, size_t len);
long rooms_b64url_decode(unsigned char *dst, const char *src, size_t len);

/* constant-time comparison: 0 when equal */
int rooms_ct_memcmp(const void *a, const void *b, size_t len);

/* SHA-256 of data, base64-encoded into out (44 chars + NUL) */
void rooms_sha256_b64(char out[45], const unsigned char *data, size_t len);


#endif /* _ROOMS_B64_H_INCLUDED_ */
