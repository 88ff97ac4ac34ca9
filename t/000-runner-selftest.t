# Self-test of the Test::Nginx::Socket runner in use -- the CPAN one or our
# fallback in t/lib -- against stock nginx features only (no module of ours).
# A runner that parses blocks wrongly, builds bad requests or nginx.conf
# files, skips checks, or miscounts subtests makes this file fail (the plan
# below is exact).
#
#   scripts/prove-t t/000-runner-selftest.t
#   TEST_NGINX_RANDOMIZE=1 prove -I t/lib t/000-runner-selftest.t

use Test::Nginx::Socket;

repeat_each(2);

# 2 subtests (status code + body) per block, plus the blocks that check more
# or less (see each block), plus the one --- shutdown_error_log check.
plan tests => repeat_each() * (2 * blocks() + 23) + 1;

$ENV{TEST_NGINX_HTML_DIR} = html_dir();    # Test::Nginx does not set it
$ENV{TEST_NGINX_SELFTEST_WORD} = 'expanded';

env_to_nginx('TEST_NGINX_SELFTEST_WORD');
worker_connections(128);
config_preamble('set $preamble_var "from-preamble";');
no_long_string();
no_shuffle();

# Blocks without a --- request get "GET /t".
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request) {
        $block->set_value("request", "GET /t");
    }
});

run_tests();

__DATA__

=== TEST 1: sanity: return with a body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- response_body
hello



=== TEST 2: one-line error_code and the chomp filter
--- config
    location = /t {
        return 404 "not here";
    }
--- error_code: 404
--- response_body chomp
not here



=== TEST 3: error_code on its own line (needs chomp, as with Test::Base)
--- config
    location = /t {
        return 201 "created 42\n";
    }
--- error_code chomp
201
--- response_body_like: ^created \d+$



=== TEST 4: response_headers, present and absent (+3)
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "ok\n";
    }
--- response_headers
X-Foo: bar
!X-Absent
Content-Type: text/plain
--- response_body
ok



=== TEST 5: response_headers_like (+2)
--- config
    location = /t {
        add_header X-Foo baz;
        return 200 "ok\n";
    }
--- response_headers_like
X-Foo: ba[rz]
Server: nginx(/[\d.]+)?
--- response_body
ok



=== TEST 6: more_headers, default Host/Connection headers, config_preamble
--- config
    location = /t {
        return 200 "foo=$http_x_foo bar=$http_x_bar host=$host conn=$http_connection pre=$preamble_var\n";
    }
--- more_headers
# comment lines are ignored
X-Foo: hello world
X-Bar: 42
--- response_body
foo=hello world bar=42 host=localhost conn=close pre=from-preamble



=== TEST 7: request body with computed Content-Length, via $request_body
--- config
    location = /t {
        client_body_in_single_buffer on;
        client_body_buffer_size 16k;
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }
    location = /sink {
        return 200 "len=$http_content_length body=[$http_x_body]\n";
    }
--- request
POST /t
hello world
--- response_body
len=11 body=[hello world]



=== TEST 8: no --- config reuses the running nginx; eval filters
(nginx is stopped after each block under valgrind, hence the skip_eval)
--- skip_eval: 2: $ENV{TEST_NGINX_USE_VALGRIND}
--- request eval
"POST /t\n\x41\x42C"
--- response_body eval
"len=3 body=[ABC]\n"



=== TEST 9: error_log and no_error_log (+3)
--- config
    location = /t {
        return 200;
    }
--- request
GET /nope.html
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
No such file or directory
--- no_error_log
[alert]
[crit]



=== TEST 10: error_log eval with a regex, grep_error_log (+3)
--- config
--- request
GET /nope.html
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log eval
[qr/\[error\] \d+#\d+: \*\d+ open\(\) "[^"]+nope\.html" failed/, "nope.html"]
--- grep_error_log chop
No such file or directory
--- grep_error_log_out
No such file or directory



=== TEST 11: per-block log_level (+2)
--- log_level: warn
--- config
    location = /t {
        return 200 "quiet\n";
    }
--- response_body
quiet
--- no_error_log
[debug]
[info]



=== TEST 12: default log level is debug (+1)
--- config
    location = /t {
        return 200 "chatty\n";
    }
--- response_body
chatty
--- error_log
[debug]



=== TEST 13: user_files, two requests, arrays of expectations (+2)
--- config
--- user_files
>>> foo.txt
hello from a user file
>>> sub/bar.txt
bar
--- request eval
["GET /foo.txt", "GET /sub/bar.txt"]
--- response_body eval
["hello from a user file\n", "bar\n"]



=== TEST 14: init runs Perl code before the requests
--- config
--- init
open my $out, '>', Test::Nginx::Socket::html_dir() . '/init.txt' or die $!;
print $out "written by init\n";
close $out;
--- request
GET /init.txt
--- response_body
written by init



=== TEST 15: http_config, main_config, $TEST_NGINX_* expansion
--- main_config
worker_rlimit_nofile 1024;
--- http_config
    map $arg_k $mapped {
        default "none";
        x       "$TEST_NGINX_SELFTEST_WORD";
    }
--- config
    location = /t {
        return 200 "mapped=$mapped\n";
    }
--- request
GET /t?k=x
--- response_body
mapped=expanded



=== TEST 16: $ServerPort in expected headers and bodies (+1)
--- config
    location = /t {
        add_header X-Port $server_port;
        return 200 "port=$server_port\n";
    }
--- response_headers
X-Port: $ServerPort
--- response_body
port=$ServerPort



=== TEST 17: chunked response (sub_filter drops Content-Length) (+1)
--- config
    location = /t {
        sub_filter 'a' 'b';
        sub_filter_once off;
        sub_filter_types text/plain;
        return 200 "aaa\n";
    }
--- response_headers
Transfer-Encoding: chunked
--- response_body
bbb



=== TEST 18: HEAD request: headers only (+1)
--- config
    location = /t {
        return 200 "abc";
    }
--- request
HEAD /t
--- response_headers
Content-Length: 3
--- response_body



=== TEST 19: pipelined requests on one connection (+2)
--- config
    location = /a {
        return 200 "a\n";
    }
    location = /b {
        return 200 "b\n";
    }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["a\n", "b\n"]



=== TEST 20: raw_request, HTTP/1.0 (+1)
--- config
    location = /t {
        return 200 "host=$host proto=$server_protocol\n";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: raw\r\n\r\n"
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n
--- response_body
host=raw proto=HTTP/1.0



=== TEST 21: response_body_filters
--- config
    location = /t {
        return 200 "hello\n";
    }
--- response_body_filters
uc
--- response_body
HELLO



=== TEST 22: timeout in ms with abort: no failure, response ignored (-1)
--- config
    location = /t {
        limit_rate 1;
        return 200 "a slow body\n";
    }
--- timeout: 300ms
--- abort
--- ignore_response
--- wait: 0.1
--- no_error_log
[alert]



=== TEST 23: shutdown_error_log, checked when the next block restarts nginx (+1 once)
--- config
    location = /t {
        return 200 "bye\n";
    }
--- response_body
bye
--- shutdown_error_log
shutting down



=== TEST 24: html_dir(), the default index.html and location / (+2)
--- config
    location = /t {
        default_type text/html;
        alias $TEST_NGINX_HTML_DIR/index.html;
    }
--- request eval
["GET /", "GET /t"]
--- response_body_like eval
["<title>It works!</title>", "^<html>.*It works!</body></html>\$"]



=== TEST 25: skip_eval skips the given number of subtests
--- skip_eval: 2: 1
--- config
    location = /t {
        return 500 "never checked\n";
    }
--- response_body
this would fail



=== TEST 26: SKIP blocks are not run (nor counted by blocks())
--- SKIP
--- config
    location = /t {
        return 500;
    }
--- response_body
this would fail



=== TEST 27: error_code_like, empty body; LAST ends the spec
--- config
    location = /t {
        return 204;
    }
--- error_code_like: ^2\d\d$
--- response_body_like: ^$
--- LAST



=== TEST 28: never reached (after LAST)
--- config
    location = /t {
        return 500;
    }
--- response_body
this would fail
