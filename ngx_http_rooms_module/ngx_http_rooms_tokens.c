
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Verified tokens, per worker: a hash table keyed by the whole token and
 * the key set that verified it, holding up to rooms_token_cache tokens,
 * the least recently used one out when it is full.  Nothing is evicted
 * before then, so a working set that fits is verified once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_tokens.h"


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


/* verified tokens: a bucket array, one LRU queue */
static ngx_http_rooms_token_slot_t  **ngx_http_rooms_token_buckets;
static ngx_uint_t                     ngx_http_rooms_token_mask;
static ngx_uint_t                     ngx_http_rooms_token_max;
static ngx_uint_t                     ngx_http_rooms_token_n;
static ngx_queue_t                    ngx_http_rooms_token_lru;

ngx_uint_t                            ngx_http_rooms_token_verifications;


ngx_int_t
ngx_http_rooms_tokens_init_process(ngx_cycle_t *cycle)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    ngx_http_rooms_token_buckets = NULL;
    ngx_http_rooms_token_n = 0;
    ngx_http_rooms_token_verifications = 0;
    ngx_queue_init(&ngx_http_rooms_token_lru);

    if (rmcf == NULL || !rmcf->used || rmcf->token_cache == 0) {
        return NGX_OK;
    }

    /* as many slots as asked for; at least as many buckets, a power of 2 */

    ngx_http_rooms_token_max = rmcf->token_cache;
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

    return NGX_OK;
}


void
ngx_http_rooms_tokens_exit_process(ngx_cycle_t *cycle)
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


/* takes a slot out of its bucket and of the queue, and frees it */

static void
ngx_http_rooms_token_free(ngx_http_rooms_token_slot_t *s)
{
    ngx_http_rooms_token_slot_t  **pp;

    ngx_queue_remove(&s->queue);

    for (pp = &ngx_http_rooms_token_buckets[s->hash
                                            & ngx_http_rooms_token_mask];
         *pp != s;
         pp = &(*pp)->next)
    {
        /* void */
    }

    *pp = s->next;
    ngx_free(s);
}


void
ngx_http_rooms_tokens_forget(rooms_jwks_t *keys)
{
    ngx_queue_t                  *q, *next;
    ngx_http_rooms_token_slot_t  *s;

    if (ngx_http_rooms_token_buckets == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_rooms_token_lru);
         q != ngx_queue_sentinel(&ngx_http_rooms_token_lru);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_rooms_token_slot_t, queue);

        if (s->keys == keys) {
            ngx_http_rooms_token_free(s);
            ngx_http_rooms_token_n--;
        }
    }
}


ngx_uint_t
ngx_http_rooms_tokens_held(void)
{
    return ngx_http_rooms_token_n;
}


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
        ngx_http_rooms_token_free(old);
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
