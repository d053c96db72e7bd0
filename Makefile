# Convenience front end; the real build is CMake + ninja.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build test test-asan demo bench clean fuzz console-screenshots deb deb-check

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

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The whole flow on one machine, printed step by step.
demo: build
	scripts/demo $(BUILD)

bench: build
	bench/run $(BUILD)

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

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null)
	CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMARGO_FUZZ=ON -DMARGO_SANITIZE=ON >/dev/null
	ninja -C build-fuzz $$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$$//')
	set -e; for f in tests/fuzz/fuzz_*.c; do n=$$(basename $$f .c); \
		mkdir -p build-fuzz/corpus/$$n; \
		build-fuzz/tests/$$n -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/$$n; done
