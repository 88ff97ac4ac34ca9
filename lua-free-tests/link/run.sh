#!/usr/bin/env bash
# How the built module links: hiredis is inside it, static and hidden, so
# that no other module's hiredis (nchan exports its own) can take the place
# of ours, nor ours of theirs (nginx loads modules RTLD_GLOBAL).
#
#   1. the module exports no symbol of libhiredis.a, and none named like
#      hiredis' (redis*, sds*, __redis*, hi_*)
#   2. it imports none either: every hiredis reference is resolved inside
#   3. no NEEDED libhiredis entry
#   4. nginx -t loads it
#
#   lua-free-tests/link/run.sh [MODULE.so]      (default: scripts/build's)
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/../../scripts/lib.sh"

SO=$(realpath "${1:-$MODULE}")
NGINX=${TEST_NGINX_BINARY:-$(command -v nginx || echo /usr/sbin/nginx)}
WORK=$ROOT/build/test/link
NAMES='^(redis|sds|__redis|hi_)'
failed=0

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# show at most 5 lines of what was found
show() { head -5 | sed 's/^/     /'; }

if [ ! -f "$SO" ]; then
    echo "$SO missing: run scripts/build" >&2
    exit 1
fi

rm -rf "$WORK"
mkdir -p "$WORK"

if [ -n "${ROOMS_HIREDIS_LIB:-}" ]; then
    archive=$ROOMS_HIREDIS_LIB/libhiredis.a
else
    archive=$(${CC:-cc} -print-file-name=libhiredis.a)
fi

nm -D --defined-only "$SO" | awk '{print $NF}' | sort -u > "$WORK/exported"
nm -D --undefined-only "$SO" | awk '{print $NF}' | sort -u > "$WORK/imported"

if [ -f "$archive" ]; then
    nm -g --defined-only "$archive" 2>/dev/null | awk 'NF == 3 {print $3}' \
        | sort -u > "$WORK/hiredis"
else
    echo "note: no $archive to compare with, names only"
    : > "$WORK/hiredis"
fi

{
    comm -12 "$WORK/exported" "$WORK/hiredis"
    grep -E "$NAMES" "$WORK/exported"
} | sort -u > "$WORK/leaked"

if [ -s "$WORK/leaked" ]; then
    fail "1 the module exports $(wc -l < "$WORK/leaked") hiredis symbols"
    show < "$WORK/leaked"
else
    pass "1 no hiredis symbol exported ($(wc -l < "$WORK/hiredis") in" \
         "libhiredis.a, $(wc -l < "$WORK/exported") exported by the module)"
fi

{
    comm -12 "$WORK/imported" "$WORK/hiredis"
    grep -E "$NAMES" "$WORK/imported"
} | sort -u > "$WORK/unresolved"

if [ -s "$WORK/unresolved" ]; then
    fail "2 the module leaves $(wc -l < "$WORK/unresolved") hiredis symbols" \
         "to the dynamic linker"
    show < "$WORK/unresolved"
else
    pass "2 no hiredis symbol left to the dynamic linker"
fi

readelf -d "$SO" | grep NEEDED > "$WORK/needed"

if grep -q 'libhiredis' "$WORK/needed"; then
    fail "3 the module needs libhiredis.so"
    grep libhiredis "$WORK/needed" | show
else
    pass "3 no libhiredis.so NEEDED ($(grep -o '\[.*\]' "$WORK/needed" \
                                      | tr -d '[]' | tr '\n' ' '))"
fi

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" << EOF
load_module $SO;
pid $WORK/nginx/nginx.pid;
events {}
http {
    access_log off;
    rooms_redis 127.0.0.1:6379;
    server {
        listen 127.0.0.1:$(free_port);
        location / { rooms_api; }
    }
}
EOF

if "$NGINX" -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
       -e "$WORK/nginx/error.log" > "$WORK/nginx/stderr" 2>&1
then
    pass "4 nginx -t loads the module"
else
    fail "4 nginx -t does not load the module"
    show < "$WORK/nginx/stderr"
fi

say "link: $((4 - failed)) passed, $failed failed"
[ $failed -eq 0 ]
