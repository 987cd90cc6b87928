#!/usr/bin/env bash
# Media by link: the Webapp downloads it (from a media server on loopback,
# bin/wahook --files), stores it once in media_dir under its content id,
# and the message goes upstream with that id; the same file linked again
# is the same file and row. A media provider's Basic or Bearer credentials
# go with the download, to the link's host only. Every limit refuses the
# message with 400 naming the link, and nothing is stored: too big (as
# declared and as sent), a type that is not a media type or does not fit,
# slower than media_download_timeout, another scheme (also behind a
# redirect), a redirect loop, an HTTP error, an empty file; and, unless
# media_download_private, any loopback or private address.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
FILES=$T/files
mkdir -p "$FILES"
MEDIA_PORT=$(free_port)
"$BIN/wahook" --port "$MEDIA_PORT" --out "$T/gets.jsonl" --files "$FILES" >>"$T/media.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "listening on" "$T/media.log" || fail "the media server did not start: $(cat "$T/media.log")"
M="http://127.0.0.1:$MEDIA_PORT"
# The same files on another loopback address: another host, to a client.
OTHER_PORT=$(free_port)
"$BIN/wahook" --bind 127.0.0.2 --port "$OTHER_PORT" --out "$T/gets2.jsonl" --files "$FILES" >>"$T/media2.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "listening on" "$T/media2.log" || fail "the second media server did not start: $(cat "$T/media2.log")"
cluster_init webapp_bind=127.0.0.1 media_download_private=1 media_download_timeout=2
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
MEDIA=$T/media
msg_id() { jq -r '.messages[0].id' "$T/body"; }
rows() { q "SELECT COUNT(*) FROM outbox"; }
media_rows() { q "SELECT COUNT(*) FROM media"; }
stored_files() { find "$MEDIA" -maxdepth 1 -type f | wc -l; }
uploads_left() { find "$MEDIA/.uploads" -type f | wc -l; }
ledger() { jq -R -c 'fromjson? // empty' "$T/ledger.jsonl"; }
gate_body() { ledger | jq -c --arg id "$1" 'select(.event == "message" and .id == $id) | .body'; }
at_gate() { [ -n "$(gate_body "$1")" ]; }
gets() { jq -r --arg p "$1" 'select(.path == $p) | .status' "$T/gets.jsonl" 2>/dev/null | wc -l; }
image() { echo "{\"to\":\"16315551234\",\"type\":\"image\",\"image\":{\"link\":\"$1\"${2:-}}}"; }
head -c 300000 /dev/urandom > "$FILES/cat.png"
head -c 300000 /dev/urandom > "$FILES/dog.png"
head -c $((5 * 1024 * 1024 + 1)) /dev/urandom > "$FILES/huge.png"
head -c 1000 /dev/urandom > "$FILES/anim.webp"
: > "$FILES/empty.png"

note "an image by link: downloaded, stored once under its content id, upstream by id"
expect "image by link" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(image "$M/files/cat.png?type=image/png" ',"caption":"a cat"')"
ID1=$(msg_id)
wait_for 10 at_gate "$ID1" || fail "not at wagate"
MID=$(gate_body "$ID1" | jq -r .id)
[ "$(gate_body "$ID1" | jq -c 'del(.id)')" = '{"caption":"a cat"}' ] || fail "upstream body: $(gate_body "$ID1")"
[[ "$MID" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "content id '$MID'"
cmp -s "$FILES/cat.png" "$MEDIA/$MID" || fail "the stored file is not the linked one"
[ "$(q "SELECT CONCAT(mime_type, ' ', size, ' ', sha256, ' ', created_by) FROM media WHERE id = '$MID'")" \
  = "image/png 300000 $(sha256sum "$FILES/cat.png" | cut -d' ' -f1) admin" ] || fail "media row: $(q "SELECT * FROM media WHERE id = '$MID'")"
q "SELECT payload FROM outbox WHERE id = '$ID1'" | grep -qF "\"body\":{\"id\":\"$MID\",\"caption\":\"a cat\"}" \
    || fail "outbox payload: $(q "SELECT payload FROM outbox WHERE id = '$ID1'")"
q "SELECT payload FROM outbox WHERE id = '$ID1'" | grep -q link && fail "the link went upstream"
[ "$(api "$WEB" GET "/v1/media/$MID" -H "Authorization: Bearer $TOKEN")" = 200 ] && cmp -s "$FILES/cat.png" "$T/body" \
    || fail "GET /v1/media/$MID is not the file"
files=$(stored_files); mrows=$(media_rows)
expect "the same link again" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(image "$M/files/cat.png?type=image/png")"
ID2=$(msg_id)
wait_for 10 at_gate "$ID2" || fail "the second not at wagate"
[ "$(gate_body "$ID2" | jq -r .id)" = "$MID" ] || fail "the same file got another id: $(gate_body "$ID2")"
[ "$(stored_files)" = "$files" ] && [ "$(media_rows)" = "$mrows" ] || fail "stored twice: $(stored_files) files, $(media_rows) rows"
[ "$(gets /files/cat.png)" = 2 ] || fail "downloads of cat.png: $(gets /files/cat.png)"

note "a sticker, a document with its file name, a template header and an interactive header by link"
expect "sticker" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" \
    -d "{\"to\":\"16315551234\",\"type\":\"sticker\",\"sticker\":{\"link\":\"$M/files/anim.webp?type=image/webp\"}}"
wait_for 10 at_gate "$(msg_id)" || fail "sticker not at wagate"
expect "document" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" \
    -d "{\"to\":\"16315551234\",\"type\":\"document\",\"document\":{\"link\":\"$M/files/dog.png?type=application/pdf\",\"filename\":\"a.pdf\"}}"
DOCID=$(msg_id)
wait_for 10 at_gate "$DOCID" || fail "document not at wagate"
[ "$(gate_body "$DOCID" | jq -r .filename)" = a.pdf ] || fail "document body: $(gate_body "$DOCID")"
expect "template header" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "{\"to\":\"16315551234\",\"type\":\"template\",\"template\":{
  \"namespace\":\"wacluster\",\"name\":\"shipping_update\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en\"},\"components\":[
  {\"type\":\"header\",\"parameters\":[{\"type\":\"image\",\"image\":{\"link\":\"$M/files/dog.png?type=image/jpeg\"}}]},
  {\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},
  {\"type\":\"button\",\"sub_type\":\"url\",\"index\":0,\"parameters\":[{\"type\":\"text\",\"text\":\"x\"}]}]}}"
TPL=$(msg_id)
wait_for 10 at_gate "$TPL" || fail "template not at wagate"
tid=$(gate_body "$TPL" | jq -r '.components[0].parameters[0].image.id')
[ -f "$MEDIA/$tid" ] && [ "$(gate_body "$TPL" | jq -r '.components[0].parameters[0].image | keys | join(",")')" = id ] \
    || fail "template header: $(gate_body "$TPL")"
expect "interactive header" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "{\"to\":\"16315551234\",\"type\":\"interactive\",
  \"interactive\":{\"type\":\"button\",\"header\":{\"type\":\"video\",\"video\":{\"link\":\"$M/files/dog.png?type=video/mp4\"}},
  \"body\":{\"text\":\"b\"},\"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"1\",\"title\":\"ok\"}}]}}}"
INT=$(msg_id)
wait_for 10 at_gate "$INT" || fail "interactive not at wagate"
[ -f "$MEDIA/$(gate_body "$INT" | jq -r .header.video.id)" ] || fail "interactive header: $(gate_body "$INT")"
[ "$(uploads_left)" = 0 ] || fail "temporary files left: $(find "$MEDIA/.uploads" -type f)"

note "a media provider's credentials go with the download"
q "INSERT INTO media_providers (name, type, config, updated_at) VALUES
   ('cdn-basic', 'www', '{\"basic\":{\"username\":\"wa\",\"password\":\"s3cret pass\"}}', NOW(6)),
   ('cdn-bearer', 'www', '{\"bearer\":\"tok-123\"}', NOW(6)), ('cdn-empty', 'www', '{}', NOW(6))"
BASIC="$M/files/dog.png?type=image/png&auth=basic:wa:s3cret%20pass"
expect "basic, without the provider" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(image "$BASIC")"
grep -q "'image.link' cannot be sent: the server answered HTTP 401" "$T/body" || fail "without credentials: $(body)"
expect "basic" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(image "$BASIC" ',"provider":{"name":"cdn-basic"}')"
expect "bearer" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" \
    -d "$(image "$M/files/dog.png?type=image/png&auth=bearer:tok-123" ',"provider":{"name":"cdn-bearer"}')"
jq -e -s 'map(select(.path == "/files/dog.png" and .status == 200) | .authorization) | index("Bearer tok-123") != null' \
    "$T/gets.jsonl" >/dev/null || fail "no Bearer sent: $(cat "$T/gets.jsonl")"
expect "unknown provider" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(image "$M/files/dog.png?type=image/png" ',"provider":{"name":"nobody"}')"
grep -q "'image.provider.name': no media provider named 'nobody'" "$T/body" || fail "unknown provider: $(body)"
expect "provider without credentials" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(image "$M/files/dog.png?type=image/png" ',"provider":{"name":"cdn-empty"}')"
# Credentials are not carried across a redirect (here to the same server
# under another name: 127.0.0.2 is loopback too, but another host).
expect "credentials and a redirect" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" \
    -d "$(image "$M/redirect?to=http://127.0.0.2:$OTHER_PORT/files/dog.png%3Ftype%3Dimage/png%26auth%3Dbearer:tok-123" ',"provider":{"name":"cdn-bearer"}')"
grep -q "HTTP 401" "$T/body" || fail "a redirect to another host got the token: $(body)"
jq -e -s 'length == 1 and .[0].status == 401 and .[0].authorization == null' "$T/gets2.jsonl" >/dev/null \
    || fail "the other host saw: $(cat "$T/gets2.jsonl")"

note "every limit refuses the message, naming the link, and stores nothing"
before=$(rows); files=$(stored_files); mrows=$(media_rows)
refused() {     # refused WHAT NEEDLE JSON
    expect "$1" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" -d "$3"
    grep -qF "$2" "$T/body" || fail "$1: $(body)"
}
refused "too big (declared)" "the server says the file is larger than 5242880 bytes, the most an image may be" \
    "$(image "$M/files/huge.png?type=image/png")"
refused "too big (as sent)" "'image.link' cannot be sent: the file is larger than 5242880 bytes, the most an image may be" \
    "$(image "$M/files/huge.png?type=image/png&chunked=1")"
refused "not a media type" "the server says the file is 'text/html', which is not a supported media type" \
    "$(image "$M/files/cat.png?type=text/html")"
refused "no type" "the server did not say the file's type" "$(image "$M/files/cat.png?type=none")"
refused "a type that does not fit" "the server says the file is image/png, which a sticker cannot be" \
    "{\"to\":\"16315551234\",\"type\":\"sticker\",\"sticker\":{\"link\":\"$M/files/cat.png?type=image/png\"}}"
refused "too big for a sticker" "larger than 512000 bytes, the most a sticker may be" \
    "{\"to\":\"16315551234\",\"type\":\"sticker\",\"sticker\":{\"link\":\"$M/files/huge.png?type=image/webp\"}}"
t0=$(now_ms)
refused "slow" "'image.link' cannot be sent: the download did not end within 2 s (media_download_timeout)" \
    "$(image "$M/files/cat.png?type=image/png&delay_ms=5000")"
took=$(( $(now_ms) - t0 ))
[ "$took" -ge 1900 ] && [ "$took" -lt 4500 ] || fail "the slow link was refused after $took ms (media_download_timeout 2 s)"
refused "ftp" "'image.link' must be an http:// or https:// URL" "$(image "ftp://127.0.0.1:$MEDIA_PORT/files/cat.png")"
refused "file" "'image.link' must be an http:// or https:// URL" "$(image "file:///etc/passwd")"
refused "redirect to file://" "a redirect leads to a scheme other than http or https" "$(image "$M/redirect?to=file:///etc/passwd")"
refused "redirect loop" "more than 5 redirects" "$(image "$M/loop")"
refused "HTTP 404" "the server answered HTTP 404" "$(image "$M/files/none.png?type=image/png")"
refused "empty" "the server sent an empty file" "$(image "$M/files/empty.png?type=image/png")"
refused "nobody listening" "'image.link' cannot be sent: cannot download it" "$(image "http://127.0.0.1:$(free_port)/a.png")"
refused "bad link" "'image.link' must be" "$(image "https://exa mple.com/a.png")"
expect "a redirect to a good file" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" \
    -d "$(image "$M/redirect?to=/files/cat.png%3Ftype%3Dimage/png")"
before=$((before + 1))
[ "$(rows)" = "$before" ] || fail "refused links stored rows: $(rows), expected $before"
[ "$(stored_files)" = "$files" ] && [ "$(media_rows)" = "$mrows" ] || fail "refused links stored media: $(stored_files) files, $(media_rows) rows"
[ "$(uploads_left)" = 0 ] || fail "temporary files left: $(find "$MEDIA/.uploads" -type f)"

note "without media_download_private, loopback and private addresses are refused before any request"
WEB2=$(free_port)
WA_MEDIA_DOWNLOAD_PRIVATE=0 web_start w2 "$WEB2"
n=$(gets /files/dog.png)
expect "loopback" 400 1009 "$WEB2" POST /v1/messages "${AUTH[@]}" -d "$(image "$M/files/dog.png?type=image/png")"
grep -q "it leads to 127.0.0.1, a loopback, private or link-local address" "$T/body" || fail "loopback: $(body)"
expect "a name for loopback" 400 1009 "$WEB2" POST /v1/messages "${AUTH[@]}" -d "$(image "http://localhost:$MEDIA_PORT/files/dog.png?type=image/png")"
grep -q "a loopback, private or link-local address" "$T/body" || fail "localhost: $(body)"
expect "link-local" 400 1009 "$WEB2" POST /v1/messages "${AUTH[@]}" -d "$(image "http://169.254.169.254/latest/meta-data")"
grep -q "169.254.169.254" "$T/body" || fail "metadata address: $(body)"
[ "$(gets /files/dog.png)" = "$n" ] || fail "the media server was asked anyway"
[ "$(gate_stat duplicates)" = 0 ] && overlaps_zero || fail "duplicates $(gate_stat duplicates), overlaps $(gate_stat overlaps)"
note "links downloaded once, credentials sent to their host only, every limit refused: as expected"
