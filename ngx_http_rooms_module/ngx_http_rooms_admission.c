
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The decision is a state machine of the request's context: START, then
 * DECIDED at once (no token, a bad one, a cached answer) or WAITING for
 * one pipelined Redis round trip, whose reply decides and resumes the
 * phases.  Fails closed: no answer from Redis is a 503, never an
 * admission.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_admission.h"
#include "ngx_http_rooms_response.h"
#include "ngx_http_rooms_store.h"
#include "ngx_http_rooms_sessions.h"
#include "ngx_http_rooms_tokens.h"
#include "ngx_http_rooms_keys.h"
#include "ngx_http_rooms_metrics.h"
#include "rooms_id.h"
#include "rooms_mask.h"
#include "rooms_time.h"


/* the most of a refused room id that its log line shows */
#define NGX_HTTP_ROOMS_LOG_ROOM_MAX  64


static ngx_int_t ngx_http_rooms_admission_strip(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* the context, kept across internal redirects */


static void
ngx_http_rooms_admission_cleanup(void *data)
{
    /* nothing to free: the cleanup only finds the context again */
}


static ngx_http_rooms_ctx_t *
ngx_http_rooms_admission_create(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_rooms_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_rooms_admission_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->role = -1;

    ngx_http_set_ctx(r, ctx, ngx_http_rooms_module);

    return ctx;
}


/*
 * nginx forgets module contexts on an internal redirect (error_page, a
 * named location): the decision stays, for the variables of the location
 * redirected to and so that a request is decided once
 */

ngx_http_rooms_ctx_t *
ngx_http_rooms_admission_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_rooms_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_rooms_module);

    if (ctx != NULL || !r->internal) {
        return ctx;
    }

    /* subrequests share the pool: a context is its own request's */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_rooms_admission_cleanup) {
            ctx = cln->data;

            if (ctx->request == r) {
                ngx_http_set_ctx(r, ctx, ngx_http_rooms_module);
                return ctx;
            }
        }
    }

    return NULL;
}


/* the decision */


static void
ngx_http_rooms_admission_decide(ngx_http_rooms_ctx_t *ctx, ngx_uint_t status,
    const char *reason)
{
    ctx->status = status;
    ctx->reason = reason;
    ctx->state = NGX_HTTP_ROOMS_ADMISSION_DECIDED;

    ngx_http_rooms_metrics_admission(reason);
}


/* from the facts, cached or just read from Redis */

static void
ngx_http_rooms_admission_facts(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx, ngx_http_rooms_facts_t *f)
{
    int64_t                     now;
    ngx_http_rooms_loc_conf_t  *rlcf;

    if (f->from == INT64_MIN || f->role < 0) {
        /* a missing room looks the same as one the user is not in */
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_FORBIDDEN,
                                        "not invited");
        return;
    }

    if (f->deleted) {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_UNAUTHORIZED,
                                        "identity deleted");
        return;
    }

    if (f->revoked >= 0 && (!ctx->has_iat || ctx->iat < f->revoked)) {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_UNAUTHORIZED,
                                        "token revoked");
        return;
    }

    ctx->role = f->role;

    now = rooms_time_now_us();

    if (now < f->from || now >= f->until) {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_FORBIDDEN,
                                        "outside the room's validity");
        return;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (rlcf->roles && !(rlcf->roles & ((ngx_uint_t) 1 << f->role))) {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_FORBIDDEN,
                                        "role not allowed");
        return;
    }

    ngx_http_rooms_admission_decide(ctx, NGX_OK, NULL);
}


/*
 * The decision for nginx: NGX_OK, or the refusal's status, with its
 * headers set and its log line written once
 */

static ngx_int_t
ngx_http_rooms_admission_result(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx)
{
    u_char            room[3 * NGX_HTTP_ROOMS_LOG_ROOM_MAX];
    size_t            len;
    ngx_int_t         rc;
    ngx_str_t         logged;
    ngx_uint_t        level;
    ngx_table_elt_t  *h;

    /* rooms_session: admitted, the session takes a seat (AGAIN: waits) */

    if (ctx->status == NGX_OK && ctx->session == NULL) {
        rc = ngx_http_rooms_sessions_admit(r, ctx);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->status == NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "rooms admission: \"%V\" admitted to \"%V\"",
                       &ctx->user_id, &ctx->room_id);

        return ngx_http_rooms_admission_strip(r);
    }

    if (ctx->answered) {
        return ctx->status;
    }

    ctx->answered = 1;
    ctx->uri_changes = r->uri_changes;

    /* the room id as the client sent it: escaped, and not all of it */

    len = ngx_min(ctx->room_id.len, NGX_HTTP_ROOMS_LOG_ROOM_MAX);
    logged.data = room;
    logged.len = (u_char *) ngx_escape_uri(room, ctx->room_id.data, len,
                                           NGX_ESCAPE_URI_COMPONENT)
                 - room;

    level = (ctx->status == NGX_HTTP_SERVICE_UNAVAILABLE) ? NGX_LOG_ERR
                                                         : NGX_LOG_INFO;

    ngx_log_error(level, r->connection->log, 0,
                  "rooms admission: room \"%V%s\" user \"%V\" refused: %s",
                  &logged, len < ctx->room_id.len ? "..." : "",
                  &ctx->user_id, ctx->reason);

    switch (ctx->status) {

    case NGX_HTTP_UNAUTHORIZED:

        /* known to nginx, so that it goes if "satisfy any" admits */

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        ngx_str_set(&h->value, "Bearer error=\"invalid_token\"");
        r->headers_out.www_authenticate = h;
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        if (ngx_http_rooms_add_header(r, "Retry-After", (u_char *) "1", 1)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;
    }

    return ctx->status;
}


/* the steps */


/*
 * The request line goes into every error log line about the request and
 * into $request: before anything can refuse the request and log it, in
 * the first phase of every request of the http block (one that reaches
 * no rooms location may still carry a token), the values of the query
 * arguments that may carry a token are replaced by "***" there, all of
 * them (the query itself, $args and $request_uri, is left as it is).
 */

static ngx_int_t
ngx_http_rooms_admission_mask(ngx_http_request_t *r)
{
    u_char                      *p;
    size_t                       len, masked;
    ngx_str_t                   *line;
    ngx_http_rooms_main_conf_t  *rmcf;

    if (r->args_start == NULL && r->args.len == 0) {
        /* no '?' in the request line */
        return NGX_DECLINED;
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_rooms_module);
    line = &r->request_line;

    len = rooms_mask_line(NULL, (char *) line->data, line->len,
                          rmcf->mask->elts, rmcf->mask->nelts, &masked);

    if (masked == 0) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) rooms_mask_line((char *) p, (char *) line->data, line->len,
                           rmcf->mask->elts, rmcf->mask->nelts, NULL);

    line->data = p;
    line->len = len;

    return NGX_DECLINED;
}


/*
 * rooms_token_forward off: the token arguments leave $args, and the
 * request goes upstream as nginx rebuilds it from $uri and $args, so that
 * neither the media cluster nor nginx's lines about the upstream see them
 */

static ngx_int_t
ngx_http_rooms_admission_strip(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      len, removed;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (rlcf->token_forward || r != r->main || r->args.len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, r->args.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = rooms_mask_strip((char *) p, (char *) r->args.data, r->args.len,
                           rlcf->mask, rlcf->nmask, &removed);

    if (removed) {
        r->args.data = p;
        r->args.len = len;
        r->valid_unparsed_uri = 0;
    }

    return NGX_OK;
}


/* a directive's value for this request; a missing variable reads as "" */

static ngx_int_t
ngx_http_rooms_value(ngx_http_request_t *r, ngx_http_rooms_value_t *v,
    ngx_str_t *value)
{
    ngx_http_variable_value_t  *vv;

    if (v->index == NGX_ERROR) {
        return ngx_http_complex_value(r, &v->value, value);
    }

    vv = ngx_http_get_indexed_variable(r, v->index);

    if (vv == NULL || vv->not_found) {
        ngx_str_null(value);

    } else {
        value->data = vv->data;
        value->len = vv->len;
    }

    return NGX_OK;
}


/* the token: NGX_OK, NGX_DECLINED for none, NGX_ERROR */

static ngx_int_t
ngx_http_rooms_admission_token(ngx_http_request_t *r,
    ngx_http_rooms_loc_conf_t *rlcf, ngx_str_t *token)
{
    u_char     *p;
    ngx_str_t  *auth;

    if (rlcf->token != NULL) {
        if (ngx_http_rooms_value(r, rlcf->token, token) != NGX_OK) {
            return NGX_ERROR;
        }

        return token->len ? NGX_OK : NGX_DECLINED;
    }

    if (r->headers_in.authorization != NULL) {
        auth = &r->headers_in.authorization->value;
        p = auth->data;

        /* "Bearer " in any case, without a call on every request */

        if (auth->len > 7
            && (p[0] | 0x20) == 'b' && (p[1] | 0x20) == 'e'
            && (p[2] | 0x20) == 'a' && (p[3] | 0x20) == 'r'
            && (p[4] | 0x20) == 'e' && (p[5] | 0x20) == 'r' && p[6] == ' ')
        {
            token->data = auth->data + 7;
            token->len = auth->len - 7;

            while (token->len && token->data[0] == ' ') {
                token->data++;
                token->len--;
            }

            return token->len ? NGX_OK : NGX_DECLINED;
        }
    }

    /*
     * browsers cannot set headers on a WebSocket upgrade; a subrequest
     * (auth_request's) asks about its main request's query
     */

    if (ngx_http_arg(r->main, (u_char *) "access_token", 12, token) == NGX_OK
        && token->len)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * The token's claims, verified now or earlier by this worker: NGX_OK with
 * the user's id and the room claim, NGX_DECLINED when decided (refused),
 * NGX_ERROR
 */

static ngx_int_t
ngx_http_rooms_admission_verify(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx, ngx_str_t *token, ngx_str_t *claim,
    ngx_http_rooms_memo_t **memo)
{
    int                         rc;
    time_t                      now;
    ngx_str_t                  *sub;
    ngx_uint_t                  hash;
    rooms_jwks_t               *jwks, *fresh;
    rooms_jwt_claims_t          claims;
    ngx_http_rooms_token_t     *t;
    ngx_http_rooms_srv_conf_t  *rscf;

    rscf = ngx_http_get_module_srv_conf(r, ngx_http_rooms_module);
    now = ngx_time();
    hash = 0;
    sub = &ctx->user_id;

    /* the server's keys now: their file may have changed */

    jwks = ngx_http_rooms_keys_get(rscf->keys);

    /* verified by this worker with these keys: the times are checked anew */

    t = ngx_http_rooms_token_get(token, jwks, &hash);

    if (t != NULL) {
        if (t->exp <= now - rscf->leeway) {
            ngx_http_rooms_admission_decide(ctx, NGX_HTTP_UNAUTHORIZED,
                                            "expired");
            return NGX_DECLINED;
        }

        if (t->has_nbf && t->nbf > now + rscf->leeway) {
            ngx_http_rooms_admission_decide(ctx, NGX_HTTP_UNAUTHORIZED,
                                            "not yet valid");
            return NGX_DECLINED;
        }

    } else {
        ngx_http_rooms_token_verifications++;

        rc = rooms_jwt_verify(jwks, (char *) token->data, token->len,
                              now, rscf->leeway, &claims);

        if (rc == ROOMS_JWT_ERR_KID) {
            /* a key rotated in before this worker read the file? */

            fresh = ngx_http_rooms_keys_unknown_kid(rscf->keys);

            if (fresh != NULL) {
                jwks = fresh;
                ngx_http_rooms_token_verifications++;

                rc = rooms_jwt_verify(jwks, (char *) token->data,
                                      token->len, now, rscf->leeway,
                                      &claims);
            }
        }

        ngx_http_rooms_metrics_token_verification(
                                 ngx_http_rooms_keys_alg(jwks, claims.kid));

        if (rc != ROOMS_JWT_OK) {
            ngx_http_rooms_admission_decide(ctx, NGX_HTTP_UNAUTHORIZED,
                                            rooms_jwt_strerror(rc));
            return NGX_DECLINED;
        }

        t = ngx_http_rooms_token_put(hash, token, jwks, &claims);
    }

    if (t != NULL) {
        /*
         * a copy: another request may replace the worker's slot while
         * this one waits for Redis
         */

        sub->len = t->sub.len;
        sub->data = ngx_pnalloc(r->pool, sub->len);
        if (sub->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(sub->data, t->sub.data, sub->len);

        *claim = t->room;
        *memo = &t->memo;
        ctx->iat = t->iat;
        ctx->exp = t->exp;
        ctx->has_iat = t->has_iat;
        ngx_memcpy(ctx->user, t->user, NGX_HTTP_ROOMS_DIGEST_LEN);

        return NGX_OK;
    }

    /* no table of tokens: copies, the claims live on this stack frame */

    sub->len = ngx_strlen(claims.sub);
    claim->len = claims.has_room ? ngx_strlen(claims.room) : 0;

    sub->data = ngx_pnalloc(r->pool, sub->len + claim->len + 1);
    if (sub->data == NULL) {
        return NGX_ERROR;
    }

    claim->data = ngx_cpymem(sub->data, claims.sub, sub->len);
    ngx_memcpy(claim->data, claims.room, claim->len);

    ctx->iat = claims.iat;
    ctx->exp = claims.exp;
    ctx->has_iat = claims.has_iat;
    ctx->cached = 0;

    return NGX_OK;
}


static void
ngx_http_rooms_admission_replied(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_ctx_t *ctx = data;

    ngx_uint_t              i;
    ngx_http_rooms_facts_t  facts;

    for (i = 0; rc == NGX_OK && i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rooms admission: redis error: %V",
                          &replies[i].str);
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK
        || ngx_http_rooms_store_admission_read(r->connection->log, replies,
                                               &ctx->room_id, &facts)
           != NGX_OK)
    {
        /* fail closed */
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store unavailable");

    } else {
        if (ctx->cached) {
            ngx_http_rooms_cache_put(ctx->room, ctx->user, &facts,
                                     &ctx->snap);
        }

        ngx_http_rooms_admission_facts(r, ctx, &facts);
    }

    /* back into the phases, which now find the decision */

    ngx_http_core_run_phases(r);
}


/* START: decided at once, or WAITING for Redis (NGX_AGAIN) */

static ngx_int_t
ngx_http_rooms_admission_start(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                   token, claim;
    ngx_http_rooms_memo_t      *memo;
    ngx_http_rooms_batch_t     *b;
    ngx_http_rooms_facts_t      facts;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (ngx_http_rooms_value(r, rlcf->admission, &ctx->room_id) != NGX_OK) {
        return NGX_ERROR;
    }

    /* one spelling per room: its value names it in the cache */

    if (rooms_id_parse((char *) ctx->room_id.data, ctx->room_id.len,
                       &ctx->room)
        != ROOMS_ID_OK)
    {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_FORBIDDEN,
                                        "not invited");
        return NGX_OK;
    }

    rc = ngx_http_rooms_admission_token(r, rlcf, &token);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_UNAUTHORIZED,
                                        "missing token");
        return NGX_OK;
    }

    ctx->cached = rlcf->cache && ngx_http_rooms_cache_enabled();

    ngx_str_null(&claim);
    memo = NULL;

    rc = ngx_http_rooms_admission_verify(r, ctx, &token, &claim, &memo);

    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : NGX_ERROR;
    }

    if (claim.len
        && (claim.len != ctx->room_id.len
            || ngx_strncmp(claim.data, ctx->room_id.data, claim.len) != 0))
    {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_FORBIDDEN,
                                        "token is for another room");
        return NGX_OK;
    }

    /*
     * the memo lives in the worker's token table, so it is used now or not
     * at all (a wait for Redis below may see the token evicted)
     */

    if (ctx->cached) {
        rc = ngx_http_rooms_cache_get(ctx->room, ctx->user, &facts,
                                      &ctx->snap, memo);

        ngx_http_rooms_metrics_cache_lookup(rc == NGX_OK
                                            ? NGX_HTTP_ROOMS_LOOKUP_HIT
                                            : ctx->snap.usable
                                            ? NGX_HTTP_ROOMS_LOOKUP_MISS
                                            : NGX_HTTP_ROOMS_LOOKUP_BYPASS);

        if (rc == NGX_OK) {
            ngx_http_rooms_admission_facts(r, ctx, &facts);
            return NGX_OK;
        }

    } else if (ngx_http_rooms_cache_enabled()) {
        ngx_http_rooms_metrics_cache_lookup(NGX_HTTP_ROOMS_LOOKUP_BYPASS);
    }

    /* one pipelined round trip */

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_admission_replied, ctx);

    if (b != NULL
        && ngx_http_rooms_store_admission(b, r->pool, &ctx->room_id,
                                          &ctx->user_id)
           != NGX_OK)
    {
        ngx_http_rooms_redis_abort(b);
        return NGX_ERROR;
    }

    if (b == NULL || ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_rooms_admission_decide(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store unavailable");
        return NGX_OK;
    }

    ctx->state = NGX_HTTP_ROOMS_ADMISSION_WAITING;

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_rooms_admission(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_rooms_ctx_t  *ctx;

    ctx = ngx_http_rooms_admission_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_http_rooms_admission_create(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    switch (ctx->state) {

    case NGX_HTTP_ROOMS_ADMISSION_WAITING:
        return NGX_AGAIN;

    case NGX_HTTP_ROOMS_ADMISSION_DECIDED:
        /* after the wait, or a later pass: decided once */
        return ngx_http_rooms_admission_result(r, ctx);

    default: /* NGX_HTTP_ROOMS_ADMISSION_START */
        break;
    }

    rc = ngx_http_rooms_admission_start(r, ctx);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_rooms_admission_result(r, ctx);
}


/* the phases */


static ngx_int_t
ngx_http_rooms_admission_handler(ngx_http_request_t *r)
{
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (rlcf->admission == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    return ngx_http_rooms_admission(r);
}


/*
 * A subrequest (auth_request's) to a location with rooms_admission is
 * answered here: 204 when admitted, the refusal's status otherwise, with
 * the variables set for auth_request_set.  For a main request, reaching
 * this phase after a refusal means that "satisfy any" let another module
 * admit it: the refusal's body is no more.
 */

static ngx_int_t
ngx_http_rooms_admission_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_rooms_ctx_t       *ctx;
    ngx_http_rooms_loc_conf_t  *rlcf;

    if (r == r->main) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_rooms_module);

        if (ctx != NULL && ctx->status != NGX_OK) {
            ctx->passed = 1;
        }

        return NGX_DECLINED;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (rlcf->admission == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_rooms_admission(r);

    return (rc == NGX_OK) ? NGX_HTTP_NO_CONTENT : rc;
}


/*
 * The body of a refusal that nginx finalizes with no error_page for its
 * status: the JSON it always had, instead of nginx's HTML page
 */

static ngx_http_rooms_ctx_t *
ngx_http_rooms_admission_refusal(ngx_http_request_t *r)
{
    ngx_http_rooms_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_rooms_module);

    if (ctx == NULL || r != r->main
        || ctx->state != NGX_HTTP_ROOMS_ADMISSION_DECIDED
        || ctx->status == NGX_OK || ctx->passed
        || r->err_status != ctx->status
        || r->uri_changes != ctx->uri_changes)
    {
        return NULL;
    }

    return ctx;
}


static ngx_int_t
ngx_http_rooms_admission_header_filter(ngx_http_request_t *r)
{
    const char            *code, *message;
    rooms_error_t          err;
    ngx_http_rooms_ctx_t  *ctx;

    ctx = ngx_http_rooms_admission_refusal(r);

    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    switch (ctx->status) {

    case NGX_HTTP_UNAUTHORIZED:
        code = "Unauthorized";
        message = "A valid room token is required.";
        break;

    case NGX_HTTP_FORBIDDEN:
        if (ctx->reason == ngx_http_rooms_reason_full) {
            code = "RoomFull";
            message = "The room is full.";
            break;
        }

        code = "Forbidden";
        message = "Not admitted to this room.";
        break;

    default: /* NGX_HTTP_SERVICE_UNAVAILABLE */
        code = "ServiceUnavailable";
        message = "Admission cannot be decided now, retry later.";
        break;
    }

    ngx_memzero(&err, sizeof(rooms_error_t));
    rooms_error_set(&err, (int) ctx->status, code, message, NULL);

    if (ngx_http_rooms_error_body(r, &err, &ctx->json) != NGX_OK
        || ngx_http_rooms_add_header(r, "x-ms-error-code", (u_char *) code,
                                     ngx_strlen(code))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->body = 1;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_set(&r->headers_out.charset, "utf-8");
    r->headers_out.content_length_n = ctx->json.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_rooms_admission_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t             *b;
    ngx_chain_t           *cl, out;
    ngx_http_rooms_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_rooms_module);

    if (ctx == NULL || !ctx->body || r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's page is not sent: its buffers are consumed here */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->body_sent) {
        return NGX_OK;
    }

    ctx->body_sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->json.data;
    b->last = b->pos + ctx->json.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_rooms_admission_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_rooms_main_conf_t  *rmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    if (rmcf->used) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_rooms_admission_mask;
    }

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_rooms_admission_handler;

    /* subrequests have no access phase: auth_request asks here */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_rooms_admission_precontent_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_rooms_admission_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_rooms_admission_body_filter;

    return NGX_OK;
}
