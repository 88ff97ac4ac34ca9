
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Shared types of the module: configuration, request context and the
 * entry points each concern (API, identity, admission) exposes.
 */


#ifndef _NGX_HTTP_ROOMS_MODULE_H_INCLUDED_
#define _NGX_HTTP_ROOMS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "rooms_jwt.h"
#include "rooms_mask.h"
#include "rooms_model.h"


#define NGX_HTTP_ROOMS_MAX_WINDOW   (180LL * 86400 * 1000000)
#define NGX_HTTP_ROOMS_DATE_SKEW    (15 * 60)


typedef struct ngx_http_rooms_redis_pool_s  ngx_http_rooms_redis_pool_t;


typedef struct {
    ngx_str_t                     address;     /* as written, for logs */
    ngx_str_t                     host;        /* numeric IP, NUL-terminated */
    ngx_int_t                     port;
    ngx_str_t                     unix_path;   /* NUL-terminated */
    ngx_int_t                     db;
    ngx_str_t                     user;        /* ACL user, with password */
    ngx_str_t                     password;
    ngx_msec_t                    timeout;
    ngx_uint_t                    connections;
    ngx_flag_t                    tls;
    ngx_ssl_t                    *ssl;         /* tls: the client context */
    ngx_str_t                     ssl_name;    /* tls: SNI, name verified */
    ngx_flag_t                    ssl_verify;  /* tls: verify the server */
} ngx_http_rooms_redis_conf_t;


/* the rooms_redis_ssl_* directives as written, file names made absolute */
typedef struct {
    ngx_str_t                     trusted_certificate;
    ngx_str_t                     certificate;
    ngx_str_t                     certificate_key;
    ngx_str_t                     server_name;
    ngx_flag_t                    verify;
} ngx_http_rooms_redis_ssl_conf_t;


typedef struct {
    ngx_str_t                     text;
    u_char                        sha[41];
} ngx_http_rooms_script_t;


typedef struct {
    ngx_http_rooms_redis_conf_t  *redis;       /* NULL: no rooms_redis */
    ngx_http_rooms_redis_ssl_conf_t  redis_ssl;   /* rooms_redis_ssl_* */
    ngx_array_t                  *scripts;     /* of ngx_http_rooms_script_t */
    ngx_str_t                     resource;    /* identity id prefix */
    ngx_str_t                     channel;     /* pub/sub of changes */
    ngx_shm_zone_t               *cache_zone;  /* NULL: no rooms_cache */
    ngx_uint_t                    token_cache; /* entries, per worker */
    ngx_flag_t                    used;        /* some location needs it */
} ngx_http_rooms_main_conf_t;


typedef struct {
    ngx_array_t                  *access_keys; /* of ngx_str_t, decoded */
    rooms_jwks_t                 *jwks;
    ngx_str_t                     jwks_file;
    ngx_int_t                     leeway;      /* seconds */
} ngx_http_rooms_srv_conf_t;


/* a directive's value: a lone variable is read by its index alone */
typedef struct {
    ngx_http_complex_value_t      value;
    ngx_int_t                     index;       /* NGX_ERROR: not lone */
    ngx_str_t                     arg;         /* NAME of a lone $arg_NAME */
} ngx_http_rooms_value_t;


typedef struct {
    ngx_flag_t                    api;
    size_t                        max_body;
    ngx_http_rooms_value_t       *admission;   /* NULL: off */
    ngx_http_rooms_value_t       *token;       /* NULL: default source */
    ngx_uint_t                    roles;       /* bitmask, 0: any */
    ngx_flag_t                    roles_set;
    ngx_flag_t                    cache;
    rooms_mask_name_t             mask[2];     /* query arguments to mask */
    ngx_uint_t                    nmask;
} ngx_http_rooms_loc_conf_t;


/* the admission cache's generations, taken before asking Redis */
typedef struct {
    uint32_t                      room_gen;
    uint32_t                      user_gen;
    uint32_t                      epoch;
    unsigned                      usable:1;
} ngx_http_rooms_snap_t;


typedef struct {
    /* admission results, exposed as variables */
    ngx_str_t                     user_id;
    ngx_str_t                     room_id;
    ngx_str_t                     deny_reason;
    ngx_int_t                     role;        /* -1: none */

    int64_t                       iat;         /* the token's */
    uint64_t                      room;        /* room_id as a number */
    u_char                        user[16];    /* digest of user_id */
    ngx_http_rooms_snap_t         snap;        /* of the cache */
    ngx_uint_t                    status;      /* of a refusal */
    ngx_uint_t                    deny_code;   /* decided: NGX_OK or status */
    const char                   *deny;        /* decided: the reason */

    unsigned                      has_iat:1;
    unsigned                      waiting:1;   /* for Redis */
    unsigned                      decided:1;   /* not yet acted upon */
    unsigned                      done:1;
    unsigned                      answered:1;  /* response sent */
    unsigned                      cached:1;    /* the cache is used */
} ngx_http_rooms_ctx_t;


extern ngx_module_t  ngx_http_rooms_module;


ngx_int_t ngx_http_rooms_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_rooms_admission_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_rooms_admission_subrequest_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_rooms_add_variables(ngx_conf_t *cf);

/* shared response helpers (ngx_http_rooms_api.c) */
ngx_int_t ngx_http_rooms_send_json(ngx_http_request_t *r, ngx_uint_t status,
    char *json);
ngx_int_t ngx_http_rooms_send_error(ngx_http_request_t *r,
    rooms_error_t *err);
ngx_int_t ngx_http_rooms_send_simple_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
/* 503 with Retry-After */
ngx_int_t ngx_http_rooms_send_unavailable(ngx_http_request_t *r);

/* identity API (ngx_http_rooms_identity.c) */
ngx_int_t ngx_http_rooms_identity_init(ngx_conf_t *cf);
ngx_int_t ngx_http_rooms_identity_route(ngx_http_request_t *r, ngx_str_t *path,
    u_char *body, size_t len);


#endif /* _NGX_HTTP_ROOMS_MODULE_H_INCLUDED_ */
