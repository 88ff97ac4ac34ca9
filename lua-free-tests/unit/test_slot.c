
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * rooms_slot.c: the key slots are those redis-server 7.0 gives with
 * CLUSTER KEYSLOT (slot_crosscheck.c compares thousands more against a
 * live node); the error replies are those it sends.
 */


#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rooms_slot.h"


typedef struct {
    const char  *key;
    size_t       len;
    unsigned     slot;
} slot_vector_t;


#define V(s, slot)  { s, sizeof(s) - 1, slot }

static const slot_vector_t  slot_vectors[] = {
    V("", 0),
    V("foo", 12182),
    V("bar", 5061),
    V("123456789", 12739),
    V("{user1000}.following", 3443),
    V("{user1000}.followers", 3443),
    V("foo{}{bar}", 8363),                  /* empty tag: the whole key */
    V("foo{{bar}}zap", 4015),               /* tag "{bar" */
    V("foo{bar}{zap}", 5061),               /* first tag only: "bar" */
    V("{}", 15257),
    V("{", 4092),
    V("}", 12090),
    V("}{", 12793),
    V("{a}", 15495),                        /* one-character tag */
    V("a", 15495),
    V("{a", 10276),
    V("a}", 5921),
    V("{{}}", 4092),                        /* tag "{" */
    V("rooms:{99117812428622880}", 1467),
    V("rooms:{99117812428622880}:p", 1467),
    V("rooms:user:{8:acs:x}", 1716),
    V("rooms:index", 3716),
    V("rooms:events:seq", 16206),
    V("x\0y{\xff}", 7920),
    V("\0", 0),
    V("{\0}", 0),
    { NULL, 0, 0 }
};


/* the textbook bitwise CRC16-XMODEM, to check the nibble form against */

static unsigned
crc16_bitwise(unsigned crc, unsigned char byte)
{
    int  i;

    crc ^= (unsigned) byte << 8;

    for (i = 0; i < 8; i++) {
        crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
    }

    return crc;
}


static void
test_crc16(void)
{
    int            bad;
    char           c;
    unsigned       crc, b, ref;
    size_t         i;
    unsigned char  buf[300];

    CHECK_INT(rooms_crc16(0, "123456789", 9), 0x31c3);
    CHECK_INT(rooms_crc16(0, "", 0), 0);
    CHECK_INT(rooms_crc16(0, "12345", 5), rooms_crc16(0, "12345", 5));
    CHECK_INT(rooms_crc16(rooms_crc16(0, "1234", 4), "56789", 5), 0x31c3);

    /* every state and every byte */

    bad = 0;

    for (crc = 0; crc <= 0xffff; crc++) {
        for (b = 0; b <= 0xff; b++) {
            c = (char) b;
            ref = crc16_bitwise(crc, (unsigned char) b);

            if (rooms_crc16((uint16_t) crc, &c, 1) != ref && bad++ < 5) {
                fprintf(stderr, "crc16(%04x, %02x) != %04x\n", crc, b, ref);
            }
        }
    }

    CHECK_INT(bad, 0);

    /* and longer buffers */

    srand(7);

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char) rand();
    }

    ref = 0;

    for (i = 0; i < sizeof(buf); i++) {
        ref = crc16_bitwise(ref, buf[i]);
    }

    CHECK_INT(rooms_crc16(0, (const char *) buf, sizeof(buf)), ref);
}


static void
test_slot_of_key(void)
{
    const slot_vector_t  *v;

    for (v = slot_vectors; v->key != NULL; v++) {
        if (rooms_slot_of_key(v->key, v->len) != v->slot) {
            fprintf(stderr, "slot of \"%s\" (%zu bytes): %u, expected %u\n",
                    v->key, v->len, rooms_slot_of_key(v->key, v->len),
                    v->slot);
            CHECK(0);
        }
    }

    /* the tag alone decides; the length bounds every search */

    CHECK_INT(rooms_slot_of_key("{abc}", 5), rooms_slot_of_key("abc", 3));
    CHECK_INT(rooms_slot_of_key("x{abc}y{z}", 10),
              rooms_slot_of_key("abc", 3));
    CHECK_INT(rooms_slot_of_key("{abc}", 4), rooms_slot_of_key("{abc", 4));
    CHECK_INT(rooms_slot_of_key("{", 1), 4092);
    CHECK_INT(rooms_slot_of_key("{}x", 2), 15257);
    CHECK_INT(rooms_slot_of_key(NULL, 0), 0);
    CHECK(rooms_slot_of_key("\xff\xff\xff\xff", 4) < ROOMS_SLOTS);
}


static int
parse(const char *s, rooms_redirect_t *rd)
{
    return rooms_redirect_parse(s, strlen(s), rd);
}


static int
host_is(const rooms_redirect_t *rd, const char *host)
{
    return rd->host_len == strlen(host)
           && memcmp(rd->host, host, rd->host_len) == 0;
}


static void
test_redirect_ok(void)
{
    rooms_redirect_t  rd;

    CHECK_INT(parse("MOVED 3999 127.0.0.1:6381", &rd), ROOMS_REDIRECT_MOVED);
    CHECK_INT(rd.slot, 3999);
    CHECK_INT(rd.port, 6381);
    CHECK(host_is(&rd, "127.0.0.1"));

    CHECK_INT(parse("ASK 12182 127.0.0.1:7002", &rd), ROOMS_REDIRECT_ASK);
    CHECK_INT(rd.slot, 12182);
    CHECK_INT(rd.port, 7002);
    CHECK(host_is(&rd, "127.0.0.1"));

    /* redis 7.0 on "bind ::1", with each cluster-preferred-endpoint-type */

    CHECK_INT(parse("MOVED 12182 ::1:17002", &rd), ROOMS_REDIRECT_MOVED);
    CHECK(host_is(&rd, "::1"));
    CHECK_INT(rd.port, 17002);

    CHECK_INT(parse("MOVED 12182 node2.example:17002", &rd),
              ROOMS_REDIRECT_MOVED);
    CHECK(host_is(&rd, "node2.example"));

    CHECK_INT(parse("MOVED 12182 ?:17002", &rd), ROOMS_REDIRECT_MOVED);
    CHECK(host_is(&rd, "?"));

    CHECK_INT(parse("MOVED 12182 :17002", &rd), ROOMS_REDIRECT_MOVED);
    CHECK_INT(rd.host_len, 0);
    CHECK_INT(rd.port, 17002);

    /* other IPv6 forms, brackets */

    CHECK_INT(parse("ASK 0 2001:db8::7:65535", &rd), ROOMS_REDIRECT_ASK);
    CHECK(host_is(&rd, "2001:db8::7"));
    CHECK_INT(rd.slot, 0);
    CHECK_INT(rd.port, 65535);

    CHECK_INT(parse("ASK 16383 fe80::1%eth0:1", &rd), ROOMS_REDIRECT_ASK);
    CHECK(host_is(&rd, "fe80::1%eth0"));
    CHECK_INT(rd.slot, 16383);
    CHECK_INT(rd.port, 1);

    CHECK_INT(parse("MOVED 1 [::1]:6380", &rd), ROOMS_REDIRECT_MOVED);
    CHECK(host_is(&rd, "::1"));

    CHECK_INT(parse("MOVED 00001 h:06380", &rd), ROOMS_REDIRECT_MOVED);
    CHECK_INT(rd.slot, 1);
    CHECK_INT(rd.port, 6380);

    /* the host points into the input and the length bounds the parse */

    {
        const char  *s = "MOVED 5 10.0.0.1:7000 and more";

        CHECK_INT(rooms_redirect_parse(s, 21, &rd), ROOMS_REDIRECT_MOVED);
        CHECK(rd.host == s + 8);
        CHECK_INT(rd.host_len, 8);
        CHECK_INT(rd.port, 7000);

        CHECK_INT(rooms_redirect_parse(s, 20, &rd), ROOMS_REDIRECT_MOVED);
        CHECK_INT(rd.port, 700);
    }
}


static void
test_redirect_kinds(void)
{
    rooms_redirect_t  rd;

    /* redis 7.0's texts */

    CHECK_INT(parse("TRYAGAIN Multiple keys request during rehashing of slot",
                    &rd), ROOMS_REDIRECT_TRYAGAIN);
    CHECK_INT(parse("CLUSTERDOWN The cluster is down", &rd),
              ROOMS_REDIRECT_CLUSTERDOWN);
    CHECK_INT(parse("CLUSTERDOWN Hash slot not served", &rd),
              ROOMS_REDIRECT_CLUSTERDOWN);
    CHECK_INT(parse("LOADING Redis is loading the dataset in memory", &rd),
              ROOMS_REDIRECT_LOADING);
    CHECK_INT(parse("READONLY You can't write against a read only replica.",
                    &rd), ROOMS_REDIRECT_READONLY);
    CHECK_INT(parse("NOSCRIPT No matching script. Please use EVAL.", &rd),
              ROOMS_REDIRECT_NOSCRIPT);
    CHECK_INT(parse("MASTERDOWN Link with MASTER is down and "
                    "replica-serve-stale-data is set to 'no'.", &rd),
              ROOMS_REDIRECT_MASTERDOWN);
    CHECK_INT(rd.slot, 0);
    CHECK(rd.host == NULL);

    /* the word alone */

    CHECK_INT(parse("TRYAGAIN", &rd), ROOMS_REDIRECT_TRYAGAIN);
    CHECK_INT(parse("LOADING", &rd), ROOMS_REDIRECT_LOADING);

    /* anything else */

    CHECK_INT(parse("", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(rooms_redirect_parse(NULL, 0, &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("ERR unknown command 'FOO'", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("WRONGTYPE Operation against a key holding the wrong "
                    "kind of value", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("NOAUTH Authentication required.", &rd),
              ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("CROSSSLOT Keys in request don't hash to the same slot",
                    &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("LOADINGX", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("moved 1 h:1", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("-MOVED 1 h:1", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse(" MOVED 1 h:1", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("MOVEDX 1 h:1", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(parse("ASKING", &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(rooms_redirect_parse("LOADING", 4, &rd), ROOMS_REDIRECT_NONE);
    CHECK_INT(rooms_redirect_parse("ASK\0 1 h:1", 10, &rd),
              ROOMS_REDIRECT_NONE);

    CHECK_STR(rooms_redirect_name(ROOMS_REDIRECT_ASK), "ASK");
    CHECK_STR(rooms_redirect_name(ROOMS_REDIRECT_MALFORMED), "malformed");
    CHECK_STR(rooms_redirect_name(ROOMS_REDIRECT_NONE), "other");
    CHECK_STR(rooms_redirect_name(99), "unknown");
    CHECK_STR(rooms_redirect_name(-1), "unknown");
}


static void
test_redirect_malformed(void)
{
    size_t             i;
    rooms_redirect_t   rd;
    char               host[ROOMS_REDIRECT_HOST_MAX + 40];
    static const char *bad[] = {
        "MOVED",
        "MOVED ",
        "MOVED 1",
        "MOVED 1 ",
        "MOVED  1 h:1",
        "MOVED 1  h:1",
        "MOVED 1 h",
        "MOVED 1 h:",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h:123456",
        "MOVED 1 h:+1",
        "MOVED 1 h:-1",
        "MOVED 1 h:1 ",
        "MOVED 1 h:1x",
        "MOVED 1 h:1\n",
        "MOVED 16384 h:1",
        "MOVED 99999 h:1",
        "MOVED 100000 h:1",
        "MOVED -1 h:1",
        "MOVED +1 h:1",
        "MOVED x h:1",
        "MOVED 1x h:1",
        "MOVED 1 h h:1",
        "MOVED 1 h\th:1",
        "MOVED 1 []:1",
        "MOVED 1 [::1:1",
        "MOVED 1 ::1]:1",
        "MOVED 1 [[::1]]:1",
        "MOVED 1 h\x7f:1",
        "MOVED 1 h\xc3\xa9:1",
        "ASK",
        "ASK 1",
        "ASK 1 127.0.0.1",
        "ASK 1 127.0.0.1:",
        "ASK 1 127.0.0.1:70000",
        NULL
    };

    for (i = 0; bad[i] != NULL; i++) {
        if (parse(bad[i], &rd) != ROOMS_REDIRECT_MALFORMED) {
            fprintf(stderr, "not malformed: \"%s\"\n", bad[i]);
            CHECK(0);
        }

        CHECK(rd.host == NULL && rd.port == 0 && rd.slot == 0);
    }

    /* a NUL inside */

    CHECK_INT(rooms_redirect_parse("MOVED 1 h\0:1", 12, &rd),
              ROOMS_REDIRECT_MALFORMED);
    CHECK_INT(rooms_redirect_parse("MOVED 1 h:1\0", 12, &rd),
              ROOMS_REDIRECT_MALFORMED);

    /* host length */

    memcpy(host, "ASK 7 ", 6);
    memset(host + 6, 'h', ROOMS_REDIRECT_HOST_MAX);
    memcpy(host + 6 + ROOMS_REDIRECT_HOST_MAX, ":80", 4);
    CHECK_INT(parse(host, &rd), ROOMS_REDIRECT_ASK);
    CHECK_INT(rd.host_len, ROOMS_REDIRECT_HOST_MAX);

    memset(host + 6, 'h', ROOMS_REDIRECT_HOST_MAX + 1);
    memcpy(host + 6 + ROOMS_REDIRECT_HOST_MAX + 1, ":80", 4);
    CHECK_INT(parse(host, &rd), ROOMS_REDIRECT_MALFORMED);
}


static void
test_slot_map(void)
{
    unsigned                i;
    rooms_slot_map_t       *map;

    map = malloc(sizeof(rooms_slot_map_t));

    if (map == NULL) {
        CHECK(0);
        return;
    }

    memset(map, 0x5a, sizeof(rooms_slot_map_t));
    rooms_slot_map_init(map);

    CHECK_INT(rooms_slot_map_covered(map), 0);
    CHECK_INT(rooms_slot_map_lookup(map, 0), ROOMS_SLOT_NONE);
    CHECK_INT(rooms_slot_map_lookup(map, 16383), ROOMS_SLOT_NONE);

    /* as redis-cli --cluster create splits three masters */

    CHECK_INT(rooms_slot_map_set_range(map, 0, 5460, 0), 0);
    CHECK_INT(rooms_slot_map_set_range(map, 5461, 10922, 1), 0);
    CHECK_INT(rooms_slot_map_covered(map), 10923);
    CHECK_INT(rooms_slot_map_set_range(map, 10923, 16383, 2), 0);
    CHECK_INT(rooms_slot_map_covered(map), ROOMS_SLOTS);

    CHECK_INT(rooms_slot_map_lookup(map, 0), 0);
    CHECK_INT(rooms_slot_map_lookup(map, 5460), 0);
    CHECK_INT(rooms_slot_map_lookup(map, 5461), 1);
    CHECK_INT(rooms_slot_map_lookup(map, 10922), 1);
    CHECK_INT(rooms_slot_map_lookup(map, 10923), 2);
    CHECK_INT(rooms_slot_map_lookup(map, 16383), 2);
    CHECK_INT(rooms_slot_map_lookup(map, 16384), ROOMS_SLOT_NONE);
    CHECK_INT(rooms_slot_map_lookup(map, (unsigned) -1), ROOMS_SLOT_NONE);
    CHECK_INT(rooms_slot_map_lookup(map, rooms_slot_of_key("foo", 3)), 2);

    /* one slot moves (MOVED), one is cleared */

    CHECK_INT(rooms_slot_map_set_range(map, 12182, 12182, 7), 0);
    CHECK_INT(rooms_slot_map_lookup(map, 12181), 2);
    CHECK_INT(rooms_slot_map_lookup(map, 12182), 7);
    CHECK_INT(rooms_slot_map_lookup(map, 12183), 2);
    CHECK_INT(rooms_slot_map_set_range(map, 100, 100, ROOMS_SLOT_NONE), 0);
    CHECK_INT(rooms_slot_map_covered(map), ROOMS_SLOTS - 1);

    /* refused, and nothing changes */

    CHECK_INT(rooms_slot_map_set_range(map, 10, 9, 3), -1);
    CHECK_INT(rooms_slot_map_set_range(map, 16000, 16384, 3), -1);
    CHECK_INT(rooms_slot_map_set_range(map, 0, 0, ROOMS_SLOT_NONE + 1), -1);
    CHECK_INT(rooms_slot_map_set_range(map, 16384, 16384, 3), -1);

    for (i = 0; i < ROOMS_SLOTS; i++) {
        if (rooms_slot_map_lookup(map, i) == 3) {
            CHECK(0);
            break;
        }
    }

    CHECK_INT(rooms_slot_map_covered(map), ROOMS_SLOTS - 1);
    CHECK_INT(rooms_slot_map_set_range(map, 0, ROOMS_SLOTS - 1, 65534), 0);
    CHECK_INT(rooms_slot_map_lookup(map, 9999), 65534);

    free(map);
}


int
main(void)
{
    test_crc16();
    test_slot_of_key();
    test_redirect_ok();
    test_redirect_kinds();
    test_redirect_malformed();
    test_slot_map();

    CHECK_DONE("test_slot");
}
