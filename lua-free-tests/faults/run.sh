#!/usr/bin/env bash
# Fault scenarios against a real Redis and a real nginx (no mocks), each
# printing PASS/FAIL lines with the measured figures:
#
#   1. Redis killed (-9) under wrk load, restarted 2 s later from its AOF:
#      for invited and refused users at once, without and with the cache
#   2. Redis stalled (DEBUG SLEEP 2, CLIENT PAUSE 2000): 503 within the
#      timeout, a location without Redis still answers at once
#   3. Redis restarted gracefully with AOF on: 50 rooms and their
#      participants are all still there
#   4. nginx -s reload every 2 s under load, then a binary upgrade
#      (USR2, WINCH, QUIT) under load: no failed request, the cache zone
#      survives the reload
#   5. thousands of client aborts while Redis replies are pending, against
#      the ASan+UBSan build; then a stall (2) and scenario 1 under ASan
#
# Everything runs under build/faults/ on free ports: its own Redis (AOF on)
# and its own nginx processes, stopped by a trap.  Exits non-zero on any
# failure.
#
#   lua-free-tests/faults/run.sh            all scenarios
#   FAULTS_SCENARIOS="1 3" lua-free-tests/faults/run.sh
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

W=$ROOT/build/faults
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
ASAN_MODULE=$ROOT/build/asan/ngx_http_rooms_module.so
REDIS_DB=7
TIMEOUT_MS=1000                  # rooms_redis timeout=
SCENARIOS=${FAULTS_SCENARIOS:-1 2 3 4 5}
PL=(perl "$HERE/faults.pl")

npass=0
nfail=0
FAILS=()
BG=()
declare -A PORT

#--------------------------------------------------------------------------
# helpers
#--------------------------------------------------------------------------

pass() { echo "PASS $*"; npass=$((npass + 1)); }
fail() { echo "FAIL $*"; nfail=$((nfail + 1)); FAILS+=("$*"); }

# assert 'ARITHMETIC EXPRESSION' message...
assert() {
    local cond=$1
    shift
    if (( $cond )); then pass "$@"; else fail "$@"; fi
}

# echo the lines of a helper, counting its PASS/FAIL lines
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
    local d p
    for p in "${BG[@]}"; do
        kill "$p" 2>/dev/null
    done
    for d in "$W"/nginx-*; do
        [ -d "$d" ] || continue
        if [ -f "$d/nginx.pid.oldbin" ]; then
            stop_pidfile "$d/nginx.pid.oldbin" QUIT
        fi
        if [ -f "$d/nginx.pid" ]; then
            p=$(cat "$d/nginx.pid")
            stop_pidfile "$d/nginx.pid" QUIT
            kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        fi
    done
    if [ -n "${RP:-}" ]; then
        redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1
    fi
    stop_pidfile "$W/redis/redis.pid" KILL
}
trap cleanup EXIT
trap 'exit 130' INT TERM

REDIS_ARGS=(--appendonly yes --appendfsync everysec --enable-debug-command local)

redis_launch() {
    redis-server --port "$RP" --bind 127.0.0.1 --daemonize yes \
        --dir "$W/redis" --pidfile "$W/redis/redis.pid" \
        --logfile "$W/redis/redis.log" --save '' "${REDIS_ARGS[@]}" >/dev/null
}

redis_up() { [ "$(redis-cli -p "$RP" ping 2>/dev/null)" = PONG ]; }

redis_wait_up() {
    for _ in $(seq 100); do redis_up && return 0; sleep 0.05; done
    echo "redis did not start, see $W/redis/redis.log" >&2
    return 1
}

# start_nginx NAME MODULE [asan]: nginx with its own prefix W/nginx-NAME
start_nginx() {
    local name=$1 module=$2 asan=${3:-} dir=$W/nginx-$1 port
    port=$(free_port)
    PORT[$name]=$port
    mkdir -p "$dir/logs" "$dir/www" "$dir/asan"
    chmod 1777 "$dir/asan"              # the workers (nobody) write reports
    echo "admitted" > "$dir/www/ok.txt"
    sed -e "s|@MODULE@|$module|g" -e "s|@PORT@|$port|g" \
        -e "s|@REDIS_PORT@|$RP|g" -e "s|@REDIS_DB@|$REDIS_DB|g" \
        -e "s|@TIMEOUT@|${TIMEOUT_MS}ms|g" -e "s|@KEY@|$KEY|g" \
        -e "s|@JWKS@|$W/jwks.json|g" -e "s|@WWW@|$dir/www|g" \
        "$HERE/nginx.conf.in" > "$dir/nginx.conf"
    nginx_cmd "$name" || return 1
    for _ in $(seq 50); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] \
            && return 0
        sleep 0.1
    done
    echo "nginx $name did not start" >&2
    return 1
}

# nginx_cmd NAME [ARGS...]: the nginx binary on NAME's prefix (with the
# ASan runtime preloaded for the asan instance: "-s" loads the module too)
nginx_cmd() {
    local name=$1 dir=$W/nginx-$1
    shift
    if [ "$name" = asan ]; then
        LD_PRELOAD=$ASAN_PRELOAD \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$dir/asan/asan" \
        UBSAN_OPTIONS="print_stacktrace=1:log_path=$dir/asan/ubsan" \
            "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" "$@"
    else
        "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" "$@"
    fi
}

master_of() { cat "$W/nginx-$1/nginx.pid" 2>/dev/null; }
# the worker processes of MASTER (after USR2 the new master is a child too)
workers_of() { pgrep -P "$1" -f '^nginx: worker process' | sort -n | tr '\n' ' '; }

# worker_figures MASTER: sets FDS and RSS (totals over the workers) and
# FIG (per worker)
worker_figures() {
    local w n r
    FDS=0 RSS=0 FIG=""
    for w in $(workers_of "$1"); do
        n=$(ls "/proc/$w/fd" 2>/dev/null | wc -l)
        r=$(awk '/^VmRSS/ {print $2}' "/proc/$w/status" 2>/dev/null)
        FDS=$((FDS + n))
        RSS=$((RSS + ${r:-0}))
        FIG+="pid $w: $n fds, ${r:-?} kB; "
    done
}

log_size() { stat -c %s "$W/nginx-$1/logs/error.log" 2>/dev/null || echo 0; }

# log_problems NAME OFFSET WHAT: no crash, [alert] or [emerg] since OFFSET
log_problems() {
    local name=$1 off=$2 what=$3 hits n
    hits=$(tail -c +"$((off + 1))" "$W/nginx-$name/logs/error.log" \
           | grep -E 'exited on signal|exited with code [1-9]|\[alert\]|\[emerg\]|Sanitizer|runtime error')
    n=$(printf '%s' "$hits" | grep -c .)
    assert "n == 0" "$what: no worker crash or abnormal exit, [alert] or [emerg] in error.log ($n lines)"
    [ "$n" -gt 0 ] && printf '%s\n' "$hits" | head -8 | sed 's/^/  log: /'
}

# run_wrk NAME FILE PREFIX keep|close SECONDS CONNS OUT LABEL  (in the background)
run_wrk() {
    wrk -t1 -c"$6" -d"$5"s --timeout 5s -s "$HERE/rotate.lua" \
        "http://127.0.0.1:${PORT[$1]}" -- "$W/$2" "$3" "$4" "$8" > "$7" 2>&1 &
    BG+=($!)
}

# wrk_field OUT KEY: a figure of the WRK line (-1 when missing)
wrk_field() {
    local v
    v=$(grep -m1 '^WRK ' "$1" 2>/dev/null | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}')
    echo "${v:--1}"
}

wrk_line() { grep -m1 '^WRK ' "$1" 2>/dev/null || { echo "no WRK line in $1:"; head -5 "$1"; }; }

# poll NAME PATH TOKEN T0: a curl every 50 ms until a 200 (at most 5 s);
# sets POLL_MS (from T0, -1: none), POLL_READY_MS (Redis answering PING,
# from T0) and POLL_CODES (a count of each status seen)
poll() {
    local name=$1 path=$2 token=$3 t0=$4 code deadline
    declare -A seen=()
    POLL_MS=-1 POLL_READY_MS=-1 POLL_CODES=""
    now_ms
    deadline=$((NOW + 5000))
    while now_ms; (( NOW < deadline )); do
        if (( POLL_READY_MS < 0 )) && redis_up; then
            now_ms
            POLL_READY_MS=$((NOW - t0))
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
               -H "Authorization: Bearer $token" "http://127.0.0.1:${PORT[$name]}$path")
        now_ms
        seen[$code]=$(( ${seen[$code]:-0} + 1 ))
        if [ "$code" = 200 ]; then
            POLL_MS=$((NOW - t0))
            break
        fi
        sleep 0.05
    done
    for code in "${!seen[@]}"; do POLL_CODES+="$code x${seen[$code]} "; done
}

# status NAME: one read of $rooms_cache_stats, as shell variables C_*
cache_stats() {
    local s
    s=$(curl -s "http://127.0.0.1:${PORT[$1]}/status")
    CSTATS=$s
    C_entries=$(sed -n 's/.*entries=\([0-9]*\).*/\1/p' <<<"$s")
    C_hits=$(sed -n 's/.*hits=\([0-9]*\).*/\1/p' <<<"$s")
    C_misses=$(sed -n 's/.*misses=\([0-9]*\).*/\1/p' <<<"$s")
    C_sub=$(sed -n 's/.*subscribed=\([0-9]*\).*/\1/p' <<<"$s")
    : "${C_entries:=-1}" "${C_hits:=-1}" "${C_misses:=-1}" "${C_sub:=-1}"
}

# wait until MASTER has exactly N workers, none of them in OLD (max S s);
# echoes the ms it took, -1 on timeout
wait_workers() {
    local master=$1 n=$2 old=$3 s=$4 t0 ws w stale
    now_ms; t0=$NOW
    while now_ms; (( NOW - t0 < s * 1000 )); do
        ws=$(workers_of "$master")
        stale=0
        for w in $old; do [[ " $ws " == *" $w "* ]] && stale=1; done
        if [ "$stale" = 0 ] && [ "$(wc -w <<<"$ws")" = "$n" ]; then
            echo $((NOW - t0))
            return 0
        fi
        sleep 0.05
    done
    echo -1
}

#--------------------------------------------------------------------------
# scenario 1: Redis killed under load
#--------------------------------------------------------------------------

# scenario_kill NAME PREFIX LABEL RSS_SLACK_KB (-1: RSS not asserted)
scenario_kill() {
    local name=$1 prefix=$2 label=$3 rss_slack=$4 master off w0 w1
    local fds0 rss0 fds1 rss1 fig0 fig1 t_kill t_start out_i out_r
    local i2 i503 iother r2 r5 rother e same k
    say "scenario 1 ($label): Redis killed (-9) under load, restarted after 2 s"
    master=$(master_of "$name")
    off=$(log_size "$name")
    out_i=$W/s1-$label-invited.out
    out_r=$W/s1-$label-refused.out

    # warm-up, so that pools, caches and connections reach their steady size
    run_wrk "$name" invited.txt "$prefix" keep 2 8 "$W/s1-$label-warm-i.out" warm-i
    run_wrk "$name" refused.txt "$prefix" keep 2 8 "$W/s1-$label-warm-r.out" warm-r
    wait
    sleep 1
    worker_figures "$master"; fds0=$FDS rss0=$RSS fig0=$FIG
    w0=$(workers_of "$master")

    run_wrk "$name" invited.txt "$prefix" keep 9 16 "$out_i" "invited($label)"
    run_wrk "$name" refused.txt "$prefix" keep 9 16 "$out_r" "refused($label)"
    sleep 2.5
    now_ms; t_kill=$NOW
    kill -9 "$(cat "$W/redis/redis.pid")"
    sleep 2
    now_ms; t_start=$NOW
    redis_launch
    poll "$name" "${prefix}$P_ROOM/x" "$P_TOKEN" "$t_start"
    wait
    sleep 1
    worker_figures "$master"; fds1=$FDS rss1=$RSS fig1=$FIG
    w1=$(workers_of "$master")

    echo "  Redis down for $((t_start - t_kill)) ms; up (PING) ${POLL_READY_MS} ms after the restart"
    wrk_line "$out_i" | sed 's/^/  /'
    wrk_line "$out_r" | sed 's/^/  /'
    i2=$(wrk_field "$out_i" 2xx) i503=$(wrk_field "$out_i" 503)
    iother=$(( $(wrk_field "$out_i" 401) + $(wrk_field "$out_i" 403) + $(wrk_field "$out_i" other) ))
    r2=$(wrk_field "$out_r" 2xx) r5=$(wrk_field "$out_r" 503)
    rother=$(wrk_field "$out_r" other)
    assert "r2 == 0 && $(wrk_field "$out_r" requests) > 0" \
        "s1 $label: refused users never admitted, whole run ($r2 2xx of $(wrk_field "$out_r" requests);" \
        "$(wrk_field "$out_r" 401) x 401, $(wrk_field "$out_r" 403) x 403, $r5 x 503, $rother other)"
    assert "$(wrk_field "$out_i" 5xx_other) == 0 && $(wrk_field "$out_r" 5xx_other) == 0" \
        "s1 $label: no 5xx but 503 (invited $(wrk_field "$out_i" 5xx_other), refused $(wrk_field "$out_r" 5xx_other))"
    assert "i2 > 0 && i503 > 0 && iother == 0" \
        "s1 $label: invited users get 2xx or 503 only, 503 while Redis is down" \
        "($i2 x 2xx, $i503 x 503, $iother other)"
    e=0
    for k in connect read write timeout; do
        e=$(( e + $(wrk_field "$out_i" $k) + $(wrk_field "$out_r" $k) ))
    done
    assert "e == 0" "s1 $label: no socket error or timeout at the clients ($e)"
    assert "POLL_MS >= 0 && POLL_MS <= 1000" \
        "s1 $label: first admission ${POLL_MS} ms after Redis was restarted (<= 1000 ms," \
        "no reload; polled every 50 ms: ${POLL_CODES})"
    same=0; [ "$w0" = "$w1" ] && same=1
    assert "same && $(wc -w <<<"$w1") == 2" "s1 $label: same 2 workers before and after, none respawned ($w0/ $w1)"
    assert "fds1 <= fds0 + 2" "s1 $label: worker fds not growing: $fds0 before, $fds1 after recovery (slack 2)"
    echo "    before: $fig0"
    echo "    after:  $fig1"
    if (( rss_slack >= 0 )); then
        assert "rss1 <= rss0 + rss_slack" \
            "s1 $label: worker RSS not growing: $rss0 kB before, $rss1 kB after recovery" \
            "($((rss1 - rss0)) kB, slack $rss_slack kB)"
    else
        # ASan keeps freed memory in its quarantine (256 MB by default):
        # RSS says nothing there, the reports do
        echo "  INFO s1 $label: worker RSS $rss0 kB before, $rss1 kB after recovery" \
             "($((rss1 - rss0)) kB; not asserted under ASan, whose quarantine holds freed memory)"
    fi
    log_problems "$name" "$off" "s1 $label"
}

#--------------------------------------------------------------------------
# scenario 2: Redis stalled
#--------------------------------------------------------------------------

# scenario_stall NAME HOW
scenario_stall() {
    local name=$1 how=$2 t0 off bg tag
    tag="s2 $how"
    [ "$name" = main ] || tag="s2 $name $how"
    say "scenario 2: Redis stalled with $how (nginx $name)"
    off=$(log_size "$name")
    now_ms; t0=$NOW
    case $how in
    "DEBUG SLEEP 2")     redis-cli -p "$RP" DEBUG SLEEP 2 >/dev/null & bg=$! ;;
    "CLIENT PAUSE 2000") redis-cli -p "$RP" CLIENT PAUSE 2000 >/dev/null; bg= ;;
    esac
    sleep 0.1
    record < <(FAULTS_ENDPOINT="http://127.0.0.1:${PORT[$name]}" \
                   "${PL[@]}" stall-probe "$W" "$TIMEOUT_MS" 300 | sed "s/ stall: / $tag: /")
    [ -n "$bg" ] && wait "$bg"
    now_ms
    (( NOW < t0 + 2000 )) && sleep "$(printf '0.%03d' $((t0 + 2000 - NOW)))"
    now_ms; t0=$NOW
    poll "$name" "/nc/media/$P_ROOM/x" "$P_TOKEN" "$t0"
    assert "POLL_MS >= 0 && POLL_MS <= 1000" \
        "$tag: admitted again ${POLL_MS} ms after the stall ended (${POLL_CODES})"
    sleep 0.6
    record < <(FAULTS_ENDPOINT="http://127.0.0.1:${PORT[$name]}" \
                   "${PL[@]}" check-gateway "$W" "$tag: after the stall")
    log_problems "$name" "$off" "$tag"
}

#--------------------------------------------------------------------------
# scenario 3: graceful restart with AOF
#--------------------------------------------------------------------------

scenario_aof() {
    local off t0
    say "scenario 3: Redis restarted (AOF on, appendfsync everysec, graceful shutdown)"
    off=$(log_size main)
    if ! "${PL[@]}" aof-create "$W/aof.json" 50; then
        fail "s3: could not create the 50 rooms"
        return
    fi
    redis-cli -p "$RP" shutdown >/dev/null 2>&1
    for _ in $(seq 100); do redis_up || break; sleep 0.05; done
    echo "  AOF: $(du -sk "$W/redis" | cut -f1) kB in $W/redis"
    now_ms; t0=$NOW
    redis_launch
    redis_wait_up || { fail "s3: Redis did not come back"; return; }
    poll main "/nc/media/$P_ROOM/x" "$P_TOKEN" "$t0"
    assert "POLL_MS >= 0 && POLL_MS <= 1000" \
        "s3: admitted again ${POLL_MS} ms after the restart (${POLL_CODES})"
    sleep 0.6
    record < <("${PL[@]}" aof-verify "$W/aof.json")
    log_problems main "$off" "s3"
}

#--------------------------------------------------------------------------
# scenario 4: reload and binary upgrade under load
#--------------------------------------------------------------------------

# load4 LABEL SECONDS: valid users with a connection per request (asserted),
# valid users on keepalive connections, refused users
load4() {
    run_wrk main invited.txt /media/ close "$2" 4 "$W/s4-$1-close.out" "invited-close($1)"
    run_wrk main invited.txt /media/ keep "$2" 8 "$W/s4-$1-keep.out" "invited-keepalive($1)"
    run_wrk main refused.txt /media/ keep "$2" 4 "$W/s4-$1-refused.out" "refused($1)"
}

# check4 LABEL WORKER_SHUTDOWNS
check4() {
    local label=$1 shut=$2 c k r e ke n
    for f in close keep refused; do wrk_line "$W/s4-$label-$f.out" | sed 's/^/  /'; done
    c=$W/s4-$label-close.out k=$W/s4-$label-keep.out r=$W/s4-$label-refused.out
    e=0
    for x in connect read write timeout; do e=$(( e + $(wrk_field "$c" $x) )); done
    n=$(( $(wrk_field "$c" requests) - $(wrk_field "$c" 2xx) ))
    assert "e == 0 && n == 0 && $(wrk_field "$c" requests) > 0" \
        "s4 $label: valid users, a connection per request: $(wrk_field "$c" requests) requests," \
        "$n not 2xx, $e socket errors/timeouts"
    # A worker that shuts down gracefully closes its idle keepalive
    # connections (ngx_close_idle_connections); wrk has already written its
    # next request on them and counts a read error.  That is nginx's own
    # behaviour: at most one per connection and worker shutdown (8
    # connections x SHUT), never a failed response.
    ke=0
    for x in connect write timeout; do ke=$(( ke + $(wrk_field "$k" $x) )); done
    n=$(( $(wrk_field "$k" requests) - $(wrk_field "$k" 2xx) ))
    assert "ke == 0 && $(wrk_field "$k" read) <= 8 * shut && n == 0 && $(wrk_field "$k" requests) > 0" \
        "s4 $label: valid users, keepalive: $(wrk_field "$k" requests) requests, $n not 2xx," \
        "$ke connect/write errors/timeouts, $(wrk_field "$k" read) keepalive connections" \
        "closed by retiring workers (nginx's own behaviour, at most 8 x $shut)"
    assert "$(wrk_field "$r" 2xx) == 0 && $(wrk_field "$r" 5xx_other) == 0 && $(wrk_field "$r" requests) > 0" \
        "s4 $label: refused users: $(wrk_field "$r" 2xx) 2xx, $(wrk_field "$r" 5xx_other) 5xx" \
        "of $(wrk_field "$r" requests) ($(wrk_field "$r" read) keepalive closes)"
}

scenario_reload() {
    local master off w0 ms e1 h1 m1 s ok i rc
    say "scenario 4a: the cache zone across a quiet nginx -s reload"
    master=$(master_of main)
    off=$(log_size main)
    # The probe pair checked below may have its entry from scenario 1, and
    # a hit does not renew an entry: past its ttl (30 s) it would miss once
    # however well the zone survives.  A change of the room makes its
    # entries stale, so that the fill puts them again, fresh.
    ROOMS_CONNECTION_STRING="endpoint=$FAULTS_ENDPOINT/;accesskey=$KEY" \
        "$ROOT/scripts/acs-request" PATCH "/rooms/$P_ROOM?api-version=2025-03-13" \
        '{"pstnDialOutEnabled":true}' > "$W/s4-patch.out" 2>&1 \
        || fail "s4 reload: PATCH of the probe room: $(head -1 "$W/s4-patch.out")"
    run_wrk main invited.txt /media/ keep 1 4 "$W/s4-fill.out" fill
    wait
    cache_stats main; e1=$C_entries h1=$C_hits m1=$C_misses
    echo "  before: $CSTATS"
    w0=$(workers_of "$master")
    nginx_cmd main -s reload
    ms=$(wait_workers "$master" 2 "$w0" 10)
    cache_stats main
    echo "  after the reload (new workers up in $ms ms, before any admission): $CSTATS"
    assert "ms >= 0 && C_entries > 0 && C_entries >= e1 && C_hits >= h1" \
        "s4 reload: cache zone not reset: entries $e1 -> $C_entries, hits $h1 -> $C_hits," \
        "misses $m1 -> $C_misses"
    # the new workers' subscriptions up, the entries are still trusted
    ok=0
    for i in $(seq 40); do
        cache_stats main
        if [ "$C_sub" = 1 ]; then ok=$((ok + 1)); else ok=0; fi
        [ $ok -ge 6 ] && break
        sleep 0.05
    done
    cache_stats main; h1=$C_hits m1=$C_misses
    for i in $(seq 20); do
        curl -s -o /dev/null -H "Authorization: Bearer $P_TOKEN" \
            "http://127.0.0.1:${PORT[main]}/media/$P_ROOM/x"
    done
    cache_stats main
    assert "C_hits - h1 >= 20 && C_misses == m1" \
        "s4 reload: entries made before the reload still answer: 20 admissions of a" \
        "cached pair after it: hits +$((C_hits - h1)), misses +$((C_misses - m1))"

    say "scenario 4b: nginx -s reload every 2 s under load (10 s)"
    cache_stats main; h1=$C_hits
    load4 reload 10
    rc=0
    for i in 1 2 3 4; do
        sleep 2
        nginx_cmd main -s reload || rc=1
    done
    wait
    assert "rc == 0" "s4 reload: 4 reloads accepted"
    ms=$(wait_workers "$master" 2 "" 10)
    assert "ms >= 0" "s4 reload: old workers gone, 2 workers left (${ms} ms after the load)"
    check4 reload 4
    cache_stats main
    echo "  cache after the reloads: $CSTATS"
    assert "C_hits > h1 && C_entries > 0" \
        "s4 reload: cache kept serving across the reloads (hits $h1 -> $C_hits, entries $C_entries)"
    log_problems main "$off" "s4 reload"

    say "scenario 4c: binary upgrade (USR2, WINCH, QUIT) under load (10 s)"
    off=$(log_size main)
    cache_stats main; echo "  cache before: $CSTATS"
    load4 upgrade 10
    sleep 2
    kill -USR2 "$master"
    local new=""
    for i in $(seq 60); do
        if [ -f "$W/nginx-main/nginx.pid.oldbin" ] && [ -f "$W/nginx-main/nginx.pid" ]; then
            new=$(cat "$W/nginx-main/nginx.pid")
            [ "$new" != "$master" ] && [ "$(wc -w <<<"$(workers_of "$new")")" = 2 ] && break
        fi
        new=""
        sleep 0.05
    done
    assert "${new:-0} > 0" "s4 upgrade: USR2 started a new master (${new:-none}) with 2 workers"
    sleep 1.5
    kill -WINCH "$master"
    ms=$(wait_workers "$master" 0 "" 10)
    assert "ms >= 0" "s4 upgrade: WINCH: the old master's workers gone after ${ms} ms"
    sleep 1.5
    kill -QUIT "$master"
    for i in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$master" 2>/dev/null; then
        fail "s4 upgrade: old master $master still running after QUIT"
    else
        pass "s4 upgrade: QUIT: old master $master gone"
    fi
    wait
    # WINCH shuts down both old workers: a connection closed by the first
    # can be accepted again by the second before it has closed its
    # listening sockets, and then be closed once more (seen: 9 of 8)
    check4 upgrade 2
    record < <("${PL[@]}" check-gateway "$W" "s4 upgrade: the new master ($new)")
    cache_stats main
    echo "  cache after the upgrade: $CSTATS (a new master makes new shared memory:" \
         "the zone does not survive an exec, as with every nginx zone)"
    log_problems main "$off" "s4 upgrade"
}

#--------------------------------------------------------------------------
# scenario 5: client aborts while Redis replies are pending (ASan build)
#--------------------------------------------------------------------------

scenario_aborts() {
    local off master w0 w1 wr nr round pause same fds0
    say "scenario 5: client aborts with Redis replies pending, ASan+UBSan build"
    off=$(log_size asan)
    master=$(master_of asan)
    w0=$(workers_of "$master")
    worker_figures "$master"; fds0=$FDS
    round=0
    # 1500 ms: the 1 s timeouts fire first (connection dropped with
    # replies pending); then a short pause ended by CLIENT UNPAUSE, so
    # that the replies reach requests whose clients are gone
    for pause in 1500 1500 600; do
        round=$((round + 1))
        wr=$(workers_of "$master")
        nr=$(ls "$W/nginx-asan/asan" | wc -l)
        redis-cli -p "$RP" CLIENT PAUSE "$pause" >/dev/null
        FAULTS_ENDPOINT="http://127.0.0.1:${PORT[asan]}" \
            "${PL[@]}" abort-storm "$W" 1000 8 | sed "s/^/  round $round (pause $pause ms): /"
        [ "$pause" = 600 ] && redis-cli -p "$RP" CLIENT UNPAUSE >/dev/null
        sleep "$(( pause / 1000 + 1 )).5"
        echo "  round $round: workers $wr-> $(workers_of "$master")," \
             "$(( $(ls "$W/nginx-asan/asan" | wc -l) - nr )) new ASan/UBSan reports," \
             "$(grep -c 'did not answer' "$W/nginx-asan/logs/error.log") Redis timeouts logged so far"
    done
    w1=$(workers_of "$master")
    same=0; [ "$w0" = "$w1" ] && same=1
    assert "same && $(wc -w <<<"$w1") == 2" "s5: same 2 workers after 3000 aborted requests, none respawned ($w0/ $w1)"
    worker_figures "$master"
    assert "FDS <= fds0 + 2" "s5: no connection left open: worker fds $fds0 before the aborts, $FDS after ($FIG)"
    record < <(FAULTS_ENDPOINT="http://127.0.0.1:${PORT[asan]}" \
                   "${PL[@]}" check-gateway "$W" "s5: after the aborts")
    log_problems asan "$off" "s5"
    asan_reports "s5"
}

# asan_reports WHAT: no ASan/UBSan report written since the last call
ASAN_SEEN=0
asan_reports() {
    local n new f
    n=$(ls "$W/nginx-asan/asan" 2>/dev/null | wc -l)
    new=$((n - ASAN_SEEN))
    assert "new == 0" "$1: no ASan/UBSan report ($new new files in $W/nginx-asan/asan)"
    if [ "$new" -gt 0 ]; then
        for f in $(ls -tr "$W/nginx-asan/asan" | tail -n "$new" | head -2); do
            echo "  asan: ==> $f"
            grep -E '^==|^ +#[0-9] |SUMMARY|freed by|allocated by|located' \
                "$W/nginx-asan/asan/$f" | head -16 | sed 's/^/  asan: /'
        done
    fi
    ASAN_SEEN=$n
}

#--------------------------------------------------------------------------
# main
#--------------------------------------------------------------------------

for t in wrk redis-server redis-cli curl perl node; do
    command -v "$t" >/dev/null || { echo "faults: $t is missing" >&2; exit 1; }
done

now_ms; T_START=$NOW
"$ROOT/scripts/build" >/dev/null || exit 1
if [[ " $SCENARIOS " == *" 5 "* ]]; then
    build_asan >/dev/null || exit 1
    ASAN_PRELOAD=$(gcc -print-file-name=libasan.so)
fi

rm -rf "$W"
mkdir -p "$W/redis"
RP=$(free_port)
redis_launch && redis_wait_up || exit 1
KEY=$(head -c 32 /dev/urandom | base64)
"${PL[@]}" keys "$W" || exit 1
start_nginx main "$MODULE" || exit 1
export FAULTS_ENDPOINT="http://127.0.0.1:${PORT[main]}" FAULTS_KEY=$KEY
"${PL[@]}" setup "$W" 20 8 || { echo "faults: setup failed" >&2; exit 1; }
# shellcheck disable=SC1091
. "$W/probe.env"
P_ROOM=$ROOM P_TOKEN=$TOKEN
sleep 1.2                               # appendfsync everysec: on disk
say "faults: Redis :$RP (AOF, db $REDIS_DB), nginx :${PORT[main]}, timeout ${TIMEOUT_MS} ms"

for s in $SCENARIOS; do
    case $s in
    1)
        scenario_kill main /nc/media/ nocache 4096
        scenario_kill main /media/ cache 4096
        ;;
    2)
        scenario_stall main "DEBUG SLEEP 2"
        scenario_stall main "CLIENT PAUSE 2000"
        ;;
    3)  scenario_aof ;;
    4)  scenario_reload ;;
    5)
        start_nginx asan "$ASAN_MODULE" asan || { fail "s5: ASan nginx did not start"; continue; }
        scenario_aborts
        scenario_stall asan "CLIENT PAUSE 2000"
        asan_reports "s2 asan CLIENT PAUSE 2000"
        scenario_kill asan /media/ asan-cache -1
        asan_reports "s1 asan-cache"
        stop_pidfile "$W/nginx-asan/nginx.pid" QUIT
        asan_reports "asan: at exit"
        ;;
    *)  echo "faults: unknown scenario $s" >&2; fail "unknown scenario $s" ;;
    esac
done

now_ms
say "faults summary: $npass passed, $nfail failed, $(( (NOW - T_START) / 1000 )) s"
for f in "${FAILS[@]}"; do echo "  FAIL $f"; done
[ "$nfail" -eq 0 ]
