#!/usr/bin/env bash
# Issue 12, item 3: the original's application settings and media providers.
#   - GET /v1/settings/application answers the original's whole key set with
#     the original's defaults (media.auto_download nested as an array);
#   - PATCH takes the original's own example body, nested as it writes it,
#     and GET shows it back; each bad value (wrong type, unknown media type,
#     bad pager number, unknown nested member) gets 400 1009 naming the
#     field and changes nothing;
#   - pass_through is honoured: with the collector off, sent outbox rows and
#     delivered callbacks older than request_deadline go, pending ones stay;
#   - media providers: POST (the original's array, or one object), GET
#     shows them without a credential, POSTing back what GET showed keeps the
#     stored credentials, a bad provider gets 400 naming the field and
#     stores nothing, a link download uses a provider set through the API,
#     DELETE removes it (404 the second time); a USER gets 403;
#   - across a killed primary Master a provider POST is answered by the
#     next one (the Webapp retries).
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
FILES=$T/files
mkdir -p "$FILES"
MEDIA_PORT=$(free_port)
"$BIN/wahook" --port "$MEDIA_PORT" --out "$T/gets.jsonl" --files "$FILES" >>"$T/media.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "listening on" "$T/media.log" || fail "the media server did not start: $(cat "$T/media.log")"
M="http://127.0.0.1:$MEDIA_PORT"
head -c 20000 /dev/urandom > "$FILES/dog.png"
cluster_init webapp_bind=127.0.0.1 upstream_idle_timeout=2 request_deadline=10 request_attempt_timeout=0.5 \
    media_download_private=1 db_garbagecollector_enable=0 gc_interval=0.3
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
S=/v1/settings/application
P=$S/media/providers
app() { jq -c ".settings.application$1" "$T/body"; }
table() { q "SELECT GROUP_CONCAT(name, '=', value ORDER BY name SEPARATOR ' ') FROM settings"; }
providers() { q "SELECT GROUP_CONCAT(name, ' ', config ORDER BY name SEPARATOR ' | ') FROM media_providers"; }

note "GET: the original's key set, with its defaults"
expect "GET" 200 - "$WEB" GET $S "${AUTH[@]}"
for pair in callback_persist=true pass_through=false sent_status=false '.media.auto_download=[]' \
            notify_user_change_number=true show_security_notifications=false 'on_call_pager=""' \
            callback_backoff_delay_ms=3000 max_callback_backoff_delay_ms=900000 db_garbagecollector_enable=false \
            heartbeat_interval=5 unhealthy_interval=30 '.webhooks.url=""' .webhooks.max_concurrent_requests=12; do
    path=${pair%%=*}; [ "${path:0:1}" = . ] || path=.$path
    [ "$(app "$path")" = "${pair#*=}" ] || fail "GET $path: $(app "$path"), expected ${pair#*=}: $(body)"
done
grep -q '"media_auto_download"' "$T/body" && fail "GET shows the flat name of media.auto_download: $(body)"

note "PATCH: the original's example body, nested as it writes it"
ORIGINAL='{"callback_persist":false,"max_callback_backoff_delay_ms":"60000","media":{"auto_download":["audio","document","voice","video","image","sticker"]},"callback_backoff_delay_ms":"500","pass_through":false,"sent_status":true,"heartbeat_interval":2,"unhealthy_interval":10,"webhooks":{"max_concurrent_requests":6,"url":"https://hooks.example.com/wa"},"notify_user_change_number":false,"show_security_notifications":true,"db_garbagecollector_enable":false,"on_call_pager":"16315550123"}'
expect "PATCH the original's body" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d "$ORIGINAL"
[ "$(app .media.auto_download)" = '["audio","document","voice","video","image","sticker"]' ] \
    || fail "media.auto_download: $(body)"
[ "$(q "SELECT value FROM settings WHERE name = 'media_auto_download'")" = audio,document,voice,video,image,sticker ] \
    || fail "stored: $(q "SELECT value FROM settings WHERE name = 'media_auto_download'")"
expect "GET after" 200 - "$WEB" GET $S "${AUTH[@]}"
[ "$(app '| [.callback_persist, .sent_status, .callback_backoff_delay_ms, .max_callback_backoff_delay_ms, .heartbeat_interval, .unhealthy_interval, .webhooks.max_concurrent_requests, .webhooks.url, .show_security_notifications, .notify_user_change_number, .on_call_pager]')" \
  = '[false,true,500,60000,2,10,6,"https://hooks.example.com/wa",true,false,"16315550123"]' ] || fail "GET after PATCH: $(body)"
expect "an empty list" 200 - "$WEB" PATCH $S/ "${AUTH[@]}" -d '{"media":{"auto_download":[]}}'
[ "$(app .media.auto_download)" = '[]' ] || fail "media.auto_download emptied: $(body)"
# The Coreapps apply what they use (the backoff, the concurrency).
wait_for 10 grep -q "setting callback_backoff_delay_ms: 3000 -> 500" "$T/c1.log" || fail "c1 did not apply the backoff"

note "the newer versions' names: garbagecollector_enable.messages, webhooks.message.sent"
expect "PATCH the newer names" 200 - "$WEB" PATCH $S "${AUTH[@]}" \
    -d '{"garbagecollector_enable":{"messages":true,"media":false},"webhooks":{"message":{"sent":false,"delivered":true,"read":true}}}'
[ "$(app '| [.db_garbagecollector_enable, .sent_status]')" = '[true,false]' ] || fail "aliases: $(body)"
expect "and back" 200 - "$WEB" PATCH $S "${AUTH[@]}" \
    -d '{"garbagecollector_enable":{"messages":false},"webhooks":{"message":{"sent":true}}}'
[ "$(app '| [.db_garbagecollector_enable, .sent_status]')" = '[false,true]' ] || fail "aliases back: $(body)"

note "bad values: 400 1009 naming the field, nothing changed"
before=$(table)
bad() {   # bad BODY TEXT
    expect "PATCH $1" 400 1009 "$WEB" PATCH $S "${AUTH[@]}" -d "$1"
    grep -qF -- "$2" "$T/body" || fail "PATCH $1: the details do not say '$2': $(body)"
}
bad '{"media":{"auto_download":["image","gif"]}}' "'gif' is not a media type"
bad '{"media":{"auto_download":["image","image"]}}' "'image' is named twice"
bad '{"media":{"auto_download":"image"}}' "'media.auto_download' must be an array of media types"
bad '{"media":{"auto_download":[1]}}' "'media.auto_download' must be an array"
bad '{"media":{"providers":[]}}' "unknown setting 'media.providers'"
bad '{"media":[]}' "'media' must be an object"
bad '{"pass_through":"maybe"}' "key 'pass_through': value 'maybe' is not a boolean"
bad '{"callback_persist":3}' "key 'callback_persist': value '3' is not a boolean"
bad '{"on_call_pager":"+1 631"}' "key 'on_call_pager': value '+1 631' must be a phone number"
bad '{"callback_backoff_delay_ms":"1000","max_callback_backoff_delay_ms":900}' "max_callback_backoff_delay_ms (900) must be at least callback_backoff_delay_ms (1000)"
bad '{"sent_status":true,"verbose_logging":true}' "unknown setting 'verbose_logging'"
bad '{"webhooks":{"message":{"delivered":false}}}' "'webhooks.message.delivered' can only be true"
bad '{"garbagecollector_enable":{"messages":true},"db_garbagecollector_enable":true}' "names a setting given already"
[ "$(table)" = "$before" ] || fail "a refused PATCH changed the table"

note "pass_through: with the collector off, finished rows past request_deadline go, pending ones stay"
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at) VALUES
   ('pt-sent', 'pt-sent', 0, 1, 0, '16315550000', '{}', 'sent', NOW(6) - INTERVAL 1 MINUTE, NOW(6) - INTERVAL 1 MINUTE),
   ('pt-pending', 'pt-pending', 1, 1, 0, '16315550000', '{}', 'pending', NOW(6) - INTERVAL 1 MINUTE, NULL)"
q "INSERT INTO callbacks (event_id, shard, kind, conversation, payload, status, created_at, delivered_at) VALUES
   ('pt-done', 0, 'status', '16315550000', '{}', 'delivered', NOW(6) - INTERVAL 1 MINUTE, NOW(6) - INTERVAL 1 MINUTE),
   ('pt-wait', 1, 'status', '16315550000', '{}', 'pending', NOW(6) - INTERVAL 1 MINUTE, NULL)"
kept() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'pt-%'")/$(q "SELECT COUNT(*) FROM callbacks WHERE event_id LIKE 'pt-%'")" = "$1" ]; }
# Off (the default), with the collector off: several passes' time, nothing goes.
! wait_for 2 kept 1/1 || fail "rows went with pass_through off and the collector off"
kept 2/2 || fail "rows: $(q "SELECT id FROM outbox WHERE id LIKE 'pt-%'")"
expect "pass_through on" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"pass_through":true}'
wait_for 10 kept 1/1 || fail "pass_through: $(q "SELECT id, status FROM outbox WHERE id LIKE 'pt-%'")"
[ "$(q "SELECT id FROM outbox WHERE id LIKE 'pt-%'")" = pt-pending ] && [ "$(q "SELECT event_id FROM callbacks WHERE event_id LIKE 'pt-%'")" = pt-wait ] \
    || fail "pass_through took a pending row"
expect "pass_through off" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"pass_through":false}'

note "media providers: POST, GET without credentials, POST back, used by a link, DELETE"
expect "none yet" 200 - "$WEB" GET $P "${AUTH[@]}"
[ "$(app .media.providers)" = '[]' ] || fail "GET providers: $(body)"
expect "POST the original's array" 200 - "$WEB" POST $P "${AUTH[@]}" \
    -d '[{"name":"cdn-basic","type":"www","config":{"basic":{"username":"wa","password":"s3cret pass"}}}]'
expect "POST one object, with a slash" 200 - "$WEB" POST $P/ "${AUTH[@]}" \
    -d '{"name":"cdn-bearer","type":"www","config":{"bearer":"tok-123"}}'
expect "GET" 200 - "$WEB" GET $P "${AUTH[@]}"
[ "$(app .media.providers)" = '[{"config":{"basic":{"password":"(set)","username":"wa"}},"name":"cdn-basic","type":"www"},{"config":{"bearer":"(set)"},"name":"cdn-bearer","type":"www"}]' ] \
    || fail "GET providers: $(body)"
grep -q "s3cret\|tok-123" "$T/body" && fail "GET shows a credential: $(body)"
grep -q "s3cret pass\|tok-123" "$T"/m*.log "$T"/w1.log && fail "a credential in a log"
stored=$(providers)
[ "$stored" = 'cdn-basic {"basic":{"username":"wa","password":"s3cret pass"}} | cdn-bearer {"bearer":"tok-123"}' ] \
    || fail "stored: $stored"
[ "$(q "SELECT updated_by FROM media_providers WHERE name = 'cdn-basic'")" = api:admin ] || fail "updated_by"
# What GET showed, POSTed back: the credentials stay as they are.
expect "POST back what GET showed" 200 - "$WEB" POST $P "${AUTH[@]}" -d "$(app .media.providers)"
[ "$(providers)" = "$stored" ] || fail "POSTing back changed the credentials: $(providers)"
BASIC="$M/files/dog.png?type=image/png&auth=basic:wa:s3cret%20pass"
image() { echo "{\"to\":\"16315551234\",\"type\":\"image\",\"image\":{\"link\":\"$1\",\"provider\":{\"name\":\"$2\"}}}"; }
expect "a link with the provider set through the API" 201 - "$WEB" POST /v1/messages/ "${AUTH[@]}" -d "$(image "$BASIC" cdn-basic)"

before=$(providers)
badp() {   # badp BODY CODE TEXT
    expect "POST $1" 400 "$2" "$WEB" POST $P "${AUTH[@]}" -d "$1"
    grep -qF -- "$3" "$T/body" || fail "POST $1: the details do not say '$3': $(body)"
}
badp '[]' 1009 "1 to 16 providers, not 0"
badp '"cdn"' 1009 "the request body is not valid JSON"
badp '[{"name":"x y","type":"www","config":{"bearer":"t"}}]' 1009 "'[0].name' may hold only letters, digits"
badp '[{"name":"cdn-bearer","type":"www","config":{"bearer":"new"}},{"name":"c2","type":"ftp","config":{"bearer":"t"}}]' 1009 "'[1].type' must be"
badp '{"name":"c3","type":"www"}' 1008 "'config' is required"
badp '{"name":"c3","type":"www","config":{"basic":{"username":"u"}}}' 1008 "'config.basic.password' is required"
badp '{"name":"c3","type":"www","config":{"bearer":"(set)"}}' 1009 "'config.bearer' is"
badp "{\"name\":\"$(printf 'n%.0s' {1..101})\",\"type\":\"www\",\"config\":{\"bearer\":\"t\"}}" 1009 "'name' must be 1 to 100 characters"
[ "$(providers)" = "$before" ] || fail "a refused POST changed the providers: $(providers)"

note "a USER: 403"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
expect "the USER logs in" 200 - "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)")
expect "a USER's GET providers" 403 1005 "$WEB" GET $P "${USER_AUTH[@]}"
expect "a USER's POST providers" 403 1005 "$WEB" POST $P "${USER_AUTH[@]}" -d '{"name":"a","type":"www","config":{"bearer":"t"}}'
expect "a USER's DELETE" 403 1005 "$WEB" DELETE $P/cdn-basic "${USER_AUTH[@]}"

note "DELETE: gone, then 404"
expect "DELETE" 200 - "$WEB" DELETE $P/cdn-bearer "${AUTH[@]}"
[ "$(q "SELECT COUNT(*) FROM media_providers WHERE name = 'cdn-bearer'")" = 0 ] || fail "not deleted"
expect "DELETE again" 404 1006 "$WEB" DELETE $P/cdn-bearer "${AUTH[@]}"
expect "DELETE a bad name" 404 1006 "$WEB" DELETE "$P/a%20b" "${AUTH[@]}"

note "failover: the primary Master killed, a POST goes to the next one"
old=$(primary_master)
kill -KILL "$(node_pid "$old")"
t0=$(now_ms)
expect "POST across the failover" 200 - "$WEB" POST $P "${AUTH[@]}" -d '{"name":"after","type":"www","config":{"bearer":"t2"}}'
new=$(primary_master)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "no new primary Master ($old, now '$new')"
[ "$(q "SELECT config FROM media_providers WHERE name = 'after'")" = '{"bearer":"t2"}' ] || fail "not stored by the new primary"
note "answered after $(( $(now_ms) - t0 )) ms"
expect "GET from the new primary" 200 - "$WEB" GET $P "${AUTH[@]}"
[ "$(app '.media.providers | map(.name) | join(",")')" = '"after,cdn-basic"' ] || fail "GET after failover: $(body)"
expect "settings from the new primary" 200 - "$WEB" GET $S "${AUTH[@]}"
[ "$(app .on_call_pager)" = '"16315550123"' ] || fail "settings after failover: $(body)"
check "no two sessions at once" overlaps_zero
note "the original's settings, bad values, pass_through, providers (redacted, kept, used, deleted), 403, failover: as expected"
