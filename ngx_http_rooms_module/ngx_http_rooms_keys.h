
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The token keys of a server ("rooms_token_keys file [check=time]"): the
 * JWKS read when the configuration is, then checked by each worker every
 * "check" (a timer: an idle worker follows too) and read again when it
 * changed, and early (at most once a second) when a token names a kid
 * the set does not have.  The new set replaces
 * the whole old one at once; a file that cannot be read or parsed (broken,
 * or half written) keeps the old set, and the error log says why.
 *
 * A replaced set is freed after the worker's table of verified tokens has
 * forgotten every token it verified (ngx_http_rooms_tokens_forget()), so a
 * token verified by the old set is never taken as verified by the new one,
 * whatever address the new one gets.
 */


#ifndef _NGX_HTTP_ROOMS_KEYS_H_INCLUDED_
#define _NGX_HTTP_ROOMS_KEYS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "rooms_jwt.h"


typedef struct ngx_http_rooms_keys_s  ngx_http_rooms_keys_t;


/* the directive: sets the srv conf's keys */
char *ngx_http_rooms_keys_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* each worker's timers of the checks */
ngx_int_t ngx_http_rooms_keys_init_process(ngx_cycle_t *cycle);

/* the set to use now */
rooms_jwks_t *ngx_http_rooms_keys_get(ngx_http_rooms_keys_t *keys);

/*
 * A token named a kid the set does not have: the file is checked now
 * unless it was early-checked less than a second ago.  The new set if it
 * changed, else NULL.
 */
rooms_jwks_t *ngx_http_rooms_keys_unknown_kid(ngx_http_rooms_keys_t *keys);

/* the algorithm of the key kid of the set, NULL when it has none */
const char *ngx_http_rooms_keys_alg(rooms_jwks_t *jwks, const char *kid);


#endif /* _NGX_HTTP_ROOMS_KEYS_H_INCLUDED_ */
