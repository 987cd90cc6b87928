#!/usr/bin/env bash
# Media: POST /v1/media stores the body in media_dir with its type, SHA-256
# and size and answers its id; GET streams it back byte for byte with its
# type (a 50 MB file too, with waweb's memory far below the file's size);
# DELETE removes row and file (ADMIN or the uploader). Bad types, sizes
# (declared and chunked) and ids are answered with the envelope and leave
# nothing behind. Media messages (image by id) go upstream with their type;
# an unknown media id is 404. waweb refuses to start without its media_dir.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
MEDIA=$T/media
cluster_init webapp_bind=127.0.0.1 request_deadline=10 request_attempt_timeout=1
# An upload left over an hour ago by a Webapp that died goes at start; a
# recent one (perhaps another Webapp's, still running) stays.
mkdir -p "$MEDIA/.uploads"
touch -d '2 hours ago' "$MEDIA/.uploads/upload-stale1"
touch "$MEDIA/.uploads/upload-recent"
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
URL=http://127.0.0.1:$WEB

media_id() { grep -o '"media":\[{"id":"[^"]*"}\]' "$T/body" | cut -d'"' -f6; }
msg_id() { grep -o '"messages":\[{"id":"[^"]*"}\]' "$T/body" | cut -d'"' -f6; }
row() { q "SELECT CONCAT_WS(' ', mime_type, sha256, size, created_by) FROM media WHERE id = '$1'"; }
rows() { q "SELECT COUNT(*) FROM media"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# fetch ID OUT [curl args]: GET the media into OUT; the status; headers in $T/headers.
fetch() {
    local id=$1 out=$2; shift 2
    curl -s -D "$T/headers" -o "$out" -w '%{http_code}' "$URL/v1/media/$id" "${AUTH[@]}" "$@"
}
header() { grep -i "^$1:" "$T/headers" | cut -d' ' -f2- | tr -d '\r'; }
# Predicates for wait_for.
uploads_empty() { [ -z "$(ls -A "$MEDIA/.uploads")" ]; }
in_ledger_as() { grep -q "\"event\":\"message\".*\"id\":\"$1\".*\"type\":\"$2\"" "$T/ledger.jsonl" 2>/dev/null; }
status_is() { [ "$(q "SELECT status FROM outbox WHERE id = '$1'")" = "$2" ]; }

[ ! -e "$MEDIA/.uploads/upload-stale1" ] || fail "a stale upload survived the start"
[ -e "$MEDIA/.uploads/upload-recent" ] || fail "a recent upload was removed at start"
grep -q "removed 1 uploads left unfinished" "$T/w1.log" || fail "waweb did not say it removed a stale upload"
rm "$MEDIA/.uploads/upload-recent"

note "a small file: 201 with an id; the row holds its type, SHA-256, size and uploader; GET gives it back"
head -c 1000 /dev/urandom > "$T/small"
expect "upload" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: image/png' --data-binary @"$T/small"
ID1=$(media_id)
[[ "$ID1" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "media id '$ID1' from $(body)"
[ "$(row "$ID1")" = "image/png $(sha "$T/small") 1000 admin" ] || fail "row: '$(row "$ID1")'"
cmp -s "$MEDIA/$ID1" "$T/small" || fail "the stored file differs from the upload"
[ "$(fetch "$ID1" "$T/got")" = 200 ] || fail "GET: $(cat "$T/got")"
cmp -s "$T/got" "$T/small" || fail "GET gave other bytes back"
[ "$(header Content-Type)" = image/png ] || fail "Content-Type: '$(header Content-Type)'"
[ "$(header Content-Length)" = 1000 ] || fail "Content-Length: '$(header Content-Length)'"
[ "$(header X-Content-Type-Options)" = nosniff ] || fail "no nosniff header"
# The type as stored: the base type in lower case; Ogg only as Opus.
expect "upper case type" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: Text/Plain; charset=utf-8' \
    --data-binary 'hello'
[ "$(fetch "$(media_id)" "$T/got")" = 200 ] && [ "$(header Content-Type)" = text/plain ] && [ "$(cat "$T/got")" = hello ] \
    || fail "text/plain: $(header Content-Type) $(cat "$T/got")"
expect "ogg opus" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: audio/ogg; codecs=opus' --data-binary 'OggS'
[ "$(fetch "$(media_id)" "$T/got")" = 200 ] && [ "$(header Content-Type)" = "audio/ogg; codecs=opus" ] \
    || fail "audio/ogg: $(header Content-Type)"

note "50 MB: byte-exact both ways, SHA-256 as sha256sum says, waweb's memory far below the file's size"
head -c $((50 * 1024 * 1024)) /dev/urandom > "$T/big"
PID_WEB=$(pid_of w1)
echo 5 > "/proc/$PID_WEB/clear_refs"       # restart the peak (VmHWM) from the current size
t0=$(now_ms)
expect "big upload" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: video/mp4' -T "$T/big"
up_ms=$(( $(now_ms) - t0 ))
ID2=$(media_id)
[ "$(row "$ID2")" = "video/mp4 $(sha "$T/big") 52428800 admin" ] || fail "big row: '$(row "$ID2")'"
cmp -s "$MEDIA/$ID2" "$T/big" || fail "the stored big file differs"
t0=$(now_ms)
[ "$(fetch "$ID2" "$T/got")" = 200 ] || fail "big GET"
down_ms=$(( $(now_ms) - t0 ))
cmp -s "$T/got" "$T/big" || fail "big GET gave other bytes back"
[ "$(header Content-Type)" = video/mp4 ] || fail "big Content-Type: '$(header Content-Type)'"
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID_WEB/status")
[ "$hwm" -lt 61440 ] || fail "waweb's peak memory during the 50 MB round trip was $hwm kB"
note "50 MB up in $up_ms ms, down in $down_ms ms; waweb's peak resident memory $((hwm / 1024)) MB"
rm -f "$T/got"

note "bad uploads: the envelope, no row, no file left"
before=$(rows)
expect "bad type" 400 1009 "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: application/x-msdownload' \
    --data-binary @"$T/small"
grep -q "'application/x-msdownload' is not a supported media type" "$T/body" || fail "the error does not name the type: $(body)"
expect "ogg without opus" 400 1009 "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: audio/ogg' --data-binary 'x'
expect "no type" 400 1008 "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type:' --data-binary @"$T/small"
grep -q "Content-Type header is missing" "$T/body" || fail "no type: $(body)"
expect "empty body" 400 1008 "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: image/png' --data-binary ''
expect "no token" 401 1005 "$WEB" POST /v1/media -H 'Content-Type: image/png' --data-binary @"$T/small"
truncate -s $((100 * 1024 * 1024 + 1)) "$T/huge"      # sparse: no disk, all zeros
t0=$(now_ms)
expect "declared over 100 MiB" 413 1009 "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: video/mp4' -T "$T/huge"
[ $(( $(now_ms) - t0 )) -lt 5000 ] || fail "a declared length over the limit was read before the refusal"
expect "chunked over 100 MiB" 413 1009 "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: video/mp4' \
    -H 'Transfer-Encoding: chunked' -T - < "$T/huge"
grep -q "larger than 104857600 bytes" "$T/body" || fail "413 without the limit: $(body)"
rm -f "$T/huge"
# A client that goes away in the middle of its upload.
curl -s -o /dev/null --limit-rate 200K "${AUTH[@]}" -H 'Content-Type: video/mp4' -T "$T/big" -X POST "$URL/v1/media" &
SLOW=$!
upload_growing() { [ -n "$(find "$MEDIA/.uploads" -name 'upload-*' -size +100k)" ]; }
wait_for 20 upload_growing || fail "the slow upload never reached the uploads folder"
kill "$SLOW"; wait "$SLOW" 2>/dev/null || true
wait_for 10 uploads_empty || fail "uploads left behind: $(ls -A "$MEDIA/.uploads")"
[ "$(rows)" = "$before" ] || fail "a refused upload stored a row"
[ "$(find "$MEDIA" -maxdepth 1 -type f | wc -l)" = "$before" ] || fail "files: $(ls "$MEDIA")"

note "bad ids: 404 with the envelope, never a path"
NONE=00000000-0000-4000-8000-000000000000
expect "unknown id" 404 1006 "$WEB" GET "/v1/media/$NONE" "${AUTH[@]}"
expect "not an id" 404 1006 "$WEB" GET /v1/media/not-an-id "${AUTH[@]}"
expect "upper case id" 404 1006 "$WEB" GET "/v1/media/${ID1^^}" "${AUTH[@]}"
expect "too long" 404 1006 "$WEB" GET "/v1/media/$(head -c 300 /dev/zero | tr '\0' a)" "${AUTH[@]}"
expect "traversal %2f" 404 1006 "$WEB" GET "/v1/media/..%2f..%2fetc%2fpasswd" "${AUTH[@]}"
expect "traversal dots" 404 1006 "$WEB" GET "/v1/media/%2e%2e" "${AUTH[@]}"
expect "traversal as is" 404 1006 "$WEB" GET "/v1/media/../../etc/passwd" --path-as-is "${AUTH[@]}"
cp "$T/small" "$MEDIA/.uploads/$ID1"
expect "the uploads folder" 404 1006 "$WEB" GET "/v1/media/.uploads%2f$ID1" "${AUTH[@]}"
rm "$MEDIA/.uploads/$ID1"
expect "delete unknown" 404 1006 "$WEB" DELETE "/v1/media/$NONE" "${AUTH[@]}"
expect "delete not an id" 404 1006 "$WEB" DELETE "/v1/media/..%2f$ID1" "${AUTH[@]}"
expect "no token" 401 1005 "$WEB" GET "/v1/media/$ID1"
expect "wrong method" 405 1006 "$WEB" PUT "/v1/media/$ID1" "${AUTH[@]}"
expect "get without id" 405 1006 "$WEB" GET /v1/media "${AUTH[@]}"

note "a row whose file went missing: 404"
expect "upload" 201 - "$WEB" POST /v1/media "${AUTH[@]}" -H 'Content-Type: application/pdf' --data-binary @"$T/small"
ID3=$(media_id)
rm "$MEDIA/$ID3"
expect "file missing" 404 1006 "$WEB" GET "/v1/media/$ID3" "${AUTH[@]}"

note "who may delete: ADMIN or the uploader; anyone with a token reads"
expect "create alice" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
api "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd' >/dev/null
ALICE=(-H "Authorization: Bearer $(token)")
expect "alice uploads" 201 - "$WEB" POST /v1/media "${ALICE[@]}" -H 'Content-Type: image/jpeg' --data-binary @"$T/small"
IDA=$(media_id)
[ "$(row "$IDA" | cut -d' ' -f4)" = alice ] || fail "created_by: $(row "$IDA")"
[ "$(fetch "$ID1" "$T/got" "${ALICE[@]}")" = 200 ] && cmp -s "$T/got" "$T/small" || fail "alice cannot read admin's media"
expect "alice deletes admin's" 403 1005 "$WEB" DELETE "/v1/media/$ID1" "${ALICE[@]}"
[ -f "$MEDIA/$ID1" ] && [ -n "$(row "$ID1")" ] || fail "a refused delete removed something"
expect "alice deletes hers" 200 - "$WEB" DELETE "/v1/media/$IDA" "${ALICE[@]}"
[ ! -e "$MEDIA/$IDA" ] && [ -z "$(row "$IDA")" ] || fail "alice's media still there"
expect "gone" 404 1006 "$WEB" GET "/v1/media/$IDA" "${ALICE[@]}"
expect "alice uploads again" 201 - "$WEB" POST /v1/media "${ALICE[@]}" -H 'Content-Type: image/jpeg' --data-binary 'x'
expect "admin deletes alice's" 200 - "$WEB" DELETE "/v1/media/$(media_id)" "${AUTH[@]}"
expect "admin deletes the big one" 200 - "$WEB" DELETE "/v1/media/$ID2" "${AUTH[@]}"
[ ! -e "$MEDIA/$ID2" ] || fail "the big file stayed"
expect "deleted twice" 404 1006 "$WEB" DELETE "/v1/media/$ID2" "${AUTH[@]}"
expect "deleted then get" 404 1006 "$WEB" GET "/v1/media/$ID2" "${AUTH[@]}"

note "media messages: an image by id goes upstream as an image; unknown and unfit media refused"
JSON=(-H 'Content-Type: application/json')
image() { echo "{\"to\":\"16315551234\",\"type\":\"image\",\"image\":{\"id\":\"$1\",\"caption\":\"a cat\"}}"; }
expect "image message" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" -d "$(image "$ID1")"
MID=$(msg_id)
wait_for 10 in_ledger_as "$MID" image || fail "wagate's ledger has no image $MID: $(grep "$MID" "$T/ledger.jsonl")"
wait_for 10 status_is "$MID" sent || fail "the image message was not marked sent"
q "SELECT payload FROM outbox WHERE id = '$MID'" | grep -qF "\"type\":\"image\",\"body\":{\"id\":\"$ID1\",\"caption\":\"a cat\"}" \
    || fail "upstream payload: $(q "SELECT payload FROM outbox WHERE id = '$MID'")"
expect "document message" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" \
    -d "{\"to\":\"16315551234\",\"type\":\"document\",\"document\":{\"id\":\"$ID3\",\"filename\":\"report.pdf\"}}"
wait_for 10 in_ledger_as "$(msg_id)" document || fail "no document upstream"
expect "unknown media" 404 1006 "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" -d "$(image "$NONE")"
grep -q "no media with id '$NONE'" "$T/body" || fail "unknown media: $(body)"
expect "deleted media" 404 1006 "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" -d "$(image "$ID2")"
expect "pdf as image" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" -d "$(image "$ID3")"
expect "bad media id" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" -d "$(image ../../etc/passwd)"
# (Links are downloaded: test_message_links.sh; here only one that is not http or https.)
expect "ftp link" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" \
    -d '{"to":"1631","type":"image","image":{"link":"ftp://example.com/cat.jpg"}}'
grep -q "'image.link' must be an http:// or https:// URL" "$T/body" || fail "link: $(body)"
expect "no image" 400 1008 "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" -d '{"to":"1631","type":"image"}'
expect "text still" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" "${JSON[@]}" \
    -d '{"to":"1631","type":"text","text":{"body":"still here"}}'
wait_for 10 in_ledger_as "$(msg_id)" text || fail "no text upstream"
[ "$(gate_stat duplicates)" = 0 ] && overlaps_zero || fail "duplicates $(gate_stat duplicates), overlaps $(gate_stat overlaps)"

note "waweb does not start without its media_dir"
for bad in "$T/nowhere" "$T/small"; do
    { cat "$CONF"; echo "media_dir = $bad"; echo "webapp_port = 0"; } > "$T/bad.conf"
    rc=0; WA_BUS_CERT=$(cert bad waweb) timeout 10 "$BIN/waweb" -c "$T/bad.conf" > "$T/bad.log" 2>&1 || rc=$?
    [ "$rc" = 1 ] && grep -q "media_dir '$bad'" "$T/bad.log" || fail "media_dir $bad: exit $rc: $(cat "$T/bad.log")"
done
note "round trips byte-exact (50 MB streamed), bad types, sizes and ids refused, media messages upstream: as expected"
