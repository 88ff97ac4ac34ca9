
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The per-worker table of verified tokens ("rooms_token_cache"): a token
 * whose signature this worker has checked with a key set is not checked
 * again while it stays in the table; its claims are kept, with a memo of
 * the cache zone's last decision for it.
 */


#ifndef _NGX_HTTP_ROOMS_TOKENS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_TOKENS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_cache.h"
#include "rooms_jwt.h"


/* a verified token */
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


ngx_int_t ngx_http_rooms_tokens_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_tokens_exit_process(ngx_cycle_t *cycle);

/* the token verified with keys, or NULL; sets the hash put() takes */
ngx_http_rooms_token_t *ngx_http_rooms_token_get(ngx_str_t *token,
    rooms_jwks_t *keys, ngx_uint_t *hash);

/* keeps a token just verified; NULL if the table is off or full of it */
ngx_http_rooms_token_t *ngx_http_rooms_token_put(ngx_uint_t hash,
    ngx_str_t *token, rooms_jwks_t *keys, rooms_jwt_claims_t *claims);

/*
 * forgets every token verified by keys, a set about to be freed: no
 * later set at the same address finds them
 */
void ngx_http_rooms_tokens_forget(rooms_jwks_t *keys);

/* tokens in the table, and signatures this worker has checked */
ngx_uint_t ngx_http_rooms_tokens_held(void);

extern ngx_uint_t  ngx_http_rooms_token_verifications;


#endif /* _NGX_HTTP_ROOMS_TOKENS_H_INCLUDED_ */
