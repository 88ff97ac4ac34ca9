
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_identity.h"
#include "ngx_http_rooms_response.h"
#include "ngx_http_rooms_store.h"
#include "ngx_http_rooms_events.h"
#include "ngx_http_rooms_cache.h"
#include "rooms_id.h"
#include "rooms_identity.h"
#include "rooms_time.h"


typedef struct {
    ngx_str_t                 id;          /* NUL-terminated */
    rooms_identity_req_t      req;
    int64_t                   now;         /* microseconds */
} ngx_http_rooms_identity_ctx_t;


static ngx_int_t
ngx_http_rooms_identity_not_found(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                                            "NotFound",
                                            "The identity was not found.");
}


/* 501 (logged): no key to sign tokens with */

static ngx_int_t
ngx_http_rooms_identity_no_signer(ngx_http_request_t *r)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "rooms identity: cannot issue tokens: no "
                  "\"rooms_token_keys\" key with a private part in "
                  "this server");

    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                  "NotImplemented",
                  "This gateway has no key to sign tokens with.");
}


static ngx_uint_t
ngx_http_rooms_identity_can_sign(ngx_http_request_t *r)
{
    ngx_http_rooms_srv_conf_t  *rscf;

    rscf = ngx_http_get_module_srv_conf(r, ngx_http_rooms_module);

    return rscf->keys != NULL
           && rooms_jwks_can_sign(ngx_http_rooms_keys_get(rscf->keys));
}


/* issues a token; NULL (logged) when signing fails */

static char *
ngx_http_rooms_identity_token(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx, int64_t iat, int64_t *exp_us)
{
    char                       *token;
    int64_t                     exp;
    ngx_http_rooms_srv_conf_t  *rscf;

    rscf = ngx_http_get_module_srv_conf(r, ngx_http_rooms_module);

    exp = ctx->now / 1000000 + (int64_t) ctx->req.minutes * 60;
    *exp_us = exp * 1000000;

    token = rooms_jwt_sign(ngx_http_rooms_keys_get(rscf->keys),
                           (char *) ctx->id.data, iat, exp,
                           ctx->req.scope[0] ? ctx->req.scope : NULL, NULL);
    if (token == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms identity: signing a token failed");
    }

    return token;
}


/* POST /identities */


static void
ngx_http_rooms_identity_created(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    char     *token, *json;
    int64_t   exp;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms identity: %V created", &ctx->id);

    token = NULL;
    exp = 0;

    if (ctx->req.want_token) {
        token = ngx_http_rooms_identity_token(r, ctx, ctx->now / 1000000,
                                              &exp);
        if (token == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    json = rooms_identity_json((char *) ctx->id.data, token, exp);
    free(token);

    ngx_http_finalize_request(r,
                          ngx_http_rooms_send_json(r, NGX_HTTP_CREATED, json));
}


static ngx_int_t
ngx_http_rooms_identity_create(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx, u_char *body, size_t len)
{
    size_t                       idlen;
    rooms_error_t                err;
    ngx_http_rooms_batch_t      *b;
    ngx_http_rooms_main_conf_t  *rmcf;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_identity_parse_create((char *) body, len, &ctx->req, &err)
        != 0)
    {
        return ngx_http_rooms_send_error(r, &err, 1);
    }

    if (ctx->req.want_token && !ngx_http_rooms_identity_can_sign(r)) {
        /* refused before anything is stored */
        return ngx_http_rooms_identity_no_signer(r);
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_rooms_module);

    ctx->id.data = ngx_pnalloc(r->pool, ROOMS_USER_ID_SIZE);
    if (ctx->id.data == NULL
        || rooms_user_id_generate((char *) ctx->id.data, &idlen,
                                  (char *) rmcf->resource.data)
           != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->id.len = idlen;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_created, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_user_create(b, r->pool, &ctx->id, ctx->now);

    return ngx_http_rooms_wait(r, b);
}


/* POST /identities/{id}/:issueAccessToken */


static void
ngx_http_rooms_identity_issued(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    char                   *token, *json;
    int64_t                 iat, exp;
    ngx_http_rooms_user_t   user;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    if (ngx_http_rooms_store_user_read(&replies[0], &user) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!user.exists || user.deleted) {
        ngx_http_finalize_request(r, ngx_http_rooms_identity_not_found(r));
        return;
    }

    /*
     * tokens issued before a revocation are refused: one issued in the
     * second a revocation was made carries the revocation's time
     */

    iat = ngx_max(ctx->now / 1000000, user.revoked);

    token = ngx_http_rooms_identity_token(r, ctx, iat, &exp);
    if (token == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms identity: token issued to %V for %d minutes",
                  &ctx->id, ctx->req.minutes);

    json = rooms_token_json(token, exp);
    free(token);

    ngx_http_finalize_request(r,
                              ngx_http_rooms_send_json(r, NGX_HTTP_OK, json));
}


static ngx_int_t
ngx_http_rooms_identity_issue(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx, u_char *body, size_t len)
{
    rooms_error_t            err;
    ngx_http_rooms_batch_t  *b;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_identity_parse_issue((char *) body, len, &ctx->req, &err) != 0)
    {
        return ngx_http_rooms_send_error(r, &err, 1);
    }

    if (!ngx_http_rooms_identity_can_sign(r)) {
        return ngx_http_rooms_identity_no_signer(r);
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_issued, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_user_get(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* :revokeAccessTokens and DELETE: record when tokens stop being valid */


static void
ngx_http_rooms_identity_fed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    ngx_uint_t  i;

    for (i = 0; rc == NGX_OK && i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK) {
        /* the change is made: the answer stays 204 */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms identity: %V changed, but not on the events "
                      "stream: redis failed", &ctx->id);
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup("")));
}


/* the change made goes on the feed, if any, and is then answered */

static void
ngx_http_rooms_identity_feed(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx, int64_t revoked)
{
    ngx_http_rooms_batch_t       *b;
    ngx_http_rooms_feed_event_t   ev;

    if (!ngx_http_rooms_events_feed_on()) {
        ngx_http_rooms_identity_fed(r, ctx, NULL, 0, NGX_OK);
        return;
    }

    ngx_memzero(&ev, sizeof(ngx_http_rooms_feed_event_t));
    ev.user = &ctx->id;

    if (r->method == NGX_HTTP_DELETE) {
        ev.type = "identity.deleted";

    } else {
        ev.type = "user.tokens_revoked";
        ev.revoked = revoked;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_fed, ctx);

    if (b != NULL && ngx_http_rooms_events_feed(b, r->pool, &ev, 1) != NGX_OK)
    {
        ngx_http_rooms_redis_abort(b);
        b = NULL;
    }

    if (b == NULL || ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_rooms_identity_fed(r, ctx, NULL, 0, NGX_ERROR);
    }
}



static void
ngx_http_rooms_identity_revoked(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    u_char   user[NGX_HTTP_ROOMS_DIGEST_LEN];
    int64_t  revoked;

    /* this gateway's cache forgets the user at once, whatever Redis said */

    ngx_http_rooms_user_digest(&ctx->id, user);
    ngx_http_rooms_cache_invalidate_user(user);

    if (ngx_http_rooms_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_user_revoked(&replies[0])) {

    case NGX_HTTP_ROOMS_STORE_REVOKED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms identity: %V %s", &ctx->id,
                      r->method == NGX_HTTP_DELETE ? "deleted"
                                                   : "tokens revoked");

        /* the script's answer: the new revocation time */

        if (ngx_http_rooms_store_int(&replies[0], &revoked) != NGX_OK) {
            revoked = 0;
        }

        ngx_http_rooms_identity_feed(r, ctx, revoked);
        return;

    case NGX_HTTP_ROOMS_STORE_WAS_GONE:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms identity: %V was deleted before", &ctx->id);
        break;

    case NGX_HTTP_ROOMS_STORE_NO_USER:
        ngx_http_finalize_request(r, ngx_http_rooms_identity_not_found(r));
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup("")));
}


static ngx_int_t
ngx_http_rooms_identity_revoke(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_revoked, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_user_revoke(b, r->pool, &ctx->id,
                                            ctx->now / 1000000,
                                            r->method == NGX_HTTP_DELETE);
    (void) ngx_http_rooms_events_user(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* routing: "/identities[/{id}[/:action]]", already decoded */


ngx_int_t
ngx_http_rooms_identity_route(ngx_http_request_t *r, u_char *body,
    size_t len)
{
    u_char                         *id, *end, *action;
    ngx_str_t                       v, act;
    ngx_http_rooms_identity_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_identity_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->now = rooms_time_now_us();

    end = r->uri.data + r->uri.len;
    id = r->uri.data + sizeof("/identities") - 1;
    act.len = 0;

    if (id < end) {
        id++;                          /* the "/" */

        action = ngx_strlchr(id, end, '/');

        if (action != NULL) {
            act.data = action + 1;
            act.len = end - act.data;
            end = action;
        }

        if (end == id) {
            goto not_found;
        }
    }

    if (act.len
        && !(act.len == 17
             && ngx_strncmp(act.data, ":issueAccessToken", 17) == 0)
        && !(act.len == 19
             && ngx_strncmp(act.data, ":revokeAccessTokens", 19) == 0))
    {
        goto not_found;
    }

    if (id >= end) {
        if (r->method != NGX_HTTP_POST) {
            goto not_allowed;
        }

    } else if (act.len ? r->method != NGX_HTTP_POST
                       : r->method != NGX_HTTP_DELETE)
    {
        goto not_allowed;
    }

    if (ngx_http_arg(r, (u_char *) "api-version", 11, &v) != NGX_OK
        || rooms_identity_api_version_parse((char *) v.data, v.len) == 0)
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest",
                      "The api-version query parameter is missing or not "
                      "supported (use 2023-10-01).");
    }

    if (id >= end) {
        return ngx_http_rooms_identity_create(r, ctx, body, len);
    }

    if (rooms_raw_id_check((char *) id, end - id) != 0
        || ngx_strncmp(id, "8:", 2) != 0)
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid format for the identity.");
    }

    ctx->id.len = end - id;
    ctx->id.data = ngx_pnalloc(r->pool, ctx->id.len + 1);
    if (ctx->id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_cpymem(ctx->id.data, id, ctx->id.len) = '\0';

    if (act.len == 17) {
        return ngx_http_rooms_identity_issue(r, ctx, body, len);
    }

    return ngx_http_rooms_identity_revoke(r, ctx);

not_found:

    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "The resource was not found.");

not_allowed:

    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_ALLOWED,
                  "MethodNotAllowed",
                  "The method is not allowed on this resource.");
}
