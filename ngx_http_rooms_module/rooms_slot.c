
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>

#include "rooms_slot.h"


typedef struct {
    const char  *word;
    size_t       len;
    int          kind;
} rooms_redirect_word_t;


static int rooms_redirect_number(const char *p, const char *end,
    unsigned *value);


static const rooms_redirect_word_t  rooms_redirect_words[] = {
    { "MOVED", sizeof("MOVED") - 1, ROOMS_REDIRECT_MOVED },
    { "ASK", sizeof("ASK") - 1, ROOMS_REDIRECT_ASK },
    { "TRYAGAIN", sizeof("TRYAGAIN") - 1, ROOMS_REDIRECT_TRYAGAIN },
    { "CLUSTERDOWN", sizeof("CLUSTERDOWN") - 1, ROOMS_REDIRECT_CLUSTERDOWN },
    { "LOADING", sizeof("LOADING") - 1, ROOMS_REDIRECT_LOADING },
    { "READONLY", sizeof("READONLY") - 1, ROOMS_REDIRECT_READONLY },
    { "NOSCRIPT", sizeof("NOSCRIPT") - 1, ROOMS_REDIRECT_NOSCRIPT },
    { "MASTERDOWN", sizeof("MASTERDOWN") - 1, ROOMS_REDIRECT_MASTERDOWN },
    { NULL, 0, 0 }
};

static const char  *rooms_redirect_names[] = {
    "other", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING",
    "READONLY", "NOSCRIPT", "MASTERDOWN", "malformed"
};


uint16_t
rooms_crc16(uint16_t crc, const char *p, size_t len)
{
    size_t    i;
    unsigned  c, t, half;

    /*
     * Four bits at a time.  For the top nibble t shifted out, the
     * polynomial x^12 + x^5 + 1 folds back t * 0x1021, and as 0x1021
     * has no bit above 12 that product is simply (t << 12) ^ (t << 5)
     * ^ t: no table.  The unit test checks it against the bitwise form
     * for every crc and byte.
     */

    c = crc;

    for (i = 0; i < len; i++) {
        for (half = 0; half < 2; half++) {
            t = (c >> 12) ^ (half == 0 ? (unsigned char) p[i] >> 4
                                       : (unsigned char) p[i] & 0x0f);
            c = ((c << 4) ^ (t << 12) ^ (t << 5) ^ t) & 0xffff;
        }
    }

    return (uint16_t) c;
}


unsigned
rooms_slot_of_key(const char *key, size_t len)
{
    const char  *open, *close;

    if (len == 0) {
        return 0;
    }

    open = memchr(key, '{', len);

    if (open != NULL) {
        close = memchr(open + 1, '}', len - (size_t) (open + 1 - key));

        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t) (close - key);
        }
    }

    return rooms_crc16(0, key, len) & (ROOMS_SLOTS - 1);
}


int
rooms_redirect_parse(const char *s, size_t len, rooms_redirect_t *rd)
{
    int                           kind;
    size_t                        wlen;
    unsigned                      slot, port;
    unsigned char                 c;
    const char                   *p, *end, *sp, *colon, *host, *host_end;
    const rooms_redirect_word_t  *w;

    memset(rd, 0, sizeof(rooms_redirect_t));

    if (len == 0) {
        return ROOMS_REDIRECT_NONE;
    }

    end = s + len;
    sp = memchr(s, ' ', len);
    wlen = (size_t) ((sp != NULL ? sp : end) - s);

    for (w = rooms_redirect_words; w->word != NULL; w++) {
        if (wlen == w->len && memcmp(s, w->word, wlen) == 0) {
            break;
        }
    }

    if (w->word == NULL) {
        return ROOMS_REDIRECT_NONE;
    }

    kind = w->kind;

    if (kind != ROOMS_REDIRECT_MOVED && kind != ROOMS_REDIRECT_ASK) {
        return kind;
    }

    /* "<slot> <host>:<port>" after exactly one space */

    if (sp == NULL) {
        return ROOMS_REDIRECT_MALFORMED;
    }

    p = sp + 1;
    sp = memchr(p, ' ', (size_t) (end - p));

    if (sp == NULL
        || rooms_redirect_number(p, sp, &slot) != 0
        || slot >= ROOMS_SLOTS)
    {
        return ROOMS_REDIRECT_MALFORMED;
    }

    host = sp + 1;
    colon = NULL;

    for (p = host; p < end; p++) {
        if (*p == ':') {
            colon = p;
        }
    }

    if (colon == NULL
        || rooms_redirect_number(colon + 1, end, &port) != 0
        || port == 0 || port > 65535)
    {
        return ROOMS_REDIRECT_MALFORMED;
    }

    host_end = colon;

    if (host_end - host >= 2 && host[0] == '[' && host_end[-1] == ']') {
        host++;
        host_end--;

        if (host == host_end) {
            return ROOMS_REDIRECT_MALFORMED;
        }
    }

    if (host_end - host > ROOMS_REDIRECT_HOST_MAX) {
        return ROOMS_REDIRECT_MALFORMED;
    }

    for (p = host; p < host_end; p++) {
        c = (unsigned char) *p;

        if (c <= ' ' || c > '~' || c == '[' || c == ']') {
            return ROOMS_REDIRECT_MALFORMED;
        }
    }

    rd->slot = slot;
    rd->port = port;
    rd->host = host;
    rd->host_len = (size_t) (host_end - host);

    return kind;
}


const char *
rooms_redirect_name(int kind)
{
    if (kind < ROOMS_REDIRECT_NONE || kind > ROOMS_REDIRECT_MALFORMED) {
        return "unknown";
    }

    return rooms_redirect_names[kind];
}


void
rooms_slot_map_init(rooms_slot_map_t *map)
{
    rooms_slot_map_set_range(map, 0, ROOMS_SLOTS - 1, ROOMS_SLOT_NONE);
}


int
rooms_slot_map_set_range(rooms_slot_map_t *map, unsigned from, unsigned to,
    unsigned node)
{
    unsigned  i;

    if (from > to || to >= ROOMS_SLOTS || node > ROOMS_SLOT_NONE) {
        return -1;
    }

    for (i = from; i <= to; i++) {
        map->node[i] = (uint16_t) node;
    }

    return 0;
}


unsigned
rooms_slot_map_lookup(const rooms_slot_map_t *map, unsigned slot)
{
    if (slot >= ROOMS_SLOTS) {
        return ROOMS_SLOT_NONE;
    }

    return map->node[slot];
}


unsigned
rooms_slot_map_covered(const rooms_slot_map_t *map)
{
    unsigned  i, n;

    n = 0;

    for (i = 0; i < ROOMS_SLOTS; i++) {
        n += (map->node[i] != ROOMS_SLOT_NONE);
    }

    return n;
}


/* 1 to 5 decimal digits filling p..end exactly */

static int
rooms_redirect_number(const char *p, const char *end, unsigned *value)
{
    unsigned  n;

    if (p >= end || end - p > 5) {
        return -1;
    }

    n = 0;

    while (p < end) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        n = n * 10 + (unsigned) (*p++ - '0');
    }

    *value = n;

    return 0;
}
