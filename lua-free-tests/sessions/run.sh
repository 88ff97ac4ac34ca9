#!/usr/bin/env bash
# Live sessions end to end: real WebSocket clients (npm ws) through two
# nginx gateways on one Redis to a WebSocket upstream, plain HTTP streams
# and an HTTP/2 stream.  Every reason of $rooms_session_end ends the right
# connections and only those; 400 simultaneous joins of one room through
# both gateways seat exactly 350; a kill -9'd gateway's seats come back
# within the lease; listings match who is connected; reloads keep
# enforcing; a resubscription and a gap in the events re-check sessions;
# rooms_sessions, rooms_sessions_ended_total and the close histogram move
# by exactly what the sessions did, and the change feed tells each
# session's start and end.
#
#   lua-free-tests/sessions/run.sh [plain|asan|valgrind] [scenario...]
#
# asan: the ASan+UBSan build of the module preloaded, any report fails;
# valgrind: gateway A under memcheck (one worker, no master) for the
# scenarios that end sessions, any error fails.  The logs stay in
# build/test/sessions-MODE/.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

MODE=${1:-plain}
shift || true
DIR=$ROOT/build/test/sessions-$MODE
HERE=$ROOT/lua-free-tests/sessions
rm -rf "$DIR"
mkdir -p "$DIR"

cleanup() {
    for g in a b c; do stop_pidfile "$DIR/$g/nginx.pid" QUIT; done
    [ -n "${VG_PID:-}" ] && kill "$VG_PID" 2>/dev/null && wait "$VG_PID" 2>/dev/null
    redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
    stop_pidfile "$DIR/redis/redis.pid"
}
trap cleanup EXIT

# npm ws, pinned by the lock file
(cd "$ROOT/lua-free-tests" && { [ -f node_modules/.package-lock.json ] \
    && [ ! package-lock.json -nt node_modules/.package-lock.json ] \
    || npm ci --no-audit --no-fund >/dev/null 2>&1; }) || {
    echo "FAIL sessions: npm ci in lua-free-tests"; exit 1; }

so=$MODULE
preload=
case $MODE in
asan)
    build_asan >/dev/null || exit 1
    so=$ROOT/build/asan/ngx_http_rooms_module.so
    preload=$(gcc -print-file-name=libasan.so)
    mkdir -p "$DIR/reports"
    export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$DIR/reports/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:log_path=$DIR/reports/ubsan"
    ;;
plain|valgrind)
    [ -f "$MODULE" ] || "$ROOT/scripts/build" >/dev/null || exit 1
    ;;
*)
    echo "unknown mode $MODE" >&2; exit 2 ;;
esac

read -r RPORT UPORT APORT BPORT CPORT AH2 BH2 CH2 <<< "$(free_ports 8)"
start_redis "$DIR/redis" "$RPORT" || exit 1
KEY=$(head -c 32 /dev/urandom | base64)
TOKEN_KEY=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
echo "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"t\",\"alg\":\"HS256\",\"k\":\"$TOKEN_KEY\"}]}" \
    > "$DIR/jwks.json"
LEASE=${SESSIONS_LEASE:-3s}

# gateway NAME PORT H2PORT [extra http directives]
gateway() {
    local g=$1 port=$2 h2=$3 extra=${4:-} workers=2 head=""
    if [ "$MODE" = valgrind ] && [ "$g" = a ]; then
        workers=1
        head="daemon off; master_process off;"
    fi
    mkdir -p "$DIR/$g/logs"
    cat > "$DIR/$g/nginx.conf" <<CONF
load_module $so;
$head
worker_processes $workers;
error_log logs/error.log info;
pid nginx.pid;
events { worker_connections 4096; }
http {
    log_format sessions '\$rooms_user_id \$rooms_room_id \$status '
                        'end="\$rooms_session_end" deny="\$rooms_deny_reason"';
    access_log logs/access.log sessions;
    client_body_buffer_size 1m;
    client_body_temp_path $DIR/$g/body;
    proxy_temp_path $DIR/$g/proxy;
    rooms_redis 127.0.0.1:$RPORT timeout=2s;
    rooms_access_key $KEY;
    rooms_token_keys $DIR/jwks.json;
    rooms_gateway_name gw-$g;
    rooms_token_forward off;
    rooms_session_lease $LEASE;
    rooms_events_stream "rooms:{events}";
    $extra
    upstream media { server 127.0.0.1:$UPORT; }
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$port;
        listen 127.0.0.1:$h2 http2;
        location /rooms { rooms_api; }
        location /identities { rooms_api; }
        location = /stats { return 200 "\$rooms_sessions_stats\n"; }
        location = /metrics { rooms_metrics; }
        proxy_http_version 1.1;
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection \$connection_upgrade;
        proxy_set_header X-Rooms-User \$rooms_user_id;
        proxy_read_timeout 1h;
        proxy_buffering off;
        rooms_session on;
        location ~ ^/(?<kind>ws|stream)/(?<room>[0-9]+)$ {
            rooms_admission \$room;
            proxy_pass http://media;
        }
        location ~ ^/presenters/(?<room>[0-9]+)$ {
            rooms_admission \$room;
            rooms_roles Presenter;
            proxy_pass http://media;
        }
        location ~ ^/reject/(?<room>[0-9]+)$ {
            rooms_admission \$room;
            rooms_duplicate_session reject;
            proxy_pass http://media;
        }
        location ~ ^/allow/(?<room>[0-9]+)$ {
            rooms_admission \$room;
            rooms_duplicate_session allow;
            proxy_pass http://media;
        }
        location ~ ^/forever/(?<room>[0-9]+)$ {
            rooms_admission \$room;
            rooms_session_expire off;
            proxy_pass http://media;
        }
        location ~ ^/plain/(?<room>[0-9]+)$ {
            rooms_admission \$room;
            rooms_session off;
            proxy_pass http://media;
        }
    }
}
CONF
}

start_gateway() {
    local g=$1
    if [ "$MODE" = valgrind ] && [ "$g" = a ]; then
        valgrind --tool=memcheck --error-exitcode=1 --num-callers=30 \
            --suppressions="$ROOT/t/valgrind.suppress" \
            --log-file="$DIR/a/valgrind.log" \
            nginx -p "$DIR/a" -c "$DIR/a/nginx.conf" -e "$DIR/a/logs/error.log" &
        VG_PID=$!
        echo "$VG_PID" > "$DIR/a/nginx.pid.vg"
        for _ in $(seq 100); do
            curl -s -o /dev/null "http://127.0.0.1:$APORT/stats" && return 0
            sleep 0.2
        done
        return 1
    fi
    env ${preload:+LD_PRELOAD=$preload} \
        nginx -p "$DIR/$g" -c "$DIR/$g/nginx.conf" -e "$DIR/$g/logs/error.log"
}

gateway a "$APORT" "$AH2"
gateway b "$BPORT" "$BH2"
gateway c "$CPORT" "$CH2" "rooms_max_participants 3;"
start_gateway a || exit 1
start_gateway b || exit 1
sleep 0.5

SESSIONS_MODE=$MODE SESSIONS_DIR=$DIR SESSIONS_KEY=$KEY \
SESSIONS_TOKEN_KEY=$TOKEN_KEY SESSIONS_REDIS=$RPORT SESSIONS_UPSTREAM=$UPORT \
SESSIONS_A=$APORT SESSIONS_B=$BPORT SESSIONS_C=$CPORT SESSIONS_AH2=$AH2 \
SESSIONS_LEASE_MS=$(( ${LEASE%s} * 1000 )) \
SESSIONS_PRELOAD=$preload \
NODE_PATH=$ROOT/lua-free-tests/node_modules \
    node "$HERE/sessions.mjs" "$@"
rc=$?

if [ "$MODE" = valgrind ]; then
    kill -QUIT "$VG_PID" 2>/dev/null
    wait "$VG_PID"
    if grep -E "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$DIR/a/valgrind.log"; then
        echo "FAIL sessions: valgrind reports errors (build/test/sessions-valgrind/a/valgrind.log)"
        rc=1
    else
        echo "PASS sessions: valgrind clean over the eviction paths ($(grep -c 'ERROR SUMMARY: 0' "$DIR/a/valgrind.log") processes)"
    fi
    VG_PID=
fi

if grep -E '\[(alert|emerg|crit)\]|exited on signal' "$DIR"/*/logs/error.log; then
    echo "FAIL sessions: alert or crash in an error log"
    rc=1
fi

if [ "$MODE" = asan ]; then
    if ls "$DIR"/reports/* >/dev/null 2>&1; then
        cat "$DIR"/reports/* | head -80
        echo "FAIL sessions: sanitizer reports"
        rc=1
    else
        echo "PASS sessions: no sanitizer report"
    fi
fi

exit $rc
