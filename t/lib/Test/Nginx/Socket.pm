package Test::Nginx::Socket;

# A small, core-Perl-only stand-in for the CPAN Test::Nginx::Socket
# (openresty/test-nginx, v0.29 era), used only when the real module is not
# installed: t/*.t must run unmodified under both.  It implements a faithful
# SUBSET of the real thing: the Test::Base data format (blocks, sections,
# filters), the nginx.conf layout, the nginx start/stop cycle, the raw-socket
# HTTP/1.x client and the usual checks, with the same test names and the same
# number of subtests per block, so `plan tests => N` means the same here.
# What is not supported makes the block fail loudly instead of passing.
#
# Written from the documented behaviour of the real module; see the POD at the
# end of this file for the supported subset and the known deviations.

use strict;
use warnings;
use v5.10.1;

use lib 'lib';    # the real module adds these two as well
use lib 'inc';

use Carp qw(croak carp cluck confess);
use Test::More ();
use Cwd ();
use File::Spec ();
use File::Path qw(make_path remove_tree);
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle min max);
use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG EAGAIN EWOULDBLOCK);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);
use Digest::MD5 ();
use Digest::SHA ();

our $VERSION = '0.29_01';    # "0.29 compatible subset"

# forward declarations (prototyped subs used before their definition)
sub gen_rand_port (;$$);
sub send_request ($$$$;$);
sub value_contains ($$);

#--------------------------------------------------------------------------
# Settings (same names, defaults and environment variables as Util.pm)
#--------------------------------------------------------------------------

our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers           = 1;
our $WorkerConnections = 64;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled     = 'on';
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $NoRootLocation    = 0;
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $RepeatEach        = 1;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoNginxManager    = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                        ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput    = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $ReusePort         = $ENV{TEST_NGINX_REUSE_PORT};
our $Randomize         = $ENV{TEST_NGINX_RANDOMIZE};
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $NoLongString;
our $ConfigPreamble    = '';
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @ResponseBodyChecks);

our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock, $ChildPid, $ValgrindLog, $ErrLogFilePos);
our $TotalConnectingTimeouts = 0;

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

# Test modes of the real module that this subset does not implement.
for my $env (qw(TEST_NGINX_USE_HUP TEST_NGINX_USE_STAP TEST_NGINX_CHECK_LEAK
                TEST_NGINX_BENCHMARK TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3
                TEST_NGINX_USE_RR))
{
    warn "WARNING: $env is not supported by the fallback Test::Nginx::Socket"
         . " (t/lib); ignored.\n" if $ENV{$env};
}

# Under valgrind nginx runs in the foreground as our child (like the real one).
$DaemonEnabled = 'off' if $UseValgrind;

srand $$;

our $ServRoot;
if ($Randomize) {
    $ServerPort = gen_rand_port(1000)
        or die "Cannot find an available listening port number.\n";
    $ServerPortForClient = $ServerPort;
    $ServRoot = File::Spec->rel2abs("t/servroot_$ServerPort");
} else {
    $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
}
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

#--------------------------------------------------------------------------
# Exports: Test::Nginx::Socket's own list plus what Test::Base re-exports
# (a part of Test::More, and its block functions).  Note: no `note`,
# `done_testing` or `subtest` -- the real module does not export them either.
#--------------------------------------------------------------------------

our @EXPORT = (qw(
    env_to_nginx is_str plan run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler add_response_body_check
), qw(
    ok isnt like unlike is_deeply cmp_ok skip todo_skip pass fail
    eq_array eq_hash eq_set can_ok isa_ok diag $TODO is
    blocks next_block first_block delimiters spec_file spec_string
    filters filters_delay filter_arguments run
    croak carp cluck confess
));

# Test::More functions re-exported as they are.
BEGIN {
    no strict 'refs';
    for my $f (qw(ok isnt like unlike is_deeply cmp_ok skip todo_skip pass fail
                  eq_array eq_hash eq_set can_ok isa_ok diag is plan))
    {
        *{"Test::Nginx::Socket::$f"} = \&{"Test::More::$f"};
    }
}

# `use Test::Nginx::Socket 'no_plan';`, `... tests => 3;`, `... skip_all => ..`
# or, to write a subclass (t::MyTester), `use Test::Nginx::Socket -Base;`.
# Like Test::Base, it also turns on strict and warnings in the caller.
sub import {
    my ($class, @args) = @_;
    my $caller = caller;

    if (grep { /^-base$/i } @args) {
        no strict 'refs';
        push @{"${caller}::ISA"}, $class unless $caller->isa($class);
        _export_to($caller, $class);
    } else {
        _export_to($caller, $class);
        Test::More::plan(@args) if @args;
    }

    strict->import;
    warnings->import;
}

sub _export_to {
    my ($target, $class) = @_;
    no strict 'refs';
    my %seen;
    for my $pkg ($class, __PACKAGE__) {
        for my $sym (@{"${pkg}::EXPORT"}) {
            next if $seen{$sym}++;
            if ($sym eq '$TODO') {
                *{"${target}::TODO"} = \$Test::More::TODO;
            } elsif ($sym =~ /^\$(\w+)$/) {
                *{"${target}::$1"} = \${"${pkg}::$1"};
            } elsif (my $code = $class->can($sym) || __PACKAGE__->can($sym)) {
                *{"${target}::$sym"} = $code;
            }
        }
    }
}

# Aliases so that `$Test::Nginx::Util::ServerPort`, `Test::Nginx::Util::html_dir()`
# etc. (which suites sometimes use) work, and so that `--- init` code, which
# the real module evaluates in package Test::Nginx::Util, sees the same names.
{
    no strict 'refs';
    for my $v (qw(ServerPort ServerPortForClient ServerAddr ServerName ServRoot
                  HtmlDir LogDir ErrLogFile AccLogFile ConfFile PidFile
                  RepeatEach NginxBinary NginxVersion LogLevel NoLongString
                  UseValgrind Verbose ChildPid))
    {
        *{"Test::Nginx::Util::$v"} = \${"Test::Nginx::Socket::$v"};
    }
    for my $f (qw(html_dir server_root server_port server_port_for_client
                  server_addr server_name timeout repeat_each workers log_level
                  bail_out sleep_time verbose is_running parse_time
                  error_log_data access_log_data get_pid_from_pidfile
                  gen_rand_port is_str add_cleanup_handler trim
                  get_nginx_version get_canon_version))
    {
        *{"Test::Nginx::Util::$f"} = \&{"Test::Nginx::Socket::$f"};
    }
}

#--------------------------------------------------------------------------
# Configuration functions called from the .t files
#--------------------------------------------------------------------------

sub _getset { my ($ref, @v) = @_; if (@v) { $$ref = $v[0]; return } $$ref }

sub server_port (@)            { _getset(\$ServerPort, @_) }
sub server_port_for_client (@) { _getset(\$ServerPortForClient, @_) }
sub server_addr (@)            { _getset(\$ServerAddr, @_) }
sub server_name (@)            { _getset(\$ServerName, @_) }
sub timeout (@)                { @_ ? ($Timeout = shift) : $Timeout }
sub worker_connections (@)     { _getset(\$WorkerConnections, @_) }
sub workers (@)                { _getset(\$Workers, @_) }
sub log_level (@)              { _getset(\$LogLevel, @_) }
sub repeat_each (@)            { $RepeatEach = shift if @_; $RepeatEach }
sub master_on ()               { $MasterProcessEnabled = 'on' }
sub master_off ()              { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    if (@_) { $MasterProcessEnabled = shift() ? 'on' : 'off'; return }
    $MasterProcessEnabled;
}
sub no_shuffle ()              { $NoShuffle = 1 }
sub no_root_location ()        { $NoRootLocation = 1 }
sub no_long_string ()          { $NoLongString = 1 }
sub no_nginx_manager ()        { $NoNginxManager = 1 }
sub check_accum_error_log ()   { $CheckAccumErrLog = 1 }
sub config_preamble ($)        { $ConfigPreamble = shift }
sub html_dir ()                { $HtmlDir }
sub server_root ()             { $ServRoot }
sub sleep_time                 { $TestNginxSleep }
sub verbose                    { $Verbose }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub use_hup () {
    warn "WARNING: use_hup() is not supported by the fallback "
         . "Test::Nginx::Socket; nginx is restarted instead.\n";
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# String comparison honouring regex "expected" values (like the real is_str;
# the real one uses Test::LongString unless no_long_string(), which only
# changes the failure diagnostics).
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc);
}

#--------------------------------------------------------------------------
# Small helpers
#--------------------------------------------------------------------------

# "50ms" => 0.05, "2s" => 2, "1.5" => 1.5
sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) { $tm = $tm / 1000 }
        else { $tm =~ s/([^_a-zA-Z])s$/$1/ }
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    $s;
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    $str;
}

# A process counts as running unless it is gone or a zombie: daemonized nginx
# processes are not our children and may never be reaped (e.g. in containers).
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        return 0 if $stat =~ /^\d+ \(.*\) [ZX]/s;
    }
    return 1;
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries //= 1000;
    $used //= {};
    for (1 .. $tries) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
            LocalPort => $port, Proto => 'tcp', ReuseAddr => 1);
        if ($sock) { close $sock; return $port }
    }
    return undef;
}

sub can_run {
    my $cmd = shift;
    return (-f $cmd && -x $cmd ? $cmd : undef) if $cmd =~ m{/};
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }
    return undef;
}

sub get_canon_version (@) { sprintf "%d.%03d%03d", $_[0], $_[1], $_[2] }

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx in PATH: "
                 . ($out // ''));
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version($1, $2, $3)
            . (defined $4 ? sprintf("%03d", ord($4) - ord('a')) : '');
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> } // '';
    chomp $pid;
    return $pid;
}

# $TEST_NGINX_FOO in config sections => $ENV{TEST_NGINX_FOO};
# $TEST_NGINX_RAND_PORT_N => a free port (the same one within a block).
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            $rand_ports->{$var} //= do {
                my $p = gen_rand_port(1000, \%used)
                    // bail_out("$name - Cannot find an available listening port number for $var.\n");
                $used{$p} = 1;
                $p;
            };
        } else {
            defined $ENV{$var} or bail_out("$name - No environment $var defined."
                . ($var eq 'TEST_NGINX_HTML_DIR'
                   ? " (Test::Nginx does not set it: add"
                     . " \$ENV{TEST_NGINX_HTML_DIR} = html_dir(); to the .t file)"
                   : '') . "\n");
            $ENV{$var};
        }
    }eg;
    return $text;
}

#--------------------------------------------------------------------------
# Test::Base emulation: the __DATA__ spec, blocks, sections and filters
#--------------------------------------------------------------------------

our ($SpecString, $SpecFile, $BlockList, $FiltersDelay, @NextList);
our ($BlockDelim, $DataDelim) = ('===', '---');
our @DefaultFilters = qw(norm trim);
our %FilterMap;

sub delimiters {
    croak "Too late to call delimiters()" if $BlockList;
    ($BlockDelim, $DataDelim) = ($_[0] || '===', $_[1] || '---');
}
sub spec_file   { croak "Too late to call spec_file()" if $BlockList; $SpecFile = shift }
sub spec_string { croak "Too late to call spec_string()" if $BlockList; $SpecString = shift }
sub filters_delay { $FiltersDelay = defined $_[0] ? shift : 1 }
sub filter_arguments { $Test::Nginx::Socket::Filter::Arguments }

sub filters {
    if (ref $_[0] eq 'HASH') { %FilterMap = %{ shift() } }
    else { push @DefaultFilters, @_ }
}

# All blocks of the spec (parsed once); ONLY / SKIP / LAST honoured.
sub _block_list {
    return $BlockList if $BlockList;
    my $spec;
    if (defined $SpecString) {
        $spec = $SpecString;
    } elsif (defined $SpecFile) {
        open my $fh, '<', $SpecFile or die "$SpecFile: $!";
        $spec = do { local $/; <$fh> };
    } else {
        no warnings;
        local $/;
        $spec = readline(*main::DATA) // '';
    }

    my @hunks = ($spec =~ /^(\Q$BlockDelim\E.*?(?=^\Q$BlockDelim\E|\z))/msg);
    my @blocks;
    for my $hunk (@hunks) {
        my $block = _make_block($hunk);
        if (exists $block->{ONLY}) {
            warn "I found ONLY: maybe you're debugging?\n";
            @blocks = ($block);
            last;
        }
        next if exists $block->{SKIP};
        push @blocks, $block;
        last if exists $block->{LAST};
    }
    my $seq = 1;
    $_->{_seq_num} = $seq++ for @blocks;
    return $BlockList = \@blocks;
}

my %Reserved = map { $_ => 1 } qw(new DESTROY AUTOLOAD name description
    set_value run_filters seq_num is_filtered blocks_object original_values
    block_accessor can isa);

# One "=== TEST n: title" hunk => block object.  Section header lines are
# "--- name [filters]" (value on the following lines) or "--- name: value".
sub _make_block {
    my $hunk = shift;
    my $block = Test::Nginx::Socket::Block->new;
    $hunk =~ s/\A\Q$BlockDelim\E[ \t]*(.*)\s+// or die "bad block: $hunk";
    my $name = $1;
    my @parts = split /^\Q$DataDelim\E +\(?(\w+)\)? *(.*)?\n/m, $hunk;
    my $description = shift(@parts) // '';
    $description = $name unless $description =~ /\S/;
    $description =~ s/\s*\z//;
    $block->set_value(description => $description);

    while (@parts) {
        my ($type, $filters, $value) = splice @parts, 0, 3;
        croak "'$type' is a reserved name. Use something else.\n"
            if $Reserved{$type} || $type =~ /^_/;
        $value   //= '';
        $filters //= '';
        if ($filters =~ /:(\s|\z)/) {    # one-liner "--- name [filters]: value"
            croak "Extra lines not allowed in '$type' section" if $value =~ /\S/;
            ($filters, $value) = split /\s*:(?:\s+|\z)/, $filters, 2;
            $value //= '';
            $value =~ s/^\s*(.*?)\s*$/$1/;
        }
        $block->{_filters}{$type} = $filters;
        push @{ $block->{_section_order} }, $type;
        $block->set_value($type, $value);
    }
    $block->set_value(name => $name);
    return $block;
}

# blocks([section]): the block objects (filters applied) in list context,
# their number in scalar context -- as in Test::Base.
sub blocks {
    my $section = shift;
    croak sprintf("'%s' is invalid argument to blocks()", $section)
        if defined $section && $section !~ /^[a-zA-Z]\w*$/;
    my @blocks = @{ _block_list() };
    @blocks = grep { exists $_->{$section} } @blocks if $section;
    return scalar(@blocks) unless wantarray;
    return @blocks if $FiltersDelay;
    $_->run_filters for grep { !$_->is_filtered } @blocks;
    return @blocks;
}

sub next_block {
    @NextList = (@{ _block_list() }, undef) unless @NextList;
    my $block = shift @NextList;
    $block->run_filters if $block && !$block->is_filtered;
    return $block;
}

sub first_block { @NextList = (); next_block() }

sub run (&;$) {
    my $cb = shift;
    for my $block (@{ _block_list() }) {
        $block->run_filters unless $block->is_filtered;
        $cb->($block);
    }
}

#--------------------------------------------------------------------------
# Locating and running nginx
#--------------------------------------------------------------------------

sub setup_server_root () {
    if (-d $ServRoot) {
        # Like the real one: remove only what we create, so a mis-set
        # TEST_NGINX_SERVROOT cannot wipe real data.
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_cache"),
                    glob("$ServRoot/*_temp"));
        rmdir $ServRoot or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!\n");
    }
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

# --- user_files: ">>> name [touch -t date]" lines followed by the content,
# or an eval'ed array of [name, content, date].
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body // '', $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("Failed to touch $path with date $date\n");
        }
    }
}

# nginx.conf, with the same layout as the real Test::Nginx::Util.
sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name, $rand_ports) // '';
    my $main_config = $block->main_config // '';
    $config //= '';

    my $postpone = $PostponeOutput;
    undef $postpone if $http_config =~ /\bpostpone_output\b/;
    my $extra_http_config = '';
    if (defined $postpone) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $postpone\n")
            if $postpone !~ /^\d+$/;
        $extra_http_config = "\n    postpone_output $postpone;\n";
    }

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ } split /\s+/, $LoadModules;
        $main_config .= join ' ', @modules;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);
    my $post_main_config =
        expand_env_in_text($block->post_main_config, $name, $rand_ports) // '';

    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name = $block->server_name // $ServerName;
    my $listen_opts = $ReusePort ? ' reuseport' : '';

    my $env = join '', map { my $v = $_; $v = "'$v'" if $v =~ /\s/; "env $v;\n" }
                       @EnvToNginx;

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n" : '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
${env}#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile;
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
$extra_http_config}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
${events_use}}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

# Stop a process: QUIT, wait up to timeout(), then TERM repeatedly, then KILL.
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return unless $pid;
    if ($wait) {
        warn "sending QUIT signal to $pid\n" if $Verbose;
        kill SIGQUIT, $pid;
        my $left = timeout();
        while ($left > 0 && is_running($pid)) {
            waitpid($pid, WNOHANG);
            sleep 0.05;
            $left -= 0.05;
        }
    }
    my $step = $TestNginxSleep;
    for (1 .. 20) {
        waitpid($pid, WNOHANG);
        return unless is_running($pid);
        warn "WARNING: killing the child process $pid.\n" if $Verbose;
        kill SIGTERM, $pid;
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        sleep $step;
    }
    warn "$name - WARNING: killing the child process $pid with force...";
    kill SIGKILL, (getpgrp($pid) == $pid ? -$pid : $pid);
    waitpid($pid, 0) if $ChildPid && $pid == $ChildPid;
}

# Stop the nginx of the previous block (if any); wait for its pid file to go.
sub stop_nginx ($) {
    my $name = shift;
    if ($ChildPid) {
        # valgrind mode: nginx is our child, in the foreground; give valgrind
        # time for its leak report after nginx exits.
        kill SIGQUIT, $ChildPid;
        my $deadline = time + max(timeout(), 30);
        while (time < $deadline && waitpid($ChildPid, WNOHANG) == 0) { sleep 0.05 }
        if (waitpid($ChildPid, WNOHANG) == 0) {
            warn "$name - WARNING: killing the child process $ChildPid with force...";
            kill SIGKILL, -$ChildPid;
            waitpid($ChildPid, 0);
        }
        undef $ChildPid;
        report_valgrind($name);
    } elsif (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        kill_process($pid, 1, $name) if $pid && is_running($pid);
    }
    for (1 .. 20) { last unless -f $PidFile; sleep 0.01 }
    unlink $PidFile if -f $PidFile;    # stale (process killed or gone)
}

# Under TEST_NGINX_USE_VALGRIND, valgrind's stderr is captured in a temp file;
# echo it (the real one just lets it through) and fail if it reported errors.
sub report_valgrind ($) {
    my $name = shift;
    return unless $ValgrindLog;
    my $file = $ValgrindLog;
    undef $ValgrindLog;
    open my $in, '<', $file or return;
    my $out = do { local $/; <$in> } // '';
    close $in;
    unlink $file;
    return if $out eq '';
    print STDERR $out;
    Test::More::fail("$name - valgrind reported errors (see above)")
        if $out =~ /^==\d+==/m;
}

sub start_nginx ($$) {
    my ($block, $must_die) = @_;
    my $name = $block->name;

    can_run($NginxBinary)
        or bail_out("$name - Cannot find the nginx executable in the PATH environment");
    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile > /dev/null";

    if ($UseValgrind && !defined $must_die) {
        my $supp = (grep { -f $_ } 'valgrind.suppress', 't/valgrind.suppress')[0];
        $supp = $supp ? "--suppressions=$supp " : '';
        if ($UseValgrind =~ /^\d+$/) {
            $cmd = "valgrind --num-callers=100 -q --tool=memcheck --leak-check=full"
                 . " --show-possibly-lost=no --gen-suppressions=all $supp$cmd";
        } else {
            $cmd = "valgrind -q $UseValgrind $supp$cmd";
        }
        warn "$name\n";
        (undef, $ValgrindLog) = File::Temp::tempfile('valgrind-XXXXXX',
            TMPDIR => 1, SUFFIX => '.log');
        my $pid = fork();
        bail_out("$name - fork() failed: $!") unless defined $pid;
        if ($pid == 0) {
            setpgrp;
            open STDERR, '>', $ValgrindLog or POSIX::_exit(1);
            exec "exec $cmd" or POSIX::_exit(1);
        }
        $ChildPid = $pid;
        sleep $TestNginxSleep;
        return 0;
    }

    my $waited = 0;
    for (my $i = 1; ; $i++) {
        warn "starting nginx: $cmd\n" if $Verbose;
        system($cmd);
        my $status = $?;
        return $status if defined $must_die;    # caller checks the status
        return 0 if $status == 0;

        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
            and my $directive = check_if_missing_directives())
        {
            return "the lack of directive $directive";
        }
        # The port may still be in use by a dying nginx: retry for a while.
        my $delay = min(0.1 * $i, 1);
        sleep $delay;
        $waited += $delay;
        next if $waited < 30;
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).");
    }
}

sub check_if_missing_directives () {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        return $1 if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
    }
    return 0;
}

#--------------------------------------------------------------------------
# The main loop
#--------------------------------------------------------------------------

our $RunTestHelper = \&run_test_helper;    # (hooks, as in the real module)
our $CheckErrorLog = \&check_error_log;
our $CheckShutdownErrorLog = \&check_shutdown_error_log;

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    for my $block ($NoShuffle ? blocks() : shuffle blocks()) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value("name", "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }
    cleanup();
}

# Sections of the real module that this subset cannot honour.
our @UnsupportedSections = qw(tcp_listen udp_listen stap http2 http3);

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock or return;
    if (defined $block->shutdown_error_log) {
        $CheckShutdownErrorLog->($block, $ENV{TEST_NGINX_NO_CLEAN} ? 1 : undef);
    }
}

# Evaluate skip_* / todo sections: ($should_skip, $tests, $skip_reason,
# $should_todo, $todo_reason).
sub _skip_and_todo ($) {
    my $block = shift;
    my $name = $block->name;
    my ($should_skip, $tests, $reason, $should_todo, $todo_reason);

    my $ver_cmp = sub {    # "op x.y.z" against the nginx version
        my ($op, @v) = @_;
        return (!defined $NginxVersion && $op =~ /^</)
            || (defined $NginxVersion && eval "$NginxVersion $op " . get_canon_version(@v));
    };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($tests, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $should_skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
        }
    }
    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $tests = $1;
        $reason = $6 || "nginx version $2 $3.$4.$5";
        $should_skip = 1 if $ver_cmp->($2, $3, $4, $5);
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)\s*
                   ([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $tests = $1;
        $reason = $11;
        my ($x, $y) = ($ver_cmp->($2, $3, $4, $5), $ver_cmp->($7, $8, $9, $10));
        $should_skip = 1 if !defined $NginxVersion
                         || ($6 eq 'or' ? ($x || $y) : ($x && $y));
    }
    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $tests = $1;
        my ($op, $ver) = ($2, get_canon_version($3, $4, $5)
                          . (defined $6 ? sprintf("%03d", ord($6) - ord('a')) : ''));
        $reason = $7 || (defined $OpenSSLVersion
                         ? "OpenSSL version $op $3.$4.$5" . ($6 // '')
                         : "Not built with OpenSSL");
        $should_skip = 1 if !defined $OpenSSLVersion || eval "$OpenSSLVersion $op $ver";
    }
    if (defined(my $spec = $block->todo_nginx)) {
        $spec =~ /^\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- todo_nginx spec: $spec");
        $todo_reason = $5;
        $should_todo = 1 if $ver_cmp->($1, $2, $3, $4);
    }
    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        ($should_todo, $tests, $todo_reason) = (1, $1, $2);
    }
    return ($should_skip, $tests, $reason // 'various reasons',
            $should_todo, $todo_reason // 'various reasons');
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;
    my $name = $block->name;

    for my $s (@UnsupportedSections) {
        next unless defined $block->$s;
        Test::More::fail("$name - section '--- $s' is not supported by the"
            . " fallback Test::Nginx::Socket (t/lib); install the real Test::Nginx");
        return;
    }

    my $rand_ports = {};
    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    my $must_die = $block->must_die;
    local $UseValgrind = defined $must_die ? undef : $UseValgrind;
    local $DaemonEnabled = defined $must_die ? 'on' : $DaemonEnabled;

    # Restart nginx unless the block has no config (then the previous
    # block's nginx is reused) or the config is unchanged and
    # TEST_NGINX_FORCE_RESTART_ON_TEST=0.
    my $should_restart = 0;
    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could not get"
                 . " previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?")
            if !$NoNginxManager && !defined $PrevConfig;
    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
    } else {
        $should_restart = 1
            if !defined $PrevConfig || $config ne $PrevConfig || $ForceRestartOnTest;
    }

    my ($should_skip, $tests_to_skip, $skip_reason, $should_todo, $todo_reason)
        = _skip_and_todo($block);
    my $dry_run = 0;

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = $config;
        stop_nginx($name);
        check_prev_block_shutdown_error_log();

        setup_server_root();
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);
        $ErrLogFilePos = 0;

        my $status = start_nginx($block, $must_die);
        if (defined $must_die) {
            for my $i (0 .. $RepeatEach - 1) {
                my $exit_code = $status >> 8;
                if ($status == -1) {
                    Test::More::fail("$name - failed to execute the nginx command line");
                } elsif ($status & 128) {
                    Test::More::fail("$name - nginx core dumped");
                } elsif (looks_like_number($must_die)) {
                    Test::More::is($must_die, $exit_code,
                                   "$name - die with the expected exit code");
                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }
                $CheckErrorLog->($block, undef, $dry_run, $i, 0);
                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; "
                         . "killing it (req $i)\n";
                    for (1 .. 15) { last if -f $PidFile; sleep $TestNginxSleep }
                    stop_nginx($name);
                }
                last if $i == $RepeatEach - 1;
                $status = start_nginx($block, $must_die);
            }
            return;
        }
        $dry_run = $status if $status;    # missing directive (if allowed)
        sleep $TestNginxSleep;
    }

    if (my $init = $block->init) {
        Test::Nginx::Util::_eval_init($init);
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;
        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }
        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total_errlog) {
            print $out "\n=== $0 $name\n";
            open my $in, '<', $ErrLogFile;
            print $out $_ while <$in>;
        }
    }

    # Under valgrind nginx is stopped after every block, so its leak report
    # belongs to this block.
    stop_nginx($name) if $UseValgrind;
}

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        kill_process($ChildPid, 1, "cleanup");
        waitpid($ChildPid, 0);
        undef $ChildPid;
    }
}

END {
    local $?;    # do not disturb Test::Builder's exit code
    cleanup();
    if (($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) && defined $PidFile
        && -f $PidFile)
    {
        my $pid = get_pid_from_pidfile('END');
        if (is_running($pid)) { kill_process($pid, 1, "END") }
        else                  { unlink $PidFile }
    }
    report_valgrind($PrevBlock ? $PrevBlock->name : 'END');
    check_prev_block_shutdown_error_log();
    if ($Randomize && defined $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

#--------------------------------------------------------------------------
# Building requests
#--------------------------------------------------------------------------

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('', 0);
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Turn "METH [URI [VERSION]]\nbody" (possibly split into packets) into a full
# HTTP request: Host, Connection and Content-Length headers are added, the
# body is stripped of surrounding whitespace (only when Content-Length is
# computed), the packet boundaries are kept as far as possible.
sub build_request {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;
    my $req = join '', @$packets;
    $req =~ /\A(\s*)(\S+) *(?:(\S+) *)?(?:(\S+) *)?[ \t]*(?:\r?\n|\z)/
        or bail_out("$name - Request line is not valid. Should be 'meth [url "
                    . "[version]]' but got \"$req\".");
    my ($skipped, $meth, $url, $ver, $line_len) = (length $1, $2, $3, $4, length $&);
    $url //= '/';
    $ver //= 'HTTP/1.1';
    my $content = substr $req, $line_len;

    my $len_header = '';
    my $body_skip = 0;    # leading body chars removed by the whitespace strip
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $body_skip = length($1) if $content =~ /^(\s+)/;
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }
    $more_headers =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n" if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    my $head = "$meth $url $ver\r\n$headers";
    my $full = $head . $content;
    return [$full] if @$packets <= 1;

    # Map the original packet boundaries onto the new request: inside the
    # request line they stay put, inside the body they keep their offset
    # from the start of the body.
    my ($pos, $prev, @out) = (0, 0);
    for my $p (@$packets[0 .. $#$packets - 1]) {
        $pos += length $p;
        my $cut = $pos >= $line_len
            ? length($head) + max(0, $pos - $line_len - $body_skip)
            : min(max(0, $pos - $skipped), length "$meth $url $ver");
        $cut = min(max($cut, $prev), length $full);
        push @out, substr($full, $prev, $cut - $prev);
        $prev = $cut;
    }
    push @out, substr($full, $prev);
    return \@out;
}

# => [ [ {value => ..., delay_before => ...}, ... ] per connection ]
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { ref $_ ? $_ : { value => $_ } } ref $raw eq 'ARRAY' ? @$raw : ($raw) ]];
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;   # leading comments
        }
    }
    bail_out("$name - request empty") unless defined $request
                                            || $block->pipelined_requests;

    my $more = $block->more_headers // '';
    my $hdr_for = sub {
        my $i = shift;
        return parse_more_headers($more) unless ref $more eq 'ARRAY';
        defined $more->[$i] or bail_out("--- more_headers lacks data for the ${i}th request");
        return parse_more_headers($more->[$i]);
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            if ref $reqs ne 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $all .= build_request($name, $hdr_for->($i), $conn, [$reqs->[$i]])->[0];
        }
        return [[{ value => $all }]];
    }

    my $one = sub {
        my ($req, $i) = @_;
        return [{ value => build_request($name, $hdr_for->($i), 'close', [$req])->[0] }]
            unless ref $req;
        bail_out("$name - Invalid syntax. $req should be a string or an array of packets.")
            if ref $req ne 'ARRAY';
        my @packets = map {
            !ref $_ ? $_ : ref $_ eq 'HASH' ? $_->{value}
            : bail_out("$name - Invalid syntax. $_ should be a string or hash with value.")
        } @$req;
        my $out = build_request($name, $hdr_for->($i), 'close', \@packets);
        return [ map { +{ %{ ref $req->[$_] ? $req->[$_] : {} }, value => $out->[$_] } }
                 0 .. $#$out ];
    };

    return [ $one->($request, 0) ] unless ref $request;
    bail_out("$name - invalid ---request : MUST be string or array of requests")
        if ref $request ne 'ARRAY';
    return [ map { $one->($request->[$_], $_) } 0 .. $#$request ];
}

#--------------------------------------------------------------------------
# Talking to nginx
#--------------------------------------------------------------------------

# Send one request (a list of packets) on a new connection and read the
# response until the server closes it.  `timeout` bounds the wait between two
# I/O events; on expiry the socket is closed and, unless --- abort, the test
# fails with "ERROR: client socket timed out - NAME".
sub send_request ($$$$;$) {
    my ($req, $middle_delay, $timeout, $block, $tries) = @_;
    my $name = $block->name;
    my @bits = @$req;
    my $head_req = (join '', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock = IO::Socket::INET->new(PeerAddr => $addr,
        PeerPort => $ServerPortForClient, Proto => 'tcp', Timeout => $timeout);

    if (!$sock) {
        my $err = $!;
        $tries ||= 1;
        my $total = $TotalConnectingTimeouts ? 20 : 50;
        if ($tries <= $total) {
            my $wait = min(1, (sleep_time() + sleep_time() * $tries) * $tries / 2);
            if (defined $ChildPid && waitpid($ChildPid, WNOHANG) != 0) {
                warn "WARNING: Child process $ChildPid is already gone.\n";
                Test::More::fail("$name - Can't connect to $addr:$ServerPortForClient:"
                                 . " $err (aborted)\n");
                return;
            }
            warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n"
                 . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
            sleep $wait;
            return send_request($req, $middle_delay, $timeout, $block, $tries + 1);
        }
        my $msg = "$name - Can't connect to $addr:$ServerPortForClient: $err (aborted)\n";
        bail_out($msg) if ++$TotalConnectingTimeouts >= 3;
        Test::More::fail($msg);
        return;
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my ($resp, $buf, $off, $writing, $reading) = ('', (shift @bits)->{value}, 0, 1, 1);
    my $sel = IO::Select->new($sock);
    while ($writing || $reading) {
        my ($r, $w) = IO::Select->select($reading ? $sel : undef,
                                         $writing ? $sel : undef, undef, $timeout);
        if (!$r && !$w) {    # timed out
            close $sock;
            if (defined $block->abort) { sleep 0.005 }
            else { Test::More::fail("ERROR: client socket timed out - $name\n") }
            last;
        }
        if ($reading && $r && @$r) {    # read all that is there
            while (1) {
                my $n = sysread $sock, my $chunk, 4096;
                if (!defined $n) {
                    last if $! == EAGAIN || $! == EWOULDBLOCK;
                    warn "WARNING: $name - HTTP response read failure: $!";
                    $writing = $reading = 0;
                    last;
                }
                if ($n == 0) { $writing = $reading = 0; last }    # closed
                $resp .= $chunk;
            }
        }
        if ($writing && $w && @$w) {    # write what we can, packet by packet
            while (1) {
                if ($off < length $buf) {
                    my $n = syswrite $sock, $buf, length($buf) - $off, $off;
                    if (!defined $n) {
                        last if $! == EAGAIN || $! == EWOULDBLOCK;
                        warn "write failed: $!\n";
                        $resp ||= "write failed: $!";
                        $writing = $reading = 0;
                        last;
                    }
                    $off += $n;
                    next;
                }
                my $next = shift @bits;
                if (!$next) {    # all data written
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown $sock, ($how =~ /^\s*$/s ? 1 : $how);
                    }
                    last;
                }
                ($buf, $off) = ($next->{value}, 0);
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
            }
        }
    }
    close $sock;
    return ($resp, $head_req);
}

# A minimal stand-in for HTTP::Response.
package Test::Nginx::Socket::Response {
    sub new { my ($class, %a) = @_; bless { headers => [], content => '', %a }, $class }
    sub code { my $s = shift; $s->{code} = shift if @_; $s->{code} }
    sub content { my $s = shift; $s->{content} = shift if @_; $s->{content} }
    sub header {    # all values of a header, joined with ", "
        my ($s, $key) = @_;
        my @v = map { $_->[1] } grep { lc($_->[0]) eq lc($key) } @{ $s->{headers} };
        return @v ? join(', ', @v) : undef;
    }
}

# => ($res, $raw_headers, $left_over_bytes); $res undef on a broken body.
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    # status line, then header lines up to an empty line, then the body
    my $rest = $raw;
    my $status_line = $rest =~ s/^(.*)\n// ? $1 : do { my $s = $rest; $rest = ''; $s };
    $status_line =~ s/\r\z//;
    my $res = Test::Nginx::Socket::Response->new;
    my ($code) = $status_line =~ /^\d{3} / ? split(' ', $status_line)
               : (split ' ', $status_line, 3)[1];
    $code = undef if defined $code && $code !~ /^\d+$/;
    $res->code($code);
    # header lines (as HTTP::Message->parse: a non-header line ends them)
    while (1) {
        if ($rest =~ s/^([^\s:]+)[ \t]*:[ \t]*([^\n]*)\n?//) {
            my ($k, $v) = ($1, $2);
            $v =~ s/\r\z//;
            push @{ $res->{headers} }, [$k, $v];
        } elsif (@{ $res->{headers} } && $rest =~ s/^([ \t][^\n]*)\n?//) {
            my $v = $1;
            $v =~ s/\r\z//;
            $res->{headers}[-1][1] .= "\n$v";    # continuation line
        } else {
            $rest =~ s/^\r?\n//;
            last;
        }
    }
    $res->content($rest);

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $left;
    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $enc && $enc eq 'chunked') {
        my ($body, $decoded) = ($res->content, '');
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                if (length($body) - pos($body) < $size) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr $body, pos($body), $size;
                pos($body) += $size;
                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                Test::More::fail("$name - invalid chunked body received: $1");
                return;
            } else {
                Test::More::fail("$name - no last chunk found - $body");
                return;
            }
        }
        $res->content($decoded);
    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content;
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, but got "
                 . length($body) . "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    return ($res, $raw_headers, $left);
}

#--------------------------------------------------------------------------
# Per-request checks (names and counts as in the real module)
#--------------------------------------------------------------------------

# In "dry run" mode (e.g. TEST_NGINX_IGNORE_MISSING_DIRECTIVES) every check
# becomes one skipped test.
sub _check ($$&) {
    my ($dry_run, $what, $code) = @_;
    if ($dry_run) {
        SKIP: { Test::More::skip("$what - tests skipped due to $dry_run", 1) }
        return;
    }
    $code->();
}

sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value && ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return ref $value && ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub parse_headers ($) {
    my $s = shift;
    my (%h, @order);
    for (split /\n/, $s) {
        s/^\s+|\s+$//g;
        my $neg = s/^!\s*//;
        my ($key, $val) = $neg ? ($_, undef) : split /\s*:\s*/, $_, 2;
        push @order, $key unless exists $h{$key};
        $h{$key} = $val;
    }
    return [ map { [$_, $h{$_}] } @order ];
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    _check $dry_run, $name, sub {
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like, $idx, $need_array);
            Test::More::like($got, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($got, get_indexed_value($name, $block->error_code, $idx,
                                                   $need_array), "$name - status code ok");
        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    };
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    for my $t (['like', \&Test::More::like], ['unlike', \&Test::More::unlike]) {
        my $sec = "raw_response_headers_$t->[0]";
        next unless defined $block->$sec;
        my $pat = get_indexed_value($name, $block->$sec, $idx, $need_array);
        _check $dry_run, "$name - $sec", sub {
            $t->[1]->($raw_headers, qr/$pat/s, "$name - raw resp headers $t->[0]");
        };
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->response_headers) {
        my $hdrs = parse_headers(get_indexed_value($name, $block->response_headers,
                                                   $idx, $need_array));
        for (@$hdrs) {
            my ($key, $val) = @$_;
            if (!defined $val) {
                _check $dry_run, "$name - response_headers", sub {
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                };
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = ($res ? $res->header($key) : undef) // '';
            _check $dry_run, "$name - response_headers", sub {
                Test::More::is($actual, $val, "$name - header $key ok");
            };
        }
    } elsif (defined $block->response_headers_like) {
        my $hdrs = parse_headers(get_indexed_value($name, $block->response_headers_like,
                                                   $idx, $need_array));
        for (@$hdrs) {
            my ($key, $val) = @$_;
            my $actual = ($res ? $res->header($key) : undef) // '';
            _check $dry_run, "$name - response_headers_like", sub {
                Test::More::like($actual, qr/^$val$/, "$name - header $key like ok");
            };
        }
    }
}

# --- response_body_filters: names (uc lc md5_hex ...) or code refs.
sub transform_response_body ($$$) {
    my ($block, $res, $idx) = @_;
    return unless $res && defined $res->content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {    # one filter list per request
        $filters = $filters->[$idx]
            // bail_out("$name - the ---response_body_filters two-dimensional "
                        . "array unmatch the specified request($idx)");
    }
    my %builtin = (
        md5_hex => \&Digest::MD5::md5_hex, sha1_hex => \&Digest::SHA::sha1_hex,
        uc => sub { uc shift }, lc => sub { lc shift },
        ucfirst => sub { ucfirst shift }, lcfirst => sub { lcfirst shift },
        length => sub { length shift },
    );
    my $content = $res->content;
    for my $f (ref $filters eq 'ARRAY' ? @$filters : ($filters)) {
        my $code = ref $f eq 'CODE' ? $f : !ref $f ? $builtin{$f} : undef;
        bail_out("$name - unknown filter, \"$f\", specified in the --- "
                 . "response_body_filters section") unless $code;
        $content = $code->($content);
    }
    $res->content($content);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $idx, $repeated_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use response_body eval instead.");
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body, $idx, $need_array);
        }
        if (defined $block->charset) {
            require Encode;
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        my $suffix = "(repeated req $repeated_idx, req $idx)";
        _check $dry_run, "$name - response_body", sub {
            if (ref $expected) {
                Test::More::like($content, $expected, "$name - response_body - like $suffix");
            } else {
                Test::More::is($content, $expected,
                               "$name - response_body - response is expected $suffix");
            }
        };
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($type, $pats, $cmp) = defined $block->response_body_like
            ? ('like', $block->response_body_like, \&Test::More::like)
            : ('unlike', $block->response_body_unlike, \&Test::More::unlike);
        my $pat = get_indexed_value($name, $pats, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';
        _check $dry_run, "$name - response_body_$type", sub {
            $cmp->($content, qr/$pat/s,
                   "$name - response_body_$type - response is expected ($summary)");
        };
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $idx, $repeated_idx, $dry_run);
    }
}

#--------------------------------------------------------------------------
# error.log / access.log checks
#--------------------------------------------------------------------------

# New error.log lines since the previous read (all of them with
# check_accum_error_log()).  The log is recreated for each nginx start.
sub error_log_data () {
    sleep $TestNginxSleep * 3;    # let nginx finish its log-phase writes
    open my $in, '<', $ErrLogFile or return undef;
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or die "open $AccLogFile failed: $!";
    return [<$in>];
}

sub _pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) { chomp $pats; return [split /\n+/, $pats] }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _matches ($$) {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    return $val =~ /\Q$pat\E/ if !ref $val || ref $val eq 'Regexp';
    return scalar grep { value_contains($_, $pat) } @$val if ref $val eq 'ARRAY';
    return undef;
}

# Each pattern must match some line: one pass/fail per pattern.
sub _expect_patterns {
    my ($lines, $pats, $dry_run, $name, $sec, $file, $req) = @_;
    my @pats = @{ _pattern_list($pats) };
    $lines ||= [];    # no log file at all
    for my $line (@$lines) {
        for my $pat (@pats) {
            next unless defined $pat && _matches($line, $pat);
            _check $dry_run, "$name - $sec", sub {
                Test::More::pass("$name - pattern \"$pat\" matches a line in $file$req");
            };
            undef $pat;
        }
    }
    for my $pat (grep { defined } @pats) {
        _check $dry_run, "$name - $sec", sub {
            Test::More::fail("$name - pattern \"$pat\" should match a line in $file$req");
        };
    }
}

# No pattern may match: a failure per matching line, a pass per clean pattern.
sub _forbid_patterns {
    my ($lines, $pats, $dry_run, $name, $sec, $file, $req, $context) = @_;
    my @pats = @{ _pattern_list($pats) };
    $lines ||= [];    # no log file at all
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (grep { defined } @pats) {
            next unless _matches($line, $pat);
            $found{$pat} = 1;
            my ($ln, $p) = (fmt_str($line), fmt_str($pat));
            my $more = $context
                ? join '', @$lines[$i + 1 .. min($i + 9, $#$lines - 1)] : '';
            _check $dry_run, "$name - $sec", sub {
                Test::More::fail("$name - pattern \"$p\" should not match any line in "
                                 . "$file but matches line \"$ln\"$req" . ($context ? "\n$more" : ''));
            };
        }
    }
    for my $pat (grep { defined && !$found{$_} } @pats) {
        my $p = fmt_str($pat);
        _check $dry_run, "$name - $sec", sub {
            Test::More::pass("$name - pattern \"$p\" does not match a line in $file$req");
        };
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_idx, $need_array) = @_;
    my $name = $block->name;
    my $req = " (req $repeated_idx)";
    my $lines;
    my %warn_about = map { $_ => 1 } qw(alert crit emerg);

    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        my $grep_pat = ref $grep_pats eq 'ARRAY' ? $grep_pats->[$repeated_idx] : $grep_pats;
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$repeated_idx] if ref $expected eq 'ARRAY';
        _check $dry_run, "$name - error_log", sub {
            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@$lines) {
                if ((ref $grep_pat && $line =~ /$grep_pat/) || $line =~ /\Q$grep_pat\E/) {
                    $matched .= "$&\n" if $& !~ /\n/;
                }
            }
            is_str($matched, $expected, "$name - grep_error_log_out$req");
        };
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next unless defined $pats;
        for my $level (keys %warn_about) {
            delete $warn_about{$level} if value_contains($pats, "[$level");
        }
        $lines ||= error_log_data();
        if ($sec eq 'error_log') {
            _expect_patterns($lines, $pats, $dry_run, $name, $sec, 'error.log', $req);
        } else {
            _forbid_patterns($lines, $pats, $dry_run, $name, $sec, 'error.log', $req, 1);
        }
    }

    if (!$dry_run) {
        $lines ||= error_log_data();
        for my $line (@{ $lines || [] }) {
            for my $level (keys %warn_about) {
                warn "WARNING: $name - " . fmt_str($line) . "\n" if $line =~ /\[$level\]/;
            }
        }
    }
    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_idx) = @_;
    my $name = $block->name;
    my $lines;
    if (defined(my $pats = $block->access_log)) {
        $lines ||= access_log_data();
        _expect_patterns($lines, $pats, $dry_run, $name, 'access_log', 'access.log',
                         " (req $repeated_idx)");
    }
    if (defined(my $pats = $block->no_access_log)) {
        $lines ||= access_log_data();
        _forbid_patterns($lines, $pats, $dry_run, $name, 'no_access_log', 'access.log',
                         " (req $repeated_idx)", 1);
    }
}

# --- shutdown_error_log / --- no_shutdown_error_log: checked against the log
# lines written while the block's nginx was stopped (at the next restart or
# at exit).
sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines = error_log_data();
    if (defined(my $pats = $block->no_shutdown_error_log)) {
        _forbid_patterns($lines, $pats, $dry_run, $name, 'no_shutdown_error_log',
                         'error.log', '', 0);
    }
    _expect_patterns($lines, $block->shutdown_error_log, $dry_run, $name,
                     'shutdown_error_log', 'error.log', '');
    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*? failed\.$/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l");
        }
    }
}

#--------------------------------------------------------------------------
# One repetition of a block: send the request(s), check everything
#--------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();
    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $one_req (@$reqs) {
        my ($raw_resp, $head_req) = $dry_run
            ? ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0)
            : send_request($one_req, $block->raw_request_middle_delay, $timeout, $block);

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        while (1) {    # once per response (several when pipelined)
            warn "!!! resp: [", $raw_resp // '', "]\n" if $Verbose;
            $raw_resp //= '';
            my ($raw_headers, $left) = ('');
            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(code => 200,
                                                              content => $raw_resp);
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
                    $raw_headers //= '';
                }
            }
            if (!$n) {
                if (defined $left && length $left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk in "
                         . "response: \"$l\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx,
                                       $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx, $repeated_idx,
                                    $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {    # not the last response yet
                sleep $block->wait if $block->wait;
                $CheckErrorLog->($block, $res, $dry_run, $repeated_idx, $need_array);
                check_access_log($block, $dry_run, $repeated_idx)
                    unless defined $block->ignore_response;
            }
            $req_idx++;
            last unless $n;
        }
    }

    sleep $block->wait if $block->wait;
    $CheckErrorLog->($block, $res, $dry_run, $repeated_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_idx)
        unless defined $block->ignore_response;
}

#==========================================================================
# Test::Base block objects and section filters
#==========================================================================

package Test::Nginx::Socket::Block;

use strict;
use warnings;

our $AUTOLOAD;

sub new { bless {}, shift }

# Sections are stored as lists (a filter may return several values);
# accessors return the list in list context and its first item otherwise.
sub set_value {
    my ($self, $key, @values) = @_;
    $self->{$key} = [@values];
}

sub seq_num     { $_[0]{_seq_num} }
sub is_filtered { my $s = shift; $s->{_is_filtered} = shift if @_; $s->{_is_filtered} }
sub original_values { $_[0]{_original_values} ||= {} }

sub AUTOLOAD {
    my $self = shift;
    (my $key = $AUTOLOAD) =~ s/.*:://;
    return if $key eq 'DESTROY' || !ref $self || !exists $self->{$key};
    Carp::croak("Not allowed to set values for '$key'") if @_;
    my @list = @{ $self->{$key} };
    return wantarray ? @list : $list[0];
}

# Run the default filters (norm, trim), those of filters() and those named
# on each section's header line ("-name" removes one, "+name" appends one).
sub run_filters {
    my $self = shift;
    Carp::croak("Attempt to filter a block twice") if $self->is_filtered;
    for my $type (@{ $self->{_section_order} || [] }) {
        my @value = @{ $self->{$type} };
        $self->original_values->{$type} = $value[0];

        my (@filters, @append);
        (my $spec = $self->{_filters}{$type} // '') =~ s/^\s+//;
        my $map = $Test::Nginx::Socket::FilterMap{$type} || [];
        for my $f (@Test::Nginx::Socket::DefaultFilters, ref $map ? @$map : $map,
                   split /\s+/, $spec)
        {
            last unless length $f;
            if ($f =~ s/^-//)     { @filters = grep { $_ ne $f } @filters }
            elsif ($f =~ s/^\+//) { push @append, $f }
            else                  { push @filters, $f }
        }

        for my $filter (@filters, @append) {
            my $f = $filter;
            local $Test::Nginx::Socket::Filter::Arguments =
                $f =~ s/=(.*)$// ? $1 : undef;
            no strict 'refs';
            if (defined &{"main::$f"}) {    # user-defined filter function
                local $_ = join '', @value;
                @value = &{"main::$f"}(@value);
                @value = ($_) if !@value || (@value == 1 && $value[0] =~ /\A(\d+|)\z/);
            } elsif (my $code = Test::Nginx::Socket::Filter->can("f_$f")) {
                @value = $code->(@value);
            } else {
                die "Can't find a function or method for '$f' filter\n";
            }
            $self->set_value($type, @value);
        }
    }
    $self->is_filtered(1);
}

package Test::Nginx::Socket::Filter;

# The stock Test::Base filters that test-nginx suites use.  `eval` runs the
# section as Perl code under strict (like Test::Base, which evaluates it in
# its filter package: use $::var or fully-qualified names for globals).

use strict;
use warnings;

our $Arguments;

sub _args {
    return undef unless defined $Arguments;
    my $args = $Arguments;
    $args =~ s/(\\s)/ /g;
    $args =~ s/(\\[a-z])/'"' . $1 . '"'/gee;
    return $args;
}

sub _scalar {
    return if @_ == 1;
    my $f = (caller(1))[3];
    $f =~ s/.*::f_//;
    Carp::croak("Input to the '$f' filter must be a scalar, not a list");
}

sub f_norm {
    _scalar(@_);
    my $text = shift || '';
    $text =~ s/\015\012/\n/g;
    $text =~ s/\r/\n/g;
    return $text;
}

# remove leading blank lines and trailing whitespace after the last newline
sub f_trim { map { s/\A([ \t]*\n)+//; s/(?<=\n)\s*\z//g; $_ } @_ }

sub f_chomp   { map { CORE::chomp; $_ } @_ }
sub f_chop    { map { CORE::chop; $_ } @_ }
sub f_unchomp { map { $_ . "\n" } @_ }
sub f_array   { [@_] }
sub f_hash    { +{@_} }
sub f_reverse { CORE::reverse @_ }
sub f_sort    { CORE::sort @_ }
sub f_append  { my $s = _args() // ''; map { $_ . $s } @_ }
sub f_prepend { my $s = _args() // ''; map { $s . $_ } @_ }
sub f_join    { my $s = _args() // ''; CORE::join $s, @_ }

sub f_eval {
    _scalar(@_);
    my @return = CORE::eval(shift);
    if ($@) {
        warn "eval filter failed: $@";
        return $@;
    }
    return @return;
}

sub f_lines {
    _scalar(@_);
    my $text = shift;
    return () unless length $text;
    return ($text =~ /^(.*\n?)/gm);
}

sub f_escape {
    _scalar(@_);
    my $text = shift;
    $text =~ s/(\\.)/CORE::eval "qq{$1}"/ge;
    return $text;
}

sub f_regexp {
    _scalar(@_);
    my $text = shift;
    my $flags = _args();
    if ($text =~ /\n.*?\n/s) { $flags = 'xism' unless defined $flags }
    else { CORE::chomp $text }
    $flags ||= '';
    my $re = CORE::eval "qr{$text}$flags";
    die $@ if $@;
    return $re;
}

sub f_split {
    _scalar(@_);
    my $sep = _args();
    $sep = qr{$1} if defined $sep && $sep =~ s{^/(.*)/$}{$1};
    $sep = qr/\s+/ unless $sep;
    return CORE::split $sep, shift;
}

sub f_base64_decode { _scalar(@_); require MIME::Base64; MIME::Base64::decode_base64(shift) }
sub f_base64_encode { _scalar(@_); require MIME::Base64; MIME::Base64::encode_base64(shift) }

sub f_dumper {
    require Data::Dumper;
    no warnings 'once';
    local $Data::Dumper::Sortkeys = 1;
    local $Data::Dumper::Indent = 1;
    local $Data::Dumper::Terse = 1;
    Data::Dumper::Dumper(@_);
}

package Test::Nginx::Util;

# `--- init` code is evaluated here, in package Test::Nginx::Util, as the
# real module does (html_dir(), server_port(), $HtmlDir ... are visible).
use strict;
use warnings;

our ($ServerPort, $ServerPortForClient, $ServerAddr, $ServerName, $ServRoot,
     $HtmlDir, $LogDir, $ErrLogFile, $AccLogFile, $ConfFile, $PidFile,
     $RepeatEach, $NginxBinary, $NginxVersion, $LogLevel, $NoLongString,
     $UseValgrind, $Verbose, $ChildPid);

sub _eval_init { eval $_[0] }

1;

__END__

=head1 NAME

Test::Nginx::Socket - fallback (core Perl only) subset of the CPAN module

=head1 SYNOPSIS

    # with the real Test::Nginx installed:   prove -r t/
    # without it:                            prove -I t/lib -r t/
    # either way:                            scripts/prove-t

    use Test::Nginx::Socket 'no_plan';
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello

=head1 SUPPORTED SUBSET

Test::Base format: C<=== name> blocks, C<--- section [filters]> and
C<--- section: value>, default filters C<norm trim>, filters C<chomp chop
eval lines join array hash unchomp escape regexp split append prepend
reverse sort base64_encode base64_decode dumper> and filter functions defined
in C<main>; C<--- ONLY>, C<--- SKIP>, C<--- LAST>; C<blocks>, C<next_block>,
C<first_block>, C<run>, C<filters>, C<filters_delay>, C<spec_file>,
C<spec_string>, C<delimiters>.

Sections: config http_config main_config post_main_config server_name
error_log_file user_files init request request_eval raw_request
pipelined_requests more_headers raw_request_middle_delay shutdown timeout
abort wait ignore_response http09 error_code error_code_like response_headers
response_headers_like raw_response_headers_like raw_response_headers_unlike
response_body response_body_eval response_body_like response_body_unlike
response_body_filters charset error_log no_error_log grep_error_log
grep_error_log_out access_log no_access_log shutdown_error_log
no_shutdown_error_log log_level must_die skip_eval skip_nginx skip_nginx2
skip_openssl todo todo_nginx server_addr_for_client.

Environment: TEST_NGINX_BINARY, TEST_NGINX_SERVER_PORT, TEST_NGINX_PORT,
TEST_NGINX_CLIENT_PORT, TEST_NGINX_SERVROOT, TEST_NGINX_RANDOMIZE,
TEST_NGINX_LOAD_MODULES, TEST_NGINX_SLEEP, TEST_NGINX_TIMEOUT,
TEST_NGINX_NO_CLEAN, TEST_NGINX_NO_SHUFFLE, TEST_NGINX_LOG_LEVEL,
TEST_NGINX_MASTER_PROCESS, TEST_NGINX_USE_VALGRIND, TEST_NGINX_EVENT_TYPE,
TEST_NGINX_POSTPONE_OUTPUT, TEST_NGINX_REUSE_PORT, TEST_NGINX_WORKER_USER,
TEST_NGINX_FORCE_RESTART_ON_TEST, TEST_NGINX_NO_NGINX_MANAGER,
TEST_NGINX_CHECK_ACCUM_ERR_LOG, TEST_NGINX_IGNORE_MISSING_DIRECTIVES,
TEST_NGINX_ERROR_LOG, TEST_NGINX_VERBOSE; C<$TEST_NGINX_*> and
C<$TEST_NGINX_RAND_PORT_N> in config sections.

=head1 DEVIATIONS

Not supported (the block fails): tcp_listen, udp_listen, stap, http2 and
http3 sections.  Ignored with a warning: TEST_NGINX_USE_HUP, _USE_STAP,
_CHECK_LEAK, _BENCHMARK, _USE_HTTP2, _USE_HTTP3, _USE_RR (nginx is simply
restarted for each block, as by default in the real one).

String mismatches are reported by Test::More::is (no Test::LongString or
Text::Diff output); the pass/fail results are the same.

Valgrind: the report is captured per block, echoed to stderr and, if it
contains errors, adds one failing test "NAME - valgrind reported errors";
C<t/valgrind.suppress> is used as well as C<./valgrind.suppress>; nginx gets
up to 30 s to exit (leak check) before being killed.

The C<eval> filter runs in package Test::Nginx::Socket::Filter (real:
Test::Base::Filter; both under strict, use C<$::var>) and warns when the
code dies.  Requests split into packets keep their boundaries approximately.
TEST_NGINX_POSTPONE_OUTPUT is honoured (the real 0.29 only emits it in HUP
mode).  A process that is a zombie counts as stopped (daemonized nginx may
never be reaped in containers).

Like the real one: C<$TEST_NGINX_HTML_DIR> is not set for you (use
C<$ENV{TEST_NGINX_HTML_DIR} = html_dir();>), blocks are shuffled unless
no_shuffle(), C<--- error_code> on its own line keeps its newline (use
C<--- error_code: 404> or C<--- error_code chomp>), and a shutdown_error_log
check runs only when the next block restarts nginx, or at exit.

=cut
