#!/usr/bin/env bash
# wactl settings lists every cluster setting; wactl settings set stores a
# valid value, and refuses a bad value, an unknown key or a combination the
# nodes would refuse with exit 1, a message naming the key, and nothing
# changed. A bad row written straight into the database is shown as invalid.
# wactl status shows each node's liveness, and both commands read a database
# whose schema predates the settings and node_health tables.
. "$(dirname "$0")/lib.sh"
cluster_init
start gate wagate; start m1 wamaster
wait_for 30 bash -c "'$BIN/wactl' -c '$CONF' schema | grep -q 'up to date'" \
    || fail "the Master did not create the schema: $("$BIN/wactl" -c "$CONF" schema 2>&1)"

# upstream_idle_timeout describes the upstream: a config key, never a setting.
out=$("$BIN/wactl" -c "$CONF" settings set upstream_idle_timeout 1 2>&1) && fail "upstream_idle_timeout was accepted as a setting"
check "upstream_idle_timeout is refused as a setting ($out)" grep -q "not a cluster setting" <<<"$out"

SETTINGS="heartbeat_interval unhealthy_interval upstream_unhealthy_interval db_liveness_interval lease_ttl lease_renew_interval
          lease_margin shard_lease_ttl shard_renew_interval upstream_ping_interval
          upstream_login_timeout promotion_holdoff failover_limit failover_window
          db_garbagecollector_enable retention_outbox_days retention_callbacks_days
          retention_events_days gc_interval gc_batch_size request_deadline request_attempt_timeout webhooks_url webhooks_max_concurrent_requests
          callback_backoff_delay_ms max_callback_backoff_delay_ms sent_status webhooks_secret
          callback_persist pass_through media_auto_download notify_user_change_number
          show_security_notifications on_call_pager"

# stored NAME: the row's value and time, "" when there is none.
stored() { q "SELECT CONCAT(value, ' at ', updated_at) FROM settings WHERE name = '$1'"; }
stored_value() { q "SELECT value FROM settings WHERE name = '$1'"; }
# settings_json: wactl settings --json on one line, without the indentation.
settings_json() {
    "$BIN/wactl" -c "$CONF" settings --json | tr -d '\n' | sed 's/{  */{/g; s/,  */,/g; s/  *}/}/g; s/": /":/g'
}
# json_item NAME: that setting's object.
json_item() { settings_json | grep -o "{\"name\":\"$1\"[^}]*}"; }

# --- the listing: every setting, stored or not
out=$("$BIN/wactl" -c "$CONF" settings) || fail "wactl settings failed: $out"
json=$(settings_json) || fail "wactl settings --json failed: $json"
check "the listing has its headings ($out)" grep -q "^NAME  *VALUE  *UPDATED AT  *BY" <<<"$out"
for name in $SETTINGS; do
    check "wactl settings lists $name ($out)" grep -q "^$name " <<<"$out"
    check "wactl settings --json lists $name ($json)" grep -q "{\"name\":\"$name\",\"value\":\"[^\"]*\",\"stored\":" <<<"$json"
done
check "--json lists each setting once ($json)" [ "$(grep -o '"name":' <<<"$json" | wc -l)" = "$(wc -w <<<"$SETTINGS")" ]
check "a value is stored or marked as not stored ($out)" \
    grep -Eq "^heartbeat_interval +(5 +[0-9]{4}-|5 \(not stored: config value\) +- +-$)" <<<"$out"

# --- a valid change: stored as canonical text, shown as stored
out=$("$BIN/wactl" -c "$CONF" settings set heartbeat_interval 0.20 2>"$T/set.err") \
    || fail "a valid settings set failed: $out $(cat "$T/set.err")"
check "set says what it stored ($out)" \
    grep -Eq "^heartbeat_interval = 0.2 \(stored\); (broadcast to the cluster by primary Master [0-9]+|no primary Master answered: nodes apply it from the database within db_liveness_interval \(0.5 s\))$" <<<"$out"
check "the canonical value is stored (got '$(stored_value heartbeat_interval)')" [ "$(stored_value heartbeat_interval)" = 0.2 ]
check "updated_by names wactl and this host" \
    [ "$(q "SELECT updated_by FROM settings WHERE name = 'heartbeat_interval'")" = "wactl@$(hostname | cut -c1-57)" ]
item=$(json_item heartbeat_interval)
check "settings --json shows it stored ($item)" \
    grep -Eq '"value":"0.2","stored":true,"updated_at":"[0-9-]+T[0-9:.]+Z","updated_by":"wactl@[^"]*","invalid":null' <<<"$item"
out=$("$BIN/wactl" -c "$CONF" settings)
check "the listing shows it stored ($out)" grep -Eq "^heartbeat_interval +0.2 +[0-9]{4}-[0-9-]+ [0-9:.]+ +wactl@" <<<"$out"

# refused KEY VALUE PATTERN: exit 1, a message naming the key (and matching
# PATTERN), and the key's row as it was.
refused() {
    local key=$1 value=$2 pattern=$3 before out rc
    before=$(stored "$key")
    set +e; out=$("$BIN/wactl" -c "$CONF" settings set "$key" "$value" 2>&1); rc=$?; set -e
    [ "$rc" = 1 ] || fail "settings set $key $value: exit $rc, not 1 ($out)"
    grep -q -- "$key" <<<"$out" || fail "settings set $key $value: the message does not name the key ($out)"
    grep -q -- "$pattern" <<<"$out" || fail "settings set $key $value: expected '$pattern' in: $out"
    [ "$(stored "$key")" = "$before" ] || fail "settings set $key $value changed the row: '$before' → '$(stored "$key")'"
    note "refused: $out"
}
refused heartbeat_interval 0 "value '0' is out of bounds"
refused heartbeat_interval 100000 "value '100000' is out of bounds"
refused promotion_holdoff -1 "value '-1' is out of bounds"
refused heartbeat_interval abc "value 'abc' is not a number of seconds"
refused failover_limit 2.5 "value '2.5' is not a whole number"
refused failover_limit 0 "value '0' is out of bounds"
refused unhealthy_interval 0.3 "unhealthy_interval (0.3) must be at least two heartbeat_intervals (0.2)"
refused heartbeat_interval 20 "unhealthy_interval (30) must be at least two heartbeat_intervals (20)"
refused lease_margin 1.75 "lease_renew_interval (0.25) + lease_margin (1.75) must be below lease_ttl (2)"
refused lease_ttl 0.75 "must be below lease_ttl (0.75)"
rows=$(q "SELECT COUNT(*) FROM settings")
refused frobnicate 1 "'frobnicate' is not a cluster setting; see wactl settings"
refused db_password x "'db_password' is not a cluster setting"
check "an unknown key stored nothing" [ "$(q "SELECT COUNT(*) FROM settings WHERE name IN ('frobnicate', 'db_password')")" = 0 ]
check "the table kept its rows" [ "$(q "SELECT COUNT(*) FROM settings")" = "$rows" ]

# usage errors: exit 2
for args in "set" "set heartbeat_interval" "set heartbeat_interval 1 2" "frob" "--json set heartbeat_interval 1" "--bogus"; do
    set +e; out=$("$BIN/wactl" -c "$CONF" settings $args 2>&1); rc=$?; set -e
    check "wactl settings $args is a usage error (exit $rc: $out)" [ "$rc" = 2 ]
done

# --- a bad row written straight into the database is shown as invalid
q "INSERT INTO settings (name, value, updated_at, updated_by) VALUES ('heartbeat_interval', 'abc', NOW(6), 'test')
   ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = NOW(6), updated_by = VALUES(updated_by)"
out=$("$BIN/wactl" -c "$CONF" settings) || fail "wactl settings failed on a bad row: $out"
check "the listing marks the bad row invalid ($out)" \
    grep -Eq "^heartbeat_interval +abc \(invalid: value 'abc' is not a number of seconds\) .* test$" <<<"$out"
item=$(json_item heartbeat_interval)
check "settings --json marks it invalid ($item)" \
    grep -q "\"value\":\"abc\",\"stored\":true,.*\"invalid\":\"key 'heartbeat_interval': value 'abc' is not a number of seconds\"" <<<"$item"
# Another key can still be set (the bad row is left out of the check), and
# setting the bad key repairs it.
out=$("$BIN/wactl" -c "$CONF" settings set promotion_holdoff 30 2>&1) || fail "a set beside a bad row failed: $out"
check "a set beside a bad row notes it ($out)" grep -q "the stored heartbeat_interval is invalid" <<<"$out"
# (compared as a number: the canonical text is wa_config_get's)
check "promotion_holdoff is stored (got '$(stored_value promotion_holdoff)')" \
    [ "$(q "SELECT value + 0 = 30 FROM settings WHERE name = 'promotion_holdoff'")" = 1 ]
"$BIN/wactl" -c "$CONF" settings set heartbeat_interval 0.25 >/dev/null 2>&1 || fail "the bad row could not be repaired"
check "the bad row is repaired" [ "$(stored_value heartbeat_interval)" = 0.25 ]

# --- the settings lock: a set waits for a change under way (its row held
# by another client's transaction) and is checked against it; one held
# longer than wactl waits (5 s) is answered, nothing changed
hold_lock settings 1.5 "UPDATE settings SET value = '600000', updated_by = 'test'
    WHERE name = 'callback_backoff_delay_ms';"
t0=$(now_ms)
set +e; out=$("$BIN/wactl" -c "$CONF" settings set max_callback_backoff_delay_ms 300000 2>&1); rc=$?; set -e
took=$(( $(now_ms) - t0 ))
wait "$HOLDER"
check "a set beside a change is refused (exit $rc: $out)" [ "$rc" = 1 ]
check "it was checked against the change ($out)" \
    grep -q "max_callback_backoff_delay_ms (300000) must be at least callback_backoff_delay_ms (600000)" <<<"$out"
check "it waited for the lock ($took ms)" [ "$took" -ge 700 ]
check "nothing stored" [ "$(stored_value max_callback_backoff_delay_ms)" = 900000 ]
hold_lock settings 7
t0=$(now_ms)
set +e; out=$("$BIN/wactl" -c "$CONF" settings set callback_backoff_delay_ms 3000 2>&1); rc=$?; set -e
took=$(( $(now_ms) - t0 ))
check "a set behind a lock held too long fails (exit $rc: $out)" [ "$rc" = 1 ]
check "it says so ($out)" grep -q "held the settings for 5 s; nothing changed, try again" <<<"$out"
check "after 5 s ($took ms)" [ "$took" -ge 4900 ]
wait "$HOLDER"
check "nothing stored" [ "$(stored_value callback_backoff_delay_ms)" = 600000 ]
"$BIN/wactl" -c "$CONF" settings set callback_backoff_delay_ms 3000 >/dev/null 2>&1 || fail "set once the lock is free"
check "stored once the lock is free" [ "$(stored_value callback_backoff_delay_ms)" = 3000 ]

# --- wactl status: liveness for Coreapps, "-" and null for Masters
out=$("$BIN/wactl" -c "$CONF" status) || fail "wactl status failed: $out"
check "status has a LIVENESS column ($out)" grep -q "STATE  *LIVENESS  *LAST SEEN" <<<"$out"
check "a Master's liveness is - ($out)" grep -Eq "^[0-9]+ +master .* (up|down|stopped) +- +" <<<"$out"
out=$("$BIN/wactl" -c "$CONF" status --json | tr -d '\n ')
check "a Master's liveness is null in JSON ($out)" grep -q '"kind":"master",.*"liveness":null' <<<"$out"
check "status --json keeps its keys ($out)" grep -Eq '"gateway_status":"[^"]*",("db_node":"[^"]*",)?"liveness"' <<<"$out"

# --- an older database (schema version 2): no settings, no node_health
kill -TERM "$PID_m1"
wait_for 15 bash -c "! kill -0 $PID_m1" || fail "the Master did not stop"
q "UPDATE schema_version SET version = 15 WHERE id = 1"
set +e; out=$("$BIN/wactl" -c "$CONF" settings set heartbeat_interval 1 2>&1); rc=$?; set -e
check "settings set on schema 15 fails (exit $rc: $out)" [ "$rc" = 1 ]
check "settings set on schema 15 says why ($out)" grep -q "schema version 15: no settings lock" <<<"$out"
q "DROP TABLE settings; DROP TABLE node_health; UPDATE schema_version SET version = 2 WHERE id = 1"
out=$("$BIN/wactl" -c "$CONF" status 2>&1) || fail "wactl status failed on schema version 2: $out"
check "status on schema 2 shows the nodes ($out)" grep -q "LIVENESS" <<<"$out"
out=$("$BIN/wactl" -c "$CONF" settings 2>&1) || fail "wactl settings failed on schema version 2: $out"
check "settings on schema 2 shows config values ($out)" \
    grep -q "^heartbeat_interval  *5 (not stored: config value)" <<<"$out"
check "settings on schema 2 says why ($out)" grep -q "no settings table yet" <<<"$out"
set +e; out=$("$BIN/wactl" -c "$CONF" settings set heartbeat_interval 1 2>&1); rc=$?; set -e
check "settings set on schema 2 fails (exit $rc: $out)" [ "$rc" = 1 ]
check "settings set on schema 2 says why ($out)" grep -q "no settings table" <<<"$out"
note "settings listed, set, refused (exit 1, key named, nothing changed) and bad rows shown invalid"
