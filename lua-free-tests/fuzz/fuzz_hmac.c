
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: the Authorization header parser, the SignedHeaders
 * check, string-to-sign assembly, and HMAC sign/verify.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rooms_b64.h"
#include "rooms_hmac.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const unsigned char  key[] = "fuzz-access-key-0123456789abcdef";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                 sig[45], sts[512];
    size_t               n, cut[4], i;
    const char          *s, *end;
    rooms_hmac_header_t  h;

    s = (const char *) data;
    end = s + size;

    if (rooms_hmac_parse(s, size, &h) == 0) {
        if (h.signed_headers == NULL || h.signature == NULL
            || h.signed_headers_len == 0 || h.signature_len == 0
            || h.signed_headers < s || h.signature < s
            || h.signed_headers + h.signed_headers_len > end
            || h.signature + h.signature_len > end)
        {
            abort();
        }

        (void) rooms_hmac_signed_headers_ok(h.signed_headers,
                                            h.signed_headers_len);

        if (rooms_hmac_verify(key, sizeof(key) - 1, s, size, h.signature,
                              h.signature_len)
            == 0)
        {
            /* a forged HMAC from random bytes: impossible in practice */
            abort();
        }
    }

    (void) rooms_hmac_signed_headers_ok(s, size);
    (void) rooms_hmac_verify(key, sizeof(key) - 1, "sts", 3, s, size);

    /* what we sign we verify, with the input as key and message */

    rooms_hmac_sign(sig, data, size, s, size);

    if (strlen(sig) != ROOMS_HMAC_SIG_LEN
        || rooms_hmac_verify(data, size, s, size, sig, ROOMS_HMAC_SIG_LEN)
           != 0)
    {
        abort();
    }

    /* the input cut into the five string-to-sign parts */

    for (i = 0; i < 4; i++) {
        cut[i] = size ? data[i % size] % (size + 1) : 0;
    }

    for (i = 1; i < 4; i++) {
        if (cut[i] < cut[i - 1]) {
            cut[i] = cut[i - 1];
        }
    }

    n = rooms_hmac_string_to_sign(sts, sizeof(sts),
                                  s, cut[0],
                                  s + cut[0], cut[1] - cut[0],
                                  s + cut[1], cut[2] - cut[1],
                                  s + cut[2], cut[3] - cut[2],
                                  s + cut[3], size - cut[3]);

    if (n != size + 4) {
        abort();
    }

    if (n < sizeof(sts)) {
        if (sts[n] != '\0' || memcmp(sts, s, cut[0]) != 0
            || sts[cut[0]] != '\n')
        {
            abort();
        }
    }

    return 0;
}
