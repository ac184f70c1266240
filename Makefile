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
BENCH_BINS = $(BUILD)/bench-floor $(BUILD)/bench-dispatch

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
$(BUILD)/bench-dispatch: $(call obj,tests/bench/dispatch_bench.c $(COMMON_SRC))
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
	rm -rf build build-san build-tsan

# make install (PREFIX, DESTDIR, ...): dist/install.mk, docs/deploy.md.
include dist/install.mk
