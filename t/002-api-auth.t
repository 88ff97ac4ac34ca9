# ACS HMAC-SHA256 authentication of the management API: what is accepted
# (both rotated keys, the Host with a port as the SDK sends it, a clock
# 12 to 14 minutes off) and what is refused with 401 -- and that a refused
# request changes nothing and leaves no secret in error.log.
#
# Requests without their own Authorization/x-ms-date headers are signed
# with $ACS_KEY by RoomsTest::prepare_block; the others build theirs with
# main::hdrs() below (the "# unsigned" line stops the automatic signing).
#
#   scripts/prove-t t/002-api-auth.t     (TEST_NGINX_REDIS_PORT: a Redis)

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;
use Digest::SHA qw(sha256_base64 hmac_sha256_base64);
use MIME::Base64 qw(decode_base64);
use POSIX qw(strftime);

$RoomsTest::REDIS_DB = 2;

no_shuffle();
no_root_location();

# a well-formed key that is not configured
our $OTHER_KEY = 'b3RoZXIta2V5LW5vdC1jb25maWd1cmVkLTAxMjM0NTY3';

our %ROOM = (id => '22000000000000002', created => time - 60, from => time - 60,
             until => time + 86400, pstn => 0,
             participants => { '8:acs:r2_alice' => 'Presenter',
                               '8:acs:r2_bob' => 'Attendee' });
our $R = "/rooms/$ROOM{id}";
our $V = 'api-version=2025-03-13';
our $ROOM_JSON = sprintf '{"id":"%s","createdAt":"%s","validFrom":"%s","validUntil":"%s","pstnDialOutEnabled":false}',
    $ROOM{id}, map { RoomsTest::acs_time($ROOM{$_}) } qw(created from until);
our $PARTS_JSON = '{"value":[{"rawId":"8:acs:r2_alice","role":"Presenter"},'
                  . '{"rawId":"8:acs:r2_bob","role":"Attendee"}]}';

our $HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=2 $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    rooms_access_key c2Vjb25kLWtleS1mb3Itcm90YXRpb24tdGVzdHMtMDE=;
_EOC_

our $CONFIG = <<'_EOC_';
    location / {
        rooms_api;
    }
_EOC_

# hdrs([METHOD, PATH, BODY, acs_sign options...], NAME => VALUE, ...): the
# headers of a request signed by RoomsTest::acs_sign, then changed: VALUE
# replaces the header, undef drops it
sub hdrs {
    my ($sign, %change) = @_;
    my %h = RoomsTest::acs_sign(@$sign);
    for my $name (keys %change) {
        if (defined $change{$name}) { $h{$name} = $change{$name} }
        else                        { delete $h{$name} }
    }
    return "# unsigned: headers made by the test\n"
           . join '', map { "$_: $h{$_}\n" } sort keys %h;
}

# a signature computed by hand over any x-ms-date value
sub sig_over {
    my ($method, $path, $date, $host, $body) = @_;
    my $hash = sha256_base64($body // '') . '=';
    my $sig = hmac_sha256_base64("$method\n$path\n$date;$host;$hash",
                                 decode_base64($RoomsTest::ACS_KEY)) . '=';
    return "# unsigned\nx-ms-date: $date\nx-ms-content-sha256: $hash\n"
           . "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;"
           . "x-ms-content-sha256&Signature=$sig\n";
}

# the headers of the requests whose secrets must not reach error.log
our %BAD = RoomsTest::acs_sign('PATCH', "$R?$V", '{}', key => $OTHER_KEY);
our %GOOD = RoomsTest::acs_sign('PATCH', "$R?$V", '{}');
our ($BAD_SIG) = $BAD{Authorization} =~ /Signature=(.+)/;
our ($GOOD_SIG) = $GOOD{Authorization} =~ /Signature=(.+)/;

our $UNAUTHORIZED = '\A\{"error":\{"code":"Unauthorized","message":"(?:[^"\\\\]|\\\\.)+"\}\}\z';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => $HTTP_CONFIG)
        unless defined $block->http_config;
    $block->set_value(config => $CONFIG) unless defined $block->config;

    RoomsTest::prepare_block($block);
});

run_tests();

__DATA__

=== TEST 1: a request signed with the first rooms_access_key: 200
--- init
RoomsTest::redis('FLUSHDB');
RoomsTest::store_room($main::ROOM{id}, %main::ROOM);
--- request eval
"GET $::R?$::V"
--- error_code: 200
--- response_body eval
$::ROOM_JSON
--- no_error_log
[error]
[alert]
authentication failed



=== TEST 2: requests signed with the second (rotated) rooms_access_key: GET 200, PATCH with a body 200
--- request eval
["GET $::R?$::V", "PATCH $::R?$::V\n{}"]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", '', key => $RoomsTest::ACS_KEY2]),
 main::hdrs(['PATCH', "$::R?$::V", '{}', key => $RoomsTest::ACS_KEY2])]
--- error_code eval
[200, 200]
--- response_body eval
[$::ROOM_JSON, $::ROOM_JSON]
--- no_error_log
[error]
[alert]
authentication failed



=== TEST 3: the Host header with a port, as the SDK sends it for http://127.0.0.1:18080/, is signed as sent: 200
--- request eval
"GET $::R?$::V"
--- more_headers eval
"Host: 127.0.0.1:18080\n" . main::hdrs(['GET', "$::R?$::V", '', host => '127.0.0.1:18080'])
--- error_code: 200
--- response_body eval
$::ROOM_JSON
--- no_error_log
[error]
[alert]



=== TEST 4: no Authorization header (with and without the other signed headers): 401 Unauthorized JSON
--- request eval
["GET $::R?$::V", "GET $::R?$::V"]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", ''], Authorization => undef),
 main::hdrs(['GET', "$::R?$::V", ''], Authorization => undef,
            'x-ms-date' => undef, 'x-ms-content-sha256' => undef)]
--- error_code eval
[401, 401]
--- response_headers eval
["x-ms-error-code: Unauthorized", "x-ms-error-code: Unauthorized"]
--- response_body eval
['{"error":{"code":"Unauthorized","message":"The request is not authenticated."}}',
 '{"error":{"code":"Unauthorized","message":"The request is not authenticated."}}']
--- error_log
authentication failed: no Authorization header
--- no_error_log
[error]
[alert]



=== TEST 5: another scheme, other SignedHeaders or a signature that is not base64: 401 Unauthorized
--- request eval
[("GET $::R?$::V") x 5]
--- more_headers eval
my %h = RoomsTest::acs_sign('GET', "$::R?$::V", '');
my ($sig) = $h{Authorization} =~ /Signature=(.+)/;
[main::hdrs(['GET', "$::R?$::V", ''], Authorization => "Bearer $sig"),
 main::hdrs(['GET', "$::R?$::V", ''], Authorization => "HMAC-SHA1 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=$sig"),
 main::hdrs(['GET', "$::R?$::V", ''], Authorization => "HMAC-SHA256 SignedHeaders=x-ms-date;host&Signature=$sig"),
 main::hdrs(['GET', "$::R?$::V", ''], Authorization => "HMAC-SHA256 Signature=$sig"),
 main::hdrs(['GET', "$::R?$::V", ''], Authorization => 'HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=%%%not-base64%%%')]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
[("x-ms-error-code: Unauthorized") x 5]
--- response_body_like eval
[('\A\{"error":\{"code":"Unauthorized","message":"The Authorization header must be \\\\"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=...\\\\"."\}\}\z') x 5]
--- error_log
authentication failed: malformed Authorization header
--- no_error_log
[error]
[alert]



=== TEST 6: a bad signature (made with a key that is not configured, or with a changed byte): 401 Unauthorized
--- request eval
[("GET $::R?$::V") x 2]
--- more_headers eval
my %h = RoomsTest::acs_sign('GET', "$::R?$::V", '');
(my $flipped = $h{Authorization}) =~ s/Signature=(.)/'Signature=' . ($1 eq 'A' ? 'B' : 'A')/e;
[main::hdrs(['GET', "$::R?$::V", '', key => $::OTHER_KEY]),
 main::hdrs(['GET', "$::R?$::V", ''], Authorization => $flipped)]
--- error_code eval
[401, 401]
--- response_headers eval
[("x-ms-error-code: Unauthorized") x 2]
--- response_body eval
[('{"error":{"code":"Unauthorized","message":"The request signature is invalid."}}') x 2]
--- error_log
authentication failed: bad signature
--- no_error_log
[error]
[alert]



=== TEST 7: x-ms-content-sha256 that does not match the body (signature valid over it): 401 with x-ms-error-code Denied
--- request eval
["POST /rooms?$::V\n{\"pstnDialOutEnabled\":true}", "GET $::R?$::V"]
--- more_headers eval
[main::hdrs(['POST', "/rooms?$::V", '{}']),
 main::hdrs(['GET', "$::R?$::V", 'a body that was not sent'])]
--- error_code eval
[401, 401]
--- response_headers eval
[("x-ms-error-code: Denied") x 2]
--- response_body eval
[('{"error":{"code":"Denied","message":"The x-ms-content-sha256 header does not match the body."}}') x 2]
--- error_log
authentication failed: content hash does not match the body
--- no_error_log
[error]
[alert]



=== TEST 8: x-ms-date 16 minutes old, 16 minutes ahead, or not a date: 401
--- request eval
[("GET $::R?$::V") x 3]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", '', date => time - 16 * 60]),
 main::hdrs(['GET', "$::R?$::V", '', date => time + 16 * 60]),
 main::sig_over('GET', "$::R?$::V", 'yesterday', 'localhost')]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[("x-ms-error-code: Unauthorized") x 3]
--- response_body eval
[('{"error":{"code":"Unauthorized","message":"The x-ms-date header is invalid or more than 15 minutes away from the server\'s time."}}') x 3]
--- error_log
authentication failed: x-ms-date missing, malformed or outside 15 minutes
--- no_error_log
[error]
[alert]



=== TEST 9: x-ms-date or x-ms-content-sha256 missing (the rest signed as usual): 401
--- request eval
[("GET $::R?$::V") x 2]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", ''], 'x-ms-date' => undef),
 main::hdrs(['GET', "$::R?$::V", ''], 'x-ms-content-sha256' => undef)]
--- error_code eval
[401, 401]
--- response_headers eval
[("x-ms-error-code: Unauthorized") x 2]
--- response_body eval
[('{"error":{"code":"Unauthorized","message":"The x-ms-date, host and x-ms-content-sha256 headers are required."}}') x 2]
--- error_log
authentication failed: signed header missing
--- no_error_log
[error]
[alert]



=== TEST 10: x-ms-date 12 minutes old or 14 ahead is still accepted (margin for slow runs); an HTTP-date signed by hand too
--- request eval
[("GET $::R?$::V") x 3]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", '', date => time - 12 * 60]),
 main::hdrs(['GET', "$::R?$::V", '', date => time + 14 * 60]),
 main::sig_over('GET', "$::R?$::V",
                POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime), 'localhost')]
--- error_code eval
[200, 200, 200]
--- response_body eval
[($::ROOM_JSON) x 3]
--- no_error_log
[error]
[alert]
authentication failed



=== TEST 11: a signature over another path, another query, no query or another method: 401
--- request eval
[("GET $::R?$::V") x 4]
--- more_headers eval
[main::hdrs(['GET', "/rooms/22000000000000009?$::V", '']),
 main::hdrs(['GET', "$::R?api-version=2024-04-15", '']),
 main::hdrs(['GET', $::R, '']),
 main::hdrs(['DELETE', "$::R?$::V", ''])]
--- error_code eval
[401, 401, 401, 401]
--- response_body_like eval
[('\A\{"error":\{"code":"Unauthorized","message":"The request signature is invalid."\}\}\z') x 4]
--- no_error_log
[error]
[alert]



=== TEST 12: a signature over another host: 401 (the Host header is what counts)
--- request eval
[("GET $::R?$::V") x 3]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", '', host => 'evil.example']),
 "Host: 127.0.0.1:18080\n" . main::hdrs(['GET', "$::R?$::V", '']),
 "Host: localhost\n" . main::hdrs(['GET', "$::R?$::V", '', host => 'localhost:18080'])]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[('\A\{"error":\{"code":"Unauthorized","message":"The request signature is invalid."\}\}\z') x 3]
--- no_error_log
[error]
[alert]



=== TEST 13: refused requests (DELETE, PATCH room, PATCH participants, POST) have no effect: room, participants and list unchanged
--- request eval
["DELETE $::R?$::V",
 "PATCH $::R?$::V\n{\"pstnDialOutEnabled\":true}",
 "PATCH $::R/participants?$::V\n{\"participants\":{\"8:acs:r2_alice\":null,\"8:acs:r2_eve\":{}}}",
 "POST /rooms?$::V\n{}",
 "GET $::R?$::V",
 "GET $::R/participants?$::V",
 "GET /rooms?$::V"]
--- more_headers eval
[main::hdrs(['DELETE', "$::R?$::V", '', key => $::OTHER_KEY]),
 main::hdrs(['PATCH', "$::R?$::V", '{"pstnDialOutEnabled":true}', key => $::OTHER_KEY]),
 main::hdrs(['PATCH', "$::R/participants?$::V", '{"participants":{"8:acs:r2_alice":null,"8:acs:r2_eve":{}}}', date => time - 3600]),
 main::hdrs(['POST', "/rooms?$::V", '{}'], Authorization => undef),
 '', '', '']
--- error_code eval
[401, 401, 401, 401, 200, 200, 200]
--- response_body eval
[('{"error":{"code":"Unauthorized","message":"The request signature is invalid."}}') x 2,
 '{"error":{"code":"Unauthorized","message":"The x-ms-date header is invalid or more than 15 minutes away from the server\'s time."}}',
 '{"error":{"code":"Unauthorized","message":"The request is not authenticated."}}',
 $::ROOM_JSON, $::PARTS_JSON, "{\"value\":[$::ROOM_JSON]}"]
--- no_error_log
[error]
[alert]



=== TEST 14: no rooms_access_key at all: every request is refused with 401 and error.log says why
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=2 $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
--- request eval
"GET $::R?$::V"
--- error_code: 401
--- response_headers
x-ms-error-code: Unauthorized
--- response_body: {"error":{"code":"Unauthorized","message":"No access key is configured."}}
--- error_log
[error]
rooms api: no "rooms_access_key" configured for this server, every request is refused
--- no_error_log
[alert]
[crit]



=== TEST 15: rooms_access_key in the server block only works as well
--- http_config
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=2 $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
--- config
    rooms_access_key c2Vjb25kLWtleS1mb3Itcm90YXRpb24tdGVzdHMtMDE=;
    location / {
        rooms_api;
    }
--- request eval
["GET $::R?$::V", "GET $::R?$::V"]
--- more_headers eval
[main::hdrs(['GET', "$::R?$::V", '', key => $RoomsTest::ACS_KEY2]),
 main::hdrs(['GET', "$::R?$::V", ''])]
--- error_code eval
[200, 401]
--- response_body_like eval
['\A' . quotemeta($::ROOM_JSON) . '\z', $::UNAUTHORIZED]
--- no_error_log
[error]
[alert]



=== TEST 16: a refused request leaves neither its signature nor any key in error.log (at info, where the module logs why it refused)
--- log_level: info
--- request eval
"PATCH $::R?$::V\n{}"
--- more_headers eval
CORE::join('', map { "$_: $::BAD{$_}\n" } sort keys %::BAD)
--- error_code: 401
--- response_body: {"error":{"code":"Unauthorized","message":"The request signature is invalid."}}
--- error_log
rooms api: authentication failed: bad signature
--- no_error_log eval
[$::BAD_SIG, $::GOOD_SIG, $RoomsTest::ACS_KEY, $RoomsTest::ACS_KEY2,
 $::OTHER_KEY, 'Signature=', '[alert]']



=== TEST 17: an accepted request leaves neither its signature nor any key in error.log (at info)
--- log_level: info
--- request eval
"PATCH $::R?$::V\n{}"
--- more_headers eval
CORE::join('', map { "$_: $::GOOD{$_}\n" } sort keys %::GOOD)
--- error_code: 200
--- response_body eval
$::ROOM_JSON
--- error_log eval
"rooms api: room $::ROOM{id} updated"
--- no_error_log eval
[$::BAD_SIG, $::GOOD_SIG, $RoomsTest::ACS_KEY, $RoomsTest::ACS_KEY2,
 $::OTHER_KEY, 'Signature=', '[alert]']
