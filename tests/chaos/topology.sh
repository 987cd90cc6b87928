# The chaos suite's hosts: one network namespace per host, joined by a
# bridge that lives in a namespace of its own, so that nothing of it is
# visible in the root namespace (no interface, no address, no route there).
# Sourced by tests/chaos/lib.sh.
#
#            +---------------------- CHAOS_NS-br ---------------------+
#            |                       bridge br0                        |
#            +--+-----+-----+-----+-----+-----+-----+-----+-----+------+
#               |     |     |     |     |     |     |     |     |   veth pairs
#              db   gate   m1    m2    c1    c2    c3   web  client
#             .2     .3   .11   .12   .21   .22   .23   .31   .41   10.77.0.0/24
#
#   With CHAOS_DB=galera (tests/chaos/galera.sh) two more database hosts join
#   the bridge, db2 (.6) and db3 (.7): db, db2 and db3 run a three-node
#   MariaDB Galera cluster. The default (CHAOS_DB unset or "single") has db alone.
#
#   topo_up                      make the bridge and every host (needs root)
#   topo_down                    remove everything topo_up made, whatever state it is in
#   topo_clean_stale             remove what an earlier run left behind (its pid is gone)
#   topo_exec HOST CMD...        run CMD on HOST and wait for it
#   topo_cut HOST ADDR [WAY]     drop HOST's packets with ADDR: both (default), out, in
#   topo_cut_port HOST ADDR PORT out|in
#                                drop HOST's TCP to ADDR:PORT (out) or from ADDR's
#                                source port PORT (in): one way of one connection
#   topo_loss HOST ADDR PCT      drop PCT % of HOST's packets to and from ADDR, at random
#   topo_dup HOST ADDR PCT       send PCT % of HOST's packets to ADDR twice, at random
#   topo_heal HOST               undo every cut, loss and duplication of HOST
#   topo_redirect HOST ADDR PORT... LOCAL
#                                send HOST's TCP to ADDR:PORT to 127.0.0.1:LOCAL (a
#                                wadelay relay there), except the relay's own (mark)
#
# Names: namespaces CHAOS_NS-<host>, CHAOS_NS = wach<pid of the suite>. A crashed
# run's namespaces are found by that pid and removed by topo_clean_stale
# (make chaos-clean, and every start of the suite).

CHAOS_NS=${CHAOS_NS:-wach$$}
CHAOS_NET=10.77.0
CHAOS_MARK=0x77
TOPO_HOSTS=(db gate m1 m2 c1 c2 c3 web client)
declare -gA TOPO_IP=([db]=2 [gate]=3 [m1]=11 [m2]=12 [c1]=21 [c2]=22 [c3]=23 [web]=31 [client]=41)
case ${CHAOS_DB:-single} in
    single) ;;
    galera) TOPO_HOSTS+=(db2 db3); TOPO_IP[db2]=6; TOPO_IP[db3]=7 ;;
    *) echo "CHAOS_DB is single (the default) or galera, not '$CHAOS_DB'" >&2; return 1 2>/dev/null || exit 1 ;;
esac
for _h in "${!TOPO_IP[@]}"; do TOPO_IP[$_h]=$CHAOS_NET.${TOPO_IP[$_h]}; done
unset _h
TOPO_MADE=0

topo_ns() { echo "$CHAOS_NS-$1"; }
topo_ip() { echo "${TOPO_IP[$1]:?unknown host $1}"; }
topo_host_of() {      # the host holding ADDR, or nothing
    local h
    for h in "${TOPO_HOSTS[@]}"; do [ "${TOPO_IP[$h]}" != "$1" ] || { echo "$h"; return 0; }; done
    return 1
}
topo_exec() { local ns; ns=$(topo_ns "$1"); shift; ip netns exec "$ns" "$@"; }

topo_check() {
    [ "$(id -u)" = 0 ] || { echo "the chaos suite needs root (network namespaces)"; return 1; }
    local cmd
    for cmd in ip nft mariadbd mariadb-install-db; do
        command -v "$cmd" >/dev/null 2>&1 || { echo "missing '$cmd'"; return 1; }
    done
    return 0
}

# The namespaces of runs whose suite is gone: their processes are stopped
# (they were started by that run, inside them) and the namespaces removed.
topo_clean_stale() {
    local ns id seen=" "
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^wach[0-9]+-' || true); do
        id=${ns%%-*}; id=${id#wach}
        [ "$id" != "$$" ] || continue
        if [ -d "/proc/$id" ] && grep -qa chaos "/proc/$id/cmdline" 2>/dev/null; then
            continue        # a run that is still going
        fi
        case $seen in *" $id "*) ;; *) echo "chaos: removing the namespaces of an earlier run (wach$id)"; seen="$seen$id ";; esac
        topo__delete_ns "$ns"
    done
}

topo__delete_ns() {
    local ns=$1 pid
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
    ip netns delete "$ns" 2>/dev/null || true
}

topo_up() {
    local br h ns ip
    br=$(topo_ns br)
    TOPO_MADE=1
    ip netns add "$br" || return 1
    ip -n "$br" link add name br0 type bridge || return 1
    ip -n "$br" link set dev br0 up || return 1
    ip -n "$br" link set dev lo up
    for h in "${TOPO_HOSTS[@]}"; do
        ns=$(topo_ns "$h"); ip=$(topo_ip "$h")
        ip netns add "$ns" || return 1
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
        # The pair is made inside the bridge's namespace, its other end moved
        # straight into the host's: nothing ever appears in the root namespace.
        ip -n "$br" link add name "v$h" type veth peer name eth0 netns "$ns" || return 1
        ip -n "$br" link set dev "v$h" master br0 || return 1
        ip -n "$br" link set dev "v$h" up || return 1
        ip -n "$ns" addr add "$ip/24" dev eth0 || return 1
        ip -n "$ns" link set dev eth0 up || return 1
        ip -n "$ns" link set dev lo up || return 1
        ip netns exec "$ns" nft -f - <<NFT || return 1
table inet wachaos {
    set cut_out { type ipv4_addr; }
    set cut_in { type ipv4_addr; }
    set cut_out_port { type ipv4_addr . inet_service; }
    set cut_in_port { type ipv4_addr . inet_service; }
    chain loss_out { }
    chain loss_in { }
    chain output { type filter hook output priority 0; policy accept;
        ip daddr @cut_out drop; ip daddr . tcp dport @cut_out_port drop; jump loss_out; }
    chain input { type filter hook input priority 0; policy accept;
        ip saddr @cut_in drop; ip saddr . tcp sport @cut_in_port drop; jump loss_in; }
}
table ip wachaos_nat {
    chain output { type nat hook output priority -100; policy accept; meta mark $CHAOS_MARK return; }
}
table ip wachaos_dup {
    chain output { type filter hook output priority 10; policy accept; }
}
NFT
    done
}

topo_down() {
    [ "$TOPO_MADE" = 1 ] || return 0
    local h
    for h in "${TOPO_HOSTS[@]}" br; do
        ip netns list 2>/dev/null | grep -q "^$(topo_ns "$h")\b" && topo__delete_ns "$(topo_ns "$h")"
    done
    TOPO_MADE=0
    return 0
}

topo__nft() { local h=$1; shift; topo_exec "$h" nft "$@"; }

topo_cut() {
    local h=$1 addr=$2 way=${3:-both}
    case $way in
        both) topo__nft "$h" add element inet wachaos cut_out "{ $addr }" \
              && topo__nft "$h" add element inet wachaos cut_in "{ $addr }" ;;
        out) topo__nft "$h" add element inet wachaos cut_out "{ $addr }" ;;
        in) topo__nft "$h" add element inet wachaos cut_in "{ $addr }" ;;
        *) echo "topo_cut: way is both, out or in" >&2; return 1 ;;
    esac
}

topo_cut_port() {
    local h=$1 addr=$2 port=$3 way=$4
    case $way in
        out) topo__nft "$h" add element inet wachaos cut_out_port "{ $addr . $port }" ;;
        in) topo__nft "$h" add element inet wachaos cut_in_port "{ $addr . $port }" ;;
        *) echo "topo_cut_port: way is out or in" >&2; return 1 ;;
    esac
}

topo_loss() {
    local h=$1 addr=$2 pct=$3
    topo__nft "$h" add rule inet wachaos loss_out ip daddr "$addr" numgen random mod 100 "<" "$pct" drop \
        && topo__nft "$h" add rule inet wachaos loss_in ip saddr "$addr" numgen random mod 100 "<" "$pct" drop
}

# Each packet to ADDR sent twice with probability PCT % (nftables "dup").
topo_dup() {
    local h=$1 addr=$2 pct=$3
    topo__nft "$h" add rule ip wachaos_dup output ip daddr "$addr" numgen random mod 100 "<" "$pct" \
        dup to "$addr" device eth0
}

topo_heal() {
    local h=$1 set chain
    for set in cut_out cut_in cut_out_port cut_in_port; do topo__nft "$h" flush set inet wachaos "$set" || return 1; done
    for chain in loss_out loss_in; do topo__nft "$h" flush chain inet wachaos "$chain" || return 1; done
    topo__nft "$h" flush chain ip wachaos_dup output
}

topo_redirect() {
    local h=$1 addr=$2 local_port=${*: -1} ports
    ports=$(echo "${@:3:$#-3}" | tr ' ' ',')
    topo__nft "$h" add rule ip wachaos_nat output ip daddr "$addr" tcp dport "{ $ports }" redirect to ":$local_port"
}

# What HOST drops now, for messages.
topo_faults() {
    { topo__nft "$1" list table inet wachaos; topo__nft "$1" list table ip wachaos_dup; } 2>/dev/null \
        | grep -E 'elements|numgen' | sed 's/^[[:space:]]*//' | tr '\n' ';'
}
