#!/usr/bin/env bash
# nginx -t against one small configuration per case: every bad one must fail
# with its exact message, naming the line it is about; every good one must
# pass without a warning.  No Redis, no listening socket: nginx -t only reads.
#
#   lua-free-tests/config/run.sh     (after scripts/build)
#
# Each case leaves its nginx.conf and nginx -t's stderr in
# build/test/config/NN/.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/../../scripts/lib.sh"

NGINX=${TEST_NGINX_BINARY:-$(command -v nginx || echo /usr/sbin/nginx)}
WORK=$ROOT/build/test/config
KEYS=$WORK/keys
PORT=$(free_port)
REDIS="rooms_redis 127.0.0.1:6379;"     # nginx -t never connects
KEYS_OK="rooms_token_keys $KEYS/oct.json;"
n=0
passed=0
failed=0
skipped=()

if [ ! -f "$MODULE" ]; then
    echo "$MODULE missing: run scripts/build" >&2
    exit 1
fi

rm -rf "$WORK"
mkdir -p "$KEYS"


#   check DESCRIPTION ok
#   check DESCRIPTION fail mark|end|none MESSAGE [MESSAGE...]
#
# The http { } body comes on stdin.  Each MESSAGE must be a whole line of
# stderr, "nginx: [emerg] MESSAGE in .../nginx.conf:LINE", where LINE is:
# mark, the body's line ending in "#<"; end, the line closing the http
# block (checks made when the block is merged); none, no " in ..." at all
# (checks made once the configuration is read).

check() {
    local desc=$1 want=$2 where=${3:-} dir conf line rc m loc problems=()

    shift $(($# < 3 ? $# : 3))
    n=$((n + 1))
    dir=$WORK/$(printf '%02d' "$n")
    conf=$dir/nginx.conf
    mkdir -p "$dir/logs"

    {
        echo "load_module $MODULE;"
        echo "pid $dir/nginx.pid;"
        echo "events {}"
        echo "http {"
        echo "    access_log $dir/logs/access.log;"
        for m in client_body proxy fastcgi uwsgi scgi; do
            echo "    ${m}_temp_path $dir/${m}_temp;"
        done
        sed 's/^/    /'
        echo "}"
    } > "$conf"

    "$NGINX" -t -p "$dir" -c "$conf" -e "$dir/error.log" \
        > "$dir/stdout" 2> "$dir/stderr"
    rc=$?

    if [ "$want" = ok ]; then
        [ $rc -eq 0 ] || problems+=("exit status $rc, expected 0")
        grep -qF "configuration file $conf test is successful" "$dir/stderr" \
            || problems+=("no \"test is successful\"")
        if grep -E '\[(emerg|alert|crit|error|warn)\]' "$dir/stderr" >/dev/null
        then
            problems+=("a message on a good configuration")
        fi

    else
        [ $rc -ne 0 ] || problems+=("exit status 0, expected non-zero")
        [ $# -gt 0 ] || problems+=("the case names no message to expect")
        grep -qF "configuration file $conf test failed" "$dir/stderr" \
            || problems+=("no \"test failed\"")

        case $where in
        mark)
            line=$(grep -n '#<$' "$conf" | cut -d: -f1)
            loc=" in $conf:$line"
            ;;
        end)
            loc=" in $conf:$(wc -l < "$conf")"
            ;;
        *)
            loc=""
            ;;
        esac

        # the whole line: message, then where, then nothing else
        for m in "$@"; do
            grep -qxF "nginx: [emerg] $m$loc" "$dir/stderr" \
                || problems+=("expected: nginx: [emerg] $m$loc")
        done
    fi

    if [ ${#problems[@]} -eq 0 ]; then
        printf 'PASS %02d %s\n' "$n" "$desc"
        passed=$((passed + 1))
        return
    fi

    printf 'FAIL %02d %s\n' "$n" "$desc"
    for m in "${problems[@]}"; do
        printf '     %s\n' "$m"
    done
    sed 's/^/     stderr: /' "$dir/stderr"
    failed=$((failed + 1))
}

skip() {
    n=$((n + 1))
    printf 'SKIP %02d %s\n' "$n" "$1"
    skipped+=("$1")
}


# --- key sets ---------------------------------------------------------------

# HS256 keys: 32 and 16 bytes, base64url
oct32=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I
oct16=c2hvcnQtc2hvcnQtc2hvcg

echo "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"$oct32\"}]}" \
    > "$KEYS/oct.json"
echo "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"short\",\"k\":\"$oct16\"}]}" \
    > "$KEYS/oct-short.json"
echo "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"$oct32\"},
                 {\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"$oct32\"}]}" \
    > "$KEYS/dup-kid.json"
echo "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"$oct32\"},
                 {\"kty\":\"foo\",\"kid\":\"f\"}]}" \
    > "$KEYS/kty.json"
echo '{"keys": [' > "$KEYS/not-json.json"
echo '{"rooms": []}' > "$KEYS/no-keys.json"
echo '[]' > "$KEYS/array.json"
echo '{"keys": []}' > "$KEYS/empty.json"
: > "$KEYS/zero-bytes.json"

# EC P-384, RSA 1024 (both refused) and one key of each supported type,
# made by Node's crypto; without Node those cases are skipped
have_node=0
if command -v node >/dev/null && node --input-type=module - "$KEYS" "$oct32" <<'EOF'
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";

const dir = process.argv[2];
const jwk = (type, opts, kid, priv) => {
    const { publicKey, privateKey } = generateKeyPairSync(type, opts);
    return { ...(priv ? privateKey : publicKey).export({ format: "jwk" }), kid };
};
const save = (name, keys) =>
    writeFileSync(`${dir}/${name}.json`, JSON.stringify({ keys }));

const hs = { kty: "oct", kid: "h", k: process.argv[3] };

save("p384", [hs, jwk("ec", { namedCurve: "P-384" }, "a")]);
save("rsa1024", [jwk("rsa", { modulusLength: 1024 }, "r")]);
save("all", [
    jwk("ed25519", {}, "ed-signing", true),
    jwk("ed25519", {}, "ed-verify"),
    jwk("ec", { namedCurve: "P-256" }, "es-signing", true),
    jwk("ec", { namedCurve: "P-256" }, "es-verify"),
    jwk("rsa", { modulusLength: 2048 }, "rs-verify"),
    hs,
]);
EOF
then
    have_node=1
fi

SRV="listen 127.0.0.1:$PORT;"


# --- rooms_redis ------------------------------------------------------------

check "rooms_redis: a port that is not a number" fail mark \
    'rooms_redis: invalid port in "127.0.0.1:notaport"' <<EOF
rooms_redis 127.0.0.1:notaport; #<
EOF

check "rooms_redis: unix: without a path" fail mark \
    'rooms_redis: no path in the unix domain socket in "unix:"' <<EOF
rooms_redis unix:; #<
EOF

for p in foo=bar timeout=abc timeout=0 db=x db=65536 connections=0 \
         connections=65 password= user= tls=on ssl sentinel= cluster=yes
do
    check "rooms_redis: bad parameter $p" fail mark \
        "rooms_redis: invalid parameter \"$p\" (expected cluster, sentinel=NAME, tls, user=..., password=..., db=N, timeout=TIME or connections=1..64)" <<EOF
rooms_redis 127.0.0.1:6379 db=1 $p; #<
EOF
done

check "rooms_redis: tls twice" fail mark \
    'rooms_redis: invalid parameter "tls" (expected cluster, sentinel=NAME, tls, user=..., password=..., db=N, timeout=TIME or connections=1..64)' <<EOF
rooms_redis 127.0.0.1:6379 tls tls; #<
EOF

check "rooms_redis: user= without password=" fail mark \
    'rooms_redis: "user=rooms" needs "password="' <<EOF
rooms_redis 127.0.0.1:6379 user=rooms; #<
EOF

check "rooms_redis: tls on a unix socket" fail mark \
    "rooms_redis: \"tls\" needs a TCP address, not \"unix:$WORK/redis.sock\"" <<EOF
rooms_redis unix:$WORK/redis.sock tls; #<
EOF

check "rooms_redis: twice" fail mark \
    '"rooms_redis" directive is duplicate' <<EOF
rooms_redis 127.0.0.1:6379;
rooms_redis 127.0.0.1:6380; #<
EOF

check "rooms_redis: in a server" fail mark \
    '"rooms_redis" directive is not allowed here' <<EOF
server {
    $SRV
    rooms_redis 127.0.0.1:6379; #<
}
EOF

check "rooms_redis: cluster twice" fail mark \
    'rooms_redis: invalid parameter "cluster" (expected cluster, sentinel=NAME, tls, user=..., password=..., db=N, timeout=TIME or connections=1..64)' <<EOF
rooms_redis 127.0.0.1:7000 cluster cluster; #<
EOF

check "rooms_redis: db= with cluster" fail mark \
    'rooms_redis: "db=2" cannot be used with "cluster": a Redis Cluster has database 0 only' <<EOF
rooms_redis 127.0.0.1:7000 127.0.0.1:7001 cluster db=2; #<
EOF

check "rooms_redis: db=0 with cluster, said anyway" fail mark \
    'rooms_redis: "db=0" cannot be used with "cluster": a Redis Cluster has database 0 only' <<EOF
rooms_redis 127.0.0.1:7000 db=0 cluster; #<
EOF

check "rooms_redis: several addresses, neither cluster nor sentinel" fail mark \
    'rooms_redis: 2 addresses need "cluster" (seed nodes) or "sentinel=NAME" (sentinels)' <<EOF
rooms_redis 127.0.0.1:7000 127.0.0.1:7001 timeout=1s; #<
EOF

check "rooms_redis: cluster and sentinel" fail mark \
    'rooms_redis: "cluster" and "sentinel=rooms" exclude each other' <<EOF
rooms_redis 127.0.0.1:7000 cluster sentinel=rooms; #<
EOF

check "rooms_redis: cluster with a unix socket" fail mark \
    "rooms_redis: \"cluster\" needs TCP addresses, not \"unix:$WORK/redis.sock\"" <<EOF
rooms_redis 127.0.0.1:7000 unix:$WORK/redis.sock cluster; #<
EOF

check "rooms_redis: a bad second address" fail mark \
    'rooms_redis: invalid port in "127.0.0.1:x"' <<EOF
rooms_redis 127.0.0.1:7000 127.0.0.1:x cluster; #<
EOF

check "rooms_redis: cluster, three seeds, every parameter" ok <<EOF
rooms_redis 127.0.0.1:7000 127.0.0.1:7001 [::1]:7002 cluster user=rooms
            password=secret timeout=2s connections=4;
EOF

check "rooms_redis: one seed with cluster" ok <<EOF
rooms_redis 127.0.0.1:7000 cluster;
EOF

check "rooms_redis: sentinel=, two sentinels, db=" ok <<EOF
rooms_redis 127.0.0.1:26379 127.0.0.1:26380 sentinel=rooms db=3 timeout=2s;
EOF

check "rooms_redis: no address" fail mark \
    'invalid number of arguments in "rooms_redis" directive' <<EOF
rooms_redis; #<
EOF


# --- rooms_redis_ssl_* --------------------------------------------------------

# a CA, a certificate and key it signed, another key, a file that is not PEM
TLS=$WORK/tls
mkdir -p "$TLS"
tls_req() {
    openssl req -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n') \
        -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -days 2 "$@"
}
{
    tls_req -keyout "$TLS/ca.key" -out "$TLS/ca.crt" -subj "/CN=config CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
    && tls_req -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -subj "/CN=client" \
        -keyout "$TLS/client.key" -out "$TLS/client.crt" \
    && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$TLS/other.key"
} > "$TLS/openssl.log" 2>&1 || { cat "$TLS/openssl.log" >&2; exit 1; }
echo "not a certificate" > "$TLS/garbage.pem"

TLS_OK="rooms_redis 127.0.0.1:6379 tls;
rooms_redis_ssl_trusted_certificate $TLS/ca.crt;"

for d in trusted_certificate certificate certificate_key; do
    check "rooms_redis_ssl_$d: missing file" fail mark \
        "rooms_redis_ssl_$d: cannot open \"$TLS/nope.pem\" (2: No such file or directory)" <<EOF
rooms_redis 127.0.0.1:6379 tls;
rooms_redis_ssl_$d $TLS/nope.pem; #<
EOF
done

check "rooms_redis_ssl_certificate: empty" fail mark \
    'rooms_redis_ssl_certificate: empty file name' <<EOF
rooms_redis_ssl_certificate ""; #<
EOF

check "rooms_redis_ssl_trusted_certificate: twice" fail mark \
    '"rooms_redis_ssl_trusted_certificate" directive is duplicate' <<EOF
$TLS_OK
rooms_redis_ssl_trusted_certificate $TLS/ca.crt; #<
EOF

check "rooms_redis_ssl_certificate_key: in a server" fail mark \
    '"rooms_redis_ssl_certificate_key" directive is not allowed here' <<EOF
$TLS_OK
server {
    $SRV
    rooms_redis_ssl_certificate_key $TLS/client.key; #<
}
EOF

check "rooms_redis_ssl_verify: not on or off" fail mark \
    'invalid value "maybe" in "rooms_redis_ssl_verify" directive, it must be "on" or "off"' <<EOF
$TLS_OK
rooms_redis_ssl_verify maybe; #<
EOF

check "rooms_redis_ssl_verify: twice" fail mark \
    '"rooms_redis_ssl_verify" directive is duplicate' <<EOF
$TLS_OK
rooms_redis_ssl_verify on;
rooms_redis_ssl_verify on; #<
EOF

for sn in '""' '"redis cache"' 'a/b'; do
    check "rooms_redis_ssl_server_name: $sn" fail mark \
        "rooms_redis_ssl_server_name: \"$(eval echo "$sn")\" is not a host name or an address" <<EOF
$TLS_OK
rooms_redis_ssl_server_name $sn; #<
EOF
done

check "rooms_redis_ssl_server_name: twice" fail mark \
    '"rooms_redis_ssl_server_name" directive is duplicate' <<EOF
$TLS_OK
rooms_redis_ssl_server_name a.example;
rooms_redis_ssl_server_name b.example; #<
EOF

check "rooms_redis: tls without a trusted certificate" fail none \
    '"rooms_redis" "127.0.0.1:6379" with "tls" verifies the server'"'"'s certificate: it needs "rooms_redis_ssl_trusted_certificate" (or "rooms_redis_ssl_verify off")' <<EOF
rooms_redis 127.0.0.1:6379 tls;
EOF

check "rooms_redis_ssl_verify on: still no trusted certificate" fail none \
    '"rooms_redis" "localhost:6379" with "tls" verifies the server'"'"'s certificate: it needs "rooms_redis_ssl_trusted_certificate" (or "rooms_redis_ssl_verify off")' <<EOF
rooms_redis localhost:6379 tls;
rooms_redis_ssl_verify on;
EOF

for d in trusted_certificate certificate_key; do
    check "rooms_redis_ssl_$d: without tls" fail none \
        "\"rooms_redis_ssl_$d\" is set, but \"rooms_redis\" has no \"tls\"" <<EOF
rooms_redis 127.0.0.1:6379 password=secret;
rooms_redis_ssl_$d $TLS/ca.crt;
EOF
done

check "rooms_redis_ssl_verify: without rooms_redis" fail none \
    '"rooms_redis_ssl_verify" is set, but "rooms_redis" has no "tls"' <<EOF
rooms_redis_ssl_verify off;
EOF

check "rooms_redis_ssl_certificate: without its key" fail none \
    "\"rooms_redis_ssl_certificate\" \"$TLS/client.crt\" needs \"rooms_redis_ssl_certificate_key\"" <<EOF
$TLS_OK
rooms_redis_ssl_certificate $TLS/client.crt;
EOF

check "rooms_redis_ssl_certificate_key: without a certificate" fail none \
    "\"rooms_redis_ssl_certificate_key\" \"$TLS/client.key\" needs \"rooms_redis_ssl_certificate\"" <<EOF
$TLS_OK
rooms_redis_ssl_certificate_key $TLS/client.key;
EOF

check "rooms_redis_ssl_certificate: a key that is not its own" fail none \
    "\"rooms_redis_ssl_certificate\" \"$TLS/client.crt\" and its key \"$TLS/other.key\" cannot be used" <<EOF
$TLS_OK
rooms_redis_ssl_certificate $TLS/client.crt;
rooms_redis_ssl_certificate_key $TLS/other.key;
EOF

check "rooms_redis_ssl_certificate: not PEM" fail none \
    "\"rooms_redis_ssl_certificate\" \"$TLS/garbage.pem\" and its key \"$TLS/client.key\" cannot be used" <<EOF
$TLS_OK
rooms_redis_ssl_certificate $TLS/garbage.pem;
rooms_redis_ssl_certificate_key $TLS/client.key;
EOF

check "rooms_redis_ssl_trusted_certificate: not PEM" fail none \
    "\"rooms_redis_ssl_trusted_certificate\" \"$TLS/garbage.pem\" cannot be used" <<EOF
rooms_redis 127.0.0.1:6379 tls;
rooms_redis_ssl_trusted_certificate $TLS/garbage.pem;
EOF


# --- rooms_access_key -------------------------------------------------------

# the value is a secret: the message does not repeat it
check "rooms_access_key: not base64" fail mark \
    'rooms_access_key: not valid base64' <<EOF
rooms_access_key "not base64!"; #<
EOF

check "rooms_access_key: 15 bytes" fail mark \
    'rooms_access_key: too short, use at least 16 random bytes (ACS keys are 64)' <<EOF
rooms_access_key AAAAAAAAAAAAAAAAAAAA; #<
EOF

check "rooms_access_key: empty" fail mark \
    'rooms_access_key: too short, use at least 16 random bytes (ACS keys are 64)' <<EOF
rooms_access_key ""; #<
EOF

check "rooms_access_key: in a location" fail mark \
    '"rooms_access_key" directive is not allowed here' <<EOF
server {
    $SRV
    location / {
        rooms_access_key AAAAAAAAAAAAAAAAAAAAAAAA; #<
    }
}
EOF


# --- rooms_token_keys -------------------------------------------------------

# bad_keys DESCRIPTION FILE MESSAGE: rooms_token_keys $KEYS/FILE must fail
# with 'rooms_token_keys: "$KEYS/FILE": MESSAGE' at its line
bad_keys() {
    check "rooms_token_keys: $1" fail mark \
        "rooms_token_keys: \"$KEYS/$2\": $3" \
        <<< "rooms_token_keys $KEYS/$2; #<"
}

check "rooms_token_keys: missing file" fail mark \
    "rooms_token_keys: cannot open \"$KEYS/nope.json\" (2: No such file or directory)" <<EOF
rooms_token_keys $KEYS/nope.json; #<
EOF

check "rooms_token_keys: a directory" fail mark \
    "rooms_token_keys: \"$KEYS\" is not a file of at most 1 MiB" <<EOF
rooms_token_keys $KEYS; #<
EOF

bad_keys "an empty file" zero-bytes.json \
    "invalid JSON at line 1, column 0: '[' or '{' expected near end of file"

bad_keys "not JSON" not-json.json \
    "invalid JSON at line 2, column 0: ']' expected near end of file"

bad_keys "a JSON array, not a JWKS" array.json \
    "JWKS must be a JSON object with \"keys\""

bad_keys "an object without \"keys\"" no-keys.json \
    "missing \"keys\""

bad_keys "no keys" empty.json \
    "no keys"

bad_keys "16-byte oct key" oct-short.json \
    "key 1 (\"short\"): oct key is 16 bytes, HS256 requires at least 32"

bad_keys "two keys with one kid" dup-kid.json \
    "key 2: duplicate kid \"a\" (also key 1)"

bad_keys "unknown kty" kty.json \
    "key 2 (\"f\"): unsupported \"kty\" \"foo\" (oct, RSA, EC and OKP are)"

if [ $have_node = 1 ]; then
    # the README's example message
    bad_keys "EC P-384 key" p384.json \
        "key 2 (\"a\"): EC key has curve \"P-384\", only P-256 is supported"

    bad_keys "RSA 1024 key" rsa1024.json \
        "key 1 (\"r\"): RSA modulus is 1024 bits, at least 2048 are required"
else
    skip "rooms_token_keys: EC P-384 key (no node)"
    skip "rooms_token_keys: RSA 1024 key (no node)"
fi

check "rooms_token_keys: twice in one block" fail mark \
    '"rooms_token_keys" directive is duplicate' <<EOF
rooms_token_keys $KEYS/oct.json;
rooms_token_keys $KEYS/oct.json; #<
EOF

check "rooms_token_keys: in a location" fail mark \
    '"rooms_token_keys" directive is not allowed here' <<EOF
server {
    $SRV
    location / {
        rooms_token_keys $KEYS/oct.json; #<
    }
}
EOF

for p in check=abc check= check=-1s every=5s; do
    check "rooms_token_keys: parameter $p" fail mark \
        "rooms_token_keys: invalid parameter \"$p\" (expected check=TIME, 0 for never)" <<EOF
rooms_token_keys $KEYS/oct.json $p; #<
EOF
done

check "rooms_token_keys: three arguments" fail mark \
    'invalid number of arguments in "rooms_token_keys" directive' <<EOF
rooms_token_keys $KEYS/oct.json check=1s check=2s; #<
EOF


# --- rooms_metrics, rooms_events_stream ---------------------------------------

check "rooms_metrics: an argument" fail mark \
    'invalid number of arguments in "rooms_metrics" directive' <<EOF
server {
    $SRV
    location /metrics { rooms_metrics on; #<
    }
}
EOF

check "rooms_metrics: in a server" fail mark \
    '"rooms_metrics" directive is not allowed here' <<EOF
server {
    $SRV
    rooms_metrics; #<
}
EOF

check "rooms_metrics: twice in a location" fail mark \
    '"rooms_metrics" directive is duplicate' <<EOF
server {
    $SRV
    location /metrics {
        rooms_metrics;
        rooms_metrics; #<
    }
}
EOF

check "rooms_metrics: after rooms_api in a location" fail mark \
    '"rooms_metrics" directive is not allowed with another content handler here' <<EOF
$REDIS
server {
    $SRV
    location /metrics {
        rooms_api;
        rooms_metrics; #<
    }
}
EOF

for p in maxlen=abc maxlen= maxlen=-5 max=10; do
    check "rooms_events_stream: parameter $p" fail mark \
        "rooms_events_stream: invalid parameter \"$p\" (expected maxlen=NUMBER, 0 for no limit)" <<EOF
$REDIS
rooms_events_stream "rooms:{events}" $p; #<
EOF
done

check "rooms_events_stream: an empty key" fail mark \
    'rooms_events_stream: the key is empty' <<EOF
$REDIS
rooms_events_stream ""; #<
EOF

check "rooms_events_stream: twice" fail mark \
    '"rooms_events_stream" directive is duplicate' <<EOF
$REDIS
rooms_events_stream events;
rooms_events_stream events; #<
EOF

check "rooms_events_stream: in a server" fail mark \
    '"rooms_events_stream" directive is not allowed here' <<EOF
$REDIS
server {
    $SRV
    rooms_events_stream events; #<
}
EOF

check "rooms_events_stream: three arguments" fail mark \
    'invalid number of arguments in "rooms_events_stream" directive' <<EOF
$REDIS
rooms_events_stream events maxlen=5 maxlen=6; #<
EOF

check "rooms_events_stream: without rooms_redis" fail none \
    '"rooms_events_stream" needs "rooms_redis"' <<EOF
rooms_events_stream events;
EOF


# --- rooms_token_leeway, rooms_token_cache, rooms_resource_id --------------

check "rooms_token_leeway: not a time" fail mark \
    '"rooms_token_leeway" directive invalid value' <<EOF
rooms_token_leeway 5minutes; #<
EOF

check "rooms_token_leeway: twice" fail mark \
    '"rooms_token_leeway" directive is duplicate' <<EOF
rooms_token_leeway 5s;
rooms_token_leeway 10s; #<
EOF

check "rooms_token_cache: over 16777216" fail mark \
    'rooms_token_cache: 16777217 is too large, at most 16777216 tokens' <<EOF
rooms_token_cache 16777217; #<
EOF

check "rooms_token_cache: not a number" fail mark \
    '"rooms_token_cache" directive invalid number' <<EOF
rooms_token_cache 64k; #<
EOF

check "rooms_token_cache: in a server" fail mark \
    '"rooms_token_cache" directive is not allowed here' <<EOF
server {
    $SRV
    rooms_token_cache 10; #<
}
EOF

check "rooms_resource_id: an underscore" fail end \
    'rooms_resource_id "a_b" may hold letters, digits and "-" only' <<EOF
rooms_resource_id a_b;
EOF

check "rooms_resource_id: empty" fail end \
    'rooms_resource_id "" must be 1..64 characters' <<EOF
rooms_resource_id "";
EOF

long=$(printf 'a%.0s' $(seq 65))
check "rooms_resource_id: 65 characters" fail end \
    "rooms_resource_id \"$long\" must be 1..64 characters" <<EOF
rooms_resource_id $long;
EOF

check "rooms_resource_id: twice" fail mark \
    '"rooms_resource_id" directive is duplicate' <<EOF
rooms_resource_id abc;
rooms_resource_id def; #<
EOF


# --- rooms_api, rooms_api_max_body ------------------------------------------

check "rooms_api: with an argument" fail mark \
    'invalid number of arguments in "rooms_api" directive' <<EOF
$REDIS
server {
    $SRV
    location / { rooms_api on; } #<
}
EOF

check "rooms_api: in a server" fail mark \
    '"rooms_api" directive is not allowed here' <<EOF
$REDIS
server {
    $SRV
    rooms_api; #<
}
EOF

check "rooms_api: twice in a location" fail mark \
    '"rooms_api" directive is duplicate' <<EOF
$REDIS
server {
    $SRV
    location / { rooms_api; rooms_api; } #<
}
EOF

check "rooms_api: without rooms_redis" fail none \
    '"rooms_api" and "rooms_admission" need "rooms_redis" in the http block' <<EOF
server {
    $SRV
    location / { rooms_api; }
}
EOF

check "rooms_api_max_body: not a size" fail mark \
    '"rooms_api_max_body" directive invalid value' <<EOF
rooms_api_max_body 1x; #<
EOF

check "rooms_api_max_body: twice" fail mark \
    '"rooms_api_max_body" directive is duplicate' <<EOF
server {
    $SRV
    location / { rooms_api_max_body 1k; rooms_api_max_body 2k; } #<
}
EOF


# --- rooms_admission, rooms_token -------------------------------------------

check "rooms_admission: twice in a location" fail mark \
    '"rooms_admission" directive is duplicate' <<EOF
$REDIS
$KEYS_OK
server {
    $SRV
    location / { rooms_admission \$arg_room; rooms_admission off; } #<
}
EOF

check "rooms_admission: a lone \"\$\"" fail mark \
    'invalid variable name' 'rooms_admission: invalid value "$"' <<EOF
$REDIS
$KEYS_OK
server {
    $SRV
    location / { rooms_admission \$; } #<
}
EOF

# shellcheck disable=SC2016
check "rooms_admission: an unclosed \"\${\"" fail mark \
    'the closing bracket in "room" variable is missing' \
    'rooms_admission: invalid value "${room"' <<EOF
$REDIS
$KEYS_OK
server {
    $SRV
    location / { rooms_admission \${room; } #<
}
EOF

check "rooms_admission: an unknown variable" fail none \
    'unknown "no_such_variable" variable' <<EOF
$REDIS
$KEYS_OK
server {
    $SRV
    location / { rooms_admission \$no_such_variable; }
}
EOF

check "rooms_admission: without rooms_token_keys" fail end \
    '"rooms_admission" needs "rooms_token_keys" in its server or in the http block' <<EOF
$REDIS
server {
    $SRV
    location / { rooms_admission \$arg_room; }
}
EOF

check "rooms_admission: keys only in another server" fail end \
    '"rooms_admission" needs "rooms_token_keys" in its server or in the http block' <<EOF
$REDIS
server {
    $SRV
    server_name a;
    $KEYS_OK
}
server {
    $SRV
    server_name b;
    location / { rooms_admission \$arg_room; }
}
EOF

check "rooms_admission: without rooms_redis" fail none \
    '"rooms_api" and "rooms_admission" need "rooms_redis" in the http block' <<EOF
$KEYS_OK
server {
    $SRV
    location / { rooms_admission \$arg_room; }
}
EOF

check "rooms_token: twice in a location" fail mark \
    '"rooms_token" directive is duplicate' <<EOF
server {
    $SRV
    location / { rooms_token \$arg_a; rooms_token \$arg_b; } #<
}
EOF

check "rooms_token: a lone \"\$\"" fail mark \
    'invalid variable name' 'rooms_token: invalid value "$"' <<EOF
server {
    $SRV
    location / { rooms_token \$; } #<
}
EOF


# --- rooms_cache -------------------------------------------------------------

check "rooms_cache: no zone=" fail mark \
    'rooms_cache: "zone=NAME:SIZE" is required' <<EOF
$REDIS
rooms_cache ttl=5s; #<
EOF

for p in zone=c zone=:1m zone=c:lots ttl=abc ttl=0 size=1m; do
    check "rooms_cache: bad parameter $p" fail mark \
        "rooms_cache: invalid parameter \"$p\" (expected zone=NAME:SIZE [ttl=TIME], or off)" <<EOF
$REDIS
rooms_cache zone=rooms:1m $p; #<
EOF
done

check "rooms_cache: off with a parameter in http" fail mark \
    'rooms_cache: invalid parameter "off" (expected zone=NAME:SIZE [ttl=TIME], or off)' <<EOF
$REDIS
rooms_cache off ttl=1s; #<
EOF

check "rooms_cache: a zone under 8 pages" fail mark \
    "rooms_cache: zone \"c\" is too small, use at least $(( $(getconf PAGESIZE) * 8 / 1024 ))k" <<EOF
$REDIS
rooms_cache zone=c:8k; #<
EOF

check "rooms_cache: a zone name another module uses" fail mark \
    'the shared memory zone "c" is already declared for a different use' <<EOF
$REDIS
limit_req_zone \$binary_remote_addr zone=c:1m rate=1r/s;
rooms_cache zone=c:1m; #<
EOF

check "rooms_cache: twice in http" fail mark \
    '"rooms_cache" directive is duplicate' <<EOF
$REDIS
rooms_cache zone=a:1m;
rooms_cache zone=b:1m; #<
EOF

check "rooms_cache: zone= in a location" fail mark \
    '"rooms_cache" directive takes only "off" here: the zone is declared in the http block' <<EOF
$REDIS
server {
    $SRV
    location / { rooms_cache zone=c:1m; } #<
}
EOF

check "rooms_cache: zone= in a server" fail mark \
    '"rooms_cache" directive takes only "off" here: the zone is declared in the http block' <<EOF
$REDIS
server {
    $SRV
    rooms_cache zone=c:1m; #<
}
EOF

check "rooms_cache: off twice in a location" fail mark \
    '"rooms_cache" directive is duplicate' <<EOF
$REDIS
server {
    $SRV
    location / { rooms_cache off; rooms_cache off; } #<
}
EOF

check "rooms_cache: without rooms_redis" fail none \
    '"rooms_cache" needs "rooms_redis"' <<EOF
rooms_cache zone=rooms:1m;
EOF


# --- rooms_token_forward -------------------------------------------------------

check "rooms_token_forward: neither on nor off" fail mark \
    'invalid value "no" in "rooms_token_forward" directive, it must be "on" or "off"' <<EOF
server {
    $SRV
    location / { rooms_token_forward no; } #<
}
EOF

# --- rooms_roles ---------------------------------------------------------------

check "rooms_roles: unknown role" fail mark \
    'rooms_roles: unknown role "Admin" (expected Presenter, Attendee, Consumer or Collaborator)' <<EOF
server {
    $SRV
    location / { rooms_roles Presenter Admin; } #<
}
EOF

check "rooms_roles: twice in a location" fail mark \
    '"rooms_roles" directive is duplicate' <<EOF
server {
    $SRV
    location / { rooms_roles Presenter; rooms_roles Attendee; } #<
}
EOF

check "rooms_roles: no role" fail mark \
    'invalid number of arguments in "rooms_roles" directive' <<EOF
server {
    $SRV
    location / { rooms_roles; } #<
}
EOF


# --- live sessions -------------------------------------------------------------

for v in 0 100001 -1 lots 3.5; do
    check "rooms_max_participants: $v" fail mark \
        "rooms_max_participants: invalid value \"$v\" (expected a number of 1..100000)" <<EOF
rooms_max_participants $v; #<
EOF
done

check "rooms_max_participants: twice" fail mark \
    '"rooms_max_participants" directive is duplicate' <<EOF
rooms_max_participants 10;
rooms_max_participants 20; #<
EOF

check "rooms_max_participants: in a server" fail mark \
    '"rooms_max_participants" directive is not allowed here' <<EOF
server {
    $SRV
    rooms_max_participants 10; #<
}
EOF

check "rooms_duplicate_session: unknown mode" fail mark \
    'rooms_duplicate_session: invalid value "kick" (expected replace, reject or allow)' <<EOF
server {
    $SRV
    location / { rooms_duplicate_session kick; } #<
}
EOF

check "rooms_duplicate_session: twice in a location" fail mark \
    '"rooms_duplicate_session" directive is duplicate' <<EOF
server {
    $SRV
    location / { rooms_duplicate_session reject; rooms_duplicate_session allow; } #<
}
EOF

for v in 500ms 2h 0 soon; do
    check "rooms_session_lease: $v" fail mark \
        "rooms_session_lease: invalid value \"$v\" (expected a time of 1s..1h)" <<EOF
rooms_session_lease $v; #<
EOF
done

check "rooms_session_lease: in a location" fail mark \
    '"rooms_session_lease" directive is not allowed here' <<EOF
server {
    $SRV
    location / { rooms_session_lease 10s; } #<
}
EOF

check "rooms_session: neither on nor off" fail mark \
    'invalid value "yes" in "rooms_session" directive, it must be "on" or "off"' <<EOF
server {
    $SRV
    location / { rooms_session yes; } #<
}
EOF

check "rooms_session: twice in a location" fail mark \
    '"rooms_session" directive is duplicate' <<EOF
server {
    $SRV
    location / { rooms_session on; rooms_session off; } #<
}
EOF

check "rooms_session_expire: neither on nor off" fail mark \
    'invalid value "1" in "rooms_session_expire" directive, it must be "on" or "off"' <<EOF
rooms_session_expire 1; #<
EOF

long=$(printf 'g%.0s' $(seq 65))
for v in "a/b" "gw 1" "$long" "" "gw:1"; do
    check "rooms_gateway_name: \"$v\"" fail mark \
        "rooms_gateway_name: invalid value \"$v\" (expected 1..64 letters, digits, \".\", \"-\" or \"_\")" <<EOF
rooms_gateway_name "$v"; #<
EOF
done

check "rooms_gateway_name: twice" fail mark \
    '"rooms_gateway_name" directive is duplicate' <<EOF
rooms_gateway_name a;
rooms_gateway_name b; #<
EOF

check "rooms_gateway_name: in a server" fail mark \
    '"rooms_gateway_name" directive is not allowed here' <<EOF
server {
    $SRV
    rooms_gateway_name a; #<
}
EOF


# --- good configurations ------------------------------------------------------

check "good: the module loaded, no directive" ok <<EOF
server { $SRV }
EOF

if [ $have_node = 1 ]; then
    JWKS=$KEYS/all.json
else
    JWKS=$KEYS/oct.json
fi

# README's configuration example, with an upstream and without TLS
check "good: the README's configuration example" ok <<EOF
rooms_redis        127.0.0.1:6379 timeout=1s;
rooms_access_key   3q2+7wAAAAAAAAAAAAAAAA==;
rooms_token_keys   $JWKS check=5s;
rooms_cache        zone=rooms:10m;
rooms_events_stream "rooms:{events}" maxlen=100000;

upstream media_cluster { server 127.0.0.1:$PORT; }

server {
    $SRV

    location /rooms       { rooms_api; }
    location /identities  { rooms_api; }
    location = /metrics   { rooms_metrics; allow 10.0.0.0/8; deny all; }

    location ~ ^/media/(?<room>[0-9]+)(/|\$) {
        rooms_admission   \$room;
        proxy_pass        http://media_cluster;
        proxy_http_version 1.1;
        proxy_set_header  Upgrade \$http_upgrade;
        proxy_set_header  Connection \$http_connection;
        proxy_set_header  X-Rooms-User \$rooms_user_id;
        proxy_set_header  X-Rooms-Role \$rooms_role;
    }

    location ~ ^/media/(?<room>[0-9]+)/publish {
        rooms_admission   \$room;
        rooms_roles       Presenter Collaborator;
        proxy_pass        http://media_cluster;
    }
}
EOF

check "good: rooms_cache off in a server and a location" ok <<EOF
$REDIS
$KEYS_OK
rooms_cache zone=rooms:1m ttl=10s;
server {
    $SRV
    rooms_cache off;
    location /direct { rooms_admission \$arg_room; return 204; }
}
server {
    $SRV
    server_name b;
    location /cached { rooms_admission \$arg_room; return 204; }
    location /direct { rooms_cache off; rooms_admission \$arg_room; }
}
EOF

check "good: rooms_token from a variable and from text" ok <<EOF
$REDIS
$KEYS_OK
rooms_token \$http_x_token;
server {
    $SRV
    location /a { rooms_admission \$arg_room; }
    location /b { rooms_token \$cookie_t; rooms_admission \${arg_room}; }
    location /c { rooms_token "t-\$arg_t"; rooms_admission "\$arg_r\$arg_s"; }
    location /d { rooms_admission off; }
}
EOF

check "good: rooms_redis unix: and every parameter" ok <<EOF
rooms_redis unix:$WORK/redis.sock db=15 password=secret timeout=250ms connections=64;
server { $SRV }
EOF

check "good: tls, an ACL user and every rooms_redis_ssl_* directive" ok <<EOF
rooms_redis localhost:6379 tls user=rooms password=secret db=3 timeout=2s connections=4;
rooms_redis_ssl_trusted_certificate $TLS/ca.crt;
rooms_redis_ssl_certificate $TLS/client.crt;
rooms_redis_ssl_certificate_key $TLS/client.key;
rooms_redis_ssl_server_name redis.example;
rooms_redis_ssl_verify on;
$KEYS_OK
server {
    $SRV
    location /rooms { rooms_api; }
    location /media { rooms_admission \$arg_room; }
}
EOF

check "good: tls with rooms_redis_ssl_verify off, no trusted certificate" ok <<EOF
rooms_redis_ssl_verify off;
rooms_redis 127.0.0.1:6379 tls password=secret;
EOF

check "good: file names relative to the configuration's directory" ok <<EOF
rooms_redis [::1]:6379 tls;
rooms_redis_ssl_trusted_certificate ../tls/ca.crt;
rooms_redis_ssl_server_name 127.0.0.1;
EOF

check "good: two access keys (rotation), rooms_api without a key" ok <<EOF
$REDIS
rooms_access_key c2VjcmV0LXNlY3JldC1zZWNyZXQ=;
server {
    $SRV
    rooms_access_key b3RoZXItb3RoZXItb3RoZXI=;
    location / { rooms_api; }
}
server {
    $SRV
    server_name nokey;
    location / { rooms_api; }
}
EOF

check "good: keys in the server that admits only" ok <<EOF
$REDIS
server {
    $SRV
    $KEYS_OK
    rooms_token_leeway 30s;
    location / { rooms_admission \$arg_room; }
}
server {
    $SRV
    server_name other;
}
EOF

check "good: limits at their bounds, roles in any case" ok <<EOF
rooms_token_cache 16777216;
rooms_resource_id $(printf 'a%.0s' $(seq 64));
rooms_api_max_body 0;
server {
    $SRV
    location / { rooms_roles presenter ATTENDEE Consumer collaborator; }
}
EOF

check "good: live sessions, every directive at its bounds" ok <<EOF
$REDIS
$KEYS_OK
rooms_max_participants 100000;
rooms_session_lease 1s;
rooms_gateway_name $(printf 'g%.0s' $(seq 64));
rooms_session_expire off;
rooms_session on;
server {
    $SRV
    rooms_duplicate_session reject;
    location /a { rooms_admission \$arg_room; rooms_session off; }
    location /b { rooms_admission \$arg_room; rooms_duplicate_session allow; }
    location /c { rooms_admission \$arg_room; rooms_session_expire on;
                  rooms_duplicate_session replace; }
    location /d { rooms_session on; }
}
EOF

check "good: live sessions, the smallest room and the longest lease" ok <<EOF
$REDIS
$KEYS_OK
rooms_max_participants 1;
rooms_session_lease 1h;
rooms_gateway_name gw-1.example_com;
server { $SRV location / { rooms_admission \$arg_room; rooms_session on; } }
EOF

check "good: rooms_token_cache 0 turns the table off" ok <<EOF
rooms_token_cache 0;
EOF

if [ $have_node = 1 ]; then
    check "good: JWKS with Ed25519, P-256, RSA 2048 and oct keys" ok <<EOF
rooms_token_keys $KEYS/all.json;
EOF
else
    skip "good: JWKS with Ed25519, P-256, RSA 2048 and oct keys (no node)"
fi

check "good: metrics, a change feed with a hash tag, keys checked every 10s" ok <<EOF
$REDIS
rooms_token_keys $KEYS/oct.json check=10s;
rooms_events_stream "rooms:{events}" maxlen=100000;
server {
    $SRV
    rooms_token_keys $KEYS/oct.json check=0;
    location = /metrics { rooms_metrics; }
    location /other { rooms_metrics; }
}
EOF

check "good: a change feed kept whole" ok <<EOF
$REDIS
rooms_events_stream events maxlen=0;
EOF


say "config: $passed passed, $failed failed, ${#skipped[@]} skipped"
[ $failed -eq 0 ]
