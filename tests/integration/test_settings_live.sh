#!/usr/bin/env bash
# A settings change reaches every node without a restart and changes the
# heartbeat rate seen on the bus (counted with watap).
. "$(dirname "$0")/lib.sh"
cluster_init heartbeat_interval=1 unhealthy_interval=5
standard_cluster
primary=$(primary_master)
bus=$(q "SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(ports, ',', 2), ',', -1) FROM nodes WHERE id = $primary")
beats() {   # heartbeats the primary Master publishes in 2 s
    "$BIN/watap" -c "$CONF" --json --all --kind heartbeat --timeout 2 "tcp://127.0.0.1:$bus" 2>/dev/null \
        | grep -c '"kind": *"heartbeat"'
}
before=$(beats)
check "about 2 heartbeats in 2 s at heartbeat_interval 1 (saw $before)" [ "$before" -ge 1 ] && [ "$before" -le 3 ]
out=$("$BIN/wactl" -c "$CONF" settings set heartbeat_interval 0.1 2>&1) || fail "settings set failed: $out"
check "wactl says the primary Master broadcast it ($out)" grep -q "broadcast to the cluster by primary Master $primary" <<<"$out"
applied() { grep -q "setting heartbeat_interval: 1 -> 0.1" "$T/$1.log"; }
for n in m1 m2 c1 c2; do
    wait_for 5 applied "$n" || fail "$n did not apply the new heartbeat_interval"
done
after=$(beats)
check "about 20 heartbeats in 2 s at heartbeat_interval 0.1 (saw $after)" [ "$after" -ge 12 ] && [ "$after" -le 24 ]
check "the change is stored" bash -c "'$BIN/wactl' -c '$CONF' settings --json | tr -d ' \\n' | grep -q '\"name\":\"heartbeat_interval\",\"value\":\"0.1\"'"
# A refused combination changes nothing anywhere.
"$BIN/wactl" -c "$CONF" settings set unhealthy_interval 0.15 >/dev/null 2>&1 && fail "unhealthy_interval 0.15 < 2 x 0.1 was accepted"
check "no node applied the refused value" bash -c "! grep -q 'setting unhealthy_interval' $T/m1.log $T/m2.log $T/c1.log $T/c2.log"
# A change nobody broadcasts (written straight to the table) is picked up
# from the database within one db_liveness_interval (0.5 s here).
q "UPDATE settings SET value = '0.2', updated_by = 'test' WHERE name = 'heartbeat_interval'"
from_db() { grep -q "setting heartbeat_interval: 0.1 -> 0.2 (database)" "$T/$1.log"; }
for n in m1 m2 c1 c2; do
    wait_for 3 from_db "$n" || fail "$n did not pick the change up from the database"
done
# A bad row is refused by every node and changes nothing.
q "UPDATE settings SET value = 'soon' WHERE name = 'unhealthy_interval'"
refused() { grep -q "stored value refused, keeping the current one: key 'unhealthy_interval': value 'soon'" "$T/$1.log"; }
for n in m1 m2 c1 c2; do
    wait_for 3 refused "$n" || fail "$n did not refuse the bad stored value"
done
# wactl judges nodes with the cluster's stored db_liveness_interval, not
# its own config file's 0.5 s: with claims every 5 s, every node is up.
q "UPDATE settings SET value = '5' WHERE name = 'unhealthy_interval'"
"$BIN/wactl" -c "$CONF" settings set db_liveness_interval 5 >/dev/null || fail "db_liveness_interval 5 refused"
until_db=$(q "SELECT NOW(6) + INTERVAL 2 SECOND"); wait_for 5 db_clock_past "$until_db"
check "every node is up by the stored interval" bash -c "! '$BIN/wactl' -c '$CONF' status --json | tr -d ' \\n' | grep -q '\"state\":\"down\"'"
check "0 overlaps at wagate" overlaps_zero
note "heartbeat_interval 1 -> 0.1 applied by all four nodes: $before -> $after heartbeats in 2 s"
