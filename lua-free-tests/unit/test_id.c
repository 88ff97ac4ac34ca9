
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>

#include "check.h"
#include "rooms_id.h"


#define RESOURCE  "db75ed0c-e801-41a3-99a4-66a0a119a06c"


static int
raw_ok(const char *s)
{
    return rooms_raw_id_check(s, strlen(s)) == 0;
}


static int
id_check(const char *s)
{
    return rooms_id_check(s, strlen(s));
}


static void
test_generate(void)
{
    int     i, j, counts[ROOMS_ID_LEN][10], min, max;
    char    buf[ROOMS_ID_MAX_LEN + 1], prev[ROOMS_ID_MAX_LEN + 1];
    size_t  len;

    memset(counts, 0, sizeof(counts));
    prev[0] = '\0';

    for (i = 0; i < 9000; i++) {
        memset(buf, 'x', sizeof(buf));
        len = 0;

        if (rooms_id_generate(buf, &len) != 0) {
            CHECK(0);
            return;
        }

        if (len != ROOMS_ID_LEN || strlen(buf) != ROOMS_ID_LEN
            || buf[0] == '0'
            || rooms_id_check(buf, len) != ROOMS_ID_OK
            || strcmp(buf, prev) == 0)
        {
            CHECK_STR(buf, "(a fresh 17-digit id)");
            return;
        }

        for (j = 0; j < ROOMS_ID_LEN; j++) {
            counts[j][buf[j] - '0']++;
        }

        memcpy(prev, buf, sizeof(buf));
    }

    /*
     * 9000 ids: each of 9 leading digits expects 1000, each of 10 other
     * digits 900 (sd ~30); +-25% is far outside chance but catches bias
     * such as a plain "% 10" skewing or a stuck digit
     */

    CHECK_INT(counts[0][0], 0);

    for (j = 0; j < ROOMS_ID_LEN; j++) {
        min = 1 << 30;
        max = 0;

        for (i = (j == 0); i < 10; i++) {
            min = counts[j][i] < min ? counts[j][i] : min;
            max = counts[j][i] > max ? counts[j][i] : max;
        }

        if (j == 0) {
            CHECK(min > 750 && max < 1250);

        } else {
            CHECK(min > 675 && max < 1125);
        }
    }
}


static void
test_check(void)
{
    CHECK_INT(id_check("99117812428622880"), ROOMS_ID_OK);
    CHECK_INT(id_check("9944296304944572"), ROOMS_ID_OK);
    CHECK_INT(id_check("999058871389949120"), ROOMS_ID_OK);

    /* one spelling: a leading zero names no room (after the length) */

    CHECK_INT(id_check("00000000000000000"), ROOMS_ID_NOT_CANONICAL);
    CHECK_INT(id_check("01234567890123456"), ROOMS_ID_NOT_CANONICAL);
    CHECK_INT(id_check("0123456789012345"), ROOMS_ID_NOT_CANONICAL);
    CHECK_INT(id_check("0099117812428622"), ROOMS_ID_NOT_CANONICAL);
    CHECK_INT(id_check("0a23456789012345"), ROOMS_ID_BAD_CHARS);
    CHECK_INT(id_check("012345678901234"), ROOMS_ID_BAD_LENGTH);

    /* length first, as ACS: "Invalid room ID length." */

    CHECK_INT(id_check(""), ROOMS_ID_BAD_LENGTH);
    CHECK_INT(id_check("123"), ROOMS_ID_BAD_LENGTH);
    CHECK_INT(id_check("invalid_id"), ROOMS_ID_BAD_LENGTH);
    CHECK_INT(id_check("f-1234567890"), ROOMS_ID_BAD_LENGTH);
    CHECK_INT(id_check("994429630494457"), ROOMS_ID_BAD_LENGTH);
    CHECK_INT(id_check("9990588713899491201"), ROOMS_ID_BAD_LENGTH);
    CHECK_INT(id_check("abcdefghijklmnopqrstuvwxyz"), ROOMS_ID_BAD_LENGTH);

    CHECK_INT(id_check("f-123456789012345"), ROOMS_ID_BAD_CHARS);
    CHECK_INT(id_check("9911781242862288a"), ROOMS_ID_BAD_CHARS);
    CHECK_INT(id_check("+9911781242862288"), ROOMS_ID_BAD_CHARS);
    CHECK_INT(id_check(" 99117812428622880"), ROOMS_ID_BAD_CHARS);
    CHECK_INT(id_check("99117812428622%30"), ROOMS_ID_BAD_CHARS);
    CHECK_INT(rooms_id_check("99117812\0428622880", 17), ROOMS_ID_BAD_CHARS);
}


static void
test_id_parse(void)
{
    uint64_t  id;

    id = 42;
    CHECK_INT(rooms_id_parse("1234567890123456", 16, &id), ROOMS_ID_OK);
    CHECK(id == UINT64_C(1234567890123456));
    CHECK_INT(rooms_id_parse("99117812428622880", 17, &id), ROOMS_ID_OK);
    CHECK(id == UINT64_C(99117812428622880));
    CHECK_INT(rooms_id_parse("999999999999999999", 18, &id), ROOMS_ID_OK);
    CHECK(id == UINT64_C(999999999999999999));
    CHECK_INT(rooms_id_parse("100000000000000000", 18, &id), ROOMS_ID_OK);
    CHECK(id == UINT64_C(100000000000000000));

    /* refused: the value is left alone */

    id = 42;
    CHECK_INT(rooms_id_parse("000000000000000000", 18, &id),
              ROOMS_ID_NOT_CANONICAL);
    CHECK_INT(rooms_id_parse("01234567890123456", 17, &id),
              ROOMS_ID_NOT_CANONICAL);
    CHECK_INT(rooms_id_parse("9999999999999999999", 19, &id),
              ROOMS_ID_BAD_LENGTH);
    CHECK_INT(rooms_id_parse("123456789012345", 15, &id),
              ROOMS_ID_BAD_LENGTH);
    CHECK_INT(rooms_id_parse("12345678901234/6", 16, &id),
              ROOMS_ID_BAD_CHARS);
    CHECK_INT(rooms_id_parse("12345678901234:6", 16, &id),
              ROOMS_ID_BAD_CHARS);
    CHECK_INT(rooms_id_parse("1234567890123456\0", 17, &id),
              ROOMS_ID_BAD_CHARS);
    CHECK(id == 42);
}


/* the id of a repeatable request: the same for the same request id */

static void
test_id_for_request(void)
{
    int     i;
    char    a[ROOMS_ID_MAX_LEN + 1], b[ROOMS_ID_MAX_LEN + 1], rid[40];
    size_t  alen, blen;

    CHECK_INT(rooms_id_for_request(a, &alen,
                  "760446fb-24c7-4e8f-bb77-96881578675f", 36), 0);
    CHECK_INT(rooms_id_for_request(b, &blen,
                  "760446fb-24c7-4e8f-bb77-96881578675f", 36), 0);
    CHECK_INT(alen, ROOMS_ID_LEN);
    CHECK_INT(strlen(a), ROOMS_ID_LEN);
    CHECK_STR(a, b);
    CHECK_INT(rooms_id_check(a, alen), ROOMS_ID_OK);

    CHECK_INT(rooms_id_for_request(b, &blen,
                  "760446fb-24c7-4e8f-bb77-96881578675e", 36), 0);
    CHECK(strcmp(a, b) != 0);

    /* a thousand request ids: valid, canonical ids, all different */

    for (i = 0; i < 1000; i++) {
        snprintf(rid, sizeof(rid), "req-%d", i);
        CHECK_INT(rooms_id_for_request(a, &alen, rid, strlen(rid)), 0);

        if (rooms_id_check(a, alen) != ROOMS_ID_OK || alen != ROOMS_ID_LEN) {
            CHECK_STR(a, "(a canonical 17-digit id)");
            return;
        }

        if (i > 0 && strcmp(a, b) == 0) {
            CHECK_STR(a, "(another id)");
            return;
        }

        memcpy(b, a, sizeof(a));
    }
}


static void
test_raw_id(void)
{
    char  buf[ROOMS_RAW_ID_MAX_LEN + 2];

    /* communication users */

    CHECK(raw_ok("8:acs:" RESOURCE "_00000010-ce28-064a-83fe-084822000666"));
    CHECK(raw_ok("8:acs:sanitized1"));
    CHECK(raw_ok("8:acs:x"));
    CHECK(raw_ok("8:spool:" RESOURCE "_0000"));
    CHECK(raw_ok("8:dod-acs:" RESOURCE "_0000"));
    CHECK(raw_ok("8:gcch-acs:" RESOURCE "_0000"));

    /* createIdentifierFromRawId() splits the *acs suffix on '_' */

    CHECK(!raw_ok("8:acs:resource_tenant_user"));
    CHECK(!raw_ok("8:dod-acs:resource_tenant_user"));
    CHECK(!raw_ok("8:gcch-acs:resource_tenant_user"));
    CHECK(raw_ok("8:acs:a_b_c_d"));
    CHECK(!raw_ok("8:acs:a__"));
    CHECK(!raw_ok("8:acs:__"));
    CHECK(raw_ok("8:spool:resource_tenant_user"));

    /* other kinds */

    CHECK(!raw_ok("4:+14255550123"));
    CHECK(!raw_ok("4:anonymous"));
    CHECK(!raw_ok("8:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130"));
    CHECK(!raw_ok("8:dod:45ab2481-1c1c-4005-be24-0ffb879b1130"));
    CHECK(!raw_ok("8:gcch:45ab2481-1c1c-4005-be24-0ffb879b1130"));
    CHECK(!raw_ok("8:teamsvisitor:45ab2481"));
    CHECK(!raw_ok("28:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130"));
    CHECK(!raw_ok("28:gcch:45ab2481"));
    CHECK(!raw_ok("wrong_mri"));
    CHECK(!raw_ok(RESOURCE "_0000"));

    /* the SDK wants exactly three ':' segments; prefixes are exact */

    CHECK(!raw_ok("8:acs:a:b"));
    CHECK(!raw_ok("8:acs::"));
    CHECK(!raw_ok("8:ACS:abc"));
    CHECK(!raw_ok("8:Acs:abc"));
    CHECK(!raw_ok("08:acs:abc"));
    CHECK(!raw_ok(" 8:acs:abc"));

    /* empty remainder */

    CHECK(!raw_ok(""));
    CHECK(!raw_ok("8:"));
    CHECK(!raw_ok("8:acs"));
    CHECK(!raw_ok("8:acs:"));
    CHECK(!raw_ok("8:spool:"));
    CHECK(!raw_ok("8:dod-acs:"));
    CHECK(!raw_ok("8:gcch-acs:"));

    /* characters */

    CHECK(!raw_ok("8:acs:a b"));
    CHECK(!raw_ok("8:acs:a\tb"));
    CHECK(!raw_ok("8:acs:a\"b"));
    CHECK(!raw_ok("8:acs:a\\b"));
    CHECK(!raw_ok("8:acs:{ab}"));
    CHECK(!raw_ok("8:acs:a}"));
    CHECK(!raw_ok("8:acs:a\x01"));
    CHECK(!raw_ok("8:acs:a\x1f"));
    CHECK(!raw_ok("8:acs:a\x7f"));
    CHECK(!raw_ok("8:acs:\xc3\xa9"));
    CHECK(!raw_ok("8:acs:a\xff"));
    CHECK(!raw_ok("8:acs:a\r\n"));
    CHECK(rooms_raw_id_check("8:acs:a\0b", 9) == -1);
    CHECK(rooms_raw_id_check("8:acs:ab", 7) == 0);
    CHECK(rooms_raw_id_check("8:acs:ab", 6) == -1);
    CHECK(raw_ok("8:acs:a-b.c~d!e$f'g(h)i*j+k,l;m=n@o[p]q|r`s^t/u?v#w%x&y"));

    /* length */

    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "8:acs:", 6);
    CHECK_INT(rooms_raw_id_check(buf, ROOMS_RAW_ID_MAX_LEN), 0);
    CHECK_INT(rooms_raw_id_check(buf, ROOMS_RAW_ID_MAX_LEN + 1), -1);

    CHECK(rooms_raw_id_is_phone("4:+14255550123", 14));
    CHECK(!rooms_raw_id_is_phone("8:acs:1", 7));
    CHECK(!rooms_raw_id_is_phone("4", 1));
}


static void
test_user_id(void)
{
    int     i;
    char    a[ROOMS_USER_ID_SIZE], b[ROOMS_USER_ID_SIZE], res[100];
    size_t  alen, blen, off;

    CHECK_INT(rooms_user_id_generate(a, &alen, RESOURCE), 0);
    CHECK_INT(rooms_user_id_generate(b, &blen, RESOURCE), 0);

    CHECK_INT(alen, strlen(a));
    CHECK_INT(alen, 6 + 36 + 1 + 36);
    CHECK(strcmp(a, b) != 0);
    CHECK(strncmp(a, "8:acs:" RESOURCE "_", 6 + 36 + 1) == 0);
    CHECK_INT(rooms_raw_id_check(a, alen), 0);

    /* lowercase GUID, version 4, variant 10xx */

    off = 6 + 36 + 1;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            CHECK(a[off + i] == '-');

        } else {
            CHECK((a[off + i] >= '0' && a[off + i] <= '9')
                  || (a[off + i] >= 'a' && a[off + i] <= 'f'));
        }
    }

    CHECK(a[off + 14] == '4');
    CHECK(strchr("89ab", a[off + 19]) != NULL);

    /* the resource must keep the id valid */

    CHECK_INT(rooms_user_id_generate(a, &alen, ""), -1);
    CHECK_INT(rooms_user_id_generate(a, &alen, "res_ource"), -1);
    CHECK_INT(rooms_user_id_generate(a, &alen, "res:ource"), -1);
    CHECK_INT(rooms_user_id_generate(a, &alen, "res ource"), -1);
    CHECK_INT(rooms_user_id_generate(a, &alen, "res\"ource"), -1);
    CHECK_INT(rooms_user_id_generate(a, &alen, "r\xc3\xa9s"), -1);

    memset(res, 'r', sizeof(res));
    res[ROOMS_USER_RESOURCE_MAX] = '\0';
    CHECK_INT(rooms_user_id_generate(a, &alen, res), 0);
    CHECK_INT(alen, ROOMS_USER_ID_SIZE - 1);
    CHECK_INT(strlen(a), ROOMS_USER_ID_SIZE - 1);
    CHECK_INT(rooms_raw_id_check(a, alen), 0);

    res[ROOMS_USER_RESOURCE_MAX] = 'r';
    res[ROOMS_USER_RESOURCE_MAX + 1] = '\0';
    CHECK_INT(rooms_user_id_generate(a, &alen, res), -1);
}


int
main(void)
{
    test_generate();
    test_check();
    test_id_parse();
    test_id_for_request();
    test_raw_id();
    test_user_id();

    CHECK_DONE("test_id");
}
