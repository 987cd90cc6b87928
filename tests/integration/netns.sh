# Network namespaces for partition tests. Source it after lib.sh (it uses T,
# PIDS and wait_for from there), then call netns_init.
#
#   netns_init                   checks that namespaces and nftables work (else
#                                prints "skip: <why>" and exits 0), then makes a
#                                bridge in a namespace of its own (NETNS_BRNS)
#                                and a veth from the root namespace into it
#                                holding NETNS_GW = 10.77.K.1/24, K free on this
#                                machine. The bridge is not in the root
#                                namespace because the host's firewall would
#                                filter what crosses it there (Docker's FORWARD
#                                policy is DROP, and bridged frames go through
#                                it with br_netfilter).
#   netns_add NAME N             a namespace for NAME with lo up and a veth into
#                                the bridge holding 10.77.K.N/24 (N in 2..254)
#   netns_ip NAME                NAME's address
#   netns_name_of ADDR           the NAME holding ADDR, or nothing
#   netns_exec NAME CMD...       runs CMD in NAME's namespace and waits for it
#   netns_start NAME LOG CMD...  runs CMD in NAME's namespace in the background,
#                                output appended to $T/LOG.log; its pid goes to
#                                PIDS (lib.sh's cleanup stops it) and PID_LOG
#   netns_cut NAME ADDR [WAY]    drops NAME's traffic with ADDR: WAY "both"
#                                (default), "out" (only NAME -> ADDR) or "in"
#                                (only ADDR -> NAME). Established TCP connections
#                                stay open and stall, as in a real partition.
#   netns_heal NAME [ADDR]       undoes NAME's cuts to ADDR, or all of them
#   netns_cuts NAME              what is cut, for messages
#   netns_on_exit COMMAND        runs COMMAND at exit, after the exit trap that
#                                was set before netns_init (lib.sh's cleanup,
#                                which stops the processes) and before the
#                                namespaces, veths, bridge and nft tables go
#
# Names carry this shell's pid (namespaces wan<pid>n<N>, veths wav<pid>n<N>,
# the bridge's namespace wab<pid>, the root's veth wag<pid>: at most 15
# characters), so parallel runs do not clash.
# Nothing here sends anything anywhere: addresses are only 10.77.K.0/24.

NETNS_ID=$$
NETNS_BRNS=wab$NETNS_ID
NETNS_GWDEV=wag$NETNS_ID
NETNS_K=
NETNS_NET=
NETNS_GW=
NETNS_TABLE=wacut
NETNS_NAMES=()
NETNS_EXIT_HOOKS=()
NETNS_PREV_EXIT=
declare -gA NETNS_NUM=()

netns__skip() { echo "skip: $*"; exit 0; }

netns__ns() {   # the namespace of NAME
    local n=${NETNS_NUM[$1]:-}
    [ -n "$n" ] || { echo "netns: unknown node '$1'" >&2; return 1; }
    echo "wan${NETNS_ID}n$n"
}

# Whether the subnet 10.77.K.0/24 is on any interface of this machine.
netns__subnet_used() { ip -4 -o addr show 2>/dev/null | grep -q " 10\.77\.$1\.[0-9]*/"; }

netns_init() {
    [ "$(id -u)" = 0 ] || netns__skip "network namespaces need root"
    command -v ip >/dev/null 2>&1 || netns__skip "no 'ip' command (iproute2)"
    command -v nft >/dev/null 2>&1 || netns__skip "no 'nft' command (nftables)"
    # The exit trap set so far (lib.sh's cleanup) runs first in ours.
    eval "set -- $(trap -p EXIT)"
    NETNS_PREV_EXIT=${3:-}
    trap netns__exit EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # A probe: a namespace with an nft table in it.
    local probe=wan${NETNS_ID}p
    NETNS_PROBE=$probe
    ip netns add "$probe" 2>/dev/null || netns__skip "'ip netns add' does not work here"
    ip netns exec "$probe" nft add table inet waprobe 2>/dev/null \
        || { ip netns delete "$probe" 2>/dev/null; NETNS_PROBE=; netns__skip "nftables does not work in a network namespace here"; }
    ip netns delete "$probe"
    NETNS_PROBE=
    # Pick K and make the bridge under a lock, so two runs never take one K.
    local lock k tries
    exec {lock}>/tmp/wa-netns.lock
    flock -w 30 "$lock" || { exec {lock}>&-; echo "netns: cannot lock /tmp/wa-netns.lock" >&2; return 1; }
    k=$(( NETNS_ID % 200 + 20 ))
    for ((tries = 0; tries < 200; tries++)); do
        netns__subnet_used "$k" || break
        k=$(( (k - 20 + 1) % 200 + 20 ))
    done
    if [ "$tries" -ge 200 ]; then
        exec {lock}>&-
        echo "netns: no free 10.77.K.0/24 subnet (K 20..219)" >&2
        return 1
    fi
    NETNS_K=$k NETNS_NET=10.77.$k NETNS_GW=10.77.$k.1
    # The bridge's MAC is set explicitly (to the random one it was made with):
    # otherwise it follows the lowest MAC among its ports, and changes when a
    # namespace joins.
    ip netns add "$NETNS_BRNS" \
        && ip -n "$NETNS_BRNS" link add br0 type bridge \
        && ip -n "$NETNS_BRNS" link set br0 address "$(ip netns exec "$NETNS_BRNS" cat /sys/class/net/br0/address)" \
        && ip -n "$NETNS_BRNS" link set br0 up \
        && ip link add "$NETNS_GWDEV" type veth peer name "${NETNS_GWDEV}p" \
        && { sysctl -qw "net.ipv6.conf.$NETNS_GWDEV.disable_ipv6=1" 2>/dev/null; true; } \
        && ip link set "${NETNS_GWDEV}p" netns "$NETNS_BRNS" \
        && ip -n "$NETNS_BRNS" link set "${NETNS_GWDEV}p" master br0 \
        && ip -n "$NETNS_BRNS" link set "${NETNS_GWDEV}p" up \
        && ip addr add "$NETNS_GW/24" dev "$NETNS_GWDEV" \
        && ip link set "$NETNS_GWDEV" up
    local rc=$?
    exec {lock}>&-
    [ "$rc" = 0 ] || { echo "netns: cannot create the bridge in $NETNS_BRNS" >&2; return 1; }
}

netns_add() {
    local name=$1 n=$2
    [ -n "$NETNS_K" ] || { echo "netns: netns_init first" >&2; return 1; }
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 254 ] || { echo "netns: bad host number '$n'" >&2; return 1; }
    [ -z "${NETNS_NUM[$name]:-}" ] || { echo "netns: '$name' exists" >&2; return 1; }
    local other
    for other in "${!NETNS_NUM[@]}"; do
        [ "${NETNS_NUM[$other]}" != "$n" ] || { echo "netns: $NETNS_NET.$n is taken by '$other'" >&2; return 1; }
    done
    local ns=wan${NETNS_ID}n$n veth=wav${NETNS_ID}n$n peer=wap${NETNS_ID}n$n
    NETNS_NUM[$name]=$n
    NETNS_NAMES+=("$name")
    ip netns add "$ns" || return 1
    # IPv4 only: no IPv6 link-local chatter from these links.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
    ip link add "$veth" type veth peer name "$peer" || return 1
    ip link set "$veth" netns "$NETNS_BRNS" || return 1
    ip -n "$NETNS_BRNS" link set "$veth" master br0 || return 1
    ip -n "$NETNS_BRNS" link set "$veth" up || return 1
    ip link set "$peer" netns "$ns" || return 1
    ip -n "$ns" link set "$peer" name eth0 || return 1
    ip -n "$ns" addr add "$NETNS_NET.$n/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$ns" link set lo up || return 1
    # The cut table: two sets of addresses, one per direction.
    ip netns exec "$ns" nft -f - <<NFT || return 1
table inet $NETNS_TABLE {
    set drop_out { type ipv4_addr; }
    set drop_in { type ipv4_addr; }
    chain output { type filter hook output priority 0; policy accept; ip daddr @drop_out drop; }
    chain input { type filter hook input priority 0; policy accept; ip saddr @drop_in drop; }
}
NFT
}

netns_ip() { local n=${NETNS_NUM[$1]:-}; [ -n "$n" ] || { echo "netns: unknown node '$1'" >&2; return 1; }; echo "$NETNS_NET.$n"; }

netns_name_of() {
    local name
    for name in "${NETNS_NAMES[@]}"; do
        [ "$NETNS_NET.${NETNS_NUM[$name]}" != "$1" ] || { echo "$name"; return 0; }
    done
    return 1
}

netns_exec() { local ns; ns=$(netns__ns "$1") || return 1; shift; ip netns exec "$ns" "$@"; }

netns_start() {
    local name=$1 log=$2 ns; shift 2
    ns=$(netns__ns "$name") || return 1
    # ip netns exec execs CMD itself (no fork), so $! is CMD's pid.
    ip netns exec "$ns" "$@" >>"$T/$log.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$log=$!"
}

netns__set() {  # NS VERB SET ADDR
    ip netns exec "$1" nft "$2" element inet "$NETNS_TABLE" "$3" "{ $4 }"
}

netns_cut() {
    local ns addr=$2 way=${3:-both}
    ns=$(netns__ns "$1") || return 1
    [[ $addr =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "netns: bad address '$addr'" >&2; return 1; }
    case $way in
        both) netns__set "$ns" add drop_out "$addr" && netns__set "$ns" add drop_in "$addr" ;;
        out) netns__set "$ns" add drop_out "$addr" ;;
        in) netns__set "$ns" add drop_in "$addr" ;;
        *) echo "netns: way is both, out or in, not '$way'" >&2; return 1 ;;
    esac
}

netns_heal() {
    local ns set
    ns=$(netns__ns "$1") || return 1
    for set in drop_out drop_in; do
        if [ -z "${2:-}" ]; then
            ip netns exec "$ns" nft flush set inet "$NETNS_TABLE" "$set" || return 1
        elif netns__set "$ns" get "$set" "$2" >/dev/null 2>&1; then
            netns__set "$ns" delete "$set" "$2" || return 1
        fi
    done
}

netns_cuts() {
    local ns set
    ns=$(netns__ns "$1") || return 1
    for set in drop_out drop_in; do
        echo "$set: $(ip netns exec "$ns" nft list set inet "$NETNS_TABLE" "$set" 2>/dev/null \
                      | sed -n 's/.*elements = { \(.*\) }.*/\1/p')"
    done
}

# netns_db: this test's own MariaDB, on loopback and the bridge (the
# runner's listens on loopback only), the wacluster user allowed from the
# namespaces; sets DB_PORT (and RUN, its folder). Stopped at exit.
netns_db() {
    RUN=$(mktemp -d "/tmp/wa-$TEST-db.XXXXXX")
    netns_on_exit 'db_stop; [ -n "${WA_KEEP:-}" ] || rm -rf "$RUN"'
    local try
    for try in 1 2 3; do
        DB_PORT=$(free_port)
        db_start "$DB_PORT" "127.0.0.1,$NETNS_GW" && break
        db_stop
        [ "$try" -lt 3 ] || fail "could not start a MariaDB on $NETNS_GW"
    done
    db_sql -e "CREATE USER IF NOT EXISTS 'wacluster'@'$NETNS_NET.%' IDENTIFIED BY 'wacluster';
               GRANT ALL PRIVILEGES ON *.* TO 'wacluster'@'$NETNS_NET.%';" || fail "cannot create the database user"
}

netns_on_exit() { NETNS_EXIT_HOOKS+=("$1"); }

# Everything netns_init and netns_add made, whatever state it is in.
netns_teardown() {
    local name ns n pid
    for name in "${NETNS_NAMES[@]}"; do
        n=${NETNS_NUM[$name]}
        ns=wan${NETNS_ID}n$n
        if ip netns list 2>/dev/null | grep -q "^$ns\b"; then
            ip netns exec "$ns" nft delete table inet "$NETNS_TABLE" 2>/dev/null
            # Whatever still runs in it was started here (lib.sh's cleanup
            # stopped the rest); a namespace with a process in it outlives
            # its name, and so would its veth.
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
            ip netns delete "$ns" 2>/dev/null
        fi
    done
    [ -z "${NETNS_PROBE:-}" ] || ip netns delete "$NETNS_PROBE" 2>/dev/null
    ip netns list 2>/dev/null | grep -q "^$NETNS_BRNS\b" && ip netns delete "$NETNS_BRNS" 2>/dev/null
    ip link show "$NETNS_GWDEV" >/dev/null 2>&1 && ip link delete "$NETNS_GWDEV" 2>/dev/null
    NETNS_NAMES=()
    return 0
}

netns__exit() {
    local rc=$? hook
    WA_EXIT_STATUS=$rc
    set +e
    trap - HUP INT TERM
    [ -z "$NETNS_PREV_EXIT" ] || eval "$NETNS_PREV_EXIT"
    for hook in "${NETNS_EXIT_HOOKS[@]}"; do eval "$hook"; done
    netns_teardown
    exit "$rc"
}
