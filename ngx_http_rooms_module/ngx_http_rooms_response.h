
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * What the management API answers: headers, JSON bodies, ACS-shaped
 * errors (the caller says whether one is logged), 503 with Retry-After,
 * and the checks of a batch's replies that answer 503 themselves.
 */


#ifndef _NGX_HTTP_ROOMS_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_ROOMS_RESPONSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_redis.h"
#include "rooms_model.h"


/* a header of the request, by name (any case); NULL if there is none */
ngx_table_elt_t *ngx_http_rooms_find_header(ngx_http_request_t *r,
    char *name);

ngx_int_t ngx_http_rooms_add_header(ngx_http_request_t *r, char *name,
    u_char *value, size_t len);

/* json: malloc'd by the models, freed here; NULL answers 500 */
ngx_int_t ngx_http_rooms_send_json(ngx_http_request_t *r, ngx_uint_t status,
    char *json);

/* the error, with x-ms-error-code; logged at info (5xx: error) if log */
ngx_int_t ngx_http_rooms_send_error(ngx_http_request_t *r,
    rooms_error_t *err, ngx_uint_t log);

/* an error of code and message only, logged */
ngx_int_t ngx_http_rooms_send_simple_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);

/* 503 with Retry-After, logged */
ngx_int_t ngx_http_rooms_send_unavailable(ngx_http_request_t *r);

/* the error's JSON body in *json (r->pool) */
ngx_int_t ngx_http_rooms_error_body(ngx_http_request_t *r,
    rooms_error_t *err, ngx_str_t *json);

/*
 * Ends the batch of a content handler: NGX_DONE, its reply handler
 * finalizes the request; or the 503 status to return at once
 */
ngx_int_t ngx_http_rooms_wait(ngx_http_request_t *r,
    ngx_http_rooms_batch_t *b);

/*
 * For a reply handler: NGX_OK when Redis answered every command without
 * an error reply; otherwise the request is answered with 503 and
 * finalized, NGX_ERROR
 */
ngx_int_t ngx_http_rooms_replies_ok(ngx_http_request_t *r,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc);

/*
 * The same for a write whose first command is the change: NGX_OK when it
 * was made (a failure of the commands after it, the listing index or the
 * event for other gateways, is logged, never answered 5xx)
 */
ngx_int_t ngx_http_rooms_change_ok(ngx_http_request_t *r,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc);


#endif /* _NGX_HTTP_ROOMS_RESPONSE_H_INCLUDED_ */
