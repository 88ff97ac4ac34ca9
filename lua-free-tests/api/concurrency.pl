#!/usr/bin/env perl
# Concurrency of the management API against a running gateway and Redis:
#   - 50 concurrent participant PATCHes to one room leave all 50;
#   - a participant PATCH racing a DELETE never brings the room back;
#   - concurrent creates with one Repeatability-Request-ID make one room.
#
# Env: ROOMS_CONNECTION_STRING, ROOMS_REDIS_PORT, ROOMS_REDIS_DB.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t";
use HTTP::Tiny;
use JSON::PP;
use RoomsTest;

my $cs = $ENV{ROOMS_CONNECTION_STRING} or die "set ROOMS_CONNECTION_STRING\n";
my ($endpoint, $key) = $cs =~ /endpoint=(.*?);accesskey=(.*)/i;
$endpoint =~ s{/+$}{};
my ($host) = $endpoint =~ m{^https?://([^/]+)};
my $V = 'api-version=2025-03-13';
my $failed = 0;

sub call {
    my ($method, $path, $body, %extra) = @_;
    my %h = (acs_sign($method, $path, $body, key => $key, host => $host),
             %extra);
    $h{'Content-Type'} = 'application/merge-patch+json' if defined $body;
    my $res = HTTP::Tiny->new(timeout => 10)->request($method,
        "$endpoint$path",
        { headers => \%h, defined $body ? (content => $body) : () });
    my $json = eval { decode_json($res->{content}) };
    return ($res->{status}, $json);
}

sub check {
    my ($ok, $what) = @_;
    print(($ok ? "PASS" : "FAIL"), " api: $what\n");
    $failed++ unless $ok;
}

sub redis_exists {
    my $k = shift;
    my $n = `redis-cli -p $ENV{ROOMS_REDIS_PORT} -n $ENV{ROOMS_REDIS_DB} exists '$k'`;
    chomp $n;
    return $n;
}

sub parallel {
    my @subs = @_;
    my @pids;
    for my $s (@subs) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) { exit($s->() ? 0 : 1) }
        push @pids, $pid;
    }
    my $bad = 0;
    for (@pids) { waitpid($_, 0); $bad++ if $? }
    return $bad;
}

# 50 concurrent PATCHes
my ($st, $room) = call('POST', "/rooms?$V", '{}');
check($st == 201, "create a room for the concurrent PATCHes ($st)");
my $id = $room->{id};
my $bad = parallel(map {
    my $n = $_;
    sub {
        my ($s) = call('PATCH', "/rooms/$id/participants?$V",
            encode_json({ participants =>
                { "8:acs:r_user$n" => { role => 'Attendee' } } }));
        return $s == 200;
    }
} 1 .. 50);
check($bad == 0, "50 concurrent participant PATCHes all answered 200 ($bad failed)");
($st, my $list) = call('GET', "/rooms/$id/participants?$V&maxpagesize=1000");
my $n = $st == 200 ? scalar @{ $list->{value} } : -1;
check($n == 50, "all 50 participants are there ($n)");

# PATCH racing DELETE, 20 rounds
my $resurrected = 0;
for my $round (1 .. 20) {
    (undef, $room) = call('POST', "/rooms?$V", '{}');
    my $rid = $room->{id};
    parallel(
        sub { my ($s) = call('DELETE', "/rooms/$rid?$V"); $s == 204 },
        map {
            my $n = $_;
            sub {
                my ($s) = call('PATCH', "/rooms/$rid/participants?$V",
                    "{\"participants\":{\"8:acs:r_race$n\":{\"role\":\"Presenter\"}}}");
                $s == 200 || $s == 404;
            }
        } 1 .. 5);
    my ($s) = call('GET', "/rooms/$rid?$V");
    $resurrected++ if $s != 404 || redis_exists("rooms:{$rid}:p")
                      || redis_exists("rooms:{$rid}");
}
check($resurrected == 0, "a PATCH racing a DELETE never brings the room back "
                         . "(20 rounds, $resurrected resurrected)");

# one Repeatability-Request-ID, 10 concurrent creates
my $rep = sprintf('%08x-0000-4000-8000-%012x', time, $$);
my $dir = "/tmp/rooms-rep-$$";
mkdir $dir;
parallel(map {
    my $n = $_;
    sub {
        my ($s, $r) = call('POST', "/rooms?$V", '{}',
                           'Repeatability-Request-ID' => $rep,
                           'Repeatability-First-Sent' => 'Sat, 28 Nov 2026 20:00:00 GMT');
        open my $fh, '>', "$dir/$n" or return 0;
        print $fh ($s == 201 ? $r->{id} : "status $s");
        return $s == 201;
    }
} 1 .. 10);
my %ids;
for (glob "$dir/*") { open my $fh, '<', $_; $ids{<$fh> // ''}++ }
system('rm', '-rf', $dir);
check(keys(%ids) == 1 && !grep(/status/, keys %ids),
      "10 concurrent creates with one Repeatability-Request-ID give one room ("
      . join(', ', map { "$_ x$ids{$_}" } keys %ids) . ")");

print "api: ", ($failed ? "$failed failed" : "all passed"), "\n";
exit($failed ? 1 : 0);
