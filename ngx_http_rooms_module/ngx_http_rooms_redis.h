
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Non-blocking Redis access for request handlers: hiredis's async API
 * driven by nginx's event loop.  A handler opens a batch, appends
 * commands (pipelined on one multiplexed connection, contiguously, so a
 * MULTI/EXEC or a run of commands is never interleaved with another
 * request's) and gets one callback with every reply, or with an error
 * when Redis is down, the connection drops or the timeout fires.
 */


#ifndef _NGX_HTTP_ROOMS_REDIS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"


#define NGX_HTTP_ROOMS_REPLY_STRING   1      /* = REDIS_REPLY_STRING */
#define NGX_HTTP_ROOMS_REPLY_ARRAY    2
#define NGX_HTTP_ROOMS_REPLY_INTEGER  3
#define NGX_HTTP_ROOMS_REPLY_NIL      4
#define NGX_HTTP_ROOMS_REPLY_STATUS   5
#define NGX_HTTP_ROOMS_REPLY_ERROR    6

#define NGX_HTTP_ROOMS_MAX_ARGS       2100


typedef struct ngx_http_rooms_reply_s  ngx_http_rooms_reply_t;

struct ngx_http_rooms_reply_s {
    ngx_int_t                  type;
    long long                  integer;
    ngx_str_t                  str;
    size_t                     elements;
    ngx_http_rooms_reply_t    *element;
};


typedef struct ngx_http_rooms_batch_s  ngx_http_rooms_batch_t;

/*
 * rc is NGX_OK when every command got a reply (a reply may still be of
 * type ERROR), NGX_ERROR when Redis could not answer (down, dropped,
 * timed out): the caller answers 503.  replies live in r->pool.
 */
typedef void (*ngx_http_rooms_redis_handler_pt)(ngx_http_request_t *r,
    void *data, ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc);


typedef struct {
    int                        argc;
    const char                *argv[NGX_HTTP_ROOMS_MAX_ARGS];
    size_t                     argvlen[NGX_HTTP_ROOMS_MAX_ARGS];
} ngx_http_rooms_cmd_t;


char *ngx_http_rooms_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* rooms_redis_ssl_trusted_certificate, _certificate, _certificate_key */
char *ngx_http_rooms_redis_ssl_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_rooms_redis_ssl_server_name(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_rooms_redis_add_script(ngx_conf_t *cf, const char *text);
/* the checks across directives, the TLS context (postconfiguration) */
ngx_int_t ngx_http_rooms_redis_init_conf(ngx_conf_t *cf);
ngx_int_t ngx_http_rooms_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_redis_exit_process(ngx_cycle_t *cycle);

/* NULL when no connection to Redis can take commands now */
ngx_http_rooms_batch_t *ngx_http_rooms_redis_begin(ngx_http_request_t *r,
    ngx_http_rooms_redis_handler_pt handler, void *data);
ngx_int_t ngx_http_rooms_redis_append(ngx_http_rooms_batch_t *b,
    int argc, const char **argv, const size_t *argvlen);
ngx_int_t ngx_http_rooms_redis_append_script(ngx_http_rooms_batch_t *b,
    ngx_int_t script, int argc, const char **argv, size_t *argvlen);
/* tells other gateways' admission caches about a change */
ngx_int_t ngx_http_rooms_redis_append_publish(ngx_http_rooms_batch_t *b,
    u_char *msg, size_t len);
/* arms the timeout; on NGX_ERROR the batch is gone, answer 503 */
ngx_int_t ngx_http_rooms_redis_end(ngx_http_rooms_batch_t *b);
void ngx_http_rooms_redis_abort(ngx_http_rooms_batch_t *b);

/*
 * for a reply handler: NGX_OK, or the request is answered with 503 (Redis
 * did not answer, or answered an error) and finalized
 */
ngx_int_t ngx_http_rooms_api_replies_ok(ngx_http_request_t *r,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc);

/*
 * for the reply handler of a write whose first command is the change:
 * NGX_OK when it was made (a failure of the commands after it is logged
 * only), or the request is answered with 503 and finalized
 */
ngx_int_t ngx_http_rooms_api_change_ok(ngx_http_request_t *r,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc);

/* for a content handler: ends the batch, NGX_DONE, or answers 503 */
ngx_int_t ngx_http_rooms_api_wait(ngx_http_request_t *r,
    ngx_http_rooms_batch_t *b);

/* a command whose reply nobody waits for (index pruning and the like) */
void ngx_http_rooms_redis_fire(ngx_log_t *log, int argc, const char **argv,
    const size_t *argvlen);


#endif /* _NGX_HTTP_ROOMS_REDIS_H_INCLUDED_ */
