#!/usr/bin/env bash
# lane: hosts
# make install as a user runs it on a host, into a temporary root (DESTDIR):
# the files and their modes, the systemd units as systemd-analyze verify
# reads them, the wacluster user and folders (sysusers.d, tmpfiles.d, made
# inside the root), every installed program's --help and -n against the
# installed sample configs (refused while empty values remain, accepted once
# filled in), and then the installed daemons, run from filled-in copies of
# those samples, against this test's database, talking to a stand-in for
# systemd's notify socket: READY=1 once each serves, WATCHDOG=1 every half of
# WATCHDOG_USEC, none while the daemon is stopped (SIGSTOP: a stuck reactor),
# STOPPING=1 at SIGTERM. Where strace is, the daemons are seen to make no
# writable and executable memory (the units' MemoryDenyWriteExecute=yes).
# Last, make uninstall: everything install put is gone but a config the user
# changed.
. "$(dirname "$0")/lib.sh"
cluster_init
DEST=$T/root
PREFIX=/usr/local
IBIN=$DEST$PREFIX/bin
ICONF=$DEST$PREFIX/etc/wacluster
UNITDIR=$DEST$PREFIX/lib/systemd/system
PROGRAMS="wamaster wacore waweb wagate wactl watap"
CONFS="master coreapp webapp wagate wactl"
UNITS="wacluster-master@.service wacluster-coreapp@.service wacluster-webapp@.service wagate.service"

mode_is() { [ "$(stat -c %a "$1")" = "$2" ] || fail "$1: mode $(stat -c %a "$1"), expected $2"; }

# 1. make install: what lands where, with which mode.
make -C "$ROOT" --no-print-directory -s install DESTDIR="$DEST" PREFIX="$PREFIX" > "$T/install.log" 2>&1 \
    || { cat "$T/install.log" >&2; fail "make install failed"; }
for p in $PROGRAMS; do mode_is "$IBIN/$p" 755; done
for c in $CONFS; do
    mode_is "$ICONF/$c.conf" 640
    [ ! -e "$ICONF/$c.conf.sample" ] || fail "a first install made $c.conf.sample"
done
for u in $UNITS; do mode_is "$UNITDIR/$u" 644; done
mode_is "$DEST$PREFIX/lib/sysusers.d/wacluster.conf" 644
mode_is "$DEST$PREFIX/lib/tmpfiles.d/wacluster.conf" 644
! grep -rl '@[a-z]*dir@' "$DEST" || fail "a path was left unsubstituted"
for u in $UNITS; do
    grep -q "^ExecStart=$PREFIX/bin/" "$UNITDIR/$u" || fail "$u: ExecStart is not under $PREFIX/bin"
    for line in Type=notify NotifyAccess=main WatchdogSec= Restart=on-failure User=wacluster \
                NoNewPrivileges=yes ProtectSystem=strict MemoryDenyWriteExecute=yes StateDirectory=wacluster; do
        grep -q "^$line" "$UNITDIR/$u" || fail "$u has no $line"
    done
done
grep -q "^ExecStart=$PREFIX/bin/wamaster -c $PREFIX/etc/wacluster/%i.conf$" "$UNITDIR/wacluster-master@.service" \
    || fail "the Master's instance does not name its config file"
note "installed: $(find "$DEST" -type f | wc -l) files, modes as expected"

# 2. The units as systemd reads them (an instance of each template), in the
#    root: their binaries are found there. --recursive-errors=no: the root
#    has none of systemd's own units (sysinit.target, ...).
if command -v systemd-analyze >/dev/null; then
    for unit in wacluster-master@master wacluster-coreapp@coreapp wacluster-webapp@webapp wagate; do
        systemd-analyze verify --root="$DEST" --recursive-errors=no "$unit.service" > "$T/verify.log" 2>&1 \
            || { cat "$T/verify.log" >&2; fail "systemd-analyze verify $unit.service"; }
        [ ! -s "$T/verify.log" ] || { cat "$T/verify.log" >&2; fail "systemd-analyze verify $unit.service warned"; }
    done
    note "systemd-analyze verify: the 4 units pass"
else
    note "SKIP systemd-analyze verify: systemd-analyze is not installed"
fi

# 3. The user and the folders, made inside a copy of the root.
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
    SYS=$T/sysroot
    cp -a "$DEST" "$SYS" && mkdir -p "$SYS/etc"
    systemd-sysusers --root="$SYS" > "$T/sysusers.log" 2>&1 || { cat "$T/sysusers.log" >&2; fail "systemd-sysusers"; }
    grep -q '^wacluster:x:[0-9]*:[0-9]*:[^:]*:/var/lib/wacluster:/usr/sbin/nologin$' "$SYS/etc/passwd" \
        || fail "no wacluster system user: $(cat "$SYS/etc/passwd")"
    systemd-tmpfiles --root="$SYS" --create > "$T/tmpfiles.log" 2>&1 || { cat "$T/tmpfiles.log" >&2; fail "systemd-tmpfiles"; }
    uid=$(grep '^wacluster:' "$SYS/etc/passwd" | cut -d: -f3)
    for d in /var/lib/wacluster $PREFIX/etc/wacluster/keys $PREFIX/etc/wacluster/keys/trusted; do
        mode_is "$SYS$d" 750
    done
    [ "$(stat -c %u "$SYS/var/lib/wacluster")" = "$uid" ] || fail "/var/lib/wacluster is not the wacluster user's"
    rm -rf "$SYS"
    note "sysusers.d and tmpfiles.d: the wacluster user, its folders (0750)"
else
    note "SKIP sysusers.d and tmpfiles.d: systemd-sysusers or systemd-tmpfiles is not installed"
fi

# 4. The installed programs: --help; -n refuses a sample whose host values
#    are still empty, naming the file and line; a filled-in copy passes.
for p in $PROGRAMS; do
    "$IBIN/$p" --help > "$T/help.txt" 2>&1 || fail "$p --help exited $?"
    grep -q "^Usage: $p" "$T/help.txt" || fail "$p --help: no usage"
done
conf_of() { case "$1" in wamaster) echo master ;; wacore) echo coreapp ;; waweb) echo webapp ;;
                         wagate) echo wagate ;; *) echo wactl ;; esac; }
for p in $PROGRAMS; do
    c=$(conf_of "$p")
    [ "$c" != wagate ] || continue      # wagate's sample has nothing to fill in
    if "$IBIN/$p" -c "$ICONF/$c.conf" -n > "$T/check.txt" 2>&1; then fail "$p -n accepted $c.conf with empty values"; fi
    grep -q "configuration error: $ICONF/$c.conf:[0-9]*: key '[a-z_]*'" "$T/check.txt" \
        || fail "$p -n on the unfilled $c.conf does not name file, line and key: $(cat "$T/check.txt")"
done
"$IBIN/wagate" -c "$ICONF/wagate.conf" -n > /dev/null || fail "wagate -n on its sample"

# set_key FILE KEY VALUE: the KEY line of FILE says VALUE (added when absent).
set_key() {
    if grep -q "^$2 =" "$1"; then sed -i "s|^$2 =.*|$2 = $3|" "$1"; else echo "$2 = $3" >> "$1"; fi
}
# fill ROLE: a copy of the installed sample in $T, filled in for this host.
fill() {
    local f=$T/$1.conf
    cp "$ICONF/$1.conf" "$f"
    set_key "$f" db_hostname 127.0.0.1
    set_key "$f" hostname 127.0.0.1
    set_key "$f" upstream_endpoint "tcp://127.0.0.1:$GATE_PORT"
    set_key "$f" upstream_control_endpoint "tcp://127.0.0.1:$CTL_PORT"
    echo "$f"
}
for p in $PROGRAMS; do
    c=$(conf_of "$p")
    "$IBIN/$p" -c "$(fill "$c")" -n > "$T/check.txt" 2>&1 || fail "$p -n on a filled-in $c.conf: $(cat "$T/check.txt")"
done
# The environment overrides the file (the password out of it, for one).
WA_DB_PASSWORD=from-env "$IBIN/wacore" -c "$T/coreapp.conf" -n | grep -q '^db_password = (set)$' \
    || fail "WA_DB_PASSWORD does not reach wacore -n"
note "--help, and -n on the samples: refused unfilled, accepted filled in"

# 5. A cluster of the installed daemons from the filled-in samples, each
#    with this test's own: database, ports, keys, folders.
BIN=$IBIN       # keys made with the installed wactl (lib.sh's cert)
WEB_PORT=$(free_port)
mkdir -p "$T/tls"
for c in master coreapp webapp wactl; do
    f=$T/$c.conf
    set_key "$f" db_port "$WA_TEST_DB_PORT"
    set_key "$f" db_password wacluster
    set_key "$f" db_name "$DB"
    set_key "$f" bus_keys_dir "$T/keys/trusted"
    set_key "$f" bind_address 127.0.0.1
    set_key "$f" ports 0
done
set_key "$T/master.conf" bus_cert "$(cert m1 wamaster)"
set_key "$T/coreapp.conf" bus_cert "$(cert c1 wacore)"
set_key "$T/webapp.conf" bus_cert "$(cert w1 waweb)"
set_key "$T/wactl.conf" bus_cert "$T/keys/wactl.key_secret"
set_key "$T/webapp.conf" webapp_bind 127.0.0.1
set_key "$T/webapp.conf" webapp_port "$WEB_PORT"
set_key "$T/webapp.conf" webapp_tls_cert "$T/tls/webapp.crt"
set_key "$T/webapp.conf" webapp_tls_key "$T/tls/webapp.key"
set_key "$T/webapp.conf" media_dir "$T/media"
set_key "$T/wagate.conf" wagate_ledger "$T/ledger.jsonl"

if ! command -v python3 >/dev/null; then
    note "SKIP sd_notify: python3 (the notify socket's stand-in) is not installed"
else
    # systemd's end of NOTIFY_SOCKET: every datagram as one line, newlines as |.
    cat > "$T/listen.py" <<'PY'
import socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data = sock.recv(4096)
        out.write("%.3f %s\n" % (time.monotonic(), data.decode(errors="replace").replace("\n", "|")))
PY
    # notified NAME PROGRAM CONF: PROGRAM as systemd would start it with
    # Type=notify and WatchdogSec=2: NOTIFY_SOCKET, WATCHDOG_USEC, and
    # WATCHDOG_PID its own pid (exec keeps the shell's).
    notified() {
        local name=$1 prog=$2 conf=$3
        python3 "$T/listen.py" "$T/notify-$name.sock" "$T/notify-$name.txt" 2>>"$T/listen.log" &
        PIDS+=($!)
        wait_for 10 test -S "$T/notify-$name.sock" || fail "the notify socket of $name did not appear"
        touch "$T/notify-$name.txt"
        NOTIFY_SOCKET=$T/notify-$name.sock WATCHDOG_USEC=2000000 \
            bash -c 'export WATCHDOG_PID=$$; exec "$@"' _ "$IBIN/$prog" -c "$conf" >>"$T/$name.log" 2>&1 &
        PIDS+=($!)
        eval "PID_$name=$!"
    }
    got() { grep -c -- "$2" "$T/notify-$1.txt" || true; }
    sent() { [ "$(got "$1" "$2")" -gt 0 ]; }

    notified gate wagate "$T/wagate.conf"
    wait_for 10 sent gate 'READY=1' || fail "wagate sent no READY=1"
    notified m1 wamaster "$T/master.conf"
    notified c1 wacore "$T/coreapp.conf"
    notified w1 waweb "$T/webapp.conf"
    for n in m1 c1 w1; do
        wait_for 60 sent "$n" 'READY=1|STATUS=' || fail "$n sent no READY=1 with a STATUS="
    done
    for n in gate m1 c1 w1; do
        grep -q 'ready: ' "$T/$n.log" || fail "$n notified READY=1 but logged no ready: line"
    done
    grep -q "READY=1|STATUS=serving the API on https://127.0.0.1:$WEB_PORT" "$T/notify-w1.txt" \
        || fail "the Webapp's READY=1 does not say it serves HTTPS: $(grep READY "$T/notify-w1.txt")"
    curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$WEB_PORT/v1/health/live" | grep -q 200 \
        || fail "the Webapp does not serve HTTPS from the installed sample"
    wait_for 30 sent m1 'STATUS=primary_master' || fail "the Master's STATUS never said primary_master"
    wait_for 30 sent c1 'STATUS=primary_coreapp, node [0-9]*, shards 0' || fail "the Coreapp's STATUS never said primary_coreapp"
    note "READY=1 from wagate, the Master, the Coreapp and the Webapp (HTTPS); STATUS follows the roles"

    # Pings every second (half of WATCHDOG_USEC), from each reactor.
    declare -A before
    for n in gate m1 c1 w1; do before[$n]=$(got "$n" 'WATCHDOG=1'); done
    sleep 3.5
    for n in gate m1 c1 w1; do
        pings=$(( $(got "$n" 'WATCHDOG=1') - before[$n] ))
        [ "$pings" -ge 3 ] || fail "$n sent $pings WATCHDOG=1 in 3.5 s, expected one a second"
    done
    # A stopped daemon (as a stuck reactor) pings no more: none for over
    # two WATCHDOG_USEC, then again once it runs.
    for n in gate m1 c1 w1; do kill -STOP "$(pid_of "$n")"; done
    sleep 0.3       # a ping already on its way
    for n in gate m1 c1 w1; do before[$n]=$(got "$n" 'WATCHDOG=1'); done
    sleep 4.5
    for n in gate m1 c1 w1; do
        [ "$(got "$n" 'WATCHDOG=1')" = "${before[$n]}" ] || fail "$n pinged the watchdog while stopped"
    done
    for n in gate m1 c1 w1; do kill -CONT "$(pid_of "$n")"; done
    for n in gate m1 c1 w1; do
        wait_for 5 eval "[ \$(got $n WATCHDOG=1) -gt ${before[$n]} ]" || fail "$n did not ping again once resumed"
    done
    note "WATCHDOG=1 once a second from each; none for 4.5 s while stopped (SIGSTOP), again after"

    # SIGTERM: STOPPING=1 as each begins to stop, then a clean exit.
    for n in w1 c1 m1 gate; do
        pid=$(pid_of "$n")
        kill -TERM "$pid"
        wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" || fail "$n did not stop within 20 s"
        set +e; wait "$pid"; rc=$?; set -e
        [ "$rc" = 0 ] || fail "$n exited $rc after SIGTERM"
        wait_for 2 sent "$n" 'STOPPING=1' || fail "$n sent no STOPPING=1 at SIGTERM"
        # Its last word: no ping, no other status after it.
        tail -n 1 "$T/notify-$n.txt" | grep -q ' STOPPING=1|STATUS=stopping$' \
            || fail "$n sent more after STOPPING=1: $(tail -n 3 "$T/notify-$n.txt")"
    done
    note "STOPPING=1 at SIGTERM from each, exit status 0"
    MIGRATED=1      # the Master made the schema the Webapp needs below
fi

# 6. No writable and executable memory (MemoryDenyWriteExecute=yes kills a
#    daemon that asks for it): the Webapp (GnuTLS making its pair, libsodium,
#    libmicrohttpd, ZeroMQ, the MariaDB client) and the Coreapp (libcurl)
#    under strace until they serve.
if ! command -v strace >/dev/null; then
    note "SKIP the MemoryDenyWriteExecute check: strace is not installed"
elif [ -z "${MIGRATED:-}" ]; then
    note "SKIP the MemoryDenyWriteExecute check: no Master ran (no python3)"
else
    rm -f "$T/tls/webapp.crt" "$T/tls/webapp.key"
    for n in c1:wacore:coreapp w1:waweb:webapp; do
        IFS=: read -r name prog conf <<< "$n"
        : > "$T/$name-mdwe.log"
        strace -f -qq -o "$T/strace-$name.txt" -e trace=mmap,mprotect,pkey_mprotect,shmat \
            "$IBIN/$prog" -c "$T/$conf.conf" >>"$T/$name-mdwe.log" 2>&1 &
        tracer=$!
        PIDS+=($tracer)
        wait_for 60 grep -q 'ready: ' "$T/$name-mdwe.log" || fail "$prog under strace did not serve"
        sleep 1
        daemon=$(pgrep -P "$tracer" | head -n 1)
        [ -n "$daemon" ] && kill -TERM "$daemon"
        wait_for 20 bash -c "! kill -0 $tracer 2>/dev/null" || fail "$prog under strace did not stop"
        if grep -E 'PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE|protect\([^)]*PROT_EXEC|SHM_EXEC' \
                "$T/strace-$name.txt" > "$T/wx.txt"; then
            head -n 5 "$T/wx.txt" >&2
            fail "$prog maps writable and executable memory: MemoryDenyWriteExecute=yes would kill it"
        fi
    done
    note "the Coreapp and the Webapp make no writable and executable memory (strace)"
fi

# 7. Again over an install, with a config the user changed: it stays, the
#    new sample goes beside it; make uninstall removes everything else.
set_key "$ICONF/master.conf" db_hostname db.example.lan
cp "$ICONF/master.conf" "$T/master-edited.conf"
make -C "$ROOT" --no-print-directory -s install DESTDIR="$DEST" PREFIX="$PREFIX" > "$T/install2.log" 2>&1 \
    || { cat "$T/install2.log" >&2; fail "make install over an install failed"; }
cmp -s "$ICONF/master.conf" "$T/master-edited.conf" || fail "make install overwrote the edited master.conf"
[ -f "$ICONF/master.conf.sample" ] || fail "no master.conf.sample beside the edited master.conf"
grep -q "kept $ICONF/master.conf as it is; the new sample is $ICONF/master.conf.sample" "$T/install2.log" \
    || fail "make install did not say it kept master.conf: $(cat "$T/install2.log")"
make -C "$ROOT" --no-print-directory -s uninstall DESTDIR="$DEST" PREFIX="$PREFIX" > "$T/uninstall.log" 2>&1 \
    || { cat "$T/uninstall.log" >&2; fail "make uninstall failed"; }
left=$(cd "$DEST" && find . -type f)
[ "$left" = "./usr/local/etc/wacluster/master.conf" ] || fail "make uninstall left: $left"
cmp -s "$ICONF/master.conf" "$T/master-edited.conf" || fail "make uninstall changed the edited master.conf"
grep -q "left $ICONF/master.conf" "$T/uninstall.log" || fail "make uninstall did not say it left master.conf"
note "install over an edited config keeps it (sample beside it); uninstall removes all but it"
echo "ok $TEST"
