#!/bin/bash
# The database container: MariaDB with the cluster's user made from db.env.
#   WA_DB_PORT       the port it listens on (default 3306)
#   WA_DB_USERNAME   the cluster's user (not root), made or updated at every start,
#                    with ALL PRIVILEGES on WA_DB_NAME (default wacluster) only
#   WA_DB_PASSWORD   its password, or else WA_DB_PASSWORD_FILE's first line
#   WA_DB_ENGINE     MARIADB or MYSQL (the server is MariaDB); anything else is refused
# Root has no password and no TCP access: only through the socket inside the
# container (docker exec ... mariadb). `db-entrypoint health` is the HEALTHCHECK:
# the server answers and the user is made. Refused at start, named: the
# original's database container's variables (MYSQL_ROOT_PASSWORD, MYSQL_USER,
# MYSQL_PASSWORD, POSTGRES_*; any MYSQL_*, MARIADB_*, POSTGRES_* or PGDATA)
# and a command's arguments (its --default-authentication-plugin=..., -p 3306
# -N 500): none would take effect here.
set -euo pipefail
READY=/run/mysqld/wacluster-ready
SOCK=/run/mysqld/mysqld.sock
say() { echo "db-entrypoint: $*" >&2; }
fail() { say "$*"; exit 1; }

if [ "${1:-}" = health ]; then
    [ -e "$READY" ] && mariadb-admin --no-defaults --socket="$SOCK" -uroot ping >/dev/null
    exit
fi

[ $# -eq 0 ] || fail "arguments are not taken ('$*'): this container's MariaDB options are its own (WA_DB_PORT sets the port); remove the service's command"
for var in $(compgen -e); do
    case "$var" in
        MYSQL_*|MARIADB_*|POSTGRES_*|PGDATA)
            fail "environment $var is not supported: the original's database container's variable; here the db service makes the user WA_DB_USERNAME with WA_DB_PASSWORD (db.env) for the nodes, and root has no password and no TCP login; remove it" ;;
    esac
done
engine=${WA_DB_ENGINE:-MARIADB}
case "${engine^^}" in
    MARIADB|MYSQL) ;;
    *) fail "WA_DB_ENGINE '$engine' is not supported: the database is MariaDB (MARIADB or MYSQL)" ;;
esac
port=${WA_DB_PORT:-3306}
user=${WA_DB_USERNAME:-}
schema=${WA_DB_NAME:-wacluster}
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] \
    || fail "WA_DB_PORT '$port' is not a TCP port (1 to 65535)"
[ -n "$user" ] || fail "WA_DB_USERNAME is empty: name the cluster's database user (db.env)"
[ "$user" != root ] || fail "WA_DB_USERNAME is root: the nodes get a user of their own, with rights on the schema '$schema' only; name another (db.env)"
[[ $user =~ ^[A-Za-z0-9_]{1,32}$ ]] || fail "WA_DB_USERNAME '$user': 1 to 32 letters, digits or '_'"
[[ $schema =~ ^[A-Za-z0-9_]{1,63}$ ]] || fail "WA_DB_NAME '$schema': letters, digits or '_' only"
if [ -n "${WA_DB_PASSWORD:-}" ]; then
    password=$WA_DB_PASSWORD
elif [ -n "${WA_DB_PASSWORD_FILE:-}" ]; then
    [ -r "$WA_DB_PASSWORD_FILE" ] || fail "WA_DB_PASSWORD_FILE $WA_DB_PASSWORD_FILE cannot be read"
    password=$(head -n 1 "$WA_DB_PASSWORD_FILE")
else
    fail "neither WA_DB_PASSWORD nor WA_DB_PASSWORD_FILE is set: the cluster's user needs a password"
fi
[ -n "$password" ] || fail "the database password is empty"
case "$password" in *"'"*|*"\\"*) fail "the database password may not hold ' or \\" ;; esac

rm -f "$READY"
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
    say "a new database in /var/lib/mysql"
    chown mysql:mysql /var/lib/mysql
    mariadb-install-db --no-defaults --user=mysql --datadir=/var/lib/mysql --skip-test-db \
        --auth-root-authentication-method=socket >/tmp/install.log 2>&1 || { cat /tmp/install.log >&2; exit 1; }
fi
mariadbd --no-defaults --user=mysql --datadir=/var/lib/mysql --socket="$SOCK" --port="$port" \
    --bind-address=0.0.0.0 --skip-name-resolve --max-connections=500 --innodb-buffer-pool-size=128M \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM INT
for _ in $(seq 600); do
    mariadb-admin --no-defaults --socket="$SOCK" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "mariadbd exited at start"; }
    sleep 0.1
done
mariadb --no-defaults --socket="$SOCK" -uroot <<SQL
DROP USER IF EXISTS 'root'@'%', 'root'@'127.0.0.1', 'root'@'::1', ''@'localhost', ''@'%';
CREATE DATABASE IF NOT EXISTS \`$schema\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$password';
ALTER USER '$user'@'%' IDENTIFIED BY '$password';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$user'@'%';
GRANT ALL PRIVILEGES ON \`$schema\`.* TO '$user'@'%';
SQL
touch "$READY"
say "ready: port $port, user $user with rights on $schema only"
set +e
rc=0
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
exit "$rc"
