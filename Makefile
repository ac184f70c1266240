# Broadway-C.  `make` builds, `make up`/`make down` run the local stack
# (with one local worker that grades), `make test` installs what it needs
# and runs every test, `make bench` measures.  SANITIZE=1 builds with ASan+UBSan into build-san/, TSAN=1
# with ThreadSanitizer into build-tsan/.

CC	?= cc
PKGS	 = fcgi jansson libmariadb libcurl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	   -D_FORTIFY_SOURCE=2 -fstack-protector-strong -pthread \
	   -Icommon -Ifcgi -Iworker $(PKG_CFLAGS)
# Header dependencies come from the compiler (build/obj/**/*.d).
DEPFLAGS = -MMD -MP
LDLIBS	+= $(PKG_LIBS) -pthread

ifeq ($(SANITIZE),1)
BUILD	?= build-san
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=address,undefined
else ifeq ($(TSAN),1)
BUILD	?= build-tsan
CFLAGS	+= -O1 -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=thread
# A report ends the process with status 66 (a test sees it fail) and
# stays in its log (run-integration.sh counts it).
export TSAN_OPTIONS ?= halt_on_error=1 exitcode=66
else
BUILD	?= build
endif

COMMON_SRC	= $(wildcard common/*.c)
# fcgi/ holds the core the three programs share (db, auth, http, engine,
# env); each program has its own folder.
FCGI_LIB_SRC	= $(wildcard fcgi/*.c)
API_SRC		= $(wildcard fcgi/api/*.c)
SSE_SRC		= $(wildcard fcgi/sse/*.c)
ADMIN_SRC	= $(wildcard fcgi/admin/*.c)
WORKER_SRC	= $(wildcard worker/*.c)
UNIT_SRC	= $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

BINS	= $(BUILD)/broadway-fcgi $(BUILD)/broadway-admin
ifneq ($(SSE_SRC),)
BINS	+= $(BUILD)/broadway-sse
endif
ifneq ($(WORKER_SRC),)
BINS	+= $(BUILD)/broadway-worker
endif
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
WORKER_UNIT_BINS = $(filter $(BUILD)/tests/test_worker_%,$(UNIT_BINS))
BENCH_BINS = $(BUILD)/bench-floor $(BUILD)/bench-dispatch $(BUILD)/bench-load

.PHONY: libs-present all deps test test-worker unit integration up down bench demo clean lint
all: $(BINS) $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c | libs-present
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

# Unit tests also see the private header of the program they test.
$(BUILD)/obj/tests/unit/%.o: CFLAGS += -Itests/unit -Ifcgi/sse

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(BUILD)/broadway-fcgi: $(call obj,$(API_SRC) $(FCGI_LIB_SRC) $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/broadway-sse: $(call obj,$(SSE_SRC) $(FCGI_LIB_SRC) $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/broadway-admin: $(call obj,$(ADMIN_SRC) $(FCGI_LIB_SRC) $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/broadway-worker: $(call obj,$(WORKER_SRC) $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench-floor: $(call obj,tests/bench/floor_fcgi.c $(FCGI_LIB_SRC) $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench-dispatch: $(call obj,tests/bench/dispatch_bench.c tests/bench/simworker.c $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench-load: $(call obj,$(wildcard tests/bench/load_*.c) tests/bench/simworker.c tests/bench/sse_streams.c $(COMMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test links the shared code and the worker without its main;
# a test of one program's pure file names that object below.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(call obj,$(FCGI_LIB_SRC) $(COMMON_SRC) $(filter-out worker/main.c,$(WORKER_SRC)))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_sse_wire: $(call obj,fcgi/sse/wire.c)

# A clear word instead of "mysql.h: No such file" when the -dev packages
# (or pkg-config itself) are missing.
libs-present:
	@pkg-config --exists $(PKGS) 2>/dev/null || { echo "missing build \
	packages (pkg-config $(PKGS)): run scripts/deps.sh as root" >&2; exit 1; }

deps:
	@scripts/deps.sh

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

integration: all
	@BUILD=$(BUILD) scripts/run-integration.sh

# Unit tests, then the integration suite against a fresh stack, then one
# total line summed over both.
test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/test-all.sh $(UNIT_BINS)

# The worker's tests alone: its unit tests, then the integration tests
# whose name says "worker" (worker_e2e, worker_podman, the nudge tests
# with a real worker, a few fake-worker API tests).  CI runs it with
# TSAN=1.
test-worker: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-unit.sh $(WORKER_UNIT_BINS)
	@BUILD=$(BUILD) scripts/run-integration.sh worker

# The stack in var/ plus one local broadway-worker, so a run grades;
# tests/readme/walkthrough.py starts its stack the same way.
up: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) BROADWAY_WORKER=1 scripts/stack.sh up var

down:
	@scripts/stack.sh down var

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
ifeq ($(BENCH_LOAD_ASAN),1)
	@$(MAKE) --no-print-directory SANITIZE=1 BUILD=build-san all build-san/bench-load
endif
	@BUILD=$(BUILD) scripts/bench.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

# cppcheck, then clang-tidy (.clang-tidy: an allow-list, every finding
# an error) over every C file; zero findings or the target fails.
lint:
	@scripts/lint.sh $(COMMON_SRC) $(FCGI_LIB_SRC) $(API_SRC) $(SSE_SRC) \
	    $(ADMIN_SRC) $(WORKER_SRC) $(UNIT_SRC)

clean:
	rm -rf build build-san build-tsan build-fuzz

# make install (PREFIX, DESTDIR, ...): dist/install.mk, docs/deploy.md.
include dist/install.mk

# ---- fuzz: libFuzzer harnesses (tests/fuzz/README.md) ----------------
# `make fuzz` builds each harness with clang and ASan+UBSan into
# build-fuzz/, runs each for FUZZ_SECONDS from its committed corpus, then
# replays the catalogue of bad inputs; it ends with "N passed, N failed".
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 20
FUZZ_BUILD	 = build-fuzz
FUZZ_SAN	 = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS	 = -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
		   -Icommon -Ifcgi -Ifcgi/sse -Iworker -Itests/fuzz $(PKG_CFLAGS)
# Code under test gets coverage instrumentation; harness mains link libFuzzer.
FUZZ_CONFIG_SRC	 = $(wildcard common/*.c) fcgi/env.c
FUZZ_CAPTURE_SRC = worker/capture.c common/buf.c
FUZZ_WIRE_SRC	 = fcgi/sse/wire.c
FUZZ_PROPS_SRC	 = tests/fuzz/check.c tests/fuzz/props_config.c tests/fuzz/props_capture.c
FUZZ_LIBS	:= $(shell pkg-config --libs jansson 2>/dev/null)
FUZZ_BINS	 = $(FUZZ_BUILD)/fuzz-config $(FUZZ_BUILD)/fuzz-capture \
		   $(FUZZ_BUILD)/fuzz-wire $(FUZZ_BUILD)/fuzz-replay
fobj = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))

.PHONY: fuzz fuzz-build
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

fuzz-build: $(FUZZ_BINS)
.PRECIOUS: $(FUZZ_BUILD)/obj/%.o

FUZZ_COV	 = -fsanitize=fuzzer-no-link
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FUZZ_COV) -MMD -MP -c -o $@ $<
# The checkers' own loops would only slow the search and blur coverage.
$(call fobj,$(FUZZ_PROPS_SRC) tests/fuzz/replay.c): FUZZ_COV =

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

FUZZ_LIB = $(call fobj,$(FUZZ_CONFIG_SRC) $(FUZZ_CAPTURE_SRC) $(FUZZ_WIRE_SRC) $(FUZZ_PROPS_SRC))
$(FUZZ_BUILD)/fuzz-%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)
# The replay has its own main: no libFuzzer, the same sanitizers.
$(FUZZ_BUILD)/fuzz-replay: $(FUZZ_BUILD)/obj/tests/fuzz/replay.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(FUZZ_LIBS)
