
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The identity API (ACS Identity REST, api-version 2023-10-01) on the
 * "rooms_api" locations: users, their room tokens and revocation.
 *
 * Redis layout:
 *     rooms:user:{RAWID}  hash  c (created, microseconds),
 *                               r (tokens with an iat before it, in
 *                                  seconds, are refused),
 *                               d ("1" once the identity is deleted)
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"
#include "ngx_http_rooms_cache.h"
#include "rooms_id.h"
#include "rooms_identity.h"
#include "rooms_time.h"


#define NGX_HTTP_ROOMS_USER_KEY  "rooms:user:{"


/*
 * revoke: r becomes later than now and than any earlier r, so it is later
 * than every iat issued so far (issuing uses max(now, r)); ARGV now in
 * seconds, "1" to delete the identity too.  Returns the new r; 0 for an
 * identity that was never created, or is deleted and only to be revoked;
 * -1 for one deleted before and deleted again.  Only a created identity is
 * written to.
 */

static const char  ngx_http_rooms_lua_revoke[] =
    "local u = redis.call('HMGET', KEYS[1], 'c', 'r', 'd')\n"
    "if not u[1] then return 0 end\n"
    "if u[3] then\n"
    "  if ARGV[2] == '1' then return -1 end\n"
    "  return 0\n"
    "end\n"
    "local r = tonumber(u[2] or '0')\n"
    "local n = tonumber(ARGV[1]) + 1\n"
    "if r >= n then n = r + 1 end\n"
    "redis.call('HSET', KEYS[1], 'r', string.format('%d', n))\n"
    "if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'd', '1') end\n"
    "return n\n";

static ngx_int_t  ngx_http_rooms_script_revoke;


typedef struct {
    ngx_str_t                 id;          /* NUL-terminated */
    u_char                   *key;
    size_t                    key_len;
    rooms_identity_req_t      req;
    int64_t                   now;         /* microseconds */
} ngx_http_rooms_identity_ctx_t;


static ngx_int_t
ngx_http_rooms_identity_set_key(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx)
{
    ctx->key = ngx_pnalloc(r->pool, sizeof(NGX_HTTP_ROOMS_USER_KEY)
                                    + ctx->id.len + 1);
    if (ctx->key == NULL) {
        return NGX_ERROR;
    }

    ctx->key_len = ngx_sprintf(ctx->key, NGX_HTTP_ROOMS_USER_KEY "%V}",
                               &ctx->id)
                   - ctx->key;

    return NGX_OK;
}


/* issues a token; NULL (logged) when there is no signing key */

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

    if (rscf->jwks == NULL || !rooms_jwks_can_sign(rscf->jwks)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms identity: cannot issue tokens: no "
                      "\"rooms_token_keys\" key with a private part in "
                      "this server");
        return NULL;
    }

    token = rooms_jwt_sign(rscf->jwks, (char *) ctx->id.data, iat, exp,
                           ctx->req.scope[0] ? ctx->req.scope : NULL, NULL);
    if (token == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms identity: signing a token failed");
    }

    return token;
}


static ngx_int_t
ngx_http_rooms_identity_no_signer(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                  "NotImplemented",
                  "This gateway has no key to sign tokens with.");
}


static ngx_int_t
ngx_http_rooms_identity_not_found(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                                            "NotFound",
                                            "The identity was not found.");
}


/* POST /identities */


static void
ngx_http_rooms_identity_created(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    char     *token, *json;
    int64_t   exp;

    if (ngx_http_rooms_api_replies_ok(r, replies, n, rc) != NGX_OK) {
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
            ngx_http_finalize_request(r, ngx_http_rooms_identity_no_signer(r));
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
    u_char                      *id, *now;
    size_t                       idlen;
    const char                  *argv[4];
    size_t                       argvlen[4];
    rooms_error_t                err;
    ngx_http_rooms_batch_t      *b;
    ngx_http_rooms_srv_conf_t   *rscf;
    ngx_http_rooms_main_conf_t  *rmcf;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_identity_parse_create((char *) body, len, &ctx->req, &err)
        != 0)
    {
        return ngx_http_rooms_send_error(r, &err);
    }

    rscf = ngx_http_get_module_srv_conf(r, ngx_http_rooms_module);

    if (ctx->req.want_token
        && (rscf->jwks == NULL || !rooms_jwks_can_sign(rscf->jwks)))
    {
        /* refused before anything is stored */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms identity: cannot issue tokens: no "
                      "\"rooms_token_keys\" key with a private part in "
                      "this server");
        return ngx_http_rooms_identity_no_signer(r);
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_rooms_module);

    id = ngx_pnalloc(r->pool, ROOMS_USER_ID_SIZE);
    now = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (id == NULL || now == NULL
        || rooms_user_id_generate((char *) id, &idlen,
                                  (char *) rmcf->resource.data)
           != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->id.data = id;
    ctx->id.len = idlen;

    if (ngx_http_rooms_identity_set_key(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[0] = "HSET";
    argvlen[0] = 4;
    argv[1] = (char *) ctx->key;
    argvlen[1] = ctx->key_len;
    argv[2] = "c";
    argvlen[2] = 1;
    argv[3] = (char *) now;
    argvlen[3] = ngx_sprintf(now, "%L", ctx->now) - now;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_created, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append(b, 4, argv, argvlen);

    return ngx_http_rooms_api_wait(r, b);
}


/* POST /identities/{id}/:issueAccessToken */


static void
ngx_http_rooms_identity_issued(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    char                    *token, *json;
    int64_t                  iat, revoked, exp;
    ngx_http_rooms_reply_t  *f;

    if (ngx_http_rooms_api_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    f = replies[0].element;

    if (replies[0].elements != 3
        || f[0].type != NGX_HTTP_ROOMS_REPLY_STRING
        || f[2].type == NGX_HTTP_ROOMS_REPLY_STRING)
    {
        ngx_http_finalize_request(r, ngx_http_rooms_identity_not_found(r));
        return;
    }

    /*
     * tokens issued before a revocation are refused: one issued in the
     * second a revocation was made carries the revocation's time
     */

    iat = ctx->now / 1000000;

    if (f[1].type == NGX_HTTP_ROOMS_REPLY_STRING) {
        revoked = ngx_atoof(f[1].str.data, f[1].str.len);
        if (revoked > iat) {
            iat = revoked;
        }
    }

    token = ngx_http_rooms_identity_token(r, ctx, iat, &exp);
    if (token == NULL) {
        ngx_http_finalize_request(r, ngx_http_rooms_identity_no_signer(r));
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
    const char              *argv[5];
    size_t                   argvlen[5];
    rooms_error_t            err;
    ngx_http_rooms_batch_t  *b;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_identity_parse_issue((char *) body, len, &ctx->req, &err) != 0)
    {
        return ngx_http_rooms_send_error(r, &err);
    }

    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = (char *) ctx->key;
    argvlen[1] = ctx->key_len;
    argv[2] = "c";
    argv[3] = "r";
    argv[4] = "d";
    argvlen[2] = argvlen[3] = argvlen[4] = 1;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_issued, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append(b, 5, argv, argvlen);

    return ngx_http_rooms_api_wait(r, b);
}


/* :revokeAccessTokens and DELETE: record when tokens stop being valid */


static void
ngx_http_rooms_identity_revoked(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_identity_ctx_t *ctx = data;

    u_char  user[NGX_HTTP_ROOMS_DIGEST_LEN];

    /* this gateway's admission cache forgets the user at once, made or not */

    ngx_http_rooms_user_digest(&ctx->id, user);
    ngx_http_rooms_cache_invalidate_user(user);

    if (ngx_http_rooms_api_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    if (replies[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (replies[0].integer == 0) {
        ngx_http_finalize_request(r, ngx_http_rooms_identity_not_found(r));
        return;
    }

    if (replies[0].integer < 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms identity: %V was deleted before", &ctx->id);

        ngx_http_finalize_request(r,
            ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup("")));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms identity: %V %s", &ctx->id,
                  r->method == NGX_HTTP_DELETE ? "deleted"
                                               : "tokens revoked");

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup("")));
}


static ngx_int_t
ngx_http_rooms_identity_revoke(ngx_http_request_t *r,
    ngx_http_rooms_identity_ctx_t *ctx)
{
    u_char                  *t, *msg;
    const char              *argv[6];
    size_t                   argvlen[6];
    ngx_http_rooms_batch_t  *b;

    t = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    msg = ngx_pnalloc(r->pool, 2 + ctx->id.len);
    if (t == NULL || msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* EVALSHA sha 1 key now delete */

    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (char *) ctx->key;
    argvlen[3] = ctx->key_len;
    argv[4] = (char *) t;
    argvlen[4] = ngx_sprintf(t, "%L", ctx->now / 1000000) - t;
    argv[5] = (r->method == NGX_HTTP_DELETE) ? "1" : "0";
    argvlen[5] = 1;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_identity_revoked, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append_script(b, ngx_http_rooms_script_revoke,
                                              6, argv, argvlen);
    (void) ngx_http_rooms_redis_append_publish(b, msg,
                                   ngx_http_rooms_event_user(msg, &ctx->id));

    return ngx_http_rooms_api_wait(r, b);
}


ngx_int_t
ngx_http_rooms_identity_init(ngx_conf_t *cf)
{
    ngx_http_rooms_script_revoke = ngx_http_rooms_redis_add_script(cf,
                                                 ngx_http_rooms_lua_revoke);

    return ngx_http_rooms_script_revoke == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/* routing: path is "/identities[/{id}[/:action]]", already decoded */


ngx_int_t
ngx_http_rooms_identity_route(ngx_http_request_t *r, ngx_str_t *path,
    u_char *body, size_t len)
{
    u_char                         *id, *end, *action;
    ngx_str_t                       v, act;
    ngx_http_rooms_identity_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_identity_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->now = rooms_time_now_us();

    end = path->data + path->len;
    id = path->data + sizeof("/identities") - 1;
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

    if (ngx_http_rooms_identity_set_key(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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
