
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The admission cache ("rooms_cache"): the facts admission needs for one
 * (room, user) pair, in a shared memory zone of all workers, invalidated
 * by generations that the management API and Redis pub/sub events bump;
 * plus a per-worker cache of verified token signatures.
 */


#ifndef _NGX_HTTP_ROOMS_CACHE_H_INCLUDED_
#define _NGX_HTTP_ROOMS_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"


#define NGX_HTTP_ROOMS_DIGEST_LEN  16
#define NGX_HTTP_ROOMS_EVENT_SEQ   "rooms:events:seq"


/* what Redis said about a (room, user) pair */
typedef struct {
    int64_t                    from;        /* µs; INT64_MIN: no room */
    int64_t                    until;
    int64_t                    revoked;     /* seconds; -1: never */
    ngx_int_t                  role;        /* -1: not a participant */
    unsigned                   deleted:1;
} ngx_http_rooms_facts_t;


/*
 * The last decision a worker took from the zone for a token: the zone's
 * entry copied with the generations and epoch it is good for.  It is used
 * under the same conditions as the entry, so it is as fresh, and it spares
 * the walk of the zone's rbtree on a token's next requests.
 */
typedef struct {
    uint64_t                   room;
    ngx_http_rooms_facts_t     facts;
    uint32_t                   room_gen;
    uint32_t                   user_gen;
    uint32_t                   epoch;
    uint32_t                   expire;      /* low bits of ngx_current_msec */
    unsigned                   valid:1;
} ngx_http_rooms_memo_t;


/* a verified token, kept per worker */
typedef struct {
    ngx_str_t                  sub;
    ngx_str_t                  room;        /* empty: no room claim */
    int64_t                    iat;
    int64_t                    exp;
    int64_t                    nbf;
    u_char                     user[NGX_HTTP_ROOMS_DIGEST_LEN];
    ngx_http_rooms_memo_t      memo;
    unsigned                   has_iat:1;
    unsigned                   has_nbf:1;
} ngx_http_rooms_token_t;


char *ngx_http_rooms_cache_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_rooms_user_digest(ngx_str_t *sub, u_char *digest);

/*
 * NGX_OK with facts, NGX_DECLINED on a miss; fills snap either way.  A memo,
 * if any, is tried first, and is refreshed on a hit from the zone.
 */
ngx_int_t ngx_http_rooms_cache_get(ngx_http_request_t *r, uint64_t room,
    u_char *user, ngx_http_rooms_facts_t *facts, ngx_http_rooms_snap_t *snap,
    ngx_http_rooms_memo_t *memo);
void ngx_http_rooms_cache_put(ngx_http_request_t *r, uint64_t room,
    u_char *user, ngx_http_rooms_facts_t *facts, ngx_http_rooms_snap_t *snap);

/* invalidation: from the API (this gateway) and from pub/sub events */
void ngx_http_rooms_cache_invalidate_room(uint64_t room);
void ngx_http_rooms_cache_invalidate_user(u_char *user);
void ngx_http_rooms_cache_event(ngx_str_t *msg);
void ngx_http_rooms_cache_flush(void);
void ngx_http_rooms_cache_subscribed(ngx_uint_t up);
void ngx_http_rooms_cache_resync(uint64_t seq);

/* the per-worker cache of verified tokens; get sets the hash put takes */
ngx_http_rooms_token_t *ngx_http_rooms_token_get(ngx_str_t *token,
    rooms_jwks_t *keys, ngx_uint_t *hash);
ngx_http_rooms_token_t *ngx_http_rooms_token_put(ngx_uint_t hash,
    ngx_str_t *token, rooms_jwks_t *keys, rooms_jwt_claims_t *claims);

/* signatures this worker has checked, for $rooms_cache_stats */
extern ngx_uint_t  ngx_http_rooms_token_verifications;

/* publishing: the message for a room or a user */
size_t ngx_http_rooms_event_room(u_char *buf, ngx_str_t *room);
size_t ngx_http_rooms_event_user(u_char *buf, ngx_str_t *user);

ngx_uint_t ngx_http_rooms_cache_enabled(void);
ngx_int_t ngx_http_rooms_cache_stats(ngx_http_request_t *r, ngx_str_t *out);


#endif /* _NGX_HTTP_ROOMS_CACHE_H_INCLUDED_ */
