# rooms_admission behind auth_request: nginx runs no access phase for
# subrequests, so a location with rooms_admission answers auth_request's
# subrequest itself (204 admitted, 401 with WWW-Authenticate, 403), with
# $rooms_* set for auth_request_set.  The two ways operators write it: an
# internal check location asked by auth_request, the room taken from the
# main request (a variable it set from its arguments, or a capture of its
# URI: a subrequest shares its main request's variables, not its arguments;
# the default token sources are the main request's Authorization header and
# access_token argument); and auth_request next to rooms_admission in one
# location, both required.
#
# Redis db 11, written directly.  Needs TEST_NGINX_REDIS_PORT and
# TEST_NGINX_LOAD_MODULES; see scripts/test.
#
#   scripts/prove-t t/015-auth-request.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 11;

our $ROOM    = '1234567890123457';
our $ALICE   = '8:acs:rooms-test_alice';
our $BOB     = '8:acs:rooms-test_bob';
our $MALLORY = '8:acs:rooms-test_mallory';

sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter', $BOB => 'Consumer' });
}

no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_') unless defined $block->http_config;
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=11 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
_EOC_

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /auth {
        internal;
        rooms_admission $room;
    }

    location = /media {
        set $room $arg_room;
        auth_request /auth;
        auth_request_set $user $rooms_user_id;
        auth_request_set $role $rooms_role;
        auth_request_set $deny $rooms_deny_reason;
        add_header X-User $user always;
        add_header X-Role $role always;
        add_header X-Deny $deny always;
        add_header X-Request $request always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }

    location = /both {
        auth_request /gate;
        rooms_admission $arg_room;
        add_header X-User $rooms_user_id always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }

    location = /gate {
        internal;
        if ($http_x_gate != "open") {
            return 403;
        }
        return 204;
    }
_EOC_

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS"
                      . ">>> ok.txt\nadmitted\n");
});

run_tests();

__DATA__

=== TEST 1: auth_request to a rooms_admission location: an invitee is admitted, and auth_request_set reads who
--- init
main::seed();
--- request eval
"GET /media?room=$::ROOM"
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code: 200
--- response_headers
X-User: 8:acs:rooms-test_alice
X-Role: Presenter
X-Deny:
--- response_body
admitted
--- no_error_log
[error]



=== TEST 2: auth_request: no token is a 401 with WWW-Authenticate; a stranger is a 403; the reason reaches auth_request_set
--- init
main::seed();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM"]
--- more_headers eval
["", "Authorization: Bearer " . RoomsTest::token(sub => $::MALLORY) . "\n"]
--- error_code eval
[401, 403]
--- response_headers eval
["WWW-Authenticate: Bearer error=\"invalid_token\"\nX-Deny: missing token\nX-User:",
 "X-Deny: not invited\nX-User: 8:acs:rooms-test_mallory\n!WWW-Authenticate"]
--- no_error_log
[error]



=== TEST 3: auth_request: a query token is masked in the main request's line, the one nginx logs
--- log_level: info
--- init
main::seed();
--- request eval
"GET /media?room=$::ROOM&access_token=" . RoomsTest::token(sub => $::MALLORY)
--- error_code: 403
--- response_headers eval
"X-Request: GET /media?room=$::ROOM&access_token=*** HTTP/1.1"
--- error_log eval
qr/refused: not invited, client: .*request: "GET \/media\?room=\d+&access_token=\*\*\* HTTP\/1\.1"/
--- no_error_log eval
[qr/access_token=eyJ/]
--- no_access_log eval
[qr/access_token=eyJ/]



=== TEST 4: auth_request: the room from the main request's URI, through a header of the subrequest; another room is refused
--- init
main::seed();
--- config
    location ~ ^/call/(?<room>[0-9]+)$ {
        auth_request /auth-path;
        auth_request_set $user $rooms_user_id;
        auth_request_set $deny $rooms_deny_reason;
        add_header X-User $user always;
        add_header X-Deny $deny always;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }

    location = /auth-path {
        internal;
        rooms_admission $room;
    }
--- request eval
["GET /call/$::ROOM", "GET /call/987654321098765432"]
--- more_headers eval
[("Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n") x 2]
--- error_code eval
[200, 403]
--- response_headers eval
["X-User: 8:acs:rooms-test_bob\nX-Deny:", "X-Deny: not invited"]
--- no_error_log
[error]



=== TEST 5: auth_request and rooms_admission in one location: both must admit
--- init
main::seed();
--- request eval
["GET /both?room=$::ROOM", "GET /both?room=$::ROOM", "GET /both?room=$::ROOM"]
--- more_headers eval
["X-Gate: open\nAuthorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n",
 "X-Gate: shut\nAuthorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n",
 "X-Gate: open\nAuthorization: Bearer " . RoomsTest::token(sub => $::MALLORY) . "\n"]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["X-User: 8:acs:rooms-test_alice", "", ""]
--- no_error_log
[error]



=== TEST 6: auth_request while Redis cannot answer: the subrequest's 503 becomes nginx's 500 (auth_request passes on 2xx, 401 and 403 only), never an admission
--- http_config
    rooms_redis 127.0.0.1:1 db=11 timeout=300ms;
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
--- init
main::seed();
--- request eval
"GET /media?room=$::ROOM"
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::ALICE) . "\n"
--- error_code: 500
--- error_log
auth request unexpected status: 503
