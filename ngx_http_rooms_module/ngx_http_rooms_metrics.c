
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The zone holds a header and NGX_HTTP_ROOMS_METRICS_SLOTS slots of
 * counters; worker N writes slot N modulo that number, with atomic adds,
 * so a slot shared by two processes (an old worker still finishing after
 * a reload, a worker number past the last slot) loses nothing, and a
 * counter is written by one core at a time in the usual case.  Reading
 * sums the slots.
 *
 * Gauges of a worker's state (Redis up, subscription up) are written only
 * by the worker that owns the slot in the current configuration (the
 * slot's generation is its own), and read as the least over the slots of
 * the reader's generation: 1 when every worker is up.
 *
 * The header's layout version tells a zone kept by a reload from a zone of
 * another layout, which is started anew rather than misread.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include <time.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_metrics.h"


#define NGX_HTTP_ROOMS_VERSION            "0.1.0"   /* debian/changelog */

#define NGX_HTTP_ROOMS_METRICS_MAGIC      0x524d4554      /* "RMET" */
#define NGX_HTTP_ROOMS_METRICS_LAYOUT     2
#define NGX_HTTP_ROOMS_METRICS_SLOTS      32

#define NGX_HTTP_ROOMS_METRICS_ZONE       "ngx_http_rooms_metrics"

#define NGX_HTTP_ROOMS_REASONS            22
#define NGX_HTTP_ROOMS_ALGS               5
#define NGX_HTTP_ROOMS_CODES              21
#define NGX_HTTP_ROOMS_REDIS_BUCKETS      13
#define NGX_HTTP_ROOMS_CLOSE_BUCKETS      10


/* the configuration's: which families are shown */
typedef struct {
    ngx_shm_zone_t            *zone;
    ngx_flag_t                 sessions;
} ngx_http_rooms_metrics_conf_t;


/* one worker's counters, on cache lines of their own */
typedef struct {
    ngx_atomic_t               generation;
    ngx_atomic_t               redis_up;
    ngx_atomic_t               subscription_up;

    ngx_atomic_t               admissions[NGX_HTTP_ROOMS_REASONS];
    ngx_atomic_t               lookups[3];
    ngx_atomic_t               verifications[NGX_HTTP_ROOMS_ALGS];
    ngx_atomic_t               api[NGX_HTTP_ROOMS_OPS][NGX_HTTP_ROOMS_CODES];

    ngx_atomic_t               redis_errors[NGX_HTTP_ROOMS_REDIS_KINDS];
    ngx_atomic_t               redis_reconnects;
    ngx_atomic_t               redis_buckets[NGX_HTTP_ROOMS_REDIS_BUCKETS];
    ngx_atomic_t               redis_sum;          /* microseconds */
    ngx_atomic_t               redis_count;

    ngx_atomic_t               events_received;
    ngx_atomic_t               events_gaps;

    ngx_atomic_t               sessions_started;
    ngx_atomic_t               sessions_ended[NGX_HTTP_ROOMS_SESSION_REASONS];
    ngx_atomic_t               close_buckets[NGX_HTTP_ROOMS_CLOSE_BUCKETS];
    ngx_atomic_t               close_sum;          /* microseconds */
    ngx_atomic_t               close_count;

    u_char                     pad[128];
} ngx_http_rooms_metrics_slot_t;


typedef struct {
    uint32_t                   magic;
    uint32_t                   layout;
    size_t                     size;               /* of this struct */
    ngx_atomic_t               generation;         /* configurations */
    u_char                     pad[128];
    ngx_http_rooms_metrics_slot_t  slots[NGX_HTTP_ROOMS_METRICS_SLOTS];
} ngx_http_rooms_metrics_sh_t;


/* the zone's per-cycle data: shm_zone->data */
typedef struct {
    ngx_http_rooms_metrics_sh_t  *sh;
    ngx_uint_t                    generation;      /* this cycle's */
} ngx_http_rooms_metrics_ctx_t;


/* a label value and the text a reader writes for it */
typedef struct {
    const char                *match;
    const char                *label;
} ngx_http_rooms_metrics_name_t;


static ngx_int_t ngx_http_rooms_metrics_handler(ngx_http_request_t *r);


/*
 * Admission's reasons, as $rooms_deny_reason has them (and
 * rooms_jwt_strerror()), with their label; the first is admitted, the
 * last "store unavailable"
 */

static ngx_http_rooms_metrics_name_t  ngx_http_rooms_metrics_reasons[] = {
    { NULL, "none" },
    { "missing token", "missing_token" },
    { "malformed token", "malformed_token" },
    { "bad header", "bad_header" },
    { "unsupported alg", "unsupported_alg" },
    { "alg none", "alg_none" },
    { "alg does not match key", "alg_mismatch" },
    { "unknown kid", "unknown_kid" },
    { "bad signature", "bad_signature" },
    { "expired", "expired" },
    { "not yet valid", "not_yet_valid" },
    { "missing sub", "missing_sub" },
    { "bad claims", "bad_claims" },
    { "token too large", "token_too_large" },
    { "token revoked", "token_revoked" },
    { "identity deleted", "identity_deleted" },
    { "token is for another room", "another_room" },
    { "not invited", "not_invited" },
    { "outside the room's validity", "outside_validity" },
    { "role not allowed", "role_not_allowed" },
    { NULL, "other" },
    { "store unavailable", "store_unavailable" }
};

#define NGX_HTTP_ROOMS_REASON_OTHER        20
#define NGX_HTTP_ROOMS_REASON_UNAVAILABLE  21

static const char  *ngx_http_rooms_metrics_lookups[] = {
    "hit", "miss", "bypass"
};

static const char  *ngx_http_rooms_metrics_algs[] = {
    "HS256", "RS256", "ES256", "EdDSA", "unknown"
};

static const char  *ngx_http_rooms_metrics_ops[] = {
    "create_room", "get_room", "update_room", "delete_room", "list_rooms",
    "list_participants", "update_participants", "create_user",
    "delete_user", "issue_token", "revoke_tokens", "exchange_token", "other"
};

/* the statuses an API location answers; the last is any other */
static ngx_uint_t  ngx_http_rooms_metrics_codes[NGX_HTTP_ROOMS_CODES] = {
    200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 411, 413, 414, 415,
    429, 499, 500, 501, 502, 503, 0
};

static ngx_http_rooms_metrics_name_t  ngx_http_rooms_metrics_kinds[] = {
    { NULL, "timeout" },
    { NULL, "connection" },
    { NULL, "protocol" },
    { "MOVED", "moved" },
    { "ASK", "ask" },
    { "TRYAGAIN", "tryagain" },
    { "CLUSTERDOWN", "clusterdown" },
    { "LOADING", "loading" },
    { NULL, "other" }
};

/* $rooms_session_end's values in snake_case, in the order of the enum */
static const char  *ngx_http_rooms_metrics_ends[] = {
    "removed", "role_changed", "room_deleted", "room_expired", "revoked",
    "identity_deleted", "token_expired", "replaced", "kicked",
    "client_closed", "upstream_closed", "shutdown"
};

/* upper bounds in microseconds, the last one +Inf */
static uint64_t  ngx_http_rooms_metrics_redis_le[] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 0
};

static uint64_t  ngx_http_rooms_metrics_close_le[] = {
    1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000, 10000000, 0
};


/* this worker's */
static ngx_http_rooms_metrics_ctx_t   *ngx_http_rooms_metrics;
static ngx_http_rooms_metrics_slot_t  *ngx_http_rooms_metrics_slot;
static ngx_atomic_t                   *ngx_http_rooms_metrics_entries;
static ngx_atomic_t                   *ngx_http_rooms_metrics_evictions;


/* configuration */


static ngx_int_t
ngx_http_rooms_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_rooms_metrics_ctx_t  *octx = data;

    ngx_slab_pool_t               *shpool;
    ngx_http_rooms_metrics_sh_t   *sh;
    ngx_http_rooms_metrics_ctx_t  *ctx;

    ctx = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (octx != NULL) {
        /* a reload: the counters go on */
        sh = octx->sh;

    } else if (shm_zone->shm.exists) {
        sh = shpool->data;

    } else {
        sh = ngx_slab_alloc(shpool, sizeof(ngx_http_rooms_metrics_sh_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(sh, sizeof(ngx_http_rooms_metrics_sh_t));
        shpool->data = sh;
    }

    if (sh->magic != NGX_HTTP_ROOMS_METRICS_MAGIC
        || sh->layout != NGX_HTTP_ROOMS_METRICS_LAYOUT
        || sh->size != sizeof(ngx_http_rooms_metrics_sh_t))
    {
        if (sh->magic != 0) {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "rooms metrics: the zone kept has layout %uD, "
                          "this module's is %d: counters start from 0",
                          sh->layout, NGX_HTTP_ROOMS_METRICS_LAYOUT);
        }

        ngx_memzero(sh, sizeof(ngx_http_rooms_metrics_sh_t));
        sh->magic = NGX_HTTP_ROOMS_METRICS_MAGIC;
        sh->layout = NGX_HTTP_ROOMS_METRICS_LAYOUT;
        sh->size = sizeof(ngx_http_rooms_metrics_sh_t);
    }

    ctx->sh = sh;
    ctx->generation = ngx_atomic_fetch_add(&sh->generation, 1) + 1;

    return NGX_OK;
}


static ngx_http_rooms_metrics_conf_t *
ngx_http_rooms_metrics_conf(ngx_conf_t *cf)
{
    ngx_http_rooms_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    if (rmcf->metrics == NULL) {
        rmcf->metrics = ngx_pcalloc(cf->pool,
                                    sizeof(ngx_http_rooms_metrics_conf_t));
    }

    return rmcf->metrics;
}


char *
ngx_http_rooms_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    size_t                          size;
    ngx_str_t                       name;
    ngx_shm_zone_t                 *zone;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_rooms_metrics_ctx_t   *ctx;
    ngx_http_rooms_metrics_conf_t  *mcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_rooms_metrics_handler) {
        return "is duplicate";
    }

    if (clcf->handler != NULL) {
        return "is not allowed with another content handler here";
    }

    clcf->handler = ngx_http_rooms_metrics_handler;

    mcf = ngx_http_rooms_metrics_conf(cf);
    if (mcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->zone != NULL) {
        return NGX_CONF_OK;
    }

    /* the counters, and pages for the slab allocator's own bookkeeping */

    size = ngx_align(sizeof(ngx_http_rooms_metrics_sh_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    ngx_str_set(&name, NGX_HTTP_ROOMS_METRICS_ZONE);

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_rooms_module);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_metrics_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->init = ngx_http_rooms_metrics_init_zone;
    zone->data = ctx;

    mcf->zone = zone;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_rooms_metrics_sessions_on(ngx_conf_t *cf)
{
    ngx_http_rooms_metrics_conf_t  *mcf;

    mcf = ngx_http_rooms_metrics_conf(cf);
    if (mcf == NULL) {
        return NGX_ERROR;
    }

    mcf->sessions = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_rooms_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_http_rooms_main_conf_t     *rmcf;
    ngx_http_rooms_metrics_conf_t  *mcf;
    ngx_http_rooms_metrics_slot_t  *slot;

    ngx_http_rooms_metrics = NULL;
    ngx_http_rooms_metrics_slot = NULL;
    ngx_http_rooms_metrics_entries = NULL;
    ngx_http_rooms_metrics_evictions = NULL;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    if (rmcf == NULL || rmcf->metrics == NULL) {
        return NGX_OK;
    }

    mcf = rmcf->metrics;

    if (mcf->zone == NULL) {
        return NGX_OK;
    }

    ngx_http_rooms_metrics = mcf->zone->data;

    slot = &ngx_http_rooms_metrics->sh->slots[ngx_worker
                                              % NGX_HTTP_ROOMS_METRICS_SLOTS];

    /* this worker's gauges from now on; the old owner writes them no more */

    slot->generation = ngx_http_rooms_metrics->generation;
    slot->redis_up = 0;
    slot->subscription_up = 0;

    ngx_http_rooms_metrics_slot = slot;

    return NGX_OK;
}


/* recording */


#define ngx_http_rooms_metrics_add(field, n)                                 \
    (void) ngx_atomic_fetch_add(&ngx_http_rooms_metrics_slot->field, n)


void
ngx_http_rooms_metrics_admission(const char *reason)
{
    ngx_uint_t  i;

    if (ngx_http_rooms_metrics_slot == NULL) {
        return;
    }

    if (reason == NULL) {
        ngx_http_rooms_metrics_add(admissions[0], 1);
        return;
    }

    for (i = 1; i < NGX_HTTP_ROOMS_REASONS; i++) {
        if (ngx_http_rooms_metrics_reasons[i].match != NULL
            && ngx_strcmp(reason, ngx_http_rooms_metrics_reasons[i].match)
               == 0)
        {
            break;
        }
    }

    if (i == NGX_HTTP_ROOMS_REASONS) {
        i = NGX_HTTP_ROOMS_REASON_OTHER;
    }

    ngx_http_rooms_metrics_add(admissions[i], 1);
}


void
ngx_http_rooms_metrics_cache_lookup(ngx_uint_t result)
{
    if (ngx_http_rooms_metrics_slot == NULL || result > 2) {
        return;
    }

    ngx_http_rooms_metrics_add(lookups[result], 1);
}


void
ngx_http_rooms_metrics_token_verification(const char *alg)
{
    ngx_uint_t  i;

    if (ngx_http_rooms_metrics_slot == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_ROOMS_ALGS - 1; i++) {
        if (alg != NULL && ngx_strcmp(alg, ngx_http_rooms_metrics_algs[i]) == 0)
        {
            break;
        }
    }

    ngx_http_rooms_metrics_add(verifications[i], 1);
}


void
ngx_http_rooms_metrics_api(ngx_http_rooms_op_e op, ngx_uint_t status)
{
    ngx_uint_t  i;

    if (ngx_http_rooms_metrics_slot == NULL || op >= NGX_HTTP_ROOMS_OPS) {
        return;
    }

    for (i = 0; i < NGX_HTTP_ROOMS_CODES - 1; i++) {
        if (ngx_http_rooms_metrics_codes[i] == status) {
            break;
        }
    }

    ngx_http_rooms_metrics_add(api[op][i], 1);
}


void
ngx_http_rooms_metrics_cache_zone(ngx_atomic_t *entries,
    ngx_atomic_t *evictions)
{
    ngx_http_rooms_metrics_entries = entries;
    ngx_http_rooms_metrics_evictions = evictions;
}


void
ngx_http_rooms_metrics_event_received(void)
{
    if (ngx_http_rooms_metrics_slot != NULL) {
        ngx_http_rooms_metrics_add(events_received, 1);
    }
}


void
ngx_http_rooms_metrics_event_gap(void)
{
    if (ngx_http_rooms_metrics_slot != NULL) {
        ngx_http_rooms_metrics_add(events_gaps, 1);
    }
}


/* a gauge of this worker's, if the slot is still this worker's */

static void
ngx_http_rooms_metrics_gauge(ngx_atomic_t *gauge, ngx_uint_t value)
{
    if (ngx_http_rooms_metrics_slot->generation
        == ngx_http_rooms_metrics->generation)
    {
        *gauge = value;
    }
}


void
ngx_http_rooms_metrics_subscription_up(ngx_uint_t up)
{
    if (ngx_http_rooms_metrics_slot != NULL) {
        ngx_http_rooms_metrics_gauge(
                           &ngx_http_rooms_metrics_slot->subscription_up, up);
    }
}


uint64_t
ngx_http_rooms_metrics_now(void)
{
    struct timespec  ts;

    if (ngx_http_rooms_metrics_slot == NULL
        || clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    {
        return 0;
    }

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static void
ngx_http_rooms_metrics_observe(ngx_atomic_t *buckets, uint64_t *le,
    ngx_atomic_t *sum, ngx_atomic_t *count, uint64_t usec)
{
    ngx_uint_t  i;

    for (i = 0; le[i] != 0 && usec > le[i]; i++) {
        /* void */
    }

    (void) ngx_atomic_fetch_add(&buckets[i], 1);
    (void) ngx_atomic_fetch_add(sum, (ngx_atomic_int_t) usec);
    (void) ngx_atomic_fetch_add(count, 1);
}


void
ngx_http_rooms_metrics_redis_duration(uint64_t start)
{
    uint64_t  now;

    if (ngx_http_rooms_metrics_slot == NULL || start == 0) {
        return;
    }

    now = ngx_http_rooms_metrics_now();

    ngx_http_rooms_metrics_observe(ngx_http_rooms_metrics_slot->redis_buckets,
                                   ngx_http_rooms_metrics_redis_le,
                                   &ngx_http_rooms_metrics_slot->redis_sum,
                                   &ngx_http_rooms_metrics_slot->redis_count,
                                   now > start ? now - start : 0);
}


void
ngx_http_rooms_metrics_redis_error(ngx_http_rooms_redis_error_e kind)
{
    if (ngx_http_rooms_metrics_slot != NULL
        && kind < NGX_HTTP_ROOMS_REDIS_KINDS)
    {
        ngx_http_rooms_metrics_add(redis_errors[kind], 1);
    }
}


ngx_http_rooms_redis_error_e
ngx_http_rooms_metrics_redis_error_kind(u_char *reply, size_t len)
{
    size_t      n;
    ngx_uint_t  i;

    for (i = NGX_HTTP_ROOMS_REDIS_MOVED; i < NGX_HTTP_ROOMS_REDIS_OTHER; i++) {
        n = ngx_strlen(ngx_http_rooms_metrics_kinds[i].match);

        if (len >= n
            && ngx_strncmp(reply, ngx_http_rooms_metrics_kinds[i].match, n)
               == 0
            && (len == n || reply[n] == ' '))
        {
            return i;
        }
    }

    return NGX_HTTP_ROOMS_REDIS_OTHER;
}


void
ngx_http_rooms_metrics_redis_reconnect(void)
{
    if (ngx_http_rooms_metrics_slot != NULL) {
        ngx_http_rooms_metrics_add(redis_reconnects, 1);
    }
}


void
ngx_http_rooms_metrics_redis_up(ngx_uint_t up)
{
    if (ngx_http_rooms_metrics_slot != NULL) {
        ngx_http_rooms_metrics_gauge(&ngx_http_rooms_metrics_slot->redis_up,
                                     up);
    }
}


void
ngx_http_rooms_metrics_session_started(void)
{
    if (ngx_http_rooms_metrics_slot != NULL) {
        ngx_http_rooms_metrics_add(sessions_started, 1);
    }
}


void
ngx_http_rooms_metrics_session_ended(ngx_http_rooms_session_end_e why)
{
    if (ngx_http_rooms_metrics_slot != NULL
        && why < NGX_HTTP_ROOMS_SESSION_REASONS)
    {
        ngx_http_rooms_metrics_add(sessions_ended[why], 1);
    }
}


void
ngx_http_rooms_metrics_session_close(uint64_t usec)
{
    if (ngx_http_rooms_metrics_slot == NULL) {
        return;
    }

    ngx_http_rooms_metrics_observe(ngx_http_rooms_metrics_slot->close_buckets,
                                   ngx_http_rooms_metrics_close_le,
                                   &ngx_http_rooms_metrics_slot->close_sum,
                                   &ngx_http_rooms_metrics_slot->close_count,
                                   usec);
}


/* the text format 0.0.4 */


/* a counter's sum over the slots, at offset off of a slot */

static uint64_t
ngx_http_rooms_metrics_sum(ngx_http_rooms_metrics_sh_t *sh, size_t off)
{
    uint64_t    n;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; i < NGX_HTTP_ROOMS_METRICS_SLOTS; i++) {
        n += *(ngx_atomic_t *) ((u_char *) &sh->slots[i] + off);
    }

    return n;
}


#define ngx_http_rooms_metrics_total(sh, field)                              \
    ngx_http_rooms_metrics_sum(sh,                                           \
                            offsetof(ngx_http_rooms_metrics_slot_t, field))


/* a worker gauge: the least over the workers of this configuration */

static ngx_uint_t
ngx_http_rooms_metrics_least(ngx_http_rooms_metrics_sh_t *sh, size_t off)
{
    ngx_uint_t                      i, least;
    ngx_http_rooms_metrics_slot_t  *s;

    least = 1;

    for (i = 0; i < NGX_HTTP_ROOMS_METRICS_SLOTS; i++) {
        s = &sh->slots[i];

        if (s->generation == ngx_http_rooms_metrics->generation
            && *(ngx_atomic_t *) ((u_char *) s + off) == 0)
        {
            least = 0;
        }
    }

    return least;
}


static u_char *
ngx_http_rooms_metrics_head(u_char *p, u_char *last, const char *name,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
}


/* seconds from microseconds, without floating point: "0.00025", "1" */

static u_char *
ngx_http_rooms_metrics_seconds(u_char *p, u_char *last, uint64_t usec)
{
    u_char  frac[8], *q;

    p = ngx_slprintf(p, last, "%uL", usec / 1000000);

    if (usec % 1000000 == 0) {
        return p;
    }

    q = ngx_sprintf(frac, ".%06uL", usec % 1000000);

    while (q[-1] == '0') {
        q--;
    }

    return ngx_slprintf(p, last, "%*s", (size_t) (q - frac), frac);
}


static u_char *
ngx_http_rooms_metrics_histogram(u_char *p, u_char *last,
    ngx_http_rooms_metrics_sh_t *sh, const char *name, size_t buckets,
    uint64_t *le, size_t sum, size_t count)
{
    uint64_t    n;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; ; i++) {
        n += ngx_http_rooms_metrics_sum(sh, buckets
                                            + i * sizeof(ngx_atomic_t));

        p = ngx_slprintf(p, last, "%s_bucket{le=\"", name);

        if (le[i] == 0) {
            p = ngx_slprintf(p, last, "+Inf\"} %uL\n", n);
            break;
        }

        p = ngx_http_rooms_metrics_seconds(p, last, le[i]);
        p = ngx_slprintf(p, last, "\"} %uL\n", n);
    }

    p = ngx_slprintf(p, last, "%s_sum ", name);
    p = ngx_http_rooms_metrics_seconds(p, last,
                                       ngx_http_rooms_metrics_sum(sh, sum));

    return ngx_slprintf(p, last, "\n%s_count %uL\n", name,
                        ngx_http_rooms_metrics_sum(sh, count));
}


#define ngx_http_rooms_metrics_off(field)                                    \
    offsetof(ngx_http_rooms_metrics_slot_t, field)


static u_char *
ngx_http_rooms_metrics_write(u_char *p, u_char *last,
    ngx_http_rooms_main_conf_t *rmcf)
{
    uint64_t                        n, ended;
    const char                     *result;
    ngx_uint_t                      i, j;
    ngx_http_rooms_metrics_sh_t    *sh;
    ngx_http_rooms_metrics_conf_t  *mcf;

    sh = ngx_http_rooms_metrics->sh;
    mcf = rmcf->metrics;

    p = ngx_http_rooms_metrics_head(p, last, "rooms_build_info", "gauge",
                                    "The module's version and the versions "
                                    "of what it runs with.");
    p = ngx_slprintf(p, last,
                     "rooms_build_info{version=\"%s\",nginx=\"%s\","
                     "hiredis=\"%d.%d.%d\",openssl=\"%s\"} 1\n",
                     NGX_HTTP_ROOMS_VERSION, NGINX_VERSION, HIREDIS_MAJOR,
                     HIREDIS_MINOR, HIREDIS_PATCH,
                     OpenSSL_version(OPENSSL_VERSION_STRING));

    /* admission */

    p = ngx_http_rooms_metrics_head(p, last, "rooms_admissions_total",
                                    "counter",
                                    "Admission decisions, by result and "
                                    "reason.");

    for (i = 0; i < NGX_HTTP_ROOMS_REASONS; i++) {
        result = (i == 0) ? "admitted"
                 : (i == NGX_HTTP_ROOMS_REASON_UNAVAILABLE) ? "unavailable"
                 : "refused";

        n = ngx_http_rooms_metrics_sum(sh, ngx_http_rooms_metrics_off(
                                                             admissions[i]));

        p = ngx_slprintf(p, last,
                         "rooms_admissions_total{result=\"%s\","
                         "reason=\"%s\"} %uL\n",
                         result, ngx_http_rooms_metrics_reasons[i].label, n);
    }

    p = ngx_http_rooms_metrics_head(p, last, "rooms_cache_lookups_total",
                                    "counter",
                                    "Admissions' lookups in the rooms_cache "
                                    "zone: hit, miss, or bypass (the zone "
                                    "not trusted now, or rooms_cache off).");

    for (i = 0; i < 3; i++) {
        p = ngx_slprintf(p, last,
                         "rooms_cache_lookups_total{result=\"%s\"} %uL\n",
                         ngx_http_rooms_metrics_lookups[i],
                         ngx_http_rooms_metrics_sum(sh,
                                       ngx_http_rooms_metrics_off(lookups[i])));
    }

    if (ngx_http_rooms_metrics_entries != NULL) {
        p = ngx_http_rooms_metrics_head(p, last, "rooms_cache_entries",
                                        "gauge",
                                        "Decisions held in the rooms_cache "
                                        "zone.");
        p = ngx_slprintf(p, last, "rooms_cache_entries %uA\n",
                         *ngx_http_rooms_metrics_entries);

        p = ngx_http_rooms_metrics_head(p, last,
                                        "rooms_cache_evictions_total",
                                        "counter",
                                        "Decisions evicted from the "
                                        "rooms_cache zone to make room.");
        p = ngx_slprintf(p, last, "rooms_cache_evictions_total %uA\n",
                         *ngx_http_rooms_metrics_evictions);
    }

    p = ngx_http_rooms_metrics_head(p, last,
                                    "rooms_token_verifications_total",
                                    "counter",
                                    "Token signatures checked, by the "
                                    "algorithm of the key (unknown: the "
                                    "token named no key of the set).");

    for (i = 0; i < NGX_HTTP_ROOMS_ALGS; i++) {
        p = ngx_slprintf(p, last,
                         "rooms_token_verifications_total{alg=\"%s\"} %uL\n",
                         ngx_http_rooms_metrics_algs[i],
                         ngx_http_rooms_metrics_sum(sh,
                                 ngx_http_rooms_metrics_off(verifications[i])));
    }

    /* the API: only the pairs seen */

    p = ngx_http_rooms_metrics_head(p, last, "rooms_api_requests_total",
                                    "counter",
                                    "Management API requests, by operation "
                                    "and status code.");

    for (i = 0; i < NGX_HTTP_ROOMS_OPS; i++) {
        for (j = 0; j < NGX_HTTP_ROOMS_CODES; j++) {
            n = ngx_http_rooms_metrics_sum(sh,
                                         ngx_http_rooms_metrics_off(api[i][j]));
            if (n == 0) {
                continue;
            }

            p = ngx_slprintf(p, last,
                             "rooms_api_requests_total{operation=\"%s\","
                             "code=\"", ngx_http_rooms_metrics_ops[i]);

            if (ngx_http_rooms_metrics_codes[j]) {
                p = ngx_slprintf(p, last, "%ui\"} %uL\n",
                                 ngx_http_rooms_metrics_codes[j], n);

            } else {
                p = ngx_slprintf(p, last, "other\"} %uL\n", n);
            }
        }
    }

    /* Redis */

    if (rmcf->redis != NULL) {
        p = ngx_http_rooms_metrics_head(p, last,
                                    "rooms_redis_request_duration_seconds",
                                    "histogram",
                                    "Requests to Redis (one pipelined batch "
                                    "of commands), until answered, failed "
                                    "or timed out.");
        p = ngx_http_rooms_metrics_histogram(p, last, sh,
                                    "rooms_redis_request_duration_seconds",
                                    ngx_http_rooms_metrics_off(redis_buckets),
                                    ngx_http_rooms_metrics_redis_le,
                                    ngx_http_rooms_metrics_off(redis_sum),
                                    ngx_http_rooms_metrics_off(redis_count));

        p = ngx_http_rooms_metrics_head(p, last, "rooms_redis_errors_total",
                                        "counter",
                                        "Redis errors, by kind.");

        for (i = 0; i < NGX_HTTP_ROOMS_REDIS_KINDS; i++) {
            p = ngx_slprintf(p, last,
                             "rooms_redis_errors_total{kind=\"%s\"} %uL\n",
                             ngx_http_rooms_metrics_kinds[i].label,
                             ngx_http_rooms_metrics_sum(sh,
                                  ngx_http_rooms_metrics_off(redis_errors[i])));
        }

        p = ngx_http_rooms_metrics_head(p, last,
                                        "rooms_redis_reconnects_total",
                                        "counter",
                                        "Attempts to reopen a lost "
                                        "connection to Redis.");
        p = ngx_slprintf(p, last, "rooms_redis_reconnects_total %uL\n",
                         ngx_http_rooms_metrics_total(sh, redis_reconnects));

        p = ngx_http_rooms_metrics_head(p, last, "rooms_redis_up", "gauge",
                                        "1 when every worker has its "
                                        "connections to Redis up.");
        p = ngx_slprintf(p, last, "rooms_redis_up %ui\n",
                         ngx_http_rooms_metrics_least(sh,
                                    ngx_http_rooms_metrics_off(redis_up)));
    }

    /* the events of other gateways, heard by a cache zone's workers */

    if (ngx_http_rooms_metrics_entries != NULL && rmcf->redis != NULL) {
        p = ngx_http_rooms_metrics_head(p, last,
                                        "rooms_events_received_total",
                                        "counter",
                                        "Change events received on the "
                                        "pub/sub channel.");
        p = ngx_slprintf(p, last, "rooms_events_received_total %uL\n",
                         ngx_http_rooms_metrics_total(sh, events_received));

        p = ngx_http_rooms_metrics_head(p, last, "rooms_events_gaps_total",
                                        "counter",
                                        "Times events were found missed, "
                                        "each flushing the cache zone.");
        p = ngx_slprintf(p, last, "rooms_events_gaps_total %uL\n",
                         ngx_http_rooms_metrics_total(sh, events_gaps));

        p = ngx_http_rooms_metrics_head(p, last, "rooms_subscription_up",
                                        "gauge",
                                        "1 when every worker is subscribed "
                                        "to the change events and in sync.");
        p = ngx_slprintf(p, last, "rooms_subscription_up %ui\n",
                         ngx_http_rooms_metrics_least(sh,
                               ngx_http_rooms_metrics_off(subscription_up)));
    }

    /* live sessions, once the configuration has them */

    if (mcf->sessions) {
        /*
         * started less ended, over every slot: the sessions of old workers
         * still draining after a reload included.  The ends are read
         * first: a session that starts and ends meanwhile is then counted
         * in neither or in started alone, never in ended alone.  A zone
         * started anew under old workers' live sessions would go below 0.
         */

        ended = 0;

        for (i = 0; i < NGX_HTTP_ROOMS_SESSION_REASONS; i++) {
            ended += ngx_http_rooms_metrics_sum(sh,
                                ngx_http_rooms_metrics_off(sessions_ended[i]));
        }

        n = ngx_http_rooms_metrics_total(sh, sessions_started);
        n = (n > ended) ? n - ended : 0;

        p = ngx_http_rooms_metrics_head(p, last, "rooms_sessions", "gauge",
                                        "Live sessions.");
        p = ngx_slprintf(p, last, "rooms_sessions %uL\n", n);

        p = ngx_http_rooms_metrics_head(p, last,
                                        "rooms_sessions_ended_total",
                                        "counter",
                                        "Sessions ended, by reason.");

        for (i = 0; i < NGX_HTTP_ROOMS_SESSION_REASONS; i++) {
            p = ngx_slprintf(p, last,
                             "rooms_sessions_ended_total{reason=\"%s\"} %uL\n",
                             ngx_http_rooms_metrics_ends[i],
                             ngx_http_rooms_metrics_sum(sh,
                                ngx_http_rooms_metrics_off(sessions_ended[i])));
        }

        p = ngx_http_rooms_metrics_head(p, last,
                                        "rooms_session_close_seconds",
                                        "histogram",
                                        "From the change that ended a "
                                        "session to its connection closed.");
        p = ngx_http_rooms_metrics_histogram(p, last, sh,
                                    "rooms_session_close_seconds",
                                    ngx_http_rooms_metrics_off(close_buckets),
                                    ngx_http_rooms_metrics_close_le,
                                    ngx_http_rooms_metrics_off(close_sum),
                                    ngx_http_rooms_metrics_off(close_count));
    }

    return p;
}


static ngx_int_t
ngx_http_rooms_metrics_handler(ngx_http_request_t *r)
{
    size_t                       size;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    ngx_http_rooms_main_conf_t  *rmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_rooms_metrics == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_rooms_module);

    /* far more than the longest output: every API pair seen */

    size = 256 * 1024;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_rooms_metrics_write(b->pos, b->end, rmcf);

    if (b->last == b->end) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "rooms metrics: the output does not fit %uz bytes",
                      size);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
