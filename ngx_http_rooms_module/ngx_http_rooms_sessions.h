
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Live sessions ("rooms_session"): a request admitted in such a location
 * takes a seat in its room, in Redis, for as long as its connection lasts
 * (a WebSocket, a long HTTP stream, an HTTP/2 stream).  Each worker keeps
 * its sessions in a registry by room, holds their seats as leases that it
 * renews room by room, and ends a session, closing its connection as
 * nginx's worker_shutdown_timeout does, when a change reaches it through
 * the events: a removal, a role no longer allowed, a room deleted or past
 * its validUntil, a revocation, a deleted identity, a kick, a newer
 * session of the same user; or when its token expires.
 */


#ifndef _NGX_HTTP_ROOMS_SESSIONS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_SESSIONS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_admission.h"


typedef struct ngx_http_rooms_session_s  ngx_http_rooms_session_t;


/* the refusals of admission that only sessions make */
extern const char  ngx_http_rooms_reason_full[];      /* "room is full" */
extern const char  ngx_http_rooms_reason_present[];   /* "already in ..." */


/* directives */
char *ngx_http_rooms_sessions_max_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_rooms_sessions_duplicate_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_rooms_sessions_lease_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_rooms_sessions_gateway_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
/* rooms_gateway_name's default: the host name, checked as the directive */
ngx_int_t ngx_http_rooms_sessions_gateway_default(ngx_conf_t *cf,
    ngx_str_t *name);

ngx_int_t ngx_http_rooms_sessions_init_process(ngx_cycle_t *cycle);
void ngx_http_rooms_sessions_exit_process(ngx_cycle_t *cycle);

/*
 * For an admitted request (ctx->status NGX_OK): NGX_DECLINED when it is
 * no live session (rooms_session off, a subrequest); NGX_AGAIN while its
 * seat is asked for (ctx->state WAITING: the phases are run again once
 * decided, ctx->status then NGX_OK or a refusal); NGX_OK when decided at
 * once (a refusal in ctx); NGX_ERROR
 */
ngx_int_t ngx_http_rooms_sessions_admit(ngx_http_request_t *r,
    ngx_http_rooms_ctx_t *ctx);

/*
 * Why the request's session ended, for $rooms_session_end: NULL while it
 * goes on, or for a request that is no session
 */
const char *ngx_http_rooms_sessions_end_reason(ngx_http_request_t *r,
    ngx_http_rooms_session_t *s);

/* this worker's live sessions, and the bytes they take, for a status */
void ngx_http_rooms_sessions_stats(ngx_uint_t *sessions, ngx_uint_t *rooms,
    size_t *bytes);


#endif /* _NGX_HTTP_ROOMS_SESSIONS_H_INCLUDED_ */
