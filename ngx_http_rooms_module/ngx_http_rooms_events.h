
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Changes between gateways: every change the API makes is published,
 * numbered, on the Redis channel of its database ("r <roomId>",
 * "u <rawId>"), and every worker of a gateway with a cache zone listens
 * and invalidates what the change touches.  After a (re)subscription the
 * events missed are told by the numbers: a gap flushes the zone.
 */


#ifndef _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_redis.h"


ngx_int_t ngx_http_rooms_events_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_events_exit_process(ngx_cycle_t *cycle);

/* appends the event of a change to a room, or to a user */
ngx_int_t ngx_http_rooms_events_room(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room);
ngx_int_t ngx_http_rooms_events_user(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *user);


#endif /* _NGX_HTTP_ROOMS_EVENTS_H_INCLUDED_ */
