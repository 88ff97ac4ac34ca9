#!/usr/bin/env perl
# Key rotation without reload, against a private gateway (two workers,
# "rooms_token_keys FILE check=1s", its own Redis):
#   1. a new signing key published next to the old one: tokens of the new
#      key are admitted at once (an unknown kid checks the file early),
#      the identity API signs with it within check, old tokens still pass;
#   2. the old key retired: its tokens are refused within check, by every
#      worker, even those a worker had verified and kept;
#   3. the same kid with another secret: tokens of the old secret are
#      refused within check (no token verified by the old set is taken as
#      verified by the new one);
#   4. a half-written file, a broken key, a missing file: the keys in use
#      stay, the error log says why, once; the finished file is taken.
# No reload happens: the master's pid and the workers' pids stay.
#
#   lua-free-tests/keys/run.pl        (after scripts/build)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Gateway;
use RoomsTest ();
use JSON::PP ();
use Time::HiRes qw(sleep time);

my $W = "$Gateway::ROOT/build/test/keys";
system("rm -rf $W; mkdir -p $W");
my $JWKS = "$W/jwks.json";
my $CHECK = 1;                                      # check=1s

my %secret = (k1 => 'rotation-test-key-k1-0123456789abcdefghij',
              k2 => 'rotation-test-key-k2-0123456789abcdefghij',
              k3 => 'rotation-test-key-k3-0123456789abcdefghij',
              k1b => 'rotation-test-key-k1-ANOTHER-SECRET-0123456');

# jwks([kid, secret name], ...): the file's text
sub jwks {
    JSON::PP->new->canonical->encode({ keys => [ map {
        { kty => 'oct', kid => $_->[0], alg => 'HS256',
          k => RoomsTest::b64url($secret{$_->[1]}) } } @_ ] }) . "\n";
}

# a new file renamed over the old one, as key management tools do
sub publish {
    my $text = shift;
    open my $f, '>', "$JWKS.new" or die;
    print $f $text;
    close $f;
    rename "$JWKS.new", $JWKS or die;
}

publish(jwks(['k1', 'k1']));

my $redis = Gateway::new_redis("$W/redis");
my $nginx = Gateway::new_nginx("$W/nginx", <<EOC, 2);
    rooms_redis 127.0.0.1:$redis->{port};
    rooms_access_key $Gateway::KEY;
    rooms_token_keys $JWKS check=${CHECK}s;

    server {
        listen 127.0.0.1:\@PORT\@;
        location /identities { rooms_api; }
        location /media {
            rooms_admission \$arg_room;
            add_header X-Rooms-Deny \$rooms_deny_reason always;
            empty_gif;
        }
    }
EOC

my $ROOM = '7371640571871290';
my $alice = '8:acs:keys_alice';
RoomsTest::seed_room($ROOM, { $alice => 'Presenter' });

sub tok {
    my ($kid, $secret) = @_;
    RoomsTest::jwt_hs256($secret{$secret // $kid}, $kid,
                         { sub => $alice, iat => time - 5, exp => time + 3600 });
}

# admissions of TOKEN on new connections, enough to reach both workers:
# the statuses and reasons seen
sub try {
    my ($token, $n) = @_;
    my %seen;
    for (1 .. ($n // 10)) {
        my ($s, $why) = Gateway::admit($nginx, "/media?room=$ROOM", $token);
        $seen{"$s $why"}++;
    }
    return join ', ', sort keys %seen;
}

# how long until every try of TOKEN gives WANT, checked every 0.1 s
sub until_all {
    my ($token, $want, $limit) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) {
        return time - $t0 if try($token) eq $want;
        sleep 0.1;
    }
    return undef;
}

my $master = Gateway::nginx_pid($nginx);
my $workers = Gateway::workers($nginx);

my $t1 = tok('k1');
Gateway::is(try($t1), '200 ', 'k1 token admitted (and kept by both workers)');

# 1. k2 published as the new signing key, k1 still there
publish(jwks(['k2', 'k2'], ['k1', 'k1']));
my $t2 = tok('k2');
Gateway::is(scalar Gateway::admit($nginx, "/media?room=$ROOM", $t2), 200,
            'a k2 token admitted at its first request: its unknown kid checked the file at once');
my $d = until_all($t2, '200 ', $CHECK + 1.5);
Gateway::ok(defined $d, sprintf 'every worker admits k2 tokens (after %.1f s)', $d // -1);
Gateway::is(try($t1), '200 ', 'k1 tokens still admitted');

my $signed = Gateway::wait_until($CHECK + 1.5, sub {
    my $res = Gateway::api($nginx, 'POST', '/identities?api-version=2023-10-01',
                           '{"createTokenWithScopes":["voip"]}');
    my ($token) = $res->{content} =~ /"token":"([^"]+)"/ or return;
    my ($h) = split /\./, $token;
    $h =~ tr{-_}{+/};
    $h .= '=' while length($h) % 4;
    MIME::Base64::decode_base64($h) =~ /"kid":"k2"/;
});
Gateway::ok($signed, 'the identity API signs with k2, the first key, within check');

# 2. k1 retired
publish(jwks(['k2', 'k2']));
$d = until_all($t1, '401 unknown kid', $CHECK + 1.5);
Gateway::ok(defined $d && $d <= $CHECK + 1,
            sprintf 'k1 tokens refused by every worker within check (%.1f s), though verified and kept before',
            $d // -1);
Gateway::is(try($t2), '200 ', 'k2 tokens admitted');

# 3. k2's secret replaced under the same kid
publish(jwks(['k2', 'k1b']));
$d = until_all($t2, '401 bad signature', $CHECK + 1.5);
Gateway::ok(defined $d,
            sprintf 'the same kid with another secret: tokens of the old secret refused within check (%.1f s)',
            $d // -1);
my $t2b = tok('k2', 'k1b');
Gateway::is(try($t2b), '200 ', 'tokens of the new secret admitted');

# 4. a half-written file, written in place
my $next = jwks(['k3', 'k3'], ['k2', 'k1b']);
open my $f, '>', $JWKS or die;
syswrite $f, substr($next, 0, length($next) / 2);
sleep $CHECK + 1;
Gateway::is(try($t2b), '200 ', 'a half-written file: the keys in use stay');
my $t3 = tok('k3');
Gateway::is(try($t3, 4), '401 unknown kid', 'and the new key is not there yet');
my $log = Gateway::error_log($nginx);
my $n = () = $log =~ /rooms_token_keys: keeping the 1 keys read before: "\Q$JWKS\E": [^\n]*/g;
Gateway::ok($n >= 1 && $n <= 2, "the error log says why, once per worker ($n lines)");
syswrite $f, substr($next, length($next) / 2);
close $f;
$d = until_all($t3, '200 ', $CHECK + 1.5);
Gateway::ok(defined $d, sprintf 'the finished file is taken (%.1f s)', $d // -1);
Gateway::is(try($t2b), '200 ', 'with the keys it lists');

# (the tries may all have reached one worker: the other one checks the
# finished file within check too, before it is broken below)
sleep $CHECK + 0.5;

# a key that fails to parse, then a missing file
publish(jwks(['k3', 'k3']) =~ s/"k":"[^"]+"/"k":"c2hvcnQ"/r);
sleep $CHECK + 1;
Gateway::is(try($t3), '200 ', 'a file with a broken key: the keys in use stay');
Gateway::ok(Gateway::error_log($nginx) =~ /rooms_token_keys: keeping the 2 keys read before: "\Q$JWKS\E": key 1 \("k3"\)/,
            'the error log names the key and why');
unlink $JWKS;
sleep $CHECK + 1;
Gateway::is(try($t3), '200 ', 'the file removed: the keys in use stay');
Gateway::ok(Gateway::error_log($nginx) =~ /rooms_token_keys: keeping the 2 keys read before: cannot open "\Q$JWKS\E" \(2: No such file or directory\)/,
            'the error log says the file is missing');

Gateway::is(Gateway::nginx_pid($nginx), $master, 'no reload: the same master');
Gateway::is(Gateway::workers($nginx), $workers, 'and the same workers');
Gateway::ok(Gateway::error_log($nginx) =~ /rooms_token_keys: "\Q$JWKS\E" changed: 2 keys now \("k2", "k1"\)/,
            'each change logged with its keys');
Gateway::ok(Gateway::error_log($nginx) !~ /\[(alert|emerg|crit)\]|exited on signal/,
            'no alert or crash in the error log');

exit Gateway::done();
