#!/usr/bin/env bash
# The gateway on a Redis Cluster (issue 13), started here: six nodes, three
# masters with a replica each, cluster-node-timeout 2000
# (scripts/redis-servers cluster).  Parts, in order:
#
#   t        the t/ suites (API, admission, caches, refusals) against the
#            cluster: copies in build/cluster/t without db= and with every
#            node as a seed, RoomsTest's redis() following MOVED
#   tls      a second cluster of six TLS-only nodes (--port 0, TLS on the
#            cluster bus too): the API, admission, proxy and cache-zone
#            t/ suites through "cluster tls", the server certificates
#            verified; no node answers in plaintext
#   sdk      the official Azure SDK suites against the cluster
#   kill     a master killed (-9) under load, its replica promoted: refused
#            users get no 2xx, invited ones 2xx or 503 only, no worker
#            crash, admitted again within cluster-node-timeout + 2 s of
#            the kill's failover (figures printed)
#   valgrind nginx in one process under memcheck while the probe room's
#            slot is resharded (ASK, MOVED) and its master killed (sentinel:
#            SENTINEL FAILOVER): admitted again after each, no error, no
#            definite leak
#   reshard  a room's slot moved under load, step by step
#            (scripts/redis-servers reshard: MIGRATING, keys moved: ASK,
#            then SETSLOT NODE: MOVED): the same checks, ASKING seen on
#            the target node
#
# With CLUSTER_TOPOLOGY=sentinel (lua-free-tests/sentinel/run.sh) the same
# against a Sentinel set instead (a master, its replica, three sentinels:
# scripts/redis-servers sentinel), "sentinel=rooms" with every sentinel as
# an address, db= kept; its parts: t, sdk, kill (the master killed, the
# sentinels promote the replica), failover (SENTINEL FAILOVER) and
# valgrind.
#
# With CLUSTER_ASAN=1 the fault parts (by default) run against the
# ASan+UBSan build (build/asan, made by build_asan), nginx with the
# runtime preloaded: any report naming nginx or the module fails; it works
# in build/cluster-asan (build/sentinel-asan).
#
# Checks print PASS/FAIL lines with their figures; exits non-zero on any
# failure.  Everything runs under build/cluster (build/sentinel) on free
# ports and is stopped by a trap.
#
#   lua-free-tests/cluster/run.sh                (after scripts/build)
#   CLUSTER_PARTS="kill reshard" lua-free-tests/cluster/run.sh
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

TOPO=${CLUSTER_TOPOLOGY:-cluster}
ASAN=${CLUSTER_ASAN:-}
W=$ROOT/build/$TOPO${ASAN:+-asan}
FAULTS=$ROOT/lua-free-tests/faults
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$TOPO" = sentinel ]; then
    PARTS=${CLUSTER_PARTS:-${ASAN:+kill failover}}
    PARTS=${PARTS:-t sdk kill failover valgrind}
else
    PARTS=${CLUSTER_PARTS:-${ASAN:+kill reshard}}
    PARTS=${PARTS:-t tls sdk kill reshard valgrind}
fi
if [ -n "$ASAN" ]; then
    MODULE=$ROOT/build/asan/ngx_http_rooms_module.so
fi
NODE_TIMEOUT_MS=2000            # redis-servers' cluster-node-timeout
TIMEOUT_MS=1000                 # rooms_redis timeout=
PL=(perl "$FAULTS/faults.pl")
RS=$ROOT/scripts/redis-servers

npass=0
nfail=0
FAILS=()
BG=()
PORT=

pass() { echo "PASS $*"; npass=$((npass + 1)); }
fail() { echo "FAIL $*"; nfail=$((nfail + 1)); FAILS+=("$*"); }

assert() {
    local cond=$1
    shift
    if (( $cond )); then pass "$@"; else fail "$@"; fi
}

record() {
    local l
    while IFS= read -r l; do
        echo "$l"
        case $l in
        PASS*) npass=$((npass + 1)) ;;
        FAIL*) nfail=$((nfail + 1)); FAILS+=("${l#FAIL }") ;;
        esac
    done
}

now_ms() { NOW=$(( ${EPOCHREALTIME//[.,]/} / 1000 )); }

cleanup() {
    local p
    for p in "${BG[@]}"; do
        kill "$p" 2>/dev/null
    done
    [ -f "$W/nginx/nginx.pid" ] && stop_pidfile "$W/nginx/nginx.pid" QUIT
    [ -d "$W/rc" ] && "$RS" stop "$W/rc" 2>/dev/null
    [ -d "$W/tls-rc" ] && "$RS" stop "$W/tls-rc" 2>/dev/null
    [ -d "$W/sdk" ] && stop_pidfile "$W/sdk/nginx.pid" QUIT
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the cluster's current roles and seeds, from DIR/env
cluster_env() {
    # shellcheck disable=SC1091
    . "$W/rc/env"
}

# the port of the master serving SLOT, as node PORT sees it
slot_owner() {
    redis-cli -p "$1" cluster nodes 2>/dev/null | awk -v s="$2" '
        $3 ~ /master/ && $3 !~ /fail/ {
            split($2, a, "[:@]")
            for (i = 9; i <= NF; i++) {
                if ($i !~ /^[0-9]/) continue
                n = split($i, r, "-")
                if (n == 1) r[2] = r[1]
                if (s + 0 >= r[1] + 0 && s + 0 <= r[2] + 0) print a[2]
            }
        }'
}

# rooms_redis' arguments for database DB (a cluster has none)
redis_args() {
    if [ "$TOPO" = sentinel ]; then
        echo "$REDIS_SENTINEL_SEEDS sentinel=$REDIS_SENTINEL_MASTER_NAME db=$1"
    else
        echo "$REDIS_CLUSTER_SEEDS cluster"
    fi
}

# a live node of the cluster
any_node() {
    local p
    for p in $REDIS_CLUSTER_MASTERS $REDIS_CLUSTER_REPLICAS; do
        [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && { echo "$p"; return; }
    done
}

start_nginx() {
    local dir=$W/nginx
    PORT=$(free_port)
    mkdir -p "$dir/logs" "$dir/www"
    echo "admitted" > "$dir/www/ok.txt"
    sed -e "s|@MODULE@|$MODULE|g" -e "s|@PORT@|$PORT|g" \
        -e "s|^\( *rooms_redis \).*|\1$(redis_args 7) timeout=${TIMEOUT_MS}ms connections=2;|" \
        -e "s|@KEY@|$KEY|g" -e "s|@JWKS@|$W/jwks.json|g" \
        -e "s|@WWW@|$dir/www|g" \
        -e 's|^\( *\)location = /health .*|&\n\1location = /metrics { rooms_metrics; }|' \
        "$FAULTS/nginx.conf.in" > "$dir/nginx.conf"
    if [ -n "$ASAN" ]; then
        mkdir -p "$W/asan"
        chmod 1777 "$W/asan"            # the workers (nobody) write reports
        LD_PRELOAD=$(gcc -print-file-name=libasan.so) \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$W/asan/asan" \
        UBSAN_OPTIONS="print_stacktrace=1:log_path=$W/asan/ubsan" \
            "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
            || return 1
    else
        "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
            || return 1
    fi
    for _ in $(seq 50); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] \
            && return 0
        sleep 0.1
    done
    echo "cluster: nginx did not start" >&2
    return 1
}

master_pid() { cat "$W/nginx/nginx.pid" 2>/dev/null; }

# metric NAME_WITH_LABELS: its value on the gateway's /metrics (0 if absent)
metric() {
    curl -s "http://127.0.0.1:$PORT/metrics" \
        | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
workers() { pgrep -P "$(master_pid)" -f '^nginx: worker process' | sort -n | tr '\n' ' '; }
log_size() { stat -c %s "$W/nginx/logs/error.log" 2>/dev/null || echo 0; }

# log_problems OFFSET WHAT: no crash, [alert] or [emerg] since OFFSET
log_problems() {
    local off=$1 what=$2 hits n
    hits=$(tail -c +"$(($1 + 1))" "$W/nginx/logs/error.log" \
           | grep -E 'exited on signal|exited with code [1-9]|\[alert\]|\[emerg\]')
    n=$(printf '%s' "$hits" | grep -c .)
    assert "n == 0" "$what: no worker crash or abnormal exit, [alert] or [emerg] ($n lines)"
    [ "$n" -gt 0 ] && printf '%s\n' "$hits" | head -8 | sed 's/^/  log: /'
}

# subscriptions: "PORT:N ..." for the nodes with the gateway's pub/sub
# channel subscribed (SUBS), and their total (NSUBS)
subscriptions() {
    local p n ch ports
    if [ "$TOPO" = sentinel ]; then
        ch=rooms:events:7 ports="$REDIS_MASTER_PORT $REDIS_REPLICA_PORT"
    else
        ch=rooms:events:0 ports=$REDIS_CLUSTER_PORTS
    fi
    SUBS= NSUBS=0
    for p in $ports; do
        n=$(redis-cli -p "$p" pubsub numsub "$ch" 2>/dev/null | sed -n 2p)
        [ -n "$n" ] && [ "$n" -gt 0 ] || continue
        SUBS+="$p:$n "
        NSUBS=$((NSUBS + n))
    done
}

# run_wrk FILE SECONDS CONNS OUT LABEL (cache off: every decision asks Redis)
run_wrk() {
    wrk -t1 -c"$3" -d"$2"s --timeout 5s -s "$FAULTS/rotate.lua" \
        "http://127.0.0.1:$PORT" -- "$W/$1" /nc/media/ keep "$5" > "$4" 2>&1 &
    BG+=($!)
}

wrk_field() {
    local v
    v=$(grep -m1 '^WRK ' "$1" 2>/dev/null | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}')
    echo "${v:--1}"
}

wrk_line() { grep -m1 '^WRK ' "$1" 2>/dev/null || { echo "no WRK line in $1:"; head -5 "$1"; }; }

# probe OUT SECONDS: the probe user's admission every 50 ms, "MS CODE" lines
probe() {
    local out=$1 end code
    now_ms
    end=$((NOW + $2 * 1000))
    : > "$out"
    while now_ms; (( NOW < end )); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
               -H "Authorization: Bearer $P_TOKEN" \
               "http://127.0.0.1:$PORT/nc/media/$P_ROOM/x")
        now_ms
        echo "$NOW $code" >> "$out"
        sleep 0.05
    done
}

# probe_figures OUT T0: PROBE_LAST_BAD (ms after T0 of the last answer
# other than 200, -1: none), PROBE_BACK (ms after T0 of the first 200
# after it), PROBE_CODES (a count of each status)
probe_figures() {
    read -r PROBE_LAST_BAD PROBE_BACK < <(awk -v t0="$2" '
        $1 >= t0 { if ($2 != 200) { bad = $1 - t0; back = -1 }
                   else if (back < 0 && bad >= 0) back = $1 - t0 }
        BEGIN { bad = -1; back = -1 }
        END { print bad, (bad < 0 ? 0 : back) }' "$1")
    PROBE_CODES=$(awk '{ n[$2]++ } END { for (c in n) printf "%s x%d ", c, n[c] }' "$1")
}

# load_checks LABEL OUT_INVITED OUT_REFUSED
load_checks() {
    local label=$1 oi=$2 or=$3 i2 i503 iother r2
    wrk_line "$oi" | sed 's/^/  /'
    wrk_line "$or" | sed 's/^/  /'
    i2=$(wrk_field "$oi" 2xx) i503=$(wrk_field "$oi" 503)
    iother=$(( $(wrk_field "$oi" 401) + $(wrk_field "$oi" 403) + $(wrk_field "$oi" other) + $(wrk_field "$oi" 5xx_other) ))
    r2=$(wrk_field "$or" 2xx)
    assert "r2 == 0 && $(wrk_field "$or" requests) > 0" \
        "$label: refused users never admitted ($r2 2xx of $(wrk_field "$or" requests);" \
        "$(wrk_field "$or" 401) x 401, $(wrk_field "$or" 403) x 403, $(wrk_field "$or" 503) x 503)"
    assert "i2 > 0 && iother == 0" \
        "$label: invited users get 2xx or 503 only ($i2 x 2xx, $i503 x 503, $iother other)"
    assert "$(wrk_field "$or" 5xx_other) == 0" \
        "$label: no 5xx but 503 for refused users ($(wrk_field "$or" 5xx_other))"
    FIG+=("$label: invited $i2 x 2xx, $i503 x 503; refused $r2 x 2xx of $(wrk_field "$or" requests)")
}


#--------------------------------------------------------------------------
# parts
#--------------------------------------------------------------------------

part_t() {
    local f out rc
    say "$TOPO t: the t/ suites against the $TOPO"
    mkdir -p "$W/t"
    # 012 stops and stalls a Redis of its own: not a cluster's
    for f in "$ROOT"/t/00[1-4]-*.t "$ROOT"/t/01[013456]-*.t; do
        if [ "$TOPO" = sentinel ]; then
            # the sentinels instead of the master's address, db= kept
            sed -E '/rooms_redis /{s/rooms_redis 127\.0\.0\.1:\$TEST_NGINX_REDIS_PORT/rooms_redis $TEST_NGINX_REDIS_SEEDS/}' \
                "$f" > "$W/t/${f##*/}"
        else
            sed -E '/rooms_redis /{s/ db=[0-9]+//;s/rooms_redis 127\.0\.0\.1:\$TEST_NGINX_REDIS_PORT/rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT $TEST_NGINX_REDIS_SEEDS/}' \
                "$f" > "$W/t/${f##*/}"
        fi
    done
    out=$W/t.log
    (
        cd "$ROOT" || exit 1
        if [ "$TOPO" = sentinel ]; then
            export TEST_NGINX_REDIS_PORT=$REDIS_MASTER_PORT \
                   TEST_NGINX_REDIS_SEEDS="$REDIS_SENTINEL_SEEDS" \
                   TEST_NGINX_ROOMS_REDIS_EXTRA="sentinel=$REDIS_SENTINEL_MASTER_NAME"
        else
            export TEST_NGINX_REDIS_CLUSTER="$REDIS_CLUSTER_PORTS" \
                   TEST_NGINX_REDIS_PORT=${REDIS_CLUSTER_MASTERS%% *} \
                   TEST_NGINX_REDIS_SEEDS="$REDIS_CLUSTER_SEEDS" \
                   TEST_NGINX_ROOMS_REDIS_EXTRA=cluster
        fi
        TEST_NGINX_LOAD_MODULES=$MODULE \
        TEST_NGINX_BINARY=$NGINX_BIN TEST_NGINX_SERVER_PORT=$(free_port) \
            "$ROOT/scripts/prove-t" "$W"/t/*.t
    ) > "$out" 2>&1
    rc=$?
    tail -n 14 "$out" | sed 's/^/  /'
    assert "rc == 0" "t: the t/ suites pass against the $TOPO ($(grep -o 'Tests=[0-9]*' "$out" | tail -1))"
}

part_tls() {
    local f out rc p plain=0
    say "cluster tls: the t/ suites against a cluster of TLS-only nodes"
    "$RS" stop "$W/tls-rc" 2>/dev/null
    "$RS" cluster "$W/tls-rc" --tls > "$W/tls-rc.env" 2> "$W/tls-rc.err" \
        || { fail "tls: the TLS cluster did not start"; tail -3 "$W/tls-rc.err" | sed 's/^/  /'; return; }
    mkdir -p "$W/tls-t"
    for f in "$ROOT"/t/001-*.t "$ROOT"/t/010-*.t "$ROOT"/t/011-*.t "$ROOT"/t/014-*.t; do
        sed -E '/rooms_redis /{s/ db=[0-9]+//;s/rooms_redis 127\.0\.0\.1:\$TEST_NGINX_REDIS_PORT/rooms_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT $TEST_NGINX_REDIS_SEEDS/}' \
            "$f" > "$W/tls-t/${f##*/}"
    done
    out=$W/tls-t.log
    (
        # shellcheck disable=SC1091
        . "$W/tls-rc.env"
        cd "$ROOT" || exit 1
        export TEST_NGINX_REDIS_CLUSTER="$REDIS_CLUSTER_PORTS" \
               TEST_NGINX_REDIS_PORT=${REDIS_CLUSTER_MASTERS%% *} \
               TEST_NGINX_REDIS_SEEDS="$REDIS_CLUSTER_SEEDS" \
               TEST_NGINX_REDIS_CA=$REDIS_CA \
               TEST_NGINX_ROOMS_REDIS_EXTRA="cluster tls" \
               TEST_NGINX_ROOMS_REDIS_SSL="rooms_redis_ssl_trusted_certificate $REDIS_CA; rooms_redis_ssl_server_name $REDIS_TLS_SERVER_NAME;"
        TEST_NGINX_LOAD_MODULES=$MODULE \
        TEST_NGINX_BINARY=$NGINX_BIN TEST_NGINX_SERVER_PORT=$(free_port) \
            "$ROOT/scripts/prove-t" "$W"/tls-t/*.t
    ) > "$out" 2>&1
    rc=$?
    tail -n 8 "$out" | sed 's/^/  /'
    assert "rc == 0" "tls: the t/ suites pass against a TLS cluster ($(grep -o 'Tests=[0-9]*' "$out" | tail -1))"
    # shellcheck disable=SC1091
    for p in $(. "$W/tls-rc.env"; echo "$REDIS_CLUSTER_PORTS"); do
        [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && plain=$((plain + 1))
    done
    assert "plain == 0" "tls: no node of it answers in plaintext ($plain)"
    "$RS" stop "$W/tls-rc" 2>/dev/null
}

part_sdk() {
    local dir=$W/sdk port key rc
    say "$TOPO sdk: the Azure SDK suites against the $TOPO"
    port=$(free_port)
    key=$(head -c 32 /dev/urandom | base64)
    mkdir -p "$dir/logs"
    node "$ROOT/scripts/make-jwks.mjs" > "$dir/jwks.json" || { fail "sdk: no JWKS"; return; }
    sed -e "s|@MODULE@|$MODULE|g" -e "s|@PORT@|$port|g" \
        -e "s|^\( *rooms_redis \).*|\1$(redis_args 3) timeout=2s connections=2;|" \
        -e "s|@KEY@|$key|g" -e "s|@JWKS@|$dir/jwks.json|g" \
        "$ROOT/lua-free-tests/sdk/nginx.conf.in" > "$dir/nginx.conf"
    "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        || { fail "sdk: nginx did not start"; return; }
    sleep 0.5
    ROOMS_CONNECTION_STRING="endpoint=http://127.0.0.1:$port/;accesskey=$key" \
        ROOMS_GATEWAY="http://127.0.0.1:$port" \
        "$ROOT/lua-free-tests/sdk/run.sh" > "$W/sdk.log" 2>&1
    rc=$?
    stop_pidfile "$dir/nginx.pid" QUIT
    grep -E '^(PASS|FAIL|ok|not ok)|passed|failed' "$W/sdk.log" | tail -n 8 | sed 's/^/  /'
    assert "rc == 0" "sdk: the SDK suites pass against the $TOPO (see $W/sdk.log)"
    n=$(grep -cE '\[(alert|emerg)\]|exited on signal' "$dir/logs/error.log")
    assert "n == 0" "sdk: no worker crash, [alert] or [emerg] ($n lines)"
}

# the gateway for the fault parts, with rooms and tokens (once)
gateway() {
    [ -n "$PORT" ] && return 0
    KEY=$(head -c 32 /dev/urandom | base64)
    "${PL[@]}" keys "$W" || return 1
    start_nginx || return 1
    export FAULTS_ENDPOINT="http://127.0.0.1:$PORT" FAULTS_KEY=$KEY
    "${PL[@]}" setup "$W" 24 8 || { echo "cluster: setup failed" >&2; return 1; }
    # shellcheck disable=SC1091
    . "$W/probe.env"
    P_ROOM=$ROOM P_TOKEN=$TOKEN
    if [ "$TOPO" = cluster ]; then
        P_SLOT=$(redis-cli -p "$(any_node)" cluster keyslot "rooms:{$P_ROOM}")
    else
        P_SLOT=-
    fi
    say "$TOPO: nginx :$PORT, probe room $P_ROOM (slot $P_SLOT)"
}

# a cluster: the probe moved to a room on the master that holds most of
# the gateway's subscriptions, so that killing it moves them too
probe_on_subscribed_master() {
    local best=0 m p n room token slot
    subscriptions
    for p in $SUBS; do
        n=${p#*:}
        if [ "$n" -gt "$best" ] && grep -qw "${p%%:*}" <<< "$REDIS_CLUSTER_MASTERS"; then
            best=$n m=${p%%:*}
        fi
    done
    [ -n "${m:-}" ] || return 0
    while read -r room token; do
        [ "${room#*/}" = x ] || continue
        room=${room%/x}
        slot=$(redis-cli -p "$m" cluster keyslot "rooms:{$room}")
        if [ "$(slot_owner "$m" "$slot")" = "$m" ]; then
            P_ROOM=$room P_TOKEN=$token P_SLOT=$slot
            echo "  probe: room $P_ROOM (slot $P_SLOT) on master $m, which holds $best subscriptions"
            return 0
        fi
    done < "$W/invited.txt"
}

# part_kill [failover]: the master killed (-9), or SENTINEL FAILOVER
part_kill() {
    local how=${1:-kill} victim t_kill off w0 w1 same oi or po took fo_ms limit
    local n up m_conn
    if [ "$how" = failover ]; then
        say "sentinel failover: SENTINEL FAILOVER under load"
    else
        say "$TOPO kill: the master (of the probe room's slot) killed under load"
    fi
    gateway || { fail "$how: no gateway"; return; }
    cluster_env
    if [ "$how" = failover ] && [ -n "${REDIS_KILLED_PORT:-}" ] \
       && [ "$(redis-cli -p "$REDIS_KILLED_PORT" ping 2>/dev/null)" != PONG ]
    then
        # the master killed before comes back as a replica to fail over to
        "$RS" restart "$W/rc" "$REDIS_KILLED_PORT" > /dev/null 2> "$W/restart.err" \
            || { fail "$how: the killed master did not come back"; sed 's/^/  /' "$W/restart.err"; return; }
        cluster_env
    fi
    if [ "$TOPO" = sentinel ]; then
        victim=$REDIS_MASTER_PORT
    else
        probe_on_subscribed_master
        victim=$(slot_owner "$(any_node)" "$P_SLOT")
    fi
    off=$(log_size)
    w0=$(workers)
    m_conn=$(metric 'rooms_redis_errors_total{kind="connection"}')
    subscriptions
    echo "  pub/sub subscriptions before: $SUBS(master $victim)"
    oi=$W/kill-invited.out or=$W/kill-refused.out po=$W/kill-probe.out
    run_wrk invited.txt 16 16 "$oi" kill-invited
    run_wrk refused.txt 16 16 "$or" kill-refused
    probe "$po" 16 &
    BG+=($!)
    sleep 3
    now_ms; t_kill=$NOW
    REDIS_FAILOVER_SECONDS=
    if [ "$how" = failover ]; then
        "$RS" sentinel-failover "$W/rc" > "$W/kill.env" 2> "$W/kill.err"
    elif [ "$TOPO" = sentinel ]; then
        "$RS" kill-master "$W/rc" > "$W/kill.env" 2> "$W/kill.err"
    else
        "$RS" kill-master "$W/rc" "$victim" > "$W/kill.env" 2> "$W/kill.err"
    fi
    [ $? -eq 0 ] || { fail "$how: scripts/redis-servers failed"; tail -3 "$W/kill.err" | sed 's/^/  /'; }
    # shellcheck disable=SC1091
    . "$W/kill.env"
    took=${REDIS_FAILOVER_SECONDS:-99}
    fo_ms=$(awk -v s="$took" 'BEGIN { printf "%d", s * 1000 }')
    wait
    probe_figures "$po" "$t_kill"
    w1=$(workers)
    echo "  $how: master $victim, ${REDIS_PROMOTED_PORT:-${REDIS_MASTER_PORT:-?}} master now; the $TOPO was ok again ${took} s after it began"
    echo "  probe every 50 ms: $PROBE_CODES; last failure ${PROBE_LAST_BAD} ms after it began, admitted again at ${PROBE_BACK} ms"
    load_checks "$how" "$oi" "$or"
    limit=$((fo_ms + 2000))
    assert "PROBE_BACK >= 0 && PROBE_BACK <= limit" \
        "$how: the probe user admitted again ${PROBE_BACK} ms after it began, within the failover (${fo_ms} ms) + 2 s"
    if [ "$TOPO" = cluster ]; then
        echo "  INFO $how: from the kill: ${PROBE_BACK} ms against cluster-node-timeout + 2 s = $((NODE_TIMEOUT_MS + 2000)) ms (the cluster itself took ${fo_ms} ms)"
    fi
    same=0; [ "$w0" = "$w1" ] && same=1
    assert "same" "$how: the same workers before and after, none respawned ($w0/ $w1)"
    cluster_env
    for _ in $(seq 60); do
        subscriptions
        [ "$NSUBS" -ge "$(wc -w <<< "$w1")" ] && break
        sleep 0.05
    done
    assert "NSUBS >= $(wc -w <<< "$w1")" \
        "$how: every worker subscribed again on a live node ($SUBS)"
    # the metrics saw it: a master killed is a lost connection of every
    # worker, and once the map is whole again every node that holds slots
    # is up (a failover on request loses no connection: nothing to count)
    if [ "$how" = kill ]; then
        n=$(metric 'rooms_redis_errors_total{kind="connection"}')
        assert "n > m_conn" \
            "$how: rooms_redis_errors_total{kind=\"connection\"} counted the lost master ($m_conn -> $n)"
    fi
    up=0
    for _ in $(seq 60); do
        up=$(metric rooms_redis_up)
        [ "$up" = 1 ] && break
        sleep 0.1
    done
    assert "up == 1" "$how: rooms_redis_up is 1 again once the $TOPO has a master for every slot"
    if command -v promtool > /dev/null; then
        curl -s "http://127.0.0.1:$PORT/metrics" > "$W/metrics.txt"
        promtool check metrics < "$W/metrics.txt" > "$W/promtool.out" 2>&1
        assert "$? == 0" "$how: promtool check metrics accepts the gateway's metrics"
    fi
    log_problems "$off" "$how"
    FIG+=("$how: $TOPO failover ${took} s; probe admitted again ${PROBE_BACK} ms after it began ($((PROBE_BACK - fo_ms)) ms after the failover)")
    "${PL[@]}" check-gateway "$W" 2>&1 | record
}

part_reshard() {
    local from to p t0 off w0 w1 same oi or po asking keys
    say "cluster reshard: the probe room's slot moved under load (ASK, then MOVED)"
    gateway || { fail "reshard: no gateway"; return; }
    cluster_env
    from=$(slot_owner "$(any_node)" "$P_SLOT")
    to=
    for p in $REDIS_CLUSTER_MASTERS; do
        [ "$p" != "$from" ] && { to=$p; break; }
    done
    off=$(log_size)
    w0=$(workers)
    asking=$(redis-cli -p "$to" info commandstats | sed -n 's/^cmdstat_asking:calls=\([0-9]*\).*/\1/p')
    oi=$W/reshard-invited.out or=$W/reshard-refused.out po=$W/reshard-probe.out
    run_wrk invited.txt 12 16 "$oi" reshard-invited
    run_wrk refused.txt 12 16 "$or" reshard-refused
    probe "$po" 12 &
    BG+=($!)
    sleep 2
    now_ms; t0=$NOW
    "$RS" reshard "$W/rc" "$P_SLOT" "$to" --pause-after-keys > "$W/reshard.env" 2> "$W/reshard.err" \
        || { fail "reshard: redis-servers reshard failed"; sed 's/^/  /' "$W/reshard.err"; }
    keys=$(sed -n 's/^REDIS_RESHARD_KEYS=//p' "$W/reshard.env")
    sleep 3                         # keys on the target, slot still migrating: ASK
    "$RS" reshard-resume "$W/rc" >> "$W/reshard.env" 2>> "$W/reshard.err" \
        || { fail "reshard: redis-servers reshard-resume failed"; sed 's/^/  /' "$W/reshard.err"; }
    wait
    probe_figures "$po" "$t0"
    asking=$(( $(redis-cli -p "$to" info commandstats | sed -n 's/^cmdstat_asking:calls=\([0-9]*\).*/\1/p') - ${asking:-0} ))
    w1=$(workers)
    echo "  slot $P_SLOT moved from $from to $to with ${keys:-?} keys; $asking ASKING on $to"
    echo "  probe every 50 ms: $PROBE_CODES"
    load_checks reshard "$oi" "$or"
    assert "asking > 0" "reshard: the gateway followed ASK ($asking ASKING on $to)"
    assert "$(slot_owner "$(any_node)" "$P_SLOT") == $to" "reshard: slot $P_SLOT served by $to"
    same=0; [ "$w0" = "$w1" ] && same=1
    assert "same" "reshard: the same workers before and after, none respawned"
    log_problems "$off" reshard
    "${PL[@]}" check-gateway "$W" 2>&1 | record
}


# vg_status: the probe user's admission on the valgrind nginx
vg_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        -H "Authorization: Bearer $P_TOKEN" "http://127.0.0.1:$VG_PORT/nc/media/$P_ROOM/x"
}

# vg_until WHAT: the probe admitted within 60 s; the codes seen
vg_until() {
    local code codes='' t0
    now_ms; t0=$NOW
    while now_ms; (( NOW - t0 < 60000 )); do
        code=$(vg_status)
        codes+="$code "
        if [ "$code" = 200 ]; then
            pass "valgrind: $1: admitted after $((NOW - t0)) ms (${codes% })"
            return 0
        fi
        sleep 0.2
    done
    fail "valgrind: $1: not admitted within 60 s (${codes% })"
    return 1
}

part_valgrind() {
    local dir=$W/nginx-vg pid p from to off
    say "$TOPO valgrind: nginx under memcheck through redirections and a failover"
    command -v valgrind > /dev/null || { fail "valgrind is not installed"; return; }
    gateway || { fail "valgrind: no gateway"; return; }
    cluster_env
    if [ -n "${REDIS_KILLED_PORT:-}" ] \
       && [ "$(redis-cli -p "$REDIS_KILLED_PORT" ping 2>/dev/null)" != PONG ]
    then
        # every master with a replica again
        "$RS" restart "$W/rc" "$REDIS_KILLED_PORT" > /dev/null 2> "$W/restart.err" \
            || { fail "valgrind: the killed node did not come back"; return; }
        cluster_env
    fi
    VG_PORT=$(free_port)
    mkdir -p "$dir/logs" "$dir/www"
    echo "admitted" > "$dir/www/ok.txt"
    sed -e "s|@MODULE@|$MODULE|g" -e "s|@PORT@|$VG_PORT|g" \
        -e "s|^\( *rooms_redis \).*|\1$(redis_args 7) timeout=5s;|" \
        -e "s|@KEY@|$KEY|g" -e "s|@JWKS@|$W/jwks.json|g" \
        -e "s|@WWW@|$dir/www|g" -e '1a master_process off;\ndaemon off;' \
        "$FAULTS/nginx.conf.in" > "$dir/nginx.conf"
    valgrind -q --tool=memcheck --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --num-callers=40 --suppressions="$ROOT/t/valgrind.suppress" \
        --log-file="$dir/valgrind.log" \
        "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        2> "$dir/start.err" &
    pid=$!
    BG+=("$pid")
    vg_until "started" || { kill -QUIT "$pid"; return; }

    if [ "$TOPO" = cluster ]; then
        from=$(slot_owner "$(any_node)" "$P_SLOT")
        # the slot goes to a master that has a replica, which is then killed:
        # the replica promoted by the kill part before has none
        to=
        for p in $REDIS_CLUSTER_MASTERS; do
            [ "$p" != "$from" ] || continue
            if [ "$(redis-cli -p "$p" info replication \
                    | sed -n 's/^connected_slaves:\([0-9]*\).*/\1/p')" -gt 0 ]; then
                to=$p
                break
            fi
        done
        [ -n "$to" ] || { fail "valgrind: no master with a replica to move the slot to"; kill -QUIT "$pid"; return; }
        "$RS" reshard "$W/rc" "$P_SLOT" "$to" --pause-after-keys > /dev/null 2> "$W/vg-reshard.err" \
            || fail "valgrind: reshard failed"
        vg_until "slot $P_SLOT migrating, its keys on $to (ASK)"
        "$RS" reshard-resume "$W/rc" > /dev/null 2>> "$W/vg-reshard.err" \
            || fail "valgrind: reshard-resume failed"
        vg_until "slot $P_SLOT moved to $to (MOVED)"
        "$RS" kill-master "$W/rc" "$to" > /dev/null 2> "$W/vg-kill.err" \
            || fail "valgrind: kill-master failed"
        vg_until "master $to killed, its replica promoted"
    else
        "$RS" sentinel-failover "$W/rc" > /dev/null 2> "$W/vg-failover.err" \
            || fail "valgrind: sentinel-failover failed"
        vg_until "SENTINEL FAILOVER"
    fi

    kill -QUIT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ ! -f "$dir/valgrind.log" ]; then
        fail "valgrind: no valgrind report at all"
    elif [ -s "$dir/valgrind.log" ]; then
        fail "valgrind: errors or leaks ($dir/valgrind.log)"
        head -40 "$dir/valgrind.log" | sed 's/^/  vg: /'
    else
        pass "valgrind: no error, no definite leak"
    fi
    off=$(grep -cE 'exited on signal|\[alert\]|\[emerg\]' "$dir/logs/error.log")
    assert "off == 0" "valgrind: no crash, [alert] or [emerg] ($off lines)"
}


#--------------------------------------------------------------------------
# main
#--------------------------------------------------------------------------

for t in wrk redis-server redis-cli curl perl; do
    command -v "$t" >/dev/null || { echo "cluster: $t is missing" >&2; exit 1; }
done

now_ms; T_START=$NOW
FIG=()
if [ -n "$ASAN" ]; then
    build_asan >/dev/null || exit 1
else
    [ -f "$MODULE" ] || "$ROOT/scripts/build" >/dev/null || exit 1
fi

rm -rf "$W"
mkdir -p "$W"
"$RS" "$TOPO" "$W/rc" > /dev/null || { echo "$TOPO: no $TOPO" >&2; exit 1; }
cluster_env
if [ "$TOPO" = sentinel ]; then
    say "sentinel: master $REDIS_MASTER_PORT, replica $REDIS_REPLICA_PORT, sentinels $REDIS_SENTINEL_PORTS (started in ${REDIS_START_SECONDS} s)"
else
    say "cluster: masters $REDIS_CLUSTER_MASTERS, replicas $REDIS_CLUSTER_REPLICAS (started in ${REDIS_START_SECONDS} s)"
fi

for part in $PARTS; do
    case $TOPO:$part in
    *:t)                part_t ;;
    *:sdk)              part_sdk ;;
    cluster:tls)        part_tls ;;
    *:kill)             part_kill ;;
    cluster:reshard)    part_reshard ;;
    sentinel:failover)  part_kill failover ;;
    *:valgrind)         part_valgrind ;;
    *)                  fail "unknown part $part" ;;
    esac
done

if [ -n "$ASAN" ]; then
    [ -f "$W/nginx/nginx.pid" ] && stop_pidfile "$W/nginx/nginx.pid" QUIT
    n=$(grep -l "ngx_\|rooms_" "$W"/asan/* 2>/dev/null | wc -l)
    assert "n == 0" "asan: no ASan/UBSan report naming nginx or the module ($n files in $W/asan)"
    [ "$n" -gt 0 ] && grep -h -E '^==|^ +#[0-9] |SUMMARY|runtime error' "$W"/asan/* | head -30 | sed 's/^/  asan: /'
fi

now_ms
say "$TOPO figures:"
for f in "${FIG[@]}"; do echo "  $f"; done
say "$TOPO summary: $npass passed, $nfail failed, $(( (NOW - T_START) / 1000 )) s"
for f in "${FAILS[@]}"; do echo "  FAIL $f"; done
[ "$nfail" -eq 0 ]
