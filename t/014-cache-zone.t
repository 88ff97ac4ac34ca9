# rooms_cache under memory pressure: a zone of the smallest size, filled
# with far more (room, user) decisions than it holds, evicts the oldest and
# never fails a request for it; an evicted decision is fetched again, and
# a stranger is still refused.  And a token's third request, served from
# its worker's memo of the zone's decision, is refused as soon as the API
# removes the user or revokes the user's tokens.  The counters come from
# $rooms_cache_stats.
#
# Redis db 10, written directly.  Needs TEST_NGINX_REDIS_PORT and
# TEST_NGINX_LOAD_MODULES; see scripts/test.
#
#   scripts/prove-t t/014-cache-zone.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 10;

our $ROOM = '1234567890123458';
our $N    = 400;                  # a 32k zone holds far fewer decisions
our @USERS = map { sprintf '8:acs:rooms-test_user%03d', $_ } 1 .. $N;
our @TOKENS = map { RoomsTest::token(sub => $_) } @USERS;
our $STRANGER = RoomsTest::token(sub => '8:acs:rooms-test_stranger');

sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { map { $_ => 'Attendee' } @USERS });
    RoomsTest::seed_user($_) for @USERS;
}

no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_');
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=10 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    rooms_cache zone=tiny:32k ttl=60s;
_EOC_

    $block->set_value('config', <<'_EOC_');
    location /media {
        rooms_admission $arg_room;
        add_header X-Rooms-Role $rooms_role;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        empty_gif;
    }

    location = /stats {
        return 200 "$rooms_cache_stats\n";
    }

    location /rooms {
        rooms_api;
    }

    location /identities {
        rooms_api;
    }
_EOC_

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS");
});

run_tests();

__DATA__

=== TEST 1: 400 invitees through a 32k zone: all admitted, the oldest evicted, the first admitted again from Redis, a stranger refused
--- init
main::seed();
--- request eval
[(map { "GET /media?room=$::ROOM" } 1 .. $::N + 1),
 "GET /media?room=$::ROOM", "GET /stats"]
--- more_headers eval
[(map { "Authorization: Bearer $_\n" } @::TOKENS, $::TOKENS[0]),
 "Authorization: Bearer $::STRANGER\n", ""]
--- error_code eval
[(200) x ($::N + 1), 403, 200]
--- response_headers eval
[(map { "X-Rooms-Role: Attendee" } 1 .. $::N + 1),
 "X-Rooms-Deny: not invited", ""]
--- response_body_like eval
[(qr/^GIF/) x ($::N + 1), qr/"Forbidden"/,
 qr/^entries=([1-9]\d?|[1-3]\d\d) generations=\d+ hits=0 misses=402 evictions=[1-9]\d* zone=32768 /]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: a miss, a hit from the zone, a hit from the memo; the API removes the user; refused at once
--- init
main::seed();
--- request eval
[(map { "GET /media?room=$::ROOM" } 1 .. 3), "GET /stats",
 "PATCH /rooms/$::ROOM/participants?api-version=2024-04-15\n"
 . qq({"participants":{"$::USERS[0]":null}}),
 "GET /media?room=$::ROOM", "GET /stats"]
--- more_headers eval
[(map { "Authorization: Bearer $::TOKENS[0]\n" } 1 .. 3), "",
 "Content-Type: application/merge-patch+json\n"
 . RoomsTest::acs_headers('PATCH',
       "/rooms/$::ROOM/participants?api-version=2024-04-15",
       qq({"participants":{"$::USERS[0]":null}})),
 "Authorization: Bearer $::TOKENS[0]\n", ""]
--- error_code eval
[200, 200, 200, 200, 200, 403, 200]
--- response_headers eval
["X-Rooms-Role: Attendee", "X-Rooms-Role: Attendee", "X-Rooms-Role: Attendee",
 "", "", "X-Rooms-Deny: not invited", ""]
--- response_body_like eval
[qr/^GIF/, qr/^GIF/, qr/^GIF/, qr/ hits=2 misses=1 /, qr/^\{\}$/,
 qr/"Forbidden"/, qr/ hits=2 misses=2 /]
--- no_error_log
[error]



=== TEST 3: a miss, a hit from the zone, a hit from the memo; the user's tokens are revoked; refused at once
--- init
main::seed();
--- request eval
[(map { "GET /media?room=$::ROOM" } 1 .. 3), "GET /stats",
 "POST /identities/" . RoomsTest::uri_component($::USERS[1])
 . "/:revokeAccessTokens?api-version=2023-10-01",
 "GET /media?room=$::ROOM", "GET /stats"]
--- more_headers eval
[(map { "Authorization: Bearer $::TOKENS[1]\n" } 1 .. 3), "",
 "Content-Length: 0\n"
 . RoomsTest::acs_headers('POST', "/identities/"
       . RoomsTest::uri_component($::USERS[1])
       . "/:revokeAccessTokens?api-version=2023-10-01", ''),
 "Authorization: Bearer $::TOKENS[1]\n", ""]
--- error_code eval
[200, 200, 200, 200, 204, 401, 200]
--- response_headers eval
["X-Rooms-Role: Attendee", "X-Rooms-Role: Attendee", "X-Rooms-Role: Attendee",
 "", "", "X-Rooms-Deny: token revoked", ""]
--- response_body_like eval
[qr/^GIF/, qr/^GIF/, qr/^GIF/, qr/ hits=2 misses=1 /, qr/^$/,
 qr/"Unauthorized"/, qr/ hits=2 misses=2 /]
--- no_error_log
[error]



=== TEST 4: a room has one spelling: with the invitee's decision in the zone and in the token's memo, a leading zero names no room, and the real room keeps admitting
--- init
main::seed();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM",
 "GET /media?room=0$::ROOM", "GET /media?room=0$::ROOM", "GET /stats",
 "GET /media?room=$::ROOM", "GET /stats"]
--- more_headers eval
[("Authorization: Bearer $::TOKENS[2]\n") x 4, "",
 "Authorization: Bearer $::TOKENS[2]\n", ""]
--- error_code eval
[200, 200, 403, 403, 200, 200, 200]
--- response_headers eval
["X-Rooms-Role: Attendee", "X-Rooms-Role: Attendee",
 "X-Rooms-Deny: not invited", "X-Rooms-Deny: not invited", "",
 "X-Rooms-Role: Attendee", ""]
--- response_body_like eval
[qr/^GIF/, qr/^GIF/, qr/"Forbidden"/, qr/"Forbidden"/,
 qr/^entries=1 .* hits=1 misses=1 /, qr/^GIF/, qr/^entries=1 .* hits=2 misses=1 /]
--- no_error_log
[error]



=== TEST 5: the scripts are gone from Redis (SCRIPT FLUSH): a DELETE of the room is still 204, and this gateway refuses the invitee at once, the decision in its zone and memo forgotten
--- init
main::seed();
RoomsTest::flush_scripts();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM",
 "DELETE /rooms/$::ROOM?api-version=2025-03-13", "GET /media?room=$::ROOM"]
--- more_headers eval
["Authorization: Bearer $::TOKENS[3]\n", "Authorization: Bearer $::TOKENS[3]\n",
 RoomsTest::acs_headers('DELETE', "/rooms/$::ROOM?api-version=2025-03-13", ''),
 "Authorization: Bearer $::TOKENS[3]\n"]
--- error_code eval
[200, 200, 204, 403]
--- response_headers eval
["X-Rooms-Role: Attendee", "X-Rooms-Role: Attendee", "", "X-Rooms-Deny: not invited"]
--- no_error_log
[error]
