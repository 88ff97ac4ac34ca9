#!/usr/bin/env bash
# Debian's Janus behind the gateway: its WebSocket transport on loopback,
# its VideoRoom plugin, rooms_admission and rooms_session in front.  An
# invited user's Janus session, opened through the gateway, joins the
# VideoRoom named after the room; removing the user closes the WebSocket
# and Janus drops them (listparticipants no longer shows them); an
# uninvited user never reaches Janus.
#
#   lua-free-tests/sessions/janus.sh      (apt-get install janus first;
#                                          scripts/test janus does)
#
# Janus' configuration is a copy of /etc/janus in build/test/janus/conf,
# with only the VideoRoom plugin and the WebSocket transport, on a free
# port of 127.0.0.1.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

DIR=$ROOT/build/test/janus
HERE=$ROOT/lua-free-tests/sessions
rm -rf "$DIR"
mkdir -p "$DIR/gw/logs"

command -v janus >/dev/null || { echo "FAIL janus: not installed (apt-get install janus)"; exit 1; }

cleanup() {
    stop_pidfile "$DIR/gw/nginx.pid" QUIT
    [ -n "${JANUS_PID:-}" ] && kill "$JANUS_PID" 2>/dev/null && wait "$JANUS_PID" 2>/dev/null
    redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
    stop_pidfile "$DIR/redis/redis.pid"
}
trap cleanup EXIT

(cd "$ROOT/lua-free-tests" && { [ -f node_modules/.package-lock.json ] \
    && [ ! package-lock.json -nt node_modules/.package-lock.json ] \
    || npm ci --no-audit --no-fund >/dev/null 2>&1; }) || {
    echo "FAIL janus: npm ci in lua-free-tests"; exit 1; }
[ -f "$MODULE" ] || "$ROOT/scripts/build" >/dev/null || exit 1

read -r RPORT JPORT GPORT <<< "$(free_ports 3)"

# Janus: the VideoRoom plugin and the WebSocket transport only, on loopback
cp -a /etc/janus "$DIR/conf"
plugins=$(cd /usr/lib/*/janus/plugins && ls libjanus_*.so | grep -v videoroom | paste -sd,)
transports=$(cd /usr/lib/*/janus/transports && ls libjanus_*.so | grep -v websockets | paste -sd,)
sed -i -e "s|^\(\s*\)configs_folder = .*|\1configs_folder = \"$DIR/conf\"|" \
       -e "/^plugins: {/a\\	disable = \"$plugins\"" \
       -e "/^transports: {/a\\	disable = \"$transports\"" \
       "$DIR/conf/janus.jcfg"
sed -i -e "s|^\(\s*\)ws_port = .*|\1ws_port = $JPORT\n\1ws_ip = \"127.0.0.1\"|" \
       "$DIR/conf/janus.transport.websockets.jcfg"
sed -i -e "s|^\(\s*\)#string_ids = true|\1string_ids = true|" \
       "$DIR/conf/janus.plugin.videoroom.jcfg"

janus -F "$DIR/conf" -L "$DIR/janus.log" -N > "$DIR/janus.out" 2>&1 &
JANUS_PID=$!
for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$JPORT") 2>/dev/null && break
    sleep 0.1
done
(echo > "/dev/tcp/127.0.0.1/$JPORT") 2>/dev/null || {
    tail -20 "$DIR/janus.log"; echo "FAIL janus: Janus did not start"; exit 1; }

start_redis "$DIR/redis" "$RPORT" || exit 1
KEY=$(head -c 32 /dev/urandom | base64)
TOKEN_KEY=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
echo "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"t\",\"alg\":\"HS256\",\"k\":\"$TOKEN_KEY\"}]}" \
    > "$DIR/jwks.json"

cat > "$DIR/gw/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 2;
error_log logs/error.log info;
pid nginx.pid;
events { worker_connections 1024; }
http {
    log_format janus '\$rooms_user_id \$status upstream=\$upstream_addr '
                     'end="\$rooms_session_end"';
    access_log logs/access.log janus;
    rooms_redis 127.0.0.1:$RPORT;
    rooms_access_key $KEY;
    rooms_token_keys $DIR/jwks.json;
    rooms_gateway_name janus-gw;
    server {
        listen 127.0.0.1:$GPORT;
        location /rooms { rooms_api; }

        # the operator's setup: Janus' WebSocket API, one room per location
        location ~ ^/janus/(?<room>[0-9]+)$ {
            rooms_admission    \$room;
            rooms_session      on;
            rooms_token_forward off;
            proxy_pass         http://127.0.0.1:$JPORT;
            proxy_http_version 1.1;
            proxy_set_header   Upgrade \$http_upgrade;
            proxy_set_header   Connection "upgrade";
            proxy_read_timeout 1h;
        }
    }
}
CONF
nginx -p "$DIR/gw" -c "$DIR/gw/nginx.conf" -e "$DIR/gw/logs/error.log" || exit 1
sleep 0.3

JANUS_DIR=$DIR JANUS_PORT=$JPORT JANUS_GATEWAY=$GPORT JANUS_KEY=$KEY \
JANUS_TOKEN_KEY=$TOKEN_KEY node "$HERE/janus.mjs"
rc=$?

if grep -E '\[(alert|emerg|crit)\]|exited on signal' "$DIR/gw/logs/error.log"; then rc=1; fi
exit $rc
