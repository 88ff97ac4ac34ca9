
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rooms_mask.h"


static const rooms_mask_name_t  token_names[] = {
    { "access_token", 12 },
    { "t", 1 }
};


/* the masked line, as a string (static), and the count of masked values */

static const char *
mask(const char *line, size_t n, size_t *count)
{
    static char  out[8192];
    size_t       len, len2, masked;

    len = rooms_mask_line(NULL, line, strlen(line), token_names, n, &masked);

    if (len >= sizeof(out)) {
        return "(too long)";
    }

    memset(out, 'Z', sizeof(out));

    len2 = rooms_mask_line(out, line, strlen(line), token_names, n, NULL);

    if (len2 != len || out[len] != 'Z') {
        return "(measured and written lengths differ)";
    }

    out[len] = '\0';

    if (count != NULL) {
        *count = masked;
    }

    return out;
}


static void
test_mask(void)
{
    size_t  n;

    CHECK_STR(mask("GET /media/1?access_token=abc.def.ghi HTTP/1.1", 1, &n),
              "GET /media/1?access_token=*** HTTP/1.1");
    CHECK_INT(n, 1);

    /* one and two bytes grow to three */

    CHECK_STR(mask("GET /m?access_token=a HTTP/1.1", 1, &n),
              "GET /m?access_token=*** HTTP/1.1");
    CHECK_STR(mask("GET /m?access_token=ab&x=1 HTTP/1.1", 1, &n),
              "GET /m?access_token=***&x=1 HTTP/1.1");

    /* every one: repeated, after an empty one, another case, not a prefix */

    CHECK_STR(mask("GET /m?access_token=a&access_token=bb HTTP/1.1", 1, &n),
              "GET /m?access_token=***&access_token=*** HTTP/1.1");
    CHECK_INT(n, 2);
    CHECK_STR(mask("GET /m?access_token=&access_token=xyz HTTP/1.1", 1, &n),
              "GET /m?access_token=&access_token=*** HTTP/1.1");
    CHECK_INT(n, 1);
    CHECK_STR(mask("GET /m?ACCESS_Token=xyz HTTP/1.1", 1, NULL),
              "GET /m?ACCESS_Token=*** HTTP/1.1");
    CHECK_STR(mask("GET /m?my_access_token=xyz&access_tokens=x HTTP/1.1", 1,
                   &n),
              "GET /m?my_access_token=xyz&access_tokens=x HTTP/1.1");
    CHECK_INT(n, 0);
    CHECK_STR(mask("GET /m?access_token HTTP/1.1", 1, &n),
              "GET /m?access_token HTTP/1.1");
    CHECK_INT(n, 0);

    /* the value runs to '&' or to the end of the target, '=' included */

    CHECK_STR(mask("GET /m?a=1&access_token=x=y;z#w&b=2 HTTP/1.1", 1, NULL),
              "GET /m?a=1&access_token=***&b=2 HTTP/1.1");

    /* only in the query: not in the path, not in the version */

    CHECK_STR(mask("GET /m/&access_token=xyz/?q=1 HTTP/1.1", 1, &n),
              "GET /m/&access_token=xyz/?q=1 HTTP/1.1");
    CHECK_INT(n, 0);
    CHECK_STR(mask("GET /m?q=?&access_token=xyz HTTP/1.1", 1, NULL),
              "GET /m?q=?&access_token=*** HTTP/1.1");

    /* spaces before the version and after it are not the value's */

    CHECK_STR(mask("GET /m?access_token=abc  HTTP/1.1", 1, NULL),
              "GET /m?access_token=***  HTTP/1.1");
    CHECK_STR(mask("GET /m?access_token=abc HTTP/1.1 ", 1, NULL),
              "GET /m?access_token=*** HTTP/1.1 ");
    CHECK_STR(mask("GET /m?access_token=abc   HTTP/1.1   ", 1, NULL),
              "GET /m?access_token=***   HTTP/1.1   ");
    CHECK_STR(mask("GET /m?access_token=abc ", 1, NULL),
              "GET /m?access_token=*** ");

    /* HTTP/0.9 (no version), spaces in the target, absolute URIs */

    CHECK_STR(mask("GET /m?access_token=xyz", 1, NULL),
              "GET /m?access_token=***");
    CHECK_STR(mask("GET /a b?access_token=x y HTTP/1.0", 1, NULL),
              "GET /a b?access_token=*** HTTP/1.0");
    CHECK_STR(mask("GET http://h/m?access_token=xyz HTTP/1.1", 1, NULL),
              "GET http://h/m?access_token=*** HTTP/1.1");

    /* a second name */

    CHECK_STR(mask("GET /m?t=xyz&tt=1&access_token=q HTTP/1.1", 2, &n),
              "GET /m?t=***&tt=1&access_token=*** HTTP/1.1");
    CHECK_INT(n, 2);
    CHECK_STR(mask("GET /m?t=xyz HTTP/1.1", 1, NULL),
              "GET /m?t=xyz HTTP/1.1");

    /* not a request line, or nothing to do */

    CHECK_STR(mask("", 1, &n), "");
    CHECK_INT(n, 0);
    CHECK_STR(mask("GET", 1, NULL), "GET");
    CHECK_STR(mask("GET ", 1, NULL), "GET ");
    CHECK_STR(mask("GET ?", 1, NULL), "GET ?");
    CHECK_STR(mask("GET ?access_token=", 1, NULL), "GET ?access_token=");
    CHECK_STR(mask("GET ?access_token=& HTTP/1.1", 1, NULL),
              "GET ?access_token=& HTTP/1.1");
    CHECK_STR(mask("GET /m HTTP/1.1", 1, NULL), "GET /m HTTP/1.1");
    CHECK_STR(mask("GET /?access_token=x HTTP/", 1, NULL),
              "GET /?access_token=*** HTTP/");
}


/* the query without its token arguments, as rooms_token_forward off has it */

static const char *
strip(const char *args, size_t *count)
{
    static char  out[1024];
    size_t       len;

    memset(out, 'Z', sizeof(out));
    len = rooms_mask_strip(out, args, strlen(args), token_names, 2, count);

    if (len > strlen(args) || out[len] != 'Z') {
        return "(wrote past what it returned)";
    }

    out[len] = '\0';

    return out;
}


static void
test_strip(void)
{
    size_t  n;

    CHECK_STR(strip("room=1&access_token=abc&x=2", &n), "room=1&x=2");
    CHECK_INT(n, 1);
    CHECK_STR(strip("access_token=abc", &n), "");
    CHECK_INT(n, 1);
    CHECK_STR(strip("ACCESS_TOKEN=a&t=b&t2=c&access_token=", &n), "t2=c");
    CHECK_INT(n, 3);
    CHECK_STR(strip("access_token&access_tokens=x&y", &n),
              "access_token&access_tokens=x&y");
    CHECK_INT(n, 0);
    CHECK_STR(strip("", &n), "");
    CHECK_INT(n, 0);
    CHECK_STR(strip("a=1&&t=2&b", &n), "a=1&&b");
    CHECK_INT(n, 1);
}


/* request lines of every length mod 16: exact sizes, and nothing more */

static void
test_lengths(void)
{
    char    *line, *out;
    size_t   i, len, olen, n;

    for (i = 4000; i < 4100; i++) {
        line = malloc(i);
        memcpy(line, "GET /m?access_token=a&p=", 24);
        memset(line + 24, 'x', i - 24 - 9);
        memcpy(line + i - 9, " HTTP/1.1", 9);

        olen = rooms_mask_line(NULL, line, i, token_names, 1, &n);
        CHECK_INT(olen, i + 2);
        CHECK_INT(n, 1);

        /* exactly that much: ASan sees a byte more */

        out = malloc(olen);
        len = rooms_mask_line(out, line, i, token_names, 1, NULL);
        CHECK_INT(len, olen);
        CHECK(memcmp(out, "GET /m?access_token=***&p=x", 27) == 0);
        CHECK(memcmp(out + olen - 10, "x HTTP/1.1", 10) == 0);

        free(out);
        free(line);
    }
}


int
main(void)
{
    test_mask();
    test_strip();
    test_lengths();

    CHECK_DONE("test_mask");
}
