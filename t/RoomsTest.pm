package RoomsTest;

# Helpers shared by the t/ suites: ACS HMAC request signing, so that a
# "--- more_headers eval" section can sign the block's request.
# Perl core modules only.

use strict;
use warnings;

use Digest::SHA qw(sha256_base64 hmac_sha256_base64);
use MIME::Base64 qw(decode_base64);
use POSIX qw(strftime);
use Exporter 'import';

our @EXPORT = qw(acs_sign acs_headers $ACS_KEY $ACS_KEY2);

# the test access keys: 32 ASCII bytes each, base64
our $ACS_KEY  = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
our $ACS_KEY2 = 'c2Vjb25kLWtleS1mb3Itcm90YXRpb24tdGVzdHMtMDE=';

sub _pad { my $s = shift; $s .= '=' while length($s) % 4; $s }

# acs_sign(METHOD, PATH_AND_QUERY, BODY, %opt) -> hash of the four headers
#   opt: key (base64), host (default "localhost"), date (epoch seconds),
#        hash (override the content hash)
sub acs_sign {
    my ($method, $path, $body, %opt) = @_;
    $body = '' unless defined $body;

    my $key  = decode_base64($opt{key} // $ACS_KEY);
    my $host = $opt{host} // 'localhost';
    my $date = strftime('%a, %d %b %Y %H:%M:%S GMT',
                        gmtime($opt{date} // time));
    my $hash = $opt{hash} // _pad(sha256_base64($body));
    my $sts  = "$method\n$path\n$date;$host;$hash";
    my $sig  = _pad(hmac_sha256_base64($sts, $key));

    return (
        'x-ms-date'           => $date,
        'x-ms-content-sha256' => $hash,
        'Authorization'       => 'HMAC-SHA256 SignedHeaders=x-ms-date;host;'
                                 . "x-ms-content-sha256&Signature=$sig",
    );
}

# the same, as "Name: value" lines for a more_headers section
sub acs_headers {
    my %h = acs_sign(@_);
    return join '', map { "$_: $h{$_}\n" } sort keys %h;
}

#--------------------------------------------------------------------------
# Admission suites (t/010-012): room tokens, a test JWKS and Redis state.
#--------------------------------------------------------------------------

use JSON::PP ();
use IO::Socket::INET ();
use MIME::Base64 qw(encode_base64);

# the HS256 test key (kid "k1"), 40 bytes; TEST_JWKS publishes it
our $JWT_KEY = 'rooms-admission-test-key-k1-0123456789AB';
our $TEST_JWKS = JSON::PP->new->canonical->encode({ keys => [
    { kty => 'oct', kid => 'k1', alg => 'HS256', use => 'sig',
      k => b64url($JWT_KEY) },
] }) . "\n";

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

my $JSON = JSON::PP->new->canonical;

# numeric claims as JSON numbers, everything else as given
sub _claims_json {
    my $c = shift;
    my %c = map {
        my $v = $c->{$_};
        $_ => (/^(?:iat|exp|nbf)$/ && defined $v ? 0 + $v : $v)
    } keys %$c;
    return $JSON->encode(\%c);
}

# jwt_hs256(KEY_BYTES, KID, \%claims [, \%header]) -> compact JWS
sub jwt_hs256 {
    my ($key, $kid, $claims, $header) = @_;
    my %h = (alg => 'HS256', typ => 'JWT', (defined $kid ? (kid => $kid) : ()),
             %{ $header || {} });
    my $input = b64url($JSON->encode(\%h)) . '.' . b64url(_claims_json($claims));
    return $input . '.' . b64url(Digest::SHA::hmac_sha256($input, $key));
}

# an unsigned token: {"alg":"none"}, empty signature part
sub jwt_alg_none {
    my ($kid, $claims) = @_;
    return b64url($JSON->encode({ alg => 'none', typ => 'JWT', kid => $kid }))
           . '.' . b64url(_claims_json($claims)) . '.';
}

# token(sub => ..., room => ..., iat/exp/nbf => ...): signed with k1;
# iat defaults to now - 10, exp to now + 3600 (seconds)
sub token {
    my %c = @_;
    my $now = time;
    $c{iat} //= $now - 10;
    $c{exp} //= $now + 3600;    # slow runs (valgrind) take minutes
    delete @c{ grep { !defined $c{$_} || $c{$_} eq '' } keys %c };
    return jwt_hs256($JWT_KEY, 'k1', \%c);
}

# How the suites' nginx reaches Redis, beyond the address: appended to
# their "rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT ..." lines
# (TEST_NGINX_ROOMS_REDIS_EXTRA, e.g. "tls user=rooms password=...") and
# the lines that follow (TEST_NGINX_ROOMS_REDIS_SSL, rooms_redis_ssl_*
# directives).  Both empty by default: plaintext, no AUTH.
$ENV{TEST_NGINX_ROOMS_REDIS_EXTRA} //= '';
$ENV{TEST_NGINX_ROOMS_REDIS_SSL} //= '';

# RESP client for test setup, one connection per call:
# redis(CMD, ARGS...) on 127.0.0.1:$REDIS_PORT (default
# $ENV{TEST_NGINX_REDIS_PORT}), database $REDIS_DB (default 0).  Returns
# the reply: a string, an integer, undef (nil) or an array ref; dies on an
# error reply or when Redis cannot be reached.
#
# Over TLS when TEST_NGINX_REDIS_CA names the CA that signed the server's
# certificate (verified for the name "localhost"; IO::Socket::SSL, Debian's
# libio-socket-ssl-perl), with TEST_NGINX_REDIS_CLIENT_CERT and _KEY when
# set; as an ACL user when TEST_NGINX_REDIS_USER and _PASSWORD are set (the
# setup needs FLUSHDB and the like: an admin user, not the module's).
our ($REDIS_PORT, $REDIS_DB);

sub _resp_cmd {
    return '*' . @_ . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_;
}

sub _resp_read {
    my ($sock, $buf) = @_;
    my $line = sub {
        while ($$buf !~ /\r\n/) {
            sysread($sock, $$buf, 65536, length $$buf)
                or die "redis: connection closed\n";
        }
        $$buf =~ s/^(.*?)\r\n//s;
        return $1;
    };
    my $l = $line->();
    my ($t, $v) = (substr($l, 0, 1), substr($l, 1));
    return $v if $t eq '+';
    return 0 + $v if $t eq ':';
    die "redis: $v\n" if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        while (length $$buf < $v + 2) {
            sysread($sock, $$buf, 65536, length $$buf)
                or die "redis: connection closed\n";
        }
        my $s = substr($$buf, 0, $v);
        substr($$buf, 0, $v + 2) = '';
        return $s;
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { _resp_read($sock, $buf) } 1 .. $v ];
    }
    die "redis: bad reply \"$l\"\n";
}

sub _redis_connect {
    my $port = shift;
    my $ca = $ENV{TEST_NGINX_REDIS_CA};

    if (!$ca) {
        return IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Timeout => 5)
            || die "redis: cannot connect to 127.0.0.1:$port: $!\n";
    }

    require IO::Socket::SSL;

    my $cert = $ENV{TEST_NGINX_REDIS_CLIENT_CERT};
    my $sock = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5,
        SSL_ca_file => $ca,
        SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_PEER(),
        SSL_verifycn_name => 'localhost', SSL_verifycn_scheme => 'default',
        ($cert ? (SSL_cert_file => $cert,
                  SSL_key_file => $ENV{TEST_NGINX_REDIS_CLIENT_KEY}) : ()),
    ) or die "redis: no TLS to 127.0.0.1:$port: "
             . IO::Socket::SSL::errstr() . "\n";

    return $sock;
}

# Against a Redis Cluster (TEST_NGINX_REDIS_CLUSTER: the ports of its
# nodes, blank-separated), database 0: a command with a key follows MOVED
# from TEST_NGINX_REDIS_PORT; FLUSHDB, SCRIPT, KEYS and CLIENT go to every
# master (KEYS' replies merged, CLIENT's joined).
my %BROADCAST = map { $_ => 1 } qw(FLUSHDB FLUSHALL SCRIPT KEYS CLIENT);

sub redis {
    my @cmd = @_;

    return _redis_cluster(@cmd) if $ENV{TEST_NGINX_REDIS_CLUSTER};

    return _redis_at($REDIS_PORT // $ENV{TEST_NGINX_REDIS_PORT}
                     // die("redis: TEST_NGINX_REDIS_PORT is not set\n"),
                     $REDIS_DB // 0, @cmd);
}

sub _redis_cluster {
    my @cmd = @_;

    if ($BROADCAST{uc $cmd[0]}) {
        my @masters = grep {
            my $role = eval { _redis_at($_, 0, 'ROLE') };
            $role && $role->[0] eq 'master';
        } split ' ', $ENV{TEST_NGINX_REDIS_CLUSTER};
        my @r = map { _redis_at($_, 0, @cmd) } @masters;
        return [ map { @$_ } @r ] if uc $cmd[0] eq 'KEYS';
        return join '', @r if uc $cmd[0] eq 'CLIENT';
        return $r[0];
    }

    my $port = $ENV{TEST_NGINX_REDIS_PORT};

    for (1 .. 5) {
        my $r = eval { _redis_at($port, 0, @cmd) };
        return $r unless $@;
        die $@ unless $@ =~ /^redis: (?:MOVED|ASK) \d+ [^:]*:(\d+)/;
        $port = $1;
    }

    die "redis: redirected too often\n";
}

sub _redis_at {
    my ($port, $db, @cmd) = @_;
    my $sock = _redis_connect($port);
    my $buf = '';
    my @auth = defined $ENV{TEST_NGINX_REDIS_USER}
        ? ('AUTH', $ENV{TEST_NGINX_REDIS_USER},
           $ENV{TEST_NGINX_REDIS_PASSWORD} // '')
        : ();
    my $out = (@auth ? _resp_cmd(@auth) : '')
              . _resp_cmd('SELECT', $db) . _resp_cmd(@cmd);
    # TLS writes a record (16 KiB) at a time
    while (length $out) {
        my $n = syswrite $sock, $out;
        die "redis: cannot write to 127.0.0.1:$port: $!\n" unless $n;
        substr($out, 0, $n) = '';
    }
    _resp_read($sock, \$buf) if @auth;
    _resp_read($sock, \$buf);
    my $reply = _resp_read($sock, \$buf);
    close $sock;
    return $reply;
}

# seed_room(ID, { RAWID => ROLE, ... }, from => SEC, until => SEC):
# the room's hashes as the API writes them; the window defaults to
# [now - 1 h, now + 1 h)
sub seed_room {
    my ($id, $parts, %o) = @_;
    my $now = time;
    my $us = sub { sprintf '%d', $_[0] * 1000000 };
    redis('DEL', "rooms:{$id}", "rooms:{$id}:p");
    redis('HSET', "rooms:{$id}", c => $us->($now - 7200),
          f => $us->($o{from} // $now - 3600),
          u => $us->($o{until} // $now + 3600), p => 0);
    redis('HSET', "rooms:{$id}:p", %$parts) if $parts && %$parts;
}

# seed_user(RAWID): an identity as POST /identities creates it, so that the
# identity API knows it (revocation and deletion answer 404 otherwise)
sub seed_user {
    my ($id) = @_;
    redis('HSET', "rooms:user:{$id}", c => sprintf('%.0f', time * 1e6));
}

# SCRIPT FLUSH once a worker of the block's nginx has loaded its scripts
# (each loads them when it connects, right after the start: its client is
# then seen in CLIENT LIST with "cmd=script|load"), so that the block's
# requests meet a Redis without them, as after a failover
sub flush_scripts {
    for (1 .. 400) {
        last if redis('CLIENT', 'LIST') =~ /\bcmd=script(\||\b)/;
        select(undef, undef, undef, 0.05);
    }
    redis('SCRIPT', 'FLUSH');
}

#===========================================================================
# API suites (t/001-004): stored rooms, automatic request signing and
# values carried from one block to the next.  Called by full name
# (RoomsTest::prepare_block, ...); nothing here is exported.  Redis is
# reached through redis() above, on db $REDIS_DB, which each suite sets.
#===========================================================================

# values kept from responses by keep(), by name, for "<%NAME%>"
our %SAVED;

# store_room(ID, %opt): stores a room as the module does, index and
# expiry included (see ngx_http_rooms_api.c).  Times are in seconds
# since the epoch: created, from, until (default: now, created, from + 30
# days); pstn (0/1); participants => {rawId => role}.
sub store_room {
    my ($id, %o) = @_;

    my $c = $o{created} // time;
    my $f = $o{from} // $c;
    my $u = $o{until} // $f + 30 * 86400;
    my $us = sub { sprintf '%.0f', $_[0] * 1e6 };

    redis('HSET', "rooms:{$id}", c => $us->($c), f => $us->($f),
          u => $us->($u), p => $o{pstn} ? 1 : 0);
    redis('PEXPIREAT', "rooms:{$id}", sprintf('%.0f', $u * 1000));

    if (my $p = $o{participants}) {
        redis('HSET', "rooms:{$id}:p", %$p);
        redis('PEXPIREAT', "rooms:{$id}:p", sprintf('%.0f', $u * 1000));
    }

    redis('ZADD', 'rooms:index', $us->($c), $id);
}

# a time (seconds since the epoch) as the module writes it, and as the
# ACS SDK sends it (Date.toISOString())
sub acs_time { strftime('%Y-%m-%dT%H:%M:%S+00:00', gmtime shift) }
sub sdk_time { strftime('%Y-%m-%dT%H:%M:%S.000Z', gmtime shift) }

# percent-encoding as encodeURIComponent() does it
sub uri_component {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9\-_.!~*'()])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

# keep(NAME => qr/(...)/, ...): a --- response_body_filters code ref that
# keeps $1 of each pattern in the response body as $SAVED{NAME} (undef when
# it does not match), for "<%NAME%>" in later blocks; the body is passed on
# unchanged.
sub keep {
    my %re = @_;

    return sub {
        my $body = shift;
        for my $name (keys %re) {
            $SAVED{$name} = defined $body && $body =~ $re{$name} ? $1 : undef;
        }
        return $body;
    };
}

sub _api_expand {
    my $s = shift;
    return $s if !defined $s || ref $s;

    $s =~ s{<%(\w+)(?:\|(uri|re))?%>}{
        my $v = $SAVED{$1} // "(nothing kept as $1)";
        !defined $2 ? $v : $2 eq 'uri' ? uri_component($v) : quotemeta $v
    }ge;

    return $s;
}

sub _api_dechunk {
    my $raw = shift;
    my $out = '';

    while ($raw =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $n = hex $1;
        last if $n == 0;
        $out .= substr $raw, 0, $n, '';
        $raw =~ s/\A\r\n//;
    }

    return $out;
}

# method, path and query, and the body as Test::Nginx sends them
sub _api_request_parts {
    my ($req, $headers) = @_;

    1 while $req =~ s/^\s*\#[^\n]+\s+|^\s+//s;

    my ($line, $body) = split /\r?\n/, $req, 2;
    my ($method, $uri) = split ' ', $line;
    $uri //= '/';
    $body //= '';

    if ($headers =~ /^\s*Transfer-Encoding\s*:\s*chunked\s*$/mi) {
        $body = _api_dechunk($body);

    } elsif ($body ne '' && $headers !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
    }

    return ($method, $uri, $body);
}

# A block preprocessor for the API suites: add_block_preprocessor(sub {
# RoomsTest::prepare_block(shift) }).  It runs just before its block, so
#  * "<%NAME%>" in the request, more_headers, response_* and *error_log
#    sections is replaced by what keep() saved in an earlier block
#    ("<%NAME|uri%>" percent-encoded, "<%NAME|re%>" quotemeta'd);
#  * then each request is HMAC-signed with $ACS_KEY as the ACS SDK signs
#    it: over the request line's path and query, the Host header it is
#    sent with ("localhost", the one Test::Nginx sends, unless
#    more_headers has a Host header) and the body as Test::Nginx sends it
#    -- unless its more_headers already has an Authorization or x-ms-date
#    header, or a "# unsigned" comment line (Test::Nginx skips comments).
sub prepare_block {
    my $block = shift;

    for my $sec (qw(response_body response_body_like response_headers
                    response_headers_like error_log no_error_log))
    {
        my @v = $block->$sec;
        next unless @v && defined $v[0];
        $block->set_value($sec, map {
            ref $_ eq 'ARRAY' ? [map { _api_expand($_) } @$_] : _api_expand($_)
        } @v);
    }

    my $req = $block->request;
    return $block unless defined $req;

    my $many = ref $req eq 'ARRAY';
    my @reqs = $many ? @$req : ($req);
    my $more = $block->more_headers;
    my @more = map { ref $more eq 'ARRAY' ? $more->[$_] : $more } 0 .. $#reqs;

    for my $i (0 .. $#reqs) {
        next if ref $reqs[$i];    # packets: sent as written

        my $r = $reqs[$i] = _api_expand($reqs[$i]);
        my $h = _api_expand($more[$i] // '');

        if ($h !~ /^\s*(?:Authorization|x-ms-date)\s*:|^\s*#\s*unsigned\b/mi) {
            my ($method, $uri, $body) = _api_request_parts($r, $h);
            my ($host) = $h =~ /^\s*Host\s*:\s*(.*?)\s*$/mi;
            $h .= "\n" if $h ne '' && $h !~ /\n\z/;
            $h .= acs_headers($method, $uri, $body,
                              host => $host // 'localhost');
        }

        $more[$i] = $h;
    }

    $block->set_value(request => $many ? \@reqs : $reqs[0]);
    $block->set_value(more_headers => $many ? \@more : $more[0]);

    return $block;
}

1;
