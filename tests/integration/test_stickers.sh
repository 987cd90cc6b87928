#!/usr/bin/env bash
# Stickerpacks (issue 12, item 8): third-party packs created, listed, read,
# updated and deleted, their stickers (an uploaded image/webp) added, listed,
# read, updated and deleted, each field checked with the original's 400
# naming it and nothing stored on bad input; first-party packs
# (?namespace=whatsapp) answered from wagate's catalogue through the primary
# Master, also after it failed over. Reads take any token, changes an ADMIN's.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"stickeruser","password":"Sticker-User-2024!"}'
expect "USER login" 200 - "$WEB" POST /v1/users/login -u 'stickeruser:Sticker-User-2024!'
USER_AUTH=(-H "Authorization: Bearer $(token)")
S=/v1/stickerpacks
rows() { q "SELECT (SELECT COUNT(*) FROM stickerpacks), (SELECT COUNT(*) FROM stickers)" | tr '\t' ' '; }
json() { jq -r "$1" "$T/body"; }

note "a third-party pack: created, listed, read"
expect "empty list" 200 - "$WEB" GET $S "${AUTH[@]}"
[ "$(json '.stickerpacks | length')" = 0 ] || fail "list: $(body)"
expect "create" 201 - "$WEB" POST $S "${AUTH[@]}" -d '{"publisher":"Acme","name":"Cats","ios_app_store_link":"https://itunes.apple.com/app/id3133333"}'
PACK=$(json '.stickerpacks[0].id')
[[ $PACK =~ ^[0-9a-f-]{36}$ ]] || fail "create: $(body)"
expect "list" 200 - "$WEB" GET $S "${USER_AUTH[@]}"
[ "$(json '.stickerpacks[0].id')" = "$PACK" ] || fail "list: $(body)"
expect "list, third_party" 200 - "$WEB" GET "$S?namespace=third_party" "${USER_AUTH[@]}"
[ "$(json '.stickerpacks | length')" = 1 ] || fail "list third_party: $(body)"
expect "read" 200 - "$WEB" GET "$S/$PACK" "${USER_AUTH[@]}"
[ "$(json '.stickerpacks[0].name')" = Cats ] && [ "$(json '.stickerpacks[0].publisher')" = Acme ] \
    && [ "$(json '.stickerpacks[0].ios_app_store_link')" = https://itunes.apple.com/app/id3133333 ] || fail "read: $(body)"

note "bad packs are refused naming the field; nothing is stored"
before=$(rows)
expect "no publisher" 400 1008 "$WEB" POST $S "${AUTH[@]}" -d '{"name":"Cats"}'
grep -q "'publisher' is required" "$T/body" || fail "no publisher: $(body)"
expect "publisher not a string" 400 1009 "$WEB" POST $S "${AUTH[@]}" -d '{"publisher":7,"name":"Cats"}'
grep -q "'publisher'" "$T/body" || fail "publisher type: $(body)"
expect "a bad link" 400 1009 "$WEB" POST $S "${AUTH[@]}" -d '{"publisher":"A","name":"B","android_app_store_link":"http://x"}'
grep -q "'android_app_store_link'" "$T/body" || fail "link: $(body)"
expect "unknown field" 400 1009 "$WEB" POST $S "${AUTH[@]}" -d '{"publisher":"A","name":"B","tray":1}'
expect "not JSON" 400 1009 "$WEB" POST $S "${AUTH[@]}" -d 'cats'
long=$(printf 'x%.0s' $(seq 129))
expect "a long name" 400 1009 "$WEB" POST $S "${AUTH[@]}" -d "{\"publisher\":\"A\",\"name\":\"$long\"}"
expect "a USER creates" 403 1005 "$WEB" POST $S "${USER_AUTH[@]}" -d '{"publisher":"A","name":"B"}'
expect "first-party created" 400 1009 "$WEB" POST "$S?namespace=whatsapp" "${AUTH[@]}" -d '{"publisher":"A","name":"B"}'
expect "a bad namespace" 400 1009 "$WEB" GET "$S?namespace=other" "${AUTH[@]}"
grep -q "'namespace'" "$T/body" || fail "namespace: $(body)"
expect "PATCH nothing" 400 1008 "$WEB" PATCH "$S/$PACK" "${AUTH[@]}" -d '{}'
expect "PATCH an empty name" 400 1009 "$WEB" PATCH "$S/$PACK" "${AUTH[@]}" -d '{"name":""}'
expect "PATCH an unknown pack" 404 1006 "$WEB" PATCH "$S/00000000-0000-4000-8000-000000000000" "${AUTH[@]}" -d '{"name":"x"}'
expect "read a malformed id" 404 1006 "$WEB" GET "$S/not-a-pack" "${AUTH[@]}"
[ "$(rows)" = "$before" ] || fail "a refused request changed the tables: $before -> $(rows)"

note "updated"
expect "PATCH" 200 - "$WEB" PATCH "$S/$PACK" "${AUTH[@]}" -d '{"name":"Dogs","ios_app_store_link":""}'
expect "read after PATCH" 200 - "$WEB" GET "$S/$PACK" "${AUTH[@]}"
[ "$(json '.stickerpacks[0].name')" = Dogs ] && [ "$(json '.stickerpacks[0].publisher')" = Acme ] \
    && [ "$(json '.stickerpacks[0].ios_app_store_link')" = null ] || fail "after PATCH: $(body)"

note "stickers: added with an uploaded image/webp, listed, read, updated, deleted"
printf 'RIFF\x24\x00\x00\x00WEBPVP8 ' > "$T/sticker.webp"; head -c 64 /dev/urandom >> "$T/sticker.webp"
expect "upload webp" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: image/webp' --data-binary @"$T/sticker.webp"
WEBP=$(json '.media[0].id')
head -c 64 /dev/urandom > "$T/image.png"
expect "upload png" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: image/png' --data-binary @"$T/image.png"
PNG=$(json '.media[0].id')
before=$(rows)
expect "no image" 400 1008 "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d '{"emojis":["x"]}'
grep -q "'image_data_id' is required" "$T/body" || fail "no image: $(body)"
expect "a png" 400 1009 "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d "{\"image_data_id\":\"$PNG\"}"
grep -q "image/webp" "$T/body" || fail "png: $(body)"
expect "unknown media" 400 1009 "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d '{"image_data_id":"00000000-0000-4000-8000-000000000000"}'
expect "four emojis" 400 1009 "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d "{\"image_data_id\":\"$WEBP\",\"emojis\":[\"a\",\"b\",\"c\",\"d\"]}"
grep -q "'emojis'" "$T/body" || fail "emojis: $(body)"
expect "to an unknown pack" 404 1006 "$WEB" POST "$S/00000000-0000-4000-8000-000000000000/stickers" "${AUTH[@]}" -d "{\"image_data_id\":\"$WEBP\"}"
expect "a USER adds" 403 1005 "$WEB" POST "$S/$PACK/stickers" "${USER_AUTH[@]}" -d "{\"image_data_id\":\"$WEBP\"}"
[ "$(rows)" = "$before" ] || fail "a refused sticker changed the tables: $before -> $(rows)"
expect "add" 201 - "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d "{\"image_data_id\":\"$WEBP\",\"emojis\":[\"🐥\",\"😃\"]}"
[ "$(json '.stickers[0].index')" = 1 ] || fail "add: $(body)"
expect "add another" 201 - "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d "{\"image_data_id\":\"$WEBP\"}"
[ "$(json '.stickers[0].index')" = 2 ] || fail "add another: $(body)"
expect "list stickers" 200 - "$WEB" GET "$S/$PACK/stickers" "${USER_AUTH[@]}"
[ "$(json '[.stickers[].index] | join(",")')" = 1,2 ] || fail "list stickers: $(body)"
expect "read a sticker" 200 - "$WEB" GET "$S/$PACK/stickers/1" "${USER_AUTH[@]}"
[ "$(json '.stickers[0].image_data_id')" = "$WEBP" ] && [ "$(json '.stickers[0].emojis | join("")')" = "🐥😃" ] \
    || fail "read a sticker: $(body)"
expect "PATCH a sticker" 200 - "$WEB" PATCH "$S/$PACK/stickers/1" "${AUTH[@]}" -d '{"emojis":["🎉"]}'
expect "read after PATCH" 200 - "$WEB" GET "$S/$PACK/stickers/1" "${AUTH[@]}"
[ "$(json '.stickers[0].emojis | join("")')" = "🎉" ] || fail "sticker PATCH: $(body)"
expect "PATCH with a png" 400 1009 "$WEB" PATCH "$S/$PACK/stickers/1" "${AUTH[@]}" -d "{\"image_data_id\":\"$PNG\"}"
expect "a bad index" 404 1006 "$WEB" GET "$S/$PACK/stickers/01" "${AUTH[@]}"
expect "DELETE a sticker" 200 - "$WEB" DELETE "$S/$PACK/stickers/2" "${AUTH[@]}"
expect "read a deleted sticker" 404 1006 "$WEB" GET "$S/$PACK/stickers/2" "${AUTH[@]}"
expect "DELETE it again" 404 1006 "$WEB" DELETE "$S/$PACK/stickers/2" "${AUTH[@]}"
expect "add after a delete" 201 - "$WEB" POST "$S/$PACK/stickers" "${AUTH[@]}" -d "{\"image_data_id\":\"$WEBP\"}"
[ "$(json '.stickers[0].index')" = 3 ] || fail "an index was reused: $(body)"

note "first-party packs from the network, through the primary Master, before and after it fails over"
firstparty() {
    expect "first-party list" 200 - "$WEB" GET "$S?namespace=whatsapp" "${USER_AUTH[@]}"
    [ "$(json '.stickerpacks | length')" = 2 ] || fail "first-party list: $(body)"
    FP=$(json '.stickerpacks[0].id')
    expect "first-party pack" 200 - "$WEB" GET "$S/$FP?namespace=whatsapp" "${USER_AUTH[@]}"
    [ "$(json '.stickerpacks[0].publisher')" = WhatsApp ] || fail "first-party pack: $(body)"
    expect "first-party stickers" 200 - "$WEB" GET "$S/$FP/stickers?namespace=whatsapp" "${USER_AUTH[@]}"
    [ "$(json '.stickers | length')" = 3 ] || fail "first-party stickers: $(body)"
    expect "first-party sticker" 200 - "$WEB" GET "$S/$FP/stickers/2?namespace=whatsapp" "${USER_AUTH[@]}"
    [[ $(json '.stickers[0].id') =~ ^[0-9a-f-]{36}$ ]] && [ "$(json '.stickers[0].emojis | length')" = 2 ] \
        || fail "first-party sticker: $(body)"
    expect "an unknown first-party pack" 404 1006 "$WEB" GET "$S/$PACK?namespace=whatsapp" "${USER_AUTH[@]}"
}
firstparty
expect "first-party changed" 400 1009 "$WEB" DELETE "$S/$FP?namespace=whatsapp" "${AUTH[@]}"
OLD=$(primary_master)
for m in m1 m2; do [ "$(node_pid "$OLD")" = "$(pid_of $m)" ] && kill -KILL "$(pid_of $m)"; done
firstparty
lease_taken_from "$OLD" || fail "the lease was not taken over"

note "deleted, with its stickers"
expect "DELETE the pack" 200 - "$WEB" DELETE "$S/$PACK" "${AUTH[@]}"
expect "read the deleted pack" 404 1006 "$WEB" GET "$S/$PACK" "${AUTH[@]}"
expect "its stickers" 404 1006 "$WEB" GET "$S/$PACK/stickers" "${AUTH[@]}"
[ "$(rows)" = "0 0" ] || fail "rows left: $(rows)"
expect "a USER deletes" 403 1005 "$WEB" DELETE "$S/$PACK" "${USER_AUTH[@]}"
note "ok"
