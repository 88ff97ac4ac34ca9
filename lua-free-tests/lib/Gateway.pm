package Gateway;

# A private gateway for the suites of lua-free-tests/metrics, keys and
# feed: its own Redis and nginx on free ports under a directory of build/,
# signed API requests, admission requests on new connections, the metrics
# parsed, PASS/FAIL lines.  Core Perl and t/RoomsTest.pm only.

use strict;
use warnings;

use Cwd ();
use FindBin ();
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/../../t";
use RoomsTest ();

our $ROOT = Cwd::abs_path("$FindBin::Bin/../..");
our $MODULE = $ENV{ROOMS_MODULE} // "$ROOT/build/ngx_http_rooms_module.so";
our $NGINX = -x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : 'nginx';
our $KEY = $RoomsTest::ACS_KEY;

$| = 1;

my ($npass, $nfail) = (0, 0);
my @cleanups;

sub pass { $npass++; print "PASS @_\n" }
sub fail { $nfail++; print "FAIL @_\n" }

# (prototypes: a match as the condition is in scalar context, so a failed
# one is false, not an empty list that shifts the message into its place)
sub ok ($@) {
    my ($cond, @what) = @_;
    $cond ? pass(@what) : fail(@what);
    return $cond;
}

# is(GOT, WANT, WHAT): equal as strings, both shown on failure
sub is ($$@) {
    my ($got, $want, @what) = @_;
    $got //= '(undef)';
    $want //= '(undef)';
    return ok(1, @what) if $got eq $want;
    return ok(0, @what, "(got \"$got\", want \"$want\")");
}

sub done {
    print "\n$npass passed, $nfail failed\n";
    return $nfail ? 1 : 0;
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1:0',
                                  ReuseAddr => 1) or die "free_port: $!\n";
    return $s->sockport;
}

# wait_until(SECONDS, CODE): CODE's true value, or undef at the deadline
sub wait_until {
    my ($secs, $code) = @_;
    my $end = time + $secs;
    while (1) {
        my $v = $code->();
        return $v if $v;
        return undef if time > $end;
        sleep 0.05;
    }
}

sub run { system(@_) == 0 }

#--------------------------------------------------------------------------
# Redis
#--------------------------------------------------------------------------

# new_redis(DIR, extra args): a Redis of its own, ->{port}
sub new_redis {
    my ($dir, @extra) = @_;
    make_path($dir);
    my $r = { dir => $dir, port => free_port(), extra => \@extra };
    $RoomsTest::REDIS_PORT = $r->{port};
    start_redis($r);
    push @cleanups, sub { stop_redis($r) };
    return $r;
}

sub start_redis {
    my $r = shift;
    run('redis-server', '--port', $r->{port}, '--bind', '127.0.0.1',
        '--daemonize', 'yes', '--dir', $r->{dir},
        '--pidfile', "$r->{dir}/redis.pid",
        '--logfile', "$r->{dir}/redis.log", '--save', '',
        @{ $r->{extra} }) or die "redis-server failed\n";
    wait_until(5, sub { eval { RoomsTest::redis('PING') } })
        or die "redis did not start\n";
}

# stops it, saving nothing but what AOF has
sub stop_redis {
    my $r = shift;
    system("redis-cli -p $r->{port} shutdown nosave >/dev/null 2>&1");
    wait_until(5, sub { !eval { RoomsTest::redis('PING') } });
}

#--------------------------------------------------------------------------
# nginx
#--------------------------------------------------------------------------

# the pids of a master's workers, sorted, as one string
sub workers {
    my $n = shift;
    my $master = nginx_pid($n) // return '';
    return join ' ', sort { $a <=> $b } split ' ', `pgrep -P $master`;
}

# new_nginx(DIR, HTTP_BODY, workers): nginx with the module, ->{port};
# "@PORT@" and "@DIR@" in the body are replaced
sub new_nginx {
    my ($dir, $body, $workers) = @_;
    remove_tree("$dir/logs");
    make_path("$dir/logs");
    my $n = { dir => $dir, port => free_port() };
    $body =~ s/\@PORT\@/$n->{port}/g;
    $body =~ s/\@DIR\@/$dir/g;
    my $temp = join '', map { "    ${_}_temp_path $dir/${_}_temp;\n" }
                        qw(client_body proxy fastcgi uwsgi scgi);
    open my $f, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!\n";
    print $f "load_module $MODULE;\npid $dir/nginx.pid;\n"
        . "worker_processes ${\ ($workers // 2)};\n"
        . "error_log $dir/logs/error.log info;\nevents {}\n"
        . "http {\n    access_log off;\n$temp$body\n}\n";
    close $f;
    $n->{conf} = "$dir/nginx.conf";
    {
        # ROOMS_NGINX_PRELOAD: a sanitizer's runtime, for nginx alone
        local $ENV{LD_PRELOAD} = $ENV{ROOMS_NGINX_PRELOAD}
            if $ENV{ROOMS_NGINX_PRELOAD};
        run($NGINX, '-p', $dir, '-c', $n->{conf}, '-e', "$dir/logs/error.log")
            or die "nginx did not start: see $dir/logs/error.log\n";
    }
    push @cleanups, sub { stop_nginx($n) };
    wait_until(5, sub { IO::Socket::INET->new("127.0.0.1:$n->{port}") })
        or die "nginx does not listen\n";
    return $n;
}

sub nginx_pid {
    my $n = shift;
    open my $f, '<', "$n->{dir}/nginx.pid" or return undef;
    my $pid = <$f>;
    chomp $pid if defined $pid;
    return $pid;
}

sub reload_nginx {
    my $n = shift;
    local $ENV{LD_PRELOAD} = $ENV{ROOMS_NGINX_PRELOAD}
        if $ENV{ROOMS_NGINX_PRELOAD};
    run($NGINX, '-p', $n->{dir}, '-c', $n->{conf}, '-e',
        "$n->{dir}/logs/error.log", '-s', 'reload');
}

sub stop_nginx {
    my $n = shift;
    my $pid = nginx_pid($n) or return;
    kill 'QUIT', $pid;
    wait_until(10, sub { !kill 0, $pid });
    kill 'KILL', $pid if kill 0, $pid;
    unlink "$n->{dir}/nginx.pid";
}

sub error_log {
    my $n = shift;
    open my $f, '<', "$n->{dir}/logs/error.log" or return '';
    local $/;
    return <$f>;
}

#--------------------------------------------------------------------------
# requests
#--------------------------------------------------------------------------

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);

# get(N, PATH, %headers) -> the response hash (a new connection each)
sub get {
    my ($n, $path, %h) = @_;
    return $http->request('GET', "http://127.0.0.1:$n->{port}$path",
                          { headers => \%h });
}

# admit(N, PATH, TOKEN) -> (status, deny reason)
sub admit {
    my ($n, $path, $token) = @_;
    my $res = get($n, $path,
                  defined $token ? (Authorization => "Bearer $token") : ());
    return wantarray ? ($res->{status}, $res->{headers}{'x-rooms-deny'} // '')
                     : $res->{status};
}

# api(N, METHOD, PATH_AND_QUERY, BODY, %opt) -> the response; signed with
# the suites' access key unless opt unsigned
sub api {
    my ($n, $method, $path, $body, %opt) = @_;
    my %h = $opt{unsigned} ? ()
          : RoomsTest::acs_sign($method, $path, $body,
                                host => "127.0.0.1:$n->{port}");
    $h{'Content-Type'} = 'application/json' if defined $body;
    return $http->request($method, "http://127.0.0.1:$n->{port}$path",
                          { headers => \%h,
                            defined $body ? (content => $body) : () });
}

# metrics(N) -> ({ 'name{labels}' => value }, text)
sub metrics {
    my $n = shift;
    my $res = get($n, '/metrics');
    my %m;
    for (split /\n/, $res->{content} // '') {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+(?:\{[^}]*\})?) (\S+)$/ or next;
        $m{$k} = $v;
    }
    return (\%m, $res->{content} // '');
}

# promtool check metrics on a text
sub promtool_ok {
    my ($text, $dir) = @_;
    open my $f, '>', "$dir/metrics.txt" or die;
    print $f $text;
    close $f;
    my $out = `promtool check metrics < $dir/metrics.txt 2>&1`;
    return ($? == 0, $out);
}

END {
    my $rc = $?;
    $_->() for reverse @cleanups;
    $? = $rc;
}

1;
