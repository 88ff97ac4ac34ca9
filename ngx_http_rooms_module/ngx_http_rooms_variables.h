
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The $rooms_* variables: admission's decision, for proxy_set_header,
 * add_header, map, log_format and auth_request_set, and the cache's
 * counters.
 */


#ifndef _NGX_HTTP_ROOMS_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_ROOMS_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_rooms_variables_add(ngx_conf_t *cf);


#endif /* _NGX_HTTP_ROOMS_VARIABLES_H_INCLUDED_ */
