#!/usr/bin/env bash
# The Debian package end to end, on this machine:
#
#   1. scripts/package builds build/deb/<pkg>_<version>_<arch>.deb; its
#      control data depends on this nginx's ABI and it ships the .so and
#      the mod-http-rooms.conf snippet;
#   2. apt-get installs it, pulling nothing else; the module is enabled
#      (the postinst link in /etc/nginx/modules-enabled);
#   3. a private nginx loads the installed module through that link only,
#      passes nginx -t, and on a free port against its own Redis admits an
#      invitee with a valid HS256 token and refuses a stranger (403) and a
#      request without a token (401);
#   4. apt-get purge removes the .so, the snippet and the link, and the
#      packages and module directories are as they were before the run.
#
# The system nginx is never started, stopped or restarted; the private one
# runs with its own prefix under build/package/.  Installing or purging any
# libnginx-mod-* package fires Debian's nginx-reload trigger, which reloads
# the system nginx only when it is running.  A package of this name already
# installed (left by a run killed half way) is purged first, with a line
# that says so.
#
#   lua-free-tests/package/run.sh
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

PKG=$(sed -n 's/^Package: *//p' "$ROOT/debian/control")
# the names dh_nginx derives from the package name
SO=/usr/lib/nginx/modules/ngx_http_rooms_module.so
CONF=/usr/share/nginx/modules-available/mod-http-rooms.conf
LINK=/etc/nginx/modules-enabled/50-mod-http-rooms.conf
ABI=$(sed -n 's/^nginx:abi=//p' /usr/share/nginx/src/debian/libnginx-mod.abisubstvars)

W=$ROOT/build/package
ROOM=73716405718712832
ALICE=8:acs:rooms-package_alice
MALLORY=8:acs:rooms-package_mallory

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
# no progress bar from dpkg in the log
APT_OPTS=(-o Dpkg::Use-Pty=0)

nfail=0
installed=no

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; nfail=$((nfail + 1)); }

# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# what the package may change on this machine: the installed packages and
# the module directories, compared before and after the run
machine_state() {
    dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\n'
    ls -la /etc/nginx/modules-enabled /usr/share/nginx/modules-available \
        /usr/lib/nginx/modules 2>&1 | grep -v ' \.\.\?$' | sed 's/^total .*//'
}

pkg_status() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null | tr -d ' '
}

purge() {
    $sudo apt-get purge -y -q "${APT_OPTS[@]}" "$PKG" 2>&1 | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

cleanup() {
    stop_pidfile "$W/nginx/nginx.pid" QUIT
    if [ -n "${RPORT:-}" ]; then
        redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
    fi
    stop_pidfile "$W/redis/redis.pid"
    # a run that failed half way must not leave the package behind
    if [ "$installed" = yes ] && [ -n "$(pkg_status)" ] \
       && [ "$(pkg_status)" != un ]; then
        echo "cleanup: purging $PKG"
        purge >/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A run that was killed half way (CI stopped, a machine rebooted) leaves
# the package installed; so may an operator trying the suite twice.  The
# package is this project's own, so the suite purges it, says so, and
# compares the machine before and after from there.
status=$(pkg_status)
if [ -n "$status" ] && [ "$status" != un ]; then
    echo "# $PKG $(dpkg-query -W -f='${Version}' "$PKG") is already" \
         "installed (dpkg status $status): purging it first"
    if ! purge; then
        echo "not ok - $PKG was installed and apt-get purge failed" >&2
        exit 1
    fi
fi
if [ -e "$LINK" ] || [ -e "$SO" ]; then
    echo "not ok - $LINK or $SO exists without the package" >&2
    exit 1
fi

rm -rf "$W"
mkdir -p "$W/nginx/logs"
before=$(machine_state)

#--------------------------------------------------------------------------
say "build"
#--------------------------------------------------------------------------

"$ROOT/scripts/package" | tee "$W/package.out"
deb=$(tail -1 "$W/package.out")
if [ ! -f "$deb" ]; then
    not_ok "scripts/package made a .deb"
    exit 1
fi
ok "scripts/package made ${deb#"$ROOT"/}"

version=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
check "the file name is ${PKG}_${version}_<arch>.deb" \
    test "$(basename "$deb")" = "${PKG}_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb"
check "build/deb holds that one file" \
    test "$(ls "$ROOT/build/deb")" = "$(basename "$deb")"
# what dpkg-buildpackage leaves when run in a tree: debian/<pkg>/,
# debian/files, obj-*/ and the .deb in the parent directory
leftovers() {
    local d=$ROOT/debian
    ls -d "$d/$PKG" "$d/.debhelper" "$d/files" "$d/debhelper-build-stamp" \
        "$d"/*.substvars "$d"/*.debhelper "$ROOT"/obj-* "$(dirname "$ROOT")/${PKG}_"* 2>/dev/null
}
check "no build product in the repository or next to it" \
    test -z "$(leftovers)"

depends=$(dpkg-deb -f "$deb" Depends)
echo "    Depends: $depends"
check "it depends on this nginx's ABI, $ABI" \
    grep -qE "(^|, )$ABI(,|$)" <<<"$depends"
check "it does not depend on libhiredis (linked in, its symbols hidden)" \
    test -z "$(grep -o 'libhiredis[^,]*' <<<"$depends")"

files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
check "it ships $SO" grep -qx ".$SO" <<<"$files"
check "it ships $CONF" grep -qx ".$CONF" <<<"$files"
check "it ships nothing in /etc (the postinst makes the link)" \
    test -z "$(grep '^\./etc/' <<<"$files")"

#--------------------------------------------------------------------------
say "install"
#--------------------------------------------------------------------------

# the same command simulated first: it may install this package only
sim=$($sudo apt-get install -s -y --no-install-recommends "$deb" 2>&1)
inst=$(grep -E '^(Inst|Remv|Purg) ' <<<"$sim")
echo "$inst" | sed 's/^/    /'
check "apt-get would install $PKG and nothing else" \
    test "$(awk '{ print $1, $2 }' <<<"$inst")" = "Inst $PKG"

installed=yes
$sudo apt-get install -y -q "${APT_OPTS[@]}" --no-install-recommends "$deb" 2>&1 | sed 's/^/    /'
check "apt-get install succeeded" test "${PIPESTATUS[0]}" = 0
check "dpkg has $PKG installed" test "$(pkg_status)" = ii
check "the module is at $SO" test -f "$SO"
check "the snippet $CONF loads it" \
    grep -qx "load_module modules/$(basename "$SO");" "$CONF"
check "the module is enabled: $LINK -> $CONF" \
    test "$(readlink "$LINK")" = "$CONF"

#--------------------------------------------------------------------------
say "a private nginx with the installed module"
#--------------------------------------------------------------------------

RPORT=$(free_port)
PORT=$(free_port)
start_redis "$W/redis" "$RPORT" || { not_ok "a private Redis started"; exit 1; }

# the room with alice in it as the API stores it, the test JWKS (an HS256
# key) and two tokens signed with it: alice's and mallory's
if ! REDIS_PORT=$RPORT W=$W ROOM=$ROOM ALICE=$ALICE MALLORY=$MALLORY \
    perl -I"$ROOT/t" -MRoomsTest -e '
        $RoomsTest::REDIS_PORT = $ENV{REDIS_PORT};
        RoomsTest::seed_room($ENV{ROOM}, { $ENV{ALICE} => "Presenter" });
        for (["jwks.json", $RoomsTest::TEST_JWKS],
             ["alice.jwt", RoomsTest::token(sub => $ENV{ALICE})],
             ["mallory.jwt", RoomsTest::token(sub => $ENV{MALLORY})])
        {
            open my $f, ">", "$ENV{W}/$_->[0]" or die "$_->[0]: $!\n";
            print $f $_->[1];
            close $f;
        }'
then
    not_ok "the room and the tokens were made"
    exit 1
fi

# Only this package's link is included, not modules-enabled/*.conf: other
# modules enabled on this machine are not under test (lua-free-tests/
# coexist loads nchan and lua next to this module).  The snippet loads
# "modules/..." from the prefix, as /usr/share/nginx/modules does for the
# system nginx.
ln -s /usr/lib/nginx/modules "$W/nginx/modules"
cat > "$W/nginx/nginx.conf" <<CONF
include $LINK;
worker_processes 1;
error_log logs/error.log info;
pid nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    rooms_redis 127.0.0.1:$RPORT timeout=2s;
    rooms_token_keys $W/jwks.json;
    server {
        listen 127.0.0.1:$PORT;
        location ~ ^/media/(?<room>[0-9]+)(/|\$) {
            rooms_admission \$room;
            add_header X-Rooms-User \$rooms_user_id always;
            empty_gif;
        }
    }
}
CONF

NGINX=(nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log")

t_out=$("${NGINX[@]}" -t 2>&1)
check "nginx -t passes with the installed module" test $? = 0
echo "$t_out" | sed 's/^/    /'

"${NGINX[@]}" || { not_ok "the private nginx started"; exit 1; }
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done

# request TOKEN_FILE: "status user" of GET /media/ROOM/ with that token
request() {
    local auth=()
    [ -n "$1" ] && auth=(-H "Authorization: Bearer $(cat "$W/$1")")
    curl -s -o /dev/null -D - "${auth[@]}" "http://127.0.0.1:$PORT/media/$ROOM/join" \
        | tr -d '\r' | awk '
            NR == 1 { status = $2 }
            tolower($1) == "x-rooms-user:" { user = $2 }
            END { print status, user }'
}

got=$(request alice.jwt)
check "alice, invited, is admitted ($got)" test "$got" = "200 $ALICE"
got=$(request mallory.jwt)
check "mallory, not invited, is refused ($got)" test "${got%% *}" = 403
got=$(request "")
check "no token is refused ($got)" test "${got%% *}" = 401
check "the refusal is logged with its reason" \
    grep -q "user \"$MALLORY\" refused: not invited" "$W/nginx/logs/error.log"

stop_pidfile "$W/nginx/nginx.pid" QUIT
check "the error log has no alert, emerg or crash" \
    test -z "$(grep -E '\[(alert|emerg|crit)\]|exited on signal' "$W/nginx/logs/error.log")"

#--------------------------------------------------------------------------
say "purge"
#--------------------------------------------------------------------------

purge
check "apt-get purge succeeded" test "$?" = 0
check "dpkg no longer knows $PKG" \
    test "$(pkg_status)" = "" -o "$(pkg_status)" = un
check "the module is gone" test ! -e "$SO"
check "the snippet is gone" test ! -e "$CONF"
check "the link is gone" test ! -L "$LINK" -a ! -L "$LINK.removed"
"${NGINX[@]}" -t >/dev/null 2>&1
check "nginx -t of the private configuration now fails" test $? != 0

after=$(machine_state)
if [ "$before" = "$after" ]; then
    ok "packages and module directories are as before the run"
else
    not_ok "packages and module directories are as before the run"
    diff <(echo "$before") <(echo "$after") | sed 's/^/    /'
fi

if [ "$nfail" -gt 0 ]; then
    echo "FAIL: $nfail checks failed"
    exit 1
fi
echo "PASS: the package builds, installs, admits and purges cleanly"
