package Hostile::Gen;

# The generated requests of the hostile suite, family by family, from a
# seeded random generator (Perl's rand after srand(SEED): the same seed
# and seeded state give the same requests, up to the times inside the
# tokens).
#
# A case is what one connection carries:
#   { fam, mode (once|pipeline|cut|trickle|abort), reqs => [REQ, ...],
#     cut, rst, delay }
# and a REQ one request:
#   { hid, fam, what, bytes, line, method, http09, loc (the location the
#     path aims at), toks => [TOKEN, ...] (every token it carries, anywhere),
#     signed (a correctly signed API request), expect (a scenario step's
#     expected outcome), known => { TAG => 1 } (the known findings it can
#     trigger, see known_tags) }
# A TOKEN is { v => the value, grants => [[room, user, role], ...] (the
# rooms it may admit to: empty for every token that must be refused) }.
# Every request carries "X-Hid: HID" and, in its query, "hid=HID", so that
# log lines can be tied to it.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256 hmac_sha512 sha256_base64 hmac_sha256_base64);
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(strftime);
use JSON::PP;

use Hostile::Model qw(token_args LOCATIONS);

my $JSON = JSON::PP->new->canonical;
my ($S, $HID, $NOW);

# the families, in the order of HOSTILE_FAMILIES' default
our @FAMILIES = qw(spelling lines headers tokens api conn);

#--------------------------------------------------------------------------
# small helpers
#--------------------------------------------------------------------------

sub pick { return $_[int rand @_] }
sub chance { return rand() < $_[0] }
sub rint { my ($lo, $hi) = @_; return $lo + int rand($hi - $lo + 1) }

sub rstr {
    my ($n, $set) = @_;
    $set //= join '', 'a' .. 'z', 'A' .. 'Z', '0' .. '9';
    return join '', map { substr $set, int rand length $set, 1 } 1 .. $n;
}

sub digits { return join '', map { int rand 10 } 1 .. $_[0] }

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub pct_all { my $s = shift; $s =~ s/(.)/sprintf '%%%02X', ord $1/gse; $s }
sub pct_some {
    my $s = shift;
    $s =~ s/(.)/chance(0.3) ? sprintf('%%%02X', ord $1) : $1/gse;
    return $s;
}

sub pad { my $s = shift; $s .= '=' while length($s) % 4; $s }

#--------------------------------------------------------------------------
# tokens
#--------------------------------------------------------------------------

# the rooms a token of SUB (with room claim CLAIM, if any) may admit to:
# SUB invited there and neither revoked nor deleted
sub grants {
    my ($sub, $claim) = @_;
    my $u = $S->{by_id}{$sub} or return [];
    return [] if $u->{revoked} || $u->{deleted};
    # an empty claim is no claim (ngx_http_rooms_admission_handler)
    undef $claim if defined $claim && $claim eq '';
    my @g;
    for my $room (sort keys %{ $u->{rooms} }) {
        next if defined $claim && $claim ne $room;
        push @g, [$room, $sub, $u->{rooms}{$room}];
    }
    return \@g;
}

sub jws {
    my ($header, $claims, $key) = @_;
    my $input = b64url($JSON->encode($header)) . '.'
                . b64url(ref $claims ? $JSON->encode($claims) : $claims);
    my $alg = $header->{alg} // '';
    my $sig = $alg eq 'HS512' ? hmac_sha512($input, $key)
            : $alg eq 'none'  ? ''
            : hmac_sha256($input, $key);
    return "$input." . b64url($sig);
}

my $JTI = 0;

# every valid token made, by value: its grants.  A mutation that happens to
# leave a token as it was (a "+/" swap of a token without "-_", an empty
# suffix) must still count as the valid token it is.
my %VALID;

sub valid_token {
    my $t = shift;
    $VALID{ $t->{v} } = $t->{grants} if @{ $t->{grants} };
    return $t;
}

# a fresh HS256 token (its jti makes every value unique): for USER (a
# name of the seeded users, or a raw id), %c claims over the defaults
sub hs {
    my ($user, %c) = @_;
    my $sub = exists $S->{users}{$user} ? $S->{users}{$user}{id} : $user;
    my %claims = (sub => $sub, iat => $NOW - 30, exp => $NOW + 3 * 3600,
                  jti => sprintf('h%04x', ++$JTI), %c);
    delete @claims{ grep { !defined $claims{$_} } keys %claims };
    my $u = $S->{by_id}{$sub};
    # a revoked user's tokens are from before the revocation
    $claims{iat} = $u->{revoked} - 60 if $u && $u->{revoked} && !exists $c{iat};
    my $v = jws({ alg => 'HS256', typ => 'JWT', kid => $S->{kid_hs} },
                \%claims, $S->{hs_key});
    return valid_token({ v => $v, grants => grants($sub, $claims{room}) });
}

# a valid token of an invited user, for ROOM (a room name: A, B, C)
sub valid_for {
    my ($room, %o) = @_;
    my $id = $S->{rooms}{$room};
    my @u = grep { $S->{users}{$_}{rooms}{$id} && !$S->{users}{$_}{revoked}
                   && !$S->{users}{$_}{deleted} && !$S->{users}{$_}{reserved} }
            sort keys %{ $S->{users} };
    @u = grep { $S->{users}{$_}{rooms}{$id} =~ /^(?:Presenter|Collaborator)$/ } @u
        if $o{publisher};
    my $user = pick(@u);
    # one in ten: the token of the identity API (EdDSA) or an ES256 one
    if (!$o{hs} && chance(0.1)) {
        my @pre = grep { $_->{sub} eq $S->{users}{$user}{id} } @{ $S->{pretokens} };
        if (@pre) {
            my $t = pick(@pre);
            return valid_token({ v => $t->{v}, grants => grants($t->{sub}, $t->{room}) });
        }
    }
    return hs($user, chance(0.3) ? (room => $id) : ());
}

# a token that must be refused, of one of many kinds
sub bad_token {
    my $room = $S->{rooms}{ pick(qw(A A B C)) };
    my $gt = valid_for(pick(qw(A B C)), hs => 1);
    my $good = $gt->{v};
    my ($h, $p, $sig) = split /\./, $good;
    my $alice = $S->{users}{alice}{id};
    my $kind = rint(0, 39);
    my $v;

    if    ($kind == 0) { $v = substr $good, 0, rint(1, length($good) - 1) }
    elsif ($kind == 1) {
        # one character of the signature changed
        my $i = rint(0, length($sig) - 2);
        my $c = substr $sig, $i, 1;
        substr($sig, $i, 1) = $c eq 'A' ? 'B' : 'A';
        $v = "$h.$p.$sig";
    }
    elsif ($kind == 2) {
        # one bit of the payload flipped, re-encoded
        my $raw = decode_base64(pad($p =~ tr/-_/+\//r));
        my $i = int rand length $raw;
        substr($raw, $i, 1) = chr(ord(substr $raw, $i, 1) ^ (1 << int rand 8));
        $v = "$h." . b64url($raw) . ".$sig";
    }
    elsif ($kind == 3) {
        $v = jws({ alg => 'none', typ => 'JWT', kid => $S->{kid_hs} },
                 { sub => $alice, iat => $NOW, exp => $NOW + 600 }, '');
    }
    elsif ($kind == 4) {
        $v = jws({ alg => 'HS512', kid => $S->{kid_hs} },
                 { sub => $alice, iat => $NOW, exp => $NOW + 600 }, $S->{hs_key});
    }
    elsif ($kind == 5) {
        $v = jws({ alg => pick('XX256', 'hs256', 'HS256 ', '', 'RS256', 'ES256',
                               'EdDSA', "HS\x{e9}256", 'HS256' x 100),
                   kid => $S->{kid_hs} },
                 { sub => $alice, iat => $NOW, exp => $NOW + 600 }, $S->{hs_key});
    }
    elsif ($kind == 6) {
        # algorithm confusion: HS256 over the public key of the EC/OKP kid
        $v = jws({ alg => 'HS256', kid => pick($S->{kid_ec}, $S->{kid_ed}) },
                 { sub => $alice, iat => $NOW, exp => $NOW + 600 },
                 pick($S->{ec_pub_raw}, $S->{ed_pub_raw}, ''));
    }
    elsif ($kind == 7) {
        $v = jws({ alg => 'HS256', kid => pick('nope', '', 'k' x 5000, undef) },
                 { sub => $alice, iat => $NOW, exp => $NOW + 600 }, $S->{hs_key});
    }
    elsif ($kind == 8) {
        # huge claims: still alice's valid token
        return valid_token({ v => jws({ alg => 'HS256', kid => $S->{kid_hs} },
                                      { sub => $alice, iat => $NOW, exp => $NOW + 600,
                                        pad => 'x' x rint(1000, 6000) }, $S->{hs_key}),
                             grants => grants($alice) });
    }
    elsif ($kind == 9) {
        # nested JSON in place of strings and numbers
        my $deep = '[' x rint(10, 3000);
        $v = jws({ alg => 'HS256', kid => $S->{kid_hs} },
                 sprintf('{"sub":%s,"iat":%s,"exp":%s}',
                         pick('{"a":{"b":[1,2]}}', '["' . $alice . '"]', 'null',
                              '1', 'true', $deep),
                         pick($NOW, '{"n":1}', '"1"', '1e400', '-1'),
                         pick($NOW + 600, '[]', '1.5', '99999999999999999999999')),
                 $S->{hs_key});
    }
    elsif ($kind == 10) {
        # not UTF-8 inside the JSON
        $v = jws({ alg => 'HS256', kid => $S->{kid_hs} },
                 qq({"sub":"8:acs:\xff\xfe\xc0\x80","iat":$NOW,"exp":) . ($NOW + 600) . '}',
                 $S->{hs_key});
    }
    elsif ($kind == 11) {
        # bad base64url: padding, the standard alphabet, junk
        my $g = $good;
        my $how = rint(0, 3);
        $v = $how == 0 ? "$h=.$p.$sig"
           : $how == 1 ? ($g =~ tr/-_/+\//r)
           : $how == 2 ? "$h.$p.$sig==="
           : "$h.\$p!.$sig";
    }
    elsif ($kind == 12) { $v = "$h.$p" }
    elsif ($kind == 13) { $v = "$h.$p.$sig.$sig" }
    elsif ($kind == 14) { $v = "$h..$sig" }
    elsif ($kind == 15) { $v = '..' }
    elsif ($kind == 16) { $v = "$h.$p." }
    elsif ($kind == 17) {
        # for another room (hs() knows which rooms each one does admit to)
        return pick(hs('eve', room => $S->{rooms}{A}),
                    hs('alice', room => $S->{rooms}{B}),
                    hs('bob', room => $S->{rooms}{C}));
    }
    elsif ($kind == 18) {
        # a room claim naming a spelling of the room: must match the path
        return hs('alice', room => '0' . $S->{rooms}{A});
    }
    elsif ($kind == 19) { return hs('alice', exp => $NOW - 5) }
    elsif ($kind == 20) { return hs('alice', nbf => $NOW + 3600) }
    elsif ($kind == 21) { return hs('frank') }
    elsif ($kind == 22) { return hs('gina') }
    elsif ($kind == 23) { return hs('mallory') }
    elsif ($kind == 24) { return hs(uc $alice) }
    elsif ($kind == 25) { return hs('', sub => pick('', undef, 'x', '8:acs:')) }
    elsif ($kind == 26) { return hs('alice', iat => undef) }
    elsif ($kind == 27) { return hs('alice', exp => undef) }
    elsif ($kind == 28) { return hs('alice', room => pick('', 'x', $room . '0', ' ' . $room)) }
    elsif ($kind == 29) { return { v => ' ' . $good, grants => $gt->{grants} } }
    elsif ($kind == 30) { return { v => $good . ' ', grants => $gt->{grants} } }
    elsif ($kind == 31) { $v = $good . pick("\x80", "\xc3\xa9", "\xe2\x82\xac", '%00', '%E2%82%AC') }
    elsif ($kind == 32) { $v = rstr(rint(1, 40), "\x80\x90\xa0\xc0\xd0\xe0\xf0\xfe\xff") }
    elsif ($kind == 33) { $v = 'eyJ' . rstr(rint(0, 200), join '', 'a' .. 'z', '.-_') }
    elsif ($kind == 34) {
        # a valid EdDSA/ES256 token, one character changed
        my $t = pick(@{ $S->{pretokens} })->{v};
        my $i = rint(0, length($t) - 1);
        substr($t, $i, 1) = substr($t, $i, 1) eq 'x' ? 'y' : 'x';
        $v = $t;
    }
    elsif ($kind == 35) {
        # header of another alg on an EdDSA body
        my $t = pick(@{ $S->{pretokens} })->{v};
        my (undef, $pp, $ss) = split /\./, $t;
        $v = b64url('{"alg":"HS256","kid":"' . $S->{kid_ed} . '"}') . ".$pp.$ss";
    }
    elsif ($kind == 36) { $v = join '.', map { rstr(rint(0, 30)) } 1 .. rint(2, 6) }
    elsif ($kind == 37) { $v = 'Bearer ' . $good }
    elsif ($kind == 38) { return hs('alice', iat => $NOW + 7200) }
    else                { $v = 'x' x rint(3, 20) }

    return { v => $v, grants => [] };
}

# a value for an access_token= argument, of every length and shape
sub token_value {
    my $k = rint(0, 15);
    return { v => '', grants => [] }                         if $k == 0;
    return { v => rstr(1), grants => [] }                    if $k == 1;
    return { v => rstr(2), grants => [] }                    if $k == 2;
    return { v => rstr(3), grants => [] }                    if $k == 3;
    return { v => pick('%00', '%0', '%', '%%', '+', ';', '#', '=', '==',
                       '%26', '%3D', "\xff", "\xc3\xa9", '*', '***'),
             grants => [] }                                  if $k == 4;
    if ($k == 5) {
        # a valid token with some characters percent-encoded: no longer
        # the token (nginx passes the argument as sent)
        my $t = valid_for(pick(qw(A C)));
        return { v => pct_some($t->{v}), grants => [] };
    }
    if ($k == 6) {
        my $t = bad_token();
        my $v = $t->{v};
        $v =~ s/ /%20/g;
        return { v => $v . pick('%00', '%00x', ';x=1', '#frag', '%23', "\xe2\x82\xac", ''),
                 grants => [] };
    }
    return valid_for(pick(qw(A A C))) if $k <= 10;
    return bad_token();
}

#--------------------------------------------------------------------------
# requests
#--------------------------------------------------------------------------

# req(%o): builds one request; o: method, target (a string where "{HID}"
# becomes the hid, or a sub getting the hid), version ("HTTP/1.1"; "" for
# HTTP/0.9), host (default "localhost"; undef for none), headers ([name,
# value] or a raw line), body, no_cl, no_hid_header, fam, what, loc, toks,
# signed, expect
sub req {
    my %o = @_;
    my $hid = ++$HID;
    my $method = $o{method} // 'GET';
    my $target = ref $o{target} ? $o{target}->($hid) : $o{target};
    $target =~ s/\{HID\}/$hid/g;
    my $version = $o{version} // 'HTTP/1.1';
    my $sp = $o{spaces} // ' ';
    my $line = $version eq '' ? "$method$sp$target"
                              : "$method$sp$target$sp$version";
    my $head = "$line\r\n";
    my @h;
    my $host = exists $o{host} ? $o{host} : 'localhost';
    push @h, ['Host', $host] if defined $host;
    push @h, ['X-Hid', $hid] unless $o{no_hid_header};
    push @h, @{ $o{headers} || [] };
    my $body = $o{body};
    if (defined $body && !$o{no_cl}) {
        push @h, ['Content-Length', length $body];
    }
    for my $x (@h) {
        $head .= ref $x ? "$x->[0]: $x->[1]\r\n" : "$x\r\n";
    }
    my $bytes = $head . "\r\n" . ($body // '');
    # a token carried as it was made valid keeps its grants, and so does
    # one with what a header, a cookie or a query may cut off around it
    # (spaces, "; x=1", "&x", "#frag")
    for my $t (@{ $o{toks} || [] }) {
        next if @{ $t->{grants} };
        my ($g) = grep { defined } map { $VALID{$_} }
                  $t->{v}, $t->{v} =~ s/^\s+|\s+$//gr, split /[\s;&#,]+/, $t->{v};
        $t->{grants} = $g if $g;
    }
    my $r = {
        hid => $hid, fam => $o{fam}, what => $o{what} // '', bytes => $bytes,
        line => $line, method => $method, http09 => $version eq '' ? 1 : 0,
        loc => $o{loc} // 'none', toks => $o{toks} || [],
        signed => $o{signed} ? 1 : 0, expect => $o{expect},
        headers => \@h,
    };
    $r->{known} = known_tags($r);
    return $r;
}

sub once { return { fam => $_[0]{fam}, mode => 'once', reqs => [@_] } }

# a query: [name, value] pairs, a value of undef leaves out the "="; the hid
# argument is put at a random place
sub query {
    my @args = @_;
    my $at = int rand(@args + 1);
    splice @args, $at, 0, ['hid', '{HID}'];
    return join '&', map { !ref $_ ? $_ : defined $_->[1] ? "$_->[0]=$_->[1]"
                                                          : $_->[0] } @args;
}

my @ADM = qw(media cmedia pub targ ck);

# carry(LOC, TOKEN) -> query args and headers that carry TOKEN in LOC's
# token source
sub carry {
    my ($loc, $t, $how) = @_;
    return ([['t', $t->{v}]], []) if $loc eq 'targ';
    return ([], [['Cookie', "rt=$t->{v}"]]) if $loc eq 'ck';
    $how //= chance(0.5) ? 'query' : 'bearer';
    return ([['access_token', $t->{v}]], []) if $how eq 'query';
    return ([], [['Authorization', "Bearer $t->{v}"]]);
}

# a spelling of a room in a path: the canonical one most of the time
sub room_path {
    my $name = pick(qw(A A A B C));
    my $id = $S->{rooms}{$name};
    my $k = rint(0, 24);
    return $id if $k < 8;
    return '0' . $id if $k == 8;
    return '00' . $id if $k == 9;
    return '0' x rint(1, 14) . $id if $k == 10;
    return digits(rint(1, 30)) if $k == 11;
    return '' if $k == 12;
    return pick('abc', "$id" . 'x', "-$id", "+$id", " $id", "%20$id", "$id%00",
                "${id}%2F", "0x$id", "\xd9\xa1$id", '..', '.', '%2e%2e',
                "$id;x", "$id%3B", "${id}0", substr($id, 1)) if $k == 13;
    # the real room with some digits percent-encoded: nginx decodes them
    return pct_some($id) if $k == 14;
    return "x/../$id" if $k == 15;
    return "$id/./" if $k == 16;
    return "%2e%2e/$id" if $k == 17;
    return $id . '%2F' . $S->{rooms}{B} if $k == 18;
    return "/$id" if $k == 19;
    return $id;
}

sub adm_path {
    my ($loc, $room) = @_;
    $room //= room_path();
    return "/$loc/$room/" . pick('', '', 'x', 'ws', 'a/b/c', 'publish', '..');
}

#--------------------------------------------------------------------------
# known findings: which requests can trigger them (HOSTILE_SKIP=known
# leaves these out, so that the rest shows what the suite finds besides)
#   k1  a 1- or 2-byte access_token value (issue 10, finding 1: the mask's
#       overflow)
#   k2  a room spelled with leading zeros (finding 2: cached by value)
#   k5  a query token with a malformed room id (finding 5)
#   k6  a query token next to a Bearer header, a second access_token
#       argument, or one after an empty one (finding 6)
#   kt  a query token at a rooms_token location, t= at $arg_t, access_token
#       at both (found by this suite: with rooms_token, no query token was
#       masked)
#   ks  a query token in a line with more than one space before its
#       version, or one after it (found by this suite in the fixed mask:
#       it takes the last space for the end of the target, and masks a
#       space or the version with the last argument)
#   kc  a chunked request body at an admission location (found by this
#       suite: a refusal whose body nginx cannot discard becomes a 500)
#   ku  a client abort with a query token at the proxied location (found by
#       this suite: nginx's error line for the upstream names the proxied
#       URI, query and token included); set by the conn family
# HOSTILE_SKIP=known means all of them.
#--------------------------------------------------------------------------

our @KNOWN = qw(k1 k2 k5 k6 kt ks kc ku);

sub known_tags {
    my $r = shift;
    my %k;
    my $line = $r->{line};
    my ($loc, $seg) = $line =~ m{^[A-Z_-]+[ ]+(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/?]*)?
                                  /(media|cmedia|pub|targ|ck)/([^/?]*)}x;
    return \%k unless $loc;
    my $dec = $seg =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger;
    my $tok = token_args($line, ['access_token']);
    my @vals = map { substr $line, $_->[0], $_->[1] } @$tok;

    if ($loc =~ /^(?:media|cmedia|pub)$/) {
        $k{k1} = 1 if grep { length($_) <= 2 } @vals;
        my $complex = $line =~ m{^\S+ +\S*(?:\.\.|//|%2[eEfF]|\\|#|/\./)};
        $k{k5} = 1 if @vals && ($dec !~ /^[0-9]{16,18}$/ || $complex);
        my $bearer = grep { ref $_ && lc $_->[0] eq 'authorization'
                            && $_->[1] =~ /^\s*bearer /i } @{ $r->{headers} };
        # every access_token argument, empty ones included
        my ($qo, $ql) = Hostile::Model::query_span($line);
        my $all = defined $qo ? () = ('&' . substr $line, $qo, $ql) =~ /&access_token=/gi : 0;
        $k{k6} = 1 if @vals && ($bearer || $all > 1);
    }
    $k{k2} = 1 if $dec =~ /^0+[0-9]+$/ && length $dec >= 16 && length $dec <= 18;
    $k{kc} = 1 if grep { ref $_ && lc $_->[0] eq 'transfer-encoding' } @{ $r->{headers} };
    $k{kt} = 1 if $loc =~ /^(?:targ|ck)$/ && @{ token_args($line, LOCATIONS->{$loc}, 1) };
    $k{ks} = 1 if $line =~ /  +HTTP\/[^ ]*$| $/ && $line =~ /[?&](?:access_token|t)=/i;
    return \%k;
}

#--------------------------------------------------------------------------
# family "spelling": scenario steps with a fixed expected outcome, run
# alone (before and after the others): the cache must never answer for a
# spelling of a room other than its canonical one, nor be poisoned by one
#--------------------------------------------------------------------------

sub fam_spelling {
    my $phase = shift;           # 1: before the others, 2: after them
    my @steps;
    my $A = $S->{rooms}{A};
    my $C = $S->{rooms}{C};
    my $cold = $phase == 1 ? 'cold1' : 'cold2';

    # a step that expects an admission after a spelling was asked fails
    # because of what the spelling did: it says so ("after k2")
    my $spelled = 0;
    my $step = sub {
        my ($loc, $room, $tok, $expect, $what) = @_;
        my ($q, $h) = carry($loc, $tok, 'bearer');
        my $r = req(fam => 'spelling', loc => $loc, what => $what,
                    target => "/$loc/$room/?" . query(@$q),
                    headers => $h, toks => [$tok], expect => $expect);
        $r->{after} = 'k2' if $spelled && !$r->{known}{k2};
        $spelled ||= $r->{known}{k2};
        push @steps, once($r);
    };

    for my $loc (qw(cmedia pub ck)) {
        my $u = $loc eq 'pub' ? 'dave' : 'alice';
        my $t = hs($u);
        $step->($loc, $A, $t, '200', "$loc: $u admitted to room A (warms the cache)");
        $step->($loc, "0$A", $t, 'refused', "$loc: the same token for 0+A, cache warm");
        $step->($loc, "0$A", hs($u, room => "0$A"), 'refused',
                "$loc: a token whose room claim is 0+A, for 0+A");
        $step->($loc, "00$A", $t, 'refused', "$loc: 00+A (19 digits)");
        $step->($loc, $A, $t, '200', "$loc: room A still admits $u after the spellings");
    }

    # cold: the spelling first, then the real room
    my $t = hs($cold);
    $step->('cmedia', "00$C", $t, 'refused', "cmedia: $cold for 00+C before any request for C");
    $step->('cmedia', "0$C", $t, 'refused', "cmedia: $cold for 0+C");
    $step->('cmedia', $C, $t, '200', "cmedia: room C admits $cold after 0+C and 00+C were asked first");

    # the API keys rooms by their text: a spelling is another (missing) room
    for my $room ("0$A", $A) {
        my $path = "/rooms/$room?api-version=2025-03-13&hid={HID}";
        push @steps, once(signed_req('GET', $path, undef, fam => 'spelling',
                                     expect => $room eq $A ? '200' : '404',
                                     what => "api: GET /rooms/" . ($room eq $A ? 'A' : '0+A')));
    }

    return @steps;
}

#--------------------------------------------------------------------------
# family "lines": request lines
#--------------------------------------------------------------------------

# a request line of exactly LEN bytes: LOC, a token value, the hid and a
# filler argument in a random order
sub long_line {
    my ($len, $tok, $loc, $what) = @_;
    my $room = $S->{rooms}{ pick(qw(A C)) };
    my $name = $loc eq 'targ' ? 't' : 'access_token';
    my $first = rint(0, 2);
    my $target = sub {
        my $hid = shift;
        my @a = ("$name=$tok->{v}", "hid=$hid", 'p=');
        # the token first, last or in the middle
        @a = @a[$first == 0 ? (0, 1, 2) : $first == 1 ? (1, 0, 2) : (2, 1, 0)];
        my $t = "/$loc/$room/?" . join '&', @a;
        my $fill = $len - length("GET $t HTTP/1.1");
        $fill = 0 if $fill < 0;
        $t =~ s/p=/'p=' . ('x' x $fill)/e;
        return $t;
    };
    my ($q, $h) = $loc eq 'ck' ? carry('ck', $tok) : ([], []);
    return once(req(fam => 'lines', loc => $loc, target => $target, headers => $h,
                    toks => [$tok], what => $what));
}

sub fam_lines_sweep {
    my @c;
    # every length mod 16, twice, from 4000 to 8300, for 1- and 2-byte
    # tokens (issue 10: the mask writes len - tokenlen + 3 bytes into len),
    # and once for empty and 3-byte ones
    for my $tlen (1, 2, 0, 3) {
        for my $r (0 .. 15) {
            for my $k (0 .. ($tlen <= 2 ? 1 : 0)) {
                my $len = 4000 + 16 * ($k * 134 + rint(0, 133)) + $r;
                push @c, long_line($len, { v => rstr($tlen), grants => [] }, 'media',
                                   "line of $len bytes (mod 16 = $r), $tlen-byte access_token");
            }
        }
    }
    # valid and hostile tokens in long lines, every location
    for my $r (0 .. 15) {
        my $len = 4000 + 16 * rint(0, 268) + $r;
        push @c, long_line($len, valid_for(pick(qw(A C))), pick(qw(media cmedia pub targ)),
                           "line of $len bytes, valid token");
    }
    # around large_client_header_buffers (8k: the line and its CRLF)
    for my $len (8170 .. 8200) {
        push @c, long_line($len, pick({ v => rstr(1), grants => [] },
                                      { v => rstr(2), grants => [] }, valid_for('A')),
                           pick(qw(media cmedia)),
                           "line of $len bytes, at the 8k header buffer");
    }
    # short lines: the overflow lands inside the request's pool
    for my $tlen (1, 2) {
        for (1 .. 12) {
            push @c, long_line(rint(60, 3900), { v => rstr($tlen), grants => [] },
                               pick(qw(media cmedia pub)), "short line, $tlen-byte access_token");
        }
    }
    return @c;
}

sub fam_lines_one {
    my $k = rint(0, 9);
    my $loc = pick(@ADM);

    if ($k <= 3) {
        # argument soup around one or more access_token values
        my @args;
        my @toks;
        for (1 .. rint(1, 4)) {
            my $t = token_value();
            push @toks, $t;
            my $name = pick(('access_token') x 6, 'ACCESS_TOKEN', 'Access_Token',
                            'access%5Ftoken', 'access_token[]', 'xaccess_token',
                            'access_tokens', 'access_toke', 't', 'T');
            push @args, [$name, $t->{v}];
        }
        push @args, pick(['x', '1'], '', '=', 'access_token', 'a=b=c', '&', ['p', rstr(5)])
            for 1 .. rint(0, 3);
        @args = sort { rand() <=> 0.5 } @args;
        my @h;
        if (chance(0.25)) {
            my $t = chance(0.5) ? valid_for(pick(qw(A C))) : bad_token();
            push @toks, $t;
            push @h, ['Authorization', "Bearer $t->{v}"];
        }
        if ($loc eq 'ck' && chance(0.7)) {
            my $t = token_value();
            push @toks, $t;
            push @h, ['Cookie', "rt=$t->{v}"];
        }
        return once(req(fam => 'lines', loc => $loc, what => 'query arguments',
                        target => adm_path($loc, chance(0.8) ? $S->{rooms}{ pick(qw(A C)) } : undef)
                                  . '?' . query(@args),
                        headers => \@h, toks => \@toks));
    }

    if ($k == 4) {
        # repeated access_token arguments in the orders of issue 10
        my @pat = (['', 'V'], ['V', 'V2'], ['B', 'V'], ['V', ''], ['S', 'V'],
                   ['V', 'S'], ['', '', 'V'], ['V', 'V']);
        my @toks;
        my $v = valid_for('A');
        my @args = map {
            my $t = $_ eq '' ? { v => '', grants => [] }
                  : $_ eq 'V' ? $v
                  : $_ eq 'V2' ? valid_for('A')
                  : $_ eq 'B' ? bad_token()
                  : { v => rstr(rint(1, 3)), grants => [] };
            push @toks, $t;
            ['access_token', $t->{v}];
        } @{ pick(@pat) };
        $loc = pick(qw(media cmedia pub));
        return once(req(fam => 'lines', loc => $loc, what => 'repeated access_token',
                        target => "/$loc/$S->{rooms}{A}/?" . query(@args), toks => \@toks));
    }

    if ($k == 5) {
        # every shape of room id, with a valid token for the room meant
        my $room = room_path();
        my $t = valid_for(pick(qw(A C)));
        my ($q, $h) = carry($loc, $t);
        return once(req(fam => 'lines', loc => $loc, what => 'room id shape',
                        target => adm_path($loc, $room) . '?' . query(@$q),
                        headers => $h, toks => [$t]));
    }

    if ($k == 6) {
        # versions and spacing of the request line
        my $t = token_value();
        my ($q, $h) = carry($loc, $t, 'query');
        my $v = pick('HTTP/1.0', 'HTTP/1.1', 'HTTP/1.1', '', 'HTTP/2.0', 'HTTP/1.10',
                     'HTTP/1.01', 'http/1.1', 'HTTP/1.1 ', 'HTTP/9.9', 'HTTP/1', 'HTTP/',
                     'HTTP/1.1x', 'HTTP/11.1');
        my %o = (version => $v);
        $o{spaces} = pick('  ', ' ') if chance(0.3);
        $o{host} = undef if $v eq 'HTTP/1.0' && chance(0.5);
        return once(req(fam => 'lines', loc => $loc, what => "version \"$v\"",
                        target => adm_path($loc, $S->{rooms}{A}) . '?' . query(@$q),
                        headers => $h, toks => [$t], %o));
    }

    if ($k == 7) {
        # absolute-URI request targets
        my $t = chance(0.6) ? valid_for('A') : token_value();
        my ($q, $h) = carry($loc, $t, 'query');
        my $auth = pick('localhost', 'localhost:80', 'example.com', '127.0.0.1:1',
                        '[::1]', 'a..b', 'x' x 300, '', 'user@host');
        my $scheme = pick('http', 'http', 'https', 'HTTP', 'ftp', 'h');
        return once(req(fam => 'lines', loc => $loc, what => 'absolute URI',
                        target => "$scheme://$auth" . adm_path($loc, $S->{rooms}{A})
                                  . '?' . query(@$q),
                        headers => $h, toks => [$t]));
    }

    if ($k == 8) {
        # methods of every kind
        my $t = chance(0.5) ? valid_for('A') : token_value();
        my ($q, $h) = carry($loc, $t);
        my $m = pick(qw(GET HEAD POST PUT DELETE PATCH OPTIONS TRACE CONNECT
                        PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK FOO
                        G-E_T X), 'A' x rint(10, 200), 'get', 'GeT', '');
        my %o;
        $o{body} = '{"x":1}' if $m =~ /^(?:POST|PUT|PATCH)$/ && chance(0.5);
        return once(req(fam => 'lines', loc => $loc, what => "method \"$m\"",
                        method => $m, target => adm_path($loc, $S->{rooms}{A})
                                                . '?' . query(@$q),
                        headers => $h, toks => [$t], %o));
    }

    # raw bytes in the target: controls, high bytes, UTF-8, "#", encoded
    # slashes and dots
    my $t = token_value();
    my ($q, $h) = carry($loc, $t, 'query');
    my $junk = pick("\x01", "\x7f", "\xff", "\xc3\xa9", "%", "%%", "%zz", "#",
                    "#frag", "\\", "%5C", "..%2F", "%2e", "\t", "?", "??",
                    "/" x rint(2, 10), "%00", "\x00");
    my $target = adm_path($loc, $S->{rooms}{A});
    $target = chance(0.5) ? $target . $junk . '?' . query(@$q)
                          : $target . '?' . query(@$q, ['j', $junk]);
    return once(req(fam => 'lines', loc => $loc, what => 'raw bytes in the target',
                    target => $target, headers => $h, toks => [$t]));
}

#--------------------------------------------------------------------------
# family "headers"
#--------------------------------------------------------------------------

sub fam_headers_one {
    my $k = rint(0, 9);
    my $loc = pick(qw(media cmedia pub));
    my $room = $S->{rooms}{ pick(qw(A A C)) };

    if ($k <= 2) {
        # Authorization: every casing and spacing of Bearer
        my $t = chance(0.5) ? valid_for(pick(qw(A C))) : bad_token();
        my $scheme = pick('Bearer', 'bearer', 'BEARER', 'BeArEr', 'bEARER',
                          'Bearer ', 'Bearer  ', "Bearer\t", 'Bearer:', 'Bearer,',
                          'Beare', 'Bearerx', 'Basic', 'HMAC-SHA256', 'Token', '');
        my $sep = $scheme =~ /\s$/ ? '' : pick(' ', ' ', '  ', "\t", '');
        my $value = pick("$scheme$sep$t->{v}", "$scheme$sep$t->{v}", $scheme, "$scheme$sep",
                         "$scheme$sep$t->{v} extra", "$scheme$sep$t->{v}\t");
        my @q;
        my @toks = ($t);
        if (chance(0.4)) {
            # issue 10, finding 6: Bearer and a query token at once
            my $qt = token_value();
            push @toks, $qt;
            push @q, ['access_token', $qt->{v}];
        }
        return once(req(fam => 'headers', loc => $loc, what => 'Authorization variants',
                        target => "/$loc/$room/?" . query(@q),
                        headers => [['Authorization', $value]], toks => \@toks));
    }

    if ($k == 3) {
        # huge Authorization, just under and over the 8k header buffer
        my $len = pick(rint(7000, 8300), rint(8170, 8200), rint(1000, 7000));
        my $t = { v => 'eyJ' . ('A' x $len), grants => [] };
        my @q = chance(0.3) ? (['access_token', valid_for('A')->{v}]) : ();
        return once(req(fam => 'headers', loc => $loc, what => "Authorization of $len bytes",
                        target => "/$loc/$room/?" . query(@q),
                        headers => [['Authorization', "Bearer $t->{v}"]],
                        toks => [$t, map { { v => $_->[1], grants => [] } } @q]));
    }

    if ($k == 4) {
        # two Authorization headers
        my ($t1, $t2) = (pick(valid_for('A'), bad_token()), bad_token());
        return once(req(fam => 'headers', loc => $loc, what => 'two Authorization headers',
                        target => "/$loc/$room/?" . query(),
                        headers => [['Authorization', "Bearer $t1->{v}"],
                                    [pick('Authorization', 'authorization', 'AUTHORIZATION'),
                                     "Bearer $t2->{v}"]],
                        toks => [$t1, $t2]));
    }

    if ($k == 5) {
        # cookies for the cookie location, and elsewhere
        my $t = chance(0.5) ? valid_for(pick(qw(A C))) : token_value();
        my $c = pick("rt=$t->{v}", "a=1; rt=$t->{v}", "rt=$t->{v}; rt=x",
                     "rt=; rt=$t->{v}", "RT=$t->{v}", "rt=\"$t->{v}\"",
                     "rt = $t->{v}", "rt=$t->{v};", ";;rt=$t->{v}", 'rt=',
                     "x=" . ('y' x rint(100, 8000)) . "; rt=$t->{v}");
        my @h = (['Cookie', $c]);
        push @h, ['Cookie', "rt=" . bad_token()->{v}] if chance(0.2);
        my $l = chance(0.8) ? 'ck' : $loc;
        return once(req(fam => 'headers', loc => $l, what => 'cookies',
                        target => "/$l/$room/?" . query(), headers => \@h, toks => [$t]));
    }

    if ($k == 6) {
        # a WebSocket upgrade as a browser makes it: the token in the query
        my $t = chance(0.7) ? valid_for(pick(qw(A C))) : token_value();
        my @h = (['Upgrade', pick('websocket', 'WebSocket', 'h2c', '', 'x' x 500)],
                 ['Connection', pick('Upgrade', 'keep-alive, Upgrade', 'close',
                                     'upgrade, close', '', 'Upgrade, ' . ('x,' x 100))],
                 ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
                 ['Sec-WebSocket-Version', '13']);
        return once(req(fam => 'headers', loc => 'media', what => 'WebSocket upgrade',
                        target => "/media/$room/ws?" . query(['access_token', $t->{v}]),
                        headers => \@h, toks => [$t]));
    }

    if ($k == 7) {
        # Host variants
        my $t = chance(0.5) ? valid_for('A') : token_value();
        my ($q, $h) = carry($loc, $t);
        my $host = pick(undef, '', 'localhost:99999', 'a b', '[::1]:80', 'x' x 3000,
                        '..', 'localhost.', "\xff", 'LOCALHOST', 'host/path', '-');
        my @extra = chance(0.2) ? (['Host', 'second']) : ();
        return once(req(fam => 'headers', loc => $loc, what => 'Host variants',
                        target => "/$loc/$room/?" . query(@$q),
                        host => $host, headers => [@$h, @extra], toks => [$t]));
    }

    # malformed and unusual header lines next to a token
    my $t = chance(0.5) ? valid_for('A') : token_value();
    my ($q, $h) = carry($loc, $t);
    if (chance(0.1)) {
        # a chunked body, whole or broken
        return once(req(fam => 'headers', loc => $loc, what => 'a chunked body',
                        method => pick('GET', 'POST'), target => "/$loc/$room/?" . query(@$q),
                        headers => [@$h, ['Transfer-Encoding', 'chunked']], no_cl => 1,
                        body => pick("0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n",
                                     "zz\r\n\r\n", "ffffffffffffffffff\r\nx\r\n0\r\n\r\n",
                                     "1;ext=" . ('e' x 5000) . "\r\nx\r\n0\r\n\r\n"),
                        toks => [$t]));
    }
    my @bad = pick(['X_Under', '1'], 'NoColon', ' folded: line', ['X-Nul', "a\x00b"],
                   ['X-High', "\xff\xfe"],
                   ['Content-Length', pick('abc', '-1', '99999999999999999999')],
                   ['Transfer-Encoding', pick('gzip', 'chunked, chunked', 'identity')],
                   ['Expect', '100-continue'], ['X-Long', 'v' x rint(1000, 9000)],
                   map { ["X-Many-$_", $_] } 1 .. rint(1, 120));
    return once(req(fam => 'headers', loc => $loc, what => 'unusual header lines',
                    target => "/$loc/$room/?" . query(@$q),
                    headers => [@$h, @bad], toks => [$t]));
}

#--------------------------------------------------------------------------
# family "tokens"
#--------------------------------------------------------------------------

sub fam_tokens_one {
    my $loc = pick(@ADM);
    my $t = chance(0.15) ? valid_for(pick(qw(A B C))) : bad_token();
    my $room = pick(($S->{rooms}{A}) x 3, $S->{rooms}{B}, $S->{rooms}{C},
                    '0' . $S->{rooms}{A});
    my ($q, $h) = carry($loc, $t);
    return once(req(fam => 'tokens', loc => $loc, what => 'token variants',
                    target => "/$loc/$room/?" . query(@$q), headers => $h,
                    toks => [$t]));
}

#--------------------------------------------------------------------------
# family "api": the management API, unsigned and signed
#--------------------------------------------------------------------------

sub http_date { return strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(shift // $NOW)) }

# the four ACS headers for METHOD PATH BODY with the host HOST
sub acs_sign {
    my ($method, $path, $body, $host) = @_;
    my $date = http_date();
    my $hash = pad(sha256_base64($body // ''));
    my $sig = pad(hmac_sha256_base64("$method\n$path\n$date;$host;$hash",
                                     decode_base64($S->{access_key})));
    return (['x-ms-date', $date], ['x-ms-content-sha256', $hash],
            ['Authorization', "HMAC-SHA256 SignedHeaders=x-ms-date;host;"
                              . "x-ms-content-sha256&Signature=$sig"]);
}

# a correctly signed request (the hid is fixed before signing)
sub signed_req {
    my ($method, $path, $body, %o) = @_;
    my $host = $o{host} // "127.0.0.1:$S->{port}";
    my $hid = $HID + 1;
    $path =~ s/\{HID\}/$hid/g;
    my @h = (acs_sign($method, $path, $body, $host), @{ $o{headers} || [] });
    push @h, ['Content-Type', $o{ctype}] if defined $o{ctype};
    return req(method => $method, target => $path, host => $host, headers => \@h,
               body => $body, fam => $o{fam} // 'api', loc => 'api', signed => 1,
               what => $o{what} // "signed $method", expect => $o{expect});
}

my @RAW_PREFIX = ('8:acs:', '8:spool:', '8:dod-acs:', '8:gcch-acs:', '4:+1', '8:teams:', '');

sub raw_id {
    return pick(map { $S->{users}{$_}{id} } sort keys %{ $S->{users} }) if chance(0.2);
    return pick(@RAW_PREFIX) . pick(rstr(rint(1, 40)), '', "\xff\xfe", "\\u0000",
                                   'a_b_c', 'x' x rint(200, 3000), "\xe2\x82\xac");
}

sub json_str {
    my $s = shift;
    # JSON::PP would escape or re-encode: the bytes are put as they are
    $s =~ s/(["\\])/\\$1/g;
    return qq("$s");
}

sub date_value {
    return pick('"2026-01-01T00:00:00Z"',
                '"' . strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($NOW + 3600)) . '"',
                '"2999-12-31T23:59:59+14:00"', '"0000-00-00T00:00:00Z"', '"not a date"', 'null',
                '1', '"2026-13-45T25:61:61Z"', '"' . ('9' x 40) . '"', '""', '[]',
                '"2026-01-01T00:00:00.123456789012345Z"', '"2026-01-01"', '{}',
                '"2026-01-01T00:00:00-23:59"');
}

sub role_value {
    return pick('"Presenter"', '"Attendee"', '"Consumer"', '"Collaborator"', '"Guest"',
                '"presenter"', 'null', '1', '""', '["Presenter"]', '{"role":"x"}',
                '"' . ('R' x 1000) . '"');
}

sub participants_json {
    # mostly small; now and then big, up to past rooms_api_max_body (1m)
    my $n = chance(0.97) ? pick(0, 1, 2, 5, rint(10, 100), rint(100, 400))
          : chance(0.7) ? rint(1000, 5000) : rint(15000, 25000);
    my @p;
    for (1 .. $n) {
        my $id = chance(0.95) ? '8:acs:hostile_' . rstr(rint(4, 30)) : raw_id();
        push @p, json_str($id) . ':' . pick('{"role":' . role_value() . '}', 'null', '{}',
                                            '"Presenter"', '[]', '{"role":"Attendee","x":1}');
    }
    push @p, $p[0] if @p && chance(0.2);           # duplicate key
    return '{' . join(',', @p) . '}';
}

# a body for the API: JSON of the right shape with wrong parts, or not
# JSON at all
sub json_body {
    my $k = rint(0, 19);
    return '' if $k == 0;
    return pick('null', '[]', '"str"', '1', 'true', '{', '}', '{"a"', "\xef\xbb\xbf{}",
                '{}garbage', '{} {}', '{"a":1,}', "{'a':1}", 'NaN', '{"a":NaN}') if $k == 1;
    return ('[' x rint(100, 20000)) . (']' x rint(0, 100)) if $k == 2;
    return ('{"a":' x rint(100, 5000)) . '1' . ('}' x rint(0, 5000)) if $k == 3;
    return pick('{"validUntil":1e999999}', '{"validFrom":123456789012345678901234567890}',
                '{"pstnDialOutEnabled":-0}', '{"x":1.5e308}', '{"x":-1e-400}',
                '{"x":' . ('9' x 5000) . '}', '{"pstnDialOutEnabled":1}') if $k == 4;
    return '{"validUntil":' . date_value() . ',"validUntil":' . date_value() . '}' if $k == 5;
    return qq({"participants":{"8:acs:\xff\xfe":{"role":"Presenter"}}}) if $k == 6;
    return qq({"x":"\\ud800"}) if $k == 7;
    return qq({"x":"a\\u0000b"}) if $k == 8;
    return rstr(rint(1, 2000), join('', map { chr } 0 .. 255)) if $k == 9;
    if ($k == 10) {
        return '{"createTokenWithScopes":[' . join(',', map { pick('"voip"', '"chat"', '1', 'null',
                '"' . ('s' x 500) . '"', '[]') } 1 .. rint(0, 5)) . ']'
               . (chance(0.5) ? ',"expiresInMinutes":' . pick('60', '1440', '59', '1441', '-1',
                  '1e10', '"60"', '60.5', 'null', '18446744073709551617') : '') . '}';
    }
    if ($k == 11) {
        return '{"scopes":' . pick('["voip"]', '[]', 'null', '"voip"', '[1]')
               . ',"expiresInMinutes":' . pick('60', '1e400', '-0', '0', '99999999999') . '}';
    }
    my @f;
    push @f, '"validFrom":' . date_value() if chance(0.5);
    push @f, '"validUntil":' . date_value() if chance(0.5);
    push @f, '"pstnDialOutEnabled":' . pick('true', 'false', 'null', '"true"', '0') if chance(0.3);
    push @f, '"participants":' . participants_json() if chance(0.7);
    push @f, '"' . rstr(5) . '":' . pick('1', '{}', '[]') if chance(0.2);
    return '{' . join(',', sort { rand() <=> 0.5 } @f) . '}';
}

# a path for the API; a signed request that may change something (SAFE
# false) only ever names the scratch room, rooms that do not exist and
# identities of no other use, so that rooms A, B, C and their users stay
# as seeded
sub api_path {
    my $safe = shift;
    my $scratch = $S->{rooms}{S};
    my @real = map { $S->{rooms}{$_} } qw(A B C);
    my $room = pick($scratch, $scratch, ($safe ? @real : ()), '0' . $S->{rooms}{A},
                    digits(17), digits(rint(1, 25)), 'abc', '', "$scratch/x",
                    '%31' . substr($scratch, 1), "..", "$scratch%2Fparticipants");
    my $ident = pick(($safe ? raw_id() : ()), $S->{users}{mallory}{id},
                     '8:acs:hostile_' . rstr(8), pick(@RAW_PREFIX) . rstr(rint(0, 50)));
    my $ver = pick(('api-version=2025-03-13') x 6, 'api-version=2024-04-15',
                   'api-version=2023-06-14', 'api-version=2023-10-01', 'api-version=',
                   'api-version=2025-03-13&api-version=x', '', 'API-VERSION=2025-03-13',
                   'api-version=' . ('9' x 300));
    my $extra = pick('', '',
                     '&maxpagesize=' . pick('1', '0', '-1', '1001', 'x', '99999999999999999999'),
                     '&continuationToken=' . pick(rstr(rint(1, 200)), '', '%00', 'eyJ' . rstr(40)),
                     '&access_token=' . valid_for('A')->{v});
    my $path = pick('/rooms', '/rooms', "/rooms/$room", "/rooms/$room", "/rooms/$room/participants",
                    "/rooms/$room/participants", '/rooms/', '/roomsx', '/identities',
                    "/identities/$ident", "/identities/$ident/:issueAccessToken",
                    "/identities/$ident/:revokeAccessTokens", '/identities/', "/identities/$ident/:x",
                    '/rooms//participants', '/rooms/' . $room . '/participants/x');
    return "$path?$ver$extra&hid={HID}";
}

sub fam_api_one {
    my $k = rint(0, 9);
    my $method = pick(qw(GET GET POST POST PATCH PATCH DELETE PUT HEAD OPTIONS TRACE));
    my $path = api_path($k > 3 || $method =~ /^(?:GET|HEAD|OPTIONS|TRACE)$/);
    my $body = $method =~ /^(?:POST|PATCH|PUT)$/ || chance(0.1) ? json_body() : undef;
    my @h;
    push @h, ['Content-Type', pick('application/json', 'application/merge-patch+json',
                                   'application/json; charset=utf-8', 'text/plain',
                                   'APPLICATION/JSON', '', 'application/jsonx')]
        if defined $body && chance(0.8);
    push @h, ['Repeatability-Request-ID',
              pick(join('-', map { rstr($_, '0123456789abcdef') } 8, 4, 4, 4, 12),
                   '', 'x' x 65, 'x' x 64, "\xff", 'a b', '../../x', 'same-id-' . rint(0, 3))],
             ['Repeatability-First-Sent', pick(http_date(), 'garbage', '')]
        if $method eq 'POST' && chance(0.4);

    if ($k <= 3) {
        # correctly signed: the model parsing and the Redis paths run
        return once(signed_req($method, $path, $body, headers => \@h,
                               what => "signed $method " . ($path =~ s/\?.*//r)));
    }

    # unsigned, or signed wrongly
    my $date = pick(http_date(), http_date($NOW - 3600), http_date($NOW + 3600), 'yesterday',
                    '', 'Sun, 06 Nov 1994 08:49:37 GMT', http_date() . ' x', 'x' x 500);
    my $hash = pick(pad(sha256_base64($body // '')), '', 'x' x 44, 'A' x 5000, '=' x 44);
    my $sig = pick(b64url(rstr(32)), '', 'A' x 44, rstr(rint(1, 300)), '%00',
                   encode_base64(rstr(32), ''));
    my $auth = pick("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=$sig",
                    "HMAC-SHA256 Signature=$sig&SignedHeaders=x-ms-date;host;x-ms-content-sha256",
                    "HMAC-SHA256 SignedHeaders=host&Signature=$sig",
                    "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=",
                    'HMAC-SHA256 ', 'HMAC-SHA256', 'hmac-sha256 SignedHeaders=x&Signature=y',
                    "HMAC-SHA256 SignedHeaders=" . ('x;' x 2000) . "&Signature=$sig",
                    'Bearer ' . valid_for('A')->{v}, 'Basic YTpi', '', undef,
                    "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
                    . "&Signature=$sig&Signature=$sig");
    my @sign;
    push @sign, ['x-ms-date', $date] if chance(0.8);
    push @sign, ['x-ms-content-sha256', $hash] if chance(0.8);
    push @sign, ['Authorization', $auth] if defined $auth;
    if ($k == 4) {
        # a real signature over something else than what is sent
        my @good = acs_sign($method, $path =~ s/\{HID\}/0/r, $body, "127.0.0.1:$S->{port}");
        @sign = @good;
    }
    return once(req(method => $method, target => $path, body => $body,
                    host => "127.0.0.1:$S->{port}", headers => [@sign, @h],
                    fam => 'api', loc => 'api', what => "unsigned $method " . ($path =~ s/\?.*//r)));
}

#--------------------------------------------------------------------------
# family "conn": pipelines, cut requests, trickles, aborts
#--------------------------------------------------------------------------

# any request of the other families, HTTP/1.1 and keep-alive
sub any_req {
    my $c;
    for (1 .. 20) {
        $c = pick(\&fam_lines_one, \&fam_headers_one, \&fam_tokens_one, \&fam_api_one)->();
        last if $c->{reqs}[0]{line} =~ m{ HTTP/1\.1$} && $c->{reqs}[0]{bytes} !~ /^Connection: close/mi;
    }
    return $c->{reqs}[0];
}

sub fam_conn_one {
    my $k = rint(0, 9);

    if ($k <= 3) {
        my @r;
        for (1 .. rint(2, 8)) {
            my $r = chance(0.5) ? any_req() : admit_req();
            $r->{fam} = 'conn';
            push @r, $r;
        }
        return { fam => 'conn', mode => 'pipeline', reqs => \@r };
    }

    if ($k <= 6) {
        my $r = chance(0.5) ? any_req() : admit_req();
        $r->{fam} = 'conn';
        my $cut = rint(1, length($r->{bytes}) - 1);
        return { fam => 'conn', mode => 'cut', cut => $cut, rst => chance(0.3),
                 reqs => [$r] };
    }

    if ($k <= 8) {
        my $r = admit_req('media');
        $r->{fam} = 'conn';
        abort_tags($r);
        return { fam => 'conn', mode => 'abort', reqs => [$r] };
    }

    return undef;    # trickles are made apart: few of them
}

# a request that should be admitted (a valid token for a canonical room)
sub admit_req {
    my $loc = shift // pick(@ADM);
    my $room = pick(qw(A A C));
    my $t = valid_for($room, publisher => $loc eq 'pub');
    my ($q, $h) = carry($loc, $t);
    return req(fam => 'conn', loc => $loc, what => 'an admission',
               target => "/$loc/$S->{rooms}{$room}/?" . query(@$q), headers => $h,
               toks => [$t]);
}

# an abort at the proxied location can reach nginx's upstream error lines
sub abort_tags {
    my $r = shift;
    $r->{known}{ku} = 1
        if $r->{loc} eq 'media' && @{ token_args($r->{line}, ['access_token']) };
}

sub fam_trickles {
    my $n = shift;
    return map {
        my $r = chance(0.7) ? admit_req() : any_req();
        $r->{fam} = 'conn';
        { fam => 'conn', mode => 'trickle', delay => 0.001 * rint(1, 3), reqs => [$r] };
    } 1 .. $n;
}

# requests closed by the client while their Redis round trip is pending
sub abort_storm {
    my $n = shift;
    return map {
        my $r = admit_req(pick(qw(media media targ)));
        $r->{fam} = 'conn';
        abort_tags($r);
        { fam => 'conn', mode => 'abort', reqs => [$r] };
    } 1 .. $n;
}

#--------------------------------------------------------------------------
# after the run: known-good requests that must still work (N admissions,
# an API read, /health)
#--------------------------------------------------------------------------

sub live_checks {
    my ($state, $n) = @_;
    $S = $state;
    $NOW = time;
    my @c;
    for my $i (1 .. $n) {
        my $loc = $i % 2 ? 'media' : 'cmedia';
        my $t = hs('alice');
        push @c, once(req(fam => 'live', loc => $loc, expect => '200',
                          what => "known-good admission at /$loc/",
                          target => "/$loc/$S->{rooms}{A}/?" . query(['access_token', $t->{v}]),
                          toks => [$t]));
    }
    push @c, once(signed_req('GET', "/rooms/$S->{rooms}{A}?api-version=2025-03-13&hid={HID}",
                             undef, fam => 'live', expect => '200', what => 'API GET of room A'));
    push @c, once(req(fam => 'live', target => '/health', expect => '200', what => '/health'));
    return @c;
}

#--------------------------------------------------------------------------
# the whole set
#--------------------------------------------------------------------------

# generate(STATE, SEED, COUNT, FAMILIES) -> (phase 1 steps, the fuzz cases,
# the abort storm, phase 2 steps)
sub generate {
    my ($state, $seed, $count, $families) = @_;
    $S = $state;
    $NOW = time;
    $HID = 0;
    srand $seed;
    %VALID = ();
    valid_token({ v => $_->{v}, grants => grants($_->{sub}, $_->{room}) })
        for @{ $S->{pretokens} };
    my %on = map { $_ => 1 } @$families;
    my (@first, @cases, @storm, @last);

    @first = fam_spelling(1) if $on{spelling};

    # shares of COUNT (the sweep of long lines comes on top)
    my %share = (lines => 0.30, headers => 0.17, tokens => 0.20, api => 0.22, conn => 0.11);
    my %one = (lines => \&fam_lines_one, headers => \&fam_headers_one,
               tokens => \&fam_tokens_one, api => \&fam_api_one, conn => \&fam_conn_one);

    push @cases, fam_lines_sweep() if $on{lines};
    for my $f (qw(lines headers tokens api conn)) {
        next unless $on{$f};
        my $n = int($count * $share{$f} + 0.5);
        my $made = 0;
        while ($made < $n) {
            my $c = $one{$f}->() // next;
            push @cases, $c;
            $made += @{ $c->{reqs} };
        }
    }
    if ($on{conn}) {
        push @cases, fam_trickles(8);
        @storm = abort_storm(int($count / 25) + 20);
    }

    # mixed, so that every family meets the others' load
    @cases = map { $_->[1] } sort { $a->[0] <=> $b->[0] } map { [rand, $_] } @cases;

    @last = fam_spelling(2) if $on{spelling};

    return (\@first, \@cases, \@storm, \@last);
}

1;
