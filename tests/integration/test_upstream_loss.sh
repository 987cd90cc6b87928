#!/usr/bin/env bash
# lane: hosts
# Failover on the loss of the upstream alone (upstream_unhealthy_interval):
# every node and wagate in its own network namespace, nftables dropping the
# packets between a Coreapp and wagate only (the database and the Masters
# stay reachable).
#  (a) both Coreapps cut off from wagate for 3 x upstream_unhealthy_interval:
#      no secondary reaches the gateway, so nothing is replaced;
#  (b) the primary Coreapp alone cut off: its replies say so, the secondary's
#      say it reaches the gateway, and once upstream_unhealthy_interval has
#      passed the primary Master replaces it ("cannot reach the upstream");
#      the new primary logs in, and no two sessions ever overlap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
netns_init

LOST=1.5       # upstream_unhealthy_interval, seconds
HOLD_US=$(awk "BEGIN { print int(3 * $LOST * 1000000) }")

netns_db

cluster_init heartbeat_interval=0.2 unhealthy_interval=1.0 upstream_unhealthy_interval=$LOST shard_lease_ttl=2 \
    shard_renew_interval=0.2 lease_margin=0.5 upstream_idle_timeout=0.6 upstream_ping_interval=0.1 \
    db_liveness_interval=1 promotion_holdoff=0
n=2
for name in gate m1 m2 c1 c2; do
    netns_add "$name" "$n" || fail "cannot make the namespace of $name"
    n=$((n + 1))
done
GATE_IP=$(netns_ip gate)
sed -i -e "s|^db_hostname = .*|db_hostname = $NETNS_GW|" -e "s|^db_port = .*|db_port = $DB_PORT|" \
       -e "s|tcp://127\.0\.0\.1:|tcp://$GATE_IP:|" "$CONF"
for name in gate m1 m2 c1 c2; do
    sed "s|^bind_address = .*|bind_address = $(netns_ip "$name")|" "$CONF" > "$T/$name.conf"
done
node() {    # node NAME PROGRAM
    netns_start "$1" "$1" env COREAPP_HOSTNAME="$(netns_ip "$1")" WA_BUS_CERT="$(cert "$1" "$2")" "$BIN/$2" -c "$T/$1.conf"
}
node gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
node m1 wamaster
node m2 wamaster
node c1 wacore
node c2 wacore
wait_healthy 30

host_of() { q "SELECT hostname FROM nodes WHERE id = $1"; }
name_of() { netns_name_of "$(host_of "$1")"; }
promotions() { q "SELECT COUNT(*) FROM events WHERE kind = 'promoted'"; }
unreachable() { grep -q "the gateway at tcp://$GATE_IP:$GATE_PORT is not reachable" "$T/$1.log"; }
reachable_again() { [ "$(grep -c "the gateway at tcp://$GATE_IP:$GATE_PORT is reachable" "$T/$1.log")" -ge "$2" ]; }

pc=$(primary_coreapp); pc_name=$(name_of "$pc")
sc_name=c1; [ "$pc_name" = c1 ] && sc_name=c2
[ -n "$pc_name" ] || fail "cannot tell which namespace coreapp $pc is in"
check "wagate has coreapp $pc's session open" [ "$(gate_open_node)" = "$pc" ]
note "primary Coreapp $pc ($pc_name), secondary in $sc_name; wagate at $GATE_IP"

# (a) Nobody reaches the gateway: no replacement.
epoch=$(shard_epoch); promoted=$(promotions)
ups_pc=$(grep -c "is reachable" "$T/$pc_name.log" || true); ups_sc=$(grep -c "is reachable" "$T/$sc_name.log" || true)
netns_cut "$pc_name" "$GATE_IP" && netns_cut "$sc_name" "$GATE_IP" || fail "cannot cut the Coreapps off from wagate"
wait_for 10 unreachable "$pc_name" && wait_for 10 unreachable "$sc_name" \
    || fail "the Coreapps did not see that the gateway is unreachable"
until=$(q "SELECT NOW(6) + INTERVAL $HOLD_US MICROSECOND")
wait_for 20 db_clock_past "$until" || fail "the database clock did not reach $until"
check "no Coreapp reaches the gateway: the shard map still names coreapp $pc" [ "$(primary_coreapp)" = "$pc" ]
check "no Coreapp reaches the gateway: the epoch is unchanged" [ "$(shard_epoch)" = "$epoch" ]
check "no Coreapp reaches the gateway: no promotion" [ "$(promotions)" = "$promoted" ]
netns_heal "$pc_name" && netns_heal "$sc_name" || fail "cannot heal"
wait_for 20 reachable_again "$pc_name" $(( ups_pc + 1 )) && wait_for 20 reachable_again "$sc_name" $(( ups_sc + 1 )) \
    || fail "the Coreapps do not reach the gateway again after the heal"
wait_for 20 gate_open_count 1 || fail "no session open at wagate after the heal"
check "healed: coreapp $pc is still primary and has its session again" [ "$(gate_open_node)" = "$pc" ]
note "(a) both cut off for $(( HOLD_US / 1000 )) ms: no replacement; healed, coreapp $pc logged in again"

# (b) The primary alone cut off from wagate.
epoch=$(shard_epoch); cut_at=$(q "SELECT NOW(6)")
netns_cut "$pc_name" "$GATE_IP" || fail "cannot cut $pc_name off from wagate"
t0=$(now_ms)
wait_for 30 gate_open_other "$pc" \
    || fail "no other Coreapp logged in upstream within 30 s (shard map: $(q "SELECT CONCAT_WS(' ', node_id, epoch, reason) FROM shard_map WHERE shard = 0"))"
took=$(( $(now_ms) - t0 ))
new=$(primary_coreapp)
[ -n "$new" ] && [ "$new" != "$pc" ] || fail "the shard map names '$new', not the other Coreapp"
check "the epoch is one higher ($epoch -> $(shard_epoch))" [ "$(shard_epoch)" = $(( epoch + 1 )) ]
reason=$(q "SELECT detail FROM events WHERE kind = 'promoted' AND shard = 0 AND epoch = $(( epoch + 1 )) AND at >= '$cut_at'")
check "the promotion says why: '$reason'" grep -q "cannot reach the upstream" <<< "$reason"
demoted() { grep -q "coreapp $pc is no longer primary for shard 0" "$T/$pc_name.log"; }
wait_for 10 demoted || fail "coreapp $pc did not step down"
check "one session open at wagate, the new primary's" gate_open_count 1
check "0 overlaps at wagate" overlaps_zero
netns_heal "$pc_name" || fail "cannot heal"
note "(b) the primary cut off from wagate: replaced by coreapp $new after $took ms ('$reason'); 0 overlaps"
