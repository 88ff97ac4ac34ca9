# Admission in front of proxy_pass: a WebSocket upgrade to a real
# WebSocket echo server (a small Perl one, forked below) is switched
# (101, the echo comes back) for an invitee and refused (401/403, the
# upstream never sees it) for anyone else; plain HTTP proxying hands
# $rooms_user_id, $rooms_role and $rooms_room_id to the upstream in
# headers that a client cannot forge.
#
# Redis db 7, flushed by each block's init.  Needs TEST_NGINX_REDIS_PORT
# and TEST_NGINX_LOAD_MODULES; see scripts/test.
#
#   scripts/prove-t t/011-admission-proxy.t

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();

$ENV{TEST_NGINX_HTML_DIR} = html_dir();
$RoomsTest::REDIS_DB = 7;

our $ROOM    = '55555555555555555';
our $ALICE   = '8:acs:rooms-test_alice';
our $BOB     = '8:acs:rooms-test_bob';
our $MALLORY = '8:acs:rooms-test_mallory';
our $WS_KEY  = 'dGhlIHNhbXBsZSBub25jZQ==';    # RFC 6455's example
our $WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

sub seed {
    RoomsTest::redis('FLUSHDB');
    RoomsTest::seed_room($ROOM, { $ALICE => 'Presenter', $BOB => 'Attendee' });
}

# a masked client text frame (RFC 6455 5.2), payload < 126 bytes
sub ws_frame {
    my $payload = shift;
    my $mask = "\x11\x22\x33\x44";
    my $masked = $payload ^ substr($mask x (1 + length($payload) / 4), 0,
                                   length $payload);
    return "\x81" . chr(0x80 | length $payload) . $mask . $masked;
}

# the upgrade request of a browser: the token in access_token
sub ws_request {
    my ($query, $frame) = @_;
    return "GET /ws?$query HTTP/1.1\r\n"
         . "Host: localhost\r\n"
         . "Upgrade: websocket\r\n"
         . "Connection: Upgrade\r\n"
         . "Sec-WebSocket-Key: $WS_KEY\r\n"
         . "Sec-WebSocket-Version: 13\r\n"
         . "Origin: http://localhost\r\n\r\n"
         . ($frame // '');
}

# The WebSocket echo server: one connection at a time; answers 101 (with
# what it saw of the X-Rooms-* headers), echoes one text frame unmasked,
# sends a close frame and closes.  A request without Upgrade gets a 200
# saying "not a websocket".  Started once for the file, stopped at exit.
my $ws_listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Listen => 16, ReuseAddr => 1)
    or die "cannot listen: $!";
$ENV{TEST_NGINX_WS_PORT} = $ws_listen->sockport;
our $WS_PID = fork // die "fork: $!";

if ($WS_PID == 0) {
    ws_serve($ws_listen);
    POSIX::_exit(0);
}

close $ws_listen;

END {
    if ($WS_PID) {
        kill 'TERM', $WS_PID;
        waitpid $WS_PID, 0;
    }
}

sub ws_read {
    my ($c, $buf, $want) = @_;
    my $sel = IO::Select->new($c);
    while (!$want->()) {
        $sel->can_read(3) or return 0;
        sysread($c, $$buf, 4096, length $$buf) or return 0;
    }
    return 1;
}

sub ws_serve {
    my $listen = shift;
    $SIG{TERM} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';

    while (1) {
        my $c = $listen->accept or next;
        my $buf = '';
        ws_read($c, \$buf, sub { $buf =~ /\r\n\r\n/ }) or next;
        my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
        my %h;
        for (split /\r\n/, $head) {
            $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
        }

        my $saw = join '', map { "X-Upstream-Saw-$_: " . ($h{"x-rooms-" . lc $_} // '')
                                 . "\r\n" } qw(User Role Room);

        if (lc($h{upgrade} // '') ne 'websocket' || !$h{'sec-websocket-key'}) {
            my $body = "not a websocket\n";
            syswrite $c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                         . "\r\n${saw}Connection: close\r\n\r\n$body";
            close $c;
            next;
        }

        my $accept = Digest::SHA::sha1_base64($h{'sec-websocket-key'}
                         . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11') . '=';
        syswrite $c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept\r\n"
                     . "$saw\r\n";

        $buf = $rest // '';
        if (ws_read($c, \$buf, sub {
                length $buf >= 6 && length $buf >= 6 + (ord(substr $buf, 1, 1) & 0x7f) }))
        {
            my $len = ord(substr $buf, 1, 1) & 0x7f;
            my $mask = substr $buf, 2, 4;
            my $data = substr($buf, 6, $len) ^ substr($mask x (1 + $len / 4), 0, $len);
            syswrite $c, "\x81" . chr($len) . $data . "\x88\x02\x03\xe8";
        }

        close $c;
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=7 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;

    map $http_upgrade $connection_upgrade {
        default  upgrade;
        ''       close;
    }

    # the plain HTTP upstream: says what it was told
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "upstream: user=$http_x_rooms_user role=$http_x_rooms_role room=$http_x_rooms_room\n";
        }
    }
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location = /ws {
        rooms_admission $arg_room;
        proxy_pass http://127.0.0.1:$TEST_NGINX_WS_PORT;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Rooms-User $rooms_user_id;
        proxy_set_header X-Rooms-Role $rooms_role;
        proxy_set_header X-Rooms-Room $rooms_room_id;
        proxy_read_timeout 5s;
    }

    location = /api/state {
        rooms_admission $arg_room;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_set_header X-Rooms-User $rooms_user_id;
        proxy_set_header X-Rooms-Role $rooms_role;
        proxy_set_header X-Rooms-Room $rooms_room_id;
    }

    location = /open {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_set_header X-Rooms-User $rooms_user_id;
    }
_EOC_
    }

    $block->set_value('user_files', ">>> jwks.json\n$RoomsTest::TEST_JWKS");
});

no_long_string();

run_tests();

__DATA__

=== TEST 1: an invitee's WebSocket upgrade is switched and echoes, the upstream sees who
--- init
main::seed();
--- raw_request eval
main::ws_request("room=55555555555555555&access_token="
                 . RoomsTest::token(sub => $::ALICE, room => $::ROOM),
                 main::ws_frame("hello"))
--- error_code: 101
--- raw_response_headers_like eval
qr{^HTTP/1\.1 101 Switching Protocols\r\n.*^Sec-WebSocket-Accept: \Q$::WS_ACCEPT\E\r\n}ms
--- response_headers
Upgrade: websocket
X-Upstream-Saw-User: 8:acs:rooms-test_alice
X-Upstream-Saw-Role: Presenter
X-Upstream-Saw-Room: 55555555555555555
--- response_body eval
"\x81\x05hello\x88\x02\x03\xe8"
--- no_error_log
[error]
refused



=== TEST 2: a user who is not invited gets 403 and never reaches the upstream
--- init
main::seed();
--- raw_request eval
main::ws_request("room=55555555555555555&access_token="
                 . RoomsTest::token(sub => $::MALLORY, room => $::ROOM))
--- timeout: 1
--- abort
--- error_code: 403
--- response_headers
!Upgrade
!X-Upstream-Saw-User
Content-Type: application/json; charset=utf-8
--- response_body_like: ^\{"error":\{"code":"Forbidden",
--- error_log
rooms admission: room "55555555555555555" user "8:acs:rooms-test_mallory" refused: not invited
--- no_error_log
[error]



=== TEST 3: an upgrade without a token gets 401 with WWW-Authenticate
--- init
main::seed();
--- raw_request eval
main::ws_request("room=55555555555555555")
--- timeout: 1
--- abort
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
!Upgrade
!X-Upstream-Saw-User
--- response_body_like: ^\{"error":\{"code":"Unauthorized",
--- error_log
refused: missing token



=== TEST 4: an upgrade with an expired token gets 401
--- init
main::seed();
--- raw_request eval
main::ws_request("room=55555555555555555&access_token="
                 . RoomsTest::token(sub => $::ALICE, iat => time - 900, exp => time - 60))
--- timeout: 1
--- abort
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
!X-Upstream-Saw-User
--- error_log
refused: expired



=== TEST 5: an upgrade with a token revoked since it was issued gets 401
--- init
main::seed();
RoomsTest::redis('HSET', "rooms:user:{$::BOB}", r => time + 1);
--- raw_request eval
main::ws_request("room=55555555555555555&access_token="
                 . RoomsTest::token(sub => $::BOB, room => $::ROOM))
--- timeout: 1
--- abort
--- error_code: 401
--- response_headers
!X-Upstream-Saw-User
--- error_log
refused: token revoked



=== TEST 6: an upgrade for another room than the token's gets 403
--- init
main::seed();
RoomsTest::seed_room('66666666666666666', { $::ALICE => 'Presenter' });
--- raw_request eval
main::ws_request("room=66666666666666666&access_token="
                 . RoomsTest::token(sub => $::ALICE, room => $::ROOM))
--- timeout: 1
--- abort
--- error_code: 403
--- response_headers
!X-Upstream-Saw-User
--- error_log
refused: token is for another room



=== TEST 7: plain HTTP proxying hands the admitted user, role and room to the upstream
--- init
main::seed();
--- request
GET /api/state?room=55555555555555555
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::BOB, room => $::ROOM) . "\n"
--- response_body
upstream: user=8:acs:rooms-test_bob role=Attendee room=55555555555555555
--- no_error_log
[error]



=== TEST 8: a client cannot forge the X-Rooms-* headers the upstream trusts
--- init
main::seed();
--- request
GET /api/state?room=55555555555555555
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n"
. "X-Rooms-User: 8:acs:rooms-test_alice\nX-Rooms-Role: Presenter\n"
--- response_body
upstream: user=8:acs:rooms-test_bob role=Attendee room=55555555555555555
--- no_error_log
[error]



=== TEST 9: a refused plain request is answered by the gateway, not the upstream
--- init
main::seed();
--- request
GET /api/state?room=55555555555555555
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::MALLORY) . "\n"
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"Forbidden","message":"Not admitted to this room\."\}\}$



=== TEST 10: without rooms_admission the variables are empty and the headers are not sent
--- init
main::seed();
--- request
GET /open
--- more_headers eval
"Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\nX-Rooms-User: forged\n"
--- response_body
upstream: user= role= room=
--- no_error_log
[error]



=== TEST 11: a plain GET to the WebSocket location still passes admission and is proxied
--- init
main::seed();
--- request eval
"GET /ws?room=55555555555555555&access_token="
. RoomsTest::token(sub => $::ALICE, room => $::ROOM)
--- response_headers
X-Upstream-Saw-User: 8:acs:rooms-test_alice
--- response_body
not a websocket
--- no_error_log
[error]



=== TEST 12: rooms_token_forward off: the media upstream gets the query without the token, the other arguments kept; on (the default), as it came
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=7 timeout=2s $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_token_keys $TEST_NGINX_HTML_DIR/jwks.json;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "upstream: $request_uri\n";
        }
    }
--- config
    location /fwd/ {
        rooms_admission $arg_room;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location /nofwd/ {
        rooms_admission $arg_room;
        rooms_token_forward off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location /nofwd-prefix/ {
        rooms_admission $arg_room;
        rooms_token_forward off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/media/;
    }
--- init
main::seed();
--- request eval
my $t = RoomsTest::token(sub => $::BOB);
["GET /fwd/a%20b?room=55555555555555555&access_token=$t&x=1",
 "GET /nofwd/a%20b?room=55555555555555555&access_token=$t&x=1",
 "GET /nofwd-prefix/s?access_token=$t&room=55555555555555555",
 "GET /nofwd/s?room=55555555555555555"]
--- more_headers eval
["", "", "", "Authorization: Bearer " . RoomsTest::token(sub => $::BOB) . "\n"]
--- response_body_like eval
['^upstream: /fwd/a%20b\?room=55555555555555555&access_token=eyJ[^&]+&x=1$',
 '^upstream: /nofwd/a%20b\?room=55555555555555555&x=1$',
 '^upstream: /media/s\?room=55555555555555555$',
 '^upstream: /nofwd/s\?room=55555555555555555$']
--- no_error_log
[error]
