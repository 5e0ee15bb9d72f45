# dmlrun build. `make` builds the libtorch shim and bin/dmlrun.
#
#   make shim                      shim against Debian's libtorch under /usr
#   make shim LIBTORCH=/opt/libtorch   shim against another libtorch (official zip or
#                                  pip torch's package dir); rpath points at it, and
#                                  libtorch_cuda is linked when present (CUDA builds)
#   make test                      shim, then go test ./...
#   make bench-torch               binding vs PyTorch benchmark (bench/torch)
#
# The Go side links only -ldmlshim; switching libtorch means rebuilding the shim only.

GO        ?= go
CXX       ?= g++
LIBTORCH  ?=
# 1 for Debian and for libtorch "cxx11 ABI" builds; pip wheels before torch 2.7 need 0.
TORCH_CXX11_ABI ?= 1
SHIM_OPT  ?= -O2

SHIM_DIR  := torch/csrc
BUILD     := $(SHIM_DIR)/build
SHIM_LIB  := $(BUILD)/libdmlshim.so
SHIM_SRCS := $(SHIM_DIR)/shim.cpp $(SHIM_DIR)/shim_nn.cpp
SHIM_OBJS := $(patsubst $(SHIM_DIR)/%.cpp,$(BUILD)/%.o,$(SHIM_SRCS))
SHIM_HDRS := $(SHIM_DIR)/shim.h $(SHIM_DIR)/shim_internal.h

ifeq ($(LIBTORCH),)
TORCH_INC  := -I/usr/include -I/usr/include/torch/csrc/api/include
TORCH_LIBS := -ltorch -ltorch_cpu -lc10
else
TORCH_INC  := -I$(LIBTORCH)/include -I$(LIBTORCH)/include/torch/csrc/api/include
TORCH_CUDA := $(if $(wildcard $(LIBTORCH)/lib/libtorch_cuda.so),-ltorch_cuda $(if $(wildcard $(LIBTORCH)/lib/libc10_cuda.so),-lc10_cuda))
TORCH_LIBS := -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 $(TORCH_CUDA) -Wl,--as-needed
endif

SHIM_CXXFLAGS := $(SHIM_OPT) -std=c++17 -fPIC -Wall -D_GLIBCXX_USE_CXX11_ABI=$(TORCH_CXX11_ABI) $(TORCH_INC)

.PHONY: all shim dmlrun test bench-torch clean-shim FORCE

all: shim dmlrun

shim: $(SHIM_LIB)

# Rebuild when the compiler flags or the chosen libtorch change, not only the sources.
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CXX) $(SHIM_CXXFLAGS) $(TORCH_LIBS)' | cmp -s - $@ || echo '$(CXX) $(SHIM_CXXFLAGS) $(TORCH_LIBS)' > $@

$(BUILD)/%.o: $(SHIM_DIR)/%.cpp $(SHIM_HDRS) $(BUILD)/flags
	$(CXX) $(SHIM_CXXFLAGS) -c $< -o $@

$(SHIM_LIB): $(SHIM_OBJS) $(BUILD)/flags
	$(CXX) -shared -o $@ $(SHIM_OBJS) $(TORCH_LIBS)

# cmd/dmlrun is added by another package; build it only once it exists.
dmlrun: shim
	@if [ -d cmd/dmlrun ]; then echo "$(GO) build -o bin/dmlrun ./cmd/dmlrun"; $(GO) build -o bin/dmlrun ./cmd/dmlrun; \
	else echo "cmd/dmlrun not present yet; skipping bin/dmlrun"; fi

test: shim
	$(GO) test ./...

bench-torch: shim
	./bench/torch/run.sh

clean-shim:
	rm -rf $(BUILD)
