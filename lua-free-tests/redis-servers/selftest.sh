#!/usr/bin/env bash
# Self-test of scripts/redis-servers: starts every topology, checks each
# with redis-cli and openssl, runs the faults (kill-master, restart,
# reshard with its ASK window, sentinel-failover), compares
# rooms_slot_of_key() with CLUSTER KEYSLOT on a cluster node
# (lua-free-tests/unit slot-crosscheck), and stops everything.
#
#   lua-free-tests/redis-servers/selftest.sh      from any directory
#
# Needs redis-server, redis-tools, openssl, gcc and libhiredis-dev (all in
# ROOMS_PACKAGES; scripts/test's install step brings them).  Not part of
# scripts/test.  Prints "ok"/"not ok" lines, the start time of each
# topology, and ends with "N passed, N failed"; exits non-zero on a
# failure.  The directories (logs, certificates, env) stay in
# build/redis-servers-selftest/ for a look afterwards; no server does.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../../scripts/lib.sh"

RS=$ROOT/scripts/redis-servers
W=$ROOT/build/redis-servers-selftest
passed=0
failed=0
times=()

cleanup() {
    "$RS" stop "$W" 2>/dev/null
}
trap cleanup EXIT

# check DESCRIPTION CMD...: CMD must succeed
check() {
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok - $what"
    else
        failed=$((failed + 1))
        echo "not ok - $what"
    fi
}

# has PATTERN CMD...: CMD's output (stdout and stderr) matches PATTERN
has() {
    local re=$1 out
    shift
    out=$("$@" 2>&1)
    grep -qE -- "$re" <<< "$out" && return 0
    echo "    expected /$re/, got: $(head -c 300 <<< "$out")" >&2
    return 1
}

# start TOPOLOGY DIR [OPTIONS]: start it, load its variables, keep the time
start() {
    local out
    if ! out=$("$RS" "$@"); then
        check "$* starts" false
        return 1
    fi
    eval "$out"
    times+=("$(printf '%-32s %ss' "$1${3:+ $3}" "$REDIS_START_SECONDS")")
    check "$1 ${3:-} starts (${REDIS_START_SECONDS}s)" true
}

fault() {
    local out
    out=$("$RS" "$@") || return 1
    eval "$out"
}

rm -rf "$W"
mkdir -p "$W"

say "redis-servers selftest in $W"


# ---- TLS ----------------------------------------------------------------

if start tls "$W/tls"; then
    tls=(redis-cli -h 127.0.0.1 -p "$REDIS_TLS_PORT" --tls --cacert "$REDIS_CA")
    check "TLS: PING with a client certificate" has '^PONG$' \
        "${tls[@]}" --cert "$REDIS_CLIENT_CERT" --key "$REDIS_CLIENT_KEY" ping
    check "TLS: PING without a client certificate (tls-auth-clients no)" \
        has '^PONG$' "${tls[@]}" ping
    check "TLS: a client trusting another CA refuses the server" \
        has 'certificate verify failed' redis-cli -h 127.0.0.1 \
        -p "$REDIS_TLS_PORT" --tls --cacert "$REDIS_OTHER_CA" ping
    check "TLS: no PONG in plain text on the TLS port" \
        bash -c "! redis-cli -h 127.0.0.1 -p $REDIS_TLS_PORT ping 2>&1 \
                 | grep -q PONG"
    check "TLS: the server certificate matches localhost and 127.0.0.1" \
        has 'Verification: OK' bash -c "echo | openssl s_client \
            -connect 127.0.0.1:$REDIS_TLS_PORT -CAfile $REDIS_CA \
            -verify_hostname localhost -verify_return_error 2>&1 \
            && echo | openssl s_client -connect 127.0.0.1:$REDIS_TLS_PORT \
            -CAfile $REDIS_CA -verify_ip 127.0.0.1 -verify_return_error 2>&1"
    check "TLS: the wrong-name server fails hostname verification" \
        has 'hostname mismatch' bash -c "echo | openssl s_client \
            -connect 127.0.0.1:$REDIS_TLS_WRONG_NAME_PORT -CAfile $REDIS_CA \
            -verify_hostname localhost -verify_return_error"
fi

if start tls "$W/tls-client-certs" --client-certs; then
    tls=(redis-cli -h 127.0.0.1 -p "$REDIS_TLS_PORT" --tls --cacert "$REDIS_CA")
    check "TLS client certs: PING with a client certificate" has '^PONG$' \
        "${tls[@]}" --cert "$REDIS_CLIENT_CERT" --key "$REDIS_CLIENT_KEY" ping
    check "TLS client certs: no PONG without a client certificate" \
        bash -c "! ${tls[*]} ping 2>&1 | grep -q PONG"
    check "TLS client certs: no PONG with a certificate of another CA" \
        bash -c "! ${tls[*]} --cert $REDIS_OTHER_CLIENT_CERT \
                 --key $REDIS_OTHER_CLIENT_KEY ping 2>&1 | grep -q PONG"
fi


# ---- ACL ----------------------------------------------------------------

acl_checks() {
    local label=$1
    shift
    local cli=(redis-cli -h 127.0.0.1 -p "$REDIS_ACL_PORT" "$@")
    local rooms=("${cli[@]}" --user "$REDIS_ACL_USER"
                 --pass "$REDIS_ACL_PASSWORD" --no-auth-warning)
    check "$label: the default user is refused" \
        has 'NOAUTH' "${cli[@]}" ping
    check "$label: AUTH as the default user fails" \
        has 'WRONGPASS' "${cli[@]}" --user default --pass x \
        --no-auth-warning ping
    check "$label: a wrong password for $REDIS_ACL_USER fails" \
        has 'WRONGPASS' "${cli[@]}" --user "$REDIS_ACL_USER" --pass x \
        --no-auth-warning ping
    check "$label: AUTH $REDIS_ACL_USER, PING" has '^PONG$' "${rooms[@]}" ping
    check "$label: $REDIS_ACL_USER writes and reads rooms:* keys" \
        has '^v$' bash -c '"$@" set rooms:x v >/dev/null && "$@" get rooms:x' \
        _ "${rooms[@]}"
    check "$label: $REDIS_ACL_USER runs hash, zset, set, expiry commands" \
        has '^1$' bash -c '"$@" hset "rooms:{1}:p" a b >/dev/null \
            && "$@" zadd rooms:index 1 a >/dev/null \
            && "$@" sadd rooms:s a >/dev/null \
            && "$@" pexpire rooms:s 100000' _ "${rooms[@]}"
    # shellcheck disable=SC2016 # for the inner bash
    check "$label: $REDIS_ACL_USER runs scripts (SCRIPT LOAD, EVALSHA)" \
        has '^1$' bash -c 'sha=$("$@" script load \
            "return redis.call(\"INCR\", KEYS[1])") \
            && "$@" evalsha "$sha" 1 rooms:n' _ "${rooms[@]}"
    check "$label: $REDIS_ACL_USER publishes" \
        has '^0$' "${rooms[@]}" publish rooms:events:1 x
    check "$label: $REDIS_ACL_USER may not touch other keys" \
        has 'NOPERM' "${rooms[@]}" set other:x v
    check "$label: $REDIS_ACL_USER may not FLUSHALL" \
        has 'NOPERM' "${rooms[@]}" flushall
    check "$label: $REDIS_ACL_USER may not CONFIG GET" \
        has 'NOPERM' "${rooms[@]}" config get maxmemory
}

if start acl "$W/acl"; then
    acl_checks "ACL"
fi

if start acl "$W/acl-tls" --tls; then
    acl_checks "ACL over TLS" --tls --cacert "$REDIS_CA"
fi


# ---- cluster ------------------------------------------------------------

# owner PORT SLOT: the port of the master serving SLOT, as PORT sees it
owner() {
    redis-cli -p "$1" cluster nodes | awk -v s="$2" '
        $3 ~ /master/ && $3 !~ /fail/ {
            for (i = 9; i <= NF; i++) {
                n = split($i, r, "-"); if (n == 1) r[2] = r[1]
                if (s + 0 >= r[1] + 0 && s + 0 <= r[2] + 0) {
                    p = $2; sub(/@.*/, "", p); sub(/.*:/, "", p); print p
                }
            }
        }'
}

cluster_ok_everywhere() {
    local p
    for p in $REDIS_CLUSTER_MASTERS $REDIS_CLUSTER_REPLICAS; do
        redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || return 1
    done
}

if start cluster "$W/cluster"; then
    # shellcheck disable=SC2086
    set -- $REDIS_CLUSTER_PORTS
    check "cluster: six nodes" test $# -eq 6
    # shellcheck disable=SC2086
    set -- $REDIS_CLUSTER_MASTERS
    check "cluster: three masters" test $# -eq 3
    check "cluster: cluster_state:ok, 16384 slots on every node" \
        cluster_ok_everywhere

    # a key written through one master, read through another, both -c
    slot=$(redis-cli -p "$1" cluster keyslot selftest)
    home=$(owner "$1" "$slot")
    others=()
    for p in $REDIS_CLUSTER_MASTERS; do
        [ "$p" = "$home" ] || others+=("$p")
    done
    check "cluster: SET through ${others[0]} (-c follows MOVED)" \
        has '^OK$' redis-cli -c -p "${others[0]}" set selftest v1
    check "cluster: GET through ${others[1]} reads it" \
        has '^v1$' redis-cli -c -p "${others[1]}" get selftest
    check "cluster: without -c the other master answers MOVED" \
        has "^MOVED $slot 127.0.0.1:$home\$" \
        redis-cli -p "${others[1]}" get selftest

    # rooms_slot_of_key() against CLUSTER KEYSLOT
    check "cluster: rooms_slot_of_key() agrees with CLUSTER KEYSLOT" \
        has ' 0 failed' make -s -C "$ROOT/lua-free-tests/unit" \
        slot-crosscheck REDIS_PORT="$home" SLOT_KEYS=1000
    make -s -C "$ROOT/lua-free-tests/unit" slot-crosscheck \
        REDIS_PORT="$home" SLOT_KEYS=1000 | sed 's/^/    /'

    # reshard: ASK while the keys are moving, MOVED after
    to=${others[0]}
    for i in 1 2 3; do
        redis-cli -c -p "$home" set "{resh}$i" "w$i" >/dev/null
    done
    tslot=$(redis-cli -p "$home" cluster keyslot resh)
    tfrom=$(owner "$home" "$tslot")
    tto=$to
    [ "$tto" = "$tfrom" ] && tto=${others[1]}
    if fault reshard "$W/cluster" "$tslot" "$tto" --pause-after-migrating
    then
        check "reshard: paused in state migrating" \
            test "$REDIS_RESHARD_STATE" = migrating
        check "reshard, migrating: a key still at the source is served" \
            has '^w1$' redis-cli -p "$tfrom" get '{resh}1'
        check "reshard, migrating: a missing key gets ASK" \
            has "^ASK $tslot 127.0.0.1:$tto\$" \
            redis-cli -p "$tfrom" get '{resh}missing'
        check "reshard, migrating: the target without ASKING says MOVED" \
            has "^MOVED $tslot 127.0.0.1:$tfrom\$" \
            redis-cli -p "$tto" get '{resh}1'
    else
        check "reshard --pause-after-migrating" false
    fi
    if fault reshard-resume "$W/cluster"; then
        check "reshard: done, 3 keys moved" \
            test "$REDIS_RESHARD_STATE/$REDIS_RESHARD_KEYS" = done/3
        check "reshard, done: the source answers MOVED to the target" \
            has "^MOVED $tslot 127.0.0.1:$tto\$" \
            redis-cli -p "$tfrom" get '{resh}1'
        check "reshard, done: the keys read through -c" \
            has '^w3$' redis-cli -c -p "$tfrom" get '{resh}3'
    else
        check "reshard-resume" false
    fi
    # and back, pausing once the keys are over: then every key gets ASK
    if fault reshard "$W/cluster" "$tslot" "$tfrom" --pause-after-keys; then
        check "reshard, keys moved: every key gets ASK at the source" \
            has "^ASK $tslot 127.0.0.1:$tfrom\$" \
            redis-cli -p "$tto" get '{resh}2'
        check "reshard, keys moved: ASKING then GET at the target" \
            has '^w2$' bash -c "printf 'ASKING\nGET {resh}2\n' \
                                | redis-cli -p $tfrom"
        check "reshard, keys moved: resumes" \
            fault reshard-resume "$W/cluster"
        check "reshard: the slot is back" \
            has "^MOVED $tslot 127.0.0.1:$tfrom\$" \
            redis-cli -p "$tto" get '{resh}2'
    else
        check "reshard --pause-after-keys" false
    fi

    # kill a master: its replica takes over, the data stays
    if fault kill-master "$W/cluster" "$home"; then
        check "kill-master: $home replaced by $REDIS_PROMOTED_PORT in\
 ${REDIS_FAILOVER_SECONDS}s" true
        times+=("$(printf '%-32s %ss' "cluster failover (kill-master)" \
                   "$REDIS_FAILOVER_SECONDS")")
        check "kill-master: the key still reads through -c" \
            has '^v1$' redis-cli -c -p "${others[1]}" get selftest
        check "kill-master: $REDIS_PROMOTED_PORT is a master" \
            has '^master$' bash -c \
            "redis-cli -p $REDIS_PROMOTED_PORT role | head -1"
        check "kill-master: cluster_state:ok on the live nodes" \
            cluster_ok_everywhere
    else
        check "kill-master" false
    fi
    if fault restart "$W/cluster" "$home"; then
        check "restart: $home is back as a replica" \
            has '^slave$' bash -c "redis-cli -p $home role | head -1"
    else
        check "restart" false
    fi
fi

if start cluster "$W/cluster-tls" --tls; then
    tls=(--tls --cacert "$REDIS_CA" --cert "$REDIS_CLIENT_CERT"
         --key "$REDIS_CLIENT_KEY")
    # shellcheck disable=SC2086
    set -- $REDIS_CLUSTER_MASTERS
    check "cluster over TLS: SET and GET through two nodes with -c" \
        has '^t$' bash -c '"$@" -p '"$1"' set tlskey t >/dev/null \
            && "$@" -p '"$2"' get tlskey' _ redis-cli -c "${tls[@]}"
    check "cluster over TLS: no plain-text port" \
        has '"port":0|^0$' redis-cli -p "$1" "${tls[@]}" config get port
fi


# ---- sentinel -----------------------------------------------------------

sentinels_say() {
    local s
    for s in $REDIS_SENTINEL_PORTS; do
        [ "$(redis-cli -p "$s" sentinel get-master-addr-by-name \
             "$REDIS_SENTINEL_MASTER_NAME" | sed -n 2p)" = "$1" ] || return 1
    done
}

if start sentinel "$W/sentinel"; then
    check "sentinel: all three give the master's address" \
        sentinels_say "$REDIS_MASTER_PORT"
    check "sentinel: a write on the master reaches the replica" \
        has '^s1$' bash -c "redis-cli -p $REDIS_MASTER_PORT set sk s1 \
            >/dev/null && redis-cli -p $REDIS_MASTER_PORT wait 1 1000 \
            >/dev/null && redis-cli -p $REDIS_REPLICA_PORT get sk"
    old=$REDIS_MASTER_PORT
    if fault sentinel-failover "$W/sentinel"; then
        check "sentinel-failover: $old -> $REDIS_MASTER_PORT in\
 ${REDIS_FAILOVER_SECONDS}s" test "$REDIS_MASTER_PORT" != "$old"
        check "sentinel-failover: all sentinels give the new master" \
            sentinels_say "$REDIS_MASTER_PORT"
        check "sentinel-failover: the data is on the new master" \
            has '^s1$' redis-cli -p "$REDIS_MASTER_PORT" get sk
    else
        check "sentinel-failover" false
    fi
    old=$REDIS_MASTER_PORT
    if fault kill-master "$W/sentinel"; then
        check "sentinel kill-master: $old -> $REDIS_MASTER_PORT in\
 ${REDIS_FAILOVER_SECONDS}s" sentinels_say "$REDIS_MASTER_PORT"
        times+=("$(printf '%-32s %ss' "sentinel failover (kill-master)" \
                   "$REDIS_FAILOVER_SECONDS")")
    else
        check "sentinel kill-master" false
    fi
fi


# ---- stop ---------------------------------------------------------------

# processes whose working directory is under $W (redis runs in its --dir)
live_under_w() {
    local p n=0
    for p in /proc/[0-9]*; do
        case $(readlink "$p/cwd" 2>/dev/null) in
        "$W"/*) n=$((n + 1)) ;;
        esac
    done
    echo "$n"
}

check "a start refuses a directory it did not make" \
    has 'not made by redis-servers' "$RS" tls "$ROOT/lua-free-tests/unit"
check "a start refuses a directory with servers running" \
    has 'servers running' "$RS" acl "$W/acl"
check "stop stops everything" "$RS" stop "$W"
check "no process left in $W" test "$(live_under_w)" -eq 0
check "no pidfile left in $W" \
    test -z "$(find "$W" -name redis.pid)"

echo
echo "start times:"
printf '    %s\n' "${times[@]}"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
