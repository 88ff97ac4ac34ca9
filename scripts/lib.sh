# Shared shell helpers for scripts/run, scripts/test and scripts/bench.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=$ROOT/build/ngx_http_rooms_module.so

# Debian packages the project needs to build, run and test
ROOMS_PACKAGES="nginx nginx-dev libhiredis-dev libjansson-dev libssl-dev
    redis-server redis-tools openssl gcc make clang libclang-rt-dev valgrind
    wrk perl nodejs npm curl procps"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# install the Debian packages that are missing (needs root or sudo)
install_deps() {
    local missing="" p sudo=""
    for p in $ROOMS_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $p"
    done
    # a Node.js from elsewhere (nodesource, nvm) is fine too
    if command -v node >/dev/null && command -v npm >/dev/null; then
        missing=$(echo "$missing" | tr ' ' '\n' | grep -vxE 'nodejs|npm' | tr '\n' ' ')
    fi
    [ -z "${missing// /}" ] && return 0
    [ "$(id -u)" = 0 ] || sudo=sudo
    say "installing:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The ASan+UBSan build of the module, in build/asan, shared by the suites
# that load it (asan, faults, hostile): one set of flags, so that
# scripts/build finds its tree current and only remakes what changed.
build_asan() {
    ROOMS_BUILD_DIR=$ROOT/build/asan \
        ROOMS_CC_OPT="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
        ROOMS_LD_OPT="-fsanitize=address,undefined" \
        "$ROOT/scripts/build"
}

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0",
                                     ReuseAddr => 1)->sockport'
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, on one line; all
# are held open while picked, so none repeats (free_port may, if called N
# times)
free_ports() {
    perl -MIO::Socket::INET -e '
        my @s = map {
            IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0",
                                  ReuseAddr => 1) or die "free_ports: $!\n"
        } 1 .. $ARGV[0];
        print join(" ", map { $_->sockport } @s), "\n"' "$1"
}

# start_redis DIR PORT [extra redis-server args...]
start_redis() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --save '' "$@" >/dev/null
    for _ in $(seq 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "redis did not start, see $dir/redis.log" >&2
    return 1
}

stop_pidfile() {
    local f=$1 sig=${2:-TERM} pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null) || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$f"
}
