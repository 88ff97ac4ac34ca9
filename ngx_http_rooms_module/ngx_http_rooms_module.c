
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Directives, configuration and process hooks: the one place that knows
 * every concern.  The work itself lives in the files named in
 * ngx_http_rooms_module.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"
#include "ngx_http_rooms_store.h"
#include "ngx_http_rooms_events.h"
#include "ngx_http_rooms_cache.h"
#include "ngx_http_rooms_tokens.h"
#include "ngx_http_rooms_admission.h"
#include "ngx_http_rooms_sessions.h"
#include "ngx_http_rooms_variables.h"
#include "ngx_http_rooms_api.h"
#include "ngx_http_rooms_keys.h"
#include "ngx_http_rooms_metrics.h"
#include "rooms_b64.h"

static void *ngx_http_rooms_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_rooms_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_rooms_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_rooms_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_rooms_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_rooms_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_rooms_mask_add(ngx_conf_t *cf,
    rooms_mask_name_t *name);
static char *ngx_http_rooms_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_rooms_access_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_rooms_token_cache_check(ngx_conf_t *cf, void *post,
    void *data);
static ngx_http_rooms_value_t *ngx_http_rooms_value_compile(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *value);
static char *ngx_http_rooms_admission(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_rooms_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_rooms_roles(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_rooms_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_rooms_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_rooms_init_process(ngx_cycle_t *cycle);
static void ngx_http_rooms_exit_process(ngx_cycle_t *cycle);


static rooms_mask_name_t  ngx_http_rooms_access_token =
    { "access_token", sizeof("access_token") - 1 };

static ngx_conf_post_t  ngx_http_rooms_token_cache_post =
    { ngx_http_rooms_token_cache_check };


static ngx_command_t  ngx_http_rooms_commands[] = {

    { ngx_string("rooms_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_rooms_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_redis_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_redis_ssl_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, redis_ssl.trusted_certificate),
      NULL },

    { ngx_string("rooms_redis_ssl_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_redis_ssl_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, redis_ssl.certificate),
      NULL },

    { ngx_string("rooms_redis_ssl_certificate_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_redis_ssl_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, redis_ssl.certificate_key),
      NULL },

    { ngx_string("rooms_redis_ssl_server_name"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_redis_ssl_server_name,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, redis_ssl.server_name),
      NULL },

    { ngx_string("rooms_redis_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, redis_ssl.verify),
      NULL },

    { ngx_string("rooms_resource_id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, resource),
      NULL },

    { ngx_string("rooms_token_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, token_cache),
      &ngx_http_rooms_token_cache_post },

    { ngx_string("rooms_access_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_access_key,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_token_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_rooms_keys_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_token_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_rooms_srv_conf_t, leeway),
      NULL },

    { ngx_string("rooms_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_rooms_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_api_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, max_body),
      NULL },

    { ngx_string("rooms_admission"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_admission,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, admission),
      NULL },

    { ngx_string("rooms_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_token,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, token),
      NULL },

    { ngx_string("rooms_token_forward"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, token_forward),
      NULL },

    { ngx_string("rooms_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_rooms_cache_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_rooms_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_events_stream"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_rooms_events_stream_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rooms_roles"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_rooms_roles,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* live sessions */

    { ngx_string("rooms_session"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, session),
      NULL },

    { ngx_string("rooms_max_participants"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_sessions_max_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, max_participants),
      NULL },

    { ngx_string("rooms_duplicate_session"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_sessions_duplicate_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, duplicate),
      NULL },

    { ngx_string("rooms_session_lease"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_sessions_lease_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, lease),
      NULL },

    { ngx_string("rooms_session_expire"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_rooms_loc_conf_t, session_expire),
      NULL },

    { ngx_string("rooms_gateway_name"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_rooms_sessions_gateway_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_rooms_main_conf_t, gateway),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_rooms_module_ctx = {
    ngx_http_rooms_preconfiguration,       /* preconfiguration */
    ngx_http_rooms_postconfiguration,      /* postconfiguration */

    ngx_http_rooms_create_main_conf,       /* create main configuration */
    ngx_http_rooms_init_main_conf,         /* init main configuration */

    ngx_http_rooms_create_srv_conf,        /* create server configuration */
    ngx_http_rooms_merge_srv_conf,         /* merge server configuration */

    ngx_http_rooms_create_loc_conf,        /* create location configuration */
    ngx_http_rooms_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_rooms_module = {
    NGX_MODULE_V1,
    &ngx_http_rooms_module_ctx,            /* module context */
    ngx_http_rooms_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_rooms_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_rooms_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_rooms_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    rmcf->token_cache = NGX_CONF_UNSET_UINT;
    rmcf->max_participants = NGX_CONF_UNSET_UINT;
    rmcf->lease = NGX_CONF_UNSET_MSEC;
    rmcf->redis_ssl.verify = NGX_CONF_UNSET;

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->redis = NULL;
     *     rmcf->redis_ssl.* = { 0, NULL };
     *     rmcf->scripts = NULL;
     *     rmcf->resource = { 0, NULL };
     *     rmcf->used = 0;
     *     rmcf->gateway = { 0, NULL };
     *     rmcf->sessions = 0;
     *     rmcf->metrics = NULL;
     *     rmcf->stream = { 0, NULL };
     *     rmcf->stream_maxlen = 0;
     */

    return rmcf;
}


static char *
ngx_http_rooms_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_rooms_main_conf_t  *rmcf = conf;

    u_char  c;
    size_t  i;

    ngx_conf_init_uint_value(rmcf->token_cache, 65536);
    ngx_conf_init_uint_value(rmcf->max_participants, 350);
    ngx_conf_init_msec_value(rmcf->lease, 30000);

    if (rmcf->gateway.data == NULL) {
        if (ngx_http_rooms_sessions_gateway_default(cf, &rmcf->gateway)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_rooms_mask_add(cf, &ngx_http_rooms_access_token) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (rmcf->resource.data == NULL) {
        ngx_str_set(&rmcf->resource, "00000000-0000-4000-8000-000000000000");
    }

    if (rmcf->resource.len == 0 || rmcf->resource.len > 64) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_resource_id \"%V\" must be 1..64 "
                           "characters", &rmcf->resource);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < rmcf->resource.len; i++) {
        c = rmcf->resource.data[i] | 0x20;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            && rmcf->resource.data[i] != '-')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_resource_id \"%V\" may hold letters, "
                               "digits and \"-\" only", &rmcf->resource);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_rooms_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_rooms_srv_conf_t  *rscf;

    rscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_srv_conf_t));
    if (rscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rscf->access_keys = NULL;
     *     rscf->keys = NULL;
     */

    rscf->leeway = NGX_CONF_UNSET;

    return rscf;
}


static char *
ngx_http_rooms_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_rooms_srv_conf_t *prev = parent;
    ngx_http_rooms_srv_conf_t *conf = child;

    if (conf->access_keys == NULL) {
        conf->access_keys = prev->access_keys;
    }

    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    ngx_conf_merge_value(conf->leeway, prev->leeway, 0);

    return NGX_CONF_OK;
}


static void *
ngx_http_rooms_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rlcf->roles = 0;
     */

    rlcf->api = NGX_CONF_UNSET;
    rlcf->max_body = NGX_CONF_UNSET_SIZE;
    rlcf->admission = NGX_CONF_UNSET_PTR;
    rlcf->token = NGX_CONF_UNSET_PTR;
    rlcf->roles_set = NGX_CONF_UNSET;
    rlcf->cache = NGX_CONF_UNSET;
    rlcf->token_forward = NGX_CONF_UNSET;
    rlcf->session = NGX_CONF_UNSET;
    rlcf->duplicate = NGX_CONF_UNSET_UINT;
    rlcf->session_expire = NGX_CONF_UNSET;

    return rlcf;
}


static char *
ngx_http_rooms_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_rooms_loc_conf_t *prev = parent;
    ngx_http_rooms_loc_conf_t *conf = child;

    ngx_http_rooms_srv_conf_t   *rscf;
    ngx_http_rooms_main_conf_t  *rmcf;

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 1024 * 1024);
    ngx_conf_merge_ptr_value(conf->admission, prev->admission, NULL);
    ngx_conf_merge_ptr_value(conf->token, prev->token, NULL);
    ngx_conf_merge_value(conf->cache, prev->cache, 0);
    ngx_conf_merge_value(conf->token_forward, prev->token_forward, 1);
    ngx_conf_merge_value(conf->session, prev->session, 0);
    ngx_conf_merge_uint_value(conf->duplicate, prev->duplicate,
                              NGX_HTTP_ROOMS_SEAT_REPLACE);
    ngx_conf_merge_value(conf->session_expire, prev->session_expire, 1);

    if (conf->roles_set == NGX_CONF_UNSET) {
        conf->roles_set = prev->roles_set;
        conf->roles = prev->roles;
    }

    /* the query arguments that may carry a token */

    conf->mask[0].data = "access_token";
    conf->mask[0].len = sizeof("access_token") - 1;
    conf->nmask = 1;

    if (conf->token != NULL && conf->token->arg.len) {
        conf->mask[1].data = (char *) conf->token->arg.data;
        conf->mask[1].len = conf->token->arg.len;
        conf->nmask = 2;

        if (ngx_http_rooms_mask_add(cf, &conf->mask[1]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->admission != NULL) {
        rscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_rooms_module);

        if (rscf->keys == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rooms_admission\" needs "
                               "\"rooms_token_keys\" in its server or in "
                               "the http block");
            return NGX_CONF_ERROR;
        }

        if (conf->session) {
            rmcf = ngx_http_conf_get_module_main_conf(cf,
                                                      ngx_http_rooms_module);
            rmcf->sessions = 1;

            if (ngx_http_rooms_metrics_sessions_on(cf) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


/*
 * The names of the query arguments masked in every request line of the
 * http block (a request that reaches no rooms location may still carry a
 * token): access_token, and each NAME of a "rooms_token $arg_NAME"
 */

static ngx_int_t
ngx_http_rooms_mask_add(ngx_conf_t *cf, rooms_mask_name_t *name)
{
    ngx_uint_t                   i;
    rooms_mask_name_t           *m;
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    if (rmcf->mask == NULL) {
        rmcf->mask = ngx_array_create(cf->pool, 2, sizeof(rooms_mask_name_t));
        if (rmcf->mask == NULL) {
            return NGX_ERROR;
        }
    }

    m = rmcf->mask->elts;

    for (i = 0; i < rmcf->mask->nelts; i++) {
        if (m[i].len == name->len
            && ngx_strncasecmp((u_char *) m[i].data, (u_char *) name->data,
                               name->len)
               == 0)
        {
            return NGX_OK;
        }
    }

    m = ngx_array_push(rmcf->mask);
    if (m == NULL) {
        return NGX_ERROR;
    }

    *m = *name;

    return NGX_OK;
}


static char *
ngx_http_rooms_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_loc_conf_t *rlcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_rooms_main_conf_t  *rmcf;

    if (rlcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    rlcf->api = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_rooms_api_handler;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);
    rmcf->used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_rooms_access_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_srv_conf_t *rscf = conf;

    long        n;
    ngx_str_t  *value, *key;

    value = cf->args->elts;

    if (rscf->access_keys == NULL) {
        rscf->access_keys = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (rscf->access_keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(rscf->access_keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    key->data = ngx_pnalloc(cf->pool, rooms_b64_decoded_len(value[1].len));
    if (key->data == NULL) {
        return NGX_CONF_ERROR;
    }

    n = rooms_b64_decode(key->data, (char *) value[1].data, value[1].len);

    if (n < 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_access_key: %s",
                           n < 0 ? "not valid base64"
                                 : "too short, use at least 16 random bytes "
                                   "(ACS keys are 64)");
        return NGX_CONF_ERROR;
    }

    key->len = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_rooms_token_cache_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np > 16 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_token_cache: %ui is too large, at most "
                           "16777216 tokens", *np);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* NGX_OK and the name when value is "$name" or "${name}" and nothing else */

static ngx_int_t
ngx_http_rooms_lone_variable(ngx_str_t *value, ngx_str_t *name)
{
    u_char  *p, *last;

    if (value->len < 2 || value->data[0] != '$') {
        return NGX_DECLINED;
    }

    p = value->data + 1;
    last = value->data + value->len;

    if (value->len > 3 && p[0] == '{' && last[-1] == '}') {
        p++;
        last--;
    }

    /* "$1": a capture by number is no variable of its own */

    if (*p >= '0' && *p <= '9') {
        return NGX_DECLINED;
    }

    name->data = p;
    name->len = last - p;

    for ( /* void */ ; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * A complex value; "$name" or "${name}" alone also gets the variable's
 * index, so that the handler reads it at a fraction of what running the
 * complex value costs
 */

static ngx_http_rooms_value_t *
ngx_http_rooms_value_compile(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value)
{
    ngx_str_t                          name;
    ngx_http_rooms_value_t            *v;
    ngx_http_compile_complex_value_t   ccv;

    v = ngx_palloc(cf->pool, sizeof(ngx_http_rooms_value_t));
    if (v == NULL) {
        return NULL;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = &v->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V: invalid value \"%V\"",
                           &cmd->name, value);
        return NULL;
    }

    v->index = NGX_ERROR;
    ngx_str_null(&v->arg);

    if (ngx_http_rooms_lone_variable(value, &name) == NGX_OK) {
        v->index = ngx_http_get_variable_index(cf, &name);
        if (v->index == NGX_ERROR) {
            return NULL;
        }

        if (name.len > 4 && ngx_strncmp(name.data, "arg_", 4) == 0) {
            v->arg.data = name.data + 4;
            v->arg.len = name.len - 4;
        }
    }

    return v;
}


static char *
ngx_http_rooms_admission(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_loc_conf_t *rlcf = conf;

    ngx_str_t                   *value;
    ngx_http_rooms_main_conf_t  *rmcf;

    if (rlcf->admission != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        rlcf->admission = NULL;
        return NGX_CONF_OK;
    }

    rlcf->admission = ngx_http_rooms_value_compile(cf, cmd, &value[1]);
    if (rlcf->admission == NULL) {
        return NGX_CONF_ERROR;
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);
    rmcf->used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_rooms_token(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_loc_conf_t *rlcf = conf;

    ngx_str_t  *value;

    if (rlcf->token != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rlcf->token = ngx_http_rooms_value_compile(cf, cmd, &value[1]);
    if (rlcf->token == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_rooms_roles(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_loc_conf_t *rlcf = conf;

    ngx_int_t    role;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (rlcf->roles_set != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    rlcf->roles = 0;
    rlcf->roles_set = 1;

    for (i = 1; i < cf->args->nelts; i++) {
        role = rooms_role_parse((char *) value[i].data, value[i].len);

        if (role < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_roles: unknown role \"%V\" (expected "
                               "Presenter, Attendee, Consumer or "
                               "Collaborator)", &value[i]);
            return NGX_CONF_ERROR;
        }

        rlcf->roles |= (ngx_uint_t) 1 << role;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_rooms_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_rooms_variables_add(cf);
}


static ngx_int_t
ngx_http_rooms_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    if (rmcf->used && rmcf->redis == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_api\" and \"rooms_admission\" need "
                      "\"rooms_redis\" in the http block");
        return NGX_ERROR;
    }

    if (rmcf->stream.len && rmcf->redis == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_events_stream\" needs \"rooms_redis\"");
        return NGX_ERROR;
    }

    if (rmcf->cache_zone != NULL && rmcf->redis == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_cache\" needs \"rooms_redis\"");
        return NGX_ERROR;
    }

    /* (the rooms_redis_ssl_* checks also run with no rooms_redis) */

    if (ngx_http_rooms_redis_init_conf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rmcf->redis != NULL
        && ngx_http_rooms_store_init_conf(cf, rmcf->redis->db, &rmcf->channel)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_rooms_admission_init(cf);
}


static ngx_int_t
ngx_http_rooms_init_process(ngx_cycle_t *cycle)
{
    /*
     * The cached clock was last read before the configuration was, and a
     * worker's event loop reads it again only after its first wait: a
     * timer armed from here (the Redis adapter's set-up timeout, the key
     * checks', the sessions') would be short by however long the
     * configuration took.  Under valgrind that is over a second: the
     * subscription timed out in the very pass of the event loop that sent
     * its SUBSCRIBE.
     */

    ngx_time_update();

    /* metrics first: the others record from their init on */

    if (ngx_http_rooms_metrics_init_process(cycle) != NGX_OK
        || ngx_http_rooms_cache_init_process(cycle) != NGX_OK
        || ngx_http_rooms_tokens_init_process(cycle) != NGX_OK
        || ngx_http_rooms_keys_init_process(cycle) != NGX_OK
        || ngx_http_rooms_redis_init_process(cycle) != NGX_OK
        || ngx_http_rooms_sessions_init_process(cycle) != NGX_OK
        || ngx_http_rooms_events_init_process(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_rooms_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_rooms_sessions_exit_process(cycle);
    ngx_http_rooms_events_exit_process(cycle);
    ngx_http_rooms_redis_exit_process(cycle);
    ngx_http_rooms_tokens_exit_process(cycle);
}
