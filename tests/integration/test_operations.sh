#!/usr/bin/env bash
# Issue 12, items 1, 7 and 9: paths, operations, health roles.
#   - every path also with one trailing slash (login, users, health,
#     settings, messages, metrics, the new endpoints); an unknown path, with
#     or without one, keeps the 404 envelope; a wrong method 405;
#   - GET /v1/health: the original's roles (primary_master,
#     secondary_master, coreapp), the primary Coreapp saying so and its
#     shard, "connected" only for it and the primary Master;
#   - PUT /v1/services/message/gc (collector off): deletes exactly the sent
#     outbox rows, delivered callbacks, events and inbound message ids
#     (inbound_ids) older than their
#     retention and answers how many; pending and recent rows stay; a pass
#     capped by its batches says "more" (or "processing") and asking again
#     finishes the job; across a killed primary Master it is answered by
#     the next one;
#   - GET /v1/stats/db/internal (counts keyed by the primary Master, in the
#     original's metric form), GET /v1/stats/app/internal (every node);
#   - GET /v1/support: versions, every node, recent trouble; no secret;
#   - a USER gets 403 on every one of them.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 db_garbagecollector_enable=0 gc_interval=0.3 \
    retention_outbox_days=0.01 retention_callbacks_days=0.01 retention_events_days=0.5 request_deadline=10
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
GC=/v1/services/message/gc
j() { jq -c "$1" "$T/body"; }

note "paths: one trailing slash anywhere; unknown paths 404 with the envelope"
expect "login/" 200 - "$WEB" POST /v1/users/login/ -u "admin:$ADMIN_PASSWORD"
expect "health/" 200 - "$WEB" GET /v1/health/ "${AUTH[@]}"
expect "settings/" 200 - "$WEB" GET /v1/settings/application/ "${AUTH[@]}"
expect "users/admin/" 200 - "$WEB" GET /v1/users/admin/ "${AUTH[@]}"
expect "stats/app/" 200 - "$WEB" GET /v1/stats/app/ "${AUTH[@]}"
expect "account/shards/" 200 - "$WEB" GET /v1/account/shards/ "${AUTH[@]}"
expect "messages/" 201 - "$WEB" POST /v1/messages/ "${AUTH[@]}" -d '{"to":"16315551234","type":"text","text":{"body":"hi"}}'
expect "contacts/" 200 - "$WEB" POST /v1/contacts/ "${AUTH[@]}" -d '{"blocking":"wait","contacts":["+16315551234"]}'
[ "$(api "$WEB" GET /metrics/ "${AUTH[@]}")" = 200 ] || fail "GET /metrics/: $(body)"
expect "an unknown path" 404 1006 "$WEB" GET /v1/nothing "${AUTH[@]}"
expect "an unknown path with a slash" 404 1006 "$WEB" GET /v1/nothing/ "${AUTH[@]}"
# What of the original is not served (docs/API.md, Not served): the Groups API.
expect "the Groups API" 404 1006 "$WEB" POST /v1/groups "${AUTH[@]}" -d '{"subject":"g"}'
expect "a group's invite link" 404 1006 "$WEB" GET /v1/groups/1234-5678/invite "${AUTH[@]}"
expect "two slashes" 404 1006 "$WEB" GET /v1/health// "${AUTH[@]}"
expect "users/ by GET" 405 1006 "$WEB" GET /v1/users/ "${AUTH[@]}"
expect "gc by GET" 405 1006 "$WEB" GET $GC "${AUTH[@]}"

note "health: primary_master, secondary_master, coreapp; the primary Coreapp's shard"
health_ok() {
    [ "$(api "$WEB" GET /v1/health "${AUTH[@]}")" = 200 ] || return 1
    [ "$(j '[.health[] | .role] | sort')" = '["coreapp","coreapp","primary_master","secondary_master"]' ] || return 1
    [ "$(j '[.health[] | select(.role == "coreapp" and .primary == true) | [.shard, .gateway_status]]')" = '[[0,"connected"]]' ] \
        || return 1
    [ "$(j '[.health[] | select(.role == "coreapp" and .primary == false) | [has("shard"), .gateway_status]]')" \
        = '[[false,"disconnected"]]' ] || return 1
    [ "$(j '[.health[] | select(.gateway_status == "connected") | .role] | sort')" = '["coreapp","primary_master"]' ]
}
wait_for 10 health_ok || fail "GET /v1/health: $(body)"
PC=$(primary_coreapp)
[ "$(j ".health[\"127.0.0.1:$PC\"].primary")" = true ] || fail "the primary Coreapp $PC: $(body)"
grep -q "primary_coreapp\|secondary_coreapp" "$T/body" && fail "the old role names: $(body)"

note "PUT $GC: exactly the finished rows past their retention go"
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   SELECT CONCAT('op-old-', seq), CONCAT('op-old-', seq), IF(seq % 100 = 0, 1, 0), 1, 0, '16315550000', '{}',
          IF(seq % 100 = 0, 'pending', 'sent'), NOW(6) - INTERVAL 1 DAY, IF(seq % 100 = 0, NULL, NOW(6) - INTERVAL 1 DAY)
   FROM seq_1_to_500"
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   SELECT CONCAT('op-new-', seq), CONCAT('op-new-', seq), 0, 1, 0, '16315550000', '{}', 'sent', NOW(6), NOW(6)
   FROM seq_1_to_7"
q "INSERT INTO callbacks (event_id, shard, kind, conversation, payload, status, created_at, delivered_at)
   SELECT CONCAT('op-old-', seq), IF(seq % 100 = 0, 1, 0), 'status', '16315550000', '{}',
          IF(seq % 100 = 0, 'pending', 'delivered'), NOW(6) - INTERVAL 1 DAY, IF(seq % 100 = 0, NULL, NOW(6) - INTERVAL 1 DAY)
   FROM seq_1_to_300"
q "INSERT INTO events (at, node_id, kind, detail) SELECT NOW(6) - INTERVAL 1 DAY, 0, 'op_test', 'old' FROM seq_1_to_40"
q "INSERT INTO inbound_ids (message_id, shard, sender, created_at)
   SELECT CONCAT('op-in-', seq), 0, '16315550000', IF(seq <= 25, NOW(6) - INTERVAL 1 DAY, NOW(6)) FROM seq_1_to_29"
q "INSERT INTO events (at, node_id, kind, shard, detail) VALUES (NOW(6), 0, 'demoted', 0, 'op-test: coreapp 9 demoted')"
outbox_left() { q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'op-%'"; }
callbacks_left() { q "SELECT COUNT(*) FROM callbacks WHERE event_id LIKE 'op-%'"; }
# The collector is off: nothing goes by itself.
! wait_for 2 [ "$(outbox_left)" != 507 ] || fail "rows went with the collector off"
expect "PUT gc" 200 - "$WEB" PUT $GC "${AUTH[@]}"
[ "$(j .services.message.gc)" = '{"callbacks_deleted":297,"events_deleted":40,"inbound_ids_deleted":25,"messages_deleted":495,"more":false,"status":"complete"}' ] \
    || fail "PUT gc: $(body)"
[ "$(outbox_left)/$(callbacks_left)" = 12/3 ] || fail "left: $(outbox_left) outbox, $(callbacks_left) callbacks"
[ "$(q "SELECT COUNT(*) FROM inbound_ids WHERE message_id LIKE 'op-in-%'")" = 4 ] || fail "inbound ids: the recent ones must stay"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'op-%' AND status = 'pending'")" = 5 ] || fail "a pending row went"
[ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'demoted'")" -ge 1 ] || fail "a recent event went"
grep -q "asked for a retention pass now" "$T"/m*.log || fail "the Master did not log the request"
expect "PUT gc again: nothing left" 200 - "$WEB" PUT $GC/ "${AUTH[@]}"
[ "$(j '.services.message.gc | [.status, .messages_deleted, .callbacks_deleted, .inbound_ids_deleted]')" = '["complete",0,0,0]' ] \
    || fail "again: $(body)"

note "a pass capped by its batches: more (or processing), then asking again finishes"
# A walk ends at the first window that reaches rows younger than the
# retention (seq grows with created_at in a running cluster): the recent
# rows written above would end it before the old ones written below.
q "DELETE FROM outbox WHERE created_at > NOW(6) - INTERVAL 1 HOUR"
expect "gc_batch_size 2" 200 - "$WEB" PATCH /v1/settings/application "${AUTH[@]}" -d '{"gc_batch_size":2}'
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   SELECT CONCAT('op-cap-', seq), CONCAT('op-cap-', seq), 0, 1, 0, '16315550000', '{}', 'sent',
          NOW(6) - INTERVAL 2 DAY, NOW(6) - INTERVAL 2 DAY FROM seq_1_to_400"
wait_for 10 grep -q "setting gc_batch_size: 1000 -> 2" "$T/m1.log" "$T/m2.log" || fail "gc_batch_size not applied"
expect "PUT gc, capped" 200 - "$WEB" PUT $GC "${AUTH[@]}"
[ "$(j '.services.message.gc | .more == true or .status == "processing"')" = true ] || fail "capped pass: $(body)"
cap_left() { q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'op-cap-%'"; }
[ "$(cap_left)" -lt 400 ] && [ "$(cap_left)" -gt 0 ] || fail "capped pass left $(cap_left) of 400"
finished() { api "$WEB" PUT $GC "${AUTH[@]}" >/dev/null; [ "$(j '.services.message.gc | [.status, .more]')" = '["complete",false]' ]; }
wait_for 60 finished || fail "PUT gc never finished: $(body); $(cap_left) rows left"
[ "$(cap_left)" = 0 ] || fail "$(cap_left) rows left once complete"
expect "gc_batch_size back" 200 - "$WEB" PATCH /v1/settings/application "${AUTH[@]}" -d '{"gc_batch_size":1000}'

note "GET /v1/stats/db/internal and /v1/stats/app/internal: the original's metric form"
PM=$(primary_master)
expect "stats/db/internal" 200 - "$WEB" GET /v1/stats/db/internal "${AUTH[@]}"
[ "$(j ".stats.db | keys")" = "[\"127.0.0.1:$PM\"]" ] || fail "db/internal keyed by the primary Master $PM: $(body)"
D=".stats.db[\"127.0.0.1:$PM\"]"
[ "$(j "$D.db_pending_messages.data[0].value")" = 5 ] || fail "db_pending_messages: $(body)"
# With no webhook the statuses of the message sent above wait too.
[ "$(j "$D.db_pending_callbacks.data[0].value")" = "$(q "SELECT COUNT(*) FROM callbacks WHERE status = 'pending'")" ] \
    && [ "$(j "$D.db_pending_callbacks.data[0].value")" -ge 3 ] || fail "db_pending_callbacks: $(body)"
[ "$(j "$D.db_pending_messages | [.type, (.help | length > 0)]")" = '["gauge",true]' ] || fail "the form: $(body)"
[ "$(j "[$D.db_messages.data[] | select(.labels.status == \"pending\") | .value]")" = '[5]' ] || fail "db_messages: $(body)"
[ "$(j "$D.db_users.data[0].labels.role")" = '"ADMIN"' ] || fail "db_users: $(body)"
[ "$(j "$D.db_inbound_ids.data[0].value")" = "$(q "SELECT COUNT(*) FROM inbound_ids")" ] \
    && [ "$(j "$D.db_inbound_ids.data[0].value")" -ge 4 ] || fail "db_inbound_ids: $(body)"
expect "stats/app/internal" 200 - "$WEB" GET /v1/stats/app/internal "${AUTH[@]}"
[ "$(j '.stats.app | length')" = 5 ] || fail "app/internal: not every node: $(body)"
[ "$(j "[.stats.app[].node_info.data[0].labels.kind] | sort")" = '["coreapp","coreapp","master","master","webapp"]' ] \
    || fail "node_info: $(body)"
[ "$(j ".stats.app[\"127.0.0.1:$PC\"].callback_queue_size.data[0].value | type")" = '"number"' ] \
    || fail "callback_queue_size of coreapp $PC: $(body)"
[ "$(j ".stats.app[\"127.0.0.1:$PC\"].api_requests | [.type, (.data[0].value >= 1)]")" = '["gauge",true]' ] \
    || fail "api_requests of coreapp $PC: $(body)"

note "GET /v1/support: versions, the nodes, recent trouble; no secret"
expect "support" 200 - "$WEB" GET /v1/support "${AUTH[@]}"
[ "$(j '.support | [.version, .shards, .schema_version == .webapp.schema_version_needed]')" = '["0.1.0",1,true]' ] \
    || [ "$(j '.support | [.shards, .schema_version == .webapp.schema_version_needed]')" = '[1,true]' ] || fail "support: $(body)"
[ "$(j '[.support.nodes[] | select(.state == "up") | .role] | sort')" \
    = '["coreapp","coreapp","primary_master","secondary_master","webapp"]' ] || fail "support nodes: $(body)"
[ "$(j "[.support.nodes[] | select(.primary == true) | .shard]")" = '[0]' ] || fail "support: the primary Coreapp: $(body)"
[ "$(j '[.support.recent_errors[] | select(.kind == "demoted") | .details]')" = '["op-test: coreapp 9 demoted"]' ] \
    || fail "support recent_errors: $(body)"
grep -qi "password\|wacluster\|$TOKEN\|$ADMIN_PASSWORD" "$T/body" && fail "support shows a secret: $(body)"

note "a USER: 403 on each"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
expect "the USER logs in" 200 - "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)")
expect "a USER's gc" 403 1005 "$WEB" PUT $GC "${USER_AUTH[@]}"
expect "a USER's support" 403 1005 "$WEB" GET /v1/support "${USER_AUTH[@]}"
expect "a USER's stats/db/internal" 403 1005 "$WEB" GET /v1/stats/db/internal "${USER_AUTH[@]}"
expect "a USER's stats/app/internal" 403 1005 "$WEB" GET /v1/stats/app/internal/ "${USER_AUTH[@]}"
expect "a USER's health" 200 - "$WEB" GET /v1/health/ "${USER_AUTH[@]}"

note "PUT gc across a killed primary Master: answered by the next one"
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   SELECT CONCAT('op-fo-', seq), CONCAT('op-fo-', seq), 0, 1, 0, '16315550000', '{}', 'sent',
          NOW(6) - INTERVAL 1 DAY, NOW(6) - INTERVAL 1 DAY FROM seq_1_to_30"
kill -KILL "$(node_pid "$PM")"
expect "PUT gc across the failover" 200 - "$WEB" PUT $GC "${AUTH[@]}"
[ "$(j '.services.message.gc | [.status, .messages_deleted]')" = '["complete",30]' ] || fail "gc after failover: $(body)"
NEW=$(primary_master)
[ -n "$NEW" ] && [ "$NEW" != "$PM" ] || fail "no new primary Master"
check "no two sessions at once" overlaps_zero
note "paths, health roles, message gc (exact, capped, failover), internal stats, support, 403: as expected"
