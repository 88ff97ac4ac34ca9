
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The Rooms REST operations, routed here by the management API.
 */


#ifndef _NGX_HTTP_ROOMS_ROOMS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_ROOMS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * r->uri is "/rooms" or "/rooms/..."; body is the request body,
 * NUL-terminated.  Returns a status, or NGX_DONE when a reply handler
 * will finalize the request.
 */
ngx_int_t ngx_http_rooms_rooms_route(ngx_http_request_t *r, u_char *body,
    size_t len);


#endif /* _NGX_HTTP_ROOMS_ROOMS_H_INCLUDED_ */
