
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Changes between gateways: every change the API makes is published,
 * numbered, on the Redis channel of its database ("r <roomId>",
 * "u <rawId>"), and every worker of a gateway with a cache zone listens
 * and invalidates what the change touches.  After a (re)subscription the
 * events missed are told by the numbers: a gap flushes the zone.
 *
 * Live sessions listen too (ngx_http_rooms_events_listen()): to every
 * change, to the kinds only they care about ("k <roomId> <rawId> <t>" a
 * user's seat taken away, "x <roomId> <rawId> <t>" a user's older
 * sessions replaced), and to what may have been missed: a
 * (re)subscription, a gap in this worker's numbers.
 *
 * The change feed ("rooms_events_stream"): every change made is also
 * appended to a Redis Stream as a typed JSON event for the media cluster,
 * once the change's reply says it was made and before the API answers,
 * in a batch of its own: the stream is one key, in no script with the
 * keys of a room or a user.  Live sessions append their starts and ends
 * there too, each in a batch nobody waits for.
 */


#ifndef _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_redis.h"
#include "rooms_model.h"


/* one event of the feed: README.md, "Change feed", has the schema */
typedef struct {
    const char                *type;       /* "room.created", ... */
    ngx_str_t                 *room;       /* NULL: none */
    ngx_str_t                 *user;       /* NULL: none */
    const char                *role;       /* NULL: none */
    const char                *previous;   /* previousRole, NULL: none */
    rooms_room_t              *window;     /* room.created, room.updated */
    int64_t                    revoked;    /* revokedBefore (s), 0: none */
    ngx_str_t                 *gateway;    /* session.*, NULL: none */
    const char                *reason;     /* session.ended, NULL: none */
} ngx_http_rooms_feed_event_t;


typedef enum {
    NGX_HTTP_ROOMS_EVENT_ROOM = 0,   /* a room changed: room */
    NGX_HTTP_ROOMS_EVENT_USER,       /* a user changed: user */
    NGX_HTTP_ROOMS_EVENT_KICK,       /* room, user, t: seat taken away */
    NGX_HTTP_ROOMS_EVENT_REPLACE,    /* room, user, t: a newer session */
    NGX_HTTP_ROOMS_EVENT_MISSED      /* (re)subscribed, or a gap */
} ngx_http_rooms_event_e;

/* room is 0 and user empty where the kind has none; t in µs */
typedef void (*ngx_http_rooms_event_pt)(ngx_http_rooms_event_e kind,
    uint64_t room, ngx_str_t *user, int64_t t);


/* one listener per worker, set before events' init_process */
void ngx_http_rooms_events_listen(ngx_http_rooms_event_pt handler);

ngx_int_t ngx_http_rooms_events_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_events_exit_process(ngx_cycle_t *cycle);

/* appends the event of a change to a room, or to a user */
ngx_int_t ngx_http_rooms_events_room(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room);
ngx_int_t ngx_http_rooms_events_user(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *user);

/* appends the event of a seat taken away, of older sessions replaced */
ngx_int_t ngx_http_rooms_events_kick(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *user, int64_t t);
ngx_int_t ngx_http_rooms_events_replace(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *user, int64_t t);

/* "rooms_events_stream key [maxlen=number]" */
char *ngx_http_rooms_events_stream_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* whether the changes go to a stream too */
ngx_uint_t ngx_http_rooms_events_feed_on(void);

/* appends the feed's events of one change to b, one XADD each */
ngx_int_t ngx_http_rooms_events_feed(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_http_rooms_feed_event_t *ev, ngx_uint_t n);


#endif /* _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_ */
