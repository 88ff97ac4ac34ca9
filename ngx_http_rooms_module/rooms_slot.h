
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Redis Cluster routing: the hash slot of a key, the redirections and
 * other cluster errors a node replies with, and a slot -> node table.
 * No nginx dependency: unit tests and fuzzers link this file directly.
 */


#ifndef _ROOMS_SLOT_H_INCLUDED_
#define _ROOMS_SLOT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define ROOMS_SLOTS                16384

/* a slot without a node in a rooms_slot_map_t */
#define ROOMS_SLOT_NONE            0xffff

/* the longest host accepted in a MOVED or ASK redirection */
#define ROOMS_REDIRECT_HOST_MAX    255


/* what rooms_redirect_parse() makes of an error reply */
enum {
    ROOMS_REDIRECT_NONE = 0,       /* any other error */
    ROOMS_REDIRECT_MOVED,          /* the slot lives elsewhere for good */
    ROOMS_REDIRECT_ASK,            /* this once: ASKING, then the command */
    ROOMS_REDIRECT_TRYAGAIN,       /* multi-key command while migrating */
    ROOMS_REDIRECT_CLUSTERDOWN,    /* down, or the slot is not served */
    ROOMS_REDIRECT_LOADING,        /* the node is loading its data */
    ROOMS_REDIRECT_READONLY,       /* a write sent to a replica */
    ROOMS_REDIRECT_NOSCRIPT,       /* EVALSHA of a script not loaded */
    ROOMS_REDIRECT_MASTERDOWN,     /* a replica lost its master */
    ROOMS_REDIRECT_MALFORMED       /* MOVED or ASK that does not parse */
};


typedef struct {
    unsigned     slot;
    unsigned     port;

    /*
     * Points into the parsed string, not NUL-terminated.  Redis 7 prints
     * the node's preferred endpoint (cluster-preferred-endpoint-type):
     * an IPv4 or IPv6 address without brackets ("::1"), a hostname, "?"
     * for a node that announced no hostname (no address to go to:
     * refresh the slot map), or "" (host_len 0) for "unknown-endpoint":
     * the same host as the connection that got the reply.
     */
    const char  *host;
    size_t       host_len;
} rooms_redirect_t;


typedef struct {
    uint16_t     node[ROOMS_SLOTS];
} rooms_slot_map_t;


/*
 * CRC16-CCITT in its XMODEM form (polynomial 0x1021, no reflection, no
 * final xor), the checksum Redis Cluster hashes keys with, continuing
 * from crc (0 to start).  "123456789" gives 0x31c3.
 */
uint16_t rooms_crc16(uint16_t crc, const char *p, size_t len);

/*
 * The Redis Cluster hash slot (0..16383) of a key of any bytes: the CRC16
 * of its hash tag (what lies between the first '{' and the first '}'
 * after it, when that is not empty), else of the whole key, mod 16384.
 */
unsigned rooms_slot_of_key(const char *key, size_t len);

/*
 * Classifies an error reply by its first word, as hiredis gives it
 * (without the leading '-'); the word must be the whole string or be
 * followed by a space.  "MOVED <slot> <host>:<port>" and "ASK <slot>
 * <host>:<port>" also fill *rd: slot 0..16383 and port 1..65535 in
 * decimal (at most 5 digits), the host split at the last ':' (printable
 * ASCII without spaces, at most ROOMS_REDIRECT_HOST_MAX bytes, brackets
 * around an IPv6 address are removed), nothing after the port.  When
 * they do not parse the result is ROOMS_REDIRECT_MALFORMED.  Reads
 * nothing past s[len - 1].  *rd is zeroed for every other kind.
 */
int rooms_redirect_parse(const char *s, size_t len, rooms_redirect_t *rd);

/* the name of a ROOMS_REDIRECT_* kind, for logs */
const char *rooms_redirect_name(int kind);

/* every slot without a node */
void rooms_slot_map_init(rooms_slot_map_t *map);

/*
 * Gives the slots from..to (inclusive) to node (0..ROOMS_SLOT_NONE - 1,
 * or ROOMS_SLOT_NONE to clear them).  Returns 0, or -1 and changes
 * nothing if from > to or to >= ROOMS_SLOTS.
 */
int rooms_slot_map_set_range(rooms_slot_map_t *map, unsigned from,
    unsigned to, unsigned node);

/* the node of a slot, ROOMS_SLOT_NONE if none or slot >= ROOMS_SLOTS */
unsigned rooms_slot_map_lookup(const rooms_slot_map_t *map, unsigned slot);

/* how many slots have a node: ROOMS_SLOTS when the map covers them all */
unsigned rooms_slot_map_covered(const rooms_slot_map_t *map);


#endif /* _ROOMS_SLOT_H_INCLUDED_ */
