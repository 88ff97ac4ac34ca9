#!/usr/bin/perl
# Holds WebSocket sessions open on raw sockets and prints when each one is
# closed by the gateway, on the wall clock: the clock of the close latency
# in scripts/bench, out of the way of the Node.js driver's own work.
#
#   close-watch.pl PORT < requests      ("PATH?QUERY" a line)
#
# Prints "ready OK REFUSED" once every handshake is answered, then one
# "closed EPOCH" line per socket as it reaches EOF (at most 20 s), then
# "done".
use strict;
use warnings;
use IO::Socket::INET ();
use IO::Select ();
use Time::HiRes qw(time);

my $port = shift or die "usage: close-watch.pl PORT < requests\n";
my @req = grep { length } map { chomp; $_ } <STDIN>;
my (@open, $refused);

$| = 1;

for my $r (@req) {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!\n";
    syswrite $c, "GET $r HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        . "Sec-WebSocket-Version: 13\r\n\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        sysread($c, $head, 4096, length $head) or last;
    }
    if ($head =~ m{^HTTP/1\.1 101}) {
        push @open, $c;
    } else {
        $refused++;
        close $c;
    }
}

print "ready ", scalar(@open), " ", $refused // 0, "\n";

my $sel = IO::Select->new(@open);
my $end = time + 20;

while ($sel->count && time < $end) {
    for my $c ($sel->can_read(0.5)) {
        my $n = sysread($c, my $buf, 4096);
        next if $n;
        printf "closed %.6f\n", time;
        $sel->remove($c);
        close $c;
    }
}

print "done\n";
