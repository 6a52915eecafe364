# kapimon — eBPF monitor for the Kubernetes API server.
#
#   make            build ./kapimon (installs missing Debian build packages when run as root)
#   make test       real test binaries (cached) + unit tests (cmocka) + CLI tests + integration tests (root + BPF + testbed)
#   make unit-test-valgrind  the unit tests under valgrind memcheck
#   make demo       bring up the loopback control plane and show kapimon on it
#   make deps       install every Debian package the project needs
#   make fuzz       build the libFuzzer targets (clang, ASan/UBSan) into build/fuzz/
#   make vmlinux    regenerate vmlinux/vmlinux.h from the running kernel's BTF
#   make install    binary, man page, systemd unit, DaemonSet manifest under $(DESTDIR)$(PREFIX) (docs/deploy.md)
#   make V=1        show the commands

SHELL := /bin/bash
V ?= 0
ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := x86
BUILD   := build

VMLINUX_H := vmlinux/vmlinux.h

CFLAGS  ?= -g -O2
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	   -D_GNU_SOURCE -Iinclude -Isrc -I$(BUILD) $(shell pkg-config --cflags capstone 2>/dev/null | sed 's/-D_XOPEN_SOURCE=600//;s/-D_DEFAULT_SOURCE//')
LDLIBS  := -lbpf -ldw -lelf -lz -lcapstone -lncursesw -ltinfo -lm -lpthread

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Wno-unused-function \
	      -Ivmlinux -Iinclude -Ibpf

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# Pure logic: everything under src/ except main.c, src/cli/ and src/capture/ (the only files that include
# BPF skeletons). It is archived in libkapimon.a and linked by the unit tests without root.
ALL_SRCS  := $(shell find src -name '*.c' | sort)
APP_SRCS  := src/main.c $(filter src/capture/% src/cli/%,$(ALL_SRCS))
CORE_SRCS := $(filter-out $(APP_SRCS),$(ALL_SRCS))
CORE_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
APP_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(APP_SRCS))
CORE_LIB  := $(BUILD)/libkapimon.a

TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_HELPERS := $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c))

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

DEPS_STAMP := $(BUILD)/.deps-build

.PHONY: all install deps test unit-test unit-test-valgrind test-binaries cli-test integration-test demo fuzz fuzz-smoke vmlinux clean bench
.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS)

all: kapimon

$(DEPS_STAMP): scripts/deps.sh
	$(Q)./scripts/deps.sh build
	$(Q)mkdir -p $(@D) && touch $@

deps:
	$(Q)./scripts/deps.sh all
	$(Q)mkdir -p $(BUILD) && touch $(DEPS_STAMP) $(DEPS_ALL_STAMP)

# Tests and the demo also need the testbed's packages (etcd, Go, h2load, ...).
DEPS_ALL_STAMP := $(BUILD)/.deps-all
$(DEPS_ALL_STAMP): scripts/deps.sh
	$(Q)if ./scripts/deps.sh all; then mkdir -p $(@D) && touch $@; \
	else echo "deps: testbed packages are missing (not root?): tests that need them say what they skip"; fi

vmlinux:
	$(call msg,GEN,$(VMLINUX_H))
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H).tmp && mv $(VMLINUX_H).tmp $(VMLINUX_H)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/kapimon/*.h) $(VMLINUX_H) | $(DEPS_STAMP)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: src/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Files that include skeletons must wait for them.
$(APP_OBJS): $(SKELS)

$(CORE_LIB): $(CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

kapimon: $(APP_OBJS) $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(APP_OBJS) $(CORE_LIB) $(LDLIBS) -o $@

# test_doctor_floor opens kapimon's real BPF objects through their skeletons (no load, no root).
$(BUILD)/tests/test_doctor_floor: $(SKELS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(CORE_LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(TEST_HELPERS) $(CORE_LIB) -lcmocka $(LDLIBS) -o $@

# The BPF probe's etcd request walk is compiled into its unit test.
$(BUILD)/tests/test_etcd_walk: bpf/etcd_walk.h include/kapimon/events.h
$(BUILD)/tests/test_go_map: bpf/go_map.h bpf/go_read.h bpf/go_abi.h include/kapimon/events.h

# Replay benchmark (tests/bench/replay.c): the userspace pipeline on recorded events, no root needed.
REPLAY_BIN := $(BUILD)/bench/replay
$(REPLAY_BIN): tests/bench/replay.c tests/bench/agg_dump.h $(CORE_LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(CORE_LIB) $(LDLIBS) -o $@
# The aggregations on a varied synthetic stream (tests/bench/agg_synth.c: -o compares two builds).
$(BUILD)/bench/agg_synth: tests/bench/agg_synth.c tests/bench/agg_dump.h $(CORE_LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(CORE_LIB) $(LDLIBS) -o $@

# Every unit test under valgrind memcheck: an uninitialised value, an invalid access or a definite leak
# fails the run (CI runs it; measured: see docs/go-introspection.md, "Valgrind").
VALGRIND ?= valgrind -q --error-exitcode=99 --track-origins=yes --leak-check=full --errors-for-leak-kinds=definite
unit-test-valgrind: $(TEST_BINS) | $(DEPS_ALL_STAMP)
	$(Q)command -v valgrind >/dev/null || { echo "valgrind is not installed (make deps)" >&2; exit 1; }
	$(Q)mkdir -p $(BUILD)/valgrind; fail=(); for t in $(TEST_BINS); do l=$(BUILD)/valgrind/$${t##*/}.log; \
		KAPIMON_UNDER_VALGRIND=1 $(VALGRIND) $$t >$$l 2>&1 || fail+=("$$t (see $$l)"); done; \
	echo "valgrind: $$(( $(words $(TEST_BINS)) - $${#fail[@]} )) of $(words $(TEST_BINS)) unit test programs clean"; \
	[ $${#fail[@]} -eq 0 ] || { printf 'valgrind: failed: %s\n' "$${fail[@]}" >&2; exit 1; }

# Quick loop: the unit tests as they are (tests of absent real binaries are SKIPPED, and listed).
unit-test: $(TEST_BINS) | $(DEPS_ALL_STAMP)
	$(Q)./tests/run-unit.sh $(TEST_BINS)

# The real binaries the tests read (kube-apiserver, etcd, esbuild), cached in /var/cache/kapimon.
test-binaries: | $(DEPS_ALL_STAMP)
	$(Q)./scripts/fetch-test-binaries.sh

integration-test: kapimon | $(DEPS_ALL_STAMP)
	$(Q)./tests/integration/run.sh

# Test tools (tests/tools/*.c): programs the CLI tests drive, linked against the pure-logic library.
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
$(BUILD)/tools/%: tests/tools/%.c $(CORE_LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(CORE_LIB) $(LDLIBS) -o $@

cli-test: kapimon $(TOOL_BINS) $(REPLAY_BIN)
	$(Q)./tests/run-cli.sh

# make test: first the real binaries (cached), then the unit tests, which then must find them (a missing
# one fails; if getting them failed, outside CI, they are skipped and listed), then CLI and integration.
test: kapimon $(TEST_BINS) | $(DEPS_ALL_STAMP)
	$(Q)if ./scripts/fetch-test-binaries.sh; then req=1; \
	elif [ "$${CI:-}" = true ]; then echo "test: getting the real test binaries failed (CI=true)" >&2; exit 1; \
	else req=0; echo "test: some real test binaries are missing (see above): their tests are SKIPPED"; fi; \
	KAPIMON_REQUIRE_REAL_BINARIES=$$req ./tests/run-unit.sh $(TEST_BINS)
	$(Q)$(MAKE) --no-print-directory cli-test
	$(Q)$(MAKE) --no-print-directory integration-test

demo: kapimon | $(DEPS_ALL_STAMP)
	$(Q)./scripts/demo.sh

bench: kapimon $(REPLAY_BIN)
	$(Q)for b in scripts/bench*.sh; do echo "== $$b"; ./$$b || exit 1; done

# libFuzzer targets: the pure-logic sources rebuilt with sanitizers.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	       -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc $(shell pkg-config --cflags capstone 2>/dev/null | sed 's/-D_XOPEN_SOURCE=600//;s/-D_DEFAULT_SOURCE//')
FUZZ_OBJS := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(CORE_SRCS))
.SECONDARY: $(FUZZ_OBJS)
$(BUILD)/fuzz/obj/%.o: src/%.c | $(DEPS_STAMP)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) $(LDLIBS) -o $@
fuzz: $(FUZZ_BINS)

# A short, deterministic run of every fuzz target (fixed seed and run count: a regression check
# that cannot flake, not a fuzzing campaign; run the binaries longer by hand for that).
FUZZ_RUNS ?= 100000
fuzz-smoke: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do echo "== $$f ($(FUZZ_RUNS) runs, seed 1)"; \
		$$f -seed=1 -runs=$(FUZZ_RUNS) -max_len=4096 2>&1 | tail -n 1; \
		[ $${PIPESTATUS[0]} -eq 0 ] || exit 1; done

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, a man page made from its --help
# (scripts/gen-man.sh), the systemd unit (ExecStart pointing at the installed binary) and the DaemonSet
# manifest under share/kapimon. It never enables or starts anything: it prints how to.
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
MANDIR        ?= $(PREFIX)/share/man
DATADIR       ?= $(PREFIX)/share/kapimon
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
install: kapimon
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	$(Q)install -m 0755 kapimon $(DESTDIR)$(BINDIR)/kapimon
	$(Q)./scripts/gen-man.sh ./kapimon > $(BUILD)/kapimon.1 && install -m 0644 $(BUILD)/kapimon.1 $(DESTDIR)$(MANDIR)/man1/kapimon.1
	$(Q)sed 's|@BINDIR@|$(BINDIR)|g' deploy/kapimon-agent.service > $(BUILD)/kapimon-agent.service
	$(Q)install -m 0644 $(BUILD)/kapimon-agent.service $(DESTDIR)$(SYSTEMDUNITDIR)/kapimon-agent.service
	$(Q)install -m 0644 $(BUILD)/kapimon-agent.service deploy/kapimon-agent-daemonset.yaml $(DESTDIR)$(DATADIR)/
	$(Q)echo "installed; nothing was enabled or started. To run the agent as a service:"; \
	echo "  systemctl daemon-reload && systemctl enable --now kapimon-agent   (docs/deploy.md)"

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(BUILD) kapimon

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
