
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The module and its configuration, shared by every file of it.  Each
 * concern has its own header: ngx_http_rooms_redis.h (the Redis adapter),
 * _store.h (the data model), _events.h (changes between gateways),
 * _cache.h (the admission cache), _tokens.h (verified tokens),
 * _admission.h, _sessions.h (live sessions), _variables.h, _api.h,
 * _rooms.h, _identity.h, _sessions_api.h and _response.h (the management
 * API), _keys.h (token keys and their rotation), _metrics.h (Prometheus
 * metrics).
 */


#ifndef _NGX_HTTP_ROOMS_MODULE_H_INCLUDED_
#define _NGX_HTTP_ROOMS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_keys.h"
#include "rooms_jwt.h"
#include "rooms_mask.h"
#include "rooms_model.h"


/* an address of rooms_redis: the server, a cluster's seed or a sentinel */
typedef struct {
    ngx_str_t                     address;     /* as written, for logs */
    struct sockaddr              *sockaddr;
    socklen_t                     socklen;
} ngx_http_rooms_redis_addr_t;


typedef struct {
    ngx_str_t                     address;     /* as written, for logs */
    struct sockaddr              *sockaddr;    /* what the workers connect to */
    socklen_t                     socklen;
    ngx_str_t                     host;        /* numeric IP, NUL-terminated */
    ngx_int_t                     port;
    ngx_str_t                     unix_path;   /* unix: the path */
    ngx_int_t                     db;
    ngx_str_t                     user;        /* ACL user, with password */
    ngx_str_t                     password;
    ngx_msec_t                    timeout;
    ngx_uint_t                    connections;
    ngx_flag_t                    tls;
    ngx_ssl_t                    *ssl;         /* tls: the client context */
    ngx_str_t                     ssl_name;    /* tls: SNI, name verified */
    ngx_flag_t                    ssl_verify;  /* tls: verify the server */
    ngx_array_t                  *addrs;       /* every address, the first
                                                  one too */
    ngx_flag_t                    cluster;     /* addrs are seed nodes */
    ngx_str_t                     sentinel;    /* addrs are sentinels of it */
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
    ngx_http_rooms_redis_conf_t  *redis;       /* NULL: no rooms_redis */
    ngx_http_rooms_redis_ssl_conf_t  redis_ssl;   /* rooms_redis_ssl_* */
    ngx_array_t                  *scripts;     /* the adapter's */
    ngx_str_t                     resource;    /* identity id prefix */
    ngx_str_t                     channel;     /* pub/sub of changes */
    ngx_shm_zone_t               *cache_zone;  /* NULL: no rooms_cache */
    ngx_uint_t                    token_cache; /* entries, per worker */
    ngx_array_t                  *mask;        /* of rooms_mask_name_t */
    ngx_flag_t                    used;        /* some location needs it */
    void                         *metrics;     /* _metrics.c's, or NULL */
    ngx_array_t                  *keys;        /* of _keys.c's objects */
    ngx_str_t                     stream;      /* rooms_events_stream key */
    ngx_uint_t                    stream_maxlen;   /* 0: no trimming */

    /* live sessions (ngx_http_rooms_sessions.c) */
    ngx_uint_t                    max_participants;
    ngx_msec_t                    lease;
    ngx_str_t                     gateway;
    ngx_flag_t                    sessions;    /* some location tracks */
} ngx_http_rooms_main_conf_t;


typedef struct {
    ngx_array_t                  *access_keys; /* of ngx_str_t, decoded */
    ngx_http_rooms_keys_t        *keys;        /* rooms_token_keys */
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
    ngx_flag_t                    token_forward;
    rooms_mask_name_t             mask[2];     /* its token arguments */
    ngx_uint_t                    nmask;

    /* live sessions (ngx_http_rooms_sessions.c) */
    ngx_flag_t                    session;
    ngx_uint_t                    duplicate;   /* NGX_HTTP_ROOMS_SEAT_* */
    ngx_flag_t                    session_expire;
} ngx_http_rooms_loc_conf_t;


extern ngx_module_t  ngx_http_rooms_module;



#endif /* _NGX_HTTP_ROOMS_MODULE_H_INCLUDED_ */
