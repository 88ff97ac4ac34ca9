package RoomsTest;

# Helpers shared by the t/ suites: ACS HMAC request signing, so that a
# "--- more_headers eval" section can sign the block's request.
# Perl core modules only.

use strict;
use warnings;

use Digest::SHA qw(sha256_base64 hmac_sha256_base64);
use MIME::Base64 qw(decode_base64);
use POSIX qw(strftime);
use Exporter 'import';

our @EXPORT = qw(acs_sign acs_headers $ACS_KEY $ACS_KEY2);

# the test access keys: 32 ASCII bytes each, base64
our $ACS_KEY  = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
our $ACS_KEY2 = 'c2Vjb25kLWtleS1mb3Itcm90YXRpb24tdGVzdHMtMDE=';

sub _pad { my $s = shift; $s .= '=' while length($s) % 4; $s }

# acs_sign(METHOD, PATH_AND_QUERY, BODY, %opt) -> hash of the four headers
#   opt: key (base64), host (default "localhost"), date (epoch seconds),
#        hash (override the content hash)
sub acs_sign {
    my ($method, $path, $body, %opt) = @_;
    $body = '' unless defined $body;

    my $key  = decode_base64($opt{key} // $ACS_KEY);
    my $host = $opt{host} // 'localhost';
    my $date = strftime('%a, %d %b %Y %H:%M:%S GMT',
                        gmtime($opt{date} // time));
    my $hash = $opt{hash} // _pad(sha256_base64($body));
    my $sts  = "$method\n$path\n$date;$host;$hash";
    my $sig  = _pad(hmac_sha256_base64($sts, $key));

    return (
        'x-ms-date'           => $date,
        'x-ms-content-sha256' => $hash,
        'Authorization'       => 'HMAC-SHA256 SignedHeaders=x-ms-date;host;'
                                 . "x-ms-content-sha256&Signature=$sig",
    );
}

# the same, as "Name: value" lines for a more_headers section
sub acs_headers {
    my %h = acs_sign(@_);
    return join '', map { "$_: $h{$_}\n" } sort keys %h;
}

1;
