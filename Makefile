# jibri-pipeline -- plain GNU make + pkg-config.
#
#   make            build build/jibri-pipeline and build/jibri-finalize
#   make run        build and run the daemon on local defaults (./var)
#   make test       build and run every test (unit + system); ends "N passed, M failed, K skipped"
#   make asan       the same tree built with AddressSanitizer + UBSan (build/asan/)
#   make bench      benchmarks (remux, finalize, S3 upload)
#   make fuzz       libFuzzer harnesses (tests/fuzz/), FUZZ_SECONDS each; ends "fuzz: N passed, M failed"
#   make install    PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc
#   make deb        the Debian package: build/deb-out/jibri-pipeline_VERSION_ARCH.deb, lintian'ed

PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

# SANITIZER=address,undefined builds into build/asan with the sanitizers.
SANITIZER ?=
ifeq ($(SANITIZER),)
BUILD ?= build
else
BUILD ?= build/asan
endif

# One folder per subsystem, one set of libraries each (a folder includes
# base/ and itself; daemon/ also media/ and store/; the CLI in src/ all):
#   base/    libc, OpenSSL, jansson
#   media/   libav* (headers only: loaded at run time, src/media/avlib.c)
#   store/   libcurl
#   daemon/  what it drives, libsystemd
#   api/     libmicrohttpd, libpq, libjwt
BASE_PKGS := openssl jansson
MEDIA_PKGS := $(BASE_PKGS) libavformat libavcodec libavutil
STORE_PKGS := $(BASE_PKGS) libcurl
DAEMON_PKGS := $(MEDIA_PKGS) libcurl libsystemd
API_PKGS := $(BASE_PKGS) libpq libmicrohttpd libjwt
PKGS := $(DAEMON_PKGS) libpq libmicrohttpd libjwt

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
override CFLAGS += -std=gnu11 $(WARN) -MMD -MP -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-DJP_VERSION=\"$(VERSION)\" -DJP_SYSCONFDIR=\"$(SYSCONFDIR)\" -Isrc
ifneq ($(SANITIZER),)
override CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZER)
endif
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

# Library flags are only asked for when compiling: "make deps" must run first
# on a fresh machine, before pkg-config exists.
pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1))
# libav* are not linked but loaded on first use (src/media/avlib.c): binding
# Debian's libavcodec and its ~130 dependencies costs every start ~40 ms.
DLOPEN_PKGS := libavformat libavcodec libavutil
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(filter-out $(DLOPEN_PKGS),$(PKGS))) -lpthread -lm

FOLDERS := base media store daemon api
MAIN_SRC := src/main.c
CLI_SRC := $(filter-out $(MAIN_SRC),$(wildcard src/*.c))
LIB_SRC := $(CLI_SRC) $(foreach f,$(FOLDERS),$(wildcard src/$(f)/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGS := $(BUILD)/jibri-pipeline $(BUILD)/jibri-finalize

.PHONY: all deps deps-test deps-bench run test unit asan bench install clean fuzz
all: $(PROGS)

deps:
	@scripts/deps build
deps-test:
	@scripts/deps test
deps-bench:
	@scripts/deps bench

$(BUILD)/obj/base/%.o: src/base/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(BASE_PKGS)) -c -o $@ $<
$(BUILD)/obj/media/%.o: src/media/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(MEDIA_PKGS)) -c -o $@ $<
$(BUILD)/obj/store/%.o: src/store/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(STORE_PKGS)) -c -o $@ $<
$(BUILD)/obj/daemon/%.o: src/daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(DAEMON_PKGS)) -c -o $@ $<
$(BUILD)/obj/api/%.o: src/api/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(API_PKGS)) -c -o $@ $<
$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(PKGS)) -c -o $@ $<

$(BUILD)/obj/finalize.o: finalize/finalize.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/jibri-pipeline: $(MAIN_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# jibri-finalize runs while Jibri waits: it links only libc (statically
# when libc.a is there, which saves the dynamic loader's start-up time).
FINALIZE_OBJ := $(BUILD)/obj/finalize.o $(BUILD)/obj/daemon/request.o \
	$(BUILD)/obj/base/envfile.o $(BUILD)/obj/base/fsutil.o \
	$(BUILD)/obj/base/util.o
STATIC := $(if $(SANITIZER),,$(shell $(CC) -print-file-name=libc.a | grep -q / && echo -static))
$(BUILD)/jibri-finalize: $(FINALIZE_OBJ)
	$(CC) $(LDFLAGS) $(STATIC) -o $@ $^

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(PKGS)) -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(PKG_LIBS)

# --- the two set-up commands -------------------------------------------------

RUN_ENV := RECORDINGS_DIR=./var/recordings STATE_DIR=./var/state \
	STORAGE_URL=file://./var/storage WEBHOOK_URL=$${WEBHOOK_URL:-none}
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var/recordings var/state var/storage
	@echo "jibri-pipeline: recordings in ./var/recordings, storage in ./var/storage (Ctrl-C stops)"
	$(RUN_ENV) exec $(BUILD)/jibri-pipeline run $(if $(wildcard ./var/env),-c ./var/env)

unit: all $(UNIT_BIN)

test: deps-test
	@$(MAKE) --no-print-directory unit
	python3 tests/run.py --build $(BUILD) $(foreach t,$(TESTS),'$(t)')

asan:
	@$(MAKE) --no-print-directory SANITIZER=address,undefined all

bench: deps-bench
	@$(MAKE) --no-print-directory all
	tests/bench/run $(BUILD)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/jibri-pipeline \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 755 $(BUILD)/jibri-pipeline $(BUILD)/jibri-finalize $(DESTDIR)$(BINDIR)
	@# the unit names the programs where they are installed (BINDIR)
	sed 's,/usr/local/bin/,$(BINDIR)/,g' systemd/jibri-pipeline.service > \
		$(BUILD)/jibri-pipeline.service
	install -m 644 $(BUILD)/jibri-pipeline.service $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 644 systemd/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/jibri-pipeline.conf
	install -m 644 systemd/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/jibri-pipeline.conf
	@# uncompressed: man reads them so; the Debian package's dh_compress gzips
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 644 man/jibri-pipeline.8 man/jibri-finalize.8 $(DESTDIR)$(MANDIR)/man8
	install -m 644 man/jibri-pipeline.env.5 $(DESTDIR)$(MANDIR)/man5
	@# the service runs as jibri-pipeline and reads the env file through its
	@# group (root:jibri-pipeline 0640): on the real root the user must exist
	@# first; under DESTDIR (packaging) the package creates it
	@if [ -z "$(DESTDIR)" ]; then \
		if command -v systemd-sysusers >/dev/null; then \
			echo "systemd-sysusers $(SYSUSERSDIR)/jibri-pipeline.conf"; \
			systemd-sysusers $(SYSUSERSDIR)/jibri-pipeline.conf || exit 1; \
		else \
			echo "make install: no systemd-sysusers: create the users of" \
			    "$(SYSUSERSDIR)/jibri-pipeline.conf by hand (useradd --system" \
			    "--user-group jibri-pipeline; usermod -aG jibri jibri-pipeline)"; \
		fi; \
	fi
	@env=$(DESTDIR)$(SYSCONFDIR)/jibri-pipeline/env; \
	if [ -e "$$env" ]; then \
		echo "make install: $$env exists: left as it is"; \
		if [ "$$(stat -c %G "$$env")" != jibri-pipeline ]; then \
			echo "make install: $$env is not in group jibri-pipeline:" \
			    "make sure the service user can read it (sudo" \
			    "jibri-pipeline check)"; \
		fi; \
	else \
		echo "install -m 640 systemd/env.example $$env"; \
		install -m 640 systemd/env.example "$$env" || exit 1; \
		if getent group jibri-pipeline >/dev/null; then \
			echo "chgrp jibri-pipeline $$env"; \
			chgrp jibri-pipeline "$$env" || exit 1; \
		else \
			echo "make install: no group jibri-pipeline here: once it exists" \
			    "(systemd-sysusers), run: chgrp jibri-pipeline" \
			    "$(SYSCONFDIR)/jibri-pipeline/env (the service reads it as" \
			    "jibri-pipeline)"; \
		fi; \
	fi

# --- deb: the Debian package (debian/) ---------------------------------------
#
#   make deb      $(BUILD)/deb-out/jibri-pipeline_VERSION_ARCH.deb (+ -dbgsym,
#                 .buildinfo, .changes), then lintian on it; VERSION is
#                 debian/changelog's
#
# dpkg-buildpackage cleans the tree it builds and writes its results into
# that tree's parent, so it builds a copy in $(BUILD)/deb-src/ (without
# build/, var/, .git and the test cache): the repository's parent is not
# littered and a build in build/ is not touched. debian/rules builds with
# Debian's paths and build flags.
DEB_SRC = $(BUILD)/deb-src
DEB_OUT = $(BUILD)/deb-out
.PHONY: deb deps-deb
deps-deb:
	@scripts/deps deb
deb: deps-deb
	rm -rf $(DEB_SRC) $(DEB_OUT)
	mkdir -p $(DEB_SRC)/jibri-pipeline $(DEB_OUT)
	tar -cf - --exclude=./build --exclude=./$(BUILD) --exclude=./var \
		--exclude=./.git --exclude=./tests/.cache --exclude=__pycache__ . | \
		tar -xf - -C $(DEB_SRC)/jibri-pipeline
	@# this make's command line (BUILD=, SANITIZER=, ...) is not debian/rules'
	cd $(DEB_SRC)/jibri-pipeline && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -b --jobs-try=auto
	mv $(DEB_SRC)/*.deb $(DEB_SRC)/*.buildinfo $(DEB_SRC)/*.changes $(DEB_OUT)/
	rm -rf $(DEB_SRC)
	lintian --fail-on error,warning $(DEB_OUT)/*.changes
	@echo "make deb: $$(ls $(DEB_OUT)/jibri-pipeline_*.deb) (lintian: no errors or warnings)"

# --- fuzz: one libFuzzer harness per parser (tests/fuzz/fuzz_*.c) -------------
#
#   make fuzz                     every harness, FUZZ_SECONDS (30) each
#   make fuzz FUZZ_TARGETS=xml    some of them; FUZZ_JOBS at a time (nproc)
#
# clang (libFuzzer) with ASan + UBSan, into build/fuzz. The modules are
# compiled again with the fuzzer's coverage (-fsanitize=fuzzer-no-link) into
# an archive, so each harness links only what it reaches: none of them
# needs libav*, libcurl or libsystemd (api/'s libraries, libpq and libjwt,
# are there for token.c and rooms.c). tests/fuzz/run makes the corpora
# (build/fuzz/corpus) from tests/fuzz/seeds and fixtures/, runs the
# harnesses and leaves a crashing input in build/fuzz/artifacts.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 30
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) $(if $(filter 1,$(WERROR)),-Werror) \
	-MMD -MP -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DJP_VERSION=\"$(VERSION)\" \
	-DJP_SYSCONFDIR=\"$(SYSCONFDIR)\" -Isrc \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_SRC := $(wildcard src/base/*.c) src/media/mp4box.c src/media/faststart.c \
	src/media/h264.c src/media/mdatwalk.c \
	src/daemon/request.c src/daemon/session.c src/store/xml.c src/api/event.c \
	src/api/token.c src/api/rooms.c src/api/db.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIBS = $(shell $(PKG_CONFIG) --libs $(API_PKGS)) -lpthread -lm

.PHONY: fuzz-build
fuzz:
	@scripts/deps fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(call pkg_cflags,$(API_PKGS)) -c -o $@ $<
$(FUZZ_BUILD)/libjp-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/fuzz/fuzz_event.h \
		$(FUZZ_BUILD)/libjp-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(call pkg_cflags,$(API_PKGS)) \
		-o $@ $< $(FUZZ_BUILD)/libjp-fuzz.a $(FUZZ_LIBS)

-include $(wildcard $(FUZZ_BUILD)/*.d $(FUZZ_BUILD)/obj/*/*.d)
# --- end of fuzz --------------------------------------------------------------

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/*/*.d $(BUILD)/tests/*.d)
