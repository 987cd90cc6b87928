#!/usr/bin/env bash
# Several nodes started at the same instant against an empty database
# (the original's CREATE DATABASE race): all come up, one schema, no error.
. "$(dirname "$0")/lib.sh"
cluster_init
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
for n in 1 2 3; do start m$n wamaster; done
for n in 1 2 3; do start c$n wacore; done
wait_healthy 30
# Healthy needs one Coreapp serving; the last may still be starting.
six() { [ "$(q "SELECT COUNT(*) FROM nodes WHERE stopped_at IS NULL")" = 6 ]; }
wait_for 20 six || fail "six nodes registered: $(q "SELECT COUNT(*) FROM nodes WHERE stopped_at IS NULL")"
check "schema at the build's version" [ "$("$BIN/wactl" -c "$CONF" schema | grep -c 'up to date')" = 1 ]
check "one lease epoch used" [ "$(lease_epoch)" = 1 ]
check "no ERROR in any node's log" bash -c "! grep -h ' ERROR ' $T/m*.log $T/c*.log"
check "0 overlaps at wagate" overlaps_zero
note "3 Masters and 3 Coreapps started together on an empty database"
