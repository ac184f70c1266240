# Broadway-C.  `make` builds, `make up`/`make down` run the local stack,
# `make test` installs what it needs and runs every test, `make bench`
# measures.  SANITIZE=1 builds with ASan+UBSan into build-san/.

CC	?= cc
PKGS	 = fcgi jansson libmariadb libcurl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	   -D_FORTIFY_SOURCE=2 -fstack-protector-strong -pthread \
	   -Icommon -Ifcgi -Iworker $(PKG_CFLAGS)
LDLIBS	+= $(PKG_LIBS) -pthread

ifeq ($(SANITIZE),1)
BUILD	?= build-san
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=address,undefined
else
BUILD	?= build
endif

COMMON_SRC	= $(wildcard common/*.c)
# fcgi/: api_*.c only in broadway-fcgi, sse_*.c only in broadway-sse,
# admin_*.c only in broadway-admin; the rest (db, auth, ...) is shared.
FCGI_LIB_SRC	= $(filter-out fcgi/api_% fcgi/sse_% fcgi/admin_%,$(wildcard fcgi/*.c))
API_SRC		= $(wildcard fcgi/api_*.c)
SSE_SRC		= $(wildcard fcgi/sse_*.c)
ADMIN_SRC	= $(wildcard fcgi/admin_*.c)
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
BENCH_BINS = $(BUILD)/bench-floor $(BUILD)/bench-dispatch

.PHONY: all deps test unit integration up down bench demo clean lint
all: $(BINS) $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c $(wildcard common/*.h fcgi/*.h worker/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

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

# A unit test links everything except the programs' main files.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(call obj,$(FCGI_LIB_SRC) $(COMMON_SRC) $(filter-out worker/main.c,$(WORKER_SRC)))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

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

up: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/stack.sh up var

down:
	@scripts/stack.sh down var

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@BUILD=$(BUILD) scripts/bench.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -Icommon -Ifcgi common fcgi worker

clean:
	rm -rf build build-san
