#!/usr/bin/env perl
# Helpers of lua-free-tests/faults/run.sh, Perl core modules only.
#
#   faults.pl keys DIR                   HS256 key + JWKS for the gateway
#   faults.pl setup DIR ROOMS USERS      rooms, identities and token files
#   faults.pl aof-create FILE N          N rooms with participants, via the API
#   faults.pl aof-verify FILE            ... all still there, via the API
#   faults.pl stall-probe DIR TIMEOUT_MS SLACK_MS
#                                        requests during a Redis stall
#   faults.pl abort-storm DIR N PROCS    N requests closed right after sending
#   faults.pl check-gateway DIR          invited 200, refused 401/403, API 200
#
# Env: FAULTS_ENDPOINT (http://127.0.0.1:PORT), FAULTS_KEY (the access key,
# base64).  DIR holds jwt.key (written by "keys") and the files "setup"
# writes.  Checks print "PASS ..." / "FAIL ..." lines; the exit status is
# the number of failures (capped).
use strict;
use warnings;

use Digest::SHA qw(sha256_base64 hmac_sha256_base64 hmac_sha256);
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(strftime _exit);
use HTTP::Tiny;
use JSON::PP;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

$| = 1;

my $V     = 'api-version=2025-03-13';
my $IDV   = 'api-version=2023-10-01';
my $JSON  = JSON::PP->new->canonical;
my $fails = 0;

sub check {
    my ($ok, $what) = @_;
    print(($ok ? 'PASS' : 'FAIL'), " $what\n");
    $fails++ unless $ok;
    return $ok;
}

sub slurp { local (@ARGV, $/) = @_; return <> }

sub spit {
    my ($f, $s) = @_;
    open my $fh, '>', $f or die "$f: $!\n";
    print $fh $s;
    close $fh or die "$f: $!\n";
}

#--------------------------------------------------------------------------
# tokens
#--------------------------------------------------------------------------

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

my $JWT_KEY;

sub jwt_key {
    my $dir = shift;
    $JWT_KEY //= pack 'H*', slurp("$dir/jwt.key");
    return $JWT_KEY;
}

# token(DIR, sub => ..., [room => ..., iat => ..., exp => ..., key => ...])
sub token {
    my ($dir, %c) = @_;
    my $key = delete $c{key} // jwt_key($dir);
    my $now = time;
    $c{iat} //= int($now) - 10;
    $c{exp} //= int($now) + 7200;
    $c{$_} += 0 for qw(iat exp);
    my $input = b64url($JSON->encode({ alg => 'HS256', typ => 'JWT',
                                       kid => 'faults-k1' }))
                . '.' . b64url($JSON->encode(\%c));
    return "$input." . b64url(hmac_sha256($input, $key));
}

sub alg_none {
    my %c = @_;
    return b64url($JSON->encode({ alg => 'none', typ => 'JWT',
                                  kid => 'faults-k1' }))
           . '.' . b64url($JSON->encode(\%c)) . '.';
}

#--------------------------------------------------------------------------
# the API, signed the way ACS signs
#--------------------------------------------------------------------------

my ($ENDPOINT, $HOST, $KEY);

sub api_env {
    $ENDPOINT = $ENV{FAULTS_ENDPOINT} or die "set FAULTS_ENDPOINT\n";
    $KEY = $ENV{FAULTS_KEY} or die "set FAULTS_KEY\n";
    $ENDPOINT =~ s{/+$}{};
    ($HOST) = $ENDPOINT =~ m{^https?://([^/]+)};
}

sub pad { my $s = shift; $s .= '=' while length($s) % 4; $s }

sub acs_headers {
    my ($method, $path, $body) = @_;
    $body //= '';
    my $date = strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime);
    my $hash = pad(sha256_base64($body));
    my $sig = pad(hmac_sha256_base64("$method\n$path\n$date;$HOST;$hash",
                                     decode_base64($KEY)));
    return ('x-ms-date' => $date, 'x-ms-content-sha256' => $hash,
            'Authorization' => 'HMAC-SHA256 SignedHeaders=x-ms-date;host;'
                               . "x-ms-content-sha256&Signature=$sig");
}

my $HTTP = HTTP::Tiny->new(timeout => 10, keep_alive => 1);

# call(METHOD, PATH, [BODY]) -> (status, decoded JSON or undef, response)
sub call {
    my ($method, $path, $body) = @_;
    my %h = acs_headers($method, $path, $body);
    $h{'Content-Type'} = $method eq 'PATCH' ? 'application/merge-patch+json'
                                            : 'application/json'
        if defined $body;
    my $res = $HTTP->request($method, "$ENDPOINT$path",
        { headers => \%h, defined $body ? (content => $body) : () });
    my $json = eval { decode_json($res->{content}) };
    return ($res->{status}, $json, $res);
}

sub must {
    my ($want, $what, @call) = @_;
    my ($st, $json, $res) = call(@call);
    die "$what: expected $want, got $st: "
        . substr($res->{content} // '', 0, 300) . "\n"
        unless $st == $want;
    return $json;
}

#--------------------------------------------------------------------------
# keys DIR: the HS256 key and a JWKS with it
#--------------------------------------------------------------------------

sub cmd_keys {
    my $dir = shift;
    open my $r, '<', '/dev/urandom' or die "/dev/urandom: $!\n";
    read($r, my $key, 48) == 48 or die "short read\n";
    spit("$dir/jwt.key", unpack('H*', $key));
    spit("$dir/jwks.json", $JSON->encode({ keys => [
        { kty => 'oct', kid => 'faults-k1', alg => 'HS256', use => 'sig',
          k => b64url($key) } ] }) . "\n");
}

#--------------------------------------------------------------------------
# setup DIR ROOMS USERS
#   invited.txt  "ROOM/x TOKEN" for every participant, "ROOM/publish TOKEN"
#                for the Presenters: all must be admitted
#   refused.txt  tokens that must all be refused (401/403), of every kind
#   probe.env    shell variables: ROOM, TOKEN (invited), STRANGER (403)
#--------------------------------------------------------------------------

my @ROLES = qw(Presenter Attendee Consumer Collaborator);

sub cmd_setup {
    my ($dir, $nrooms, $nusers) = @_;
    api_env();
    my (@invited, @refused, @rooms, %parts);
    my $tag = sprintf '%x%x', time, $$;

    for my $r (1 .. $nrooms) {
        my %p = map { ("8:acs:faults_${tag}_r${r}_u$_" => { role => $ROLES[$_ % 4] }) }
                0 .. $nusers - 1;
        my $room = must(201, 'create room', 'POST', "/rooms?$V",
                        $JSON->encode({ participants => \%p }));
        push @rooms, $room->{id};
        $parts{$room->{id}} = \%p;
    }

    # identities made by the API, invited to the first room, then one
    # revoked and one deleted: their older tokens must be refused
    my $first = $rooms[0];
    my (@revoked, @deleted);
    for my $kind (qw(revoke delete)) {
        my $id = must(201, 'create identity', 'POST', "/identities?$IDV", '{}')
                 ->{identity}{id};
        must(200, 'invite identity', 'PATCH', "/rooms/$first/participants?$V",
             $JSON->encode({ participants => { $id => { role => 'Presenter' } } }));
        if ($kind eq 'revoke') {
            must(204, 'revoke', 'POST', "/identities/$id/:revokeAccessTokens?$IDV");
            push @revoked, $id;
        } else {
            must(204, 'delete identity', 'DELETE', "/identities/$id?$IDV");
            push @deleted, $id;
        }
    }

    my $now = int time;
    my $wrong_key = 'x' x 48;
    for my $i (0 .. $#rooms) {
        my $room = $rooms[$i];
        my $other = $rooms[($i + 1) % @rooms];
        for my $u (sort keys %{ $parts{$room} }) {
            my $t = token($dir, sub => $u);
            push @invited, "$room/x $t";
            push @invited, "$room/publish $t"
                if $parts{$room}{$u}{role} eq 'Presenter';
        }
        my ($u) = sort keys %{ $parts{$room} };
        my ($att) = grep { $parts{$room}{$_}{role} eq 'Attendee' }
                    sort keys %{ $parts{$room} };
        push @refused,
            "$room/x " . token($dir, sub => "8:acs:faults_${tag}_stranger$i"),
            "$room/x " . token($dir, sub => $u, key => $wrong_key),
            "$room/x " . token($dir, sub => $u, room => $other),
            "$room/x " . token($dir, sub => $u, iat => $now - 7200,
                               exp => $now - 3600),
            "$room/x " . alg_none(sub => $u, iat => $now, exp => $now + 600),
            "$room/x not.a.token",
            "$room/x -",
            "$room/publish " . token($dir, sub => $att),
            sprintf('%017d/x %s', 10**16 + $i, token($dir, sub => $u));
    }
    push @refused, "$first/x " . token($dir, sub => $_) for @revoked, @deleted;

    spit("$dir/invited.txt", join("\n", @invited) . "\n");
    spit("$dir/refused.txt", join("\n", @refused) . "\n");
    spit("$dir/rooms.txt", join("\n", @rooms) . "\n");

    my ($pu) = sort keys %{ $parts{$first} };
    spit("$dir/probe.env", join '', map { "$_\n" }
        "ROOM=$first",
        "TOKEN=" . token($dir, sub => $pu),
        "STRANGER=" . token($dir, sub => "8:acs:faults_${tag}_probe_stranger"));

    printf "setup: %d rooms x %d participants (+2 identities); %d invited "
           . "and %d refused request lines\n",
           scalar @rooms, $nusers, scalar @invited, scalar @refused;
}

#--------------------------------------------------------------------------
# aof-create FILE N / aof-verify FILE
#--------------------------------------------------------------------------

sub list_participants {
    my $id = shift;
    my ($st, $json) = call('GET', "/rooms/$id/participants?$V&maxpagesize=1000");
    return ($st, undef) unless $st == 200;
    return ($st, { map { $_->{rawId} => $_->{role} } @{ $json->{value} } });
}

sub cmd_aof_create {
    my ($file, $n) = @_;
    api_env();
    my %want;
    my $tag = sprintf '%x%x', time, $$;
    my $nparts = 0;
    for my $r (1 .. $n) {
        my %p = map { ("8:acs:aof_${tag}_r${r}_u$_" => { role => $ROLES[($r + $_) % 4] }) }
                1 .. 2 + $r % 4;
        my $room = must(201, 'create room', 'POST', "/rooms?$V",
                        $JSON->encode({ pstnDialOutEnabled => ($r % 2 ? JSON::PP::true
                                                                      : JSON::PP::false),
                                        participants => \%p }));
        # one more participant through PATCH, one role changed
        my ($u1) = sort keys %p;
        must(200, 'patch participants', 'PATCH', "/rooms/$room->{id}/participants?$V",
             $JSON->encode({ participants => {
                 "8:acs:aof_${tag}_r${r}_late" => { role => 'Consumer' },
                 $u1 => { role => 'Collaborator' } } }));
        $p{"8:acs:aof_${tag}_r${r}_late"} = { role => 'Consumer' };
        $p{$u1} = { role => 'Collaborator' };
        $want{$room->{id}} = { room => $room,
                               participants => { map { $_ => $p{$_}{role} } keys %p } };
        $nparts += keys %p;
    }
    spit($file, $JSON->encode(\%want));
    print "aof: created $n rooms with $nparts participants through the API\n";
}

sub cmd_aof_verify {
    my $file = shift;
    api_env();
    my $want = decode_json(slurp($file));
    my ($rooms_ok, $parts_ok, $nparts, @bad) = (0, 0, 0);
    for my $id (sort keys %$want) {
        my $w = $want->{$id};
        my ($st, $room) = call('GET', "/rooms/$id?$V");
        if ($st == 200 && !grep { ($room->{$_} // '') ne ($w->{room}{$_} // '') }
                                 qw(id createdAt validFrom validUntil pstnDialOutEnabled)) {
            $rooms_ok++;
        } else {
            push @bad, "room $id: $st " . ($st == 200 ? $JSON->encode($room) : '');
        }
        my ($pst, $got) = list_participants($id);
        for my $u (sort keys %{ $w->{participants} }) {
            $nparts++;
            if ($got && ($got->{$u} // '') eq $w->{participants}{$u}) {
                $parts_ok++;
            } else {
                push @bad, "room $id participant $u: $pst " . ($got->{$u} // 'missing');
            }
        }
        push @bad, "room $id: extra participants"
            if $got && keys %$got != keys %{ $w->{participants} };
    }
    my $n = keys %$want;
    check($rooms_ok == $n, "aof: rooms intact after the restart ($rooms_ok/$n, "
                           . "same createdAt/validFrom/validUntil/pstn)");
    check($parts_ok == $nparts && !grep(/extra/, @bad),
          "aof: participant lists intact after the restart ($parts_ok/$nparts, roles equal)");
    print "  $_\n" for @bad[0 .. ($#bad < 9 ? $#bad : 9)];
}

#--------------------------------------------------------------------------
# raw HTTP requests, timed
#--------------------------------------------------------------------------

sub port_of { my ($p) = $ENDPOINT =~ /:(\d+)$/; $p }

# one GET on a fresh connection: (status, ms, headers text, ms of them
# spent in connect).  The kernel completes a connect to a listening socket
# without nginx; on a busy 2-core machine the client itself may wait there
# to be scheduled, so the figure after it is the gateway's own latency.
sub timed_get {
    my ($path, %h) = @_;
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port_of(),
                                  Timeout => 10)
        or return (0, (time - $t0) * 1000, "connect: $!", (time - $t0) * 1000);
    my $conn = (time - $t0) * 1000;
    my $req = "GET $path HTTP/1.1\r\nHost: $HOST\r\nConnection: close\r\n"
              . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n";
    syswrite $s, $req;
    my $buf = '';
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    while (1) {
        my $left = 10 - (time - $t0);
        last if $left <= 0;
        last unless select(my $rout = $rin, undef, undef, $left);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    my $ms = (time - $t0) * 1000;
    my ($st) = $buf =~ m{^HTTP/1\.\d (\d{3})};
    return ($st // 0, $ms, $buf, $conn);
}

sub api_get_headers { my $p = shift; my %h = acs_headers('GET', $p); %h }

# in parallel: each sub returns a line; the lines, in order
sub parallel_lines {
    my @subs = @_;
    my @pipes;
    for my $s (@subs) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            print $w $s->();
            close $w;
            _exit(0);
        }
        close $w;
        push @pipes, [$pid, $r];
    }
    my @out;
    for (@pipes) {
        my ($pid, $r) = @$_;
        local $/;
        push @out, scalar <$r>;
        waitpid $pid, 0;
    }
    return @out;
}

sub env_file {
    my $f = shift;
    my %e = map { /^(\w+)=(.*)$/ ? ($1 => $2) : () } split /\n/, slurp($f);
    return \%e;
}

#--------------------------------------------------------------------------
# stall-probe DIR TIMEOUT_MS SLACK_MS: called right after Redis stalls.
# In parallel: admission without cache, admission through the cache for a
# user never seen (a miss), API GETs; and /health every 50 ms meanwhile.
#--------------------------------------------------------------------------

sub cmd_stall_probe {
    my ($dir, $timeout, $slack) = @_;
    api_env();
    my $p = env_file("$dir/probe.env");
    my $fresh = token($dir, sub => sprintf('8:acs:faults_stall_%x_%d', time * 1000, $$));
    my @kinds;
    push @kinds, ['admission (no cache)', "/nc/media/$p->{ROOM}/x", Authorization => "Bearer $p->{TOKEN}"]
        for 1 .. 3;
    push @kinds, ['admission (cache miss)', "/media/$p->{ROOM}/x", Authorization => "Bearer $fresh"]
        for 1 .. 3;
    push @kinds, ['API GET room', "/rooms/$p->{ROOM}?$V", api_get_headers("/rooms/$p->{ROOM}?$V")]
        for 1 .. 2;
    push @kinds, ['API list participants', "/rooms/$p->{ROOM}/participants?$V",
                  api_get_headers("/rooms/$p->{ROOM}/participants?$V")]
        for 1 .. 2;

    # a first request before the fork: perl loads its socket code on the
    # first connect, which is not the gateway's time
    timed_get('/health');

    # /health from the connected socket to the whole response (a worker
    # blocked on Redis would hold it for the timeout, 1 s); the slowest
    # connect is reported too
    my $health = sub {
        my ($n, $bad, $max, $cmax, @all) = (0, 0, 0, 0);
        my $end = time + ($timeout + $slack) / 1000 + 0.2;
        while (time < $end) {
            my ($st, $ms, undef, $conn) = timed_get('/health');
            $n++;
            $bad++ unless $st == 200;
            $ms -= $conn;
            $max = $ms if $ms > $max;
            $cmax = $conn if $conn > $cmax;
            push @all, $ms;
            sleep 0.05;
        }
        @all = sort { $a <=> $b } @all;
        return sprintf "health %d %d %.1f %.1f %.1f\n", $n, $bad, $max,
                       $all[int(@all / 2)] // 0, $cmax;
    };

    my @out = parallel_lines($health, map {
        my ($what, $path, %h) = @$_;
        sub {
            my ($st, $ms, $buf) = timed_get($path, %h);
            my $ra = $buf =~ /^Retry-After: 1\r$/mi ? 1 : 0;
            return "req $st $ms $ra $what\n";
        }
    } @kinds);

    my %by;
    for (@out) {
        if (/^health (\d+) (\d+) (\S+) (\S+) (\S+)/) {
            check($2 == 0 && $3 < 100,
                  sprintf('stall: /health answered during the stall: %d requests, '
                          . '%d not 200, max %.1f ms, median %.1f ms from the '
                          . 'connected socket (< 100 ms; slowest connect %.1f ms)',
                          $1, $2, $3, $4, $5));
        } elsif (/^req (\d+) (\S+) (\d) (.*)$/) {
            push @{ $by{$4} }, [$1, $2, $3];
        }
    }
    for my $what (sort keys %by) {
        my @r = @{ $by{$what} };
        my $ok = !grep { $_->[0] != 503 || $_->[1] > $timeout + $slack || !$_->[2] } @r;
        check($ok, sprintf('stall: %s answered 503 + Retry-After within timeout %d '
                           . '+ %d ms: %s', $what, $timeout, $slack,
                           join(', ', map { sprintf '%d in %.0f ms%s', $_->[0], $_->[1],
                                            $_->[2] ? '' : ' (no Retry-After)' } @r)));
    }
}

#--------------------------------------------------------------------------
# check-gateway DIR: after a fault, everything answers as it should
#--------------------------------------------------------------------------

sub cmd_check_gateway {
    my ($dir, $label) = @_;
    api_env();
    $label //= 'after';
    my $p = env_file("$dir/probe.env");
    my @r;
    for my $pre ('/media', '/nc/media') {
        my ($st) = timed_get("$pre/$p->{ROOM}/x", Authorization => "Bearer $p->{TOKEN}");
        push @r, ["$pre invited", $st, 200];
        ($st) = timed_get("$pre/$p->{ROOM}/x", Authorization => "Bearer $p->{STRANGER}");
        push @r, ["$pre stranger", $st, 403];
        ($st) = timed_get("$pre/$p->{ROOM}/x");
        push @r, ["$pre no token", $st, 401];
    }
    my ($st, $room) = call('GET', "/rooms/$p->{ROOM}?$V");
    push @r, ['API GET room', ($st == 200 && $room->{id} eq $p->{ROOM}) ? 200 : "$st", 200];
    my ($pst, $parts) = list_participants($p->{ROOM});
    push @r, ['API participants', ($pst == 200 && keys %$parts >= 2) ? 200 : $pst, 200];
    ($st) = timed_get('/health');
    push @r, ['/health', $st, 200];
    my @bad = grep { $_->[1] ne $_->[2] } @r;
    check(!@bad, "$label: the gateway answers correctly ("
                 . join(', ', map { "$_->[0] $_->[1]" } @r) . ')');
}

#--------------------------------------------------------------------------
# abort-storm DIR N PROCS: N requests (admission without cache, admission
# through the cache for never-seen users, API GETs), each closed right
# after it is sent (FIN, or RST for every other one), a few ms apart
#--------------------------------------------------------------------------

sub cmd_abort_storm {
    my ($dir, $n, $procs) = @_;
    api_env();
    my $p = env_file("$dir/probe.env");
    my $port = port_of();
    my $per = int(($n + $procs - 1) / $procs);
    my $t0 = time;
    my @out = parallel_lines(map {
        my $k = $_;
        sub {
            my ($sent, $failed) = (0, 0);
            for my $j (1 .. $per) {
                my $path;
                my %h;
                my $kind = ($k * $per + $j) % 4;
                if ($kind == 0) {
                    $path = "/nc/media/$p->{ROOM}/x";
                    $h{Authorization} = "Bearer $p->{TOKEN}";
                } elsif ($kind == 1) {
                    $path = "/media/$p->{ROOM}/x";
                    $h{Authorization} = 'Bearer '
                        . token($dir, sub => "8:acs:faults_abort_${k}_$j");
                } elsif ($kind == 2) {
                    $path = "/rooms/$p->{ROOM}?$V";
                    %h = api_get_headers($path);
                } else {
                    $path = "/rooms/$p->{ROOM}/participants?$V";
                    %h = api_get_headers($path);
                }
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $port, Timeout => 2);
                unless ($s) { $failed++; next }
                syswrite $s, "GET $path HTTP/1.1\r\nHost: $HOST\r\n"
                             . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
                             . "\r\n";
                sleep(0.001 + rand(0.004));
                setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $j % 2;
                close $s;
                $sent++;
            }
            return "storm $sent $failed\n";
        }
    } 1 .. $procs);
    my ($sent, $failed) = (0, 0);
    for (@out) { if (/^storm (\d+) (\d+)/) { $sent += $1; $failed += $2 } }
    printf "abort-storm: %d requests sent and abandoned (%d connect failures) "
           . "in %.0f ms\n", $sent, $failed, (time - $t0) * 1000;
    exit($failed ? 1 : 0);
}

my %cmds = (
    'keys'          => \&cmd_keys,
    'setup'         => \&cmd_setup,
    'aof-create'    => \&cmd_aof_create,
    'aof-verify'    => \&cmd_aof_verify,
    'stall-probe'   => \&cmd_stall_probe,
    'check-gateway' => \&cmd_check_gateway,
    'abort-storm'   => \&cmd_abort_storm,
);

my $cmd = shift // '';
my $f = $cmds{$cmd} or die "usage: $0 keys|setup|aof-create|aof-verify|"
                           . "stall-probe|check-gateway|abort-storm ...\n";
unless (eval { $f->(@ARGV); 1 }) {
    my $e = $@;
    $e =~ s/\s+$//;
    check(0, "$cmd: $e");
}
exit($fails > 100 ? 100 : $fails);
