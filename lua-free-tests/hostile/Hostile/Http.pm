package Hostile::Http;

# Raw HTTP/1.x over TCP for the hostile suite: every byte sent is the
# caller's (no client library adds, fixes or refuses anything), and every
# response is parsed strictly enough to tell a well-formed one from a
# broken one.  Perl core modules only.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_LINGER IPPROTO_TCP TCP_NODELAY SHUT_WR);
use Time::HiRes qw(time sleep);
use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS);

our $PORT;
our $TIMEOUT = 10;      # seconds a response may take before it is "none"

$SIG{PIPE} = 'IGNORE';  # nginx may close while a big request is written

sub new_conn {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Proto => 'tcp', Timeout => 5)
        or return undef;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $s->blocking(0);
    return { s => $s, buf => '', eof => 0, err => undef };
}

# RST instead of FIN: the abrupt client abort
sub reset_close {
    my $c = shift;
    setsockopt($c->{s}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $c->{s};
}

# writes all of $data before $deadline; an error string when the peer
# stopped reading (closed, reset) or the time ran out
sub write_all {
    my ($c, $data, $deadline) = @_;
    my $off = 0;
    my $sel = IO::Select->new($c->{s});

    while ($off < length $data) {
        my $n = syswrite($c->{s}, $data, 65536, $off);
        if (defined $n) {
            $off += $n;
            next;
        }
        return "write: $!" unless $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
        my $left = $deadline - time;
        return 'write: timeout' if $left <= 0;
        $sel->can_write($left);
    }

    return undef;
}

# reads more into the buffer: >0 bytes, 0 at EOF, undef on timeout/error
sub fill {
    my ($c, $deadline) = @_;
    my $sel = IO::Select->new($c->{s});

    while (1) {
        my $n = sysread($c->{s}, $c->{buf}, 65536, length $c->{buf});
        if (defined $n) {
            $c->{eof} = 1 if $n == 0;
            return $n;
        }
        if (!($!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR})) {
            $c->{err} = "read: $!";
            return undef;
        }
        my $left = $deadline - time;
        if ($left <= 0) {
            $c->{err} = 'timeout';
            return undef;
        }
        $sel->can_read($left);
    }
}

# the grammar of a header name (RFC 9110 token)
my $TOKEN = qr/[!#\$%&'*+\-.^_`|~0-9A-Za-z]+/;

# read_response(CONN, METHOD, DEADLINE, HTTP09) -> hash:
#   status, reason, headers ([name, value] in order), h (lower-cased name
#   -> last value), body, bad (why it is not well-formed HTTP), error (no
#   complete response), interim (1xx seen)
sub read_response {
    my ($c, $method, $deadline, $http09) = @_;
    my %res = (interim => []);

    for (;;) {
        my $end = index $c->{buf}, "\r\n\r\n";

        if ($end < 0) {
            # an HTTP/0.9 answer is the body alone, up to the close
            if ($http09 && length $c->{buf} >= 5
                && substr($c->{buf}, 0, 5) ne 'HTTP/')
            {
                1 while fill($c, $deadline);
                $res{http09} = 1;
                $res{body} = $c->{buf};
                $c->{buf} = '';
                return \%res;
            }
            my $n = fill($c, $deadline);
            next if $n;
            if (length $c->{buf} && $http09) {
                $res{http09} = 1;
                $res{body} = $c->{buf};
                $c->{buf} = '';
                return \%res;
            }
            $res{error} = !defined $n ? ($c->{err} // 'error')
                        : length $c->{buf} ? 'closed in the response head'
                        : 'closed without a response';
            $res{partial} = $c->{buf};
            return \%res;
        }

        my $head = substr $c->{buf}, 0, $end;
        substr($c->{buf}, 0, $end + 4) = '';
        my @lines = split /\r\n/, $head, -1;
        my $sl = shift @lines;

        if ($sl !~ m{^HTTP/1\.[01] ([1-5][0-9][0-9])(?: ([^\r\n\x00]*))?$}) {
            $res{bad} = "bad status line \"" . printable($sl, 80) . '"';
            $res{error} = 'unparsable response';
            return \%res;
        }
        @res{qw(status reason)} = ($1, $2 // '');
        $res{headers} = [];
        $res{h} = {};

        for my $l (@lines) {
            if ($l =~ /^($TOKEN):[ \t]*([^\r\n\x00]*?)[ \t]*$/) {
                push @{ $res{headers} }, [$1, $2];
                $res{h}{lc $1} = $2;
            } else {
                $res{bad} //= 'bad header line "' . printable($l, 80) . '"';
            }
        }

        if ($res{status} < 200) {
            push @{ $res{interim} }, $res{status};
            next;
        }
        last;
    }

    my $h = $res{h};
    my $te = $h->{'transfer-encoding'};
    my $cl = $h->{'content-length'};
    $res{body} = '';

    if ($method eq 'HEAD' || $res{status} == 204 || $res{status} == 304) {
        return \%res;
    }

    if (defined $te && lc $te eq 'chunked') {
        for (;;) {
            while ($c->{buf} !~ /\r\n/) {
                if (!fill($c, $deadline)) {
                    $res{error} = 'closed in a chunk size';
                    return \%res;
                }
            }
            $c->{buf} =~ s/^([0-9A-Fa-f]+)(?:;[^\r\n]*)?\r\n//
                or do {
                    $res{bad} = 'bad chunk size';
                    $res{error} = 'unparsable response';
                    return \%res;
                };
            my $n = hex $1;
            while (length $c->{buf} < $n + 2) {
                if (!fill($c, $deadline)) {
                    $res{error} = 'closed in a chunk';
                    return \%res;
                }
            }
            if ($n == 0) {
                # no trailers from nginx: the final CRLF
                substr($c->{buf}, 0, 2) eq "\r\n"
                    or $res{bad} //= 'bad last chunk';
                substr($c->{buf}, 0, 2) = '';
                return \%res;
            }
            $res{body} .= substr $c->{buf}, 0, $n;
            substr($c->{buf}, $n, 2) eq "\r\n"
                or $res{bad} //= 'chunk without its CRLF';
            substr($c->{buf}, 0, $n + 2) = '';
        }
    }

    if (defined $cl) {
        if ($cl !~ /^[0-9]{1,12}$/) {
            $res{bad} = "bad Content-Length \"$cl\"";
            $res{error} = 'unparsable response';
            return \%res;
        }
        while (length $c->{buf} < $cl) {
            if (!fill($c, $deadline)) {
                $res{error} = 'closed in the body ('
                              . length($c->{buf}) . " of $cl bytes)";
                return \%res;
            }
        }
        $res{body} = substr $c->{buf}, 0, $cl;
        substr($c->{buf}, 0, $cl) = '';
        return \%res;
    }

    # neither: the body runs to the close
    1 while fill($c, $deadline);
    $res{body} = $c->{buf};
    $c->{buf} = '';
    $res{bad} //= 'a body delimited by the close without "Connection: close"'
        if lc($h->{connection} // '') ne 'close';
    return \%res;
}

# run_case(CASE) -> { HID => result } for the requests of one case, sent
# on one connection as CASE->{mode} says:
#   once      the bytes, then the response
#   pipeline  all requests' bytes in one write, then each response in turn
#   trickle   the bytes one at a time, CASE->{delay} seconds apart
#   cut       the first CASE->{cut} bytes, then a FIN (half close: nginx
#             may still answer) or, with CASE->{rst}, a reset
#   abort     the whole request, then a reset at once: nginx finds the
#             client gone while the request waits (for Redis)
sub run_case {
    my $case = shift;
    my $mode = $case->{mode} // 'once';
    my $reqs = $case->{reqs};
    my %out;
    my $t0 = time;
    my $deadline = $t0 + $TIMEOUT;

    my $c = new_conn();
    if (!$c) {
        $out{$_->{hid}} = { error => "connect: $!" } for @$reqs;
        return \%out;
    }

    my $bytes = join '', map { $_->{bytes} } @$reqs;
    my $werr;

    if ($mode eq 'abort') {
        $werr = write_all($c, $bytes, $deadline);
        reset_close($c);
        $out{$_->{hid}} = { aborted => 1, error => $werr } for @$reqs;
        return \%out;
    }

    if ($mode eq 'cut') {
        $werr = write_all($c, substr($bytes, 0, $case->{cut}), $deadline);
        if ($case->{rst}) {
            reset_close($c);
            $out{$_->{hid}} = { aborted => 1 } for @$reqs;
            return \%out;
        }
        shutdown($c->{s}, SHUT_WR);
        # whatever comes (a 400, or nothing) within 3 s
        my $r = read_response($c, $reqs->[0]{method} // 'GET', time + 3, 0);
        close $c->{s};
        $r->{cut} = 1;
        $out{$_->{hid}} = $r for @$reqs;
        return \%out;
    }

    if ($mode eq 'trickle') {
        for my $i (0 .. length($bytes) - 1) {
            $werr = write_all($c, substr($bytes, $i, 1), $deadline + 60);
            last if $werr;
            sleep $case->{delay};
        }
        $deadline = time + $TIMEOUT;
    } else {
        $werr = write_all($c, $bytes, $deadline);
    }

    for my $r (@$reqs) {
        my $res = read_response($c, $r->{method} // 'GET', $deadline,
                                $r->{http09});
        $res->{write_error} = $werr if $werr;
        $res->{ms} = int((time - $t0) * 1000);
        $out{$r->{hid}} = $res;
        last if $res->{error};
        # nginx answered "Connection: close": what was pipelined after it
        # is rightly left unanswered
        if (lc($res->{h}{connection} // '') eq 'close') {
            $out{$_->{hid}} //= { skipped => 1 } for @$reqs;
            last;
        }
    }
    for my $r (@$reqs) {
        $out{$r->{hid}} //= { error => 'not answered: an earlier response '
                                       . 'on the connection failed' };
    }

    close $c->{s};
    return \%out;
}

# a string shown in a report: control and high bytes as \xHH, cut at MAX
sub printable {
    my ($s, $max) = @_;
    $s //= '';
    my $more = '';
    if (defined $max && length $s > $max) {
        $more = sprintf '...(%d bytes)', length $s;
        $s = substr $s, 0, $max;
    }
    $s =~ s/([^\x20-\x7e]|\\)/sprintf '\\x%02X', ord $1/ge;
    return $s . $more;
}

1;
