
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The admission cache ("rooms_cache"): the facts admission needs for one
 * (room, user) pair, in a shared memory zone of all workers, invalidated
 * by generations that the management API and the events of other
 * gateways bump.
 */


#ifndef _NGX_HTTP_ROOMS_CACHE_H_INCLUDED_
#define _NGX_HTTP_ROOMS_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_store.h"


#define NGX_HTTP_ROOMS_DIGEST_LEN  16


/* the cache's generations, taken before asking Redis */
typedef struct {
    uint32_t                   room_gen;
    uint32_t                   user_gen;
    uint32_t                   epoch;
    unsigned                   usable:1;
} ngx_http_rooms_snap_t;


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


typedef struct {
    ngx_atomic_uint_t          entries;
    ngx_atomic_uint_t          generations;
    ngx_atomic_uint_t          hits;
    ngx_atomic_uint_t          misses;
    ngx_atomic_uint_t          evictions;
    size_t                     size;
    ngx_uint_t                 subscribed;  /* this worker's */
} ngx_http_rooms_cache_stats_t;


char *ngx_http_rooms_cache_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_rooms_cache_init_process(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_rooms_cache_enabled(void);

/* the 16 bytes of a user id's SHA-256 the zone knows a user by */
void ngx_http_rooms_user_digest(ngx_str_t *sub, u_char *digest);

/*
 * NGX_OK with facts, NGX_DECLINED on a miss; fills snap either way.  A memo,
 * if any, is tried first, and is refreshed on a hit from the zone.
 */
ngx_int_t ngx_http_rooms_cache_get(uint64_t room, u_char *user,
    ngx_http_rooms_facts_t *facts, ngx_http_rooms_snap_t *snap,
    ngx_http_rooms_memo_t *memo);
void ngx_http_rooms_cache_put(uint64_t room, u_char *user,
    ngx_http_rooms_facts_t *facts, ngx_http_rooms_snap_t *snap);

/* invalidation: by the API of this gateway, and by events of others */
void ngx_http_rooms_cache_invalidate_room(uint64_t room);
void ngx_http_rooms_cache_invalidate_user(u_char *user);
void ngx_http_rooms_cache_flush(void);

/* the events: this worker's subscription, numbered events applied */
void ngx_http_rooms_cache_subscribed(ngx_uint_t up);
void ngx_http_rooms_cache_resync(uint64_t seq);
void ngx_http_rooms_cache_applied(uint64_t seq);

/* NGX_DECLINED when there is no zone */
ngx_int_t ngx_http_rooms_cache_stats(ngx_http_rooms_cache_stats_t *st);


#endif /* _NGX_HTTP_ROOMS_CACHE_H_INCLUDED_ */
