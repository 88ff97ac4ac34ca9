
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_events.h"
#include "ngx_http_rooms_cache.h"
#include "ngx_http_rooms_store.h"
#include "ngx_http_rooms_metrics.h"
#include "rooms_id.h"
#include "rooms_time.h"


#define NGX_HTTP_ROOMS_RESYNC_RETRY  100    /* ms */


static void ngx_http_rooms_events_message(void *data,
    ngx_http_rooms_sub_event_e event, ngx_str_t *payload);
static void ngx_http_rooms_events_resync(ngx_event_t *ev);


static ngx_str_t                ngx_http_rooms_channel;
static ngx_event_t              ngx_http_rooms_resync_ev;
static ngx_str_t                ngx_http_rooms_stream;    /* empty: no feed */
static ngx_uint_t               ngx_http_rooms_stream_maxlen;
static ngx_http_rooms_event_pt  ngx_http_rooms_listener;
static uint64_t                 ngx_http_rooms_last_seq;  /* 0: unknown */


void
ngx_http_rooms_events_listen(ngx_http_rooms_event_pt handler)
{
    ngx_http_rooms_listener = handler;
}


ngx_int_t
ngx_http_rooms_events_init_process(ngx_cycle_t *cycle)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    ngx_memzero(&ngx_http_rooms_resync_ev, sizeof(ngx_event_t));
    ngx_http_rooms_last_seq = 0;
    ngx_str_null(&ngx_http_rooms_stream);

    if (rmcf == NULL || rmcf->redis == NULL) {
        return NGX_OK;
    }

    ngx_http_rooms_stream = rmcf->stream;
    ngx_http_rooms_stream_maxlen = rmcf->stream_maxlen;

    ngx_http_rooms_channel = rmcf->channel;

    ngx_http_rooms_resync_ev.handler = ngx_http_rooms_events_resync;
    ngx_http_rooms_resync_ev.log = cycle->log;
    ngx_http_rooms_resync_ev.cancelable = 1;

    /* only a cache and live sessions need to hear of others' changes */

    if (!ngx_http_rooms_cache_enabled() && ngx_http_rooms_listener == NULL) {
        return NGX_OK;
    }

    return ngx_http_rooms_redis_subscribe(&ngx_http_rooms_channel,
                                          ngx_http_rooms_events_message,
                                          NULL)
           == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


void
ngx_http_rooms_events_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_rooms_resync_ev.timer_set) {
        ngx_del_timer(&ngx_http_rooms_resync_ev);
    }
}


/* publishing */


static ngx_int_t
ngx_http_rooms_events_publish(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    u_char kind, ngx_str_t *id)
{
    ngx_str_t  msg;

    msg.len = 2 + id->len;
    msg.data = ngx_pnalloc(pool, msg.len);
    if (msg.data == NULL) {
        return NGX_ERROR;
    }

    msg.data[0] = kind;
    msg.data[1] = ' ';
    ngx_memcpy(msg.data + 2, id->data, id->len);

    return ngx_http_rooms_store_publish(b, &ngx_http_rooms_channel, &msg);
}


ngx_int_t
ngx_http_rooms_events_room(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room)
{
    return ngx_http_rooms_events_publish(b, pool, 'r', room);
}


ngx_int_t
ngx_http_rooms_events_user(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *user)
{
    return ngx_http_rooms_events_publish(b, pool, 'u', user);
}


/* "k <roomId> <rawId> <t>", "x <roomId> <rawId> <t>" */

static ngx_int_t
ngx_http_rooms_events_seat(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    u_char kind, ngx_str_t *room, ngx_str_t *user, int64_t t)
{
    u_char     *p;
    ngx_str_t   id;

    id.data = ngx_pnalloc(pool, room->len + user->len + 2 + NGX_INT64_LEN);
    if (id.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(id.data, "%V %V %L", room, user, t);
    id.len = p - id.data;

    return ngx_http_rooms_events_publish(b, pool, kind, &id);
}


ngx_int_t
ngx_http_rooms_events_kick(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *user, int64_t t)
{
    return ngx_http_rooms_events_seat(b, pool, 'k', room, user, t);
}


ngx_int_t
ngx_http_rooms_events_replace(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *user, int64_t t)
{
    return ngx_http_rooms_events_seat(b, pool, 'x', room, user, t);
}


/* the change feed */


char *
ngx_http_rooms_events_stream_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_rooms_main_conf_t  *rmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (rmcf->stream.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_events_stream: the key is empty");
        return NGX_CONF_ERROR;
    }

    rmcf->stream = value[1];
    rmcf->stream_maxlen = 100000;

    if (cf->args->nelts == 3) {
        n = NGX_ERROR;

        if (ngx_strncmp(value[2].data, "maxlen=", 7) == 0) {
            n = ngx_atoi(value[2].data + 7, value[2].len - 7);
        }

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_events_stream: invalid parameter "
                               "\"%V\" (expected maxlen=NUMBER, 0 for no "
                               "limit)", &value[2]);
            return NGX_CONF_ERROR;
        }

        rmcf->stream_maxlen = n;
    }

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_rooms_events_feed_on(void)
{
    return ngx_http_rooms_stream.len != 0;
}


static json_t *
ngx_http_rooms_events_time(int64_t us)
{
    char  buf[ROOMS_TIME_FORMAT_SIZE];

    (void) rooms_time_format(buf, us);

    return json_string(buf);
}


static json_t *
ngx_http_rooms_events_id(ngx_str_t *id)
{
    if (id == NULL) {
        return json_null();
    }

    return json_stringn((char *) id->data, id->len);
}


/* {"type", "time", "room", "user", then what the type has} */

static char *
ngx_http_rooms_events_json(ngx_http_rooms_feed_event_t *ev, int64_t now)
{
    char    *text;
    json_t  *o;

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    if (json_object_set_new(o, "type", json_string(ev->type)) != 0
        || json_object_set_new(o, "time", ngx_http_rooms_events_time(now))
           != 0
        || json_object_set_new(o, "room", ngx_http_rooms_events_id(ev->room))
           != 0
        || json_object_set_new(o, "user", ngx_http_rooms_events_id(ev->user))
           != 0
        || (ev->role != NULL
            && json_object_set_new(o, "role", json_string(ev->role)) != 0)
        || (ev->previous != NULL
            && json_object_set_new(o, "previousRole",
                                   json_string(ev->previous))
               != 0)
        || (ev->window != NULL
            && (json_object_set_new(o, "validFrom",
                        ngx_http_rooms_events_time(ev->window->valid_from))
                != 0
                || json_object_set_new(o, "validUntil",
                       ngx_http_rooms_events_time(ev->window->valid_until))
                   != 0
                || json_object_set_new(o, "pstnDialOutEnabled",
                                       json_boolean(ev->window->pstn == 1))
                   != 0))
        || (ev->revoked != 0
            && json_object_set_new(o, "revokedBefore",
                      ngx_http_rooms_events_time(ev->revoked * 1000000))
               != 0)
        || (ev->gateway != NULL
            && json_object_set_new(o, "gateway",
                                   ngx_http_rooms_events_id(ev->gateway))
               != 0)
        || (ev->reason != NULL
            && json_object_set_new(o, "reason", json_string(ev->reason))
               != 0))
    {
        json_decref(o);
        return NULL;
    }

    text = json_dumps(o, JSON_COMPACT|JSON_PRESERVE_ORDER);
    json_decref(o);

    return text;
}


ngx_int_t
ngx_http_rooms_events_feed(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_http_rooms_feed_event_t *ev, ngx_uint_t n)
{
    char        *text;
    int64_t      now;
    ngx_int_t    rc;
    ngx_str_t    json;
    ngx_uint_t   i;

    now = rooms_time_now_us();

    for (i = 0; i < n; i++) {
        text = ngx_http_rooms_events_json(&ev[i], now);
        if (text == NULL) {
            return NGX_ERROR;
        }

        /* in the pool: the command is formatted when appended */

        json.len = ngx_strlen(text);
        json.data = ngx_pnalloc(pool, json.len);

        if (json.data != NULL) {
            ngx_memcpy(json.data, text, json.len);
        }

        free(text);

        if (json.data == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_rooms_store_stream_add(b, pool, &ngx_http_rooms_stream,
                                             ngx_http_rooms_stream_maxlen,
                                             &json);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* listening */


/* "<roomId> <rawId> <t>" of a seat event */

static ngx_int_t
ngx_http_rooms_events_seat_parse(ngx_str_t *id, uint64_t *room,
    ngx_str_t *user, int64_t *t)
{
    u_char  *p, *q, *last;

    last = id->data + id->len;
    p = ngx_strlchr(id->data, last, ' ');

    if (p == NULL
        || rooms_id_parse((char *) id->data, p - id->data, room)
           != ROOMS_ID_OK)
    {
        return NGX_ERROR;
    }

    p++;
    q = ngx_strlchr(p, last, ' ');

    if (q == NULL || q == p
        || rooms_time_parse_int((char *) q + 1, last - q - 1, t) != 0)
    {
        return NGX_ERROR;
    }

    user->data = p;
    user->len = q - p;

    return NGX_OK;
}


/* "SEQ r <roomId>", "SEQ u <rawId>", "SEQ k ...", "SEQ x ..." */

static void
ngx_http_rooms_events_apply(ngx_str_t *msg)
{
    u_char                  *p, *last, user[NGX_HTTP_ROOMS_DIGEST_LEN];
    int64_t                  seq, t;
    uint64_t                 room;
    ngx_str_t                id, raw;
    ngx_http_rooms_event_e   kind;

    last = msg->data + msg->len;
    p = ngx_strlchr(msg->data, last, ' ');

    if (p == NULL || last - p < 4 || p[2] != ' '
        || rooms_time_parse_int((char *) msg->data, p - msg->data, &seq) != 0
        || seq < 0)
    {
        goto invalid;
    }

    id.data = p + 3;
    id.len = last - id.data;

    switch (p[1]) {

    case 'r':
        if (rooms_id_parse((char *) id.data, id.len, &room) != ROOMS_ID_OK) {
            goto invalid;
        }

        ngx_http_rooms_cache_invalidate_room(room);

        kind = NGX_HTTP_ROOMS_EVENT_ROOM;
        ngx_str_null(&raw);
        t = 0;
        break;

    case 'u':
        ngx_http_rooms_user_digest(&id, user);
        ngx_http_rooms_cache_invalidate_user(user);

        kind = NGX_HTTP_ROOMS_EVENT_USER;
        raw = id;
        room = 0;
        t = 0;
        break;

    case 'k':
    case 'x':
        /* seats only: nothing the cache holds */

        if (ngx_http_rooms_events_seat_parse(&id, &room, &raw, &t)
            != NGX_OK)
        {
            goto invalid;
        }

        kind = (p[1] == 'k') ? NGX_HTTP_ROOMS_EVENT_KICK
                             : NGX_HTTP_ROOMS_EVENT_REPLACE;
        break;

    default:
        goto invalid;
    }

    ngx_http_rooms_cache_applied((uint64_t) seq);
    ngx_http_rooms_metrics_event_received();

    if (ngx_http_rooms_listener == NULL) {
        return;
    }

    /* a gap in this worker's numbers: some change may have been missed */

    if (ngx_http_rooms_last_seq != 0
        && (uint64_t) seq != ngx_http_rooms_last_seq + 1
        && (uint64_t) seq > ngx_http_rooms_last_seq)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "rooms events: event %L after %uL, every live "
                      "session is checked again", seq,
                      ngx_http_rooms_last_seq);

        ngx_http_rooms_last_seq = (uint64_t) seq;
        ngx_http_rooms_listener(NGX_HTTP_ROOMS_EVENT_MISSED, 0, NULL, 0);

    } else {
        ngx_http_rooms_last_seq = (uint64_t) seq;
    }

    ngx_http_rooms_listener(kind, room, &raw, t);

    return;

invalid:

    /* something else publishes on our channel: trust nothing */

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "rooms cache: unknown event \"%V\", cache flushed", msg);

    ngx_http_rooms_cache_flush();

    if (ngx_http_rooms_listener != NULL) {
        ngx_http_rooms_listener(NGX_HTTP_ROOMS_EVENT_MISSED, 0, NULL, 0);
    }
}


/* subscribed: which events were published meanwhile? */

static void
ngx_http_rooms_events_seq(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    int64_t  seq;

    if (rc == NGX_OK) {
        switch (ngx_http_rooms_store_int(&replies[0], &seq)) {

        case NGX_OK:
            if (seq < 0) {
                break;
            }

            ngx_http_rooms_cache_resync((uint64_t) seq);
            ngx_http_rooms_metrics_subscription_up(1);
            return;

        case NGX_DECLINED:
            /* nothing was ever published */
            ngx_http_rooms_cache_resync(0);
            ngx_http_rooms_metrics_subscription_up(1);
            return;

        default:
            break;
        }
    }

    /* cannot tell what was missed: the cache stays bypassed, ask again */

    if (!ngx_exiting && !ngx_terminate
        && !ngx_http_rooms_resync_ev.timer_set)
    {
        ngx_add_timer(&ngx_http_rooms_resync_ev, NGX_HTTP_ROOMS_RESYNC_RETRY);
    }
}


static void
ngx_http_rooms_events_resync(ngx_event_t *ev)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin_detached(ngx_cycle->log,
                                            ngx_http_rooms_events_seq, NULL);

    if (b != NULL) {
        if (ngx_http_rooms_store_event_seq(b) != NGX_OK) {
            ngx_http_rooms_redis_abort(b);

        } else if (ngx_http_rooms_redis_end(b) == NGX_OK) {
            return;
        }
    }

    /* no batch (end() gives it up on failure): try again later */

    ngx_http_rooms_events_seq(NULL, NULL, NULL, 0, NGX_ERROR);
}


static void
ngx_http_rooms_events_message(void *data, ngx_http_rooms_sub_event_e event,
    ngx_str_t *payload)
{
    switch (event) {

    case NGX_HTTP_ROOMS_SUB_UP:
        if (ngx_http_rooms_resync_ev.timer_set) {
            ngx_del_timer(&ngx_http_rooms_resync_ev);
        }

        if (ngx_http_rooms_cache_enabled()) {
            ngx_http_rooms_events_resync(&ngx_http_rooms_resync_ev);
        }

        /* whatever changed while down is read again, now that it is up */

        ngx_http_rooms_last_seq = 0;

        if (ngx_http_rooms_listener != NULL) {
            ngx_http_rooms_listener(NGX_HTTP_ROOMS_EVENT_MISSED, 0, NULL, 0);
        }

        break;

    case NGX_HTTP_ROOMS_SUB_DOWN:
        /* until subscribed again, the cache is bypassed */

        if (ngx_http_rooms_resync_ev.timer_set) {
            ngx_del_timer(&ngx_http_rooms_resync_ev);
        }

        ngx_http_rooms_cache_subscribed(0);
        ngx_http_rooms_metrics_subscription_up(0);
        break;

    default: /* NGX_HTTP_ROOMS_SUB_MESSAGE */
        ngx_http_rooms_events_apply(payload);
        break;
    }
}
