# tcpmon - top-level Makefile.  Each tool directory has a module.mk that adds
# its program, sources, libraries, man pages and Debian packages; this file
# holds the rules once.  `make SAN=1` builds with ASan+UBSan into build/san.

CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Icommon -D_GNU_SOURCE -MMD -MP
PREFIX	?= /usr/local

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
OBJ	 = build/$(VARIANT)/obj

.DEFAULT_GOAL := all
PROGS	:=
MAN	:= man/tcpmon-record.5
UNITS	:=
DEB_PACKAGES := make gcc clang libc6-dev pkg-config curl socat mandoc \
	bats bats-assert bats-support valgrind time

include common/module.mk
include $(sort $(filter-out common/module.mk,$(wildcard */module.mk)))

# $(call prog,NAME): the link rule for one tool from NAME_SRCS and NAME_LIBS.
define prog
$(BIN)/$(1): $$(patsubst %.c,$(OBJ)/%.o,$$($(1)_SRCS)) $(OBJ)/libtcpmon.a
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$($(1)_LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog,$(p))))

# Unit tests: tests/unit/NAME.c, each linked with the library.
define unit
$(BIN)/unit/$(1): $(OBJ)/tests/unit/$(1).o $(OBJ)/libtcpmon.a
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$($(1)_LIBS)
endef
UNITS += $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/*.c))
$(foreach u,$(UNITS),$(eval $(call unit,$(u))))

all: $(addprefix $(BIN)/,$(PROGS)) $(addprefix $(BIN)/unit/,$(UNITS))

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $($(notdir $(*D))_CFLAGS) -c -o $@ $<

$(OBJ)/libtcpmon.a: $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^

# Installs whatever Debian packages are missing (needs root then).
deps:
	@missing=""; for p in $(sort $(DEB_PACKAGES)); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing \
	    >/dev/null || { echo "make deps: apt-get failed" >&2; exit 1; }; \
	fi

test: deps
	@$(MAKE) --no-print-directory all
	@TCPMON_BIN=$(CURDIR)/$(BIN) tests/run $(TESTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@TCPMON_BIN=$(CURDIR)/$(BIN) demo/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@for b in bench/*.sh; do TCPMON_BIN=$(CURDIR)/$(BIN) bash $$b || exit 1; done

lint-man:
	mandoc -Tlint -W warning $(MAN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(addprefix $(BIN)/,$(PROGS)) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(filter %.1,$(MAN)) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(filter %.5,$(MAN)) $(DESTDIR)$(PREFIX)/share/man/man5

clean:
	rm -rf bin build

.PHONY: all deps test demo bench lint-man install clean

-include $(shell find build -name '*.d' 2>/dev/null)
