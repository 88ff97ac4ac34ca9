
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The Redis adapter: non-blocking commands for the rest of the module, on
 * nginx's event loop.  It knows nothing of the data model (keys, fields,
 * scripts' contents: ngx_http_rooms_store.c) nor of what events mean
 * (ngx_http_rooms_events.c), and calls nothing above it: results go back
 * through the handlers given to it.
 *
 * A batch is a run of commands sent together (pipelined, contiguously on
 * one connection, so a run of commands is never interleaved with another
 * batch's; on a Redis Cluster, each command to the node of its key's slot,
 * so that a batch may span nodes) with one callback once every reply is
 * in, or once Redis cannot answer: down, connection dropped, timeout.
 * Every command names its key first (argv[1], or a script's first key).  A batch belongs to a request
 * (its replies live in r->pool; if the request goes first, the batch is
 * abandoned and its replies dropped) or is detached (events, sessions: its
 * replies live in a pool of its own, destroyed when the handler returns).
 */


#ifndef _NGX_HTTP_ROOMS_REDIS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* reply types, as RESP2 has them (hiredis' REDIS_REPLY_* values) */
#define NGX_HTTP_ROOMS_REPLY_NONE     0      /* no reply came */
#define NGX_HTTP_ROOMS_REPLY_STRING   1
#define NGX_HTTP_ROOMS_REPLY_ARRAY    2
#define NGX_HTTP_ROOMS_REPLY_INTEGER  3
#define NGX_HTTP_ROOMS_REPLY_NIL      4
#define NGX_HTTP_ROOMS_REPLY_STATUS   5
#define NGX_HTTP_ROOMS_REPLY_ERROR    6


typedef struct ngx_http_rooms_reply_s  ngx_http_rooms_reply_t;

struct ngx_http_rooms_reply_s {
    ngx_uint_t                 type;
    long long                  integer;
    ngx_str_t                  str;        /* NUL-terminated */
    size_t                     elements;
    ngx_http_rooms_reply_t    *element;
};


typedef struct ngx_http_rooms_batch_s  ngx_http_rooms_batch_t;

/*
 * r is NULL for a detached batch.  rc is NGX_OK when every command got a
 * reply (a reply may still be of type ERROR), NGX_ERROR when Redis could
 * not answer them all (down, dropped, timed out): then replies[i].type is
 * NGX_HTTP_ROOMS_REPLY_NONE for each command whose reply never came, and
 * the replies that did come are there.
 */
typedef void (*ngx_http_rooms_redis_handler_pt)(ngx_http_request_t *r,
    void *data, ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc);


typedef enum {
    NGX_HTTP_ROOMS_SUB_UP = 0,       /* subscribed (again): payload NULL */
    NGX_HTTP_ROOMS_SUB_DOWN,         /* the subscription is lost */
    NGX_HTTP_ROOMS_SUB_MESSAGE       /* a message on the channel */
} ngx_http_rooms_sub_event_e;

typedef void (*ngx_http_rooms_redis_message_pt)(void *data,
    ngx_http_rooms_sub_event_e event, ngx_str_t *payload);


/* configuration: the rooms_redis directive and its siblings */
char *ngx_http_rooms_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* rooms_redis_ssl_trusted_certificate, _certificate, _certificate_key */
char *ngx_http_rooms_redis_ssl_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_rooms_redis_ssl_server_name(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* a Lua script the batches may run: its index for append_script() */
ngx_int_t ngx_http_rooms_redis_add_script(ngx_conf_t *cf, ngx_str_t *text);

/* the checks across directives, the TLS context (postconfiguration) */
ngx_int_t ngx_http_rooms_redis_init_conf(ngx_conf_t *cf);

ngx_int_t ngx_http_rooms_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_redis_exit_process(ngx_cycle_t *cycle);

/* NULL when no connection to Redis can take commands now (logged) */
ngx_http_rooms_batch_t *ngx_http_rooms_redis_begin(ngx_http_request_t *r,
    ngx_http_rooms_redis_handler_pt handler, void *data);
ngx_http_rooms_batch_t *ngx_http_rooms_redis_begin_detached(ngx_log_t *log,
    ngx_http_rooms_redis_handler_pt handler, void *data);

/* a command: argv[0] is its name */
ngx_int_t ngx_http_rooms_redis_append(ngx_http_rooms_batch_t *b,
    ngx_uint_t argc, ngx_str_t *argv);

/*
 * EVALSHA of a script with nkeys keys and then arguments, argv[0 .. argc)
 * (keys first); sent again as EVAL when Redis answers NOSCRIPT
 */
ngx_int_t ngx_http_rooms_redis_append_script(ngx_http_rooms_batch_t *b,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv);

/* sends the batch and arms its timeout; on NGX_ERROR the batch is gone */
ngx_int_t ngx_http_rooms_redis_end(ngx_http_rooms_batch_t *b);

/* gives the batch up before end(): its handler is never called */
void ngx_http_rooms_redis_abort(ngx_http_rooms_batch_t *b);

/* a command whose reply nobody waits for (index pruning and the like) */
void ngx_http_rooms_redis_fire(ngx_log_t *log, ngx_uint_t argc,
    ngx_str_t *argv);

/*
 * Subscribes this worker to channel, on a connection of its own kept up
 * for as long as the worker lives: handler hears of every (re)subscription,
 * every loss and every message.  Called from init_process.
 */
ngx_int_t ngx_http_rooms_redis_subscribe(ngx_str_t *channel,
    ngx_http_rooms_redis_message_pt handler, void *data);

/*
 * Holds the adapter (on = 1) or lets it go (on = 0), counted: calls with 1
 * and 0 pair up.  After "nginx -s reload" or "-s quit" an old worker
 * drains (ngx_exiting): by default the adapter then opens no lost
 * connection again, so that nothing of it outlives the worker's own
 * work.  While it is held, it goes on as before the reload: lost
 * connections and the subscription are opened again with the backoff,
 * and the subscription's handler keeps hearing of messages, losses and
 * resubscriptions.  Holding keeps no worker alive by itself (the
 * adapter's own timers are cancelable): nginx ends an old worker once its
 * requests and connections are done, as always, and exit_process then
 * closes everything.  Letting go of the last hold in an old worker stops
 * the reconnecting; connections that are up stay until the worker exits.
 */
void ngx_http_rooms_redis_hold(ngx_uint_t on);


#endif /* _NGX_HTTP_ROOMS_REDIS_H_INCLUDED_ */
