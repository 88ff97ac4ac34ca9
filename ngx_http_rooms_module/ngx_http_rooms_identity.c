
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"


ngx_int_t
ngx_http_rooms_identity_route(ngx_http_request_t *r, ngx_str_t *path,
    u_char *body, size_t len)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "The resource was not found.");
}
