#!/usr/bin/env bash
# lane: hosts
# The cluster as installed on three LAN hosts (docs/DEPLOY.md), each host a
# network namespace on one bridge:
#   dbh  MariaDB (bound to its address, as a database host's would be) and
#        wagate, the upstream of a test bed; also the client's and the
#        operator's host (waload, wactl)
#   h1   master1, coreapp1, webapp1
#   h2   master2, coreapp2, webapp2 (the second Webapp DEPLOY.md offers, so
#        that clients have an address that outlives h1)
# Only what `make install DESTDIR=$T/root PREFIX=/usr/local` put there runs:
# its programs, and configs copied from its samples with their empty values
# filled in (database host, password file, hostname, bind address, bus
# certificate, upstream endpoints). The paths the samples name under
# /var/lib/wacluster and /usr/local/etc/wacluster are moved into this test's
# folders by lines appended after the sample's (the last line wins); the
# cluster's short timings are the Masters' cluster settings, which seed the
# cluster. The node bus's certificates are made with the installed wactl;
# the three hosts share one install and one allow-list folder (they are one
# machine): on real hosts each has its own copy of the same list.
# The load: waload (the test's client, not installed) through both Webapps
# over HTTPS (the samples' self-signed certificates), logged in as admin,
# whose password the installed wactl set. h1 is made to hold the primary
# Master and the primary Coreapp, then dies: its link cut and every process
# of it killed -9 at the same moment. h2 takes over; the load through
# webapp2 goes on (every request of it answered 201), and wacheck compares
# what waload was answered with wagate's ledger: 0 overlaps, 0 lost, 0
# duplicates, one failover.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
netns_init
TOOLS=$BIN                      # waload and wacheck: the test's own tools
DEST=$T/root
PREFIX=/usr/local
IBIN=$DEST$PREFIX/bin
ICONF=$DEST$PREFIX/etc/wacluster
BIN=$IBIN                       # lib.sh's helpers run the installed programs
T0=$(now_ms)
since_start() { echo "$(( ($(now_ms) - T0) / 100 ))" | sed 's/.$/.&/;s/^\./0./'; }
step() { note "[$(since_start) s] $*"; }

# 1. make install into the temporary root, as a host's root would run it.
make -C "$ROOT" --no-print-directory -s install DESTDIR="$DEST" PREFIX="$PREFIX" > "$T/install.log" 2>&1 \
    || { cat "$T/install.log" >&2; fail "make install failed"; }
for p in wamaster wacore waweb wagate wactl; do [ -x "$IBIN/$p" ] || fail "make install put no $IBIN/$p"; done
for c in master coreapp webapp wagate wactl; do [ -f "$ICONF/$c.conf" ] || fail "make install put no $ICONF/$c.conf"; done
# What systemd-tmpfiles makes from the installed tmpfiles.d (the keys'
# folders), and the units' StateDirectory= (/var/lib/wacluster and the
# Webapp's tls/) on each host, here under $T/HOST.
install -d -m 0750 "$ICONF/keys" "$ICONF/keys/trusted"
for h in dbh h1 h2; do install -d -m 0750 "$T/$h/var/lib/wacluster" "$T/$h/var/lib/wacluster/tls"; done
install -d -m 0750 "$T/media"   # the Webapps' shared media_dir (an NFS mount across real hosts)
step "installed into $DEST"

# 2. The hosts.
netns_add dbh 2 || fail "cannot make the host dbh"
netns_add h1 3 || fail "cannot make the host h1"
netns_add h2 4 || fail "cannot make the host h2"
DBH=$(netns_ip dbh) H1=$(netns_ip h1) H2=$(netns_ip h2)

# 3. The database host: MariaDB on dbh's address, the cluster's own user
#    (not root) granted only its schema, as DEPLOY.md makes them.
RUN=$(mktemp -d "/tmp/wa-$TEST-db.XXXXXX")      # db_start's folder (lib.sh's cleanup drops its DB there)
netns_on_exit 'db_stop; [ -n "${WA_KEEP:-}" ] || rm -rf "$RUN"'
netns_exec dbh env RUN="$RUN" DB_APP_GRANT='wacluster.*' bash -c ". '$ROOT/scripts/cluster-lib.sh'; db_start 3306 '127.0.0.1,$DBH'" \
    > "$T/db-start.log" 2>&1 || { cat "$T/db-start.log" >&2; fail "MariaDB did not start on dbh ($DBH:3306)"; }
DB_PASSWORD=$(openssl rand -hex 16)
db_sql -e "CREATE DATABASE wacluster;
           CREATE USER 'wacluster'@'$NETNS_NET.%' IDENTIFIED BY '$DB_PASSWORD';
           GRANT ALL PRIVILEGES ON wacluster.* TO 'wacluster'@'$NETNS_NET.%';" || fail "cannot make the database user"
(umask 027; echo "$DB_PASSWORD" > "$ICONF/db-password")
step "MariaDB on $DBH:3306, user wacluster@$NETNS_NET.% granted wacluster.* only"

# 4. The configs: copies of the installed samples.
# fill SAMPLE NAME KEY=VALUE...: $ICONF/NAME.conf, a copy of SAMPLE.conf with
# each KEY's empty line given VALUE (it must be one the sample left empty).
fill() {
    local sample=$1 name=$2 kv key f=$ICONF/$2.conf; shift 2
    cp "$ICONF/$sample.conf" "$f"
    for kv in "$@"; do
        key=${kv%%=*}
        grep -q "^$key =$" "$f" || fail "$sample.conf leaves no empty '$key =' line to fill in"
        sed -i "s|^$key =\$|$key = ${kv#*=}|" "$f"
    done
    ! grep -n '^[a-z_]* =$' "$f" >&2 || fail "$name.conf: the sample's empty lines above are not filled in"
}
# append NAME LINES: lines after the sample's, overriding its values.
append() { { echo; echo "# ---- this test bed"; cat; } >> "$ICONF/$1.conf"; }

# The operator's config on dbh (wactl): its keys are made first.
fill wactl ops db_hostname="$DBH" db_password_file="$ICONF/db-password" bus_cert="$ICONF/keys/ops.key_secret"
append ops <<EOF
bus_keys_dir = $ICONF/keys/trusted
upstream_control_endpoint = tcp://$DBH:6301
EOF
export WACLUSTER_CONF=$ICONF/ops.conf
wactl() { netns_exec dbh "$IBIN/wactl" "$@"; }
for kr in ops:wactl master1:master coreapp1:coreapp webapp1:webapp master2:master coreapp2:coreapp webapp2:webapp; do
    "$IBIN/wactl" keys new "${kr%%:*}" --role "${kr#*:}" --trust > /dev/null \
        || fail "wactl keys new ${kr%%:*} --role ${kr#*:} --trust failed"
    [ -s "$ICONF/keys/${kr%%:*}.key_secret" ] || fail "wactl keys new put no $ICONF/keys/${kr%%:*}.key_secret"
done
[ "$("$IBIN/wactl" keys list --json | jq '.keys | length')" = 7 ] \
    || fail "wactl keys list does not show the 7 keys: $("$IBIN/wactl" keys list 2>&1)"

# wagate on dbh: its sample has nothing to fill in; the ledger moves.
cp "$ICONF/wagate.conf" "$ICONF/gate.conf"
append gate <<EOF
wagate_ledger = $T/dbh/var/lib/wacluster/wagate-ledger.jsonl
EOF
LEDGER=$T/dbh/var/lib/wacluster/wagate-ledger.jsonl

# The cluster settings (timings) every Master's file seeds the cluster with:
# short for a test, set through the keys an operator would set; with room
# for a machine busy with other work (the chaos suite's), so that nothing
# fails over before h1 dies.
cluster_settings() {
    cat <<EOF
lease_ttl = 3
lease_renew_interval = 0.3
lease_margin = 0.6
shard_lease_ttl = 3
shard_renew_interval = 0.3
db_liveness_interval = 1
heartbeat_interval = 0.25
unhealthy_interval = 1.5
upstream_ping_interval = 0.2
upstream_login_timeout = 1
request_attempt_timeout = 1
EOF
}
for i in 1 2; do
    eval "ip=\$H$i"
    fill master "master$i" db_hostname="$DBH" db_password_file="$ICONF/db-password" hostname="$ip" \
        bus_cert="$ICONF/keys/master$i.key_secret" upstream_endpoint="tcp://$DBH:6300" \
        upstream_control_endpoint="tcp://$DBH:6301"
    { echo "bind_address = $ip"; echo "bus_keys_dir = $ICONF/keys/trusted"; cluster_settings; } | append "master$i"
    fill coreapp "coreapp$i" db_hostname="$DBH" db_password_file="$ICONF/db-password" hostname="$ip" \
        bus_cert="$ICONF/keys/coreapp$i.key_secret" upstream_endpoint="tcp://$DBH:6300"
    append "coreapp$i" <<EOF
bind_address = $ip
bus_keys_dir = $ICONF/keys/trusted
EOF
    fill webapp "webapp$i" db_hostname="$DBH" db_password_file="$ICONF/db-password" hostname="$ip" \
        bus_cert="$ICONF/keys/webapp$i.key_secret"
    append "webapp$i" <<EOF
bus_keys_dir = $ICONF/keys/trusted
webapp_tls_cert = $T/h$i/var/lib/wacluster/tls/webapp.crt
webapp_tls_key = $T/h$i/var/lib/wacluster/tls/webapp.key
media_dir = $T/media
EOF
done
# Each program takes its file (-n: loaded and checked, nothing started).
for pc in wagate:gate wactl:ops wamaster:master1 wamaster:master2 wacore:coreapp1 wacore:coreapp2 waweb:webapp1 waweb:webapp2; do
    "$IBIN/${pc%%:*}" -c "$ICONF/${pc#*:}.conf" -n > "$T/check-${pc#*:}.txt" 2>&1 \
        || fail "${pc%%:*} -n refuses ${pc#*:}.conf: $(cat "$T/check-${pc#*:}.txt")"
done
grep -q "^webapp_tls_self_signed = 1$" "$T/check-webapp1.txt" || fail "the Webapp's sample no longer has HTTPS self-signed"
step "configs from the samples: $(cd "$ICONF" && ls ./*.conf | grep -cv '/\(master\|coreapp\|webapp\|wagate\|wactl\)\.conf$') filled-in copies, 7 keys made with wactl"

# 5. The cluster, started so that h1 holds the primaries: wagate, master1,
#    coreapp1 (which takes the empty shard), then h2's nodes.
run() {     # run HOST NAME PROGRAM: PROGRAM -c NAME.conf on HOST, logged to $T/NAME.log
    netns_start "$1" "$2" "$IBIN/$3" -c "$ICONF/$2.conf"
}
node_id() { db_sql wacluster -e "SELECT id FROM nodes WHERE kind = '$1' AND hostname = '$2' AND stopped_at IS NULL ORDER BY id DESC LIMIT 1"; }
primary_master_id() { db_sql wacluster -e "SELECT holder FROM master_lease WHERE id = 1 AND expires_at > NOW(6)"; }
shard_holder() { db_sql wacluster -e "SELECT node_id FROM shard_map WHERE shard = 0 AND expires_at > NOW(6)"; }
gate_stats() { netns_exec dbh "$IBIN/wagate" -c "$ICONF/ops.conf" stats --json 2>/dev/null | tr -d '\n '; }
gate_stat() { gate_stats | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
gate_open_node() { gate_stats | grep -o '"open":{[^}]*}' | grep -o '"node":[0-9]*' | cut -d: -f2; }
healthy() { wactl wait --timeout 0.1 > /dev/null 2>&1; }
# role NAME: its role in wactl status --json (the installed wactl's view).
role() {
    local kind=${1%[0-9]} ip; eval "ip=\$H${1: -1}"
    wactl status --json | jq -r --arg k "$kind" --arg h "$ip" \
        '[.nodes[] | select(.kind == $k and .host == $h)] | last | "\(.role // "none") (\(.state))"'
}
# role_is NAME ROLE: so within a few seconds (a role comes from the leases,
# as the database judges them now).
role_is() {
    wait_for 5 eval "[ \"\$(role $1)\" = \"$2 (up)\" ]" \
        || fail "wactl status: $1 is $(role "$1"), expected $2 (up): $(wactl status 2>&1)"
}

run dbh gate wagate
wait_for 10 gate_stats || fail "wagate did not start on dbh"
run h1 master1 wamaster
wait_for 30 eval '[ -n "$(node_id master "$H1")" ] && [ "$(primary_master_id)" = "$(node_id master "$H1")" ]' \
    || fail "master1 did not become the primary Master"
run h1 coreapp1 wacore
wait_for 30 healthy || fail "the cluster of h1 is not healthy: $(wactl wait --timeout 0.1 2>&1)"
C1=$(node_id coreapp "$H1"); M1=$(node_id master "$H1")
[ "$(shard_holder)" = "$C1" ] || fail "coreapp1 ($C1) does not hold shard 0 ($(shard_holder))"
run h2 master2 wamaster
run h2 coreapp2 wacore
wait_for 30 eval '[ -n "$(node_id master "$H2")" ] && [ -n "$(node_id coreapp "$H2")" ]' \
    || fail "master2 and coreapp2 did not register"
M2=$(node_id master "$H2"); C2=$(node_id coreapp "$H2")
# coreapp2 is a candidate: healthy to the primary Master and reported by master2.
wait_for 30 eval "[ \"\$(db_sql wacluster -e \"SELECT COUNT(*) FROM node_health WHERE node_id = $C2 AND state = 'healthy' AND observers >= 1 AND updated_at > NOW(6) - INTERVAL 2 SECOND\")\" = 1 ]" \
    || fail "coreapp2 is not healthy to both Masters: $(wactl status 2>&1)"
# What the filled-in samples could get wrong shows in the logs: a loopback
# hostname, a key not trusted, a file every user can read.
! grep -H 'WARN .*\(loopback\|bus: \|every user\)' "$T"/master?.log "$T"/coreapp?.log >&2 \
    || fail "a node warned about its configuration (above)"
step "h1: master1 (node $M1) primary, coreapp1 (node $C1) primary for shard 0; h2: master2 (node $M2), coreapp2 (node $C2) secondary"

# The first password of admin, set on the operator's host before any Webapp
# starts (until one is set, a Webapp serves loopback clients only).
(umask 077; echo "Inst-$(openssl rand -hex 8)-Aa1!" > "$T/admin-password")
wactl users set-password admin --password-file "$T/admin-password" > "$T/set-password.log" 2>&1 \
    || fail "wactl users set-password admin: $(cat "$T/set-password.log")"
run h1 webapp1 waweb
run h2 webapp2 waweb
for w in webapp1 webapp2; do
    wait_for 60 grep -q "ready: serving the API on https://" "$T/$w.log" || fail "$w is not serving HTTPS"
done
# The self-signed certificates name their hosts: a client that trusts them
# (given the .crt) reaches each Webapp by its address, verified.
for i in 1 2; do
    eval "ip=\$H$i"
    code=$(netns_exec dbh curl -s -o /dev/null -w '%{http_code}' --cacert "$T/h$i/var/lib/wacluster/tls/webapp.crt" \
           "https://$ip:9090/v1/health/ready") || true
    [ "$code" = 200 ] || fail "webapp$i: GET https://$ip:9090/v1/health/ready with its certificate: $code"
done
! grep -H 'WARN .*\(loopback\|bus: \|every user\)' "$T"/webapp?.log >&2 \
    || fail "a Webapp warned about its configuration (above)"
role_is master1 primary_master
role_is coreapp1 primary_coreapp
role_is master2 secondary_master
role_is coreapp2 secondary_coreapp
check "wagate has coreapp1's session open ($(gate_open_node))" eval '[ "$(gate_open_node)" = "$C1" ]'
step "webapp1 and webapp2 serve HTTPS (certificates verified); wactl status: the primaries are h1's"

# 6. The load: one waload per Webapp, from dbh.
load() {    # load NAME URL TIMEOUT
    rm -f "$T/$1.stop"
    WALOAD_PASSWORD=$(cat "$T/admin-password") netns_start dbh "$1" "$TOOLS/waload" --url "$2" --insecure \
        --user admin --concurrency 64 --rate 20 --duration 600 --timeout "$3" --run-id "$1-$$" \
        --stop-file "$T/$1.stop" --record "$T/$1.jsonl" --json
}
# load_stop NAME: no new requests; the ones in flight are waited for.
load_stop() {
    local pid; pid=$(pid_of "$1")
    touch "$T/$1.stop"
    wait_for 90 bash -c "! kill -0 $pid" || fail "waload $1 did not stop"
    set +e; wait "$pid"; LOAD_RC=$?; set -e
    wait_for 5 test -s "$T/$1.jsonl" || fail "waload $1 wrote no record"
}
messages() { local n; n=$(gate_stat messages); echo "${n:-0}"; }
# served_since N: wagate received 40 messages more than N.
served_since() { [ "$(messages)" -ge $(( $1 + 40 )) ]; }
LOAD_SINCE=$(date +%s.%N)
load load1 "https://$H1:9090" 10
load load2 "https://$H2:9090" 60
mark=$(messages)
wait_for 30 served_since "$mark" || fail "the load does not reach wagate ($(messages) messages)"
sleep 2
step "load through webapp1 and webapp2: $(messages) messages at wagate"

# 7. h1 dies: its link goes down (nothing it sends leaves, no FIN, no RST)
#    and every process of it is killed -9 at once.
check "h1 still holds the primary Master ($(primary_master_id))" eval '[ "$(primary_master_id)" = "$M1" ]'
check "h1 still holds shard 0 ($(shard_holder))" eval '[ "$(shard_holder)" = "$C1" ]'
h1_ns=wan${NETNS_ID}n${NETNS_NUM[h1]}
h1_pids=$(ip netns pids "$h1_ns" | tr '\n' ' ')
[ "$(echo $h1_pids | wc -w)" = 3 ] || fail "h1 runs $(echo $h1_pids | wc -w) processes, expected 3: $h1_pids"
for p in $h1_pids; do disown "$p"; done     # (no "Killed" line from bash; it reaps them still)
KILL_AT=$(date +%s.%N)
ip -n "$h1_ns" link set eth0 down && kill -KILL $h1_pids
touch "$T/load1.stop"      # its Webapp is gone: load1's requests in flight time out
none_alive() { local p; for p in "$@"; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
wait_for 10 none_alive $h1_pids || fail "h1's processes outlive kill -9"
[ -z "$(ip netns pids "$h1_ns")" ] || fail "processes left on h1: $(ip netns pids "$h1_ns")"
step "h1 killed (link down, kill -9 of $h1_pids)"

# 8. h2 takes over: master2 takes the lease, coreapp2 the shard and its
#    upstream session.
wait_for 60 eval '[ "$(primary_master_id)" = "$M2" ]' || fail "master2 did not take the master lease"
wait_for 60 eval '[ "$(gate_open_node)" = "$C2" ]' \
    || fail "coreapp2 did not log in upstream (shard map: $(db_sql wacluster -e 'SELECT node_id, epoch, reason FROM shard_map'))"
TAKEN_AT=$(date +%s.%N)
wait_for 30 healthy || fail "the cluster is not healthy on h2: $(wactl wait --timeout 0.1 2>&1)"
role_is master2 primary_master
role_is coreapp2 primary_coreapp
took=$(awk -v a="$KILL_AT" -v b="$TAKEN_AT" 'BEGIN { printf "%.1f", b - a }')
step "h2 took over: master2 primary, coreapp2 logged in upstream $took s after the kill"
# The load through webapp2 goes on.
mark=$(messages)
wait_for 60 served_since "$mark" || fail "no load reaches wagate after the takeover ($(messages) messages)"
load_stop load2
rc2=$LOAD_RC
load_stop load1
summary() { grep '^{"run_id"' "$T/$1.log" | jq -r '"\(.requests) requests, \(.ok) answered 201, \(.transport_errors) transport errors, longest gap without a 201 \(.longest_gap_s) s"'; }
step "load stopped: load1 (webapp1) $(summary load1); load2 (webapp2) $(summary load2)"

# 9. The verdict. Every request through webapp2 was answered 201, across
#    the kill too (each retried by the Webapp within request_deadline).
[ "$rc2" = 0 ] || fail "waload through webapp2 (h2) had requests not answered 201 (exit $rc2): $(tail -n 3 "$T/load2.log")"
after=$(jq -s --argjson t "$KILL_AT" '[.[] | select(.status == 201 and .sent_at > $t)] | length' "$T/load2.jsonl")
[ "$after" -ge 40 ] || fail "only $after requests through webapp2 were sent after the kill and answered 201"
before=$(jq -s --argjson t "$KILL_AT" '[.[] | select(.status == 201 and .done_at < $t)] | length' "$T/load1.jsonl")
[ "$before" -ge 20 ] || fail "only $before requests through webapp1 were answered 201 before the kill"
cat "$T/load1.jsonl" "$T/load2.jsonl" > "$T/record.jsonl"
UNTIL=$(date +%s.%N)
args=(--name installed-hosts --record "$T/record.jsonl" --ledger "$LEDGER" --since "$LOAD_SINCE" --until "$UNTIL"
      --failovers 1 --min-ok 100)
# Messages answered 201 may still be on their way upstream: read the ledger
# again while that is the only complaint.
deadline=$(( $(date +%s) + 20 ))
while ! out=$("$TOOLS/wacheck" "${args[@]}" 2> "$T/wacheck.err"); do
    echo "$out" | grep -Eq 'FAILED: messages lost$' && [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 0.5
done
echo "  $out"
sort -u "$T/wacheck.err" | sed 's/^/    /'
echo "$out" | grep -q ': PASS ' || fail "wacheck: $out"
echo "$out" | grep -q ' overlaps 0 (wagate 0)  lost 0/' || fail "wacheck: overlaps or lost: $out"
echo "$out" | grep -q ' duplicates 0 (wagate 0) ' || fail "wacheck: duplicates: $out"
echo "$out" | grep -q ' misrouted 0 (wagate 0) ' || fail "wacheck: misrouted: $out"
check "wagate stats: 0 overlaps" eval '[ "$(gate_stat overlaps)" = 0 ]'
check "wagate stats: no stale-epoch login" eval '[ "$(gate_stat refused_stale_epoch)" = 0 ]'
note "load1 (webapp1, h1): $before answered 201 before the kill; load2 (webapp2, h2): all 201, $after of them sent after the kill"
step "0 overlaps, 0 lost, 0 duplicates"
echo "ok $TEST"
