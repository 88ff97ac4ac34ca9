# The live session directives as nginx reads them: bad values stop nginx;
# a configuration with every one of them starts and admits a session.
# (Debian's nginx writes configuration errors to stderr, not to the error
# log a block can check: lua-free-tests/config checks each message and its
# line with nginx -t.)
#
#   scripts/prove-t t/018-session-directives.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 14;

no_shuffle();
no_root_location();

our $HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=14;
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(user_files => ">>> jwks.json\n$RoomsTest::TEST_JWKS")
        unless defined $block->user_files;
    $block->set_value(config => "    location = /t { return 204; }\n")
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: rooms_max_participants 0: nginx does not start
--- http_config eval
$main::HTTP_CONFIG . "    rooms_max_participants 0;\n"
--- must_die



=== TEST 2: rooms_duplicate_session with an unknown mode
--- http_config eval
$main::HTTP_CONFIG . "    rooms_duplicate_session kick;\n"
--- must_die



=== TEST 3: rooms_session_lease under a second
--- http_config eval
$main::HTTP_CONFIG . "    rooms_session_lease 500ms;\n"
--- must_die



=== TEST 4: rooms_gateway_name with a "/"
--- http_config eval
$main::HTTP_CONFIG . "    rooms_gateway_name a/b;\n"
--- must_die



=== TEST 5: every session directive: nginx starts, a session is admitted
--- init
RoomsTest::redis('FLUSHDB');
RoomsTest::seed_room('77777777777777777', { '8:acs:rooms-test_alice' => 'Attendee' });
--- http_config eval
$main::HTTP_CONFIG . <<'_EOC_';
    rooms_max_participants 2;
    rooms_session_lease 10s;
    rooms_gateway_name gw-t18;
    rooms_session_expire off;

    server {
        listen unix:$TEST_NGINX_HTML_DIR/backend.sock;
        location / { return 200 "in\n"; }
    }
_EOC_
--- config
    location ~ ^/media/(?<room>[0-9]+)$ {
        rooms_admission $room;
        rooms_session on;
        rooms_duplicate_session allow;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/backend.sock;
    }
--- request eval
"GET /media/77777777777777777?access_token="
    . RoomsTest::token(sub => '8:acs:rooms-test_alice')
--- error_code: 200
--- response_body
in
--- no_error_log
[error]
