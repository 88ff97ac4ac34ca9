
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Admission in the access phase ("rooms_admission"): a signed room token
 * and the room's invitee list in Redis decide whether a request reaches
 * the media cluster.  One pipelined Redis round trip per decision; the
 * request is parked meanwhile and the phases resume on the reply.
 * Fails closed: no answer from Redis is a 503, never an admission.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"
#include "ngx_http_rooms_cache.h"
#include "rooms_id.h"
#include "rooms_mask.h"
#include "rooms_time.h"


/* the most of a refused room id that its log line shows */
#define NGX_HTTP_ROOMS_LOG_ROOM_MAX  64


typedef enum {
    NGX_HTTP_ROOMS_VAR_USER = 0,
    NGX_HTTP_ROOMS_VAR_ROLE,
    NGX_HTTP_ROOMS_VAR_ROOM,
    NGX_HTTP_ROOMS_VAR_DENY,
    NGX_HTTP_ROOMS_VAR_STATS
} ngx_http_rooms_var_e;


static ngx_int_t ngx_http_rooms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_rooms_vars[] = {

    { ngx_string("rooms_user_id"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_USER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_role"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_ROLE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_room_id"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_ROOM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_deny_reason"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_DENY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_cache_stats"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_STATS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_rooms_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_rooms_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_rooms_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    const char            *role;
    ngx_str_t             *s, tmp;
    ngx_http_rooms_ctx_t  *ctx;

    if (data == NGX_HTTP_ROOMS_VAR_STATS) {
        if (ngx_http_rooms_cache_stats(r, &tmp) != NGX_OK) {
            v->not_found = 1;
            return NGX_OK;
        }

        s = &tmp;
        goto found;
    }

    /*
     * the request's own decision: a subrequest's when auth_request asks
     * (its auth_request_set reads them in the subrequest), else the main
     * request's
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_rooms_module);

    if (ctx == NULL) {
        ctx = ngx_http_get_module_ctx(r->main, ngx_http_rooms_module);

        if (ctx == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }
    }

    switch (data) {

    case NGX_HTTP_ROOMS_VAR_USER:
        s = &ctx->user_id;
        break;

    case NGX_HTTP_ROOMS_VAR_ROOM:
        s = &ctx->room_id;
        break;

    case NGX_HTTP_ROOMS_VAR_DENY:
        s = &ctx->deny_reason;
        break;

    default: /* NGX_HTTP_ROOMS_VAR_ROLE */
        role = ctx->role >= 0 ? rooms_role_name((int) ctx->role) : NULL;

        tmp.len = role ? ngx_strlen(role) : 0;
        tmp.data = (u_char *) role;
        s = &tmp;
        break;
    }

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

found:

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* the decision */


static ngx_table_elt_t *
ngx_http_rooms_admission_header(ngx_http_request_t *r, char *name,
    char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return h;
}


/*
 * Records a refusal.  The status goes back to the access phase (so that
 * "satisfy any" can still let another module admit); with "satisfy all"
 * the refusal is final and answered here with a small JSON body.
 */

static ngx_int_t
ngx_http_rooms_admission_deny(ngx_http_request_t *r, ngx_http_rooms_ctx_t *ctx,
    ngx_uint_t status, const char *reason)
{
    u_char                     room[3 * NGX_HTTP_ROOMS_LOG_ROOM_MAX];
    size_t                     len;
    ngx_int_t                  rc;
    ngx_str_t                  logged;
    ngx_uint_t                 level;
    const char                *code, *message;
    ngx_http_core_loc_conf_t  *clcf;

    ctx->deny_reason.data = (u_char *) reason;
    ctx->deny_reason.len = ngx_strlen(reason);
    ctx->status = status;
    ctx->done = 1;

    level = (status == NGX_HTTP_SERVICE_UNAVAILABLE) ? NGX_LOG_ERR
                                                     : NGX_LOG_INFO;

    /* the room id as the client sent it: escaped, and not all of it */

    len = ngx_min(ctx->room_id.len, NGX_HTTP_ROOMS_LOG_ROOM_MAX);
    logged.data = room;
    logged.len = (u_char *) ngx_escape_uri(room, ctx->room_id.data, len,
                                           NGX_ESCAPE_URI_COMPONENT)
                 - room;

    ngx_log_error(level, r->connection->log, 0,
                  "rooms admission: room \"%V%s\" user \"%V\" refused: %s",
                  &logged, len < ctx->room_id.len ? "..." : "",
                  &ctx->user_id, reason);

    switch (status) {

    case NGX_HTTP_UNAUTHORIZED:
        code = "Unauthorized";
        message = "A valid room token is required.";

        /* known to nginx, so that it goes if "satisfy any" admits */

        r->headers_out.www_authenticate = ngx_http_rooms_admission_header(r,
                               "WWW-Authenticate",
                               "Bearer error=\"invalid_token\"");
        if (r->headers_out.www_authenticate == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    case NGX_HTTP_FORBIDDEN:
        code = "Forbidden";
        message = "Not admitted to this room.";
        break;

    default: /* NGX_HTTP_SERVICE_UNAVAILABLE */
        code = "ServiceUnavailable";
        message = "Admission cannot be decided now, retry later.";

        if (ngx_http_rooms_admission_header(r, "Retry-After", "1") == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;
    }

    if (r != r->main) {
        /* auth_request's subrequest: the status is the answer */
        return status;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->satisfy == NGX_HTTP_SATISFY_ANY
        && status != NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        return status;
    }

    ctx->answered = 1;

    rc = ngx_http_rooms_send_simple_error(r, status, code, message);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The request line goes into every error log line about the request and
 * into $request: the values of the query arguments that may carry a token
 * are replaced by "***" there, all of them, whatever the request turns out
 * to be (the query itself, $args and $request_uri, is left as it is).
 */

static ngx_int_t
ngx_http_rooms_admission_mask(ngx_http_request_t *r,
    ngx_http_rooms_loc_conf_t *rlcf)
{
    u_char              *p;
    size_t               len, masked;
    ngx_str_t           *line;
    ngx_http_request_t  *mr;

    /* a subrequest's line is its main request's, whose query it asks about */

    mr = r->main;
    line = &mr->request_line;

    if (mr->args_start == NULL && mr->args.len == 0) {
        /* no '?' in the request line */
        return NGX_OK;
    }

    len = rooms_mask_line(NULL, (char *) line->data, line->len,
                          rlcf->mask, rlcf->nmask, &masked);

    if (masked == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    (void) rooms_mask_line((char *) p, (char *) line->data, line->len,
                           rlcf->mask, rlcf->nmask, NULL);

    line->data = p;
    line->len = len;
    r->request_line = *line;

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


static ngx_str_t *
ngx_http_rooms_admission_token(ngx_http_request_t *r,
    ngx_http_rooms_loc_conf_t *rlcf, ngx_str_t *token)
{
    u_char     *p;
    ngx_str_t  *auth;

    if (rlcf->token != NULL) {
        if (ngx_http_rooms_value(r, rlcf->token, token) != NGX_OK) {
            return NULL;
        }

        return token->len ? token : NULL;
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

            return token->len ? token : NULL;
        }
    }

    /*
     * browsers cannot set headers on a WebSocket upgrade; a subrequest
     * (auth_request's) asks about its main request's query
     */

    if (ngx_http_arg(r->main, (u_char *) "access_token", 12, token) == NGX_OK
        && token->len)
    {
        return token;
    }

    return NULL;
}


/* the decision from the facts, cached or just read from Redis */

static void
ngx_http_rooms_admission_decide(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx, ngx_http_rooms_facts_t *f)
{
    int64_t                     now;
    ngx_http_rooms_loc_conf_t  *rlcf;

    ctx->decided = 1;
    ctx->deny_code = NGX_HTTP_FORBIDDEN;

    if (f->from == INT64_MIN || f->role < 0) {
        /* a missing room looks the same as one the user is not in */
        ctx->deny = "not invited";
        return;
    }

    ctx->deny_code = NGX_HTTP_UNAUTHORIZED;

    if (f->deleted) {
        ctx->deny = "identity deleted";
        return;
    }

    if (f->revoked >= 0 && (!ctx->has_iat || ctx->iat < f->revoked)) {
        ctx->deny = "token revoked";
        return;
    }

    ctx->deny_code = NGX_HTTP_FORBIDDEN;
    ctx->role = f->role;

    now = rooms_time_now_us();

    if (now < f->from || now >= f->until) {
        ctx->deny = "outside the room's validity";
        return;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (rlcf->roles && !(rlcf->roles & ((ngx_uint_t) 1 << f->role))) {
        ctx->deny = "role not allowed";
        return;
    }

    ctx->deny_code = NGX_OK;
}


/* a stored time; none if there is none, NGX_ERROR if it is not a number */

static ngx_int_t
ngx_http_rooms_reply_time(ngx_http_rooms_reply_t *rep, int64_t none,
    int64_t *v)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_STRING || rep->str.len == 0) {
        *v = none;
        return NGX_OK;
    }

    if (rooms_time_parse_int((char *) rep->str.data, rep->str.len, v) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_rooms_admission_replied(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_ctx_t *ctx = data;

    ngx_uint_t               i;
    ngx_http_rooms_reply_t  *room, *user;
    ngx_http_rooms_facts_t   facts;

    ctx->waiting = 0;

    for (i = 0; rc == NGX_OK && i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rooms admission: redis error: %V",
                          &replies[i].str);
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK || replies[0].elements != 2 || replies[2].elements != 2) {
        /* fail closed */
        ctx->decided = 1;
        ctx->deny_code = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->deny = "store unavailable";
        goto resume;
    }

    room = replies[0].element;
    user = replies[2].element;

    if (ngx_http_rooms_reply_time(&room[0], INT64_MIN, &facts.from)
        != NGX_OK
        || ngx_http_rooms_reply_time(&room[1], 0, &facts.until) != NGX_OK
        || ngx_http_rooms_reply_time(&user[0], -1, &facts.revoked) != NGX_OK)
    {
        /* what the API never writes: fail closed, and say where */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms admission: a stored time is not a number: "
                      "\"f\" \"%V\", \"u\" \"%V\" of room \"%V\"; "
                      "\"r\" \"%V\" of its user",
                      &room[0].str, &room[1].str, &ctx->room_id,
                      &user[0].str);
        ctx->decided = 1;
        ctx->deny_code = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->deny = "store unavailable";
        goto resume;
    }

    facts.deleted = (user[1].type == NGX_HTTP_ROOMS_REPLY_STRING);
    facts.role = -1;

    if (replies[1].type == NGX_HTTP_ROOMS_REPLY_STRING) {
        facts.role = rooms_role_parse((char *) replies[1].str.data,
                                      replies[1].str.len);
        if (facts.role < 0) {
            facts.role = ROOMS_ROLE_ATTENDEE;
        }
    }

    if (ctx->cached) {
        ngx_http_rooms_cache_put(r, ctx->room, ctx->user, &facts, &ctx->snap);
    }

    ngx_http_rooms_admission_decide(r, ctx, &facts);

resume:

    /* back into the access phase, which now finds the decision */

    ngx_http_core_run_phases(r);
}


/* the token's claims: verified now, or earlier by this worker */

static ngx_int_t
ngx_http_rooms_admission_verify(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx, ngx_str_t *token, ngx_str_t *sub,
    ngx_str_t *room, ngx_http_rooms_memo_t **memo)
{
    int                         rc;
    time_t                      now;
    ngx_uint_t                  hash;
    rooms_jwt_claims_t          claims;
    ngx_http_rooms_token_t     *t;
    ngx_http_rooms_srv_conf_t  *rscf;

    rscf = ngx_http_get_module_srv_conf(r, ngx_http_rooms_module);
    now = ngx_time();
    hash = 0;

    /* verified by this worker with these keys: the times are checked anew */

    t = ngx_http_rooms_token_get(token, rscf->jwks, &hash);

    if (t != NULL) {
        if (t->exp <= now - rscf->leeway) {
            return ngx_http_rooms_admission_deny(r, ctx,
                                                 NGX_HTTP_UNAUTHORIZED,
                                                 "expired");
        }

        if (t->has_nbf && t->nbf > now + rscf->leeway) {
            return ngx_http_rooms_admission_deny(r, ctx,
                                                 NGX_HTTP_UNAUTHORIZED,
                                                 "not yet valid");
        }
    }

    if (t == NULL) {
        ngx_http_rooms_token_verifications++;

        rc = rooms_jwt_verify(rscf->jwks, (char *) token->data, token->len,
                              now, rscf->leeway, &claims);

        if (rc != ROOMS_JWT_OK) {
            return ngx_http_rooms_admission_deny(r, ctx,
                                                 NGX_HTTP_UNAUTHORIZED,
                                                 rooms_jwt_strerror(rc));
        }

        t = ngx_http_rooms_token_put(hash, token, rscf->jwks, &claims);
    }

    if (t != NULL) {
        /*
         * a copy: another request may replace the worker's slot while
         * this one waits for Redis
         */

        sub->len = t->sub.len;
        sub->data = ngx_pnalloc(r->pool, sub->len);
        if (sub->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(sub->data, t->sub.data, sub->len);

        *room = t->room;
        *memo = &t->memo;
        ctx->iat = t->iat;
        ctx->has_iat = t->has_iat;
        ngx_memcpy(ctx->user, t->user, NGX_HTTP_ROOMS_DIGEST_LEN);

    } else {
        /* copies: the claims live on this stack frame */

        sub->len = ngx_strlen(claims.sub);
        room->len = claims.has_room ? ngx_strlen(claims.room) : 0;

        sub->data = ngx_pnalloc(r->pool, sub->len + room->len + 1);
        if (sub->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        room->data = ngx_cpymem(sub->data, claims.sub, sub->len);
        ngx_memcpy(room->data, claims.room, room->len);

        ctx->iat = claims.iat;
        ctx->has_iat = claims.has_iat;
        ctx->cached = 0;
    }

    return NGX_OK;
}


/*
 * The decision, in the access phase of a main request and in the
 * precontent phase of a subrequest (nginx runs no access phase for those:
 * that is how auth_request asks a location with rooms_admission).
 */

static ngx_int_t
ngx_http_rooms_admission(ngx_http_request_t *r)
{
    u_char                     *p, *keys;
    ngx_int_t                   rc;
    ngx_str_t                   room, token, sub, claim;
    const char                 *argv[5];
    size_t                      argvlen[5];
    ngx_http_rooms_ctx_t       *ctx;
    ngx_http_rooms_memo_t      *memo;
    ngx_http_rooms_batch_t     *b;
    ngx_http_rooms_facts_t      facts;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    ctx = ngx_http_get_module_ctx(r, ngx_http_rooms_module);

    if (ctx != NULL) {
        if (ctx->waiting) {
            return NGX_AGAIN;
        }

        if (ctx->decided) {
            goto decided;
        }

        if (ctx->done) {
            /* a later pass (internal redirect): decided once */
            return ctx->deny_reason.len ? (ngx_int_t) ctx->status : NGX_OK;
        }
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->role = -1;
    ngx_http_set_ctx(r, ctx, ngx_http_rooms_module);

    /* before anything can refuse the request and log it */

    if (ngx_http_rooms_admission_mask(r, rlcf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_value(r, rlcf->admission, &room) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->room_id = room;

    if (rooms_id_parse((char *) room.data, room.len, &ctx->room)
        != ROOMS_ID_OK)
    {
        return ngx_http_rooms_admission_deny(r, ctx, NGX_HTTP_FORBIDDEN,
                                             "not invited");
    }

    if (ngx_http_rooms_admission_token(r, rlcf, &token) == NULL) {
        return ngx_http_rooms_admission_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                             "missing token");
    }

    ctx->cached = rlcf->cache && ngx_http_rooms_cache_enabled();

    ngx_str_null(&sub);
    ngx_str_null(&claim);
    memo = NULL;

    rc = ngx_http_rooms_admission_verify(r, ctx, &token, &sub, &claim, &memo);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->user_id = sub;

    if (claim.len
        && (claim.len != room.len
            || ngx_strncmp(claim.data, room.data, room.len) != 0))
    {
        return ngx_http_rooms_admission_deny(r, ctx, NGX_HTTP_FORBIDDEN,
                                             "token is for another room");
    }

    /*
     * the memo lives in the worker's token table, so it is used now or not
     * at all (a wait for Redis below may see the token evicted)
     */

    if (ctx->cached
        && ngx_http_rooms_cache_get(r, ctx->room, ctx->user, &facts,
                                    &ctx->snap, memo)
           == NGX_OK)
    {
        ngx_http_rooms_admission_decide(r, ctx, &facts);
        goto decided;
    }

    /*
     * one pipelined round trip: the room's window, the user's role in it,
     * the user's revocation
     */

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_admission_replied, ctx);
    if (b == NULL) {
        return ngx_http_rooms_admission_deny(r, ctx,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "store unavailable");
    }

    keys = ngx_pnalloc(r->pool, 3 * (sizeof("rooms:user:{}") + sub.len
                                     + room.len + 8));
    if (keys == NULL) {
        ngx_http_rooms_redis_abort(b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* (ngx_cpymem(), not ngx_sprintf(): this is every uncached request) */

    p = ngx_cpymem(keys, "rooms:{", sizeof("rooms:{") - 1);
    p = ngx_cpymem(p, room.data, room.len);
    *p++ = '}';
    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = (char *) keys;
    argvlen[1] = p - keys;
    argv[2] = "f";
    argv[3] = "u";
    argvlen[2] = argvlen[3] = 1;

    (void) ngx_http_rooms_redis_append(b, 4, argv, argvlen);

    keys = p;
    p = ngx_cpymem(keys, "rooms:{", sizeof("rooms:{") - 1);
    p = ngx_cpymem(p, room.data, room.len);
    p = ngx_cpymem(p, "}:p", sizeof("}:p") - 1);
    argv[0] = "HGET";
    argvlen[0] = 4;
    argv[1] = (char *) keys;
    argvlen[1] = p - keys;
    argv[2] = (char *) sub.data;
    argvlen[2] = sub.len;

    (void) ngx_http_rooms_redis_append(b, 3, argv, argvlen);

    keys = p;
    p = ngx_cpymem(keys, "rooms:user:{", sizeof("rooms:user:{") - 1);
    p = ngx_cpymem(p, sub.data, sub.len);
    *p++ = '}';
    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = (char *) keys;
    argvlen[1] = p - keys;
    argv[2] = "r";
    argv[3] = "d";
    argvlen[2] = argvlen[3] = 1;

    (void) ngx_http_rooms_redis_append(b, 4, argv, argvlen);

    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        return ngx_http_rooms_admission_deny(r, ctx,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "store unavailable");
    }

    ctx->waiting = 1;

    return NGX_AGAIN;

decided:

    ctx->decided = 0;

    if (ctx->deny_code == NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "rooms admission: \"%V\" admitted to \"%V\"",
                       &ctx->user_id, &ctx->room_id);
        ctx->done = 1;
        return NGX_OK;
    }

    return ngx_http_rooms_admission_deny(r, ctx, ctx->deny_code, ctx->deny);
}


ngx_int_t
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
 * the variables set for auth_request_set.
 */

ngx_int_t
ngx_http_rooms_admission_subrequest_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (rlcf->admission == NULL || r == r->main) {
        return NGX_DECLINED;
    }

    rc = ngx_http_rooms_admission(r);

    return (rc == NGX_OK) ? NGX_HTTP_NO_CONTENT : rc;
}
