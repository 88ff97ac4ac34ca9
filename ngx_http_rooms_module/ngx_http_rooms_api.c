
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The management API content handler ("rooms_api"): request body, HMAC
 * authentication as ACS does it, routing, and the Rooms REST operations
 * on Redis.  Identity operations live in ngx_http_rooms_identity.c.
 *
 * Redis layout (every key of one room shares the {roomId} hash slot):
 *     rooms:{ID}       hash  c (createdAt), f (validFrom), u (validUntil),
 *                            p (pstnDialOutEnabled), times in microseconds
 *     rooms:{ID}:p     hash  raw user id -> role name
 *     rooms:{ID}:rep   hash  h (the request's body hash), c, f, u, p: the
 *                            create request with a Repeatability-Request-ID
 *                            that made the room, whose id derives from it
 *     rooms:index      zset  room id scored by createdAt, for listing
 * The room keys expire at validUntil, the request's record at validUntil
 * or after NGX_HTTP_ROOMS_REP_TTL, whichever is later.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_redis.h"
#include "ngx_http_rooms_cache.h"
#include "rooms_b64.h"
#include "rooms_hmac.h"
#include "rooms_id.h"
#include "rooms_time.h"


#define NGX_HTTP_ROOMS_PAGE_DEFAULT  100
#define NGX_HTTP_ROOMS_PAGE_MAX      1000
#define NGX_HTTP_ROOMS_TIE_SLACK     32
#define NGX_HTTP_ROOMS_REP_TTL       (86400 * 1000)    /* ms */
#define NGX_HTTP_ROOMS_CREATE_TRIES  3


typedef struct {
    ngx_str_t                 id;
    u_char                    id_buf[ROOMS_ID_MAX_LEN + 1];
    u_char                    key_room[32];
    u_char                    key_parts[34];
    u_char                    key_rep[36];
    size_t                    key_room_len;
    size_t                    key_parts_len;
    size_t                    key_rep_len;
    char                      rep_hash[45];   /* "": not repeatable */
    ngx_uint_t                tries;
    int                       api;
    int64_t                   created_at;
    rooms_room_req_t          req;
    ngx_http_rooms_cmd_t     *cmd;
    ngx_int_t                 page_size;
    ngx_str_t                 token;
    int64_t                   token_score;
    ngx_str_t                 token_id;
    ngx_http_rooms_reply_t   *ids;        /* list: the index page */
    ngx_http_rooms_reply_t   *created;    /* create: c, f, u, p */
    ngx_uint_t                nids;
    ngx_uint_t                more;
} ngx_http_rooms_api_ctx_t;


static void ngx_http_rooms_api_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_rooms_api_auth(ngx_http_request_t *r, u_char *body,
    size_t len, ngx_int_t *rc);
static ngx_int_t ngx_http_rooms_api_route(ngx_http_request_t *r, u_char *body,
    size_t len);
static ngx_int_t ngx_http_rooms_api_content_type(ngx_http_request_t *r,
    size_t len, ngx_int_t *rc);
static ngx_int_t ngx_http_rooms_api_append_index(ngx_http_request_t *r,
    ngx_http_rooms_batch_t *b, ngx_http_rooms_api_ctx_t *ctx);


static ngx_int_t  ngx_http_rooms_script_create;
static ngx_int_t  ngx_http_rooms_script_update;
static ngx_int_t  ngx_http_rooms_script_patch;


/*
 * create: KEYS room, participants and, for a request with a
 * Repeatability-Request-ID, its record; ARGV c, f, u, p, expire at (ms),
 * the request's body hash, the record's expiry (ms), then (id, role)
 * pairs.  Returns {1, c, f, u, p} when created; for a retry, the first
 * request's answer {0, c, f, u, p} (whatever became of the room since), or
 * {-2} when the body differs; {-1} when the id is taken.  A retry never
 * writes.
 */

static const char  ngx_http_rooms_lua_create[] =
    "if KEYS[3] then\n"
    "  local m = redis.call('HMGET', KEYS[3], 'h', 'c', 'f', 'u', 'p')\n"
    "  if m[1] then\n"
    "    if m[1] ~= ARGV[6] then return {-2} end\n"
    "    return {0, m[2], m[3], m[4], m[5]}\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end\n"
    "redis.call('HSET', KEYS[1], 'c', ARGV[1], 'f', ARGV[2], 'u', ARGV[3],"
    " 'p', ARGV[4])\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[5])\n"
    "if #ARGV > 7 then\n"
    "  redis.call('HSET', KEYS[2], unpack(ARGV, 8))\n"
    "  redis.call('PEXPIREAT', KEYS[2], ARGV[5])\n"
    "end\n"
    "if KEYS[3] then\n"
    "  redis.call('HSET', KEYS[3], 'h', ARGV[6], 'c', ARGV[1], 'f', ARGV[2],"
    " 'u', ARGV[3], 'p', ARGV[4])\n"
    "  redis.call('PEXPIREAT', KEYS[3], ARGV[7])\n"
    "end\n"
    "return {1, ARGV[1], ARGV[2], ARGV[3], ARGV[4]}\n";

/*
 * update: ARGV now, validFrom, validUntil, pstn ('' keeps), max window;
 * returns {1, c, f, u, p}, {0} for an unknown room, {-1, f, u} for a
 * window that is refused (C explains why)
 */

static const char  ngx_http_rooms_lua_update[] =
    "local r = redis.call('HMGET', KEYS[1], 'c', 'f', 'u', 'p')\n"
    "if not r[1] then return {0} end\n"
    "local f = ARGV[2] ~= '' and ARGV[2] or r[2]\n"
    "local u = ARGV[3] ~= '' and ARGV[3] or r[3]\n"
    "local p = ARGV[4] ~= '' and ARGV[4] or r[4]\n"
    "local fn, un = tonumber(f), tonumber(u)\n"
    "if un <= fn or un - fn > tonumber(ARGV[5])"
    " or un <= tonumber(ARGV[1]) then return {-1, f, u} end\n"
    "redis.call('HSET', KEYS[1], 'f', f, 'u', u, 'p', p)\n"
    "local at = string.format('%d', math.floor(un / 1000))\n"
    "redis.call('PEXPIREAT', KEYS[1], at)\n"
    "redis.call('PEXPIREAT', KEYS[2], at)\n"
    "return {1, r[1], f, u, p}\n";

/*
 * participants: ARGV n, then n (id, role) pairs, then ids to remove;
 * returns 0 for an unknown room
 */

static const char  ngx_http_rooms_lua_patch[] =
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "if ttl == -2 then return 0 end\n"
    "local n = tonumber(ARGV[1])\n"
    "if n > 0 then redis.call('HSET', KEYS[2], unpack(ARGV, 2, 1 + 2 * n))"
    " end\n"
    "if #ARGV > 1 + 2 * n then\n"
    "  redis.call('HDEL', KEYS[2], unpack(ARGV, 2 + 2 * n))\n"
    "end\n"
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end\n"
    "return 1\n";


ngx_int_t
ngx_http_rooms_api_init(ngx_conf_t *cf)
{
    ngx_http_rooms_script_create = ngx_http_rooms_redis_add_script(cf,
                                                  ngx_http_rooms_lua_create);
    ngx_http_rooms_script_update = ngx_http_rooms_redis_add_script(cf,
                                                  ngx_http_rooms_lua_update);
    ngx_http_rooms_script_patch = ngx_http_rooms_redis_add_script(cf,
                                                  ngx_http_rooms_lua_patch);

    if (ngx_http_rooms_script_create == NGX_ERROR
        || ngx_http_rooms_script_update == NGX_ERROR
        || ngx_http_rooms_script_patch == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* responses */


static ngx_int_t
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

    if (r->discard_body == 0 && r->request_body == NULL) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
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
ngx_http_rooms_send_error(ngx_http_request_t *r, rooms_error_t *err)
{
    size_t                      len;
    u_char                     *p;
    ngx_uint_t                  level;
    ngx_http_rooms_loc_conf_t  *rlcf;

    len = ngx_strlen(err->code);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, err->code, len);

    if (ngx_http_rooms_add_header(r, "x-ms-error-code", p, len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

    if (!rlcf->api) {
        /* admission logs its refusals itself */
        goto send;
    }

    level = (err->status >= 500) ? NGX_LOG_ERR : NGX_LOG_INFO;

    ngx_log_error(level, r->connection->log, 0,
                  "rooms api: %V %V: %d %s: %s%s%s", &r->method_name,
                  &r->uri, err->status, err->code, err->message,
                  err->detail_code[0] ? " " : "", err->detail_message);

send:

    return ngx_http_rooms_send_json(r, err->status, rooms_error_json(err));
}


ngx_int_t
ngx_http_rooms_send_simple_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    rooms_error_t  err;

    ngx_memzero(&err, sizeof(rooms_error_t));
    rooms_error_set(&err, (int) status, code, message, NULL);

    return ngx_http_rooms_send_error(r, &err);
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


/* the content handler */


ngx_int_t
ngx_http_rooms_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_rooms_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_rooms_module);

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


static ngx_table_elt_t *
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

    n = rooms_hmac_string_to_sign(NULL, 0,
                                  (char *) r->method_name.data,
                                  r->method_name.len,
                                  (char *) r->unparsed_uri.data,
                                  r->unparsed_uri.len,
                                  (char *) xdate->value.data,
                                  xdate->value.len,
                                  (char *) r->headers_in.host->value.data,
                                  r->headers_in.host->value.len,
                                  hash, 44);

    sts = ngx_pnalloc(r->pool, n + 1);
    if (sts == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    (void) rooms_hmac_string_to_sign(sts, n + 1,
                                     (char *) r->method_name.data,
                                     r->method_name.len,
                                     (char *) r->unparsed_uri.data,
                                     r->unparsed_uri.len,
                                     (char *) xdate->value.data,
                                     xdate->value.len,
                                     (char *) r->headers_in.host->value.data,
                                     r->headers_in.host->value.len,
                                     hash, 44);

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


/* helpers for the operations */


/* sends the batch: NGX_DONE, its handler finalizes; or 503 at once */

ngx_int_t
ngx_http_rooms_api_wait(ngx_http_request_t *r, ngx_http_rooms_batch_t *b)
{
    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        return ngx_http_rooms_send_unavailable(r);
    }

    return NGX_DONE;
}


/* NGX_OK, or NGX_DECLINED with the request answered and *rc set */

static ngx_int_t
ngx_http_rooms_api_version(ngx_http_request_t *r, ngx_http_rooms_api_ctx_t *ctx,
    ngx_int_t *rc)
{
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) "api-version", 11, &v) == NGX_OK) {
        ctx->api = rooms_api_version_parse((char *) v.data, v.len);

        if (ctx->api != 0) {
            return NGX_OK;
        }
    }

    *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                  "BadRequest",
                  "The api-version query parameter is missing or not "
                  "supported (use 2025-03-13, 2024-04-15 or 2023-06-14).");

    return NGX_DECLINED;
}


/* Collaborator exists from api-version 2025-03-13 on */

static ngx_int_t
ngx_http_rooms_api_roles(ngx_http_request_t *r, ngx_http_rooms_api_ctx_t *ctx,
    ngx_int_t *rc)
{
    size_t                i;
    rooms_participant_t  *p;

    p = ctx->req.participants;

    for (i = 0; i < ctx->req.nparticipants; i++) {
        if (p[i].role != ROOMS_ROLE_REMOVE
            && !rooms_role_allowed(p[i].role, ctx->api))
        {
            *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest",
                          "The role is not supported in this api-version.");
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_http_rooms_api_free_req(void *data)
{
    rooms_room_req_free(data);
}


static ngx_int_t
ngx_http_rooms_api_keep_req(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        rooms_room_req_free(&ctx->req);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_rooms_api_free_req;
    cln->data = &ctx->req;

    return NGX_OK;
}


static void
ngx_http_rooms_api_set_id(ngx_http_rooms_api_ctx_t *ctx, u_char *id,
    size_t len)
{
    /* a NUL-terminated copy: the path is not, and replies are reused */

    ctx->id.data = ctx->id_buf;
    ctx->id.len = len;
    *ngx_cpymem(ctx->id_buf, id, len) = '\0';

    ctx->key_room_len = ngx_sprintf(ctx->key_room, "rooms:{%*s}", len, id)
                        - ctx->key_room;
    ctx->key_parts_len = ngx_sprintf(ctx->key_parts, "rooms:{%*s}:p", len, id)
                         - ctx->key_parts;
    ctx->key_rep_len = ngx_sprintf(ctx->key_rep, "rooms:{%*s}:rep", len, id)
                       - ctx->key_rep;
}


/*
 * A change to the room: other gateways learn of it by pub/sub, this one
 * before the response leaves, so the next admission already sees it.
 */

static ngx_int_t
ngx_http_rooms_api_publish(ngx_http_request_t *r, ngx_http_rooms_batch_t *b,
    ngx_http_rooms_api_ctx_t *ctx)
{
    u_char  *msg;

    msg = ngx_pnalloc(r->pool, 2 + ctx->id.len);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_rooms_redis_append_publish(b, msg,
                                    ngx_http_rooms_event_room(msg, &ctx->id));
}


static void
ngx_http_rooms_api_changed(ngx_http_rooms_api_ctx_t *ctx)
{
    ngx_http_rooms_cache_invalidate_room(
                               (uint64_t) ngx_atoof(ctx->id.data, ctx->id.len));
}


static int64_t
ngx_http_rooms_reply_int64(ngx_http_rooms_reply_t *rep)
{
    int64_t  v;

    if (rep->type == NGX_HTTP_ROOMS_REPLY_INTEGER) {
        return rep->integer;
    }

    if (rep->type == NGX_HTTP_ROOMS_REPLY_STRING
        && rooms_time_parse_int((char *) rep->str.data, rep->str.len, &v)
           == 0)
    {
        return v;
    }

    return ROOMS_TIME_UNSET;
}


/* c, f, u, p as four consecutive string replies */

static void
ngx_http_rooms_api_room(ngx_http_rooms_api_ctx_t *ctx,
    ngx_http_rooms_reply_t *f, rooms_room_t *room)
{
    room->id = (char *) ctx->id.data;
    room->created_at = ngx_http_rooms_reply_int64(&f[0]);
    room->valid_from = ngx_http_rooms_reply_int64(&f[1]);
    room->valid_until = ngx_http_rooms_reply_int64(&f[2]);
    room->pstn = ngx_http_rooms_reply_int64(&f[3]) == 1;
}


/*
 * NGX_OK when Redis answered every command without an error reply;
 * otherwise the response is sent and the request finalized
 */

ngx_int_t
ngx_http_rooms_api_replies_ok(ngx_http_request_t *r,
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


/*
 * For a write, whose first command is the change: NGX_OK when the change
 * was made.  What follows it (the index, the event for other gateways) is
 * logged when it failed, never answered with a 5xx for a change that was
 * made.  Otherwise (not made, or no answer: not known) the response is
 * a 503 and the request finalized.
 */

ngx_int_t
ngx_http_rooms_api_change_ok(ngx_http_request_t *r,
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


static ngx_int_t
ngx_http_rooms_api_not_found(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "The room was not found.");
}


static ngx_int_t
ngx_http_rooms_api_send_room(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx, ngx_uint_t status,
    ngx_http_rooms_reply_t *fields)
{
    rooms_room_t  room;

    ngx_http_rooms_api_room(ctx, fields, &room);

    return ngx_http_rooms_send_json(r, status,
                                    rooms_room_json(&room, ctx->api));
}


/* POST /rooms */


static ngx_int_t ngx_http_rooms_api_create_exec(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx);


/* 201 with the room's fields, element 1..4 of the script's reply */

static ngx_int_t
ngx_http_rooms_api_send_created(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx, ngx_http_rooms_reply_t *fields)
{
    u_char  *loc;

    loc = ngx_pnalloc(r->pool, sizeof("/rooms/") - 1 + ctx->id.len);
    if (loc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_add_header(r, "Location", loc,
                                  ngx_sprintf(loc, "/rooms/%V", &ctx->id)
                                  - loc)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->rep_hash[0]
        && ngx_http_rooms_add_header(r, "Repeatability-Result",
                                     (u_char *) "accepted", 8)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_rooms_api_send_room(r, ctx, NGX_HTTP_CREATED, fields);
}


/* a repeatable create, once the room is made: listed, and published */

static void
ngx_http_rooms_api_indexed_new(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    ngx_uint_t  i;

    for (i = 0; rc == NGX_OK && i < n; i++) {
        if (replies[i].type == NGX_HTTP_ROOMS_REPLY_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK) {
        /* the room exists: the answer stays 201 */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rooms api: room %V created, but not indexed for "
                      "listing nor announced to other gateways: redis "
                      "failed", &ctx->id);
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_api_send_created(r, ctx, ctx->created));
}


static void
ngx_http_rooms_api_created(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    u_char                  *p;
    size_t                   len;
    ngx_http_rooms_reply_t  *res;
    ngx_http_rooms_batch_t  *b;

    /* made or not, nothing this gateway cached about the room holds */
    ngx_http_rooms_api_changed(ctx);

    if (ngx_http_rooms_api_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    res = &replies[0];

    if (res->type != NGX_HTTP_ROOMS_REPLY_ARRAY || res->elements == 0) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    switch (res->element[0].integer) {

    case 1:
        if (res->elements != 5) {
            break;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V created with %uz participants",
                      &ctx->id, ctx->req.nparticipants);

        if (!ctx->rep_hash[0]) {
            /* indexed and published in the same round trip */
            ngx_http_finalize_request(r,
                ngx_http_rooms_api_send_created(r, ctx, &res->element[1]));
            return;
        }

        ctx->created = &res->element[1];

        b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_indexed_new,
                                       ctx);

        if (b != NULL && ngx_http_rooms_api_append_index(r, b, ctx) != NGX_OK)
        {
            ngx_http_rooms_redis_abort(b);
            b = NULL;
        }

        if (b == NULL || ngx_http_rooms_redis_end(b) != NGX_OK) {
            ngx_http_rooms_api_indexed_new(r, ctx, NULL, 0, NGX_ERROR);
        }

        return;

    case 0:
        if (res->elements != 5) {
            break;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V: a repeated request, answered "
                      "as the first one was", &ctx->id);

        ngx_http_finalize_request(r,
            ngx_http_rooms_api_send_created(r, ctx, &res->element[1]));
        return;

    case -1:
        if (ctx->rep_hash[0]) {
            ngx_http_finalize_request(r,
                ngx_http_rooms_send_simple_error(r, NGX_HTTP_CONFLICT,
                    "Conflict",
                    "The room of this Repeatability-Request-ID exists, but "
                    "the request is no longer remembered: send a new "
                    "Repeatability-Request-ID."));
            return;
        }

        /* a random id that is taken: another one */

        if (++ctx->tries < NGX_HTTP_ROOMS_CREATE_TRIES) {
            p = ngx_pnalloc(r->pool, ROOMS_ID_MAX_LEN + 1);
            if (p == NULL || rooms_id_generate((char *) p, &len) != 0) {
                break;
            }

            ngx_http_rooms_api_set_id(ctx, p, len);

            rc = ngx_http_rooms_api_create_exec(r, ctx);

            if (rc != NGX_DONE) {
                ngx_http_finalize_request(r, rc);
            }

            return;
        }

        break;

    case -2:
        if (ngx_http_rooms_add_header(r, "Repeatability-Result",
                                      (u_char *) "rejected", 8)
            != NGX_OK)
        {
            break;
        }

        ngx_http_finalize_request(r,
            ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                "BadRequest",
                "The request does not match the earlier request with this "
                "Repeatability-Request-ID."));
        return;
    }

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* ZADD NX rooms:index createdAt id, and the event for other gateways */

static ngx_int_t
ngx_http_rooms_api_append_index(ngx_http_request_t *r,
    ngx_http_rooms_batch_t *b, ngx_http_rooms_api_ctx_t *ctx)
{
    u_char      *score;
    const char  *argv[5];
    size_t       argvlen[5];

    score = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (score == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "ZADD";
    argvlen[0] = 4;
    argv[1] = "rooms:index";
    argvlen[1] = 11;
    argv[2] = "NX";
    argvlen[2] = 2;
    argv[3] = (char *) score;
    argvlen[3] = ngx_sprintf(score, "%L", ctx->created_at) - score;
    argv[4] = (char *) ctx->id.data;
    argvlen[4] = ctx->id.len;

    if (ngx_http_rooms_redis_append(b, 5, argv, argvlen) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_rooms_api_publish(r, b, ctx);
}


static ngx_int_t
ngx_http_rooms_api_create_exec(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx)
{
    u_char                  *p, *nums;
    size_t                   i, argc, first;
    const char             **argv;
    size_t                  *argvlen;
    int64_t                  v, record;
    ngx_http_rooms_batch_t  *b;

    /*
     * EVALSHA sha nkeys room parts [record] c f u p expire_at_ms hash
     * record_expire_at_ms [id role]...
     */

    first = ctx->rep_hash[0] ? 13 : 12;
    argc = first + 2 * ctx->req.nparticipants;

    argv = ngx_palloc(r->pool, argc * sizeof(char *));
    argvlen = ngx_palloc(r->pool, argc * sizeof(size_t));
    nums = ngx_pnalloc(r->pool, 6 * (NGX_INT64_LEN + 1));

    if (argv == NULL || argvlen == NULL || nums == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[2] = ctx->rep_hash[0] ? "3" : "2";
    argvlen[2] = 1;
    argv[3] = (char *) ctx->key_room;
    argvlen[3] = ctx->key_room_len;
    argv[4] = (char *) ctx->key_parts;
    argvlen[4] = ctx->key_parts_len;

    i = 5;

    if (ctx->rep_hash[0]) {
        argv[i] = (char *) ctx->key_rep;
        argvlen[i++] = ctx->key_rep_len;
    }

    record = ngx_max(ctx->req.valid_until / 1000,
                     ctx->created_at / 1000 + NGX_HTTP_ROOMS_REP_TTL);

    p = nums;

    for ( /* void */ ; i < first; i++) {
        switch (i - (first - 7)) {
        case 0: v = ctx->created_at; break;
        case 1: v = ctx->req.valid_from; break;
        case 2: v = ctx->req.valid_until; break;
        case 3: v = (ctx->req.pstn == 1); break;
        case 4: v = ctx->req.valid_until / 1000; break;
        case 5:
            argv[i] = ctx->rep_hash;
            argvlen[i] = ngx_strlen(ctx->rep_hash);
            continue;
        default: v = record; break;
        }

        argv[i] = (char *) p;
        p = ngx_sprintf(p, "%L", v);
        argvlen[i] = p - (u_char *) argv[i];
    }

    for (i = 0; i < ctx->req.nparticipants; i++) {
        argv[first + 2 * i] = ctx->req.participants[i].raw_id;
        argvlen[first + 2 * i] = ngx_strlen(ctx->req.participants[i].raw_id);
        argv[first + 1 + 2 * i] =
                              rooms_role_name(ctx->req.participants[i].role);
        argvlen[first + 1 + 2 * i] = ngx_strlen(argv[first + 1 + 2 * i]);
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_created, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append_script(b, ngx_http_rooms_script_create,
                                              argc, argv, argvlen);

    if (!ctx->rep_hash[0]) {
        /* a retry of it is impossible: no need to wait for the answer */
        (void) ngx_http_rooms_api_append_index(r, b, ctx);
    }

    return ngx_http_rooms_api_wait(r, b);
}


static ngx_int_t
ngx_http_rooms_api_create(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx, u_char *body, size_t len)
{
    u_char           *id;
    size_t            idlen, i;
    ngx_int_t         rc;
    rooms_error_t     err;
    ngx_table_elt_t  *rep;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_model_parse_create((char *) body, len, &ctx->req, &err) != 0) {
        return ngx_http_rooms_send_error(r, &err);
    }

    if (ngx_http_rooms_api_keep_req(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_api_roles(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    ctx->created_at = rooms_time_now_us();

    if (rooms_model_check_window(ctx->created_at, &ctx->req.valid_from,
                                 &ctx->req.valid_until, &err)
        != 0)
    {
        return ngx_http_rooms_send_error(r, &err);
    }

    id = ngx_pnalloc(r->pool, ROOMS_ID_MAX_LEN + 1);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rep = ngx_http_rooms_find_header(r, "Repeatability-Request-ID");

    if (rep == NULL) {
        if (rooms_id_generate((char *) id, &idlen) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_rooms_api_set_id(ctx, id, idlen);

        return ngx_http_rooms_api_create_exec(r, ctx);
    }

    /*
     * at most once: the request names its room, and the room's record of
     * the request answers every retry as the first request was answered
     */

    for (i = 0; i < rep->value.len; i++) {
        if (!isalnum(rep->value.data[i]) && rep->value.data[i] != '-') {
            break;
        }
    }

    if (rep->value.len == 0 || rep->value.len > 64 || i != rep->value.len) {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest",
                      "Repeatability-Request-ID must be 1 to 64 letters, "
                      "digits or dashes.");
    }

    if (rooms_id_for_request((char *) id, &idlen, (char *) rep->value.data,
                             rep->value.len)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_rooms_api_set_id(ctx, id, idlen);
    rooms_sha256_b64(ctx->rep_hash, body, len);

    return ngx_http_rooms_api_create_exec(r, ctx);
}


/* GET /rooms/{id} */


static void
ngx_http_rooms_api_got(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    if (ngx_http_rooms_api_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    if (replies[0].elements != 4
        || replies[0].element[0].type != NGX_HTTP_ROOMS_REPLY_STRING)
    {
        ngx_http_finalize_request(r, ngx_http_rooms_api_not_found(r));
        return;
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_api_send_room(r, ctx, NGX_HTTP_OK, replies[0].element));
}


static ngx_int_t
ngx_http_rooms_api_append_hmget(ngx_http_rooms_batch_t *b,
    ngx_http_rooms_api_ctx_t *ctx)
{
    const char  *argv[6];
    size_t       argvlen[6];

    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = (char *) ctx->key_room;
    argvlen[1] = ctx->key_room_len;
    argv[2] = "c";
    argv[3] = "f";
    argv[4] = "u";
    argv[5] = "p";
    argvlen[2] = argvlen[3] = argvlen[4] = argvlen[5] = 1;

    return ngx_http_rooms_redis_append(b, 6, argv, argvlen);
}


static ngx_int_t
ngx_http_rooms_api_get(ngx_http_request_t *r, ngx_http_rooms_api_ctx_t *ctx)
{
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_got, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_api_append_hmget(b, ctx);

    return ngx_http_rooms_api_wait(r, b);
}


/* PATCH /rooms/{id} */


static void
ngx_http_rooms_api_updated(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    int64_t                  f, u;
    rooms_error_t            err;
    ngx_http_rooms_reply_t  *res;

    /* made or not, nothing this gateway cached about the room holds */
    ngx_http_rooms_api_changed(ctx);

    if (ngx_http_rooms_api_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    res = &replies[0];

    if (res->type != NGX_HTTP_ROOMS_REPLY_ARRAY || res->elements == 0) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    switch (res->element[0].integer) {

    case 1:
        if (res->elements != 5) {
            break;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rooms api: room %V updated", &ctx->id);

        ngx_http_finalize_request(r,
            ngx_http_rooms_api_send_room(r, ctx, NGX_HTTP_OK,
                                         &res->element[1]));
        return;

    case 0:
        ngx_http_finalize_request(r, ngx_http_rooms_api_not_found(r));
        return;

    case -1:
        if (res->elements != 3) {
            break;
        }

        /* the window the update would give: explain why it is refused */

        ngx_memzero(&err, sizeof(rooms_error_t));

        f = ngx_http_rooms_reply_int64(&res->element[1]);
        u = ngx_http_rooms_reply_int64(&res->element[2]);

        if (rooms_model_check_window(rooms_time_now_us(), &f, &u, &err)
            != 0)
        {
            ngx_http_finalize_request(r, ngx_http_rooms_send_error(r, &err));
            return;
        }

        break;
    }

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


static ngx_int_t
ngx_http_rooms_api_update(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx, u_char *body, size_t len)
{
    u_char                  *p, *nums;
    size_t                   i;
    int64_t                  v;
    const char              *argv[10];
    size_t                   argvlen[10];
    rooms_error_t            err;
    ngx_http_rooms_batch_t  *b;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_model_parse_update((char *) body, len, &ctx->req, &err) != 0) {
        return ngx_http_rooms_send_error(r, &err);
    }

    if (ngx_http_rooms_api_keep_req(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nums = ngx_pnalloc(r->pool, 5 * (NGX_INT64_LEN + 1));
    if (nums == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* EVALSHA sha 2 room parts now f u p maxwindow; '' keeps a field */

    argv[2] = "2";
    argvlen[2] = 1;
    argv[3] = (char *) ctx->key_room;
    argvlen[3] = ctx->key_room_len;
    argv[4] = (char *) ctx->key_parts;
    argvlen[4] = ctx->key_parts_len;

    p = nums;

    for (i = 0; i < 5; i++) {
        v = i == 0 ? rooms_time_now_us()
            : i == 1 ? ctx->req.valid_from
            : i == 2 ? ctx->req.valid_until
            : i == 3 ? (ctx->req.pstn < 0 ? ROOMS_TIME_UNSET : ctx->req.pstn)
            : NGX_HTTP_ROOMS_MAX_WINDOW;

        argv[5 + i] = (char *) p;

        if (v != ROOMS_TIME_UNSET) {
            p = ngx_sprintf(p, "%L", v);
        }

        argvlen[5 + i] = p - (u_char *) argv[5 + i];
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_updated, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append_script(b, ngx_http_rooms_script_update,
                                              10, argv, argvlen);
    (void) ngx_http_rooms_api_publish(r, b, ctx);

    return ngx_http_rooms_api_wait(r, b);
}


/* DELETE /rooms/{id} */


static void
ngx_http_rooms_api_deleted(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    /* made or not, nothing this gateway cached about the room holds */
    ngx_http_rooms_api_changed(ctx);

    if (ngx_http_rooms_api_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    if (replies[0].integer == 0) {
        ngx_http_finalize_request(r, ngx_http_rooms_api_not_found(r));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms api: room %V deleted", &ctx->id);

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_NO_CONTENT, strdup("")));
}


static ngx_int_t
ngx_http_rooms_api_delete(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx)
{
    const char              *argv[3];
    size_t                   argvlen[3];
    ngx_http_rooms_batch_t  *b;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_deleted, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) ctx->key_room;
    argvlen[1] = ctx->key_room_len;
    argv[2] = (char *) ctx->key_parts;
    argvlen[2] = ctx->key_parts_len;

    (void) ngx_http_rooms_redis_append(b, 3, argv, argvlen);

    argv[0] = "ZREM";
    argvlen[0] = 4;
    argv[1] = "rooms:index";
    argvlen[1] = 11;
    argv[2] = (char *) ctx->id.data;
    argvlen[2] = ctx->id.len;

    (void) ngx_http_rooms_redis_append(b, 3, argv, argvlen);
    (void) ngx_http_rooms_api_publish(r, b, ctx);

    return ngx_http_rooms_api_wait(r, b);
}


/* paging */


static ngx_int_t
ngx_http_rooms_api_paging(ngx_http_request_t *r, ngx_http_rooms_api_ctx_t *ctx,
    ngx_int_t *rc)
{
    ngx_str_t  v;

    ctx->page_size = NGX_HTTP_ROOMS_PAGE_DEFAULT;

    if (ngx_http_arg(r, (u_char *) "maxpagesize", 11, &v) == NGX_OK) {
        ctx->page_size = ngx_atoi(v.data, v.len);

        if (ctx->page_size < 1 || ctx->page_size > NGX_HTTP_ROOMS_PAGE_MAX) {
            *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest", "maxpagesize must be 1 to 1000.");
            return NGX_DECLINED;
        }
    }

    if (ngx_http_arg(r, (u_char *) "continuationToken", 17, &v) == NGX_OK) {
        if (v.len == 0 || v.len > 1024) {
            goto invalid;
        }

        ctx->token = v;
    }

    return NGX_OK;

invalid:

    *rc = ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                                           "BadRequest",
                                           "The continuation token is "
                                           "invalid.");
    return NGX_DECLINED;
}


/*
 * A relative link: the SDK follows it verbatim against its endpoint, so it
 * works behind any host and port; the token holds [A-Za-z0-9._-] only, so
 * the signed query equals the sent one.
 */

static char *
ngx_http_rooms_api_next_link(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx, ngx_str_t *token)
{
    u_char     *p, *last;
    size_t      len;
    ngx_str_t   v;

    (void) ngx_http_arg(r, (u_char *) "api-version", 11, &v);

    len = r->uri.len + v.len + NGX_INT_T_LEN + token->len
          + sizeof("?api-version=&maxpagesize=&continuationToken=");

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    last = ngx_sprintf(p, "%V?api-version=%V&maxpagesize=%i"
                       "&continuationToken=%V",
                       &r->uri, &v, ctx->page_size, token);
    *last = '\0';

    return (char *) p;
}


/* GET /rooms/{id}/participants */


static int ngx_libc_cdecl
ngx_http_rooms_participant_cmp(const void *a, const void *b)
{
    const rooms_participant_t  *pa = a, *pb = b;

    return strcmp(pa->raw_id, pb->raw_id);
}


static void
ngx_http_rooms_api_got_participants(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    u_char                  *after;
    char                    *next;
    size_t                   i, count, start, take;
    ngx_str_t                token;
    ngx_http_rooms_reply_t  *all;
    rooms_participant_t     *p;

    if (ngx_http_rooms_api_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    if (replies[0].type != NGX_HTTP_ROOMS_REPLY_STRING) {
        ngx_http_finalize_request(r, ngx_http_rooms_api_not_found(r));
        return;
    }

    all = &replies[1];
    count = all->elements / 2;

    p = ngx_palloc(r->pool, (count ? count : 1) * sizeof(rooms_participant_t));
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < count; i++) {
        p[i].raw_id = (char *) all->element[2 * i].str.data;
        p[i].role = rooms_role_parse((char *) all->element[2 * i + 1].str.data,
                                     all->element[2 * i + 1].str.len);
        if (p[i].role < 0) {
            p[i].role = ROOMS_ROLE_ATTENDEE;
        }
    }

    /* pages in raw id order: stable while the list changes */

    ngx_qsort(p, count, sizeof(rooms_participant_t),
              ngx_http_rooms_participant_cmp);

    start = 0;

    if (ctx->token.len) {
        after = ngx_pnalloc(r->pool, rooms_b64_decoded_len(ctx->token.len)
                                     + 1);
        if (after == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        rc = rooms_b64url_decode(after, (char *) ctx->token.data,
                                 ctx->token.len);
        if (rc < 0) {
            ngx_http_finalize_request(r,
                ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                              "BadRequest",
                              "The continuation token is invalid."));
            return;
        }

        after[rc] = '\0';

        while (start < count && strcmp(p[start].raw_id, (char *) after) <= 0)
        {
            start++;
        }
    }

    take = count - start;
    next = NULL;

    if (take > (size_t) ctx->page_size) {
        take = ctx->page_size;

        i = ngx_strlen(p[start + take - 1].raw_id);
        token.data = ngx_pnalloc(r->pool, rooms_b64_encoded_len(i));
        if (token.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        token.len = rooms_b64url_encode((char *) token.data,
                               (u_char *) p[start + take - 1].raw_id, i);

        next = ngx_http_rooms_api_next_link(r, ctx, &token);
        if (next == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_OK,
            rooms_participants_page_json(p + start, take, next)));
}


static ngx_int_t
ngx_http_rooms_api_participants(ngx_http_request_t *r,
    ngx_http_rooms_api_ctx_t *ctx)
{
    ngx_int_t                rc;
    const char              *argv[3];
    size_t                   argvlen[3];
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_api_paging(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_got_participants,
                                   ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    argv[0] = "HGET";
    argvlen[0] = 4;
    argv[1] = (char *) ctx->key_room;
    argvlen[1] = ctx->key_room_len;
    argv[2] = "c";
    argvlen[2] = 1;

    (void) ngx_http_rooms_redis_append(b, 3, argv, argvlen);

    argv[0] = "HGETALL";
    argvlen[0] = 7;
    argv[1] = (char *) ctx->key_parts;
    argvlen[1] = ctx->key_parts_len;

    (void) ngx_http_rooms_redis_append(b, 2, argv, argvlen);

    return ngx_http_rooms_api_wait(r, b);
}


/* PATCH /rooms/{id}/participants */


static void
ngx_http_rooms_api_patched(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    /* made or not, nothing this gateway cached about the room holds */
    ngx_http_rooms_api_changed(ctx);

    if (ngx_http_rooms_api_change_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    if (replies[0].integer != 1) {
        ngx_http_finalize_request(r, ngx_http_rooms_api_not_found(r));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rooms api: room %V: %uz participants added, updated or "
                  "removed", &ctx->id, ctx->req.nparticipants);

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_OK, strdup("{}")));
}


static ngx_int_t
ngx_http_rooms_api_patch(ngx_http_request_t *r, ngx_http_rooms_api_ctx_t *ctx,
    u_char *body, size_t len)
{
    u_char                  *nset;
    size_t                   i, set, argc;
    ngx_int_t                rc;
    const char             **argv;
    size_t                  *argvlen;
    rooms_error_t            err;
    rooms_participant_t     *p;
    ngx_http_rooms_batch_t  *b;

    ngx_memzero(&err, sizeof(rooms_error_t));

    if (rooms_model_parse_participants_patch((char *) body, len, &ctx->req,
                                             &err)
        != 0)
    {
        return ngx_http_rooms_send_error(r, &err);
    }

    if (ngx_http_rooms_api_keep_req(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_rooms_api_roles(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    p = ctx->req.participants;
    argc = 6 + 2 * ctx->req.nparticipants;

    argv = ngx_palloc(r->pool, argc * sizeof(char *));
    argvlen = ngx_palloc(r->pool, argc * sizeof(size_t));
    nset = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);

    if (argv == NULL || argvlen == NULL || nset == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* EVALSHA sha 2 room parts nset [id role]... [id]... */

    argv[2] = "2";
    argvlen[2] = 1;
    argv[3] = (char *) ctx->key_room;
    argvlen[3] = ctx->key_room_len;
    argv[4] = (char *) ctx->key_parts;
    argvlen[4] = ctx->key_parts_len;

    argc = 6;

    for (i = 0; i < ctx->req.nparticipants; i++) {
        if (p[i].role == ROOMS_ROLE_REMOVE) {
            continue;
        }

        argv[argc] = p[i].raw_id;
        argvlen[argc++] = ngx_strlen(p[i].raw_id);
        argv[argc] = rooms_role_name(p[i].role);
        argvlen[argc] = ngx_strlen(argv[argc]);
        argc++;
    }

    set = (argc - 6) / 2;

    for (i = 0; i < ctx->req.nparticipants; i++) {
        if (p[i].role == ROOMS_ROLE_REMOVE) {
            argv[argc] = p[i].raw_id;
            argvlen[argc++] = ngx_strlen(p[i].raw_id);
        }
    }

    argv[5] = (char *) nset;
    argvlen[5] = ngx_sprintf(nset, "%uz", set) - nset;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_patched, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append_script(b, ngx_http_rooms_script_patch,
                                              argc, argv, argvlen);
    (void) ngx_http_rooms_api_publish(r, b, ctx);

    return ngx_http_rooms_api_wait(r, b);
}


/* GET /rooms: the index gives a page of ids, then one HMGET per room */


static void
ngx_http_rooms_api_listed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    u_char                  *p;
    char                    *next;
    size_t                   i, count;
    ngx_str_t                token;
    const char              *argv[3];
    size_t                   argvlen[3];
    rooms_room_t            *rooms;
    ngx_http_rooms_reply_t  *id, *score;

    if (ngx_http_rooms_api_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    rooms = ngx_palloc(r->pool, (n ? n : 1) * sizeof(rooms_room_t));
    if (rooms == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    count = 0;

    for (i = 0; i < n; i++) {
        id = &ctx->ids[2 * i];

        if (replies[i].elements != 4
            || replies[i].element[0].type != NGX_HTTP_ROOMS_REPLY_STRING)
        {
            /* deleted or expired: forget it in the index */

            argv[0] = "ZREM";
            argvlen[0] = 4;
            argv[1] = "rooms:index";
            argvlen[1] = 11;
            argv[2] = (char *) id->str.data;
            argvlen[2] = id->str.len;

            ngx_http_rooms_redis_fire(r->connection->log, 3, argv, argvlen);
            continue;
        }

        ctx->id = id->str;
        ngx_http_rooms_api_room(ctx, replies[i].element, &rooms[count++]);
    }

    next = NULL;

    if (ctx->more) {
        id = &ctx->ids[2 * (n - 1)];
        score = &ctx->ids[2 * (n - 1) + 1];

        p = ngx_pnalloc(r->pool, score->str.len + 1 + id->str.len);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        token.data = p;
        token.len = ngx_sprintf(p, "%V.%V", &score->str, &id->str) - p;

        next = ngx_http_rooms_api_next_link(r, ctx, &token);
        if (next == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_finalize_request(r,
        ngx_http_rooms_send_json(r, NGX_HTTP_OK,
            rooms_rooms_page_json(rooms, count, ctx->api, next)));
}


static void
ngx_http_rooms_api_indexed(ngx_http_request_t *r, void *data,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n, ngx_int_t rc)
{
    ngx_http_rooms_api_ctx_t *ctx = data;

    int                      cmp;
    size_t                   i, total, skip, take;
    ngx_http_rooms_reply_t  *ids;
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_api_replies_ok(r, replies, n, rc) != NGX_OK) {
        return;
    }

    ids = replies[0].element;
    total = replies[0].elements / 2;

    /* entries sharing the token's score sort by id: skip up to the token */

    skip = 0;

    if (ctx->token_id.len) {
        while (skip < total) {
            if (ngx_http_rooms_reply_int64(&ids[2 * skip + 1])
                != ctx->token_score)
            {
                break;
            }

            cmp = ngx_memn2cmp(ids[2 * skip].str.data, ctx->token_id.data,
                               ids[2 * skip].str.len, ctx->token_id.len);
            if (cmp > 0) {
                break;
            }

            skip++;
        }
    }

    take = total - skip;

    if (take > (size_t) ctx->page_size) {
        take = ctx->page_size;
        ctx->more = 1;
    }

    ctx->ids = ids + 2 * skip;
    ctx->nids = take;

    if (take == 0) {
        ngx_http_finalize_request(r,
            ngx_http_rooms_send_json(r, NGX_HTTP_OK,
                rooms_rooms_page_json(NULL, 0, ctx->api, NULL)));
        return;
    }

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_listed, ctx);
    if (b == NULL) {
        ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
        return;
    }

    for (i = 0; i < take; i++) {
        ngx_http_rooms_api_set_id(ctx, ctx->ids[2 * i].str.data,
                                  ctx->ids[2 * i].str.len);
        (void) ngx_http_rooms_api_append_hmget(b, ctx);
    }

    if (ngx_http_rooms_redis_end(b) != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_rooms_send_unavailable(r));
    }
}


static ngx_int_t
ngx_http_rooms_api_list(ngx_http_request_t *r, ngx_http_rooms_api_ctx_t *ctx)
{
    u_char                  *dot, *min, *limit;
    ngx_int_t                rc;
    const char              *argv[8];
    size_t                   argvlen[8];
    ngx_http_rooms_batch_t  *b;

    if (ngx_http_rooms_api_paging(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    min = (u_char *) "-inf";
    argvlen[2] = 4;

    if (ctx->token.len) {
        /* "score.id" of the last room on the previous page */

        dot = ngx_strlchr(ctx->token.data, ctx->token.data + ctx->token.len,
                          '.');

        if (dot == NULL || dot == ctx->token.data
            || dot - ctx->token.data > 18
            || rooms_id_check((char *) dot + 1,
                              ctx->token.data + ctx->token.len - dot - 1)
               != ROOMS_ID_OK)
        {
            return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest", "The continuation token is invalid.");
        }

        ctx->token_score = ngx_atoof(ctx->token.data, dot - ctx->token.data);
        if (ctx->token_score < 0) {
            return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                          "BadRequest", "The continuation token is invalid.");
        }

        ctx->token_id.data = dot + 1;
        ctx->token_id.len = ctx->token.data + ctx->token.len - dot - 1;

        min = ctx->token.data;
        argvlen[2] = dot - ctx->token.data;
    }

    limit = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (limit == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[0] = "ZRANGEBYSCORE";
    argvlen[0] = 13;
    argv[1] = "rooms:index";
    argvlen[1] = 11;
    argv[2] = (char *) min;
    argv[3] = "+inf";
    argvlen[3] = 4;
    argv[4] = "WITHSCORES";
    argvlen[4] = 10;
    argv[5] = "LIMIT";
    argvlen[5] = 5;
    argv[6] = "0";
    argvlen[6] = 1;
    argv[7] = (char *) limit;
    argvlen[7] = ngx_sprintf(limit, "%i",
                             ctx->page_size + NGX_HTTP_ROOMS_TIE_SLACK + 1)
                 - limit;

    b = ngx_http_rooms_redis_begin(r, ngx_http_rooms_api_indexed, ctx);
    if (b == NULL) {
        return ngx_http_rooms_send_unavailable(r);
    }

    (void) ngx_http_rooms_redis_append(b, 8, argv, argvlen);

    return ngx_http_rooms_api_wait(r, b);
}


/* routing */


static ngx_int_t
ngx_http_rooms_api_not_allowed(ngx_http_request_t *r)
{
    return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_ALLOWED,
                  "MethodNotAllowed",
                  "The method is not allowed on this resource.");
}


static ngx_int_t
ngx_http_rooms_api_route(ngx_http_request_t *r, u_char *body, size_t len)
{
    u_char                    *id, *end, *slash;
    ngx_int_t                  rc;
    ngx_str_t                  uri;
    ngx_http_rooms_api_ctx_t  *ctx;

    uri = r->uri;

    if (uri.len >= 11 && ngx_strncmp(uri.data, "/identities", 11) == 0
        && (uri.len == 11 || uri.data[11] == '/'))
    {
        return ngx_http_rooms_identity_route(r, &uri, body, len);
    }

    if (uri.len < 6 || ngx_strncmp(uri.data, "/rooms", 6) != 0
        || (uri.len > 6 && uri.data[6] != '/'))
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                      "NotFound", "The resource was not found.");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_rooms_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (uri.len == 6) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_POST))) {
            return ngx_http_rooms_api_not_allowed(r);
        }

        if (ngx_http_rooms_api_version(r, ctx, &rc) != NGX_OK) {
            return rc;
        }

        return (r->method == NGX_HTTP_GET)
               ? ngx_http_rooms_api_list(r, ctx)
               : ngx_http_rooms_api_create(r, ctx, body, len);
    }

    id = uri.data + 7;
    end = uri.data + uri.len;
    slash = ngx_strlchr(id, end, '/');

    if (slash != NULL
        && (end - slash != 13
            || ngx_strncmp(slash, "/participants", 13) != 0))
    {
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_NOT_FOUND,
                      "NotFound", "The resource was not found.");
    }

    if (slash == NULL) {
        slash = end;
    }

    if (slash == end) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_PATCH|NGX_HTTP_DELETE))) {
            return ngx_http_rooms_api_not_allowed(r);
        }

    } else if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_PATCH))) {
        return ngx_http_rooms_api_not_allowed(r);
    }

    if (ngx_http_rooms_api_version(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    switch (rooms_id_check((char *) id, slash - id)) {

    case ROOMS_ID_OK:
        break;

    case ROOMS_ID_BAD_LENGTH:
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid room ID length.");

    case ROOMS_ID_NOT_CANONICAL:
        /* digits, but no room has this spelling */
        return ngx_http_rooms_api_not_found(r);

    default:
        return ngx_http_rooms_send_simple_error(r, NGX_HTTP_BAD_REQUEST,
                      "BadRequest", "Invalid room ID.");
    }

    ngx_http_rooms_api_set_id(ctx, id, slash - id);

    if (slash == end) {
        switch (r->method) {

        case NGX_HTTP_GET:
            return ngx_http_rooms_api_get(r, ctx);

        case NGX_HTTP_PATCH:
            return ngx_http_rooms_api_update(r, ctx, body, len);

        default: /* NGX_HTTP_DELETE */
            return ngx_http_rooms_api_delete(r, ctx);
        }
    }

    return (r->method == NGX_HTTP_GET)
           ? ngx_http_rooms_api_participants(r, ctx)
           : ngx_http_rooms_api_patch(r, ctx, body, len);
}
