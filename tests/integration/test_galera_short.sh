#!/usr/bin/env bash
# lane: hosts
# The short version of the chaos suite on a three-node MariaDB Galera
# cluster (issue 17; tests/chaos, docs/RELIABILITY.md, make chaos-galera):
# each node on its own network host, each program preferring its own
# database node; the database node the primary Coreapp of shard 0 uses cut
# off into a minority and healed, under load, judged by the independent
# checker (0 overlaps, 0 lost, 0 duplicates, 0 callbacks lost, no
# failover). About a minute and a half; skipped without root, network
# namespaces or Galera (make deps installs it). It brings its own database
# nodes.
command -v mariadb-backup >/dev/null 2>&1 && [ -e /usr/lib/galera/libgalera_smm.so ] \
    || { echo "skip: no Galera here (galera-4, mariadb-backup: make deps)"; exit 0; }
CHAOS_DB=galera exec bash "$(dirname "$0")/../chaos/chaos.sh" --short
