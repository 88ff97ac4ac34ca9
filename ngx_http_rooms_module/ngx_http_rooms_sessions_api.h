
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The management API of live sessions, HMAC-signed like the rest of it:
 *
 *     GET    /rooms/{roomId}/sessions           who is in the room
 *     DELETE /rooms/{roomId}/sessions/{rawId}   ends the user's sessions
 *                                               on every gateway (kicked)
 */


#ifndef _NGX_HTTP_ROOMS_SESSIONS_API_H_INCLUDED_
#define _NGX_HTTP_ROOMS_SESSIONS_API_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* whether uri is "/rooms/{roomId}/sessions" or below it */
ngx_uint_t ngx_http_rooms_sessions_api_path(ngx_str_t *uri);

/* a status, or NGX_DONE when a reply handler will finalize the request */
ngx_int_t ngx_http_rooms_sessions_api_route(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ROOMS_SESSIONS_API_H_INCLUDED_ */
