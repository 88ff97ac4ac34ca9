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
# iat defaults to now - 10, exp to now + 600 (seconds)
sub token {
    my %c = @_;
    my $now = time;
    $c{iat} //= $now - 10;
    $c{exp} //= $now + 600;
    delete @c{ grep { !defined $c{$_} || $c{$_} eq '' } keys %c };
    return jwt_hs256($JWT_KEY, 'k1', \%c);
}

# RESP client for test setup, one connection per call:
# redis(CMD, ARGS...) on 127.0.0.1:$REDIS_PORT (default
# $ENV{TEST_NGINX_REDIS_PORT}), database $REDIS_DB (default 0).  Returns
# the reply: a string, an integer, undef (nil) or an array ref; dies on an
# error reply or when Redis cannot be reached.
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

sub redis {
    my @cmd = @_;
    my $port = $REDIS_PORT // $ENV{TEST_NGINX_REDIS_PORT}
        // die "redis: TEST_NGINX_REDIS_PORT is not set\n";
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Timeout => 5)
        or die "redis: cannot connect to 127.0.0.1:$port: $!\n";
    my $buf = '';
    syswrite $sock, _resp_cmd('SELECT', $REDIS_DB // 0) . _resp_cmd(@cmd);
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

1;
