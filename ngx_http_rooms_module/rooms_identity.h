
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * ACS Identity REST models (api-version 2023-10-01): the request bodies of
 * "create identity" and "issue access token", and their responses.
 * No nginx dependency.
 */


#ifndef _ROOMS_IDENTITY_H_INCLUDED_
#define _ROOMS_IDENTITY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "rooms_model.h"


#define ROOMS_TOKEN_MINUTES_MIN      60
#define ROOMS_TOKEN_MINUTES_MAX      1440
#define ROOMS_TOKEN_MINUTES_DEFAULT  1440


typedef struct {
    int   want_token;       /* create: createTokenWithScopes was given */
    int   minutes;          /* expiresInMinutes, default 1440 */
    char  scope[128];       /* space-separated scopes, for the "scope" claim */
} rooms_identity_req_t;


/*
 * POST /identities: an empty body, or {"createTokenWithScopes": [...],
 * "expiresInMinutes": N}.  Returns 0, or -1 with err set (400).
 */
int rooms_identity_parse_create(const char *body, size_t len,
    rooms_identity_req_t *req, rooms_error_t *err);

/* POST /identities/{id}/:issueAccessToken: {"scopes": [...], ...} */
int rooms_identity_parse_issue(const char *body, size_t len,
    rooms_identity_req_t *req, rooms_error_t *err);

/*
 * {"identity":{"id":ID},"accessToken":{"token":T,"expiresOn":E}} with the
 * accessToken member only when token is not NULL; malloc'd
 */
char *rooms_identity_json(const char *id, const char *token,
    int64_t expires_us);

/* {"token":T,"expiresOn":E}; malloc'd */
char *rooms_token_json(const char *token, int64_t expires_us);


#endif /* _ROOMS_IDENTITY_H_INCLUDED_ */
