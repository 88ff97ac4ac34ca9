#!/usr/bin/env perl
# The change feed ("rooms_events_stream") against a private gateway (two
# workers) and its own Redis with AOF (appendfsync always): a scripted
# sequence of changes through the API, with Redis restarted in its
# middle, reaches the README's Node consumer (consumer.mjs, a consumer
# group) in order and complete, every event typed, with its time, room
# and user; changes that did not happen (404s, a second delete, a
# participant set to the role it has) give no event; after one more
# restart the stream still holds every event and the group has
# acknowledged them all.  Everything under build/test/feed.
#
#   lua-free-tests/feed/run.pl        (after scripts/build; needs npm)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Gateway;
use RoomsTest ();
use JSON::PP ();
use Time::HiRes qw(sleep time);

my $W = "$Gateway::ROOT/build/test/feed";
my $NODE = "$Gateway::ROOT/build/test/feed-node";
my $KEY = 'rooms:{events}';
system("rm -rf $W; mkdir -p $W $NODE");

# the consumer and its pinned client, outside the tree
system("cp $FindBin::Bin/consumer.mjs $FindBin::Bin/package.json "
       . "$FindBin::Bin/package-lock.json $NODE/") == 0 or die;
if (system("cd $NODE && npm ci --no-audit --no-fund > npm.log 2>&1") != 0) {
    system("cat $NODE/npm.log");
    die "npm ci failed\n";
}

my $redis = Gateway::new_redis("$W/redis", '--appendonly', 'yes',
                               '--appendfsync', 'always');
my $nginx = Gateway::new_nginx("$W/nginx", <<EOC, 2);
    rooms_redis 127.0.0.1:$redis->{port};
    rooms_access_key $Gateway::KEY;
    rooms_events_stream "$KEY" maxlen=1000;

    server {
        listen 127.0.0.1:\@PORT\@;
        location /rooms { rooms_api; }
        location /identities { rooms_api; }
    }
EOC

my @want;                 # [type, room, user, extra fields]

# the consumer, started before the changes, as a media server would be
my $expected_n = 10;
my $cpid = fork // die;
if ($cpid == 0) {
    open STDOUT, '>', "$W/consumer.out" or die;
    open STDERR, '>', "$W/consumer.err" or die;
    $ENV{FEED_EXIT_AFTER} = $expected_n;
    chdir $NODE;
    exec 'node', 'consumer.mjs', "redis://127.0.0.1:$redis->{port}", $KEY,
         'media', 'media-1';
    die;
}

my $V = 'api-version=2025-03-13';
my $VI = 'api-version=2023-10-01';
my ($alice, $bob, $carol, $dan) = map { "8:acs:feed_$_" } qw(alice bob carol dan);

sub call {
    my ($method, $path, $body, $status, $what) = @_;
    my $res = Gateway::api($nginx, $method, $path, $body);
    Gateway::is($res->{status}, $status, "$what: $method answers $status")
        or print "  $res->{content}\n";
    return $res->{content};
}

# a room with two participants
my $out = call('POST', "/rooms?$V", qq({"participants":{"$alice":{"role":"Presenter"},"$bob":{}}}),
               201, 'create a room');
my ($room) = $out =~ /"id":"(\d+)"/;
my ($from, $until) = $out =~ /"validFrom":"([^"]+)","validUntil":"([^"]+)"/;
push @want, ['room.created', $room, undef,
             { validFrom => $from, validUntil => $until, pstnDialOutEnabled => JSON::PP::false }],
            ['participant.added', $room, $alice, { role => 'Presenter' }],
            ['participant.added', $room, $bob, { role => 'Attendee' }];

# a role changed, one removed, one added, one removed that was not there
call('PATCH', "/rooms/$room/participants?$V",
     qq({"participants":{"$alice":{"role":"Attendee"},"$bob":null,"$carol":{"role":"Consumer"},"$dan":null}}),
     200, 'change participants');
push @want, ['participant.role_changed', $room, $alice, { role => 'Attendee', previousRole => 'Presenter' }],
            ['participant.removed', $room, $bob, { previousRole => 'Attendee' }],
            ['participant.added', $room, $carol, { role => 'Consumer' }];

# nothing changes: no event
call('PATCH', "/rooms/$room/participants?$V", qq({"participants":{"$alice":{"role":"Attendee"}}}),
     200, 'set a participant to the role it has');

$out = call('PATCH', "/rooms/$room?$V", '{"pstnDialOutEnabled":true}', 200, 'update the room');
push @want, ['room.updated', $room, undef,
             { validFrom => $from, validUntil => $until, pstnDialOutEnabled => JSON::PP::true }];

# Redis restarted in the middle
system("redis-cli -p $redis->{port} shutdown >/dev/null 2>&1");
Gateway::wait_until(5, sub { !eval { RoomsTest::redis('PING') } });
Gateway::start_redis($redis);
Gateway::ok(Gateway::wait_until(5, sub {
    Gateway::api($nginx, 'GET', "/rooms/$room?$V")->{status} == 200 }),
    'Redis restarted from its AOF: the room is there, the gateway reconnected');

$out = call('POST', "/identities?$VI", '{}', 201, 'create an identity');
my ($user) = $out =~ /"id":"([^"]+)"/;
my $u = RoomsTest::uri_component($user);
call('POST', "/identities/$u/:revokeAccessTokens?$VI", undef, 204, 'revoke its tokens');
my ($r) = RoomsTest::redis('HGET', "rooms:user:{$user}", 'r');
push @want, ['user.tokens_revoked', undef, $user,
             { revokedBefore => POSIX::strftime('%Y-%m-%dT%H:%M:%S+00:00', gmtime $r) }];
call('DELETE', "/identities/$u?$VI", undef, 204, 'delete the identity');
push @want, ['identity.deleted', undef, $user, {}];

# what changes nothing gives no event
call('DELETE', "/identities/$u?$VI", undef, 204, 'delete it again');
call('POST', "/identities/$u/:revokeAccessTokens?$VI", undef, 404, 'revoke a deleted identity');
call('PATCH', "/rooms/1234567890123499/participants?$V", qq({"participants":{"$alice":{}}}),
     404, 'participants of no room');
call('PATCH', "/rooms/1234567890123499?$V", '{"pstnDialOutEnabled":true}', 404, 'update no room');

call('DELETE', "/rooms/$room?$V", undef, 204, 'delete the room');
push @want, ['room.deleted', $room, undef, {}];
call('DELETE', "/rooms/$room?$V", undef, 404, 'delete it again');

Gateway::is(scalar @want, $expected_n, 'the sequence makes the events counted');

my $t0 = time;
Gateway::wait_until(20, sub { waitpid($cpid, POSIX::WNOHANG()) == $cpid });
kill 'TERM', $cpid;
Gateway::ok($? == 0, sprintf 'the consumer got %d events and stopped (%.1f s)', $expected_n, time - $t0)
    or system("cat $W/consumer.err");

open my $f, '<', "$W/consumer.out" or die;
my @got = map { JSON::PP::decode_json($_) } grep { /\S/ } <$f>;
close $f;

# compare(EVENTS, WHERE): in order, complete, with exactly their fields
sub compare {
    my ($got, $where) = @_;
    Gateway::is(scalar @$got, scalar @want, "$where: as many events as changes");
    my $last = '';
    for my $i (0 .. $#want) {
        my ($type, $room, $user, $extra) = @{ $want[$i] };
        my $e = $got->[$i] // {};
        my %keys = map { $_ => 1 } qw(type time room user), keys %$extra;
        my $ok = ($e->{type} // '') eq $type
                 && ($e->{room} // '') eq ($room // '') && exists $e->{room}
                 && ($e->{user} // '') eq ($user // '') && exists $e->{user}
                 && join(',', sort keys %$e) eq join(',', sort keys %keys)
                 && ($e->{time} // '') =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/
                 && $e->{time} ge $last;
        for my $k (keys %$extra) {
            $ok &&= defined $e->{$k} && "$e->{$k}" eq "$extra->{$k}";
        }
        $last = $e->{time} // '';
        Gateway::ok($ok, "$where: event $i is $type")
            or print "  got ", JSON::PP->new->canonical->encode($e), "\n";
    }
}

compare(\@got, 'the consumer');

# one more restart: everything is still there, and acknowledged
system("redis-cli -p $redis->{port} shutdown >/dev/null 2>&1");
Gateway::wait_until(5, sub { !eval { RoomsTest::redis('PING') } });
Gateway::start_redis($redis);

my $entries = RoomsTest::redis('XRANGE', $KEY, '-', '+');
my @kept = map { JSON::PP::decode_json($_->[1][1]) } @$entries;
compare(\@kept, 'the stream after a restart');
Gateway::ok(join("\n", map { JSON::PP->new->canonical->encode($_) } @kept)
            eq join("\n", map { JSON::PP->new->canonical->encode($_) } @got),
            'the stream holds what the consumer got');
my $pending = RoomsTest::redis('XPENDING', $KEY, 'media');
Gateway::is($pending->[0], 0, 'the group acknowledged every event');
Gateway::ok(!grep({ $_->[1][0] ne 'event' || @{ $_->[1] } != 2 } @$entries),
            'each entry is one field, "event"');

Gateway::ok(Gateway::error_log($nginx) !~ /\[(alert|emerg|crit)\]|exited on signal|not on the events stream/,
            'no alert, crash or lost event in the error log');

exit Gateway::done();
