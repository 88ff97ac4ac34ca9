
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The ACS Identity request and response models (rooms_identity.c).
 */


#include <stdlib.h>

#include "check.h"
#include "rooms_identity.h"


static int
parse_create(const char *body, rooms_identity_req_t *req, rooms_error_t *err)
{
    memset(err, 0, sizeof(rooms_error_t));
    return rooms_identity_parse_create(body, strlen(body), req, err);
}


static int
parse_issue(const char *body, rooms_identity_req_t *req, rooms_error_t *err)
{
    memset(err, 0, sizeof(rooms_error_t));
    return rooms_identity_parse_issue(body, strlen(body), req, err);
}


static void
test_create(void)
{
    rooms_error_t         err;
    rooms_identity_req_t  req;

    /* createUser(): an empty body, no token */
    CHECK_INT(parse_create("", &req, &err), 0);
    CHECK_INT(req.want_token, 0);
    CHECK_INT(req.minutes, 1440);

    CHECK_INT(parse_create("{}", &req, &err), 0);
    CHECK_INT(req.want_token, 0);

    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\"]}", &req,
                           &err), 0);
    CHECK_INT(req.want_token, 1);
    CHECK_STR(req.scope, "voip");
    CHECK_INT(req.minutes, 1440);

    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"chat\",\"voip\"],"
                           "\"expiresInMinutes\":60}", &req, &err), 0);
    CHECK_STR(req.scope, "chat voip");
    CHECK_INT(req.minutes, 60);

    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\"],"
                           "\"expiresInMinutes\":1440}", &req, &err), 0);
    CHECK_INT(req.minutes, 1440);

    /* out of range, wrong types, unknown scopes, bad JSON: 400 */
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\"],"
                           "\"expiresInMinutes\":59}", &req, &err), -1);
    CHECK_INT(err.status, 400);
    CHECK_STR(err.code, "BadRequest");
    CHECK_STR(err.target, "expiresInMinutes");

    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\"],"
                           "\"expiresInMinutes\":1441}", &req, &err), -1);
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\"],"
                           "\"expiresInMinutes\":\"60\"}", &req, &err), -1);
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\"],"
                           "\"expiresInMinutes\":60.5}", &req, &err), -1);
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"root\"]}", &req,
                           &err), -1);
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[]}", &req, &err), -1);
    CHECK_INT(parse_create("{\"createTokenWithScopes\":\"voip\"}", &req,
                           &err), -1);
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[1]}", &req, &err),
              -1);
    CHECK_INT(parse_create("[]", &req, &err), -1);
    CHECK_INT(parse_create("{", &req, &err), -1);
    CHECK_INT(parse_create("{\"a\":1,\"a\":2}", &req, &err), -1);
    CHECK_INT(err.status, 400);

    /* "voip\0x" must not pass as "voip" */
    CHECK_INT(parse_create("{\"createTokenWithScopes\":[\"voip\\u0000x\"]}",
                           &req, &err), -1);
}


static void
test_issue(void)
{
    rooms_error_t         err;
    rooms_identity_req_t  req;

    CHECK_INT(parse_issue("{\"scopes\":[\"voip\"]}", &req, &err), 0);
    CHECK_STR(req.scope, "voip");
    CHECK_INT(req.minutes, 1440);

    CHECK_INT(parse_issue("{\"scopes\":[\"chat\",\"voip\"],"
                          "\"expiresInMinutes\":120}", &req, &err), 0);
    CHECK_STR(req.scope, "chat voip");
    CHECK_INT(req.minutes, 120);

    /* scopes are required here */
    CHECK_INT(parse_issue("", &req, &err), -1);
    CHECK_STR(err.target, "scopes");
    CHECK_INT(parse_issue("{}", &req, &err), -1);
    CHECK_INT(parse_issue("{\"scopes\":null}", &req, &err), -1);
    CHECK_INT(parse_issue("{\"scopes\":[\"voip\"],\"expiresInMinutes\":0}",
                          &req, &err), -1);
}


static void
test_json(void)
{
    char  *s;

    s = rooms_identity_json("8:acs:r_u", NULL, 0);
    CHECK_STR(s, "{\"identity\":{\"id\":\"8:acs:r_u\"}}");
    free(s);

    /* 2026-11-28T20:47:35Z */
    s = rooms_identity_json("8:acs:r_u", "a.b.c",
                            INT64_C(1795898855) * 1000000);
    CHECK_STR(s, "{\"identity\":{\"id\":\"8:acs:r_u\"},\"accessToken\":"
                 "{\"token\":\"a.b.c\",\"expiresOn\":"
                 "\"2026-11-28T20:47:35+00:00\"}}");
    free(s);

    s = rooms_token_json("a.b.c", INT64_C(1795898855) * 1000000);
    CHECK_STR(s, "{\"token\":\"a.b.c\",\"expiresOn\":"
                 "\"2026-11-28T20:47:35+00:00\"}");
    free(s);
}


int
main(void)
{
    test_create();
    test_issue();
    test_json();

    CHECK_DONE("test_identity");
}
