
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * The expected error bodies follow real ACS responses recorded by the
 * Python SDK's tests (azure-sdk-for-python, azure-communication-rooms
 * tests/recordings), e.g. test_update_room_exceed_max_timerange,
 * test_create_room_valid_until_in_past, test_create_room_incorrectMri,
 * test_remove_participant_wrong_mri and
 * test_create_room_validFrom_seven_months_async.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rooms_model.h"


#define USER1  "8:acs:db75ed0c-e801-41a3-99a4-66a0a119a06c_" \
               "00000010-ce28-064a-83fe-084822000666"
#define USER2  "8:acs:db75ed0c-e801-41a3-99a4-66a0a119a06c_" \
               "00000010-ce28-064a-83fe-084822000777"
#define USER3  "8:acs:db75ed0c-e801-41a3-99a4-66a0a119a06c_" \
               "00000010-ce28-064a-83fe-084822000888"

#define MALFORMED_PREFIX                                                     \
    "{\"error\":{\"code\":\"BadRequest\",\"message\":\"The request could "   \
    "not be understood by the server due to malformed syntax.\","            \
    "\"details\":[{\"code\":\"BadArgument\",\"message\":\""

#define DAY  ROOMS_TIME_US_PER_DAY


static char  json_buf[4096];


/* the error as JSON, in a static buffer */

static const char *
ejson(const rooms_error_t *e)
{
    char  *s;

    s = rooms_error_json(e);

    if (s == NULL) {
        return "(null)";
    }

    snprintf(json_buf, sizeof(json_buf), "%s", s);
    free(s);

    return json_buf;
}


/* takes a malloc'd string */

static const char *
own(char *s)
{
    if (s == NULL) {
        return "(null)";
    }

    snprintf(json_buf, sizeof(json_buf), "%s", s);
    free(s);

    return json_buf;
}


static int64_t
t(const char *s)
{
    int64_t  us;

    if (rooms_time_parse(s, strlen(s), &us) != 0) {
        fprintf(stderr, "bad time literal %s\n", s);
        exit(2);
    }

    return us;
}


static int
create(const char *body, rooms_room_req_t *req, rooms_error_t *err)
{
    return rooms_model_parse_create(body, strlen(body), req, err);
}


static int
update(const char *body, rooms_room_req_t *req, rooms_error_t *err)
{
    return rooms_model_parse_update(body, strlen(body), req, err);
}


static int
patch(const char *body, rooms_room_req_t *req, rooms_error_t *err)
{
    return rooms_model_parse_participants_patch(body, strlen(body), req, err);
}


/* the body is rejected as malformed, with a clean req */

static int
create_malformed(const char *body)
{
    int               rc;
    rooms_error_t     err;
    rooms_room_req_t  req;

    memset(&err, 0, sizeof(err));

    rc = create(body, &req, &err) == -1
         && err.status == 400
         && strcmp(err.code, "BadRequest") == 0
         && strcmp(err.message, ROOMS_MSG_MALFORMED) == 0
         && strcmp(err.detail_code, "BadArgument") == 0
         && err.detail_message[0] != '\0'
         && req.participants == NULL && req.nparticipants == 0
         && strncmp(ejson(&err), MALFORMED_PREFIX,
                    strlen(MALFORMED_PREFIX)) == 0;

    if (!rc) {
        fprintf(stderr, "    body %s -> %s\n", body, ejson(&err));
    }

    rooms_room_req_free(&req);

    return rc;
}


static int
update_malformed(const char *body)
{
    int               rc;
    rooms_error_t     err;
    rooms_room_req_t  req;

    memset(&err, 0, sizeof(err));

    rc = update(body, &req, &err) == -1
         && err.status == 400
         && strcmp(err.message, ROOMS_MSG_MALFORMED) == 0
         && strcmp(err.detail_code, "BadArgument") == 0;

    rooms_room_req_free(&req);

    return rc;
}


static int
patch_malformed(const char *body)
{
    int               rc;
    rooms_error_t     err;
    rooms_room_req_t  req;

    memset(&err, 0, sizeof(err));

    rc = patch(body, &req, &err) == -1
         && err.status == 400
         && strcmp(err.message, ROOMS_MSG_MALFORMED) == 0
         && strcmp(err.detail_code, "BadArgument") == 0
         && req.participants == NULL;

    rooms_room_req_free(&req);

    return rc;
}


static void
test_versions_roles(void)
{
    CHECK_INT(rooms_api_version_parse("2023-06-14", 10), ROOMS_API_2023_06_14);
    CHECK_INT(rooms_api_version_parse("2024-04-15", 10), ROOMS_API_2024_04_15);
    CHECK_INT(rooms_api_version_parse("2025-03-13", 10), ROOMS_API_2025_03_13);
    CHECK_INT(rooms_api_version_parse("2023-10-30-preview", 18), 0);
    CHECK_INT(rooms_api_version_parse("2025-02-28-preview", 18), 0);
    CHECK_INT(rooms_api_version_parse("2023-03-31-preview", 18), 0);
    CHECK_INT(rooms_api_version_parse("2024-04-15 ", 11), 0);
    CHECK_INT(rooms_api_version_parse("2024-04-1", 9), 0);
    CHECK_INT(rooms_api_version_parse("", 0), 0);
    CHECK_INT(rooms_api_version_parse("2024-04-15", 9), 0);

    CHECK_INT(rooms_identity_api_version_parse("2023-10-01", 10),
              ROOMS_API_IDENTITY_2023_10_01);
    CHECK_INT(rooms_identity_api_version_parse("2024-04-15", 10), 0);

    CHECK_STR(rooms_role_name(ROOMS_ROLE_PRESENTER), "Presenter");
    CHECK_STR(rooms_role_name(ROOMS_ROLE_ATTENDEE), "Attendee");
    CHECK_STR(rooms_role_name(ROOMS_ROLE_CONSUMER), "Consumer");
    CHECK_STR(rooms_role_name(ROOMS_ROLE_COLLABORATOR), "Collaborator");
    CHECK(rooms_role_name(ROOMS_ROLE_REMOVE) == NULL);
    CHECK(rooms_role_name(ROOMS_ROLE_UNKNOWN) == NULL);
    CHECK(rooms_role_name(4) == NULL);

    CHECK_INT(rooms_role_parse("Presenter", 9), ROOMS_ROLE_PRESENTER);
    CHECK_INT(rooms_role_parse("Attendee", 8), ROOMS_ROLE_ATTENDEE);
    CHECK_INT(rooms_role_parse("Consumer", 8), ROOMS_ROLE_CONSUMER);
    CHECK_INT(rooms_role_parse("Collaborator", 12), ROOMS_ROLE_COLLABORATOR);
    CHECK_INT(rooms_role_parse("presenter", 9), ROOMS_ROLE_PRESENTER);
    CHECK_INT(rooms_role_parse("ATTENDEE", 8), ROOMS_ROLE_ATTENDEE);
    CHECK_INT(rooms_role_parse("Kafka", 5), ROOMS_ROLE_UNKNOWN);
    CHECK_INT(rooms_role_parse("", 0), ROOMS_ROLE_UNKNOWN);
    CHECK_INT(rooms_role_parse("Presente", 8), ROOMS_ROLE_UNKNOWN);
    CHECK_INT(rooms_role_parse("Presenters", 10), ROOMS_ROLE_UNKNOWN);
    CHECK_INT(rooms_role_parse("Presenter", 8), ROOMS_ROLE_UNKNOWN);
    CHECK_INT(rooms_role_parse("Presenter\0", 10), ROOMS_ROLE_UNKNOWN);
    CHECK_INT(rooms_role_parse("0", 1), ROOMS_ROLE_UNKNOWN);

    CHECK(rooms_role_allowed(ROOMS_ROLE_PRESENTER, ROOMS_API_2023_06_14));
    CHECK(rooms_role_allowed(ROOMS_ROLE_CONSUMER, ROOMS_API_2024_04_15));
    CHECK(!rooms_role_allowed(ROOMS_ROLE_COLLABORATOR, ROOMS_API_2023_06_14));
    CHECK(!rooms_role_allowed(ROOMS_ROLE_COLLABORATOR, ROOMS_API_2024_04_15));
    CHECK(rooms_role_allowed(ROOMS_ROLE_COLLABORATOR, ROOMS_API_2025_03_13));
    CHECK(!rooms_role_allowed(ROOMS_ROLE_REMOVE, ROOMS_API_2025_03_13));
    CHECK(!rooms_role_allowed(ROOMS_ROLE_UNKNOWN, ROOMS_API_2025_03_13));
}


static void
test_error_json(void)
{
    char           big[600];
    rooms_error_t  e;

    memset(&e, 'x', sizeof(e));

    rooms_error_set(&e, 404, "NotFound", "The room was not found.", NULL);
    CHECK_INT(e.status, 404);
    CHECK_STR(ejson(&e),
              "{\"error\":{\"code\":\"NotFound\",\"message\":\"The room "
              "was not found.\"}}");

    rooms_error_set(&e, 400, "BadRequest", "Invalid room ID length.", "");
    CHECK_STR(ejson(&e),
              "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid "
              "room ID length.\"}}");

    rooms_error_set(&e, 400, "BadRequest", ROOMS_MSG_MALFORMED, NULL);
    rooms_error_set_detail(&e, "BadArgument", ROOMS_MSG_RANGE, "ValidUntil");
    CHECK_STR(ejson(&e),
              MALFORMED_PREFIX "The time range is incorrect, or larger than "
              "180 days.\",\"target\":\"ValidUntil\"}]}}");

    rooms_error_set(&e, 401, "Denied", "m", "tgt");
    rooms_error_set_detail(&e, "D", "dm", NULL);
    CHECK_STR(ejson(&e),
              "{\"error\":{\"code\":\"Denied\",\"message\":\"m\","
              "\"target\":\"tgt\",\"details\":[{\"code\":\"D\","
              "\"message\":\"dm\"}]}}");

    /* set clears the detail; escaping; non-ASCII; NULLs */

    rooms_error_set(&e, 400, NULL, "a\"b\\c\n\xc3\xa9x", NULL);
    CHECK_STR(e.message, "a\"b\\c???x");
    CHECK_STR(ejson(&e),
              "{\"error\":{\"code\":\"\",\"message\":\"a\\\"b\\\\c???x\"}}");

    /* truncation */

    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    rooms_error_set(&e, 400, big, big, big);
    rooms_error_set_detail(&e, big, big, big);
    CHECK_INT(strlen(e.code), sizeof(e.code) - 1);
    CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
    CHECK_INT(strlen(e.target), sizeof(e.target) - 1);
    CHECK_INT(strlen(e.detail_code), sizeof(e.detail_code) - 1);
    CHECK_INT(strlen(e.detail_message), sizeof(e.detail_message) - 1);
    CHECK_INT(strlen(e.detail_target), sizeof(e.detail_target) - 1);
    CHECK(strlen(ejson(&e)) > 700);
}


static void
test_create(void)
{
    rooms_error_t     err;
    rooms_room_req_t  req;

    memset(&err, 0, sizeof(err));

    /* empty bodies */

    CHECK_INT(rooms_model_parse_create(NULL, 0, &req, &err), 0);
    CHECK_INT(req.valid_from, ROOMS_TIME_UNSET);
    CHECK_INT(req.valid_until, ROOMS_TIME_UNSET);
    CHECK_INT(req.pstn, -1);
    CHECK_INT(req.nparticipants, 0);
    rooms_room_req_free(&req);

    CHECK_INT(create(" { } ", &req, &err), 0);
    CHECK_INT(req.nparticipants, 0);
    rooms_room_req_free(&req);

    CHECK_INT(create("{\"validFrom\":null,\"validUntil\":null,"
                     "\"pstnDialOutEnabled\":null,\"participants\":null}",
                     &req, &err), 0);
    CHECK_INT(req.valid_from, ROOMS_TIME_UNSET);
    CHECK_INT(req.valid_until, ROOMS_TIME_UNSET);
    CHECK_INT(req.pstn, -1);
    CHECK_INT(req.nparticipants, 0);
    rooms_room_req_free(&req);

    /* the spec's Rooms_Create example (2025-03-13) */

    CHECK_INT(create("{\"validFrom\":\"2023-06-30T00:00:00Z\","
                     "\"validUntil\":\"2023-07-30T00:00:00Z\","
                     "\"pstnDialOutEnabled\":true,"
                     "\"participants\":{"
                     "\"" USER1 "\":{\"role\":\"Attendee\"},"
                     "\"" USER2 "\":{\"role\":\"Presenter\"},"
                     "\"" USER3 "\":{\"role\":\"Collaborator\"}}}",
                     &req, &err), 0);
    CHECK_INT(req.valid_from, t("2023-06-30T00:00:00Z"));
    CHECK_INT(req.valid_until, t("2023-07-30T00:00:00Z"));
    CHECK_INT(req.pstn, 1);
    CHECK_INT(req.nparticipants, 3);

    if (req.nparticipants == 3) {
        CHECK_STR(req.participants[0].raw_id, USER1);
        CHECK_INT(req.participants[0].role, ROOMS_ROLE_ATTENDEE);
        CHECK_STR(req.participants[1].raw_id, USER2);
        CHECK_INT(req.participants[1].role, ROOMS_ROLE_PRESENTER);
        CHECK_STR(req.participants[2].raw_id, USER3);
        CHECK_INT(req.participants[2].role, ROOMS_ROLE_COLLABORATOR);
    }

    rooms_room_req_free(&req);
    CHECK(req.participants == NULL && req.nparticipants == 0);
    rooms_room_req_free(&req);

    /* defaults, case, offsets, unknown properties */

    CHECK_INT(create("{\"ValidFrom\":\"2023-06-30T05:30:00+05:30\","
                     "\"PSTNDIALOUTENABLED\":false,"
                     "\"roomJoinPolicy\":\"InviteOnly\","
                     "\"extra\":{\"a\":[1,2,{\"b\":null}]},"
                     "\"participants\":{"
                     "\"8:acs:a\":{},"
                     "\"8:acs:b\":{\"role\":null},"
                     "\"8:acs:c\":{\"Role\":\"presenter\",\"x\":1},"
                     "\"8:spool:d\":{\"role\":\"CONSUMER\"}}}",
                     &req, &err), 0);
    CHECK_INT(req.valid_from, t("2023-06-30T00:00:00Z"));
    CHECK_INT(req.valid_until, ROOMS_TIME_UNSET);
    CHECK_INT(req.pstn, 0);
    CHECK_INT(req.nparticipants, 4);

    if (req.nparticipants == 4) {
        CHECK_INT(req.participants[0].role, ROOMS_ROLE_ATTENDEE);
        CHECK_INT(req.participants[1].role, ROOMS_ROLE_ATTENDEE);
        CHECK_INT(req.participants[2].role, ROOMS_ROLE_PRESENTER);
        CHECK_INT(req.participants[3].role, ROOMS_ROLE_CONSUMER);
        CHECK_STR(req.participants[3].raw_id, "8:spool:d");
    }

    rooms_room_req_free(&req);

    /* not JSON, not an object, trailing bytes */

    CHECK(create_malformed("{"));
    CHECK(create_malformed("}"));
    CHECK(create_malformed("{} x"));
    CHECK(create_malformed("{}{}"));
    CHECK(create_malformed(" "));
    CHECK(create_malformed("[]"));
    CHECK(create_malformed("\"x\""));
    CHECK(create_malformed("1"));
    CHECK(create_malformed("null"));
    CHECK(create_malformed("true"));
    CHECK(create_malformed("{\"validFrom\":}"));
    CHECK(create_malformed("{'validFrom':null}"));
    CHECK(create_malformed("{\"validFrom\":null,}"));
    CHECK(create_malformed("{\"a\":NaN}"));
    CHECK(rooms_model_parse_create("{}\0", 3, &req, &err) == -1);
    CHECK(rooms_model_parse_create("{\"a\":\"\0\"}", 8, &req, &err) == -1);

    /* duplicate keys, also through case-insensitive matching */

    CHECK(create_malformed("{\"validFrom\":null,\"validFrom\":null}"));
    CHECK(create_malformed("{\"validFrom\":null,\"ValidFrom\":null}"));
    CHECK(create_malformed("{\"a\":1,\"a\":1}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":{},"
                           "\"8:acs:a\":{}}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":"
                           "{\"role\":\"Presenter\",\"ROLE\":\"Consumer\"}}}"));

    /* invalid UTF-8 and NULs in strings and keys */

    CHECK(create_malformed("{\"x\":\"\xff\"}"));
    CHECK(create_malformed("{\"x\":\"\xc3\"}"));
    CHECK(create_malformed("{\"x\":\"\xed\xa0\x80\"}"));
    CHECK(create_malformed("{\"\xc0\xaf\":1}"));
    CHECK(create_malformed("{\"x\":\"\\ud800\"}"));
    CHECK(create_malformed("{\"x\":\"a\\u0000b\"}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\\u0000\":{}}}"));
    CHECK(create_malformed("{\"validFrom\":\"2023-06-30T00:00:00Z"
                           "\\u0000\"}"));

    /* wrong types */

    CHECK(create_malformed("{\"validFrom\":1688083200}"));
    CHECK(create_malformed("{\"validFrom\":true}"));
    CHECK(create_malformed("{\"validUntil\":{}}"));
    CHECK(create_malformed("{\"validUntil\":[]}"));
    CHECK(create_malformed("{\"pstnDialOutEnabled\":\"true\"}"));
    CHECK(create_malformed("{\"pstnDialOutEnabled\":1}"));
    CHECK(create_malformed("{\"participants\":[]}"));
    CHECK(create_malformed("{\"participants\":\"8:acs:a\"}"));
    CHECK(create_malformed("{\"participants\":true}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":\"Presenter\"}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":[]}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":1}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":{\"role\":0}}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":"
                           "{\"role\":true}}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":"
                           "{\"role\":{}}}}"));

    /* bad dates */

    CHECK(create_malformed("{\"validFrom\":\"2023-02-29T00:00:00Z\"}"));
    CHECK(create_malformed("{\"validFrom\":\"yesterday\"}"));
    CHECK(create_malformed("{\"validFrom\":\"\"}"));
    CHECK(create_malformed("{\"validUntil\":\"2023-06-30\"}"));
    CHECK(create_malformed("{\"validUntil\":\"Fri, 30 Jun 2023 00:00:00 "
                           "GMT\"}"));

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"validUntil\":\"2023-13-01T00:00:00Z\"}", &req, &err),
              -1);
    CHECK_STR(ejson(&err),
              MALFORMED_PREFIX "The JSON value could not be converted to a "
              "date-time. Path: $.validUntil.\",\"target\":\"$.validUntil\""
              "}]}}");

    /* unknown role, null participant */

    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":"
                           "{\"role\":\"Kafka\"}}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":"
                           "{\"role\":\"\"}}}"));
    CHECK(create_malformed("{\"participants\":{\"8:acs:a\":null}}"));

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"8:acs:a\":{\"role\":\"Kafka\"}}}",
                     &req, &err), -1);
    CHECK_STR(ejson(&err),
              MALFORMED_PREFIX "The JSON value could not be converted to "
              "Role. Path: $.participants.role.\","
              "\"target\":\"$.participants.role\"}]}}");

    /* raw ids: ACS's message, our reason in the detail */

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"8:acs:a\":{},"
                     "\"4:+14255550123\":{\"role\":\"Attendee\"}}}",
                     &req, &err), -1);
    CHECK(req.participants == NULL && req.nparticipants == 0);
    CHECK_INT(err.status, 400);
    CHECK_STR(ejson(&err),
              "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid "
              "format for communication identifier.\",\"details\":[{"
              "\"code\":\"BadArgument\",\"message\":\"PSTN participants are "
              "not supported in rooms.\",\"target\":\"participants\"}]}}");

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"wrong_mri\":{\"role\":"
                     "\"Attendee\"}}}", &req, &err), -1);
    CHECK_STR(err.message, ROOMS_MSG_IDENTIFIER_FORMAT);
    CHECK_STR(err.detail_message,
              "Only communication user identifiers (8:acs:...) can be room "
              "participants.");

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"8:orgid:45ab2481\":{}}}",
                     &req, &err), -1);
    CHECK_STR(err.message, ROOMS_MSG_IDENTIFIER_FORMAT);

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"8:acs:\":{}}}", &req, &err), -1);
    CHECK_STR(err.message, ROOMS_MSG_IDENTIFIER_FORMAT);

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"8:acs:a\\\"b\":{}}}", &req, &err),
              -1);
    CHECK_STR(err.message, ROOMS_MSG_IDENTIFIER_FORMAT);

    /* the raw id is checked before its value */

    memset(&err, 0, sizeof(err));
    CHECK_INT(create("{\"participants\":{\"4:+1\":null}}", &req, &err), -1);
    CHECK_STR(err.message, ROOMS_MSG_IDENTIFIER_FORMAT);
}


static void
test_create_limit(void)
{
    int               i;
    char             *body, *p;
    rooms_error_t     err;
    rooms_room_req_t  req;

    body = malloc(64 * 1001 + 64);

    if (body == NULL) {
        CHECK(0);
        return;
    }

    p = body + sprintf(body, "{\"participants\":{");

    for (i = 0; i < 1000; i++) {
        p += sprintf(p, "%s\"8:acs:user%d\":{\"role\":\"Consumer\"}",
                     i ? "," : "", i);
    }

    strcpy(p, "}}");

    CHECK_INT(create(body, &req, &err), 0);
    CHECK_INT(req.nparticipants, 1000);

    if (req.nparticipants == 1000) {
        CHECK_STR(req.participants[999].raw_id, "8:acs:user999");
        CHECK_INT(req.participants[999].role, ROOMS_ROLE_CONSUMER);
    }

    rooms_room_req_free(&req);

    sprintf(p, ",\"8:acs:user%d\":{}}}", i);

    CHECK(create_malformed(body));
    CHECK(patch_malformed(body));

    free(body);
}


static void
test_update(void)
{
    rooms_error_t     err;
    rooms_room_req_t  req;

    memset(&err, 0, sizeof(err));

    CHECK_INT(rooms_model_parse_update("", 0, &req, &err), 0);
    CHECK_INT(req.valid_from, ROOMS_TIME_UNSET);
    CHECK_INT(req.pstn, -1);
    rooms_room_req_free(&req);

    /* the spec's Rooms_Update example */

    CHECK_INT(update("{\"validFrom\":\"2023-06-30T00:00:00Z\","
                     "\"validUntil\":\"2023-07-30T00:00:00Z\","
                     "\"pstnDialOutEnabled\":true}", &req, &err), 0);
    CHECK_INT(req.valid_from, t("2023-06-30T00:00:00Z"));
    CHECK_INT(req.valid_until, t("2023-07-30T00:00:00Z"));
    CHECK_INT(req.pstn, 1);
    CHECK_INT(req.nparticipants, 0);
    rooms_room_req_free(&req);

    /* participants are not part of UpdateRoomRequest: ignored */

    CHECK_INT(update("{\"validUntil\":\"2023-07-30T00:00:00.5-01:00\","
                     "\"participants\":{\"4:+1\":null,\"x\":7}}",
                     &req, &err), 0);
    CHECK_INT(req.valid_until, t("2023-07-30T01:00:00.5Z"));
    CHECK_INT(req.nparticipants, 0);
    CHECK(req.participants == NULL);
    rooms_room_req_free(&req);

    CHECK_INT(update("{\"participants\":[]}", &req, &err), 0);
    rooms_room_req_free(&req);

    CHECK(update_malformed("["));
    CHECK(update_malformed("[]"));
    CHECK(update_malformed("{\"validFrom\":\"2023-06-30\"}"));
    CHECK(update_malformed("{\"validUntil\":0}"));
    CHECK(update_malformed("{\"pstnDialOutEnabled\":\"false\"}"));
    CHECK(update_malformed("{\"pstnDialOutEnabled\":true,"
                           "\"pstnDialOutEnabled\":false}"));
    CHECK(update_malformed("{\"x\":\"\xfe\"}"));
}


static void
test_patch(void)
{
    rooms_error_t     err;
    rooms_room_req_t  req;

    memset(&err, 0, sizeof(err));

    /* the spec's Participants_Update example, plus removal */

    CHECK_INT(patch("{\"participants\":{"
                    "\"" USER1 "\":{\"role\":\"Attendee\"},"
                    "\"" USER2 "\":{\"role\":\"Presenter\"},"
                    "\"" USER3 "\":null,"
                    "\"8:acs:d\":{},"
                    "\"8:acs:e\":{\"role\":null},"
                    "\"8:acs:f\":{\"role\":\"consumer\"}}}", &req, &err), 0);
    CHECK_INT(req.nparticipants, 6);

    if (req.nparticipants == 6) {
        CHECK_STR(req.participants[0].raw_id, USER1);
        CHECK_INT(req.participants[0].role, ROOMS_ROLE_ATTENDEE);
        CHECK_INT(req.participants[1].role, ROOMS_ROLE_PRESENTER);
        CHECK_STR(req.participants[2].raw_id, USER3);
        CHECK_INT(req.participants[2].role, ROOMS_ROLE_REMOVE);
        CHECK_INT(req.participants[3].role, ROOMS_ROLE_ATTENDEE);
        CHECK_INT(req.participants[4].role, ROOMS_ROLE_ATTENDEE);
        CHECK_INT(req.participants[5].role, ROOMS_ROLE_CONSUMER);
    }

    rooms_room_req_free(&req);

    CHECK_INT(patch("{\"participants\":{}}", &req, &err), 0);
    CHECK_INT(req.nparticipants, 0);
    rooms_room_req_free(&req);

    /* other properties are ignored */

    CHECK_INT(patch("{\"validFrom\":7,\"participants\":{\"8:acs:a\":null}}",
                    &req, &err), 0);
    CHECK_INT(req.nparticipants, 1);
    CHECK_INT(req.valid_from, ROOMS_TIME_UNSET);
    rooms_room_req_free(&req);

    /* participants is required */

    memset(&err, 0, sizeof(err));
    CHECK_INT(rooms_model_parse_participants_patch("", 0, &req, &err), -1);
    CHECK_STR(ejson(&err),
              MALFORMED_PREFIX "The participants field is required.\","
              "\"target\":\"participants\"}]}}");

    CHECK(patch_malformed("{}"));
    CHECK(patch_malformed("{\"participants\":null}"));
    CHECK(patch_malformed("{\"participants\":[]}"));
    CHECK(patch_malformed("{\"participants\":{\"8:acs:a\":true}}"));
    CHECK(patch_malformed("{\"participants\":{\"8:acs:a\":{\"role\":"
                          "\"Owner\"}}}"));
    CHECK(patch_malformed("{\"participants\":{\"8:acs:a\":null,"
                          "\"8:acs:a\":{}}}"));
    CHECK(patch_malformed("{\"participants\":{},\"Participants\":{}}"));
    CHECK(patch_malformed("[{\"participants\":{}}]"));
    CHECK(patch_malformed("{\"participants\":{\"8:acs:\xe2\x82\":null}}"));

    /* ACS's test_remove_participant_wrong_mri */

    memset(&err, 0, sizeof(err));
    CHECK_INT(patch("{\"participants\":{\"wrong_mri\":null}}", &req, &err),
              -1);
    CHECK_INT(err.status, 400);
    CHECK_STR(err.code, "BadRequest");
    CHECK_STR(err.message, "Invalid value for the Participants.");
    CHECK(req.participants == NULL);

    memset(&err, 0, sizeof(err));
    CHECK_INT(patch("{\"participants\":{\"8:acs:ok\":{},"
                    "\"4:+14255550123\":{}}}", &req, &err), -1);
    CHECK_STR(ejson(&err),
              "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid "
              "value for the Participants.\",\"details\":[{\"code\":"
              "\"BadArgument\",\"message\":\"PSTN participants are not "
              "supported in rooms.\",\"target\":\"participants\"}]}}");
    CHECK(req.participants == NULL && req.nparticipants == 0);
}


static void
test_window(void)
{
    int64_t        now, from, until;
    rooms_error_t  err;

    now = t("2023-07-27T23:42:07.3155981Z");

    /* defaults: now and now + 180 days, as in ACS's responses */

    from = ROOMS_TIME_UNSET;
    until = ROOMS_TIME_UNSET;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), 0);
    CHECK_INT(from, now);
    CHECK_INT(until, t("2024-01-23T23:42:07.3155981Z"));

    from = now + DAY;
    until = ROOMS_TIME_UNSET;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), 0);
    CHECK_INT(until, now + 181 * DAY);

    /* exactly 180 days, a past start */

    from = now + 1;
    until = from + 180 * DAY;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), 0);

    from = now - 30 * DAY;
    until = now + 1;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), 0);

    from = now + 180 * DAY;
    until = ROOMS_TIME_UNSET;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), 0);

    /* ACS's test_create_room_valid_until_in_past */

    memset(&err, 0, sizeof(err));
    from = ROOMS_TIME_UNSET;
    until = t("2023-07-20T16:41:55.465491Z");
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_INT(err.status, 400);
    CHECK_STR(ejson(&err),
              MALFORMED_PREFIX "The time range end is in the past.\","
              "\"target\":\"ValidUntil\"}]}}");

    /* ACS's test_update_room_valid_until_in_past: past end wins */

    memset(&err, 0, sizeof(err));
    from = t("2023-07-24T16:42:08.539671Z");
    until = t("2023-07-20T16:42:08.539671Z");
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_END_IN_PAST);

    from = now - DAY;
    until = now;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_END_IN_PAST);

    /* a past start with the default end, still in the past */

    from = now - 200 * DAY;
    until = ROOMS_TIME_UNSET;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_END_IN_PAST);

    /* ACS's test_create_room_validFrom_seven_months_async */

    memset(&err, 0, sizeof(err));
    from = now + 210 * DAY;
    until = ROOMS_TIME_UNSET;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(ejson(&err),
              MALFORMED_PREFIX "Value is incorrect or more than 180 days in "
              "the future.\",\"target\":\"ValidFrom\"}]}}");

    from = now + 180 * DAY + 1;
    until = from + DAY;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_target, "ValidFrom");

    /* ACS's test_create_room_validUntil_seven_months: > 180 days */

    memset(&err, 0, sizeof(err));
    from = t("2023-07-30T16:41:53.955619Z");
    until = t("2024-02-18T16:41:53.955619Z");
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(ejson(&err),
              MALFORMED_PREFIX "The time range is incorrect, or larger than "
              "180 days.\",\"target\":\"ValidUntil\"}]}}");

    from = now + 1;
    until = from + 180 * DAY + 1;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_RANGE);

    /* inverted and empty windows */

    from = now + 2 * DAY;
    until = now + DAY;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_RANGE);
    CHECK_STR(err.detail_target, "ValidUntil");

    from = now + DAY;
    until = now + DAY;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_RANGE);

    /* extremes must not overflow */

    from = ROOMS_TIME_MAX;
    until = ROOMS_TIME_UNSET;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_target, "ValidFrom");

    from = INT64_MAX;
    until = INT64_MAX;
    CHECK_INT(rooms_model_check_window(INT64_MAX - 1, &from, &until, &err),
              -1);

    from = ROOMS_TIME_MIN;
    until = ROOMS_TIME_MAX;
    CHECK_INT(rooms_model_check_window(now, &from, &until, &err), -1);
    CHECK_STR(err.detail_message, ROOMS_MSG_RANGE);
}


static void
test_output(void)
{
    rooms_room_t         rooms[2];
    rooms_participant_t  p[3];

    /* the spec's Rooms_Create response, 2025-03-13 and 2024-04-15 */

    rooms[0].id = "99117812428622880";
    rooms[0].created_at = t("2023-06-26T05:46:17.8159131+00:00");
    rooms[0].valid_from = t("2023-06-30T00:00:00+00:00");
    rooms[0].valid_until = t("2023-07-30T00:00:00+00:00");
    rooms[0].pstn = 1;

    CHECK_STR(own(rooms_room_json(&rooms[0], ROOMS_API_2025_03_13)),
              "{\"id\":\"99117812428622880\","
              "\"createdAt\":\"2023-06-26T05:46:17.815913+00:00\","
              "\"validFrom\":\"2023-06-30T00:00:00+00:00\","
              "\"validUntil\":\"2023-07-30T00:00:00+00:00\","
              "\"pstnDialOutEnabled\":true}");

    CHECK_STR(own(rooms_room_json(&rooms[0], ROOMS_API_2024_04_15)),
              "{\"id\":\"99117812428622880\","
              "\"createdAt\":\"2023-06-26T05:46:17.815913+00:00\","
              "\"validFrom\":\"2023-06-30T00:00:00+00:00\","
              "\"validUntil\":\"2023-07-30T00:00:00+00:00\","
              "\"pstnDialOutEnabled\":true}");

    /* 2023-06-14 has no pstnDialOutEnabled */

    CHECK_STR(own(rooms_room_json(&rooms[0], ROOMS_API_2023_06_14)),
              "{\"id\":\"99117812428622880\","
              "\"createdAt\":\"2023-06-26T05:46:17.815913+00:00\","
              "\"validFrom\":\"2023-06-30T00:00:00+00:00\","
              "\"validUntil\":\"2023-07-30T00:00:00+00:00\"}");

    rooms[1].id = "99199690362660524";
    rooms[1].created_at = t("2023-06-06T05:55:41Z");
    rooms[1].valid_from = t("2023-06-07T07:55:41Z");
    rooms[1].valid_until = t("2023-06-08T15:55:41Z");
    rooms[1].pstn = 0;

    CHECK_STR(own(rooms_rooms_page_json(rooms, 2, ROOMS_API_2025_03_13,
                                        "https://h/rooms?api-version="
                                        "2025-03-13&skipToken=a%2Fb")),
              "{\"value\":[{\"id\":\"99117812428622880\","
              "\"createdAt\":\"2023-06-26T05:46:17.815913+00:00\","
              "\"validFrom\":\"2023-06-30T00:00:00+00:00\","
              "\"validUntil\":\"2023-07-30T00:00:00+00:00\","
              "\"pstnDialOutEnabled\":true},"
              "{\"id\":\"99199690362660524\","
              "\"createdAt\":\"2023-06-06T05:55:41+00:00\","
              "\"validFrom\":\"2023-06-07T07:55:41+00:00\","
              "\"validUntil\":\"2023-06-08T15:55:41+00:00\","
              "\"pstnDialOutEnabled\":false}],"
              "\"nextLink\":\"https://h/rooms?api-version=2025-03-13"
              "&skipToken=a%2Fb\"}");

    CHECK_STR(own(rooms_rooms_page_json(&rooms[1], 1, ROOMS_API_2023_06_14,
                                        NULL)),
              "{\"value\":[{\"id\":\"99199690362660524\","
              "\"createdAt\":\"2023-06-06T05:55:41+00:00\","
              "\"validFrom\":\"2023-06-07T07:55:41+00:00\","
              "\"validUntil\":\"2023-06-08T15:55:41+00:00\"}]}");

    CHECK_STR(own(rooms_rooms_page_json(NULL, 0, ROOMS_API_2024_04_15,
                                        NULL)),
              "{\"value\":[]}");

    /* unrepresentable rooms */

    rooms[1].valid_until = ROOMS_TIME_UNSET;
    CHECK(rooms_room_json(&rooms[1], ROOMS_API_2024_04_15) == NULL);
    CHECK(rooms_rooms_page_json(rooms, 2, ROOMS_API_2024_04_15, NULL)
          == NULL);

    rooms[1].valid_until = 0;
    rooms[1].id = NULL;
    CHECK(rooms_room_json(&rooms[1], ROOMS_API_2024_04_15) == NULL);

    rooms[1].id = "\xff";
    CHECK(rooms_room_json(&rooms[1], ROOMS_API_2024_04_15) == NULL);

    /* the spec's Participants_List response */

    p[0].raw_id = USER1;
    p[0].role = ROOMS_ROLE_PRESENTER;
    p[1].raw_id = USER2;
    p[1].role = ROOMS_ROLE_ATTENDEE;
    p[2].raw_id = USER3;
    p[2].role = ROOMS_ROLE_COLLABORATOR;

    CHECK_STR(own(rooms_participants_page_json(p, 3, NULL)),
              "{\"value\":[{\"rawId\":\"" USER1 "\",\"role\":\"Presenter\"},"
              "{\"rawId\":\"" USER2 "\",\"role\":\"Attendee\"},"
              "{\"rawId\":\"" USER3 "\",\"role\":\"Collaborator\"}]}");

    CHECK_STR(own(rooms_participants_page_json(p, 1, "n\"l\\")),
              "{\"value\":[{\"rawId\":\"" USER1 "\",\"role\":\"Presenter\"}],"
              "\"nextLink\":\"n\\\"l\\\\\"}");

    CHECK_STR(own(rooms_participants_page_json(NULL, 0, NULL)),
              "{\"value\":[]}");

    p[1].role = ROOMS_ROLE_REMOVE;
    CHECK(rooms_participants_page_json(p, 3, NULL) == NULL);

    p[1].role = ROOMS_ROLE_CONSUMER;
    p[2].raw_id = NULL;
    CHECK(rooms_participants_page_json(p, 3, NULL) == NULL);
}


/* parse -> serialize -> parse keeps participants */

static void
test_round_trip(void)
{
    char              *s;
    size_t             i;
    rooms_error_t      err;
    rooms_room_req_t   a, b;

    CHECK_INT(patch("{\"participants\":{\"8:acs:x_1\":{\"role\":\"presenter\"},"
                    "\"8:spool:y\":{},\"8:gcch-acs:z\":{\"role\":"
                    "\"COLLABORATOR\"}}}", &a, &err), 0);

    s = rooms_participants_page_json(a.participants, a.nparticipants, NULL);
    CHECK(s != NULL);

    if (s != NULL) {
        CHECK_STR(s, "{\"value\":[{\"rawId\":\"8:acs:x_1\",\"role\":"
                     "\"Presenter\"},{\"rawId\":\"8:spool:y\",\"role\":"
                     "\"Attendee\"},{\"rawId\":\"8:gcch-acs:z\",\"role\":"
                     "\"Collaborator\"}]}");
        free(s);
    }

    CHECK_INT(patch("{\"participants\":{\"8:acs:x_1\":{\"role\":\"Presenter\"},"
                    "\"8:spool:y\":{\"role\":\"Attendee\"},"
                    "\"8:gcch-acs:z\":{\"role\":\"Collaborator\"}}}",
                    &b, &err), 0);
    CHECK_INT(a.nparticipants, b.nparticipants);

    for (i = 0; i < a.nparticipants && i < b.nparticipants; i++) {
        CHECK_STR(a.participants[i].raw_id, b.participants[i].raw_id);
        CHECK_INT(a.participants[i].role, b.participants[i].role);
    }

    rooms_room_req_free(&a);
    rooms_room_req_free(&b);
}


/*
 * Inputs found by lua-free-tests/fuzz.  fuzz_model's first crash was in
 * the harness (it compacted req->participants in place, dropping removals,
 * and freed a raw id twice); the library must leave the array intact.
 */

static void
test_fuzz_regressions(void)
{
    size_t               i, n;
    rooms_error_t        err;
    rooms_room_req_t     req;
    rooms_participant_t  keep[8];

    static const char  crash1[] =
        "{\"validFrom\":\"2023-06ns-30T00:00:00Z\",\"vnabled\":true,"
        "\"participants\":{"
        "\"8:acs:`b75ed0c-e801_000-064a-83f0-084822000666\":"
        "{\"rone\":\"Attendee\"},"
        "\"8:acs:db73f0-084<22000666\":{\"rone\":\"Attendee\"},"
        "\"8:acs:db75ed0a06c_000-064a-83f0-084822000666\":"
        "{\"rone\":\"Attendee\"},"
        "\"8:acs:db73c-e801-41a-cE28-m\":null,"
        "\"8:gcch-acs:77\":{\"role\":\"Presenter\"}}}";

    CHECK_INT(patch(crash1, &req, &err), 0);
    CHECK_INT(req.nparticipants, 5);

    n = 0;

    for (i = 0; i < req.nparticipants && i < 5; i++) {
        CHECK_INT(req.participants[i].role,
                  i < 3 ? ROOMS_ROLE_ATTENDEE
                        : (i == 3 ? ROOMS_ROLE_REMOVE : ROOMS_ROLE_PRESENTER));

        if (req.participants[i].role != ROOMS_ROLE_REMOVE) {
            keep[n++] = req.participants[i];
        }
    }

    CHECK_STR(own(rooms_participants_page_json(keep, n, NULL)),
              "{\"value\":[{\"rawId\":\"8:acs:`b75ed0c-e801_000-064a-83f0-"
              "084822000666\",\"role\":\"Attendee\"},{\"rawId\":\"8:acs:"
              "db73f0-084<22000666\",\"role\":\"Attendee\"},{\"rawId\":"
              "\"8:acs:db75ed0a06c_000-064a-83f0-084822000666\",\"role\":"
              "\"Attendee\"},{\"rawId\":\"8:gcch-acs:77\",\"role\":"
              "\"Presenter\"}]}");

    CHECK_STR(req.participants[3].raw_id, "8:acs:db73c-e801-41a-cE28-m");
    rooms_room_req_free(&req);

    /* create and update stop at the bad validFrom */

    memset(&err, 0, sizeof(err));
    CHECK_INT(create(crash1, &req, &err), -1);
    CHECK_STR(err.detail_target, "$.validFrom");
    CHECK(req.participants == NULL);

    memset(&err, 0, sizeof(err));
    CHECK_INT(update(crash1, &req, &err), -1);
    CHECK_STR(err.detail_target, "$.validFrom");
}


int
main(void)
{
    test_versions_roles();
    test_error_json();
    test_create();
    test_create_limit();
    test_update();
    test_patch();
    test_window();
    test_output();
    test_round_trip();
    test_fuzz_regressions();

    CHECK_DONE("test_model");
}
