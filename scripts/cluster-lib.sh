# Functions shared by scripts/cluster.sh and the integration tests: a private
# MariaDB in a folder, and the cluster's processes with pid files and logs.
# Source it; set RUN (the folder) and BIN (the binaries) first.

# wait_for TIMEOUT_SECONDS COMMAND...: run COMMAND until it succeeds (polling
# every 0.1 s); 1 when TIMEOUT passes first.
wait_for() {
    local timeout=$1; shift
    local until=$(( $(date +%s%N) + ${timeout%.*} * 1000000000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$until" ] || return 1
        sleep 0.1
    done
}

# free_port: a TCP port no socket uses, below the kernel's ephemeral range
# (where outgoing connections take their local ports and could take ours).
free_port() {
    local port low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 12000 ] || low=32768
    while :; do
        port=$(( 10000 + (RANDOM * 32768 + RANDOM) % (low - 10000) ))
        ss -Htan "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
    done
}

# The node bus's certificates (issue 11: CURVE on every ZeroMQ socket).
# bus_cert DIR NAME ROLE: the secret certificate of NAME (made once, with
# `wactl keys new`, and trusted in DIR/trusted, the allow-list); prints its
# path, for WA_BUS_CERT. ROLE: master, coreapp, webapp, wactl or tap.
bus_cert() {
    local dir=$1 name=$2 role=$3
    if [ ! -s "$dir/$name.key_secret" ]; then
        mkdir -p "$dir/trusted"
        "$BIN/wactl" -c /dev/null keys new "$name" --role "$role" --out "$dir" --keys-dir "$dir/trusted" --trust \
            >/dev/null || return 1
    fi
    echo "$dir/$name.key_secret"
}
# role_of PROGRAM: the bus role a program runs as ("" for none).
role_of() {
    case "$(basename "$1")" in
        wamaster) echo master ;; wacore) echo coreapp ;; waweb) echo webapp ;;
        wactl) echo wactl ;; watap) echo tap ;; *) echo "" ;;
    esac
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# The private MariaDB's administrator is this system user, through the unix
# socket only (unix_socket authentication: no password exists to steal).
db_sql() { mariadb --no-defaults -S "$RUN/db/mariadb.sock" -u"$(id -un)" -N -B "$@"; }

# The cluster's own database user, made by db_start: DB_APP_PASSWORD (default
# wacluster) and DB_APP_GRANT, what it may use (default *.*, every database:
# the tests make one per test; make run grants only its own schema).
DB_APP_PASSWORD=${DB_APP_PASSWORD:-wacluster}
DB_APP_GRANT=${DB_APP_GRANT:-*.*}

# db_harden: root only through the socket (and only for the system's root),
# no root over TCP, no anonymous user. Also for a folder made before root
# was socket-only: its root had no password over the socket (and TCP).
db_harden() {
    local me; me=$(id -un)
    if ! db_sql -e 'SELECT 1' >/dev/null 2>&1; then
        mariadb --no-defaults -S "$RUN/db/mariadb.sock" -uroot -N -B -e \
            "CREATE USER IF NOT EXISTS '$me'@'localhost' IDENTIFIED VIA unix_socket;
             GRANT ALL PRIVILEGES ON *.* TO '$me'@'localhost' WITH GRANT OPTION;" || return 1
    fi
    db_sql -e "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'%', 'root'@'$(hostname)',
                                   ''@'localhost', ''@'$(hostname)';
               ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket;"
}

# run_db_password: the password of make run's database user, made once
# (random, in $RUN/db-password, mode 0600).
run_db_password() {
    if [ ! -s "$RUN/db-password" ]; then
        (umask 077; openssl rand -hex 24 > "$RUN/db-password")
    fi
    cat "$RUN/db-password"
}

# db_start PORT [BIND]: a private MariaDB under $RUN/db, nothing shared with a
# system MySQL (--no-defaults: no /etc/mysql files; its own socket and port).
# BIND is its --bind-address, 127.0.0.1 unless given (MariaDB 10.11 takes a
# comma-separated list, e.g. "127.0.0.1,10.77.3.1"). DB_SERVER_OPTIONS, when
# set, adds options (words) to mariadbd's (the TLS test's --ssl-*).
db_start() {
    local port=$1 bind=${2:-127.0.0.1}
    mkdir -p "$RUN/db" "$RUN/logs"
    if [ ! -d "$RUN/db/data/mysql" ]; then
        # Its own tmpdir: concurrent installs must not share temporary tables.
        mkdir -p "$RUN/db/tmp"
        UMASK=0600 UMASK_DIR=0700 mariadb-install-db --no-defaults --datadir="$RUN/db/data" --user="$(id -un)" --tmpdir="$RUN/db/tmp" \
            --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" --skip-test-db \
            >"$RUN/logs/mariadb-install.log" 2>&1 \
            || { echo "mariadb-install-db failed: see $RUN/logs/mariadb-install.log" >&2; return 1; }
    fi
    if ss -Htln "sport = :$port" | grep -q .; then
        echo "port $port (the private MariaDB's) is already in use; set WA_RUN_DB_PORT to another" >&2
        return 1
    fi
    # (A MariaDB stopped or killed moments ago leaves its connections in
    # TIME-WAIT on the port; mariadbd binds with SO_REUSEADDR, so a restart
    # on the same port need not wait for them.)
    mkdir -p "$RUN/db/tmp"
    # Its files for this user only (it sets its own umask: 0660 by default).
    UMASK=0600 UMASK_DIR=0700 setsid mariadbd --no-defaults --datadir="$RUN/db/data" --socket="$RUN/db/mariadb.sock" --tmpdir="$RUN/db/tmp" \
        --port="$port" --bind-address="$bind" --user="$(id -un)" \
        --log-error="$RUN/logs/mariadb.log" --pid-file="$RUN/db/mariadb.pid" \
        --innodb-buffer-pool-size=64M --max-connections=500 --skip-name-resolve \
        --innodb-flush-log-at-trx-commit=2 ${DB_SERVER_OPTIONS:-} >/dev/null 2>&1 &
    local pid=$! i
    echo "$pid" > "$RUN/db/mariadbd.pid"
    # Poll until it answers, giving up at once if it exited (a taken port).
    for ((i = 0; i < 600; i++)); do
        # (root: a folder from before root was socket-only, see db_harden)
        { db_sql -e 'SELECT 1' || mariadb --no-defaults -S "$RUN/db/mariadb.sock" -uroot -e 'SELECT 1'; } \
            >/dev/null 2>&1 && break
        if ! pid_alive "$pid"; then
            echo "the private MariaDB exited at start: $(grep ERROR "$RUN/logs/mariadb.log" | tail -n 2)" >&2
            return 1
        fi
        sleep 0.1
    done
    [ "$i" -lt 600 ] || { echo "the private MariaDB did not answer within 60 s: see $RUN/logs/mariadb.log" >&2; return 1; }
    db_harden || { echo "cannot make root socket-only in the private MariaDB" >&2; return 1; }
    # A user for the cluster over TCP, with what DB_APP_GRANT gives it only.
    db_sql -e "CREATE USER IF NOT EXISTS 'wacluster'@'127.0.0.1' IDENTIFIED BY '$DB_APP_PASSWORD';
               ALTER USER 'wacluster'@'127.0.0.1' IDENTIFIED BY '$DB_APP_PASSWORD';
               REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'wacluster'@'127.0.0.1';
               GRANT ALL PRIVILEGES ON $DB_APP_GRANT TO 'wacluster'@'127.0.0.1';" || return 1
}

db_stop() {
    local pid
    pid=$(cat "$RUN/db/mariadbd.pid" 2>/dev/null) || return 0
    # A pid file left by a server killed -9 may name another process by now.
    if pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mariadbd ]; then
        kill -TERM "$pid"
        wait_for 60 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$RUN/db/mariadbd.pid"
}

# proc_start NAME COMMAND...: start in the background, log to
# $RUN/logs/NAME.log, pid in $RUN/pids/NAME.pid.
proc_start() {
    local name=$1; shift
    mkdir -p "$RUN/pids" "$RUN/logs"
    # A session of its own: a Ctrl-C at the terminal reaches only the script,
    # which stops the nodes in order (Coreapps, Masters, wagate, database).
    setsid "$@" >>"$RUN/logs/$name.log" 2>&1 &
    echo $! > "$RUN/pids/$name.pid"
}

proc_pid() { cat "$RUN/pids/$1.pid" 2>/dev/null; }

# proc_stop NAME: SIGTERM, wait for a clean exit, SIGKILL after 15 s.
proc_stop() {
    local pid
    pid=$(proc_pid "$1") || return 0
    if pid_alive "$pid"; then
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
        wait_for 15 bash -c "! kill -0 $pid" || { echo "$1 did not stop; killing it" >&2; kill -KILL "$pid" 2>/dev/null; }
    fi
    rm -f "$RUN/pids/$1.pid"
}
