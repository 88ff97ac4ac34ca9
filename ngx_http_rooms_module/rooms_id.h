
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Room ids, communication user raw ids and identity generation.
 * No nginx dependency: unit tests and fuzzers link this file directly.
 */


#ifndef _ROOMS_ID_H_INCLUDED_
#define _ROOMS_ID_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define ROOMS_ID_LEN              17
#define ROOMS_ID_MIN_LEN          16
#define ROOMS_ID_MAX_LEN          18

#define ROOMS_ID_OK               0
#define ROOMS_ID_BAD_LENGTH       -1
#define ROOMS_ID_BAD_CHARS        -2
#define ROOMS_ID_NOT_CANONICAL    -3

#define ROOMS_RAW_ID_MAX_LEN      256

#define ROOMS_USER_ID_SIZE        128
#define ROOMS_USER_RESOURCE_MAX   84


/*
 * A new room id: ROOMS_ID_LEN uniformly random decimal digits, the first
 * nonzero, from RAND_bytes().  buf must hold ROOMS_ID_MAX_LEN + 1 bytes;
 * the id is NUL-terminated and *len set.  Returns 0, or -1 if the RNG
 * fails.
 */
int rooms_id_generate(char *buf, size_t *len);

/*
 * The room id a repeatable create request (its Repeatability-Request-ID,
 * rid[0..rlen)) gets: ROOMS_ID_LEN decimal digits, the first nonzero, from
 * SHA-256 of rid, so that every retry of the request names the same room
 * and a record of the request can live beside the room's keys.  buf as
 * for rooms_id_generate().  Returns 0, or -1 if the digest fails.
 */
int rooms_id_for_request(char *buf, size_t *len, const char *rid,
    size_t rlen);

/*
 * Checks a room id from a URL: ROOMS_ID_BAD_LENGTH when len is not within
 * 16..18 (ACS: 400 "Invalid room ID length."), ROOMS_ID_BAD_CHARS when
 * it holds anything but digits, ROOMS_ID_NOT_CANONICAL when it starts
 * with a '0' (no room id does: a room has one spelling, so that its
 * value and its string name the same room), else ROOMS_ID_OK.  Checked
 * in that order.
 */
int rooms_id_check(const char *s, size_t len);

/*
 * The same check, and on ROOMS_ID_OK the id's value in *id: distinct ids
 * have distinct values
 */
int rooms_id_parse(const char *s, size_t len, uint64_t *id);

/*
 * Accepts the raw ids that the JS SDK's createIdentifierFromRawId()
 * classifies as "communicationUser": "8:acs:", "8:spool:", "8:dod-acs:"
 * or "8:gcch-acs:" followed by a non-empty remainder without ':' (which
 * the SDK would call "unknown"); for the three *acs prefixes the
 * remainder must not contain exactly two '_' (a Teams extension user).
 * At most ROOMS_RAW_ID_MAX_LEN bytes of printable ASCII, without space,
 * '"', '\\', '{' and '}'.  Everything else (4: phone numbers, 8:orgid:,
 * 28:, 8:teamsvisitor:, ...) is rejected.  Returns 0 ok, or -1.
 */
int rooms_raw_id_check(const char *s, size_t len);

/* a "4:" phone number raw id, to tell why rooms_raw_id_check() failed */
int rooms_raw_id_is_phone(const char *s, size_t len);

/*
 * A new communication user id "8:acs:<resource>_<random GUID v4>" in
 * lowercase.  resource (1..ROOMS_USER_RESOURCE_MAX bytes, typically the
 * gateway's resource GUID) must keep the result valid for
 * rooms_raw_id_check(): no '_', ':' or forbidden characters.  buf must
 * hold ROOMS_USER_ID_SIZE bytes; the id is NUL-terminated and *len set.
 * Returns 0, or -1 on a bad resource or RNG failure.
 */
int rooms_user_id_generate(char *buf, size_t *len, const char *resource);


#endif /* _ROOMS_ID_H_INCLUDED_ */
