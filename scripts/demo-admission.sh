# Sourced by scripts/run: admission through the gateway to the stand-in
# media cluster.  Uses $REQ, $PORT and ROOMS_CONNECTION_STRING from run.
# shellcheck shell=bash

json_field() {
    # json_field FIELD: the first string value of "FIELD" on stdin
    sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -1
}

urlencode() {
    perl -MURI::Escape -e 'print uri_escape($ARGV[0])' "$1" 2>/dev/null \
        || perl -e '$_ = $ARGV[0]; s/([^A-Za-z0-9_.~-])/sprintf("%%%02X", ord $1)/ge; print' "$1"
}

IV="api-version=2023-10-01"

say "two users with tokens from the identity API"
dana=$("$REQ" POST "/identities?$IV" '{"createTokenWithScopes":["voip"]}' | tail -1)
erin=$("$REQ" POST "/identities?$IV" '{"createTokenWithScopes":["voip"]}' | tail -1)
dana_id=$(echo "$dana" | json_field id)
dana_token=$(echo "$dana" | json_field token)
erin_token=$(echo "$erin" | json_field token)
echo "  dana: $dana_id"
echo "  erin: $(echo "$erin" | json_field id)"

say "a room with dana only"
room2=$("$REQ" POST "/rooms?$V" "{\"participants\":{\"$dana_id\":{\"role\":\"Presenter\"}}}" | tail -1 | json_field id)
echo "  room $room2"

say "dana joins /media/$room2/ (admitted, proxied to the media cluster)"
curl -s -i -H "Authorization: Bearer $dana_token" "http://127.0.0.1:$PORT/media/$room2/join" | sed -n '1p;$p'

say "erin is not invited"
curl -s -i -H "Authorization: Bearer $erin_token" "http://127.0.0.1:$PORT/media/$room2/join" | sed -n '1p;$p'
echo

say "dana's tokens are revoked: refused at once"
"$REQ" POST "/identities/$(urlencode "$dana_id")/:revokeAccessTokens?$IV" >/dev/null
curl -s -i -H "Authorization: Bearer $dana_token" "http://127.0.0.1:$PORT/media/$room2/join" | sed -n '1p;$p'
echo
