# The Identity REST API (api-version 2023-10-01) on a rooms_api location:
# users, their tokens (real HS256 JWTs, checked here with Digest::SHA
# against the JWKS key), revocation and deletion, and its refusals --
# including 501 when the server has no key to sign tokens with.
#
# Requests are signed by RoomsTest::prepare_block; "<%user|uri%>" is the
# percent-encoded identity an earlier block kept (blocks run in order).
#
#   scripts/prove-t t/004-api-identity.t     (TEST_NGINX_REDIS_PORT: a Redis)

use Test::Nginx::Socket 'no_plan';
use lib 't';
use RoomsTest;
use Digest::SHA qw(hmac_sha256);
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);

$RoomsTest::REDIS_DB = 5;

no_shuffle();
no_root_location();

our $V = 'api-version=2023-10-01';
our $RESOURCE = '11111111-2222-4333-8444-555555555555';

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

sub b64url_decode {
    my $s = shift // '';
    $s =~ tr{-_}{+/};
    $s .= '=' x (-length($s) % 4);
    return decode_base64($s);
}

# the token key: HS256, 42 bytes, kid k1
our $SECRET = 'api-004-hs256-test-secret-0123456789abcdef';
our $JWKS = '{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"'
            . b64url($SECRET) . '"}]}';

# a key set with a public key only (EC P-256, no "d"): it cannot sign
our $PUBLIC_JWKS = '{"keys":[{"kty":"EC","crv":"P-256","kid":"p1",'
    . '"x":"dBS8Czmn54i3Rf2_ooN-Dr8KihtCQ5gClw090nRvQi0",'
    . '"y":"pVBvicFV45opjdA6mK8fiWC3tg_bLeiVguA91Yb-ppA"}]}';

# an identity stored directly, for the servers that cannot sign
our $STORED = "8:acs:${RESOURCE}_00000000-0000-4000-8000-0000000000aa";
our $UNKNOWN = "8:acs:${RESOURCE}_00000000-0000-4000-8000-0000000000ff";

our $HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=5 $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    rooms_resource_id 11111111-2222-4333-8444-555555555555;
    rooms_token_keys $TEST_NGINX_SERVER_ROOT/html/jwks.json;
_EOC_

our $NO_KEYS_HTTP_CONFIG = <<'_EOC_';
    rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=5 $TEST_NGINX_ROOMS_REDIS_EXTRA;
    $TEST_NGINX_ROOMS_REDIS_SSL
    rooms_access_key MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=;
    rooms_resource_id 11111111-2222-4333-8444-555555555555;
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
    $block->set_value(user_files => ">>> jwks.json\n$JWKS\n")
        unless defined $block->user_files;

    RoomsTest::prepare_block($block);
});

# facts(%opt): a response_body_filters code ref; an identity or token
# answer -> what it holds, relative to now where it can (a value when it is
# not what is expected), and what Redis holds.  opt: minutes (a token valid
# that long is expected), sub (name of the kept identity the token is for;
# default the identity of the same answer), users (count the identities)
sub facts {
    my %o = @_;

    return sub {
        my $body = shift;
        my $r = eval { JSON::PP->new->decode($body) };
        return "not a JSON object: $body\n" unless ref $r eq 'HASH';

        my $now = time;
        my @f = ('fields: ' . join ' ', sort keys %$r);
        my $id = $o{sub} ? $RoomsTest::SAVED{$o{sub}} // '' : $r->{identity}{id} // '';

        if ($r->{identity}) {
            push @f, 'identity: '
                . ($id =~ /\A8:acs:\Q$RESOURCE\E_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\z/
                   ? '8:acs:RESOURCE_UUIDv4' : $id);
            my $c = RoomsTest::redis('HGET', "rooms:user:{$id}", 'c');
            push @f, 'stored: ' . (defined $c && abs($c / 1e6 - $now) <= 60
                                   ? 'created now' : $c // 'nothing');
        }

        my $t = $r->{identity} ? $r->{accessToken} : $r;

        if (!$o{minutes}) {
            push @f, 'accessToken: ' . ($t ? 'present' : 'none');

        } else {
            $t //= {};
            push @f, 'token fields: ' . join ' ', sort keys %$t;

            my @p = split /\./, $t->{token} // '', -1;
            push @f, 'token: ' . (@p == 3 && !(grep { !/\A[A-Za-z0-9_-]+\z/ } @p)
                                  ? '3 base64url parts' : $t->{token} // 'none');

            my $h = eval { JSON::PP->new->decode(b64url_decode($p[0])) } // {};
            push @f, 'header: ' . JSON::PP->new->canonical->encode($h);
            push @f, 'signature: '
                . (@p == 3 && $p[2] eq b64url(hmac_sha256("$p[0].$p[1]", $SECRET))
                   ? 'HS256 by the JWKS key' : 'invalid');

            my $c = eval { JSON::PP->new->decode(b64url_decode($p[1])) } // {};
            push @f, 'claims: ' . join ' ', sort keys %$c;
            push @f, 'sub: ' . (($c->{sub} // '') eq $id && $id ne ''
                                ? 'the identity' : $c->{sub} // 'none');
            push @f, 'iat: ' . (abs(($c->{iat} // 0) - $now) <= 60
                                ? 'now' : $c->{iat} // 'none');
            push @f, 'exp: ' . (abs(($c->{exp} // 0) - $now - $o{minutes} * 60) <= 60
                                ? "now + $o{minutes} minutes" : $c->{exp} // 'none');
            push @f, 'scope: ' . ($c->{scope} // 'none');
            push @f, 'expiresOn: '
                . (defined $c->{exp} && ($t->{expiresOn} // '') eq RoomsTest::acs_time($c->{exp})
                   ? 'exp' : $t->{expiresOn} // 'none');
        }

        push @f, 'identities stored: '
                 . scalar @{ RoomsTest::redis('KEYS', 'rooms:user:*') }
            if $o{users};

        return join("\n", @f) . "\n";
    };
}

# identities stored now, less those counted by the block's init
our $USERS_BEFORE = 0;

sub count_users { scalar @{ RoomsTest::redis('KEYS', 'rooms:user:*') } }

sub users_created { $_[0] . "\nidentities created: " . (count_users() - $USERS_BEFORE) }

run_tests();

__DATA__

=== TEST 1: POST /identities with an empty body (createUser()): 201 with the identity only, 8:acs:<rooms_resource_id>_<uuid>, stored
--- init
RoomsTest::redis('FLUSHDB');
--- request eval
"POST /identities?$::V"
--- more_headers
Content-Type: application/json
Content-Length: 0
--- error_code: 201
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_filters eval
[RoomsTest::keep(user => qr/"id":"([^"]+)"/), main::facts(users => 1)]
--- response_body
fields: identity
identity: 8:acs:RESOURCE_UUIDv4
stored: created now
accessToken: none
identities stored: 1
--- no_error_log
[error]
[alert]



=== TEST 2: POST /identities with createTokenWithScopes: 201, identity and a real HS256 JWT for it, valid for the default 1440 minutes
--- request eval
"POST /identities?$::V\n{\"createTokenWithScopes\":[\"voip\"]}"
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_filters eval
main::facts(minutes => 1440, users => 1)
--- response_body
fields: accessToken identity
identity: 8:acs:RESOURCE_UUIDv4
stored: created now
token fields: expiresOn token
token: 3 base64url parts
header: {"alg":"HS256","kid":"k1","typ":"JWT"}
signature: HS256 by the JWKS key
claims: exp iat scope sub
sub: the identity
iat: now
exp: now + 1440 minutes
scope: voip
expiresOn: exp
identities stored: 2
--- no_error_log
[error]
[alert]



=== TEST 3: expiresInMinutes 59 and 1441 are refused with 400 (no identity is created); 60 is fine
--- request eval
[map { "POST /identities?$::V\n{\"createTokenWithScopes\":[\"chat\",\"voip\"],\"expiresInMinutes\":$_}" } 59, 1441, 60]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 201]
--- response_headers eval
["x-ms-error-code: BadRequest", "x-ms-error-code: BadRequest", "!x-ms-error-code"]
--- response_body_filters eval
[[], [], [main::facts(minutes => 60, users => 1)]]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"The expiresInMinutes must be an integer from 60 to 1440.","target":"expiresInMinutes"}}') x 2,
"fields: accessToken identity
identity: 8:acs:RESOURCE_UUIDv4
stored: created now
token fields: expiresOn token
token: 3 base64url parts
header: {\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}
signature: HS256 by the JWKS key
claims: exp iat scope sub
sub: the identity
iat: now
exp: now + 60 minutes
scope: chat voip
expiresOn: exp
identities stored: 3
"]
--- no_error_log
[error]
[alert]



=== TEST 4: POST /identities/{percent-encoded id}/:issueAccessToken (getToken()): 200 {token, expiresOn}, a JWT for that identity
--- request
POST /identities/<%user|uri%>/:issueAccessToken?api-version=2023-10-01
{"scopes":["chat","voip"],"expiresInMinutes":120}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_body_filters eval
main::facts(minutes => 120, sub => 'user')
--- response_body
fields: expiresOn token
token fields: expiresOn token
token: 3 base64url parts
header: {"alg":"HS256","kid":"k1","typ":"JWT"}
signature: HS256 by the JWKS key
claims: exp iat scope sub
sub: the identity
iat: now
exp: now + 120 minutes
scope: chat voip
expiresOn: exp
--- no_error_log
[error]
[alert]



=== TEST 5: issuing a token for an identity that was never created: 404
--- request eval
"POST /identities/" . RoomsTest::uri_component($::UNKNOWN) . "/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]}"
--- error_code: 404
--- response_headers
x-ms-error-code: NotFound
--- response_body: {"error":{"code":"NotFound","message":"The identity was not found."}}
--- no_error_log
[error]
[alert]



=== TEST 6: :revokeAccessTokens (revokeTokens(), empty body): 204, the revocation is recorded; tokens can still be issued afterwards
--- request eval
["POST /identities/<%user|uri%>/:revokeAccessTokens?$::V",
 "POST /identities/<%user|uri%>/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]}"]
--- more_headers eval
["Content-Length: 0\n", "Content-Type: application/json\n"]
--- error_code eval
[204, 200]
--- response_headers eval
["!Content-Type", "Content-Type: application/json; charset=utf-8"]
--- response_body_filters eval
[[sub { my $r = RoomsTest::redis('HGET', "rooms:user:{$RoomsTest::SAVED{user}}", 'r');
        $_[0] . 'revoked: ' . (defined $r && abs($r - time) <= 60 ? 'now' : $r // 'no') }],
 [main::facts(minutes => 1440, sub => 'user')]]
--- response_body eval
["revoked: now",
"fields: expiresOn token
token fields: expiresOn token
token: 3 base64url parts
header: {\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}
signature: HS256 by the JWKS key
claims: exp iat scope sub
sub: the identity
iat: now
exp: now + 1440 minutes
scope: voip
expiresOn: exp
"]
--- no_error_log
[error]
[alert]



=== TEST 7: DELETE /identities/{id} (deleteUser()): 204; then no token for it (404)
--- request eval
["DELETE /identities/<%user|uri%>?$::V",
 "POST /identities/<%user|uri%>/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]}"]
--- error_code eval
[204, 404]
--- response_headers eval
["!x-ms-error-code", "x-ms-error-code: NotFound"]
--- response_body eval
["", '{"error":{"code":"NotFound","message":"The identity was not found."}}']
--- no_error_log
[error]
[alert]



=== TEST 8: identity ids that are not ACS identities (free text, a phone number, an empty user part, a space): 400
--- request eval
["DELETE /identities/bad?$::V",
 "POST /identities/4%3A%2B14255550123/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]}",
 "POST /identities/8%3Aacs%3A/:revokeAccessTokens?$::V",
 "DELETE /identities/8%3Aacs%3Aa%20b?$::V"]
--- error_code eval
[(400) x 4]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 4]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"Invalid format for the identity."}}') x 4]
--- no_error_log
[error]
[alert]



=== TEST 9: a missing or other api-version (the Rooms one included): 400
--- request eval
["POST /identities\n{}", "POST /identities?api-version=2025-03-13\n{}",
 "DELETE /identities/" . RoomsTest::uri_component($::STORED) . "?api-version=2022-06-01",
 "POST /identities/" . RoomsTest::uri_component($::STORED) . "/:issueAccessToken?api-version=\n{\"scopes\":[\"voip\"]}"]
--- error_code eval
[(400) x 4]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 4]
--- response_body eval
[('{"error":{"code":"BadRequest","message":"The api-version query parameter is missing or not supported (use 2023-10-01)."}}') x 4]
--- no_error_log
[error]
[alert]



=== TEST 10: methods the identity resources do not have: 405; an unknown action: 404
--- request eval
my $id = RoomsTest::uri_component($::STORED);
["GET /identities?$::V", "PUT /identities?$::V\n{}", "PATCH /identities?$::V\n{}",
 "GET /identities/$id?$::V", "POST /identities/$id?$::V\n{}",
 "DELETE /identities/$id/:issueAccessToken?$::V",
 "GET /identities/$id/:revokeAccessTokens?$::V",
 "POST /identities/$id/:exchangeAccessToken?$::V\n{}"]
--- error_code eval
[(405) x 7, 404]
--- response_headers eval
[("x-ms-error-code: MethodNotAllowed") x 7, "x-ms-error-code: NotFound"]
--- response_body eval
[('{"error":{"code":"MethodNotAllowed","message":"The method is not allowed on this resource."}}') x 7,
 '{"error":{"code":"NotFound","message":"The resource was not found."}}']
--- no_error_log
[error]
[alert]



=== TEST 11: bad token requests: unknown or no scopes, scopes not an array, no body, invalid JSON: 400
--- init
RoomsTest::redis('HSET', "rooms:user:{$main::STORED}", 'c', sprintf('%.0f', time * 1e6));
--- request eval
my $id = RoomsTest::uri_component($::STORED);
["POST /identities?$::V\n{\"createTokenWithScopes\":[\"bogus\"]}",
 "POST /identities?$::V\n{\"createTokenWithScopes\":[]}",
 "POST /identities?$::V\n{\"createTokenWithScopes\":\"voip\"}",
 "POST /identities/$id/:issueAccessToken?$::V\n{}",
 "POST /identities/$id/:issueAccessToken?$::V",
 "POST /identities/$id/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]",
 "POST /identities/$id/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"],\"expiresInMinutes\":\"60\"}"]
--- more_headers eval
[("Content-Type: application/json\n") x 4, "Content-Length: 0\n",
 ("Content-Type: application/json\n") x 2]
--- error_code eval
[(400) x 7]
--- response_headers eval
[("x-ms-error-code: BadRequest") x 7]
--- response_body eval
['{"error":{"code":"BadRequest","message":"Unknown scope: use chat, voip, chat.join, chat.join.limited or voip.join.","target":"createTokenWithScopes"}}',
 ('{"error":{"code":"BadRequest","message":"Scopes must be a non-empty array of chat, voip, chat.join, chat.join.limited or voip.join.","target":"createTokenWithScopes"}}') x 2,
 ('{"error":{"code":"BadRequest","message":"The scopes are required.","target":"scopes"}}') x 2,
 '{"error":{"code":"BadRequest","message":"The request could not be understood by the server due to malformed syntax."}}',
 '{"error":{"code":"BadRequest","message":"The expiresInMinutes must be an integer from 60 to 1440.","target":"expiresInMinutes"}}']
--- no_error_log
[error]
[alert]



=== TEST 12: no rooms_token_keys: creating a user with a token and issuing a token answer 501 NotImplemented (and create no user), and error.log says why
--- http_config eval
$::NO_KEYS_HTTP_CONFIG
--- init
RoomsTest::redis('HSET', "rooms:user:{$main::STORED}", 'c', sprintf('%.0f', time * 1e6));
$main::USERS_BEFORE = main::count_users();
--- request eval
["POST /identities?$::V\n{\"createTokenWithScopes\":[\"voip\"]}",
 "POST /identities/" . RoomsTest::uri_component($::STORED) . "/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]}"]
--- error_code eval
[501, 501]
--- response_headers eval
[("x-ms-error-code: NotImplemented\nContent-Type: application/json; charset=utf-8") x 2]
--- response_body_filters eval
[[\&main::users_created], []]
--- response_body eval
['{"error":{"code":"NotImplemented","message":"This gateway has no key to sign tokens with."}}' . "\nidentities created: 0",
 '{"error":{"code":"NotImplemented","message":"This gateway has no key to sign tokens with."}}']
--- error_log
cannot issue tokens: no "rooms_token_keys" key with a private part in this server
--- no_error_log
[alert]
[crit]



=== TEST 13: no rooms_token_keys: a user without a token can still be created
--- http_config eval
$::NO_KEYS_HTTP_CONFIG
--- request eval
"POST /identities?$::V"
--- more_headers
Content-Length: 0
--- error_code: 201
--- response_body_like: \A\{"identity":\{"id":"8:acs:11111111-2222-4333-8444-555555555555_[0-9a-f-]{36}"\}\}\z
--- no_error_log
[error]
[alert]



=== TEST 14: rooms_token_keys with a public key only (EC P-256 without "d"): 501 NotImplemented as well, no user created
--- user_files eval
">>> jwks.json\n$::PUBLIC_JWKS\n"
--- init
RoomsTest::redis('HSET', "rooms:user:{$main::STORED}", 'c', sprintf('%.0f', time * 1e6));
$main::USERS_BEFORE = main::count_users();
--- request eval
["POST /identities?$::V\n{\"createTokenWithScopes\":[\"voip\"]}",
 "POST /identities/" . RoomsTest::uri_component($::STORED) . "/:issueAccessToken?$::V\n{\"scopes\":[\"voip\"]}"]
--- error_code eval
[501, 501]
--- response_headers eval
[("x-ms-error-code: NotImplemented") x 2]
--- response_body_filters eval
[[\&main::users_created], []]
--- response_body eval
['{"error":{"code":"NotImplemented","message":"This gateway has no key to sign tokens with."}}' . "\nidentities created: 0",
 '{"error":{"code":"NotImplemented","message":"This gateway has no key to sign tokens with."}}']
--- error_log
cannot issue tokens: no "rooms_token_keys" key with a private part in this server
--- no_error_log
[alert]
[crit]



=== TEST 15: revoking the tokens of, and deleting, an identity that was never created: 404 as for issuing, and no key is written
--- request eval
["POST /identities/" . RoomsTest::uri_component($::UNKNOWN) . "/:revokeAccessTokens?$::V",
 "DELETE /identities/" . RoomsTest::uri_component($::UNKNOWN) . "?$::V"]
--- more_headers eval
["Content-Length: 0\n", ""]
--- error_code eval
[404, 404]
--- response_headers eval
["x-ms-error-code: NotFound", "x-ms-error-code: NotFound"]
--- response_body_filters eval
[sub { $_[0] . "\nkey: " . RoomsTest::redis('EXISTS', "rooms:user:{$::UNKNOWN}") . "\n" }]
--- response_body eval
[qq'{"error":{"code":"NotFound","message":"The identity was not found."}}\nkey: 0\n',
 qq'{"error":{"code":"NotFound","message":"The identity was not found."}}\nkey: 0\n']
--- no_error_log
[error]
[alert]



=== TEST 16: a deleted identity: DELETE again is 204 and changes nothing, revoking its tokens is 404
--- init
RoomsTest::redis('HSET', "rooms:user:{$main::STORED}", 'c', sprintf('%.0f', time * 1e6));
--- request eval
["DELETE /identities/" . RoomsTest::uri_component($::STORED) . "?$::V",
 "DELETE /identities/" . RoomsTest::uri_component($::STORED) . "?$::V",
 "POST /identities/" . RoomsTest::uri_component($::STORED) . "/:revokeAccessTokens?$::V"]
--- more_headers eval
["", "", "Content-Length: 0\n"]
--- error_code eval
[204, 204, 404]
--- response_body_filters eval
[sub { my $u = RoomsTest::redis('HGETALL', "rooms:user:{$::STORED}");
       my %u = @$u;
       $main::R_AFTER_DELETE //= $u{r};
       $_[0] . "d=$u{d} r " . ($u{r} eq $main::R_AFTER_DELETE ? 'unchanged' : 'changed') }]
--- response_body eval
["d=1 r unchanged", "d=1 r unchanged",
 '{"error":{"code":"NotFound","message":"The identity was not found."}}d=1 r unchanged']
--- no_error_log
[error]
[alert]
