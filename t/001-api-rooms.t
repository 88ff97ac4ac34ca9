# The Rooms REST API end to end through nginx and Redis: every endpoint,
# the defaults, merge-patch updates, participants, paging by nextLink,
# Repeatability-Request-ID, key expiry and the api-versions.
#
# Requests are HMAC-signed by RoomsTest::prepare_block (a block
# preprocessor); "<%NAME%>" is a value that an earlier block kept with
# RoomsTest::keep(), so the blocks run in order and share db 1.
#
#   scripts/prove-t t/001-api-rooms.t     (TEST_NGINX_REDIS_PORT: a Redis)

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;
use JSON::PP ();
use Time::HiRes ();
use Time::Local ();

$RoomsTest::REDIS_DB = 1;

no_shuffle();
no_root_location();

# an explicit window for the bodies, in whole seconds, as the SDK sends it
# and as the API answers it
our $T0 = time;
our ($FROM, $UNTIL) = ($T0 + 86400, $T0 + 31 * 86400);
our ($FROM_SDK, $UNTIL_SDK) = map { RoomsTest::sdk_time($_) } $FROM, $UNTIL;
our ($FROM_ACS, $UNTIL_ACS) = map { RoomsTest::acs_time($_) } $FROM, $UNTIL;
our $UNTIL2 = $FROM + 60 * 86400;
our ($UNTIL2_SDK, $UNTIL2_ACS) = (RoomsTest::sdk_time($UNTIL2), RoomsTest::acs_time($UNTIL2));

# rooms stored directly in Redis for the listing; the second and the third
# were created in the same microsecond (the index orders them by id)
our @ROOMS = map {
    { id => $_->[0], created => $T0 - $_->[1], from => $T0 - $_->[1],
      until => $T0 + 10 * 86400 + $_->[1], pstn => $_->[2] }
} ['41000000000000001', 5000, 0], ['42000000000000002', 4000, 1],
  ['43000000000000003', 4000, 0], ['44000000000000004', 3000, 1],
  ['45000000000000005', 2000, 0];

# a room with known values for the api-version checks
our %VROOM = (id => '55000000000000005', created => $T0 - 60, from => $T0,
              until => $T0 + 7 * 86400, pstn => 1);

our $HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=1 $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
_EOC_

our $CONFIG = <<'_EOC_';
    location / {
        rooms_api;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => $HTTP_CONFIG)
        unless defined $block->http_config;
    $block->set_value(config => $CONFIG) unless defined $block->config;

    RoomsTest::prepare_block($block);
});

# "2026-11-28T20:58:19.716925+00:00" -> microseconds since the epoch
sub us_of {
    my $s = shift // return undef;
    my @t = $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\+00:00\z/
        or return undef;
    my $frac = substr(($t[6] // '') . '000000', 0, 6);
    return Time::Local::timegm($t[5], $t[4], $t[3], $t[2], $t[1] - 1, $t[0])
           * 1e6 + $frac;
}

# a response_body_filters function: a room answered by the API -> what it
# says, relative to now where it can (a value when it is not what the
# relation expects), plus what Redis holds for it
sub room_facts {
    my $body = shift;

    my $r = eval { JSON::PP->new->decode($body) };
    return "not a JSON object: $body\n" unless ref $r eq 'HASH';

    my $now = Time::HiRes::time() * 1e6;
    my ($c, $f, $u) = map { us_of($r->{$_}) } qw(createdAt validFrom validUntil);
    my $pstn = $r->{pstnDialOutEnabled};
    my @facts;

    push @facts, 'fields: ' . join(' ', sort keys %$r);
    push @facts, 'id: ' . (($r->{id} // '') =~ /^[1-9][0-9]{16}\z/
                           ? '17 digits' : $r->{id} // 'none');
    push @facts, 'createdAt: ' . (defined $c && abs($c - $now) < 60e6
                                  ? 'now' : $r->{createdAt} // 'none');
    push @facts, 'validFrom: ' . (defined $f && defined $c && $f == $c
                                  ? 'createdAt' : $r->{validFrom} // 'none');
    push @facts, 'validUntil: ' . (defined $u && defined $f
                                   && $u - $f == 180 * 86400 * 1e6
                                   ? 'validFrom + 180 days'
                                   : $r->{validUntil} // 'none');
    push @facts, 'pstnDialOutEnabled: '
                 . (ref $pstn eq 'JSON::PP::Boolean' ? ($pstn ? 'true' : 'false')
                                                      : 'not a boolean');

    my $key = 'rooms:{' . ($r->{id} // '') . '}';
    my $h = RoomsTest::redis('HMGET', $key, qw(c f u p));
    my @want = ($c, $f, $u, ref $pstn ? ($pstn ? 1 : 0) : undef);
    push @facts, 'stored: ' . ((grep { !defined $h->[$_] || !defined $want[$_]
                                       || $h->[$_] != $want[$_] } 0 .. 3)
                               ? join(' ', map { $_ // 'nil' } @$h)
                               : 'as answered');

    for my $k ([room => $key], [participants => "$key:p"]) {
        my $pttl = RoomsTest::redis('PTTL', $k->[1]);
        next if $k->[0] eq 'participants' && $pttl == -2;
        push @facts, "$k->[0] key expires: "
                     . (defined $u && $pttl > 0
                        && abs($pttl * 1000 - ($u - $now)) < 60e6
                        ? 'at validUntil' : "PTTL $pttl");
    }

    return join("\n", @facts) . "\n";
}

# the JSON the API answers for a room stored by store_room()
sub room_json {
    my ($room, $api) = @_;
    return sprintf '{"id":"%s","createdAt":"%s","validFrom":"%s","validUntil":"%s"%s}',
        $room->{id}, map({ RoomsTest::acs_time($room->{$_}) } qw(created from until)),
        ($api // '') eq '2023-06-14' ? ''
            : ',"pstnDialOutEnabled":' . ($room->{pstn} ? 'true' : 'false');
}

# a page of @ROOMS (by index) with a nextLink, as a pattern
sub page_like {
    my ($next, @i) = @_;
    my $re = '\A' . quotemeta('{"value":['
                              . join(',', map { room_json($ROOMS[$_]) } @i) . ']');
    $re .= quotemeta(',"nextLink":"') . '/rooms\?api-version=2025-03-13'
           . '&maxpagesize=2&continuationToken=[A-Za-z0-9._-]+' . quotemeta('"')
        if $next;
    return $re . '\}\z';
}

# the keys of rooms (rooms:{ID}, rooms:{ID}:p, and rooms:{ID}:rep for one
# made by a repeatable request) in the db, room ids replaced by ID
sub db_keys {
    my @keys = @{ RoomsTest::redis('KEYS', 'rooms:{*') };
    return join '', map { "$_\n" } sort map { s/\{[0-9]{16,18}\}/{ID}/r } @keys;
}

run_tests();

__DATA__

=== TEST 1: POST /rooms as createRoom() sends it: 201, Location, defaults (validFrom now, validUntil validFrom + 180 days, PSTN off), stored in Redis and expiring at validUntil
--- init
RoomsTest::redis('FLUSHDB');
--- request
POST /rooms?api-version=2025-03-13
{"participants":{}}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_headers_like
Location: /rooms/[1-9][0-9]{16}
Content-Type: application/json; charset=utf-8
--- response_body_filters eval
[RoomsTest::keep(room1 => qr/"id":"([0-9]+)"/, room1_json => qr/\A(.*)\z/s,
                 room1_created => qr/"createdAt":"([^"]+)"/,
                 room1_from => qr/"validFrom":"([^"]+)"/,
                 room1_until => qr/"validUntil":"([^"]+)"/),
 \&main::room_facts]
--- response_body
fields: createdAt id pstnDialOutEnabled validFrom validUntil
id: 17 digits
createdAt: now
validFrom: createdAt
validUntil: validFrom + 180 days
pstnDialOutEnabled: false
stored: as answered
room key expires: at validUntil
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: GET /rooms/{id}: 200 with exactly what the create answered
--- request
GET /rooms/<%room1%>?api-version=2025-03-13
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
!x-ms-error-code
--- response_body: <%room1_json%>
--- no_error_log
[error]
[alert]



=== TEST 3: PATCH /rooms/{id} is a merge-patch: pstnDialOutEnabled changes, the rest stays
--- request
PATCH /rooms/<%room1%>?api-version=2025-03-13
{"pstnDialOutEnabled":true}
--- more_headers
Content-Type: application/merge-patch+json
--- error_code: 200
--- response_body: {"id":"<%room1%>","createdAt":"<%room1_created%>","validFrom":"<%room1_from%>","validUntil":"<%room1_until%>","pstnDialOutEnabled":true}
--- no_error_log
[error]
[alert]



=== TEST 4: PATCH with {} and with nulls changes nothing
--- request eval
["PATCH /rooms/<%room1%>?api-version=2025-03-13\n{}",
 "PATCH /rooms/<%room1%>?api-version=2025-03-13\n"
 . '{"validFrom":null,"validUntil":null,"pstnDialOutEnabled":null}']
--- more_headers
Content-Type: application/merge-patch+json
--- error_code eval
[200, 200]
--- response_body eval
[('{"id":"<%room1%>","createdAt":"<%room1_created%>","validFrom":"<%room1_from%>","validUntil":"<%room1_until%>","pstnDialOutEnabled":true}') x 2]
--- no_error_log
[error]
[alert]



=== TEST 5: PATCH an explicit window (SDK date format): the window changes, createdAt and pstnDialOutEnabled stay
--- request eval
"PATCH /rooms/<%room1%>?api-version=2025-03-13\n"
. qq({"validFrom":"$::FROM_SDK","validUntil":"$::UNTIL_SDK"})
--- more_headers
Content-Type: application/merge-patch+json
--- error_code: 200
--- response_body eval
qq({"id":"<%room1%>","createdAt":"<%room1_created%>","validFrom":"$::FROM_ACS","validUntil":"$::UNTIL_ACS","pstnDialOutEnabled":true})
--- no_error_log
[error]
[alert]



=== TEST 6: after the PATCH Redis holds the new window and the room key expires at the new validUntil
--- request
GET /rooms/<%room1%>?api-version=2025-03-13
--- error_code: 200
--- response_body_filters eval
\&main::room_facts
--- response_body eval
"fields: createdAt id pstnDialOutEnabled validFrom validUntil
id: 17 digits
createdAt: now
validFrom: $::FROM_ACS
validUntil: $::UNTIL_ACS
pstnDialOutEnabled: true
stored: as answered
room key expires: at validUntil
"
--- no_error_log
[error]
[alert]



=== TEST 7: a room created without participants lists none; participants added later expire with the room
--- request eval
["GET /rooms/<%room1%>/participants?api-version=2025-03-13",
 "PATCH /rooms/<%room1%>/participants?api-version=2025-03-13\n"
 . '{"participants":{"8:acs:r1_zoe":{"role":"Attendee"}}}',
 "GET /rooms/<%room1%>?api-version=2025-03-13"]
--- more_headers eval
["", "Content-Type: application/merge-patch+json\n", ""]
--- error_code eval
[200, 200, 200]
--- response_body_filters eval
[[], [], [\&main::room_facts]]
--- response_body eval
['{"value":[]}', '{}',
"fields: createdAt id pstnDialOutEnabled validFrom validUntil
id: 17 digits
createdAt: now
validFrom: $::FROM_ACS
validUntil: $::UNTIL_ACS
pstnDialOutEnabled: true
stored: as answered
room key expires: at validUntil
participants key expires: at validUntil
"]
--- no_error_log
[error]
[alert]



=== TEST 8: POST /rooms with a window, PSTN on and participants in the four roles (one without a role): 201, both keys expire at validUntil
--- request eval
"POST /rooms?api-version=2025-03-13\n"
. qq({"validFrom":"$::FROM_SDK","validUntil":"$::UNTIL_SDK","pstnDialOutEnabled":true,)
. '"participants":{"8:acs:r1_alice":{"role":"Presenter"},"8:acs:r1_bob":{"role":"Attendee"},'
. '"8:acs:r1_carol":{"role":"Consumer"},"8:acs:r1_dave":{"role":"Collaborator"},'
. '"8:acs:r1_erin":{}}}'
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_headers_like
Location: /rooms/[1-9][0-9]{16}
--- response_body_filters eval
[RoomsTest::keep(room2 => qr/"id":"([0-9]+)"/), \&main::room_facts]
--- response_body eval
"fields: createdAt id pstnDialOutEnabled validFrom validUntil
id: 17 digits
createdAt: now
validFrom: $::FROM_ACS
validUntil: $::UNTIL_ACS
pstnDialOutEnabled: true
stored: as answered
room key expires: at validUntil
participants key expires: at validUntil
"
--- no_error_log
[error]
[alert]



=== TEST 9: GET /rooms/{id}/participants: every participant with its role (Attendee when none was given), in raw id order
--- request
GET /rooms/<%room2%>/participants?api-version=2025-03-13
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body: {"value":[{"rawId":"8:acs:r1_alice","role":"Presenter"},{"rawId":"8:acs:r1_bob","role":"Attendee"},{"rawId":"8:acs:r1_carol","role":"Consumer"},{"rawId":"8:acs:r1_dave","role":"Collaborator"},{"rawId":"8:acs:r1_erin","role":"Attendee"}]}
--- no_error_log
[error]
[alert]



=== TEST 10: PATCH participants in one request: a role change, an addition and a removal (null); 200 {}
--- request eval
["PATCH /rooms/<%room2%>/participants?api-version=2025-03-13\n"
 . '{"participants":{"8:acs:r1_bob":{"role":"Presenter"},"8:acs:r1_frank":{"role":"Consumer"},"8:acs:r1_carol":null}}',
 "GET /rooms/<%room2%>/participants?api-version=2025-03-13"]
--- more_headers
Content-Type: application/merge-patch+json
--- error_code eval
[200, 200]
--- response_body eval
['{}',
 '{"value":[{"rawId":"8:acs:r1_alice","role":"Presenter"},{"rawId":"8:acs:r1_bob","role":"Presenter"},{"rawId":"8:acs:r1_dave","role":"Collaborator"},{"rawId":"8:acs:r1_erin","role":"Attendee"},{"rawId":"8:acs:r1_frank","role":"Consumer"}]}']
--- no_error_log
[error]
[alert]



=== TEST 11: removing a participant who is not in the room is a success (200 {}) and changes nothing; re-adding one is idempotent
--- request eval
["PATCH /rooms/<%room2%>/participants?api-version=2025-03-13\n"
 . '{"participants":{"8:acs:r1_nobody":null}}',
 "PATCH /rooms/<%room2%>/participants?api-version=2025-03-13\n"
 . '{"participants":{"8:acs:r1_alice":{"role":"Presenter"}}}',
 "GET /rooms/<%room2%>/participants?api-version=2025-03-13"]
--- more_headers
Content-Type: application/merge-patch+json
--- error_code eval
[200, 200, 200]
--- response_body eval
['{}', '{}',
 '{"value":[{"rawId":"8:acs:r1_alice","role":"Presenter"},{"rawId":"8:acs:r1_bob","role":"Presenter"},{"rawId":"8:acs:r1_dave","role":"Collaborator"},{"rawId":"8:acs:r1_erin","role":"Attendee"},{"rawId":"8:acs:r1_frank","role":"Consumer"}]}']
--- no_error_log
[error]
[alert]



=== TEST 12: PATCH the window of a room with participants: both keys now expire at the new validUntil
--- request eval
["PATCH /rooms/<%room2%>?api-version=2025-03-13\n{\"validUntil\":\"$::UNTIL2_SDK\"}",
 "GET /rooms/<%room2%>?api-version=2025-03-13"]
--- more_headers eval
["Content-Type: application/merge-patch+json\n", ""]
--- error_code eval
[200, 200]
--- response_body_filters eval
[[], [\&main::room_facts]]
--- response_body_like eval
['\A\{"id":"<%room2%>","createdAt":"[^"]+","validFrom":"' . quotemeta($::FROM_ACS)
 . '","validUntil":"' . quotemeta($::UNTIL2_ACS) . '","pstnDialOutEnabled":true\}\z',
 '\A' . quotemeta("fields: createdAt id pstnDialOutEnabled validFrom validUntil
id: 17 digits
createdAt: now
validFrom: $::FROM_ACS
validUntil: $::UNTIL2_ACS
pstnDialOutEnabled: true
stored: as answered
room key expires: at validUntil
participants key expires: at validUntil
") . '\z']
--- no_error_log
[error]
[alert]



=== TEST 13: participants paged by maxpagesize=2: first page and a relative nextLink with api-version and continuationToken
--- request
GET /rooms/<%room2%>/participants?api-version=2025-03-13&maxpagesize=2
--- error_code: 200
--- response_body_filters eval
RoomsTest::keep(next => qr/"nextLink":"([^"]*)"/)
--- response_body_like: \A\{"value":\[\{"rawId":"8:acs:r1_alice","role":"Presenter"\},\{"rawId":"8:acs:r1_bob","role":"Presenter"\}\],"nextLink":"/rooms/<%room2%>/participants\?api-version=2025-03-13&maxpagesize=2&continuationToken=[A-Za-z0-9._-]+"\}\z
--- no_error_log
[error]
[alert]



=== TEST 14: following the participants nextLink verbatim gives the second page and another nextLink
--- request
GET <%next%>
--- error_code: 200
--- response_body_filters eval
RoomsTest::keep(next => qr/"nextLink":"([^"]*)"/)
--- response_body_like: \A\{"value":\[\{"rawId":"8:acs:r1_dave","role":"Collaborator"\},\{"rawId":"8:acs:r1_erin","role":"Attendee"\}\],"nextLink":"/rooms/<%room2%>/participants\?api-version=2025-03-13&maxpagesize=2&continuationToken=[A-Za-z0-9._-]+"\}\z
--- no_error_log
[error]
[alert]



=== TEST 15: the last participants page has no nextLink
--- request
GET <%next%>
--- error_code: 200
--- response_body: {"value":[{"rawId":"8:acs:r1_frank","role":"Consumer"}]}
--- no_error_log
[error]
[alert]



=== TEST 16: GET /rooms with maxpagesize=2: the two oldest rooms and a relative nextLink
--- init
RoomsTest::redis('FLUSHDB');
RoomsTest::store_room($_->{id}, %$_) for @main::ROOMS;
--- request
GET /rooms?api-version=2025-03-13&maxpagesize=2
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_filters eval
RoomsTest::keep(next => qr/"nextLink":"([^"]*)"/)
--- response_body_like eval
main::page_like(1, 0, 1)
--- no_error_log
[error]
[alert]



=== TEST 17: following the rooms nextLink verbatim gives the next two rooms (the one created in the same microsecond as the last one is not skipped)
--- request
GET <%next%>
--- error_code: 200
--- response_body_filters eval
RoomsTest::keep(next => qr/"nextLink":"([^"]*)"/)
--- response_body_like eval
main::page_like(1, 2, 3)
--- no_error_log
[error]
[alert]



=== TEST 18: the last rooms page: the fifth room, no nextLink; no room was on two pages
--- request
GET <%next%>
--- error_code: 200
--- response_body_like eval
main::page_like(0, 4)
--- no_error_log
[error]
[alert]



=== TEST 19: DELETE /rooms/{id}: 204 without a body, both keys gone; then GET 404, DELETE again 404, and the list no longer has it
--- request eval
["DELETE /rooms/$::ROOMS[4]{id}?api-version=2025-03-13",
 "GET /rooms/$::ROOMS[4]{id}?api-version=2025-03-13",
 "DELETE /rooms/$::ROOMS[4]{id}?api-version=2025-03-13",
 "GET /rooms?api-version=2025-03-13"]
--- init
RoomsTest::redis('HSET', "rooms:{$main::ROOMS[4]{id}}:p", '8:acs:r1_x', 'Attendee');
--- error_code eval
[204, 404, 404, 200]
--- response_headers eval
["!Content-Type\n!x-ms-error-code", "x-ms-error-code: NotFound",
 "x-ms-error-code: NotFound", "!x-ms-error-code"]
--- response_body_filters eval
[[sub { $_[0] . "keys left: "
        . RoomsTest::redis('EXISTS', "rooms:{$main::ROOMS[4]{id}}",
                           "rooms:{$main::ROOMS[4]{id}}:p") }],
 [], [], []]
--- response_body eval
["keys left: 0",
 '{"error":{"code":"NotFound","message":"The room was not found."}}',
 '{"error":{"code":"NotFound","message":"The room was not found."}}',
 '{"value":[' . CORE::join(',', map { main::room_json($_) } @main::ROOMS[0 .. 3]) . ']}']
--- no_error_log
[error]
[alert]



=== TEST 20: POST /rooms with a Repeatability-Request-ID (as the SDK sends it): 201
--- init
RoomsTest::redis('FLUSHDB');
--- request
POST /rooms?api-version=2025-03-13
{"participants":{"8:acs:r1_alice":{"role":"Presenter"}}}
--- more_headers
Content-Type: application/json
Repeatability-Request-ID: 760446fb-24c7-4e8f-bb77-96881578675f
Repeatability-First-Sent: Sat, 28 Nov 2026 20:39:55 GMT
--- error_code: 201
--- response_body_filters eval
RoomsTest::keep(rep_json => qr/\A(.*)\z/s, rep_id => qr/"id":"([0-9]+)"/)
--- response_body_like: \A\{"id":"[1-9][0-9]{16}",
--- no_error_log
[error]
[alert]



=== TEST 21: the same POST again (an SDK retry): 201 with the same room, id and createdAt included
--- request
POST /rooms?api-version=2025-03-13
{"participants":{"8:acs:r1_alice":{"role":"Presenter"}}}
--- more_headers
Content-Type: application/json
Repeatability-Request-ID: 760446fb-24c7-4e8f-bb77-96881578675f
Repeatability-First-Sent: Sat, 28 Nov 2026 20:39:55 GMT
--- error_code: 201
--- response_headers
Location: /rooms/<%rep_id%>
--- response_body: <%rep_json%>
--- no_error_log
[error]
[alert]



=== TEST 22: only one room exists after the two requests: the list, and the room keys in Redis
--- request eval
["GET /rooms?api-version=2025-03-13", "GET /rooms?api-version=2025-03-13"]
--- error_code eval
[200, 200]
--- response_body_filters eval
[[], [\&main::db_keys]]
--- response_body eval
['{"value":[<%rep_json%>]}',
 "rooms:{ID}\nrooms:{ID}:p\nrooms:{ID}:rep\n"]
--- no_error_log
[error]
[alert]



=== TEST 23: another Repeatability-Request-ID creates another room
--- request
POST /rooms?api-version=2025-03-13
{"participants":{"8:acs:r1_alice":{"role":"Presenter"}}}
--- more_headers
Content-Type: application/json
Repeatability-Request-ID: 9d5c8073-c4fa-4508-a950-6cb0997c6f12
--- error_code: 201
--- response_body_filters eval
RoomsTest::keep(rep2_id => qr/"id":"([0-9]+)"/)
--- response_body_like: \A\{"id":"(?!<%rep_id%>")[1-9][0-9]{16}","createdAt":
--- no_error_log
[error]
[alert]



=== TEST 24: api-versions 2025-03-13, 2024-04-15 and 2023-06-14 are accepted (2023-06-14 has no pstnDialOutEnabled); others and none are 400
--- init
RoomsTest::store_room($main::VROOM{id}, %main::VROOM);
--- request eval
[map({ "GET /rooms/$::VROOM{id}?api-version=$_" }
     qw(2025-03-13 2024-04-15 2023-06-14 2023-10-01 2025-03-14 2022-01-01)),
 "GET /rooms/$::VROOM{id}", "GET /rooms/$::VROOM{id}?api-version="]
--- error_code eval
[200, 200, 200, 400, 400, 400, 400, 400]
--- response_body_like eval
[map({ '\A' . quotemeta(main::room_json(\%main::VROOM, $_)) . '\z' }
     qw(2025-03-13 2024-04-15 2023-06-14)),
 ('\A\{"error":\{"code":"BadRequest","message":"The api-version query parameter is missing or not supported[^"]*"\}\}\z') x 5]
--- no_error_log
[error]
[alert]



=== TEST 25: POST /rooms with 2023-06-14 answers without pstnDialOutEnabled, with 2024-04-15 with it
--- request eval
["POST /rooms?api-version=2023-06-14\n{}", "POST /rooms?api-version=2024-04-15\n{}"]
--- error_code eval
[201, 201]
--- response_body_like eval
['\A\{"id":"[1-9][0-9]{16}","createdAt":"[^"]+","validFrom":"[^"]+","validUntil":"[^"]+"\}\z',
 '\A\{"id":"[1-9][0-9]{16}","createdAt":"[^"]+","validFrom":"[^"]+","validUntil":"[^"]+","pstnDialOutEnabled":false\}\z']
--- no_error_log
[error]
[alert]



=== TEST 26: GET /rooms with 2023-06-14: rooms without pstnDialOutEnabled, and the nextLink keeps that api-version
--- request
GET /rooms?api-version=2023-06-14&maxpagesize=1
--- error_code: 200
--- response_body_like: \A\{"value":\[\{"id":"[1-9][0-9]{16}","createdAt":"[^"]+","validFrom":"[^"]+","validUntil":"[^"]+"\}\],"nextLink":"/rooms\?api-version=2023-06-14&maxpagesize=1&continuationToken=[A-Za-z0-9._-]+"\}\z
--- no_error_log
[error]
[alert]



=== TEST 27: dates with an offset and with 7 fractional digits (.NET) are read as instants and answered in UTC, to the microsecond
--- request eval
"POST /rooms?api-version=2025-03-13\n"
. '{"validFrom":"' . POSIX::strftime('%Y-%m-%dT%H:%M:%S', gmtime($::FROM + 2 * 3600)) . '+02:00",'
. '"validUntil":"' . POSIX::strftime('%Y-%m-%dT%H:%M:%S', gmtime($::UNTIL)) . '.1234567Z"}'
--- error_code: 201
--- response_body_like eval
'\A\{"id":"[1-9][0-9]{16}","createdAt":"[^"]+","validFrom":"' . quotemeta($::FROM_ACS)
. '","validUntil":"' . quotemeta($::UNTIL_ACS =~ s/\+00:00\z/.123456+00:00/r)
. '","pstnDialOutEnabled":false\}\z'
--- no_error_log
[error]
[alert]



=== TEST 28: DELETE the room that the Repeatability-Request-ID of TEST 20 made
--- request
DELETE /rooms/<%rep_id%>?api-version=2025-03-13
--- error_code: 204
--- no_error_log
[error]



=== TEST 29: a retry of that request after the DELETE is answered as the first request was, and brings no room back
--- request
POST /rooms?api-version=2025-03-13
{"participants":{"8:acs:r1_alice":{"role":"Presenter"}}}
--- more_headers
Content-Type: application/json
Repeatability-Request-ID: 760446fb-24c7-4e8f-bb77-96881578675f
Repeatability-First-Sent: Sat, 28 Nov 2026 20:39:55 GMT
--- error_code: 201
--- response_headers
Location: /rooms/<%rep_id%>
Repeatability-Result: accepted
--- response_body_filters eval
sub { $_[0] . "\nroom keys: "
      . RoomsTest::redis('EXISTS', "rooms:{$RoomsTest::SAVED{rep_id}}",
                         "rooms:{$RoomsTest::SAVED{rep_id}}:p") . "\n" }
--- response_body
<%rep_json%>
room keys: 0
--- error_log eval
qr/rooms api: room \d+: a repeated request, answered as the first one was/
--- no_error_log
[error]



=== TEST 30: the same Repeatability-Request-ID with another body (a Presenter who was never in the first request): 400, rejected, nothing written
--- request
POST /rooms?api-version=2025-03-13
{"participants":{"8:acs:r1_alice":{"role":"Presenter"},"8:acs:r1_mallory":{"role":"Presenter"}}}
--- more_headers
Content-Type: application/json
Repeatability-Request-ID: 760446fb-24c7-4e8f-bb77-96881578675f
Repeatability-First-Sent: Sat, 28 Nov 2026 20:39:55 GMT
--- error_code: 400
--- response_headers
Repeatability-Result: rejected
x-ms-error-code: BadRequest
!Location
--- response_body_filters eval
sub { $_[0] . "\nroom keys: "
      . RoomsTest::redis('EXISTS', "rooms:{$RoomsTest::SAVED{rep_id}}",
                         "rooms:{$RoomsTest::SAVED{rep_id}}:p") . "\n" }
--- response_body
{"error":{"code":"BadRequest","message":"The request does not match the earlier request with this Repeatability-Request-ID."}}
room keys: 0
--- no_error_log
[error]



=== TEST 31: a Repeatability-Request-ID whose room exists but whose record is gone (expired): 409, the room is left as it is
--- init
RoomsTest::redis('DEL', "rooms:{$RoomsTest::SAVED{rep2_id}}:rep");
--- request
POST /rooms?api-version=2025-03-13
{}
--- more_headers
Content-Type: application/json
Repeatability-Request-ID: 9d5c8073-c4fa-4508-a950-6cb0997c6f12
--- error_code: 409
--- response_body_filters eval
sub { $_[0] . "\nparticipants: "
      . RoomsTest::redis('HLEN', "rooms:{$RoomsTest::SAVED{rep2_id}}:p") . "\n" }
--- response_body
{"error":{"code":"Conflict","message":"The room of this Repeatability-Request-ID exists, but the request is no longer remembered: send a new Repeatability-Request-ID."}}
participants: 1
--- no_error_log
[error]



=== TEST 32: the scripts are flushed from Redis (SCRIPT FLUSH, or a failover to a node without them): every write is made at once with EVAL, answered 2xx, and logged
--- init
RoomsTest::redis('FLUSHDB');
RoomsTest::flush_scripts();
--- request eval
["POST /rooms?api-version=2025-03-13\n{\"participants\":{\"8:acs:r1_alice\":{}}}"]
--- error_code: 201
--- response_body_filters eval
[RoomsTest::keep(flushed_id => qr/"id":"([0-9]+)"/)]
--- response_body_like: \A\{"id":"[1-9][0-9]{16}",
--- error_log eval
qr/\[warn\] .*rooms redis: "[^"]+" no longer has script [0-9a-f]{40} \(SCRIPT FLUSH, or a failover\?\): sent again with EVAL/
--- no_error_log
[error]



=== TEST 33: after another SCRIPT FLUSH, a participants PATCH, a room PATCH and a DELETE all succeed, and the DELETE leaves no key
--- init
RoomsTest::store_room('66000000000000006', participants => { '8:acs:r1_alice' => 'Presenter' });
RoomsTest::flush_scripts();
--- request eval
["PATCH /rooms/66000000000000006/participants?api-version=2025-03-13\n{\"participants\":{\"8:acs:r1_bob\":{\"role\":\"Consumer\"}}}",
 "PATCH /rooms/66000000000000006?api-version=2025-03-13\n{\"pstnDialOutEnabled\":true}",
 "DELETE /rooms/66000000000000006?api-version=2025-03-13"]
--- error_code eval
[200, 200, 204]
--- response_body_filters eval
[[], [], [sub { "keys left: " . RoomsTest::redis('EXISTS', "rooms:{66000000000000006}",
                                                  "rooms:{66000000000000006}:p") }]]
--- response_body_like eval
['\A\{\}\z', '"pstnDialOutEnabled":true', '\Akeys left: 0\z']
--- no_error_log
[error]



=== TEST 34: the index of rooms: new rooms in its 16 shards, rooms of the single index of earlier versions listed with them in createdAt order, a DELETE forgets a room in either
--- init
RoomsTest::redis('FLUSHDB');
# two rooms of an earlier version: in rooms:index
RoomsTest::store_room('71000000000000001', created => $main::T0 - 300);
RoomsTest::store_room('72000000000000002', created => $main::T0 - 100);
--- request eval
["POST /rooms?api-version=2025-03-13\n{}",
 "GET /rooms?api-version=2025-03-13&maxpagesize=2",
 "DELETE /rooms/71000000000000001?api-version=2025-03-13",
 "GET /rooms?api-version=2025-03-13"]
--- error_code eval
[201, 200, 204, 200]
--- response_body_filters eval
[[sub { my $n = 0;
        $n += RoomsTest::redis('ZCARD', "rooms:index:{$_}") for 0 .. 15;
        "shards: $n legacy: " . RoomsTest::redis('ZCARD', 'rooms:index') }],
 [sub { CORE::join ' ', $_[0] =~ /"id":"([0-9]+)"/g }],
 [sub { "legacy: " . RoomsTest::redis('ZCARD', 'rooms:index') }],
 [sub { CORE::join ' ', $_[0] =~ /"id":"([0-9]+)"/g }]]
--- response_body_like eval
['\Ashards: 1 legacy: 2\z', '\A71000000000000001 72000000000000002\z',
 '\Alegacy: 1\z', '\A72000000000000002 [1-9][0-9]{16}\z']
--- no_error_log
[error]
