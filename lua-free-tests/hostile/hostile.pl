#!/usr/bin/env perl
# The hostile-request suite's driver (lua-free-tests/hostile/run.sh calls
# it).  Perl core modules and the openssl command only.
#
#   hostile.pl keys DIR        the token keys: HS256, Ed25519, ES256 (JWKS)
#   hostile.pl seed DIR        rooms, identities and tokens, through the API
#                              and straight into Redis (state.json)
#   hostile.pl run DIR         generates the requests and sends them in
#                              phases; keeps what came back (results.sto)
#   hostile.pl check DIR       the checks, over the results and the logs;
#                              exits 1 on any failure
#
#   hostile.pl replay DIR HID...  those requests again, one at a time,
#                              against the running gateway: which of them
#                              kills a worker
#
# Env: HOSTILE_PORT, HOSTILE_REDIS_PORT (seed); HOSTILE_SEED, HOSTILE_COUNT
# (default 22000), HOSTILE_FAMILIES, HOSTILE_SKIP, HOSTILE_JOBS (connections
# at once, default 4) (run); HOSTILE_RSS_SLACK_MB (check, default 384).
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;

use Digest::SHA qw(sha256_base64 hmac_sha256_base64);
use MIME::Base64 qw(encode_base64 decode_base64);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(strftime WNOHANG);
use Storable qw(nstore retrieve);
use Time::HiRes qw(time sleep);

use Hostile::Http;
use Hostile::Gen;
use Hostile::Model qw(masked_line token_args log_escape parse_access MASKED
                      parse_error_line ADMISSION);

$| = 1;
my $JSON = JSON::PP->new->canonical;

sub slurp { my $f = shift; open my $fh, '<:raw', $f or die "$f: $!\n"; local $/; return <$fh> }

sub spit {
    my ($f, $s) = @_;
    open my $fh, '>:raw', $f or die "$f: $!\n";
    print $fh $s;
    close $fh or die "$f: $!\n";
}

sub b64url { my $s = encode_base64(shift, ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }

sub openssl {
    my @cmd = ('openssl', @_);
    my $out = qx{@cmd 2>/dev/null};
    die "@cmd failed\n" if $?;
    return $out;
}

#--------------------------------------------------------------------------
# keys DIR
#--------------------------------------------------------------------------

sub cmd_keys {
    my $dir = shift;
    open my $r, '<:raw', '/dev/urandom' or die "/dev/urandom: $!\n";
    read($r, my $hs, 40) == 40 or die "short read\n";

    openssl('genpkey', '-algorithm', 'ed25519', '-out', "$dir/ed.pem");
    my $ed_d = substr openssl('pkey', '-in', "$dir/ed.pem", '-outform', 'DER'), -32;
    my $ed_x = substr openssl('pkey', '-in', "$dir/ed.pem", '-pubout', '-outform', 'DER'), -32;

    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
            '-out', "$dir/ec.pem");
    my $text = openssl('pkey', '-in', "$dir/ec.pem", '-text', '-noout');
    my ($priv) = $text =~ /priv:\s*((?:[0-9a-f]{2}:?\s*)+)/;
    my ($pub) = $text =~ /pub:\s*((?:[0-9a-f]{2}:?\s*)+)/;
    my $hex = sub { my $s = shift; $s =~ s/[^0-9a-f]//g; pack 'H*', $s };
    my $ec_d = substr(("\0" x 32) . $hex->($priv), -32);
    my $ec_pub = $hex->($pub);
    die "unexpected EC public key\n" unless length $ec_pub == 65;

    # the identity API signs with the first key: its tokens are EdDSA
    my $jwks = { keys => [
        { kty => 'OKP', crv => 'Ed25519', kid => 'hostile-ed', alg => 'EdDSA',
          x => b64url($ed_x), d => b64url($ed_d) },
        { kty => 'EC', crv => 'P-256', kid => 'hostile-ec', alg => 'ES256',
          x => b64url(substr $ec_pub, 1, 32), y => b64url(substr $ec_pub, 33, 32),
          d => b64url($ec_d) },
        { kty => 'oct', kid => 'hostile-hs', alg => 'HS256', k => b64url($hs) },
    ] };
    spit("$dir/jwks.json", $JSON->encode($jwks) . "\n");
    spit("$dir/keys.json", $JSON->encode({
        hs_key => unpack('H*', $hs), kid_hs => 'hostile-hs', kid_ed => 'hostile-ed',
        kid_ec => 'hostile-ec', ed_pub_raw => unpack('H*', $ed_x),
        ec_pub_raw => unpack('H*', $ec_pub) }) . "\n");
}

# a compact JWS signed by openssl: ES256 (the DER signature turned into
# r || s) or EdDSA
sub openssl_jws {
    my ($dir, $alg, $kid, $claims) = @_;
    my $input = b64url($JSON->encode({ alg => $alg, typ => 'JWT', kid => $kid }))
                . '.' . b64url($JSON->encode($claims));
    spit("$dir/msg.bin", $input);
    my $sig;
    if ($alg eq 'ES256') {
        my $der = openssl('dgst', '-sha256', '-binary', '-sign', "$dir/ec.pem", "$dir/msg.bin");
        my ($r, $s) = der_ints($der);
        $sig = substr(("\0" x 32) . $r, -32) . substr(("\0" x 32) . $s, -32);
    } else {
        $sig = openssl('pkeyutl', '-sign', '-inkey', "$dir/ed.pem", '-rawin',
                       '-in', "$dir/msg.bin");
    }
    unlink "$dir/msg.bin";
    return "$input." . b64url($sig);
}

# the two INTEGERs of a DER ECDSA signature, without their sign bytes
sub der_ints {
    my $der = shift;
    my $p = 2;
    $p++ if ord(substr $der, 1, 1) & 0x80;
    my @i;
    for (1, 2) {
        my $len = ord substr $der, $p + 1, 1;
        my $v = substr $der, $p + 2, $len;
        $v =~ s/^\0+//;
        push @i, $v;
        $p += 2 + $len;
    }
    return @i;
}

#--------------------------------------------------------------------------
# seed DIR: the API (signed) and Redis
#--------------------------------------------------------------------------

my ($PORT, $KEY, $HOST);

sub api {
    my ($method, $path, $body) = @_;
    my $date = strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime);
    my $hash = sha256_base64($body // '');
    $hash .= '=' while length($hash) % 4;
    my $sig = hmac_sha256_base64("$method\n$path\n$date;$HOST;$hash", decode_base64($KEY));
    $sig .= '=' while length($sig) % 4;
    my $bytes = "$method $path HTTP/1.1\r\nHost: $HOST\r\nConnection: close\r\n"
        . "x-ms-date: $date\r\nx-ms-content-sha256: $hash\r\n"
        . "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        . "&Signature=$sig\r\n"
        . (defined $body ? "Content-Type: application/json\r\n"
                           . 'Content-Length: ' . length($body) . "\r\n" : '')
        . "\r\n" . ($body // '');
    my $res = Hostile::Http::run_case({ reqs => [{ hid => 0, bytes => $bytes,
                                                   method => $method }] })->{0};
    die "seed: $method $path: " . ($res->{error} // '') . "\n" unless $res->{status};
    return ($res->{status}, eval { decode_json($res->{body}) }, $res);
}

sub must {
    my ($want, @call) = @_;
    my ($st, $json, $res) = api(@call);
    die "seed: $call[0] $call[1]: expected $want, got $st: $res->{body}\n" unless $st == $want;
    return $json;
}

sub resp { '*' . @_ . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_ }

# one Redis command (the suite's own Redis, db 0); the reply's first line
sub redis {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ENV{HOSTILE_REDIS_PORT},
                                  Timeout => 5) or die "redis: $!\n";
    print $s resp(@_);
    my $l = <$s>;
    die "redis: @_: $l" if $l =~ /^-/;
    close $s;
    return $l;
}

sub cmd_seed {
    my $dir = shift;
    $PORT = $ENV{HOSTILE_PORT} or die "HOSTILE_PORT\n";
    $KEY = slurp("$dir/access_key") =~ s/\s+//gr;
    $HOST = "127.0.0.1:$PORT";
    $Hostile::Http::PORT = $PORT;
    my $keys = decode_json(slurp("$dir/keys.json"));
    my $V = 'api-version=2025-03-13';
    my $IDV = 'api-version=2023-10-01';
    my %users;

    # identities made by the API, each with an EdDSA token of its own
    for my $name (qw(alice bob carol dave eve frank gina mallory)) {
        my $j = must(201, 'POST', "/identities?$IDV", '{"createTokenWithScopes":["voip"]}');
        $users{$name} = { id => $j->{identity}{id}, rooms => {},
                          api_token => $j->{accessToken}{token} };
    }
    # raw ids Redis knows only as participants: no user record at all
    for my $name (qw(cold1 cold2 ghost)) {
        $users{$name} = { id => "8:acs:hostile_$name", rooms => {},
                          reserved => $name =~ /^cold/ ? 1 : 0 };
    }

    my %role_a = (alice => 'Presenter', bob => 'Attendee', carol => 'Consumer',
                  dave => 'Collaborator', frank => 'Presenter', gina => 'Attendee');
    my $pa = { map { $users{$_}{id} => { role => $role_a{$_} } } keys %role_a };
    my %rooms;
    $rooms{A} = must(201, 'POST', "/rooms?$V", $JSON->encode({ participants => $pa }))->{id};
    $rooms{B} = must(201, 'POST', "/rooms?$V", $JSON->encode({ participants => {
        $users{eve}{id} => { role => 'Presenter' },
        $users{alice}{id} => { role => 'Attendee' } } }))->{id};
    # a scratch room for the signed API requests to change at will
    $rooms{S} = must(201, 'POST', "/rooms?$V", '{}')->{id};
    $users{$_}{rooms}{$rooms{A}} = $role_a{$_} for keys %role_a;
    $users{eve}{rooms}{$rooms{B}} = 'Presenter';
    $users{alice}{rooms}{$rooms{B}} = 'Attendee';

    # room C: 16 digits (so that 0 and 00 before it are still 16 to 18),
    # written as t/010 does
    my $c = sprintf '%d%015d', 4, int(rand 1e15);
    my $now = time;
    my %role_c = (alice => 'Presenter', bob => 'Attendee', cold1 => 'Attendee',
                  cold2 => 'Attendee', ghost => 'Consumer');
    redis('HSET', "rooms:{$c}", c => sprintf('%d', ($now - 60) * 1e6),
          f => sprintf('%d', ($now - 60) * 1e6), u => sprintf('%d', ($now + 86400) * 1e6), p => 0);
    redis('HSET', "rooms:{$c}:p", map { ($users{$_}{id} => $role_c{$_}) } keys %role_c);
    $rooms{C} = $c;
    $users{$_}{rooms}{$c} = $role_c{$_} for keys %role_c;

    # frank revoked, gina deleted: none of their tokens may admit
    $users{frank}{revoked} = time;
    must(204, 'POST', "/identities/$users{frank}{id}/:revokeAccessTokens?$IDV");
    $users{gina}{deleted} = 1;
    must(204, 'DELETE', "/identities/$users{gina}{id}?$IDV");

    # EdDSA and ES256 tokens, some bound to a room
    my @pre;
    for my $name (qw(alice bob dave eve)) {
        push @pre, { v => $users{$name}{api_token}, sub => $users{$name}{id} };
    }
    my $claims = sub { my ($u, $room) = @_;
        { sub => $users{$u}{id}, iat => time - 30, exp => time + 4 * 3600,
          (defined $room ? (room => $room) : ()) } };
    for my $spec (['ES256', 'alice', undef], ['ES256', 'alice', $rooms{A}],
                  ['ES256', 'bob', $rooms{C}], ['EdDSA', 'dave', $rooms{A}],
                  ['ES256', 'eve', $rooms{B}], ['EdDSA', 'alice', '0' . $rooms{A}],
                  ['EdDSA', 'carol', undef]) {
        my ($alg, $u, $room) = @$spec;
        push @pre, { v => openssl_jws($dir, $alg, $alg eq 'ES256' ? $keys->{kid_ec} : $keys->{kid_ed},
                                      $claims->($u, $room)),
                     sub => $users{$u}{id}, room => $room };
    }

    my $state = { %$keys, port => $PORT, redis_port => $ENV{HOSTILE_REDIS_PORT},
                  access_key => $KEY, rooms => \%rooms, users => \%users,
                  pretokens => \@pre };
    spit("$dir/state.json", JSON::PP->new->canonical->pretty->encode($state));
    printf "seed: rooms A %s, B %s, C %s (16 digits), S %s (scratch); %d users, "
           . "%d EdDSA/ES256 tokens\n", @rooms{qw(A B C S)}, scalar keys %users, scalar @pre;
}

sub load_state {
    my $dir = shift;
    my $s = decode_json(slurp("$dir/state.json"));
    $s->{hs_key} = pack 'H*', $s->{hs_key};
    $s->{$_} = pack 'H*', $s->{$_} for qw(ed_pub_raw ec_pub_raw);
    $s->{by_id}{ $s->{users}{$_}{id} } = $s->{users}{$_} for keys %{ $s->{users} };
    return $s;
}

#--------------------------------------------------------------------------
# run DIR
#--------------------------------------------------------------------------

sub workers {
    my $dir = shift;
    my $master = slurp("$dir/nginx.pid") =~ s/\s+//gr;
    my @w = grep { /^\d+$/ } split ' ', qx{pgrep -P $master};
    return sort { $a <=> $b } @w;
}

sub rss {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (my $l = <$fh>) { return $1 if $l =~ /^VmRSS:\s+(\d+)/ }
    return 0;
}

# sends CASES from JOBS processes at once; their results merged
sub send_cases {
    my ($dir, $tag, $cases, $jobs) = @_;
    $jobs = 1 if $jobs > @$cases;
    my %res;
    my @kids;
    for my $j (0 .. $jobs - 1) {
        my $pid = fork // die "fork: $!\n";
        if (!$pid) {
            srand($$);
            my %mine;
            for (my $i = $j; $i < @$cases; $i += $jobs) {
                my $r = Hostile::Http::run_case($cases->[$i]);
                @mine{ keys %$r } = values %$r;
            }
            nstore(\%mine, "$dir/res-$tag-$j.sto");
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    for my $j (0 .. $jobs - 1) {
        my $f = "$dir/res-$tag-$j.sto";
        next unless -f $f;
        my $r = retrieve($f);
        @res{ keys %$r } = values %$r;
        unlink $f;
    }
    return \%res;
}

sub cmd_run {
    my $dir = shift;
    my $S = load_state($dir);
    $Hostile::Http::PORT = $S->{port};
    my $seed = $ENV{HOSTILE_SEED} // int rand 1e9;
    my $count = $ENV{HOSTILE_COUNT} // 22000;
    my $jobs = $ENV{HOSTILE_JOBS} // 4;
    my @fams = split /[ ,]+/, $ENV{HOSTILE_FAMILIES} // join ' ', @Hostile::Gen::FAMILIES;
    my %skip = map { $_ => 1 } map { $_ eq 'known' ? @Hostile::Gen::KNOWN : $_ }
               split /[ ,]+/, $ENV{HOSTILE_SKIP} // '';
    for my $f (@fams) {
        die "unknown family \"$f\" (families: @Hostile::Gen::FAMILIES)\n"
            unless grep { $_ eq $f } @Hostile::Gen::FAMILIES;
    }

    print "run: HOSTILE_SEED=$seed HOSTILE_COUNT=$count HOSTILE_FAMILIES=\"@fams\""
          . (%skip ? ' HOSTILE_SKIP="' . join(' ', sort keys %skip) . '"' : '') . "\n";
    my ($first, $cases, $storm, $last) = Hostile::Gen::generate($S, $seed, $count, \@fams);

    # HOSTILE_SKIP: leave out the requests that can trigger those findings
    my $skipped = 0;
    for my $list ($first, $cases, $storm, $last) {
        @$list = grep {
            my $c = $_;
            my $hit = grep { my $r = $_; grep { $r->{known}{$_} } keys %skip } @{ $c->{reqs} };
            $skipped += @{ $c->{reqs} } if $hit;
            !$hit;
        } @$list;
    }
    my $n = 0;
    $n += @{ $_->{reqs} } for @$first, @$cases, @$storm, @$last;
    print "run: $n requests generated" . ($skipped ? ", $skipped left out by HOSTILE_SKIP" : '') . "\n";

    my (%res, %phase);
    my $t0 = time;
    my @w = workers($dir);
    my %rss0 = map { $_ => rss($_) } @w;

    # 1: the scenario steps, one at a time
    my $r = send_cases($dir, 'first', $first, 1);
    %res = (%res, %$r);
    $phase{first} = time - $t0;

    # 2: the families, JOBS connections at a time
    my $t1 = time;
    $r = send_cases($dir, 'fuzz', $cases, $jobs);
    %res = (%res, %$r);
    $phase{fuzz} = time - $t1;

    # 3: aborts while Redis holds the replies back
    my $t2 = time;
    if (@$storm) {
        my $half = int(@$storm / 2);
        for my $part ([@$storm[0 .. $half - 1]], [@$storm[$half .. $#$storm]]) {
            redis_pause($S, 700);
            $r = send_cases($dir, 'storm', $part, $jobs);
            %res = (%res, %$r);
            sleep 1.0;
        }
    }
    $phase{storm} = time - $t2;

    # 4: the scenario steps again, after everything
    $r = send_cases($dir, 'last', $last, 1);
    %res = (%res, %$r);

    # the gateway still serves: admissions from several connections at
    # once (so that both workers answer) and an API read
    my @w1 = workers($dir);
    my %rss1 = map { $_ => rss($_) } @w1;
    my @live = Hostile::Gen::live_checks($S, 16);
    $r = send_cases($dir, 'live', \@live, 8);
    %res = (%res, %$r);

    $phase{total} = time - $t0;

    # the requests that lost their connection (not on purpose): when a
    # worker died, the one that killed it is among them
    my @lost;
    for my $c (@$first, @$cases, @$last, @live) {
        next if ($c->{mode} // 'once') =~ /^(?:abort|cut)$/;
        push @lost, map { $_->{hid} } grep {
            my $x = $res{ $_->{hid} };
            $x && $x->{error} && $x->{error} =~ /closed|reset/
        } @{ $c->{reqs} };
    }
    spit("$dir/lost.txt", join '', map { "$_\n" } sort { $a <=> $b } @lost);
    nstore({ first => $first, cases => $cases, storm => $storm, last => $last,
             live => \@live, res => \%res, seed => $seed, count => $count,
             fams => \@fams, skip => [sort keys %skip], phase => \%phase,
             workers0 => [@w], workers1 => [@w1], rss0 => \%rss0, rss1 => \%rss1,
             rooms => $S->{rooms} },
           "$dir/results.sto");
    printf "run: %d requests in %.1f s (scenario %.1f s, families %.1f s, abort storm %.1f s)\n",
           $n + @live, $phase{total}, $phase{first}, $phase{fuzz}, $phase{storm};
}

sub redis_pause {
    my ($S, $ms) = @_;
    local $ENV{HOSTILE_REDIS_PORT} = $S->{redis_port};
    redis('CLIENT', 'PAUSE', $ms);
}

#--------------------------------------------------------------------------
# check DIR
#--------------------------------------------------------------------------

my (@FAIL, @NOTE, %ONCE);

sub fail {
    my ($class, $msg, $req) = @_;
    push @FAIL, [$class, $msg, $req];
}

# a note: what the suite saw that is not the module's to fix
sub note {
    my ($class, $msg, $req) = @_;
    push @NOTE, [$class, $msg, $req];
}

# once per request and KEY: one line of a kind per request is enough
sub once_per { my ($r, $key) = @_; return !$ONCE{ $r->{hid} }{$key}++ }

sub json_error_code {
    my $body = shift;
    my $j = eval { JSON::PP->new->decode($body) };
    return undef unless ref $j eq 'HASH' && ref $j->{error} eq 'HASH';
    return $j->{error}{code};
}

# whether GOT is LINE with some of its token values RANGES masked, not all
# (or, with CUT, the start of such a line)
sub partly_masked {
    my ($line, $ranges, $got, $cut) = @_;
    my $n = @$ranges;
    return 0 if $n > 10;
    for my $set (0 .. 2**$n - 2) {
        my $l = $line;
        for my $i (reverse 0 .. $n - 1) {
            substr($l, $ranges->[$i][0], $ranges->[$i][1]) = '***' if $set & (1 << $i);
        }
        return 1 if $l eq $got || ($cut && index($l, $got) == 0);
    }
    return 0;
}

# a short description of a request: hid, family, what, and its request
# line with long runs shortened
sub describe {
    my $r = shift;
    my $line = $r->{line};
    $line =~ s/(.)\1{39,}/"$1\{x" . length($&) . '}'/ge;
    return sprintf 'hid %d (%s: %s): %s', $r->{hid}, $r->{fam}, $r->{what},
                   Hostile::Http::printable($line, 300);
}

my %TITLES = (
    crash      => 'worker crashes and alerts in error.log',
    asan       => 'ASan/UBSan reports',
    mask       => 'query tokens not masked in the logs',
    corrupt    => 'request lines logged otherwise than sent (corruption)',
    spelling   => 'a room id spelled otherwise admitted, or the real room refused after it',
    bypass     => 'admissions without a valid token of an invitee of that room',
    api        => 'API successes without a signature',
    http       => 'malformed responses',
    noresponse => 'requests without a complete response',
    '5xx'      => 'unexpected 5xx',
    live       => 'the gateway after the run',
    log        => 'log lines',
    rss        => 'worker memory',
    early      => 'nginx logged the request line, token included, before the access phase'
                  . ' (nginx\'s own lines, out of the module\'s reach)',
    lost       => 'connections lost to a crashed worker (the replay names the request that'
                  . ' killed it)',
);

sub cmd_check {
    my $dir = shift;
    my $R = retrieve("$dir/results.sto");
    my $res = $R->{res};
    my (%req, @all);
    for my $list (qw(first cases storm last live)) {
        for my $c (@{ $R->{$list} }) {
            for my $r (@{ $c->{reqs} }) {
                $r->{mode} = $c->{mode} // 'once';
                $r->{list} = $list;
                $req{ $r->{hid} } = $r;
                push @all, $r;
            }
        }
    }

    # the access log: one line per request nginx finished; by hid (the
    # X-Hid header, or hid= in the logged line) and by connection
    my (%acc, %conn, @acc_orphans);
    open my $al, '<:raw', "$dir/logs/access.log" or die "access.log: $!\n";
    while (my $l = <$al>) {
        chomp $l;
        my $a = parse_access($l);
        if (!$a) {
            fail('log', 'unparsable access log line: ' . Hostile::Http::printable($l, 200));
            next;
        }
        my $hid = $a->{hid};
        $hid = $1 if !defined $hid && $a->{request} =~ /[?&]hid=([0-9]+)[& ]/;
        if (defined $hid && $req{$hid}) {
            push @{ $acc{$hid} }, $a;
            push @{ $conn{ $a->{conn} } }, $req{$hid};
        } else {
            push @acc_orphans, $a;
        }
    }
    close $al;

    # the error log: by connection ("*N"), else by the hid in its request
    # line; what names neither is scanned for tokens at the end
    my (%err, @loose, @crash);
    open my $el, '<:raw', "$dir/logs/error.log" or die "error.log: $!\n";
    while (my $l = <$el>) {
        chomp $l;
        push @crash, $l if $l =~ /exited on signal|exited with code [1-9]|\[(?:alert|crit|emerg)\]/;
        my $e = parse_error_line($l);
        my @rs = defined $e->{conn} && $conn{ $e->{conn} } ? @{ $conn{ $e->{conn} } }
               : defined $e->{hid} && $req{ $e->{hid} } ? ($req{ $e->{hid} }) : ();
        if (@rs && defined $e->{request}) {
            # the request (of a pipeline) whose line it shows; a line that
            # names another request of the connection, one that left no
            # access log line, is tied to none
            my $p = substr $e->{request}, 0, 40;
            @rs = defined $e->{hid} ? grep { $_->{hid} == $e->{hid} } @rs
                                    : grep { index($_->{line}, $p) == 0 } @rs;
        }
        if (@rs) {
            push @{ $err{ $_->{hid} } }, $e for @rs;
        } else {
            push @loose, $e;
        }
    }
    close $el;
    my $crashed = @crash > 0;

    my (%stat, %sent, %mustmask, %mayshow);
    my ($lines_compared, $masked_checked, $err_compared) = (0, 0, 0);

    for my $r (@all) {
        my $hid = $r->{hid};
        my $x = $res->{$hid} // { error => 'no result' };
        my $fam = $r->{list} eq 'live' ? 'live' : $r->{fam};
        $sent{$fam}++;
        my $st = $x->{status} // ($x->{aborted} ? 'aborted' : $x->{cut} ? 'cut'
                                 : $x->{skipped} ? 'unanswered' : $x->{http09} ? 'http/0.9'
                                 : 'none');
        $stat{$fam}{$st}++;
        my $a = $acc{$hid} ? $acc{$hid}[0] : undef;
        my $h = $x->{h} // {};
        my $hloc = $h->{'x-hloc'} // ($a ? $a->{loc} : undef);

        #------------------------------------------------------------------
        # the response: complete and well-formed, unless the client gave
        # up on purpose
        #------------------------------------------------------------------
        if ($x->{bad}) {
            fail('http', "malformed response: $x->{bad}", $r);
        } elsif ($x->{error} && !$x->{aborted} && !$x->{cut} && !$x->{http09}) {
            if ($x->{error} =~ /closed|reset|earlier response/ && $crashed) {
                note('lost', "no response: $x->{error}", $r);
            } else {
                fail('noresponse', "no complete response: $x->{error}", $r);
            }
        }

        if (defined $x->{status}) {
            my $s = $x->{status};
            my $code = ($h->{'content-type'} // '') =~ /json/ ? json_error_code($x->{body}) : undef;

            if (my $e = $r->{expect}) {
                # a scenario step's own outcome
                my $ok = $e eq 'refused' ? $s !~ /^2/ : $s eq $e;
                fail($r->{list} eq 'live' ? 'live' : 'spelling',
                     'expected ' . ($e eq 'refused' ? 'a refusal' : $e) . ", got $s"
                     . ($h->{'x-rooms-deny'} ? " ($h->{'x-rooms-deny'})" : '')
                     . ($a && $a->{room} ne '' ? " for room \"$a->{room}\"" : ''), $r)
                    unless $ok;

            } elsif ($hloc && ADMISSION->{$hloc} && $s =~ /^2/) {
                # admitted: only with a valid token of an invitee of this
                # very room (and of an allowed role at /pub/)
                my ($room, $user) = $a ? ($a->{room}, $a->{user}) : ();
                my $ok = defined $room && grep {
                    $_->[0] eq $room && $_->[1] eq $user
                    && ($hloc ne 'pub' || $_->[2] =~ /^(?:Presenter|Collaborator)$/)
                } map { @{ $_->{grants} } } @{ $r->{toks} };
                fail(defined $room && $room =~ /^0/ ? 'spelling' : 'bypass',
                     "admitted ($s) at /$hloc/ to room \"" . ($room // '?') . '" as "'
                     . ($user // '?') . '" without a valid token of an invitee of that'
                     . ' exact room', $r)
                    unless $ok;
            }

            if ($hloc && ADMISSION->{$hloc} && $s =~ /^(?:401|403|503)$/) {
                my %want = (401 => 'Unauthorized', 403 => 'Forbidden', 503 => 'ServiceUnavailable');
                fail('http', "admission refusal $s without the JSON body"
                             . " {\"error\":{\"code\":\"$want{$s}\",...}}", $r)
                    if $r->{method} ne 'HEAD' && ($code // '') ne $want{$s};
                fail('http', "admission refusal $s without X-Rooms-Deny", $r)
                    unless defined $h->{'x-rooms-deny'};
                fail('http', "401 without WWW-Authenticate: Bearer error=\"invalid_token\"", $r)
                    if $s == 401 && ($h->{'www-authenticate'} // '') ne 'Bearer error="invalid_token"';
                fail('http', '503 without Retry-After', $r)
                    if $s == 503 && !defined $h->{'retry-after'};
            }

            if ($hloc && $hloc eq 'api') {
                fail('api', "the API answered $s to a request that is not signed", $r)
                    if $s =~ /^2/ && !$r->{signed};
                if ($s >= 400 && defined $h->{'x-ms-error-code'} && $r->{method} ne 'HEAD') {
                    fail('http', "API error $s: the body's error.code \"" . ($code // '(none)')
                                 . "\" is not x-ms-error-code \"$h->{'x-ms-error-code'}\"", $r)
                        unless defined $code && $code eq $h->{'x-ms-error-code'};
                }
                fail('http', "API error $s without a JSON error body", $r)
                    if $s =~ /^(?:401|403|404|405|409|415|501|503)$/ && $r->{method} ne 'HEAD'
                       && !defined $code;
            }
            fail('5xx', "status $s", $r) if $s == 500 || $s == 502 || $s == 504;
        } elsif ($r->{expect} && !$x->{skipped}) {
            fail($r->{list} eq 'live' ? 'live' : 'spelling',
                 "expected $r->{expect}, got no response", $r);
        }

        #------------------------------------------------------------------
        # the access log: $request is the line as sent, with exactly the
        # token values replaced by "***": the module masks the token names
        # of every location in every request line of the http block, in
        # its first phase (README, rooms_token), so only a request that
        # nginx finished before that phase keeps them
        #------------------------------------------------------------------
        next unless $a;
        fail('log', scalar(@{ $acc{$hid} }) . ' access log lines for one request', $r)
            if @{ $acc{$hid} } > 1;
        my $loc = $a->{loc};
        my $names = MASKED;
        my $ranges = token_args($r->{line}, $names);
        my @vals = map { substr $r->{line}, $_->[0], $_->[1] } @$ranges;
        my $expect = masked_line($r->{line}, $names);
        # or the query read past a '#' (Model.pm, query_span)
        my $wide = masked_line($r->{line}, $names, 1);
        my $got = $a->{request};
        # what nginx refuses while it reads the request, before its first
        # phase: a bad request, TRACE, a line or headers too long, an
        # unsupported transfer coding or HTTP version
        my $early = @vals && $got eq $r->{line}
                    && $a->{status} =~ /^(?:400|405|414|494|501|505)$/;
        $r->{expect_line} = $expect;
        $r->{expect_wide} = $wide;
        $r->{vals} = $early ? [] : \@vals;
        $masked_checked++ if !$early && @vals;
        if ($early) {
            $mayshow{$_} = 1 for @vals;
        } else {
            $mustmask{$_} //= $r for grep { length >= 8 } @vals;
        }

        $lines_compared++;
        if ($got eq $expect || $got eq $wide) {
            # as it should be
        } elsif ($loc eq 'none' && $a->{status} =~ /^(?:400|414|494)$/
                 && ($got eq '' || index("$r->{line}\r\n", $got) == 0)) {
            # refused while reading the line: nginx logs what it had
        } elsif ($early) {
            note('early', "access log shows the query token: nginx finished the request"
                          . " ($a->{status}) before its first phase", $r);
        } elsif (@vals && partly_masked($r->{line}, $ranges, $got)) {
            fail('mask', 'access log $request shows the token: "'
                         . Hostile::Http::printable($got, 240) . '"', $r);
        } else {
            fail('corrupt', 'access log $request is not the request line as sent'
                            . (@vals ? ' with its tokens masked' : '') . ': logged "'
                            . Hostile::Http::printable($got, 240) . '", expected "'
                            . Hostile::Http::printable($expect, 240) . '"', $r);
        }
    }

    #----------------------------------------------------------------------
    # the error log lines of each request: the same line (nginx cuts error
    # lines at 2048 bytes), and no token of it anywhere in them
    #----------------------------------------------------------------------
    for my $hid (sort { $a <=> $b } keys %err) {
        my $r = $req{$hid};
        next unless defined $r->{expect_line};
        # values long enough to be told apart from the rest of a line
        # (short ones are checked by the comparison of the whole line)
        my @vals = grep { length >= 8 && !/^\*+$/ } @{ $r->{vals} };
        for my $e (@{ $err{$hid} }) {
            # the request line is compared whole below; a token must not
            # show anywhere else in the line (the message, the upstream)
            my $rest = $e->{line};
            $rest =~ s/, request: "\Q$e->{request}\E//s if defined $e->{request};
            my @leaks = grep { index($rest, $_) >= 0 } @vals;
            if ($e->{early}) {
                # written while nginx read the request: no module has run
                note('early', 'nginx logged the query token while reading the request: '
                              . Hostile::Http::printable($e->{message}, 160), $r)
                    if (grep { index($e->{line}, $_) >= 0 } @vals) && once_per($r, 'early');
                next;
            }
            my $got = $e->{request};
            if (@leaks) {
                my $up = defined $e->{upstream}
                         && grep { index($e->{upstream}, $_) >= 0 } @leaks;
                my $where = $up ? ' (in the upstream URI nginx logs)' : '';
                my $show = $up ? Hostile::Http::printable($e->{message}, 160)
                                 . ' ... upstream: "' . Hostile::Http::printable($e->{upstream}, 200)
                                 . '"'
                               : Hostile::Http::printable($e->{line}, 300);
                fail('mask', "error.log shows the token$where: $show", $r)
                    if once_per($r, "mask$where");
                next;
            }
            next unless defined $got;
            $err_compared++;
            my $same = grep { $e->{cut} ? index($_, $got) == 0 : $got eq $_ }
                       $r->{expect_line}, $r->{expect_wide};
            next if $same;
            if (@{ $r->{vals} } && partly_masked($r->{line},
                                                 token_args($r->{line}, MASKED),
                                                 $got, $e->{cut})) {
                fail('mask', 'error.log shows the request line unmasked: '
                             . Hostile::Http::printable($e->{line}, 300), $r)
                    if once_per($r, 'mask');
            } else {
                fail('corrupt', 'error.log shows another request line than the one sent: "'
                                . Hostile::Http::printable($got, 200) . '"', $r)
                    if once_per($r, 'corrupt');
            }
        }
    }

    # lines tied to no request: no token that had to be masked may show
    # (looked up by their last 8 bytes, which are random in every token)
    my %tail;
    for my $v (keys %mustmask) {
        push @{ $tail{ substr $v, -8 } }, $v unless $mayshow{$v};
    }
    my %seen;
    for my $e (@loose, map { { line => $_->{request_esc}, acc => 1 } } @acc_orphans) {
        my $l = $e->{line};
        for my $i (0 .. length($l) - 8) {
            my $c = $tail{ substr $l, $i, 8 } or next;
            for my $v (@$c) {
                my $at = $i + 8 - length $v;
                next if $at < 0 || substr($l, $at, length $v) ne $v || $seen{$v}++;
                my $r = $mustmask{$v};
                if ($e->{early}) {
                    note('early', 'nginx logged the query token while reading the request', $r);
                } else {
                    fail('mask', 'a token shows in a log line tied to no request: '
                                 . Hostile::Http::printable($l, 300), $r);
                }
            }
        }
    }

    #----------------------------------------------------------------------
    # crashes and the sanitizers
    #----------------------------------------------------------------------
    fail('crash', Hostile::Http::printable($_, 300)) for @crash;
    my %kinds;
    for my $f (glob "$dir/asan/*") {
        my $t = slurp($f);
        next unless $t =~ /ngx_|rooms_/;
        my ($kind) = $t =~ /(AddressSanitizer: [\w-]+|runtime error: [^\n]*)/;
        my @frames = map { s{ /\S*/}{ }r } $t =~ /^\s+#\d+ 0x[0-9a-f]+ in (\S+ \S+)/mg;
        @frames = grep { !/^__interceptor|^__asan/ } @frames;
        my $k = ($kind // 'a report') . ' in ' . join(' <- ', @frames[0 .. 2]);
        $kinds{$k}{n}++;
        $kinds{$k}{file} //= $f;
    }
    fail('asan', "$kinds{$_}{n} x $_ (e.g. $kinds{$_}{file})") for sort keys %kinds;

    # RSS: under ASan the quarantine (256 MB) holds freed memory, so the
    # bound is that and a margin, for each worker that lived through it
    my $slack = ($ENV{HOSTILE_RSS_SLACK_MB} // 384) * 1024;
    for my $w (sort keys %{ $R->{rss1} }) {
        next unless exists $R->{rss0}{$w};
        fail('rss', "worker $w grew from $R->{rss0}{$w} kB to $R->{rss1}{$w} kB"
                    . ' (more than ' . ($slack / 1024) . ' MB)')
            if $R->{rss1}{$w} > $R->{rss0}{$w} + $slack;
    }

    #----------------------------------------------------------------------
    # the report
    #----------------------------------------------------------------------
    printf "\nseed %s, count %s, families %s%s; %d requests in %.1f s\n",
           $R->{seed}, $R->{count}, "@{ $R->{fams} }",
           @{ $R->{skip} } ? " (left out: @{ $R->{skip} })" : '',
           scalar @all, $R->{phase}{total};
    print "requests and statuses by family:\n";
    for my $f (sort keys %sent) {
        printf "  %-9s %6d  %s\n", $f, $sent{$f},
               join ' ', map { "$_:$stat{$f}{$_}" } sort keys %{ $stat{$f} };
    }
    printf "logs: %d access log lines compared byte for byte (%d with query tokens to mask),"
           . " %d error.log request lines\n", $lines_compared, $masked_checked, $err_compared;
    printf "worker RSS before: %s; after: %s\n",
           join(', ', map { "$_ $R->{rss0}{$_} kB" } sort keys %{ $R->{rss0} }),
           join(', ', map { "$_ $R->{rss1}{$_} kB" } sort keys %{ $R->{rss1} });

    my %nc;
    $nc{ $_->[0] }++ for @NOTE;
    if (@NOTE) {
        print "\nnotes, not failures:\n";
        for my $c (sort keys %nc) {
            my ($n) = grep { $_->[0] eq $c } @NOTE;
            printf "  %s: %d requests: %s\n    e.g. %s\n    %s\n", $c, $nc{$c},
                   $TITLES{$c} // '', $n->[1], $n->[2] ? describe($n->[2]) : '';
        }
    }

    if (!@FAIL) {
        print "\nPASS hostile: no crash or sanitizer report, every logged request line as"
              . " expected, no admission without a valid token, every response well-formed\n";
        return 0;
    }

    print "\nfailures by kind:\n";
    my %cnt;
    $cnt{ $_->[0] }++ for @FAIL;
    for my $c (sort { $cnt{$b} <=> $cnt{$a} || $a cmp $b } keys %cnt) {
        # by the known findings the failing requests can trigger (Gen.pm,
        # known_tags): what fails under none of them is new
        my (%by, %one);
        for my $f (grep { $_->[0] eq $c && $_->[2] } @FAIL) {
            next if $one{ $f->[2]{hid} }++;
            my @k = sort keys %{ $f->[2]{known} };
            push @k, "after $f->[2]{after}" if $f->[2]{after};
            $by{ join(' ', @k) || 'none of the known' }++;
        }
        printf "FAIL hostile %s: %d (%s)%s\n", $c, $cnt{$c}, $TITLES{$c} // $c,
               %by ? '; requests by known finding: '
                     . join(', ', map { "[$_] $by{$_}" } sort { $by{$b} <=> $by{$a} } keys %by)
                   : '';
        my ($shown, %dup) = (0);
        for my $f (grep { $_->[0] eq $c } @FAIL) {
            my ($cl, $msg, $r) = @$f;
            # one example per kind of request and message
            my $key = substr(($r ? "$r->{fam} $r->{what} " : '') . $msg, 0, 100) =~ s/[0-9]+/N/gr;
            next if $dup{$key}++;
            last if ++$shown > 10;
            print "    $msg\n";
            print '      request ', describe($r), "\n" if $r;
        }
    }
    # every failure in failures.txt, every failing request byte for byte
    # in failures/HID.req, for replays
    mkdir "$dir/failures";
    my %kept;
    my $all = '';
    for my $f (@FAIL) {
        my ($c, $msg, $r) = @$f;
        $all .= "$c: $msg\n";
        next unless $r;
        my @k = sort keys %{ $r->{known} };
        push @k, "after $r->{after}" if $r->{after};
        $all .= '    [' . join(' ', @k) . '] ' . describe($r) . "\n";
        spit("$dir/failures/$r->{hid}.req", $r->{bytes}) unless $kept{ $r->{hid} }++;
    }
    spit("$dir/failures.txt", $all);
    printf "(every failure in %s/failures.txt; the %d failing requests byte for byte in"
           . " %s/failures/HID.req)\n", $dir, scalar keys %kept, $dir;
    return 1;
}

#--------------------------------------------------------------------------
# replay DIR HID...: each request again, alone, against the running
# gateway; prints the ones after which a worker died or a sanitizer wrote
#--------------------------------------------------------------------------

sub cmd_replay {
    my ($dir, @hids) = @_;
    my $S = load_state($dir);
    $Hostile::Http::PORT = $S->{port};
    $Hostile::Http::TIMEOUT = 5;
    my $R = retrieve("$dir/results.sto");
    my %req;
    for my $list (qw(first cases storm last live)) {
        for my $c (@{ $R->{$list} }) { $req{ $_->{hid} } = $_ for @{ $c->{reqs} } }
    }
    my $reports = sub { scalar grep { slurp($_) =~ /ngx_|rooms_/ } glob "$dir/asan/*" };
    my $signals = sub {
        my $n = () = slurp("$dir/logs/error.log") =~ /exited (?:on signal|with code [1-9])/g;
        return $n;
    };
    mkdir "$dir/failures";
    my ($found, %kind) = (0);
    for my $hid (@hids) {
        my $r = $req{$hid} or next;
        # one request of each kind is enough
        next if $kind{ "$r->{fam} $r->{what}" =~ s/[0-9]+/N/gr }++;
        my ($n0, $s0) = ($reports->(), $signals->());
        my $x = Hostile::Http::run_case({ mode => 'once', reqs => [$r] })->{$hid};
        sleep 0.3;
        my ($n1, $s1) = ($reports->(), $signals->());
        if ($n1 > $n0 || $s1 > $s0 || ($x->{error} && $x->{error} =~ /closed|reset/)) {
            $found++;
            spit("$dir/failures/crash-$hid.req", $r->{bytes});
            print "FAIL hostile crash: replayed alone, it kills the worker ("
                  . ($n1 - $n0) . ' new sanitizer reports, ' . ($s1 - $s0) . " worker exits): "
                  . describe($r) . "\n";
        }
        last if $found >= 8;
    }
    print "replay: " . scalar(keys %kind) . " kinds of request that lost their connection"
          . " replayed alone, $found of them kill the worker\n";
}

my ($cmd, @args) = @ARGV;
my %cmds = (keys => \&cmd_keys, seed => \&cmd_seed, run => \&cmd_run,
            check => \&cmd_check, replay => \&cmd_replay);
die "usage: $0 keys|seed|run|check|replay DIR\n" unless $cmd && $cmds{$cmd} && @args;
my $rc = $cmds{$cmd}->(@args);
exit($cmd eq 'check' ? $rc : 0);
