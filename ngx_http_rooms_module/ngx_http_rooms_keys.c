
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * A key set object lives in the configuration's memory: each worker has
 * its own copy after the fork, and replaces its own set.  A check costs a
 * stat() when the file has not changed: the file is read again only when
 * its inode, size or mtime differ from those of the last read, or when it
 * was read in the second of its mtime (a write may have followed within
 * the same timestamp).  A file read again but with the same content as
 * the set in use changes nothing.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/sha.h>

#include "ngx_http_rooms_module.h"
#include "ngx_http_rooms_keys.h"
#include "ngx_http_rooms_tokens.h"


#define NGX_HTTP_ROOMS_KEYS_MAX    (1024 * 1024)
#define NGX_HTTP_ROOMS_KEYS_EARLY  1000          /* ms between early checks */


struct ngx_http_rooms_keys_s {
    ngx_str_t                  file;        /* NUL-terminated */
    ngx_msec_t                 check;       /* 0: never */
    rooms_jwks_t              *jwks;

    ngx_event_t                timer;       /* of the checks, per worker */
    ngx_msec_t                 early;       /* the last early check */

    /* the file as last read, and the content of the set in use */
    ngx_file_uniq_t            uniq;
    off_t                      size;
    time_t                     mtime;
    long                       mtime_ns;
    time_t                     read_at;
    u_char                     digest[SHA256_DIGEST_LENGTH];

    /* the last failure, logged once */
    unsigned                   failed:1;
    ngx_file_uniq_t            failed_uniq;
    off_t                      failed_size;
    time_t                     failed_mtime;
    long                       failed_mtime_ns;
};


static void
ngx_http_rooms_keys_cleanup(void *data)
{
    ngx_http_rooms_keys_t  *k = data;

    /* whichever set this process uses now */
    rooms_jwks_free(k->jwks);
    k->jwks = NULL;
}


/*
 * Reads and parses the file: NGX_OK with *jwks, or NULL when the content
 * is that of the set in use; NGX_ERROR with the reason in err (and *errn
 * when the system said why).  *fi is the file as read.
 */

static ngx_int_t
ngx_http_rooms_keys_load(ngx_http_rooms_keys_t *k, rooms_jwks_t **jwks,
    u_char *digest, ngx_file_info_t *fi, ngx_err_t *errn, char *err,
    size_t errlen, ngx_log_t *log)
{
    u_char      *buf, *last;
    char         why[256];
    ssize_t      n;
    ngx_int_t    rc;
    ngx_fd_t     fd;

    *jwks = NULL;
    *errn = 0;
    last = (u_char *) err + errlen - 1;

    fd = ngx_open_file(k->file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        *errn = ngx_errno;
        *ngx_slprintf((u_char *) err, last, "cannot open \"%V\"", &k->file)
            = '\0';
        return NGX_ERROR;
    }

    buf = NULL;
    rc = NGX_ERROR;

    if (ngx_fd_info(fd, fi) == NGX_FILE_ERROR
        || !ngx_is_file(fi)
        || ngx_file_size(fi) > NGX_HTTP_ROOMS_KEYS_MAX)
    {
        *ngx_slprintf((u_char *) err, last,
                      "\"%V\" is not a file of at most 1 MiB", &k->file)
            = '\0';
        goto done;
    }

    buf = ngx_alloc(ngx_file_size(fi) + 1, log);
    if (buf == NULL) {
        *ngx_slprintf((u_char *) err, last, "no memory for \"%V\"", &k->file)
            = '\0';
        goto done;
    }

    n = ngx_read_fd(fd, buf, ngx_file_size(fi) + 1);

    if (n == -1) {
        *errn = ngx_errno;
        *ngx_slprintf((u_char *) err, last, "cannot read \"%V\"", &k->file)
            = '\0';
        goto done;
    }

    if (n != ngx_file_size(fi)) {
        /* written to while read */
        *ngx_slprintf((u_char *) err, last, "\"%V\" changed while read",
                      &k->file)
            = '\0';
        goto done;
    }

    SHA256(buf, n, digest);

    if (k->jwks != NULL
        && ngx_memcmp(digest, k->digest, SHA256_DIGEST_LENGTH) == 0)
    {
        rc = NGX_OK;
        goto done;
    }

    *jwks = rooms_jwks_parse((char *) buf, n, why, sizeof(why));

    if (*jwks == NULL) {
        *ngx_slprintf((u_char *) err, last, "\"%V\": %s", &k->file, why)
            = '\0';
        goto done;
    }

    rc = NGX_OK;

done:

    if (buf != NULL) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);

    return rc;
}


static void
ngx_http_rooms_keys_seen(ngx_http_rooms_keys_t *k, ngx_file_info_t *fi)
{
    k->uniq = ngx_file_uniq(fi);
    k->size = ngx_file_size(fi);
    k->mtime = fi->st_mtim.tv_sec;
    k->mtime_ns = fi->st_mtim.tv_nsec;
    k->read_at = ngx_time();
}


char *
ngx_http_rooms_keys_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_rooms_srv_conf_t *rscf = conf;

    char                         err[512];
    u_char                       digest[SHA256_DIGEST_LENGTH];
    ngx_err_t                    errn;
    ngx_str_t                   *value, s;
    ngx_uint_t                   i;
    rooms_jwks_t                *jwks;
    ngx_file_info_t              fi;
    ngx_pool_cleanup_t          *cln;
    ngx_http_rooms_keys_t       *k, **kp;
    ngx_http_rooms_main_conf_t  *rmcf;

    if (rscf->keys != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    k = ngx_pcalloc(cf->pool, sizeof(ngx_http_rooms_keys_t));
    if (k == NULL) {
        return NGX_CONF_ERROR;
    }

    k->check = 5000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "check=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            k->check = ngx_parse_time(&s, 0);

            if (k->check != (ngx_msec_t) NGX_ERROR && s.len) {
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rooms_token_keys: invalid parameter \"%V\" "
                           "(expected check=TIME, 0 for never)", &value[i]);
        return NGX_CONF_ERROR;
    }

    k->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &k->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_rooms_keys_load(k, &jwks, digest, &fi, &errn, err,
                                 sizeof(err), cf->log)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, errn, "rooms_token_keys: %s",
                           err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        rooms_jwks_free(jwks);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_rooms_keys_cleanup;
    cln->data = k;

    k->jwks = jwks;
    ngx_memcpy(k->digest, digest, SHA256_DIGEST_LENGTH);
    ngx_http_rooms_keys_seen(k, &fi);

    /* for the workers' timers */

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_rooms_module);

    if (rmcf->keys == NULL) {
        rmcf->keys = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_rooms_keys_t *));
        if (rmcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kp = ngx_array_push(rmcf->keys);
    if (kp == NULL) {
        return NGX_CONF_ERROR;
    }

    *kp = k;
    rscf->keys = k;

    return NGX_CONF_OK;
}


/* the kids of a set, for the log: "a", "b" */

static u_char *
ngx_http_rooms_keys_kids(u_char *p, u_char *last, rooms_jwks_t *jwks)
{
    size_t  i, n;

    n = rooms_jwks_count(jwks);

    for (i = 0; i < n && p < last; i++) {
        p = ngx_slprintf(p, last, "%s\"%s\"", i ? ", " : "",
                         rooms_jwks_kid(jwks, i));
    }

    return p;
}


/* NGX_OK when the set was replaced */

static ngx_int_t
ngx_http_rooms_keys_reload(ngx_http_rooms_keys_t *k)
{
    char              err[512];
    u_char            digest[SHA256_DIGEST_LENGTH], kids[512], *p;
    ngx_err_t         errn;
    ngx_log_t        *log;
    rooms_jwks_t     *jwks, *old;
    ngx_file_info_t   fi;

    log = ngx_cycle->log;

    /* (a file that cannot be opened has all zeros for the log's dedup) */
    ngx_memzero(&fi, sizeof(ngx_file_info_t));

    /* unchanged since read, and read after the second it was written */

    if (ngx_file_info(k->file.data, &fi) != NGX_FILE_ERROR
        && !k->failed
        && ngx_file_uniq(&fi) == k->uniq
        && ngx_file_size(&fi) == k->size
        && fi.st_mtim.tv_sec == k->mtime
        && fi.st_mtim.tv_nsec == k->mtime_ns
        && k->read_at > k->mtime)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_rooms_keys_load(k, &jwks, digest, &fi, &errn, err,
                                 sizeof(err), log)
        != NGX_OK)
    {
        /* the same failure is logged once */

        if (!k->failed
            || ngx_file_uniq(&fi) != k->failed_uniq
            || ngx_file_size(&fi) != k->failed_size
            || fi.st_mtim.tv_sec != k->failed_mtime
            || fi.st_mtim.tv_nsec != k->failed_mtime_ns)
        {
            ngx_log_error(NGX_LOG_ERR, log, errn,
                          "rooms_token_keys: keeping the %uz keys read "
                          "before: %s", rooms_jwks_count(k->jwks), err);
        }

        k->failed = 1;
        k->failed_uniq = ngx_file_uniq(&fi);
        k->failed_size = ngx_file_size(&fi);
        k->failed_mtime = fi.st_mtim.tv_sec;
        k->failed_mtime_ns = fi.st_mtim.tv_nsec;

        return NGX_DECLINED;
    }

    k->failed = 0;
    ngx_http_rooms_keys_seen(k, &fi);

    if (jwks == NULL) {
        /* the same keys */
        return NGX_DECLINED;
    }

    /* the whole set at once; no token verified by the old one survives */

    old = k->jwks;
    k->jwks = jwks;
    ngx_memcpy(k->digest, digest, SHA256_DIGEST_LENGTH);

    ngx_http_rooms_tokens_forget(old);
    rooms_jwks_free(old);

    p = ngx_http_rooms_keys_kids(kids, kids + sizeof(kids) - 1, jwks);
    *p = '\0';

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "rooms_token_keys: \"%V\" changed: %uz keys now (%s)",
                  &k->file, rooms_jwks_count(jwks), kids);

    return NGX_OK;
}


static void
ngx_http_rooms_keys_timer(ngx_event_t *ev)
{
    ngx_http_rooms_keys_t  *k = ev->data;

    (void) ngx_http_rooms_keys_reload(k);

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, k->check);
    }
}


ngx_int_t
ngx_http_rooms_keys_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_rooms_keys_t       **kp, *k;
    ngx_http_rooms_main_conf_t   *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rooms_module);

    if (rmcf == NULL || rmcf->keys == NULL) {
        return NGX_OK;
    }

    kp = rmcf->keys->elts;

    for (i = 0; i < rmcf->keys->nelts; i++) {
        k = kp[i];

        if (k->check == 0) {
            continue;
        }

        k->timer.handler = ngx_http_rooms_keys_timer;
        k->timer.data = k;
        k->timer.log = cycle->log;
        k->timer.cancelable = 1;

        ngx_add_timer(&k->timer, k->check);
    }

    return NGX_OK;
}


rooms_jwks_t *
ngx_http_rooms_keys_get(ngx_http_rooms_keys_t *k)
{
    return k->jwks;
}


rooms_jwks_t *
ngx_http_rooms_keys_unknown_kid(ngx_http_rooms_keys_t *k)
{
    if (k->check == 0
        || (ngx_msec_int_t) (ngx_current_msec - k->early)
           < NGX_HTTP_ROOMS_KEYS_EARLY)
    {
        return NULL;
    }

    k->early = ngx_current_msec;

    return ngx_http_rooms_keys_reload(k) == NGX_OK ? k->jwks : NULL;
}


const char *
ngx_http_rooms_keys_alg(rooms_jwks_t *jwks, const char *kid)
{
    size_t  i, n;

    n = rooms_jwks_count(jwks);

    for (i = 0; i < n; i++) {
        if (ngx_strcmp(rooms_jwks_kid(jwks, i), kid) == 0) {
            return rooms_jwks_alg(jwks, i);
        }
    }

    return NULL;
}
