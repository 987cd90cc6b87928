#!/usr/bin/env bash
# The failover rate limit's history is kept in the database (table
# failovers), so a new primary Master honours the failovers its predecessor
# made. With failover_limit 2, two kill -9s of the primary Coreapp reach the
# limit (a shard's first promotion is no failover); then the primary Master
# is killed. The new one does not replace the third primary killed: it
# records failover_rate_limited. It does once the first failover has left
# failover_window.
. "$(dirname "$0")/lib.sh"
WINDOW=25
cluster_init failover_limit=2 failover_window=$WINDOW
standard_cluster
start c3 wacore; start c4 wacore
coreapps_up() { [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'coreapp' AND last_seen > NOW(6) - INTERVAL 1 SECOND")" = 4 ]; }
wait_for 15 coreapps_up || fail "four Coreapps are not up"
failovers() { q "SELECT COUNT(*) FROM failovers WHERE shard = 0"; }
check "the first promotion is no failover (a failover during the start: $(q "SELECT * FROM failovers"))" [ "$(failovers)" = 0 ]

# kill_primary: kill -9 the primary Coreapp and wait for another to log in upstream.
kill_primary() {
    local old; old=$(primary_coreapp)
    kill -KILL "$(node_pid "$old")"
    wait_for 15 gate_open_other "$old" || fail "no Coreapp replaced $old within 15 s"
    check "a new primary for shard 0" [ "$(primary_coreapp)" != "$old" ]
}
kill_primary
kill_primary
check "two failovers recorded ($(failovers))" [ "$(failovers)" = 2 ]
check "each with the holder it replaced and the Master that promoted" \
    [ "$(q "SELECT COUNT(*) FROM failovers f JOIN nodes n ON n.id = f.promoted_by WHERE n.kind = 'master' AND f.prev_node <> 0 AND f.node_id <> f.prev_node")" = 2 ]

note "the primary Master is killed; a new one takes the lease"
old_master=$(primary_master)
kill -KILL "$(node_pid "$old_master")"
wait_for 10 lease_taken_from "$old_master" || fail "no other Master took the lease"
new_master=$(primary_master)

note "the third primary Coreapp killed: the new primary Master holds back"
old=$(primary_coreapp); epoch=$(shard_epoch)
kill -KILL "$(node_pid "$old")"
limited() { [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'failover_rate_limited' AND shard = 0 AND node_id = $new_master")" = 1 ]; }
wait_for 15 limited || fail "master $new_master did not record failover_rate_limited for shard 0 (failovers: $(failovers))"
check "no promotion past the limit (epoch $epoch, now $(shard_epoch))" [ "$(shard_epoch)" = "$epoch" ]
check "no third failover recorded" [ "$(failovers)" = 2 ]
check "the event says why" [ "$(q "SELECT detail FROM events WHERE kind = 'failover_rate_limited' AND node_id = $new_master")" \
                             = "shard 0 needs a new primary but had 2 failovers within $WINDOW s; waiting" ]

note "once the first failover leaves the $WINDOW s window, it promotes"
wait_for $((WINDOW + 15)) gate_open_other "$old" || fail "no Coreapp replaced $old after the window"
check "promoted by the new primary Master" [ "$(q "SELECT promoted_by FROM shard_map WHERE shard = 0")" = "$new_master" ]
gap=$(q "SELECT TIMESTAMPDIFF(MICROSECOND, (SELECT MIN(at) FROM failovers WHERE shard = 0), promoted_at) / 1e6 FROM shard_map WHERE shard = 0")
check "promoted only once the first failover was $WINDOW s old (after ${gap} s)" awk "BEGIN { exit !($gap >= $WINDOW) }"
check "the third failover recorded" [ "$(failovers)" = 3 ]
check "0 overlaps at wagate" overlaps_zero
note "master $new_master honoured master $old_master's failovers: the third promotion came ${gap} s after the first failover"
