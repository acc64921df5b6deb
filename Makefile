# clara: build, test, benchmark.  `make help` lists the targets.

LIBTORCH ?=
# Debian's libtorch-dev depends on python3-dev, which building clara does not
# use: where libtorch-dev is not installed, make deps unpacks it here (headers,
# links to libtorch1.13's libraries) rather than install Python with it
TORCH_DEV := build/libtorch-dev
TORCH_SYS := /usr/include/torch/csrc/api/include
ifneq ($(LIBTORCH),)
  TORCH_INC := -isystem $(LIBTORCH)/include \
               -isystem $(LIBTORCH)/include/torch/csrc/api/include
  TORCH_LIB := -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib
else ifneq ($(wildcard $(TORCH_SYS)),)
  TORCH_INC := -isystem $(TORCH_SYS)
  TORCH_LIB :=
else
  TORCH_INC := -isystem $(TORCH_DEV)/usr/include \
               -isystem $(TORCH_DEV)/usr/include/torch/csrc/api/include
  TORCH_LIB := -L$(TORCH_DEV)/lib
  TORCH_HEADERS := $(TORCH_DEV)/usr/include/torch
endif

LUA_INC  := -I/usr/include/lua5.4
CC       ?= cc
CXX      ?= g++
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   += $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fPIC $(LUA_INC) -Ibindings
CXXFLAGS += $(OPT) $(SAN) -std=c++17 -Wall -Wno-unused-parameter -fPIC $(TORCH_INC) -Ibindings
LDLIBS   := -l:libtcmalloc_minimal.so.4 $(TORCH_LIB) -ltorch -ltorch_cpu -lc10 -llua5.4 -ledit -lspng -lturbojpeg -lz -lm -ldl -lpthread
# the program itself: no libtorch (build/libclara_torch.so is loaded on first use)
CLARA_LIBS := -Wl,--no-as-needed -l:libtcmalloc_minimal.so.4 -Wl,--as-needed -llua5.4 -ledit -lm -ldl -lpthread
TORCH_LIBS := $(TORCH_LIB) -ltorch -ltorch_cpu -lc10 -llua5.4 -lspng -lturbojpeg -lz -lm -lpthread
# the libtorch version, read from its headers when a recipe needs it
TORCH_VERSION = $(or $(shell printf '\043include <torch/version.h>\nTORCH_VERSION\n' | \
                  $(CXX) -E -P $(TORCH_INC) -x c++ - 2>/dev/null | tail -1),"unknown")
BUILD    ?= build
VERSION  := 0.1.0

# Debian packages (DESIGN.md section 2), in two sets so that a user who
# only builds and runs clara gets no browser, no Python, no test tools.
# DEB_PKGS: building (compiler, headers) and running (libraries, the Lua
# modules the stdlib requires, gnuplot and a font for plots, the data set of
# make demo).  Debian's libtorch-dev depends on python3-dev, which nothing
# here uses: libtorch1.13 and the headers libtorch's include (gflags, glog)
# instead, and TORCH_DEV (at the top).
DEB_PKGS := g++ make liblua5.4-dev libedit-dev zlib1g-dev libtcmalloc-minimal4 \
            libtorch1.13 libgflags-dev libgoogle-glog-dev \
            libopenblas0-pthread libgloo-dev libspng-dev libturbojpeg0-dev \
            lua-filesystem lua-cjson gnuplot-nox fonts-dejavu-core \
            dataset-fashion-mnist
# TEST_PKGS: what make test and make bench also need: Criterion (tests/*.c),
# busted and lua-expat (specs), shellcheck (generated scripts), tmux (the
# REPL test), chromium (the HTML report's screenshot), clang and its
# runtime (libFuzzer), slurm-wlm and munge (a real one-node cluster, tests/
# slurm), man-db (the man page's specs), Debian's PyTorch and the peers the
# specs, fixture generators and benchmarks compare with (tests/fixtures/
# make_*.py, bench/*.py)
TEST_PKGS := libcriterion-dev lua-busted lua-expat shellcheck tmux chromium \
             clang libclang-rt-14-dev slurm-wlm munge man-db \
             python3-torch python3-scipy python3-sklearn python3-pil \
             python3-torchvision python3-optuna

BRIDGE_SRC  := $(wildcard bindings/bridge/*.cpp)
BIND_SRC    := $(wildcard bindings/*.c)
RT_SRC      := $(filter-out runtime/main.c,$(wildcard runtime/*.c))
BRIDGE_OBJ  := $(BRIDGE_SRC:%.cpp=$(BUILD)/%.o)
BIND_OBJ    := $(BIND_SRC:%.c=$(BUILD)/%.o)
RT_OBJ      := $(RT_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ    := $(BUILD)/runtime/main.o
LIBCLARA    := $(BUILD)/libclara.a
# bindings the program links in; the others go into libclara_torch.so
CORE_BIND   := bindings/l_preload.c bindings/l_signal.c bindings/l_sys.c bindings/l_process.c
CORE_OBJ    := $(CORE_BIND:%.c=$(BUILD)/%.o)
TORCH_OBJ   := $(BRIDGE_OBJ) $(filter-out $(CORE_OBJ),$(BIND_OBJ))
TORCHLIB    := $(BUILD)/libclara_torch.so
TESTS_SRC   := $(wildcard tests/*_test.c)
TESTS_BIN   := $(TESTS_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps test-deps test demo bench clean asan help install uninstall
all: clara

help:
	@echo "make deps   install the missing Debian packages clara needs (root) or print the command"
	@echo "make test-deps  the same for the tests and benchmarks (and deps)"
	@echo "make        build ./clara"
	@echo "make test   C tests, busted specs, examples, REPL; ends with 'N passed, N failed'"
	@echo "make demo   train the default example (Fashion-MNIST)"
	@echo "make bench  benchmarks as ratios to PyTorch and libtorch C++"
	@echo "make asan   C tests under AddressSanitizer + UBSan"
	@echo "make install [PREFIX=/usr/local] [DESTDIR=]  the program, its library, stdlib, man page, examples"
	@echo "make uninstall [PREFIX=/usr/local] [DESTDIR=]  remove what make install put there"
	@echo "make clean  remove build products"

# $(call apt_install,PACKAGES): install those missing (root: apt-get), or
# print the command and fail
apt_install = @missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "$@: all installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "$@: installing $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "$@: missing packages; run as root:"; \
	  echo "  apt-get install -y --no-install-recommends $$missing"; exit 1; fi

deps:
	$(call apt_install,$(DEB_PKGS))
	@[ -d $(TORCH_SYS) ] || [ -d $(TORCH_DEV)/usr/include/torch ] || { \
	  v=$$(dpkg-query -W -f='$${Version}' libtorch1.13) && arch=$$($(CC) -print-multiarch) && \
	  rm -rf $(TORCH_DEV) && mkdir -p $(TORCH_DEV)/lib && cd $(TORCH_DEV) && \
	  echo "deps: unpacking libtorch-dev $$v (headers) into $(TORCH_DEV)" && \
	  apt-get download -q -o APT::Sandbox::User=root "libtorch-dev=$$v" && dpkg-deb -x libtorch-dev_*.deb . && rm -f libtorch-dev_*.deb && \
	  for l in usr/lib/$$arch/*.so; do ln -sf "/$$(dirname "$$l")/$$(readlink "$$l")" "lib/$$(basename "$$l")"; done; }

test-deps: deps
	$(call apt_install,$(TEST_PKGS))

clara: $(MAIN_OBJ) $(RT_OBJ) $(CORE_OBJ) $(TORCHLIB)
	$(CC) $(SAN) -o $@.tmp $(MAIN_OBJ) $(RT_OBJ) $(CORE_OBJ) $(CLARA_LIBS) -Wl,-E
	mv -f $@.tmp $@

$(TORCHLIB): $(TORCH_OBJ)
	$(CXX) $(SAN) -shared -o $@.tmp $(TORCH_OBJ) $(TORCH_LIBS)
	mv -f $@.tmp $@

$(LIBCLARA): $(BRIDGE_OBJ) $(BIND_OBJ) $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(wildcard bindings/*.h runtime/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCLARA_VERSION='"$(VERSION)"' -DCLARA_PREFIX='"$(PREFIX)"' \
	  $(if $(filter runtime/main.c,$<),-DCLARA_TORCH_VERSION='$(TORCH_VERSION)') -c $< -o $@

ifneq ($(TORCH_HEADERS),)
$(TORCH_HEADERS):
	@echo "libtorch's headers are missing: run make deps (or install libtorch-dev)"; exit 1
endif

# c10d's Gloo headers (torch.distributed) compile only with this
$(BUILD)/bindings/bridge/dist.o $(BUILD)/bindings/bridge/reducer.o $(BUILD)/bindings/bridge/local_sum.o: CXXFLAGS += -DUSE_C10D_GLOO

$(BUILD)/%.o: %.cpp bindings/torch_bridge.h $(wildcard bindings/bridge/*.h) | $(TORCH_HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/%.c $(LIBCLARA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime -o $@ $< -Wl,--whole-archive $(LIBCLARA) -Wl,--no-whole-archive -lcriterion $(LDLIBS) -lstdc++

PREFIX ?= /usr/local

# PREFIX/bin/clara finds its files from its own path (runtime/state.c), so
# an installed tree can be moved (DESTDIR=stage, then copied anywhere)
INST := $(DESTDIR)$(PREFIX)
install: clara
	install -d $(INST)/bin $(INST)/lib/clara $(INST)/share/man/man1
	install -m 755 clara $(INST)/bin/clara
	install -m 644 $(TORCHLIB) $(INST)/lib/clara/libclara_torch.so
	install -m 644 docs/clara.1 $(INST)/share/man/man1/clara.1
	rm -rf $(INST)/share/clara
	find stdlib examples -type f | while read -r f; do \
	  install -D -m 644 "$$f" "$(INST)/share/clara/$$f" || exit 1; done

uninstall:
	rm -f $(INST)/bin/clara $(INST)/share/man/man1/clara.1
	rm -rf $(INST)/lib/clara $(INST)/share/clara

test: test-deps clara $(TESTS_BIN)
	@bash tests/run.sh $(TESTS_BIN)

demo: deps clara
	./clara examples/fashion_mlp.lua

bench: test-deps clara
	@bash bench/run.sh

asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" OPT="-O1 -g" \
	  LDLIBS="$(filter-out -l:libtcmalloc%,$(LDLIBS))" \
	  build-asan/libclara.a $(TESTS_SRC:tests/%.c=build-asan/tests/%)
	@for t in $(TESTS_SRC:tests/%.c=build-asan/tests/%); do \
	  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $$t --jobs 1 || exit 1; done

clean:
	rm -rf build build-asan clara

# libFuzzer targets of the data parsers (tests/fuzz/fuzz_*.c, ASan + UBSan),
# built into build/fuzz/ and run FUZZ_TIME seconds each from the seed corpus
FUZZ_TIME ?= 20
.PHONY: fuzz torch-flags
fuzz:
	@FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz_test.sh

# where libtorch's headers and libraries are (tests/fuzz_test.sh builds with them)
torch-flags:
	@echo "TORCH_INC='$(TORCH_INC)' TORCH_LIB='$(TORCH_LIB)'"
