
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The registry: per worker, rooms by id (an rbtree), each with its
 * sessions.  A session is allocated on the heap, with a cleanup in its
 * request's pool: it outlives a request that goes while its seat is being
 * taken, and is freed once its seat's answer is in.
 *
 * The Redis work of a room (seats to take, seats to give back, a check of
 * its sessions, seats to restore) goes in one batch at a time, in the
 * order it was asked for: what arrives while a batch is out waits for the
 * next one.  So one worker's seats and releases in a room never overtake
 * each other, whichever connection carries them, and joins arriving
 * together share a round trip.  Leases are renewed for every room at
 * once, in one batch, every third of the lease.
 *
 * A session ends the way nginx's worker_shutdown_timeout ends connections:
 * c->close and c->error set, the read event posted, so that the request
 * is terminated by nginx's own handler, with the reference it takes; the
 * session leaves the registry in its request's pool cleanup.
 *
 * A session starts once its seat is granted and ends once, in that
 * cleanup: both are counted in the metrics and told on the change feed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_sessions.h"
#include "ngx_http_rooms_events.h"
#include "ngx_http_rooms_metrics.h"
#include "ngx_http_rooms_store.h"
#include "rooms_id.h"
#include "rooms_time.h"


#define NGX_HTTP_ROOMS_RETRY          500        /* ms */
#define NGX_HTTP_ROOMS_TIMER_MAX      86400000   /* ms: re-armed beyond */


/* why a session ended: the values of $rooms_session_end */
typedef enum {
    NGX_HTTP_ROOMS_END_NONE = 0,
    NGX_HTTP_ROOMS_END_REMOVED,
    NGX_HTTP_ROOMS_END_ROLE,
    NGX_HTTP_ROOMS_END_DELETED,
    NGX_HTTP_ROOMS_END_EXPIRED,
    NGX_HTTP_ROOMS_END_REVOKED,
    NGX_HTTP_ROOMS_END_IDENTITY,
    NGX_HTTP_ROOMS_END_TOKEN,
    NGX_HTTP_ROOMS_END_REPLACED,
    NGX_HTTP_ROOMS_END_KICKED,
    NGX_HTTP_ROOMS_END_CLIENT,        /* not ended by the gateway: */
    NGX_HTTP_ROOMS_END_UPSTREAM       /* known once the request is done */
} ngx_http_rooms_end_e;


typedef struct {
    ngx_rbtree_node_t             node;       /* key: the room's id */
    ngx_queue_t                   all;        /* in the worker's rooms */
    ngx_queue_t                   sessions;
    ngx_uint_t                    nsessions;
    ngx_queue_t                   releases;   /* ngx_http_rooms_release_t */
    ngx_event_t                   flush;      /* posted: a batch to send */
    ngx_event_t                   until_ev;
    int64_t                       until;      /* µs; 0: not known yet */
    uint64_t                      heard;      /* the check's first change */
    ngx_str_t                     id;
    u_char                        id_buf[ROOMS_ID_MAX_LEN];
    unsigned                      busy:1;     /* a batch is out */
    unsigned                      failed:1;   /* the last one failed */
    unsigned                      check:1;    /* the room changed */
    unsigned                      check_users:1;
    unsigned                      restore:1;  /* the lease was lost */
} ngx_http_rooms_room_t;


struct ngx_http_rooms_session_s {
    ngx_queue_t                   queue;      /* in its room */
    ngx_rbtree_node_t             exp;        /* key: its token's end */
    ngx_http_request_t           *request;    /* NULL once it is gone */
    ngx_http_rooms_ctx_t         *ctx;
    ngx_pool_cleanup_t           *cln;
    ngx_http_rooms_room_t        *room;
    int64_t                       iat;
    int64_t                       seated;     /* µs, Redis' clock */
    int64_t                       ends_before; /* a kick or replacement */
    uint64_t                      ending;     /* µs, monotonic: ended at */
    uint32_t                      hash;       /* of user */
    uint16_t                      len;
    u_char                        reason;     /* ngx_http_rooms_end_e */
    u_char                        pending;    /* for ends_before */
    unsigned                      seating:1;  /* its seat is asked for */
    unsigned                      sent:1;
    unsigned                      recheck:1;  /* a change came meanwhile */
    unsigned                      timed:1;    /* in the tree of ends */
    unsigned                      started:1;  /* admitted: counted */
    u_char                        user[1];
};


/*
 * a user whose seat goes back, waiting for its room's next batch; or a
 * user whose record is read again after a change, heard at "heard"
 */
typedef struct {
    ngx_queue_t                   queue;
    uint64_t                      heard;
    size_t                        len;
    u_char                        data[1];
} ngx_http_rooms_release_t;


/* what one batch of a room carries, to read its replies */
typedef struct {
    ngx_pool_t                   *pool;
    ngx_http_rooms_room_t        *room;
    ngx_queue_t                   releases;
    ngx_uint_t                    nreleases;
    ngx_uint_t                    restore;
    ngx_http_rooms_session_t    **seats;
    ngx_uint_t                    nseats;
    ngx_str_t                    *checked;    /* copies: distinct users */
    ngx_uint_t                    nchecked;
    uint64_t                      heard;      /* the room's, for the check */
    unsigned                      check:1;
    unsigned                      check_users:1;
} ngx_http_rooms_work_t;


static void ngx_http_rooms_sessions_schedule(ngx_http_rooms_room_t *room);
static void ngx_http_rooms_sessions_flush(ngx_event_t *ev);
static void ngx_http_rooms_sessions_end(ngx_http_rooms_session_t *s,
    ngx_uint_t reason, uint64_t heard);
static void ngx_http_rooms_sessions_remove(ngx_http_rooms_session_t *s);
static ngx_uint_t ngx_http_rooms_sessions_why(ngx_http_rooms_session_t *s);
static void ngx_http_rooms_sessions_until_handler(ngx_event_t *ev);
static void ngx_http_rooms_sessions_event(ngx_http_rooms_event_e kind,
    uint64_t room, ngx_str_t *user, int64_t t);


const char  ngx_http_rooms_reason_full[] = "room is full";
const char  ngx_http_rooms_reason_present[] = "already in the room";

static const char  *ngx_http_rooms_end_names[] = {
    NULL,
    "removed",
    "role changed",
    "room deleted",
    "room expired",
    "revoked",
    "identity deleted",
    "token expired",
    "replaced",
    "kicked",
    "client closed",
    "upstream closed"
};

/* rooms_sessions_ended_total's reason of each */
static ngx_http_rooms_session_end_e  ngx_http_rooms_end_metrics[] = {
    NGX_HTTP_ROOMS_SESSION_REASONS,
    NGX_HTTP_ROOMS_SESSION_REMOVED,
    NGX_HTTP_ROOMS_SESSION_ROLE_CHANGED,
    NGX_HTTP_ROOMS_SESSION_ROOM_DELETED,
    NGX_HTTP_ROOMS_SESSION_ROOM_EXPIRED,
    NGX_HTTP_ROOMS_SESSION_REVOKED,
    NGX_HTTP_ROOMS_SESSION_IDENTITY_DELETED,
    NGX_HTTP_ROOMS_SESSION_TOKEN_EXPIRED,
    NGX_HTTP_ROOMS_SESSION_REPLACED,
    NGX_HTTP_ROOMS_SESSION_KICKED,
    NGX_HTTP_ROOMS_SESSION_CLIENT_CLOSED,
    NGX_HTTP_ROOMS_SESSION_UPSTREAM_CLOSED
};


static ngx_http_rooms_main_conf_t  *ngx_http_rooms_smcf;
static ngx_str_t                    ngx_http_rooms_holder;
static ngx_rbtree_t                 ngx_http_rooms_rooms;
static ngx_rbtree_node_t            ngx_http_rooms_rooms_sentinel;
static ngx_queue_t                  ngx_http_rooms_all;
static ngx_rbtree_t                 ngx_http_rooms_ends;
static ngx_rbtree_node_t            ngx_http_rooms_ends_sentinel;
static ngx_event_t                  ngx_http_rooms_ends_ev;
static ngx_event_t                  ngx_http_rooms_renew_ev;
static ngx_event_t                  ngx_http_rooms_retry_ev;
static ngx_uint_t                   ngx_http_rooms_nsessions;
static ngx_uint_t                   ngx_http_rooms_nrooms;
static size_t                       ngx_http_rooms_bytes;

/* the data of the worker's own timers, for nginx's debug log (fd -1) */
static ngx_connection_t             ngx_http_rooms_none;


/* directives */


char *
ngx_http_rooms_sessions_max_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_rooms_main_conf_t *rmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (rmcf->max_participants != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > 100000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_max_participants: invalid value \"%V\" "
                           "(expected a number of 1..100000)", &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf->max_participants = n;

    return NGX_CONF_OK;
}


char *
ngx_http_rooms_sessions_duplicate_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_loc_conf_t *rlcf = conf;

    ngx_str_t  *value;

    if (rlcf->duplicate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "replace") == 0) {
        rlcf->duplicate = NGX_HTTP_ROOMS_SEAT_REPLACE;

    } else if (ngx_strcmp(value[1].data, "reject") == 0) {
        rlcf->duplicate = NGX_HTTP_ROOMS_SEAT_REJECT;

    } else if (ngx_strcmp(value[1].data, "allow") == 0) {
        rlcf->duplicate = NGX_HTTP_ROOMS_SEAT_ALLOW;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_duplicate_session: invalid value \"%V\" "
                           "(expected replace, reject or allow)", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_rooms_sessions_lease_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_rooms_main_conf_t *rmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   t;

    if (rmcf->lease != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    t = ngx_parse_time(&value[1], 0);

    if (t == (ngx_msec_t) NGX_ERROR || t < 1000 || t > 3600000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_session_lease: invalid value \"%V\" "
                           "(expected a time of 1s..1h)", &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf->lease = t;

    return NGX_CONF_OK;
}


/* 1..64 letters, digits, ".", "-" and "_" */

static ngx_int_t
ngx_http_rooms_sessions_gateway_check(ngx_str_t *name)
{
    u_char  c;
    size_t  i;

    if (name->len == 0 || name->len > 64) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


char *
ngx_http_rooms_sessions_gateway_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_rooms_main_conf_t *rmcf = conf;

    ngx_str_t  *value;

    if (rmcf->gateway.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_rooms_sessions_gateway_check(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_gateway_name: invalid value \"%V\" "
                           "(expected 1..64 letters, digits, \".\", \"-\" "
                           "or \"_\")", &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf->gateway = value[1];

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_rooms_sessions_gateway_default(ngx_conf_t *cf, ngx_str_t *name)
{
    size_t  i;

    /* the host name, up to its first character a listing cannot show */

    *name = cf->cycle->hostname;

    for (i = 0; i < name->len && i < 64; i++) {
        name->len = i + 1;

        if (ngx_http_rooms_sessions_gateway_check(name) != NGX_OK) {
            name->len = i;
            break;
        }
    }

    if (name->len == 0) {
        ngx_str_set(name, "gateway");
    }

    return NGX_OK;
}


/* the registry */


static uint32_t
ngx_http_rooms_sessions_hash(u_char *data, size_t len)
{
    return ngx_crc32_short(data, len);
}


static ngx_http_rooms_room_t *
ngx_http_rooms_sessions_room(uint64_t id)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_http_rooms_rooms.root;
    sentinel = ngx_http_rooms_rooms.sentinel;

    while (node != sentinel) {
        if ((ngx_rbtree_key_t) id == node->key) {
            return (ngx_http_rooms_room_t *) node;
        }

        node = ((ngx_rbtree_key_t) id < node->key) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_rooms_room_t *
ngx_http_rooms_sessions_room_add(uint64_t id, ngx_str_t *name)
{
    ngx_http_rooms_room_t  *room;

    room = ngx_calloc(sizeof(ngx_http_rooms_room_t), ngx_cycle->log);
    if (room == NULL) {
        return NULL;
    }

    room->node.key = (ngx_rbtree_key_t) id;
    room->id.data = room->id_buf;
    room->id.len = ngx_min(name->len, ROOMS_ID_MAX_LEN);
    ngx_memcpy(room->id_buf, name->data, room->id.len);

    ngx_queue_init(&room->sessions);
    ngx_queue_init(&room->releases);

    room->flush.handler = ngx_http_rooms_sessions_flush;
    room->flush.data = room;
    room->flush.log = ngx_cycle->log;

    room->until_ev.handler = ngx_http_rooms_sessions_until_handler;
    room->until_ev.data = room;
    room->until_ev.log = ngx_cycle->log;
    room->until_ev.cancelable = 1;

    ngx_rbtree_insert(&ngx_http_rooms_rooms, &room->node);
    ngx_queue_insert_tail(&ngx_http_rooms_all, &room->all);

    ngx_http_rooms_nrooms++;
    ngx_http_rooms_bytes += sizeof(ngx_http_rooms_room_t);

    return room;
}


/* freed once it has no session, no work waiting and no batch out */

static void
ngx_http_rooms_sessions_room_done(ngx_http_rooms_room_t *room)
{
    if (room->nsessions || room->busy || room->flush.posted
        || !ngx_queue_empty(&room->releases))
    {
        return;
    }

    if (room->until_ev.timer_set) {
        ngx_del_timer(&room->until_ev);
    }

    ngx_rbtree_delete(&ngx_http_rooms_rooms, &room->node);
    ngx_queue_remove(&room->all);

    ngx_http_rooms_nrooms--;
    ngx_http_rooms_bytes -= sizeof(ngx_http_rooms_room_t);

    ngx_free(room);
}


static void
ngx_http_rooms_sessions_schedule(ngx_http_rooms_room_t *room)
{
    if (!room->busy && !room->flush.posted) {
        ngx_post_event(&room->flush, &ngx_posted_events);
    }
}


/*
 * an exiting worker keeps its Redis connections for its sessions: the
 * adapter is held while there is one, and the holds are counted, so only
 * the first session and the last one take or let go of it
 */

static void
ngx_http_rooms_sessions_count(ngx_int_t delta)
{
    ngx_uint_t  was;

    was = ngx_http_rooms_nsessions;
    ngx_http_rooms_nsessions += delta;

    if (was == 0 && ngx_http_rooms_nsessions > 0) {
        ngx_http_rooms_redis_hold(1);

    } else if (was > 0 && ngx_http_rooms_nsessions == 0) {
        ngx_http_rooms_redis_hold(0);
    }
}


static ngx_http_rooms_session_t *
ngx_http_rooms_sessions_same_user(ngx_http_rooms_room_t *room,
    ngx_http_rooms_session_t *s)
{
    ngx_queue_t               *q;
    ngx_http_rooms_session_t  *o;

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = ngx_queue_next(q))
    {
        o = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (o != s && o->hash == s->hash && o->len == s->len
            && ngx_memcmp(o->user, s->user, s->len) == 0)
        {
            return o;
        }
    }

    return NULL;
}


/* a user's seat goes back unless the user came back meanwhile */

static void
ngx_http_rooms_sessions_release(ngx_http_rooms_room_t *room, u_char *user,
    size_t len)
{
    ngx_http_rooms_release_t  *u;

    u = ngx_alloc(offsetof(ngx_http_rooms_release_t, data) + len,
                  ngx_cycle->log);
    if (u == NULL) {
        /* the seat goes back with the lease */
        return;
    }

    u->len = len;
    ngx_memcpy(u->data, user, len);

    ngx_queue_insert_tail(&room->releases, &u->queue);
}


static void
ngx_http_rooms_sessions_unrelease(ngx_http_rooms_room_t *room, u_char *user,
    size_t len)
{
    ngx_queue_t            *q, *next;
    ngx_http_rooms_release_t  *u;

    for (q = ngx_queue_head(&room->releases);
         q != ngx_queue_sentinel(&room->releases);
         q = next)
    {
        next = ngx_queue_next(q);
        u = ngx_queue_data(q, ngx_http_rooms_release_t, queue);

        if (u->len == len && ngx_memcmp(u->data, user, len) == 0) {
            ngx_queue_remove(q);
            ngx_free(u);
        }
    }
}


/*
 * A session's start or end on the change feed, if any: in a batch nobody
 * waits for, so that neither admission nor a close ever waits for it
 */

static void
ngx_http_rooms_sessions_feed(ngx_http_rooms_session_t *s, const char *type,
    const char *role, const char *reason)
{
    ngx_str_t                     user;
    ngx_int_t                     rc;
    ngx_pool_t                   *pool;
    ngx_http_rooms_batch_t       *b;
    ngx_http_rooms_feed_event_t   ev;

    if (!ngx_http_rooms_events_feed_on() || ngx_http_rooms_smcf == NULL) {
        return;
    }

    user.data = s->user;
    user.len = s->len;

    ngx_memzero(&ev, sizeof(ngx_http_rooms_feed_event_t));
    ev.type = type;
    ev.room = &s->room->id;
    ev.user = &user;
    ev.role = role;
    ev.gateway = &ngx_http_rooms_smcf->gateway;
    ev.reason = reason;

    b = ngx_http_rooms_redis_begin_detached(ngx_cycle->log, NULL, NULL);
    if (b == NULL) {
        goto failed;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        ngx_http_rooms_redis_abort(b);
        goto failed;
    }

    rc = ngx_http_rooms_events_feed(b, pool, &ev, 1);

    ngx_destroy_pool(pool);

    if (rc != NGX_OK) {
        ngx_http_rooms_redis_abort(b);
        goto failed;
    }

    if (ngx_http_rooms_redis_end(b) == NGX_OK) {
        return;
    }

failed:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms session: room \"%V\" user \"%*s\": %s, but not on "
                  "the events stream", &s->room->id, (size_t) s->len, s->user,
                  type);
}


/* admitted: counted, and told */

static void
ngx_http_rooms_sessions_started(ngx_http_rooms_session_t *s, ngx_int_t role)
{
    s->started = 1;

    ngx_http_rooms_metrics_session_started();
    ngx_http_rooms_sessions_feed(s, "session.started", rooms_role_name(role),
                                 NULL);
}


/* once for each session started, when its request is done */

static void
ngx_http_rooms_sessions_ended(ngx_http_rooms_session_t *s, ngx_uint_t why)
{
    uint64_t  now;

    s->started = 0;

    ngx_http_rooms_metrics_session_ended(ngx_http_rooms_end_metrics[why]);

    if (s->ending) {
        now = ngx_http_rooms_metrics_now();
        ngx_http_rooms_metrics_session_close(now > s->ending
                                             ? now - s->ending : 0);
    }

    ngx_http_rooms_sessions_feed(s, "session.ended", NULL,
                                 ngx_http_rooms_end_names[why]);
}


static void
ngx_http_rooms_sessions_gone(void *data)
{
    ngx_http_rooms_session_t  *s = data;

    if (s->started) {
        ngx_http_rooms_sessions_ended(s, ngx_http_rooms_sessions_why(s));
    }

    s->request = NULL;
    s->ctx = NULL;
    s->cln = NULL;

    if (s->seating) {
        /* freed when the answer about its seat comes */
        return;
    }

    ngx_http_rooms_sessions_remove(s);
}


static void
ngx_http_rooms_sessions_remove(ngx_http_rooms_session_t *s)
{
    ngx_http_rooms_room_t  *room;

    room = s->room;

    if (s->cln != NULL) {
        s->cln->handler = NULL;
    }

    if (s->ctx != NULL) {
        s->ctx->session = NULL;
    }

    if (s->timed) {
        ngx_rbtree_delete(&ngx_http_rooms_ends, &s->exp);
    }

    ngx_queue_remove(&s->queue);
    room->nsessions--;
    ngx_http_rooms_sessions_count(-1);
    ngx_http_rooms_bytes -= sizeof(ngx_http_rooms_session_t) + s->len;

    /* its user's last session here: the seat goes back at once */

    if (ngx_http_rooms_sessions_same_user(room, s) == NULL) {
        ngx_http_rooms_sessions_release(room, s->user, s->len);
    }

    ngx_free(s);

    if (!ngx_queue_empty(&room->releases)) {
        ngx_http_rooms_sessions_schedule(room);
    }

    ngx_http_rooms_sessions_room_done(room);
}


/* the token's end, when rooms_session_expire is on */

static void
ngx_http_rooms_sessions_ends_arm(void)
{
    int64_t             now, at;
    ngx_msec_t          t;
    ngx_time_t         *tp;
    ngx_rbtree_node_t  *min;

    if (ngx_http_rooms_ends_ev.timer_set) {
        ngx_del_timer(&ngx_http_rooms_ends_ev);
    }

    if (ngx_http_rooms_ends.root == ngx_http_rooms_ends.sentinel) {
        return;
    }

    min = ngx_rbtree_min(ngx_http_rooms_ends.root,
                         ngx_http_rooms_ends.sentinel);

    /* the key is in seconds: the timer fires on the second, not after */

    tp = ngx_timeofday();
    now = (int64_t) tp->sec * 1000 + tp->msec;
    at = (int64_t) min->key * 1000;

    t = (at > now) ? (ngx_msec_t) (at - now) : 1;

    ngx_add_timer(&ngx_http_rooms_ends_ev,
                  ngx_min(t, NGX_HTTP_ROOMS_TIMER_MAX));
}


static void
ngx_http_rooms_sessions_ends_handler(ngx_event_t *ev)
{
    time_t                     now;
    ngx_rbtree_node_t         *min;
    ngx_http_rooms_session_t  *s;

    now = ngx_time();

    while (ngx_http_rooms_ends.root != ngx_http_rooms_ends.sentinel) {
        min = ngx_rbtree_min(ngx_http_rooms_ends.root,
                             ngx_http_rooms_ends.sentinel);

        if ((time_t) min->key > now) {
            break;
        }

        s = (ngx_http_rooms_session_t *)
                ((u_char *) min - offsetof(ngx_http_rooms_session_t, exp));

        ngx_rbtree_delete(&ngx_http_rooms_ends, min);
        s->timed = 0;

        ngx_http_rooms_sessions_end(s, NGX_HTTP_ROOMS_END_TOKEN, 0);
    }

    ngx_http_rooms_sessions_ends_arm();
}


/* validUntil: a timer per room */

static void
ngx_http_rooms_sessions_until_arm(ngx_http_rooms_room_t *room, int64_t until)
{
    int64_t  now, ms;

    room->until = until;
    now = rooms_time_now_us();
    ms = (until > now) ? (until - now + 999) / 1000 : 1;

    if (room->until_ev.timer_set) {
        ngx_del_timer(&room->until_ev);
    }

    ngx_add_timer(&room->until_ev,
                  (ngx_msec_t) ngx_min(ms, NGX_HTTP_ROOMS_TIMER_MAX));
}


static void
ngx_http_rooms_sessions_until_handler(ngx_event_t *ev)
{
    ngx_http_rooms_room_t  *room = ev->data;

    ngx_queue_t               *q, *next;
    ngx_http_rooms_session_t  *s;

    if (rooms_time_now_us() < room->until) {
        /* a far validUntil: the timer was cut short */
        ngx_http_rooms_sessions_until_arm(room, room->until);
        return;
    }

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        ngx_http_rooms_sessions_end(s, NGX_HTTP_ROOMS_END_EXPIRED, 0);
    }
}


/*
 * Ends a session: its connection is closed as worker_shutdown_timeout
 * closes connections, from the posted read event, so that nginx's own
 * handler terminates the request with the reference it takes.  The first
 * reason stays.  A session still waiting for its seat ends once it has it.
 * heard: when the change that ends it was heard (the metrics' clock), 0
 * for now, for rooms_session_close_seconds.
 */

static void
ngx_http_rooms_sessions_end(ngx_http_rooms_session_t *s, ngx_uint_t reason,
    uint64_t heard)
{
    ngx_connection_t  *c;

    if (s->reason || s->request == NULL) {
        return;
    }

    if (s->seating) {
        s->pending = (u_char) reason;
        s->ends_before = INT64_MAX;
        return;
    }

    s->reason = (u_char) reason;
    s->ending = heard ? heard : ngx_http_rooms_metrics_now();

    c = s->request->connection;

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "rooms session: room \"%V\" user \"%*s\" ended: %s",
                  &s->room->id, (size_t) s->len, s->user,
                  ngx_http_rooms_end_names[reason]);

    c->close = 1;
    c->error = 1;

    ngx_post_event(c->read, &ngx_posted_events);
}


/* admission */


ngx_int_t
ngx_http_rooms_sessions_admit(ngx_http_request_t *r, ngx_http_rooms_ctx_t *ctx)
{
    uint64_t                    id;
    ngx_pool_cleanup_t         *cln;
    ngx_http_rooms_room_t      *room;
    ngx_http_rooms_session_t   *s;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (!rlcf->session || r != r->main || ngx_http_rooms_smcf == NULL) {
        return NGX_DECLINED;
    }

    if (rooms_id_parse((char *) ctx->room_id.data, ctx->room_id.len, &id)
        != ROOMS_ID_OK || ctx->user_id.len > 0xffff)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    room = ngx_http_rooms_sessions_room(id);

    if (room == NULL) {
        room = ngx_http_rooms_sessions_room_add(id, &ctx->room_id);
        if (room == NULL) {
            return NGX_ERROR;
        }
    }

    s = ngx_calloc(sizeof(ngx_http_rooms_session_t) + ctx->user_id.len,
                   r->connection->log);
    if (s == NULL) {
        ngx_http_rooms_sessions_room_done(room);
        return NGX_ERROR;
    }

    s->request = r;
    s->ctx = ctx;
    s->cln = cln;
    s->room = room;
    s->iat = ctx->has_iat ? ctx->iat : 0;
    s->len = (uint16_t) ctx->user_id.len;
    ngx_memcpy(s->user, ctx->user_id.data, s->len);
    s->hash = ngx_http_rooms_sessions_hash(s->user, s->len);
    s->exp.key = (ngx_rbtree_key_t) ngx_max(ctx->exp, 0);
    s->seating = 1;

    cln->handler = ngx_http_rooms_sessions_gone;
    cln->data = s;

    ngx_queue_insert_tail(&room->sessions, &s->queue);
    room->nsessions++;
    ngx_http_rooms_sessions_count(1);
    ngx_http_rooms_bytes += sizeof(ngx_http_rooms_session_t) + s->len;

    /* registered before its seat is asked for: no event can miss it */

    ngx_http_rooms_sessions_unrelease(room, s->user, s->len);

    ctx->session = s;
    ctx->state = NGX_HTTP_ROOMS_ADMISSION_WAITING;

    ngx_http_rooms_sessions_schedule(room);

    return NGX_AGAIN;
}


/* the batch of a room */


static void
ngx_http_rooms_sessions_decide(ngx_http_rooms_session_t *s, ngx_uint_t status,
    const char *reason)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_rooms_ctx_t  *ctx;

    r = s->request;
    ctx = s->ctx;

    s->seating = 0;

    if (r == NULL) {
        /* the request went meanwhile */
        ngx_http_rooms_sessions_remove(s);
        return;
    }

    ctx->state = NGX_HTTP_ROOMS_ADMISSION_DECIDED;

    if (status != NGX_OK) {
        ctx->status = status;
        ctx->reason = reason;
        ngx_http_rooms_sessions_remove(s);
    }

    c = r->connection;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}



/* a newer session of a user: older ones end here and on other gateways */

static void
ngx_http_rooms_sessions_replaced(ngx_http_rooms_session_t *s, int64_t now)
{
    ngx_str_t                  user;
    ngx_pool_t                *pool;
    ngx_queue_t               *q;
    ngx_http_rooms_batch_t    *b;
    ngx_http_rooms_session_t  *o;

    for (q = ngx_queue_head(&s->room->sessions);
         q != ngx_queue_sentinel(&s->room->sessions);
         q = ngx_queue_next(q))
    {
        o = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (o != s && !o->seating && o->seated < now && o->hash == s->hash
            && o->len == s->len && ngx_memcmp(o->user, s->user, s->len) == 0)
        {
            ngx_http_rooms_sessions_end(o, NGX_HTTP_ROOMS_END_REPLACED, 0);
        }
    }

    b = ngx_http_rooms_redis_begin_detached(ngx_cycle->log, NULL, NULL);
    if (b == NULL) {
        goto failed;
    }

    pool = ngx_create_pool(512, ngx_cycle->log);
    if (pool == NULL) {
        ngx_http_rooms_redis_abort(b);
        goto failed;
    }

    user.data = s->user;
    user.len = s->len;

    if (ngx_http_rooms_events_replace(b, pool, &s->room->id, &user, now)
        != NGX_OK)
    {
        ngx_http_rooms_redis_abort(b);
        ngx_destroy_pool(pool);
        goto failed;
    }

    ngx_destroy_pool(pool);

    if (ngx_http_rooms_redis_end(b) == NGX_OK) {
        return;
    }

failed:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "rooms session: room \"%V\" user \"%*s\": the older "
                  "sessions of other gateways are not told to end",
                  &s->room->id, (size_t) s->len, s->user);
}


/* the answer about a session's seat, and its user's record */

static void
ngx_http_rooms_sessions_seated(ngx_http_rooms_session_t *s,
    ngx_http_rooms_reply_t *rep, ngx_http_rooms_reply_t *urep)
{
    ngx_uint_t                  pending;
    ngx_http_rooms_user_t       rec;
    ngx_http_rooms_seat_t       seat;
    ngx_http_rooms_room_t      *room;
    ngx_http_rooms_srv_conf_t  *rscf;
    ngx_http_rooms_loc_conf_t  *rlcf;

    ngx_memzero(&seat, sizeof(ngx_http_rooms_seat_t));
    room = s->room;

    if (rep->type == NGX_HTTP_ROOMS_REPLY_NONE
        || ngx_http_rooms_store_seat_read(rep, &seat) != NGX_OK)
    {
        if (rep->type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "rooms session: redis error: %V", &rep->str);
        }

        ngx_http_rooms_sessions_decide(s, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "store unavailable");
        return;
    }

    switch (seat.refused) {

    case NGX_HTTP_ROOMS_SEAT_OK:
        break;

    case NGX_HTTP_ROOMS_SEAT_FULL:
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_FORBIDDEN,
                                       ngx_http_rooms_reason_full);
        return;

    case NGX_HTTP_ROOMS_SEAT_PRESENT:
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_FORBIDDEN,
                                       ngx_http_rooms_reason_present);
        return;

    case NGX_HTTP_ROOMS_SEAT_WINDOW:
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_FORBIDDEN,
                                       "outside the room's validity");
        return;

    default:
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_FORBIDDEN,
                                       "not invited");
        return;
    }

    if (s->request == NULL) {
        ngx_http_rooms_sessions_decide(s, NGX_OK, NULL);
        return;
    }

    /* the user's record, read after the session was registered */

    if (ngx_http_rooms_store_user_read(urep, &rec) != NGX_OK) {
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "store unavailable");
        return;
    }

    if (rec.deleted) {
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_UNAUTHORIZED,
                                       "identity deleted");
        return;
    }

    if (rec.revoked > 0 && s->iat < rec.revoked) {
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_UNAUTHORIZED,
                                       "token revoked");
        return;
    }

    rlcf = ngx_http_get_module_loc_conf(s->request, ngx_http_rooms_module);

    if (rlcf->roles && !(rlcf->roles & ((ngx_uint_t) 1 << seat.role))) {
        ngx_http_rooms_sessions_decide(s, NGX_HTTP_FORBIDDEN,
                                       "role not allowed");
        return;
    }

    s->seating = 0;
    s->seated = seat.now;
    s->ctx->role = seat.role;

    ngx_http_rooms_sessions_started(s, seat.role);

    if (room->until != seat.until || !room->until_ev.timer_set) {
        ngx_http_rooms_sessions_until_arm(room, seat.until);
    }

    if (rlcf->session_expire && s->exp.key) {
        rscf = ngx_http_get_module_srv_conf(s->request,
                                            ngx_http_rooms_module);

        s->exp.key += (ngx_rbtree_key_t) ngx_max(rscf->leeway, 0);
        ngx_rbtree_insert(&ngx_http_rooms_ends, &s->exp);
        s->timed = 1;

        if (ngx_rbtree_min(ngx_http_rooms_ends.root,
                           ngx_http_rooms_ends.sentinel)
            == &s->exp)
        {
            ngx_http_rooms_sessions_ends_arm();
        }
    }

    if (seat.replaced) {
        ngx_http_rooms_sessions_replaced(s, seat.now);
    }

    if (s->recheck) {
        s->recheck = 0;
        room->check = 1;
        room->check_users = 1;
    }

    /* kicked or replaced while its seat was asked for: it ends at once */

    pending = (s->ends_before > s->seated) ? s->pending : 0;

    if (pending) {
        ngx_http_rooms_sessions_end(s, pending, 0);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "rooms session: room \"%V\" user seated at %L",
                   &room->id, seat.now);

    ngx_http_rooms_sessions_decide(s, NGX_OK, NULL);
}


/* a check's answer for the room's live sessions */

static void
ngx_http_rooms_sessions_checked(ngx_http_rooms_work_t *w,
    ngx_http_rooms_reply_t *rep, ngx_http_rooms_reply_t *users)
{
    int64_t                       from, until, now;
    ngx_int_t                     rc;
    ngx_uint_t                    i, held, reason;
    ngx_queue_t                  *q, *next;
    ngx_http_rooms_room_t        *room;
    ngx_http_rooms_user_t         rec;
    ngx_http_rooms_session_t     *s;
    ngx_http_rooms_loc_conf_t    *rlcf;
    ngx_http_rooms_seat_check_t  *c;

    room = w->room;

    c = ngx_pcalloc(w->pool, (w->nchecked + 1)
                             * sizeof(ngx_http_rooms_seat_check_t));
    if (c == NULL) {
        room->check = 1;
        room->heard = room->heard ? room->heard : w->heard;
        room->failed = 1;
        return;
    }

    rc = (rep->type == NGX_HTTP_ROOMS_REPLY_NONE)
         ? NGX_ERROR
         : ngx_http_rooms_store_seats_checked(rep, &from, &until, &held, c,
                                              w->nchecked);

    if (rc == NGX_ERROR) {
        /* asked again with the next batch */
        room->check = 1;
        room->check_users |= w->check_users;
        room->heard = room->heard ? room->heard : w->heard;
        room->failed = 1;
        return;
    }

    now = rooms_time_now_us();

    if (rc == NGX_OK) {
        if (!held) {
            /* the lease ran out, the seats went: they come back */
            room->restore = 1;
        }

        if (now < until && until != room->until) {
            ngx_http_rooms_sessions_until_arm(room, until);
        }
    }

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (s->seating || s->request == NULL) {
            continue;
        }

        if (rc == NGX_DECLINED) {
            reason = (room->until && now >= room->until)
                     ? NGX_HTTP_ROOMS_END_EXPIRED : NGX_HTTP_ROOMS_END_DELETED;
            ngx_http_rooms_sessions_end(s, reason, w->heard);
            continue;
        }

        if (now < from || now >= until) {
            ngx_http_rooms_sessions_end(s, NGX_HTTP_ROOMS_END_EXPIRED,
                                        w->heard);
            continue;
        }

        /* its user among those checked (sessions seated since are not) */

        for (i = 0; i < w->nchecked; i++) {
            if (w->checked[i].len == s->len
                && ngx_memcmp(w->checked[i].data, s->user, s->len) == 0)
            {
                break;
            }
        }

        if (i == w->nchecked) {
            continue;
        }

        reason = NGX_HTTP_ROOMS_END_NONE;
        rlcf = ngx_http_get_module_loc_conf(s->request,
                                            ngx_http_rooms_module);

        if (c[i].role < 0) {
            reason = NGX_HTTP_ROOMS_END_REMOVED;

        } else if (rlcf->roles
                   && !(rlcf->roles & ((ngx_uint_t) 1 << c[i].role)))
        {
            reason = NGX_HTTP_ROOMS_END_ROLE;

        } else if (held && c[i].seat == 0) {
            reason = NGX_HTTP_ROOMS_END_KICKED;

        } else if (held && c[i].seat == 2) {
            reason = NGX_HTTP_ROOMS_END_REPLACED;

        } else if (users != NULL
                   && ngx_http_rooms_store_user_read(&users[i], &rec)
                      == NGX_OK)
        {
            if (rec.deleted) {
                reason = NGX_HTTP_ROOMS_END_IDENTITY;

            } else if (rec.revoked > 0 && s->iat < rec.revoked) {
                reason = NGX_HTTP_ROOMS_END_REVOKED;
            }
        }

        if (reason != NGX_HTTP_ROOMS_END_NONE) {
            ngx_http_rooms_sessions_end(s, reason, w->heard);

        } else {
            s->ctx->role = c[i].role;
        }
    }
}


static void
ngx_http_rooms_sessions_replied(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_work_t *w = data;

    ngx_uint_t                 i, k;
    ngx_queue_t               *q;
    ngx_http_rooms_room_t     *room;
    ngx_http_rooms_reply_t     none[2], *rep;
    ngx_http_rooms_session_t  *s;
    ngx_http_rooms_release_t  *u;

    room = w->room;
    ngx_memzero(none, sizeof(none));

    /* the replies in the order of the commands; none[] for missing ones */

#define ngx_http_rooms_next_reply()                                          \
    ((replies != NULL && k < n) ? &replies[k++] : (k++, &none[0]))

    k = 0;

    if (w->nreleases) {
        rep = ngx_http_rooms_next_reply();

        if (rep->type != NGX_HTTP_ROOMS_REPLY_INTEGER) {
            /* back in the queue, for the next batch */
            while (!ngx_queue_empty(&w->releases)) {
                q = ngx_queue_head(&w->releases);
                ngx_queue_remove(q);
                ngx_queue_insert_tail(&room->releases, q);
            }

            room->failed = 1;
        }
    }

    if (w->restore) {
        rep = ngx_http_rooms_next_reply();

        if (rep->type != NGX_HTTP_ROOMS_REPLY_INTEGER) {
            room->restore = 1;
            room->failed = 1;

        } else {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "rooms session: room \"%V\": seats restored "
                          "after the lease ran out", &room->id);
        }
    }

    for (i = 0; i < w->nseats; i++) {
        rep = ngx_http_rooms_next_reply();
        ngx_http_rooms_sessions_seated(w->seats[i], rep,
                                       ngx_http_rooms_next_reply());
    }

    if (w->check) {
        rep = ngx_http_rooms_next_reply();

        ngx_http_rooms_sessions_checked(w, rep,
                                        (w->check_users && replies != NULL
                                         && k + w->nchecked <= n)
                                        ? &replies[k] : NULL);
    }

#undef ngx_http_rooms_next_reply

    while (!ngx_queue_empty(&w->releases)) {
        q = ngx_queue_head(&w->releases);
        ngx_queue_remove(q);
        u = ngx_queue_data(q, ngx_http_rooms_release_t, queue);
        ngx_free(u);
    }

    ngx_destroy_pool(w->pool);

    room->busy = 0;

    if (room->failed) {
        room->failed = 0;

        if (!ngx_http_rooms_retry_ev.timer_set) {
            ngx_add_timer(&ngx_http_rooms_retry_ev, NGX_HTTP_ROOMS_RETRY);
        }

    } else if (!ngx_queue_empty(&room->releases) || room->check
               || room->restore)
    {
        ngx_http_rooms_sessions_schedule(room);
    }

    /* joins that came while this batch was out */

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (s->seating) {
            ngx_http_rooms_sessions_schedule(room);
            break;
        }
    }

    ngx_http_rooms_sessions_room_done(room);
}


/* the distinct users of the room's live sessions, copied into pool */

static ngx_int_t
ngx_http_rooms_sessions_users(ngx_http_rooms_work_t *w)
{
    ngx_uint_t                 i, n;
    ngx_queue_t               *q;
    ngx_http_rooms_session_t  *s;

    n = w->room->nsessions;

    w->checked = ngx_palloc(w->pool, (n ? n : 1) * sizeof(ngx_str_t));
    if (w->checked == NULL) {
        return NGX_ERROR;
    }

    w->nchecked = 0;

    for (q = ngx_queue_head(&w->room->sessions);
         q != ngx_queue_sentinel(&w->room->sessions);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (s->seating || s->request == NULL) {
            continue;
        }

        for (i = 0; i < w->nchecked; i++) {
            if (w->checked[i].len == s->len
                && ngx_memcmp(w->checked[i].data, s->user, s->len) == 0)
            {
                break;
            }
        }

        if (i < w->nchecked) {
            continue;
        }

        w->checked[i].len = s->len;
        w->checked[i].data = ngx_pnalloc(w->pool, s->len);
        if (w->checked[i].data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(w->checked[i].data, s->user, s->len);
        w->nchecked++;
    }

    return NGX_OK;
}


static void
ngx_http_rooms_sessions_flush(ngx_event_t *ev)
{
    ngx_http_rooms_room_t *room = ev->data;

    ngx_str_t                  *users, user;
    ngx_uint_t                  i, nseats;
    ngx_pool_t                 *pool;
    ngx_queue_t                *q, *next;
    ngx_http_rooms_work_t      *w;
    ngx_http_rooms_batch_t     *b;
    ngx_http_rooms_session_t   *s;
    ngx_http_rooms_release_t   *u;
    ngx_http_rooms_loc_conf_t  *rlcf;

    if (room->busy) {
        return;
    }

    /* sessions whose request went before their seat was asked for */

    nseats = 0;
    room->busy = 1;               /* the room stays while they go */

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (s->seating && !s->sent) {
            if (s->request == NULL) {
                s->seating = 0;
                ngx_http_rooms_sessions_remove(s);
                continue;
            }

            nseats++;
        }
    }

    room->busy = 0;

    if (room->flush.posted) {
        /* a removal asked for this very batch */
        ngx_delete_posted_event(&room->flush);
    }

    if (room->nsessions == 0) {
        room->check = 0;
        room->check_users = 0;
        room->restore = 0;
        room->heard = 0;
    }

    if (nseats == 0 && ngx_queue_empty(&room->releases) && !room->check
        && !room->restore)
    {
        ngx_http_rooms_sessions_room_done(room);
        return;
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        goto failed;
    }

    w = ngx_pcalloc(pool, sizeof(ngx_http_rooms_work_t));
    if (w == NULL) {
        ngx_destroy_pool(pool);
        goto failed;
    }

    w->pool = pool;
    w->room = room;
    ngx_queue_init(&w->releases);

    if (nseats) {
        w->seats = ngx_palloc(pool, nseats
                                    * sizeof(ngx_http_rooms_session_t *));
        if (w->seats == NULL) {
            ngx_destroy_pool(pool);
            goto failed;
        }

        for (q = ngx_queue_head(&room->sessions);
             q != ngx_queue_sentinel(&room->sessions);
             q = ngx_queue_next(q))
        {
            s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

            if (s->seating && !s->sent) {
                s->sent = 1;
                w->seats[w->nseats++] = s;
            }
        }
    }

    b = ngx_http_rooms_redis_begin_detached(ngx_cycle->log,
                                            ngx_http_rooms_sessions_replied,
                                            w);
    if (b == NULL) {
        /* answered as if Redis failed: 503s; the rest waits */
        room->busy = 1;
        room->failed = 1;
        ngx_http_rooms_sessions_replied(NULL, w, NULL, 0, NGX_ERROR);
        return;
    }

    /* seats given back, then restored, taken, and the check */

    if (!ngx_queue_empty(&room->releases)) {
        while (!ngx_queue_empty(&room->releases)) {
            q = ngx_queue_head(&room->releases);
            ngx_queue_remove(q);
            ngx_queue_insert_tail(&w->releases, q);
            w->nreleases++;
        }

        users = ngx_palloc(pool, w->nreleases * sizeof(ngx_str_t));
        if (users == NULL) {
            goto abort;
        }

        i = 0;

        for (q = ngx_queue_head(&w->releases);
             q != ngx_queue_sentinel(&w->releases);
             q = ngx_queue_next(q))
        {
            u = ngx_queue_data(q, ngx_http_rooms_release_t, queue);
            users[i].data = u->data;
            users[i].len = u->len;
            i++;
        }

        if (ngx_http_rooms_store_seats_release(b, pool, &room->id,
                                               &ngx_http_rooms_holder,
                                               room->nsessions == 0, users,
                                               w->nreleases)
            != NGX_OK)
        {
            goto abort;
        }
    }

    if (room->restore) {
        room->restore = 0;

        if (ngx_http_rooms_sessions_users(w) != NGX_OK
            || ngx_http_rooms_store_seats_restore(b, pool, &room->id,
                                         &ngx_http_rooms_holder,
                                         ngx_http_rooms_smcf->lease,
                                         w->checked, w->nchecked)
               != NGX_OK)
        {
            goto abort;
        }

        w->restore = 1;
    }

    for (i = 0; i < w->nseats; i++) {
        s = w->seats[i];

        rlcf = ngx_http_get_module_loc_conf(s->request,
                                            ngx_http_rooms_module);
        user.data = s->user;
        user.len = s->len;

        if (ngx_http_rooms_store_seat(b, pool, &room->id,
                                      &ngx_http_rooms_holder, &user,
                                      ngx_http_rooms_smcf->max_participants,
                                      ngx_http_rooms_smcf->lease,
                                      rlcf->duplicate)
            != NGX_OK
            || ngx_http_rooms_store_user_get(b, pool, &user) != NGX_OK)
        {
            goto abort;
        }
    }

    if (room->check) {
        w->check = 1;
        w->check_users = room->check_users;
        w->heard = room->heard;
        room->check = 0;
        room->check_users = 0;
        room->heard = 0;

        if (ngx_http_rooms_sessions_users(w) != NGX_OK
            || ngx_http_rooms_store_seats_check(b, pool, &room->id,
                                                &ngx_http_rooms_holder,
                                                w->checked, w->nchecked)
               != NGX_OK)
        {
            goto abort;
        }

        for (i = 0; w->check_users && i < w->nchecked; i++) {
            if (ngx_http_rooms_store_user_get(b, pool, &w->checked[i])
                != NGX_OK)
            {
                goto abort;
            }
        }
    }

    room->busy = 1;

    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        /* the batch is gone: everything in it failed */
        ngx_http_rooms_sessions_replied(NULL, w, NULL, 0, NGX_ERROR);
    }

    return;

abort:

    ngx_http_rooms_redis_abort(b);
    room->busy = 1;
    ngx_http_rooms_sessions_replied(NULL, w, NULL, 0, NGX_ERROR);
    return;

failed:

    if (!ngx_http_rooms_retry_ev.timer_set) {
        ngx_add_timer(&ngx_http_rooms_retry_ev, NGX_HTTP_ROOMS_RETRY);
    }
}


/* after a failure, the rooms with work waiting try again */

static void
ngx_http_rooms_sessions_retry(ngx_event_t *ev)
{
    ngx_queue_t            *q;
    ngx_http_rooms_room_t  *room;

    for (q = ngx_queue_head(&ngx_http_rooms_all);
         q != ngx_queue_sentinel(&ngx_http_rooms_all);
         q = ngx_queue_next(q))
    {
        room = ngx_queue_data(q, ngx_http_rooms_room_t, all);

        if (!ngx_queue_empty(&room->releases) || room->check
            || room->restore)
        {
            ngx_http_rooms_sessions_schedule(room);
        }
    }
}


/* leases: every room with a seated session, in one batch */


static void
ngx_http_rooms_sessions_renewed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    uint64_t  *ids = data;

    ngx_uint_t              i;
    ngx_http_rooms_room_t  *room;

    for (i = 0; replies != NULL && i < n; i++) {
        if (ngx_http_rooms_store_seats_renewed(&replies[i]) != 0) {
            continue;
        }

        room = ngx_http_rooms_sessions_room(ids[i]);

        if (room != NULL && room->nsessions) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "rooms session: room \"%V\": the lease of this "
                          "worker ran out, its seats are taken again",
                          &room->id);

            room->restore = 1;
            ngx_http_rooms_sessions_schedule(room);
        }
    }

    ngx_free(ids);
}


static void
ngx_http_rooms_sessions_renew(ngx_event_t *ev)
{
    uint64_t                *ids;
    ngx_uint_t               n;
    ngx_pool_t              *pool;
    ngx_queue_t             *q;
    ngx_http_rooms_room_t   *room;
    ngx_http_rooms_batch_t  *b;

    ngx_add_timer(ev, ngx_max(ngx_http_rooms_smcf->lease / 3, 100));

    if (ngx_http_rooms_nrooms == 0) {
        return;
    }

    ids = ngx_alloc(ngx_http_rooms_nrooms * sizeof(uint64_t), ev->log);
    if (ids == NULL) {
        return;
    }

    pool = ngx_create_pool(4096, ev->log);
    if (pool == NULL) {
        ngx_free(ids);
        return;
    }

    b = ngx_http_rooms_redis_begin_detached(ev->log,
                                            ngx_http_rooms_sessions_renewed,
                                            ids);
    if (b == NULL) {
        ngx_destroy_pool(pool);
        ngx_free(ids);
        return;
    }

    n = 0;

    for (q = ngx_queue_head(&ngx_http_rooms_all);
         q != ngx_queue_sentinel(&ngx_http_rooms_all);
         q = ngx_queue_next(q))
    {
        room = ngx_queue_data(q, ngx_http_rooms_room_t, all);

        if (room->nsessions == 0) {
            continue;
        }

        if (ngx_http_rooms_store_seats_renew(b, pool, &room->id,
                                             &ngx_http_rooms_holder,
                                             ngx_http_rooms_smcf->lease)
            != NGX_OK)
        {
            break;
        }

        ids[n++] = room->node.key;
    }

    ngx_destroy_pool(pool);

    if (n == 0) {
        ngx_http_rooms_redis_abort(b);
        ngx_free(ids);
        return;
    }

    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_free(ids);
    }
}


/* changes */


/* a user's record, read again after a change to the user */

static void
ngx_http_rooms_sessions_user_read(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_release_t *u = data;

    uint32_t                   hash;
    ngx_uint_t                 reason;
    ngx_queue_t               *q, *sq, *next;
    ngx_http_rooms_user_t      rec;
    ngx_http_rooms_room_t     *room;
    ngx_http_rooms_session_t  *s;

    if (rc != NGX_OK || n != 1
        || ngx_http_rooms_store_user_read(&replies[0], &rec) != NGX_OK)
    {
        /* cannot tell: each room of the user checks its sessions */
        rec.deleted = 0;
        rec.revoked = -1;
    }

    hash = ngx_http_rooms_sessions_hash(u->data, u->len);

    for (q = ngx_queue_head(&ngx_http_rooms_all);
         q != ngx_queue_sentinel(&ngx_http_rooms_all);
         q = ngx_queue_next(q))
    {
        room = ngx_queue_data(q, ngx_http_rooms_room_t, all);

        for (sq = ngx_queue_head(&room->sessions);
             sq != ngx_queue_sentinel(&room->sessions);
             sq = next)
        {
            next = ngx_queue_next(sq);
            s = ngx_queue_data(sq, ngx_http_rooms_session_t, queue);

            if (s->hash != hash || s->len != u->len
                || ngx_memcmp(s->user, u->data, u->len) != 0)
            {
                continue;
            }

            if (rec.revoked < 0) {
                room->check = 1;
                room->check_users = 1;
                room->heard = room->heard ? room->heard : u->heard;
                ngx_http_rooms_sessions_schedule(room);
                continue;
            }

            reason = NGX_HTTP_ROOMS_END_NONE;

            if (rec.deleted) {
                reason = NGX_HTTP_ROOMS_END_IDENTITY;

            } else if (rec.revoked > 0 && s->iat < rec.revoked) {
                reason = NGX_HTTP_ROOMS_END_REVOKED;
            }

            if (reason != NGX_HTTP_ROOMS_END_NONE) {
                ngx_http_rooms_sessions_end(s, reason, u->heard);
            }
        }
    }

    ngx_free(u);
}


static void
ngx_http_rooms_sessions_user_event(ngx_str_t *user)
{
    ngx_uint_t                 found;
    ngx_pool_t                *pool;
    ngx_queue_t               *q, *sq;
    ngx_http_rooms_room_t     *room;
    ngx_http_rooms_batch_t    *b;
    ngx_http_rooms_session_t  *s;
    ngx_http_rooms_release_t  *u;
    ngx_str_t                  id;

    found = 0;

    for (q = ngx_queue_head(&ngx_http_rooms_all);
         q != ngx_queue_sentinel(&ngx_http_rooms_all);
         q = ngx_queue_next(q))
    {
        room = ngx_queue_data(q, ngx_http_rooms_room_t, all);

        for (sq = ngx_queue_head(&room->sessions);
             sq != ngx_queue_sentinel(&room->sessions);
             sq = ngx_queue_next(sq))
        {
            s = ngx_queue_data(sq, ngx_http_rooms_session_t, queue);

            if (s->len == user->len
                && ngx_memcmp(s->user, user->data, user->len) == 0)
            {
                if (s->seating) {
                    s->recheck = 1;

                } else {
                    found = 1;
                }
            }
        }
    }

    if (!found) {
        return;
    }

    u = ngx_alloc(offsetof(ngx_http_rooms_release_t, data) + user->len,
                  ngx_cycle->log);
    if (u == NULL) {
        return;
    }

    u->heard = ngx_http_rooms_metrics_now();
    u->len = user->len;
    ngx_memcpy(u->data, user->data, user->len);

    b = ngx_http_rooms_redis_begin_detached(ngx_cycle->log,
                                            ngx_http_rooms_sessions_user_read,
                                            u);
    pool = ngx_create_pool(512, ngx_cycle->log);

    id.data = u->data;
    id.len = u->len;

    if (b != NULL && pool != NULL
        && ngx_http_rooms_store_user_get(b, pool, &id) == NGX_OK)
    {
        ngx_destroy_pool(pool);

        if (ngx_http_rooms_redis_end(b) == NGX_OK) {
            return;
        }

        ngx_http_rooms_sessions_user_read(NULL, u, NULL, 0, NGX_ERROR);
        return;
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    if (b != NULL) {
        ngx_http_rooms_redis_abort(b);
    }

    ngx_http_rooms_sessions_user_read(NULL, u, NULL, 0, NGX_ERROR);
}


/* a room changed: its sessions are checked; seating ones once seated */

static void
ngx_http_rooms_sessions_room_event(ngx_http_rooms_room_t *room,
    ngx_uint_t users)
{
    ngx_queue_t               *q;
    ngx_http_rooms_session_t  *s;

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (s->seating) {
            s->recheck = 1;

        } else {
            room->check = 1;
            room->check_users |= users;
        }
    }

    if (room->check) {
        if (room->heard == 0) {
            room->heard = ngx_http_rooms_metrics_now();
        }

        ngx_http_rooms_sessions_schedule(room);
    }
}


/* a seat taken away (kick) or given to a newer session (replace) */

static void
ngx_http_rooms_sessions_seat_event(ngx_http_rooms_room_t *room,
    ngx_str_t *user, int64_t t, ngx_uint_t reason)
{
    ngx_queue_t               *q, *next;
    ngx_http_rooms_session_t  *s;

    for (q = ngx_queue_head(&room->sessions);
         q != ngx_queue_sentinel(&room->sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_rooms_session_t, queue);

        if (s->len != user->len
            || ngx_memcmp(s->user, user->data, user->len) != 0)
        {
            continue;
        }

        if (s->seating) {
            if (t > s->ends_before) {
                s->ends_before = t;
                s->pending = (u_char) reason;
            }

            continue;
        }

        if (s->seated < t) {
            ngx_http_rooms_sessions_end(s, reason, 0);
        }
    }
}


static void
ngx_http_rooms_sessions_event(ngx_http_rooms_event_e kind, uint64_t id,
    ngx_str_t *user, int64_t t)
{
    ngx_queue_t            *q;
    ngx_http_rooms_room_t  *room;

    switch (kind) {

    case NGX_HTTP_ROOMS_EVENT_USER:
        ngx_http_rooms_sessions_user_event(user);
        return;

    case NGX_HTTP_ROOMS_EVENT_MISSED:
        for (q = ngx_queue_head(&ngx_http_rooms_all);
             q != ngx_queue_sentinel(&ngx_http_rooms_all);
             q = ngx_queue_next(q))
        {
            room = ngx_queue_data(q, ngx_http_rooms_room_t, all);
            ngx_http_rooms_sessions_room_event(room, 1);
        }

        return;

    default:
        break;
    }

    room = ngx_http_rooms_sessions_room(id);

    if (room == NULL) {
        return;
    }

    switch (kind) {

    case NGX_HTTP_ROOMS_EVENT_ROOM:
        ngx_http_rooms_sessions_room_event(room, 0);
        break;

    case NGX_HTTP_ROOMS_EVENT_KICK:
        ngx_http_rooms_sessions_seat_event(room, user, t,
                                           NGX_HTTP_ROOMS_END_KICKED);
        break;

    default: /* NGX_HTTP_ROOMS_EVENT_REPLACE */
        ngx_http_rooms_sessions_seat_event(room, user, t,
                                           NGX_HTTP_ROOMS_END_REPLACED);
        break;
    }
}


/* the process */


ngx_int_t
ngx_http_rooms_sessions_init_process(ngx_cycle_t *cycle)
{
    uint32_t                     nonce;
    ngx_http_rooms_main_conf_t  *rmcf;

    ngx_http_rooms_smcf = NULL;
    ngx_http_rooms_nsessions = 0;
    ngx_http_rooms_nrooms = 0;
    ngx_http_rooms_bytes = 0;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    if (rmcf == NULL || rmcf->redis == NULL || !rmcf->sessions) {
        return NGX_OK;
    }

    nonce = (uint32_t) ngx_random() ^ (uint32_t) ngx_current_msec;

    if (ngx_http_rooms_store_holder(cycle->pool, &rmcf->gateway, ngx_pid,
                                    nonce, &ngx_http_rooms_holder)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&ngx_http_rooms_rooms, &ngx_http_rooms_rooms_sentinel,
                    ngx_rbtree_insert_value);
    ngx_rbtree_init(&ngx_http_rooms_ends, &ngx_http_rooms_ends_sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&ngx_http_rooms_all);

    ngx_memzero(&ngx_http_rooms_none, sizeof(ngx_connection_t));
    ngx_http_rooms_none.fd = (ngx_socket_t) -1;

    ngx_http_rooms_ends_ev.data = &ngx_http_rooms_none;
    ngx_http_rooms_retry_ev.data = &ngx_http_rooms_none;
    ngx_http_rooms_renew_ev.data = &ngx_http_rooms_none;

    ngx_http_rooms_ends_ev.handler = ngx_http_rooms_sessions_ends_handler;
    ngx_http_rooms_ends_ev.log = cycle->log;
    ngx_http_rooms_ends_ev.cancelable = 1;

    ngx_http_rooms_retry_ev.handler = ngx_http_rooms_sessions_retry;
    ngx_http_rooms_retry_ev.log = cycle->log;
    ngx_http_rooms_retry_ev.cancelable = 1;

    ngx_http_rooms_renew_ev.handler = ngx_http_rooms_sessions_renew;
    ngx_http_rooms_renew_ev.log = cycle->log;
    ngx_http_rooms_renew_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_rooms_renew_ev,
                  ngx_max(rmcf->lease / 3, 100));

    ngx_http_rooms_smcf = rmcf;

    ngx_http_rooms_events_listen(ngx_http_rooms_sessions_event);

    return NGX_OK;
}


void
ngx_http_rooms_sessions_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t               *q, *sq;
    ngx_http_rooms_room_t     *room;
    ngx_http_rooms_session_t  *s;

    if (ngx_http_rooms_smcf == NULL) {
        return;
    }

    if (ngx_http_rooms_renew_ev.timer_set) {
        ngx_del_timer(&ngx_http_rooms_renew_ev);
    }

    if (ngx_http_rooms_retry_ev.timer_set) {
        ngx_del_timer(&ngx_http_rooms_retry_ev);
    }

    if (ngx_http_rooms_ends_ev.timer_set) {
        ngx_del_timer(&ngx_http_rooms_ends_ev);
    }

    /* the seats that remain go back with the lease */

    for (q = ngx_queue_head(&ngx_http_rooms_all);
         q != ngx_queue_sentinel(&ngx_http_rooms_all);
         q = ngx_queue_next(q))
    {
        room = ngx_queue_data(q, ngx_http_rooms_room_t, all);

        if (room->until_ev.timer_set) {
            ngx_del_timer(&room->until_ev);
        }

        if (room->flush.posted) {
            ngx_delete_posted_event(&room->flush);
        }

        /*
         * sessions still open when nginx stops (not after a graceful
         * reload or quit: their requests are done by now) end here for
         * the metrics, as their requests' cleanups will never run; the
         * feed hears of them no more than Redis does of their seats
         */

        for (sq = ngx_queue_head(&room->sessions);
             sq != ngx_queue_sentinel(&room->sessions);
             sq = ngx_queue_next(sq))
        {
            s = ngx_queue_data(sq, ngx_http_rooms_session_t, queue);

            if (s->started) {
                s->started = 0;
                ngx_http_rooms_metrics_session_ended(
                                           NGX_HTTP_ROOMS_SESSION_SHUTDOWN);
            }
        }
    }

    ngx_http_rooms_smcf = NULL;
}


/* $rooms_session_end */


const char *
ngx_http_rooms_sessions_end_reason(ngx_http_request_t *r,
    ngx_http_rooms_session_t *s)
{
    if (s == NULL) {
        return NULL;
    }

    if (!s->reason && r->main->count) {
        /* not ended by a change: known once the request is done */
        return NULL;
    }

    return ngx_http_rooms_end_names[ngx_http_rooms_sessions_why(s)];
}


/* why a session whose request is done ended */

static ngx_uint_t
ngx_http_rooms_sessions_why(ngx_http_rooms_session_t *s)
{
    ngx_connection_t  *c;

    if (s->reason) {
        return s->reason;
    }

    c = s->request->connection;

    if (c->error || c->read->eof || c->read->error) {
        return NGX_HTTP_ROOMS_END_CLIENT;
    }

    return NGX_HTTP_ROOMS_END_UPSTREAM;
}


void
ngx_http_rooms_sessions_stats(ngx_uint_t *sessions, ngx_uint_t *rooms,
    size_t *bytes)
{
    *sessions = ngx_http_rooms_nsessions;
    *rooms = ngx_http_rooms_nrooms;
    *bytes = ngx_http_rooms_bytes
             + ngx_http_rooms_nsessions * sizeof(ngx_pool_cleanup_t);
}
