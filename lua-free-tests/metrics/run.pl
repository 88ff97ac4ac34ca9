#!/usr/bin/env perl
# rooms_metrics against a private gateway (two workers, its own Redis):
# the output passes Debian's "promtool check metrics"; known traffic
# moves each counter by exactly what it should (admissions per result and
# reason, cache lookups, signatures checked, API operations per status
# code, events heard by every worker); Redis stopped and started again
# shows in the errors, reconnects and rooms_redis_up; a reload keeps every
# counter; an error reply and a timeout count under their own kinds.
# Everything under build/test/metrics.
#
#   lua-free-tests/metrics/run.pl        (after scripts/build)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Gateway;
use RoomsTest ();
use Time::HiRes qw(sleep);

my $W = "$Gateway::ROOT/build/test/metrics";
system("rm -rf $W; mkdir -p $W");

my $redis = Gateway::new_redis("$W/redis");

open my $f, '>', "$W/jwks.json" or die;
print $f $RoomsTest::TEST_JWKS;
close $f;

my $deny = 'add_header X-Rooms-Deny $rooms_deny_reason always; empty_gif;';

my $nginx = Gateway::new_nginx("$W/nginx", <<EOC, 2);
    rooms_redis 127.0.0.1:$redis->{port} timeout=500ms;
    rooms_access_key $Gateway::KEY;
    rooms_token_keys $W/jwks.json;
    rooms_cache zone=metrics_test:1m;

    server {
        listen 127.0.0.1:\@PORT\@;
        location /rooms { rooms_api; }
        location /identities { rooms_api; }
        location = /metrics { rooms_metrics; }
        location /media { rooms_admission \$arg_room; $deny }
        location /direct { rooms_admission \$arg_room; rooms_cache off; $deny }
        location /presenters {
            rooms_admission \$arg_room; rooms_roles Presenter;
            rooms_cache off; $deny
        }
    }
EOC

my $up = Gateway::wait_until(10, sub {
    my ($m) = Gateway::metrics($nginx);
    ($m->{rooms_subscription_up} // 0) == 1 && ($m->{rooms_redis_up} // 0) == 1
});
Gateway::ok($up, 'both workers connected to Redis and subscribed (rooms_redis_up 1, rooms_subscription_up 1)');

my ($m0, $text0) = Gateway::metrics($nginx);
my ($ok, $out) = Gateway::promtool_ok($text0, $W);
Gateway::ok($ok, 'promtool check metrics: the output before any traffic') or print $out;
Gateway::ok($text0 =~ /^rooms_build_info\{version="[^"]+",nginx="1\.22\.1",hiredis="[0-9.]+",openssl="[^"]+"\} 1$/m,
            'rooms_build_info with the versions');
Gateway::ok($text0 !~ /rooms_session/, 'no session metrics without live sessions');
Gateway::ok($text0 =~ m{^# TYPE rooms_redis_request_duration_seconds histogram$}m
            && $text0 =~ m{^rooms_redis_request_duration_seconds_bucket\{le="\+Inf"\} \d+$}m,
            'the Redis histogram is there');
Gateway::ok($text0 !~ /\{[^}]*(?:room|user)=/, 'no room or user label');

# the state admission reads, written directly
my $R1 = '7371640571871283';
my $R2 = '7371640571871284';
my $R3 = '7371640571871285';
my ($alice, $bob, $carol, $dave, $erin) =
    map { "8:acs:metrics_$_" } qw(alice bob carol dave erin);
my $now = time;

RoomsTest::seed_room($R1, { $alice => 'Presenter', $carol => 'Attendee',
                            $dave => 'Attendee', $erin => 'Attendee' });
RoomsTest::seed_room($R3, { $alice => 'Presenter' },
                     from => $now + 3600, until => $now + 7200);
RoomsTest::redis('HSET', "rooms:user:{$dave}", c => 1, r => $now + 100);
RoomsTest::redis('HSET', "rooms:user:{$erin}", c => 1, d => 1);

my $other = RoomsTest::jwt_hs256('another-secret-of-40-bytes-0123456789ABC', 'k1',
                                 { sub => $alice, iat => $now - 10, exp => $now + 600 });
my $unknown = RoomsTest::jwt_hs256($RoomsTest::JWT_KEY, 'k9',
                                   { sub => $alice, iat => $now - 10, exp => $now + 600 });
my %tok = map { $_ => RoomsTest::token(sub => $_) } $alice, $bob, $carol, $dave, $erin;

my @traffic = (
    # path, token, times, status, reason
    ["/media?room=$R1", $tok{$alice}, 5, 200, ''],
    ["/media?room=$R1", $tok{$bob}, 2, 403, 'not invited'],
    ["/direct?room=$R1", $tok{$alice}, 3, 200, ''],
    ["/direct?room=$R1", undef, 2, 401, 'missing token'],
    ["/direct?room=$R1", $other, 1, 401, 'bad signature'],
    ["/direct?room=$R1", RoomsTest::token(sub => $alice, iat => $now - 100, exp => $now - 50),
     1, 401, 'expired'],
    ["/direct?room=$R1", $unknown, 1, 401, 'unknown kid'],
    ["/direct?room=$R1", 'abc', 1, 401, 'malformed token'],
    ["/direct?room=$R1", RoomsTest::token(sub => $alice, room => $R2), 1, 403,
     'token is for another room'],
    ["/presenters?room=$R1", $tok{$carol}, 1, 403, 'role not allowed'],
    ["/direct?room=$R1", $tok{$dave}, 1, 401, 'token revoked'],
    ["/direct?room=$R1", $tok{$erin}, 1, 401, 'identity deleted'],
    ["/direct?room=$R3", $tok{$alice}, 1, 403, "outside the room's validity"],
);

my $sent_ok = 1;
for my $t (@traffic) {
    my ($path, $token, $times, $status, $reason) = @$t;
    for (1 .. $times) {
        my ($s, $why) = Gateway::admit($nginx, $path, $token);
        if ($s != $status || $why ne $reason) {
            $sent_ok = 0;
            print "  $path: $s \"$why\", expected $status \"$reason\"\n";
        }
    }
}
Gateway::ok($sent_ok, 'the admission traffic was answered as expected');

# the management API
my $V = 'api-version=2025-03-13';
my $VI = 'api-version=2023-10-01';
my @api = (
    # method, path, body, status, operation
    ['POST', "/rooms?$V", '{}', 201, 'create_room'],
    ['GET', "/rooms/{ID}?$V", undef, 200, 'get_room'],
    ['GET', "/rooms/1234567890123499?$V", undef, 404, 'get_room'],
    ['PATCH', "/rooms/{ID}?$V", '{"pstnDialOutEnabled":true}', 200, 'update_room'],
    ['PATCH', "/rooms/{ID}/participants?$V",
     qq({"participants":{"$alice":{"role":"Presenter"}}}), 200, 'update_participants'],
    ['GET', "/rooms/{ID}/participants?$V", undef, 200, 'list_participants'],
    ['GET', "/rooms?$V", undef, 200, 'list_rooms'],
    ['DELETE', "/rooms/{ID}?$V", undef, 204, 'delete_room'],
    ['POST', "/identities?$VI", '{}', 201, 'create_user'],
    ['POST', "/identities/{USER}/:issueAccessToken?$VI", '{"scopes":["voip"]}', 200,
     'issue_token'],
    ['POST', "/identities/{USER}/:revokeAccessTokens?$VI", undef, 204, 'revoke_tokens'],
    ['DELETE', "/identities/{USER}?$VI", undef, 204, 'delete_user'],
    ['POST', "/rooms?$V", '{}', 401, 'create_room', 'unsigned'],
    ['GET', "/rooms/{ID}?api-version=1999-01-01", undef, 400, 'get_room'],
    ['PUT', "/rooms?$V", '{}', 405, 'other'],
    ['GET', "/rooms/1/2/3?$V", undef, 404, 'other'],
);
my %want_api;
my ($id, $user) = ('', '');
my $api_ok = 1;
for my $a (@api) {
    my ($method, $path, $body, $status, $op, $unsigned) = @$a;
    $path =~ s/\{ID\}/$id/;
    $path =~ s/\{USER\}/RoomsTest::uri_component($user)/e;
    my $res = Gateway::api($nginx, $method, $path, $body,
                           $unsigned ? (unsigned => 1) : ());
    if ($res->{status} != $status) {
        $api_ok = 0;
        print "  $method $path: $res->{status}, expected $status: $res->{content}\n";
    }
    ($id) = $res->{content} =~ /"id":"(\d+)"/ if $op eq 'create_room' && $status == 201;
    ($user) = $res->{content} =~ /"id":"([^"]+)"/ if $op eq 'create_user';
    $want_api{"rooms_api_requests_total{operation=\"$op\",code=\"$status\"}"}++;
}
Gateway::ok($api_ok, 'the API requests were answered as expected');

# six changes published, each heard by both workers
Gateway::wait_until(5, sub {
    my ($m) = Gateway::metrics($nginx);
    ($m->{rooms_events_received_total} // 0) - ($m0->{rooms_events_received_total} // 0) >= 12
});
sleep 0.3;

my ($m1, $text1) = Gateway::metrics($nginx);

my %want = (
    'rooms_admissions_total{result="admitted",reason="none"}' => 8,
    'rooms_admissions_total{result="refused",reason="not_invited"}' => 2,
    'rooms_admissions_total{result="refused",reason="missing_token"}' => 2,
    'rooms_admissions_total{result="refused",reason="bad_signature"}' => 1,
    'rooms_admissions_total{result="refused",reason="expired"}' => 1,
    'rooms_admissions_total{result="refused",reason="unknown_kid"}' => 1,
    'rooms_admissions_total{result="refused",reason="malformed_token"}' => 1,
    'rooms_admissions_total{result="refused",reason="another_room"}' => 1,
    'rooms_admissions_total{result="refused",reason="role_not_allowed"}' => 1,
    'rooms_admissions_total{result="refused",reason="token_revoked"}' => 1,
    'rooms_admissions_total{result="refused",reason="identity_deleted"}' => 1,
    'rooms_admissions_total{result="refused",reason="outside_validity"}' => 1,
    'rooms_admissions_total{result="unavailable",reason="store_unavailable"}' => 0,
    'rooms_cache_lookups_total{result="hit"}' => 5,
    'rooms_cache_lookups_total{result="miss"}' => 2,
    'rooms_cache_lookups_total{result="bypass"}' => 7,
    'rooms_token_verifications_total{alg="unknown"}' => 2,
    'rooms_token_verifications_total{alg="EdDSA"}' => 0,
    'rooms_events_received_total' => 12,
    'rooms_events_gaps_total' => 0,
    'rooms_redis_errors_total{kind="connection"}' => 0,
    'rooms_redis_errors_total{kind="timeout"}' => 0,
    %want_api,
);

for my $k (sort keys %want) {
    Gateway::is(($m1->{$k} // 0) - ($m0->{$k} // 0), $want{$k}, "delta of $k");
}

# every API series seen is one asked for
my @extra = grep { /^rooms_api_requests_total/ && !exists $want{$_} } keys %$m1;
Gateway::ok(!@extra, 'no other API series') or print "  @extra\n";

Gateway::is($m1->{rooms_cache_entries}, 2, 'rooms_cache_entries: the two pairs cached');

# each worker verifies each good token once (six of them), the bad ones
# (bad signature, expired) every time
my $hs = $m1->{'rooms_token_verifications_total{alg="HS256"}'}
         - $m0->{'rooms_token_verifications_total{alg="HS256"}'};
Gateway::ok($hs >= 6 + 2 && $hs <= 2 * 6 + 2,
            "HS256 verifications: $hs, between 8 and 14");

# the histogram: cumulative, +Inf equal to the count, counted batches
my @b = map { $m1->{$_} } sort { (_le($a) <=> _le($b)) }
        grep { /^rooms_redis_request_duration_seconds_bucket/ } keys %$m1;
sub _le { my ($v) = $_[0] =~ /le="([^"]+)"/; $v eq '+Inf' ? 9e99 : $v }
my $mono = 1;
$mono &&= $b[$_] >= $b[$_ - 1] for 1 .. $#b;
Gateway::ok($mono, 'histogram buckets are cumulative');
Gateway::is($b[-1], $m1->{rooms_redis_request_duration_seconds_count},
            'histogram +Inf bucket equals its count');
Gateway::ok($m1->{rooms_redis_request_duration_seconds_count}
            - $m0->{rooms_redis_request_duration_seconds_count} >= 10 + 12,
            'every request to Redis is timed');

($ok, $out) = Gateway::promtool_ok($text1, $W);
Gateway::ok($ok, 'promtool check metrics: after the traffic') or print $out;

# Redis stopped, then back
Gateway::stop_redis($redis);
my ($s, $why) = Gateway::admit($nginx, "/direct?room=$R1", $tok{$alice});
Gateway::ok($s == 503 && $why eq 'store unavailable', "Redis down: 503 ($s $why)");
my $down = Gateway::wait_until(5, sub {
    my ($m) = Gateway::metrics($nginx);
    defined $m->{rooms_redis_up} && $m->{rooms_redis_up} == 0 ? $m : undef
});
Gateway::ok($down, 'rooms_redis_up 0 while Redis is down');
Gateway::ok($down && $down->{'rooms_admissions_total{result="unavailable",reason="store_unavailable"}'} == 1,
            'the refusal counted as unavailable');
Gateway::ok($down && $down->{'rooms_redis_errors_total{kind="connection"}'} >= 2,
            'connection errors counted ('
            . ($down ? $down->{'rooms_redis_errors_total{kind="connection"}'} : '-') . ')');

Gateway::start_redis($redis);
my $back = Gateway::wait_until(5, sub {
    my ($m) = Gateway::metrics($nginx);
    ($m->{rooms_redis_up} // 0) == 1 && ($m->{rooms_subscription_up} // 0) == 1 ? $m : undef
});
Gateway::ok($back, 'rooms_redis_up and rooms_subscription_up 1 again once Redis is back');
Gateway::ok($back && $back->{rooms_redis_reconnects_total} > $m1->{rooms_redis_reconnects_total},
            'reconnections counted');

# a reload keeps every counter
RoomsTest::seed_room($R1, { $alice => 'Presenter' });
my ($m2) = Gateway::metrics($nginx);
my $old = Gateway::workers($nginx);
Gateway::reload_nginx($nginx);
Gateway::ok(Gateway::wait_until(10, sub {
    my $w = Gateway::workers($nginx);
    $w ne $old && !grep { $old =~ /\b$_\b/ } split ' ', $w }),
    'reloaded: new workers');
sleep 0.5;
my $after = Gateway::wait_until(10, sub {
    my ($m) = Gateway::metrics($nginx);
    ($m->{rooms_redis_up} // 0) == 1 && ($m->{rooms_subscription_up} // 0) == 1 ? $m : undef
});
Gateway::ok($after, 'the new workers report Redis and the subscription up');
my $kept = 1;
for my $k (grep { /_total/ && !/events_received|reconnects|gaps|request_duration/ } keys %$m2) {
    next if ($after->{$k} // -1) == $m2->{$k};
    $kept = 0;
    print "  $k: $m2->{$k} before the reload, ", $after->{$k} // '-', " after\n";
}
Gateway::ok($kept, 'nginx -s reload keeps every counter');
Gateway::is(scalar Gateway::admit($nginx, "/direct?room=$R1", $tok{$alice}), 200,
            'admitted after the reload');
my ($m3) = Gateway::metrics($nginx);
my $k = 'rooms_admissions_total{result="admitted",reason="none"}';
Gateway::is($m3->{$k} - $after->{$k}, 1, 'and counted on top');

# an error reply and a timeout, each counted once under its own kind
my $E = 'rooms_redis_errors_total{kind=';
RoomsTest::redis('SET', "rooms:user:{$bob}", 'not a hash');
($s, $why) = Gateway::admit($nginx, "/direct?room=$R1", $tok{$bob});
Gateway::ok($s == 503, "WRONGTYPE: 503 ($s $why)");
my ($m4) = Gateway::metrics($nginx);
Gateway::is($m4->{"$E\"other\"}"} - $m3->{"$E\"other\"}"}, 1,
            'the error reply counted as kind="other"');

my $rpid = `cat $W/redis/redis.pid`;
chomp $rpid;
kill 'STOP', $rpid;
($s, $why) = Gateway::admit($nginx, "/direct?room=$R1", $tok{$alice});
my ($m5) = Gateway::metrics($nginx);
kill 'CONT', $rpid;
Gateway::ok($s == 503, "Redis stopped: 503 after timeout= ($s $why)");
Gateway::is($m5->{rooms_redis_up}, 0, 'rooms_redis_up 0 once the connection timed out');
for my $k (qw(timeout connection protocol other)) {
    Gateway::is($m5->{"$E\"$k\"}"} - $m4->{"$E\"$k\"}"}, $k eq 'timeout' ? 1 : 0,
                "a timeout: delta of kind=\"$k\"");
}
my $again = Gateway::wait_until(5, sub {
    my ($m) = Gateway::metrics($nginx);
    ($m->{rooms_redis_up} // 0) == 1 ? $m : undef
});
Gateway::ok($again && $again->{rooms_redis_reconnects_total} > $m5->{rooms_redis_reconnects_total},
            'reconnected after the timeout: counted, rooms_redis_up 1');

Gateway::ok(Gateway::error_log($nginx) !~ /\[(alert|emerg|crit)\]|exited on signal/,
            'no alert or crash in the error log');

exit Gateway::done();
