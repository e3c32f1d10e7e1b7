# pqtls: LD_PRELOAD interposer for libpq connections, and its command line.
#
#   make            build/libpqtls.so and build/pqtls
#   make test       the whole suite (unit tests, then integration against a real server)
#   make test-matrix  the suites parametrized over libpq versions, for all of 13 to 18
#   make demo       the rotation story end to end on a throwaway local server
#   make asan       the same suite with the library built under ASan and UBSan
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
OPT     ?= -O2 -g
SAN     ?=
BUILD   ?= build
VERSION := 0.1.0

JAVA_INCLUDE ?= /usr/lib/jvm/default-java/include
PG_INCLUDE := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iinclude -I$(PG_INCLUDE) -D_GNU_SOURCE -DPQTLS_VERSION='"$(VERSION)"' -DPQTLS_LIBDIR='"$(LIBDIR)"'
CFLAGS  += -std=c11 $(OPT) $(WARN) $(SAN)

# The interposer: position independent, everything hidden but the hooks, and no
# link-time dependency beyond the C library (libpq and OpenSSL are bound at run time).
# Whatever the loader does to it runs at every start of every program it is
# preloaded into (bench: /bin/true): no start files (src/lib/dso.c says why),
# hence -z nodelete, and libc imports at glibc's base version (libcver.h).
LIB_CFLAGS  := $(CFLAGS) -fPIC -fvisibility=hidden -pthread -include include/pqtls/libcver.h
LIB_LDFLAGS := -shared -nostartfiles -Wl,-z,nodelete -Wl,-z,defs -Wl,-Bsymbolic-functions \
	-Wl,--as-needed -pthread $(SAN)

COMMON_SRC := $(wildcard src/common/*.c)
LIB_SRC    := $(wildcard src/lib/*.c)
JVM_SRC    := $(wildcard src/jvm/*.c)
CLI_SRC    := $(wildcard src/cli/*.c)

LIB_OBJ    := $(patsubst src/%.c,$(BUILD)/pic/%.o,$(LIB_SRC) $(COMMON_SRC))
CLI_OBJ    := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CLI_SRC) $(COMMON_SRC))

JVM_OBJ    := $(patsubst src/%.c,$(BUILD)/pic/%.o,$(JVM_SRC) $(COMMON_SRC))

LIB := $(BUILD)/libpqtls.so
JVMLIB := $(BUILD)/libpqtls-jvm.so
CLI := $(BUILD)/pqtls

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(HELPER_SRC))

PYTHON  := /usr/bin/python3
TEST_PATHS ?= tests

.PHONY: all lib cli jvm tests test test-matrix unit integration demo asan asan-ci bench install clean deps fuzz fuzz-smoke

all: lib cli jvm

lib: $(LIB)
jvm: $(JVMLIB)
cli: $(CLI)

$(BUILD)/pic/%.o: src/%.c $(wildcard include/pqtls/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) -c -o $@ $<

# The JVM agent is a library of its own, loaded only by JVMs (-agentpath:),
# so libpqtls.so's load budget and its exported names stay what they are.
$(BUILD)/pic/jvm/%.o: src/jvm/%.c $(wildcard include/pqtls/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -isystem $(JAVA_INCLUDE) -isystem $(JAVA_INCLUDE)/linux $(LIB_CFLAGS) -c -o $@ $<

$(JVMLIB): $(JVM_OBJ)
	$(CC) -shared -Wl,-z,defs -Wl,-Bsymbolic-functions -Wl,--as-needed -pthread $(SAN) -o $@ $^

$(BUILD)/obj/%.o: src/%.c $(wildcard include/pqtls/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DPQTLS_CLI -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(CC) $(LIB_LDFLAGS) -o $@ $^

$(CLI): $(CLI_OBJ)
	$(CC) $(SAN) -o $@ $^ -lpq -lssl -lcrypto

# Unit tests link the common modules directly (no preload involved).
$(BUILD)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(patsubst src/%.c,$(BUILD)/obj/%.o,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -DPQTLS_TEST_FIXTURES='"$(CURDIR)/tests/fixtures/rds"' -o $@ $< $(patsubst src/%.c,$(BUILD)/obj/%.o,$(COMMON_SRC)) -lssl -lcrypto

# The JVM agent's bytecode walk has no JNI in it: its unit test includes it.
$(BUILD)/tests/test_jvm_bytecode: src/jvm/jvm_bytecode.c include/pqtls/jvm_bytecode.h

# Small real libpq programs the integration tests drive.
# Some helpers include src/common files directly, so they depend on them too.
$(BUILD)/tests/%: tests/helpers/%.c $(wildcard tests/helpers/*.h) $(COMMON_SRC) $(wildcard include/pqtls/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -pthread -o $@ $< -lpq

# The same helpers built against another libpq (a version of the matrix), for
# tests/lib/embedded.py, which fetches that libpq and passes its directory:
#   make LIBPQ_MAJOR=17 LIBPQ_DIR=/var/cache/.../native/lib build/tests/v17/pqcall
# Debian's headers (15); tests/helpers/libpq17.h declares what 17 and later added.
ifneq ($(LIBPQ_MAJOR),)
$(BUILD)/tests/v$(LIBPQ_MAJOR)/%: tests/helpers/%.c $(wildcard tests/helpers/*.h) $(COMMON_SRC) $(wildcard include/pqtls/*.h)
	@test -f "$(LIBPQ_DIR)/libpq.so.5" || { echo "LIBPQ_DIR must name the directory of libpq.so.5" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -pthread -o $@ $< -L$(LIBPQ_DIR) -lpq -Wl,-rpath,$(LIBPQ_DIR)
endif

tests: all $(UNIT_BIN) $(HELPER_BIN)

deps:
	@bash tests/lib/deps.sh

# The whole suite. Unit tests and integration tests run under one pytest session,
# which closes with the summary line CI reads.
test: deps tests
	PQTLS_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider $(TEST_PATHS) $(PYTEST_ARGS)

# Every libpq of the version matrix (13 to 18; tests/lib/embedded.py fetches them
# from npm on first use into a cache), for the suites parametrized over versions.
MATRIX_TESTS ?= tests
test-matrix: deps tests
	$(PYTHON) tests/lib/embedded.py prepare all
	PQTLS_LIBPQ_VERSIONS=all PQTLS_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider $(MATRIX_TESTS) -m matrix $(PYTEST_ARGS)

unit: tests
	PQTLS_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/unit $(PYTEST_ARGS)

integration: deps tests
	PQTLS_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    PYTEST_ARGS="-rfEs $(PYTEST_ARGS)" test

# What CI runs under the sanitizers: the suites driven by the project's own
# instrumented libpq programs, a part of `make asan` that fits CI's time budget beside
# `make test` (README, "Under the sanitizers"). `make asan` itself runs everything and
# skips, with the reason printed, what cannot run under the sanitizer runtime
# (tests/lib/harness.py: PostgreSQL's own clients hang at exit in p11-kit's destructor
# with libasan preloaded, with or without pqtls; PHP refuses RTLD_DEEPBIND; valgrind).
ASAN_CI_TESTS := tests/unit tests/integration/test_entrypoints.py \
	tests/integration/test_settings_matrix.py tests/integration/test_secrets.py
asan-ci:
	$(MAKE) asan TEST_PATHS="$(ASAN_CI_TESTS)"

# libFuzzer targets (fuzz/fuzz_*.c), built with clang against src/common.
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 10

$(BUILD)/fuzz/%: fuzz/%.c $(COMMON_SRC) $(wildcard include/pqtls/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -DPQTLS_CLI -std=c11 $(FUZZ_FLAGS) -Iinclude -o $@ $< $(COMMON_SRC) \
	    $(wildcard src/cli/report*.c) -lssl -lcrypto -lpq

fuzz: $(FUZZ_BIN)

# A short run of every target over its corpus (CI): FUZZ_SECONDS each.
fuzz-smoke: deps $(FUZZ_BIN)
	@bash fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

demo: deps all
	@bash demo/run.sh

bench: deps all
	@bash bench/run.sh

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libpqtls.so
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/pqtls
	install -m 0755 $(JVMLIB) $(DESTDIR)$(LIBDIR)/libpqtls-jvm.so
	if [ -f doc/pqtls.1 ]; then install -m 0644 doc/pqtls.1 $(DESTDIR)$(MANDIR)/man1/pqtls.1; fi

clean:
	rm -rf build build-asan
