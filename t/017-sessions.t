# Live sessions through Test::Nginx: the API extension's shapes (GET and
# DELETE /rooms/{id}/sessions, HMAC-signed like the rest of rooms_api)
# and a session's seat in a full room.  The WebSocket, HTTP/2, two-gateway
# and timing checks are lua-free-tests/sessions (scripts/test sessions).
#
# Redis db 13, seeded by each block's init.
#
#   scripts/prove-t t/017-sessions.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 13;

no_shuffle();
no_root_location();

our $ROOM  = '66666666666666666';
our $ALICE = '8:acs:rooms-test_alice';
our $BOB   = '8:acs:rooms-test_bob';
our $TOKEN = RoomsTest::token(sub => $ALICE);

our $HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=13;
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    rooms_gateway_name gw-t;

    server {
        listen unix:$TEST_NGINX_HTML_DIR/backend.sock;
        location / { return 200 "backend $http_x_rooms_user\n"; }
    }
_EOC_

our $CONFIG = <<'_EOC_';
    location /rooms { rooms_api; }

    location ~ ^/media/(?<room>[0-9]+)$ {
        rooms_admission $room;
        rooms_session on;
        proxy_set_header X-Rooms-User $rooms_user_id;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/backend.sock;
    }
_EOC_

our $NOW_MS = int(time * 1000);

# the room, alice and bob invited; bob seated by another gateway's worker
sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter', $BOB => 'Attendee' });
    RoomsTest::redis('ZADD', "rooms:{$ROOM}:g", $NOW_MS + 600000,
                     'gw-x/4242.0000abcd');
    RoomsTest::redis('HSET', "rooms:{$ROOM}:s", $BOB,
                     "gw-x/4242.0000abcd $NOW_MS");
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => $HTTP_CONFIG)
        unless defined $block->http_config;
    $block->set_value(config => $CONFIG) unless defined $block->config;
    $block->set_value(user_files => ">>> jwks.json\n$RoomsTest::TEST_JWKS")
        unless defined $block->user_files;

    RoomsTest::prepare_block($block);
});

run_tests();

__DATA__

=== TEST 1: GET /rooms/{id}/sessions: one entry per seated user, its role and gateway, and the cap
--- init
main::seed();
--- request
GET /rooms/66666666666666666/sessions?api-version=2025-03-13
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_like chomp
^\{"value":\[\{"rawId":"8:acs:rooms-test_bob","role":"Attendee","connectedAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00","gateway":"gw-x"\}\],"maxParticipants":350\}$
--- no_error_log
[error]



=== TEST 2: the holder's lease ran out: nobody is listed; rooms_max_participants is the cap shown
--- init
main::seed();
RoomsTest::redis('ZADD', "rooms:{$main::ROOM}:g", 1, 'gw-x/4242.0000abcd');
--- http_config eval
$main::HTTP_CONFIG . "    rooms_max_participants 20;\n"
--- request
GET /rooms/66666666666666666/sessions?api-version=2025-03-13
--- error_code: 200
--- response_body chomp
{"value":[],"maxParticipants":20}
--- no_error_log
[error]



=== TEST 3: GET sessions of an unknown room: 404, as the other room endpoints
--- init
main::seed();
--- request
GET /rooms/123456789012345678/sessions?api-version=2025-03-13
--- error_code: 404
--- response_headers
x-ms-error-code: NotFound
--- response_body chomp
{"error":{"code":"NotFound","message":"The room was not found."}}



=== TEST 4: a malformed room id: 400
--- request
GET /rooms/12/sessions?api-version=2025-03-13
--- error_code: 400
--- response_body chomp
{"error":{"code":"BadRequest","message":"Invalid room ID length."}}



=== TEST 5: no api-version: 400
--- request
GET /rooms/66666666666666666/sessions
--- error_code: 400
--- response_body_like chomp
"code":"BadRequest"



=== TEST 6: a method the path does not take: 405
--- request
POST /rooms/66666666666666666/sessions?api-version=2025-03-13
{}
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_headers
x-ms-error-code: MethodNotAllowed



=== TEST 7: unsigned: 401, nothing listed
--- request
GET /rooms/66666666666666666/sessions?api-version=2025-03-13
--- more_headers
# unsigned
--- error_code: 401
--- response_headers
x-ms-error-code: Unauthorized



=== TEST 8: DELETE /rooms/{id}/sessions/{rawId}: 204, the seat is gone, the participant stays
--- init
main::seed();
--- request
DELETE /rooms/66666666666666666/sessions/8:acs:rooms-test_bob?api-version=2025-03-13
--- error_code: 204
--- response_body_filters eval
sub { CORE::join ',', scalar(RoomsTest::redis('HEXISTS', "rooms:{$main::ROOM}:s", $main::BOB)),
                scalar(RoomsTest::redis('HGET', "rooms:{$main::ROOM}:p", $main::BOB)) }
--- response_body chomp
0,Attendee
--- no_error_log
[error]



=== TEST 9: DELETE sessions of a percent-encoded raw id
--- init
main::seed();
--- request
DELETE /rooms/66666666666666666/sessions/8%3Aacs%3Arooms-test_bob?api-version=2025-03-13
--- error_code: 204



=== TEST 10: DELETE in an unknown room: 404
--- request
DELETE /rooms/123456789012345678/sessions/8:acs:rooms-test_bob?api-version=2025-03-13
--- error_code: 404
--- response_headers
x-ms-error-code: NotFound



=== TEST 11: DELETE of a malformed raw id: 400
--- request
DELETE /rooms/66666666666666666/sessions/bob?api-version=2025-03-13
--- error_code: 400
--- response_body chomp
{"error":{"code":"BadRequest","message":"Invalid format for the identity."}}



=== TEST 12: GET on one user's sessions, DELETE on the list: 405; deeper paths: 404
--- request eval
["GET /rooms/66666666666666666/sessions/8:acs:rooms-test_bob?api-version=2025-03-13",
 "DELETE /rooms/66666666666666666/sessions?api-version=2025-03-13",
 "GET /rooms/66666666666666666/sessions/8:acs:rooms-test_bob/x?api-version=2025-03-13"]
--- error_code eval
[405, 405, 404]



=== TEST 13: a session admitted: the request goes on, with its seat taken and then given back
--- init
main::seed();
--- config eval
$main::CONFIG . "    location = /seats { return 200 \"seat\"; }\n"
--- request eval
"GET /media/66666666666666666?access_token=$main::TOKEN"
--- error_code: 200
--- response_body
backend 8:acs:rooms-test_alice
--- no_error_log
[error]



=== TEST 14: the room is full (rooms_max_participants 1, bob seated): 403 RoomFull, the upstream never asked
--- init
main::seed();
--- http_config eval
$main::HTTP_CONFIG . "    rooms_max_participants 1;\n"
--- request eval
"GET /media/66666666666666666?access_token=$main::TOKEN"
--- error_code: 403
--- response_headers
x-ms-error-code: RoomFull
Content-Type: application/json; charset=utf-8
--- response_body chomp
{"error":{"code":"RoomFull","message":"The room is full."}}
--- error_log
refused: room is full



=== TEST 15: rooms_duplicate_session reject: bob, seated elsewhere, is refused
--- init
main::seed();
--- config eval
$main::CONFIG =~ s/rooms_session on;/rooms_session on; rooms_duplicate_session reject;/r
--- request eval
"GET /media/66666666666666666?access_token=" . RoomsTest::token(sub => $main::BOB)
--- error_code: 403
--- response_headers
x-ms-error-code: Forbidden
--- error_log
refused: already in the room



=== TEST 16: a stranger is refused before any seat is asked for
--- init
main::seed();
--- request eval
"GET /media/66666666666666666?access_token=" . RoomsTest::token(sub => '8:acs:rooms-test_mallory')
--- error_code: 403
--- response_body_filters eval
sub { $_[0] . RoomsTest::redis('HLEN', "rooms:{$main::ROOM}:s") }
--- response_body_like chomp
"Forbidden".*1$
--- error_log
refused: not invited
