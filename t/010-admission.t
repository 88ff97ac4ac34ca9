# Admission in the access phase: the allow/deny matrix of rooms_admission.
# Every refusal reason, with its status, its JSON body, the
# WWW-Authenticate header of a 401, the variables, the info log line (that
# never holds the token), the token sources (Authorization: Bearer, the
# access_token argument, rooms_token), rooms_admission off, rooms_roles,
# satisfy any, and a participant removed through the API.
#
# Redis state is written directly (db 6, flushed by each block's init) in
# the layout of ngx_http_rooms_api.c.  Needs TEST_NGINX_REDIS_PORT and
# TEST_NGINX_LOAD_MODULES; see scripts/test.
#
#   scripts/prove-t t/010-admission.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 6;

our $ROOM    = '1234567890123456';       # 16 digits
our $ROOM2   = '987654321098765432';     # 18 digits, never created
our $ALICE   = '8:acs:rooms-test_alice';
our $BOB     = '8:acs:rooms-test_bob';
our $CAROL   = '8:acs:rooms-test_carol';
our $DAVE    = '8:acs:rooms-test_dave';
our $ERIN    = '8:acs:rooms-test_erin';
our $MALLORY = '8:acs:rooms-test_mallory';
our %PARTS   = ($ALICE => 'Presenter', $BOB => 'Attendee',
                $CAROL => 'Consumer', $DAVE => 'Collaborator',
                $ERIN => 'Guest');
our $T0      = time;                     # revocation times hang off it

# a clean db 6 with the room and its five participants
sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, \%PARTS, @_);
}

# the JSON bodies of refusals
our $BODY_401 = qr/^\{"error":\{"code":"Unauthorized","message":"A valid room token is required\."\}\}$/;
our $BODY_403 = qr/^\{"error":\{"code":"Forbidden","message":"Not admitted to this room\."\}\}$/;

# TEST 38's request lines: "GET /media?room=...&access_token=T&p=X..." of
# 4080 to 4095 bytes, for a token T of one and of two bytes; and the line
# each must be logged as, T masked
sub long_lines {
    my ($masked) = @_;
    my @r;
    for my $t ('a', 'ab') {
        my $head = "GET /media?room=$ROOM&access_token=";
        my $pad = 4080 - 9 - length("$head$t&p=");
        push @r, map { $head . ($masked ? '***' : $t) . '&p=' . ('x' x ($pad + $_))
                       . ($masked ? ' HTTP/1.1' : '') } 0 .. 15;
    }
    return @r;
}

no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=6 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    log_format rooms '$request_method $uri t=$arg_t $status reason="$rooms_deny_reason" user="$rooms_user_id" role="$rooms_role" room="$rooms_room_id"';
_EOC_
    }

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS"
                      . ">>> ok.txt\nadmitted\n" . ($block->user_files // ''));
});

# every server gets /media: admission for the room in ?room=, the
# variables in response headers, the static file ok.txt as content
config_preamble(<<'_EOC_' . '        alias ' . html_dir() . "/ok.txt;\n    }\n");
    location = /media {
        rooms_admission $arg_room;
        add_header X-Rooms-User $rooms_user_id always;
        add_header X-Rooms-Role $rooms_role always;
        add_header X-Rooms-Room $rooms_room_id always;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        add_header X-Rooms-Request $request always;
        access_log logs/access.log rooms;
_EOC_

run_tests();

__DATA__

=== TEST 1: admitted: an invitee with a valid token for this room; the variables
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, room => $::ROOM) . "\n"
--- response_headers
X-Rooms-User: 8:acs:rooms-test_alice
X-Rooms-Role: Presenter
X-Rooms-Room: 1234567890123456
!X-Rooms-Deny
!WWW-Authenticate
--- response_body
admitted
--- no_error_log
[error]
[warn]
refused



=== TEST 2: missing token: 401, WWW-Authenticate, JSON body, info log line
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
Content-Type: application/json; charset=utf-8
X-Rooms-Deny: missing token
X-Rooms-Room: 1234567890123456
!X-Rooms-User
!X-Rooms-Role
--- response_body_like eval
$::BODY_401
--- error_log eval
qr/\[info\] .*rooms admission: room "1234567890123456" user "" refused: missing token/
--- no_error_log
[error]



=== TEST 3: an Authorization header of another scheme is no token
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: missing token
--- response_body_like eval
$::BODY_401



=== TEST 4: malformed token
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers
Authorization: Bearer not-a-jwt
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: malformed token
--- response_body_like eval
$::BODY_401
--- error_log eval
qr/rooms admission: room "1234567890123456" user "" refused: malformed token/
--- no_error_log
[error]



=== TEST 5: bad signature: signed with another key under kid k1
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::jwt_hs256('another-key-of-forty-bytes-0123456789ABC', 'k1',
      { sub => $::ALICE, iat => time - 10, exp => time + 3600 }) . "\n"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: bad signature
!X-Rooms-User
--- response_body_like eval
$::BODY_401
--- error_log eval
qr/rooms admission: room "1234567890123456" user "" refused: bad signature/



=== TEST 6: alg none is refused
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::jwt_alg_none('k1', { sub => $::ALICE, iat => time - 10, exp => time + 3600 })
. "\n"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: alg none
--- response_body_like eval
$::BODY_401



=== TEST 7: unknown kid
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::jwt_hs256($RoomsTest::JWT_KEY, 'k9',
      { sub => $::ALICE, iat => time - 10, exp => time + 3600 }) . "\n"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: unknown kid
--- response_body_like eval
$::BODY_401



=== TEST 8: expired token
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::token(sub => $::ALICE, iat => time - 700, exp => time - 100) . "\n"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: expired
--- response_body_like eval
$::BODY_401
--- error_log eval
qr/rooms admission: room "1234567890123456" user "" refused: expired/



=== TEST 9: nbf in the future: not yet valid
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::token(sub => $::ALICE, nbf => time + 3600) . "\n"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: not yet valid
--- response_body_like eval
$::BODY_401



=== TEST 10: rooms_token_leeway 10m admits nbf 5 min ahead and exp 5 min behind, not nbf 1 h ahead
--- config
    rooms_token_leeway 10m;
--- init
main::seed();
--- request eval
["GET /media?room=1234567890123456", "GET /media?room=1234567890123456",
 "GET /media?room=1234567890123456"]
--- more_headers eval
["Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, nbf => time + 300) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, iat => time - 900,
                                             exp => time - 300) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, nbf => time + 3600) . "\n"]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Rooms-User: $::ALICE", "X-Rooms-User: $::ALICE", "X-Rooms-Deny: not yet valid"]
--- response_body_like eval
["^admitted\n\$", "^admitted\n\$", $::BODY_401]
--- no_error_log
[error]



=== TEST 11: the token's room claim names another room
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, room => $::ROOM2) . "\n"
--- error_code: 403
--- response_headers
!WWW-Authenticate
X-Rooms-Deny: token is for another room
X-Rooms-User: 8:acs:rooms-test_alice
--- response_body_like eval
$::BODY_403
--- error_log eval
qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_alice" refused: token is for another room/



=== TEST 12: a room that does not exist looks like one the user is not in
--- config
--- init
main::seed();
--- request
GET /media?room=987654321098765432
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, room => $::ROOM2) . "\n"
--- error_code: 403
--- response_headers
!WWW-Authenticate
Content-Type: application/json; charset=utf-8
X-Rooms-Deny: not invited
X-Rooms-Room: 987654321098765432
--- response_body_like eval
$::BODY_403
--- error_log eval
qr/\[info\] .*rooms admission: room "987654321098765432" user "8:acs:rooms-test_alice" refused: not invited/
--- no_error_log
[error]



=== TEST 13: not invited: a valid token of a user who is not a participant
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::MALLORY, room => $::ROOM) . "\n"
--- error_code: 403
--- response_headers
!WWW-Authenticate
Content-Type: application/json; charset=utf-8
X-Rooms-Deny: not invited
X-Rooms-User: 8:acs:rooms-test_mallory
!X-Rooms-Role
--- response_body_like eval
$::BODY_403
--- error_log eval
qr/\[info\] .*rooms admission: room "1234567890123456" user "8:acs:rooms-test_mallory" refused: not invited/
--- no_error_log
[error]



=== TEST 14: a room id that is not 16 to 18 digits is refused like an unknown room
--- config
--- init
main::seed();
--- request eval
["GET /media?room=12345", "GET /media?room=12345678901234567x", "GET /media"]
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code eval
[403, 403, 403]
--- response_headers eval
["X-Rooms-Deny: not invited", "X-Rooms-Deny: not invited", "X-Rooms-Deny: not invited"]
--- response_body_like eval
[$::BODY_403, $::BODY_403, $::BODY_403]



=== TEST 15: before the room's validFrom
--- config
--- init
main::seed(from => time + 600, until => time + 4200);
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code: 403
--- response_headers
!WWW-Authenticate
X-Rooms-Deny: outside the room's validity
--- response_body_like eval
$::BODY_403
--- error_log eval
qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_alice" refused: outside the room's validity/



=== TEST 16: at and after the room's validUntil
--- config
--- init
main::seed(from => time - 7200, until => time - 60);
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code: 403
--- response_headers
X-Rooms-Deny: outside the room's validity
--- response_body_like eval
$::BODY_403



=== TEST 17: revoked: a token issued before the user's revocation, and one without iat
--- config
--- init
main::seed();
RoomsTest::redis('HSET', "rooms:user:{$::ALICE}", r => $::T0 - 50);
--- request eval
["GET /media?room=1234567890123456", "GET /media?room=1234567890123456"]
--- more_headers eval
["Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, iat => $::T0 - 100) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, iat => '') . "\n"]
--- error_code eval
[401, 401]
--- response_headers eval
["WWW-Authenticate: Bearer error=\"invalid_token\"\nX-Rooms-Deny: token revoked",
 "WWW-Authenticate: Bearer error=\"invalid_token\"\nX-Rooms-Deny: token revoked"]
--- response_body_like eval
[$::BODY_401, $::BODY_401]
--- error_log eval
qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_alice" refused: token revoked/



=== TEST 18: after a revocation a new token passes: iat == r and iat > r admit, r - 1 does not
--- config
--- init
main::seed();
RoomsTest::redis('HSET', "rooms:user:{$::ALICE}", r => $::T0 - 50);
--- request eval
["GET /media?room=1234567890123456", "GET /media?room=1234567890123456",
 "GET /media?room=1234567890123456"]
--- more_headers eval
["Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, iat => $::T0 - 51) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, iat => $::T0 - 50) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::ALICE, iat => $::T0 - 10) . "\n"]
--- error_code eval
[401, 200, 200]
--- response_headers eval
["X-Rooms-Deny: token revoked", "X-Rooms-User: $::ALICE", "X-Rooms-User: $::ALICE"]
--- response_body_like eval
[$::BODY_401, "^admitted\n\$", "^admitted\n\$"]



=== TEST 19: a deleted identity is refused whatever its token
--- config
--- init
main::seed();
RoomsTest::redis('HSET', "rooms:user:{$::BOB}", d => 1);
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::BOB, room => $::ROOM) . "\n"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
X-Rooms-Deny: identity deleted
--- response_body_like eval
$::BODY_401
--- error_log eval
qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_bob" refused: identity deleted/



=== TEST 20: rooms_roles Presenter Collaborator refuses a Consumer
--- config
    location = /stage {
        rooms_admission $arg_room;
        rooms_roles Presenter Collaborator;
        add_header X-Rooms-Role $rooms_role always;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request
GET /stage?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::CAROL) . "\n"
--- error_code: 403
--- response_headers
!WWW-Authenticate
X-Rooms-Role: Consumer
X-Rooms-Deny: role not allowed
--- response_body_like eval
$::BODY_403
--- error_log eval
qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_carol" refused: role not allowed/



=== TEST 21: rooms_roles admits Presenter and Collaborator; Attendee, and an unknown stored role (an Attendee), are refused
--- config
    location = /stage {
        rooms_admission $arg_room;
        rooms_roles Presenter Collaborator;
        add_header X-Rooms-Role $rooms_role always;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /stage?room=1234567890123456", "GET /stage?room=1234567890123456",
 "GET /stage?room=1234567890123456", "GET /stage?room=1234567890123456",
 "GET /media?room=1234567890123456"]
--- more_headers eval
[map { "Authorization: Bearer " . RoomsTest::token(sub => $_) . "\n" }
     $::ALICE, $::DAVE, $::BOB, $::ERIN, $::ERIN]
--- error_code eval
[200, 200, 403, 403, 200]
--- response_headers eval
["X-Rooms-Role: Presenter\n!X-Rooms-Deny", "X-Rooms-Role: Collaborator\n!X-Rooms-Deny",
 "X-Rooms-Role: Attendee\nX-Rooms-Deny: role not allowed",
 "X-Rooms-Role: Attendee\nX-Rooms-Deny: role not allowed",
 "X-Rooms-Role: Attendee\n!X-Rooms-Deny"]
--- response_body_like eval
["^admitted\n\$", "^admitted\n\$", $::BODY_403, $::BODY_403, "^admitted\n\$"]
--- no_error_log
[error]



=== TEST 22: the token in the access_token query argument (WebSocket clients)
--- config
--- init
main::seed();
--- request eval
"GET /media?room=1234567890123456&access_token="
. RoomsTest::token(sub => $::BOB, room => $::ROOM)
--- response_headers
X-Rooms-User: 8:acs:rooms-test_bob
X-Rooms-Role: Attendee
--- response_body
admitted
--- no_error_log
[error]



=== TEST 23: Authorization: Bearer wins over access_token
--- config
--- init
main::seed();
--- request eval
"GET /media?room=1234567890123456&access_token="
. RoomsTest::token(sub => $::BOB, room => $::ROOM)
--- more_headers
Authorization: Bearer not-a-jwt
--- error_code: 401
--- response_headers
X-Rooms-Deny: malformed token
--- response_body_like eval
$::BODY_401



=== TEST 24: rooms_token $http_x_token replaces the default sources
--- config
    location = /custom {
        rooms_admission $arg_room;
        rooms_token $http_x_token;
        add_header X-Rooms-User $rooms_user_id always;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /custom?room=1234567890123456",
 "GET /custom?room=1234567890123456",
 "GET /custom?room=1234567890123456&access_token="
 . RoomsTest::token(sub => $::BOB)]
--- more_headers eval
["X-Token: " . RoomsTest::token(sub => $::BOB) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n",
 ""]
--- error_code eval
[200, 401, 401]
--- response_headers eval
["X-Rooms-User: $::BOB\n!X-Rooms-Deny", "X-Rooms-Deny: missing token",
 "X-Rooms-Deny: missing token"]
--- response_body_like eval
["^admitted\n\$", $::BODY_401, $::BODY_401]
--- no_error_log
[error]



=== TEST 25: rooms_admission off in a nested location, inherited from the server level elsewhere
--- config
    rooms_admission $arg_room;
    location /app/ {
        root $TEST_NGINX_HTML_DIR;
        location /app/public/ {
            rooms_admission off;
            root $TEST_NGINX_HTML_DIR;
        }
    }
--- user_files
>>> app/public/hello.txt
hello
>>> app/private.txt
secret
--- init
main::seed();
--- request eval
["GET /app/public/hello.txt?room=1234567890123456",
 "GET /app/private.txt?room=1234567890123456",
 "GET /app/private.txt?room=1234567890123456"]
--- more_headers eval
["", "", "Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["^hello\n\$", $::BODY_401, "^secret\n\$"]
--- no_error_log
[error]



=== TEST 26: $rooms_deny_reason, $rooms_user_id, $rooms_room_id in the access log of a refusal
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456&t=refusal
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::MALLORY) . "\n"
--- error_code: 403
--- response_body_like eval
$::BODY_403
--- access_log
GET /media t=refusal 403 reason="not invited" user="8:acs:rooms-test_mallory" role="-" room="1234567890123456"



=== TEST 27: the access log of an admission: no reason, the user, role and room
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456&t=admission
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::DAVE) . "\n"
--- response_body
admitted
--- access_log
GET /media t=admission 200 reason="-" user="8:acs:rooms-test_dave" role="Collaborator" room="1234567890123456"



=== TEST 28: satisfy any: allow 127.0.0.1 admits without a token, and leaves no WWW-Authenticate behind
--- config
    location = /any {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        rooms_admission $arg_room;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request
GET /any?room=1234567890123456
--- response_headers
!WWW-Authenticate
--- response_body
admitted
--- no_error_log
[error]



=== TEST 29: satisfy any with deny all: our 401 (no token), our 403 (not invited), and a valid invitee passes
With satisfy any the refusal goes back to the phase engine, which answers
with its own error page: only the status and the headers are ours.
--- config
    location = /any {
        satisfy any;
        deny all;
        rooms_admission $arg_room;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /any?room=1234567890123456", "GET /any?room=1234567890123456",
 "GET /any?room=1234567890123456"]
--- more_headers eval
["", "Authorization: Bearer " . RoomsTest::token(sub => $::MALLORY) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n"]
--- error_code eval
[401, 403, 200]
--- response_headers eval
["WWW-Authenticate: Bearer error=\"invalid_token\"\nX-Rooms-Deny: missing token",
 "!WWW-Authenticate\nX-Rooms-Deny: not invited",
 "!WWW-Authenticate\n!X-Rooms-Deny"]
--- response_body_like eval
[qr/./, qr/./, "^admitted\n\$"]



=== TEST 30: the info line names room, user and reason and never the token (header token, not invited)
--- log_level: info
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::token(sub => $::MALLORY, room => $::ROOM, iat => $::T0, exp => $::T0 + 900) . "\n"
--- error_code: 403
--- error_log eval
qr/\[info\] .*rooms admission: room "1234567890123456" user "8:acs:rooms-test_mallory" refused: not invited/
--- no_error_log eval
[RoomsTest::token(sub => $::MALLORY, room => $::ROOM, iat => $::T0, exp => $::T0 + 900),
 (split /\./, RoomsTest::token(sub => $::MALLORY, room => $::ROOM, iat => $::T0, exp => $::T0 + 900))[2],
 "[error]"]



=== TEST 31: nor for a token that fails verification (bad signature)
--- log_level: info
--- config
--- init
main::seed();
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer "
. RoomsTest::jwt_hs256('another-key-of-forty-bytes-0123456789ABC', 'k1',
      { sub => $::ALICE, iat => $::T0, exp => $::T0 + 900 }) . "\n"
--- error_code: 401
--- error_log eval
qr/\[info\] .*rooms admission: room "1234567890123456" user "" refused: bad signature/
--- no_error_log eval
[(split /\./, RoomsTest::jwt_hs256('another-key-of-forty-bytes-0123456789ABC', 'k1',
      { sub => $::ALICE, iat => $::T0, exp => $::T0 + 900 }))[2],
 "rooms-test_alice"]



=== TEST 32: a participant removed through the API is refused at the next admission
--- config
    location /rooms {
        rooms_api;
    }
--- init
main::seed();
--- request eval
["GET /media?room=1234567890123456",
 "PATCH /rooms/1234567890123456/participants?api-version=2024-04-15\n"
 . qq({"participants":{"$::BOB":null}}),
 "GET /media?room=1234567890123456"]
--- more_headers eval
["Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n",
 "Content-Type: application/merge-patch+json\n"
 . RoomsTest::acs_headers('PATCH',
       '/rooms/1234567890123456/participants?api-version=2024-04-15',
       qq({"participants":{"$::BOB":null}})),
 "Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n"]
--- error_code eval
[200, 200, 403]
--- response_headers eval
["X-Rooms-User: $::BOB", "Content-Type: application/json; charset=utf-8",
 "X-Rooms-Deny: not invited"]
--- response_body_like eval
["^admitted\n\$", '^\{\}$', $::BODY_403]
--- no_error_log
[error]



=== TEST 33: a token in the access_token argument is masked in the log's request line
--- log_level: info
--- config
--- init
main::seed();
--- request eval
"GET /media?room=1234567890123456&access_token="
. RoomsTest::jwt_hs256($RoomsTest::JWT_KEY, 'k1',
      { sub => $::MALLORY, iat => $::T0, exp => $::T0 + 900 })
--- error_code: 403
--- error_log eval
[qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_mallory" refused: not invited/,
 qr/request: "GET \/media\?room=1234567890123456&access_token=\*\*\* HTTP/]
--- no_error_log eval
[(split /\./, RoomsTest::jwt_hs256($RoomsTest::JWT_KEY, 'k1',
      { sub => $::MALLORY, iat => $::T0, exp => $::T0 + 900 }))[2]]



=== TEST 34: a room whose stored validFrom is not a number fails closed (strtoll read it as 0)
--- config
--- init
main::seed();
RoomsTest::redis('HSET', "rooms:{$::ROOM}", f => 'soon');
--- request
GET /media?room=1234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code: 503
--- response_headers
Retry-After: 1
X-Rooms-Deny: store unavailable
!WWW-Authenticate
--- response_body_like: ^\{"error":\{"code":"ServiceUnavailable","message":"[^"]+"\}\}$
--- error_log eval
[qr/\[error\] .*rooms admission: a stored time is not a number: "f" "soon", "u" "\d{16}" of room "1234567890123456"; "r" "" of its user/,
 qr/rooms admission: room "1234567890123456" user "8:acs:rooms-test_alice" refused: store unavailable/]



=== TEST 35: a user whose stored revocation time is not a number fails closed, with a cache zone too (strtoll read it as 17)
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=6 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    rooms_cache zone=corrupt:1m;
    log_format rooms '$status reason="$rooms_deny_reason"';
--- config
--- init
main::seed();
RoomsTest::redis('HSET', "rooms:user:{$::ALICE}", r => '17x');
--- request eval
["GET /media?room=1234567890123456", "GET /media?room=1234567890123456"]
--- more_headers eval
["Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n",
 "Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"]
--- error_code eval
[503, 503]
--- response_headers eval
["X-Rooms-Deny: store unavailable", "X-Rooms-Deny: store unavailable"]
--- error_log eval
qr/\[error\] .*rooms admission: a stored time is not a number: "f" "\d{16}", "u" "\d{16}" of room "1234567890123456"; "r" "17x" of its user/



=== TEST 36: the room id from a lone variable, braced or not, a named or numbered capture, a composed value, a literal; a variable that is not found is no room
--- config
    location = /braced {
        rooms_admission ${arg_room};
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location ~ ^/named/(?<rid>[0-9]+)$ {
        rooms_admission $rid;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location ~ ^/numbered/([0-9]+)$ {
        rooms_admission $1;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /composed {
        rooms_admission $arg_a$arg_b;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /literal {
        rooms_admission 1234567890123456;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /missing {
        rooms_admission $arg_nope;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /braced?room=1234567890123456",
 "GET /named/1234567890123456",
 "GET /numbered/1234567890123456",
 "GET /composed?a=12345678&b=90123456",
 "GET /literal",
 "GET /missing?room=1234567890123456",
 "GET /braced?room=987654321098765432"]
--- more_headers eval
[("Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n") x 7]
--- error_code eval
[200, 200, 200, 200, 200, 403, 403]
--- response_body_like eval
[("^admitted\n\$") x 5, $::BODY_403, $::BODY_403]
--- response_headers eval
["", "", "", "", "", "X-Rooms-Deny: not invited", ""]
--- no_error_log
[error]



=== TEST 37: rooms_token from a braced variable, a composed value, the server level; a variable that is not found is no token
--- config
    rooms_token ${http_x_token};
    location = /braced {
        rooms_admission $arg_room;
        add_header X-Rooms-User $rooms_user_id always;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /composed {
        rooms_admission $arg_room;
        rooms_token $http_x_head.$http_x_tail;
        add_header X-Rooms-User $rooms_user_id always;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /missing {
        rooms_admission $arg_room;
        rooms_token $cookie_nope;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /braced?room=1234567890123456",
 "GET /braced?room=1234567890123456",
 "GET /composed?room=1234567890123456",
 "GET /missing?room=1234567890123456"]
--- more_headers eval
my $t = RoomsTest::token(sub => $::CAROL);
my $cut = rindex($t, '.');
["X-Token: $t\n",
 "Authorization: Bearer $t\n",
 "X-Head: " . substr($t, 0, $cut) . "\nX-Tail: " . substr($t, $cut + 1) . "\n",
 "X-Token: $t\nAuthorization: Bearer $t\n"]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Rooms-User: $::CAROL\n!X-Rooms-Deny", "X-Rooms-Deny: missing token",
 "X-Rooms-User: $::CAROL\n!X-Rooms-Deny", "X-Rooms-Deny: missing token"]
--- response_body_like eval
["^admitted\n\$", $::BODY_401, "^admitted\n\$", $::BODY_401]
--- no_error_log
[error]



=== TEST 38: access_token values of one and two bytes are masked without overrunning the line, at request lines of every length mod 16 around 4 KB (an ASan build reports the overrun)
--- log_level: info
--- config
--- init
main::seed();
--- request eval
[main::long_lines(0)]
--- error_code eval
[(401) x 32]
--- response_headers eval
[map { "X-Rooms-Request: $_" } main::long_lines(1)]
--- no_error_log eval
[qr/access_token=a[b&]/, qr/HTTP\/1[^.]/, '[alert]', 'exited on signal']
--- error_log eval
qr/rooms admission: room "1234567890123456" user "" refused: malformed token, client: [^,]+, server: [^,]+, request: "GET \/media\?room=1234567890123456&access_token=\*\*\*&p=xxxx/



=== TEST 39: a query token is masked though the room id is refused before the token is read: not digits, 3 digits, 19 digits; in the error log too
--- log_level: info
--- config
--- init
main::seed();
--- request eval
[map { "GET /media?room=$_&access_token=" . RoomsTest::token(sub => $::ALICE) }
 'abc', '123', '1234567890123456789']
--- error_code eval
[403, 403, 403]
--- response_headers eval
["X-Rooms-Request: GET /media?room=abc&access_token=*** HTTP/1.1",
 "X-Rooms-Request: GET /media?room=123&access_token=*** HTTP/1.1",
 "X-Rooms-Request: GET /media?room=1234567890123456789&access_token=*** HTTP/1.1"]
--- error_log eval
qr/room "[0-9a-c]+" user "" refused: not invited, client: .*, request: "GET \/media\?room=[0-9a-c]+&access_token=\*\*\* HTTP\/1\.1"/
--- no_error_log eval
[qr/access_token=eyJ/]
--- no_access_log eval
[qr/access_token=eyJ/]



=== TEST 40: every token in the query is masked: with a Bearer header too, a second access_token, one after an empty first, the name in another case
--- log_level: info
--- config
--- init
main::seed();
--- request eval
my $t = RoomsTest::token(sub => $::ALICE);
my $m = RoomsTest::token(sub => $::MALLORY);
["GET /media?room=1234567890123456&access_token=$m",
 "GET /media?room=1234567890123456&access_token=$t&access_token=$m",
 "GET /media?room=1234567890123456&access_token=&access_token=$m",
 "GET /media?room=1234567890123456&Access_Token=$t&x=1"]
--- more_headers eval
["Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n", "", "", ""]
--- error_code eval
[200, 200, 401, 200]
--- response_headers eval
["X-Rooms-Request: GET /media?room=1234567890123456&access_token=*** HTTP/1.1",
 "X-Rooms-Request: GET /media?room=1234567890123456&access_token=***&access_token=*** HTTP/1.1",
 "X-Rooms-Request: GET /media?room=1234567890123456&access_token=&access_token=*** HTTP/1.1",
 "X-Rooms-Request: GET /media?room=1234567890123456&Access_Token=***&x=1 HTTP/1.1"]
--- no_error_log eval
[qr/access_token=eyJ/i]
--- no_access_log eval
[qr/access_token=eyJ/i]



=== TEST 41: rooms_token $arg_t: the t argument is masked too, in every request line of the http block (one that goes elsewhere may carry a token too)
--- log_level: info
--- config
    location = /byarg {
        rooms_admission $arg_room;
        rooms_token $arg_t;
        add_header X-Rooms-Request $request always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /byheader {
        rooms_admission $arg_room;
        rooms_token $http_x_token;
        add_header X-Rooms-Request $request always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
my $t = RoomsTest::token(sub => $::ALICE);
["GET /byarg?room=1234567890123456&t=$t&t2=keep",
 "GET /byarg?room=1234567890123456&t=x",
 "GET /byheader?room=1234567890123456&t=keep&access_token=zz"]
--- more_headers eval
["", "", "X-Token: " . RoomsTest::token(sub => $::ALICE) . "\n"]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Rooms-Request: GET /byarg?room=1234567890123456&t=***&t2=keep HTTP/1.1",
 "X-Rooms-Request: GET /byarg?room=1234567890123456&t=*** HTTP/1.1",
 "X-Rooms-Request: GET /byheader?room=1234567890123456&t=***&access_token=*** HTTP/1.1"]
--- no_error_log
[error]



=== TEST 42: a room id has one spelling: with leading zeros it is no room, though its value is the invitee's room
--- log_level: info
--- config
--- init
main::seed();
--- request eval
["GET /media?room=01234567890123456", "GET /media?room=001234567890123456",
 "GET /media?room=1234567890123456"]
--- more_headers eval
[("Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n") x 3]
--- error_code eval
[403, 403, 200]
--- response_headers eval
["X-Rooms-Deny: not invited\nX-Rooms-Room: 01234567890123456\n!X-Rooms-Role",
 "X-Rooms-Deny: not invited\nX-Rooms-Room: 001234567890123456",
 "X-Rooms-Role: Presenter\n!X-Rooms-Deny"]



=== TEST 43: the refusal of a room id with a leading zero is logged with the id as sent
--- log_level: info
--- config
--- init
main::seed();
--- request
GET /media?room=01234567890123456
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code: 403
--- error_log eval
qr/rooms admission: room "01234567890123456" user "" refused: not invited/



=== TEST 44: a refused room id is logged escaped and cut at 64 bytes
--- log_level: info
--- config
    location ~ ^/raw/(?<rid>(?s).*)$ {
        rooms_admission $rid;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
"GET /raw/" . ('9' x 70) . "%0a%22x%20y"
--- error_code: 403
--- error_log eval
qr/rooms admission: room "9{64}\.\.\." user "" refused: not invited/



=== TEST 45: a refused room id is logged escaped: no line breaks or quotes from the client in the log
--- log_level: info
--- config
    location ~ ^/raw/(?<rid>(?s).*)$ {
        rooms_admission $rid;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request
GET /raw/12%0a%22x%20y
--- error_code: 403
--- error_log eval
qr/rooms admission: room "12%0A%22x%20y" user "" refused: not invited/
