#!/usr/bin/env bash
# The compose deployment in real containers (issue 10; docs/DEPLOY.md).
#   tests/compose/compose-test.sh short   make test's part: from nothing (base
#                                         images, image build) to a healthy
#                                         one-host cluster, 500 messages, then
#                                         down / up / logs / down -v
#   tests/compose/compose-test.sh prepare the images only (base images, image
#                                         build), as make test starts it in the
#                                         background while the other tests run
#   tests/compose/compose-test.sh full    make compose-test: the short part's
#                                         steps, and faults under load, an upgrade
#                                         under load, and the per-role files as
#                                         separate projects ("hosts")
# Without a Docker engine (or docker-compose) it prints one line, "skip
# compose/MODE: why", and exits 0 (make test counts it skipped). Every
# project it makes is named wact-*, and removed at exit with its volumes
# (WA_KEEP=1 keeps them and the work folder). Waits poll a condition with a
# deadline. Judged by wagate's ledger and tools/wacheck, as the chaos suite is.
set -euo pipefail
MODE=${1:-full}
case "$MODE" in short|full|prepare) ;; *) echo "usage: $0 short|full|prepare" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BIN=${WA_BIN:-$ROOT/bin}
RUN=/nonexistent
. scripts/cluster-lib.sh

if ! command -v docker >/dev/null 2>&1 || ! why=$(docker info --format '{{.ServerVersion}}' 2>&1); then
    echo "skip compose/$MODE: no Docker engine answers (docker info: $(echo "${why:-docker not installed}" | grep . | head -n 1))"
    exit 0
fi
if ! command -v docker-compose >/dev/null 2>&1; then
    echo "skip compose/$MODE: docker-compose is not installed (Debian's package docker-compose)"
    exit 0
fi
for program in waload wacheck; do
    [ -x "$BIN/$program" ] || { echo "FAIL compose: $BIN/$program missing: make all first" >&2; exit 1; }
done

T=$(mktemp -d /tmp/wact-compose.XXXXXX)
ONE=wact-one-$$
PROJECTS=()
STARTED=$(date +%s)
TAG=${WA_COMPOSE_TEST_TAG:-latest}
export WA_API_VERSION=$TAG

note() { echo "  compose: $* (+$(( $(date +%s) - STARTED )) s)"; }
fail() {
    echo "FAIL compose: $*" >&2
    local p
    for p in "${PROJECTS[@]}"; do
        echo "---- $p: containers" >&2
        docker ps -a --filter "label=com.docker.compose.project=$p" --format '{{.Names}} {{.Status}}' >&2 || true
        echo "---- $p: the last log lines" >&2
        docker ps -a -q --filter "label=com.docker.compose.project=$p" | while read -r c; do
            echo "-- $(docker inspect -f '{{.Name}}' "$c")" >&2; docker logs --tail 8 "$c" 2>&1 | sed 's/^/   /' >&2
        done
    done
    exit 1
}
cleanup() {
    local p rc=$?
    [ -z "${LOAD_PID:-}" ] || kill "$LOAD_PID" 2>/dev/null || true
    if [ -n "${WA_KEEP:-}" ]; then echo "  compose: kept $T and the projects ${PROJECTS[*]}"; return; fi
    for p in "${PROJECTS[@]}"; do
        docker ps -a -q --filter "label=com.docker.compose.project=$p" | xargs -r docker unpause >/dev/null 2>&1 || true
        docker ps -a -q --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null 2>&1 || true
        docker volume ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker volume rm >/dev/null 2>&1 || true
        docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm >/dev/null 2>&1 || true
    done
    # The key files belong to the image's user: removed from inside.
    [ ! -d "$T/keys" ] || docker run --rm --user 0 --network none -v "$T:/t" "wacluster:$TAG" rm -rf /t/keys >/dev/null 2>&1 || true
    [ -z "${UPGRADED:-}" ] || docker rmi "wacluster:$UPGRADED" >/dev/null 2>&1 || true
    rm -rf "$T"
    return $rc
}
trap cleanup EXIT

dc() { docker-compose -p "$ONE" -f docker-compose/multiconnect-compose.yml "$@"; }
cid() { docker ps -a -q --filter "label=com.docker.compose.project=$ONE" --filter "label=com.docker.compose.service=$1"; }

# healthy PROJECT: every container of it is healthy (or exited 0: keys).
healthy() {
    local c state any=1
    for c in $(docker ps -a -q --filter "label=com.docker.compose.project=$1"); do
        any=0
        state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")
        case "$state" in "exited 0"*|"running 0 healthy") ;; *) return 1 ;; esac
    done
    return $any
}
wait_healthy() { wait_for "${2:-180}" healthy "$1" || fail "project $1 not healthy within ${2:-180} s"; }

sql() { docker exec "$(cid db)" mariadb --no-defaults -uroot -N -B wacluster -e "$1"; }
primary_coreapp() { sql "SELECT CONCAT(n.id, ' ', n.hostname) FROM shard_map s JOIN nodes n ON n.id = s.node_id WHERE s.shard = 0 AND s.expires_at > NOW(6)"; }
primary_master() { sql "SELECT CONCAT(n.id, ' ', n.hostname) FROM master_lease l JOIN nodes n ON n.id = l.holder WHERE l.id = 1 AND l.expires_at > NOW(6)"; }
# other_than FN OLD_ID: FN names a node now, and not OLD_ID.
other_than() { local now; now=$($1 2>/dev/null) || return 1; [ -n "$now" ] && [ "${now%% *}" != "$2" ]; }
cluster_ok() { docker exec "$(cid waweb)" wactl wait --timeout 0.5 >/dev/null 2>&1; }
schema() { sql "SELECT version FROM schema_version WHERE id = 1"; }

# The load: waload from this host through the Webapp's published port, at a
# steady rate, recording every request; stopped by a file.
load_start() {   # load_start NAME PORT
    local name=$1 port=$2
    WALOAD_PASSWORD=$PASSWORD "$BIN/waload" --url "https://127.0.0.1:$port" -k --user admin -d 1200 -r "${RATE:-40}" \
        -c 32 -t 60 --progress 0.5 --record "$T/$name.rec" --stop-file "$T/$name.stop" \
        > "$T/$name.out" 2> "$T/$name.progress" &
    LOAD_PID=$!
    LOAD_NAME=$name
}
load_ok() {   # the 201s so far ("" before the first progress line)
    local line; line=$(tail -n 1 "$T/$LOAD_NAME.progress" 2>/dev/null || true)
    line=$(grep -o '[0-9]* 201' <<<"$line" || true)
    echo "${line%% *}"
}
load_past() { local n; n=$(load_ok); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
# load_grows N: N more requests answered 201 than now (60 s at most).
load_grows() {
    local base; base=$(load_ok); base=${base:-0}
    wait_for 60 load_past $((base + $1)) || fail "$LOAD_NAME: the load did not get $1 more 201s within 60 s: $(tail -n 1 "$T/$LOAD_NAME.progress")"
}
# load_stop: every request answered 201 with an id, or fail.
load_stop() {
    touch "$T/$LOAD_NAME.stop"
    local rc=0
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    [ "$rc" = 0 ] || fail "$LOAD_NAME: client errors (waload exit $rc): $(cat "$T/$LOAD_NAME.out")"
    note "$LOAD_NAME: $(head -n 1 "$T/$LOAD_NAME.out" | sed 's/^waload [^:]*: //'), every one 201"
}
# judge NAME PROJECT [wacheck options]: wagate's ledger against the record:
# 0 overlaps, 0 lost, 0 duplicates (waiting up to 30 s for the outbox to drain).
judge() {
    local name=$1 project=$2; shift 2
    local gate; gate=$(docker ps -a -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=wagate")
    judged() {
        docker cp "$gate:/var/lib/wacluster/gate/ledger.jsonl" "$T/ledger.jsonl" >/dev/null 2>&1 &&
            "$BIN/wacheck" --record "$T/$name.rec" --ledger "$T/ledger.jsonl" -n "$name" "$@" > "$T/$name.check" 2>&1
    }
    wait_for 30 judged "$@" || { cat "$T/$name.check" >&2; fail "$name: the checker found a broken invariant"; }
    note "$(grep -m 1 "^$name: PASS" "$T/$name.check")"
}

# --- from nothing to images ----------------------------------------------
build() {
    local start; start=$(date +%s)
    docker-compose/base-image.sh | sed 's/^/  compose: /'
    local based; based=$(date +%s)
    dc build --parallel keys db > "$T/build.log" 2>&1 || { tail -n 30 "$T/build.log" >&2; fail "the image build failed"; }
    note "base images $(( based - start )) s, the images (wacluster:$TAG, wacluster-db) $(( $(date +%s) - based )) s"
}

# --- (a) one host, from nothing to healthy, 500 messages -----------------
one_host_up() {
    WEB_PORT=$(free_port)
    export EXTERNAL_WEBAPP_PORT=$WEB_PORT
    PROJECTS+=("$ONE")
    dc up -d > "$T/up.log" 2>&1 || { cat "$T/up.log" >&2; fail "docker-compose up failed"; }
    wait_healthy "$ONE" 180
    note "$ONE: every container healthy (Webapp on https://127.0.0.1:$WEB_PORT)"
}
one_host_messages() {
    PASSWORD=$(docker exec "$(cid waweb)" cat /etc/wacluster/keys/admin-password)
    local got
    got=$(curl -sk -o "$T/login" -w '%{http_code}' -u "admin:$PASSWORD" -X POST "https://127.0.0.1:$WEB_PORT/v1/users/login")
    [ "$got" = 200 ] && grep -q '"token":"' "$T/login" || fail "admin login: HTTP $got: $(cat "$T/login")"
    # The original's variables reached the nodes (db.env, the compose file's).
    local config; config=$(docker exec "$(cid wacore1)" wacore -n 2>&1)
    local kv
    for kv in "db_engine = mariadb" "db_hostname = db" "db_port = 3306" "db_username = wacluster" \
              "db_password = (set)" "db_connection_idle_timeout = 180000" "app_multiconnect = 1" \
              "hostname = wacore1" "orchestration = DOCKER-COMPOSE"; do
        grep -qxF "$kv" <<<"$config" || fail "wacore1's configuration lacks '$kv'"
    done
    grep -qxF "hostname = waweb" <<<"$(docker exec "$(cid waweb)" waweb -n 2>&1)" || fail "WEBAPP_HOSTNAME did not reach waweb"
    [ "$(sql "SELECT hostname FROM nodes WHERE kind = 'webapp' ORDER BY id DESC LIMIT 1")" = waweb ] \
        || fail "the Webapp did not register as waweb (WEBAPP_HOSTNAME)"
    # As the original's: 443 in the container, the published port registered.
    [ "$(docker port "$(cid waweb)" 443/tcp | head -n 1 | sed 's/.*://')" = "$WEB_PORT" ] \
        || fail "the Webapp's 443 is not published on $WEB_PORT: $(docker port "$(cid waweb)")"
    [ "$(sql "SELECT ports FROM nodes WHERE kind = 'webapp' ORDER BY id DESC LIMIT 1")" = "$WEB_PORT" ] \
        || fail "the Webapp did not register its published port $WEB_PORT (WEBAPP_EXTERNAL_PORTS)"
    # The database user has its schema only, root no TCP login.
    local grants; grants=$(sql "SHOW GRANTS FOR 'wacluster'@'%'")
    grep -q 'ALL PRIVILEGES ON `wacluster`.\*' <<<"$grants" && ! grep -q 'ON \*\.\*.*ALL\|GRANT ALL PRIVILEGES ON \*' <<<"$grants" \
        || fail "the database user's grants are not its schema only: $grants"
    [ "$(sql "SELECT COUNT(*) FROM mysql.user WHERE user = 'root' AND host <> 'localhost'")" = 0 ] || fail "root may log in over TCP"
    WALOAD_PASSWORD=$PASSWORD "$BIN/waload" --url "https://127.0.0.1:$WEB_PORT" -k --user admin -n 500 -c 16 -t 60 \
        --record "$T/one-host.rec" > "$T/one-host.out" 2>&1 || fail "500 messages: not every one 201: $(cat "$T/one-host.out")"
    note "500 messages: $(head -n 1 "$T/one-host.out" | sed 's/^waload [^:]*: //')"
    judge one-host "$ONE" --min-ok 500
    [ "$(sql "SELECT COUNT(*) FROM outbox")" -ge 500 ] || fail "the outbox has fewer than 500 rows"
}

# --- (c) faults through Docker under a steady load ------------------------
faults() {
    local old host net
    # docker kill of the primary Coreapp's container.
    load_start fault-kill "$WEB_PORT"; load_grows 40
    old=$(primary_coreapp); host=${old#* }
    docker kill "$(cid "$host")" >/dev/null
    note "killed $host (node ${old%% *}, primary of shard 0)"
    wait_for 60 other_than primary_coreapp "${old%% *}" || fail "no other Coreapp took shard 0 after the kill"
    note "shard 0 on $(primary_coreapp)"
    load_grows 80
    docker start "$(cid "$host")" >/dev/null
    wait_healthy "$ONE" 90
    load_grows 40; load_stop
    judge fault-kill "$ONE" --failovers-min 1

    # docker pause of the primary Master.
    load_start fault-pause "$WEB_PORT"; load_grows 40
    old=$(primary_master); host=${old#* }
    docker pause "$(cid "$host")" >/dev/null
    note "paused $host (node ${old%% *}, the primary Master)"
    wait_for 60 other_than primary_master "${old%% *}" || fail "no other Master took the lease during the pause"
    note "the lease is with $(primary_master)"
    load_grows 80
    docker unpause "$(cid "$host")" >/dev/null
    wait_healthy "$ONE" 90
    load_grows 40; load_stop
    judge fault-pause "$ONE"

    # docker network disconnect of the primary Coreapp.
    net=${ONE}_default
    load_start fault-network "$WEB_PORT"; load_grows 40
    old=$(primary_coreapp); host=${old#* }
    docker network disconnect "$net" "$(cid "$host")"
    note "disconnected $host (node ${old%% *}, primary of shard 0) from $net"
    wait_for 60 other_than primary_coreapp "${old%% *}" || fail "no other Coreapp took shard 0 after the disconnect"
    note "shard 0 on $(primary_coreapp)"
    load_grows 80
    docker network connect --alias "$host" "$net" "$(cid "$host")"
    wait_healthy "$ONE" 90
    load_grows 40; load_stop
    judge fault-network "$ONE" --failovers-min 1

    # A restart of the database container.
    load_start fault-db "$WEB_PORT"; load_grows 40
    docker restart "$(cid db)" >/dev/null
    note "restarted the database container"
    wait_healthy "$ONE" 90
    wait_for 60 cluster_ok || fail "the cluster was not healthy within 60 s of the database's restart"
    load_grows 80; load_stop
    judge fault-db "$ONE"
}

# --- (d) upgrade: a new image tag, containers restarted one by one --------
upgrade() {
    local next=wact-next-$$ ctx=$T/next before old host svc
    # The next version: these sources and one more migration, so that the
    # primary Master has a schema to migrate.
    mkdir -p "$ctx"
    cp -a Makefile include src tools .dockerignore "$ctx/"
    mkdir -p "$ctx/conf" "$ctx/scripts" "$ctx/docker-compose"
    cp -a conf/migrations "$ctx/conf/"; cp -a scripts/embed-migrations.sh "$ctx/scripts/"
    cp -a docker-compose/Dockerfile docker-compose/entrypoint.sh docker-compose/db-entrypoint.sh "$ctx/docker-compose/"
    # Migration numbers may skip (0012 is not used): the next is the highest + 1.
    local n; n=$(ls conf/migrations/*.sql | sed -E 's|.*/0*([0-9]+)_.*|\1|' | sort -n | tail -n 1)
    printf -- '-- The compose test'"'"'s upgrade: one table more.\nCREATE TABLE IF NOT EXISTS compose_upgrade_probe (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;\n' \
        > "$ctx/conf/migrations/$(printf %04d $((n + 1)))_compose_upgrade_probe.sql"
    docker build -q -f "$ctx/docker-compose/Dockerfile" --build-arg BASE="${WA_BASE_IMAGE:-wacluster-base:bookworm}" \
        --build-arg BUILD_BASE="${WA_BUILD_BASE_IMAGE:-wacluster-build-base:bookworm}" -t "wacluster:$next" "$ctx" \
        > "$T/build-next.log" 2>&1 || { tail -n 20 "$T/build-next.log" >&2; fail "the next image did not build"; }
    before=$(schema)
    note "built wacluster:$next (schema $((before + 1))); the database has schema $before"
    load_start upgrade "$WEB_PORT"; load_grows 40
    # recreate SERVICE: the container again, with the new tag.
    recreate() {
        WA_API_VERSION=$next dc up -d --no-deps "$1" > "$T/recreate.log" 2>&1 || { cat "$T/recreate.log" >&2; fail "recreating $1 failed"; }
        [ "$(docker inspect -f '{{.Config.Image}}' "$(cid "$1")")" = "wacluster:$next" ] || fail "$1 does not run wacluster:$next"
        wait_healthy "$ONE" 120
        note "$1 runs wacluster:$next"
    }
    # Secondaries first: the secondary Master, then the primary one (the
    # upgraded one takes the lease and migrates), then the secondary
    # Coreapp, then the primary one (one failover).
    old=$(primary_master); host=${old#* }
    for svc in master1 master2; do [ "$svc" = "$host" ] || recreate "$svc"; done
    recreate "$host"
    wait_for 60 bash -c "[ \"\$(docker exec $(cid db) mariadb --no-defaults -uroot -N -B wacluster -e 'SELECT version FROM schema_version WHERE id = 1')\" = $((before + 1)) ]" \
        || fail "the primary Master did not migrate the schema to $((before + 1)) (it has $(schema))"
    [ "$(sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'wacluster' AND table_name = 'compose_upgrade_probe'")" = 1 ] \
        || fail "schema $((before + 1)) but no table compose_upgrade_probe"
    note "the primary Master ($(primary_master)) migrated the schema to $((before + 1))"
    load_grows 40
    old=$(primary_coreapp); host=${old#* }
    for svc in wacore1 wacore2; do [ "$svc" = "$host" ] || recreate "$svc"; done
    recreate "$host"
    wait_for 60 other_than primary_coreapp "${old%% *}" || fail "no upgraded Coreapp took shard 0"
    load_grows 80
    # The Webapp last, drained first (as a load balancer would): the load
    # stops, the Webapp is replaced, the load starts again.
    load_stop
    recreate waweb
    load_start upgrade-web "$WEB_PORT"; load_grows 100; load_stop
    judge upgrade "$ONE" --failovers-min 1
    judge upgrade-web "$ONE"
    local c
    for c in master1 master2 wacore1 wacore2 waweb; do
        [ "$(docker inspect -f '{{.Config.Image}}' "$(cid $c)")" = "wacluster:$next" ] || fail "$c is not upgraded"
    done
    UPGRADED=$next
    # From here on the compose commands name the running version.
    export WA_API_VERSION=$next
}

# --- (e) down keeps the data, logs has every node, down -v removes it -----
down_up_logs() {
    local rows; rows=$(sql "SELECT COUNT(*) FROM outbox")
    dc logs --no-color > "$T/logs.txt" 2>&1
    local svc
    for svc in keys db wagate wahook master1 master2 wacore1 wacore2 waweb; do
        grep -q "^${svc}_1 *| ." "$T/logs.txt" || fail "docker-compose logs has nothing of $svc"
    done
    note "docker-compose logs: every service's lines ($(wc -l < "$T/logs.txt") lines)"
    dc down > "$T/down.log" 2>&1 || { cat "$T/down.log" >&2; fail "docker-compose down failed"; }
    [ -z "$(docker ps -a -q --filter "label=com.docker.compose.project=$ONE")" ] || fail "containers left after down"
    docker volume inspect "${ONE}_dbdata" "${ONE}_keys" "${ONE}_media" >/dev/null || fail "down removed a volume"
    dc up -d > "$T/up.log" 2>&1 || { cat "$T/up.log" >&2; fail "docker-compose up after down failed"; }
    wait_healthy "$ONE" 180
    [ "$(sql "SELECT COUNT(*) FROM outbox")" = "$rows" ] || fail "after down and up the outbox has $(sql "SELECT COUNT(*) FROM outbox") rows, not $rows"
    local got
    got=$(curl -sk -o /dev/null -w '%{http_code}' -u "admin:$PASSWORD" -X POST "https://127.0.0.1:$WEB_PORT/v1/users/login")
    [ "$got" = 200 ] || fail "after down and up the admin's password no longer logs in (HTTP $got)"
    note "down, up: the data kept ($rows outbox rows, the same admin password)"
    dc down -v > "$T/down.log" 2>&1 || { cat "$T/down.log" >&2; fail "docker-compose down -v failed"; }
    [ -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$ONE")" ] || fail "down -v left volumes"
    note "down -v: containers and volumes gone"
}

# --- (b) several hosts: one project per role, joined by published ports ---
multi_host() {
    local ip; ip=$(ip -4 -o route get 192.0.2.1 2>/dev/null | grep -o 'src [0-9.]*' | cut -d' ' -f2)
    [ -n "$ip" ] || fail "this machine has no IPv4 address with a route: the 'hosts' need one to meet at"
    local keys=$T/keys
    docker-compose/keys.sh --out "$keys" m1:master m2:master c1:coreapp c2:coreapp w1:webapp ops:wactl >/dev/null \
        || fail "keys.sh failed"
    # Every "host" reaches the others at this machine's address and the
    # ports they publish; each project has its own network.
    local dbp gp gcp hp
    dbp=$(free_port); gp=$(free_port); gcp=$(free_port); hp=$(free_port)
    sed -e "s/^WA_DB_HOSTNAME=.*/WA_DB_HOSTNAME=$ip/" -e "s/^WA_DB_PORT=.*/WA_DB_PORT=$dbp/" docker-compose/db.env > "$T/db.env"
    export WA_KEYS_DIR=$keys WA_DB_ENV=$T/db.env EXTERNAL_HOSTNAME=$ip
    export WA_UPSTREAM_ENDPOINT=tcp://$ip:$gp WA_UPSTREAM_CONTROL_ENDPOINT=tcp://$ip:$gcp WA_WEBHOOKS_URL=http://$ip:$hp/webhook
    local p=wact-mh-$$
    host_up() {   # host_up NAME FILE VAR=VALUE...
        local name=$p-$1 file=$2; shift 2
        PROJECTS+=("$name")
        env "$@" docker-compose -p "$name" -f "docker-compose/$file" up -d > "$T/$name.up" 2>&1 \
            || { cat "$T/$name.up" >&2; fail "$name: up failed"; }
    }
    host_up db multiconnect-db.yml EXTERNAL_DB_PORT="$dbp" EXTERNAL_GATE_PORT="$gp" EXTERNAL_GATE_CONTROL_PORT="$gcp" EXTERNAL_HOOK_PORT="$hp"
    wait_healthy "$p-db" 120
    local m1=() m2=() c1=() c2=() i
    for i in 0 1 2 3; do m1+=("EXTERNAL_MASTER_PORT$i=$(free_port)"); m2+=("EXTERNAL_MASTER_PORT$i=$(free_port)"); done
    for i in 0 1 2 3; do c1+=("EXTERNAL_COREAPP_PORT$i=$(free_port)"); c2+=("EXTERNAL_COREAPP_PORT$i=$(free_port)"); done
    host_up m1 multiconnect-master.yml NODE_NAME=m1 "${m1[@]}"
    host_up m2 multiconnect-master.yml NODE_NAME=m2 "${m2[@]}"
    host_up c1 multiconnect-coreapp.yml NODE_NAME=c1 "${c1[@]}"
    host_up c2 multiconnect-coreapp.yml NODE_NAME=c2 "${c2[@]}"
    local wp; wp=$(free_port)
    host_up w1 multiconnect-webapp.yml NODE_NAME=w1 EXTERNAL_WEBAPP_PORT="$wp"
    for i in m1 m2 c1 c2 w1; do wait_healthy "$p-$i" 180; done
    note "six projects (db, m1, m2, c1, c2, w1) healthy, meeting at $ip"
    # Each node advertises the host's address and its published ports, not
    # the 6250-6253 it binds.
    local nodes; nodes=$(docker exec "$(docker ps -q --filter "label=com.docker.compose.project=$p-db" --filter label=com.docker.compose.service=db)" \
        mariadb --no-defaults -uroot -N -B wacluster -e "SELECT CONCAT(hostname, ' ', ports) FROM nodes WHERE stopped_at IS NULL AND kind <> 'webapp'")
    local want
    for want in "${m1[*]}" "${m2[*]}" "${c1[*]}" "${c2[*]}"; do
        want=$(echo "$want" | sed 's/EXTERNAL_[A-Z]*_PORT[0-9]=//g' | tr ' ' ,)
        grep -qxF "$ip $want" <<<"$nodes" || fail "no node registered as '$ip $want': $(echo $nodes)"
    done
    [ "$(docker exec "$(docker ps -q --filter "label=com.docker.compose.project=$p-db" --filter label=com.docker.compose.service=db)" \
        mariadb --no-defaults -uroot -N -B wacluster -e "SELECT CONCAT(hostname, ' ', ports) FROM nodes WHERE stopped_at IS NULL AND kind = 'webapp'")" = "$ip $wp" ] \
        || fail "the Webapp did not register as '$ip $wp' (it binds 443 inside)"
    note "the nodes registered the published ports: $(echo "$nodes" | tr '\n' ';'); the Webapp $ip $wp"
    # DEPLOY.md's check, as a host runs it.
    local status
    status=$(env NODE_NAME=m1 "${m1[@]}" docker-compose -p "$p-m1" -f docker-compose/multiconnect-master.yml exec -T master wactl status 2>&1) \
        || fail "wactl status in the Master's container: $status"
    [ "$(grep -c "$ip" <<<"$status")" -ge 5 ] || fail "wactl status does not show the five nodes at $ip: $status"
    PASSWORD=$(docker run --rm --user 0 --network none -v "$keys:/k:ro" "wacluster:$TAG" cat /k/admin-password)
    WALOAD_PASSWORD=$PASSWORD "$BIN/waload" --url "https://127.0.0.1:$wp" -k --user admin -n 500 -c 16 -t 60 \
        --record "$T/multi-host.rec" > "$T/multi-host.out" 2>&1 || fail "multi-host: not every message 201: $(cat "$T/multi-host.out")"
    note "500 messages: $(head -n 1 "$T/multi-host.out" | sed 's/^waload [^:]*: //')"
    judge multi-host "$p-db" --min-ok 500
}

build
if [ "$MODE" = prepare ]; then echo "ok   compose/prepare ($(( $(date +%s) - STARTED )) s)"; exit 0; fi
one_host_up
one_host_messages
if [ "$MODE" = full ]; then
    faults
    upgrade
fi
down_up_logs
export WA_API_VERSION=$TAG
[ "$MODE" = short ] || multi_host
echo "ok   compose/$MODE ($(( $(date +%s) - STARTED )) s)"
