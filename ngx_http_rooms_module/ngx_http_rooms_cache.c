
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Entries hold the facts about one (room, user) pair: the room's window,
 * the user's role in it and the user's revocation.  An entry is trusted
 * only if
 *   - it is younger than the zone's ttl,
 *   - the room's and the user's generations are those it was made with
 *     (the API bumps them on every change, and so does every worker on a
 *     Redis pub/sub event from other gateways),
 *   - the zone's epoch is the one it was made with (bumped when events
 *     may have been missed: see ngx_http_rooms_cache_resync()),
 *   - and this worker's subscription is up.
 * Generations live in nodes of their own, created on the first
 * invalidation; a missing node reads as the zone's floor, which rises
 * whenever a node is evicted, so an eviction only ever makes entries
 * stale.  Everything is under the zone's mutex; memory pressure evicts
 * the least recently used entries, and a full zone means "not cached",
 * never a failed request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/sha.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_cache.h"
#include "ngx_http_rooms_metrics.h"


#define NGX_HTTP_ROOMS_EVICT         8


/*
 * At most 128 bytes, the slab allocator's slot: the generations and the
 * epoch are kept as their low 32 bits (only equality matters), the
 * revocation in seconds (0: none), the expiry and the last move to the
 * head of the LRU queue as the low 32 bits of ngx_current_msec.
 */

typedef struct {
    ngx_rbtree_node_t          node;        /* key: room ^ user bits */
    ngx_queue_t                queue;
    uint64_t                   room;
    u_char                     user[NGX_HTTP_ROOMS_DIGEST_LEN];
    int64_t                    from;
    int64_t                    until;
    uint32_t                   room_gen;
    uint32_t                   user_gen;
    uint32_t                   epoch;
    uint32_t                   revoked;
    uint32_t                   expire;
    uint32_t                   touched;
    int8_t                     role;
    uint8_t                    deleted;
} ngx_http_rooms_entry_t;

/* fails to compile when an entry outgrows its 128-byte slab slot */
typedef char  ngx_http_rooms_entry_fits_t[sizeof(ngx_http_rooms_entry_t) <= 128
                                          ? 1 : -1];


#define ngx_http_rooms_entry_live(e)                                         \
    ((int32_t) ((e)->expire - (uint32_t) ngx_current_msec) > 0)

/* a zone entry or a token's memo of one, still good at this snapshot */
#define ngx_http_rooms_entry_fresh(e, snap)                                  \
    ((e)->room_gen == (snap)->room_gen && (e)->user_gen == (snap)->user_gen \
     && (e)->epoch == (snap)->epoch && ngx_http_rooms_entry_live(e))


typedef struct {
    ngx_rbtree_node_t          node;        /* key: room, or user bits */
    ngx_queue_t                queue;
    u_char                     id[NGX_HTTP_ROOMS_DIGEST_LEN];
    uint64_t                   gen;
    ngx_msec_t                 used;
} ngx_http_rooms_gen_t;


typedef struct {
    ngx_rbtree_t               entries;
    ngx_rbtree_node_t          entries_sentinel;
    ngx_rbtree_t               gens;
    ngx_rbtree_node_t          gens_sentinel;
    ngx_queue_t                entries_lru;
    ngx_queue_t                gens_lru;
    uint64_t                   counter;
    uint64_t                   floor;
    uint64_t                   epoch;
    uint64_t                   last_seq;    /* of the events applied */
    ngx_atomic_uint_t          entries_n;
    ngx_atomic_uint_t          gens_n;
    ngx_atomic_uint_t          hits;
    ngx_atomic_uint_t          misses;
    ngx_atomic_uint_t          evictions;
} ngx_http_rooms_cache_sh_t;


typedef struct {
    ngx_http_rooms_cache_sh_t *sh;
    ngx_slab_pool_t           *shpool;
    ngx_msec_t                 ttl;
} ngx_http_rooms_cache_ctx_t;


static ngx_http_rooms_cache_ctx_t    *ngx_http_rooms_cache;
static ngx_uint_t                     ngx_http_rooms_subscribed;


/* configuration */


static void
ngx_http_rooms_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_http_rooms_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_rooms_cache_ctx_t  *octx = data;

    size_t                       len;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx != NULL) {
        /* a reload: keep what the old cycle cached */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_rooms_cache_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ctx->sh, sizeof(ngx_http_rooms_cache_sh_t));
    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->entries, &ctx->sh->entries_sentinel,
                    ngx_http_rooms_cache_rbtree_insert);
    ngx_rbtree_init(&ctx->sh->gens, &ctx->sh->gens_sentinel,
                    ngx_http_rooms_cache_rbtree_insert);
    ngx_queue_init(&ctx->sh->entries_lru);
    ngx_queue_init(&ctx->sh->gens_lru);

    len = sizeof(" in rooms_cache zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in rooms_cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is normal: it evicts, it does not log */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


char *
ngx_http_rooms_cache_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_loc_conf_t *rlcf = conf;

    u_char                      *p;
    ssize_t                      size;
    ngx_str_t                   *value, name, s;
    ngx_uint_t                   i;
    ngx_msec_t                   ttl;
    ngx_shm_zone_t              *shm_zone;
    ngx_http_rooms_main_conf_t  *rmcf;
    ngx_http_rooms_cache_ctx_t  *ctx;

    value = cf->args->elts;

    if (rlcf->cache != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        rlcf->cache = 0;
        return NGX_CONF_OK;
    }

    if (cf->cmd_type != NGX_HTTP_MAIN_CONF) {
        return "takes only \"off\" here: the zone is declared in the "
               "http block";
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    name.len = 0;
    size = 0;
    ttl = 5000;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                goto invalid;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (name.len == 0 || size == NGX_ERROR) {
                goto invalid;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "rooms_cache: zone \"%V\" is too small, "
                                   "use at least %uzk", &name,
                                   8 * ngx_pagesize / 1024);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ttl = ngx_parse_time(&s, 0);
            if (ttl == (ngx_msec_t) NGX_ERROR || ttl == 0) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_cache: \"zone=NAME:SIZE\" is required");
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_cache_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->ttl = ttl;

    shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_rooms_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_cache: zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_rooms_cache_init_zone;
    shm_zone->data = ctx;

    rmcf->cache_zone = shm_zone;
    rlcf->cache = 1;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "rooms_cache: invalid parameter \"%V\" (expected "
                       "zone=NAME:SIZE [ttl=TIME], or off)", &value[i]);

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_rooms_cache_init_process(ngx_cycle_t *cycle)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    ngx_http_rooms_cache = NULL;
    ngx_http_rooms_subscribed = 0;

    if (rmcf != NULL && rmcf->used && rmcf->cache_zone != NULL) {
        ngx_http_rooms_cache = rmcf->cache_zone->data;

        /* read where they are kept */
        ngx_http_rooms_metrics_cache_zone(&ngx_http_rooms_cache->sh->entries_n,
                                      &ngx_http_rooms_cache->sh->evictions);
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_rooms_cache_enabled(void)
{
    return ngx_http_rooms_cache != NULL;
}


/* digests */


void
ngx_http_rooms_user_digest(ngx_str_t *sub, u_char *digest)
{
    u_char  md[SHA256_DIGEST_LENGTH];

    SHA256(sub->data, sub->len, md);
    ngx_memcpy(digest, md, NGX_HTTP_ROOMS_DIGEST_LEN);
}


static ngx_rbtree_key_t
ngx_http_rooms_user_key(u_char *user)
{
    ngx_rbtree_key_t  k;

    ngx_memcpy(&k, user, sizeof(ngx_rbtree_key_t));

    return k;
}


/* generations, under the mutex */


static ngx_http_rooms_gen_t *
ngx_http_rooms_gen_find(ngx_http_rooms_cache_sh_t *sh, ngx_rbtree_key_t key,
    u_char *id)
{
    ngx_rbtree_node_t     *node, *sentinel;
    ngx_http_rooms_gen_t  *g;

    node = sh->gens.root;
    sentinel = sh->gens.sentinel;

    while (node != sentinel) {
        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        g = (ngx_http_rooms_gen_t *) node;

        if (ngx_memcmp(g->id, id, NGX_HTTP_ROOMS_DIGEST_LEN) == 0) {
            return g;
        }

        node = node->right;
    }

    return NULL;
}


static uint64_t
ngx_http_rooms_gen_get(ngx_http_rooms_cache_sh_t *sh, ngx_rbtree_key_t key,
    u_char *id)
{
    ngx_http_rooms_gen_t  *g;

    g = ngx_http_rooms_gen_find(sh, key, id);

    if (g == NULL) {
        return sh->floor;
    }

    g->used = ngx_current_msec;
    ngx_queue_remove(&g->queue);
    ngx_queue_insert_head(&sh->gens_lru, &g->queue);

    return g->gen;
}


static void
ngx_http_rooms_entry_free(ngx_http_rooms_cache_ctx_t *ctx,
    ngx_http_rooms_entry_t *e)
{
    ngx_queue_remove(&e->queue);
    ngx_rbtree_delete(&ctx->sh->entries, &e->node);
    ngx_slab_free_locked(ctx->shpool, e);
    ctx->sh->entries_n--;
}


static void
ngx_http_rooms_gen_free(ngx_http_rooms_cache_ctx_t *ctx,
    ngx_http_rooms_gen_t *g)
{
    /* entries made with this generation must not match the floor later */

    if (g->gen > ctx->sh->floor) {
        ctx->sh->floor = g->gen;
    }

    ngx_queue_remove(&g->queue);
    ngx_rbtree_delete(&ctx->sh->gens, &g->node);
    ngx_slab_free_locked(ctx->shpool, g);
    ctx->sh->gens_n--;
}


/*
 * Frees expired entries and generations (at most a few per call), then,
 * if force, the least recently used ones whatever their age.
 */

static void
ngx_http_rooms_cache_expire(ngx_http_rooms_cache_ctx_t *ctx, ngx_uint_t force)
{
    ngx_uint_t               n;
    ngx_queue_t             *q;
    ngx_http_rooms_gen_t    *g;
    ngx_http_rooms_entry_t  *e;

    for (n = 0; n < NGX_HTTP_ROOMS_EVICT; n++) {
        if (ngx_queue_empty(&ctx->sh->entries_lru)) {
            break;
        }

        q = ngx_queue_last(&ctx->sh->entries_lru);
        e = ngx_queue_data(q, ngx_http_rooms_entry_t, queue);

        if (!force && ngx_http_rooms_entry_live(e)) {
            break;
        }

        if (force) {
            (void) ngx_atomic_fetch_add(&ctx->sh->evictions, 1);
        }

        ngx_http_rooms_entry_free(ctx, e);
    }

    for (n = 0; n < NGX_HTTP_ROOMS_EVICT; n++) {
        if (ngx_queue_empty(&ctx->sh->gens_lru)) {
            break;
        }

        q = ngx_queue_last(&ctx->sh->gens_lru);
        g = ngx_queue_data(q, ngx_http_rooms_gen_t, queue);

        /*
         * A generation nobody has read for longer than the ttl is held by
         * no live entry; freeing it then still raises the floor, which is
         * only ever conservative.
         */

        if (!force
            && (ngx_msec_int_t) (ngx_current_msec - g->used)
               <= (ngx_msec_int_t) ctx->ttl)
        {
            break;
        }

        ngx_http_rooms_gen_free(ctx, g);
    }
}


static void *
ngx_http_rooms_cache_alloc(ngx_http_rooms_cache_ctx_t *ctx, size_t size)
{
    void  *p;

    ngx_http_rooms_cache_expire(ctx, 0);

    p = ngx_slab_alloc_locked(ctx->shpool, size);

    if (p == NULL) {
        ngx_http_rooms_cache_expire(ctx, 1);
        p = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    return p;
}


static void
ngx_http_rooms_gen_bump(ngx_rbtree_key_t key, u_char *id)
{
    ngx_http_rooms_gen_t        *g;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    g = ngx_http_rooms_gen_find(ctx->sh, key, id);

    if (g == NULL) {
        g = ngx_http_rooms_cache_alloc(ctx, sizeof(ngx_http_rooms_gen_t));

        if (g == NULL) {
            /* no room for the node: forget everything instead */
            ctx->sh->epoch++;
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return;
        }

        g->node.key = key;
        ngx_memcpy(g->id, id, NGX_HTTP_ROOMS_DIGEST_LEN);
        ngx_rbtree_insert(&ctx->sh->gens, &g->node);
        ctx->sh->gens_n++;
        ngx_queue_insert_head(&ctx->sh->gens_lru, &g->queue);

    } else {
        ngx_queue_remove(&g->queue);
        ngx_queue_insert_head(&ctx->sh->gens_lru, &g->queue);
    }

    /* above the floor too, so entries that read the floor go stale */

    if (ctx->sh->counter < ctx->sh->floor) {
        ctx->sh->counter = ctx->sh->floor;
    }

    g->gen = ++ctx->sh->counter;
    g->used = ngx_current_msec;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static void
ngx_http_rooms_room_id(uint64_t room, u_char *id)
{
    ngx_memzero(id, NGX_HTTP_ROOMS_DIGEST_LEN);
    ngx_memcpy(id, &room, sizeof(uint64_t));
    id[NGX_HTTP_ROOMS_DIGEST_LEN - 1] = 'r';
}


void
ngx_http_rooms_cache_invalidate_room(uint64_t room)
{
    u_char  id[NGX_HTTP_ROOMS_DIGEST_LEN];

    ngx_http_rooms_room_id(room, id);
    ngx_http_rooms_gen_bump((ngx_rbtree_key_t) room, id);
}


void
ngx_http_rooms_cache_invalidate_user(u_char *user)
{
    ngx_http_rooms_gen_bump(ngx_http_rooms_user_key(user), user);
}


void
ngx_http_rooms_cache_flush(void)
{
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);
    ctx->sh->epoch++;
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Continuity of the events: every change published by any gateway carries
 * the next number of a Redis counter.  A worker that subscribes compares
 * the counter with the last number this zone applied: if some are
 * missing (no worker was listening), the zone is flushed; if not, the
 * entries stay trusted, as after a reload.
 */

void
ngx_http_rooms_cache_subscribed(ngx_uint_t up)
{
    ngx_http_rooms_subscribed = 0;

    if (!up) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "rooms cache: subscription down, bypassed");
    }
}


void
ngx_http_rooms_cache_resync(uint64_t seq)
{
    ngx_uint_t                   flushed;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return;
    }

    flushed = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (seq > ctx->sh->last_seq) {
        ctx->sh->epoch++;
        ctx->sh->last_seq = seq;
        flushed = 1;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "rooms cache: subscribed at event %uL%s", seq,
                  flushed ? ", changes were missed: cache flushed" : "");

    if (flushed) {
        ngx_http_rooms_metrics_event_gap();
    }

    ngx_http_rooms_subscribed = 1;
}


/*
 * An event numbered seq was applied (its invalidation done): another worker
 * may have applied it first, so only a jump in the numbers is a gap, and
 * a gap flushes the zone
 */

void
ngx_http_rooms_cache_applied(uint64_t seq)
{
    ngx_uint_t                   gap;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    gap = (seq > ctx->sh->last_seq + 1);

    if (gap) {
        ctx->sh->epoch++;
    }

    if (seq > ctx->sh->last_seq) {
        ctx->sh->last_seq = seq;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (gap) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "rooms cache: events before %uL were missed, "
                      "cache flushed", seq);

        ngx_http_rooms_metrics_event_gap();
    }
}


/* entries */


static ngx_http_rooms_entry_t *
ngx_http_rooms_entry_find(ngx_http_rooms_cache_sh_t *sh, uint64_t room,
    u_char *user)
{
    ngx_rbtree_key_t         key;
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_http_rooms_entry_t  *e;

    key = (ngx_rbtree_key_t) room ^ ngx_http_rooms_user_key(user);
    node = sh->entries.root;
    sentinel = sh->entries.sentinel;

    while (node != sentinel) {
        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        e = (ngx_http_rooms_entry_t *) node;

        if (e->room == room
            && ngx_memcmp(e->user, user, NGX_HTTP_ROOMS_DIGEST_LEN) == 0)
        {
            return e;
        }

        node = node->right;
    }

    return NULL;
}


ngx_int_t
ngx_http_rooms_cache_get(uint64_t room, u_char *user,
    ngx_http_rooms_facts_t *facts, ngx_http_rooms_snap_t *snap,
    ngx_http_rooms_memo_t *memo)
{
    u_char                       rid[NGX_HTTP_ROOMS_DIGEST_LEN];
    ngx_int_t                    rc;
    ngx_http_rooms_entry_t      *e;
    ngx_http_rooms_cache_sh_t   *sh;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;
    snap->usable = 0;

    if (ctx == NULL || !ngx_http_rooms_subscribed) {
        return NGX_DECLINED;
    }

    ngx_http_rooms_room_id(room, rid);

    sh = ctx->sh;
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    snap->room_gen = (uint32_t) ngx_http_rooms_gen_get(sh,
                                              (ngx_rbtree_key_t) room, rid);
    snap->user_gen = (uint32_t) ngx_http_rooms_gen_get(sh,
                                      ngx_http_rooms_user_key(user), user);
    snap->epoch = (uint32_t) sh->epoch;
    snap->usable = 1;

    /*
     * the token's memo of the zone's last decision for it, under the same
     * conditions as an entry: no walk of the tree, no move in the queue
     */

    if (memo != NULL && memo->valid && memo->room == room) {
        if (ngx_http_rooms_entry_fresh(memo, snap)) {
            *facts = memo->facts;
            rc = NGX_OK;
            goto done;
        }

        memo->valid = 0;
    }

    e = ngx_http_rooms_entry_find(sh, room, user);

    if (e != NULL) {
        if (ngx_http_rooms_entry_fresh(e, snap)) {
            facts->from = e->from;
            facts->until = e->until;
            facts->revoked = e->revoked ? (int64_t) e->revoked : -1;
            facts->role = e->role;
            facts->deleted = e->deleted;

            if (memo != NULL) {
                memo->room = room;
                memo->facts = *facts;
                memo->room_gen = e->room_gen;
                memo->user_gen = e->user_gen;
                memo->epoch = e->epoch;
                memo->expire = e->expire;
                memo->valid = 1;
            }

            /*
             * to the head of the queue at most once a second: a move
             * writes to two neighbours in shared memory on every hit,
             * and the order within a second does not matter to eviction
             */

            if ((uint32_t) ngx_current_msec - e->touched >= 1000) {
                e->touched = (uint32_t) ngx_current_msec;
                ngx_queue_remove(&e->queue);
                ngx_queue_insert_head(&sh->entries_lru, &e->queue);
            }

            rc = NGX_OK;

        } else {
            ngx_http_rooms_entry_free(ctx, e);
        }
    }

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    (void) ngx_atomic_fetch_add(rc == NGX_OK ? &sh->hits : &sh->misses, 1);

    return rc;
}


void
ngx_http_rooms_cache_put(uint64_t room, u_char *user,
    ngx_http_rooms_facts_t *facts, ngx_http_rooms_snap_t *snap)
{
    ngx_http_rooms_entry_t      *e;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL || !snap->usable || !ngx_http_rooms_subscribed
        || facts->revoked > (int64_t) UINT32_MAX)
    {
        /* (a revocation past 2106 does not fit an entry: not cached) */
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /*
     * the generations of the snapshot, taken before Redis was asked: if
     * an invalidation came meanwhile, the entry is stale from the start
     */

    e = ngx_http_rooms_entry_find(ctx->sh, room, user);

    if (e == NULL) {
        e = ngx_http_rooms_cache_alloc(ctx, sizeof(ngx_http_rooms_entry_t));

        if (e == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return;
        }

        e->room = room;
        ngx_memcpy(e->user, user, NGX_HTTP_ROOMS_DIGEST_LEN);
        e->node.key = (ngx_rbtree_key_t) room ^ ngx_http_rooms_user_key(user);
        ngx_rbtree_insert(&ctx->sh->entries, &e->node);
        ctx->sh->entries_n++;

    } else {
        ngx_queue_remove(&e->queue);
    }

    ngx_queue_insert_head(&ctx->sh->entries_lru, &e->queue);

    e->room_gen = snap->room_gen;
    e->user_gen = snap->user_gen;
    e->epoch = snap->epoch;
    e->from = facts->from;
    e->until = facts->until;
    e->revoked = facts->revoked > 0 ? (uint32_t) facts->revoked : 0;
    e->role = (int8_t) facts->role;
    e->deleted = facts->deleted;
    e->expire = (uint32_t) (ngx_current_msec + ctx->ttl);
    e->touched = (uint32_t) ngx_current_msec;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* the zone's counters, for $rooms_cache_stats */

ngx_int_t
ngx_http_rooms_cache_stats(ngx_http_rooms_cache_stats_t *st)
{
    ngx_http_rooms_cache_sh_t   *sh;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return NGX_DECLINED;
    }

    sh = ctx->sh;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    st->entries = sh->entries_n;
    st->generations = sh->gens_n;
    st->hits = sh->hits;
    st->misses = sh->misses;
    st->evictions = sh->evictions;
    st->size = (u_char *) ctx->shpool->end - (u_char *) ctx->shpool;
    st->subscribed = ngx_http_rooms_subscribed;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}
