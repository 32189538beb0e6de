# crisisd: one plain GNU Makefile.  `make` builds, `make check` runs every
# test, `make run` starts a demo daemon; the first build installs missing
# Debian packages through tools/deps (as root) or says what to install:
# what building needs, and for each test target only what it adds.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS = libevent sqlite3 libconfig libsystemd jansson libsodium libevent_openssl openssl \
       libpq
TEST_PKGS = cmocka

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wformat=2 -Wwrite-strings -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ifeq ($(CI),true)
WARN += -Werror
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude -Isipgw \
             $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS)

# Sources shared by crisisd, crisisctl and the tests.
COMMON_SRCS = daemon/log.c daemon/util.c daemon/token.c daemon/config.c \
              daemon/config_value.c daemon/config_tls.c daemon/roster.c \
              daemon/msg.c daemon/store.c \
              daemon/store_roster.c daemon/store_contact.c \
              daemon/store_review.c daemon/store_audit.c \
              daemon/store_stats.c daemon/tally.c \
              daemon/store_followup.c daemon/store_backup.c daemon/store_policy.c \
              daemon/store_checkpoint.c daemon/store_sync.c daemon/store_close.c \
              daemon/db_sqlite.c daemon/store_sqlite.c \
              daemon/lockfile.c \
              daemon/store_password.c daemon/password.c \
              daemon/jsontime.c daemon/review.c \
              daemon/db_pg.c daemon/db_pg_stmt.c daemon/db_pg_sql.c \
              daemon/store_pg.c daemon/store_lease.c

CRISISD_SRCS = daemon/main.c daemon/conn.c daemon/conn_output.c daemon/listen.c daemon/proto.c \
               daemon/session.c daemon/engine.c daemon/engine_ops.c \
               daemon/engine_state.c daemon/route.c daemon/contact.c \
               daemon/clinician.c daemon/notify.c daemon/gaps.c daemon/policy.c \
               daemon/intake.c daemon/tls.c daemon/outbox.c \
               daemon/results.c daemon/heard.c \
               daemon/engine_snapshot.c daemon/engine_settle.c \
               daemon/engine_close.c daemon/engine_call.c daemon/wire.c \
               daemon/engine_due.c daemon/engine_outcome.c \
               daemon/worker.c daemon/http.c daemon/http_auth.c daemon/ha.c \
               daemon/http_bridge.c daemon/http_review.c

CRISISCTL_SRCS = ctl/crisisctl.c ctl/ctl_roster.c ctl/ctl_review.c \
                 ctl/ctl_audit.c ctl/ctl_backup.c ctl/fmt.c ctl/fmt_table.c \
                 ctl/fmt_csv.c ctl/ctl_contact.c ctl/ctl_password.c ctl/ctl_status.c

# crisis-sipgw (sipgw/, issue 14): the SIP gateway beside Kamailio.
SIPGW_SRCS = sipgw/main.c sipgw/gateway.c sipgw/gateway_crisisd.c \
             sipgw/call.c sipgw/evapi.c sipgw/upstream.c sipgw/link.c \
             sipgw/gwmsg.c sipgw/gwconf.c sipgw/netstring.c \
             daemon/log.c daemon/util.c

UNIT_TESTS = test_util test_config test_roster test_msg test_route test_fmt test_store test_conn test_notify \
             test_admit \
             test_checkpoint test_password test_wire test_outbox \
             test_store_sync test_netstring test_gwmsg test_gwconf test_link \
             test_engine test_db_pg_sql test_db_pg

test_util_OBJS   = util log
test_admit_OBJS  = heard intake util log
test_config_OBJS = config config_value config_tls log util
test_roster_OBJS = roster util log
test_msg_OBJS    = msg wire util log
test_route_OBJS  = route
test_password_OBJS = password util log
test_fmt_OBJS    = ../ctl/fmt ../ctl/fmt_table ../ctl/fmt_csv jsontime util log
test_conn_OBJS   = conn conn_output msg wire util log tls
test_notify_OBJS = notify log util
test_outbox_OBJS = outbox wire msg util log
# The store's core on either backend: SQLite's file, PostgreSQL's server.
STORE_CORE_OBJS = store store_sqlite db_sqlite store_checkpoint store_sync \
                  db_pg db_pg_stmt db_pg_sql store_pg store_lease
test_store_OBJS  = $(STORE_CORE_OBJS) store_roster store_contact store_audit \
                   store_review util log token store_password
test_checkpoint_OBJS = $(STORE_CORE_OBJS) store_roster store_contact \
                       store_audit store_review util log token
test_store_sync_OBJS = $(test_checkpoint_OBJS)
test_wire_OBJS   = wire msg util log
test_db_pg_sql_OBJS = db_pg_sql util log
test_db_pg_OBJS  = db_pg db_pg_stmt db_pg_sql store_pg util log
test_netstring_OBJS = ../sipgw/netstring
test_gwmsg_OBJS  = ../sipgw/gwmsg ../sipgw/gwconf util log
test_gwconf_OBJS = ../sipgw/gwconf util log
test_link_OBJS   = ../sipgw/link util log
# The real engine, session, outbox and results; a fake store and fake
# connections beneath (tests/unit/fake_*.c), driven by engine_rig.c.
ENGINE_OBJS      = engine engine_ops engine_state engine_settle \
                   engine_snapshot engine_due engine_outcome engine_close \
                   engine_call route contact clinician policy heard intake \
                   results session outbox gaps wire roster msg config \
                   config_value config_tls util log
ENGINE_FAKE_OBJS = fake_store fake_store_contact fake_conn engine_rig
test_engine_OBJS = $(ENGINE_OBJS) \
                   $(addprefix ../tests/,$(ENGINE_FAKE_OBJS) engine_steps)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
COMMON_OBJS    = $(call obj,$(COMMON_SRCS))
CRISISD_OBJS   = $(call obj,$(CRISISD_SRCS))
CRISISCTL_OBJS = $(call obj,$(CRISISCTL_SRCS))
SIPGW_OBJS     = $(call obj,$(SIPGW_SRCS))

# Where the two programs go: the top of the tree, or the build folder of a
# sanitizer build (whose tests are pointed at it).
BINDIR ?= .
CRISISD_OUT   = $(BINDIR)/crisisd
CRISISCTL_OUT = $(BINDIR)/crisisctl
SIPGW_OUT     = $(BINDIR)/crisis-sipgw

all: $(CRISISD_OUT) $(CRISISCTL_OUT) $(SIPGW_OUT)

# The package flags are found once, after tools/deps made sure they exist:
# the build's in pkg.mk, and the unit tests' (cmocka) in test.mk, read only
# when a goal builds tests, so a plain `make` needs only the build's.
ifeq ($(filter clean format deps,$(MAKECMDGOALS)),)
-include $(BUILD)/pkg.mk
endif
ifneq ($(filter unit check check-pg-unit $(BUILD)/tests/%,$(MAKECMDGOALS)),)
-include $(BUILD)/test.mk
endif

$(BUILD)/pkg.mk: tools/deps
	@mkdir -p $(BUILD)
	@tools/deps build
	@printf 'PKG_CFLAGS = %s\nPKG_LIBS = %s\n' \
	  "$$(pkg-config --cflags $(PKGS))" \
	  "$$(pkg-config --libs $(PKGS)) -lm" > $@

$(BUILD)/test.mk: tools/deps
	@mkdir -p $(BUILD)
	@tools/deps check
	@printf 'TEST_LIBS = %s\n' "$$(pkg-config --libs $(TEST_PKGS))" > $@

# What the other targets need beyond the build (tools/deps says which).
deps-run deps-check deps-valgrind deps-fuzz deps-lint deps-sip:
	@tools/deps $(@:deps-%=%)

deps:
	@tools/deps all

$(CRISISD_OUT): $(CRISISD_OBJS) $(COMMON_OBJS) $(BUILD)/web_assets.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) -pthread

# The web console's files (web/), built into crisisd by tools/embed: the
# daemon reads no file to serve them.  The tool runs at build time only,
# so it is built plainly, without the sanitizers' CFLAGS.
WEB_FILES = $(sort $(shell find web -type f \( -name '*.html' -o \
              -name '*.css' -o -name '*.js' -o -name '*.svg' -o \
              -name '*.png' -o -name '*.ico' \) 2>/dev/null))
EMBED = $(BUILD)/tools/embed

$(EMBED): tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -o $@ $<

$(BUILD)/web_assets.c: $(EMBED) $(WEB_FILES)
	$(EMBED) $@ web $(WEB_FILES)

$(BUILD)/web_assets.o: $(BUILD)/web_assets.c $(BUILD)/pkg.mk
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CRISISCTL_OUT): $(CRISISCTL_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(SIPGW_OUT): $(SIPGW_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/%.o: %.c $(BUILD)/pkg.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/unit/%.c $(BUILD)/pkg.mk $(BUILD)/test.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Objects are named from daemon/; "../ctl/fmt" is $(BUILD)/ctl/fmt.o, the
# same target crisisctl links (two names for one file race under -j).
.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o \
    $$(subst /daemon/../,/,$$(addprefix $(BUILD)/daemon/, \
      $$(addsuffix .o,$$(test_$$*_OBJS))))
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

unit: $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

# Keep the test objects: make would delete them as intermediates, and say so
# after the suite's summary line.
.PRECIOUS: $(BUILD)/tests/%.o

# The benchmark of issue 4: crisisd as deployed against the load generator,
# beside an echo server and raw SQLite baselines, and issue 11's surge and
# backlog and issue 13's web console streams
# (bench/run, ~15 minutes; bench/run --quick: surge and backlog, < 1 min).
BENCH_BINS = $(addprefix $(BUILD)/bench/,loadgen echo sqlite_rate)
$(BUILD)/bench/loadgen: $(addprefix $(BUILD)/bench/,loadgen.o loadgen_proto.o \
    loadgen_report.o)
$(BUILD)/bench/echo: $(BUILD)/bench/echo.o
$(BUILD)/bench/sqlite_rate: $(BUILD)/bench/sqlite_rate.o
$(BENCH_BINS):
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) -pthread

bench: all $(BENCH_BINS) deps-run
	@bench/run --build $(BUILD)

.PHONY: bench

# Issue 14's SIP benchmark: post-dial delay at 1 and 20 calls/s and SIPp's
# maximum sustained rate through Kamailio, crisis-sipgw and crisisd.
bench-sip: all deps-sip
	@bench/sip

.PHONY: bench-sip

# The PostgreSQL backend and the store's PostgreSQL parts against a real
# server (issue 15): tests/pg/pgserver starts a throwaway one on a Unix
# socket in a temporary directory, stopped however the test ends.
check-pg-unit: $(BUILD)/tests/test_db_pg
	@tools/deps check
	@dir=$$(mktemp -d /tmp/crisisd-pg.XXXXXX) && \
	  trap 'tests/pg/pgserver stop '"$$dir"' >/dev/null 2>&1; \
	    rm -rf '"$$dir" EXIT && \
	  tests/pg/pgserver start "$$dir" >/dev/null && \
	  tests/pg/pgserver createdb "$$dir" crisisd_test && \
	  CRISISD_PG_URI="postgresql:///crisisd_test?host=$$dir&user=crisisd" \
	    $(BUILD)/tests/test_db_pg

# Every test: unit tests (cmocka), then the end-to-end suite against the
# real binaries (the browser tests among them), once on SQLite and once on
# a throwaway PostgreSQL server (issue 15).  The last line is the summary.
check: all unit
	@tests/run-all $(BUILD)/tests $(UNIT_TESTS)

# The end-to-end suite on PostgreSQL alone.
check-pg: all deps-check $(BROWSER_MODULES)
	@E2E_STORES=postgresql tests/run-all $(BUILD)/tests

# The browser tests' Node modules (tests/browser: puppeteer-core and
# axe-core at the versions package-lock.json pins), installed by npm ci
# when the lock file changes.  Debian's chromium is driven, so puppeteer
# downloads no browser of its own.
BROWSER_MODULES = tests/browser/node_modules/.package-lock.json
$(BROWSER_MODULES): tests/browser/package.json tests/browser/package-lock.json
	@tools/deps browser
	cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit \
	  --no-fund --loglevel=error
	@touch $@

browser-deps: $(BROWSER_MODULES)
check: $(BROWSER_MODULES)
valgrind: $(BROWSER_MODULES)

# The README's screenshots of the console (docs/screenshots/), taken by
# the browser tests as they run.
screenshots: all $(BROWSER_MODULES)
	CONSOLE_README_SHOTS=$(CURDIR)/docs/screenshots \
	  python3 tests/e2e/run.py test_browser

# The LD_PRELOAD shim of the e2e store-failure tests (tests/faults/faultfs.c):
# it makes the database's writes fail on demand.  Built without CFLAGS, so
# without the sanitizers a preloaded library cannot carry; the suites below
# build it first and tell the harness where it is.
FAULTFS = $(BUILD)/tests/faultfs.so
$(FAULTFS): tests/faults/faultfs.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -shared -fPIC -o $@ $< -ldl

faultfs: $(FAULTFS)
check: $(FAULTFS)
check: export CRISISD_FAULTFS = $(CURDIR)/$(FAULTFS)
valgrind: $(FAULTFS)
valgrind: export CRISISD_FAULTFS = $(CURDIR)/$(FAULTFS)

.PHONY: faultfs

# Real SIP calls (issue 14): Kamailio, crisis-sipgw, crisisd and baresip
# phones on loopback, then SIPp's load; tools/deps sip installs them.
check-sip: all deps-sip
	@python3 tests/sip/run.py

# SIGKILL crisisd 1000 times under a load of 10000 contacts; nothing may be
# lost, duplicated or assigned twice (a short run is part of `make check`).
crashtest: all deps-run
	python3 tests/crash/crashtest.py --contacts 10000 --kills 1000

# A demo daemon on 127.0.0.1:7410 with a sample roster (see README).
run: all deps-run
	@tools/demo-setup $(BUILD)/demo
	$(CRISISD_OUT) -c $(BUILD)/demo/crisisd.conf

# AddressSanitizer + UBSan build of everything, then the whole suite.
# The binaries and tests live in build-asan/, so the normal build is untouched.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
asan:
	CRISISD_BIN=$(CURDIR)/build-asan/crisisd \
	CRISISCTL_BIN=$(CURDIR)/build-asan/crisisctl \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) BUILD=build-asan BINDIR=build-asan CFLAGS="$(ASAN_FLAGS)" \
	  LDFLAGS="-fsanitize=address,undefined" check

# The end-to-end suite with crisisd under valgrind memcheck: no errors and
# no definite leaks, or the daemon's exit code fails the test.
valgrind: all deps-valgrind
	CRISISD_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
	  python3 tests/e2e/run.py

# Static checks: cppcheck (told where the list and hash macros live, which
# it cannot find alone) and clang-tidy.
LINT_SRCS = $(COMMON_SRCS) $(CRISISD_SRCS) $(CRISISCTL_SRCS)
lint: $(BUILD)/pkg.mk deps-lint
	cppcheck --quiet --error-exitcode=1 --std=c11 -Iinclude -D__GNUC__ \
	  --enable=warning,performance,portability \
	  --include=/usr/include/x86_64-linux-gnu/sys/queue.h \
	  --include=/usr/include/uthash.h --include=/usr/include/jansson.h \
	  --suppress=missingIncludeSystem \
	  --suppress=ctunullpointer:ctl/fmt.c $(LINT_SRCS)
	clang-tidy --quiet $(LINT_SRCS) -- -std=c11 -D_GNU_SOURCE -Iinclude \
	  $(PKG_CFLAGS) 2>/dev/null

# The fuzz targets of issue 6 (clang's libFuzzer, fuzz/): `make fuzz` builds
# them under build-fuzz/ and runs each for FUZZ_SECONDS with its seed corpus
# and dictionary, printing executions, executions per second and coverage;
# `make fuzz-smoke` runs each for 10 seconds.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD    = build-fuzz
FUZZ_TARGETS  = fuzz_msg fuzz_config fuzz_csv fuzz_route fuzz_engine
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g -fno-omit-frame-pointer \
                -Iinclude $(PKG_CFLAGS) -MMD -MP $(FUZZ_SAN)
fuzz_msg_OBJS    = daemon/msg daemon/wire daemon/util daemon/log
fuzz_config_OBJS = daemon/config daemon/config_value daemon/config_tls \
                   daemon/util daemon/log
fuzz_csv_OBJS    = ctl/fmt ctl/fmt_table ctl/fmt_csv daemon/jsontime daemon/util daemon/log
fuzz_route_OBJS  = daemon/route fuzz/fuzz_route_check
# The real engine on the unit test's fake store and connections.
fuzz_engine_OBJS = $(addprefix daemon/,$(ENGINE_OBJS)) \
                   $(addprefix tests/unit/,$(ENGINE_FAKE_OBJS)) \
                   fuzz/fuzz_engine_check
# conf_load opens the files a config names: fuzz_config fences open().
fuzz_config_LDFLAGS = -Wl,--wrap=open
FUZZ_BINS = $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/%.o: %.c $(BUILD)/pkg.mk | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o \
    $$(addprefix $(FUZZ_BUILD)/,$$(addsuffix .o,$$(fuzz_$$*_OBJS)))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ \
	  $(fuzz_$*_LDFLAGS) $(PKG_LIBS)

# Keep the objects: make would delete them as intermediate files.
.PRECIOUS: $(FUZZ_BUILD)/%.o

fuzz: $(FUZZ_BINS)
	@fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BINS)
	@fuzz/run $(FUZZ_BUILD) 10 $(FUZZ_TARGETS)

.PHONY: fuzz fuzz-smoke

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

format:
	clang-format -i daemon/*.c ctl/*.c include/*.h tests/unit/*.c \
	  sipgw/*.c sipgw/*.h

# Programs, man pages, systemd units, the sysusers.d entry, and the sample
# config unless one is there already (it is never overwritten).  The unit's
# ExecStart follows PREFIX.
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)/etc/crisisd
	install -m 0755 $(CRISISD_OUT) $(DESTDIR)$(PREFIX)/sbin/crisisd
	install -m 0755 $(CRISISCTL_OUT) $(DESTDIR)$(PREFIX)/bin/crisisctl
	install -m 0755 $(SIPGW_OUT) $(DESTDIR)$(PREFIX)/bin/crisis-sipgw
	install -d $(DESTDIR)$(PREFIX)/share/crisisd
	install -m 0644 sipgw/kamailio.cfg conf/crisis-sipgw.conf \
	  $(DESTDIR)$(PREFIX)/share/crisisd/
	sed 's|/usr/bin/crisis-sipgw|$(PREFIX)/bin/crisis-sipgw|' \
	  systemd/crisis-sipgw.service > $(BUILD)/crisis-sipgw.service
	install -m 0644 $(BUILD)/crisis-sipgw.service \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 man/crisisd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/crisisd-protocol.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 0644 man/crisisd.8 man/crisisctl.8 man/crisis-sipgw.8 \
	  $(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's|/usr/sbin/crisisd|$(PREFIX)/sbin/crisisd|' systemd/crisisd.service \
	  > $(BUILD)/crisisd.service
	install -m 0644 $(BUILD)/crisisd.service systemd/crisisd.socket \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 systemd/crisisd.sysusers \
	  $(DESTDIR)$(PREFIX)/lib/sysusers.d/crisisd.conf
	@if [ -e $(DESTDIR)/etc/crisisd/crisisd.conf ]; then \
	  echo "install: keeping $(DESTDIR)/etc/crisisd/crisisd.conf"; \
	else \
	  echo "install -m 0640 conf/crisisd.conf $(DESTDIR)/etc/crisisd/crisisd.conf"; \
	  install -m 0640 conf/crisisd.conf $(DESTDIR)/etc/crisisd/crisisd.conf; \
	fi

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD) crisisd crisisctl crisis-sipgw

.PHONY: all deps deps-run deps-check deps-valgrind deps-fuzz deps-lint deps-sip unit check \
        check-pg check-pg-unit check-sip \
        crashtest run asan valgrind lint format install clean browser-deps \
        screenshots

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
