#!/usr/bin/env bash
# lane: hosts
# The short version of the multi-host fault-injection suite (tests/chaos,
# docs/RELIABILITY.md): every node on its own network host, seven scenarios
# (kill -9 of the primary Coreapp; kill -9 and restart of the primary
# Master; SIGSTOP of the primary Master past its lease; the primary Coreapp
# cut off from every Master; a MariaDB restart; wall-clock steps; settings
# churn), each judged by the independent checker. About two minutes;
# skipped without root or network namespaces. It brings its own MariaDB (in
# its database host), not the runner's.
exec bash "$(dirname "$0")/../chaos/chaos.sh" --short
