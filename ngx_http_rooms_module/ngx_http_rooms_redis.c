
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * hiredis async contexts on ngx_connection_t.  Each worker opens
 * "connections=N" contexts for batches in init_process, and one more for
 * a subscription when one is asked for.  hiredis 0.14 has no async
 * timeouts, so every batch carries an nginx timer; a context that stops
 * answering is dropped and reopened with backoff.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <openssl/sha.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"
#include "ngx_http_rooms_metrics.h"


#define NGX_HTTP_ROOMS_BACKOFF_MIN    50
#define NGX_HTTP_ROOMS_BACKOFF_MAX    500
#define NGX_HTTP_ROOMS_DRAIN_MAX      64

/* how deep the server's certificate chain may be (proxy_ssl_verify_depth) */
#define NGX_HTTP_ROOMS_SSL_VERIFY_DEPTH  4


typedef struct {
    ngx_str_t                  text;
    u_char                     sha[41];
} ngx_http_rooms_script_t;


typedef struct {
    redisAsyncContext         *ac;
    ngx_connection_t          *c;
    ngx_event_t                reconnect;
    ngx_msec_t                 backoff;
    ngx_uint_t                 generation;
    unsigned                   in_write:1;
    unsigned                   ready:1;      /* takes commands */
    unsigned                   connected:1;  /* for rooms_redis_up */
    unsigned                   subscriber:1; /* the pub/sub connection */
} ngx_http_rooms_conn_t;


/*
 * A batch lives on the heap: replies (or the NULLs of a dropped
 * connection) may come after its owner is gone.  It is freed once its
 * owner is done with it (done) and no reply is pending.
 */

struct ngx_http_rooms_batch_s {
    ngx_http_request_t              *r;        /* NULL: detached */
    ngx_pool_t                      *pool;     /* of the replies */
    ngx_log_t                       *log;
    ngx_pool_cleanup_t              *cln;      /* in r->pool */
    ngx_http_rooms_redis_handler_pt  handler;
    void                            *data;
    ngx_http_rooms_conn_t           *conn;
    ngx_uint_t                       generation;
    ngx_http_rooms_reply_t          *replies;
    ngx_uint_t                       ncmds;
    ngx_uint_t                       pending;
    ngx_event_t                      timer;
    uint64_t                         start;    /* for the metrics */
    unsigned                         failed:1;
    unsigned                         ended:1;
    unsigned                         done:1;   /* the owner is done */
};


/*
 * A command waiting for its reply.  An EVALSHA keeps its arguments after
 * the sha, in RESP, so that it can be sent again as EVAL when Redis no
 * longer has the script (after SCRIPT FLUSH, or on a node that never had
 * it): NOSCRIPT means the script did not run.
 */

typedef struct {
    ngx_http_rooms_batch_t    *batch;
    ngx_uint_t                 index;
    ngx_http_rooms_script_t   *script;      /* NULL: not an EVALSHA */
    ngx_uint_t                 argc;
    size_t                     len;         /* of args */
    u_char                     args[1];     /* the rest, in RESP */
} ngx_http_rooms_slot_t;


typedef struct {
    ngx_http_rooms_conn_t            conn;
    ngx_str_t                        channel;
    ngx_http_rooms_redis_message_pt  handler;
    void                            *data;
} ngx_http_rooms_sub_t;


static ngx_int_t ngx_http_rooms_redis_init_ssl(ngx_conf_t *cf,
    ngx_http_rooms_main_conf_t *rmcf);
static void ngx_http_rooms_redis_connect(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_lost(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_drop(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_rooms_redis_message(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_rooms_redis_finish(ngx_http_rooms_batch_t *b,
    ngx_int_t rc);
static void ngx_http_rooms_redis_detach(ngx_http_rooms_batch_t *b);
static void ngx_http_rooms_redis_unhook(ngx_http_rooms_batch_t *b);
static void ngx_http_rooms_redis_gauge(void);


static ngx_http_rooms_conn_t       *ngx_http_rooms_conns;
static ngx_uint_t                   ngx_http_rooms_nconns;
static ngx_uint_t                   ngx_http_rooms_next;
static ngx_http_rooms_sub_t         ngx_http_rooms_sub;
static ngx_http_rooms_redis_conf_t *ngx_http_rooms_rcf;
static ngx_array_t                 *ngx_http_rooms_scripts;
static ngx_uint_t                   ngx_http_rooms_exiting;


char *
ngx_http_rooms_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_main_conf_t  *rmcf = conf;

    u_char                       *p;
    ngx_str_t                    *value, s;
    ngx_url_t                     u;
    ngx_uint_t                    i;
    ngx_http_rooms_redis_conf_t  *rc;

    if (rmcf->redis != NULL) {
        return "is duplicate";
    }

    rc = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_redis_conf_t));
    if (rc == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rc->user = { 0, NULL };
     *     rc->password = { 0, NULL };
     *     rc->tls = 0;
     *     rc->ssl = NULL;
     *     rc->ssl_name = { 0, NULL };
     */

    value = cf->args->elts;

    rc->address = value[1];
    rc->timeout = 1000;
    rc->connections = 1;

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        rc->unix_path.len = value[1].len - 5;
        rc->unix_path.data = ngx_pnalloc(cf->pool, rc->unix_path.len + 1);
        if (rc->unix_path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(rc->unix_path.data, value[1].data + 5,
                    rc->unix_path.len + 1);

    } else {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[1];
        u.default_port = 6379;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_redis: %s in \"%V\"",
                               u.err ? u.err : "invalid address", &u.url);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0 || u.addrs[0].sockaddr->sa_family == AF_UNIX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_redis: \"%V\" resolves to no TCP "
                               "address", &u.url);
            return NGX_CONF_ERROR;
        }

        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        rc->host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                     u.addrs[0].socklen, p,
                                     NGX_SOCKADDR_STRLEN, 0);

        /* ngx_sock_ntop() brackets IPv6 only with a port */
        p[rc->host.len] = '\0';
        rc->host.data = p;
        rc->port = ngx_inet_get_port(u.addrs[0].sockaddr);

        /* the name TLS verifies unless rooms_redis_ssl_server_name says */
        rc->ssl_name = u.host;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "tls") == 0) {
            if (rc->tls) {
                goto invalid;
            }

            rc->tls = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rc->db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (rc->db == NGX_ERROR || rc->db > 65535) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            rc->user.len = value[i].len - 5;
            rc->user.data = value[i].data + 5;

            if (rc->user.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rc->password.len = value[i].len - 9;
            rc->password.data = value[i].data + 9;

            if (rc->password.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.len = value[i].len - 8;
            s.data = value[i].data + 8;

            rc->timeout = ngx_parse_time(&s, 0);
            if (rc->timeout == (ngx_msec_t) NGX_ERROR || rc->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "connections=", 12) == 0) {
            rc->connections = ngx_atoi(value[i].data + 12,
                                       value[i].len - 12);
            if (rc->connections == (ngx_uint_t) NGX_ERROR
                || rc->connections == 0 || rc->connections > 64)
            {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (rc->user.len && rc->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"user=%V\" needs \"password=\"",
                           &rc->user);
        return NGX_CONF_ERROR;
    }

    if (rc->tls && rc->unix_path.len) {
        /* Redis serves TLS on TCP ports only */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"tls\" needs a TCP address, "
                           "not \"%V\"", &rc->address);
        return NGX_CONF_ERROR;
    }

#if !(NGX_HTTP_SSL)

    if (rc->tls) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"tls\" needs an nginx built with "
                           "the http_ssl module");
        return NGX_CONF_ERROR;
    }

#endif

    rmcf->redis = rc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "rooms_redis: invalid parameter \"%V\" (expected "
                       "tls, user=..., password=..., db=N, timeout=TIME "
                       "or connections=1..64)", &value[i]);

    return NGX_CONF_ERROR;
}


char *
ngx_http_rooms_redis_ssl_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *field, *value, name;
    ngx_fd_t     fd;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: empty file name", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* read by OpenSSL once every directive is in: say early which is bad */

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V: cannot open \"%s\"", &cmd->name, name.data);
        return NGX_CONF_ERROR;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", name.data);
    }

    *field = name;

    return NGX_CONF_OK;
}


char *
ngx_http_rooms_redis_ssl_server_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t   *field, *value;
    ngx_uint_t   i;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 253) {
        goto invalid;
    }

    for (i = 0; i < value[1].len; i++) {
        if (!isalnum(value[1].data[i]) && value[1].data[i] != '-'
            && value[1].data[i] != '.' && value[1].data[i] != '_'
            && value[1].data[i] != ':')
        {
            goto invalid;
        }
    }

    *field = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "%V: \"%V\" is not a host name or an address",
                       &cmd->name, &value[1]);

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_rooms_redis_add_script(ngx_conf_t *cf, ngx_str_t *text)
{
    u_char                       md[SHA_DIGEST_LENGTH];
    ngx_http_rooms_script_t     *s;
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    if (rmcf->scripts == NULL) {
        rmcf->scripts = ngx_array_create(cf->pool, 8,
                                         sizeof(ngx_http_rooms_script_t));
        if (rmcf->scripts == NULL) {
            return NGX_ERROR;
        }
    }

    s = ngx_array_push(rmcf->scripts);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->text = *text;

    SHA1(s->text.data, s->text.len, md);
    ngx_hex_dump(s->sha, md, SHA_DIGEST_LENGTH);
    s->sha[40] = '\0';

    return rmcf->scripts->nelts - 1;
}


ngx_int_t
ngx_http_rooms_redis_init_conf(ngx_conf_t *cf)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    return ngx_http_rooms_redis_init_ssl(cf, rmcf);
}


/*
 * The rooms_redis_ssl_* directives against "tls", then the client context
 * every connection to Redis is made from (as proxy_ssl_* make theirs).
 * Messages name the directives: the http block is over, there is no line.
 */

static ngx_int_t
ngx_http_rooms_redis_init_ssl(ngx_conf_t *cf, ngx_http_rooms_main_conf_t *rmcf)
{
    char                             *set;
    ngx_http_rooms_redis_conf_t      *rc;
    ngx_http_rooms_redis_ssl_conf_t  *sc;
#if (NGX_HTTP_SSL)
    ngx_str_t                         ciphers;
    ngx_pool_cleanup_t               *cln;
#endif

    rc = rmcf->redis;
    sc = &rmcf->redis_ssl;

    set = sc->trusted_certificate.data
          ? "rooms_redis_ssl_trusted_certificate"
          : sc->certificate.data ? "rooms_redis_ssl_certificate"
          : sc->certificate_key.data ? "rooms_redis_ssl_certificate_key"
          : sc->server_name.data ? "rooms_redis_ssl_server_name"
          : sc->verify != NGX_CONF_UNSET ? "rooms_redis_ssl_verify"
          : NULL;

    if (rc == NULL || !rc->tls) {
        if (set != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" is set, but \"rooms_redis\" has no "
                          "\"tls\"", set);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    ngx_conf_init_value(sc->verify, 1);

    if (sc->certificate.data && sc->certificate_key.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_redis_ssl_certificate\" \"%V\" needs "
                      "\"rooms_redis_ssl_certificate_key\"",
                      &sc->certificate);
        return NGX_ERROR;
    }

    if (sc->certificate_key.data && sc->certificate.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_redis_ssl_certificate_key\" \"%V\" needs "
                      "\"rooms_redis_ssl_certificate\"",
                      &sc->certificate_key);
        return NGX_ERROR;
    }

    if (sc->verify && sc->trusted_certificate.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_redis\" \"%V\" with \"tls\" verifies the "
                      "server's certificate: it needs "
                      "\"rooms_redis_ssl_trusted_certificate\" (or "
                      "\"rooms_redis_ssl_verify off\")", &rc->address);
        return NGX_ERROR;
    }

    if (sc->server_name.data) {
        rc->ssl_name = sc->server_name;
    }

    rc->ssl_verify = sc->verify;

#if (NGX_HTTP_SSL)

    rc->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (rc->ssl == NULL) {
        return NGX_ERROR;
    }

    rc->ssl->log = cf->log;

    if (ngx_ssl_create(rc->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(rc->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = rc->ssl;

    ngx_str_set(&ciphers, "DEFAULT");

    if (ngx_ssl_ciphers(cf, rc->ssl, &ciphers, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (sc->certificate.data
        && ngx_ssl_certificate(cf, rc->ssl, &sc->certificate,
                               &sc->certificate_key, NULL)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_redis_ssl_certificate\" \"%V\" and its key "
                      "\"%V\" cannot be used", &sc->certificate,
                      &sc->certificate_key);
        return NGX_ERROR;
    }

    if (sc->trusted_certificate.data
        && ngx_ssl_trusted_certificate(cf, rc->ssl, &sc->trusted_certificate,
                                       NGX_HTTP_ROOMS_SSL_VERIFY_DEPTH)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rooms_redis_ssl_trusted_certificate\" \"%V\" "
                      "cannot be used", &sc->trusted_certificate);
        return NGX_ERROR;
    }

    /* reconnects resume their session: no full handshake each time */

    if (ngx_ssl_client_session_cache(cf, rc->ssl, 1) != NGX_OK) {
        return NGX_ERROR;
    }

#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    ngx_http_rooms_rcf = NULL;
    ngx_http_rooms_nconns = 0;
    ngx_http_rooms_exiting = 0;
    ngx_memzero(&ngx_http_rooms_sub, sizeof(ngx_http_rooms_sub_t));

    if (rmcf == NULL || rmcf->redis == NULL) {
        return NGX_OK;
    }

    ngx_http_rooms_rcf = rmcf->redis;
    ngx_http_rooms_scripts = rmcf->scripts;
    ngx_http_rooms_nconns = rmcf->redis->connections;

    if (rmcf->redis->tls) {
        /*
         * the TLS context is built, the connections cannot use it yet:
         * never fall back to plaintext, which would send the password in
         * clear; every request gets 503
         */

        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "rooms redis: \"%V\" is configured with \"tls\", "
                      "which this build cannot speak yet: no connection "
                      "is opened", &rmcf->redis->address);

        ngx_http_rooms_nconns = 0;
        ngx_http_rooms_rcf = NULL;

        return NGX_OK;
    }

    ngx_http_rooms_conns = ngx_pcalloc(cycle->pool,
                                       ngx_http_rooms_nconns
                                       * sizeof(ngx_http_rooms_conn_t));
    if (ngx_http_rooms_conns == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ngx_http_rooms_nconns; i++) {
        ngx_http_rooms_conns[i].backoff = NGX_HTTP_ROOMS_BACKOFF_MIN;
        ngx_http_rooms_redis_connect(&ngx_http_rooms_conns[i]);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_redis_subscribe(ngx_str_t *channel,
    ngx_http_rooms_redis_message_pt handler, void *data)
{
    if (ngx_http_rooms_rcf == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_rooms_sub.channel = *channel;
    ngx_http_rooms_sub.handler = handler;
    ngx_http_rooms_sub.data = data;
    ngx_http_rooms_sub.conn.subscriber = 1;
    ngx_http_rooms_sub.conn.backoff = NGX_HTTP_ROOMS_BACKOFF_MIN;

    ngx_http_rooms_redis_connect(&ngx_http_rooms_sub.conn);

    return NGX_OK;
}


void
ngx_http_rooms_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t              i;
    ngx_http_rooms_conn_t  *conn;

    ngx_http_rooms_exiting = 1;

    for (i = 0; i <= ngx_http_rooms_nconns; i++) {
        conn = (i < ngx_http_rooms_nconns) ? &ngx_http_rooms_conns[i]
                                           : &ngx_http_rooms_sub.conn;

        if (conn->reconnect.timer_set) {
            ngx_del_timer(&conn->reconnect);
        }

        if (conn->ac != NULL) {
            ngx_http_rooms_redis_drop(conn);
        }
    }

    ngx_http_rooms_nconns = 0;
    ngx_http_rooms_rcf = NULL;
}


/* the event loop adapter */


static void
ngx_http_rooms_redis_read_handler(ngx_event_t *rev)
{
    char                    buf;
    ssize_t                 n;
    ngx_uint_t              i, gen;
    ngx_connection_t       *c;
    ngx_http_rooms_conn_t  *conn;

    c = rev->data;
    conn = c->data;
    gen = conn->generation;

    /*
     * hiredis reads at most 16 KiB per call; under edge-triggered epoll
     * keep reading until the socket is drained, or the context is gone
     */

    for (i = 0; i < NGX_HTTP_ROOMS_DRAIN_MAX; i++) {
        redisAsyncHandleRead(conn->ac);

        if (conn->ac == NULL || conn->generation != gen) {
            return;
        }

        n = recv(c->fd, &buf, 1, MSG_PEEK | MSG_DONTWAIT);

        if (n < 0) {
            if (ngx_socket_errno == NGX_EAGAIN
                || ngx_socket_errno == NGX_EINTR)
            {
                return;
            }

            /* an error: one more read lets hiredis see and report it */
        }
    }

    if (conn->ac != NULL && conn->generation == gen) {
        /* still more to read: continue on the next loop iteration */
        ngx_post_event(rev, &ngx_posted_events);
    }
}


static void
ngx_http_rooms_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t       *c;
    ngx_http_rooms_conn_t  *conn;

    c = wev->data;
    conn = c->data;

    if (conn->ac == NULL) {
        return;
    }

    conn->in_write = 1;
    redisAsyncHandleWrite(conn->ac);
    conn->in_write = 0;
}


static void
ngx_http_rooms_redis_add_event(ngx_http_rooms_conn_t *conn, ngx_event_t *ev,
    ngx_int_t event)
{
    if (ngx_add_event(ev, event,
                      (ngx_event_flags & NGX_USE_CLEAR_EVENT)
                      ? NGX_CLEAR_EVENT : NGX_LEVEL_EVENT)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, conn->c->log, 0,
                      "rooms redis: cannot add %s event",
                      event == NGX_READ_EVENT ? "read" : "write");
    }
}


static void
ngx_http_rooms_redis_add_read(void *privdata)
{
    ngx_http_rooms_conn_t  *conn = privdata;

    if (!conn->c->read->active) {
        ngx_http_rooms_redis_add_event(conn, conn->c->read, NGX_READ_EVENT);
    }
}


static void
ngx_http_rooms_redis_del_read(void *privdata)
{
    ngx_http_rooms_conn_t  *conn = privdata;

    if (conn->c->read->active) {
        (void) ngx_del_event(conn->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_rooms_redis_add_write(void *privdata)
{
    ngx_http_rooms_conn_t  *conn = privdata;

    ngx_event_t  *wev;

    wev = conn->c->write;

    if (!wev->active) {
        ngx_http_rooms_redis_add_event(conn, wev, NGX_WRITE_EVENT);
        return;
    }

    /*
     * An edge-triggered write event stays registered and fires again only
     * after the socket was full.  New commands are written later in this
     * loop iteration, so that several requests' commands share a write.
     */

    if (!conn->in_write && !wev->posted
        && (ngx_event_flags & NGX_USE_CLEAR_EVENT))
    {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


static void
ngx_http_rooms_redis_del_write(void *privdata)
{
    ngx_http_rooms_conn_t  *conn = privdata;

    if (ngx_event_flags & NGX_USE_CLEAR_EVENT) {
        return;
    }

    if (conn->c->write->active) {
        (void) ngx_del_event(conn->c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_rooms_redis_cleanup(void *privdata)
{
    ngx_http_rooms_conn_t  *conn = privdata;

    ngx_connection_t  *c;

    c = conn->c;

    if (c == NULL) {
        return;
    }

    /* hiredis closes the socket itself: unhook it from nginx only */

    if (c->read->active || c->read->disabled) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active || c->write->disabled) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    conn->c = NULL;
}


static void
ngx_http_rooms_redis_setup_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply             *rr = reply;
    ngx_http_rooms_conn_t  *conn = privdata;

    if (rr == NULL || conn->ac != ac) {
        return;
    }

    if (rr->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: setting up \"%V\" failed: %s",
                      &ngx_http_rooms_rcf->address, rr->str);

        /* a bad password or db: reconnect, with backoff */
        conn->ready = 0;
        redisAsyncDisconnect(ac);
        return;
    }
}


static void
ngx_http_rooms_redis_auth_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                   *rr = reply;
    ngx_http_rooms_conn_t        *conn = privdata;
    ngx_http_rooms_redis_conf_t  *rc;

    if (rr == NULL || conn->ac != ac || rr->type != REDIS_REPLY_ERROR) {
        return;
    }

    rc = ngx_http_rooms_rcf;

    /* a wrong password, a disabled user: the backoff applies */

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" refused AUTH%s%V%s: %s; "
                  "reconnecting in %M ms", &rc->address,
                  rc->user.len ? " as user \"" : "", &rc->user,
                  rc->user.len ? "\"" : "", rr->str, conn->backoff);

    conn->ready = 0;
    redisAsyncDisconnect(ac);
}


/* the connection is set up: its next loss starts the backoff again */

static void
ngx_http_rooms_redis_ready(ngx_http_rooms_conn_t *conn)
{
    if (conn->backoff > NGX_HTTP_ROOMS_BACKOFF_MIN) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "rooms redis: connected to \"%V\"",
                      &ngx_http_rooms_rcf->address);
    }

    conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MIN;

    conn->connected = 1;
    ngx_http_rooms_redis_gauge();
}


static void
ngx_http_rooms_redis_select_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply             *rr = reply;
    ngx_http_rooms_conn_t  *conn = privdata;

    if (rr == NULL || conn->ac != ac || !conn->ready) {
        return;
    }

    if (rr->type == REDIS_REPLY_ERROR) {
        ngx_http_rooms_redis_setup_reply(ac, reply, privdata);
        return;
    }

    ngx_http_rooms_redis_ready(conn);
}


static void
ngx_http_rooms_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_rooms_conn_t  *conn = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: connect to \"%V\" failed: %s",
                      &ngx_http_rooms_rcf->address, ac->errstr);

        ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_CONNECTION);

        /* hiredis frees the context after this callback */
        ngx_http_rooms_redis_lost(conn);
        return;
    }

    /* the backoff is reset once AUTH and SELECT (or SUBSCRIBE) passed */
}


static void
ngx_http_rooms_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_rooms_conn_t  *conn = ac->data;

    if (status != REDIS_OK && !ngx_http_rooms_exiting) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: connection to \"%V\" lost: %s",
                      &ngx_http_rooms_rcf->address, ac->errstr);

        ngx_http_rooms_metrics_redis_error(ac->err == REDIS_ERR_PROTOCOL
                                           ? NGX_HTTP_ROOMS_REDIS_PROTOCOL
                                           : NGX_HTTP_ROOMS_REDIS_CONNECTION);
    }

    ngx_http_rooms_redis_lost(conn);
}


/* the subscription: its replies and messages, to its handler */

static void
ngx_http_rooms_redis_message(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply             *rr = reply;
    ngx_http_rooms_conn_t  *conn = privdata;

    ngx_str_t  msg;

    if (rr == NULL || conn->ac != ac || ngx_http_rooms_exiting) {
        return;
    }

    if (rr->type != REDIS_REPLY_ARRAY || rr->elements != 3
        || rr->element[0]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: subscribing to \"%V\" failed%s%s",
                      &ngx_http_rooms_sub.channel,
                      rr->type == REDIS_REPLY_ERROR ? ": " : "",
                      rr->type == REDIS_REPLY_ERROR ? rr->str : "");
        redisAsyncDisconnect(ac);
        return;
    }

    if (ngx_strcmp(rr->element[0]->str, "subscribe") == 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "rooms redis: subscribed to \"%V\"",
                       &ngx_http_rooms_sub.channel);

        conn->ready = 1;
        ngx_http_rooms_redis_ready(conn);
        ngx_http_rooms_sub.handler(ngx_http_rooms_sub.data,
                                   NGX_HTTP_ROOMS_SUB_UP, NULL);
        return;
    }

    if (ngx_strcmp(rr->element[0]->str, "message") == 0
        && rr->element[2]->type == REDIS_REPLY_STRING)
    {
        msg.data = (u_char *) rr->element[2]->str;
        msg.len = rr->element[2]->len;

        ngx_http_rooms_sub.handler(ngx_http_rooms_sub.data,
                                   NGX_HTTP_ROOMS_SUB_MESSAGE, &msg);
    }
}


static void
ngx_http_rooms_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_rooms_metrics_redis_reconnect();
    ngx_http_rooms_redis_connect(ev->data);
}


static void
ngx_http_rooms_redis_connect(ngx_http_rooms_conn_t *conn)
{
    u_char                    db[NGX_INT_T_LEN];
    int                       argc;
    const char               *argv[3];
    size_t                    argvlen[3];
    ngx_uint_t                i;
    redisAsyncContext        *ac;
    ngx_connection_t         *c;
    ngx_http_rooms_script_t  *s;

    conn->reconnect.handler = ngx_http_rooms_redis_reconnect_handler;
    conn->reconnect.data = conn;
    conn->reconnect.log = ngx_cycle->log;
    conn->reconnect.cancelable = 1;

    if (ngx_http_rooms_rcf->unix_path.len) {
        ac = redisAsyncConnectUnix((char *) ngx_http_rooms_rcf->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) ngx_http_rooms_rcf->host.data,
                               (int) ngx_http_rooms_rcf->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: cannot allocate a context");
        ngx_http_rooms_redis_lost(conn);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: connect to \"%V\" failed: %s",
                      &ngx_http_rooms_rcf->address, ac->errstr);
        ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_CONNECTION);
        redisAsyncFree(ac);
        ngx_http_rooms_redis_lost(conn);
        return;
    }

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_rooms_redis_lost(conn);
        return;
    }

    c->data = conn;
    c->read->handler = ngx_http_rooms_redis_read_handler;
    c->write->handler = ngx_http_rooms_redis_write_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    conn->c = c;
    conn->ac = ac;
    conn->generation++;
    conn->ready = !conn->subscriber;

    ac->data = conn;
    ac->ev.data = conn;
    ac->ev.addRead = ngx_http_rooms_redis_add_read;
    ac->ev.delRead = ngx_http_rooms_redis_del_read;
    ac->ev.addWrite = ngx_http_rooms_redis_add_write;
    ac->ev.delWrite = ngx_http_rooms_redis_del_write;
    ac->ev.cleanup = ngx_http_rooms_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_rooms_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_rooms_redis_disconnected);

    /* queued before anything else: sent as soon as the socket connects */

    if (ngx_http_rooms_rcf->password.len) {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (ngx_http_rooms_rcf->user.len) {
            /* an ACL user (Redis 6 and later) */
            argv[argc] = (char *) ngx_http_rooms_rcf->user.data;
            argvlen[argc++] = ngx_http_rooms_rcf->user.len;
        }

        argv[argc] = (char *) ngx_http_rooms_rcf->password.data;
        argvlen[argc++] = ngx_http_rooms_rcf->password.len;

        redisAsyncCommandArgv(ac, ngx_http_rooms_redis_auth_reply, conn,
                              argc, argv, argvlen);
    }

    if (conn->subscriber) {
        argv[0] = "SUBSCRIBE";
        argvlen[0] = 9;
        argv[1] = (char *) ngx_http_rooms_sub.channel.data;
        argvlen[1] = ngx_http_rooms_sub.channel.len;

        redisAsyncCommandArgv(ac, ngx_http_rooms_redis_message, conn,
                              2, argv, argvlen);
        return;
    }

    argv[0] = "SELECT";
    argvlen[0] = 6;
    argv[1] = (char *) db;
    argvlen[1] = ngx_sprintf(db, "%i", ngx_http_rooms_rcf->db) - db;

    redisAsyncCommandArgv(ac, ngx_http_rooms_redis_select_reply, conn,
                          2, argv, argvlen);

    if (ngx_http_rooms_scripts == NULL) {
        return;
    }

    s = ngx_http_rooms_scripts->elts;

    for (i = 0; i < ngx_http_rooms_scripts->nelts; i++) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (char *) s[i].text.data;
        argvlen[2] = s[i].text.len;

        redisAsyncCommandArgv(ac, ngx_http_rooms_redis_setup_reply, conn,
                              3, argv, argvlen);
    }
}


static void
ngx_http_rooms_redis_lost(ngx_http_rooms_conn_t *conn)
{
    if (conn->subscriber && conn->ready && ngx_http_rooms_sub.handler) {
        ngx_http_rooms_sub.handler(ngx_http_rooms_sub.data,
                                   NGX_HTTP_ROOMS_SUB_DOWN, NULL);
    }

    conn->ac = NULL;
    conn->ready = 0;
    conn->generation++;

    if (conn->connected) {
        conn->connected = 0;
        ngx_http_rooms_redis_gauge();
    }

    if (ngx_http_rooms_exiting || ngx_terminate || ngx_exiting) {
        return;
    }

    if (!conn->reconnect.timer_set) {
        ngx_add_timer(&conn->reconnect, conn->backoff);

        conn->backoff *= 2;
        if (conn->backoff > NGX_HTTP_ROOMS_BACKOFF_MAX) {
            conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MAX;
        }
    }
}


static void
ngx_http_rooms_redis_drop(ngx_http_rooms_conn_t *conn)
{
    redisAsyncContext  *ac;

    ac = conn->ac;

    ngx_http_rooms_redis_lost(conn);

    /* calls every pending callback with a NULL reply, then cleanup */
    redisAsyncFree(ac);
}


/* rooms_redis_up: every connection of this worker for batches is up */

static void
ngx_http_rooms_redis_gauge(void)
{
    ngx_uint_t  i, up;

    up = (ngx_http_rooms_nconns > 0);

    for (i = 0; i < ngx_http_rooms_nconns; i++) {
        if (!ngx_http_rooms_conns[i].connected) {
            up = 0;
        }
    }

    ngx_http_rooms_metrics_redis_up(up);
}


/* batches */


/*
 * The owner is done with the batch (answered, aborted, or gone): no
 * handler call, no timer, no hook in the request's pool
 */

static void
ngx_http_rooms_redis_unhook(ngx_http_rooms_batch_t *b)
{
    b->done = 1;
    b->r = NULL;

    if (b->cln != NULL) {
        b->cln->handler = NULL;
        b->cln = NULL;
    }

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }
}


/* the one way out: freed now if no reply is pending, else by the last */

static void
ngx_http_rooms_redis_detach(ngx_http_rooms_batch_t *b)
{
    ngx_http_rooms_redis_unhook(b);

    if (b->pending == 0) {
        ngx_free(b);
    }
}


static void
ngx_http_rooms_redis_request_gone(void *data)
{
    ngx_http_rooms_batch_t  *b = data;

    /* r->pool, which holds the replies, is being destroyed */

    b->cln = NULL;
    b->pool = NULL;

    ngx_http_rooms_redis_detach(b);
}


static void
ngx_http_rooms_redis_timeout(ngx_event_t *ev)
{
    ngx_http_rooms_batch_t  *b = ev->data;

    ngx_uint_t              generation;
    ngx_http_rooms_conn_t  *conn;

    conn = b->conn;
    generation = b->generation;

    ngx_log_error(NGX_LOG_ERR, b->log, 0,
                  "rooms redis: \"%V\" did not answer in %M ms, "
                  "dropping the connection",
                  &ngx_http_rooms_rcf->address, ngx_http_rooms_rcf->timeout);

    ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_TIMEOUT);

    ngx_http_rooms_redis_finish(b, NGX_ERROR);

    /* b may be gone now */

    if (conn->ac != NULL && conn->generation == generation) {
        ngx_http_rooms_redis_drop(conn);
    }
}


static ngx_http_rooms_batch_t *
ngx_http_rooms_redis_batch(ngx_log_t *log,
    ngx_http_rooms_redis_handler_pt handler, void *data)
{
    ngx_uint_t               i;
    ngx_http_rooms_conn_t   *conn;
    ngx_http_rooms_batch_t  *b;

    conn = NULL;

    for (i = 0; i < ngx_http_rooms_nconns; i++) {
        conn = &ngx_http_rooms_conns[ngx_http_rooms_next++
                                     % ngx_http_rooms_nconns];
        if (conn->ac != NULL && conn->ready) {
            break;
        }

        conn = NULL;
    }

    if (conn == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "rooms redis: no connection to \"%V\"",
                      &ngx_http_rooms_rcf->address);
        return NULL;
    }

    b = ngx_calloc(sizeof(ngx_http_rooms_batch_t), log);
    if (b == NULL) {
        return NULL;
    }

    b->log = log;
    b->handler = handler;
    b->data = data;
    b->conn = conn;
    b->generation = conn->generation;
    b->timer.handler = ngx_http_rooms_redis_timeout;
    b->timer.data = b;
    b->timer.log = log;

    return b;
}


ngx_http_rooms_batch_t *
ngx_http_rooms_redis_begin(ngx_http_request_t *r,
    ngx_http_rooms_redis_handler_pt handler, void *data)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_rcf == NULL) {
        return NULL;
    }

    b = ngx_http_rooms_redis_batch(r->connection->log, handler, data);
    if (b == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_free(b);
        return NULL;
    }

    cln->handler = ngx_http_rooms_redis_request_gone;
    cln->data = b;

    b->r = r;
    b->pool = r->pool;
    b->cln = cln;

    return b;
}


ngx_http_rooms_batch_t *
ngx_http_rooms_redis_begin_detached(ngx_log_t *log,
    ngx_http_rooms_redis_handler_pt handler, void *data)
{
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_rcf == NULL) {
        return NULL;
    }

    b = ngx_http_rooms_redis_batch(log, handler, data);
    if (b == NULL) {
        return NULL;
    }

    b->pool = ngx_create_pool(1024, log);
    if (b->pool == NULL) {
        ngx_free(b);
        return NULL;
    }

    return b;
}


static u_char *
ngx_http_rooms_redis_decimal(u_char *p, size_t n)
{
    u_char  *q, tmp[NGX_SIZE_T_LEN];

    q = tmp + sizeof(tmp);

    do {
        *--q = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, q, tmp + sizeof(tmp) - q);
}


/* bulk strings of argv[0 .. argc) in RESP at p; returns the end */

static u_char *
ngx_http_rooms_redis_bulk(u_char *p, ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_uint_t  i;

    for (i = 0; i < argc; i++) {
        *p++ = '$';
        p = ngx_http_rooms_redis_decimal(p, argv[i].len);
        *p++ = '\r';
        *p++ = '\n';
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
        *p++ = '\r';
        *p++ = '\n';
    }

    return p;
}


static size_t
ngx_http_rooms_redis_bulk_len(ngx_uint_t argc, ngx_str_t *argv)
{
    size_t      len;
    ngx_uint_t  i;

    len = 0;

    for (i = 0; i < argc; i++) {
        len += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + argv[i].len;
    }

    return len;
}


/* a command of argc arguments: the first two given here, the rest in RESP */

static ngx_int_t
ngx_http_rooms_redis_send(redisAsyncContext *ac, void *privdata,
    ngx_uint_t argc, ngx_str_t *head, u_char *rest, size_t len)
{
    u_char     *buf, *p, stack[2048];
    size_t      size;
    ngx_int_t   rc;

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN
           + ngx_http_rooms_redis_bulk_len(ngx_min(argc, 2), head) + len;

    if (size <= sizeof(stack)) {
        buf = stack;

    } else {
        buf = ngx_alloc(size, ngx_cycle->log);
        if (buf == NULL) {
            return NGX_ERROR;
        }
    }

    p = buf;
    *p++ = '*';
    p = ngx_http_rooms_redis_decimal(p, argc);
    *p++ = '\r';
    *p++ = '\n';
    p = ngx_http_rooms_redis_bulk(p, ngx_min(argc, 2), head);
    p = ngx_cpymem(p, rest, len);

    /* hiredis copies it into its output buffer */

    rc = (redisAsyncFormattedCommand(ac, ngx_http_rooms_redis_reply, privdata,
                                     (char *) buf, p - buf)
          == REDIS_OK) ? NGX_OK : NGX_ERROR;

    if (buf != stack) {
        ngx_free(buf);
    }

    return rc;
}


static ngx_int_t
ngx_http_rooms_redis_command(ngx_http_rooms_batch_t *b,
    ngx_http_rooms_script_t *script, ngx_uint_t argc, ngx_str_t *argv)
{
    u_char                 *buf, *p, *rest, stack[2048];
    size_t                  len, size;
    ngx_int_t               rc;
    ngx_http_rooms_slot_t  *slot;

    if (b->failed || b->conn->ac == NULL
        || b->conn->generation != b->generation)
    {
        b->failed = 1;
        return NGX_ERROR;
    }

    /*
     * Not from a pool: a reply (or the NULL of a dropped connection) may
     * come after the batch's owner is gone.  hiredis calls every callback
     * exactly once, and the callback frees its slot.
     */

    len = (argc > 2) ? ngx_http_rooms_redis_bulk_len(argc - 2, argv + 2) : 0;

    slot = ngx_alloc(offsetof(ngx_http_rooms_slot_t, args)
                     + (script ? len : 0), b->log);
    if (slot == NULL) {
        b->failed = 1;
        return NGX_ERROR;
    }

    slot->batch = b;
    slot->index = b->ncmds;
    slot->script = script;
    slot->argc = argc;
    slot->len = 0;

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN
           + ngx_http_rooms_redis_bulk_len(ngx_min(argc, 2), argv) + len;

    buf = (size <= sizeof(stack)) ? stack : ngx_alloc(size, b->log);
    if (buf == NULL) {
        ngx_free(slot);
        b->failed = 1;
        return NGX_ERROR;
    }

    /*
     * The command in RESP, formatted here rather than by hiredis's
     * sds-based formatter, which cost as much as the rest of an
     * admission's Redis work (and ngx_sprintf() a third of it)
     */

    p = buf;
    *p++ = '*';
    p = ngx_http_rooms_redis_decimal(p, argc);
    *p++ = '\r';
    *p++ = '\n';
    p = ngx_http_rooms_redis_bulk(p, ngx_min(argc, 2), argv);
    rest = p;

    if (argc > 2) {
        p = ngx_http_rooms_redis_bulk(p, argc - 2, argv + 2);
    }

    if (script != NULL) {
        /* kept for a NOSCRIPT, when it goes again as EVAL */
        slot->len = p - rest;
        ngx_memcpy(slot->args, rest, slot->len);
    }

    /* hiredis copies it into its output buffer */

    rc = (redisAsyncFormattedCommand(b->conn->ac, ngx_http_rooms_redis_reply,
                                     slot, (char *) buf, p - buf)
          == REDIS_OK) ? NGX_OK : NGX_ERROR;

    if (buf != stack) {
        ngx_free(buf);
    }

    if (rc != NGX_OK) {
        ngx_free(slot);
        b->failed = 1;
        return NGX_ERROR;
    }

    b->ncmds++;
    b->pending++;

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_redis_append(ngx_http_rooms_batch_t *b, ngx_uint_t argc,
    ngx_str_t *argv)
{
    return ngx_http_rooms_redis_command(b, NULL, argc, argv);
}


ngx_int_t
ngx_http_rooms_redis_append_script(ngx_http_rooms_batch_t *b,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv)
{
    u_char                    n[NGX_INT_T_LEN];
    ngx_str_t                *cmd;
    ngx_http_rooms_script_t  *s;

    /* EVALSHA sha nkeys argv... */

    cmd = ngx_palloc(b->pool, (argc + 3) * sizeof(ngx_str_t));
    if (cmd == NULL) {
        b->failed = 1;
        return NGX_ERROR;
    }

    s = ngx_http_rooms_scripts->elts;

    ngx_str_set(&cmd[0], "EVALSHA");
    cmd[1].data = s[script].sha;
    cmd[1].len = 40;
    cmd[2].data = n;
    cmd[2].len = ngx_sprintf(n, "%ui", nkeys) - n;
    ngx_memcpy(&cmd[3], argv, argc * sizeof(ngx_str_t));

    return ngx_http_rooms_redis_command(b, &s[script], argc + 3, cmd);
}


/* after NOSCRIPT: the same script and arguments as EVAL, which caches it */

static ngx_int_t
ngx_http_rooms_redis_resend(redisAsyncContext *ac, ngx_http_rooms_slot_t *slot)
{
    ngx_str_t  head[2];

    ngx_str_set(&head[0], "EVAL");
    head[1] = slot->script->text;

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" no longer has script %s "
                  "(SCRIPT FLUSH, or a failover?): sent again with EVAL",
                  &ngx_http_rooms_rcf->address, slot->script->sha);

    slot->script = NULL;

    return ngx_http_rooms_redis_send(ac, slot, slot->argc, head, slot->args,
                                     slot->len);
}


ngx_int_t
ngx_http_rooms_redis_end(ngx_http_rooms_batch_t *b)
{
    if (b->failed || b->ncmds == 0) {
        ngx_http_rooms_redis_abort(b);
        return NGX_ERROR;
    }

    b->replies = ngx_pcalloc(b->pool,
                             b->ncmds * sizeof(ngx_http_rooms_reply_t));
    if (b->replies == NULL) {
        ngx_http_rooms_redis_abort(b);
        return NGX_ERROR;
    }

    b->ended = 1;
    b->start = ngx_http_rooms_metrics_now();

    ngx_add_timer(&b->timer, ngx_http_rooms_rcf->timeout);

    return NGX_OK;
}


void
ngx_http_rooms_redis_abort(ngx_http_rooms_batch_t *b)
{
    if (b->r == NULL && b->pool != NULL) {
        /* detached: the replies' own pool */
        ngx_destroy_pool(b->pool);
    }

    b->pool = NULL;

    ngx_http_rooms_redis_detach(b);
}


static ngx_int_t
ngx_http_rooms_redis_copy(ngx_pool_t *pool, ngx_http_rooms_reply_t *dst,
    redisReply *src)
{
    size_t  i;

    dst->type = src->type;
    dst->integer = src->integer;

    switch (src->type) {

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        dst->str.len = src->len;
        dst->str.data = ngx_pnalloc(pool, src->len + 1);
        if (dst->str.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(dst->str.data, src->str, src->len);
        dst->str.data[src->len] = '\0';
        break;

    case REDIS_REPLY_ARRAY:
        dst->elements = src->elements;

        if (src->elements == 0) {
            break;
        }

        dst->element = ngx_pcalloc(pool, src->elements
                                          * sizeof(ngx_http_rooms_reply_t));
        if (dst->element == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < src->elements; i++) {
            if (ngx_http_rooms_redis_copy(pool, &dst->element[i],
                                          src->element[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        break;

    default:
        break;
    }

    return NGX_OK;
}


static void
ngx_http_rooms_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_http_rooms_slot_t  *slot = privdata;

    redisReply              *rr = reply;
    ngx_uint_t               index;
    ngx_http_rooms_batch_t  *b;

    if (rr != NULL && slot->script != NULL
        && rr->type == REDIS_REPLY_ERROR
        && rr->len >= 8 && ngx_strncmp(rr->str, "NOSCRIPT", 8) == 0
        && ngx_http_rooms_redis_resend(ac, slot) == NGX_OK)
    {
        /* the same slot waits for the reply to the EVAL */
        return;
    }

    if (rr != NULL && rr->type == REDIS_REPLY_ERROR) {
        ngx_http_rooms_metrics_redis_error(
            ngx_http_rooms_metrics_redis_error_kind((u_char *) rr->str,
                                                    rr->len));
    }

    b = slot->batch;
    index = slot->index;
    ngx_free(slot);

    b->pending--;

    if (b->done) {
        /* the owner is gone (or timed out): only account for it */
        if (b->pending == 0) {
            ngx_free(b);
        }

        return;
    }

    if (reply == NULL) {
        b->failed = 1;

    } else if (b->ended) {
        if (ngx_http_rooms_redis_copy(b->pool, &b->replies[index], reply)
            != NGX_OK)
        {
            b->failed = 1;
        }
    }

    if (b->pending == 0) {
        ngx_http_rooms_redis_finish(b, b->failed ? NGX_ERROR : NGX_OK);
    }
}


/* the handler, once; then the batch is its owner's no more */

static void
ngx_http_rooms_redis_finish(ngx_http_rooms_batch_t *b, ngx_int_t rc)
{
    ngx_pool_t          *pool;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = b->r;

    ngx_http_rooms_metrics_redis_duration(b->start);

    /* the replies stay where they are: in r->pool, or in pool below */

    pool = (r == NULL) ? b->pool : NULL;
    b->pool = NULL;

    ngx_http_rooms_redis_unhook(b);

    if (!ngx_http_rooms_exiting && b->handler != NULL) {
        c = (r != NULL) ? r->connection : NULL;

        b->handler(r, b->data, b->replies, b->ncmds, rc);

        if (c != NULL) {
            ngx_http_run_posted_requests(c);
        }
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    if (b->pending == 0) {
        ngx_free(b);
    }
}


void
ngx_http_rooms_redis_fire(ngx_log_t *log, ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin_detached(log, NULL, NULL);
    if (b == NULL) {
        return;
    }

    if (ngx_http_rooms_redis_append(b, argc, argv) == NGX_OK) {
        (void) ngx_http_rooms_redis_end(b);
        return;
    }

    ngx_http_rooms_redis_abort(b);
}
