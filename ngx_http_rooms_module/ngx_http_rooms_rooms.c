
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The Rooms REST operations (ACS Rooms, api-versions 2023-06-14 to
 * 2025-03-13) on the "rooms_api" locations: rooms, their participants,
 * listing by pages.  The data model is ngx_http_rooms_store.c's; every
 * change is published for other gateways and forgotten by this one's
 * cache whatever Redis answered.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_rooms.h"
#include "ngx_http_rooms_response.h"
#include "ngx_http_rooms_store.h"
#include "ngx_http_rooms_events.h"
#include "ngx_http_rooms_cache.h"
#include "rooms_b64.h"
#include "rooms_id.h"
#include "rooms_time.h"


#define NGX_HTTP_ROOMS_PAGE_DEFAULT  100
#define NGX_HTTP_ROOMS_PAGE_MAX      1000
#define NGX_HTTP_ROOMS_TIE_SLACK     32
#define NGX_HTTP_ROOMS_REP_TTL       (86400 * 1000)    /* ms */
#define NGX_HTTP_ROOMS_CREATE_TRIES  3


typedef struct {
    ngx_str_t                 id;         /* NUL-terminated copy */
    u_char                    id_buf[ROOMS_ID_MAX_LEN + 1];
    int                       api;
    rooms_room_t              room;
    rooms_room_req_t          req;
    ngx_str_t                 rep_hash;   /* empty: not repeatable */
    u_char                    rep_hash_buf[45];
    ngx_uint_t                tries;
    ngx_int_t                 page_size;
    ngx_str_t                 token;
    int64_t                   token_score;
    ngx_str_t                 token_id;
    ngx_http_rooms_index_entry_t  *ids;   /* list: the index page */
    ngx_uint_t                more;
    ngx_uint_t                answer;     /* of a change: what is sent */
    ngx_int_t                *previous;   /* participants' roles before */
} ngx_http_rooms_rooms_ctx_t;


/* the answer to a change made, once its events are on the feed */
#define NGX_HTTP_ROOMS_ANSWER_CREATED       0
#define NGX_HTTP_ROOMS_ANSWER_UPDATED       1
#define NGX_HTTP_ROOMS_ANSWER_DELETED       2
#define NGX_HTTP_ROOMS_ANSWER_PATCHED       3


static ngx_int_t ngx_http_rooms_rooms_create_exec(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx);
static void ngx_http_rooms_rooms_feed(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_uint_t answer);
static ngx_int_t ngx_http_rooms_rooms_send_created(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx);


/* helpers */


static void
ngx_http_rooms_rooms_set_id(ngx_http_rooms_rooms_ctx_t *ctx, u_char *id,
    size_t len)
{
    /* a NUL-terminated copy: the path is not, and replies are reused */

    ctx->id.data = ctx->id_buf;
    ctx->id.len = len;
    *ngx_cpymem(ctx->id_buf, id, len) = '\0';

    ctx->room.id = (char *) ctx->id_buf;
}


/* this gateway's cache forgets the room, whatever Redis answered */

static void
ngx_http_rooms_rooms_changed(ngx_http_rooms_rooms_ctx_t *ctx)
{
    uint64_t  room;

    if (rooms_id_parse((char *) ctx->id.data, ctx->id.len, &room)
        == ROOMS_ID_OK)
    {
        ngx_http_rooms_cache_invalidate_room(room);
    }
}


static ngx_int_t
ngx_http_rooms_rooms_not_found(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "The room was not found.");
}


static ngx_int_t
ngx_http_rooms_rooms_not_allowed(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_ALLOWED,
                  "MethodNotAllowed",
                  "The method is not allowed on this resource.");
}


static ngx_int_t
ngx_http_rooms_rooms_send_room(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_uint_t status)
{
    return ngx_http_rooms_send_json(r, status,
                                    rooms_room_json(&ctx->room, ctx->api));
}


/* NGX_OK, or NGX_DECLINED with the request answered and *rc set */

static ngx_int_t
ngx_http_rooms_rooms_version(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_int_t *rc)
{
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) "api-version", 11, &v) == NGX_OK) {
        ctx->api = rooms_api_version_parse((char *) v.data, v.len);

        if (ctx->api != 0) {
            return NGX_OK;
        }
    }

    *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                  "BadRequest",
                  "The api-version query parameter is missing or not "
                  "supported (use 2025-03-13, 2024-04-15 or 2023-06-14).");

    return NGX_DECLINED;
}


/* Collaborator exists from api-version 2025-03-13 on */

static ngx_int_t
ngx_http_rooms_rooms_roles(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_int_t *rc)
{
    size_t                i;
    rooms_participant_t  *p;

    p = ctx->req.participants;

    for (i = 0; i < ctx->req.nparticipants; i++) {
        if (p[i].role != ROOMS_ROLE_REMOVE
            && !rooms_role_allowed(p[i].role, ctx->api))
        {
            *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest",
                          "The role is not supported in this api-version.");
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_http_rooms_rooms_free_req(void *data)
{
    rooms_room_req_free(data);
}


static ngx_int_t
ngx_http_rooms_rooms_keep_req(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        rooms_room_req_free(&ctx->req);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_rooms_rooms_free_req;
    cln->data = &ctx->req;

    return NGX_OK;
}


/* the change feed: a change made goes there before it is answered */


static ngx_int_t
ngx_http_rooms_rooms_answer(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    switch (ctx->answer) {

    case NGX_HTTP_ROOMS_ANSWER_CREATED:
        return ngx_http_rooms_rooms_send_created(r, ctx);

    case NGX_HTTP_ROOMS_ANSWER_UPDATED:
        return ngx_http_rooms_rooms_send_room(r, ctx, NGX_HTTP_OK);

    case NGX_HTTP_ROOMS_ANSWER_DELETED:
        return ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup(""));

    default: /* NGX_HTTP_ROOMS_ANSWER_PATCHED */
        return ngx_http_rooms_send_json(r, NGX_HTTP_OK, strdup("{}"));
    }
}


static void
ngx_http_rooms_rooms_fed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    ngx_uint_t  i;

    for (i = 0; rc == NGX_OK && i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK) {
        /* the change is made: the answer stays what it is */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: room %V changed, but not on the events "
                      "stream: redis failed", &ctx->id);
    }

    ngx_http_finalize_request(r, ngx_http_rooms_rooms_answer(r, ctx));
}


/* the events of the change, as ctx tells it; their number */

static ngx_uint_t
ngx_http_rooms_rooms_events(ngx_http_rooms_rooms_ctx_t *ctx,
    ngx_http_rooms_feed_event_t *ev, ngx_str_t *users)
{
    size_t                        i, n;
    ngx_int_t                     before;
    rooms_participant_t          *p;

    n = 0;
    p = ctx->req.participants;

    switch (ctx->answer) {

    case NGX_HTTP_ROOMS_ANSWER_CREATED:
        ev[n].type = "room.created";
        ev[n++].window = &ctx->room;

        for (i = 0; i < ctx->req.nparticipants; i++) {
            ev[n].type = "participant.added";
            ev[n].role = rooms_role_name(p[i].role);
            ev[n++].user = &users[i];
        }

        break;

    case NGX_HTTP_ROOMS_ANSWER_UPDATED:
        ev[n].type = "room.updated";
        ev[n++].window = &ctx->room;
        break;

    case NGX_HTTP_ROOMS_ANSWER_DELETED:
        ev[n++].type = "room.deleted";
        break;

    default: /* NGX_HTTP_ROOMS_ANSWER_PATCHED */

        /* only what changed: the roles before tell */

        for (i = 0; ctx->previous != NULL && i < ctx->req.nparticipants; i++)
        {
            before = ctx->previous[i];

            if (p[i].role == ROOMS_ROLE_REMOVE) {
                if (before < 0) {
                    continue;
                }

                ev[n].type = "participant.removed";

            } else if (before < 0) {
                ev[n].type = "participant.added";
                ev[n].role = rooms_role_name(p[i].role);

            } else if (before != p[i].role) {
                ev[n].type = "participant.role_changed";
                ev[n].role = rooms_role_name(p[i].role);

            } else {
                continue;
            }

            ev[n].previous = (before >= 0) ? rooms_role_name(before) : NULL;
            ev[n++].user = &users[i];
        }

        break;
    }

    for (i = 0; i < n; i++) {
        ev[i].room = &ctx->id;
    }

    return n;
}


/* answers a change made, once its events are on the feed (if any) */

static void
ngx_http_rooms_rooms_feed(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_uint_t answer)
{
    size_t                        i, n;
    ngx_str_t                    *users;
    ngx_http_rooms_batch_t       *b;
    ngx_http_rooms_feed_event_t  *ev;

    ctx->answer = answer;

    if (!ngx_http_rooms_events_feed_on()) {
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_answer(r, ctx));
        return;
    }

    n = ctx->req.nparticipants;

    ev = ngx_pcalloc(r->pool, (n + 1) * sizeof(ngx_http_rooms_feed_event_t));
    users = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_str_t));

    if (ev == NULL || users == NULL) {
        ngx_http_rooms_rooms_fed(r, ctx, NULL, 0, NGX_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        users[i].data = (u_char *) ctx->req.participants[i].raw_id;
        users[i].len = ngx_strlen(ctx->req.participants[i].raw_id);
    }

    n = ngx_http_rooms_rooms_events(ctx, ev, users);

    if (n == 0) {
        /* nothing changed */
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_answer(r, ctx));
        return;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_fed, ctx);

    if (b != NULL && ngx_http_rooms_events_feed(b, r->pool, ev, n) != NGX_OK) {
        ngx_http_rooms_redis_abort(b);
        b = NULL;
    }

    if (b == NULL || ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_rooms_rooms_fed(r, ctx, NULL, 0, NGX_ERROR);
    }
}


/* POST /rooms */


/* 201 with ctx->room */

static ngx_int_t
ngx_http_rooms_rooms_send_created(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    u_char  *loc;

    loc = ngx_pnalloc(r->pool, sizeof("/rooms/") - 1 + ctx->id.len);
    if (loc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_add_header(r, "Location", loc,
                                  ngx_sprintf(loc, "/rooms/%V", &ctx->id)
                                  - loc)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->rep_hash.len
        && ngx_http_rooms_add_header(r, "Repeatability-Result",
                                     (u_char *) "accepted", 8)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_rooms_rooms_send_room(r, ctx, NGX_HTTP_CREATED);
}


/* a repeatable create, once the room is made: listed, and published */

static void
ngx_http_rooms_rooms_announced(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    ngx_uint_t  i;

    for (i = 0; rc == NGX_OK && i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK) {
        /* the room exists: the answer stays 201 */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: room %V created, but not indexed for "
                      "listing nor announced to other gateways: redis "
                      "failed", &ctx->id);
    }

    ngx_http_rooms_rooms_feed(r, ctx, NGX_HTTP_ROOMS_ANSWER_CREATED);
}


static void
ngx_http_rooms_rooms_announce(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_announced, ctx);

    if (b != NULL
        && (ngx_http_rooms_store_room_index(b, r->pool, &ctx->room) != NGX_OK
            || ngx_http_rooms_events_room(b, r->pool, &ctx->id) != NGX_OK))
    {
        ngx_http_rooms_redis_abort(b);
        b = NULL;
    }

    if (b == NULL || ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_rooms_rooms_announced(r, ctx, NULL, 0, NGX_ERROR);
    }
}


static void
ngx_http_rooms_rooms_created(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    u_char  *p;
    size_t   len;

    ngx_http_rooms_rooms_changed(ctx);

    if (ngx_http_rooms_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_room_created(&replies[0], &ctx->room)) {

    case NGX_HTTP_ROOMS_STORE_CREATED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V created with %uz participants",
                      &ctx->id, ctx->req.nparticipants);

        if (ctx->rep_hash.len) {
            /* made: now it may be listed */
            ngx_http_rooms_rooms_announce(r, ctx);
            return;
        }

        /* indexed and published in the same round trip */
        ngx_http_rooms_rooms_feed(r, ctx, NGX_HTTP_ROOMS_ANSWER_CREATED);
        return;

    case NGX_HTTP_ROOMS_STORE_REPLAYED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V: a repeated request, answered "
                      "as the first one was", &ctx->id);

        ngx_http_finalize_request(r,
                                  ngx_http_rooms_rooms_send_created(r, ctx));
        return;

    case NGX_HTTP_ROOMS_STORE_TAKEN:
        if (ctx->rep_hash.len) {
            ngx_http_finalize_request(r,
                ngx_http_rooms_send_simple_error(r, NGX_HTTP_CONFLICT,
                    "Conflict",
                    "The room of this Repeatability-Request-ID exists, but "
                    "the request is no longer remembered: send a new "
                    "Repeatability-Request-ID."));
            return;
        }

        /* a random id that is taken: another one */

        if (++ctx->tries < NGX_HTTP_ROOMS_CREATE_TRIES) {
            p = ngx_pnalloc(r->pool, ROOMS_ID_MAX_LEN + 1);
            if (p == NULL || rooms_id_generate((char *) p, &len) != 0) {
                break;
            }

            ngx_http_rooms_rooms_set_id(ctx, p, len);

            rc = ngx_http_rooms_rooms_create_exec(r, ctx);

            if (rc != NGX_DONE) {
                ngx_http_finalize_request(r, rc);
            }

            return;
        }

        break;

    case NGX_HTTP_ROOMS_STORE_MISMATCH:
        if (ngx_http_rooms_add_header(r, "Repeatability-Result",
                                      (u_char *) "rejected", 8)
            != NGX_OK)
        {
            break;
        }

        ngx_http_finalize_request(r,
            ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                "BadRequest",
                "The request does not match the earlier request with this "
                "Repeatability-Request-ID."));
        return;
    }

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


static ngx_int_t
ngx_http_rooms_rooms_create_exec(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    int64_t                  record;
    ngx_http_rooms_batch_t  *b;

    /* a repeatable request is remembered a day, or as long as its room */

    record = ngx_max(ctx->room.valid_until / 1000,
                     ctx->room.created_at / 1000 + NGX_HTTP_ROOMS_REP_TTL);

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_created, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    if (ngx_http_rooms_store_room_create(b, r->pool, &ctx->room, &ctx->req,
                                         ctx->rep_hash.len ? &ctx->rep_hash
                                                           : NULL,
                                         record)
        != NGX_OK)
    {
        ngx_http_rooms_redis_abort(b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->rep_hash.len) {
        /* no retry of it can come: no need to wait for the answer */
        (void) ngx_http_rooms_store_room_index(b, r->pool, &ctx->room);
        (void) ngx_http_rooms_events_room(b, r->pool, &ctx->id);
    }

    return ngx_http_rooms_wait(r, b);
}


static ngx_int_t
ngx_http_rooms_rooms_create(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, u_char *body, size_t len)
{
    u_char           *id, c;
    size_t            idlen, i;
    ngx_int_t         rc;
    rooms_error_t     err;
    ngx_table_elt_t  *rep;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_model_parse_create((char *) body, len, &ctx->req, &err) != 0) {
        return ngx_http_rooms_send_error(r, &err, 1);
    }

    if (ngx_http_rooms_rooms_keep_req(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_rooms_roles(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    ctx->room.created_at = rooms_time_now_us();

    if (rooms_model_check_window(ctx->room.created_at, &ctx->req.valid_from,
                                 &ctx->req.valid_until, &err)
        != 0)
    {
        return ngx_http_rooms_send_error(r, &err, 1);
    }

    ctx->room.valid_from = ctx->req.valid_from;
    ctx->room.valid_until = ctx->req.valid_until;
    ctx->room.pstn = (ctx->req.pstn == 1);

    id = ngx_pnalloc(r->pool, ROOMS_ID_MAX_LEN + 1);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rep = ngx_http_rooms_find_header(r, "Repeatability-Request-ID");

    if (rep == NULL) {
        if (rooms_id_generate((char *) id, &idlen) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_rooms_rooms_set_id(ctx, id, idlen);

        return ngx_http_rooms_rooms_create_exec(r, ctx);
    }

    /*
     * at most once: the request names its room, and the room's record of
     * the request answers every retry as the first request was answered
     */

    for (i = 0; i < rep->value.len; i++) {
        c = rep->value.data[i] | 0x20;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || rep->value.data[i] == '-'))
        {
            break;
        }
    }

    if (rep->value.len == 0 || rep->value.len > 64 || i != rep->value.len) {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest",
                      "Repeatability-Request-ID must be 1 to 64 letters, "
                      "digits or dashes.");
    }

    if (rooms_id_for_request((char *) id, &idlen, (char *) rep->value.data,
                             rep->value.len)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_rooms_rooms_set_id(ctx, id, idlen);

    rooms_sha256_b64((char *) ctx->rep_hash_buf, body, len);
    ctx->rep_hash.data = ctx->rep_hash_buf;
    ctx->rep_hash.len = 44;

    return ngx_http_rooms_rooms_create_exec(r, ctx);
}


/* GET /rooms/{id} */


static void
ngx_http_rooms_rooms_got(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_room_read(&replies[0], &ctx->room)) {

    case NGX_OK:
        ngx_http_finalize_request(r,
            ngx_http_rooms_rooms_send_room(r, ctx, NGX_HTTP_OK));
        return;

    case NGX_DECLINED:
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_not_found(r));
        return;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: room %V: a stored field is not a number",
                      &ctx->id);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
}


static ngx_int_t
ngx_http_rooms_rooms_get(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_got, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_room_get(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* PATCH /rooms/{id} */


static void
ngx_http_rooms_rooms_updated(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    rooms_error_t  err;

    ngx_http_rooms_rooms_changed(ctx);

    if (ngx_http_rooms_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_room_updated(&replies[0], &ctx->room)) {

    case NGX_HTTP_ROOMS_STORE_UPDATED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V updated", &ctx->id);

        ngx_http_rooms_rooms_feed(r, ctx, NGX_HTTP_ROOMS_ANSWER_UPDATED);
        return;

    case NGX_HTTP_ROOMS_STORE_NO_ROOM:
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_not_found(r));
        return;

    case NGX_HTTP_ROOMS_STORE_REFUSED:

        /* the window the update would give: explain why it is refused */

        ngx_memzero(&err, sizeof(rooms_error_t));

        if (rooms_model_check_window(rooms_time_now_us(),
                                     &ctx->room.valid_from,
                                     &ctx->room.valid_until, &err)
            != 0)
        {
            ngx_http_finalize_request(r,
                                      ngx_http_rooms_send_error(r, &err, 1));
            return;
        }

        break;
    }

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


static ngx_int_t
ngx_http_rooms_rooms_update(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, u_char *body, size_t len)
{
    rooms_error_t            err;
    ngx_http_rooms_batch_t  *b;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_model_parse_update((char *) body, len, &ctx->req, &err) != 0) {
        return ngx_http_rooms_send_error(r, &err, 1);
    }

    if (ngx_http_rooms_rooms_keep_req(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_updated, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_room_update(b, r->pool, &ctx->id,
                                            rooms_time_now_us(),
                                            ctx->req.valid_from,
                                            ctx->req.valid_until,
                                            ctx->req.pstn);
    (void) ngx_http_rooms_events_room(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* DELETE /rooms/{id} */


static void
ngx_http_rooms_rooms_deleted(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    ngx_http_rooms_rooms_changed(ctx);

    if (ngx_http_rooms_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_room_deleted(&replies[0])) {

    case 1:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V deleted", &ctx->id);

        ngx_http_rooms_rooms_feed(r, ctx, NGX_HTTP_ROOMS_ANSWER_DELETED);
        return;

    case 0:
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_not_found(r));
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
}


static ngx_int_t
ngx_http_rooms_rooms_delete(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_deleted, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_room_delete(b, r->pool, &ctx->id);
    (void) ngx_http_rooms_events_room(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* paging */


static ngx_int_t
ngx_http_rooms_rooms_paging(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_int_t *rc)
{
    ngx_str_t  v;

    ctx->page_size = NGX_HTTP_ROOMS_PAGE_DEFAULT;

    if (ngx_http_arg(r, (u_char *) "maxpagesize", 11, &v) == NGX_OK) {
        ctx->page_size = ngx_atoi(v.data, v.len);

        if (ctx->page_size < 1 || ctx->page_size > NGX_HTTP_ROOMS_PAGE_MAX) {
            *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest", "maxpagesize must be 1 to 1000.");
            return NGX_DECLINED;
        }
    }

    if (ngx_http_arg(r, (u_char *) "continuationToken", 17, &v) == NGX_OK) {
        if (v.len == 0 || v.len > 1024) {
            *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest", "The continuation token is invalid.");
            return NGX_DECLINED;
        }

        ctx->token = v;
    }

    return NGX_OK;
}


/*
 * A relative link: the SDK follows it verbatim against its endpoint, so it
 * works behind any host and port; the token holds [A-Za-z0-9._-] only, so
 * the signed query equals the sent one.
 */

static char *
ngx_http_rooms_rooms_next_link(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, ngx_str_t *token)
{
    u_char     *p, *last;
    size_t      len;
    ngx_str_t   v;

    (void) ngx_http_arg(r, (u_char *) "api-version", 11, &v);

    len = r->uri.len + v.len + NGX_INT_T_LEN + token->len
          + sizeof("?api-version=&maxpagesize=&continuationToken=");

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    last = ngx_sprintf(p, "%V?api-version=%V&maxpagesize=%i"
                       "&continuationToken=%V",
                       &r->uri, &v, ctx->page_size, token);
    *last = '\0';

    return (char *) p;
}


/* GET /rooms/{id}/participants */


static int ngx_libc_cdecl
ngx_http_rooms_participant_cmp(const void *a, const void *b)
{
    const rooms_participant_t  *pa = a, *pb = b;

    return strcmp(pa->raw_id, pb->raw_id);
}


static void
ngx_http_rooms_rooms_got_participants(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    u_char               *after;
    char                 *next;
    long                  dec;
    size_t                i, count, start, take;
    ngx_str_t             token;
    rooms_participant_t  *p;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_participants_read(r->pool, replies, &p,
                                                   &count))
    {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_not_found(r));
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* pages in raw id order: stable while the list changes */

    ngx_qsort(p, count, sizeof(rooms_participant_t),
              ngx_http_rooms_participant_cmp);

    start = 0;

    if (ctx->token.len) {
        after = ngx_pnalloc(r->pool, rooms_b64_decoded_len(ctx->token.len)
                                     + 1);
        if (after == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        dec = rooms_b64url_decode(after, (char *) ctx->token.data,
                                  ctx->token.len);
        if (dec < 0) {
            ngx_http_finalize_request(r,
                ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                              "BadRequest",
                              "The continuation token is invalid."));
            return;
        }

        after[dec] = '\0';

        while (start < count && strcmp(p[start].raw_id, (char *) after) <= 0)
        {
            start++;
        }
    }

    take = count - start;
    next = NULL;

    if (take > (size_t) ctx->page_size) {
        take = ctx->page_size;

        i = ngx_strlen(p[start + take - 1].raw_id);
        token.data = ngx_pnalloc(r->pool, rooms_b64_encoded_len(i));
        if (token.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        token.len = rooms_b64url_encode((char *) token.data,
                               (u_char *) p[start + take - 1].raw_id, i);

        next = ngx_http_rooms_rooms_next_link(r, ctx, &token);
        if (next == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_OK,
            rooms_participants_page_json(p + start, take, next)));
}


static ngx_int_t
ngx_http_rooms_rooms_participants(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_rooms_paging(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_got_participants,
                                   ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_participants_get(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* PATCH /rooms/{id}/participants */


static void
ngx_http_rooms_rooms_patched(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    ngx_http_rooms_rooms_changed(ctx);

    if (ngx_http_rooms_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_participants_patched(&replies[0])) {

    case 1:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V: %uz participants added, updated "
                      "or removed", &ctx->id, ctx->req.nparticipants);

        if (ngx_http_rooms_events_feed_on()) {
            ctx->previous = ngx_palloc(r->pool, (ctx->req.nparticipants + 1)
                                                * sizeof(ngx_int_t));
            if (ctx->previous == NULL
                || ngx_http_rooms_store_participants_previous(&replies[0],
                                                  &ctx->req, ctx->previous)
                   != NGX_OK)
            {
                ctx->previous = NULL;
            }
        }

        ngx_http_rooms_rooms_feed(r, ctx, NGX_HTTP_ROOMS_ANSWER_PATCHED);
        return;

    case 0:
        ngx_http_finalize_request(r, ngx_http_rooms_rooms_not_found(r));
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
}


static ngx_int_t
ngx_http_rooms_rooms_patch(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx, u_char *body, size_t len)
{
    ngx_int_t                rc;
    rooms_error_t            err;
    ngx_http_rooms_batch_t  *b;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_model_parse_participants_patch((char *) body, len, &ctx->req,
                                             &err)
        != 0)
    {
        return ngx_http_rooms_send_error(r, &err, 1);
    }

    if (ngx_http_rooms_rooms_keep_req(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_rooms_roles(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_patched, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_participants_patch(b, r->pool, &ctx->id,
                                                   &ctx->req);
    (void) ngx_http_rooms_events_room(b, r->pool, &ctx->id);

    return ngx_http_rooms_wait(r, b);
}


/* GET /rooms: the index gives a page of ids, then one read per room */


static void
ngx_http_rooms_rooms_listed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    u_char                        *p;
    char                          *next;
    size_t                         i, count;
    ngx_str_t                      token;
    rooms_room_t                  *rooms;
    ngx_http_rooms_index_entry_t  *e;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    rooms = ngx_palloc(r->pool, (n ? n : 1) * sizeof(rooms_room_t));
    if (rooms == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    count = 0;

    for (i = 0; i < n; i++) {
        e = &ctx->ids[i];
        rooms[count].id = (char *) e->id.data;

        switch (ngx_http_rooms_store_room_read(&replies[i], &rooms[count])) {

        case NGX_OK:
            count++;
            break;

        case NGX_DECLINED:
            /* deleted or expired: forget it in the index */
            ngx_http_rooms_store_index_forget(r->connection->log, r->pool,
                                              &e->id);
            break;

        default:
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rooms api: room %V: a stored field is not a "
                          "number, left out of the list", &e->id);
            break;
        }
    }

    next = NULL;

    if (ctx->more) {
        e = &ctx->ids[n - 1];

        p = ngx_pnalloc(r->pool, e->score_str.len + 1 + e->id.len);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        token.data = p;
        token.len = ngx_sprintf(p, "%V.%V", &e->score_str, &e->id) - p;

        next = ngx_http_rooms_rooms_next_link(r, ctx, &token);
        if (next == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_OK,
            rooms_rooms_page_json(rooms, count, ctx->api, next)));
}


static void
ngx_http_rooms_rooms_indexed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_rooms_ctx_t *ctx = data;

    ngx_uint_t                     i, total, skip, take;
    ngx_http_rooms_batch_t        *b;
    ngx_http_rooms_index_entry_t  *ids;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    /* the shards of the index, merged */

    if (ngx_http_rooms_store_index_read(r->pool, replies, n, &ids, &total)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* entries sharing the token's score sort by id: skip up to the token */

    skip = 0;

    if (ctx->token_id.len) {
        while (skip < total
               && ids[skip].score == ctx->token_score
               && ngx_memn2cmp(ids[skip].id.data, ctx->token_id.data,
                               ids[skip].id.len, ctx->token_id.len)
                  <= 0)
        {
            skip++;
        }
    }

    take = total - skip;

    if (take > (ngx_uint_t) ctx->page_size) {
        take = ctx->page_size;
        ctx->more = 1;
    }

    ctx->ids = ids + skip;

    if (take == 0) {
        ngx_http_finalize_request(r,
            ngx_http_rooms_send_json(r, NGX_HTTP_OK,
                rooms_rooms_page_json(NULL, 0, ctx->api, NULL)));
        return;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_listed, ctx);
    if (b == NULL) {
        ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
        return;
    }

    for (i = 0; i < take; i++) {
        (void) ngx_http_rooms_store_room_get(b, r->pool, &ctx->ids[i].id);
    }

    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
    }
}


static ngx_int_t
ngx_http_rooms_rooms_list(ngx_http_request_t *r,
    ngx_http_rooms_rooms_ctx_t *ctx)
{
    u_char                  *dot;
    ngx_int_t                rc;
    ngx_str_t                min;
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_rooms_paging(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    ngx_str_null(&min);

    if (ctx->token.len) {
        /* "score.id" of the last room on the previous page */

        dot = ngx_strlchr(ctx->token.data, ctx->token.data + ctx->token.len,
                          '.');

        if (dot == NULL
            || rooms_time_parse_int((char *) ctx->token.data,
                                    dot - ctx->token.data, &ctx->token_score)
               != 0
            || ctx->token_score < 0
            || rooms_id_check((char *) dot + 1,
                              ctx->token.data + ctx->token.len - dot - 1)
               != ROOMS_ID_OK)
        {
            return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest", "The continuation token is invalid.");
        }

        ctx->token_id.data = dot + 1;
        ctx->token_id.len = ctx->token.data + ctx->token.len - dot - 1;

        min.data = ctx->token.data;
        min.len = dot - ctx->token.data;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_rooms_indexed, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    if (ngx_http_rooms_store_index_page(b, r->pool, &min,
                                        ctx->page_size
                                        + NGX_HTTP_ROOMS_TIE_SLACK + 1)
        == 0)
    {
        ngx_http_rooms_redis_abort(b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_rooms_wait(r, b);
}


/* routing: "/rooms[/{id}[/participants]]" */


ngx_int_t
ngx_http_rooms_rooms_route(ngx_http_request_t *r, u_char *body, size_t len)
{
    u_char                      *id, *end, *slash;
    ngx_int_t                    rc;
    ngx_str_t                    uri;
    ngx_http_rooms_rooms_ctx_t  *ctx;

    uri = r->uri;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_rooms_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (uri.len == 6) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_POST))) {
            return ngx_http_rooms_rooms_not_allowed(r);
        }

        if (ngx_http_rooms_rooms_version(r, ctx, &rc) != NGX_OK) {
            return rc;
        }

        return (r->method == NGX_HTTP_GET)
               ? ngx_http_rooms_rooms_list(r, ctx)
               : ngx_http_rooms_rooms_create(r, ctx, body, len);
    }

    id = uri.data + 7;
    end = uri.data + uri.len;
    slash = ngx_strlchr(id, end, '/');

    if (slash != NULL
        && (end - slash != 13
            || ngx_strncmp(slash, "/participants", 13) != 0))
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                      "NotFound", "The resource was not found.");
    }

    if (slash == NULL) {
        slash = end;
    }

    if (slash == end) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_PATCH|NGX_HTTP_DELETE))) {
            return ngx_http_rooms_rooms_not_allowed(r);
        }

    } else if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_PATCH))) {
        return ngx_http_rooms_rooms_not_allowed(r);
    }

    if (ngx_http_rooms_rooms_version(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    switch (rooms_id_check((char *) id, slash - id)) {

    case ROOMS_ID_OK:
        break;

    case ROOMS_ID_BAD_LENGTH:
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid room ID length.");

    case ROOMS_ID_NOT_CANONICAL:
        /* digits, but no room has this spelling */
        return ngx_http_rooms_rooms_not_found(r);

    default:
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid room ID.");
    }

    ngx_http_rooms_rooms_set_id(ctx, id, slash - id);

    if (slash == end) {
        switch (r->method) {

        case NGX_HTTP_GET:
            return ngx_http_rooms_rooms_get(r, ctx);

        case NGX_HTTP_PATCH:
            return ngx_http_rooms_rooms_update(r, ctx, body, len);

        default: /* NGX_HTTP_DELETE */
            return ngx_http_rooms_rooms_delete(r, ctx);
        }
    }

    return (r->method == NGX_HTTP_GET)
           ? ngx_http_rooms_rooms_participants(r, ctx)
           : ngx_http_rooms_rooms_patch(r, ctx, body, len);
}
