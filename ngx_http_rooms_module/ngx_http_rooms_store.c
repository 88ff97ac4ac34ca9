
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_rooms_store.h"
#include "rooms_id.h"
#include "rooms_time.h"

/* ngx_http_rooms_lua_NAME[]: lua/NAME.lua as a C string, made by config */
#include "ngx_http_rooms_lua.h"


#define NGX_HTTP_ROOMS_KEY_ROOM     "rooms:{"
#define NGX_HTTP_ROOMS_KEY_USER     "rooms:user:{"
#define NGX_HTTP_ROOMS_KEY_INDEX    "rooms:index"

/*
 * The index of rooms for listing, in shards of their own hash slots, so
 * that a cluster spreads it over its masters: rooms:index:{N}, a room in
 * shard (its id's value mod NGX_HTTP_ROOMS_INDEX_SHARDS).  A page reads
 * every shard and merges them; the single rooms:index of earlier versions
 * is read too, and emptied by deletions and pruning.
 */
#define NGX_HTTP_ROOMS_INDEX_SHARDS  16
#define NGX_HTTP_ROOMS_KEY_SEQ      "rooms:events:seq"
#define NGX_HTTP_ROOMS_CHANNEL      "rooms:events:"


typedef enum {
    NGX_HTTP_ROOMS_SCRIPT_CREATE = 0,
    NGX_HTTP_ROOMS_SCRIPT_UPDATE,
    NGX_HTTP_ROOMS_SCRIPT_PARTICIPANTS,
    NGX_HTTP_ROOMS_SCRIPT_REVOKE,
    NGX_HTTP_ROOMS_SCRIPT_PUBLISH,
    NGX_HTTP_ROOMS_SCRIPT_SEAT,
    NGX_HTTP_ROOMS_SCRIPT_RELEASE,
    NGX_HTTP_ROOMS_SCRIPT_RENEW,
    NGX_HTTP_ROOMS_SCRIPT_RESTORE,
    NGX_HTTP_ROOMS_SCRIPT_CHECK,
    NGX_HTTP_ROOMS_SCRIPT_KICK,
    NGX_HTTP_ROOMS_SCRIPT_SESSIONS,
    NGX_HTTP_ROOMS_SCRIPTS
} ngx_http_rooms_script_e;


static ngx_str_t  ngx_http_rooms_lua[] = {
    ngx_string(ngx_http_rooms_lua_create),
    ngx_string(ngx_http_rooms_lua_update),
    ngx_string(ngx_http_rooms_lua_participants),
    ngx_string(ngx_http_rooms_lua_revoke),
    ngx_string(ngx_http_rooms_lua_publish),
    ngx_string(ngx_http_rooms_lua_seat),
    ngx_string(ngx_http_rooms_lua_release),
    ngx_string(ngx_http_rooms_lua_renew),
    ngx_string(ngx_http_rooms_lua_restore),
    ngx_string(ngx_http_rooms_lua_check),
    ngx_string(ngx_http_rooms_lua_kick),
    ngx_string(ngx_http_rooms_lua_sessions)
};

/* the adapter's index of each script */
static ngx_int_t  ngx_http_rooms_scripts[NGX_HTTP_ROOMS_SCRIPTS];


ngx_int_t
ngx_http_rooms_store_init_conf(ngx_conf_t *cf, ngx_int_t db,
    ngx_str_t *channel)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_ROOMS_SCRIPTS; i++) {
        ngx_http_rooms_scripts[i] = ngx_http_rooms_redis_add_script(cf,
                                                      &ngx_http_rooms_lua[i]);
        if (ngx_http_rooms_scripts[i] == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    /* per database, so that databases sharing a server stay apart */

    channel->data = ngx_pnalloc(cf->pool, sizeof(NGX_HTTP_ROOMS_CHANNEL)
                                          + NGX_INT_T_LEN);
    if (channel->data == NULL) {
        return NGX_ERROR;
    }

    channel->len = ngx_sprintf(channel->data, NGX_HTTP_ROOMS_CHANNEL "%i",
                               db)
                   - channel->data;

    return NGX_OK;
}


/* argument vectors */


ngx_int_t
ngx_http_rooms_argv_init(ngx_http_rooms_argv_t *a, ngx_pool_t *pool,
    ngx_uint_t size)
{
    a->argv = ngx_palloc(pool, size * sizeof(ngx_str_t));
    if (a->argv == NULL) {
        return NGX_ERROR;
    }

    a->argc = 0;
    a->size = size;
    a->pool = pool;
    a->failed = 0;

    return NGX_OK;
}


void
ngx_http_rooms_argv_push(ngx_http_rooms_argv_t *a, u_char *data, size_t len)
{
    if (a->argc == a->size) {
        a->failed = 1;
        return;
    }

    a->argv[a->argc].data = data;
    a->argv[a->argc].len = len;
    a->argc++;
}


void
ngx_http_rooms_argv_int(ngx_http_rooms_argv_t *a, int64_t v)
{
    u_char  *p;

    p = ngx_pnalloc(a->pool, NGX_INT64_LEN);
    if (p == NULL) {
        a->failed = 1;
        return;
    }

    ngx_http_rooms_argv_push(a, p, ngx_sprintf(p, "%L", v) - p);
}


/* keys */


/* prefix, the id, "}" and the suffix: a key of the id's hash slot */

static void
ngx_http_rooms_key(ngx_http_rooms_argv_t *a, const char *prefix, size_t plen,
    ngx_str_t *id, const char *suffix, size_t slen)
{
    u_char  *p, *key;

    key = ngx_pnalloc(a->pool, plen + id->len + 1 + slen);
    if (key == NULL) {
        a->failed = 1;
        return;
    }

    p = ngx_cpymem(key, prefix, plen);
    p = ngx_cpymem(p, id->data, id->len);
    *p++ = '}';
    p = ngx_cpymem(p, suffix, slen);

    ngx_http_rooms_argv_push(a, key, p - key);
}


#define ngx_http_rooms_key_room(a, id, suffix)                               \
    ngx_http_rooms_key(a, NGX_HTTP_ROOMS_KEY_ROOM,                           \
                       sizeof(NGX_HTTP_ROOMS_KEY_ROOM) - 1, id,              \
                       suffix, sizeof(suffix) - 1)

#define ngx_http_rooms_key_user(a, id)                                       \
    ngx_http_rooms_key(a, NGX_HTTP_ROOMS_KEY_USER,                           \
                       sizeof(NGX_HTTP_ROOMS_KEY_USER) - 1, id, "", 0)


/* the key of a room's shard of the index */

static void
ngx_http_rooms_index_key(ngx_http_rooms_argv_t *a, ngx_str_t *id)
{
    u_char    *key;
    uint64_t   v;

    if (rooms_id_parse((char *) id->data, id->len, &v) != ROOMS_ID_OK) {
        a->failed = 1;
        return;
    }

    key = ngx_pnalloc(a->pool, sizeof(NGX_HTTP_ROOMS_KEY_INDEX ":{}")
                               + NGX_INT_T_LEN);
    if (key == NULL) {
        a->failed = 1;
        return;
    }

    ngx_http_rooms_argv_push(a, key,
                             ngx_sprintf(key, NGX_HTTP_ROOMS_KEY_INDEX ":{%uL}",
                                         v % NGX_HTTP_ROOMS_INDEX_SHARDS)
                             - key);
}


static ngx_int_t
ngx_http_rooms_store_append(ngx_http_rooms_batch_t *b,
    ngx_http_rooms_argv_t *a)
{
    if (a->failed) {
        return NGX_ERROR;
    }

    return ngx_http_rooms_redis_append(b, a->argc, a->argv);
}


static ngx_int_t
ngx_http_rooms_store_script(ngx_http_rooms_batch_t *b,
    ngx_http_rooms_script_e script, ngx_uint_t nkeys,
    ngx_http_rooms_argv_t *a)
{
    if (a->failed) {
        return NGX_ERROR;
    }

    return ngx_http_rooms_redis_append_script(b,
                                              ngx_http_rooms_scripts[script],
                                              nkeys, a->argc, a->argv);
}


/* replies */


ngx_int_t
ngx_http_rooms_store_int(ngx_http_rooms_reply_t *rep, int64_t *v)
{
    switch (rep->type) {

    case NGX_HTTP_ROOMS_REPLY_INTEGER:
        *v = rep->integer;
        return NGX_OK;

    case NGX_HTTP_ROOMS_REPLY_NIL:
        return NGX_DECLINED;

    case NGX_HTTP_ROOMS_REPLY_STRING:
        if (rep->str.len == 0) {
            return NGX_DECLINED;
        }

        return rooms_time_parse_int((char *) rep->str.data, rep->str.len, v)
               == 0 ? NGX_OK : NGX_ERROR;

    default:
        return NGX_ERROR;
    }
}


/* c, f, u, p as four consecutive replies */

static ngx_int_t
ngx_http_rooms_store_fields(ngx_http_rooms_reply_t *f, rooms_room_t *room)
{
    int64_t  pstn;

    if (ngx_http_rooms_store_int(&f[0], &room->created_at) != NGX_OK
        || ngx_http_rooms_store_int(&f[1], &room->valid_from) != NGX_OK
        || ngx_http_rooms_store_int(&f[2], &room->valid_until) != NGX_OK
        || ngx_http_rooms_store_int(&f[3], &pstn) != NGX_OK)
    {
        return NGX_ERROR;
    }

    room->pstn = (pstn == 1);

    return NGX_OK;
}


/* rooms */


ngx_int_t
ngx_http_rooms_store_room_create(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    rooms_room_t *room, rooms_room_req_t *req, ngx_str_t *rep_hash,
    int64_t record_until)
{
    size_t                  i;
    ngx_str_t               id;
    const char             *role;
    ngx_http_rooms_argv_t   a;

    id.data = (u_char *) room->id;
    id.len = ngx_strlen(room->id);

    if (ngx_http_rooms_argv_init(&a, pool, 10 + 2 * req->nparticipants)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_room(&a, &id, "");
    ngx_http_rooms_key_room(&a, &id, ":p");

    if (rep_hash != NULL) {
        ngx_http_rooms_key_room(&a, &id, ":rep");
    }

    ngx_http_rooms_argv_int(&a, room->created_at);
    ngx_http_rooms_argv_int(&a, room->valid_from);
    ngx_http_rooms_argv_int(&a, room->valid_until);
    ngx_http_rooms_argv_int(&a, room->pstn == 1);
    ngx_http_rooms_argv_int(&a, room->valid_until / 1000);

    if (rep_hash != NULL) {
        ngx_http_rooms_argv_str(&a, rep_hash);

    } else {
        ngx_http_rooms_argv_lit(&a, "");
    }

    ngx_http_rooms_argv_int(&a, record_until);

    for (i = 0; i < req->nparticipants; i++) {
        role = rooms_role_name(req->participants[i].role);

        ngx_http_rooms_argv_push(&a, (u_char *) req->participants[i].raw_id,
                                 ngx_strlen(req->participants[i].raw_id));
        ngx_http_rooms_argv_push(&a, (u_char *) role, ngx_strlen(role));
    }

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_CREATE,
                                       rep_hash ? 3 : 2, &a);
}


ngx_int_t
ngx_http_rooms_store_room_created(ngx_http_rooms_reply_t *rep,
    rooms_room_t *room)
{
    ngx_int_t  rc;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements == 0
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    /* the script's 1, 0, -1, -2 */

    switch (rep->element[0].integer) {

    case 1:
        rc = NGX_HTTP_ROOMS_STORE_CREATED;
        break;

    case 0:
        rc = NGX_HTTP_ROOMS_STORE_REPLAYED;
        break;

    case -1:
        return NGX_HTTP_ROOMS_STORE_TAKEN;

    case -2:
        return NGX_HTTP_ROOMS_STORE_MISMATCH;

    default:
        return NGX_ERROR;
    }

    if (rep->elements != 5
        || ngx_http_rooms_store_fields(&rep->element[1], room) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return rc;
}


ngx_int_t
ngx_http_rooms_store_room_get(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *id)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 6) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_argv_lit(&a, "HMGET");
    ngx_http_rooms_key_room(&a, id, "");
    ngx_http_rooms_argv_lit(&a, "c");
    ngx_http_rooms_argv_lit(&a, "f");
    ngx_http_rooms_argv_lit(&a, "u");
    ngx_http_rooms_argv_lit(&a, "p");

    return ngx_http_rooms_store_append(b, &a);
}


ngx_int_t
ngx_http_rooms_store_room_read(ngx_http_rooms_reply_t *rep,
    rooms_room_t *room)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements != 4) {
        return NGX_ERROR;
    }

    if (rep->element[0].type != NGX_HTTP_ROOMS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    return ngx_http_rooms_store_fields(rep->element, room);
}


ngx_int_t
ngx_http_rooms_store_room_update(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *id, int64_t now, int64_t from, int64_t until, ngx_int_t pstn)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 7) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_room(&a, id, "");
    ngx_http_rooms_key_room(&a, id, ":p");
    ngx_http_rooms_argv_int(&a, now);

    /* '' keeps the field */

    if (from != ROOMS_TIME_UNSET) {
        ngx_http_rooms_argv_int(&a, from);

    } else {
        ngx_http_rooms_argv_lit(&a, "");
    }

    if (until != ROOMS_TIME_UNSET) {
        ngx_http_rooms_argv_int(&a, until);

    } else {
        ngx_http_rooms_argv_lit(&a, "");
    }

    if (pstn >= 0) {
        ngx_http_rooms_argv_int(&a, pstn);

    } else {
        ngx_http_rooms_argv_lit(&a, "");
    }

    ngx_http_rooms_argv_int(&a, ROOMS_WINDOW_MAX_US);

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_UPDATE, 2, &a);
}


ngx_int_t
ngx_http_rooms_store_room_updated(ngx_http_rooms_reply_t *rep,
    rooms_room_t *room)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements == 0
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    /* the script's 1, 0, -1 */

    switch (rep->element[0].integer) {

    case 1:
        if (rep->elements == 5
            && ngx_http_rooms_store_fields(&rep->element[1], room) == NGX_OK)
        {
            return NGX_HTTP_ROOMS_STORE_UPDATED;
        }

        break;

    case 0:
        return NGX_HTTP_ROOMS_STORE_NO_ROOM;

    case -1:
        if (rep->elements == 3
            && ngx_http_rooms_store_int(&rep->element[1], &room->valid_from)
               == NGX_OK
            && ngx_http_rooms_store_int(&rep->element[2], &room->valid_until)
               == NGX_OK)
        {
            return NGX_HTTP_ROOMS_STORE_REFUSED;
        }

        break;
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_http_rooms_store_room_delete(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *id)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 5) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_argv_lit(&a, "DEL");
    ngx_http_rooms_key_room(&a, id, "");
    ngx_http_rooms_key_room(&a, id, ":p");
    ngx_http_rooms_key_room(&a, id, ":g");
    ngx_http_rooms_key_room(&a, id, ":s");

    if (ngx_http_rooms_store_append(b, &a) != NGX_OK) {
        return NGX_ERROR;
    }

    a.argc = 0;

    ngx_http_rooms_argv_lit(&a, "ZREM");
    ngx_http_rooms_index_key(&a, id);
    ngx_http_rooms_argv_str(&a, id);

    if (ngx_http_rooms_store_append(b, &a) != NGX_OK) {
        return NGX_ERROR;
    }

    a.argv[1].data = (u_char *) NGX_HTTP_ROOMS_KEY_INDEX;
    a.argv[1].len = sizeof(NGX_HTTP_ROOMS_KEY_INDEX) - 1;

    return ngx_http_rooms_store_append(b, &a);
}


ngx_int_t
ngx_http_rooms_store_room_deleted(ngx_http_rooms_reply_t *rep)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_INTEGER) {
        return NGX_ERROR;
    }

    return rep->integer ? 1 : 0;
}


ngx_int_t
ngx_http_rooms_store_room_index(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    rooms_room_t *room)
{
    ngx_str_t              id;
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 5) != NGX_OK) {
        return NGX_ERROR;
    }

    id.data = (u_char *) room->id;
    id.len = ngx_strlen(room->id);

    ngx_http_rooms_argv_lit(&a, "ZADD");
    ngx_http_rooms_index_key(&a, &id);
    ngx_http_rooms_argv_lit(&a, "NX");
    ngx_http_rooms_argv_int(&a, room->created_at);
    ngx_http_rooms_argv_str(&a, &id);

    return ngx_http_rooms_store_append(b, &a);
}


ngx_uint_t
ngx_http_rooms_store_index_page(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *min, ngx_uint_t count)
{
    u_char                 *key;
    ngx_uint_t              i;
    ngx_http_rooms_argv_t   a;

    /* every shard, and the index of earlier versions last */

    for (i = 0; i <= NGX_HTTP_ROOMS_INDEX_SHARDS; i++) {
        if (ngx_http_rooms_argv_init(&a, pool, 8) != NGX_OK) {
            return 0;
        }

        ngx_http_rooms_argv_lit(&a, "ZRANGEBYSCORE");

        if (i < NGX_HTTP_ROOMS_INDEX_SHARDS) {
            key = ngx_pnalloc(pool, sizeof(NGX_HTTP_ROOMS_KEY_INDEX ":{}")
                                    + NGX_INT_T_LEN);
            if (key == NULL) {
                return 0;
            }

            ngx_http_rooms_argv_push(&a, key,
                      ngx_sprintf(key, NGX_HTTP_ROOMS_KEY_INDEX ":{%ui}", i)
                      - key);

        } else {
            ngx_http_rooms_argv_lit(&a, NGX_HTTP_ROOMS_KEY_INDEX);
        }

        if (min->len) {
            ngx_http_rooms_argv_str(&a, min);

        } else {
            ngx_http_rooms_argv_lit(&a, "-inf");
        }

        ngx_http_rooms_argv_lit(&a, "+inf");
        ngx_http_rooms_argv_lit(&a, "WITHSCORES");
        ngx_http_rooms_argv_lit(&a, "LIMIT");
        ngx_http_rooms_argv_lit(&a, "0");
        ngx_http_rooms_argv_int(&a, count);

        if (ngx_http_rooms_store_append(b, &a) != NGX_OK) {
            return 0;
        }
    }

    return NGX_HTTP_ROOMS_INDEX_SHARDS + 1;
}


static int ngx_libc_cdecl
ngx_http_rooms_index_cmp(const void *one, const void *two)
{
    const ngx_http_rooms_index_entry_t  *a = one, *b = two;

    if (a->score != b->score) {
        return (a->score < b->score) ? -1 : 1;
    }

    return ngx_memn2cmp(a->id.data, b->id.data, a->id.len, b->id.len);
}


ngx_int_t
ngx_http_rooms_store_index_read(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *replies, ngx_uint_t n,
    ngx_http_rooms_index_entry_t **entries, ngx_uint_t *count)
{
    ngx_uint_t                     i, j, total, k;
    ngx_http_rooms_reply_t        *r;
    ngx_http_rooms_index_entry_t  *e;

    total = 0;

    for (i = 0; i < n; i++) {
        if (replies[i].type != NGX_HTTP_ROOMS_REPLY_ARRAY
            || replies[i].elements % 2)
        {
            return NGX_ERROR;
        }

        total += replies[i].elements / 2;
    }

    e = ngx_palloc(pool, (total ? total : 1)
                         * sizeof(ngx_http_rooms_index_entry_t));
    if (e == NULL) {
        return NGX_ERROR;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        r = replies[i].element;

        for (j = 0; j < replies[i].elements; j += 2) {
            if (r[j].type != NGX_HTTP_ROOMS_REPLY_STRING
                || ngx_http_rooms_store_int(&r[j + 1], &e[k].score) != NGX_OK)
            {
                return NGX_ERROR;
            }

            e[k].id = r[j].str;
            e[k].score_str = r[j + 1].str;
            k++;
        }
    }

    /* in the order of the one index of before: createdAt, then id */

    ngx_qsort(e, k, sizeof(ngx_http_rooms_index_entry_t),
              ngx_http_rooms_index_cmp);

    *entries = e;
    *count = k;

    return NGX_OK;
}


void
ngx_http_rooms_store_index_forget(ngx_log_t *log, ngx_pool_t *pool,
    ngx_str_t *id)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 3) != NGX_OK) {
        return;
    }

    ngx_http_rooms_argv_lit(&a, "ZREM");
    ngx_http_rooms_index_key(&a, id);
    ngx_http_rooms_argv_str(&a, id);

    if (a.failed) {
        return;
    }

    ngx_http_rooms_redis_fire(log, a.argc, a.argv);

    a.argv[1].data = (u_char *) NGX_HTTP_ROOMS_KEY_INDEX;
    a.argv[1].len = sizeof(NGX_HTTP_ROOMS_KEY_INDEX) - 1;

    ngx_http_rooms_redis_fire(log, a.argc, a.argv);
}


ngx_int_t
ngx_http_rooms_store_participants_get(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 3) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_argv_lit(&a, "HGET");
    ngx_http_rooms_key_room(&a, id, "");
    ngx_http_rooms_argv_lit(&a, "c");

    if (ngx_http_rooms_store_append(b, &a) != NGX_OK) {
        return NGX_ERROR;
    }

    a.argc = 0;

    ngx_http_rooms_argv_lit(&a, "HGETALL");
    ngx_http_rooms_key_room(&a, id, ":p");

    return ngx_http_rooms_store_append(b, &a);
}


ngx_int_t
ngx_http_rooms_store_participants_read(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *replies, rooms_participant_t **p, size_t *n)
{
    size_t                   i, count;
    ngx_http_rooms_reply_t  *all;
    rooms_participant_t     *ps;

    if (replies[0].type != NGX_HTTP_ROOMS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    all = &replies[1];

    if (all->type != NGX_HTTP_ROOMS_REPLY_ARRAY || all->elements % 2) {
        return NGX_ERROR;
    }

    count = all->elements / 2;

    ps = ngx_palloc(pool, (count ? count : 1) * sizeof(rooms_participant_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < count; i++) {
        ps[i].raw_id = (char *) all->element[2 * i].str.data;
        ps[i].role = rooms_role_parse((char *) all->element[2 * i + 1].str.data,
                                      all->element[2 * i + 1].str.len);
        if (ps[i].role < 0) {
            ps[i].role = ROOMS_ROLE_ATTENDEE;
        }
    }

    *p = ps;
    *n = count;

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_store_participants_patch(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *id, rooms_room_req_t *req)
{
    size_t                  i, set;
    const char             *role;
    rooms_participant_t    *p;
    ngx_http_rooms_argv_t   a;

    if (ngx_http_rooms_argv_init(&a, pool, 3 + 2 * req->nparticipants)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = req->participants;
    set = 0;

    for (i = 0; i < req->nparticipants; i++) {
        set += (p[i].role != ROOMS_ROLE_REMOVE);
    }

    /* n (id, role) pairs, then the ids to remove */

    ngx_http_rooms_key_room(&a, id, "");
    ngx_http_rooms_key_room(&a, id, ":p");
    ngx_http_rooms_argv_int(&a, set);

    for (i = 0; i < req->nparticipants; i++) {
        if (p[i].role != ROOMS_ROLE_REMOVE) {
            role = rooms_role_name(p[i].role);

            ngx_http_rooms_argv_push(&a, (u_char *) p[i].raw_id,
                                     ngx_strlen(p[i].raw_id));
            ngx_http_rooms_argv_push(&a, (u_char *) role, ngx_strlen(role));
        }
    }

    for (i = 0; i < req->nparticipants; i++) {
        if (p[i].role == ROOMS_ROLE_REMOVE) {
            ngx_http_rooms_argv_push(&a, (u_char *) p[i].raw_id,
                                     ngx_strlen(p[i].raw_id));
        }
    }

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_PARTICIPANTS,
                                       2, &a);
}


ngx_int_t
ngx_http_rooms_store_participants_patched(ngx_http_rooms_reply_t *rep)
{
    /* the script's 0, or {1, the roles before} */

    if (rep->type == NGX_HTTP_ROOMS_REPLY_INTEGER) {
        return rep->integer == 1 ? 1 : 0;
    }

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements == 0
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    return rep->element[0].integer == 1 ? 1 : 0;
}


ngx_int_t
ngx_http_rooms_store_participants_previous(ngx_http_rooms_reply_t *rep,
    rooms_room_req_t *req, ngx_int_t *prev)
{
    size_t                   i, k, pass;
    rooms_participant_t     *p;
    ngx_http_rooms_reply_t  *r;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY
        || rep->elements != 1 + req->nparticipants)
    {
        return NGX_ERROR;
    }

    /* the ids were sent as the patch builds them: set ones, then removed */

    p = req->participants;
    k = 1;

    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < req->nparticipants; i++) {
            if ((p[i].role == ROOMS_ROLE_REMOVE) != pass) {
                continue;
            }

            r = &rep->element[k++];

            if (r->type != NGX_HTTP_ROOMS_REPLY_STRING) {
                prev[i] = -1;
                continue;
            }

            prev[i] = rooms_role_parse((char *) r->str.data, r->str.len);

            if (prev[i] < 0) {
                prev[i] = ROOMS_ROLE_ATTENDEE;
            }
        }
    }

    return NGX_OK;
}


/* users */


ngx_int_t
ngx_http_rooms_store_user_create(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *id, int64_t now)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 4) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_argv_lit(&a, "HSET");
    ngx_http_rooms_key_user(&a, id);
    ngx_http_rooms_argv_lit(&a, "c");
    ngx_http_rooms_argv_int(&a, now);

    return ngx_http_rooms_store_append(b, &a);
}


ngx_int_t
ngx_http_rooms_store_user_get(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *id)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 5) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_argv_lit(&a, "HMGET");
    ngx_http_rooms_key_user(&a, id);
    ngx_http_rooms_argv_lit(&a, "c");
    ngx_http_rooms_argv_lit(&a, "r");
    ngx_http_rooms_argv_lit(&a, "d");

    return ngx_http_rooms_store_append(b, &a);
}


ngx_int_t
ngx_http_rooms_store_user_read(ngx_http_rooms_reply_t *rep,
    ngx_http_rooms_user_t *user)
{
    ngx_int_t  rc;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements != 3) {
        return NGX_ERROR;
    }

    user->exists = (rep->element[0].type == NGX_HTTP_ROOMS_REPLY_STRING);
    user->deleted = (rep->element[2].type == NGX_HTTP_ROOMS_REPLY_STRING);

    rc = ngx_http_rooms_store_int(&rep->element[1], &user->revoked);

    if (rc == NGX_DECLINED) {
        user->revoked = 0;

    } else if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_store_user_revoke(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *id, int64_t now, ngx_uint_t delete)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 3) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_user(&a, id);
    ngx_http_rooms_argv_int(&a, now);

    if (delete) {
        ngx_http_rooms_argv_lit(&a, "1");

    } else {
        ngx_http_rooms_argv_lit(&a, "0");
    }

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_REVOKE, 1, &a);
}


ngx_int_t
ngx_http_rooms_store_user_revoked(ngx_http_rooms_reply_t *rep)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_INTEGER) {
        return NGX_ERROR;
    }

    if (rep->integer > 0) {
        return NGX_HTTP_ROOMS_STORE_REVOKED;
    }

    return rep->integer == 0 ? NGX_HTTP_ROOMS_STORE_NO_USER
                             : NGX_HTTP_ROOMS_STORE_WAS_GONE;
}


/* admission */


ngx_int_t
ngx_http_rooms_store_admission(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *user)
{
    ngx_http_rooms_argv_t  a;

    /* one pipelined round trip: three commands of one argument vector */

    if (ngx_http_rooms_argv_init(&a, pool, 4) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_argv_lit(&a, "HMGET");
    ngx_http_rooms_key_room(&a, room, "");
    ngx_http_rooms_argv_lit(&a, "f");
    ngx_http_rooms_argv_lit(&a, "u");

    if (ngx_http_rooms_store_append(b, &a) != NGX_OK) {
        return NGX_ERROR;
    }

    a.argc = 0;

    ngx_http_rooms_argv_lit(&a, "HGET");
    ngx_http_rooms_key_room(&a, room, ":p");
    ngx_http_rooms_argv_str(&a, user);

    if (ngx_http_rooms_store_append(b, &a) != NGX_OK) {
        return NGX_ERROR;
    }

    a.argc = 0;

    ngx_http_rooms_argv_lit(&a, "HMGET");
    ngx_http_rooms_key_user(&a, user);
    ngx_http_rooms_argv_lit(&a, "r");
    ngx_http_rooms_argv_lit(&a, "d");

    return ngx_http_rooms_store_append(b, &a);
}


/* a stored time, none if there is none */

static ngx_int_t
ngx_http_rooms_store_time(ngx_http_rooms_reply_t *rep, int64_t none,
    int64_t *v)
{
    switch (ngx_http_rooms_store_int(rep, v)) {

    case NGX_OK:
        return NGX_OK;

    case NGX_DECLINED:
        *v = none;
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}


ngx_int_t
ngx_http_rooms_store_admission_read(ngx_log_t *log,
    ngx_http_rooms_reply_t *replies, ngx_str_t *room,
    ngx_http_rooms_facts_t *facts)
{
    ngx_http_rooms_reply_t  *w, *u;

    if (replies[0].type != NGX_HTTP_ROOMS_REPLY_ARRAY
        || replies[0].elements != 2
        || replies[2].type != NGX_HTTP_ROOMS_REPLY_ARRAY
        || replies[2].elements != 2)
    {
        return NGX_ERROR;
    }

    w = replies[0].element;
    u = replies[2].element;

    if (ngx_http_rooms_store_time(&w[0], INT64_MIN, &facts->from) != NGX_OK
        || ngx_http_rooms_store_time(&w[1], 0, &facts->until) != NGX_OK
        || ngx_http_rooms_store_time(&u[0], -1, &facts->revoked) != NGX_OK)
    {
        /* what the API never writes: fail closed, and say where */
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "rooms admission: a stored time is not a number: "
                      "\"f\" \"%V\", \"u\" \"%V\" of room \"%V\"; "
                      "\"r\" \"%V\" of its user",
                      &w[0].str, &w[1].str, room, &u[0].str);
        return NGX_ERROR;
    }

    facts->deleted = (u[1].type == NGX_HTTP_ROOMS_REPLY_STRING);
    facts->role = -1;

    if (replies[1].type == NGX_HTTP_ROOMS_REPLY_STRING) {
        facts->role = rooms_role_parse((char *) replies[1].str.data,
                                       replies[1].str.len);
        if (facts->role < 0) {
            facts->role = ROOMS_ROLE_ATTENDEE;
        }
    }

    return NGX_OK;
}


/* events */


ngx_int_t
ngx_http_rooms_store_publish(ngx_http_rooms_batch_t *b, ngx_str_t *channel,
    ngx_str_t *msg)
{
    ngx_str_t  argv[3];

    ngx_str_set(&argv[0], NGX_HTTP_ROOMS_KEY_SEQ);
    argv[1] = *channel;
    argv[2] = *msg;

    return ngx_http_rooms_redis_append_script(b,
                         ngx_http_rooms_scripts[NGX_HTTP_ROOMS_SCRIPT_PUBLISH],
                         1, 3, argv);
}


ngx_int_t
ngx_http_rooms_store_event_seq(ngx_http_rooms_batch_t *b)
{
    ngx_str_t  argv[2];

    ngx_str_set(&argv[0], "GET");
    ngx_str_set(&argv[1], NGX_HTTP_ROOMS_KEY_SEQ);

    return ngx_http_rooms_redis_append(b, 2, argv);
}


ngx_int_t
ngx_http_rooms_store_stream_add(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *key, ngx_uint_t maxlen, ngx_str_t *event)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 8) != NGX_OK) {
        return NGX_ERROR;
    }

    /* XADD key [MAXLEN ~ n] * event <json> */

    ngx_http_rooms_argv_lit(&a, "XADD");
    ngx_http_rooms_argv_str(&a, key);

    if (maxlen) {
        ngx_http_rooms_argv_lit(&a, "MAXLEN");
        ngx_http_rooms_argv_lit(&a, "~");
        ngx_http_rooms_argv_int(&a, maxlen);
    }

    ngx_http_rooms_argv_lit(&a, "*");
    ngx_http_rooms_argv_lit(&a, "event");
    ngx_http_rooms_argv_str(&a, event);

    return ngx_http_rooms_store_append(b, &a);
}


/* live sessions: seats, holders and their leases, all in the room's slot */


#define ngx_http_rooms_key_seats(a, room)                                    \
    ngx_http_rooms_key_room(a, room, ""); /* the window */                   \
    ngx_http_rooms_key_room(a, room, ":p");                                  \
    ngx_http_rooms_key_room(a, room, ":g");                                  \
    ngx_http_rooms_key_room(a, room, ":s")


ngx_int_t
ngx_http_rooms_store_holder(ngx_pool_t *pool, ngx_str_t *gateway,
    ngx_pid_t pid, uint32_t nonce, ngx_str_t *holder)
{
    holder->data = ngx_pnalloc(pool, gateway->len + 1 + NGX_INT64_LEN + 9);
    if (holder->data == NULL) {
        return NGX_ERROR;
    }

    /* "<gateway>/<pid>.<nonce>": the gateway for listings, unique anyway */

    holder->len = ngx_sprintf(holder->data, "%V/%P.%08xD", gateway, pid,
                              nonce)
                  - holder->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_store_seat(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *holder, ngx_str_t *user, ngx_uint_t max,
    ngx_msec_t lease, ngx_uint_t mode)
{
    ngx_http_rooms_argv_t  a;

    static ngx_str_t  modes[] = {
        ngx_string("replace"), ngx_string("reject"), ngx_string("allow")
    };

    if (ngx_http_rooms_argv_init(&a, pool, 9) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_seats(&a, room);
    ngx_http_rooms_argv_str(&a, holder);
    ngx_http_rooms_argv_str(&a, user);
    ngx_http_rooms_argv_int(&a, max);
    ngx_http_rooms_argv_int(&a, lease);
    ngx_http_rooms_argv_str(&a, &modes[mode]);

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_SEAT, 4, &a);
}


ngx_int_t
ngx_http_rooms_store_seat_read(ngx_http_rooms_reply_t *rep,
    ngx_http_rooms_seat_t *seat)
{
    ngx_str_t               *why;
    ngx_http_rooms_reply_t  *e;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements < 2
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    e = rep->element;

    if (e[0].integer == 0) {
        why = &e[1].str;

        if (e[1].type != NGX_HTTP_ROOMS_REPLY_STRING) {
            return NGX_ERROR;
        }

        if (ngx_strcmp(why->data, "full") == 0) {
            seat->refused = NGX_HTTP_ROOMS_SEAT_FULL;

        } else if (ngx_strcmp(why->data, "present") == 0) {
            seat->refused = NGX_HTTP_ROOMS_SEAT_PRESENT;

        } else if (ngx_strcmp(why->data, "window") == 0) {
            seat->refused = NGX_HTTP_ROOMS_SEAT_WINDOW;

        } else {
            /* "room", "invited": look the same to the user */
            seat->refused = NGX_HTTP_ROOMS_SEAT_NOT_INVITED;
        }

        return NGX_OK;
    }

    if (rep->elements != 6 || e[1].type != NGX_HTTP_ROOMS_REPLY_STRING
        || ngx_http_rooms_store_int(&e[2], &seat->now) != NGX_OK
        || ngx_http_rooms_store_int(&e[4], &seat->from) != NGX_OK
        || ngx_http_rooms_store_int(&e[5], &seat->until) != NGX_OK)
    {
        return NGX_ERROR;
    }

    seat->refused = NGX_HTTP_ROOMS_SEAT_OK;
    seat->replaced = (e[3].integer == 1);
    seat->role = rooms_role_parse((char *) e[1].str.data, e[1].str.len);

    if (seat->role < 0) {
        seat->role = ROOMS_ROLE_ATTENDEE;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_store_seats_release(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_uint_t leave,
    ngx_str_t *users, ngx_uint_t n)
{
    ngx_uint_t             i;
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 4 + n) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_room(&a, room, ":g");
    ngx_http_rooms_key_room(&a, room, ":s");
    ngx_http_rooms_argv_str(&a, holder);

    if (leave) {
        ngx_http_rooms_argv_lit(&a, "1");

    } else {
        ngx_http_rooms_argv_lit(&a, "0");
    }

    for (i = 0; i < n; i++) {
        ngx_http_rooms_argv_str(&a, &users[i]);
    }

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_RELEASE, 2,
                                       &a);
}


ngx_int_t
ngx_http_rooms_store_seats_renew(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *holder, ngx_msec_t lease)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 3) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_room(&a, room, ":g");
    ngx_http_rooms_argv_str(&a, holder);
    ngx_http_rooms_argv_int(&a, lease);

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_RENEW, 1, &a);
}


ngx_int_t
ngx_http_rooms_store_seats_renewed(ngx_http_rooms_reply_t *rep)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_INTEGER) {
        return NGX_ERROR;
    }

    return rep->integer == 1 ? 1 : 0;
}


ngx_int_t
ngx_http_rooms_store_seats_restore(ngx_http_rooms_batch_t *b,
    ngx_pool_t *pool, ngx_str_t *room, ngx_str_t *holder, ngx_msec_t lease,
    ngx_str_t *users, ngx_uint_t n)
{
    ngx_uint_t             i;
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 5 + n) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_room(&a, room, "");
    ngx_http_rooms_key_room(&a, room, ":g");
    ngx_http_rooms_key_room(&a, room, ":s");
    ngx_http_rooms_argv_str(&a, holder);
    ngx_http_rooms_argv_int(&a, lease);

    for (i = 0; i < n; i++) {
        ngx_http_rooms_argv_str(&a, &users[i]);
    }

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_RESTORE, 3,
                                       &a);
}


ngx_int_t
ngx_http_rooms_store_seats_check(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *holder, ngx_str_t *users, ngx_uint_t n)
{
    ngx_uint_t             i;
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 5 + n) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_seats(&a, room);
    ngx_http_rooms_argv_str(&a, holder);

    for (i = 0; i < n; i++) {
        ngx_http_rooms_argv_str(&a, &users[i]);
    }

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_CHECK, 4, &a);
}


ngx_int_t
ngx_http_rooms_store_seats_checked(ngx_http_rooms_reply_t *rep,
    int64_t *from, int64_t *until, ngx_uint_t *held,
    ngx_http_rooms_seat_check_t *users, ngx_uint_t n)
{
    ngx_uint_t               i;
    ngx_http_rooms_reply_t  *e, *role;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements == 0
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    e = rep->element;

    if (e[0].integer == 0) {
        return NGX_DECLINED;
    }

    if (rep->elements != 4 + 2 * n
        || ngx_http_rooms_store_int(&e[1], from) != NGX_OK
        || ngx_http_rooms_store_int(&e[2], until) != NGX_OK
        || e[3].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    *held = (e[3].integer == 1);

    for (i = 0; i < n; i++) {
        role = &e[4 + 2 * i];

        if (role->type != NGX_HTTP_ROOMS_REPLY_STRING
            || e[5 + 2 * i].type != NGX_HTTP_ROOMS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }

        users[i].role = -1;

        if (role->str.len) {
            users[i].role = rooms_role_parse((char *) role->str.data,
                                             role->str.len);
            if (users[i].role < 0) {
                users[i].role = ROOMS_ROLE_ATTENDEE;
            }
        }

        users[i].seat = (ngx_uint_t) e[5 + 2 * i].integer;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_store_seats_kick(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room, ngx_str_t *user)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 3) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_room(&a, room, "");
    ngx_http_rooms_key_room(&a, room, ":s");
    ngx_http_rooms_argv_str(&a, user);

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_KICK, 2, &a);
}


ngx_int_t
ngx_http_rooms_store_seats_kicked(ngx_http_rooms_reply_t *rep, int64_t *now)
{
    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements != 2
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER
        || ngx_http_rooms_store_int(&rep->element[1], now) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return rep->element[0].integer == 1 ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_rooms_store_seats_list(ngx_http_rooms_batch_t *b, ngx_pool_t *pool,
    ngx_str_t *room)
{
    ngx_http_rooms_argv_t  a;

    if (ngx_http_rooms_argv_init(&a, pool, 4) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_rooms_key_seats(&a, room);

    return ngx_http_rooms_store_script(b, NGX_HTTP_ROOMS_SCRIPT_SESSIONS, 4,
                                       &a);
}


ngx_int_t
ngx_http_rooms_store_seats_listed(ngx_pool_t *pool,
    ngx_http_rooms_reply_t *rep, ngx_http_rooms_seat_entry_t **entries,
    ngx_uint_t *n)
{
    u_char                       *slash;
    ngx_uint_t                    i, count;
    ngx_http_rooms_reply_t       *e;
    ngx_http_rooms_seat_entry_t  *s;

    if (rep->type != NGX_HTTP_ROOMS_REPLY_ARRAY || rep->elements == 0
        || rep->element[0].type != NGX_HTTP_ROOMS_REPLY_INTEGER
        || (rep->elements - 1) % 4)
    {
        return NGX_ERROR;
    }

    if (rep->element[0].integer == 0) {
        return NGX_DECLINED;
    }

    count = (rep->elements - 1) / 4;

    s = ngx_palloc(pool, (count ? count : 1)
                         * sizeof(ngx_http_rooms_seat_entry_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < count; i++) {
        e = &rep->element[1 + 4 * i];

        if (e[0].type != NGX_HTTP_ROOMS_REPLY_STRING
            || e[1].type != NGX_HTTP_ROOMS_REPLY_STRING
            || e[3].type != NGX_HTTP_ROOMS_REPLY_STRING
            || ngx_http_rooms_store_int(&e[2], &s[i].connected) != NGX_OK)
        {
            return NGX_ERROR;
        }

        s[i].user = e[0].str;
        s[i].role = -1;

        if (e[1].str.len) {
            s[i].role = rooms_role_parse((char *) e[1].str.data,
                                         e[1].str.len);
            if (s[i].role < 0) {
                s[i].role = ROOMS_ROLE_ATTENDEE;
            }
        }

        /* the gateway's name, before the holder's "/<pid>.<nonce>" */

        s[i].gateway = e[3].str;
        slash = (u_char *) ngx_strlchr(e[3].str.data,
                                       e[3].str.data + e[3].str.len, '/');
        if (slash != NULL) {
            s[i].gateway.len = slash - e[3].str.data;
        }
    }

    *entries = s;
    *n = count;

    return NGX_OK;
}
