# Error answers of the management API: every refusal is an ACS-shaped JSON
# body {"error":{"code":..,"message":..[,"details":[..]]}} with the code
# in an x-ms-error-code header too, and nothing a client sends makes nginx
# log an [alert] or [crit] (malformed, hostile or oversized bodies).
#
# Requests are signed by RoomsTest::prepare_block (see t/RoomsTest.pm), so
# each of them passes authentication and reaches the part under test.
#
#   scripts/prove-t t/003-api-errors.t     (TEST_NGINX_REDIS_PORT: a Redis)

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;

$RoomsTest::REDIS_DB = 4;

no_shuffle();
no_root_location();

our $V = 'api-version=2025-03-13';
our $T0 = time;

# a room for the updates and participant changes that must be refused
our %ROOM = (id => '44000000000000004', created => $T0 - 60, from => $T0 - 60,
             until => $T0 + 86400,
             participants => { '8:acs:r4_alice' => 'Presenter' });
our $R = "/rooms/$ROOM{id}";
our $ROOM_JSON = sprintf '{"id":"%s","createdAt":"%s","validFrom":"%s","validUntil":"%s","pstnDialOutEnabled":false}',
    $ROOM{id}, map { RoomsTest::acs_time($ROOM{$_}) } qw(created from until);
our $PARTS_JSON = '{"value":[{"rawId":"8:acs:r4_alice","role":"Presenter"}]}';

our $MALFORMED = 'The request could not be understood by the server due to '
                 . 'malformed syntax.';

# any JSON string content
our $ANY = '(?:[^"\\\\]|\\\\.)+';

# err_like(CODE, MESSAGE [, DETAIL [, TARGET]]): an error body as a
# pattern; DETAIL (the message of the one BadArgument detail) is a string,
# or a pattern given as a qr//; without TARGET any target or none
sub err_like {
    my ($code, $message, $detail, $target) = @_;
    my $re = '\A\{"error":\{"code":"' . quotemeta($code) . '","message":"'
             . quotemeta($message) . '"';
    if (defined $detail) {
        $re .= ',"details":\[\{"code":"BadArgument","message":"'
               . (ref $detail ? $detail : quotemeta $detail) . '"'
               . (defined $target ? ',"target":"' . quotemeta($target) . '"'
                                  : '(?:,"target":"' . $ANY . '")?')
               . '\}\]';
    }
    return $re . '\}\}\z';
}

# a malformed body: BadRequest with one BadArgument detail
sub malformed { err_like('BadRequest', $MALFORMED, @_) }

# a whole request with raw body bytes, signed, for --- raw_request
sub raw_signed {
    my ($method, $path, $body) = @_;
    my %h = RoomsTest::acs_sign($method, $path, $body);
    return "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n$body";
}

# a body of exactly N bytes that the API accepts
sub padded { my $n = shift; '{"pad":"' . ('x' x ($n - 10)) . '"}' }

# chunked transfer coding of a body, 512-byte chunks
sub chunked {
    my $body = shift;
    my $out = '';
    $out .= sprintf("%x\r\n", length $1) . "$1\r\n" while $body =~ /\G(.{1,512})/gs;
    return $out . "0\r\n\r\n";
}

our $HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=4 $TEST_NGINX_ROOMS_REDIS_EXTRA;
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

run_tests();

__DATA__

=== TEST 1: invalid JSON: 400 BadRequest, the parser's complaint as a BadArgument detail with target "$"
--- init
RoomsTest::redis('FLUSHDB');
RoomsTest::store_room($main::ROOM{id}, %main::ROOM);
--- request eval
[map { "POST /rooms?$::V\n$_" } '{', '{"validFrom":}', 'not json', '{"a":1} {"b":2}', "{'a':1}"]
--- error_code eval
[(400) x 5]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 5]
--- response_body_like eval
[(main::malformed(qr/$::ANY/, '$')) x 5]
--- no_error_log
[alert]
[crit]



=== TEST 2: values of the wrong type in POST /rooms: 400 naming the property
--- request eval
[map { "POST /rooms?$::V\n$_" }
 '[]', '"a string"', '{"validFrom":1}', '{"validUntil":true}',
 '{"pstnDialOutEnabled":"yes"}', '{"participants":[]}',
 '{"participants":{"8:acs:r4_bob":"Presenter"}}',
 '{"participants":{"8:acs:r4_bob":{"role":1}}}',
 '{"participants":{"8:acs:r4_bob":null}}']
--- error_code eval
[(400) x 9]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 9]
--- response_body_like eval
[main::malformed('The request body must be a JSON object.', '$'),
 main::malformed(qr/$::ANY/, '$'),
 main::malformed('The JSON value could not be converted to a date-time. Path: $.validFrom.', '$.validFrom'),
 main::malformed('The JSON value could not be converted to a date-time. Path: $.validUntil.', '$.validUntil'),
 main::malformed('The JSON value could not be converted to a boolean. Path: $.pstnDialOutEnabled.', '$.pstnDialOutEnabled'),
 main::malformed('The JSON value could not be converted to a participants map. Path: $.participants.', '$.participants'),
 main::malformed('The JSON value could not be converted to ParticipantProperties. Path: $.participants.', '$.participants'),
 main::malformed('The JSON value could not be converted to Role. Path: $.participants.role.', '$.participants.role'),
 main::malformed('Provided participant is null at create room request.', 'participants')]
--- no_error_log
[alert]
[crit]



=== TEST 3: values of the wrong type in PATCH /rooms/{id} and PATCH participants: 400, and the room is unchanged
--- request eval
["PATCH $::R?$::V\n{\"pstnDialOutEnabled\":1}",
 "PATCH $::R?$::V\n{\"validUntil\":[]}",
 "PATCH $::R/participants?$::V\n{\"participants\":\"8:acs:r4_bob\"}",
 "PATCH $::R/participants?$::V\n{}",
 "PATCH $::R/participants?$::V\n{\"participants\":{\"8:acs:r4_bob\":[]}}",
 "GET $::R?$::V",
 "GET $::R/participants?$::V"]
--- error_code eval
[(400) x 5, 200, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 5, "!x-ms-error-code", "!x-ms-error-code"]
--- response_body_like eval
[main::malformed('The JSON value could not be converted to a boolean. Path: $.pstnDialOutEnabled.', '$.pstnDialOutEnabled'),
 main::malformed('The JSON value could not be converted to a date-time. Path: $.validUntil.', '$.validUntil'),
 main::malformed('The JSON value could not be converted to a participants map. Path: $.participants.', '$.participants'),
 main::malformed('The participants field is required.', 'participants'),
 main::malformed('The JSON value could not be converted to ParticipantProperties. Path: $.participants.', '$.participants'),
 '\A' . quotemeta($::ROOM_JSON) . '\z',
 '\A' . quotemeta($::PARTS_JSON) . '\z']
--- no_error_log
[alert]
[crit]



=== TEST 4: duplicate keys, also in two spellings of one property and in the participants map: 400
--- request eval
[map { "POST /rooms?$::V\n$_" }
 '{"pstnDialOutEnabled":true,"pstnDialOutEnabled":false}',
 '{"validFrom":"2030-01-01T00:00:00Z","ValidFrom":"2030-01-01T00:00:00Z"}',
 '{"participants":{"8:acs:r4_bob":{},"8:acs:r4_bob":{"role":"Presenter"}}}',
 '{"participants":{"8:acs:r4_bob":{"role":"Presenter","Role":"Consumer"}}}']
--- error_code eval
[(400) x 4]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 4]
--- response_body_like eval
[main::malformed(qr/duplicate object key$::ANY/, '$'),
 main::malformed('Duplicate property \"validFrom\".', 'validFrom'),
 main::malformed(qr/duplicate object key$::ANY/, '$'),
 main::malformed('Duplicate property \"role\".', 'role')]
--- no_error_log
[alert]
[crit]



=== TEST 5: invalid UTF-8 (a stray byte, an overlong form, a surrogate, a cut sequence, in a key): 400
--- request eval
[map { "POST /rooms?$::V\n$_" }
 "{\"x\":\"\xff\"}", "{\"x\":\"\xc0\xaf\"}", "{\"x\":\"\xed\xa0\x80\"}",
 "{\"x\":\"\xe2\x82\"}", "{\"participants\":{\"8:acs:r4_\xfe\":{}}}"]
--- error_code eval
[(400) x 5]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 5]
--- response_body_like eval
[(main::malformed(qr/unable to decode byte 0x[0-9a-f]{2}$::ANY/, '$')) x 5]
--- no_error_log
[alert]
[crit]



=== TEST 6: invalid UTF-8 sent as raw bytes in PATCH participants: 400, participants unchanged
--- raw_request eval
main::raw_signed('PATCH', "$::R/participants?$::V",
                 "{\"participants\":{\"8:acs:r4_alice\":null,\"8:acs:r4_\x80\":{}}}")
--- error_code: 400
--- response_headers
x-ms-error-code: BadRequest
--- response_body_like eval
main::malformed(qr/unable to decode byte 0x80$::ANY/, '$')
--- no_error_log
[alert]
[crit]



=== TEST 7: NUL as \u0000 (in a value, a participant id, a date) and as a raw byte: 400
--- request eval
[map { "POST /rooms?$::V\n$_" }
 '{"x":"\u0000"}', '{"participants":{"8:acs:r4_a\u0000b":{}}}',
 '{"validFrom":"2030-01-01T00:00:00Z\u0000"}', "{\"x\":\"a\x00b\"}",
 "{}\x00"]
--- error_code eval
[(400) x 5]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 5]
--- response_body_like eval
[(main::malformed(qr/$::ANY/, '$')) x 5]
--- no_error_log
[alert]
[crit]



=== TEST 8: nesting 10000 deep (arrays, objects, inside participants): 400, and nginx still answers
--- request eval
["POST /rooms?$::V\n" . ('[' x 10000) . (']' x 10000),
 "POST /rooms?$::V\n" . ('{"a":' x 10000) . '1' . ('}' x 10000),
 "PATCH $::R/participants?$::V\n" . '{"participants":{"8:acs:r4_bob":'
     . ('{"role":' x 10000) . '"Attendee"' . ('}' x 10000) . '}}',
 "GET $::R/participants?$::V"]
--- error_code eval
[400, 400, 400, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 3, "!x-ms-error-code"]
--- response_body_like eval
[(main::malformed(qr/maximum parsing depth$::ANY/, '$')) x 3, '\A' . quotemeta($::PARTS_JSON) . '\z']
--- no_error_log
[alert]
[crit]



=== TEST 9: dates that are not date-times (bad month, day, hour, no time, empty, free text): 400 naming the property
--- request eval
[(map { "POST /rooms?$::V\n{\"validFrom\":\"$_\"}" }
      '2030-13-01T00:00:00Z', '2030-02-30T00:00:00Z', '2030-01-01T25:00:00Z',
      '2030-01-01', '', 'tomorrow'),
 "POST /rooms?$::V\n{\"validUntil\":\"2030-01-01T00:00:00+25:00\"}",
 "PATCH $::R?$::V\n{\"validUntil\":\"31/12/2030\"}"]
--- error_code eval
[(400) x 8]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 8]
--- response_body_like eval
[(main::malformed('The JSON value could not be converted to a date-time. Path: $.validFrom.', '$.validFrom')) x 6,
 (main::malformed('The JSON value could not be converted to a date-time. Path: $.validUntil.', '$.validUntil')) x 2]
--- no_error_log
[alert]
[crit]



=== TEST 10: a window longer than 180 days (create, create with the default validFrom, update): 400 BadArgument ValidUntil; the room is unchanged
--- request eval
["POST /rooms?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::T0 + 86400)
   . "\",\"validUntil\":\"" . RoomsTest::sdk_time($::T0 + 86400 + 180 * 86400 + 1) . "\"}",
 "POST /rooms?$::V\n{\"validUntil\":\"" . RoomsTest::sdk_time($::T0 + 181 * 86400) . "\"}",
 "PATCH $::R?$::V\n{\"validUntil\":\"" . RoomsTest::sdk_time($::ROOM{from} + 180 * 86400 + 1) . "\"}",
 "GET $::R?$::V"]
--- error_code eval
[400, 400, 400, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 3, "!x-ms-error-code"]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"The request could not be understood by the server due to malformed syntax.","details":[{"code":"BadArgument","message":"The time range is incorrect, or larger than 180 days.","target":"ValidUntil"}]}}') x 3,
 $::ROOM_JSON]
--- no_error_log
[alert]
[crit]



=== TEST 11: a window of exactly 180 days is accepted
--- request eval
"POST /rooms?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::T0 + 86400)
. "\",\"validUntil\":\"" . RoomsTest::sdk_time($::T0 + 86400 + 180 * 86400) . "\"}"
--- error_code: 201
--- response_body_like eval
'\A\{"id":"[1-9][0-9]{16}","createdAt":"[^"]+","validFrom":"'
. quotemeta(RoomsTest::acs_time($::T0 + 86400)) . '","validUntil":"'
. quotemeta(RoomsTest::acs_time($::T0 + 181 * 86400)) . '","pstnDialOutEnabled":false\}\z'
--- no_error_log
[alert]
[crit]
[error]



=== TEST 12: a window that ends in the past (create, update): 400 "The time range end is in the past."; the room is unchanged
--- request eval
["POST /rooms?$::V\n{\"validUntil\":\"" . RoomsTest::sdk_time($::T0 - 86400) . "\"}",
 "POST /rooms?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::T0 - 3 * 86400)
   . "\",\"validUntil\":\"" . RoomsTest::sdk_time($::T0 - 2 * 86400) . "\"}",
 "PATCH $::R?$::V\n{\"validUntil\":\"" . RoomsTest::sdk_time($::T0 - 30) . "\"}",
 "GET $::R?$::V"]
--- error_code eval
[400, 400, 400, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 3, "!x-ms-error-code"]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"The request could not be understood by the server due to malformed syntax.","details":[{"code":"BadArgument","message":"The time range end is in the past.","target":"ValidUntil"}]}}') x 3,
 $::ROOM_JSON]
--- no_error_log
[alert]
[crit]



=== TEST 13: an inverted or empty window, and a validFrom more than 180 days ahead: 400
--- request eval
["POST /rooms?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::T0 + 2 * 86400)
   . "\",\"validUntil\":\"" . RoomsTest::sdk_time($::T0 + 86400) . "\"}",
 "POST /rooms?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::T0 + 86400)
   . "\",\"validUntil\":\"" . RoomsTest::sdk_time($::T0 + 86400) . "\"}",
 "PATCH $::R?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::ROOM{until} + 60) . "\"}",
 "POST /rooms?$::V\n{\"validFrom\":\"" . RoomsTest::sdk_time($::T0 + 200 * 86400) . "\"}"]
--- error_code eval
[400, 400, 400, 400]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 4]
--- response_body_like eval
[(main::malformed('The time range is incorrect, or larger than 180 days.', 'ValidUntil')) x 3,
 main::malformed('Value is incorrect or more than 180 days in the future.', 'ValidFrom')]
--- no_error_log
[alert]
[crit]



=== TEST 14: an unknown role (create, participants PATCH): 400; participants unchanged
--- request eval
["POST /rooms?$::V\n" . '{"participants":{"8:acs:r4_bob":{"role":"Boss"}}}',
 "POST /rooms?$::V\n" . '{"participants":{"8:acs:r4_bob":{"role":""}}}',
 "PATCH $::R/participants?$::V\n" . '{"participants":{"8:acs:r4_alice":{"role":"Organizer"}}}',
 "GET $::R/participants?$::V"]
--- error_code eval
[400, 400, 400, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 3, "!x-ms-error-code"]
--- response_body_like eval
[(main::malformed('The JSON value could not be converted to Role. Path: $.participants.role.', '$.participants.role')) x 3,
 '\A' . quotemeta($::PARTS_JSON) . '\z']
--- no_error_log
[alert]
[crit]



=== TEST 15: Collaborator exists from api-version 2025-03-13 on: with 2024-04-15 and 2023-06-14 it is an unknown role (400)
--- request eval
["POST /rooms?api-version=2024-04-15\n" . '{"participants":{"8:acs:r4_bob":{"role":"Collaborator"}}}',
 "PATCH $::R/participants?api-version=2023-06-14\n" . '{"participants":{"8:acs:r4_bob":{"role":"Collaborator"}}}',
 "GET $::R/participants?$::V"]
--- error_code eval
[400, 400, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 2, "!x-ms-error-code"]
--- response_body_like eval
[('\A\{"error":\{"code":"BadRequest","message":"' . $::ANY . '"(?:,"details":\[.*\])?\}\}\z') x 2,
 '\A' . quotemeta($::PARTS_JSON) . '\z']
--- no_error_log
[alert]
[crit]



=== TEST 16: a PSTN participant (4:+14255550123) in a create or a participants PATCH: 400; participants unchanged
--- request eval
["POST /rooms?$::V\n" . '{"participants":{"4:+14255550123":{"role":"Attendee"}}}',
 "PATCH $::R/participants?$::V\n" . '{"participants":{"4:+14255550123":{"role":"Attendee"}}}',
 "GET $::R/participants?$::V"]
--- error_code eval
[400, 400, 200]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 2, "!x-ms-error-code"]
--- response_body_like eval
[main::err_like('BadRequest', 'Invalid format for communication identifier.', 'PSTN participants are not supported in rooms.', 'participants'),
 main::err_like('BadRequest', 'Invalid value for the Participants.', 'PSTN participants are not supported in rooms.', 'participants'),
 '\A' . quotemeta($::PARTS_JSON) . '\z']
--- no_error_log
[alert]
[crit]



=== TEST 17: raw ids that are not communication users (no prefix, empty, a space, two underscores, 300 bytes, Teams): 400
--- request eval
[map { "POST /rooms?$::V\n{\"participants\":{\"$_\":{}}}" }
 'bogus', '8:acs:', '8:acs:r4 bob', '8:acs:r4_bob_x', '8:acs:r4_' . ('b' x 300),
 '8:orgid:00000000-0000-0000-0000-000000000001']
--- error_code eval
[(400) x 6]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 6]
--- response_body_like eval
[(main::err_like('BadRequest', 'Invalid format for communication identifier.', 'Only communication user identifiers (8:acs:...) can be room participants.', 'participants')) x 6]
--- no_error_log
[alert]
[crit]



=== TEST 18: more than 1000 participants in one request: 400
--- request eval
"POST /rooms?$::V\n{\"participants\":{"
. CORE::join(',', map { "\"8:acs:r4_u$_\":{}" } 1 .. 1001) . '}}'
--- error_code: 400
--- response_headers
x-ms-error-code: BadRequest
--- response_body_like eval
main::malformed('Too many participants: at most 1000 can be sent at once.', 'participants')
--- no_error_log
[alert]
[crit]



=== TEST 19: a room id of the wrong length (3, 15, 19 digits) on each room endpoint: 400 "Invalid room ID length."
--- request eval
["GET /rooms/123?$::V", "GET /rooms/123456789012345?$::V",
 "DELETE /rooms/1234567890123456789?$::V", "PATCH /rooms/123?$::V\n{}",
 "GET /rooms/123/participants?$::V", "PATCH /rooms/123/participants?$::V\n{\"participants\":{}}"]
--- error_code eval
[(400) x 6]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 6]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"Invalid room ID length."}}') x 6]
--- no_error_log
[alert]
[crit]



=== TEST 20: a room id with other characters than digits: 400 "Invalid room ID."
--- request eval
["GET /rooms/1234567890123456a?$::V", "GET /rooms/-1234567890123456?$::V",
 "DELETE /rooms/12345678901234.67?$::V", "GET /rooms/1234567890%20123456/participants?$::V"]
--- error_code eval
[(400) x 4]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 4]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"Invalid room ID."}}') x 4]
--- no_error_log
[alert]
[crit]



=== TEST 21: an unknown room on each room endpoint: 404 NotFound
--- request eval
[map { s/ID/44000000000000009/r }
 "GET /rooms/ID?$::V", "PATCH /rooms/ID?$::V\n{}", "DELETE /rooms/ID?$::V",
 "GET /rooms/ID/participants?$::V",
 "PATCH /rooms/ID/participants?$::V\n{\"participants\":{\"8:acs:r4_bob\":{}}}"]
--- error_code eval
[(404) x 5]
--- response_headers eval
[("x-ms-error-code: NotFound") x 5]
--- response_body eval
[('{"error":{"code":"NotFound","message":"The room was not found."}}') x 5]
--- no_error_log
[alert]
[crit]



=== TEST 22: a method a resource does not have: 405 MethodNotAllowed
--- request eval
["PUT /rooms?$::V\n{}", "DELETE /rooms?$::V", "PATCH /rooms?$::V\n{}",
 "POST $::R?$::V\n{}", "PUT $::R?$::V\n{}",
 "POST $::R/participants?$::V\n{}", "DELETE $::R/participants?$::V",
 "OPTIONS /rooms?$::V"]
--- error_code eval
[(405) x 8]
--- response_headers eval
[("x-ms-error-code: MethodNotAllowed") x 8]
--- response_body eval
[('{"error":{"code":"MethodNotAllowed","message":"The method is not allowed on this resource."}}') x 8]
--- no_error_log
[alert]
[crit]



=== TEST 23: a path the API does not have: 404 NotFound
--- request eval
["GET /roomsx?$::V", "GET /room?$::V", "GET /?$::V", "GET $::R/foo?$::V",
 "GET $::R/participants/8:acs:r4_alice?$::V", "POST /rooms2?$::V\n{}"]
--- error_code eval
[(404) x 6]
--- response_headers eval
[("x-ms-error-code: NotFound") x 6]
--- response_body eval
[('{"error":{"code":"NotFound","message":"The resource was not found."}}') x 6]
--- no_error_log
[alert]
[crit]



=== TEST 24: a body over rooms_api_max_body: 413 JSON, announced by Content-Length or sent chunked; exactly the limit is fine, chunked included
--- config
    location / {
        rooms_api;
        rooms_api_max_body 1k;
    }
--- request eval
["POST /rooms?$::V\n" . main::padded(1025),
 "POST /rooms?$::V\n" . main::chunked(main::padded(2048)),
 "POST /rooms?$::V\n" . main::chunked(main::padded(1025)),
 "POST /rooms?$::V\n" . main::padded(1024),
 "POST /rooms?$::V\n" . main::chunked(main::padded(1024))]
--- more_headers eval
["Content-Type: application/json\n",
 ("Content-Type: application/json\nTransfer-Encoding: chunked\n") x 2,
 "Content-Type: application/json\n",
 "Content-Type: application/json\nTransfer-Encoding: chunked\n"]
--- error_code eval
[413, 413, 413, 201, 201]
--- response_headers eval
[("x-ms-error-code: RequestEntityTooLarge\nContent-Type: application/json; charset=utf-8") x 3,
 ("!x-ms-error-code") x 2]
--- response_body_like eval
[('\A\{"error":\{"code":"RequestEntityTooLarge","message":"The request body is too large."\}\}\z') x 3,
 ('\A\{"id":"[1-9][0-9]{16}",') x 2]
--- no_error_log
[alert]
[crit]



=== TEST 25: no api-version, or an empty one, on each endpoint: 400
--- request eval
["POST /rooms\n{}", "GET /rooms", "GET $::R", "PATCH $::R?api-version=\n{}",
 "DELETE $::R?foo=bar", "GET $::R/participants", "PATCH $::R/participants\n{\"participants\":{}}"]
--- error_code eval
[(400) x 7]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 7]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"The api-version query parameter is missing or not supported (use 2025-03-13, 2024-04-15 or 2023-06-14)."}}') x 7]
--- no_error_log
[alert]
[crit]



=== TEST 26: a Repeatability-Request-ID that is not 1 to 64 letters, digits or dashes: 400
--- request eval
[("POST /rooms?$::V\n{}") x 3]
--- more_headers eval
["Repeatability-Request-ID: has space\n", "Repeatability-Request-ID: " . ('a' x 65) . "\n",
 "Repeatability-Request-ID: a/b\n"]
--- error_code eval
[(400) x 3]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 3]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"Repeatability-Request-ID must be 1 to 64 letters, digits or dashes."}}') x 3]
--- no_error_log
[alert]
[crit]



=== TEST 27: paging parameters out of range or forged: 400
--- request eval
["GET /rooms?$::V&maxpagesize=0", "GET /rooms?$::V&maxpagesize=1001",
 "GET /rooms?$::V&maxpagesize=abc", "GET $::R/participants?$::V&maxpagesize=-1",
 "GET /rooms?$::V&continuationToken=garbage", "GET /rooms?$::V&continuationToken=1.2",
 "GET /rooms?$::V&continuationToken=", "GET $::R/participants?$::V&continuationToken=***"]
--- error_code eval
[(400) x 8]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 8]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"maxpagesize must be 1 to 1000."}}') x 4,
 ('{"error":{"code":"BadRequest","message":"The continuation token is invalid."}}') x 4]
--- no_error_log
[alert]
[crit]



=== TEST 28: a body that says it is not JSON: 415 UnsupportedMediaType; JSON types with parameters, merge-patch and no Content-Type are read
--- init
RoomsTest::redis('FLUSHDB');
--- request eval
[map { "POST /rooms?$::V\n{}" } 1 .. 6]
--- more_headers eval
["Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded",
 "Content-Type: application/jsonp", "Content-Type: application/json; charset=utf-8",
 "Content-Type: application/merge-patch+json", ""]
--- error_code eval
[415, 415, 415, 201, 201, 201]
--- response_headers eval
["x-ms-error-code: UnsupportedMediaType", "x-ms-error-code: UnsupportedMediaType",
 "x-ms-error-code: UnsupportedMediaType", "!x-ms-error-code", "!x-ms-error-code",
 "!x-ms-error-code"]
--- response_body_like eval
[(qr/^\{"error":\{"code":"UnsupportedMediaType","message":"The body must be application\/json or application\/merge-patch\+json\."\}\}$/) x 3,
 (qr/^\{"id":"\d{17}"/) x 3]
--- no_error_log
[alert]
[crit]
