# clara: build, test, benchmark.  `make help` lists the targets.

LIBTORCH ?=
ifeq ($(LIBTORCH),)
  TORCH_INC := -isystem /usr/include/torch/csrc/api/include
  TORCH_LIB :=
else
  TORCH_INC := -isystem $(LIBTORCH)/include \
               -isystem $(LIBTORCH)/include/torch/csrc/api/include
  TORCH_LIB := -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib
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

# Debian packages clara needs (DESIGN.md section 2)
DEB_PKGS := liblua5.4-dev libtorch-dev libopenblas0-pthread libedit-dev \
            libcriterion-dev zlib1g-dev lua-filesystem lua-cjson lua-busted \
            dataset-fashion-mnist gnuplot-nox fonts-dejavu-core lua-expat shellcheck chromium \
            python3-torch python3-scipy tmux libgloo-dev libspng-dev libturbojpeg0-dev \
            python3-pil python3-torchvision \
            libtcmalloc-minimal4 clang libclang-rt-14-dev \
            g++ make pkg-config
# the real one-node SLURM cluster of tests/slurm_test.sh (tests/slurm/cluster.sh)
DEB_PKGS += slurm-wlm munge

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

.PHONY: all deps test demo bench clean asan help check-deps
all: clara

help:
	@echo "make deps   install missing Debian packages (root) or print the command"
	@echo "make        build ./clara"
	@echo "make test   C tests, busted specs, examples, REPL; ends with 'N passed, N failed'"
	@echo "make demo   train the default example (Fashion-MNIST)"
	@echo "make bench  benchmarks as ratios to PyTorch and libtorch C++"
	@echo "make asan   C tests under AddressSanitizer + UBSan"
	@echo "make clean  remove build products"

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: missing packages; run as root:"; echo "  apt-get install -y $$missing"; exit 1; fi

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

# c10d's Gloo headers (torch.distributed) compile only with this
$(BUILD)/bindings/bridge/dist.o: CXXFLAGS += -DUSE_C10D_GLOO

$(BUILD)/%.o: %.cpp bindings/torch_bridge.h $(wildcard bindings/bridge/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/%.c $(LIBCLARA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime -o $@ $< -Wl,--whole-archive $(LIBCLARA) -Wl,--no-whole-archive -lcriterion $(LDLIBS) -lstdc++

PREFIX ?= /usr/local

test: deps clara $(TESTS_BIN)
	@bash tests/run.sh $(TESTS_BIN)

demo: deps clara
	./clara examples/fashion_mlp.lua

bench: deps clara
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
.PHONY: fuzz
fuzz:
	@FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz_test.sh
