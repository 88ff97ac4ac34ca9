
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Prometheus metrics ("rooms_metrics"): counters in a shared memory zone,
 * one slot per worker, summed when a "rooms_metrics" location is read;
 * the zone survives "nginx -s reload".  A leaf: the rest of the module
 * calls the recording functions below, and this file calls nothing of
 * the module.  Without a "rooms_metrics" location there is no zone and
 * every recording function returns at once.
 *
 * Never a room id or a user id as a label: every label value comes from a
 * fixed list of this file.
 */


#ifndef _NGX_HTTP_ROOMS_METRICS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* rooms_cache_lookups_total{result} */
#define NGX_HTTP_ROOMS_LOOKUP_HIT          0
#define NGX_HTTP_ROOMS_LOOKUP_MISS         1
#define NGX_HTTP_ROOMS_LOOKUP_BYPASS       2    /* zone not trusted or off */


/* rooms_api_requests_total{operation} */
typedef enum {
    NGX_HTTP_ROOMS_OP_CREATE_ROOM = 0,
    NGX_HTTP_ROOMS_OP_GET_ROOM,
    NGX_HTTP_ROOMS_OP_UPDATE_ROOM,
    NGX_HTTP_ROOMS_OP_DELETE_ROOM,
    NGX_HTTP_ROOMS_OP_LIST_ROOMS,
    NGX_HTTP_ROOMS_OP_LIST_PARTICIPANTS,
    NGX_HTTP_ROOMS_OP_UPDATE_PARTICIPANTS,
    NGX_HTTP_ROOMS_OP_CREATE_USER,
    NGX_HTTP_ROOMS_OP_DELETE_USER,
    NGX_HTTP_ROOMS_OP_ISSUE_TOKEN,
    NGX_HTTP_ROOMS_OP_REVOKE_TOKENS,
    NGX_HTTP_ROOMS_OP_EXCHANGE_TOKEN,
    NGX_HTTP_ROOMS_OP_OTHER,              /* no such path or method */
    NGX_HTTP_ROOMS_OPS
} ngx_http_rooms_op_e;


/* rooms_redis_errors_total{kind} */
typedef enum {
    NGX_HTTP_ROOMS_REDIS_TIMEOUT = 0,     /* a batch not answered in time */
    NGX_HTTP_ROOMS_REDIS_CONNECTION,      /* connect failed, or lost */
    NGX_HTTP_ROOMS_REDIS_PROTOCOL,        /* a reply that cannot be read */
    NGX_HTTP_ROOMS_REDIS_MOVED,           /* error replies, by prefix */
    NGX_HTTP_ROOMS_REDIS_ASK,
    NGX_HTTP_ROOMS_REDIS_TRYAGAIN,
    NGX_HTTP_ROOMS_REDIS_CLUSTERDOWN,
    NGX_HTTP_ROOMS_REDIS_LOADING,
    NGX_HTTP_ROOMS_REDIS_OTHER,           /* any other error reply */
    NGX_HTTP_ROOMS_REDIS_KINDS
} ngx_http_rooms_redis_error_e;


/* rooms_sessions_ended_total{reason}: $rooms_session_end's, and shutdown */
typedef enum {
    NGX_HTTP_ROOMS_SESSION_REMOVED = 0,   /* participant removed */
    NGX_HTTP_ROOMS_SESSION_ROLE_CHANGED,
    NGX_HTTP_ROOMS_SESSION_ROOM_DELETED,
    NGX_HTTP_ROOMS_SESSION_ROOM_EXPIRED,  /* past the room's validUntil */
    NGX_HTTP_ROOMS_SESSION_REVOKED,       /* the user's tokens revoked */
    NGX_HTTP_ROOMS_SESSION_IDENTITY_DELETED,
    NGX_HTTP_ROOMS_SESSION_TOKEN_EXPIRED,
    NGX_HTTP_ROOMS_SESSION_REPLACED,
    NGX_HTTP_ROOMS_SESSION_KICKED,
    NGX_HTTP_ROOMS_SESSION_CLIENT_CLOSED,
    NGX_HTTP_ROOMS_SESSION_UPSTREAM_CLOSED,
    NGX_HTTP_ROOMS_SESSION_SHUTDOWN,      /* still open when nginx stopped */
    NGX_HTTP_ROOMS_SESSION_REASONS
} ngx_http_rooms_session_end_e;


/* configuration */

/* the "rooms_metrics" directive: a location serving the metrics */
char *ngx_http_rooms_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * For the live sessions' configuration: this configuration has sessions,
 * so rooms_sessions, rooms_sessions_ended_total and
 * rooms_session_close_seconds are shown, with 0 values until sessions
 * come.  Without a call they are not shown at all.
 */
ngx_int_t ngx_http_rooms_metrics_sessions_on(ngx_conf_t *cf);

ngx_int_t ngx_http_rooms_metrics_init_process(ngx_cycle_t *cycle);


/* recording, from every part of the module; cheap, and never fails */

/* a decision of admission: reason NULL when admitted, else its reason */
void ngx_http_rooms_metrics_admission(const char *reason);
void ngx_http_rooms_metrics_cache_lookup(ngx_uint_t result);
/* a signature checked; alg NULL when the token named no key of the set */
void ngx_http_rooms_metrics_token_verification(const char *alg);

/* an API request done, with the status it was answered with */
void ngx_http_rooms_metrics_api(ngx_http_rooms_op_e op, ngx_uint_t status);

/* the cache zone's own counters, read where they are (init_process) */
void ngx_http_rooms_metrics_cache_zone(ngx_atomic_t *entries,
    ngx_atomic_t *evictions);
void ngx_http_rooms_metrics_event_received(void);
void ngx_http_rooms_metrics_event_gap(void);
/* this worker's subscription to the events: 1 up, 0 down */
void ngx_http_rooms_metrics_subscription_up(ngx_uint_t up);

/*
 * Redis, for the adapter: a monotonic clock in microseconds (0 when there
 * are no metrics, so that nothing is timed), the end of one request to
 * Redis (a batch: answered, failed or timed out) begun at start, an
 * error by kind, a reconnection attempt, and whether this worker can send
 * commands now (call on every change).
 */
uint64_t ngx_http_rooms_metrics_now(void);
void ngx_http_rooms_metrics_redis_duration(uint64_t start);
void ngx_http_rooms_metrics_redis_error(ngx_http_rooms_redis_error_e kind);
/* the kind of an error reply, by its first word (MOVED, ASK, ...) */
ngx_http_rooms_redis_error_e ngx_http_rooms_metrics_redis_error_kind(
    u_char *reply, size_t len);
void ngx_http_rooms_metrics_redis_reconnect(void);
void ngx_http_rooms_metrics_redis_up(ngx_uint_t up);

/*
 * Live sessions: one admitted; one ended, and why (exactly once for each
 * one started: rooms_sessions is their difference); the time from the
 * gateway hearing of what ends a session to its request's end
 */
void ngx_http_rooms_metrics_session_started(void);
void ngx_http_rooms_metrics_session_ended(ngx_http_rooms_session_end_e why);
void ngx_http_rooms_metrics_session_close(uint64_t usec);


#endif /* _NGX_HTTP_ROOMS_METRICS_H_INCLUDED_ */
