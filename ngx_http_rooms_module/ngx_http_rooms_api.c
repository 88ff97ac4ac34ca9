
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The management API content handler ("rooms_api"): the request body,
 * HMAC authentication as ACS does it, and the routing to the Rooms and
 * Identity operations.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_api.h"
#include "ngx_http_rooms_response.h"
#include "ngx_http_rooms_rooms.h"
#include "ngx_http_rooms_sessions_api.h"
#include "ngx_http_rooms_identity.h"
#include "ngx_http_rooms_metrics.h"
#include "rooms_b64.h"
#include "rooms_hmac.h"
#include "rooms_time.h"


/* how far x-ms-date may be from the server's clock, as ACS allows */
#define NGX_HTTP_ROOMS_DATE_SKEW  (15 * 60)


static void ngx_http_rooms_api_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_rooms_api_auth(ngx_http_request_t *r, u_char *body,
    size_t len, ngx_int_t *rc);
static ngx_int_t ngx_http_rooms_api_route(ngx_http_request_t *r, u_char *body,
    size_t len);
static ngx_int_t ngx_http_rooms_api_content_type(ngx_http_request_t *r,
    size_t len, ngx_int_t *rc);
static ngx_int_t ngx_http_rooms_api_count(ngx_http_request_t *r);


/* what rooms_api_requests_total counts, once the request is done */
typedef struct {
    ngx_http_request_t         *request;
    ngx_http_rooms_op_e         op;
} ngx_http_rooms_api_done_t;


ngx_int_t
ngx_http_rooms_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (ngx_http_rooms_api_count(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method & (NGX_HTTP_HEAD|NGX_HTTP_OPTIONS|NGX_HTTP_PUT
                     |NGX_HTTP_MKCOL|NGX_HTTP_COPY|NGX_HTTP_MOVE
                     |NGX_HTTP_PROPFIND|NGX_HTTP_PROPPATCH|NGX_HTTP_LOCK
                     |NGX_HTTP_UNLOCK|NGX_HTTP_TRACE|NGX_HTTP_UNKNOWN))
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_ALLOWED,
                      "MethodNotAllowed",
                      "The method is not allowed on this resource.");
    }

    if (r->headers_in.content_length_n > (off_t) rlcf->max_body) {
        return ngx_http_rooms_send_simple_error(r,
                      NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                      "RequestEntityTooLarge",
                      "The request body is too large.");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_rooms_api_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_rooms_api_body(ngx_http_request_t *r)
{
    u_char                     *body, *p;
    off_t                       len;
    ssize_t                     n;
    ngx_int_t                   rc;
    ngx_buf_t                  *buf;
    ngx_chain_t                *cl;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    len = 0;
    body = NULL;

    if (r->request_body != NULL) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    if (len > (off_t) rlcf->max_body) {
        rc = ngx_http_rooms_send_simple_error(r,
                      NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                      "RequestEntityTooLarge",
                      "The request body is too large.");
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* one contiguous, NUL-terminated copy, from memory or a temp file */

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = body;

    if (r->request_body != NULL) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            buf = cl->buf;

            if (buf->in_file) {
                n = ngx_read_file(buf->file, p, buf->file_last - buf->file_pos,
                                  buf->file_pos);
                if (n != buf->file_last - buf->file_pos) {
                    ngx_http_finalize_request(r,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                    return;
                }

                p += n;

            } else if (buf->last > buf->pos) {
                p = ngx_cpymem(p, buf->pos, buf->last - buf->pos);
            }
        }
    }

    *p = '\0';

    if (ngx_http_rooms_api_auth(r, body, len, &rc) == NGX_OK
        && ngx_http_rooms_api_content_type(r, len, &rc) == NGX_OK)
    {
        rc = ngx_http_rooms_api_route(r, body, len);
    }

    if (rc == NGX_DONE) {
        /* waits for Redis: the reply handler finalizes the request */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * A body must be JSON: application/json, or application/merge-patch+json
 * as the SDK sends on PATCH, with or without parameters.  A body without
 * a Content-Type is read as JSON too.
 */

static ngx_int_t
ngx_http_rooms_api_content_type(ngx_http_request_t *r, size_t len,
    ngx_int_t *rc)
{
    u_char     *p, *last;
    ngx_str_t   type;

    if (len == 0 || r->headers_in.content_type == NULL) {
        return NGX_OK;
    }

    type = r->headers_in.content_type->value;
    last = type.data + type.len;

    for (p = type.data; p < last && *p != ';' && *p != ' '; p++) {
        /* void */
    }

    type.len = p - type.data;

    if ((type.len == 16
         && ngx_strncasecmp(type.data, (u_char *) "application/json", 16)
            == 0)
        || (type.len == 28
            && ngx_strncasecmp(type.data,
                               (u_char *) "application/merge-patch+json", 28)
               == 0))
    {
        return NGX_OK;
    }

    *rc = ngx_http_rooms_send_simple_error(r,
                  NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType",
                  "The body must be application/json or "
                  "application/merge-patch+json.");

    return NGX_DECLINED;
}


/* authentication: "HMAC-SHA256 SignedHeaders=...&Signature=..." */


/* answers 401; NGX_DECLINED tells the caller the request is answered */

static ngx_int_t
ngx_http_rooms_api_deny(ngx_http_request_t *r, ngx_int_t *rc,
    const char *code, const char *message, const char *why)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms api: authentication failed: %s", why);

    *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_UNAUTHORIZED, code,
                                           message);

    return NGX_DECLINED;
}


/* "VERB\n<path?query as sent>\n<x-ms-date>;<Host>;<hash>", measured or made */

static size_t
ngx_http_rooms_api_string_to_sign(ngx_http_request_t *r, char *buf,
    size_t size, ngx_table_elt_t *xdate, char *hash)
{
    return rooms_hmac_string_to_sign(buf, size,
                                     (char *) r->method_name.data,
                                     r->method_name.len,
                                     (char *) r->unparsed_uri.data,
                                     r->unparsed_uri.len,
                                     (char *) xdate->value.data,
                                     xdate->value.len,
                                     (char *) r->headers_in.host->value.data,
                                     r->headers_in.host->value.len,
                                     hash, 44);
}


static ngx_int_t
ngx_http_rooms_api_auth(ngx_http_request_t *r, u_char *body, size_t len,
    ngx_int_t *rc)
{
    char                        hash[45], *sts;
    size_t                      n;
    int64_t                     date;
    ngx_str_t                  *key;
    ngx_uint_t                  i;
    ngx_table_elt_t            *auth, *xdate, *xhash;
    rooms_hmac_header_t         hh;
    ngx_http_rooms_srv_conf_t  *rscf;

    rscf = ngx_http_get_module_srv_conf(r, ngx_http_rooms_module);

    if (rscf->access_keys == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: no \"rooms_access_key\" configured for "
                      "this server, every request is refused");
        *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_UNAUTHORIZED,
                      "Unauthorized", "No access key is configured.");
        return NGX_DECLINED;
    }

    auth = r->headers_in.authorization;

    if (auth == NULL) {
        return ngx_http_rooms_api_deny(r, rc, "Unauthorized",
                      "The request is not authenticated.",
                      "no Authorization header");
    }

    if (rooms_hmac_parse((char *) auth->value.data, auth->value.len, &hh)
        != 0
        || !rooms_hmac_signed_headers_ok(hh.signed_headers,
                                         hh.signed_headers_len))
    {
        return ngx_http_rooms_api_deny(r, rc, "Unauthorized",
                      "The Authorization header must be \"HMAC-SHA256 "
                      "SignedHeaders=x-ms-date;host;x-ms-content-sha256"
                      "&Signature=...\".",
                      "malformed Authorization header");
    }

    xdate = ngx_http_rooms_find_header(r, "x-ms-date");
    xhash = ngx_http_rooms_find_header(r, "x-ms-content-sha256");

    if (xdate == NULL || xhash == NULL || r->headers_in.host == NULL) {
        return ngx_http_rooms_api_deny(r, rc, "Unauthorized",
                      "The x-ms-date, host and x-ms-content-sha256 headers "
                      "are required.", "signed header missing");
    }

    if (rooms_time_parse_http((char *) xdate->value.data, xdate->value.len,
                              &date)
        != 0
        || date < ngx_time() - NGX_HTTP_ROOMS_DATE_SKEW
        || date > ngx_time() + NGX_HTTP_ROOMS_DATE_SKEW)
    {
        return ngx_http_rooms_api_deny(r, rc, "Unauthorized",
                      "The x-ms-date header is invalid or more than 15 "
                      "minutes away from the server's time.",
                      "x-ms-date missing, malformed or outside 15 minutes");
    }

    rooms_sha256_b64(hash, body, len);

    if (xhash->value.len != 44
        || rooms_ct_memcmp(hash, xhash->value.data, 44) != 0)
    {
        return ngx_http_rooms_api_deny(r, rc, "Denied",
                      "The x-ms-content-sha256 header does not match the "
                      "body.", "content hash does not match the body");
    }

    n = ngx_http_rooms_api_string_to_sign(r, NULL, 0, xdate, hash);

    sts = ngx_pnalloc(r->pool, n + 1);
    if (sts == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    (void) ngx_http_rooms_api_string_to_sign(r, sts, n + 1, xdate, hash);

    key = rscf->access_keys->elts;

    for (i = 0; i < rscf->access_keys->nelts; i++) {
        if (rooms_hmac_verify(key[i].data, key[i].len, sts, n,
                              hh.signature, hh.signature_len)
            == 0)
        {
            return NGX_OK;
        }
    }

    return ngx_http_rooms_api_deny(r, rc, "Unauthorized",
                                   "The request signature is invalid.",
                                   "bad signature");
}


/* routing */


static ngx_int_t
ngx_http_rooms_api_route(ngx_http_request_t *r, u_char *body, size_t len)
{
    ngx_str_t  *uri;

    uri = &r->uri;

    if (uri->len >= 11 && ngx_strncmp(uri->data, "/identities", 11) == 0
        && (uri->len == 11 || uri->data[11] == '/'))
    {
        return ngx_http_rooms_identity_route(r, body, len);
    }

    if (uri->len >= 6 && ngx_strncmp(uri->data, "/rooms", 6) == 0
        && (uri->len == 6 || uri->data[6] == '/'))
    {
        /* "/rooms/{roomId}/sessions[/{rawId}]": live sessions */

        if (ngx_http_rooms_sessions_api_path(uri)) {
            return ngx_http_rooms_sessions_api_route(r);
        }

        return ngx_http_rooms_rooms_route(r, body, len);
    }

    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                  "NotFound", "The resource was not found.");
}


/* metrics: the operation a request asks for, by its method and path */


static ngx_http_rooms_op_e
ngx_http_rooms_api_operation(ngx_http_request_t *r)
{
    u_char      *id, *end, *slash;
    ngx_str_t   *uri;
    ngx_uint_t   m;

    uri = &r->uri;
    m = r->method;
    end = uri->data + uri->len;

    if (uri->len >= 6 && ngx_strncmp(uri->data, "/rooms", 6) == 0) {
        if (uri->len == 6) {
            return (m == NGX_HTTP_GET) ? NGX_HTTP_ROOMS_OP_LIST_ROOMS
                   : (m == NGX_HTTP_POST) ? NGX_HTTP_ROOMS_OP_CREATE_ROOM
                   : NGX_HTTP_ROOMS_OP_OTHER;
        }

        if (uri->data[6] != '/') {
            return NGX_HTTP_ROOMS_OP_OTHER;
        }

        id = uri->data + 7;
        slash = ngx_strlchr(id, end, '/');

        if (slash == NULL) {
            return (m == NGX_HTTP_GET) ? NGX_HTTP_ROOMS_OP_GET_ROOM
                   : (m == NGX_HTTP_PATCH) ? NGX_HTTP_ROOMS_OP_UPDATE_ROOM
                   : (m == NGX_HTTP_DELETE) ? NGX_HTTP_ROOMS_OP_DELETE_ROOM
                   : NGX_HTTP_ROOMS_OP_OTHER;
        }

        if (end - slash == 13 && ngx_strncmp(slash, "/participants", 13) == 0)
        {
            return (m == NGX_HTTP_GET) ? NGX_HTTP_ROOMS_OP_LIST_PARTICIPANTS
                   : (m == NGX_HTTP_PATCH)
                   ? NGX_HTTP_ROOMS_OP_UPDATE_PARTICIPANTS
                   : NGX_HTTP_ROOMS_OP_OTHER;
        }

        return NGX_HTTP_ROOMS_OP_OTHER;
    }

    if (uri->len >= 11 && ngx_strncmp(uri->data, "/identities", 11) == 0) {
        if (uri->len == 11) {
            return (m == NGX_HTTP_POST) ? NGX_HTTP_ROOMS_OP_CREATE_USER
                                        : NGX_HTTP_ROOMS_OP_OTHER;
        }

        if (uri->data[11] != '/') {
            return NGX_HTTP_ROOMS_OP_OTHER;
        }

        id = uri->data + 12;
        slash = ngx_strlchr(id, end, '/');

        if (slash == NULL) {
            return (m == NGX_HTTP_DELETE) ? NGX_HTTP_ROOMS_OP_DELETE_USER
                                          : NGX_HTTP_ROOMS_OP_OTHER;
        }

        if (m != NGX_HTTP_POST) {
            return NGX_HTTP_ROOMS_OP_OTHER;
        }

        if (end - slash == 18
            && ngx_strncmp(slash, "/:issueAccessToken", 18) == 0)
        {
            return NGX_HTTP_ROOMS_OP_ISSUE_TOKEN;
        }

        if (end - slash == 20
            && ngx_strncmp(slash, "/:revokeAccessTokens", 20) == 0)
        {
            return NGX_HTTP_ROOMS_OP_REVOKE_TOKENS;
        }

        return NGX_HTTP_ROOMS_OP_OTHER;
    }

    if (m == NGX_HTTP_POST
        && uri->len == sizeof("/teamsUser/:exchangeAccessToken") - 1
        && ngx_strncmp(uri->data, "/teamsUser/:exchangeAccessToken",
                       uri->len)
           == 0)
    {
        return NGX_HTTP_ROOMS_OP_EXCHANGE_TOKEN;
    }

    return NGX_HTTP_ROOMS_OP_OTHER;
}


static void
ngx_http_rooms_api_done(void *data)
{
    ngx_http_rooms_api_done_t  *d = data;

    /* the request's pool goes: the status is the one the log shows */

    ngx_http_rooms_metrics_api(d->op, d->request->headers_out.status);
}


static ngx_int_t
ngx_http_rooms_api_count(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_rooms_api_done_t  *d;

    if (r != r->main) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_rooms_api_done_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    d = cln->data;
    d->request = r;
    d->op = ngx_http_rooms_api_operation(r);

    cln->handler = ngx_http_rooms_api_done;

    return NGX_OK;
}
