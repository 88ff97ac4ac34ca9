package Hostile::Model;

# What the hostile suite expects to find in the logs, from the bytes it
# sent: where nginx 1.22 sees the query of a request line, which of its
# arguments are room tokens, the request line as it must be logged (those
# values replaced by "***", every other byte as sent), and how nginx's
# access log escapes it.  Also the parsing of the suite's access log and of
# nginx's error log lines.

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(query_span token_args masked_line log_escape log_unescape
                    parse_access parse_error_line LOCATIONS ADMISSION MASKED);

# the locations of nginx.conf.in: name -> the query arguments whose values
# the module masks there (README, rooms_token): access_token wherever
# rooms_admission is, whatever the token source, and NAME where the source
# is $arg_NAME; none elsewhere
use constant LOCATIONS => {
    media  => ['access_token'],        # default source, rooms_cache off, proxied
    cmedia => ['access_token'],        # default source, through rooms_cache
    pub    => ['access_token'],        # default source, rooms_roles
    targ   => ['access_token', 't'],   # rooms_token $arg_t
    ck     => ['access_token'],        # rooms_token $cookie_rt
    api    => [],
    none   => [],
};
use constant ADMISSION => { map { $_ => 1 } qw(media cmedia pub targ ck) };

# what the module masks in every request line of the http block, in its
# first phase: access_token, and the NAME of every "rooms_token $arg_NAME"
# of the configuration (t, of targ)
use constant MASKED => ['access_token', 't'];

# query_span(LINE [, WIDE]) -> (offset, length) of the query ($args) in a
# request line as nginx 1.22 parses it: the target starts after the method
# and its spaces and ends at the next space (ngx_http_parse_request_line
# refuses a space inside it); the query starts after its first "?" and ends
# with the target.  A "#" makes ngx_http_parse_complex_uri read the target
# again: the query then ends at the first "#" after the "?", and there is
# none at all when a "#" comes first.  WIDE ignores the "#": the query as a
# masker that does not parse fragments sees it, which masks a "#..." after
# a token with it (more than the token, nothing of the rest of the line).
# Empty list when there is none.
sub query_span {
    my ($line, $wide) = @_;
    return () unless $line =~ /^[A-Z_-]+ +/g;
    my $start = pos $line;
    my $end = index $line, ' ', $start;
    $end = length $line if $end < 0;
    my $q = index $line, '?', $start;
    return () if $q < 0 || $q >= $end;
    if (!$wide) {
        my $h = index $line, '#', $start;
        return () if $h >= 0 && $h < $q;
        $h = index $line, '#', $q;
        $end = $h if $h >= 0 && $h < $end;
    }
    return ($q + 1, $end - $q - 1);
}

# token_args(LINE, NAMES) -> [offset, length] of the value of every
# argument named one of NAMES, as ngx_http_arg() finds them: the name
# (any case) at the start of the query or after "&", then "=", the value
# up to the next "&".  Empty values are left out: they hold no secret.
sub token_args {
    my ($line, $names, $wide) = @_;
    my ($qoff, $qlen) = query_span($line, $wide);
    return [] unless defined $qoff && @$names;
    my $q = substr $line, $qoff, $qlen;
    my @out;
    my $pos = 0;
    for my $arg (split /&/, $q, -1) {
        for my $n (@$names) {
            if (length $arg > length $n
                && lc(substr $arg, 0, length $n) eq $n
                && substr($arg, length $n, 1) eq '=')
            {
                my $vlen = length($arg) - length($n) - 1;
                push @out, [$qoff + $pos + length($n) + 1, $vlen] if $vlen;
                last;
            }
        }
        $pos += length($arg) + 1;
    }
    return \@out;
}

# masked_line(LINE, NAMES [, WIDE]) -> the line with those values replaced
# by "***"
sub masked_line {
    my ($line, $names, $wide) = @_;
    my $out = $line;
    for my $r (reverse @{ token_args($line, $names, $wide) }) {
        substr($out, $r->[0], $r->[1]) = '***';
    }
    return $out;
}

# the escaping of ngx_http_log_escape(): control bytes, '"', '\' and
# bytes from 0x7f as \xHH (upper case); a variable with no value is "-"
sub log_escape {
    my $s = shift;
    return '-' if !defined $s || $s eq '';
    $s =~ s/([\x00-\x1f"\\\x7f-\xff])/sprintf '\\x%02X', ord $1/ge;
    return $s;
}

sub log_unescape {
    my $s = shift;
    return '' if $s eq '-';
    $s =~ s/\\x([0-9A-F]{2})/chr hex $1/ge;
    return $s;
}

# one line of the suite's access log (log_format hostile_* in
# nginx.conf.in): loc|connection|hid|status|deny|room|user|role|request
sub parse_access {
    my $l = shift;
    my @f = split /\|/, $l, 9;
    return undef unless @f == 9;
    my %a;
    @a{qw(loc conn hid status deny room user role request_esc)} = @f;
    $a{hid} = undef unless $a{hid} =~ /^[0-9]+$/;
    $a{$_} = log_unescape($a{$_}) for qw(deny room user role);
    $a{request} = log_unescape($a{request_esc});
    return \%a;
}

# one error.log line -> level, pid, message, the request line it names
# (raw: the error log does not escape) and whether nginx cut the line at
# NGX_MAX_ERROR_STR (2048 bytes), the upstream URI, the hid
sub parse_error_line {
    my $l = shift;
    my %e = (line => $l);
    @e{qw(level pid conn)} = $l =~ /^\S+ \S+ \[(\w+)\] (\d+)#\d+: (?:\*(\d+) )?/;
    $e{level} //= '';
    my $i = index $l, ', request: "';
    if ($i >= 0) {
        my $rest = substr $l, $i + 12;
        if ($rest =~ /^(.*?)"(?:, upstream: "([^"]*)"?)?(?:, host: "[^"]*"?)?(?:, referrer: ".*)?$/s) {
            # (nginx may have cut the line in one of the later fields)
            $e{request} = $1;
            $e{upstream} = $2;
        } elsif ($rest =~ /^(.*)",(?: (?:[a-z]+(?::(?: "[^"]*)?)?)?)?$/s) {
            # cut at the start of a later field ('",', '", h')
            $e{request} = $1;
        } else {
            # cut off by nginx before the closing quote
            $e{request} = $rest;
            $e{cut} = 1;
        }
        ($e{hid}) = $e{request} =~ /[?&]hid=([0-9]+)[& ]/;
        $e{message} = substr $l, 0, $i;
    } else {
        $e{message} = $l;
        ($e{upstream}) = $l =~ /, upstream: "(.*?)"/;
    }
    # logged while nginx was still reading the request: before any
    # module could run
    $e{early} = 1
        if $e{message} =~ /while reading client (?:pipelined )?request (?:line|headers)/;
    return \%e;
}

1;
