
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_sessions_api.h"
#include "ngx_http_rooms_response.h"
#include "ngx_http_rooms_store.h"
#include "ngx_http_rooms_events.h"
#include "rooms_id.h"
#include "rooms_time.h"


#define NGX_HTTP_ROOMS_SESSIONS     "/sessions"


typedef struct {
    ngx_str_t                 room;       /* NUL-terminated copies */
    ngx_str_t                 user;
} ngx_http_rooms_sessions_api_ctx_t;


/* "/rooms/" then the room's segment, then "/sessions", "/" or the end */

ngx_uint_t
ngx_http_rooms_sessions_api_path(ngx_str_t *uri)
{
    u_char  *p, *end, *slash;
    size_t   n;

    p = uri->data + sizeof("/rooms/") - 1;
    end = uri->data + uri->len;

    if (p >= end) {
        return 0;
    }

    slash = ngx_strlchr(p, end, '/');
    n = sizeof(NGX_HTTP_ROOMS_SESSIONS) - 1;

    return slash != NULL && (size_t) (end - slash) >= n
           && ngx_strncmp(slash, NGX_HTTP_ROOMS_SESSIONS, n) == 0
           && (end - slash == (ssize_t) n || slash[n] == '/');
}


static ngx_int_t
ngx_http_rooms_sessions_api_not_found(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "The room was not found.");
}


static int ngx_libc_cdecl
ngx_http_rooms_sessions_api_cmp(const void *a, const void *b)
{
    const ngx_http_rooms_seat_entry_t  *ea = a, *eb = b;

    return ngx_memn2cmp(ea->user.data, eb->user.data, ea->user.len,
                        eb->user.len);
}


/* {"value":[{"rawId","role","connectedAt","gateway"}],"maxParticipants"} */

static char *
ngx_http_rooms_sessions_api_json(ngx_http_rooms_seat_entry_t *e,
    ngx_uint_t n, ngx_uint_t max)
{
    char         at[ROOMS_TIME_FORMAT_SIZE];
    json_t      *root, *value, *o;
    ngx_uint_t   i;

    root = json_object();
    value = json_array();

    if (root == NULL || value == NULL
        || json_object_set_new(root, "value", value) != 0)
    {
        json_decref(root);
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (e[i].role < 0) {
            /* no longer a participant: its session is ending */
            continue;
        }

        (void) rooms_time_format(at, e[i].connected * 1000);

        o = json_object();

        if (o == NULL
            || json_array_append_new(value, o) != 0
            || json_object_set_new(o, "rawId",
                                   json_stringn((char *) e[i].user.data,
                                                e[i].user.len))
               != 0
            || json_object_set_new(o, "role",
                                   json_string(rooms_role_name(
                                                   (int) e[i].role)))
               != 0
            || json_object_set_new(o, "connectedAt", json_string(at)) != 0
            || json_object_set_new(o, "gateway",
                                   json_stringn((char *) e[i].gateway.data,
                                                e[i].gateway.len))
               != 0)
        {
            json_decref(root);
            return NULL;
        }
    }

    if (json_object_set_new(root, "maxParticipants", json_integer(max))
        != 0)
    {
        json_decref(root);
        return NULL;
    }

    return rooms_json_dump(root);
}


/* GET /rooms/{roomId}/sessions */


static void
ngx_http_rooms_sessions_api_listed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_uint_t                    count;
    ngx_http_rooms_main_conf_t   *rmcf;
    ngx_http_rooms_seat_entry_t  *e;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_seats_listed(r->pool, &replies[0], &e,
                                              &count))
    {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_http_finalize_request(r, ngx_http_rooms_sessions_api_not_found(r));
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_qsort(e, count, sizeof(ngx_http_rooms_seat_entry_t),
              ngx_http_rooms_sessions_api_cmp);

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_rooms_module);

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_OK,
            ngx_http_rooms_sessions_api_json(e, count,
                                             rmcf->max_participants)));
}


static ngx_int_t
ngx_http_rooms_sessions_api_list(ngx_http_request_t *r,
    ngx_http_rooms_sessions_api_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_sessions_api_listed,
                                   ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_seats_list(b, r->pool, &ctx->room);

    return ngx_http_rooms_wait(r, b);
}


/* DELETE /rooms/{roomId}/sessions/{rawId} */


static void
ngx_http_rooms_sessions_api_announced(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_sessions_api_ctx_t *ctx = data;

    if (rc != NGX_OK || n != 1
        || replies[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        /* the seat is gone; sessions elsewhere end at their next check */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: room %V: user \"%V\" kicked, but not "
                      "announced to the gateways: redis failed",
                      &ctx->room, &ctx->user);
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup("")));
}


static void
ngx_http_rooms_sessions_api_kicked(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_sessions_api_ctx_t *ctx = data;

    int64_t                  now;
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    switch (ngx_http_rooms_store_seats_kicked(&replies[0], &now)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_http_finalize_request(r, ngx_http_rooms_sessions_api_not_found(r));
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms api: room %V: sessions of user \"%V\" ended",
                  &ctx->room, &ctx->user);

    /* every gateway ends the sessions seated before now */

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_sessions_api_announced,
                                   ctx);

    if (b != NULL
        && ngx_http_rooms_events_kick(b, r->pool, &ctx->room, &ctx->user, now)
           != NGX_OK)
    {
        ngx_http_rooms_redis_abort(b);
        b = NULL;
    }

    if (b == NULL || ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_rooms_sessions_api_announced(r, ctx, NULL, 0, NGX_ERROR);
    }
}


static ngx_int_t
ngx_http_rooms_sessions_api_kick(ngx_http_request_t *r,
    ngx_http_rooms_sessions_api_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_sessions_api_kicked,
                                   ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_store_seats_kick(b, r->pool, &ctx->room,
                                           &ctx->user);

    return ngx_http_rooms_wait(r, b);
}


/* routing */


static ngx_int_t
ngx_http_rooms_sessions_api_copy(ngx_http_request_t *r, ngx_str_t *dst,
    u_char *src, size_t len)
{
    dst->data = ngx_pnalloc(r->pool, len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(dst->data, src, len) = '\0';
    dst->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_sessions_api_route(ngx_http_request_t *r)
{
    u_char                             *id, *slash, *user, *end;
    ngx_str_t                           v;
    ngx_http_rooms_sessions_api_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_sessions_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    end = r->uri.data + r->uri.len;
    id = r->uri.data + sizeof("/rooms/") - 1;
    slash = ngx_strlchr(id, end, '/');
    user = slash + sizeof(NGX_HTTP_ROOMS_SESSIONS) - 1;

    if (user < end) {
        user++;                        /* the "/" */

        if (user == end || ngx_strlchr(user, end, '/') != NULL) {
            return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                          "NotFound", "The resource was not found.");
        }
    }

    if ((user < end && r->method != NGX_HTTP_DELETE)
        || (user >= end && r->method != NGX_HTTP_GET))
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_ALLOWED,
                      "MethodNotAllowed",
                      "The method is not allowed on this resource.");
    }

    if (ngx_http_arg(r, (u_char *) "api-version", 11, &v) != NGX_OK
        || rooms_api_version_parse((char *) v.data, v.len) == 0)
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest",
                      "The api-version query parameter is missing or not "
                      "supported (use 2025-03-13, 2024-04-15 or 2023-06-14).");
    }

    switch (rooms_id_check((char *) id, slash - id)) {

    case ROOMS_ID_OK:
        break;

    case ROOMS_ID_BAD_LENGTH:
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid room ID length.");

    case ROOMS_ID_NOT_CANONICAL:
        return ngx_http_rooms_sessions_api_not_found(r);

    default:
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid room ID.");
    }

    if (ngx_http_rooms_sessions_api_copy(r, &ctx->room, id, slash - id)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (user >= end) {
        return ngx_http_rooms_sessions_api_list(r, ctx);
    }

    if (rooms_raw_id_check((char *) user, end - user) != 0) {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid format for the identity.");
    }

    if (ngx_http_rooms_sessions_api_copy(r, &ctx->user, user, end - user)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_rooms_sessions_api_kick(r, ctx);
}
