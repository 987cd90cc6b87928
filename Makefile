# wacluster — see README.md. `make run` and `make test` start from a fresh
# Debian 12 machine: they install what is missing, build, and go.

VERSION  := 0.1.0
CC       ?= cc
PKGS     := libczmq libzmq msgpack libmariadb jansson libmicrohttpd libsodium zlib libcurl gnutls libsystemd
CFLAGS_BASE := -std=gnu11 -O2 -g -Iinclude -Ibuild -DWA_VERSION=\"$(VERSION)\" \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wsign-compare -Wformat=2 -Wno-format-nonliteral \
	-Wundef -Wcast-align -fno-common
SAN      ?=
CFLAGS   += $(CFLAGS_BASE) $(SAN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS  += $(SAN)

BUILD    ?= build
BIN      ?= bin
# The product's daemons and tools (src/), and the test and demo programs (tools/).
DAEMONS  := wamaster wacore wagate wactl watap waweb
TOOLS    := waload wacheck wadelay wahook warogue
PROGRAMS := $(DAEMONS) $(TOOLS)

COMMON_SRC := $(wildcard src/common/*.c)
COMMON_OBJ := $(COMMON_SRC:src/common/%.c=$(BUILD)/common/%.o) $(BUILD)/common/migrations.o
LIB      := $(BUILD)/libwa.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MIGRATIONS := $(sort $(wildcard conf/migrations/*.sql))

.SECONDEXPANSION:
.PHONY: all deps run start stop install uninstall stage test test-db-rows unit integration compose-test asan memcheck fuzz fuzz-build bench-failover bench-failover-defaults bench-galera bench-switchover bench-reshard chaos chaos-clean chaos-galera galera-selftest clean distclean help

# Programs the integration tests drive (tests/integration/probes/): not
# unit tests (no test_ prefix), built beside them.
PROBE_SRC := $(wildcard tests/integration/probes/*.c)
PROBE_BIN := $(PROBE_SRC:tests/integration/probes/%.c=$(BUILD)/tests/probe_%)

all: $(PROGRAMS:%=$(BIN)/%) $(UNIT_BIN) $(PROBE_BIN)

help:
	@echo "make run        install what is missing, build, run a local cluster in the foreground"
	@echo "make start      the same in the background; returns once the cluster is healthy"
	@echo "make stop       stop what make start started"
	@echo "make install    the programs, sample configs, systemd units into DESTDIR/PREFIX (/usr/local)"
	@echo "make uninstall  remove what make install put there (not configs you changed)"
	@echo "make test       install, build, run every test (unit + integration, and a short compose test"
	@echo "                when a Docker engine answers, its images made if missing; WA_COMPOSE=0: none)"
	@echo "make compose-test   the compose deployment in containers: faults, upgrade, multi-host (docs/DEPLOY.md)"
	@echo "make test-db-rows   the same with db_bulk = rows: batches as multi-row statements, as on MySQL"
	@echo "make asan       the tests under AddressSanitizer + UBSan"
	@echo "make memcheck   the unit tests under valgrind"
	@echo "make fuzz       the libFuzzer harnesses (tests/fuzz/), FUZZ_SECONDS (20) each, with ASan + UBSan"
	@echo "make bench-failover   time Coreapp failover, DB-based and heartbeat modes (docs/BENCHMARKS.md)"
	@echo "make bench-failover-defaults   the same with every setting at its default (slow)"
	@echo "make bench-switchover 20 planned switchovers under load: the pause a client sees (docs/BENCHMARKS.md)"
	@echo "make bench-reshard    the shard count changed live under load (WA_BENCH_COUNTS): how long, the pause a client sees"
	@echo "make bench-api  POST /v1/messages through the full path, and the bare anchor: 64 and 256 connections, 2 shards (docs/BENCHMARKS.md)"
	@echo "make bench-galera  bench-api, bench-failover on one server and on three Galera nodes, a Galera node's loss under load (root)"
	@echo "make chaos      the multi-host fault-injection suite and a randomized nemesis (docs/RELIABILITY.md; root)"
	@echo "make chaos-clean  remove what an interrupted make chaos left (its namespaces and processes)"
	@echo "make chaos-galera  the chaos suite on a three-node MariaDB Galera cluster (root)"
	@echo "make galera-selftest  the chaos suite's three-node Galera harness (CHAOS_DB=galera) proved alone (root)"
	@echo "make bench-webhooks   inbound messages from wagate through the cluster to a webhook: events/s, latency"

# The one list of packages. Installed only when something is missing.
DEB_PACKAGES := build-essential pkg-config libczmq-dev libzmq3-dev libmsgpack-dev \
	libmariadb-dev libjansson-dev mariadb-server-core mariadb-client-core libcmocka-dev \
	valgrind nftables iproute2 libfaketime procps libmicrohttpd-dev libgnutls28-dev libsodium-dev zlib1g-dev curl openssl wrk jq \
	libcurl4-openssl-dev libsystemd-dev \
	galera-4 mariadb-server mariadb-backup socat
# (The last line: the chaos suite's three-node Galera cluster, CHAOS_DB=galera:
# the provider; the SST scripts, which are in mariadb-server, not -core; the
# SST method, mariabackup, streamed with socat. The suite runs its own mariadbd
# in namespaces; on a host with systemd, installing mariadb-server also starts
# a system MariaDB on 127.0.0.1:3306 that nothing here uses: `systemctl disable
# --now mariadb` stops it for good.)
deps:
	@scripts/deps.sh $(DEB_PACKAGES)

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/common/%.o: src/common/%.c $(wildcard include/*.h) | $(BUILD)/common
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/common/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh | $(BUILD)/common
	scripts/embed-migrations.sh $(MIGRATIONS) > $@

$(BUILD)/common/migrations.o: $(BUILD)/common/migrations.c
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(DAEMONS:%=$(BIN)/%): $(BIN)/%: $$(wildcard src/$$*/*.c) $(LIB) $$(wildcard src/$$*/*.h) | $(BIN)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/$* -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS)

$(TOOLS:%=$(BIN)/%): $(BIN)/%: $$(wildcard tools/$$*/*.c) $(LIB) $$(wildcard tools/$$*/*.h) | $(BIN)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Itools/$* -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/probe_%: tests/integration/probes/%.c $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/test_wamaster_api: tests/unit/test_wamaster_api.c src/wamaster/api.c src/wamaster/api.h \
		src/wamaster/gatelink.c src/wamaster/gatelink.h src/wamaster/account_state.c \
		src/wamaster/account_state.h src/wamaster/appsettings.c src/wamaster/appsettings.h \
		src/wamaster/docstore.c src/wamaster/docstore.h src/wamaster/reshard.c src/wamaster/reshard.h \
		$(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wamaster -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_wagate_account: tests/unit/test_wagate_account.c src/wagate/registration.c src/wagate/registration.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wagate -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/test_watch $(BUILD)/tests/test_promote: $(BUILD)/tests/%: tests/unit/%.c src/wamaster/watch.c src/wamaster/watch.h \
		src/wamaster/promote.c src/wamaster/promote.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wamaster -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The new layout of a change of the shard count, from the old one's rows.
$(BUILD)/tests/test_reshard: tests/unit/test_reshard.c src/wamaster/reshard.c src/wamaster/reshard.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wamaster -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The primary Master's choice of a planned switchover's new holder, on its heartbeat view.
$(BUILD)/tests/test_switchover: tests/unit/test_switchover.c src/wamaster/switchover.c src/wamaster/switchover.h \
		src/wamaster/watch.c src/wamaster/watch.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wamaster -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The retention pass's bookkeeping (its database side links, unused).
$(BUILD)/tests/test_gc: tests/unit/test_gc.c src/wamaster/gc.c src/wamaster/gc.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wamaster -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/test_referee: tests/unit/test_referee.c src/wagate/referee.c src/wagate/referee.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wagate -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/test_watap_format: tests/unit/test_watap_format.c src/watap/format.c src/watap/format.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/watap -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# wactl checks a password it sets with the Webapp's rules.
$(BIN)/wactl: src/waweb/auth.c src/waweb/auth.h

# The pure parts of waweb (no reactor, no HTTP server).
WAWEB_PURE := src/waweb/envelope.c src/waweb/auth.c src/waweb/route.c src/waweb/input.c src/waweb/metrics.c \
	src/waweb/tokencache.c src/waweb/idempotency.c
$(BUILD)/tests/test_waweb_%: tests/unit/test_waweb_%.c $(WAWEB_PURE) $(wildcard src/waweb/*.h) $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/waweb -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The routing to the primary Coreapps through its seams (no database, no cluster).
$(BUILD)/tests/test_waweb_coreapps: src/waweb/coreapps.c
# The certificate HTTPS offers, changed while serving.
$(BUILD)/tests/test_waweb_tlscert: src/waweb/tlscert.c

# The pure parts of waload (no libcurl, no clock).
$(BUILD)/tests/test_waload_%: tests/unit/test_waload_%.c tools/waload/load.c tools/waload/load.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Itools/waload -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The pure parts of the Coreapp's callbacks and of wagate's events.
$(BUILD)/tests/test_callbacks: tests/unit/test_callbacks.c src/wacore/cbqueue.c src/wacore/cbevent.c src/wacore/cbqueue.h src/wacore/cbevent.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wacore -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
# The outbox through its seams (outbox_io_t, outbox_db_t): no database, no upstream.
$(BUILD)/tests/test_outbox: tests/unit/test_outbox.c src/wacore/outbox.c src/wacore/outbox.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wacore -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
# The holder's side of a switchover: the state machine (handover_run, the
# transaction, links unused: the integration tests cover it).
$(BUILD)/tests/test_handover: tests/unit/test_handover.c src/wacore/handover.c src/wacore/handover.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wacore -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
# The upstream session over a real inproc socket, a ROUTER standing in for the gateway.
$(BUILD)/tests/test_session: tests/unit/test_session.c src/wacore/session.c src/wacore/session.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wacore -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_wagate_events: tests/unit/test_wagate_events.c src/wagate/events.c src/wagate/events.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wagate -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_wagate_stickers: tests/unit/test_wagate_stickers.c src/wagate/stickers.c src/wagate/stickers.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wagate -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_wagate_templates: tests/unit/test_wagate_templates.c src/wagate/templates.c src/wagate/templates.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wagate -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The pure parts of the credential defences: log escaping, redaction, the
# webhook signature, the Webapp's client address rules.
$(BUILD)/tests/test_credentials: tests/unit/test_credentials.c src/wacore/webhook.c src/wacore/webhook.h \
		src/waweb/auth.c src/waweb/auth.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/wacore -Isrc/waweb -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# The pure logic of wacheck (no files).
$(BUILD)/tests/test_wacheck_%: tests/unit/test_wacheck_%.c tools/wacheck/check.c tools/wacheck/check.h $(LIB) | $(BUILD)/tests
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Itools/wacheck -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/common $(BUILD)/tests $(BIN):
	mkdir -p $@

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/cluster.sh run

start: deps
	@$(MAKE) --no-print-directory all
	@scripts/cluster.sh start

stop:
	@scripts/cluster.sh stop

test: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-tests.sh all

# Every test with the batch writes a server without MariaDB's array binding
# (MySQL) gets: WA_DB_BULK reaches every program the tests start.
test-db-rows: deps
	@$(MAKE) --no-print-directory all
	@WA_DB_BULK=rows scripts/run-tests.sh all

unit: all
	@scripts/run-tests.sh unit

integration: all
	@scripts/run-tests.sh integration

# The compose deployment in real containers (tests/compose/compose-test.sh):
# make test runs its short part when a Docker engine answers and the base
# images exist (the rest built in the background meanwhile); this, all of it.
compose-test: deps
	@$(MAKE) --no-print-directory all
	@tests/compose/compose-test.sh full

# Sanitized builds go to their own folders so they never mix with the normal one.
asan: deps
	@$(MAKE) --no-print-directory all BUILD=build-asan BIN=build-asan/bin \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	@rm -rf build-asan/reports && mkdir -p build-asan/reports
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(CURDIR)/build-asan/reports/asan \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/build-asan/reports/ubsan \
	    WA_BIN=$(CURDIR)/build-asan/bin WA_TEST_BIN=build-asan/tests WA_SANITIZER_REPORTS=$(CURDIR)/build-asan/reports \
	    scripts/run-tests.sh all

memcheck: deps
	@$(MAKE) --no-print-directory all
	@WA_MEMCHECK=1 scripts/run-tests.sh unit

bench-failover: deps
	@$(MAKE) --no-print-directory all
	@WA_BENCH_MODE=db bench/failover.sh
	@WA_BENCH_MODE=heartbeat bench/failover.sh

bench-switchover: deps
	@$(MAKE) --no-print-directory all
	@bench/switchover.sh

bench-reshard: deps
	@$(MAKE) --no-print-directory all
	@bench/reshard.sh

# The multi-host fault-injection suite (docs/RELIABILITY.md): every scenario,
# then CHAOS_MINUTES (10) of randomized faults with CHAOS_SEED; under 30 min.
chaos: deps
	@$(MAKE) --no-print-directory all
	@tests/chaos/chaos.sh --nemesis $${CHAOS_MINUTES:-10} $${CHAOS_SEED:+--seed $$CHAOS_SEED}

chaos-clean:
	@bash -c '. tests/chaos/topology.sh && topo_clean_stale'

# The chaos suite with the database on a three-node MariaDB Galera cluster
# (issue 17; docs/RELIABILITY.md): a database node killed, cut off into a
# minority, all three restarted in turn, one's clock behind; the usual kills.
chaos-galera: deps
	@$(MAKE) --no-print-directory all
	@CHAOS_DB=galera tests/chaos/chaos.sh

# The Galera harness of the chaos suite (tests/chaos/galera.sh) alone: three
# nodes started, killed, partitioned, clock-stepped, rolling-restarted, each
# step checked and timed (about a minute and a half; root).
galera-selftest: deps
	@tests/chaos/galera-selftest.sh

# bench-api's full path and bench-failover (db, heartbeat) on one MariaDB
# server and on three Galera nodes in the same run, then the outage a Galera
# node's kill -9 causes under load (bench/galera.sh, bench/galera-outage.sh;
# docs/BENCHMARKS.md, The database on Galera; about 5 min; root).
bench-galera: deps
	@$(MAKE) --no-print-directory all
	@bench/galera.sh

# One slower run with every setting at its default (a crash failover takes ~12 s:
# the 10 s shard lease + the 3 s idle timeout; the heartbeat rule needs 30 s).
bench-failover-defaults: deps
	@$(MAKE) --no-print-directory all
	@WA_BENCH_MODE=defaults WA_BENCH_ROUNDS=$${WA_BENCH_ROUNDS:-3} bench/failover.sh

clean:
	rm -rf build build-asan build-fuzz bin

distclean: clean
	scripts/cluster.sh stop >/dev/null 2>&1 || true
	rm -rf run

# --------------------------------------------------------------------------
# make install / make uninstall (docs/OPERATIONS.md, Install on a host): the
# programs into BINDIR; one sample config per role (conf/*.conf) into
# CONFDIR, never over a file already there (the new sample then goes beside
# it as NAME.conf.sample); the systemd units (conf/systemd/*.in, with their
# paths substituted here); the wacluster user (sysusers.d) and its folders
# (tmpfiles.d). PREFIX (/usr/local) and DESTDIR as usual; SYSCONFDIR=/etc
# and PREFIX=/usr for a distribution's layout. The schema's migrations are
# in the binaries. uninstall removes what install put, but for a config
# that differs from its sample (someone's settings): it says so and leaves it.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= $(PREFIX)/etc
CONFDIR    := $(SYSCONFDIR)/wacluster
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SYSUSERS_DIR ?= $(PREFIX)/lib/sysusers.d
TMPFILES_DIR ?= $(PREFIX)/lib/tmpfiles.d
INSTALL_PROGRAMS := wamaster wacore waweb wagate wactl watap
SAMPLE_CONFS := master coreapp webapp wagate wactl
UNITS      := wacluster-master@.service wacluster-coreapp@.service wacluster-webapp@.service wagate.service
STAGE      := $(BUILD)/install
# The units name @bindir@ and @sysconfdir@; the samples name the default
# CONFDIR, /usr/local/etc/wacluster, as a user reads it.
SUBST      := sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@sysconfdir@|$(SYSCONFDIR)|g' \
	-e 's|/usr/local/etc/wacluster|$(CONFDIR)|g'

# What install copies, substituted for these paths (made again at every
# install: a file of another PREFIX must never be installed).
stage:
	@rm -rf $(STAGE) && mkdir -p $(STAGE)
	@for name in $(SAMPLE_CONFS); do $(SUBST) conf/$$name.conf > $(STAGE)/$$name.conf || exit 1; done
	@for unit in $(UNITS); do $(SUBST) conf/systemd/$$unit.in > $(STAGE)/$$unit || exit 1; done
	@$(SUBST) conf/systemd/wacluster.tmpfiles.in > $(STAGE)/wacluster.tmpfiles
	@cp conf/systemd/wacluster.sysusers $(STAGE)/wacluster.sysusers

install: $(INSTALL_PROGRAMS:%=$(BIN)/%) stage
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(SYSTEMD_UNIT_DIR) \
	    $(DESTDIR)$(SYSUSERS_DIR) $(DESTDIR)$(TMPFILES_DIR)
	install -m 0755 $(INSTALL_PROGRAMS:%=$(BIN)/%) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(UNITS:%=$(STAGE)/%) $(DESTDIR)$(SYSTEMD_UNIT_DIR)/
	install -m 0644 $(STAGE)/wacluster.sysusers $(DESTDIR)$(SYSUSERS_DIR)/wacluster.conf
	install -m 0644 $(STAGE)/wacluster.tmpfiles $(DESTDIR)$(TMPFILES_DIR)/wacluster.conf
	@# 0640: filled in, a config holds the database password.
	@for name in $(SAMPLE_CONFS); do \
	    dest=$(DESTDIR)$(CONFDIR)/$$name.conf; \
	    if cmp -s $(STAGE)/$$name.conf "$$dest"; then \
	        echo "kept $$dest: it is this sample already"; \
	    elif [ -e "$$dest" ]; then \
	        install -m 0640 $(STAGE)/$$name.conf "$$dest.sample" || exit 1; \
	        echo "kept $$dest as it is; the new sample is $$dest.sample"; \
	    else \
	        install -m 0640 $(STAGE)/$$name.conf "$$dest" || exit 1; \
	        echo "installed the sample $$dest (its comments say what to fill in)"; \
	    fi; \
	done
	@echo "next, as root: systemd-sysusers; systemd-tmpfiles --create; systemctl daemon-reload;"
	@echo "then docs/OPERATIONS.md, Install on a host (keys, configs, systemctl enable --now ...)"

uninstall: stage
	rm -f $(INSTALL_PROGRAMS:%=$(DESTDIR)$(BINDIR)/%) $(UNITS:%=$(DESTDIR)$(SYSTEMD_UNIT_DIR)/%) \
	    $(DESTDIR)$(SYSUSERS_DIR)/wacluster.conf $(DESTDIR)$(TMPFILES_DIR)/wacluster.conf
	@for name in $(SAMPLE_CONFS); do \
	    dest=$(DESTDIR)$(CONFDIR)/$$name.conf; \
	    rm -f "$$dest.sample"; \
	    if cmp -s $(STAGE)/$$name.conf "$$dest"; then rm -f "$$dest"; \
	    elif [ -e "$$dest" ]; then echo "left $$dest: it differs from the sample (your settings)"; fi; \
	done
	@rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null \
	    || echo "left $(DESTDIR)$(CONFDIR): it holds your files (configs, keys/)"
	@echo "left the wacluster user and /var/lib/wacluster (media, TLS pair): userdel wacluster; rm -r /var/lib/wacluster"

# --------------------------------------------------------------------------
# make bench-api: POST /v1/messages through the full path (waweb -> wacore ->
# outbox -> wagate), then the bare anchor, with wrk (bench/api.sh): at 64
# connections, at 256, and with 2 shards (bench/api-runs.sh). The anchor
# is waweb's HTTP layer plus one API_REQ over a DEALER to a ROUTER echo.
.PHONY: bench-api anchor
ANCHOR := $(BUILD)/bench/wa-anchor
ANCHOR_SRC := bench/anchor/anchor.c src/waweb/http.c src/waweb/tlscert.c src/waweb/envelope.c
anchor: $(ANCHOR)
# Built with everything, so that it never falls behind waweb's HTTP layer.
all: $(ANCHOR)
$(ANCHOR): $(ANCHOR_SRC) src/waweb/http.h src/waweb/envelope.h $(wildcard include/*.h) $(LIB) | $(BUILD)/bench
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc/waweb -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS) $(LDLIBS)
$(BUILD)/bench:
	mkdir -p $@
bench-api: deps
	@$(MAKE) --no-print-directory all $(ANCHOR)
	@WA_ANCHOR=$(CURDIR)/$(ANCHOR) bench/api-runs.sh

# --------------------------------------------------------------------------
# make bench-webhooks: a sustained rate of inbound messages from wagate through
# the primary Coreapp (stored, acknowledged, POSTed) to wahook; events/s and
# emit -> receive latency per rate (bench/webhooks.sh; docs/BENCHMARKS.md).
.PHONY: bench-webhooks
bench-webhooks: deps
	@$(MAKE) --no-print-directory all
	@bench/webhooks.sh

# --------------------------------------------------------------------------
# make fuzz: the libFuzzer harnesses of tests/fuzz/ (one per parser of
# untrusted input), built with clang, ASan and UBSan into build-fuzz/ (never
# mixed with build/), each run FUZZ_SECONDS (20) over a copy of its committed
# seed corpus (tests/fuzz/corpus/<target>/). A crash stops the run with a
# non-zero status and the path of the input, kept under build-fuzz/artifacts/
# (tests/fuzz/run.sh; docs/RELIABILITY.md, Fuzzing). FUZZ_TARGETS="codec
# route" runs some only. clang and its runtimes are installed here only.
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
# clang's -Wcast-align warns on every target, gcc's only where alignment is strict.
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-Wno-cast-align
FUZZ_CFLAGS  := $(CFLAGS_BASE:-Ibuild=-I$(FUZZ_BUILD)/obj) $(FUZZ_SAN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LIB     := $(FUZZ_BUILD)/obj/libwa.a
FUZZ_ALL     := codec http_input http_auth http_route message account config settings cbevent certs \
	account_state providers app_settings idempotency account_blobs
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BINS    := $(FUZZ_ALL:%=$(FUZZ_BUILD)/bin/fuzz_%)
# The product sources a harness needs besides the common library.
FUZZ_SRC_http_input := src/waweb/input.c
FUZZ_SRC_http_auth  := src/waweb/auth.c
FUZZ_SRC_http_route := src/waweb/route.c
FUZZ_SRC_cbevent    := src/wacore/cbevent.c
FUZZ_SRC_app_settings := src/wamaster/appsettings.c
FUZZ_SRC_idempotency := src/waweb/idempotency.c

fuzz-build:
	@scripts/deps.sh $(FUZZ_PACKAGES)
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD)/obj SAN="$(FUZZ_SAN)" $(FUZZ_LIB)
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

$(FUZZ_BUILD)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $$(FUZZ_SRC_$$*) $(FUZZ_LIB) \
		$(wildcard src/waweb/*.h src/wacore/*.h src/wamaster/*.h) | $(FUZZ_BUILD)/bin
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc/waweb -Isrc/wacore -Isrc/wamaster -Itests/fuzz -o $@ \
	    $(filter %.c,$^) $(FUZZ_LIB) $(LDLIBS)

$(FUZZ_BUILD)/bin:
	mkdir -p $@

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh $(FUZZ_TARGETS)
