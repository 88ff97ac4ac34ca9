# The per-worker cache of verified tokens: a token verified by one
# server's keys is not taken as verified by a server with other keys under
# the same kid; the table holds exactly rooms_token_cache tokens and lets
# the least recently used one go (counted by $rooms_cache_stats).  (That
# a cached token still loses its invitation and gets revoked at once is
# shown by lua-free-tests/sdk/admission-e2e.mjs.)
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

# four other tokens of the same user (A..D), each verified on its own
our @T = map { RoomsTest::token(sub => $ALICE, iat => time - 20 - $_) } 1 .. 4;

sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter' });
}

no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_');
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=9 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    rooms_token_cache 3;
    rooms_cache zone=tokens:1m;

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

    location = /stats {
        return 200 "$rooms_cache_stats\n";
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




=== TEST 2: three tokens held, the least recently used one goes: A B C A D(-B) A C D B(-A) make 5 verifications
--- init
main::seed();
--- request eval
[(map { "GET /media?room=1234567890123457" } 1 .. 9), "GET /stats"]
--- more_headers eval
[map { "Authorization: Bearer $::T[$_]\n" } 0, 1, 2, 0, 3, 0, 2, 3, 1, 0]
--- error_code eval
[(200) x 10]
--- response_body_like eval
[(qr/^GIF/) x 9, qr/ tokens=3 verifications=5$/]
--- no_error_log
[error]
