# berth: a thin wrapper around CMake + Ninja + ccache. Binaries land in build/bin/.
#
#   make / make build   configure (once) and build
#   make deps           install the Debian packages (scripts/install-deps.sh; no-op when present)
#   make test           build, run ctest (unit + root-only integration), replay the fuzz corpora
#   make fuzz           fuzz every target for FUZZ_SECONDS (default 60) each
#   make demo           run a busybox container with berth-runtime, then pull a busybox image
#                       from a local registry with berth-image and run it (root)
#   make bench          bench/runtime.sh: berth-runtime vs runc vs crun vs the kernel floor (root)
#   make bench-pull     bench/pull.sh: cold image pull, berth vs docker vs podman (root)
#   make bench-engine   bench/engine.sh: run --rm through berthd vs dockerd vs podman (root)
#   make install        binaries to $(PREFIX)/bin
#   make format         clang-format -i on src cmd tests
#   make clean          remove build dirs
#
# Variables: BUILD_DIR, BUILD_TYPE, RUNTIME (for `make demo`, e.g. RUNTIME=runc), PREFIX,
# CTEST_ARGS, FUZZ_SECONDS.

SHELL := /bin/bash
.DEFAULT_GOAL := build

BUILD_DIR ?= build
FUZZ_BUILD_DIR ?= build-fuzz
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
DEFAULT_RUNTIME := $(BUILD_DIR)/bin/berth-runtime
RUNTIME ?= $(DEFAULT_RUNTIME)
CTEST_ARGS ?=
FUZZ_SECONDS ?= 60
CMAKE_ARGS ?=

export FUZZ_BUILD_DIR FUZZ_SECONDS

.PHONY: all build deps configure test unit-test fuzz-replay fuzz demo install bench bench-pull bench-engine clean format

all: build

deps:
	@scripts/install-deps.sh

# Configure once; afterwards ninja re-runs cmake by itself when a CMakeLists.txt changes.
$(BUILD_DIR)/build.ninja:
	@if [[ -f $(BUILD_DIR)/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$$' $(BUILD_DIR)/CMakeCache.txt; then \
	  echo "$(BUILD_DIR)/ was configured with another generator; run \`make clean\` first" >&2; exit 1; fi
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

# Both halves run even when the first fails; the target fails if either did.
test: build
	@status=0; \
	ctest --test-dir $(BUILD_DIR) --output-on-failure $(CTEST_ARGS) || status=1; \
	scripts/fuzz.sh replay || status=1; \
	exit $$status

unit-test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure $(CTEST_ARGS)

fuzz-replay: deps
	scripts/fuzz.sh replay

fuzz: deps
	scripts/fuzz.sh run

# `make demo RUNTIME=runc` skips the berth build.
demo: deps $(if $(filter $(DEFAULT_RUNTIME),$(RUNTIME)),build)
	RUNTIME=$(RUNTIME) scripts/demo.sh

bench: build
	bench/runtime.sh

bench-pull: build
	bench/pull.sh

bench-engine: build
	bench/engine.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	@for b in berth berthd berth-shim berth-runtime berth-image; do \
	  if [[ -f $(BUILD_DIR)/bin/$$b ]]; then \
	    echo "install -m 0755 $(BUILD_DIR)/bin/$$b $(DESTDIR)$(PREFIX)/bin/$$b"; \
	    install -m 0755 $(BUILD_DIR)/bin/$$b $(DESTDIR)$(PREFIX)/bin/$$b || exit 1; \
	  fi; done

format:
	find src cmd tests \( -name '*.cc' -o -name '*.h' \) -print0 | xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR)
