
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * JSON request and response models of the ACS Rooms API (jansson).
 * No nginx dependency: unit tests and fuzzers link this file directly.
 *
 * Every char * returned here is allocated by jansson's json_dumps() with
 * the default allocator and must be released with free(); do not install
 * other allocators with json_set_alloc_funcs() in the same process.
 */


#ifndef _ROOMS_MODEL_H_INCLUDED_
#define _ROOMS_MODEL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "rooms_time.h"


/* Rooms api-version values; 0 means unknown */
enum {
    ROOMS_API_2023_06_14 = 1,
    ROOMS_API_2024_04_15,
    ROOMS_API_2025_03_13
};

/* Identity api-version values; 0 means unknown */
enum {
    ROOMS_API_IDENTITY_2023_10_01 = 1
};

enum {
    ROOMS_ROLE_REMOVE = -1,
    ROOMS_ROLE_PRESENTER = 0,
    ROOMS_ROLE_ATTENDEE,
    ROOMS_ROLE_CONSUMER,
    ROOMS_ROLE_COLLABORATOR
};

#define ROOMS_ROLE_UNKNOWN             -2

#define ROOMS_MODEL_MAX_PARTICIPANTS   1000

#define ROOMS_WINDOW_MAX_US            (180 * ROOMS_TIME_US_PER_DAY)


/* ACS's error codes and messages, as its service returns them */
#define ROOMS_CODE_BAD_REQUEST         "BadRequest"
#define ROOMS_CODE_BAD_ARGUMENT        "BadArgument"

#define ROOMS_MSG_MALFORMED                                                  \
    "The request could not be understood by the server due to malformed "    \
    "syntax."
#define ROOMS_MSG_IDENTIFIER_FORMAT                                          \
    "Invalid format for communication identifier."
#define ROOMS_MSG_PARTICIPANTS_VALUE   "Invalid value for the Participants."
#define ROOMS_MSG_RANGE                                                      \
    "The time range is incorrect, or larger than 180 days."
#define ROOMS_MSG_END_IN_PAST          "The time range end is in the past."
#define ROOMS_MSG_FROM_TOO_LATE                                              \
    "Value is incorrect or more than 180 days in the future."


typedef struct {
    int   status;
    char  code[32];
    char  message[256];
    char  target[64];
    char  detail_code[32];
    char  detail_message[256];
    char  detail_target[64];
} rooms_error_t;


typedef struct {
    char  *raw_id;                  /* malloc'd, NUL-terminated */
    int    role;                    /* ROOMS_ROLE_* */
} rooms_participant_t;


typedef struct {
    int64_t               valid_from;   /* ROOMS_TIME_UNSET if absent/null */
    int64_t               valid_until;  /* ROOMS_TIME_UNSET if absent/null */
    int                   pstn;         /* 0, 1, or -1 if absent/null */
    rooms_participant_t  *participants; /* in request order */
    size_t                nparticipants;
} rooms_room_req_t;


typedef struct {
    const char  *id;
    int64_t      created_at;
    int64_t      valid_from;
    int64_t      valid_until;
    int          pstn;
} rooms_room_t;


/* "2023-06-14" etc., exact match; returns ROOMS_API_* or 0 */
int rooms_api_version_parse(const char *s, size_t len);

/* "2023-10-01"; returns ROOMS_API_IDENTITY_* or 0 */
int rooms_identity_api_version_parse(const char *s, size_t len);

/* "Presenter", "Attendee", "Consumer", "Collaborator"; NULL otherwise */
const char *rooms_role_name(int role);

/* a role name, case-insensitively; ROOMS_ROLE_UNKNOWN (-2) otherwise */
int rooms_role_parse(const char *s, size_t len);

/* 1 if the role exists in api_version (Collaborator: 2025-03-13), else 0 */
int rooms_role_allowed(int role, int api_version);


/*
 * Sets status, code, message and target and clears the detail.  Strings
 * are truncated to the fields; bytes outside printable ASCII become '?'.
 * NULL strings are taken as "".
 */
void rooms_error_set(rooms_error_t *e, int status, const char *code,
    const char *message, const char *target);

/* sets the single "details" entry */
void rooms_error_set_detail(rooms_error_t *e, const char *code,
    const char *message, const char *target);

/*
 * {"error":{"code":..,"message":..[,"target":..]
 * [,"details":[{"code":..,"message":..[,"target":..]}]]}}
 * target only when non-empty, details only when detail_code is non-empty.
 * Returns a malloc'd string (free()), or NULL on allocation failure.
 */
char *rooms_error_json(const rooms_error_t *e);

/* json_dumps(o, JSON_COMPACT), then json_decref(o); NULL-safe */
struct json_t;
char *rooms_json_dump(struct json_t *o);


/*
 * Room create body (POST /rooms):
 *
 *   {"validFrom": date|null, "validUntil": date|null,
 *    "pstnDialOutEnabled": bool|null,
 *    "participants": {"<rawId>": {"role": R|null} } | null}
 *
 * len 0 means {}.  Property names match case-insensitively, as in ACS
 * (System.Text.Json web defaults); unknown properties are ignored.  A
 * participant without a role, or with a null role, is an Attendee.  On
 * error returns -1 and fills err (always status 400):
 *
 *   - bad JSON, duplicate keys, invalid UTF-8, \u0000, a non-object body,
 *     wrong types, bad dates, unknown roles, a null participant, more
 *     than ROOMS_MODEL_MAX_PARTICIPANTS: "BadRequest" /
 *     ROOMS_MSG_MALFORMED with one "BadArgument" detail saying why;
 *   - a raw id failing rooms_raw_id_check(): "BadRequest" /
 *     ROOMS_MSG_IDENTIFIER_FORMAT with a "BadArgument" detail (for "4:"
 *     ids: PSTN participants are not supported in rooms).
 *
 * Returns 0 on success.  Call rooms_room_req_free() in either case.
 */
int rooms_model_parse_create(const char *body, size_t len,
    rooms_room_req_t *req, rooms_error_t *err);

/*
 * Room update body (PATCH /rooms/{id}): validFrom, validUntil and
 * pstnDialOutEnabled as above; "participants" and unknown properties are
 * ignored.  Errors as above.
 */
int rooms_model_parse_update(const char *body, size_t len,
    rooms_room_req_t *req, rooms_error_t *err);

/*
 * Participants merge-patch body (PATCH /rooms/{id}/participants):
 *
 *   {"participants": {"<rawId>": {"role": R|null} | null}}
 *
 * null means ROOMS_ROLE_REMOVE; {} or a null role means Attendee.  A
 * missing or null "participants" is an error.  Errors as for create, but
 * a bad raw id gives ROOMS_MSG_PARTICIPANTS_VALUE, as ACS does.
 */
int rooms_model_parse_participants_patch(const char *body, size_t len,
    rooms_room_req_t *req, rooms_error_t *err);

/* frees the participants and resets req; safe to call twice */
void rooms_room_req_free(rooms_room_req_t *req);


/*
 * Applies ACS's validity window rules.  An unset *valid_from becomes now,
 * an unset *valid_until becomes *valid_from + 180 days.  Then, in ACS's
 * order, each a 400 "BadRequest" / ROOMS_MSG_MALFORMED with one
 * "BadArgument" detail:
 *
 *   validUntil <= now:                  ROOMS_MSG_END_IN_PAST, ValidUntil
 *   validFrom > now + 180 days:         ROOMS_MSG_FROM_TOO_LATE, ValidFrom
 *   validUntil <= validFrom, or
 *   validUntil - validFrom > 180 days:  ROOMS_MSG_RANGE, ValidUntil
 *
 * Returns 0 or -1.
 */
int rooms_model_check_window(int64_t now, int64_t *valid_from,
    int64_t *valid_until, rooms_error_t *err);


/*
 * {"id":..,"createdAt":..,"validFrom":..,"validUntil":..,
 *  "pstnDialOutEnabled":bool}; pstnDialOutEnabled (true only for pstn 1)
 * is omitted for 2023-06-14.  Dates as rooms_time_format().  Returns a
 * malloc'd string (free()), or NULL on failure (allocation, NULL or
 * non-UTF-8 id, a date out of range).
 */
char *rooms_room_json(const rooms_room_t *room, int api_version);

/* {"value":[room,...][,"nextLink":..]}; next_link NULL omits it */
char *rooms_rooms_page_json(const rooms_room_t *rooms, size_t n,
    int api_version, const char *next_link);

/*
 * {"value":[{"rawId":..,"role":..},...][,"nextLink":..]}; NULL on
 * failure, including a role without a name.
 */
char *rooms_participants_page_json(const rooms_participant_t *p, size_t n,
    const char *next_link);


#endif /* _ROOMS_MODEL_H_INCLUDED_ */
