#!/usr/bin/env bash
# lane: hosts
# Heartbeat monitoring under real network partitions: every node in its own
# network namespace, nftables dropping the packets between two of them.
#  (a) the primary Coreapp cut off from ONE Master (the primary Master, then
#      the secondary) for 3 x unhealthy_interval: nobody replaces it, its
#      upstream session stays open;
#  (b) cut off from EVERY Master while it still reaches the database and
#      wagate: the primary Master replaces it, it steps down and its session
#      closes, the new primary logs in, and no two sessions ever overlap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
netns_init

# Timings (seconds). The database-based monitoring stays out of the way: the
# database is reachable from every namespace all along.
HB=0.2 UNHEALTHY=1.0
HOLD_US=$(awk "BEGIN { print int(3 * $UNHEALTHY * 1000000) }")   # 3 x unhealthy_interval

# Our own MariaDB, reachable on the bridge: the runner's listens on loopback only.
netns_db

cluster_init heartbeat_interval=$HB unhealthy_interval=$UNHEALTHY shard_lease_ttl=2 shard_renew_interval=0.2 \
    lease_margin=0.5 upstream_idle_timeout=0.6 upstream_ping_interval=0.1 db_liveness_interval=1
# Everything is reached through the bridge's address; the tools in the root
# namespace use the same file.
sed -i -e "s|^db_hostname = .*|db_hostname = $NETNS_GW|" -e "s|^db_port = .*|db_port = $DB_PORT|" \
       -e "s|tcp://127\.0\.0\.1:|tcp://$NETNS_GW:|" "$CONF"

# One namespace per node at 10.77.K.N, and a config binding there (the
# address it registers comes from COREAPP_HOSTNAME).
n=2
for name in m1 m2 c1 c2; do
    netns_add "$name" "$n" || fail "cannot make the namespace of $name"
    sed "s|^bind_address = .*|bind_address = $(netns_ip "$name")|" "$CONF" > "$T/$name.conf"
    n=$((n + 1))
done
node() {    # node NAME PROGRAM
    netns_start "$1" "$1" env COREAPP_HOSTNAME="$(netns_ip "$1")" WA_BUS_CERT="$(cert "$1" "$2")" "$BIN/$2" -c "$T/$1.conf"
}

start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
node m1 wamaster
node m2 wamaster
node c1 wacore
node c2 wacore
wait_healthy 30
# Nothing failed while the cluster came up: one promotion, for the empty shard.
check "the cluster came up without replacing a Coreapp; promotions so far: $(q "SELECT GROUP_CONCAT(detail SEPARATOR ' / ') FROM events WHERE kind = 'promoted'")" \
    [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'promoted'")" = 1 ]

host_of() { q "SELECT hostname FROM nodes WHERE id = $1"; }
name_of() { netns_name_of "$(host_of "$1")"; }
gate_open_session() {
    "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"open":{[^}]*}' | grep -o '"session":[0-9]*' | cut -d: -f2
}
# liveness NODE: "state votes observers" of a Coreapp in the primary Master's
# view, as wactl status --json shows it.
liveness() {
    local l
    l=$("$BIN/wactl" -c "$CONF" status --json | tr -d '\n ' | grep -o "{\"id\":$1,[^{]*\"liveness\":{[^}]*}" \
        | grep -o '"liveness":{[^}]*}')
    echo "$(echo "$l" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4) $(echo "$l" | grep -o '"votes":[0-9]*' | cut -d: -f2) $(echo "$l" | grep -o '"observers":[0-9]*' | cut -d: -f2)"
}
liveness_is() { [ "$(liveness "$1")" = "$2" ]; }
# In the primary's view: unhealthy, while the secondary still sees it healthy.
unhealthy_to_primary_only() { liveness_is "$1" "unhealthy 0 1"; }
# Healthy to the primary, unhealthy to the secondary.
unhealthy_to_secondary_only() { local l; l=$(liveness "$1"); [ "${l%% *}" != unhealthy ] && [ "${l#* }" = "1 1" ]; }
healthy_to_both() { liveness_is "$1" "healthy 0 1"; }
promotions() { q "SELECT COUNT(*) FROM events WHERE kind = 'promoted'"; }

pm=$(primary_master); pc=$(primary_coreapp)
[ -n "$pm" ] && [ -n "$pc" ] || fail "no primary Master or Coreapp"
sm=$(q "SELECT id FROM nodes WHERE kind = 'master' AND stopped_at IS NULL AND id <> $pm")
pc_name=$(name_of "$pc")
[ -n "$pc_name" ] && [ -n "$sm" ] || fail "cannot tell the nodes apart (primary Coreapp $pc, secondary Master $sm)"
check "coreapp $pc's pid in the database is the one started in its namespace" \
    [ "$(node_pid "$pc")" = "$(pid_of "$pc_name")" ]
# Heartbeats flow both ways and the secondary reports before anything is cut.
wait_for 15 healthy_to_both "$pc" \
    || fail "coreapp $pc is not healthy to both Masters before any cut: liveness '$(liveness "$pc")'"
note "primary Master $pm, secondary $sm; primary Coreapp $pc ($pc_name, $(host_of "$pc")); liveness '$(liveness "$pc")'"

# (a) cut off from one Master only: no replacement.
partial_cut() {
    local which=$1 master=$2 mip node epoch session sessions promoted until
    mip=$(host_of "$master")
    node=$(primary_coreapp); epoch=$(shard_epoch); session=$(gate_open_session)
    sessions=$(gate_stat sessions); promoted=$(promotions)
    check "wagate has coreapp $pc's session open before the cut" [ "$(gate_open_node)" = "$pc" ]
    until=$(q "SELECT NOW(6) + INTERVAL $HOLD_US MICROSECOND")
    netns_cut "$pc_name" "$mip" || fail "cannot cut $pc_name off from $mip"
    local t0; t0=$(now_ms)
    if [ "$which" = primary ]; then
        wait_for 10 unhealthy_to_primary_only "$pc" \
            || fail "cut from the primary Master $master: liveness never became 'unhealthy 0 1' (now '$(liveness "$pc")')"
    else
        wait_for 10 unhealthy_to_secondary_only "$pc" \
            || fail "cut from the secondary Master $master: it never reported coreapp $pc unhealthy (now '$(liveness "$pc")')"
    fi
    note "cut from the $which Master $master ($mip): liveness '$(liveness "$pc")' after $(( $(now_ms) - t0 )) ms"
    wait_for 20 db_clock_past "$until" || fail "the database clock did not reach $until"
    check "cut from the $which Master: the shard map still names coreapp $pc (now $(primary_coreapp))" [ "$(primary_coreapp)" = "$node" ]
    check "cut from the $which Master: the shard epoch is unchanged ($epoch -> $(shard_epoch))" [ "$(shard_epoch)" = "$epoch" ]
    check "cut from the $which Master: no promotion event" [ "$(promotions)" = "$promoted" ]
    check "cut from the $which Master: wagate still has coreapp $pc's session open (open node '$(gate_open_node)')" \
        [ "$(gate_open_node)" = "$pc" ]
    check "cut from the $which Master: it is the same session ($session -> $(gate_open_session))" \
        [ "$(gate_open_session)" = "$session" ]
    check "cut from the $which Master: no new session at wagate ($sessions -> $(gate_stat sessions))" \
        [ "$(gate_stat sessions)" = "$sessions" ]
    check "cut from the $which Master: 0 overlaps at wagate" overlaps_zero
    netns_heal "$pc_name" "$mip" || fail "cannot heal $pc_name"
    t0=$(now_ms)
    wait_for 30 healthy_to_both "$pc" \
        || fail "healed: coreapp $pc is not healthy to both Masters again (liveness '$(liveness "$pc")')"
    note "healed the cut from the $which Master: healthy to both after $(( $(now_ms) - t0 )) ms"
}
partial_cut primary "$pm"
partial_cut secondary "$sm"
check "the primary Master is still $pm" [ "$(primary_master)" = "$pm" ]

# (b) cut off from every Master; the database and wagate are still reachable.
epoch=$(shard_epoch); old_session=$(gate_open_session)
demotions() { grep -c "is no longer primary for shard 0" "$T/$pc_name.log" || true; }
demoted_before=$(demotions)
check "wagate has coreapp $pc's session open before the cut" [ "$(gate_open_node)" = "$pc" ]
cut_at=$(q "SELECT NOW(6)")
for m in $pm $sm; do netns_cut "$pc_name" "$(host_of "$m")" || fail "cannot cut $pc_name off from master $m"; done
t0=$(now_ms)
wait_for 20 gate_open_other "$pc" \
    || fail "cut from every Master: no other Coreapp logged in upstream within 20 s (shard map: $(q "SELECT CONCAT_WS(' ', node_id, epoch, reason) FROM shard_map WHERE shard = 0"); liveness '$(liveness "$pc")')"
took=$(( $(now_ms) - t0 ))
new=$(primary_coreapp)
[ -n "$new" ] && [ "$new" != "$pc" ] || fail "cut from every Master: the shard map names the other Coreapp (was $pc, now '$new')"
check "cut from every Master: the shard epoch is one higher ($epoch -> $(shard_epoch))" [ "$(shard_epoch)" = "$((epoch + 1))" ]
reason=$(q "SELECT detail FROM events WHERE kind = 'promoted' AND shard = 0 AND epoch = $((epoch + 1)) AND subject = $new AND at >= '$cut_at'")
check "cut from every Master: a 'promoted' event for coreapp $new at epoch $((epoch + 1))" [ -n "$reason" ]
check "cut from every Master: the promotion names the heartbeats or an expired lease ('$reason')" \
    grep -Eq 'heartbeat|lease expired' <<< "$reason"
wait_for 10 eval '[ "$(demotions)" -gt "$demoted_before" ]' \
    || fail "cut from every Master: coreapp $pc did not log that it is no longer primary for shard 0"
check "cut from every Master: wagate's open session is the new primary's (open node '$(gate_open_node)')" \
    [ "$(gate_open_node)" = "$new" ]
check "cut from every Master: coreapp $pc's session $old_session is closed at wagate" \
    [ "$(gate_open_session)" != "$old_session" ]
check "cut from every Master: wagate has exactly one session open" gate_open_count 1
check "0 overlaps at wagate" overlaps_zero
check "no stale-epoch login at wagate" [ "$(gate_stat refused_stale_epoch)" = 0 ]
note "cut from every Master: coreapp $new promoted ('$reason'); logged in upstream after $took ms; $pc stepped down; 0 overlaps"
