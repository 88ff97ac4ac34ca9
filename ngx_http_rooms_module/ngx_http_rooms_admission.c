
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"


ngx_int_t
ngx_http_rooms_admission_handler(ngx_http_request_t *r)
{
    return NGX_DECLINED;
}


ngx_int_t
ngx_http_rooms_add_variables(ngx_conf_t *cf)
{
    return NGX_OK;
}
