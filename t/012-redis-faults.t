# Redis faults: admission and the API fail closed with 503 + Retry-After
# and a JSON body when Redis cannot answer, never block the worker while
# Redis stalls, and recover on their own (no reload) when Redis is back.
#
# (a) rooms_redis at a port where nothing listens;
# (b) a Redis paused with CLIENT PAUSE while one request waits on it: a
#     request that needs no Redis is still answered at once (one worker),
#     and a request that needs Redis gets its 503 at timeout=300ms;
# (c) recovery after the pause, and after a real outage (Redis shut down,
#     then started again) of the same nginx process.
#
# The stalls and the outage are done to a private redis-server that this
# file starts on a free port (and stops at exit), so that they never touch
# the shared TEST_NGINX_REDIS_PORT one; its database 8 holds the state.
# The blocks run in order (no_shuffle): later blocks without --- config
# keep the nginx of the block before them.
#
#   scripts/prove-t t/012-redis-faults.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();

$ENV{TEST_NGINX_HTML_DIR} = html_dir();

our $ROOM  = '777777777777777777';
our $ALICE = '8:acs:rooms-test_alice';
our @BG;                                  # background clients to reap

# a port where nothing listens: bound, never listening (connect: refused)
our $CLOSED = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Proto => 'tcp')
    or die "cannot bind: $!";
$ENV{TEST_NGINX_CLOSED_PORT} = $CLOSED->sockport;

# the private Redis
our $R2_DIR = File::Temp::tempdir('rooms-faults-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
our $R2_PORT = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "cannot listen: $!";
    $s->sockport;
};
$ENV{TEST_NGINX_R2_PORT} = $R2_PORT;
our $R2_PARENT = $$;

sub r2 {
    local $RoomsTest::REDIS_PORT = $R2_PORT;
    local $RoomsTest::REDIS_DB = 8;
    return RoomsTest::redis(@_);
}

sub r2_up { my $up = eval { r2('PING') }; return defined $up && $up eq 'PONG' }

sub r2_start {
    system('redis-server', '--port', $R2_PORT, '--bind', '127.0.0.1',
           '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
           '--dir', $R2_DIR, '--pidfile', "$R2_DIR/redis.pid",
           '--logfile', "$R2_DIR/redis.log") == 0
        or die "cannot start redis-server\n";
    for (1 .. 100) {
        return if r2_up();
        Time::HiRes::sleep(0.05);
    }
    die "redis-server on port $R2_PORT did not start\n";
}

sub r2_stop {
    eval { r2('SHUTDOWN', 'NOSAVE') };
    for (1 .. 100) {
        return if !r2_up();
        Time::HiRes::sleep(0.05);
    }
    die "redis-server on port $R2_PORT did not stop\n";
}

sub seed {
    r2('FLUSHDB');
    local $RoomsTest::REDIS_PORT = $R2_PORT;
    local $RoomsTest::REDIS_DB = 8;
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter' });
}

sub reap { @BG = grep { waitpid($_, POSIX::WNOHANG()) == 0 } @BG }

# sends a request from a child process and returns at once; the child
# reads the whole response and leaves
sub bg_request {
    my $req = shift;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                    PeerPort => $Test::Nginx::Util::ServerPortForClient,
                    Timeout => 10);
        if ($s) {
            syswrite $s, $req;
            1 while sysread $s, my $buf, 4096;
        }
        POSIX::_exit(0);
    }
    push @BG, $pid;
}

sub bearer { "Authorization: Bearer " . RoomsTest::token(sub => $ALICE, room => $ROOM) }

r2_start();

END {
    if ($$ == $R2_PARENT) {
        waitpid $_, 0 for @BG;
        r2_stop() if r2_up();
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    # blocks without a config reuse the running nginx, keep them so
    return if !defined $block->config;

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS"
                      . ">>> ok.txt\nok\n");

    # the store: the block's rooms_redis, by default the private Redis
    # with a 300 ms timeout
    my $http = $block->http_config
               // "    rooms_redis 127.0.0.1:\$TEST_NGINX_R2_PORT db=8 timeout=300ms;\n";

    $block->set_value('http_config', $http . <<'_EOC_');
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    log_format timing '$request_method $uri $status $request_time';
_EOC_

    $block->set_value('config', $block->config . <<'_EOC_');
    access_log logs/access.log timing;

    location = /media {
        rooms_admission $arg_room;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }

    location = /static {
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }

    location /rooms {
        rooms_api;
    }
_EOC_
});

no_shuffle();
no_long_string();

run_tests();

__DATA__

=== TEST 1: (a) Redis unreachable: admission answers 503, Retry-After, JSON
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT db=8 timeout=300ms;
--- config
--- request
GET /media?room=777777777777777777
--- more_headers eval
main::bearer() . "\n"
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json; charset=utf-8
!WWW-Authenticate
--- response_body_like: ^\{"error":\{"code":"ServiceUnavailable","message":"[^"]+"\}\}$
--- error_log eval
[qr/\[error\] .*rooms redis: connect to "127\.0\.0\.1:\d+" failed/,
 qr/\[error\] .*rooms admission: room "777777777777777777" user "8:acs:rooms-test_alice" refused: store unavailable/]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: (a) Redis unreachable: the API answers 503, Retry-After, JSON
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT db=8 timeout=300ms;
--- config
--- request
GET /rooms/777777777777777777?api-version=2024-04-15
--- more_headers eval
RoomsTest::acs_headers('GET', '/rooms/777777777777777777?api-version=2024-04-15', '')
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json; charset=utf-8
--- response_body_like: ^\{"error":\{"code":"ServiceUnavailable","message":"[^"]+"\}\}$
--- error_log eval
qr/\[error\] .*rooms redis: no connection to "127\.0\.0\.1:\d+"/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 3: (a) Redis unreachable: request after request the worker stays up, and what needs no Redis is served
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT db=8 timeout=300ms;
--- config
--- request eval
["GET /media?room=777777777777777777", "GET /rooms/777777777777777777?api-version=2024-04-15",
 "GET /media?room=777777777777777777", "GET /rooms/777777777777777777?api-version=2024-04-15",
 "GET /static"]
--- more_headers eval
[main::bearer() . "\n",
 RoomsTest::acs_headers('GET', '/rooms/777777777777777777?api-version=2024-04-15', ''),
 main::bearer() . "\n",
 RoomsTest::acs_headers('GET', '/rooms/777777777777777777?api-version=2024-04-15', ''),
 ""]
--- error_code eval
[503, 503, 503, 503, 200]
--- response_body_like eval
[qr/ServiceUnavailable/, qr/ServiceUnavailable/, qr/ServiceUnavailable/,
 qr/ServiceUnavailable/, qr/^ok\n$/]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: (b) non-blocking: while a request waits on a stalled Redis, one that needs no Redis is answered at once
The private Redis is paused for 2 s (timeout=5s, so nothing gives up);
an admission request sent from a child process waits on it meanwhile.
/static must answer within the 0.5 s client timeout, and the access log
shows the admission completing after the pause, around 2 s.
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_R2_PORT db=8 timeout=5s;
--- config
--- init
main::reap();
main::seed();
main::r2('CLIENT', 'PAUSE', 2000);
main::bg_request("GET /media?room=777777777777777777 HTTP/1.1\r\nHost: localhost\r\n"
                 . main::bearer() . "\r\nConnection: close\r\n\r\n");
Time::HiRes::sleep(0.3);
--- request
GET /static
--- timeout: 0.5
--- response_body
ok
--- wait: 2.5
--- access_log eval
[qr{^GET /static 200 0\.[0-2]\d\d$}, qr{^GET /media 200 (?:1\.[5-9]|[2-4]\.)\d+$}]
--- no_error_log
[error]
[alert]



=== TEST 5: (b) the API gets its 503 at timeout=300ms while Redis is stalled
--- config
--- init
main::reap();
main::seed();
main::r2('CLIENT', 'PAUSE', 1500);
$::PAUSE_END = Time::HiRes::time() + 1.5;
--- request
GET /rooms/777777777777777777?api-version=2024-04-15
--- more_headers eval
RoomsTest::acs_headers('GET', '/rooms/777777777777777777?api-version=2024-04-15', '')
--- timeout: 1
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json; charset=utf-8
--- response_body_like: ^\{"error":\{"code":"ServiceUnavailable",
--- access_log eval
qr{^GET /rooms/777777777777777777 503 0\.(?:29\d|[3-7]\d\d)$}
--- error_log eval
qr/\[error\] .*rooms redis: "127\.0\.0\.1:\d+" did not answer in 300 ms, dropping the connection/
--- no_error_log
[alert]
[crit]



=== TEST 6: (b) admission gets its 503 at timeout=300ms while Redis is stalled
--- config
--- init
main::seed();    # waits for the pause of TEST 5 to end
main::r2('CLIENT', 'PAUSE', 1000);
$::PAUSE_END = Time::HiRes::time() + 1;
--- request
GET /media?room=777777777777777777
--- more_headers eval
main::bearer() . "\n"
--- timeout: 1
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like: ^\{"error":\{"code":"ServiceUnavailable",
--- access_log eval
qr{^GET /media 503 0\.(?:29\d|[3-7]\d\d)$}
--- error_log eval
[qr/did not answer in 300 ms, dropping the connection/,
 qr/refused: store unavailable/]
--- no_error_log
[alert]
[crit]



=== TEST 7: (c) 1 s after the stall ends the same nginx admits again, request after request
--- init
Time::HiRes::sleep($::PAUSE_END - Time::HiRes::time() + 1);
--- request eval
["GET /media?room=777777777777777777", "GET /media?room=777777777777777777",
 "GET /rooms/777777777777777777?api-version=2024-04-15",
 "GET /media?room=777777777777777777"]
--- more_headers eval
[main::bearer() . "\n", main::bearer() . "\n",
 RoomsTest::acs_headers('GET', '/rooms/777777777777777777?api-version=2024-04-15', ''),
 main::bearer() . "\n"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["^ok\n\$", "^ok\n\$", '"id":"777777777777777777"', "^ok\n\$"]
--- no_error_log
[alert]
[crit]



=== TEST 8: (c) outage: Redis shut down under a running nginx, admission answers 503
--- config
--- init
main::seed();
main::r2_stop();
Time::HiRes::sleep(0.2);
--- request
GET /media?room=777777777777777777
--- more_headers eval
main::bearer() . "\n"
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like: ^\{"error":\{"code":"ServiceUnavailable",
--- error_log eval
qr/rooms admission: room "777777777777777777" user "8:acs:rooms-test_alice" refused: store unavailable/
--- no_error_log
[alert]
[crit]



=== TEST 9: (c) Redis back: 1 s later the same nginx process has reconnected and admits
The error log is that of the nginx of TEST 8 (no restart in between): it
holds the lost connection, the failed reconnects, and the reconnection.
--- init
main::r2_start();
main::seed();
Time::HiRes::sleep(1);
--- request
GET /media?room=777777777777777777
--- more_headers eval
main::bearer() . "\n"
--- response_body
ok
--- error_log eval
[qr/rooms redis: connection to "127\.0\.0\.1:\d+" lost/,
 qr/rooms redis: connect to "127\.0\.0\.1:\d+" failed/,
 qr/\[notice\] .*rooms redis: connected to "127\.0\.0\.1:\d+"/]
--- no_error_log
[alert]
[crit]



=== TEST 10: (c) and keeps admitting, request after request, with the API working too
--- request eval
["GET /media?room=777777777777777777", "GET /rooms/777777777777777777?api-version=2024-04-15",
 "GET /media?room=777777777777777777", "GET /media?room=777777777777777777"]
--- more_headers eval
[main::bearer() . "\n",
 RoomsTest::acs_headers('GET', '/rooms/777777777777777777?api-version=2024-04-15', ''),
 main::bearer() . "\n", main::bearer() . "\n"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["^ok\n\$", '"id":"777777777777777777"', "^ok\n\$", "^ok\n\$"]
--- no_error_log
[alert]
[crit]
