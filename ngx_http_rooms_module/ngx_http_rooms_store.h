
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The data model in Redis, and its one owner: the keys, their fields, the
 * Lua scripts (ngx_http_rooms_module/lua/, embedded at build time) and
 * the commands of every operation, appended to an adapter batch, with
 * the readers of their replies.  Nothing else in the module names a key.
 *
 *     rooms:{ID}          hash  c createdAt, f validFrom, u validUntil
 *                               (microseconds), p pstnDialOutEnabled
 *     rooms:{ID}:p        hash  raw user id -> role name
 *     rooms:{ID}:rep      hash  the create request with a
 *                               Repeatability-Request-ID that made the
 *                               room: h its body's hash, c f u p answered
 *     rooms:index:{N}     zset  room ids by createdAt, for listing: in
 *                               shards of their own slots, a room in the
 *                               shard of its id's value mod 16
 *     rooms:index         zset  the same, of earlier versions: read, and
 *                               emptied by deletions and pruning
 *     rooms:user:{RAWID}  hash  c created (microseconds), r tokens with an
 *                               iat before it (seconds) are refused,
 *                               d "1" once the identity is deleted
 *     rooms:events:seq    string  the number of the last event published
 *                                 on the channel rooms:events:<db>
 *     rooms:{ID}:g        zset  the room's seat holders (gateway workers)
 *                               -> lease expiry (ms, Redis' clock)
 *     rooms:{ID}:s        hash  raw user id -> "holder connectedAt ..."
 *                               (ms): the user's seat, one per user
 *
 * Every key of a room shares the hash slot of {ID}, every key of a user
 * the slot of {RAWID}.  Room keys expire at validUntil.
 */


#ifndef _NGX_HTTP_ROOMS_STORE_H_INCLUDED_
#define _NGX_HTTP_ROOMS_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_redis.h"
#include "rooms_model.h"


/* what the create script answered (never NGX_OK nor NGX_ERROR) */
#define NGX_HTTP_ROOMS_STORE_CREATED    1    /* made now */
#define NGX_HTTP_ROOMS_STORE_REPLAYED   2    /* a retry: the first answer */
#define NGX_HTTP_ROOMS_STORE_TAKEN      3    /* the id exists already */
#define NGX_HTTP_ROOMS_STORE_MISMATCH   4    /* a retry with another body */

/* what the update script answered */
#define NGX_HTTP_ROOMS_STORE_UPDATED    1
#define NGX_HTTP_ROOMS_STORE_NO_ROOM    2
#define NGX_HTTP_ROOMS_STORE_REFUSED    3    /* the window it would make */

/* what a revocation answered */
#define NGX_HTTP_ROOMS_STORE_REVOKED    1
#define NGX_HTTP_ROOMS_STORE_NO_USER    2    /* never created, or deleted */
#define NGX_HTTP_ROOMS_STORE_WAS_GONE   3    /* deleted before, delete again */


/* why a seat was not taken */
#define NGX_HTTP_ROOMS_SEAT_OK           0
#define NGX_HTTP_ROOMS_SEAT_NOT_INVITED  1    /* no room, or not in it */
#define NGX_HTTP_ROOMS_SEAT_WINDOW       2
#define NGX_HTTP_ROOMS_SEAT_PRESENT      3    /* seated, and mode reject */
#define NGX_HTTP_ROOMS_SEAT_FULL         4

/* the modes of a second session of a seated user */
#define NGX_HTTP_ROOMS_SEAT_REPLACE      0
#define NGX_HTTP_ROOMS_SEAT_REJECT       1
#define NGX_HTTP_ROOMS_SEAT_ALLOW        2


/* an argument vector over ngx_str_t, of a size fixed at init */
typedef struct {
    ngx_str_t                 *argv;
    ngx_uint_t                 argc;
    ngx_uint_t                 size;
    ngx_pool_t                *pool;       /* for printed numbers */
    unsigned                   failed:1;
} ngx_http_rooms_argv_t;


/* what Redis says about a (room, user) pair, for admission */
typedef struct {
    int64_t                    from;        /* µs; INT64_MIN: no room */
    int64_t                    until;
    int64_t                    revoked;     /* seconds; -1: never */
    ngx_int_t                  role;        /* -1: not a participant */
    unsigned                   deleted:1;
} ngx_http_rooms_facts_t;


/* an entry of the index of rooms */
typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  score_str;   /* createdAt, as stored */
    int64_t                    score;
} ngx_http_rooms_index_entry_t;


/* a user's record */
typedef struct {
    int64_t                    revoked;     /* seconds; 0: never */
    unsigned                   exists:1;
    unsigned                   deleted:1;
} ngx_http_rooms_user_t;


ngx_int_t ngx_http_rooms_argv_init(ngx_http_rooms_argv_t *a, ngx_pool_t *pool,
    ngx_uint_t size);
void ngx_http_rooms_argv_push(ngx_http_rooms_argv_t *a, u_char *data,
    size_t len);
void ngx_http_rooms_argv_int(ngx_http_rooms_argv_t *a, int64_t v);

#define ngx_http_rooms_argv_str(a, s)                                        \
    ngx_http_rooms_argv_push(a, (s)->data, (s)->len)
#define ngx_http_rooms_argv_lit(a, s)                                        \
    ngx_http_rooms_argv_push(a, (u_char *) s, sizeof(s) - 1)


/* registers the scripts; the channel of the events of db in *channel */
ngx_int_t ngx_http_rooms_store_init_conf(ngx_conf_t *cf, ngx_int_t db,
    ngx_str_t *channel);

/*
 * The one reader of stored integers: an integer reply, or a string of
 * decimal digits (rooms_time_parse_int()).  NGX_DECLINED for a nil or an
 * empty string, NGX_ERROR for anything else.
 */
ngx_int_t ngx_http_rooms_store_int(ngx_http_rooms_reply_t *rep, int64_t *v);


/* rooms: the first reply of each is the one that tells */

/*
 * creates room->id with its participants; with rep_hash (the body's hash,
 * base64), records the request beside the room until record_until (ms)
 */
ngx_int_t ngx_http_rooms_store_room_create(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, rooms_room_t *room, rooms_room_req_t *req,
    ngx_str_t *rep_hash, int64_t record_until);
/* NGX_HTTP_ROOMS_STORE_CREATED etc., room filled for the first two */
ngx_int_t ngx_http_rooms_store_room_created(ngx_http_rooms_reply_t *rep,
    rooms_room_t *room);

ngx_int_t ngx_http_rooms_store_room_get(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id);
/* NGX_OK with room filled, NGX_DECLINED for no room */
ngx_int_t ngx_http_rooms_store_room_read(ngx_http_rooms_reply_t *rep,
    rooms_room_t *room);

/* a merge: ROOMS_TIME_UNSET from and until, pstn < 0 keep the field */
ngx_int_t ngx_http_rooms_store_room_update(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id, int64_t now, int64_t from,
    int64_t until, ngx_int_t pstn);
/*
 * NGX_HTTP_ROOMS_STORE_UPDATED with room filled, NO_ROOM, or REFUSED with
 * room's window the one the update would have made
 */
ngx_int_t ngx_http_rooms_store_room_updated(ngx_http_rooms_reply_t *rep,
    rooms_room_t *room);

/* the room's keys, and its entry in the index: three commands */
ngx_int_t ngx_http_rooms_store_room_delete(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id);
/* 1 if a room was deleted, 0 if there was none, NGX_ERROR */
ngx_int_t ngx_http_rooms_store_room_deleted(ngx_http_rooms_reply_t *rep);

ngx_int_t ngx_http_rooms_store_room_index(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, rooms_room_t *room);

/*
 * Up to count (id, score) pairs from score min ("" for all) of every shard
 * of the index: returns the number of commands appended, 0 on failure
 */
ngx_uint_t ngx_http_rooms_store_index_page(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *min, ngx_uint_t count);
/* their replies merged, in createdAt and then id order */
ngx_int_t ngx_http_rooms_store_index_read(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n,
    ngx_http_rooms_index_entry_t **entries, ngx_uint_t *count);
/* forgets id in the index, with no one waiting for the reply */
void ngx_http_rooms_store_index_forget(ngx_log_t *log, ngx_pool_t *pool,
    ngx_str_t *id);

/* the room's createdAt and its participants: two commands */
ngx_int_t ngx_http_rooms_store_participants_get(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id);
/*
 * NGX_DECLINED for no room; else NGX_OK and *p, *n: the participants, raw
 * ids pointing into the reply, unsorted
 */
ngx_int_t ngx_http_rooms_store_participants_read(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *replies, rooms_participant_t **p, size_t *n);

/* adds, changes (role) and removes (ROOMS_ROLE_REMOVE) participants */
ngx_int_t ngx_http_rooms_store_participants_patch(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id, rooms_room_req_t *req);
/* 1, or 0 for no room */
ngx_int_t ngx_http_rooms_store_participants_patched(
    ngx_http_rooms_reply_t *rep);
/*
 * after 1: the role each participant of req had before the change, in
 * req's order, in prev[]: ROOMS_ROLE_* or -1 for none
 */
ngx_int_t ngx_http_rooms_store_participants_previous(
    ngx_http_rooms_reply_t *rep, rooms_room_req_t *req, ngx_int_t *prev);


/* users */

ngx_int_t ngx_http_rooms_store_user_create(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id, int64_t now);
ngx_int_t ngx_http_rooms_store_user_get(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id);
ngx_int_t ngx_http_rooms_store_user_read(ngx_http_rooms_reply_t *rep,
    ngx_http_rooms_user_t *user);
/* revokes the tokens issued before now (seconds); deletes if asked */
ngx_int_t ngx_http_rooms_store_user_revoke(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id, int64_t now, ngx_uint_t delete);
/* NGX_HTTP_ROOMS_STORE_REVOKED etc. */
ngx_int_t ngx_http_rooms_store_user_revoked(ngx_http_rooms_reply_t *rep);


/* admission: the room's window, the user's role in it, the user's record */

ngx_int_t ngx_http_rooms_store_admission(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *user);
/* NGX_OK with facts, NGX_ERROR (logged) for what the API never writes */
ngx_int_t ngx_http_rooms_store_admission_read(ngx_log_t *log,
    ngx_http_rooms_reply_t *replies, ngx_str_t *room,
    ngx_http_rooms_facts_t *facts);


/* live sessions: the seats */

typedef struct {
    ngx_uint_t                 refused;     /* NGX_HTTP_ROOMS_SEAT_* */
    ngx_int_t                  role;
    int64_t                    now;         /* µs, Redis' clock */
    int64_t                    from;        /* the room's window, µs */
    int64_t                    until;
    unsigned                   replaced:1;  /* older sessions end */
} ngx_http_rooms_seat_t;

typedef struct {
    ngx_int_t                  role;        /* -1: not a participant */
    ngx_uint_t                 seat;        /* 0 nobody's, 1 the holder's,
                                               2 only other holders' */
} ngx_http_rooms_seat_check_t;

typedef struct {
    ngx_str_t                  user;
    ngx_int_t                  role;        /* -1: not a participant */
    int64_t                    connected;   /* ms */
    ngx_str_t                  gateway;
} ngx_http_rooms_seat_entry_t;


/* a worker's name as a holder of seats: gateway, pid, a random nonce */
ngx_int_t ngx_http_rooms_store_holder(ngx_pool_t *pool, ngx_str_t *gateway,
    ngx_pid_t pid, uint32_t nonce, ngx_str_t *holder);

/* takes (or shares, or replaces) user's seat in room for holder */
ngx_int_t ngx_http_rooms_store_seat(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_str_t *user,
    ngx_uint_t max, ngx_msec_t lease, ngx_uint_t mode);
ngx_int_t ngx_http_rooms_store_seat_read(ngx_http_rooms_reply_t *rep,
    ngx_http_rooms_seat_t *seat);

/* gives users' seats back; leave: and the holder's lease in the room */
ngx_int_t ngx_http_rooms_store_seats_release(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_uint_t leave,
    ngx_str_t *users, ngx_uint_t n);

ngx_int_t ngx_http_rooms_store_seats_renew(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_msec_t lease);
/* 1 renewed, 0 the lease was lost, NGX_ERROR */
ngx_int_t ngx_http_rooms_store_seats_renewed(ngx_http_rooms_reply_t *rep);

/* after a lost lease: the holder's seats again, for users */
ngx_int_t ngx_http_rooms_store_seats_restore(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_msec_t lease,
    ngx_str_t *users, ngx_uint_t n);

/* the window, the holder's lease, and users' roles and seats */
ngx_int_t ngx_http_rooms_store_seats_check(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_str_t *users,
    ngx_uint_t n);
/* NGX_DECLINED for no room */
ngx_int_t ngx_http_rooms_store_seats_checked(ngx_http_rooms_reply_t *rep,
    int64_t *from, int64_t *until, ngx_uint_t *held,
    ngx_http_rooms_seat_check_t *users, ngx_uint_t n);

/* takes user's seat in room away, on every holder */
ngx_int_t ngx_http_rooms_store_seats_kick(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *user);
/* NGX_OK with Redis' time (µs), NGX_DECLINED for no room */
ngx_int_t ngx_http_rooms_store_seats_kicked(ngx_http_rooms_reply_t *rep,
    int64_t *now);

/* who is in the room, one entry per user */
ngx_int_t ngx_http_rooms_store_seats_list(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room);
/* NGX_DECLINED for no room; entries point into the reply */
ngx_int_t ngx_http_rooms_store_seats_listed(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *rep, ngx_http_rooms_seat_entry_t **entries,
    ngx_uint_t *n);


/* events */

/* publishes msg on channel, numbered by rooms:events:seq */
ngx_int_t ngx_http_rooms_store_publish(ngx_http_rooms_batch_t *b,
    ngx_str_t *channel, ngx_str_t *msg);
/* the number of the last event published */
ngx_int_t ngx_http_rooms_store_event_seq(ngx_http_rooms_batch_t *b);

/*
 * appends event (a JSON text) to the stream key, trimmed to about maxlen
 * entries (0: not trimmed): the change feed
 */
ngx_int_t ngx_http_rooms_store_stream_add(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *key, ngx_uint_t maxlen, ngx_str_t *event);


#endif /* _NGX_HTTP_ROOMS_STORE_H_INCLUDED_ */
