# moonlet - build, test, check, demo, bench, install.
# Flags come from pkg-config; packages are installed by tools/deps.sh.

CC ?= cc
PKG_CONFIG ?= pkg-config
LUA_PC ?= lua5.4
LUA ?= lua5.4
BUSTED ?= busted
PREFIX ?= /usr/local
INST_LIBDIR ?= $(PREFIX)/lib/lua/5.4
INST_LUADIR ?= $(PREFIX)/share/lua/5.4
BUILD ?= build
SWITCH ?= asm
# One version, kept in the public header.
VERSION := $(shell sed -n 's/^\#define MOONLET_VERSION_STRING "\(.*\)"/\1/p' csrc/moonlet.h)

OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
  -Werror=implicit-function-declaration
# Deferred (=) so that pkg-config runs after deps.sh installed it.
DEP_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PC) libuv libcurl)
# http-parser ships no pkg-config file. libcurl is not linked: the HTTP
# client loads it (csrc/http/curl_api.h says why).
DEP_LIBS ?= $(shell $(PKG_CONFIG) --libs libuv) -lhttp_parser -ldl
SWITCH_FLAGS_asm =
SWITCH_FLAGS_ucontext = -DMOONLET_SWITCH_UCONTEXT
CHECKS ?= -DMOONLET_CHECKS
ALL_CFLAGS = -std=gnu11 -fPIC $(OPT) $(WARN) $(CHECKS) -Icsrc $(DEP_CFLAGS) $(SWITCH_FLAGS_$(SWITCH)) $(CFLAGS)
LIBFLAG ?= -shared
# Calls between the library's own functions go direct, not through the PLT.
SO_LDFLAGS = -Wl,-Bsymbolic

# csrc/ by layers: core/ (switching, scheduler, futures, timers, channels,
# errors), io/ (handles, blocking operations, streams, udp, dns, files,
# processes, signals, pool jobs), http/, embed/; module.c opens them all.
CORE_SRC = $(wildcard csrc/*.c csrc/*/*.c)
HEADERS = $(wildcard csrc/*.h csrc/*/*.h)
# The Lua modules are compiled in too (build/lua_modules.c), for hosts that
# link libmoonlet and have no Lua files.
CORE_OBJ = $(CORE_SRC:csrc/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/core/switch_S.o \
  $(BUILD)/obj/lua_modules.o
LUA_LIBS ?= $(shell $(PKG_CONFIG) --libs $(LUA_PC))
SWITCH_TEST_SRC = test/run-tests.c test/test-switch.c csrc/core/switch.c csrc/core/switch.S
CORE_SO = $(BUILD)/moonlet/core.so
TESTMOD_SO = $(BUILD)/moonlet_testmod.so
STAMP = $(BUILD)/.deps

# Spec runs: the busted suite with the fast path, and with native switching
# forced everywhere.
BUSTED_RUN = $(BUSTED) --lua=lua5.4 -o TAP --cpath='./$(BUILD)/?.so' spec
SPEC_ENV = MOONLET_TEST_BUILD=$(BUILD)

.PHONY: all module deps test check demo showcase bench install install-module clean examples \
	check-asan check-valgrind check-cross check-clang check-rock \
	check-embed-asan check-embed-valgrind check-embed-tsan

all: $(CORE_SO) $(TESTMOD_SO) $(BUILD)/test-switch $(BUILD)/libmoonlet.a \
  $(BUILD)/libmoonlet.so $(BUILD)/test-embed examples
module: $(CORE_SO)

# Builds from luarocks (SKIP_DEPS=1) never call apt-get.
DEPS = $(if $(SKIP_DEPS),,$(STAMP))

$(STAMP):
	@sh tools/deps.sh base
	@mkdir -p $(BUILD) && touch $@

deps: $(STAMP)

$(BUILD)/obj/%.o: csrc/%.c $(HEADERS) | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/core/switch_S.o: csrc/core/switch.S | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/lua_modules.c: lua/moonlet/*.lua tools/embed-lua.lua | $(DEPS)
	@mkdir -p $(dir $@)
	$(LUA) tools/embed-lua.lua $@ lua/moonlet/*.lua

$(BUILD)/obj/lua_modules.o: $(BUILD)/lua_modules.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmoonlet.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $(CORE_OBJ)

# For hosts (moonlet.pc); Lua itself comes from the host.
$(BUILD)/libmoonlet.so: $(CORE_OBJ)
	$(CC) -shared $(ALL_CFLAGS) $(SO_LDFLAGS) -Wl,-soname,libmoonlet.so -o $@ $(CORE_OBJ) $(DEP_LIBS) $(LDFLAGS) -lm -lpthread

$(BUILD)/test-embed: test/test-embed.c test/run-tests.c test/runner.h test/test-embed-list.h csrc/moonlet.h $(BUILD)/libmoonlet.a
	$(CC) $(ALL_CFLAGS) -iquote csrc -Itest -DTEST_LIST_FILE='"test-embed-list.h"' -o $@ \
	  test/run-tests.c test/test-embed.c $(BUILD)/libmoonlet.a $(DEP_LIBS) $(LUA_LIBS) $(LDFLAGS) -lm -lpthread

# The example C host (examples/host), built against the tree's library;
# make check builds it again against an installed copy with pkg-config.
examples: $(BUILD)/host-health
$(BUILD)/host-health: examples/host/health.c csrc/moonlet.h $(BUILD)/libmoonlet.a
	$(CC) $(ALL_CFLAGS) -iquote csrc -o $@ examples/host/health.c $(BUILD)/libmoonlet.a \
	  $(DEP_LIBS) $(LUA_LIBS) $(LDFLAGS) -lm -lpthread

$(CORE_SO): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(ALL_CFLAGS) $(SO_LDFLAGS) -o $@ $(CORE_OBJ) $(DEP_LIBS) $(LDFLAGS) -lm

$(TESTMOD_SO): spec/support/testmod.c csrc/moonlet.h | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(ALL_CFLAGS) -Icsrc -o $@ $< $(LDFLAGS)

$(BUILD)/test-switch: $(SWITCH_TEST_SRC) csrc/core/switch.h test/*.h | $(DEPS)
	$(CC) $(ALL_CFLAGS) -o $@ $(SWITCH_TEST_SRC) -lm

# The README's test command: C tests and the whole spec suite in both
# switching modes, ending with one "N passed, N failed" line.
test: all
	@tools/run-tests.sh \
	  "switch tests ($(SWITCH))::./$(BUILD)/test-switch" \
	  "switch tests (ucontext)::$(MAKE) -s $(BUILD)/test-switch-ucontext >/dev/null && ./$(BUILD)/test-switch-ucontext" \
	  "embedding tests::./$(BUILD)/test-embed" \
	  "lint (luacheck, type annotations)::sh tools/lint.sh $(BUILD)" \
	  "specs (fast path)::$(SPEC_ENV) $(BUSTED_RUN)" \
	  "specs (MOONLET_FORCE_NATIVE=1)::$(SPEC_ENV) MOONLET_FORCE_NATIVE=1 $(BUSTED_RUN)"

$(BUILD)/test-switch-ucontext: $(SWITCH_TEST_SRC) csrc/core/switch.h | $(DEPS)
	$(CC) $(ALL_CFLAGS) -DMOONLET_SWITCH_UCONTEXT -o $@ $(SWITCH_TEST_SRC) -lm

# Sanitizers, Valgrind, clang, aarch64 under qemu-user, and the rockspec.
check:
	@sh tools/deps.sh base check
	@tools/run-tests.sh \
	  "clang -Werror build::$(MAKE) -s check-clang" \
	  "aarch64 switch tests (qemu-user)::$(MAKE) -s check-cross" \
	  "ASan+UBSan specs (fast path)::$(MAKE) -s check-asan" \
	  "ASan+UBSan specs (MOONLET_FORCE_NATIVE=1)::$(MAKE) -s check-asan ASAN_NATIVE=1" \
	  "Valgrind specs (fast path)::$(MAKE) -s check-valgrind" \
	  "Valgrind specs (MOONLET_FORCE_NATIVE=1)::$(MAKE) -s check-valgrind VG_NATIVE=1" \
	  "embedding tests (ASan+UBSan)::$(MAKE) -s check-embed-asan" \
	  "embedding tests (Valgrind)::$(MAKE) -s check-embed-valgrind" \
	  "embedding tests across threads (ThreadSanitizer)::$(MAKE) -s check-embed-tsan" \
	  "luarocks install::$(MAKE) -s check-rock" \
	  "host example against the installed copy::sh tools/check-host.sh"

check-clang:
	@$(MAKE) -s BUILD=build-clang CC=clang CFLAGS=-Werror all >/dev/null
	@echo "ok 1 - clang -Wall -Wextra -Werror builds the module and tests"

check-cross:
	@mkdir -p $(BUILD)
	@aarch64-linux-gnu-gcc -std=gnu11 -O2 -static -Wall -Wextra -Werror -Icsrc \
	  -o $(BUILD)/test-switch-aarch64 $(SWITCH_TEST_SRC) -lm
	@qemu-aarch64 $(BUILD)/test-switch-aarch64

ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# ASan's redzones make C frames several times larger, and the deepest
# native suspensions of the specs then come near the default 1 MiB shared
# stack (one overflow seen, only inside full make check runs, at the start of
# http_tls_spec): the ASan spec runs use 4 MiB. An overflow prints where.
ASAN_LIB = $(shell clang -print-file-name=libclang_rt.asan-x86_64.so)
check-asan:
	@$(MAKE) -s BUILD=build-asan CC=clang OPT="-O1 -g" CFLAGS="$(ASAN_FLAGS)" \
	  LDFLAGS="-shared-libasan" all >/dev/null
	@MOONLET_TEST_BUILD=build-asan MOONLET_UNDER_ASAN=1 LD_PRELOAD=$(ASAN_LIB) \
	  MOONLET_STACK_SIZE=4m \
	  ASAN_OPTIONS=detect_stack_use_after_return=0:detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(if $(ASAN_NATIVE),MOONLET_FORCE_NATIVE=1) \
	  $(BUSTED) --lua=lua5.4 -o TAP --cpath='./build-asan/?.so' spec

check-embed-asan:
	@$(MAKE) -s BUILD=build-asan CC=clang OPT="-O1 -g" CFLAGS="$(ASAN_FLAGS)" \
	  LDFLAGS="-shared-libasan" all >/dev/null
	@LD_LIBRARY_PATH=$(dir $(ASAN_LIB)) ASAN_OPTIONS=detect_stack_use_after_return=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./build-asan/test-embed

# No libc freeres: in a forked child whose exec failed it runs libuv's
# destructor, which joins thread-pool threads the child does not have.
VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full \
  --run-libc-freeres=no --suppressions=tools/valgrind.supp \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite
# The watchdog is off there: under Valgrind any step may outlast its
# threshold, and its reports would only be noise.
check-valgrind: all
	@MOONLET_TEST_BUILD=$(BUILD) MOONLET_UNDER_VALGRIND=1 MOONLET_WATCHDOG=0 \
	  $(if $(VG_NATIVE),MOONLET_FORCE_NATIVE=1) \
	  $(VALGRIND) $(LUA) /usr/bin/busted -o TAP --cpath='./$(BUILD)/?.so' spec

# The tests where other threads meet the loop (futures resolved from
# threads, posts, two instances opened at once). ThreadSanitizer does not
# follow moonlet's stack switches, so the switching tests stay out.
TSAN_TESTS = embed_threadsafe_futures embed_post_from_threads embed_two_instances
check-embed-tsan:
	@$(MAKE) -s BUILD=build-tsan CC=clang OPT="-O1 -g" CFLAGS="-fsanitize=thread" \
	  LDFLAGS="-fsanitize=thread" build-tsan/test-embed >/dev/null
	@MOONLET_WATCHDOG=0 TSAN_OPTIONS=halt_on_error=1:exitcode=66 ./build-tsan/test-embed $(TSAN_TESTS)

check-embed-valgrind: all
	@MOONLET_WATCHDOG=0 $(VALGRIND) ./$(BUILD)/test-embed

check-rock:
	@sh tools/check-rock.sh

RUN_LUA = LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./$(BUILD)/?.so;;' $(LUA)

demo: all
	@$(RUN_LUA) examples/demo.lua

showcase: all
	@$(RUN_LUA) examples/showcase.lua

bench: all
	@sh tools/deps.sh bench
	@sh bench/run.sh $(REPS)

# What the rockspec installs: the Lua module (core.so and the Lua files).
# types/moonlet.lua (annotations for editors) goes to moonlet/types/.
install-module: module
	install -d $(DESTDIR)$(INST_LIBDIR)/moonlet $(DESTDIR)$(INST_LUADIR)/moonlet/types
	install -m 755 $(CORE_SO) $(DESTDIR)$(INST_LIBDIR)/moonlet/core.so
	install -m 644 lua/moonlet/*.lua $(DESTDIR)$(INST_LUADIR)/moonlet/
	install -m 644 types/moonlet.lua $(DESTDIR)$(INST_LUADIR)/moonlet/types/

# Everything: the module, and for hosts libmoonlet, moonlet.h, moonlet.pc.
install: install-module $(BUILD)/libmoonlet.so $(BUILD)/libmoonlet.a
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/libmoonlet.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/libmoonlet.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 csrc/moonlet.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/moonlet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/moonlet.pc

clean:
	rm -rf build build-asan build-clang build-tsan
