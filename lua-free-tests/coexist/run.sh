#!/usr/bin/env bash
# Coexistence with Debian's other Redis-speaking and scripting modules:
# libnginx-mod-nchan (which bundles and exports hiredis 1.0.2) and
# libnginx-mod-http-lua (with its ndk).  nginx loads modules RTLD_GLOBAL, so
# a module exporting hiredis could take the place of ours, or ours of its.
#
# For each order, "before" (nchan, ndk and lua loaded before this module)
# and "after" (this module first), a private nginx with its own prefix and
# a free port, against a private Redis:
#
#   1. which hiredis this module's references bind to (LD_DEBUG=bindings
#      on nginx -t): never nchan's
#   2. nchan publishes and a waiting subscriber receives, with the memory
#      store, then with nchan's Redis store on the same Redis (nchan's own
#      hiredis at work); a Lua location answers
#   3. the official SDKs end to end (lua-free-tests/sdk/run.sh: rooms,
#      identity, admission through the cache and straight to Redis)
#   4. t/010-admission.t with the same modules loaded in the same order
#   5. no "exited on signal", [alert] or [emerg] in either nginx's log
#
# Installs the Debian packages when missing (root or sudo, as scripts/test
# does); never touches the system nginx.  Exits non-zero on any FAIL.
#
#   lua-free-tests/coexist/run.sh                (after scripts/build)
#   COEXIST_MODULE=/path/to/other.so lua-free-tests/coexist/run.sh
#   COEXIST_ORDERS=before lua-free-tests/coexist/run.sh
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

W=$ROOT/build/coexist
NGINX_BIN=${TEST_NGINX_BINARY:-$(command -v nginx || echo /usr/sbin/nginx)}
ROOMS_SO=${COEXIST_MODULE:-$MODULE}
ORDERS=${COEXIST_ORDERS:-before after}
MODDIR=/usr/lib/nginx/modules
NCHAN_SO=$MODDIR/ngx_nchan_module.so
NDK_SO=$MODDIR/ndk_http_module.so
LUA_SO=$MODDIR/ngx_http_lua_module.so
PACKAGES="libnginx-mod-nchan libnginx-mod-http-ndk libnginx-mod-http-lua"
REDIS_DB=12

npass=0
nfail=0
FAILS=()

pass() { echo "PASS $*"; npass=$((npass + 1)); }
fail() { echo "FAIL $*"; nfail=$((nfail + 1)); FAILS+=("$*"); }

cleanup() {
    local d
    for d in "$W"/nginx-*; do
        [ -f "$d/nginx.pid" ] && stop_pidfile "$d/nginx.pid" QUIT
    done
    if [ -n "${RP:-}" ]; then
        redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1
    fi
    stop_pidfile "$W/redis/redis.pid" KILL
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# --- setup -------------------------------------------------------------------

install_deps $PACKAGES || { echo "FAIL cannot install $PACKAGES"; exit 1; }

if [ ! -f "$ROOMS_SO" ]; then
    echo "$ROOMS_SO missing: run scripts/build" >&2
    exit 1
fi

rm -rf "$W"
mkdir -p "$W"

for p in $PACKAGES; do
    echo "using $p $(dpkg-query -W -f='${Version}' "$p")"
done
echo "module under test: $ROOMS_SO"

# the Lua module loads on this nginx only with its ndk: both, or neither
LUA_LOADS=()
mkdir -p "$W/probe"
cat > "$W/probe/nginx.conf" << EOF
load_module $NDK_SO;
load_module $LUA_SO;
pid $W/probe/nginx.pid;
events {}
http { access_log off; }
EOF
if "$NGINX_BIN" -t -q -p "$W/probe" -c "$W/probe/nginx.conf" \
       -e "$W/probe/error.log" 2> "$W/probe/stderr"
then
    LUA_LOADS=("$NDK_SO" "$LUA_SO")
    pass "ndk and lua load on this nginx"
else
    echo "lua does not load on this nginx, left out:"
    sed 's/^/  /' "$W/probe/stderr"
fi

RP=$(free_port)
start_redis "$W/redis" "$RP" || exit 1
KEY=$(head -c 32 /dev/urandom | base64)
node "$ROOT/scripts/make-jwks.mjs" > "$W/jwks.json" || exit 1


# --- one order ---------------------------------------------------------------

# write_conf DIR PORT MODULE...: nginx.conf loading the modules in order
write_conf() {
    local dir=$1 port=$2 m lua=""
    shift 2
    [ ${#LUA_LOADS[@]} -gt 0 ] \
        && lua='location = /lua { content_by_lua_block { ngx.say("lua ", 6 * 7) } }'
    mkdir -p "$dir/logs"
    {
        for m in "$@"; do
            echo "load_module $m;"
        done
        cat << EOF
worker_processes  2;
error_log  logs/error.log  info;
pid        nginx.pid;

events {
    worker_connections  1024;
}

http {
    access_log  logs/access.log;
    client_body_temp_path  $dir/client_body_temp;
    proxy_temp_path        $dir/proxy_temp;
    fastcgi_temp_path      $dir/fastcgi_temp;
    uwsgi_temp_path        $dir/uwsgi_temp;
    scgi_temp_path         $dir/scgi_temp;

    rooms_redis       127.0.0.1:$RP db=$REDIS_DB timeout=2s connections=2;
    rooms_access_key  $KEY;
    rooms_token_keys  $W/jwks.json;
    rooms_cache       zone=rooms:4m;

    upstream nchan_redis {
        nchan_redis_server  redis://127.0.0.1:$RP;
    }

    server {
        listen  127.0.0.1:$port;

        location = /health { return 204; }

        location /rooms       { rooms_api; }
        location /identities  { rooms_api; }

        location ~ ^/media/(?<room>[0-9]+)(/|\$) {
            rooms_admission  \$room;
            add_header  X-Rooms-User  \$rooms_user_id  always;
            add_header  X-Rooms-Role  \$rooms_role  always;
            add_header  X-Rooms-Deny  \$rooms_deny_reason  always;
            empty_gif;
        }

        location ~ ^/direct/(?<room>[0-9]+)(/|\$) {
            rooms_admission  \$room;
            rooms_cache      off;
            add_header  X-Rooms-User  \$rooms_user_id  always;
            add_header  X-Rooms-Role  \$rooms_role  always;
            add_header  X-Rooms-Deny  \$rooms_deny_reason  always;
            empty_gif;
        }

        # nchan, memory store
        location ~ ^/nchan/pub/(\w+)\$ {
            nchan_publisher;
            nchan_channel_id  \$1;
        }
        location ~ ^/nchan/sub/(\w+)\$ {
            nchan_subscriber;
            nchan_channel_id  \$1;
        }

        # nchan, Redis store: nchan's bundled hiredis on the same Redis
        location ~ ^/nchan/rpub/(\w+)\$ {
            nchan_publisher;
            nchan_redis_pass  nchan_redis;
            nchan_channel_id  \$1;
        }
        location ~ ^/nchan/rsub/(\w+)\$ {
            nchan_subscriber;
            nchan_redis_pass  nchan_redis;
            nchan_channel_id  \$1;
        }

        $lua
    }
}
EOF
    } > "$dir/nginx.conf"
}

nginx_run() {
    local dir=$1
    shift
    "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" "$@"
}

# bindings DIR: LD_DEBUG=bindings of nginx -t; our module's references to
# redis*/sds* must bind within our module (that is: not be dynamic at all)
check_bindings() {
    local dir=$1 order=$2 bad
    LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dir/ld" \
        nginx_run "$dir" -t -q 2> /dev/null
    bad=$(cat "$dir"/ld.* 2>/dev/null \
          | grep -F "binding file $ROOMS_SO " \
          | grep -E "symbol \`(redis|sds|__redis|hi_)" | sort -u)
    rm -f "$dir"/ld.*
    if [ -z "$bad" ]; then
        pass "$order: no hiredis symbol of this module is bound dynamically"
    else
        fail "$order: this module's hiredis references bind dynamically" \
             "($(printf '%s\n' "$bad" | grep -c .) symbols)"
        printf '%s\n' "$bad" | head -4 | sed 's/^ *[0-9]*: */  ld: /'
    fi
}

# pubsub ORDER PORT PUB SUB CHANNEL WHAT: a subscriber waits, a message is
# published, the subscriber gets exactly that message
pubsub() {
    local order=$1 port=$2 pub=$3 sub=$4 ch=$5 what=$6 msg got code
    msg="hello from $order $what $RANDOM"
    curl -s --max-time 8 "http://127.0.0.1:$port/nchan/$sub/$ch" \
        > "$W/sub.out" 2>&1 &
    local spid=$!
    sleep 0.5
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
               -X POST --data-binary "$msg" \
               "http://127.0.0.1:$port/nchan/$pub/$ch")
    wait "$spid"
    got=$(cat "$W/sub.out")
    if [[ $code =~ ^20[12]$ ]] && [ "$got" = "$msg" ]; then
        pass "$order: nchan $what: published ($code), the subscriber got it"
    else
        fail "$order: nchan $what: publish $code, subscriber got \"$got\""
    fi
}

# run_suites ORDER DIR PORT MODULE...: the SDK suite against the running
# nginx, t/010-admission.t on one of its own loading the same modules
run_suites() {
    local order=$1 dir=$2 port=$3 rc t0
    shift 3
    local mods=("$@")

    redis-cli -p "$RP" -n "$REDIS_DB" flushdb > /dev/null
    t0=$SECONDS
    ROOMS_CONNECTION_STRING="endpoint=http://127.0.0.1:$port/;accesskey=$KEY" \
        ROOMS_GATEWAY="http://127.0.0.1:$port" \
        timeout 600 "$ROOT/lua-free-tests/sdk/run.sh" > "$dir/sdk.log" 2>&1
    rc=$?
    grep -E '^(FAIL|sdk-e2e:)' "$dir/sdk.log" | sed 's/^/  sdk: /'
    if [ $rc -eq 0 ]; then
        pass "$order: the SDK suite passes ($((SECONDS - t0)) s)"
    else
        fail "$order: the SDK suite fails (rc $rc, $dir/sdk.log)"
    fi

    t0=$SECONDS
    (
        cd "$ROOT" || exit 1
        TEST_NGINX_LOAD_MODULES="${mods[*]}" \
        TEST_NGINX_REDIS_PORT=$RP \
        TEST_NGINX_SERVER_PORT=$(free_port) \
        TEST_NGINX_SERVROOT=$W/servroot-$order \
        TEST_NGINX_BINARY=$NGINX_BIN \
            timeout 600 scripts/prove-t t/010-admission.t
    ) > "$dir/t.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "$order: t/010-admission.t passes ($((SECONDS - t0)) s)"
    else
        grep -E '^(not ok|#)' "$dir/t.log" | head -10 | sed 's/^/  t: /'
        fail "$order: t/010-admission.t fails ($dir/t.log)"
    fi
}

run_order() {
    local order=$1 dir=$W/nginx-$1 port mods n hits up
    port=$(free_port)
    case $order in
    before) mods=("$NCHAN_SO" "${LUA_LOADS[@]}" "$ROOMS_SO") ;;
    after)  mods=("$ROOMS_SO" "$NCHAN_SO" "${LUA_LOADS[@]}") ;;
    esac
    say "coexist: $order (load order: ${mods[*]##*/})"
    write_conf "$dir" "$port" "${mods[@]}"

    check_bindings "$dir" "$order"

    if ! nginx_run "$dir"; then
        fail "$order: nginx does not start"
        return
    fi
    up=no
    for _ in $(seq 25); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
                    "http://127.0.0.1:$port/health")" = 204 ]
        then
            up=yes
            break
        fi
        sleep 0.2
    done
    if [ $up = yes ]; then
        pass "$order: nginx answers"
    else
        fail "$order: nginx does not answer in 5 s"
    fi

    pubsub "$order" "$port" pub sub "mem$RANDOM" "memory store"
    pubsub "$order" "$port" rpub rsub "red$RANDOM" "Redis store"
    n=$(redis-cli -p "$RP" --scan --pattern '{channel:*' | grep -c .)
    if [ "$n" -gt 0 ]; then
        pass "$order: nchan keeps its channels in the Redis ($n keys)"
    else
        fail "$order: nchan wrote nothing to the Redis"
    fi

    if [ ${#LUA_LOADS[@]} -gt 0 ]; then
        if [ "$(curl -s --max-time 3 "http://127.0.0.1:$port/lua")" = "lua 42" ]
        then
            pass "$order: the Lua location answers"
        else
            fail "$order: the Lua location does not answer"
        fi
    fi

    # workers dying already: the long suites would only time out
    n=$(grep -c 'exited on signal' "$dir/logs/error.log")
    if [ "$n" -gt 0 ]; then
        fail "$order: SDK suite and t/010-admission.t not run:" \
             "$n workers died already"
    else
        run_suites "$order" "$dir" "$port" "${mods[@]}"
    fi

    stop_pidfile "$dir/nginx.pid" QUIT

    hits=$(cat "$dir/logs/error.log" "$W/servroot-$order/logs/error.log" \
               2>/dev/null \
           | grep -E 'exited on signal|\[alert\]|\[emerg\]')
    n=$(printf '%s' "$hits" | grep -c .)
    if [ "$n" -eq 0 ]; then
        pass "$order: no worker crash, [alert] or [emerg] in the logs"
    else
        fail "$order: $n worker crashes, [alert] or [emerg] lines in the logs"
        printf '%s\n' "$hits" | head -5 | sed 's/^/  log: /'
        printf '  log: %s workers exited on signal 11\n' \
            "$(printf '%s\n' "$hits" | grep -c 'exited on signal 11')"
    fi
}

for o in $ORDERS; do
    run_order "$o"
done

say "coexist: $npass passed, $nfail failed"
for f in "${FAILS[@]}"; do
    echo "  FAIL $f"
done
[ "$nfail" -eq 0 ]
