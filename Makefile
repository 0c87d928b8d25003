# p2v: `make demo` and `make check` work on a fresh Debian 12 as root:
# both install what they need first (tools/install-deps.sh).

VERSION  := 0.1.0
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
# User CFLAGS/LDFLAGS are added, never replace the project's own flags.
P2V_CFLAGS := $(OPT) $(SAN) -std=c11 -D_FILE_OFFSET_BITS=64 -D_DEFAULT_SOURCE \
            -Wall -Wextra -Werror -Wmissing-prototypes -DP2V_VERSION='"$(VERSION)"' -I. \
            $(shell pkg-config --cflags fuse3 uuid blkid libxml-2.0 libarchive libguestfs 2>/dev/null) $(CPPFLAGS) $(CFLAGS)
P2V_LDFLAGS := $(SAN) $(LDFLAGS)
LDLIBS   += $(shell pkg-config --libs fuse3 uuid blkid libxml-2.0 libarchive libguestfs 2>/dev/null) -lntfs-3g -lext2fs -lcom_err -lhivex -lvhdi -lnettle -lz -ldl -lpthread
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_MAKE = $(MAKE) --no-print-directory B=build/asan OPT="-O1 -g" SAN="$(SANITIZE)"

# The folders, lowest level first (ARCHITECTURE.md; tests/check_structure.py
# holds each file to including its own folder or a lower level only).
FOLDERS  := core snapshot vhdwriter fs guest layout fixup machine transfer tools
# Everything but main() and the clock interposer goes into a library the
# unit tests link too.  The interposer (tools/clock_interpose.c) defines
# libc's clock_gettime, gettimeofday and time for the whole process: it is
# linked into the p2v binary only, never taken from the library.
BIN_ONLY := tools/p2v.c tools/clock_interpose.c
LIB_SRC  := $(filter-out $(BIN_ONLY),$(foreach d,$(FOLDERS),$(wildcard $(d)/*.c)))
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)

B        ?= build
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all doc install uninstall deps deps-build check structure unit integration demo bench asan check-asan check-asan-subset valgrind clean
all: $(B)/p2v $(B)/badfuse doc

# Man pages (docs/man/*.scd, scdoc) and bash completion, both completed
# from the binary's own help text (tools/doc/), so option lists have one
# source.
MAN_SRC  := $(wildcard docs/man/*.1.scd)
MANPAGES := $(MAN_SRC:docs/man/%.scd=$(B)/man/%)
doc: $(MANPAGES) $(B)/p2v.bash

$(B)/man/%.1: docs/man/%.1.scd $(B)/p2v tools/doc/gen-man.sh tools/doc/help-parse.awk
	@mkdir -p $(dir $@)
	sh tools/doc/gen-man.sh $(B)/p2v $< >$@.scd
	scdoc <$@.scd >$@.tmp && mv $@.tmp $@ && rm -f $@.scd

$(B)/p2v.bash: $(B)/p2v tools/doc/gen-completion.sh tools/doc/help-parse.awk
	sh tools/doc/gen-completion.sh $(B)/p2v >$@.tmp && mv $@.tmp $@

# GNU conventions: PREFIX (or prefix), DESTDIR, bindir, mandir.  p2v reads
# no data files at run time: its boot code, vendor-service list and XML
# schemas are built into the binary.
PREFIX     ?= /usr/local
prefix     ?= $(PREFIX)
bindir     ?= $(prefix)/bin
datarootdir ?= $(prefix)/share
mandir     ?= $(datarootdir)/man
bashcompdir ?= $(datarootdir)/bash-completion/completions
INSTALL    ?= install

install: $(B)/p2v doc
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(bashcompdir)
	$(INSTALL) -m 0755 $(B)/p2v $(DESTDIR)$(bindir)/p2v
	$(INSTALL) -m 0644 $(MANPAGES) $(DESTDIR)$(mandir)/man1/
	$(INSTALL) -m 0644 $(B)/p2v.bash $(DESTDIR)$(bashcompdir)/p2v

uninstall:
	rm -f $(DESTDIR)$(bindir)/p2v $(DESTDIR)$(bashcompdir)/p2v \
	    $(MAN_SRC:docs/man/%.scd=$(DESTDIR)$(mandir)/man1/%)

deps:
	@sh tools/install-deps.sh all
deps-build:
	@sh tools/install-deps.sh build

# Libraries that cannot tell their version at run time: p2v version shows
# the one it was built with.
$(B)/obj/tools/version.o: P2V_CFLAGS += \
    -DP2V_BUILT_NTFS3G='"$(shell pkg-config --modversion libntfs-3g 2>/dev/null)"' \
    -DP2V_BUILT_HIVEX='"$(shell pkg-config --modversion hivex 2>/dev/null)"' \
    -DP2V_BUILT_UUID='"$(shell pkg-config --modversion uuid 2>/dev/null)"'

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(P2V_CFLAGS) -MMD -MP -c -o $@ $<

# p2v's MBR boot code (mbr_boot.S) and its GPT counterpart (gpt_boot.S):
# 16-bit GNU as source, linked at 0x600, cut to the 440 bytes before the
# disk signature, and turned into C arrays p2v_mbr_code and p2v_gpt_code.
$(B)/gen/%_boot.bin: layout/%_boot.S layout/boot_common.inc
	@mkdir -p $(dir $@)
	as --32 -I layout -o $(B)/gen/$*_boot.o $<
	ld -m elf_i386 -Ttext=0x600 -o $(B)/gen/$*_boot.elf $(B)/gen/$*_boot.o
	objcopy -O binary -j .text $(B)/gen/$*_boot.elf $@
	@test "$$(stat -c %s $@)" -eq 440 || { echo "$@ is not 440 bytes"; rm -f $@; exit 1; }

$(B)/gen/%_code.c: $(B)/gen/%_boot.bin
	{ echo '/* Generated from layout/$*_boot.S by the Makefile. */'; \
	  echo '#include <stdint.h>'; \
	  echo 'const uint8_t p2v_$*_code[440] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } >$@

$(B)/gen/%_code.o: $(B)/gen/%_code.c
	$(CC) $(P2V_CFLAGS) -c -o $@ $<

# The vendor-services data file, built in as a C string.
$(B)/gen/vendor_services.c: guest/vendor-services.txt
	@mkdir -p $(dir $@)
	{ echo '/* Generated from $< by the Makefile. */'; \
	  echo 'const char p2v_vendor_services[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/    "/; s/$$/\\n"/' $<; \
	  echo ';'; } >$@

$(B)/gen/vendor_services.o: $(B)/gen/vendor_services.c
	$(CC) $(P2V_CFLAGS) -c -o $@ $<

# RELAX NG schemas (machine/machine.rng, transfer/manifest.rng), built in as
# p2v_NAME_rng: for --schema and for validating what p2v reads back.
.SECONDEXPANSION:
$(B)/gen/%_rng.c: $$(wildcard */$$*.rng)
	@mkdir -p $(dir $@)
	{ echo '/* Generated from $< by the Makefile. */'; \
	  echo 'const char p2v_$*_rng[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/    "/; s/$$/\\n"/' $<; \
	  echo ';'; } >$@

$(B)/gen/%_rng.o: $(B)/gen/%_rng.c
	$(CC) $(P2V_CFLAGS) -c -o $@ $<

BOOT_CODE := $(B)/gen/mbr_code.o $(B)/gen/gpt_code.o $(B)/gen/vendor_services.o \
             $(B)/gen/machine_rng.o $(B)/gen/manifest_rng.o
.SECONDARY: $(B)/gen/mbr_boot.bin $(B)/gen/gpt_boot.bin $(BOOT_CODE:.o=.c)

$(B)/libp2v.a: $(LIB_OBJ) $(BOOT_CODE)
	@rm -f $@  # ar only adds: a renamed source would linger
	$(AR) rcs $@ $^

$(B)/p2v: $(BIN_ONLY:%.c=$(B)/obj/%.o) $(B)/libp2v.a
	$(CC) $(P2V_CFLAGS) -o $@ $^ $(P2V_LDFLAGS) $(LDLIBS)

# The integration tests' source with bad sectors (no device-mapper here).
$(B)/badfuse: tests/helpers/badfuse.c
	$(CC) $(P2V_CFLAGS) -o $@ $< $(P2V_LDFLAGS) $(shell pkg-config --libs fuse3)

$(B)/tests/%: tests/unit/%.c $(B)/libp2v.a
	@mkdir -p $(dir $@)
	$(CC) $(P2V_CFLAGS) -o $@ $^ $(P2V_LDFLAGS) $(LDLIBS) -lcmocka

unit: $(UNITS)
	@set -e; for t in $(UNITS); do echo "== $$t"; $$t; done

integration: $(B)/p2v $(B)/badfuse
	@bash tests/run-integration.sh $(B)/p2v

# The folders' levels and the size limits (ARCHITECTURE.md).
structure:
	@python3 tests/check_structure.py

# make check: the Linux test systems are built (or found cached) while p2v
# and its sanitizer build compile; then the unit tests and fuzz corpora of
# both builds, every integration script and the sanitizer subset, which
# tests/run-integration.sh schedules on CI's two cores (the Linux boots in
# the background from the start).
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory structure
	@mkdir -p build && (bash tests/warm-cache.sh >build/warm-cache.log 2>&1 &)
	@$(MAKE) --no-print-directory -j2 all $(DEB_HARDENING)
	@mkdir -p build/asan && rm -f build/asan/report.*
	@$(ASAN_MAKE) -j2 build/asan/p2v build/asan/badfuse
	@$(ASAN_ENV) bash tests/run-integration.sh $(B)/p2v \
	    --before '$(MAKE) --no-print-directory unit fuzz-replay && $(ASAN_MAKE) unit fuzz-replay' \
	    --also build/asan/p2v $(ASAN_SUBSET); rc=$$?; $(ASAN_REPORTS)

# make check builds with the flags the Debian package is built with
# (dpkg-buildflags, debian/rules), so the tests run the binary the .deb
# ships and tests/it_deb.sh packages these objects instead of compiling
# everything a second time.
DEB_FLAG = $(shell DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get $(1) 2>/dev/null)
DEB_HARDENING = CPPFLAGS="$(call DEB_FLAG,CPPFLAGS)" CFLAGS="$(call DEB_FLAG,CFLAGS)" \
                LDFLAGS="$(call DEB_FLAG,LDFLAGS)"

# The whole suite under AddressSanitizer and UBSan, in a build tree of its own.
asan:
	@$(ASAN_MAKE) all $(UNITS:build/%=build/asan/%)
# Reports go to files, so the background mounts' findings are not lost.
check-asan: deps
	@mkdir -p build/asan && rm -f build/asan/report.*
	@ASAN_OPTIONS=log_path=$(CURDIR)/build/asan/report \
	 UBSAN_OPTIONS=log_path=$(CURDIR)/build/asan/report:print_stacktrace=1 \
	 $(ASAN_MAKE) all unit fuzz-replay integration; rc=$$?; \
	if ls build/asan/report.* >/dev/null 2>&1; then \
	    cat build/asan/report.*; echo "check-asan: sanitizer reports above"; exit 1; fi; \
	exit $$rc

# What make check runs under the sanitizers (the whole suite twice would
# not fit CI's time): every unit test and fuzz corpus, and the integration
# scripts that feed p2v the most foreign bytes (TESTING.md says why these).
ASAN_SUBSET := tests/it_errors.sh tests/it_partitions.sh tests/it_fixup.sh \
               tests/it_security.sh tests/it_commit.sh tests/it_badsectors.sh
ASAN_ENV = ASAN_OPTIONS=log_path=$(CURDIR)/build/asan/report \
	UBSAN_OPTIONS=log_path=$(CURDIR)/build/asan/report:print_stacktrace=1
ASAN_REPORTS = if ls build/asan/report.* >/dev/null 2>&1; then \
	    cat build/asan/report.*; echo "sanitizer reports above"; exit 1; fi; exit $$rc
check-asan-subset: deps
	@mkdir -p build/asan && rm -f build/asan/report.*
	@$(ASAN_MAKE) -j2 build/asan/p2v build/asan/badfuse
	@$(ASAN_ENV) $(ASAN_MAKE) unit fuzz-replay
	@$(ASAN_ENV) bash tests/run-integration.sh build/asan/p2v $(ASAN_SUBSET); rc=$$?; $(ASAN_REPORTS)

valgrind: deps all $(UNITS)
	@set -e; for t in $(UNITS); do valgrind -q --error-exitcode=1 --leak-check=full $$t; done
	@bash tests/run-integration.sh $(B)/p2v tests/it_valgrind.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh $(B)/p2v

bench: deps all
	@bash tools/bench.sh $(B)/p2v
	@bash tools/bench_layout.sh $(B)/p2v

# Fuzzing (tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME/).
# make fuzz: each harness built with clang and libFuzzer, ASan and UBSan
# (the library too, in build/fuzz), run for FUZZ_SECONDS; new inputs go to
# build/fuzz/corpus/NAME, crashes to build/fuzz/crash-NAME-*.
# make fuzz-replay (part of make check): every harness built with the
# project's compiler and tests/fuzz/replay.c as main, run over its corpus.
FUZZERS  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt
FUZZ_MAKE = $(MAKE) --no-print-directory B=build/fuzz CC=clang OPT="-O1 -g" SAN="$(FUZZ_SAN)"

build/fuzz/%: tests/fuzz/fuzz_%.c build/fuzz/libp2v.a
	clang $(P2V_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	    -o $@ $^ $(LDLIBS)

$(B)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(B)/libp2v.a
	@mkdir -p $(dir $@)
	$(CC) $(P2V_CFLAGS) -o $@ $^ $(P2V_LDFLAGS) $(LDLIBS)

.PHONY: fuzz fuzz-build fuzz-replay check-valgrind
fuzz-build: deps-build
	@$(FUZZ_MAKE) build/fuzz/libp2v.a
	@$(FUZZ_MAKE) $(FUZZERS:%=build/fuzz/%)

fuzz: fuzz-build
	@set -e; for f in $(FUZZERS); do \
	    mkdir -p build/fuzz/corpus/$$f; \
	    echo "== fuzz $$f for $(FUZZ_SECONDS) s"; \
	    dict=; [ -f tests/fuzz/$$f.dict ] && dict=-dict=tests/fuzz/$$f.dict; \
	    build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 $$dict \
	        -artifact_prefix=build/fuzz/crash-$$f- -print_final_stats=1 \
	        build/fuzz/corpus/$$f tests/fuzz/corpus/$$f 2>&1 | grep -E '^(stat::number_of_executed_units|#[0-9]+ *DONE)|ERROR|SUMMARY' ; \
	done

fuzz-replay: $(FUZZERS:%=$(B)/tests/replay_%)
	@set -e; for f in $(FUZZERS); do echo "== replay $$f"; $(B)/tests/replay_$$f tests/fuzz/corpus/$$f; done

check-valgrind: valgrind

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(BIN_ONLY:%.c=$(B)/obj/%.d)
