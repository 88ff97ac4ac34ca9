
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_variables.h"
#include "ngx_http_rooms_admission.h"
#include "ngx_http_rooms_sessions.h"
#include "ngx_http_rooms_cache.h"
#include "ngx_http_rooms_tokens.h"
#include "rooms_model.h"


typedef enum {
    NGX_HTTP_ROOMS_VAR_USER = 0,
    NGX_HTTP_ROOMS_VAR_ROLE,
    NGX_HTTP_ROOMS_VAR_ROOM,
    NGX_HTTP_ROOMS_VAR_DENY,
    NGX_HTTP_ROOMS_VAR_SESSION_END
} ngx_http_rooms_var_e;


static ngx_int_t ngx_http_rooms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_rooms_variable_stats(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_rooms_variable_sessions(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_rooms_vars[] = {

    { ngx_string("rooms_user_id"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_USER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_role"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_ROLE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_room_id"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_ROOM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_deny_reason"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_DENY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_session_end"), NULL, ngx_http_rooms_variable,
      NGX_HTTP_ROOMS_VAR_SESSION_END, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_sessions_stats"), NULL,
      ngx_http_rooms_variable_sessions, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("rooms_cache_stats"), NULL, ngx_http_rooms_variable_stats,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_rooms_variables_add(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_rooms_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_rooms_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    const char            *s;
    ngx_str_t              value;
    ngx_http_rooms_ctx_t  *ctx;

    /*
     * the request's own decision: a subrequest's when auth_request asks
     * (its auth_request_set reads them in the subrequest), else the main
     * request's
     */

    ctx = ngx_http_rooms_admission_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_http_rooms_admission_ctx(r->main);
    }

    ngx_str_null(&value);

    if (ctx != NULL) {
        switch (data) {

        case NGX_HTTP_ROOMS_VAR_USER:
            value = ctx->user_id;
            break;

        case NGX_HTTP_ROOMS_VAR_ROOM:
            value = ctx->room_id;
            break;

        case NGX_HTTP_ROOMS_VAR_DENY:
            s = (ctx->status != NGX_OK) ? ctx->reason : NULL;
            goto text;

        case NGX_HTTP_ROOMS_VAR_SESSION_END:
            s = ngx_http_rooms_sessions_end_reason(r, ctx->session);
            goto text;

        default: /* NGX_HTTP_ROOMS_VAR_ROLE */
            s = (ctx->role >= 0) ? rooms_role_name((int) ctx->role) : NULL;

        text:

            if (s != NULL) {
                value.data = (u_char *) s;
                value.len = ngx_strlen(s);
            }

            break;
        }
    }

    if (value.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = value.len;
    v->data = value.data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* "$rooms_cache_stats": for a status location or a log line */

static ngx_int_t
ngx_http_rooms_variable_stats(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_http_rooms_cache_stats_t   st;

    if (ngx_http_rooms_cache_stats(&st) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, 8 * NGX_ATOMIC_T_LEN + 160);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "entries=%uA generations=%uA hits=%uA "
                         "misses=%uA evictions=%uA zone=%uz "
                         "subscribed=%ui tokens=%ui verifications=%ui",
                         st.entries, st.generations, st.hits, st.misses,
                         st.evictions, st.size, st.subscribed,
                         ngx_http_rooms_tokens_held(),
                         ngx_http_rooms_token_verifications)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* "$rooms_sessions_stats": this worker's live sessions */

static ngx_int_t
ngx_http_rooms_variable_sessions(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char      *p;
    size_t       bytes;
    ngx_uint_t   sessions, rooms;

    ngx_http_rooms_sessions_stats(&sessions, &rooms, &bytes);

    p = ngx_pnalloc(r->pool, 3 * NGX_INT_T_LEN + 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "pid=%P sessions=%ui rooms=%ui bytes=%uz",
                         ngx_pid, sessions, rooms, bytes)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
