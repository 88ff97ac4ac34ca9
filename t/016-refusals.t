# Refusals are handed back to nginx as auth_request's are: nginx finalizes
# them, so error_page (a page, a named location, a redirect), auth_delay
# and satisfy any apply; with no error_page for the status the body is
# admission's own JSON, exactly as before.  The decision stays readable in
# the location error_page redirects to.
#
# Redis db 12, written directly.  Needs TEST_NGINX_REDIS_PORT and
# TEST_NGINX_LOAD_MODULES; see scripts/test.
#
#   scripts/prove-t t/016-refusals.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 12;

our $ROOM    = '1234567890123459';
our $ALICE   = '8:acs:rooms-test_alice';
our $MALLORY = '8:acs:rooms-test_mallory';

our $BODY_401 = '{"error":{"code":"Unauthorized","message":"A valid room token is required."}}';
our $BODY_403 = '{"error":{"code":"Forbidden","message":"Not admitted to this room."}}';
our $BODY_503 = '{"error":{"code":"ServiceUnavailable","message":"Admission cannot be decided now, retry later."}}';

sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter' });
}

sub bearer { "Authorization: Bearer " . RoomsTest::token(sub => $_[0]) . "\n" }

no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_') unless defined $block->http_config;
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=12 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
_EOC_

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS"
                      . ">>> ok.txt\nadmitted\n"
                      . ">>> denied.html\n<p>You are not in this room.</p>\n");
});

run_tests();

__DATA__

=== TEST 1: no error_page: the JSON bodies and headers of 401, 403 and 503, as always
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=12 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    upstream nowhere { server 127.0.0.1:1; }
--- config
    location = /media {
        rooms_admission $arg_room;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM", "HEAD /media?room=$::ROOM"]
--- more_headers eval
["", main::bearer($::MALLORY), ""]
--- error_code eval
[401, 403, 401]
--- response_headers eval
["WWW-Authenticate: Bearer error=\"invalid_token\"\nContent-Type: application/json; charset=utf-8\nx-ms-error-code: Unauthorized\nContent-Length: " . length($::BODY_401),
 "Content-Type: application/json; charset=utf-8\nx-ms-error-code: Forbidden\n!WWW-Authenticate\nContent-Length: " . length($::BODY_403),
 "Content-Type: application/json; charset=utf-8\nContent-Length: " . length($::BODY_401)]
--- response_body eval
[$::BODY_401, $::BODY_403, ""]
--- no_error_log
[error]



=== TEST 2: no error_page, Redis unreachable: 503 with Retry-After and the JSON body
--- http_config
    rooms_redis 127.0.0.1:1 db=12 timeout=300ms;
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
--- config
    location = /media {
        rooms_admission $arg_room;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- request eval
"GET /media?room=$::ROOM"
--- more_headers eval
main::bearer($::ALICE)
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json; charset=utf-8
x-ms-error-code: ServiceUnavailable
--- response_body eval
$::BODY_503



=== TEST 3: error_page 403 /denied.html: the page, with status 403, and the reason readable where it is served
--- config
    location = /media {
        rooms_admission $arg_room;
        error_page 403 /denied.html;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location = /denied.html {
        root $TEST_NGINX_HTML_DIR;
        add_header X-Why $rooms_deny_reason always;
        add_header X-Who $rooms_user_id always;
    }
--- init
main::seed();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM", "GET /media?room=$::ROOM"]
--- more_headers eval
[main::bearer($::MALLORY), "", main::bearer($::ALICE)]
--- error_code eval
[403, 401, 200]
--- response_headers eval
["Content-Type: text/html\nX-Why: not invited\nX-Who: 8:acs:rooms-test_mallory\n!x-ms-error-code",
 "Content-Type: application/json; charset=utf-8", ""]
--- response_body eval
["<p>You are not in this room.</p>\n", $::BODY_401, "admitted\n"]
--- no_error_log
[error]



=== TEST 4: error_page 401 = @login: a named location sends the refused user to the login page, with where to come back to
--- config
    location = /media {
        rooms_admission $arg_room;
        error_page 401 = @login;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
    location @login {
        return 302 /login?from=$uri&why=$rooms_deny_reason;
    }
--- init
main::seed();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM"]
--- more_headers eval
["", "Authorization: Bearer not-a-jwt\n"]
--- error_code eval
[302, 302]
--- response_headers eval
["Location: http://localhost:$ENV{TEST_NGINX_SERVER_PORT}/login?from=/media&why=missing token",
 "Location: http://localhost:$ENV{TEST_NGINX_SERVER_PORT}/login?from=/media&why=malformed token"]
--- no_error_log
[error]



=== TEST 5: error_page 403 with a URL: the client is redirected, nginx's own way
--- config
    location = /media {
        rooms_admission $arg_room;
        error_page 403 https://example.com/sorry;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
"GET /media?room=$::ROOM"
--- more_headers eval
main::bearer($::MALLORY)
--- error_code: 302
--- response_headers
Location: https://example.com/sorry
--- no_error_log
[error]



=== TEST 6: auth_delay applies to a 401 of admission, which keeps its JSON body
--- config
    location = /media {
        rooms_admission $arg_room;
        auth_delay 400ms;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- log_level: info
--- init
main::seed();
--- request eval
"GET /media?room=$::ROOM"
--- error_code: 401
--- response_body eval
$::BODY_401
--- error_log
delaying unauthorized request
--- no_error_log
[error]



=== TEST 7: satisfy any: allow admits a stranger, and a 403 of nginx's own after that (a directory index refused) keeps nginx's page
--- config
    location /static/ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        rooms_admission $arg_room;
        alias $TEST_NGINX_HTML_DIR/;
    }
    location /dir/ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        rooms_admission $arg_room;
        alias /usr/share/doc/;
    }
--- init
main::seed();
--- request eval
["GET /static/ok.txt?room=$::ROOM", "GET /dir/?room=$::ROOM"]
--- more_headers eval
[main::bearer($::MALLORY), main::bearer($::MALLORY)]
--- error_code eval
[200, 403]
--- response_headers eval
["!WWW-Authenticate", "!x-ms-error-code\nContent-Type: text/html"]
--- response_body_like eval
['^admitted$', '403 Forbidden']



=== TEST 8: satisfy any with no other module to admit: admission's refusal and its JSON
--- config
    location = /media {
        satisfy any;
        deny all;
        rooms_admission $arg_room;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- init
main::seed();
--- request eval
["GET /media?room=$::ROOM", "GET /media?room=$::ROOM", "GET /media?room=$::ROOM"]
--- more_headers eval
["", main::bearer($::MALLORY), main::bearer($::ALICE)]
--- error_code eval
[401, 403, 200]
--- response_body eval
[$::BODY_401, $::BODY_403, "admitted\n"]
