
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_response.h"


ngx_table_elt_t *
ngx_http_rooms_find_header(ngx_http_request_t *r, char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


ngx_int_t
ngx_http_rooms_add_header(ngx_http_request_t *r, char *name, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_send_json(ngx_http_request_t *r, ngx_uint_t status, char *json)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (json == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: cannot serialize a response");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(json);

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        free(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, json, len);
    free(json);

    /*
     * a body that cannot be read to its end (bad chunks, say) closes the
     * connection after the answer, as nginx's own error pages do
     */

    if (r->discard_body == 0 && r->request_body == NULL
        && ngx_http_discard_request_body(r) != NGX_OK)
    {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    ngx_str_set(&r->headers_out.charset, "utf-8");

    if (status == NGX_HTTP_NO_CONTENT) {
        r->header_only = 1;
        r->headers_out.content_length_n = 0;
        ngx_http_clear_content_length(r);
        r->headers_out.content_type.len = 0;
        return ngx_http_send_header(r);
    }

    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_rooms_send_error(ngx_http_request_t *r, rooms_error_t *err,
    ngx_uint_t log)
{
    size_t      len;
    u_char     *p;
    ngx_uint_t  level;

    len = ngx_strlen(err->code);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, err->code, len);

    if (ngx_http_rooms_add_header(r, "x-ms-error-code", p, len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (log) {
        level = (err->status >= 500) ? NGX_LOG_ERR : NGX_LOG_INFO;

        ngx_log_error(level, r->connection->log, 0,
                      "rooms api: %V %V: %d %s: %s%s%s", &r->method_name,
                      &r->uri, err->status, err->code, err->message,
                      err->detail_code[0] ? " " : "", err->detail_message);
    }

    return ngx_http_rooms_send_json(r, err->status, rooms_error_json(err));
}


ngx_int_t
ngx_http_rooms_send_simple_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    rooms_error_t  err;

    ngx_memzero(&err, sizeof(rooms_error_t));
    rooms_error_set(&err, (int) status, code, message, NULL);

    return ngx_http_rooms_send_error(r, &err, 1);
}


ngx_int_t
ngx_http_rooms_send_unavailable(ngx_http_request_t *r)
{
    if (ngx_http_rooms_add_header(r, "Retry-After", (u_char *) "1", 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                  "ServiceUnavailable",
                  "The store is unavailable, retry later.");
}


ngx_int_t
ngx_http_rooms_error_body(ngx_http_request_t *r, rooms_error_t *err,
    ngx_str_t *json)
{
    char  *s;

    s = rooms_error_json(err);
    if (s == NULL) {
        return NGX_ERROR;
    }

    json->len = ngx_strlen(s);
    json->data = ngx_pnalloc(r->pool, json->len);

    if (json->data != NULL) {
        ngx_memcpy(json->data, s, json->len);
    }

    free(s);

    return json->data != NULL ? NGX_OK : NGX_ERROR;
}


/* batches of a content handler */


ngx_int_t
ngx_http_rooms_wait(ngx_http_request_t *r, ngx_http_rooms_batch_t *b)
{
    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        return ngx_http_rooms_send_unavailable(r);
    }

    return NGX_DONE;
}


ngx_int_t
ngx_http_rooms_replies_ok(ngx_http_request_t *r,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_uint_t  i;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rooms: redis error: %V", &replies[i].str);

            ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_change_ok(ngx_http_request_t *r,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_uint_t  i;

    if (replies == NULL || n == 0
        || replies[0].type == 0
        || replies[0].type == NGX_HTTP_ROOMS_REPLY_ERROR)
    {
        if (replies != NULL && n
            && replies[0].type == NGX_HTTP_ROOMS_REPLY_ERROR)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rooms: redis error: %V", &replies[0].str);
        }

        ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
        return NGX_ERROR;
    }

    for (i = 1; i < n; i++) {
        if (replies[i].type == 0
            || replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rooms: %V %V: the change was made, but redis "
                          "%s%V to what follows it (the listing index or "
                          "the event for other gateways)",
                          &r->method_name, &r->uri,
                          replies[i].type ? "answered " : "did not answer",
                          &replies[i].str);
        }
    }

    return NGX_OK;
}
