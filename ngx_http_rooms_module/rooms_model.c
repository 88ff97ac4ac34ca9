
/*
 * Copyright (C) ngx_http_rooms_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "rooms_id.h"
#include "rooms_model.h"


static void rooms_error_copy(char *dst, size_t size, const char *src);
static void rooms_model_malformed(rooms_error_t *err, const char *message,
    const char *target);
static json_t *rooms_model_load(const char *body, size_t len,
    rooms_error_t *err);
static int rooms_model_get(json_t *obj, const char *name, json_t **out,
    rooms_error_t *err);
static int rooms_model_time(json_t *root, const char *name,
    const char *path, int64_t *out, rooms_error_t *err);
static int rooms_model_room_fields(json_t *root, rooms_room_req_t *req,
    rooms_error_t *err);
static int rooms_model_participants(json_t *obj, rooms_room_req_t *req,
    int patch, rooms_error_t *err);
static int rooms_model_participant(const char *key, size_t klen, json_t *v,
    int patch, rooms_participant_t *p, rooms_error_t *err);
static void rooms_room_req_init(rooms_room_req_t *req);
static int64_t rooms_model_add(int64_t a, int64_t b);
static json_t *rooms_model_room_object(const rooms_room_t *room,
    int api_version);
static json_t *rooms_model_time_string(int64_t us);
static char *rooms_model_page(json_t *value, const char *next_link);


static const char  *rooms_role_names[] = {
    "Presenter", "Attendee", "Consumer", "Collaborator"
};


/* the compact text of o, which is released; NULL for a NULL o */

char *
rooms_json_dump(struct json_t *o)
{
    char  *s;

    if (o == NULL) {
        return NULL;
    }

    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);

    return s;
}


int
rooms_api_version_parse(const char *s, size_t len)
{
    if (len != 10) {
        return 0;
    }

    if (memcmp(s, "2023-06-14", 10) == 0) {
        return ROOMS_API_2023_06_14;
    }

    if (memcmp(s, "2024-04-15", 10) == 0) {
        return ROOMS_API_2024_04_15;
    }

    if (memcmp(s, "2025-03-13", 10) == 0) {
        return ROOMS_API_2025_03_13;
    }

    return 0;
}


int
rooms_identity_api_version_parse(const char *s, size_t len)
{
    if (len == 10 && memcmp(s, "2023-10-01", 10) == 0) {
        return ROOMS_API_IDENTITY_2023_10_01;
    }

    return 0;
}


const char *
rooms_role_name(int role)
{
    if (role < ROOMS_ROLE_PRESENTER || role > ROOMS_ROLE_COLLABORATOR) {
        return NULL;
    }

    return rooms_role_names[role];
}


int
rooms_role_parse(const char *s, size_t len)
{
    int     role;
    size_t  n;

    for (role = ROOMS_ROLE_PRESENTER; role <= ROOMS_ROLE_COLLABORATOR; role++)
    {
        n = strlen(rooms_role_names[role]);

        if (len == n && strncasecmp(s, rooms_role_names[role], n) == 0) {
            return role;
        }
    }

    return ROOMS_ROLE_UNKNOWN;
}


int
rooms_role_allowed(int role, int api_version)
{
    if (role == ROOMS_ROLE_COLLABORATOR) {
        return api_version >= ROOMS_API_2025_03_13;
    }

    return role >= ROOMS_ROLE_PRESENTER && role <= ROOMS_ROLE_CONSUMER;
}


static void
rooms_error_copy(char *dst, size_t size, const char *src)
{
    size_t         i;
    unsigned char  c;

    if (src == NULL) {
        src = "";
    }

    for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
        c = (unsigned char) src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }

    dst[i] = '\0';
}


void
rooms_error_set(rooms_error_t *e, int status, const char *code,
    const char *message, const char *target)
{
    e->status = status;

    rooms_error_copy(e->code, sizeof(e->code), code);
    rooms_error_copy(e->message, sizeof(e->message), message);
    rooms_error_copy(e->target, sizeof(e->target), target);

    e->detail_code[0] = '\0';
    e->detail_message[0] = '\0';
    e->detail_target[0] = '\0';
}


void
rooms_error_set_detail(rooms_error_t *e, const char *code,
    const char *message, const char *target)
{
    rooms_error_copy(e->detail_code, sizeof(e->detail_code), code);
    rooms_error_copy(e->detail_message, sizeof(e->detail_message), message);
    rooms_error_copy(e->detail_target, sizeof(e->detail_target), target);
}


char *
rooms_error_json(const rooms_error_t *e)
{
    char    *s;
    json_t  *root, *error, *details, *detail;

    s = NULL;

    root = json_object();

    if (root == NULL) {
        return NULL;
    }

    /* json_object_set_new() and json_array_append_new() consume the value */

    error = json_object();

    if (json_object_set_new(root, "error", error) != 0) {
        goto done;
    }

    if (json_object_set_new(error, "code", json_string(e->code)) != 0
        || json_object_set_new(error, "message", json_string(e->message))
           != 0)
    {
        goto done;
    }

    if (e->target[0] != '\0'
        && json_object_set_new(error, "target", json_string(e->target)) != 0)
    {
        goto done;
    }

    if (e->detail_code[0] != '\0') {
        details = json_array();

        if (json_object_set_new(error, "details", details) != 0) {
            goto done;
        }

        detail = json_object();

        if (json_array_append_new(details, detail) != 0) {
            goto done;
        }

        if (json_object_set_new(detail, "code", json_string(e->detail_code))
            != 0
            || json_object_set_new(detail, "message",
                                   json_string(e->detail_message))
               != 0)
        {
            goto done;
        }

        if (e->detail_target[0] != '\0'
            && json_object_set_new(detail, "target",
                                   json_string(e->detail_target))
               != 0)
        {
            goto done;
        }
    }

    s = json_dumps(root, JSON_COMPACT);

done:

    json_decref(root);

    return s;
}


static void
rooms_model_malformed(rooms_error_t *err, const char *message,
    const char *target)
{
    rooms_error_set(err, 400, ROOMS_CODE_BAD_REQUEST, ROOMS_MSG_MALFORMED,
                    NULL);
    rooms_error_set_detail(err, ROOMS_CODE_BAD_ARGUMENT, message, target);
}


static json_t *
rooms_model_load(const char *body, size_t len, rooms_error_t *err)
{
    json_t        *root;
    json_error_t   jerr;

    if (len == 0) {
        root = json_object();

        if (root == NULL) {
            rooms_error_set(err, 500, "InternalError", "Out of memory.",
                            NULL);
        }

        return root;
    }

    /*
     * jansson rejects invalid UTF-8 and, without JSON_ALLOW_NUL, "\u0000";
     * it also refuses anything after the top-level value
     */

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        rooms_model_malformed(err, jerr.text, "$");
        return NULL;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        rooms_model_malformed(err, "The request body must be a JSON object.",
                              "$");
        return NULL;
    }

    return root;
}


/*
 * Looks a property up case-insensitively, like ACS's System.Text.Json web
 * defaults; two spellings of one name ("validFrom" and "ValidFrom") make
 * the body ambiguous.
 */

static int
rooms_model_get(json_t *obj, const char *name, json_t **out,
    rooms_error_t *err)
{
    char         msg[96];
    void        *it;
    size_t       n;
    const char  *key;

    n = strlen(name);
    *out = NULL;

    for (it = json_object_iter(obj);
         it != NULL;
         it = json_object_iter_next(obj, it))
    {
        key = json_object_iter_key(it);

        if (json_object_iter_key_len(it) != n
            || strncasecmp(key, name, n) != 0)
        {
            continue;
        }

        if (*out != NULL) {
            snprintf(msg, sizeof(msg), "Duplicate property \"%s\".", name);
            rooms_model_malformed(err, msg, name);
            return -1;
        }

        *out = json_object_iter_value(it);
    }

    return 0;
}


static int
rooms_model_time(json_t *root, const char *name, const char *path,
    int64_t *out, rooms_error_t *err)
{
    char     msg[128];
    json_t  *v;

    *out = ROOMS_TIME_UNSET;

    if (rooms_model_get(root, name, &v, err) != 0) {
        return -1;
    }

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    if (json_is_string(v)
        && rooms_time_parse(json_string_value(v), json_string_length(v), out)
           == 0)
    {
        return 0;
    }

    *out = ROOMS_TIME_UNSET;

    snprintf(msg, sizeof(msg),
             "The JSON value could not be converted to a date-time. "
             "Path: %s.", path);
    rooms_model_malformed(err, msg, path);

    return -1;
}


static int
rooms_model_room_fields(json_t *root, rooms_room_req_t *req,
    rooms_error_t *err)
{
    json_t  *v;

    if (rooms_model_time(root, "validFrom", "$.validFrom", &req->valid_from,
                         err)
        != 0
        || rooms_model_time(root, "validUntil", "$.validUntil",
                            &req->valid_until, err)
           != 0)
    {
        return -1;
    }

    if (rooms_model_get(root, "pstnDialOutEnabled", &v, err) != 0) {
        return -1;
    }

    if (v == NULL || json_is_null(v)) {
        req->pstn = -1;

    } else if (json_is_boolean(v)) {
        req->pstn = json_is_true(v) ? 1 : 0;

    } else {
        rooms_model_malformed(err,
                              "The JSON value could not be converted to "
                              "a boolean. Path: $.pstnDialOutEnabled.",
                              "$.pstnDialOutEnabled");
        return -1;
    }

    return 0;
}


static int
rooms_model_participant(const char *key, size_t klen, json_t *v, int patch,
    rooms_participant_t *p, rooms_error_t *err)
{
    int      role;
    json_t  *r;

    if (rooms_raw_id_check(key, klen) != 0) {
        rooms_error_set(err, 400, ROOMS_CODE_BAD_REQUEST,
                        patch ? ROOMS_MSG_PARTICIPANTS_VALUE
                              : ROOMS_MSG_IDENTIFIER_FORMAT,
                        NULL);
        rooms_error_set_detail(err, ROOMS_CODE_BAD_ARGUMENT,
                               rooms_raw_id_is_phone(key, klen)
                               ? "PSTN participants are not supported in "
                                 "rooms."
                               : "Only communication user identifiers "
                                 "(8:acs:...) can be room participants.",
                               "participants");
        return -1;
    }

    if (json_is_null(v)) {
        if (!patch) {
            rooms_model_malformed(err,
                                  "Provided participant is null at create "
                                  "room request.",
                                  "participants");
            return -1;
        }

        role = ROOMS_ROLE_REMOVE;

    } else if (json_is_object(v)) {

        if (rooms_model_get(v, "role", &r, err) != 0) {
            return -1;
        }

        if (r == NULL || json_is_null(r)) {
            role = ROOMS_ROLE_ATTENDEE;

        } else if (json_is_string(r)) {
            role = rooms_role_parse(json_string_value(r),
                                    json_string_length(r));

            if (role == ROOMS_ROLE_UNKNOWN) {
                rooms_model_malformed(err,
                                      "The JSON value could not be converted "
                                      "to Role. Path: $.participants.role.",
                                      "$.participants.role");
                return -1;
            }

        } else {
            rooms_model_malformed(err,
                                  "The JSON value could not be converted to "
                                  "Role. Path: $.participants.role.",
                                  "$.participants.role");
            return -1;
        }

    } else {
        rooms_model_malformed(err,
                              "The JSON value could not be converted to "
                              "ParticipantProperties. Path: $.participants.",
                              "$.participants");
        return -1;
    }

    p->raw_id = malloc(klen + 1);

    if (p->raw_id == NULL) {
        rooms_error_set(err, 500, "InternalError", "Out of memory.", NULL);
        return -1;
    }

    memcpy(p->raw_id, key, klen);
    p->raw_id[klen] = '\0';
    p->role = role;

    return 0;
}


static int
rooms_model_participants(json_t *obj, rooms_room_req_t *req, int patch,
    rooms_error_t *err)
{
    char    msg[96];
    void   *it;
    size_t  n;

    if (!json_is_object(obj)) {
        rooms_model_malformed(err,
                              "The JSON value could not be converted to a "
                              "participants map. Path: $.participants.",
                              "$.participants");
        return -1;
    }

    n = json_object_size(obj);

    if (n > ROOMS_MODEL_MAX_PARTICIPANTS) {
        snprintf(msg, sizeof(msg),
                 "Too many participants: at most %d can be sent at once.",
                 ROOMS_MODEL_MAX_PARTICIPANTS);
        rooms_model_malformed(err, msg, "participants");
        return -1;
    }

    req->participants = calloc(n ? n : 1, sizeof(rooms_participant_t));

    if (req->participants == NULL) {
        rooms_error_set(err, 500, "InternalError", "Out of memory.", NULL);
        return -1;
    }

    for (it = json_object_iter(obj);
         it != NULL;
         it = json_object_iter_next(obj, it))
    {
        if (req->nparticipants == n) {
            break;
        }

        if (rooms_model_participant(json_object_iter_key(it),
                                    json_object_iter_key_len(it),
                                    json_object_iter_value(it), patch,
                                    &req->participants[req->nparticipants],
                                    err)
            != 0)
        {
            return -1;
        }

        req->nparticipants++;
    }

    return 0;
}


static void
rooms_room_req_init(rooms_room_req_t *req)
{
    req->valid_from = ROOMS_TIME_UNSET;
    req->valid_until = ROOMS_TIME_UNSET;
    req->pstn = -1;
    req->participants = NULL;
    req->nparticipants = 0;
}


void
rooms_room_req_free(rooms_room_req_t *req)
{
    size_t  i;

    if (req->participants != NULL) {
        for (i = 0; i < req->nparticipants; i++) {
            free(req->participants[i].raw_id);
        }

        free(req->participants);
    }

    rooms_room_req_init(req);
}


int
rooms_model_parse_create(const char *body, size_t len, rooms_room_req_t *req,
    rooms_error_t *err)
{
    int      rc;
    json_t  *root, *v;

    rooms_room_req_init(req);

    root = rooms_model_load(body, len, err);

    if (root == NULL) {
        return -1;
    }

    rc = -1;

    if (rooms_model_room_fields(root, req, err) != 0
        || rooms_model_get(root, "participants", &v, err) != 0)
    {
        goto done;
    }

    if (v != NULL && !json_is_null(v)
        && rooms_model_participants(v, req, 0, err) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    json_decref(root);

    if (rc != 0) {
        rooms_room_req_free(req);
    }

    return rc;
}


int
rooms_model_parse_update(const char *body, size_t len, rooms_room_req_t *req,
    rooms_error_t *err)
{
    int      rc;
    json_t  *root;

    rooms_room_req_init(req);

    root = rooms_model_load(body, len, err);

    if (root == NULL) {
        return -1;
    }

    rc = rooms_model_room_fields(root, req, err);

    json_decref(root);

    if (rc != 0) {
        rooms_room_req_free(req);
    }

    return rc;
}


int
rooms_model_parse_participants_patch(const char *body, size_t len,
    rooms_room_req_t *req, rooms_error_t *err)
{
    int      rc;
    json_t  *root, *v;

    rooms_room_req_init(req);

    root = rooms_model_load(body, len, err);

    if (root == NULL) {
        return -1;
    }

    rc = -1;

    if (rooms_model_get(root, "participants", &v, err) != 0) {
        goto done;
    }

    if (v == NULL || json_is_null(v)) {
        rooms_model_malformed(err, "The participants field is required.",
                              "participants");
        goto done;
    }

    rc = rooms_model_participants(v, req, 1, err);

done:

    json_decref(root);

    if (rc != 0) {
        rooms_room_req_free(req);
    }

    return rc;
}


/* a + b, saturated to the int64_t range */

static int64_t
rooms_model_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }

    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }

    return a + b;
}


int
rooms_model_check_window(int64_t now, int64_t *valid_from,
    int64_t *valid_until, rooms_error_t *err)
{
    int64_t  from, until;

    if (*valid_from == ROOMS_TIME_UNSET) {
        *valid_from = now;
    }

    if (*valid_until == ROOMS_TIME_UNSET) {
        *valid_until = rooms_model_add(*valid_from, ROOMS_WINDOW_MAX_US);
    }

    from = *valid_from;
    until = *valid_until;

    if (until <= now) {
        rooms_model_malformed(err, ROOMS_MSG_END_IN_PAST, "ValidUntil");
        return -1;
    }

    if (from > rooms_model_add(now, ROOMS_WINDOW_MAX_US)) {
        rooms_model_malformed(err, ROOMS_MSG_FROM_TOO_LATE, "ValidFrom");
        return -1;
    }

    if (until <= from || until - from > ROOMS_WINDOW_MAX_US) {
        rooms_model_malformed(err, ROOMS_MSG_RANGE, "ValidUntil");
        return -1;
    }

    return 0;
}


static json_t *
rooms_model_time_string(int64_t us)
{
    char  buf[ROOMS_TIME_FORMAT_SIZE];

    if (rooms_time_format(buf, us) == 0) {
        return NULL;
    }

    return json_string(buf);
}


static json_t *
rooms_model_room_object(const rooms_room_t *room, int api_version)
{
    json_t  *o;

    o = json_object();

    if (o == NULL) {
        return NULL;
    }

    if (room->id == NULL
        || json_object_set_new(o, "id", json_string(room->id)) != 0
        || json_object_set_new(o, "createdAt",
                               rooms_model_time_string(room->created_at))
           != 0
        || json_object_set_new(o, "validFrom",
                               rooms_model_time_string(room->valid_from))
           != 0
        || json_object_set_new(o, "validUntil",
                               rooms_model_time_string(room->valid_until))
           != 0)
    {
        json_decref(o);
        return NULL;
    }

    if (api_version != ROOMS_API_2023_06_14
        && json_object_set_new(o, "pstnDialOutEnabled",
                               json_boolean(room->pstn == 1))
           != 0)
    {
        json_decref(o);
        return NULL;
    }

    return o;
}


char *
rooms_room_json(const rooms_room_t *room, int api_version)
{
    return rooms_json_dump(rooms_model_room_object(room, api_version));
}


/* {"value":value[,"nextLink":..]}; takes the reference to value */

static char *
rooms_model_page(json_t *value, const char *next_link)
{
    json_t  *root;

    root = json_object();

    if (root == NULL) {
        json_decref(value);
        return NULL;
    }

    if (json_object_set_new(root, "value", value) != 0) {
        json_decref(root);
        return NULL;
    }

    if (next_link != NULL
        && json_object_set_new(root, "nextLink", json_string(next_link))
           != 0)
    {
        json_decref(root);
        return NULL;
    }

    return rooms_json_dump(root);
}


char *
rooms_rooms_page_json(const rooms_room_t *rooms, size_t n, int api_version,
    const char *next_link)
{
    size_t   i;
    json_t  *value;

    value = json_array();

    if (value == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (json_array_append_new(value,
                                  rooms_model_room_object(&rooms[i],
                                                          api_version))
            != 0)
        {
            json_decref(value);
            return NULL;
        }
    }

    return rooms_model_page(value, next_link);
}


char *
rooms_participants_page_json(const rooms_participant_t *p, size_t n,
    const char *next_link)
{
    size_t       i;
    json_t      *value, *o;
    const char  *role;

    value = json_array();

    if (value == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        role = rooms_role_name(p[i].role);
        o = json_object();

        if (json_array_append_new(value, o) != 0
            || role == NULL
            || p[i].raw_id == NULL
            || json_object_set_new(o, "rawId", json_string(p[i].raw_id)) != 0
            || json_object_set_new(o, "role", json_string(role)) != 0)
        {
            json_decref(value);
            return NULL;
        }
    }

    return rooms_model_page(value, next_link);
}
