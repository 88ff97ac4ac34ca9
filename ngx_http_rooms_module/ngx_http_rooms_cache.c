
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
#include "rooms_id.h"


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


typedef struct ngx_http_rooms_token_slot_s  ngx_http_rooms_token_slot_t;

/*
 * One allocation a token: this header, then the token, then the strings of
 * t, so that a lookup reads one run of adjacent cache lines.
 */

struct ngx_http_rooms_token_slot_s {
    ngx_http_rooms_token_slot_t  *next;       /* in its bucket */
    ngx_queue_t                   queue;      /* most recently used first */
    size_t                        len;
    ngx_uint_t                    hash;
    rooms_jwks_t                 *keys;       /* that verified it */
    ngx_http_rooms_token_t        t;
    u_char                        token[1];
};


static ngx_http_rooms_cache_ctx_t    *ngx_http_rooms_cache;
static ngx_uint_t                     ngx_http_rooms_subscribed;

/* verified tokens: a bucket array, one LRU queue */
static ngx_http_rooms_token_slot_t  **ngx_http_rooms_token_buckets;
static ngx_uint_t                     ngx_http_rooms_token_mask;
static ngx_uint_t                     ngx_http_rooms_token_max;
static ngx_uint_t                     ngx_http_rooms_token_n;
static ngx_queue_t                    ngx_http_rooms_token_lru;

ngx_uint_t                            ngx_http_rooms_token_verifications;


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

    if (rmcf == NULL || !rmcf->used) {
        return NGX_OK;
    }

    /* as many slots as asked for; at least as many buckets, a power of 2 */

    ngx_http_rooms_token_max = rmcf->token_cache;
    ngx_http_rooms_token_n = 0;
    ngx_http_rooms_token_verifications = 0;
    ngx_queue_init(&ngx_http_rooms_token_lru);

    if (rmcf->token_cache) {
        ngx_http_rooms_token_mask = 1;

        while (ngx_http_rooms_token_mask < rmcf->token_cache) {
            ngx_http_rooms_token_mask <<= 1;
        }

        ngx_http_rooms_token_buckets = ngx_pcalloc(cycle->pool,
                                  ngx_http_rooms_token_mask
                                  * sizeof(ngx_http_rooms_token_slot_t *));
        if (ngx_http_rooms_token_buckets == NULL) {
            return NGX_ERROR;
        }

        ngx_http_rooms_token_mask--;
    }

    if (rmcf->cache_zone != NULL) {
        ngx_http_rooms_cache = rmcf->cache_zone->data;
    }

    return NGX_OK;
}


void
ngx_http_rooms_cache_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t  *q;

    if (ngx_http_rooms_token_buckets == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_rooms_token_lru)) {
        q = ngx_queue_head(&ngx_http_rooms_token_lru);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_http_rooms_token_slot_t, queue));
    }

    ngx_http_rooms_token_buckets = NULL;
    ngx_http_rooms_token_n = 0;
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

    ngx_http_rooms_subscribed = 1;
}


/* "SEQ r <roomId>" or "SEQ u <rawId>" */

void
ngx_http_rooms_cache_event(ngx_str_t *msg)
{
    u_char                      *p, *last, kind;
    u_char                       user[NGX_HTTP_ROOMS_DIGEST_LEN];
    int64_t                      room;
    uint64_t                     seq;
    ngx_str_t                    id;
    ngx_uint_t                   gap;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return;
    }

    last = msg->data + msg->len;
    p = ngx_strlchr(msg->data, last, ' ');

    if (p == NULL || p == msg->data || last - p < 4 || p[2] != ' ') {
        goto invalid;
    }

    seq = (uint64_t) ngx_atoof(msg->data, p - msg->data);
    kind = p[1];
    id.data = p + 3;
    id.len = last - id.data;

    if (seq == (uint64_t) NGX_ERROR) {
        goto invalid;
    }

    switch (kind) {

    case 'r':
        if (rooms_id_check((char *) id.data, id.len) != ROOMS_ID_OK) {
            goto invalid;
        }

        room = ngx_atoof(id.data, id.len);
        ngx_http_rooms_cache_invalidate_room((uint64_t) room);
        break;

    case 'u':
        ngx_http_rooms_user_digest(&id, user);
        ngx_http_rooms_cache_invalidate_user(user);
        break;

    default:
        goto invalid;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /* another worker may have applied it first: only a jump is a gap */

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
    }

    return;

invalid:

    /* something else publishes on our channel: trust nothing */

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "rooms cache: unknown event \"%V\", cache flushed", msg);

    ngx_http_rooms_cache_flush();
}


size_t
ngx_http_rooms_event_room(u_char *buf, ngx_str_t *room)
{
    return ngx_sprintf(buf, "r %V", room) - buf;
}


size_t
ngx_http_rooms_event_user(u_char *buf, ngx_str_t *user)
{
    return ngx_sprintf(buf, "u %V", user) - buf;
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
ngx_http_rooms_cache_get(ngx_http_request_t *r, uint64_t room, u_char *user,
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
ngx_http_rooms_cache_put(ngx_http_request_t *r, uint64_t room, u_char *user,
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


/*
 * Verified tokens, per worker: a hash table keyed by the whole token and the
 * key set that verified it, holding up to rooms_token_cache tokens, the
 * least recently used one out when it is full.  Nothing is evicted before
 * then, so a working set that fits is verified once.
 */


ngx_http_rooms_token_t *
ngx_http_rooms_token_get(ngx_str_t *token, rooms_jwks_t *keys,
    ngx_uint_t *hash)
{
    u_char                       *sig, *dot, *end;
#if !(NGX_LINUX)
    u_char                       *p;
#endif
    uint64_t                      x;
    ngx_uint_t                    h;
    ngx_http_rooms_token_slot_t  *s;

    if (ngx_http_rooms_token_buckets == NULL) {
        return NULL;
    }

    /* the signature part gives the hash; the whole token is compared */

    end = token->data + token->len;
    sig = (token->len > 128) ? end - 128 : token->data;

#if (NGX_LINUX)
    dot = memrchr(sig, '.', end - sig);
#else
    dot = NULL;

    for (p = end; p > sig; p--) {
        if (p[-1] == '.') {
            dot = p - 1;
            break;
        }
    }
#endif

    if (dot != NULL) {
        sig = dot + 1;
    }

    /*
     * a verified signature is as random as a hash: 8 of its characters
     * (not the last, which may hold padding bits), multiplied by a 64-bit
     * odd constant, give the bucket.  Only verified tokens are stored, so
     * crafted ones cannot crowd a bucket.
     */

    if (end - sig > 8) {
        ngx_memcpy(&x, end - 9, 8);
        h = (ngx_uint_t) ((x * 0x9e3779b97f4a7c15ULL) >> 32);

    } else {
        h = ngx_murmur_hash2(sig, end - sig);
    }

    *hash = h;

    for (s = ngx_http_rooms_token_buckets[h & ngx_http_rooms_token_mask];
         s != NULL;
         s = s->next)
    {
        /* the whole token is compared: a signature alone proves nothing */

        if (s->hash == h && s->keys == keys && s->len == token->len
            && ngx_memcmp(s->token, token->data, token->len) == 0)
        {
            ngx_queue_remove(&s->queue);
            ngx_queue_insert_head(&ngx_http_rooms_token_lru, &s->queue);

            return &s->t;
        }
    }

    return NULL;
}


ngx_http_rooms_token_t *
ngx_http_rooms_token_put(ngx_uint_t hash, ngx_str_t *token,
    rooms_jwks_t *keys, rooms_jwt_claims_t *claims)
{
    u_char                        *p;
    size_t                         sub, room;
    ngx_queue_t                   *q;
    ngx_http_rooms_token_slot_t   *s, *old, **pp;

    if (ngx_http_rooms_token_buckets == NULL) {
        return NULL;
    }

    sub = ngx_strlen(claims->sub);
    room = claims->has_room ? ngx_strlen(claims->room) : 0;

    s = ngx_alloc(offsetof(ngx_http_rooms_token_slot_t, token) + token->len
                  + sub + room, ngx_cycle->log);
    if (s == NULL) {
        return NULL;
    }

    if (ngx_http_rooms_token_n < ngx_http_rooms_token_max) {
        ngx_http_rooms_token_n++;

    } else {
        /* full: the least recently used token goes */

        q = ngx_queue_last(&ngx_http_rooms_token_lru);
        old = ngx_queue_data(q, ngx_http_rooms_token_slot_t, queue);
        ngx_queue_remove(q);

        for (pp = &ngx_http_rooms_token_buckets[old->hash
                                                & ngx_http_rooms_token_mask];
             *pp != old;
             pp = &(*pp)->next)
        {
            /* void */
        }

        *pp = old->next;
        ngx_free(old);
    }

    s->len = token->len;
    s->hash = hash;
    s->keys = keys;

    pp = &ngx_http_rooms_token_buckets[hash & ngx_http_rooms_token_mask];
    s->next = *pp;
    *pp = s;
    ngx_queue_insert_head(&ngx_http_rooms_token_lru, &s->queue);

    p = ngx_cpymem(s->token, token->data, token->len);

    s->t.sub.data = p;
    s->t.sub.len = sub;
    p = ngx_cpymem(p, claims->sub, sub);

    s->t.room.data = p;
    s->t.room.len = room;
    ngx_memcpy(p, claims->room, room);

    s->t.iat = claims->iat;
    s->t.exp = claims->exp;
    s->t.nbf = claims->nbf;
    s->t.has_iat = claims->has_iat;
    s->t.has_nbf = claims->has_nbf;
    s->t.memo.valid = 0;

    ngx_http_rooms_user_digest(&s->t.sub, s->t.user);

    return &s->t;
}


/* "$rooms_cache_stats": for a status location or a log line */

ngx_int_t
ngx_http_rooms_cache_stats(ngx_http_request_t *r, ngx_str_t *out)
{
    u_char                      *p;
    ngx_http_rooms_cache_sh_t   *sh;
    ngx_http_rooms_cache_ctx_t  *ctx;

    ctx = ngx_http_rooms_cache;

    if (ctx == NULL) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, 8 * NGX_ATOMIC_T_LEN + 160);
    if (p == NULL) {
        return NGX_ERROR;
    }

    sh = ctx->sh;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    out->data = p;
    out->len = ngx_sprintf(p, "entries=%uA generations=%uA hits=%uA "
                           "misses=%uA evictions=%uA zone=%uz "
                           "subscribed=%ui tokens=%ui verifications=%ui",
                           sh->entries_n, sh->gens_n, sh->hits, sh->misses,
                           sh->evictions,
                           (size_t) ((u_char *) ctx->shpool->end
                                     - (u_char *) ctx->shpool),
                           ngx_http_rooms_subscribed,
                           ngx_http_rooms_token_n,
                           ngx_http_rooms_token_verifications)
               - p;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}
