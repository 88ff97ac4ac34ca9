
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <string.h>
#include <jansson.h>

#include "rooms_identity.h"
#include "rooms_time.h"


static const char  *rooms_identity_scopes[] = {
    "chat", "voip", "chat.join", "chat.join.limited", "voip.join", NULL
};


static int
rooms_identity_bad(rooms_error_t *err, const char *message, const char *target)
{
    rooms_error_set(err, 400, ROOMS_CODE_BAD_REQUEST, message, target);
    return -1;
}


static int
rooms_identity_scopes_parse(json_t *arr, rooms_identity_req_t *req,
    rooms_error_t *err, const char *target)
{
    size_t       i, j, len, used;
    json_t      *v;
    const char  *s;

    if (!json_is_array(arr) || json_array_size(arr) == 0
        || json_array_size(arr) > 5)
    {
        return rooms_identity_bad(err, "Scopes must be a non-empty array of "
                                  "chat, voip, chat.join, chat.join.limited "
                                  "or voip.join.", target);
    }

    used = 0;
    req->scope[0] = '\0';

    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            return rooms_identity_bad(err, "A scope must be a string.",
                                      target);
        }

        s = json_string_value(v);
        len = json_string_length(v);

        for (j = 0; rooms_identity_scopes[j] != NULL; j++) {
            if (strlen(rooms_identity_scopes[j]) == len
                && memcmp(rooms_identity_scopes[j], s, len) == 0)
            {
                break;
            }
        }

        if (rooms_identity_scopes[j] == NULL) {
            return rooms_identity_bad(err, "Unknown scope: use chat, voip, "
                                      "chat.join, chat.join.limited or "
                                      "voip.join.", target);
        }

        if (used + len + 2 > sizeof(req->scope)) {
            return rooms_identity_bad(err, "Too many scopes.", target);
        }

        if (used) {
            req->scope[used++] = ' ';
        }

        memcpy(req->scope + used, s, len);
        used += len;
        req->scope[used] = '\0';
    }

    return 0;
}


static int
rooms_identity_parse(const char *body, size_t len, rooms_identity_req_t *req,
    rooms_error_t *err, const char *scopes_name)
{
    json_t        *root, *v;
    json_int_t     m;
    json_error_t   jerr;
    int            rc;

    memset(req, 0, sizeof(rooms_identity_req_t));
    req->minutes = ROOMS_TOKEN_MINUTES_DEFAULT;

    if (len == 0) {
        if (strcmp(scopes_name, "scopes") == 0) {
            return rooms_identity_bad(err, "The scopes are required.",
                                      "scopes");
        }

        return 0;
    }

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return rooms_identity_bad(err, ROOMS_MSG_MALFORMED, NULL);
    }

    rc = 0;

    v = json_object_get(root, scopes_name);

    if (v != NULL && !json_is_null(v)) {
        rc = rooms_identity_scopes_parse(v, req, err, scopes_name);
        req->want_token = 1;

    } else if (strcmp(scopes_name, "scopes") == 0) {
        rc = rooms_identity_bad(err, "The scopes are required.", "scopes");
    }

    v = json_object_get(root, "expiresInMinutes");

    if (rc == 0 && v != NULL && !json_is_null(v)) {
        m = json_is_integer(v) ? json_integer_value(v) : 0;

        if (m < ROOMS_TOKEN_MINUTES_MIN || m > ROOMS_TOKEN_MINUTES_MAX) {
            rc = rooms_identity_bad(err, "The expiresInMinutes must be an "
                                    "integer from 60 to 1440.",
                                    "expiresInMinutes");

        } else {
            req->minutes = (int) m;
        }
    }

    json_decref(root);

    return rc;
}


int
rooms_identity_parse_create(const char *body, size_t len,
    rooms_identity_req_t *req, rooms_error_t *err)
{
    return rooms_identity_parse(body, len, req, err, "createTokenWithScopes");
}


int
rooms_identity_parse_issue(const char *body, size_t len,
    rooms_identity_req_t *req, rooms_error_t *err)
{
    return rooms_identity_parse(body, len, req, err, "scopes");
}


static json_t *
rooms_token_object(const char *token, int64_t expires_us)
{
    char  date[ROOMS_TIME_FORMAT_SIZE];

    rooms_time_format(date, expires_us);

    return json_pack("{s:s, s:s}", "token", token, "expiresOn", date);
}


char *
rooms_identity_json(const char *id, const char *token, int64_t expires_us)
{
    json_t  *root;

    root = json_pack("{s:{s:s}}", "identity", "id", id);
    if (root == NULL) {
        return NULL;
    }

    if (token != NULL
        && json_object_set_new(root, "accessToken",
                               rooms_token_object(token, expires_us))
           != 0)
    {
        json_decref(root);
        return NULL;
    }

    return rooms_json_dump(root);
}


char *
rooms_token_json(const char *token, int64_t expires_us)
{
    return rooms_json_dump(rooms_token_object(token, expires_us));
}
