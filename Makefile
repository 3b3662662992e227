# tcpmon - top-level Makefile.  Each tool directory has a module.mk that adds
# its program, sources, libraries, man pages and Debian packages; this file
# holds the rules once.  `make SAN=1` builds with ASan+UBSan into build/san.

CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Icommon -D_GNU_SOURCE -MMD -MP
PREFIX	?= /usr/local
# Where `make install` puts things (each may be set on its own; the Debian
# package sets SYSTEMDUNITDIR=/lib/systemd/system).
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# The version, said once in common/util.h; debian/changelog must agree
# (`make deb` checks).
VERSION	:= $(shell sed -n 's/^\#define TCPMON_VERSION "\(.*\)"/\1/p' common/util.h)

ifeq ($(SAN),1)
VARIANT	 = san
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
LDFLAGS	+= -fsanitize=address,undefined
BIN	 = build/san/bin
else
VARIANT	 = rel
BIN	 = bin
endif
# Objects of each compiler apart: a clang build never leaves objects that a
# gcc build links.  valgrind 3.19 reads DWARF 4, not clang 14's default 5.
COMPILER := $(notdir $(firstword $(CC)))
OBJ	 = build/$(VARIANT)-$(COMPILER)/obj
ifneq ($(findstring clang,$(COMPILER)),)
CFLAGS	+= -gdwarf-4
endif

.DEFAULT_GOAL := all
PROGS	:=
MAN	:= man/tcpmon-record.5
UNITS	:=
# Debian packages, one list per use, so that each target asks for only
# what it needs: DEB_BUILD to compile (`make` itself installs nothing),
# DEB_DEMO for `make demo`, DEB_TEST for `make test` and the soak,
# DEB_BENCH for `make bench`, DEB_FUZZ for the libFuzzer targets.  Each
# module.mk adds its own; DEB_PACKAGES, all of them, is what CI needs.
DEB_BUILD := make gcc libc6-dev pkg-config zlib1g-dev
DEB_DEMO := curl
DEB_TEST := python3 curl socat bats bats-assert bats-support valgrind time \
	mandoc
# tests/98-readme-tour.bats types the README's tour: what it names, and ss.
DEB_TEST += less iproute2 tcpdump tshark chromium
DEB_BENCH := python3 time
DEB_FUZZ := clang libclang-rt-14-dev
# DEB_DEB for `make deb` (dist/module.mk).
DEB_DEB :=

include common/module.mk
include $(sort $(filter-out common/module.mk,$(wildcard */module.mk)))

# $(call prog,NAME): the link rule for one tool from NAME_SRCS, NAME_ARCHIVES
# (libraries of this tree that it links besides libtcpmon.a, such as
# libtcpmon-fmt.a: prerequisites, so that a change in one relinks the tool)
# and NAME_LIBS (the system's, -lNAME).
define prog
$(BIN)/$(1): $$(patsubst %.c,$(OBJ)/%.o,$$($(1)_SRCS)) \
	$$(addprefix $(OBJ)/,$$($(1)_ARCHIVES)) $(OBJ)/libtcpmon.a
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$($(1)_LIBS) $(COMMON_LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog,$(p))))

# Unit tests: tests/unit/NAME.c, each linked with the library.
define unit
$(BIN)/unit/$(1): $(OBJ)/tests/unit/$(1).o $(OBJ)/libtcpmon.a
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$($(1)_LIBS) $(COMMON_LIBS)
endef
UNITS += $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/*.c))
$(foreach u,$(UNITS),$(eval $(call unit,$(u))))

# Shell completions, made from each built tool's own option table
# (TOOL --list-options) and words of its --help: dist/completion/gen.sh.
COMPDIR	 = build/$(VARIANT)/completion
COMPLETIONS = $(addprefix $(COMPDIR)/bash/,$(PROGS)) \
	$(addprefix $(COMPDIR)/zsh/_,$(PROGS))
$(COMPDIR)/bash/%: $(BIN)/% dist/completion/gen.sh
	@mkdir -p $(COMPDIR)/bash $(COMPDIR)/zsh
	dist/completion/gen.sh $< $@ $(COMPDIR)/zsh/_$*
$(COMPDIR)/zsh/_%: $(COMPDIR)/bash/%
	@test -f $@ && touch $@
completions: $(COMPLETIONS)

# The systemd units (dist/systemd/), the service's ExecStart pointing at
# BINDIR.
UNIT_FILES := tcpmon-relay@.service tcpmon-relay@.socket

all: $(addprefix $(BIN)/,$(PROGS)) $(addprefix $(BIN)/unit/,$(UNITS)) \
	$(COMPLETIONS)

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $($(notdir $(*D))_CFLAGS) -c -o $@ $<

$(OBJ)/libtcpmon.a: $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^

DEB_PACKAGES = $(sort $(DEB_BUILD) $(DEB_DEMO) $(DEB_TEST) $(DEB_BENCH) \
	$(DEB_FUZZ) $(DEB_DEB))

# $(call deb_install,PACKAGES): installs whichever are missing, which needs
# root; without root it names them and stops.
define deb_install
	@missing=""; for p in $(sort $(1)); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make: missing Debian packages:$$missing" >&2; \
	    echo "make: as root: apt-get install$$missing" >&2; exit 1; \
	  fi; \
	  echo "make $@: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing \
	    >/dev/null || { echo "make $@: apt-get failed" >&2; exit 1; }; \
	fi
endef

# `make deps`: every list (CI: .ci/run); deps-X: building and X.
deps:
	$(call deb_install,$(DEB_PACKAGES))
deps-build:
	$(call deb_install,$(DEB_BUILD))
deps-demo:
	$(call deb_install,$(DEB_BUILD) $(DEB_DEMO))
deps-test:
	$(call deb_install,$(DEB_BUILD) $(DEB_TEST))
deps-bench:
	$(call deb_install,$(DEB_BUILD) $(DEB_BENCH))
deps-fuzz:
	$(call deb_install,$(DEB_BUILD) $(DEB_FUZZ))
# Prints the lists, one per line: `make deps-list | grep ^build:`.
deps-list:
	@echo "build: $(sort $(DEB_BUILD))"
	@echo "demo: $(sort $(DEB_DEMO))"
	@echo "test: $(sort $(DEB_TEST))"
	@echo "bench: $(sort $(DEB_BENCH))"
	@echo "fuzz: $(sort $(DEB_FUZZ))"
	@echo "deb: $(sort $(DEB_DEB))"

test: deps-test
	@$(MAKE) --no-print-directory all
	@TCPMON_BIN=$(CURDIR)/$(BIN) tests/run $(TESTS)

demo: deps-demo
	@$(MAKE) --no-print-directory all
	@TCPMON_BIN=$(CURDIR)/$(BIN) demo/demo.sh

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@for b in bench/*.sh; do TCPMON_BIN=$(CURDIR)/$(BIN) bash $$b || exit 1; done

# libFuzzer targets (clang): tests/fuzz/fuzz_NAME.c, linked with the
# library's sources; NAME_SRCS/NAME_LIBS add what a target needs.  `make fuzz`
# runs each for FUZZ_SECONDS from its seed corpus; `make fuzz-regress` runs
# every seed and every saved crash once.
FUZZERS	:= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	     -fno-sanitize-recover=all
.SECONDEXPANSION:
build/fuzz/%: tests/fuzz/%.c $(COMMON_SRCS) $(wildcard common/*.h */*.h) $$($$*_SRCS)
	@mkdir -p $(@D)
	clang -Icommon -D_GNU_SOURCE $(FUZZ_FLAGS) $(WARN) -o $@ $< \
	    $(COMMON_SRCS) $($*_SRCS) $($*_CFLAGS) $($*_LIBS) -lz

fuzz-build: deps-fuzz
	@$(MAKE) --no-print-directory $(addprefix build/fuzz/,$(FUZZERS))

# Two fuzzers at a time by default, one a core: CI's time is bounded.
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
fuzz: fuzz-build
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) $(addprefix fuzz-run/,$(FUZZERS))

fuzz-run/%:
	@mkdir -p build/fuzz/corpus/$* tests/fuzz/corpus/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS)s"
	@build/fuzz/$* -max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/$*- -max_len=65536 \
	    build/fuzz/corpus/$* tests/fuzz/corpus/$* 2>build/fuzz/$*.log \
	    || { tail -n 60 build/fuzz/$*.log; \
	         echo "fuzz: $* found a crash: build/fuzz/$*-*"; exit 1; }
	@echo "fuzz: $* done: $$(grep -E 'stat::number_of_executed_units' build/fuzz/$*.log | tail -n 1)"

fuzz-regress: fuzz-build
	@for f in $(FUZZERS); do \
	  build/fuzz/$$f -runs=0 -timeout=30 tests/fuzz/corpus/$$f \
	    $$(ls -d tests/fuzz/regress/$$f 2>/dev/null) >build/fuzz/$$f.log 2>&1 \
	    || { tail -n 40 build/fuzz/$$f.log; exit 1; }; \
	  echo "fuzz-regress: $$f ok"; \
	done

# The soak test (tests/soak/soak.py): the relay under mixed load for
# SOAK_SECONDS, with its reader of the records stopped for 10 s on the way,
# then checks of bytes, records, descriptors, memory and CPU while stopped.
# soak-valgrind: a shorter run with the relay under memcheck, its capture
# cut by --rotate-size 1m and moved twice for SIGHUP, with the same
# stage (valgrind 3.19 does not know pidfd_open: the relay then watches its
# stages with waitpid, and valgrind warns of the unknown call once).
SOAK_SECONDS ?= 120
# The data path with a stage: every byte through tcpmon-throttle.
SOAK_ARGS ?= --through 'tcpmon-throttle --rate 20m'
# ASan's quarantine keeps freed blocks (256 MiB by default): small here, so
# that the RSS check sees the relay's memory, not the sanitizer's.
soak: deps-test
	@$(MAKE) --no-print-directory all
	ASAN_OPTIONS=quarantine_size_mb=8 python3 tests/soak/soak.py $(BIN) $(SOAK_SECONDS) $(SOAK_ARGS) \
	    --stall-reader 10

soak-valgrind: deps-test
	@$(MAKE) --no-print-directory all
	python3 tests/soak/soak.py $(BIN) $${SOAK_SECONDS:-20} --workers 4 \
	    $(SOAK_ARGS) --rotate-size 1m --sighup 2 --wrap 'valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9'

version:
	@echo $(VERSION)

lint-man:
	mandoc -Tlint -W warning $(MAN)

# The layering rule (HACKING.md): each tool compiles its own directory and
# the libraries it links, nothing of another tool's.
layering-list:
	@$(foreach p,$(PROGS),echo '$(p) $($(p)_ARCHIVES) : $($(p)_SRCS)';)
check-layering:
	@$(MAKE) -s --no-print-directory layering-list | sh dist/check-layering.sh
	@$(MAKE) -s --no-print-directory layering-list | python3 dist/check-calls.py

# DESTDIR stages the files (a package's tree); PREFIX and the *DIR
# variables above say where they will be.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 755 $(addprefix $(BIN)/,$(PROGS)) $(DESTDIR)$(BINDIR)
	install -m 644 $(filter %.1,$(MAN)) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(filter %.5,$(MAN)) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(addprefix $(COMPDIR)/bash/,$(PROGS)) $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 $(addprefix $(COMPDIR)/zsh/_,$(PROGS)) $(DESTDIR)$(ZSHCOMPDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' 'dist/systemd/tcpmon-relay@.service.in' \
	    > '$(DESTDIR)$(SYSTEMDUNITDIR)/tcpmon-relay@.service'
	chmod 644 '$(DESTDIR)$(SYSTEMDUNITDIR)/tcpmon-relay@.service'
	install -m 644 'dist/systemd/tcpmon-relay@.socket' $(DESTDIR)$(SYSTEMDUNITDIR)

# Removes what install put there, and only that (the directories stay:
# others' files may be in them).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN)))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(filter %.5,$(MAN)))) \
	    $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(PROGS)) \
	    $(addprefix $(DESTDIR)$(ZSHCOMPDIR)/_,$(PROGS)) \
	    $(addprefix '$(DESTDIR)$(SYSTEMDUNITDIR)'/,$(UNIT_FILES))

# The Debian package, tcpmon_VERSION_ARCH.deb in build/deb/, built with
# debhelper (debian/) from a copy of the tree, so that its `make clean`
# leaves this tree's build alone.  The package is always the release build:
# this make's own variables (`make test SAN=1` reaching here from a test)
# are not passed down to dpkg-buildpackage's make.
deb: deps-deb
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	[ "$$v" = "$(VERSION)" ] || { echo "make deb: debian/changelog says \
	$$v, common/util.h $(VERSION)" >&2; exit 1; }
	rm -rf build/deb
	mkdir -p build/deb/tcpmon-$(VERSION)
	tar -c --exclude=./build --exclude=./bin --exclude=./.git . | \
	    tar -x -C build/deb/tcpmon-$(VERSION)
	cd build/deb/tcpmon-$(VERSION) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN \
	    dpkg-buildpackage -b -us -uc -j2 \
	    >../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	@ls build/deb/tcpmon_$(VERSION)_*.deb
deps-deb:
	$(call deb_install,$(DEB_BUILD) $(DEB_DEB))

clean:
	rm -rf bin build

.PHONY: completions deb deps-deb version layering-list check-layering
.PHONY: all deps deps-build deps-demo deps-test deps-bench deps-fuzz deps-list test demo bench lint-man install uninstall clean fuzz fuzz-build fuzz-regress \
	soak soak-valgrind

-include $(shell find build -name '*.d' 2>/dev/null)
