#!/usr/bin/env bash
# The private MariaDB of make run (scripts/cluster-lib.sh, as scripts/cluster.sh
# starts it): root only through the unix socket (refused over TCP, with or
# without a password), the cluster's user with a generated password granted
# only its own schema, and every file under the folder for this user only.
# Also a folder made before root was socket-only (root without a password,
# also over TCP) is hardened at its next start.
. "$(dirname "$0")/lib.sh"

# A MariaDB of this test's own, in its own folder, as make run's (RUN
# stays the runner's: lib.sh's cleanup uses it).
run_db() {     # run_db FOLDER PORT: start it as cluster.sh does
    ( RUN=$1; umask 077; mkdir -p "$RUN"
      DB_APP_PASSWORD=$(run_db_password); DB_APP_GRANT='`wacluster`.*'
      db_start "$2" ) > "$T/db_start.log" 2>&1 || fail "db_start: $(cat "$T/db_start.log")"
    STOP+=("$1")
}
run_sql() { ( RUN=$HERE; db_sql "$@" ); }
run_stop() { ( RUN=$HERE; db_stop ); }
tcp() { mariadb --no-defaults -h 127.0.0.1 -P "$PORT" -N -B "$@"; }
STOP=()
trap 'WA_EXIT_STATUS=$?; for r in "${STOP[@]}"; do ( RUN=$r; db_stop ); done; cleanup' EXIT

refused_root() {
    ! tcp -uroot -e 'SELECT 1' >/dev/null 2>&1 || fail "root over TCP without a password is accepted"
    ! tcp -uroot -pwacluster -e 'SELECT 1' >/dev/null 2>&1 || fail "root over TCP with a password is accepted"
    [ "$(run_sql -e "SELECT COUNT(*) FROM mysql.user WHERE user = 'root' AND host <> 'localhost'")" = 0 ] \
        || fail "root accounts for other hosts: $(run_sql -e "SELECT user, host FROM mysql.user")"
    [ "$(run_sql -e "SELECT COUNT(*) FROM mysql.user WHERE user = ''")" = 0 ] || fail "an anonymous user"
    run_sql -e "SHOW CREATE USER 'root'@'localhost'" | grep -q unix_socket || fail "root is not socket-only: $(run_sql -e "SHOW CREATE USER 'root'@'localhost'")"
}

cluster_init
note "a new folder"
PORT=$(free_port); HERE=$T/run
run_db "$HERE" "$PORT"
PW=$(cat "$T/run/db-password")
[ ${#PW} -ge 32 ] || fail "a short generated password"
[ "$PW" != wacluster ] || fail "the well-known password"
refused_root
check "the cluster's user reaches its schema" tcp -uwacluster -p"$PW" -e 'CREATE DATABASE IF NOT EXISTS wacluster; CREATE TABLE wacluster.t (a INT); DROP TABLE wacluster.t'
! tcp -uwacluster -p"$PW" -e 'CREATE DATABASE other' 2>/dev/null || fail "it may create another database"
! tcp -uwacluster -p"$PW" -e 'SELECT COUNT(*) FROM mysql.user' 2>/dev/null || fail "it reads mysql.user"
! tcp -uwacluster -pwacluster -e 'SELECT 1' 2>/dev/null || fail "the well-known password works"
# A Master bootstraps and migrates the schema with these grants only.
{ grep -v '^db_\(port\|password\|name\)' "$CONF"; echo "db_port = $PORT"; echo "db_password = $PW"; echo "db_name = wacluster"; } > "$T/run.conf"
WA_BUS_CERT=$(cert m1 wamaster) "$BIN/wamaster" -c "$T/run.conf" >>"$T/m1.log" 2>&1 & PIDS+=($!)
migrated() { "$BIN/wactl" -c "$T/run.conf" schema | grep -q 'up to date'; }
wait_for 20 migrated || fail "a Master cannot set the schema up: $(tail -n 5 "$T/m1.log")"
others=$(find "$T/run" -perm /077 ! -type s ! -type l)
[ -z "$others" ] || fail "readable by others: $(ls -l $others)"
grep -q "db_password" "$T/m1.log" && fail "the log names db_password"
grep -q "$PW" "$T/m1.log" && fail "the log holds the database password"
check "-n hides it" bash -c "'$BIN/wamaster' -c '$T/run.conf' -n | grep -qx 'db_password = (set)'"
"$BIN/wamaster" -c "$T/run.conf" -n | grep -q "$PW" && fail "-n prints the database password"
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" || true
run_stop

note "a folder from before: root without a password, also over TCP"
PORT=$(free_port); HERE=$T/old
mkdir -p "$HERE/db/tmp" "$HERE/logs"
mariadb-install-db --no-defaults --datadir="$HERE/db/data" --user="$(id -un)" --tmpdir="$HERE/db/tmp" \
    --auth-root-authentication-method=normal --skip-test-db >"$T/install.log" 2>&1 || fail "install: $(cat "$T/install.log")"
run_db "$HERE" "$PORT"
refused_root
tcp -uwacluster -p"$(cat "$HERE/db-password")" -e 'SELECT 1' >/dev/null || fail "the cluster's user is refused"
run_stop
note "root socket-only, the cluster's user on its schema only, nothing readable by others: as expected"
