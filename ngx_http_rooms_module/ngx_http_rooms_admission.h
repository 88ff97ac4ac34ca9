
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Admission ("rooms_admission"): a signed room token and the room's
 * invitee list decide whether a request goes on, in the access phase (and
 * in the precontent phase of a subrequest, which has no access phase: how
 * auth_request asks).  One decision per request, a (status, reason) pair,
 * handed back to nginx, which finalizes a refusal: error_page, auth_delay
 * and satisfy apply to it; without an error_page its body is ACS-shaped
 * JSON.
 */


#ifndef _NGX_HTTP_ROOMS_ADMISSION_H_INCLUDED_
#define _NGX_HTTP_ROOMS_ADMISSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_cache.h"


typedef enum {
    NGX_HTTP_ROOMS_ADMISSION_START = 0,
    NGX_HTTP_ROOMS_ADMISSION_WAITING,       /* for Redis */
    NGX_HTTP_ROOMS_ADMISSION_DECIDED
} ngx_http_rooms_admission_state_e;


typedef struct {
    ngx_http_request_t         *request;    /* whose decision it is */
    ngx_http_rooms_admission_state_e  state;

    /* the decision: status NGX_OK (admitted), 401, 403 or 503 */
    ngx_uint_t                  status;
    const char                 *reason;     /* NULL when admitted */

    /* what it was about, for the variables and the logs */
    ngx_str_t                   room_id;
    ngx_str_t                   user_id;
    ngx_int_t                   role;       /* -1: none */

    /* on the way */
    uint64_t                    room;       /* room_id's value */
    u_char                      user[NGX_HTTP_ROOMS_DIGEST_LEN];
    int64_t                     iat;
    int64_t                     exp;          /* the token's, seconds */
    ngx_http_rooms_snap_t       snap;
    ngx_int_t                   uri_changes;  /* when refused */
    ngx_str_t                   json;         /* the refusal's body */

    /* a live session (rooms_session): ngx_http_rooms_sessions.c's */
    struct ngx_http_rooms_session_s  *session;

    unsigned                    has_iat:1;
    unsigned                    cached:1;     /* the cache is used */
    unsigned                    answered:1;   /* headers set, logged */
    unsigned                    passed:1;     /* "satisfy any" let it on */
    unsigned                    body:1;       /* json replaces nginx's */
    unsigned                    body_sent:1;
} ngx_http_rooms_ctx_t;


/* the handlers and the filters of the refusals' bodies */
ngx_int_t ngx_http_rooms_admission_init(ngx_conf_t *cf);

/* the request's decision, also after an internal redirect; NULL if none */
ngx_http_rooms_ctx_t *ngx_http_rooms_admission_ctx(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ROOMS_ADMISSION_H_INCLUDED_ */
