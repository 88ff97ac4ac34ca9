#!/usr/bin/env bash
# Redis over TLS and with ACL users (issue 12), against the topologies of
# scripts/redis-servers, each started here on free ports:
#
#   acl         plaintext, default user off, the module as user "rooms":
#               the t/ API and admission suites, the SDK suite; a refused
#               AUTH (user disabled, its connections killed) gives 503s and
#               a clear log line, retried with backoff, and the gateway
#               recovers without a reload once the user is enabled again
#   tls         TLS, no client certificate: the t/ suites, the SDK suite
#   tls-client  TLS, client certificates required: the same
#   acl-tls     TLS with client certificates and the ACL user: the same
#   faults      over TLS, each on an nginx of its own: admitted through TLS;
#               a wrong CA, a wrong server name, no client certificate where
#               one is required, "tls" against a plaintext Redis (which
#               must never see a command): 503s and a log line saying why;
#               Redis killed and restarted, stalled: 503s, then admissions
#               again without a reload; never a worker crash
#   valgrind    nginx in one process under memcheck, over the TLS paths:
#               handshakes and requests with a client certificate, Redis
#               killed and restarted (reconnects, the session resumed), a
#               certificate that fails verification, a refused client;
#               any error or definite leak fails
#
# With TLS_ASAN=1 the module is the ASan+UBSan build (build/asan), nginx
# runs with libasan preloaded (as scripts/test's asan suite does) and any
# report naming nginx or the module fails; it works in build/tls-asan, so
# both runs can be kept.  scripts/test's tls suite runs this script twice:
# every part on the normal build, then the TLS parts under ASan.
#
#   lua-free-tests/tls/run.sh                   (after scripts/build)
#   TLS_PARTS="acl faults" lua-free-tests/tls/run.sh
#   TLS_T="t/010-admission.t" lua-free-tests/tls/run.sh    fewer t/ suites
#   TLS_ASAN=1 TLS_PARTS="tls-client faults" lua-free-tests/tls/run.sh
set -uo pipefail
shopt -s lastpipe       # "conf | nginx_start NAME" sets NPORT[NAME] here

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

W=$ROOT/build/tls
NGINX_BIN=${TEST_NGINX_BINARY:-$(command -v nginx || echo /usr/sbin/nginx)}
NGINX_REAL=$NGINX_BIN
SO=${TLS_MODULE:-$MODULE}
PARTS=${TLS_PARTS:-acl tls tls-client acl-tls faults valgrind}
ASAN=${TLS_ASAN:-}
if [ -n "$ASAN" ]; then
    W=$ROOT/build/tls-asan
    SO=${TLS_MODULE:-$ROOT/build/asan/ngx_http_rooms_module.so}
fi
T_SUITES=${TLS_T:-t/001-api-rooms.t t/002-api-auth.t t/003-api-errors.t
    t/004-api-identity.t t/010-admission.t t/011-admission-proxy.t
    t/013-token-cache.t t/014-cache-zone.t t/015-auth-request.t}
SDK_DB=3
FAULT_DB=13
TIMEOUT_MS=500              # rooms_redis timeout= of the fault nginx

npass=0
nfail=0
FAILS=()

pass() { echo "PASS $*"; npass=$((npass + 1)); }
fail() { echo "FAIL $*"; nfail=$((nfail + 1)); FAILS+=("$*"); }

# assert 'ARITHMETIC EXPRESSION' message...
assert() {
    local cond=$1
    shift
    if (( $cond )); then pass "$@"; else fail "$@"; fi
}

now_ms() { NOW=$(( ${EPOCHREALTIME//[.,]/} / 1000 )); }

cleanup() {
    local d
    for d in "$W"/nginx-*; do
        [ -f "$d/nginx.pid" ] && stop_pidfile "$d/nginx.pid" QUIT
    done
    for d in "$W"/redis-*; do
        [ -d "$d" ] && "$ROOT/scripts/redis-servers" stop "$d" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# --- topologies ----------------------------------------------------------------

# topology NAME ARGS...: scripts/redis-servers ARGS in W/redis-NAME, its
# variables kept as R_NAME_<VAR> (eval'ed in a subshell: the next start
# must not inherit them)
topology() {
    local name=$1 dir=$W/redis-$1 out
    shift
    out=$("$ROOT/scripts/redis-servers" "$1" "$dir" "${@:2}" \
          2> "$W/redis-$name.log") || {
        cat "$W/redis-$name.log" >&2
        fail "$name: scripts/redis-servers $* did not start"
        return 1
    }
    printf '%s\n' "$out" > "$W/env-$name"
}

# use NAME: the variables of topology NAME in this shell (REDIS_*)
use() {
    unset "${!REDIS_@}"
    # shellcheck disable=SC1090
    . "$W/env-$1"
}

# with NAME: for this topology, the setup's client (RoomsTest::redis and
# redis-cli as ADMIN) and the module's side: PORT, EXTRA (appended to
# rooms_redis), SSL (rooms_redis_ssl_* lines)
with() {
    use "$1"
    unset TEST_NGINX_REDIS_CA TEST_NGINX_REDIS_CLIENT_CERT \
          TEST_NGINX_REDIS_CLIENT_KEY TEST_NGINX_REDIS_USER \
          TEST_NGINX_REDIS_PASSWORD
    CLI=(redis-cli -h 127.0.0.1)
    EXTRA=""
    SSL=""
    if [ -n "${REDIS_TLS_PORT:-}" ]; then
        PORT=$REDIS_TLS_PORT
        export TEST_NGINX_REDIS_CA=$REDIS_CA
        export TEST_NGINX_REDIS_CLIENT_CERT=$REDIS_CLIENT_CERT
        export TEST_NGINX_REDIS_CLIENT_KEY=$REDIS_CLIENT_KEY
        CLI+=(--tls --cacert "$REDIS_CA" --cert "$REDIS_CLIENT_CERT"
              --key "$REDIS_CLIENT_KEY")
        EXTRA="tls"
        SSL="rooms_redis_ssl_trusted_certificate $REDIS_CA;"
        SSL+=" rooms_redis_ssl_server_name $REDIS_TLS_SERVER_NAME;"
        if [ "$REDIS_TLS_AUTH_CLIENTS" = yes ]; then
            SSL+=" rooms_redis_ssl_certificate $REDIS_CLIENT_CERT;"
            SSL+=" rooms_redis_ssl_certificate_key $REDIS_CLIENT_KEY;"
        fi
    else
        PORT=${REDIS_ACL_PORT:-}
    fi
    if [ -n "${REDIS_ACL_USER:-}" ]; then
        export TEST_NGINX_REDIS_USER=$REDIS_ACL_ADMIN_USER
        export TEST_NGINX_REDIS_PASSWORD=$REDIS_ACL_ADMIN_PASSWORD
        CLI+=(--user "$REDIS_ACL_ADMIN_USER" --pass "$REDIS_ACL_ADMIN_PASSWORD"
              --no-auth-warning)
        EXTRA+=" user=$REDIS_ACL_USER password=$REDIS_ACL_PASSWORD"
    fi
    export TEST_NGINX_REDIS_PORT=$PORT
}

rcli() { "${CLI[@]}" -p "$PORT" "$@"; }


# --- nginx ---------------------------------------------------------------------

JWKS=$W/jwks.json

# token SUB: a room token RoomsTest signs, for TEST_JWKS
token() {
    perl -I"$ROOT/t" -MRoomsTest -e 'print RoomsTest::token(sub => $ARGV[0])' \
        "$1"
}

# seed ROOM USER ROLE: the room, USER invited, in the fault database
seed() {
    perl -I"$ROOT/t" -MRoomsTest -e '
        $RoomsTest::REDIS_DB = shift;
        RoomsTest::seed_room($ARGV[0], { $ARGV[1] => $ARGV[2] })' \
        "$FAULT_DB" "$@"
}

# conf | nginx_start NAME: an nginx on prefix W/nginx-NAME; the conf may
# use @PORT@ (set as NPORT[NAME]) and @DIR@
declare -A NPORT
nginx_start() {
    local name=$1 dir=$W/nginx-$1 port
    port=$(free_port)
    NPORT[$name]=$port
    mkdir -p "$dir/logs"
    sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" > "$dir/nginx.conf"
    if ! "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" \
            -e "$dir/logs/error.log" 2> "$dir/start.err"
    then
        fail "$name: nginx does not start: $(head -3 "$dir/start.err")"
        return 1
    fi
    for _ in $(seq 50); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
                 "http://127.0.0.1:$port/health")" = 204 ] && return 0
        sleep 0.1
    done
    fail "$name: nginx does not answer"
    return 1
}

nginx_stop() { stop_pidfile "$W/nginx-$1/nginx.pid" QUIT; }

# no_crash NAME: nothing in its error.log says a worker died
no_crash() {
    local n
    n=$(grep -c -E 'exited on signal|\[alert\]' \
            "$W/nginx-$1/logs/error.log" 2>/dev/null)
    assert "${n:-0} == 0" "$1: no worker crash or [alert] (${n:-0} lines)"
}

# the fault nginx: admission straight to Redis (no cache), a timeout of
# TIMEOUT_MS; fault_conf EXTRA SSL [PORT]
fault_conf() {
    local extra=$1 ssl=$2 port=${3:-$PORT}
    cat << EOF
load_module $SO;
worker_processes  1;
error_log  logs/error.log  info;
pid        nginx.pid;
events { worker_connections  256; }
http {
    access_log  logs/access.log;
    client_body_temp_path  @DIR@/client_body_temp;
    proxy_temp_path        @DIR@/proxy_temp;
    fastcgi_temp_path      @DIR@/fastcgi_temp;
    uwsgi_temp_path        @DIR@/uwsgi_temp;
    scgi_temp_path         @DIR@/scgi_temp;

    rooms_redis  127.0.0.1:$port db=$FAULT_DB timeout=${TIMEOUT_MS}ms $extra;
    $ssl
    rooms_token_keys  $JWKS;

    server {
        listen  127.0.0.1:@PORT@;
        location = /health { return 204; }
        location ~ ^/direct/(?<room>[0-9]+)(/|\$) {
            rooms_admission  \$room;
            add_header  X-Rooms-Deny  \$rooms_deny_reason  always;
            empty_gif;
        }
    }
}
EOF
}

ROOM=7300000000000001
ALICE=8:acs:tls_alice
MALLORY=8:acs:tls_mallory

# status NAME [TOKEN]: the admission status of TOKEN's user (default
# ALICE's)
status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
        -H "Authorization: Bearer ${2:-$TOK_ALICE}" \
        "http://127.0.0.1:${NPORT[$1]}/direct/$ROOM/join"
}

# until_status NAME CODE MS: poll every 50 ms until CODE (at most MS);
# WAITED is the time it took (-1: never), CODES what was seen
until_status() {
    local name=$1 want=$2 max=$3 t0 code
    CODES=""
    now_ms; t0=$NOW
    WAITED=-1
    while now_ms; (( NOW - t0 <= max )); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
                   -H "Authorization: Bearer $TOK_ALICE" \
                   "http://127.0.0.1:${NPORT[$name]}/direct/$ROOM/join")
        CODES+="$code "
        if [ "$code" = "$want" ]; then
            now_ms
            WAITED=$((NOW - t0))
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# says_why NAME WHAT REGEX: a line of the adapter's own (not one about a
# request) names the cause
says_why() {
    local line
    line=$(grep -a 'rooms redis' "$W/nginx-$1/logs/error.log" \
           | grep -a -v -E ', client: |no connection to' \
           | grep -a -i -E "$3" | head -1)
    if [ -n "$line" ]; then
        pass "$1: the error log says why ($2): ${line#*\[error\] }"
    else
        fail "$1: no error-log line about $2 (/$3/)"
        grep -a '\[error\]' "$W/nginx-$1/logs/error.log" | tail -2 \
            | sed 's/^/  log: /'
    fi
}


# --- the suites against one topology -----------------------------------------

# run_t PART: each t/ suite on its own (a failed block may bail a suite
# out; the others still run), one line each
run_t() {
    local part=$1 rc t0 f name
    for f in $T_SUITES; do
        name=$(basename "$f" .t)
        t0=$SECONDS
        (
            cd "$ROOT" || exit 1
            TEST_NGINX_ROOMS_REDIS_EXTRA=$EXTRA \
            TEST_NGINX_ROOMS_REDIS_SSL=$SSL \
            TEST_NGINX_LOAD_MODULES=$SO \
            TEST_NGINX_SERVER_PORT=$(free_port) \
            TEST_NGINX_SERVROOT=$W/servroot-$part \
            TEST_NGINX_BINARY=$NGINX_BIN \
                timeout 600 scripts/prove-t "$f"
        ) > "$W/$part-$name.log" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            pass "$part: $f ($((SECONDS - t0)) s)"
        else
            fail "$part: $f ($((SECONDS - t0)) s, $(grep -c -E '^(not ok|#   Failed test)' \
                  "$W/$part-$name.log") failed, $W/$part-$name.log)"
        fi
    done
}

run_sdk() {
    local part=$1 name=sdk-$1 key rc t0 code
    key=$(head -c 32 /dev/urandom | base64)
    rcli -n "$SDK_DB" flushdb > /dev/null
    sed -e "s|@MODULE@|$SO|g" -e "s|@REDIS_PORT@|$PORT|g" -e "s|@KEY@|$key|g" \
        -e "s|@JWKS@|$JWKS|g" "$ROOT/lua-free-tests/sdk/nginx.conf.in" \
    | EXTRA=$EXTRA SSL=$SSL perl -pe '
        s{^(\s*)(rooms_redis\s.*);$}{$1$2 $ENV{EXTRA};\n$1$ENV{SSL}};
        s{^(\s*server \{)$}{$1\n        location = /health { return 204; }}' \
    | nginx_start "$name" || return

    # the store must answer first: 62 SDK calls retried on 503 take minutes
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
               -H "Authorization: Bearer $TOK_MALLORY" \
               "http://127.0.0.1:${NPORT[$name]}/direct/$ROOM/join")
    if [ "$code" != 403 ]; then
        fail "$part: SDK suite not run: the gateway cannot reach Redis" \
             "(a stranger's admission: $code, not 403)"
    else
        t0=$SECONDS
        ROOMS_CONNECTION_STRING="endpoint=http://127.0.0.1:${NPORT[$name]}/;accesskey=$key" \
        ROOMS_GATEWAY="http://127.0.0.1:${NPORT[$name]}" \
            timeout 300 "$ROOT/lua-free-tests/sdk/run.sh" \
            > "$W/$part-sdk.log" 2>&1
        rc=$?
        grep -E '^(FAIL|sdk-e2e:)' "$W/$part-sdk.log" | sed 's/^/  sdk: /'
        assert "rc == 0" "$part: SDK suite ($((SECONDS - t0)) s)"
    fi
    nginx_stop "$name"
    no_crash "$name"
}


# --- parts ---------------------------------------------------------------------

part_suites() {
    local part=$1
    say "tls: $part (rooms_redis ... ${EXTRA//password=*/password=...})"
    run_t "$part"
    run_sdk "$part"
}

# an ACL user refused, then accepted again, without a reload
part_acl_refused() {
    local name=acl-refused n t0 before
    seed "$ROOM" "$ALICE" Presenter
    fault_conf "$EXTRA" "$SSL" | nginx_start "$name" || return
    assert "$(status "$name") == 200" "$name: the invitee is admitted as" \
        "user \"$REDIS_ACL_USER\""

    rcli acl setuser "$REDIS_ACL_USER" off > /dev/null
    rcli client kill user "$REDIS_ACL_USER" > /dev/null
    now_ms; t0=$NOW
    until_status "$name" 503 3000
    assert "WAITED >= 0" "$name: user disabled, its connections killed:" \
        "503 after $WAITED ms ($CODES)"
    sleep 2
    says_why "$name" "the refused AUTH" \
        "refused AUTH as user \"$REDIS_ACL_USER\": WRONGPASS"
    n=$(grep -c 'refused AUTH' "$W/nginx-$name/logs/error.log")
    now_ms
    # 2 connections (commands, pub/sub) at 50, 100, 200, 400, 500 ms...
    assert "n >= 2 && n <= 2 * (4 + (NOW - t0) / 500 + 1)" \
        "$name: AUTH retried with backoff: $n refusals in $((NOW - t0)) ms"

    before=$(cat "$W/nginx-$name/nginx.pid")
    rcli acl setuser "$REDIS_ACL_USER" on > /dev/null
    until_status "$name" 200 3000
    assert "WAITED >= 0 && WAITED <= 1500" "$name: user enabled again:" \
        "admitted after $WAITED ms, no reload ($CODES)"
    assert "$before == $(cat "$W/nginx-$name/nginx.pid")" \
        "$name: the same master throughout"
    nginx_stop "$name"
    no_crash "$name"
}

part_faults() {
    local name t0 before plain n
    say "tls: faults over TLS"

    # admitted through TLS, with a client certificate
    with tls-client
    seed "$ROOM" "$ALICE" Presenter
    name=tls-ok
    fault_conf "$EXTRA" "$SSL" | nginx_start "$name" || return
    assert "$(status "$name") == 200 && $(status "$name" "$TOK_MALLORY") == 403" \
        "$name: over TLS the invitee is admitted, a stranger refused"

    # killed, then restarted (its data is gone: seeded again)
    kill -KILL "$(cat "$REDIS_DIR/redis/redis.pid")"
    until_status "$name" 503 $((TIMEOUT_MS + 2000))
    assert "WAITED >= 0" "$name: Redis killed: 503 after $WAITED ms ($CODES)"
    sleep 1
    before=$(cat "$W/nginx-$name/nginx.pid")
    "$ROOT/scripts/redis-servers" restart "$REDIS_DIR" "$PORT" \
        > /dev/null 2>> "$W/redis-tls-client.log"
    seed "$ROOM" "$ALICE" Presenter
    until_status "$name" 200 3000
    assert "WAITED >= 0 && WAITED <= 1500" "$name: Redis restarted:" \
        "admitted again after $WAITED ms, without a reload ($CODES)"

    # stalled for 2 s: 503 at the timeout, then admitted again
    rcli debug sleep 2 > /dev/null &
    sleep 0.2
    now_ms; t0=$NOW
    n=$(status "$name")
    now_ms
    assert "n == 503 && NOW - t0 <= TIMEOUT_MS + 300" \
        "$name: Redis stalled: $n after $((NOW - t0)) ms" \
        "(timeout $TIMEOUT_MS ms)"
    wait
    until_status "$name" 200 2000
    assert "WAITED >= 0" "$name: stall over: admitted after $WAITED ms" \
        "($CODES)"
    assert "$before == $(cat "$W/nginx-$name/nginx.pid")" \
        "$name: the same master throughout, no reload"
    nginx_stop "$name"
    no_crash "$name"

    # no client certificate where the server requires one
    name=tls-no-client-cert
    fault_conf "$EXTRA" "rooms_redis_ssl_trusted_certificate $REDIS_CA;
    rooms_redis_ssl_server_name localhost;" | nginx_start "$name" || return
    assert "$(status "$name") == 503" \
        "$name: no client certificate: 503, never admitted"
    sleep 0.5
    says_why "$name" "the refused handshake" \
        'handshake|certificate|alert|SSL_'
    nginx_stop "$name"
    no_crash "$name"

    with tls
    seed "$ROOM" "$ALICE" Presenter

    # a CA that did not sign the server's certificate
    name=tls-wrong-ca
    fault_conf "$EXTRA" "rooms_redis_ssl_trusted_certificate $REDIS_OTHER_CA;
    rooms_redis_ssl_server_name localhost;" | nginx_start "$name" || return
    assert "$(status "$name") == 503" "$name: wrong CA: 503, never admitted"
    sleep 0.5
    says_why "$name" "the failed verification" \
        'certificate|verif'
    nginx_stop "$name"
    no_crash "$name"

    # the right CA, a certificate for another name
    name=tls-wrong-name
    fault_conf "$EXTRA" "$SSL" "$REDIS_TLS_WRONG_NAME_PORT" \
        | nginx_start "$name" || return
    assert "$(status "$name") == 503" \
        "$name: certificate for wrong.example, not localhost: 503"
    sleep 0.5
    says_why "$name" "the name that does not match" \
        'certificate|verif|match|name'
    nginx_stop "$name"
    no_crash "$name"

    # "tls" against a plaintext Redis: no fallback, not one command sent
    plain=$(free_port)
    start_redis "$W/redis-plain" "$plain" || return
    name=tls-to-plaintext
    fault_conf "tls password=not-for-plaintext" "$SSL" "$plain" \
        | nginx_start "$name" || return
    assert "$(status "$name") == 503" "$name: a plaintext server: 503"
    sleep 1
    n=$(redis-cli -p "$plain" info commandstats \
        | grep -c -E '^cmdstat_(auth|select|script|subscribe|evalsha|hmget)')
    assert "n == 0" "$name: the plaintext server got no command" \
        "($n kinds seen)"
    redis-cli -p "$plain" shutdown nosave > /dev/null 2>&1
    nginx_stop "$name"
    no_crash "$name"
}


# --- valgrind over the TLS paths ----------------------------------------------

VG_SUPP=$ROOT/t/valgrind.suppress
declare -A VG_PID

# conf | vg_start NAME: like nginx_start, one process under memcheck (a
# TLS handshake under valgrind takes a while: the conf's timeout is long)
vg_start() {
    local name=$1 dir=$W/nginx-$1 port
    port=$(free_port)
    NPORT[$name]=$port
    mkdir -p "$dir/logs"
    sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" \
        -e '1a master_process off;\ndaemon off;' > "$dir/nginx.conf"
    valgrind -q --tool=memcheck --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --num-callers=40 --suppressions="$VG_SUPP" \
        --log-file="$dir/valgrind.log" \
        "$NGINX_REAL" -p "$dir" -c "$dir/nginx.conf" \
        -e "$dir/logs/error.log" 2> "$dir/start.err" &
    VG_PID[$name]=$!
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
                 "http://127.0.0.1:$port/health")" = 204 ] && return 0
        kill -0 "${VG_PID[$name]}" 2>/dev/null || break
        sleep 0.2
    done
    fail "$name: nginx under valgrind does not answer: $(head -3 "$dir/start.err")"
    return 1
}

# vg_stop NAME: a graceful stop (exit_process closes the connections),
# then the report: empty, or the check fails
vg_stop() {
    local name=$1 dir=$W/nginx-$1
    kill -QUIT "${VG_PID[$name]}" 2>/dev/null
    wait "${VG_PID[$name]}" 2>/dev/null
    if [ ! -f "$dir/valgrind.log" ]; then
        fail "$name: no valgrind report at all"
    elif [ -s "$dir/valgrind.log" ]; then
        fail "$name: valgrind reports errors or leaks ($dir/valgrind.log)"
        head -40 "$dir/valgrind.log" | sed 's/^/  vg: /'
    else
        pass "$name: valgrind: no error, no definite leak"
    fi
    no_crash "$name"
}

part_valgrind() {
    local name codes
    say "tls: valgrind over the TLS paths"
    if ! command -v valgrind > /dev/null; then
        fail "valgrind is not installed"
        return
    fi

    # handshakes, requests, a reconnect that resumes the session
    with tls-client
    seed "$ROOM" "$ALICE" Presenter
    name=vg-tls
    TIMEOUT_MS=5000 fault_conf "$EXTRA" "$SSL" | vg_start "$name" || return
    until_status "$name" 200 20000
    assert "WAITED >= 0 && $(status "$name" "$TOK_MALLORY") == 403" \
        "$name: under valgrind, over TLS with a client certificate:" \
        "admitted after $WAITED ms, a stranger refused"
    kill -KILL "$(cat "$REDIS_DIR/redis/redis.pid")"
    until_status "$name" 503 15000
    assert "WAITED >= 0" "$name: Redis killed: 503 ($CODES)"
    "$ROOT/scripts/redis-servers" restart "$REDIS_DIR" "$PORT" \
        > /dev/null 2>> "$W/redis-tls-client.log"
    seed "$ROOM" "$ALICE" Presenter
    until_status "$name" 200 20000
    assert "WAITED >= 0" "$name: Redis restarted: admitted again after" \
        "$WAITED ms ($CODES)"
    vg_stop "$name"

    # verification fails: a CA that did not sign the server's certificate
    with tls
    seed "$ROOM" "$ALICE" Presenter
    name=vg-wrong-ca
    TIMEOUT_MS=5000 fault_conf "$EXTRA" \
        "rooms_redis_ssl_trusted_certificate $REDIS_OTHER_CA;
    rooms_redis_ssl_server_name localhost;" | vg_start "$name" || return
    codes=$(status "$name")
    sleep 1
    codes+=" $(status "$name")"
    assert "${codes% *} == 503 && ${codes#* } == 503" \
        "$name: wrong CA under valgrind: $codes"
    says_why "$name" "the failed verification" 'certificate|verif'
    vg_stop "$name"

    # a client certificate the server requires and does not get
    with tls-client
    name=vg-no-client-cert
    TIMEOUT_MS=5000 fault_conf "$EXTRA" \
        "rooms_redis_ssl_trusted_certificate $REDIS_CA;
    rooms_redis_ssl_server_name localhost;" | vg_start "$name" || return
    codes=$(status "$name")
    sleep 1
    codes+=" $(status "$name")"
    assert "${codes% *} == 503 && ${codes#* } == 503" \
        "$name: refused client under valgrind: $codes"
    vg_stop "$name"
}


# --- ASan: nginx with the runtime preloaded, reports checked at the end -------

asan_setup() {
    local preload
    build_asan > /dev/null || { echo "the ASan build failed" >&2; exit 1; }
    preload=$(gcc -print-file-name=libasan.so)
    mkdir -p "$W/asan"
    # only nginx runs under the runtime (prove-t, curl, node do not)
    cat > "$W/nginx-asan" << WRAPPER
#!/bin/sh
LD_PRELOAD=$preload
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:log_path=$W/asan/asan
UBSAN_OPTIONS=print_stacktrace=1:log_path=$W/asan/ubsan
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec $NGINX_REAL "\$@"
WRAPPER
    chmod +x "$W/nginx-asan"
    NGINX_BIN=$W/nginx-asan
}

asan_check() {
    local f
    f=$(grep -l -E 'ngx_|rooms_' "$W"/asan/* 2>/dev/null | head -5)
    if [ -n "$f" ]; then
        fail "ASan/UBSan reports naming nginx or the module: $f"
        # shellcheck disable=SC2086
        cat $f | head -60 | sed 's/^/  asan: /'
    else
        pass "no ASan or UBSan report ($(find "$W/asan" -type f | wc -l) report files)"
    fi
}


# --- main ------------------------------------------------------------------------

install_deps libio-socket-ssl-perl || exit 1

if [ ! -f "$SO" ]; then
    echo "$SO missing: run scripts/build" >&2
    exit 1
fi

rm -rf "$W"
mkdir -p "$W"
[ -z "$ASAN" ] || asan_setup
perl -I"$ROOT/t" -MRoomsTest -e 'print $RoomsTest::TEST_JWKS' > "$JWKS"
TOK_ALICE=$(token "$ALICE")
TOK_MALLORY=$(token "$MALLORY")

say "tls: starting the topologies"
topology acl acl || exit 1
topology tls tls || exit 1
topology tls-client tls --client-certs || exit 1
topology acl-tls acl --tls --client-certs || exit 1

for p in $PARTS; do
    case $p in
    acl)
        with acl
        part_suites acl
        part_acl_refused
        ;;
    tls|tls-client|acl-tls)
        with "$p"
        part_suites "$p"
        ;;
    faults)
        part_faults
        ;;
    valgrind)
        part_valgrind
        ;;
    *)
        fail "unknown part $p"
        ;;
    esac
done

[ -z "$ASAN" ] || asan_check

say "tls: $npass passed, $nfail failed"
for f in "${FAILS[@]}"; do
    echo "  FAIL $f"
done
[ "$nfail" -eq 0 ]
