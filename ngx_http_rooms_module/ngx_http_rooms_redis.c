
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The Redis adapter on nginx's own connection machinery.  Each worker
 * opens "connections=N" connections for batches in init_process, and one
 * more for a subscription when one is asked for, with
 * ngx_event_connect_peer() (TCP or a unix socket), and TLS as the
 * upstream module does it for proxy_ssl.  hiredis is only the RESP
 * parser (its redisReader), building replies in a pool of the
 * connection's.
 *
 * A connection has one output buffer, into which every command is
 * formatted once, and a queue of the commands sent and not answered yet:
 * Redis answers in order, so the head of the queue gets the next reply.
 * On the subscription's connection a reply with the queue empty is a
 * push (a message).  Timeouts are nginx timers: one per batch, one for
 * connecting (TCP and the TLS handshake; SUBSCRIBE too on the
 * subscription's connection); either drops the connection, which fails
 * every command still queued on it, and reopens it with backoff.
 *
 * The transitions a metric would count each have one function:
 * ngx_http_rooms_redis_up() (a connection is set up),
 * ngx_http_rooms_redis_drop() (one is lost, for any reason),
 * ngx_http_rooms_redis_timed_out() (a batch or a connection took too long)
 * and ngx_http_rooms_redis_reconnect() (one is opened again).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/read.h>
#include <openssl/sha.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"


#define NGX_HTTP_ROOMS_BACKOFF_MIN    50
#define NGX_HTTP_ROOMS_BACKOFF_MAX    500

/* reads of one read event before the others get their turn */
#define NGX_HTTP_ROOMS_READS_MAX      16
#define NGX_HTTP_ROOMS_READ_SIZE      16384

/* the output buffer: its first size, and at most (Redis not reading) */
#define NGX_HTTP_ROOMS_OUT_SIZE       16384
#define NGX_HTTP_ROOMS_OUT_MAX        (64 * 1024 * 1024)

/* the most elements of one array reply, at any depth */
#define NGX_HTTP_ROOMS_ELEMENTS_MAX   (16 * 1024 * 1024)

/* commands a batch holds without an allocation of their own */
#define NGX_HTTP_ROOMS_INLINE_CMDS    4

/* how deep the server's certificate chain may be (proxy_ssl_verify_depth) */
#define NGX_HTTP_ROOMS_SSL_VERIFY_DEPTH  4


/* a connection's states */
#define NGX_HTTP_ROOMS_CLOSED         0   /* waiting to be opened again */
#define NGX_HTTP_ROOMS_CONNECTING     1   /* TCP connect in progress */
#define NGX_HTTP_ROOMS_HANDSHAKE      2   /* TLS handshake, verification */
#define NGX_HTTP_ROOMS_SETUP          3   /* AUTH, SELECT or SUBSCRIBE sent */
#define NGX_HTTP_ROOMS_UP             4


/* what a queued command is */
#define NGX_HTTP_ROOMS_CMD_BATCH      0
#define NGX_HTTP_ROOMS_CMD_AUTH       1
#define NGX_HTTP_ROOMS_CMD_SELECT     2
#define NGX_HTTP_ROOMS_CMD_SCRIPT     3   /* SCRIPT LOAD */
#define NGX_HTTP_ROOMS_CMD_SUBSCRIBE  4


typedef struct {
    ngx_str_t                  text;
    u_char                     sha[41];
} ngx_http_rooms_script_t;


typedef struct ngx_http_rooms_cmd_s  ngx_http_rooms_cmd_t;

/*
 * A command sent and waiting for its reply.  An EVALSHA keeps its
 * arguments after the sha, in RESP, so that it can be sent again as EVAL
 * when Redis no longer has the script (after SCRIPT FLUSH, or on a node
 * that never had it): NOSCRIPT means the script did not run.
 */

struct ngx_http_rooms_cmd_s {
    ngx_http_rooms_cmd_t      *next;
    ngx_http_rooms_batch_t    *batch;       /* CMD_BATCH */
    ngx_uint_t                 index;       /* its reply's, in the batch */
    ngx_uint_t                 kind;
    ngx_http_rooms_script_t   *script;      /* an EVALSHA not sent again */
    ngx_uint_t                 argc;
    u_char                    *args;        /* ngx_alloc()ed */
    size_t                     len;
    unsigned                   heap:1;      /* ngx_alloc()ed, not inline */
};


typedef struct {
    ngx_connection_t          *c;
    ngx_peer_connection_t      peer;
    ngx_log_t                  log;         /* says which server */
    redisReader               *reader;
    ngx_pool_t                *replies;     /* of the reply being read */

    /* what is formatted and not sent yet: pos .. last */
    u_char                    *start;
    u_char                    *pos;
    u_char                    *last;
    u_char                    *end;

    ngx_http_rooms_cmd_t      *head;        /* sent (or in the buffer) */
    ngx_http_rooms_cmd_t      *tail;

    ngx_event_t                timer;       /* connecting, set up */
    ngx_event_t                reconnect;
    ngx_msec_t                 backoff;
    ngx_uint_t                 generation;
    ngx_uint_t                 state;
    unsigned                   subscriber:1; /* the pub/sub connection */
    unsigned                   failing:1;    /* lost since last up */
} ngx_http_rooms_conn_t;


/*
 * A batch lives on the heap: replies (or the failures of a dropped
 * connection) may come after its owner is gone.  It is freed once its
 * owner is done with it (done) and no command of it is queued.
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
    ngx_http_rooms_cmd_t             cmds[NGX_HTTP_ROOMS_INLINE_CMDS];
    unsigned                         detached:1;
    unsigned                         failed:1;
    unsigned                         ended:1;
    unsigned                         done:1;   /* the owner is done */
};


typedef struct {
    ngx_http_rooms_conn_t            conn;
    ngx_str_t                        channel;
    ngx_http_rooms_redis_message_pt  handler;
    void                            *data;
    unsigned                         up:1;     /* SUB_UP told */
} ngx_http_rooms_sub_t;


static ngx_int_t ngx_http_rooms_redis_init_ssl(ngx_conf_t *cf,
    ngx_http_rooms_main_conf_t *rmcf);
static ngx_uint_t ngx_http_rooms_redis_may_reconnect(void);
static void ngx_http_rooms_redis_start(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_reconnect(ngx_event_t *ev);
static void ngx_http_rooms_redis_connect(ngx_http_rooms_conn_t *conn);
static ngx_int_t ngx_http_rooms_redis_setup(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_connected(ngx_http_rooms_conn_t *conn);
#if (NGX_HTTP_SSL)
static void ngx_http_rooms_redis_ssl_start(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_ssl_handshaked(ngx_connection_t *c);
static ngx_int_t ngx_http_rooms_redis_ssl_verify(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_ssl_save_session(ngx_connection_t *c);
#endif
static void ngx_http_rooms_redis_writable(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_up(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_drop(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_lost(ngx_http_rooms_conn_t *conn,
    char *what);
static void ngx_http_rooms_redis_close(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_timed_out(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_batch_t *b);
static void ngx_http_rooms_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_rooms_redis_batch_timeout(ngx_event_t *ev);
static void ngx_http_rooms_redis_read_handler(ngx_event_t *rev);
static void ngx_http_rooms_redis_write_handler(ngx_event_t *wev);
static void ngx_http_rooms_redis_flush(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_flush_later(ngx_http_rooms_conn_t *conn);
static ngx_int_t ngx_http_rooms_redis_replies(ngx_http_rooms_conn_t *conn);
static ngx_int_t ngx_http_rooms_redis_dispatch(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep);
static ngx_int_t ngx_http_rooms_redis_push(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep);
static ngx_int_t ngx_http_rooms_redis_resend(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd);
static u_char *ngx_http_rooms_redis_reserve(ngx_http_rooms_conn_t *conn,
    size_t size);
static u_char *ngx_http_rooms_redis_decimal(u_char *p, size_t n);
static u_char *ngx_http_rooms_redis_bulk(u_char *p, ngx_uint_t argc,
    ngx_str_t *argv);
static size_t ngx_http_rooms_redis_bulk_len(ngx_uint_t argc, ngx_str_t *argv);
static ngx_int_t ngx_http_rooms_redis_own(ngx_http_rooms_conn_t *conn,
    ngx_uint_t kind, ngx_uint_t argc, ngx_str_t *argv);
static void ngx_http_rooms_redis_enqueue(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd);
static void ngx_http_rooms_redis_cmd_free(ngx_http_rooms_cmd_t *cmd);
static ngx_int_t ngx_http_rooms_redis_command(ngx_http_rooms_batch_t *b,
    ngx_http_rooms_script_t *script, ngx_uint_t nkeys, ngx_uint_t argc,
    ngx_str_t *argv);
static ngx_http_rooms_batch_t *ngx_http_rooms_redis_batch(ngx_log_t *log,
    ngx_http_rooms_redis_handler_pt handler, void *data);
static void ngx_http_rooms_redis_request_gone(void *data);
static ngx_int_t ngx_http_rooms_redis_copy(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *dst, ngx_http_rooms_reply_t *src);
static void ngx_http_rooms_redis_settle(ngx_http_rooms_batch_t *b);
static void ngx_http_rooms_redis_finish(ngx_http_rooms_batch_t *b,
    ngx_int_t rc);
static void ngx_http_rooms_redis_release(ngx_http_rooms_batch_t *b);
static u_char *ngx_http_rooms_redis_log_error(ngx_log_t *log, u_char *buf,
    size_t len);

static void *ngx_http_rooms_redis_new_string(const redisReadTask *task,
    char *str, size_t len);
static void *ngx_http_rooms_redis_new_array(const redisReadTask *task,
    int n);
static void *ngx_http_rooms_redis_new_integer(const redisReadTask *task,
    long long value);
static void *ngx_http_rooms_redis_new_nil(const redisReadTask *task);
static void ngx_http_rooms_redis_free_object(void *obj);


static ngx_http_rooms_conn_t       *ngx_http_rooms_conns;
static ngx_uint_t                   ngx_http_rooms_nconns;
static ngx_uint_t                   ngx_http_rooms_next;
static ngx_http_rooms_sub_t         ngx_http_rooms_sub;
static ngx_http_rooms_redis_conf_t *ngx_http_rooms_rcf;
static ngx_array_t                 *ngx_http_rooms_scripts;
static ngx_uint_t                   ngx_http_rooms_exiting;
static ngx_uint_t                   ngx_http_rooms_holds;

static ngx_str_t                    ngx_http_rooms_empty = ngx_null_string;

/* the pool the reader builds the reply being read in */
static ngx_pool_t                  *ngx_http_rooms_reply_pool;

#if (NGX_HTTP_SSL)
static ngx_str_t                    ngx_http_rooms_ssl_name;  /* with NUL */
static ngx_uint_t                   ngx_http_rooms_ssl_ip;    /* a literal */
static ngx_ssl_session_t           *ngx_http_rooms_ssl_session;
#endif

static u_char  ngx_http_rooms_read_buf[NGX_HTTP_ROOMS_READ_SIZE];


/* replies are built as ngx_http_rooms_reply_t, in a pool, by the reader */

static redisReplyObjectFunctions  ngx_http_rooms_redis_objects = {
    ngx_http_rooms_redis_new_string,
    ngx_http_rooms_redis_new_array,
    ngx_http_rooms_redis_new_integer,
    ngx_http_rooms_redis_new_nil,
    ngx_http_rooms_redis_free_object
};


char *
ngx_http_rooms_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_main_conf_t  *rmcf = conf;

    u_char                       *p;
    ngx_str_t                    *value, s, db;
    ngx_url_t                     u;
    ngx_uint_t                    i, naddrs;
    ngx_http_rooms_redis_addr_t  *a;
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
     *     rc->cluster = 0;
     *     rc->sentinel = { 0, NULL };
     */

    value = cf->args->elts;

    rc->address = value[1];
    rc->timeout = 1000;
    rc->connections = 1;
    rc->db = NGX_CONF_UNSET;
    ngx_str_null(&db);

    /* the addresses: every argument up to the first parameter */

    for (naddrs = 1; naddrs + 1 < cf->args->nelts; naddrs++) {
        s = value[naddrs + 1];

        if (ngx_strlchr(s.data, s.data + s.len, '=') != NULL
            || ngx_strcmp(s.data, "tls") == 0
            || ngx_strcmp(s.data, "cluster") == 0)
        {
            break;
        }
    }

    rc->addrs = ngx_array_create(cf->pool, naddrs,
                                 sizeof(ngx_http_rooms_redis_addr_t));
    if (rc->addrs == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i <= naddrs; i++) {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[i];
        u.default_port = 6379;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_redis: %s in \"%V\"",
                               u.err ? u.err : "invalid address", &u.url);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rooms_redis: \"%V\" resolves to no address",
                               &u.url);
            return NGX_CONF_ERROR;
        }

        /* the first address of each, as ngx_event_connect_peer() takes it */

        a = ngx_array_push(rc->addrs);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        a->address = value[i];
        a->sockaddr = u.addrs[0].sockaddr;
        a->socklen = u.addrs[0].socklen;

        if (i == 1) {
            rc->sockaddr = a->sockaddr;
            rc->socklen = a->socklen;

            /* the name TLS verifies unless rooms_redis_ssl_server_name says */
            rc->ssl_name = u.host;
        }

        if (a->sockaddr->sa_family == AF_UNIX && rc->unix_path.len == 0) {
            rc->unix_path.len = value[i].len - 5;
            rc->unix_path.data = value[i].data + 5;
        }
    }

    if (rc->sockaddr->sa_family != AF_UNIX) {
        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        rc->host.len = ngx_sock_ntop(rc->sockaddr, rc->socklen, p,
                                     NGX_SOCKADDR_STRLEN, 0);

        /* ngx_sock_ntop() brackets IPv6 only with a port */
        p[rc->host.len] = '\0';
        rc->host.data = p;
        rc->port = ngx_inet_get_port(rc->sockaddr);
    }

    for (i = naddrs + 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "tls") == 0) {
            if (rc->tls) {
                goto invalid;
            }

            rc->tls = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "cluster") == 0) {
            if (rc->cluster) {
                goto invalid;
            }

            rc->cluster = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel=", 9) == 0) {
            rc->sentinel.len = value[i].len - 9;
            rc->sentinel.data = value[i].data + 9;

            if (rc->sentinel.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rc->db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (rc->db == NGX_ERROR || rc->db > 65535) {
                goto invalid;
            }

            db = value[i];
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

    if (rc->cluster && rc->sentinel.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"cluster\" and \"sentinel=%V\" "
                           "exclude each other", &rc->sentinel);
        return NGX_CONF_ERROR;
    }

    if (naddrs > 1 && !rc->cluster && rc->sentinel.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: %ui addresses need \"cluster\" "
                           "(seed nodes) or \"sentinel=NAME\" (sentinels)",
                           naddrs);
        return NGX_CONF_ERROR;
    }

    if (rc->cluster && rc->db != NGX_CONF_UNSET) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"%V\" cannot be used with "
                           "\"cluster\": a Redis Cluster has database 0 only",
                           &db);
        return NGX_CONF_ERROR;
    }

    if ((rc->cluster || rc->sentinel.len) && rc->unix_path.len) {
        /* nodes and masters are announced by their TCP addresses */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"%s\" needs TCP addresses, "
                           "not \"unix:%V\"",
                           rc->cluster ? "cluster" : "sentinel=",
                           &rc->unix_path);
        return NGX_CONF_ERROR;
    }

    if (rc->sentinel.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_redis: \"sentinel=%V\" is not supported "
                           "by this version", &rc->sentinel);
        return NGX_CONF_ERROR;
    }

    if (rc->db == NGX_CONF_UNSET) {
        rc->db = 0;
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
                       "cluster, sentinel=NAME, tls, user=..., password=..., "
                       "db=N, timeout=TIME or connections=1..64)", &value[i]);

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

    /*
     * a write that must be retried is retried with the same bytes, from
     * an output buffer that may have moved (grown) in between
     */

    SSL_CTX_set_mode(rc->ssl->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

#endif

    return NGX_OK;
}



/* the worker's connections */


ngx_int_t
ngx_http_rooms_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_rooms_redis_conf_t  *rc;
    ngx_http_rooms_main_conf_t   *rmcf;
#if (NGX_HTTP_SSL)
    u_char                       *p;
    ngx_str_t                     name;
#if (NGX_HAVE_INET6)
    u_char                        inet6[16];
#endif
#endif

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    ngx_http_rooms_rcf = NULL;
    ngx_http_rooms_nconns = 0;
    ngx_http_rooms_exiting = 0;
    ngx_http_rooms_holds = 0;
    ngx_memzero(&ngx_http_rooms_sub, sizeof(ngx_http_rooms_sub_t));

    if (rmcf == NULL || rmcf->redis == NULL) {
        return NGX_OK;
    }

    rc = rmcf->redis;

#if (NGX_HTTP_SSL)

    ngx_str_null(&ngx_http_rooms_ssl_name);
    ngx_http_rooms_ssl_ip = 0;
    ngx_http_rooms_ssl_session = NULL;

    if (rc->tls) {
        /* the name for SNI and the certificate's check, NUL-terminated */

        name = rc->ssl_name;

        if (name.len > 2 && name.data[0] == '['
            && name.data[name.len - 1] == ']')
        {
            name.data++;
            name.len -= 2;
        }

        p = ngx_pnalloc(cycle->pool, name.len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(p, name.data, name.len + 1);

        ngx_http_rooms_ssl_name.data = p;
        ngx_http_rooms_ssl_name.len = name.len;

        /* an address is sent no SNI, and checked as an address */

        ngx_http_rooms_ssl_ip = (ngx_inet_addr(p, name.len) != INADDR_NONE);

#if (NGX_HAVE_INET6)
        if (ngx_inet6_addr(p, name.len, inet6) == NGX_OK) {
            ngx_http_rooms_ssl_ip = 1;
        }
#endif
    }

#endif

    ngx_http_rooms_conns = ngx_pcalloc(cycle->pool,
                                       rc->connections
                                       * sizeof(ngx_http_rooms_conn_t));
    if (ngx_http_rooms_conns == NULL) {
        return NGX_ERROR;
    }

    ngx_http_rooms_rcf = rc;
    ngx_http_rooms_scripts = rmcf->scripts;
    ngx_http_rooms_nconns = rc->connections;

    for (i = 0; i < ngx_http_rooms_nconns; i++) {
        ngx_http_rooms_redis_start(&ngx_http_rooms_conns[i]);
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

    ngx_http_rooms_redis_start(&ngx_http_rooms_sub.conn);

    return NGX_OK;
}


void
ngx_http_rooms_redis_hold(ngx_uint_t on)
{
    ngx_uint_t              i;
    ngx_http_rooms_conn_t  *conn;

    if (on) {
        ngx_http_rooms_holds++;
        return;
    }

    if (ngx_http_rooms_holds == 0) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "rooms redis: released more often than held");
        return;
    }

    if (--ngx_http_rooms_holds || !(ngx_exiting || ngx_terminate)) {
        return;
    }

    /* an old worker let go: what is lost now stays lost */

    for (i = 0; i <= ngx_http_rooms_nconns; i++) {
        conn = (i < ngx_http_rooms_nconns) ? &ngx_http_rooms_conns[i]
                                           : &ngx_http_rooms_sub.conn;

        if (conn->reconnect.timer_set) {
            ngx_del_timer(&conn->reconnect);
        }
    }
}


void
ngx_http_rooms_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t              i;
    ngx_http_rooms_conn_t  *conn;

    /* no handler is called from now on */

    ngx_http_rooms_exiting = 1;

    for (i = 0; i <= ngx_http_rooms_nconns; i++) {
        conn = (i < ngx_http_rooms_nconns) ? &ngx_http_rooms_conns[i]
                                           : &ngx_http_rooms_sub.conn;

        if (conn->reconnect.timer_set) {
            ngx_del_timer(&conn->reconnect);
        }

        if (conn->state != NGX_HTTP_ROOMS_CLOSED) {
            ngx_http_rooms_redis_drop(conn);
        }

        if (conn->start != NULL) {
            ngx_free(conn->start);
            conn->start = NULL;
            conn->pos = NULL;
            conn->last = NULL;
            conn->end = NULL;
        }
    }

#if (NGX_HTTP_SSL)
    if (ngx_http_rooms_ssl_session != NULL) {
        ngx_ssl_free_session(ngx_http_rooms_ssl_session);
        ngx_http_rooms_ssl_session = NULL;
    }
#endif

    ngx_http_rooms_nconns = 0;
    ngx_http_rooms_rcf = NULL;
}


/* may a lost connection be opened again? */

static ngx_uint_t
ngx_http_rooms_redis_may_reconnect(void)
{
    if (ngx_http_rooms_exiting || ngx_terminate) {
        return 0;
    }

    /* an old worker after a reload: only while someone holds the adapter */

    return !ngx_exiting || ngx_http_rooms_holds;
}


static void
ngx_http_rooms_redis_start(ngx_http_rooms_conn_t *conn)
{
    conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MIN;

    /* the log of everything nginx says about this connection */

    conn->log = *ngx_cycle->log;
    conn->log.handler = ngx_http_rooms_redis_log_error;
    conn->log.data = conn;
    conn->log.action = NULL;

    conn->timer.handler = ngx_http_rooms_redis_connect_timeout;
    conn->timer.data = conn;
    conn->timer.log = ngx_cycle->log;
    conn->timer.cancelable = 1;

    conn->reconnect.handler = ngx_http_rooms_redis_reconnect;
    conn->reconnect.data = conn;
    conn->reconnect.log = ngx_cycle->log;
    conn->reconnect.cancelable = 1;

    ngx_http_rooms_redis_connect(conn);
}


/* a lost connection opened again, after its backoff */

static void
ngx_http_rooms_redis_reconnect(ngx_event_t *ev)
{
    ngx_http_rooms_conn_t  *conn = ev->data;

    if (!ngx_http_rooms_redis_may_reconnect()) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "rooms redis: reconnecting to \"%V\"",
                   &ngx_http_rooms_rcf->address);

    ngx_http_rooms_redis_connect(conn);
}


static void
ngx_http_rooms_redis_connect(ngx_http_rooms_conn_t *conn)
{
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_http_rooms_redis_conf_t  *rcf;

    rcf = ngx_http_rooms_rcf;

    conn->log.action = "connecting";
    conn->state = NGX_HTTP_ROOMS_CONNECTING;

    conn->reader =
                 redisReaderCreateWithFunctions(&ngx_http_rooms_redis_objects);
    if (conn->reader == NULL) {
        goto failed;
    }

    conn->replies = ngx_create_pool(4096, &conn->log);
    if (conn->replies == NULL) {
        goto failed;
    }

    /* first in the output buffer: sent as soon as the connection is up */

    if (ngx_http_rooms_redis_setup(conn) != NGX_OK) {
        goto failed;
    }

    ngx_memzero(&conn->peer, sizeof(ngx_peer_connection_t));

    conn->peer.sockaddr = rcf->sockaddr;
    conn->peer.socklen = rcf->socklen;
    conn->peer.name = &rcf->address;
    conn->peer.get = ngx_event_get_peer;
    conn->peer.log = &conn->log;
    conn->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&conn->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        /* the reason is logged on conn->log */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: connect to \"%V\" failed",
                      &rcf->address);
        goto failed;
    }

    c = conn->peer.connection;
    conn->c = c;

    c->data = conn;
    c->read->handler = ngx_http_rooms_redis_read_handler;
    c->write->handler = ngx_http_rooms_redis_write_handler;

    c->pool = ngx_create_pool(512, &conn->log);
    if (c->pool == NULL) {
        goto failed;
    }

    /* connecting, the TLS handshake, AUTH and SELECT (or SUBSCRIBE) */

    ngx_add_timer(&conn->timer, rcf->timeout);

    if (rc == NGX_OK) {
        /* at once: a unix socket, most often */
        ngx_http_rooms_redis_connected(conn);
    }

    return;

failed:

    ngx_http_rooms_redis_drop(conn);
}


/*
 * What every connection sends first: AUTH, then SELECT and SCRIPT LOAD of
 * every script, or SUBSCRIBE on the subscription's connection
 */

static ngx_int_t
ngx_http_rooms_redis_setup(ngx_http_rooms_conn_t *conn)
{
    u_char                        db[NGX_INT_T_LEN];
    ngx_str_t                     argv[3];
    ngx_uint_t                    i, n;
    ngx_http_rooms_script_t      *s;
    ngx_http_rooms_redis_conf_t  *rcf;

    rcf = ngx_http_rooms_rcf;

    if (rcf->password.len) {
        /* (ngx_str_set() evaluates its first argument twice) */
        ngx_str_set(&argv[0], "AUTH");
        n = 1;

        if (rcf->user.len) {
            /* an ACL user (Redis 6 and later) */
            argv[n++] = rcf->user;
        }

        argv[n++] = rcf->password;

        if (ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_AUTH, n, argv)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (conn->subscriber) {
        ngx_str_set(&argv[0], "SUBSCRIBE");
        argv[1] = ngx_http_rooms_sub.channel;

        return ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_SUBSCRIBE,
                                        2, argv);
    }

    ngx_str_set(&argv[0], "SELECT");
    argv[1].data = db;
    argv[1].len = ngx_sprintf(db, "%i", rcf->db) - db;

    if (ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_SELECT, 2, argv)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_rooms_scripts == NULL) {
        return NGX_OK;
    }

    s = ngx_http_rooms_scripts->elts;

    ngx_str_set(&argv[0], "SCRIPT");
    ngx_str_set(&argv[1], "LOAD");

    for (i = 0; i < ngx_http_rooms_scripts->nelts; i++) {
        argv[2] = s[i].text;

        if (ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_SCRIPT, 3, argv)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* TCP connected, or not */

static void
ngx_http_rooms_redis_connected(ngx_http_rooms_conn_t *conn)
{
    int                err;
    socklen_t          len;
    ngx_connection_t  *c;

    c = conn->c;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "connect() failed");

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: connect to \"%V\" failed",
                      &ngx_http_rooms_rcf->address);

        ngx_http_rooms_redis_drop(conn);
        return;
    }

    if (ngx_tcp_nodelay(c) != NGX_OK) {
        ngx_http_rooms_redis_drop(conn);
        return;
    }

#if (NGX_HTTP_SSL)

    if (ngx_http_rooms_rcf->tls) {
        ngx_http_rooms_redis_ssl_start(conn);
        return;
    }

#endif

    ngx_http_rooms_redis_writable(conn);
}


#if (NGX_HTTP_SSL)

static void
ngx_http_rooms_redis_ssl_start(ngx_http_rooms_conn_t *conn)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = conn->c;

    conn->state = NGX_HTTP_ROOMS_HANDSHAKE;
    conn->log.action = "SSL handshaking";

    if (ngx_ssl_create_connection(ngx_http_rooms_rcf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_rooms_redis_drop(conn);
        return;
    }

    if (!ngx_http_rooms_ssl_ip && ngx_http_rooms_ssl_name.len
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    (char *) ngx_http_rooms_ssl_name.data)
           == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                      "SSL_set_tlsext_host_name(\"%V\") failed",
                      &ngx_http_rooms_ssl_name);
        ngx_http_rooms_redis_drop(conn);
        return;
    }

    if (ngx_ssl_set_session(c, ngx_http_rooms_ssl_session) != NGX_OK) {
        ngx_http_rooms_redis_drop(conn);
        return;
    }

    c->ssl->save_session = ngx_http_rooms_redis_ssl_save_session;

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_rooms_redis_ssl_handshaked;
        return;
    }

    ngx_http_rooms_redis_ssl_handshaked(c);
}


static void
ngx_http_rooms_redis_ssl_handshaked(ngx_connection_t *c)
{
    ngx_http_rooms_conn_t  *conn = c->data;

    if (!c->ssl->handshaked) {
        /* OpenSSL's reason is in the line before, on conn->log */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: TLS handshake with \"%V\" failed",
                      &ngx_http_rooms_rcf->address);
        ngx_http_rooms_redis_drop(conn);
        return;
    }

    if (ngx_http_rooms_rcf->ssl_verify
        && ngx_http_rooms_redis_ssl_verify(conn) != NGX_OK)
    {
        /* a session of a server not trusted is not resumed */

        if (ngx_http_rooms_ssl_session != NULL) {
            ngx_ssl_free_session(ngx_http_rooms_ssl_session);
            ngx_http_rooms_ssl_session = NULL;
        }

        ngx_http_rooms_redis_drop(conn);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "rooms redis: TLS up, %s, session %s",
                   SSL_get_version(c->ssl->connection),
                   SSL_session_reused(c->ssl->connection) ? "reused" : "new");

    c->read->handler = ngx_http_rooms_redis_read_handler;
    c->write->handler = ngx_http_rooms_redis_write_handler;

    ngx_http_rooms_redis_writable(conn);
}


/* the certificate's chain (verified in the handshake), then its name */

static ngx_int_t
ngx_http_rooms_redis_ssl_verify(ngx_http_rooms_conn_t *conn)
{
    long               rc;
    X509              *cert;
    ngx_int_t          match;
    ngx_connection_t  *c;

    c = conn->c;

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: the certificate of \"%V\" cannot be "
                      "verified: (%l: %s)", &ngx_http_rooms_rcf->address,
                      rc, X509_verify_cert_error_string(rc));
        return NGX_ERROR;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);

    if (cert == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" sent no certificate to verify",
                      &ngx_http_rooms_rcf->address);
        return NGX_ERROR;
    }

    if (ngx_http_rooms_ssl_ip) {
        /* X509_check_host() would not look at the iPAddress names */
        match = (X509_check_ip_asc(cert, (char *) ngx_http_rooms_ssl_name.data,
                                   0)
                 == 1);

    } else {
        match = (ngx_ssl_check_host(c, &ngx_http_rooms_ssl_name) == NGX_OK);
    }

    X509_free(cert);
    ERR_clear_error();

    if (!match) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: the certificate of \"%V\" is not for "
                      "\"%V\", the name verified (rooms_redis_ssl_server_name)",
                      &ngx_http_rooms_rcf->address, &ngx_http_rooms_ssl_name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the worker's one session, resumed by every (re)connection */

static void
ngx_http_rooms_redis_ssl_save_session(ngx_connection_t *c)
{
    ngx_ssl_session_t  *session;

    session = ngx_ssl_get_session(c);

    if (session == NULL) {
        return;
    }

    if (ngx_http_rooms_ssl_session != NULL) {
        ngx_ssl_free_session(ngx_http_rooms_ssl_session);
    }

    ngx_http_rooms_ssl_session = session;
}

#endif


/* the commands in the buffer can go: AUTH and SELECT (or SUBSCRIBE) first */

static void
ngx_http_rooms_redis_writable(ngx_http_rooms_conn_t *conn)
{
    ngx_connection_t  *c;

    c = conn->c;

    conn->state = NGX_HTTP_ROOMS_SETUP;
    conn->log.action = "setting up";

    /*
     * Connected: AUTH and SELECT are commands like the requests' that
     * queue behind them, whose timers bound them.  (While Redis stalls,
     * the connection then waits, as it would up, rather than being
     * dropped and opened again with gaps that fail requests at once.)
     * Nothing but this timer bounds SUBSCRIBE: it stays.
     */

    if (!conn->subscriber && conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    /* TLS may hold what was read with the handshake */

    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    ngx_http_rooms_redis_flush(conn);
}


/* AUTH and SELECT, or SUBSCRIBE, passed: the backoff starts over */

static void
ngx_http_rooms_redis_up(ngx_http_rooms_conn_t *conn)
{
    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    conn->state = NGX_HTTP_ROOMS_UP;
    conn->log.action = "talking";

    if (conn->failing) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "rooms redis: connected to \"%V\"%s",
                      &ngx_http_rooms_rcf->address,
                      conn->subscriber ? " (subscription)" : "");
        conn->failing = 0;
    }

    conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MIN;

    if (conn->subscriber && !ngx_http_rooms_exiting) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "rooms redis: subscribed to \"%V\"",
                       &ngx_http_rooms_sub.channel);

        ngx_http_rooms_sub.up = 1;
        ngx_http_rooms_sub.handler(ngx_http_rooms_sub.data,
                                   NGX_HTTP_ROOMS_SUB_UP, NULL);
    }
}


/*
 * The connection is lost, whatever the reason (said by the caller): every
 * command queued on it fails, the subscription's handler hears of it, and
 * it is opened again after its backoff
 */

static void
ngx_http_rooms_redis_drop(ngx_http_rooms_conn_t *conn)
{
    ngx_http_rooms_cmd_t    *cmd, *next;
    ngx_http_rooms_batch_t  *b;

    cmd = conn->head;
    conn->head = NULL;
    conn->tail = NULL;

    ngx_http_rooms_redis_close(conn);

    conn->failing = 1;

    for ( /* void */ ; cmd != NULL; cmd = next) {
        next = cmd->next;
        b = cmd->batch;

        ngx_http_rooms_redis_cmd_free(cmd);

        if (b != NULL) {
            b->failed = 1;
            ngx_http_rooms_redis_settle(b);
        }
    }

    if (conn->subscriber && ngx_http_rooms_sub.up) {
        ngx_http_rooms_sub.up = 0;

        if (!ngx_http_rooms_exiting) {
            ngx_http_rooms_sub.handler(ngx_http_rooms_sub.data,
                                       NGX_HTTP_ROOMS_SUB_DOWN, NULL);
        }
    }

    if (!ngx_http_rooms_redis_may_reconnect()
        || conn->reconnect.timer_set)
    {
        return;
    }

    ngx_add_timer(&conn->reconnect, conn->backoff);

    conn->backoff *= 2;

    if (conn->backoff > NGX_HTTP_ROOMS_BACKOFF_MAX) {
        conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MAX;
    }
}


static void
ngx_http_rooms_redis_close(ngx_http_rooms_conn_t *conn)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = conn->c;

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (c != NULL) {

#if (NGX_HTTP_SSL)
        if (c->ssl) {
            /* nothing is waited for: a quiet shutdown, then SSL_free() */
            c->ssl->no_wait_shutdown = 1;
            c->ssl->no_send_shutdown = 1;

            (void) ngx_ssl_shutdown(c);
        }
#endif

        pool = c->pool;

        ngx_close_connection(c);

        if (pool != NULL) {
            ngx_destroy_pool(pool);
        }

        conn->c = NULL;
    }

    if (conn->reader != NULL) {
        redisReaderFree(conn->reader);
        conn->reader = NULL;
    }

    if (conn->replies != NULL) {
        ngx_destroy_pool(conn->replies);
        conn->replies = NULL;
    }

    conn->pos = conn->start;
    conn->last = conn->start;

    conn->state = NGX_HTTP_ROOMS_CLOSED;
    conn->log.action = NULL;
    conn->generation++;
}


/* a batch, or a connection being set up, took longer than timeout= */

static void
ngx_http_rooms_redis_timed_out(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_batch_t *b)
{
    ngx_uint_t  generation;

    generation = (b != NULL) ? b->generation : conn->generation;

    if (b != NULL) {
        ngx_http_rooms_redis_finish(b, NGX_ERROR);

        /* b may be gone now */
    }

    if (conn->state != NGX_HTTP_ROOMS_CLOSED
        && conn->generation == generation)
    {
        ngx_http_rooms_redis_drop(conn);
    }
}


static void
ngx_http_rooms_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_rooms_conn_t  *conn = ev->data;

    ngx_http_rooms_cmd_t  *cmd;

    /*
     * A request waiting on the connection has a timer of its own, which
     * drops the connection when it fires: the request gets its 503 after
     * timeout=, as it would on a connection that is up, not before
     */

    for (cmd = conn->head; cmd != NULL; cmd = cmd->next) {
        if (cmd->batch != NULL && cmd->batch->timer.timer_set) {
            return;
        }
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" is not set up after %M ms (%s), "
                  "dropping the connection", &ngx_http_rooms_rcf->address,
                  ngx_http_rooms_rcf->timeout,
                  conn->state == NGX_HTTP_ROOMS_CONNECTING
                  ? "connecting"
                  : conn->state == NGX_HTTP_ROOMS_HANDSHAKE
                  ? "in the TLS handshake"
                  : "no answer to SUBSCRIBE");

    ngx_http_rooms_redis_timed_out(conn, NULL);
}


static void
ngx_http_rooms_redis_batch_timeout(ngx_event_t *ev)
{
    ngx_http_rooms_batch_t  *b = ev->data;

    ngx_log_error(NGX_LOG_ERR, b->log, 0,
                  "rooms redis: \"%V\" did not answer in %M ms, "
                  "dropping the connection%s",
                  &ngx_http_rooms_rcf->address, ngx_http_rooms_rcf->timeout,
                  b->conn->state == NGX_HTTP_ROOMS_CONNECTING
                  ? " (still connecting)"
                  : b->conn->state == NGX_HTTP_ROOMS_HANDSHAKE
                  ? " (still in the TLS handshake)"
                  : b->conn->state == NGX_HTTP_ROOMS_SETUP
                  ? " (AUTH and SELECT not answered yet)" : "");

    ngx_http_rooms_redis_timed_out(b->conn, b);
}


/* I/O */


static void
ngx_http_rooms_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t       *c;
    ngx_http_rooms_conn_t  *conn;

    c = wev->data;
    conn = c->data;

    switch (conn->state) {

    case NGX_HTTP_ROOMS_CONNECTING:
        ngx_http_rooms_redis_connected(conn);
        return;

    case NGX_HTTP_ROOMS_SETUP:
    case NGX_HTTP_ROOMS_UP:
        ngx_http_rooms_redis_flush(conn);
        return;

    default:
        return;
    }
}


/* everything formatted so far, written as far as the socket takes it */

static void
ngx_http_rooms_redis_flush(ngx_http_rooms_conn_t *conn)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = conn->c;

    while (conn->pos < conn->last) {

        n = c->send(c, conn->pos, conn->last - conn->pos);

        if (n > 0) {
            conn->pos += n;
            continue;
        }

        if (n == NGX_AGAIN) {
            /* the same bytes are written again when the socket takes them */

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_rooms_redis_drop(conn);
            }

            return;
        }

        ngx_http_rooms_redis_lost(conn, "writing failed");
        return;
    }

    /* all sent: the buffer starts over (a big one is let go) */

    if (conn->end - conn->start > 4 * NGX_HTTP_ROOMS_OUT_SIZE) {
        ngx_free(conn->start);
        conn->start = NULL;
        conn->end = NULL;
    }

    conn->pos = conn->start;
    conn->last = conn->start;
}


/*
 * Written later in this turn of the event loop, so that the commands of
 * every request of the turn share a write (and a TLS record)
 */

static void
ngx_http_rooms_redis_flush_later(ngx_http_rooms_conn_t *conn)
{
    ngx_event_t  *wev;

    if (conn->state < NGX_HTTP_ROOMS_SETUP) {
        /* sent once the connection is set up */
        return;
    }

    wev = conn->c->write;

    if (!wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


/* a read or a write failed: says so, with what was not done yet */

static void
ngx_http_rooms_redis_lost(ngx_http_rooms_conn_t *conn, char *what)
{
    char  *when;

    /* the system's or OpenSSL's reason is logged on conn->log */

    when = "";

    if (conn->state == NGX_HTTP_ROOMS_SETUP) {
        when = conn->subscriber ? " before SUBSCRIBE passed"
                                : " before AUTH and SELECT passed";

#if (NGX_HTTP_SSL)
        if (conn->c->ssl) {
            when = conn->subscriber
                   ? " after the TLS handshake, before SUBSCRIBE passed "
                     "(a client certificate missing or refused?)"
                   : " after the TLS handshake, before AUTH and SELECT "
                     "passed (a client certificate missing or refused?)";
        }
#endif
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: connection to \"%V\" lost: %s%s",
                  &ngx_http_rooms_rcf->address, what, when);

    ngx_http_rooms_redis_drop(conn);
}


static void
ngx_http_rooms_redis_read_handler(ngx_event_t *rev)
{
    ssize_t                 n;
    ngx_uint_t              i;
    ngx_connection_t       *c;
    ngx_http_rooms_conn_t  *conn;

    c = rev->data;
    conn = c->data;

    if (conn->state == NGX_HTTP_ROOMS_CONNECTING) {
        ngx_http_rooms_redis_connected(conn);
        return;
    }

    if (conn->state < NGX_HTTP_ROOMS_SETUP) {
        return;
    }

    for (i = 0; i < NGX_HTTP_ROOMS_READS_MAX; i++) {

        n = c->recv(c, ngx_http_rooms_read_buf, NGX_HTTP_ROOMS_READ_SIZE);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_rooms_redis_drop(conn);
            }

            return;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_rooms_redis_lost(conn, n == 0 ? "closed by the server"
                                                   : "reading failed");
            return;
        }

        if (redisReaderFeed(conn->reader, (char *) ngx_http_rooms_read_buf,
                            n)
            != REDIS_OK)
        {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "rooms redis: reading from \"%V\" failed: %s",
                          &ngx_http_rooms_rcf->address,
                          conn->reader->errstr);
            ngx_http_rooms_redis_drop(conn);
            return;
        }

        if (ngx_http_rooms_redis_replies(conn) != NGX_OK) {
            /* conn is closed (and may be opening again) */
            return;
        }

        if (!rev->ready) {
            return;
        }
    }

    /* more to read: after the other events of this turn */

    ngx_post_event(rev, &ngx_posted_events);
}


/* the replies read in full, each to the command at the queue's head */

static ngx_int_t
ngx_http_rooms_redis_replies(ngx_http_rooms_conn_t *conn)
{
    void        *reply;
    ngx_uint_t   generation;

    generation = conn->generation;

    for ( ;; ) {
        ngx_http_rooms_reply_pool = conn->replies;

        if (redisReaderGetReply(conn->reader, &reply) != REDIS_OK) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "rooms redis: \"%V\" sent what cannot be read: %s",
                          &ngx_http_rooms_rcf->address,
                          conn->reader->errstr);
            ngx_http_rooms_redis_drop(conn);
            return NGX_ERROR;
        }

        if (reply == NULL) {
            /* the rest of a reply is still to come */
            return NGX_OK;
        }

        if (ngx_http_rooms_redis_dispatch(conn, reply) != NGX_OK
            || conn->generation != generation)
        {
            return NGX_ERROR;
        }

        ngx_reset_pool(conn->replies);
    }
}


static ngx_int_t
ngx_http_rooms_redis_dispatch(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep)
{
    ngx_uint_t                    kind, index;
    ngx_http_rooms_cmd_t         *cmd;
    ngx_http_rooms_batch_t       *b;
    ngx_http_rooms_redis_conf_t  *rcf;

    rcf = ngx_http_rooms_rcf;
    cmd = conn->head;

    if (cmd == NULL) {
        if (conn->subscriber) {
            return ngx_http_rooms_redis_push(conn, rep);
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" sent a reply to no command",
                      &rcf->address);
        ngx_http_rooms_redis_drop(conn);
        return NGX_ERROR;
    }

    conn->head = cmd->next;

    if (conn->head == NULL) {
        conn->tail = NULL;
    }

    if (cmd->script != NULL
        && rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
        && rep->str.len >= 8
        && ngx_strncmp(rep->str.data, "NOSCRIPT", 8) == 0
        && ngx_http_rooms_redis_resend(conn, cmd) == NGX_OK)
    {
        /* the same command waits for the reply to the EVAL */
        return NGX_OK;
    }

    kind = cmd->kind;
    b = cmd->batch;
    index = cmd->index;

    ngx_http_rooms_redis_cmd_free(cmd);

    switch (kind) {

    case NGX_HTTP_ROOMS_CMD_BATCH:

        if (!b->done && b->ended
            && ngx_http_rooms_redis_copy(b->pool, &b->replies[index], rep)
               != NGX_OK)
        {
            b->failed = 1;
        }

        ngx_http_rooms_redis_settle(b);
        return NGX_OK;

    case NGX_HTTP_ROOMS_CMD_AUTH:

        if (rep->type != NGX_HTTP_ROOMS_REPLY_ERROR) {
            return NGX_OK;
        }

        /* a wrong password, a disabled user: the backoff applies */

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" refused AUTH%s%V%s: %V; "
                      "reconnecting in %M ms", &rcf->address,
                      rcf->user.len ? " as user \"" : "", &rcf->user,
                      rcf->user.len ? "\"" : "", &rep->str, conn->backoff);
        break;

    case NGX_HTTP_ROOMS_CMD_SUBSCRIBE:

        if (rep->type == NGX_HTTP_ROOMS_REPLY_ARRAY && rep->elements == 3
            && rep->element[0].type == NGX_HTTP_ROOMS_REPLY_STRING
            && ngx_strcmp(rep->element[0].str.data, "subscribe") == 0)
        {
            ngx_http_rooms_redis_up(conn);
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: subscribing to \"%V\" on \"%V\" "
                      "failed%s%V", &ngx_http_rooms_sub.channel,
                      &rcf->address,
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR ? ": " : "",
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
                      ? &rep->str : &ngx_http_rooms_empty);
        break;

    default: /* NGX_HTTP_ROOMS_CMD_SELECT, NGX_HTTP_ROOMS_CMD_SCRIPT */

        if (rep->type != NGX_HTTP_ROOMS_REPLY_ERROR) {
            if (kind == NGX_HTTP_ROOMS_CMD_SELECT) {
                ngx_http_rooms_redis_up(conn);
            }

            return NGX_OK;
        }

        /* a bad db, a user without the right: reconnect, with backoff */

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: setting up \"%V\" failed (%s): %V",
                      &rcf->address,
                      kind == NGX_HTTP_ROOMS_CMD_SELECT ? "SELECT"
                                                        : "SCRIPT LOAD",
                      &rep->str);
        break;
    }

    ngx_http_rooms_redis_drop(conn);
    return NGX_ERROR;
}


/* what the subscription's connection is sent unasked: messages */

static ngx_int_t
ngx_http_rooms_redis_push(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep)
{
    ngx_str_t               *kind;
    ngx_http_rooms_reply_t  *e;

    e = rep->element;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements < 3
        || e[0].type != NGX_HTTP_ROOMS_REPLY_STRING)
    {
        goto invalid;
    }

    kind = &e[0].str;

    /* "message" of SUBSCRIBE, "smessage" of SSUBSCRIBE: channel, payload */

    if ((ngx_strcmp(kind->data, "message") == 0
         || ngx_strcmp(kind->data, "smessage") == 0)
        && e[2].type == NGX_HTTP_ROOMS_REPLY_STRING)
    {
        if (!ngx_http_rooms_exiting) {
            ngx_http_rooms_sub.handler(ngx_http_rooms_sub.data,
                                       NGX_HTTP_ROOMS_SUB_MESSAGE, &e[2].str);
        }

        return NGX_OK;
    }

    if (ngx_strstr(kind->data, "subscribe") != NULL) {
        /* (un)subscribed, again: nothing to tell */
        return NGX_OK;
    }

invalid:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" sent the subscription what is not "
                  "a message", &ngx_http_rooms_rcf->address);

    ngx_http_rooms_redis_drop(conn);
    return NGX_ERROR;
}


/* after NOSCRIPT: the same script and arguments as EVAL, which caches it */

static ngx_int_t
ngx_http_rooms_redis_resend(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd)
{
    u_char     *p;
    size_t      size;
    ngx_str_t   head[2];

    ngx_str_set(&head[0], "EVAL");
    head[1] = cmd->script->text;

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN
           + ngx_http_rooms_redis_bulk_len(2, head) + cmd->len;

    p = ngx_http_rooms_redis_reserve(conn, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *p++ = '*';
    p = ngx_http_rooms_redis_decimal(p, cmd->argc);
    *p++ = '\r';
    *p++ = '\n';
    p = ngx_http_rooms_redis_bulk(p, 2, head);
    p = ngx_cpymem(p, cmd->args, cmd->len);

    conn->last = p;

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" no longer has script %s "
                  "(SCRIPT FLUSH, or a failover?): sent again with EVAL",
                  &ngx_http_rooms_rcf->address, cmd->script->sha);

    cmd->script = NULL;
    ngx_free(cmd->args);
    cmd->args = NULL;

    ngx_http_rooms_redis_enqueue(conn, cmd);
    ngx_http_rooms_redis_flush_later(conn);

    return NGX_OK;
}


static u_char *
ngx_http_rooms_redis_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char  *p;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    if (ngx_http_rooms_rcf != NULL) {
        p = ngx_snprintf(buf, len, ", rooms redis: \"%V\"",
                         &ngx_http_rooms_rcf->address);
    }

    return p;
}


/* commands: formatted once, into the connection's output buffer */


/* at least size bytes free at conn->last; NULL: none (logged) */

static u_char *
ngx_http_rooms_redis_reserve(ngx_http_rooms_conn_t *conn, size_t size)
{
    u_char  *p;
    size_t   used, len;

    if ((size_t) (conn->end - conn->last) >= size) {
        return conn->last;
    }

    used = conn->last - conn->pos;
    len = conn->end - conn->start;

    if (used + size <= len) {
        /* what is sent goes: a retried TLS write may move (see init_ssl) */
        ngx_memmove(conn->start, conn->pos, used);

    } else {
        if (len == 0) {
            len = NGX_HTTP_ROOMS_OUT_SIZE;
        }

        while (len < used + size) {
            len *= 2;
        }

        if (len > NGX_HTTP_ROOMS_OUT_MAX) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "rooms redis: \"%V\" takes no more commands "
                          "(%uz bytes not sent yet)",
                          &ngx_http_rooms_rcf->address, used);
            return NULL;
        }

        p = ngx_alloc(len, ngx_cycle->log);
        if (p == NULL) {
            return NULL;
        }

        if (used) {
            ngx_memcpy(p, conn->pos, used);
        }

        if (conn->start != NULL) {
            ngx_free(conn->start);
        }

        conn->start = p;
        conn->end = p + len;
    }

    conn->pos = conn->start;
    conn->last = conn->start + used;

    return conn->last;
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


/* a command of the adapter's own (AUTH, SELECT, ...) at the buffer's end */

static ngx_int_t
ngx_http_rooms_redis_own(ngx_http_rooms_conn_t *conn, ngx_uint_t kind,
    ngx_uint_t argc, ngx_str_t *argv)
{
    u_char                *p;
    ngx_http_rooms_cmd_t  *cmd;

    cmd = ngx_calloc(sizeof(ngx_http_rooms_cmd_t), ngx_cycle->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->kind = kind;
    cmd->heap = 1;

    p = ngx_http_rooms_redis_reserve(conn, sizeof("*\r\n") - 1 + NGX_INT_T_LEN
                                     + ngx_http_rooms_redis_bulk_len(argc,
                                                                     argv));
    if (p == NULL) {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    *p++ = '*';
    p = ngx_http_rooms_redis_decimal(p, argc);
    *p++ = '\r';
    *p++ = '\n';
    conn->last = ngx_http_rooms_redis_bulk(p, argc, argv);

    ngx_http_rooms_redis_enqueue(conn, cmd);

    return NGX_OK;
}


static void
ngx_http_rooms_redis_enqueue(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd)
{
    cmd->next = NULL;

    if (conn->tail != NULL) {
        conn->tail->next = cmd;

    } else {
        conn->head = cmd;
    }

    conn->tail = cmd;
}


static void
ngx_http_rooms_redis_cmd_free(ngx_http_rooms_cmd_t *cmd)
{
    if (cmd->args != NULL) {
        ngx_free(cmd->args);
    }

    if (cmd->heap) {
        ngx_free(cmd);
    }
}


/*
 * A batch's command: argv, or EVALSHA of script with nkeys keys and then
 * argv.  An EVALSHA copies its arguments after the sha for a resend.
 */

static ngx_int_t
ngx_http_rooms_redis_command(ngx_http_rooms_batch_t *b,
    ngx_http_rooms_script_t *script, ngx_uint_t nkeys, ngx_uint_t argc,
    ngx_str_t *argv)
{
    u_char                 *p, *rest, n[NGX_INT_T_LEN];
    size_t                  size;
    ngx_uint_t              total;
    ngx_str_t               head[3];
    ngx_http_rooms_cmd_t   *cmd;
    ngx_http_rooms_conn_t  *conn;

    conn = b->conn;

    if (b->failed || conn->state == NGX_HTTP_ROOMS_CLOSED
        || conn->generation != b->generation)
    {
        b->failed = 1;
        return NGX_ERROR;
    }

    /*
     * Not from a pool: the command waits in the connection's queue for
     * its reply, which may come after the batch's owner is gone.  The
     * first few live in the batch, which lives as long as they do.
     */

    if (b->ncmds < NGX_HTTP_ROOMS_INLINE_CMDS) {
        cmd = &b->cmds[b->ncmds];
        ngx_memzero(cmd, sizeof(ngx_http_rooms_cmd_t));

    } else {
        cmd = ngx_calloc(sizeof(ngx_http_rooms_cmd_t), b->log);
        if (cmd == NULL) {
            b->failed = 1;
            return NGX_ERROR;
        }

        cmd->heap = 1;
    }

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN
           + ngx_http_rooms_redis_bulk_len(argc, argv);
    total = argc;

    if (script != NULL) {
        ngx_str_set(&head[0], "EVALSHA");
        head[1].data = script->sha;
        head[1].len = 40;
        head[2].data = n;
        head[2].len = ngx_http_rooms_redis_decimal(n, nkeys) - n;

        size += ngx_http_rooms_redis_bulk_len(3, head);
        total += 3;
    }

    p = ngx_http_rooms_redis_reserve(conn, size);
    if (p == NULL) {
        goto failed;
    }

    *p++ = '*';
    p = ngx_http_rooms_redis_decimal(p, total);
    *p++ = '\r';
    *p++ = '\n';

    rest = NULL;

    if (script != NULL) {
        p = ngx_http_rooms_redis_bulk(p, 2, head);
        rest = p;
        p = ngx_http_rooms_redis_bulk(p, 1, &head[2]);
    }

    p = ngx_http_rooms_redis_bulk(p, argc, argv);

    if (script != NULL) {
        /* kept for a NOSCRIPT, when it goes again as EVAL */

        cmd->len = p - rest;
        cmd->args = ngx_alloc(cmd->len, b->log);
        if (cmd->args == NULL) {
            /* conn->last has not moved: the command is not sent */
            goto failed;
        }

        ngx_memcpy(cmd->args, rest, cmd->len);
        cmd->script = script;
        cmd->argc = total;
    }

    conn->last = p;

    cmd->batch = b;
    cmd->index = b->ncmds;

    ngx_http_rooms_redis_enqueue(conn, cmd);

    b->ncmds++;
    b->pending++;

    return NGX_OK;

failed:

    cmd->batch = NULL;
    ngx_http_rooms_redis_cmd_free(cmd);
    b->failed = 1;

    return NGX_ERROR;
}


ngx_int_t
ngx_http_rooms_redis_append(ngx_http_rooms_batch_t *b, ngx_uint_t argc,
    ngx_str_t *argv)
{
    return ngx_http_rooms_redis_command(b, NULL, 0, argc, argv);
}


ngx_int_t
ngx_http_rooms_redis_append_script(ngx_http_rooms_batch_t *b,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_http_rooms_script_t  *s;

    s = ngx_http_rooms_scripts->elts;

    return ngx_http_rooms_redis_command(b, &s[script], nkeys, argc, argv);
}


/* batches */


static ngx_http_rooms_batch_t *
ngx_http_rooms_redis_batch(ngx_log_t *log,
    ngx_http_rooms_redis_handler_pt handler, void *data)
{
    ngx_uint_t               i, n;
    ngx_http_rooms_conn_t   *conn, *c;
    ngx_http_rooms_batch_t  *b;

    /* the next connection that is up; else one that is being set up */

    conn = NULL;
    n = ngx_http_rooms_nconns;

    for (i = 0; i < n; i++) {
        c = &ngx_http_rooms_conns[ngx_http_rooms_next++ % n];

        if (c->state == NGX_HTTP_ROOMS_UP) {
            conn = c;
            break;
        }

        if (conn == NULL && c->state != NGX_HTTP_ROOMS_CLOSED) {
            conn = c;
        }
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
    b->timer.handler = ngx_http_rooms_redis_batch_timeout;
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

    b->detached = 1;

    return b;
}


ngx_int_t
ngx_http_rooms_redis_end(ngx_http_rooms_batch_t *b)
{
    if (b->failed || b->ncmds == 0) {
        ngx_http_rooms_redis_release(b);
        return NGX_ERROR;
    }

    b->replies = ngx_pcalloc(b->pool,
                             b->ncmds * sizeof(ngx_http_rooms_reply_t));
    if (b->replies == NULL) {
        ngx_http_rooms_redis_release(b);
        return NGX_ERROR;
    }

    b->ended = 1;

    ngx_add_timer(&b->timer, ngx_http_rooms_rcf->timeout);

    ngx_http_rooms_redis_flush_later(b->conn);

    return NGX_OK;
}


void
ngx_http_rooms_redis_abort(ngx_http_rooms_batch_t *b)
{
    /* what was formatted still goes: its replies are dropped */

    ngx_http_rooms_redis_release(b);
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

    ngx_http_rooms_redis_release(b);
}


static void
ngx_http_rooms_redis_request_gone(void *data)
{
    ngx_http_rooms_batch_t  *b = data;

    /* r->pool, which holds the replies, is being destroyed */

    b->cln = NULL;
    b->pool = NULL;

    ngx_http_rooms_redis_release(b);
}


/*
 * The one way out of a batch for its owner (answered, aborted, timed out,
 * or gone): no handler call, no timer, no hook in the request's pool
 * from now on.  Freed now if none of its commands is queued any more,
 * else by the last of them to be answered or failed.
 */

static void
ngx_http_rooms_redis_release(ngx_http_rooms_batch_t *b)
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

    if (b->detached && b->pool != NULL) {
        ngx_destroy_pool(b->pool);
    }

    b->pool = NULL;

    if (b->pending == 0) {
        ngx_free(b);
    }
}


/* one of the batch's commands is answered or failed */

static void
ngx_http_rooms_redis_settle(ngx_http_rooms_batch_t *b)
{
    if (--b->pending) {
        return;
    }

    if (b->done) {
        ngx_free(b);
        return;
    }

    if (b->ended) {
        ngx_http_rooms_redis_finish(b, b->failed ? NGX_ERROR : NGX_OK);
    }
}


/* the handler, once; the batch is released before it runs */

static void
ngx_http_rooms_redis_finish(ngx_http_rooms_batch_t *b, ngx_int_t rc)
{
    ngx_pool_t                       *pool;
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_rooms_redis_handler_pt   handler;

    r = b->r;
    handler = b->handler;

    /* a detached batch's replies live until its handler returns */

    pool = b->detached ? b->pool : NULL;
    b->pool = NULL;

    /* held through the handler */
    b->pending++;

    ngx_http_rooms_redis_release(b);

    if (handler != NULL && !ngx_http_rooms_exiting) {
        c = (r != NULL) ? r->connection : NULL;

        handler(r, b->data, b->replies, b->ncmds, rc);

        if (c != NULL) {
            ngx_http_run_posted_requests(c);
        }
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    if (--b->pending == 0) {
        ngx_free(b);
    }
}


/* replies: built by the reader in the connection's pool, copied to a batch's */


static ngx_http_rooms_reply_t *
ngx_http_rooms_redis_node(const redisReadTask *task)
{
    ngx_http_rooms_reply_t  *parent;

    if (task->parent == NULL) {
        return ngx_pcalloc(ngx_http_rooms_reply_pool,
                           sizeof(ngx_http_rooms_reply_t));
    }

    parent = task->parent->obj;

    if (task->idx < 0 || (size_t) task->idx >= parent->elements) {
        return NULL;
    }

    return &parent->element[task->idx];
}


static void *
ngx_http_rooms_redis_new_string(const redisReadTask *task, char *str,
    size_t len)
{
    ngx_http_rooms_reply_t  *rep;

    rep = ngx_http_rooms_redis_node(task);
    if (rep == NULL) {
        return NULL;
    }

    /* REDIS_REPLY_STRING, _STATUS or _ERROR: the same numbers as ours */

    rep->type = task->type;
    rep->str.len = len;
    rep->str.data = ngx_pnalloc(ngx_http_rooms_reply_pool, len + 1);
    if (rep->str.data == NULL) {
        return NULL;
    }

    ngx_memcpy(rep->str.data, str, len);
    rep->str.data[len] = '\0';

    return rep;
}


static void *
ngx_http_rooms_redis_new_array(const redisReadTask *task, int n)
{
    ngx_http_rooms_reply_t  *rep;

    if (n < 0 || n > NGX_HTTP_ROOMS_ELEMENTS_MAX) {
        /* the reader calls it a lack of memory, and the connection goes */
        return NULL;
    }

    rep = ngx_http_rooms_redis_node(task);
    if (rep == NULL) {
        return NULL;
    }

    rep->type = NGX_HTTP_ROOMS_REPLY_ARRAY;
    rep->elements = n;

    if (n) {
        rep->element = ngx_pcalloc(ngx_http_rooms_reply_pool,
                                   n * sizeof(ngx_http_rooms_reply_t));
        if (rep->element == NULL) {
            return NULL;
        }
    }

    return rep;
}


static void *
ngx_http_rooms_redis_new_integer(const redisReadTask *task, long long value)
{
    ngx_http_rooms_reply_t  *rep;

    rep = ngx_http_rooms_redis_node(task);
    if (rep == NULL) {
        return NULL;
    }

    rep->type = NGX_HTTP_ROOMS_REPLY_INTEGER;
    rep->integer = value;

    return rep;
}


static void *
ngx_http_rooms_redis_new_nil(const redisReadTask *task)
{
    ngx_http_rooms_reply_t  *rep;

    rep = ngx_http_rooms_redis_node(task);
    if (rep == NULL) {
        return NULL;
    }

    rep->type = NGX_HTTP_ROOMS_REPLY_NIL;

    return rep;
}


static void
ngx_http_rooms_redis_free_object(void *obj)
{
    /* in the connection's pool, reset after each reply */
}


static ngx_int_t
ngx_http_rooms_redis_copy(ngx_pool_t *pool, ngx_http_rooms_reply_t *dst,
    ngx_http_rooms_reply_t *src)
{
    size_t  i;

    *dst = *src;

    switch (src->type) {

    case NGX_HTTP_ROOMS_REPLY_STRING:
    case NGX_HTTP_ROOMS_REPLY_STATUS:
    case NGX_HTTP_ROOMS_REPLY_ERROR:
        dst->str.data = ngx_pnalloc(pool, src->str.len + 1);
        if (dst->str.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(dst->str.data, src->str.data, src->str.len + 1);
        break;

    case NGX_HTTP_ROOMS_REPLY_ARRAY:
        if (src->elements == 0) {
            break;
        }

        dst->element = ngx_palloc(pool, src->elements
                                         * sizeof(ngx_http_rooms_reply_t));
        if (dst->element == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < src->elements; i++) {
            if (ngx_http_rooms_redis_copy(pool, &dst->element[i],
                                          &src->element[i])
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
