
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Compares rooms_slot_of_key() with CLUSTER KEYSLOT of a live
 * cluster-enabled redis-server for generated keys of every shape that
 * matters to hash tags: no braces, one tag, empty tags, nested and
 * multiple braces, one-character tags, lone braces, the module's own key
 * names, and binary bytes (NUL, CR, LF, 0x80..0xff, braces).  Keys go as
 * binary-safe arguments, pipelined.
 *
 *   slot_crosscheck HOST PORT [KEYS_PER_SHAPE]
 *
 * make -C lua-free-tests/unit slot-crosscheck REDIS_PORT=... builds and
 * runs it; lua-free-tests/redis-servers/selftest.sh runs it against a
 * node of the cluster it starts.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "rooms_slot.h"


#define KEY_MAX   96
#define BATCH     512


typedef struct {
    const char  *name;
    size_t     (*make)(char *key);
} shape_t;


static uint64_t  rng_state = 0x9e3779b97f4a7c15ULL;


static unsigned
rnd(unsigned n)
{
    /* xorshift64*: reproducible from run to run */

    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;

    return (unsigned) ((rng_state * 0x2545f4914f6cdd1dULL) >> 33) % n;
}


static size_t
put_text(char *p, unsigned len)
{
    static const char  chars[] = "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.";
    unsigned           i;

    for (i = 0; i < len; i++) {
        p[i] = chars[rnd(sizeof(chars) - 1)];
    }

    return len;
}


static size_t
make_plain(char *key)
{
    return put_text(key, rnd(41));
}


static size_t
make_tag(char *key)
{
    size_t  n;

    n = put_text(key, rnd(10));
    key[n++] = '{';
    n += put_text(key + n, 2 + rnd(20));
    key[n++] = '}';
    n += put_text(key + n, rnd(10));

    return n;
}


static size_t
make_one_char_tag(char *key)
{
    size_t  n;

    n = put_text(key, rnd(6));
    key[n++] = '{';
    n += put_text(key + n, 1);
    key[n++] = '}';
    n += put_text(key + n, rnd(6));

    return n;
}


static size_t
make_empty_tag(char *key)
{
    size_t  n;

    n = put_text(key, rnd(8));
    key[n++] = '{';
    key[n++] = '}';

    switch (rnd(3)) {
    case 0:
        break;

    case 1:                     /* "a{}{b}": the second tag does not count */
        key[n++] = '{';
        n += put_text(key + n, 1 + rnd(5));
        key[n++] = '}';
        break;

    default:
        n += put_text(key + n, rnd(8));
    }

    return n;
}


/* any mix of text and braces: nested, repeated, unbalanced */

static size_t
make_braces(char *key)
{
    unsigned  i, len;

    len = 1 + rnd(24);

    for (i = 0; i < len; i++) {
        switch (rnd(4)) {
        case 0:
            key[i] = '{';
            break;
        case 1:
            key[i] = '}';
            break;
        default:
            put_text(key + i, 1);
        }
    }

    return len;
}


static size_t
make_binary(char *key)
{
    unsigned  i, len;

    len = rnd(65);

    for (i = 0; i < len; i++) {
        switch (rnd(8)) {
        case 0:
            key[i] = (char) "{}\0\r\n"[rnd(5)];
            break;
        default:
            key[i] = (char) rnd(256);
        }
    }

    return len;
}


/* the module's own key names */

static size_t
make_module(char *key)
{
    int       n;
    unsigned  i;
    char      digits[19];

    for (i = 0; i < 17; i++) {
        digits[i] = (char) ('0' + rnd(10));
    }

    digits[17] = '\0';

    switch (rnd(4)) {
    case 0:
        n = snprintf(key, KEY_MAX, "rooms:{%s}", digits);
        break;
    case 1:
        n = snprintf(key, KEY_MAX, "rooms:{%s}:p", digits);
        break;
    case 2:
        n = snprintf(key, KEY_MAX, "rooms:user:{8:acs:%08x-%s}",
                     rnd(0x7fffffff), digits);
        break;
    default:
        n = snprintf(key, KEY_MAX, "rooms:rep:%s", digits);
    }

    return (size_t) n;
}


static const shape_t  shapes[] = {
    { "no braces", make_plain },
    { "one tag", make_tag },
    { "one-character tag", make_one_char_tag },
    { "empty tag", make_empty_tag },
    { "nested, multiple, lone braces", make_braces },
    { "binary bytes", make_binary },
    { "the module's keys", make_module },
    { NULL, NULL }
};


static void
print_key(const char *key, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        unsigned char  c = (unsigned char) key[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            putc(c, stderr);

        } else {
            fprintf(stderr, "\\x%02x", c);
        }
    }
}


int
main(int argc, char **argv)
{
    int             port, per_shape, i, j, n, passed, failed;
    char            keys[BATCH][KEY_MAX];
    size_t          lens[BATCH];
    unsigned        mine;
    redisReply     *reply;
    redisContext   *c;
    const shape_t  *shape;

    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [KEYS_PER_SHAPE]\n", argv[0]);
        return 2;
    }

    port = atoi(argv[2]);
    per_shape = argc > 3 ? atoi(argv[3]) : 1000;

    c = redisConnect(argv[1], port);

    if (c == NULL || c->err) {
        fprintf(stderr, "cannot connect to %s:%d: %s\n", argv[1], port,
                c ? c->errstr : "out of memory");
        return 2;
    }

    passed = 0;
    failed = 0;

    for (shape = shapes; shape->name != NULL; shape++) {
        int  shape_failed = 0;

        for (i = 0; i < per_shape; i += n) {
            n = per_shape - i < BATCH ? per_shape - i : BATCH;

            for (j = 0; j < n; j++) {
                lens[j] = shape->make(keys[j]);
                redisAppendCommand(c, "CLUSTER KEYSLOT %b", keys[j],
                                   lens[j]);
            }

            for (j = 0; j < n; j++) {
                if (redisGetReply(c, (void **) &reply) != REDIS_OK) {
                    fprintf(stderr, "redis: %s\n", c->errstr);
                    return 2;
                }

                if (reply->type != REDIS_REPLY_INTEGER) {
                    fprintf(stderr, "CLUSTER KEYSLOT: %s (is the node "
                            "cluster-enabled?)\n",
                            reply->type == REDIS_REPLY_ERROR
                            ? reply->str : "not an integer");
                    return 2;
                }

                mine = rooms_slot_of_key(keys[j], lens[j]);

                if ((long long) mine == reply->integer) {
                    passed++;

                } else {
                    if (shape_failed++ < 5) {
                        fprintf(stderr, "FAIL %s: \"", shape->name);
                        print_key(keys[j], lens[j]);
                        fprintf(stderr, "\": rooms %u, redis %lld\n", mine,
                                reply->integer);
                    }

                    failed++;
                }

                freeReplyObject(reply);
            }
        }

        printf("%-32s %d keys, %d differ\n", shape->name, per_shape,
               shape_failed);
    }

    /* and the empty key */

    reply = redisCommand(c, "CLUSTER KEYSLOT %b", "", (size_t) 0);

    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER
        && reply->integer == (long long) rooms_slot_of_key("", 0))
    {
        passed++;

    } else {
        fprintf(stderr, "FAIL the empty key\n");
        failed++;
    }

    if (reply != NULL) {
        freeReplyObject(reply);
    }

    redisFree(c);

    printf("CLUSTER KEYSLOT of %s:%d\n", argv[1], port);
    printf("slot_crosscheck: %d passed, %d failed\n", passed, failed);

    return failed ? 1 : 0;
}
