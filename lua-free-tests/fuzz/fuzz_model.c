
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * libFuzzer target: the three request body parsers, the window rules and
 * the JSON writers, plus the id checkers on the raw input.  Every error
 * must serialize to valid JSON, every accepted request must serialize
 * back.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "rooms_id.h"
#include "rooms_model.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* 2026-01-01T00:00:00Z */
#define FUZZ_NOW  INT64_C(1767225600000000)


static void
check_error(const rooms_error_t *err)
{
    char          *s;
    json_t        *j;
    json_error_t   jerr;

    if (err->status != 400 && err->status != 500) {
        abort();
    }

    s = rooms_error_json(err);

    if (s == NULL) {
        abort();
    }

    j = json_loads(s, 0, &jerr);

    if (j == NULL || json_object_get(j, "error") == NULL) {
        abort();
    }

    json_decref(j);
    free(s);
}


static void
check_request(rooms_room_req_t *req, int is_patch)
{
    int                  rc;
    char                *s;
    size_t               i, n;
    json_t              *j;
    int64_t              from, until;
    json_error_t         jerr;
    rooms_error_t        err;
    rooms_room_t         room;
    rooms_participant_t *p;

    /* the participants to list: all but removals, req stays as it is */

    p = malloc((req->nparticipants + 1) * sizeof(rooms_participant_t));

    if (p == NULL) {
        abort();
    }

    n = 0;

    for (i = 0; i < req->nparticipants; i++) {
        if (req->participants[i].raw_id == NULL
            || rooms_raw_id_check(req->participants[i].raw_id,
                                  strlen(req->participants[i].raw_id))
               != 0)
        {
            abort();
        }

        if (req->participants[i].role == ROOMS_ROLE_REMOVE) {
            if (!is_patch) {
                abort();
            }

            continue;
        }

        if (rooms_role_name(req->participants[i].role) == NULL) {
            abort();
        }

        p[n++] = req->participants[i];
    }

    s = rooms_participants_page_json(p, n, "next");

    free(p);

    if (s == NULL) {
        abort();
    }

    j = json_loads(s, 0, &jerr);

    if (j == NULL || json_array_size(json_object_get(j, "value")) != n) {
        abort();
    }

    json_decref(j);
    free(s);

    from = req->valid_from;
    until = req->valid_until;

    rc = rooms_model_check_window(FUZZ_NOW, &from, &until, &err);

    if (rc != 0) {
        check_error(&err);
        return;
    }

    room.id = "99117812428622880";
    room.created_at = FUZZ_NOW;
    room.valid_from = from;
    room.valid_until = until;
    room.pstn = req->pstn;

    s = rooms_room_json(&room, ROOMS_API_2025_03_13);

    if (s == NULL) {
        abort();
    }

    free(s);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char        *s;
    rooms_error_t      err;
    rooms_room_req_t   req;

    s = (const char *) data;

    if (rooms_model_parse_create(s, size, &req, &err) == 0) {
        check_request(&req, 0);

    } else {
        if (req.participants != NULL || req.nparticipants != 0) {
            abort();
        }

        check_error(&err);
    }

    rooms_room_req_free(&req);

    if (rooms_model_parse_update(s, size, &req, &err) == 0) {
        if (req.nparticipants != 0) {
            abort();
        }

        check_request(&req, 0);

    } else {
        check_error(&err);
    }

    rooms_room_req_free(&req);

    if (rooms_model_parse_participants_patch(s, size, &req, &err) == 0) {
        check_request(&req, 1);

    } else {
        check_error(&err);
    }

    rooms_room_req_free(&req);

    (void) rooms_raw_id_check(s, size);
    (void) rooms_id_check(s, size);
    (void) rooms_role_parse(s, size);
    (void) rooms_api_version_parse(s, size);

    return 0;
}
