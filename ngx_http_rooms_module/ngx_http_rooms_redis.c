
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
 * A worker talks to nodes, each with its connections: the one Redis; or
 * with "cluster", the nodes of a Redis Cluster, found from the seeds by
 * CLUSTER SLOTS, each command sent to the master of its key's slot and
 * sent again on MOVED, ASK, TRYAGAIN, LOADING or CLUSTERDOWN (a copy of
 * it is kept for that); or with "sentinel=", the master one connection
 * to a sentinel names and renames (+switch-master).
 *
 * The transitions the metrics count each have one function:
 * ngx_http_rooms_redis_up() (a connection is set up),
 * ngx_http_rooms_redis_drop() (one is lost, for any reason),
 * ngx_http_rooms_redis_timed_out() (a batch or a connection took too long)
 * and ngx_http_rooms_redis_reconnect() (one is opened again); the other
 * errors are counted by kind where they are found: a connection refused
 * or broken (ngx_http_rooms_redis_failed()), what cannot be read
 * (ngx_http_rooms_redis_unreadable()), an error reply
 * (ngx_http_rooms_redis_dispatch()).  A batch is timed from
 * ngx_http_rooms_redis_end() to ngx_http_rooms_redis_finish().
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/read.h>
#include <openssl/sha.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"
#include "ngx_http_rooms_metrics.h"
#include "rooms_sentinel.h"
#include "rooms_slot.h"


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

/* a cluster: the most nodes known, redirections followed at once */
#define NGX_HTTP_ROOMS_NODES_MAX      64
#define NGX_HTTP_ROOMS_REDIRECTS_MAX  5

/* a cluster: CLUSTER SLOTS again after a loss, and while degraded */
#define NGX_HTTP_ROOMS_REFRESH_SOON   50
#define NGX_HTTP_ROOMS_REFRESH_AGAIN  250

/* a cluster: the backoff of commands retried (TRYAGAIN, CLUSTERDOWN...) */
#define NGX_HTTP_ROOMS_RETRY_MIN      25
#define NGX_HTTP_ROOMS_RETRY_MAX      200


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
#define NGX_HTTP_ROOMS_CMD_SLOTS      5   /* CLUSTER SLOTS */
#define NGX_HTTP_ROOMS_CMD_ASKING     6
#define NGX_HTTP_ROOMS_CMD_ROLE       7   /* sentinel=: a master still? */
#define NGX_HTTP_ROOMS_CMD_MASTER     8   /* SENTINEL get-master-addr... */
#define NGX_HTTP_ROOMS_CMD_SWITCH     9   /* SUBSCRIBE +switch-master */


typedef struct {
    ngx_str_t                  text;
    u_char                     sha[41];
} ngx_http_rooms_script_t;


typedef struct ngx_http_rooms_cmd_s   ngx_http_rooms_cmd_t;
typedef struct ngx_http_rooms_conn_s  ngx_http_rooms_conn_t;


/*
 * A server the worker talks to: the one of a standalone Redis, or a
 * cluster's node (a seed, or one the slot map or a redirection named),
 * with connections=N connections of its own
 */

typedef struct {
    ngx_str_t                  name;        /* for logs */
    u_char                     text[NGX_SOCKADDR_STRLEN];
    ngx_sockaddr_t             sockaddr;
    socklen_t                  socklen;
    ngx_http_rooms_conn_t     *conns;
    ngx_uint_t                 next;        /* round robin of conns */
    ngx_uint_t                 slots;       /* in the slot map */
    unsigned                   started:1;   /* conns opened, or opening */
    unsigned                   seed:1;      /* from rooms_redis */
} ngx_http_rooms_node_t;

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

    /*
     * A cluster: the command as sent, to send again elsewhere, in the
     * batch's pool: read only while the batch is not done
     */
    u_char                    *raw;
    size_t                     raw_len;
    unsigned                   slot:14;
    unsigned                   redirects:4;

    unsigned                   heap:1;      /* ngx_alloc()ed, not inline */
};


struct ngx_http_rooms_conn_s {
    ngx_http_rooms_node_t     *node;
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
    unsigned                   sentinel:1;   /* to a sentinel */
    unsigned                   failing:1;    /* lost since last up */
};


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
    uint64_t                         start;    /* sent, for the metrics */
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
static ngx_http_rooms_node_t *ngx_http_rooms_redis_node_add(
    struct sockaddr *sa, socklen_t socklen);
static void ngx_http_rooms_redis_node_start(ngx_http_rooms_node_t *node);
static ngx_http_rooms_conn_t *ngx_http_rooms_redis_node_conn(
    ngx_http_rooms_node_t *node);
static void ngx_http_rooms_redis_each(
    void (*fn)(ngx_http_rooms_conn_t *conn));
static void ngx_http_rooms_redis_no_reconnect(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_shut(ngx_http_rooms_conn_t *conn);
static ngx_http_rooms_node_t *ngx_http_rooms_redis_node_at(
    ngx_http_rooms_node_t *ref, u_char *host, size_t len, ngx_uint_t port);
static ngx_http_rooms_conn_t *ngx_http_rooms_redis_route(unsigned slot);
static ngx_int_t ngx_http_rooms_redis_send_raw(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd);
static ngx_int_t ngx_http_rooms_redis_redirect(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd, ngx_http_rooms_reply_t *rep);
static void ngx_http_rooms_redis_retry_later(ngx_http_rooms_cmd_t *cmd);
static void ngx_http_rooms_redis_retry(ngx_event_t *ev);
static void ngx_http_rooms_redis_cmd_fail(ngx_http_rooms_cmd_t *cmd);
static void ngx_http_rooms_redis_refresh_soon(ngx_msec_t delay);
static void ngx_http_rooms_redis_refresh(ngx_event_t *ev);
static void ngx_http_rooms_redis_slots(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep);
static ngx_uint_t ngx_http_rooms_redis_degraded(void);
static void ngx_http_rooms_redis_master_at(ngx_str_t *host, ngx_str_t *port,
    ngx_http_rooms_conn_t *from);
static ngx_int_t ngx_http_rooms_redis_switch(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep);
static void ngx_http_rooms_redis_ask_sentinel(void);
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
static void ngx_http_rooms_redis_failed(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_unreadable(ngx_http_rooms_conn_t *conn);
static void ngx_http_rooms_redis_gauge(void);
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


/* the nodes (one for a standalone Redis), connections=N each */
static ngx_http_rooms_node_t       *ngx_http_rooms_nodes;
static ngx_uint_t                   ngx_http_rooms_nnodes;
static ngx_uint_t                   ngx_http_rooms_nconns;
static ngx_uint_t                   ngx_http_rooms_next;

/*
 * A cluster: the slot map in use and a spare one that CLUSTER SLOTS is
 * read into, the timers of its refresh and of the commands waiting to be
 * sent again (TRYAGAIN, CLUSTERDOWN, no node to go to)
 */
static rooms_slot_map_t            *ngx_http_rooms_map;
static rooms_slot_map_t            *ngx_http_rooms_map_spare;
static ngx_uint_t                   ngx_http_rooms_map_loaded;
static ngx_uint_t                   ngx_http_rooms_refreshing;
static ngx_uint_t                   ngx_http_rooms_refresh_next;
static ngx_uint_t                   ngx_http_rooms_sub_next;
static ngx_event_t                  ngx_http_rooms_refresh_ev;
static ngx_event_t                  ngx_http_rooms_retry_ev;
static ngx_msec_t                   ngx_http_rooms_retry_delay;
static ngx_http_rooms_cmd_t        *ngx_http_rooms_retry_head;
static ngx_http_rooms_cmd_t        *ngx_http_rooms_retry_tail;

/*
 * sentinel=: the connection to one sentinel at a time (the next one each
 * time it is lost), which names the master and tells of +switch-master
 */
static ngx_http_rooms_conn_t        ngx_http_rooms_sentinel;
static ngx_http_rooms_node_t        ngx_http_rooms_sentinel_node;
static ngx_uint_t                   ngx_http_rooms_sentinel_next;
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
    ngx_http_rooms_node_t        *node;
    ngx_http_rooms_redis_addr_t  *a;
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
    ngx_http_rooms_nnodes = 0;
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

    ngx_http_rooms_rcf = rc;
    ngx_http_rooms_scripts = rmcf->scripts;
    ngx_http_rooms_nconns = rc->connections;
    ngx_http_rooms_nnodes = 0;

    ngx_http_rooms_nodes = ngx_pcalloc(cycle->pool,
                                       (rc->cluster ? NGX_HTTP_ROOMS_NODES_MAX
                                                    : 1)
                                       * sizeof(ngx_http_rooms_node_t));
    if (ngx_http_rooms_nodes == NULL) {
        return NGX_ERROR;
    }

    if (rc->sentinel.len) {
        /* the master, once a sentinel names it */

        node = &ngx_http_rooms_nodes[0];

        node->conns = ngx_pcalloc(cycle->pool, ngx_http_rooms_nconns
                                               * sizeof(ngx_http_rooms_conn_t));
        if (node->conns == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < ngx_http_rooms_nconns; i++) {
            node->conns[i].node = node;
        }

        ngx_str_set(&node->name, "(the master, not known yet)");
        ngx_http_rooms_nnodes = 1;

        ngx_memzero(&ngx_http_rooms_sentinel, sizeof(ngx_http_rooms_conn_t));
        ngx_memzero(&ngx_http_rooms_sentinel_node,
                    sizeof(ngx_http_rooms_node_t));

        ngx_http_rooms_sentinel.sentinel = 1;
        ngx_http_rooms_sentinel.node = &ngx_http_rooms_sentinel_node;

        ngx_http_rooms_redis_start(&ngx_http_rooms_sentinel);

        return NGX_OK;
    }

    if (!rc->cluster) {
        node = ngx_http_rooms_redis_node_add(rc->sockaddr, rc->socklen);
        if (node == NULL) {
            return NGX_ERROR;
        }

        node->name = rc->address;
        node->seed = 1;

        ngx_http_rooms_redis_node_start(node);

        return NGX_OK;
    }

    /* a cluster: the seeds, asked for the slot map once one is up */

    ngx_http_rooms_map = ngx_palloc(cycle->pool, sizeof(rooms_slot_map_t));
    ngx_http_rooms_map_spare = ngx_palloc(cycle->pool,
                                          sizeof(rooms_slot_map_t));
    if (ngx_http_rooms_map == NULL || ngx_http_rooms_map_spare == NULL) {
        return NGX_ERROR;
    }

    rooms_slot_map_init(ngx_http_rooms_map);
    ngx_http_rooms_map_loaded = 0;
    ngx_http_rooms_refreshing = 0;
    ngx_http_rooms_retry_head = NULL;
    ngx_http_rooms_retry_tail = NULL;
    ngx_http_rooms_retry_delay = NGX_HTTP_ROOMS_RETRY_MIN;

    ngx_memzero(&ngx_http_rooms_refresh_ev, sizeof(ngx_event_t));
    ngx_http_rooms_refresh_ev.handler = ngx_http_rooms_redis_refresh;
    ngx_http_rooms_refresh_ev.log = cycle->log;
    ngx_http_rooms_refresh_ev.data = cycle;      /* as ngx_shutdown_event */
    ngx_http_rooms_refresh_ev.cancelable = 1;

    ngx_memzero(&ngx_http_rooms_retry_ev, sizeof(ngx_event_t));
    ngx_http_rooms_retry_ev.handler = ngx_http_rooms_redis_retry;
    ngx_http_rooms_retry_ev.log = cycle->log;
    ngx_http_rooms_retry_ev.data = cycle;      /* as ngx_shutdown_event */
    ngx_http_rooms_retry_ev.cancelable = 1;

    a = rc->addrs->elts;

    for (i = 0; i < rc->addrs->nelts; i++) {
        node = ngx_http_rooms_redis_node_add(a[i].sockaddr, a[i].socklen);
        if (node == NULL) {
            return NGX_ERROR;
        }

        node->seed = 1;

        ngx_http_rooms_redis_node_start(node);
    }

    return NGX_OK;
}


/* a node, new or known, by its address; NULL when there are too many */

static ngx_http_rooms_node_t *
ngx_http_rooms_redis_node_add(struct sockaddr *sa, socklen_t socklen)
{
    ngx_uint_t              i, max;
    ngx_http_rooms_node_t  *node;

    for (i = 0; i < ngx_http_rooms_nnodes; i++) {
        node = &ngx_http_rooms_nodes[i];

        if (node->socklen == socklen
            && ngx_cmp_sockaddr(&node->sockaddr.sockaddr, socklen, sa,
                                socklen, 1)
               == NGX_OK)
        {
            return node;
        }
    }

    max = ngx_http_rooms_rcf->cluster ? NGX_HTTP_ROOMS_NODES_MAX : 1;

    if (ngx_http_rooms_nnodes == max
        || socklen > (socklen_t) sizeof(ngx_sockaddr_t))
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: more than %ui cluster nodes, "
                      "a new one is not used", max);
        return NULL;
    }

    node = &ngx_http_rooms_nodes[ngx_http_rooms_nnodes];

    node->conns = ngx_pcalloc(ngx_cycle->pool, ngx_http_rooms_nconns
                                               * sizeof(ngx_http_rooms_conn_t));
    if (node->conns == NULL) {
        return NULL;
    }

    ngx_memcpy(&node->sockaddr, sa, socklen);
    node->socklen = socklen;

    node->name.data = node->text;
    node->name.len = ngx_sock_ntop(sa, socklen, node->text,
                                   NGX_SOCKADDR_STRLEN, 1);

    for (i = 0; i < ngx_http_rooms_nconns; i++) {
        node->conns[i].node = node;
    }

    ngx_http_rooms_nnodes++;

    return node;
}


/* the node's connections opened, those not open nor waiting to reopen */

static void
ngx_http_rooms_redis_node_start(ngx_http_rooms_node_t *node)
{
    ngx_uint_t              i;
    ngx_http_rooms_conn_t  *conn;

    node->started = 1;

    for (i = 0; i < ngx_http_rooms_nconns; i++) {
        conn = &node->conns[i];

        if (conn->state == NGX_HTTP_ROOMS_CLOSED
            && !conn->reconnect.timer_set)
        {
            ngx_http_rooms_redis_start(conn);
        }
    }
}


/*
 * A connection of the node that can take a command: the next one up,
 * else one being set up; NULL if every one is lost (reopening later).
 * A node not started yet is started.
 */

static ngx_http_rooms_conn_t *
ngx_http_rooms_redis_node_conn(ngx_http_rooms_node_t *node)
{
    ngx_uint_t              i, n;
    ngx_http_rooms_conn_t  *conn, *c;

    if (!node->started) {
        ngx_http_rooms_redis_node_start(node);
    }

    conn = NULL;
    n = ngx_http_rooms_nconns;

    for (i = 0; i < n; i++) {
        c = &node->conns[node->next++ % n];

        if (c->state == NGX_HTTP_ROOMS_UP) {
            return c;
        }

        if (conn == NULL && c->state != NGX_HTTP_ROOMS_CLOSED) {
            conn = c;
        }
    }

    return conn;
}


/* runs fn on every connection: the nodes', then the subscription's */

static void
ngx_http_rooms_redis_each(void (*fn)(ngx_http_rooms_conn_t *conn))
{
    ngx_uint_t  i, j;

    for (i = 0; i < ngx_http_rooms_nnodes; i++) {
        for (j = 0; j < ngx_http_rooms_nconns; j++) {
            fn(&ngx_http_rooms_nodes[i].conns[j]);
        }
    }

    if (ngx_http_rooms_sub.conn.node != NULL) {
        fn(&ngx_http_rooms_sub.conn);
    }

    if (ngx_http_rooms_rcf != NULL && ngx_http_rooms_rcf->sentinel.len) {
        fn(&ngx_http_rooms_sentinel);
    }
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

    /* a cluster's: on another node at each connect (PUBLISH reaches all) */
    ngx_http_rooms_sub.conn.node = &ngx_http_rooms_nodes[0];

    ngx_http_rooms_redis_start(&ngx_http_rooms_sub.conn);

    return NGX_OK;
}


void
ngx_http_rooms_redis_hold(ngx_uint_t on)
{
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

    ngx_http_rooms_redis_each(ngx_http_rooms_redis_no_reconnect);
}


static void
ngx_http_rooms_redis_no_reconnect(ngx_http_rooms_conn_t *conn)
{
    if (conn->reconnect.timer_set) {
        ngx_del_timer(&conn->reconnect);
    }
}


static void
ngx_http_rooms_redis_shut(ngx_http_rooms_conn_t *conn)
{
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


void
ngx_http_rooms_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_rooms_cmd_t  *cmd;

    /* no handler is called from now on */

    ngx_http_rooms_exiting = 1;

    if (ngx_http_rooms_rcf == NULL) {
        return;
    }

    ngx_http_rooms_redis_each(ngx_http_rooms_redis_shut);

    if (ngx_http_rooms_rcf->cluster) {
        if (ngx_http_rooms_refresh_ev.timer_set) {
            ngx_del_timer(&ngx_http_rooms_refresh_ev);
        }

        if (ngx_http_rooms_retry_ev.timer_set) {
            ngx_del_timer(&ngx_http_rooms_retry_ev);
        }

        while (ngx_http_rooms_retry_head != NULL) {
            cmd = ngx_http_rooms_retry_head;
            ngx_http_rooms_retry_head = cmd->next;
            ngx_http_rooms_redis_cmd_fail(cmd);
        }
    }

#if (NGX_HTTP_SSL)
    if (ngx_http_rooms_ssl_session != NULL) {
        ngx_ssl_free_session(ngx_http_rooms_ssl_session);
        ngx_http_rooms_ssl_session = NULL;
    }
#endif

    ngx_http_rooms_nconns = 0;
    ngx_http_rooms_nnodes = 0;
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
                   &conn->node->name);

    ngx_http_rooms_metrics_redis_reconnect();

    ngx_http_rooms_redis_connect(conn);
}


static void
ngx_http_rooms_redis_connect(ngx_http_rooms_conn_t *conn)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, n;
    ngx_connection_t             *c;
    ngx_http_rooms_node_t        *node;
    ngx_http_rooms_redis_addr_t  *a;
    ngx_http_rooms_redis_conf_t  *rcf;

    rcf = ngx_http_rooms_rcf;

    if (conn->sentinel) {
        /* the next sentinel */

        a = rcf->addrs->elts;
        i = ngx_http_rooms_sentinel_next++ % rcf->addrs->nelts;

        node = conn->node;
        ngx_memcpy(&node->sockaddr, a[i].sockaddr, a[i].socklen);
        node->socklen = a[i].socklen;
        node->name = a[i].address;

    } else if (rcf->sentinel.len && conn->node->socklen == 0) {
        /* no master named yet: opened once one is (master_at()) */
        conn->state = NGX_HTTP_ROOMS_CLOSED;
        return;
    }

    if (conn->subscriber && rcf->cluster) {
        /* the next node that serves slots (any one, before the map) */

        n = ngx_http_rooms_nnodes;

        for (i = 0; i < n; i++) {
            node = &ngx_http_rooms_nodes[ngx_http_rooms_sub_next++ % n];

            if (node->slots || !ngx_http_rooms_map_loaded) {
                conn->node = node;
                break;
            }
        }
    }

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

    conn->peer.sockaddr = &conn->node->sockaddr.sockaddr;
    conn->peer.socklen = conn->node->socklen;
    conn->peer.name = &conn->node->name;
    conn->peer.get = ngx_event_get_peer;
    conn->peer.log = &conn->log;
    conn->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&conn->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        /* the reason is logged on conn->log */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: connect to \"%V\" failed",
                      &conn->node->name);
        ngx_http_rooms_redis_failed(conn);
        return;
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

    if (conn->sentinel) {
        /* the master now, then every switch (no AUTH: Redis', not its) */

        ngx_str_set(&argv[0], "SENTINEL");
        ngx_str_set(&argv[1], "get-master-addr-by-name");
        argv[2] = rcf->sentinel;

        if (ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_MASTER, 3, argv)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&argv[0], "SUBSCRIBE");
        ngx_str_set(&argv[1], "+switch-master");

        return ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_SWITCH, 2,
                                        argv);
    }

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

    if (rcf->sentinel.len) {
        /* what the sentinels named may have been demoted since */

        ngx_str_set(&argv[0], "ROLE");

        if (ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_ROLE, 1, argv)
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
                      &conn->node->name);

        ngx_http_rooms_redis_failed(conn);
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
                      &conn->node->name);
        ngx_http_rooms_redis_failed(conn);
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

        ngx_http_rooms_redis_failed(conn);
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
                      "verified: (%l: %s)", &conn->node->name,
                      rc, X509_verify_cert_error_string(rc));
        return NGX_ERROR;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);

    if (cert == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" sent no certificate to verify",
                      &conn->node->name);
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
                      &conn->node->name, &ngx_http_rooms_ssl_name);
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

    if (!conn->subscriber && !ngx_http_rooms_rcf->cluster
        && conn->timer.timer_set)
    {
        /* (a cluster's batches do not drop connections: this timer does) */
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
                      &conn->node->name,
                      conn->subscriber ? " (subscription)" : "");
        conn->failing = 0;
    }

    conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MIN;

    if (!conn->subscriber && !conn->sentinel) {
        ngx_http_rooms_redis_gauge();
    }

    if (ngx_http_rooms_rcf->cluster && !conn->subscriber
        && !ngx_http_rooms_map_loaded)
    {
        /* the first connection up reads the slot map */
        ngx_http_rooms_redis_refresh_soon(0);
    }

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
    ngx_uint_t               was_up;
    ngx_http_rooms_cmd_t    *cmd, *next;
    ngx_http_rooms_batch_t  *b;

    cmd = conn->head;
    conn->head = NULL;
    conn->tail = NULL;

    was_up = (conn->state == NGX_HTTP_ROOMS_UP);

    ngx_http_rooms_redis_close(conn);

    conn->failing = 1;

    if (was_up && !conn->subscriber) {
        ngx_http_rooms_redis_gauge();
    }

    for ( /* void */ ; cmd != NULL; cmd = next) {
        next = cmd->next;
        b = cmd->batch;

        if (cmd->kind == NGX_HTTP_ROOMS_CMD_SLOTS) {
            ngx_http_rooms_refreshing = 0;
        }

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

    if (ngx_http_rooms_rcf->cluster) {
        /* a node lost may have been replaced: the map is read again */

        ngx_http_rooms_redis_refresh_soon(NGX_HTTP_ROOMS_REFRESH_SOON);

        if (!conn->subscriber && ngx_http_rooms_map_loaded
            && conn->node->slots == 0 && !conn->node->seed)
        {
            /* a node the map no longer has: opened again when named */
            conn->node->started = 0;
            return;
        }
    }

    ngx_add_timer(&conn->reconnect, conn->backoff);

    conn->backoff *= 2;

    if (conn->backoff > NGX_HTTP_ROOMS_BACKOFF_MAX) {
        conn->backoff = NGX_HTTP_ROOMS_BACKOFF_MAX;
    }
}


/* a connection refused, broken or closed by the server */

static void
ngx_http_rooms_redis_failed(ngx_http_rooms_conn_t *conn)
{
    ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_CONNECTION);

    ngx_http_rooms_redis_drop(conn);
}


/* Redis sent what is not RESP, or a reply no command waits for */

static void
ngx_http_rooms_redis_unreadable(ngx_http_rooms_conn_t *conn)
{
    ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_PROTOCOL);

    ngx_http_rooms_redis_drop(conn);
}


/*
 * rooms_redis_up: every connection of this worker for batches is up, to
 * the one Redis (or the master the sentinels name), or with "cluster" to
 * every node that holds slots in the map; a node that lost its slots to a
 * failover no longer counts
 */

static void
ngx_http_rooms_redis_gauge(void)
{
    ngx_uint_t              i, j, up, counted;
    ngx_http_rooms_node_t  *node;

    up = 1;
    counted = 0;

    for (i = 0; i < ngx_http_rooms_nnodes; i++) {
        node = &ngx_http_rooms_nodes[i];

        if (ngx_http_rooms_rcf->cluster ? node->slots == 0 : i > 0) {
            continue;
        }

        counted++;

        for (j = 0; j < ngx_http_rooms_nconns; j++) {
            if (node->conns == NULL
                || node->conns[j].state != NGX_HTTP_ROOMS_UP)
            {
                up = 0;
            }
        }
    }

    ngx_http_rooms_metrics_redis_up(up && counted > 0
                                    && ngx_http_rooms_nconns > 0);
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

    ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_TIMEOUT);

    generation = (b != NULL) ? b->generation : conn->generation;

    if (b != NULL) {

        /*
         * The connection is dropped below, after the request has had its
         * 503: rooms_redis_up must say 0 before then, or a scrape that
         * another worker answers right after the 503 still reads 1
         */

        if (!conn->subscriber && conn->state != NGX_HTTP_ROOMS_CLOSED
            && conn->generation == generation)
        {
            ngx_http_rooms_metrics_redis_up(0);
        }

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

    for (cmd = conn->head;
         cmd != NULL && !ngx_http_rooms_rcf->cluster;
         cmd = cmd->next)
    {
        if (cmd->batch != NULL && cmd->batch->timer.timer_set) {
            return;
        }
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" is not set up after %M ms (%s), "
                  "dropping the connection", &conn->node->name,
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

    if (ngx_http_rooms_rcf->cluster) {
        /*
         * Commands of the batch may wait on several nodes, or to be sent
         * again: the batch fails (503), the connections stay, and what
         * still comes back for it is dropped.  The slot map is read
         * again: a node that does not answer may have been replaced.
         */

        ngx_log_error(NGX_LOG_ERR, b->log, 0,
                      "rooms redis: the cluster did not answer in %M ms",
                      ngx_http_rooms_rcf->timeout);

        ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_TIMEOUT);
        ngx_http_rooms_redis_refresh_soon(0);
        ngx_http_rooms_redis_finish(b, NGX_ERROR);
        return;
    }

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


/* a cluster: routing, redirections, retries, the slot map */


/*
 * The node at host:port, as MOVED, ASK and CLUSTER SLOTS name it: an
 * address (no name is resolved in a worker), or "" for the host of ref,
 * the node that answered.  Known, or added; NULL if it cannot be.
 */

static ngx_http_rooms_node_t *
ngx_http_rooms_redis_node_at(ngx_http_rooms_node_t *ref, u_char *host,
    size_t len, ngx_uint_t port)
{
    socklen_t        socklen;
    in_addr_t        inaddr;
    ngx_sockaddr_t   sa;
#if (NGX_HAVE_INET6)
    u_char           inet6[16];
#endif

    if (port == 0 || port > 65535) {
        return NULL;
    }

    ngx_memzero(&sa, sizeof(ngx_sockaddr_t));

    if (len == 0) {
        ngx_memcpy(&sa, &ref->sockaddr, ref->socklen);
        socklen = ref->socklen;
        goto found;
    }

    inaddr = ngx_inet_addr(host, len);

    if (inaddr != INADDR_NONE) {
        sa.sockaddr_in.sin_family = AF_INET;
        sa.sockaddr_in.sin_addr.s_addr = inaddr;
        socklen = sizeof(struct sockaddr_in);
        goto found;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(host, len, inet6) == NGX_OK) {
        sa.sockaddr_in6.sin6_family = AF_INET6;
        ngx_memcpy(sa.sockaddr_in6.sin6_addr.s6_addr, inet6, 16);
        socklen = sizeof(struct sockaddr_in6);
        goto found;
    }
#endif

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: cluster node \"%*s:%ui\" is not an "
                  "address (cluster-preferred-endpoint-type ip is needed)",
                  len, host, port);
    return NULL;

found:

    ngx_inet_set_port(&sa.sockaddr, (in_port_t) port);

    return ngx_http_rooms_redis_node_add(&sa.sockaddr, socklen);
}


/*
 * A connection for a command of the slot: its node's, by the map; when
 * the map has no node for it, or that node is lost, any node that is
 * up: it answers MOVED, or CLUSTERDOWN while the cluster fails over
 */

static ngx_http_rooms_conn_t *
ngx_http_rooms_redis_route(unsigned slot)
{
    unsigned                i, n;
    ngx_http_rooms_conn_t  *conn;
    ngx_http_rooms_node_t  *node;

    i = rooms_slot_map_lookup(ngx_http_rooms_map, slot);

    if (i != ROOMS_SLOT_NONE && i < ngx_http_rooms_nnodes) {
        conn = ngx_http_rooms_redis_node_conn(&ngx_http_rooms_nodes[i]);
        if (conn != NULL) {
            return conn;
        }
    }

    n = ngx_http_rooms_nnodes;

    for (i = 0; i < n; i++) {
        node = &ngx_http_rooms_nodes[(slot + i) % n];

        if (!node->started) {
            continue;
        }

        conn = ngx_http_rooms_redis_node_conn(node);

        if (conn != NULL && conn->state == NGX_HTTP_ROOMS_UP) {
            return conn;
        }
    }

    return NULL;
}


/* a command of a batch, as it was first sent, sent on conn */

static ngx_int_t
ngx_http_rooms_redis_send_raw(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd)
{
    u_char  *p;

    p = ngx_http_rooms_redis_reserve(conn, cmd->raw_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    conn->last = ngx_cpymem(p, cmd->raw, cmd->raw_len);

    ngx_http_rooms_redis_enqueue(conn, cmd);
    ngx_http_rooms_redis_flush_later(conn);

    return NGX_OK;
}


/*
 * An error reply to a batch's command: a cluster's redirection or
 * transient state is followed, and the command (off every queue) is
 * sent again, now or later; NGX_DECLINED for any other error, which is
 * the command's reply
 */

static ngx_int_t
ngx_http_rooms_redis_redirect(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_cmd_t *cmd, ngx_http_rooms_reply_t *rep)
{
    int                     kind;
    ngx_str_t               asking;
    rooms_redirect_t        rd;
    ngx_http_rooms_conn_t  *target;
    ngx_http_rooms_node_t  *node;

    if (cmd->raw == NULL || cmd->batch->done) {
        return NGX_DECLINED;
    }

    kind = rooms_redirect_parse((char *) rep->str.data, rep->str.len, &rd);

    switch (kind) {

    case ROOMS_REDIRECT_MOVED:
    case ROOMS_REDIRECT_ASK:

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "rooms redis: %s slot %ud from \"%V\" to port %ud",
                       rooms_redirect_name(kind), rd.slot, &conn->node->name,
                       rd.port);

        if (cmd->redirects == NGX_HTTP_ROOMS_REDIRECTS_MAX) {
            /* redirected in circles while the cluster changes: later */
            break;
        }

        cmd->redirects++;

        node = ngx_http_rooms_redis_node_at(conn->node, (u_char *) rd.host,
                                            rd.host_len, rd.port);
        if (node == NULL) {
            ngx_http_rooms_redis_refresh_soon(0);
            break;
        }

        if (kind == ROOMS_REDIRECT_MOVED) {
            /* for good: the map now, and all of it read again */

            (void) rooms_slot_map_set_range(ngx_http_rooms_map, rd.slot,
                                            rd.slot,
                                            node - ngx_http_rooms_nodes);
            ngx_http_rooms_redis_refresh_soon(0);
        }

        target = ngx_http_rooms_redis_node_conn(node);
        if (target == NULL) {
            break;
        }

        if (kind == ROOMS_REDIRECT_ASK) {
            /* this once, while the slot migrates: ASKING, then it */

            ngx_str_set(&asking, "ASKING");

            if (ngx_http_rooms_redis_own(target, NGX_HTTP_ROOMS_CMD_ASKING,
                                         1, &asking)
                != NGX_OK)
            {
                break;
            }
        }

        if (ngx_http_rooms_redis_send_raw(target, cmd) != NGX_OK) {
            break;
        }

        return NGX_OK;

    case ROOMS_REDIRECT_CLUSTERDOWN:
    case ROOMS_REDIRECT_READONLY:
    case ROOMS_REDIRECT_MASTERDOWN:
    case ROOMS_REDIRECT_MALFORMED:

        /* a failover, or a node that is no longer a master */

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" answered \"%V\", retrying",
                      &conn->node->name, &rep->str);

        ngx_http_rooms_redis_refresh_soon(0);
        break;

    case ROOMS_REDIRECT_TRYAGAIN:
    case ROOMS_REDIRECT_LOADING:

        /* a multi-key command while its slot migrates, a node starting */
        break;

    default:
        return NGX_DECLINED;
    }

    ngx_http_rooms_redis_retry_later(cmd);

    return NGX_OK;
}


/* a command sent again after a backoff, while its batch waits */

static void
ngx_http_rooms_redis_retry_later(ngx_http_rooms_cmd_t *cmd)
{
    cmd->next = NULL;

    if (ngx_http_rooms_retry_tail != NULL) {
        ngx_http_rooms_retry_tail->next = cmd;

    } else {
        ngx_http_rooms_retry_head = cmd;
    }

    ngx_http_rooms_retry_tail = cmd;

    if (!ngx_http_rooms_retry_ev.timer_set && !ngx_http_rooms_exiting) {
        ngx_add_timer(&ngx_http_rooms_retry_ev, ngx_http_rooms_retry_delay);
    }
}


static void
ngx_http_rooms_redis_retry(ngx_event_t *ev)
{
    ngx_http_rooms_cmd_t   *cmd, *next;
    ngx_http_rooms_conn_t  *conn;

    cmd = ngx_http_rooms_retry_head;
    ngx_http_rooms_retry_head = NULL;
    ngx_http_rooms_retry_tail = NULL;

    for ( /* void */ ; cmd != NULL; cmd = next) {
        next = cmd->next;

        if (cmd->batch->done) {
            /* timed out, or its request is gone */
            ngx_http_rooms_redis_cmd_fail(cmd);
            continue;
        }

        cmd->redirects = 0;

        conn = ngx_http_rooms_redis_route(cmd->slot);

        if (conn == NULL || ngx_http_rooms_redis_send_raw(conn, cmd) != NGX_OK)
        {
            cmd->next = NULL;

            if (ngx_http_rooms_retry_tail != NULL) {
                ngx_http_rooms_retry_tail->next = cmd;

            } else {
                ngx_http_rooms_retry_head = cmd;
            }

            ngx_http_rooms_retry_tail = cmd;
        }
    }

    /* backing off while the cluster stays down, from scratch once up */

    if (ngx_http_rooms_retry_head == NULL) {
        ngx_http_rooms_retry_delay = NGX_HTTP_ROOMS_RETRY_MIN;
        return;
    }

    ngx_http_rooms_retry_delay = ngx_min(ngx_http_rooms_retry_delay * 2,
                                         NGX_HTTP_ROOMS_RETRY_MAX);

    if (!ngx_http_rooms_exiting) {
        ngx_add_timer(&ngx_http_rooms_retry_ev, ngx_http_rooms_retry_delay);
    }
}


/* a command off every queue that will not be answered */

static void
ngx_http_rooms_redis_cmd_fail(ngx_http_rooms_cmd_t *cmd)
{
    ngx_http_rooms_batch_t  *b;

    b = cmd->batch;

    ngx_http_rooms_redis_cmd_free(cmd);

    if (b != NULL) {
        b->failed = 1;
        ngx_http_rooms_redis_settle(b);
    }
}


/* CLUSTER SLOTS after delay, unless it is asked for already */

static void
ngx_http_rooms_redis_refresh_soon(ngx_msec_t delay)
{
    if (ngx_http_rooms_refreshing || ngx_http_rooms_exiting
        || !ngx_http_rooms_rcf->cluster)
    {
        return;
    }

    if (ngx_http_rooms_refresh_ev.timer_set) {
        if (delay >= NGX_HTTP_ROOMS_REFRESH_SOON) {
            return;
        }

        ngx_del_timer(&ngx_http_rooms_refresh_ev);
    }

    ngx_add_timer(&ngx_http_rooms_refresh_ev, delay);
}


/* CLUSTER SLOTS, each time on another node that is up */

static void
ngx_http_rooms_redis_refresh(ngx_event_t *ev)
{
    ngx_str_t               argv[2];
    ngx_uint_t              i, j, n;
    ngx_http_rooms_conn_t  *conn;
    ngx_http_rooms_node_t  *node;

    if (ngx_http_rooms_refreshing || !ngx_http_rooms_redis_may_reconnect()) {
        return;
    }

    n = ngx_http_rooms_nnodes;

    for (i = 0; i < n; i++) {
        node = &ngx_http_rooms_nodes[ngx_http_rooms_refresh_next++ % n];

        for (j = 0; j < ngx_http_rooms_nconns; j++) {
            conn = &node->conns[j];

            if (conn->state != NGX_HTTP_ROOMS_UP) {
                continue;
            }

            ngx_str_set(&argv[0], "CLUSTER");
            ngx_str_set(&argv[1], "SLOTS");

            if (ngx_http_rooms_redis_own(conn, NGX_HTTP_ROOMS_CMD_SLOTS, 2,
                                         argv)
                != NGX_OK)
            {
                break;
            }

            ngx_http_rooms_refreshing = 1;
            ngx_http_rooms_redis_flush_later(conn);
            return;
        }
    }

    /* no node up: again, while the connections reopen */

    ngx_add_timer(&ngx_http_rooms_refresh_ev, NGX_HTTP_ROOMS_REFRESH_AGAIN);
}


/*
 * The reply to CLUSTER SLOTS: ranges of slots, each with its master
 * first ([from, to, [host, port, id, ...], replicas...]), read into the
 * spare map, which replaces the map in use if it all reads
 */

static void
ngx_http_rooms_redis_slots(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep)
{
    ngx_uint_t               i, k, covered;
    rooms_slot_map_t        *map;
    ngx_http_rooms_node_t   *node;
    ngx_http_rooms_reply_t  *e, *m;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" answered CLUSTER SLOTS with "
                      "\"%V\"", &conn->node->name,
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
                      ? &rep->str : &ngx_http_rooms_empty);
        goto again;
    }

    map = ngx_http_rooms_map_spare;
    rooms_slot_map_init(map);

    for (i = 0; i < rep->elements; i++) {
        e = &rep->element[i];

        if (e->type != NGX_HTTP_ROOMS_REPLY_ARRAY || e->elements < 3
            || e->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER
            || e->element[1].type != NGX_HTTP_ROOMS_REPLY_INTEGER
            || e->element[2].type != NGX_HTTP_ROOMS_REPLY_ARRAY
            || e->element[2].elements < 2)
        {
            goto invalid;
        }

        m = e->element[2].element;

        if (m[0].type != NGX_HTTP_ROOMS_REPLY_STRING
            || m[1].type != NGX_HTTP_ROOMS_REPLY_INTEGER
            || e->element[0].integer < 0 || e->element[1].integer < 0)
        {
            goto invalid;
        }

        node = ngx_http_rooms_redis_node_at(conn->node, m[0].str.data,
                                            m[0].str.len,
                                            (ngx_uint_t) m[1].integer);
        if (node == NULL) {
            continue;
        }

        if (rooms_slot_map_set_range(map, e->element[0].integer,
                                     e->element[1].integer,
                                     node - ngx_http_rooms_nodes)
            != 0)
        {
            goto invalid;
        }
    }

    covered = rooms_slot_map_covered(map);

    if (ngx_memcmp(map, ngx_http_rooms_map, sizeof(rooms_slot_map_t)) != 0) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "rooms redis: cluster slot map from \"%V\": %ui of "
                      "%d slots served", &conn->node->name, covered,
                      ROOMS_SLOTS);
    }

    ngx_http_rooms_map_spare = ngx_http_rooms_map;
    ngx_http_rooms_map = map;
    ngx_http_rooms_map_loaded = 1;

    /* each node's share; the masters' connections opened */

    for (k = 0; k < ngx_http_rooms_nnodes; k++) {
        ngx_http_rooms_nodes[k].slots = 0;
    }

    for (k = 0; k < ROOMS_SLOTS; k++) {
        i = rooms_slot_map_lookup(map, k);

        if (i < ngx_http_rooms_nnodes) {
            ngx_http_rooms_nodes[i].slots++;
        }
    }

    for (k = 0; k < ngx_http_rooms_nnodes; k++) {
        node = &ngx_http_rooms_nodes[k];

        if (node->slots && !node->started) {
            ngx_http_rooms_redis_node_start(node);
        }
    }

    /* the nodes rooms_redis_up counts may be others now */

    ngx_http_rooms_redis_gauge();

    if (!ngx_http_rooms_redis_degraded()) {
        return;
    }

    goto again;

invalid:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: \"%V\" sent a CLUSTER SLOTS reply that "
                  "cannot be read", &conn->node->name);

again:

    ngx_http_rooms_redis_refresh_soon(NGX_HTTP_ROOMS_REFRESH_AGAIN);
}


/* some slot without a node, or with a node none of whose connections is up */

static ngx_uint_t
ngx_http_rooms_redis_degraded(void)
{
    ngx_uint_t              i, j, up;
    ngx_http_rooms_node_t  *node;

    if (rooms_slot_map_covered(ngx_http_rooms_map) != ROOMS_SLOTS) {
        return 1;
    }

    for (i = 0; i < ngx_http_rooms_nnodes; i++) {
        node = &ngx_http_rooms_nodes[i];

        if (node->slots == 0) {
            continue;
        }

        up = 0;

        for (j = 0; j < ngx_http_rooms_nconns; j++) {
            if (node->conns[j].state == NGX_HTTP_ROOMS_UP) {
                up = 1;
                break;
            }
        }

        if (!up) {
            return 1;
        }
    }

    return 0;
}


/* sentinel=: the master the sentinels name, and its switches */


/*
 * The master is at host:port (an address: no name is resolved in a
 * worker).  A new one: every connection to the old one is dropped (what
 * it held fails: 503) and opened to the new one at once.
 */

static void
ngx_http_rooms_redis_master_at(ngx_str_t *host, ngx_str_t *port,
    ngx_http_rooms_conn_t *from)
{
    ngx_int_t               n;
    ngx_uint_t              i, same;
    socklen_t               socklen;
    in_addr_t               inaddr;
    ngx_sockaddr_t          sa;
    ngx_http_rooms_conn_t  *conn;
    ngx_http_rooms_node_t  *node;
#if (NGX_HAVE_INET6)
    u_char                  inet6[16];
#endif

    node = &ngx_http_rooms_nodes[0];

    n = ngx_atoi(port->data, port->len);
    if (n <= 0 || n > 65535) {
        goto invalid;
    }

    ngx_memzero(&sa, sizeof(ngx_sockaddr_t));

    inaddr = ngx_inet_addr(host->data, host->len);

    if (inaddr != INADDR_NONE) {
        sa.sockaddr_in.sin_family = AF_INET;
        sa.sockaddr_in.sin_addr.s_addr = inaddr;
        socklen = sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
    } else if (ngx_inet6_addr(host->data, host->len, inet6) == NGX_OK) {
        sa.sockaddr_in6.sin6_family = AF_INET6;
        ngx_memcpy(sa.sockaddr_in6.sin6_addr.s6_addr, inet6, 16);
        socklen = sizeof(struct sockaddr_in6);
#endif

    } else {
        goto invalid;
    }

    ngx_inet_set_port(&sa.sockaddr, (in_port_t) n);

    same = (node->socklen == socklen
            && ngx_cmp_sockaddr(&node->sockaddr.sockaddr, socklen,
                                &sa.sockaddr, socklen, 1)
               == NGX_OK);

    if (same && node->started) {
        return;
    }

    ngx_memcpy(&node->sockaddr, &sa, socklen);
    node->socklen = socklen;
    node->name.data = node->text;
    node->name.len = ngx_sock_ntop(&sa.sockaddr, socklen, node->text,
                                   NGX_SOCKADDR_STRLEN, 1);

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "rooms redis: the master of \"%V\" is \"%V\" "
                  "(sentinel \"%V\")", &ngx_http_rooms_rcf->sentinel,
                  &node->name, &from->node->name);

    if (!node->started) {
        node->started = 1;
    }

    for (i = 0; i <= ngx_http_rooms_nconns; i++) {
        conn = (i < ngx_http_rooms_nconns) ? &node->conns[i]
                                           : &ngx_http_rooms_sub.conn;

        if (conn->node == NULL) {
            /* no subscription */
            continue;
        }

        if (conn->state != NGX_HTTP_ROOMS_CLOSED) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "rooms redis: leaving the old master");
            ngx_http_rooms_redis_drop(conn);
        }

        if (conn->reconnect.timer_set) {
            ngx_del_timer(&conn->reconnect);
        }

        if (conn->log.handler == NULL) {
            /* never started */
            ngx_http_rooms_redis_start(conn);

        } else if (ngx_http_rooms_redis_may_reconnect()) {
            ngx_http_rooms_redis_connect(conn);
        }
    }

    return;

invalid:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: sentinel \"%V\" names \"%V:%V\" as the "
                  "master, which is not an address (sentinel "
                  "resolve-hostnames?)", &from->node->name, host, port);
}


/* what the sentinel's connection is sent unasked: +switch-master */

static ngx_int_t
ngx_http_rooms_redis_switch(ngx_http_rooms_conn_t *conn,
    ngx_http_rooms_reply_t *rep)
{
    ngx_str_t                host, port;
    rooms_switch_t           sw;
    ngx_http_rooms_reply_t  *e;

    e = rep->element;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements < 3
        || e[0].type != NGX_HTTP_ROOMS_REPLY_STRING)
    {
        goto invalid;
    }

    if (ngx_strcmp(e[0].str.data, "message") != 0) {
        /* (un)subscribed */
        return NGX_OK;
    }

    if (e[2].type != NGX_HTTP_ROOMS_REPLY_STRING) {
        goto invalid;
    }

    if (rooms_switch_master_parse((char *) e[2].str.data, e[2].str.len, &sw)
        != 0)
    {
        goto invalid;
    }

    if (sw.name.len != ngx_http_rooms_rcf->sentinel.len
        || ngx_strncmp(sw.name.data, ngx_http_rooms_rcf->sentinel.data,
                       sw.name.len)
           != 0)
    {
        /* another master the sentinels watch */
        return NGX_OK;
    }

    host.data = (u_char *) sw.new_host.data;
    host.len = sw.new_host.len;
    port.data = (u_char *) sw.new_port.data;
    port.len = sw.new_port.len;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "rooms redis: sentinel \"%V\": +switch-master %V",
                  &conn->node->name, &e[2].str);

    ngx_http_rooms_redis_master_at(&host, &port, conn);

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms redis: sentinel \"%V\" sent what is not a "
                  "+switch-master message", &conn->node->name);

    ngx_http_rooms_redis_unreadable(conn);
    return NGX_ERROR;
}


/* the sentinels asked again who the master is, by a new connection */

static void
ngx_http_rooms_redis_ask_sentinel(void)
{
    if (ngx_http_rooms_sentinel.state != NGX_HTTP_ROOMS_CLOSED) {
        ngx_http_rooms_redis_drop(&ngx_http_rooms_sentinel);
    }
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
                  &conn->node->name, what, when);

    ngx_http_rooms_redis_failed(conn);
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
                          &conn->node->name,
                          conn->reader->errstr);
            ngx_http_rooms_redis_unreadable(conn);
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
                          &conn->node->name,
                          conn->reader->errstr);
            ngx_http_rooms_redis_unreadable(conn);
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

        if (conn->sentinel) {
            return ngx_http_rooms_redis_switch(conn, rep);
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" sent a reply to no command",
                      &conn->node->name);
        ngx_http_rooms_redis_unreadable(conn);
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

    if (rep->type == NGX_HTTP_ROOMS_REPLY_ERROR) {
        ngx_http_rooms_metrics_redis_error(
            ngx_http_rooms_metrics_redis_error_kind(rep->str.data,
                                                    rep->str.len));
    }

    if (rcf->cluster && cmd->kind == NGX_HTTP_ROOMS_CMD_BATCH
        && rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
        && ngx_http_rooms_redis_redirect(conn, cmd, rep) == NGX_OK)
    {
        /* sent elsewhere, or later */
        return NGX_OK;
    }

    kind = cmd->kind;
    b = cmd->batch;
    index = cmd->index;

    ngx_http_rooms_redis_cmd_free(cmd);

    switch (kind) {

    case NGX_HTTP_ROOMS_CMD_BATCH:

        if (rcf->sentinel.len && rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
            && rep->str.len >= 8
            && ngx_strncmp(rep->str.data, "READONLY", 8) == 0)
        {
            /* the master was demoted under us: its reply, then leave it */

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "rooms redis: \"%V\" is no longer the master of "
                          "\"%V\", asking the sentinels again",
                          &conn->node->name, &rcf->sentinel);

            if (!b->done && b->ended) {
                (void) ngx_http_rooms_redis_copy(b->pool, &b->replies[index],
                                                 rep);
            }

            ngx_http_rooms_redis_settle(b);
            ngx_http_rooms_redis_ask_sentinel();
            ngx_http_rooms_redis_drop(conn);
            return NGX_ERROR;
        }

        if (!b->done && b->ended
            && ngx_http_rooms_redis_copy(b->pool, &b->replies[index], rep)
               != NGX_OK)
        {
            b->failed = 1;
        }

        ngx_http_rooms_redis_settle(b);
        return NGX_OK;

    case NGX_HTTP_ROOMS_CMD_SLOTS:

        ngx_http_rooms_refreshing = 0;
        ngx_http_rooms_redis_slots(conn, rep);
        return NGX_OK;

    case NGX_HTTP_ROOMS_CMD_ASKING:

        /* the command after it says what happened */
        return NGX_OK;

    case NGX_HTTP_ROOMS_CMD_MASTER:

        if (rep->type == NGX_HTTP_ROOMS_REPLY_ARRAY && rep->elements == 2
            && rep->element[0].type == NGX_HTTP_ROOMS_REPLY_STRING
            && rep->element[1].type == NGX_HTTP_ROOMS_REPLY_STRING)
        {
            ngx_http_rooms_redis_master_at(&rep->element[0].str,
                                           &rep->element[1].str, conn);
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: sentinel \"%V\" knows no master "
                      "\"%V\"%s%V", &conn->node->name, &rcf->sentinel,
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR ? ": " : "",
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
                      ? &rep->str : &ngx_http_rooms_empty);
        break;

    case NGX_HTTP_ROOMS_CMD_SWITCH:

        if (rep->type == NGX_HTTP_ROOMS_REPLY_ARRAY) {
            ngx_http_rooms_redis_up(conn);
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: sentinel \"%V\" refused SUBSCRIBE "
                      "+switch-master", &conn->node->name);
        break;

    case NGX_HTTP_ROOMS_CMD_ROLE:

        if (rep->type == NGX_HTTP_ROOMS_REPLY_ARRAY && rep->elements > 0
            && rep->element[0].type == NGX_HTTP_ROOMS_REPLY_STRING
            && ngx_strcmp(rep->element[0].str.data, "master") == 0)
        {
            return NGX_OK;
        }

        /* a demoted master: left at once, the sentinels asked again */

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" is not the master of \"%V\" "
                      "(ROLE: %V), asking the sentinels again",
                      &conn->node->name, &rcf->sentinel,
                      rep->elements > 0
                      && rep->element[0].type == NGX_HTTP_ROOMS_REPLY_STRING
                      ? &rep->element[0].str : &rep->str);

        ngx_http_rooms_redis_ask_sentinel();
        break;

    case NGX_HTTP_ROOMS_CMD_AUTH:

        if (rep->type != NGX_HTTP_ROOMS_REPLY_ERROR) {
            return NGX_OK;
        }

        /* a wrong password, a disabled user: the backoff applies */

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "rooms redis: \"%V\" refused AUTH%s%V%s: %V; "
                      "reconnecting in %M ms", &conn->node->name,
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
                      &conn->node->name,
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR ? ": " : "",
                      rep->type == NGX_HTTP_ROOMS_REPLY_ERROR
                      ? &rep->str : &ngx_http_rooms_empty);

        if (rep->type != NGX_HTTP_ROOMS_REPLY_ERROR) {
            ngx_http_rooms_metrics_redis_error(NGX_HTTP_ROOMS_REDIS_PROTOCOL);
        }

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
                      &conn->node->name,
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
                  "a message", &conn->node->name);

    ngx_http_rooms_redis_unreadable(conn);
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
                  &conn->node->name, cmd->script->sha);

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
                         &((ngx_http_rooms_conn_t *) log->data)->node->name);
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
                          &conn->node->name, used);
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
    u_char                 *p, *first, *rest, n[NGX_INT_T_LEN];
    size_t                  size;
    unsigned                slot;
    ngx_str_t              *key, head[3];
    ngx_uint_t              total;
    ngx_http_rooms_cmd_t   *cmd;
    ngx_http_rooms_conn_t  *conn;

    slot = 0;

    if (ngx_http_rooms_rcf->cluster) {
        /* to the node of its key's slot: the first key of a script */

        if (b->failed) {
            return NGX_ERROR;
        }

        key = (script != NULL) ? (nkeys ? &argv[0] : NULL)
                               : (argc > 1 ? &argv[1] : NULL);

        if (key != NULL) {
            slot = rooms_slot_of_key((char *) key->data, key->len);
        }

        conn = ngx_http_rooms_redis_route(slot);

        if (conn == NULL) {
            ngx_log_error(NGX_LOG_ERR, b->log, 0,
                          "rooms redis: no cluster node to send "
                          "slot %ud to", slot);
            b->failed = 1;
            return NGX_ERROR;
        }

        if (b->conn == NULL) {
            b->conn = conn;
        }

    } else {
        conn = b->conn;

        if (b->failed || conn->state == NGX_HTTP_ROOMS_CLOSED
            || conn->generation != b->generation)
        {
            b->failed = 1;
            return NGX_ERROR;
        }
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

    first = p;

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

    if (ngx_http_rooms_rcf->cluster) {
        /* kept for a redirection, a retry */

        cmd->raw_len = p - first;
        cmd->raw = ngx_pnalloc(b->pool, cmd->raw_len);
        if (cmd->raw == NULL) {
            goto failed;
        }

        ngx_memcpy(cmd->raw, first, cmd->raw_len);
        cmd->slot = slot;
    }

    conn->last = p;

    cmd->batch = b;
    cmd->index = b->ncmds;

    ngx_http_rooms_redis_enqueue(conn, cmd);

    b->ncmds++;
    b->pending++;

    if (ngx_http_rooms_rcf->cluster) {
        /* a batch may go to several nodes: each gets its part this turn */
        ngx_http_rooms_redis_flush_later(conn);
    }

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

    /* a cluster's batch: each command goes to the node of its slot */

    conn = NULL;
    n = ngx_http_rooms_rcf->cluster ? 0 : ngx_http_rooms_nconns;

    for (i = 0; i < n; i++) {
        c = &ngx_http_rooms_nodes[0].conns[ngx_http_rooms_next++ % n];

        if (c->state == NGX_HTTP_ROOMS_UP) {
            conn = c;
            break;
        }

        if (conn == NULL && c->state != NGX_HTTP_ROOMS_CLOSED) {
            conn = c;
        }
    }

    if (conn == NULL && !ngx_http_rooms_rcf->cluster) {
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
    b->generation = conn ? conn->generation : 0;
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
    b->start = ngx_http_rooms_metrics_now();

    ngx_add_timer(&b->timer, ngx_http_rooms_rcf->timeout);

    if (!ngx_http_rooms_rcf->cluster) {
        ngx_http_rooms_redis_flush_later(b->conn);
    }

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

    /* answered, failed or timed out: as long as it took */

    ngx_http_rooms_metrics_redis_duration(b->start);

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
