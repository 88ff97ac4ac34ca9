
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Changes between gateways: every change the API makes is published,
 * numbered, on the Redis channel of its database ("r <roomId>",
 * "u <rawId>"), and every worker of a gateway with a cache zone listens
 * and invalidates what the change touches.  After a (re)subscription the
 * events missed are told by the numbers: a gap flushes the zone.
 *
 * The change feed ("rooms_events_stream"): every change made is also
 * appended to a Redis Stream as a typed JSON event for the media cluster,
 * once the change's reply says it was made and before the API answers,
 * in a batch of its own: the stream is one key, in no script with the
 * keys of a room or a user.
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
} ngx_http_rooms_feed_event_t;


ngx_int_t ngx_http_rooms_events_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_events_exit_process(ngx_cycle_t *cycle);

/* appends the event of a change to a room, or to a user */
ngx_int_t ngx_http_rooms_events_room(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room);
ngx_int_t ngx_http_rooms_events_user(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *user);

/* "rooms_events_stream key [maxlen=number]" */
char *ngx_http_rooms_events_stream_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* whether the changes go to a stream too */
ngx_uint_t ngx_http_rooms_events_feed_on(void);

/* appends the feed's events of one change to b, one XADD each */
ngx_int_t ngx_http_rooms_events_feed(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_http_rooms_feed_event_t *ev, ngx_uint_t n);


#endif /* _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_ */
