# Makefile for the outbox / CloudEvents command-line tools.
#   make                 build every tool, the library and the test helpers
#   make SANITIZE=1 test build with ASan+UBSan (into build-san/) and test
#   make test            unit tests + bats tests (hermetic, mock Kafka)
#   make demo            wrap -> outbox -> relay -> consume on sample data
#   make demo KAFKA=real the same against a real Kafka broker (Java, Maven)
#   make install         PREFIX=/usr/local DESTDIR= binaries, man, completions
#   make fuzz            libFuzzer targets (clang) into build-fuzz/
.DELETE_ON_ERROR:
.SUFFIXES:

# Quiet rules ("CC file"); `make V=1` prints the full commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
VERSION := 0.1.0

CC      ?= cc
PKGS    := rdkafka sqlite3 libcjson libcurl yaml-0.1
ifeq ($(SANITIZE),1)
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT     ?= -O1 -g
else
BUILD   ?= build
SANFLAGS :=
OPT     ?= -O2 -g
endif
# pkg-config runs when the first compile or link command needs its answer,
# not when this file is read: `make demo` and `make test` install the
# packages first (.ci/deps) and then build in a sub-make, so the flags come
# from the machine as it is after the install. Each query runs once, and a
# package pkg-config cannot find stops the build with its name instead of
# compiling with empty flags (which fails later, at link time, obscurely).
pkg_query = $(shell pkg-config $(1) $(PKGS) 2>/dev/null || echo PKG-CONFIG-FAILED)
pkg_missing = $(shell for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || printf '%s ' $$p; done)
pkg_check = $(if $(filter PKG-CONFIG-FAILED,$(1)),$(error pkg-config cannot find: \
  $(strip $(or $(pkg_missing),$(PKGS))). Run `make deps` (or `sh .ci/deps`) to install \
  them, or set PKG_CONFIG_PATH),$(1))
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg_check,$(call pkg_query,--cflags)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(call pkg_check,$(call pkg_query,--libs)))$(PKG_LIBS)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS  ?=
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' $(OPT) $(WARN) $(SANFLAGS) -Ilib $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)
LIBS    = $(PKG_LIBS) -lm -lpthread

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/liboutbox.a
TOOLS     := $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
TOOL_BINS := $(TOOLS:%=$(BUILD)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
# Fuzz targets also build as plain programs that replay their seed corpus,
# so `make test` exercises them without clang.
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/%-replay)
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

all: $(TOOL_BINS) $(UNIT_BINS) $(HELPER_BINS) $(FUZZ_REPLAY) $(EXAMPLE_BINS)

$(BUILD)/%.o: %.c $(wildcard lib/*.h) Makefile
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/cmd/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/helpers/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

$(BUILD)/tests/%-replay: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/replay.o $(LIB_A) $(LIBS)

$(BUILD)/tests/fuzz/replay.o: tests/fuzz/replay.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Dependencies from Debian's packages, installed only when missing.
deps:
	@sh .ci/deps

# demo and test install what is missing, then build in a sub-make: that
# make reads this file anew, after the install, and builds in parallel
# under -j. (As prerequisites, deps and all would run side by side.)
test:
	@sh .ci/deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/run

test-unit: all
	@BUILD=$(BUILD) sh tests/run unit

# KAFKA=real: the demo against a real broker (tests/kafka/broker.sh)
# instead of the mock.
KAFKA ?= mock
demo:
	@sh .ci/deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) KAFKA=$(KAFKA) sh examples/demo.sh

FUZZ_CC ?= clang
fuzz: $(FUZZ_SRC) $(LIB_SRC)
	@mkdir -p build-fuzz
	for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  $(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Ilib $(PKG_CFLAGS) \
	    -o build-fuzz/$$n $$f $(LIB_SRC) $(PKG_LIBS) -lm -lpthread || exit 1; \
	done

bench: all
	@for b in bench/*.sh; do BUILD=$(BUILD) sh $$b || exit 1; done

install: $(TOOL_BINS)
	for t in $(TOOLS); do install -D -m 0755 $(BUILD)/bin/$$t $(DESTDIR)$(BINDIR)/$$t || exit 1; done
	for m in man/*.1 man/*.5; do [ -e "$$m" ] || continue; \
	  s=$${m##*.}; install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m) || exit 1; done
	for t in $(TOOLS); do \
	  c=completions/bash/$$t; d=$(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	  if [ -e $$c ]; then install -D -m 0644 $$c $$d || exit 1; fi; \
	  c=completions/zsh/_$$t; d=$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; \
	  if [ -e $$c ]; then install -D -m 0644 $$c $$d || exit 1; fi; \
	  c=completions/fish/$$t.fish; d=$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	  if [ -e $$c ]; then install -D -m 0644 $$c $$d || exit 1; fi; \
	done

clean:
	rm -rf build build-san build-fuzz

.PHONY: all deps test test-unit demo fuzz bench install clean

# The real-broker tier: Apache Kafka fetched from Maven Central into a
# cache outside the repo, one KRaft node on loopback (tests/kafka/run).
test-kafka: deps all
	@BUILD=$(BUILD) bash tests/kafka/run

.PHONY: test-kafka

# The chaos tier (tests/chaos/): 50,000 events through the whole pipeline
# under SIGKILLs, lock holds and broker faults, then resource exhaustion and
# hostile input; a few minutes. CHAOS_SEED=N replays a run's fault schedule.
test-chaos:
	@sh .ci/deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/chaos/run

.PHONY: test-chaos

# One run of each tool under valgrind's memcheck: no leak, no invalid
# access (tests/valgrind.sh; .ci/run runs it).
test-valgrind:
	@sh .ci/deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash tests/valgrind.sh

.PHONY: test-valgrind
