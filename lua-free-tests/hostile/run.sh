#!/usr/bin/env bash
# The hostile-request suite: thousands of generated requests, of every
# shape an anonymous client controls (request lines, query strings,
# headers, tokens, API signatures and bodies, pipelining, cut and trickled
# connections, aborts while Redis is slow), against the ASan+UBSan build
# of the module in a private nginx and Redis.  Then the checks: no crash or
# sanitizer report, every logged request line exactly the one sent with
# its query tokens masked, no admission without a valid token of an
# invitee of that very room, no API success without a signature, every
# response well-formed, and the gateway still serving afterwards.
#
#   lua-free-tests/hostile/run.sh
#   HOSTILE_SEED=42 HOSTILE_COUNT=20000 lua-free-tests/hostile/run.sh
#   HOSTILE_FAMILIES="api conn" lua-free-tests/hostile/run.sh
#   HOSTILE_SKIP=known lua-free-tests/hostile/run.sh   # without the
#       requests that trigger the known findings (Gen.pm, known_tags)
#
# How masking is checked: at an admission location, once the module has
# decided (a deny reason or a user in the access log line), $request and
# the request line of every error.log line of the request must be the line
# as sent with every value of the location's token arguments (access_token,
# or t at the rooms_token $arg_t location; as nginx's $arg_ finds them)
# replaced by "***" at its place, every other byte intact; that catches a
# short value left in place as surely as a corrupted line ("HTTP/1Un").
# Values of 8 bytes or more are also searched in the rest of those lines
# (the message, the upstream URI) and in lines tied to no request.  Lines
# nginx writes while still reading the request, before any module runs,
# are reported as notes.
#
# Everything it writes stays in build/test/hostile/: logs/ (access.log,
# error.log), asan/ (sanitizer reports), failures.txt (every failure),
# failures/HID.req (each failing request byte for byte), the keys,
# state.json and results.sto.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

DIR=$ROOT/build/test/hostile
PL=(perl "$HERE/hostile.pl")
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
REDIS_PORT=

cleanup() {
    stop_pidfile "$DIR/nginx.pid" QUIT
    if [ -n "$REDIS_PORT" ]; then
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    fi
    stop_pidfile "$DIR/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$SECONDS

# the same build as the asan suite's (scripts/build only remakes what
# changed, so a current build/asan is reused)
build_asan >/dev/null

rm -rf "$DIR"
mkdir -p "$DIR/logs" "$DIR/tmp" "$DIR/asan" "$DIR/www"
# the workers run as nobody: they write the reports and the body files
chmod 1777 "$DIR/asan" "$DIR/tmp"
echo "admitted" > "$DIR/www/ok.txt"

REDIS_PORT=$(free_port)
start_redis "$DIR/redis" "$REDIS_PORT"

PORT=$(free_port)
UP_PORT=$(free_port)
head -c 32 /dev/urandom | base64 > "$DIR/access_key"
"${PL[@]}" keys "$DIR"
sed -e "s|@MODULE@|$ROOT/build/asan/ngx_http_rooms_module.so|g" \
    -e "s|@DIR@|$DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@UP_PORT@|$UP_PORT|g" \
    -e "s|@REDIS_PORT@|$REDIS_PORT|g" -e "s|@KEY@|$(cat "$DIR/access_key")|g" \
    "$HERE/nginx.conf.in" > "$DIR/nginx.conf"

# ASan's runtime first in the stock nginx, so that the module's
# instrumented code finds it; "-p" keeps everything in DIR
LD_PRELOAD=$(gcc -print-file-name=libasan.so) \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$DIR/asan/asan" \
UBSAN_OPTIONS="print_stacktrace=1:log_path=$DIR/asan/ubsan" \
    "$NGINX_BIN" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log"

up=0
for _ in $(seq 100); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ]; then
        up=1
        break
    fi
    sleep 0.1
done
if [ "$up" = 0 ]; then
    echo "FAIL hostile: nginx did not start, see $DIR/logs/error.log" >&2
    exit 1
fi
say "hostile: nginx :$PORT (ASan+UBSan module), Redis :$REDIS_PORT, in $DIR"

export HOSTILE_PORT=$PORT HOSTILE_REDIS_PORT=$REDIS_PORT
"${PL[@]}" seed "$DIR"
"${PL[@]}" run "$DIR"

# a worker died: replay the requests that lost their connection, one at a
# time, so that the report names the one that kills it
if grep -qE 'exited on signal|exited with code [1-9]' "$DIR/logs/error.log" \
   && [ -s "$DIR/lost.txt" ]; then
    # shellcheck disable=SC2046
    "${PL[@]}" replay "$DIR" $(head -n 400 "$DIR/lost.txt") || true
fi

# a graceful stop: the logs are complete and the sanitizers have written
stop_pidfile "$DIR/nginx.pid" QUIT

rc=0
"${PL[@]}" check "$DIR" || rc=1
echo "hostile: $((SECONDS - t_start)) s in all; logs in $DIR/logs, reports in $DIR/asan"
exit $rc
