# The per-worker cache of verified tokens: a token verified by one
# server's keys is not taken as verified by a server with other keys under
# the same kid.  (That a cached token still loses its invitation and gets
# revoked at once is shown by lua-free-tests/sdk/admission-e2e.mjs.)
#
# Redis db 9, written directly.  Needs TEST_NGINX_REDIS_PORT and
# TEST_NGINX_LOAD_MODULES; see scripts/test.
#
#   scripts/prove-t t/013-token-cache.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 9;

our $ROOM  = '1234567890123457';
our $ALICE = '8:acs:rooms-test_alice';

# server "b" publishes another secret under the same kid "k1"
our $OTHER_KEY = 'another-secret-for-kid-k1-0123456789ABCD';
our $OTHER_JWKS = JSON::PP->new->canonical->encode({ keys => [
    { kty => 'oct', kid => 'k1', alg => 'HS256',
      k => RoomsTest::b64url($OTHER_KEY) } ] });

our $TOKEN = RoomsTest::token(sub => $ALICE);

sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter' });
}

no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_');
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=9 timeout=2s;
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;

    server {
        listen $TEST_NGINX_SERVER_PORT;
        server_name b.test;
        rooms_token_keys $TEST_NGINX_HTML_DIR/other.json;

        location /media {
            rooms_admission $arg_room;
            add_header X-Rooms-Deny $rooms_deny_reason always;
            empty_gif;
        }
    }
_EOC_

    $block->set_value('config', <<'_EOC_');
    location /media {
        rooms_admission $arg_room;
        add_header X-Rooms-Deny $rooms_deny_reason always;
        empty_gif;
    }
_EOC_

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS"
                      . ">>> other.json\n$::OTHER_JWKS\n");
});

run_tests();

__DATA__

=== TEST 1: verified (and cached) by the default server's keys, refused by the server whose k1 is another secret
--- init
main::seed();
--- request eval
["GET /media?room=1234567890123457", "GET /media?room=1234567890123457",
 "GET /media?room=1234567890123457", "GET /media?room=1234567890123457"]
--- more_headers eval
["Authorization: Bearer $::TOKEN\n", "Authorization: Bearer $::TOKEN\n",
 "Host: b.test\nAuthorization: Bearer $::TOKEN\n",
 "Authorization: Bearer $::TOKEN\n"]
--- error_code eval
[200, 200, 401, 200]
--- response_headers eval
["!X-Rooms-Deny", "!X-Rooms-Deny", "X-Rooms-Deny: bad signature",
 "!X-Rooms-Deny"]
--- no_error_log
[error]

