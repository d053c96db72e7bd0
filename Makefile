# Convenience front end; the real build is CMake + ninja.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

# One .PHONY line per group of targets, so parallel work does not collide on one line.
.PHONY: all deps build test test-asan demo clean
.PHONY: demo-ha
.PHONY: bench bench-rollout bench-store
.PHONY: fuzz fuzz-build fuzz-ci soak soak-ci leak-loop ha-faults
.PHONY: console-screenshots
.PHONY: deb deb-check

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Unit tests and end-to-end tests (real wfmd over TLS on loopback).
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMARGO_SANITIZE=ON >/dev/null

# Under ASan, the four longest e2e tests whose code the others already cover there are left
# out to keep CI near its budget (ASAN_EXCLUDE= runs everything): the browser (chromium's
# time), pagination at 300 devices (unit test_server_store_pages), the leak loop and the
# SIGKILL crash loop (unit test_server_desired, e2e test_desired_import), HAProxy's health
# checks, fleet-sim's retries and the replicas' fault test (fleet-sim's load; test_replicas
# runs the replicas' wfmd paths under ASan), the tests' PostgreSQL harness (a shell script:
# no code of ours to instrument; the pg/ store suites still run under ASan), make demo-ha's
# test (scripts/demo's flow and test_replicas' wfmd paths, which run under ASan already), the
# PostgreSQL races across replicas and the outage test (their store paths run under ASan in
# pg/test_server_store_races and pg/test_server_store_pg: races, reconnect, back-off,
# deadlines, a frozen server; pg/e2e/test_replicas runs replicas on PostgreSQL under ASan).
ASAN_EXCLUDE ?= test_console_browser|test_pagination|test_leak_loop|test_desired_crash|test_haproxy|test_fleet_sim_retries|test_ha_faults|test_pgtmp|test_demo_ha|test_pg_races|test_pg_outage
# The e2e scripts' own helpers (json-get, margo-sign: test tools run hundreds of times per
# scenario) come from the plain build: under ASan each run cost ~140 ms of start-up and leak
# check instead of ~12 ms, most of the ASan run's time; their library code runs under ASan
# in the unit tests, and wfmd, margo-agent and wfmctl stay instrumented.
test-asan: deps $(ASAN_BUILD)/build.ninja $(BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ninja -C $(BUILD) tests/json-get tests/margo-sign
	JSON_GET=$(CURDIR)/$(BUILD)/tests/json-get MARGO_SIGN=$(CURDIR)/$(BUILD)/tests/margo-sign \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) \
		$(if $(ASAN_EXCLUDE),-E '$(ASAN_EXCLUDE)')

# The whole flow on one machine, printed step by step.
demo: build
	scripts/demo $(BUILD)

# The same flow through HAProxy in front of 3 wfmd replicas on PostgreSQL (docs/scale-out.md);
# DEMO_HA_ARGS=--keep leaves them running.
demo-ha: build
	scripts/demo-ha $(DEMO_HA_ARGS) $(BUILD)

bench: build
	bench/run $(BUILD)

# Rollouts to DEVICES (10000) fleet-sim devices (bench/FLEET-SIM.md); rewrites the rollout
# section of bench/results.md.
bench-rollout: build
	RESULTS_MD=bench/results.md bench/rollout.sh $(BUILD)

# The desired-state store at scale (bench/desired.sh): STORE_DEVICES (200000) devices
# onboarded, their data dir, RSS, start-up and polls; fan-out and long history.
bench-store: build
	STORE_DEVICES=$${STORE_DEVICES:-200000} PROFILE=1 bench/desired.sh $(BUILD)

# Screenshots of the web console's pages into docs/console/ (taken by the browser test).
console-screenshots: build
	CONSOLE_SCREENSHOTS=docs/console BUILD_DIR=$(abspath $(BUILD)) SRC_DIR=$(CURDIR) \
		bash tests/e2e/test_console_browser.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEB_DIR)

# Debian packages wfmd, wfmctl, margo-agent (debian/) into $(DEB_DIR), checked by lintian.
DEB_DIR ?= build-deb
deb:
	@scripts/install-deps --deb
	scripts/build-deb $(DEB_DIR)

# Builds the packages, installs them on this machine (root), runs the demo flow against the
# installed programs, purges them and checks nothing is left behind (tests/pkg/test_deb.sh).
deb-check: deb build
	bash tests/pkg/test_deb.sh $(DEB_DIR)

# libFuzzer targets (clang, tests/fuzz/fuzz_*.c), each run for FUZZ_SECONDS under ASan+UBSan,
# seeded from tests/fuzz/corpus/ (see docs/development.md). fuzz-ci: the short CI run.
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 10
FUZZ_BUILD ?= build-fuzz
$(FUZZ_BUILD)/build.ninja: | deps
	@command -v clang >/dev/null && dpkg-query -W -f='$${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'ok installed' || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null)
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMARGO_FUZZ=ON -DMARGO_SANITIZE=ON >/dev/null

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$$//')

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-ci: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_CI_SECONDS)

# Three wfmd on one PostgreSQL behind HAProxy, 5000 simulated devices onboarding and polling
# while a replica is killed and PostgreSQL restarted (tests/e2e/test_ha_faults.sh; make test
# runs it with 1000).
ha-faults: build
	BUILD_DIR=$(BUILD) DEVICES=5000 bash tests/e2e/test_ha_faults.sh

# Soak under faults (tests/soak/soak.sh): 200 agents, 30 minutes; soak-ci: 30 agents, 80 s.
soak: build
	BUILD_DIR=$(BUILD) tests/soak/soak.sh

soak-ci: build
	BUILD_DIR=$(BUILD) DURATION=80 AGENTS=30 POLL=3 DEPLOY_EVERY=15 FAULT_EVERY=15 OUTAGE=5 \
		LONG_OUTAGE=15 SAMPLE_EVERY=4 CONVERGE_TIMEOUT=60 tests/soak/soak.sh

# Leak loop (tests/soak/leak-loop.sh): 1,000 onboard/token/git-credentials/revoke iterations.
leak-loop: build
	BUILD_DIR=$(BUILD) tests/soak/leak-loop.sh
