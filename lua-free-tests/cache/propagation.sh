#!/usr/bin/env bash
# Cache invalidation across gateways: two nginx instances with rooms_cache
# (ttl=60s, so only pub/sub can invalidate in time) on one Redis.  A change
# made through gateway A must be refused by gateway B, whose cache held the
# admission.  Prints the measured delays; fails if B still admits after 2 s
# or never served from its cache.
#
#   lua-free-tests/cache/propagation.sh [rounds]
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

ROUNDS=${1:-20}
DIR=$ROOT/build/propagation
rm -rf "$DIR"
mkdir -p "$DIR"

cleanup() {
    for g in a b; do stop_pidfile "$DIR/$g/nginx.pid" QUIT; done
    redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
    stop_pidfile "$DIR/redis/redis.pid"
}
trap cleanup EXIT

[ -f "$MODULE" ] || "$ROOT/scripts/build" >/dev/null || exit 1

RPORT=$(free_port)
start_redis "$DIR/redis" "$RPORT" || exit 1
KEY=$(head -c 32 /dev/urandom | base64)
node "$ROOT/scripts/make-jwks.mjs" > "$DIR/jwks.json" || exit 1

for g in a b; do
    port=$(free_port)
    echo "$port" > "$DIR/$g.port"
    mkdir -p "$DIR/$g/logs"
    cat > "$DIR/$g/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 2;
error_log logs/error.log info;
pid nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    rooms_redis 127.0.0.1:$RPORT timeout=1s;
    rooms_access_key $KEY;
    rooms_token_keys $DIR/jwks.json;
    rooms_cache zone=rooms:8m ttl=60s;
    server {
        listen 127.0.0.1:$port;
        location /rooms { rooms_api; }
        location /identities { rooms_api; }
        location = /stats { return 200 "\$rooms_cache_stats"; }
        location ~ ^/media/(?<room>[0-9]+) {
            rooms_admission \$room;
            empty_gif;
        }
    }
}
CONF
    nginx -p "$DIR/$g" -c "$DIR/$g/nginx.conf" -e "$DIR/$g/logs/error.log" || exit 1
done
sleep 0.5

ROOMS_A="http://127.0.0.1:$(cat "$DIR/a.port")" \
ROOMS_B="http://127.0.0.1:$(cat "$DIR/b.port")" \
ROOMS_KEY=$KEY ROUNDS=$ROUNDS perl -I"$ROOT/t" - <<'PERL'
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);
use RoomsTest;

my ($A, $B, $key) = @ENV{qw(ROOMS_A ROOMS_B ROOMS_KEY)};
my ($hostA) = $A =~ m{//(.*)};
my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
my $failed = 0;

sub api {
    my ($method, $path, $body) = @_;
    my %h = acs_sign($method, $path, $body, key => $key, host => $hostA);
    $h{'Content-Type'} = 'application/merge-patch+json' if defined $body;
    my $r = $http->request($method, "$A$path",
        { headers => \%h, defined $body ? (content => $body) : () });
    die "$method $path: $r->{status} $r->{content}\n" unless $r->{success};
    return $r->{content} ? decode_json($r->{content}) : {};
}

sub admit {
    my ($room, $token) = @_;
    return $http->get("$B/media/$room/x",
        { headers => { Authorization => "Bearer $token" } })->{status};
}

sub hits { ($http->get("$B/stats")->{content} =~ /hits=(\d+)/)[0] // 0 }

my $u = api('POST', '/identities?api-version=2023-10-01',
            '{"createTokenWithScopes":["voip"]}');
my ($uid, $token) = ($u->{identity}{id}, $u->{accessToken}{token});
(my $euid = $uid) =~ s/([^A-Za-z0-9_.~-])/sprintf("%%%02X", ord $1)/ge;
my $V = 'api-version=2025-03-13';
my (%delays, $cached);

for my $round (1 .. $ENV{ROUNDS}) {
    for my $change ('removal', 'room deletion', 'revocation') {
        my $room = api('POST', "/rooms?$V",
            encode_json({ participants => { $uid => { role => 'Attendee' } } }))->{id};
        # a token issued after the previous round's revocation
        $token = api('POST', "/identities/$euid/:issueAccessToken?api-version=2023-10-01",
                     '{"scopes":["voip"]}')->{token};

        # B admits, the second time from its cache
        my $h0 = hits();
        admit($room, $token) == 200 && admit($room, $token) == 200
            or die "round $round: B does not admit before the $change\n";
        $cached++ if hits() > $h0;

        if ($change eq 'removal') {
            api('PATCH', "/rooms/$room/participants?$V",
                encode_json({ participants => { $uid => undef } }));
        } elsif ($change eq 'room deletion') {
            api('DELETE', "/rooms/$room?$V");
        } else {
            api('POST', "/identities/$euid/:revokeAccessTokens?api-version=2023-10-01");
        }

        # from the moment A answered, poll B until it refuses
        my $t0 = time;
        my $ms;
        while (1) {
            my $st = admit($room, $token);
            if ($st == 401 || $st == 403) { $ms = (time - $t0) * 1000; last }
            if (time - $t0 > 2) { $ms = undef; last }
        }
        push @{ $delays{$change} }, $ms // 1e9;
    }
}

for my $change (sort keys %delays) {
    my @d = sort { $a <=> $b } @{ $delays{$change} };
    my $never = grep { $_ >= 1e9 } @d;
    printf "%s propagation: %s: median %.1f ms, max %s over %d changes\n",
        ($never ? 'FAIL' : 'PASS'), $change, $d[$#d / 2],
        ($never ? "never (>2 s) x$never" : sprintf("%.1f ms", $d[-1])),
        scalar @d;
    $failed++ if $never;
}
printf "%s propagation: gateway B served %d of %d pre-change admissions from its cache\n",
    ($cached ? 'PASS' : 'FAIL'), $cached // 0, 3 * $ENV{ROUNDS};
$failed++ unless $cached;
my @all = sort { $a <=> $b } map { @$_ } values %delays;
printf "propagation across gateways: max %.1f ms over %d changes\n", $all[-1], scalar @all;
exit($failed ? 1 : 0);
PERL
rc=$?
if grep -E '\[(alert|emerg|crit)\]|exited on signal' "$DIR"/*/logs/error.log; then rc=1; fi
exit $rc
