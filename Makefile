# dmlrun build. `make` builds the libtorch shim and bin/dmlrun.
#
#   make shim                      shim against Debian's libtorch under /usr
#   make shim LIBTORCH=/opt/libtorch   shim against another libtorch: an official zip, or
#                                  pip torch's package dir (python -c 'import torch, os;
#                                  print(os.path.dirname(torch.__file__))'); rpath points at
#                                  it, and libtorch_cuda is linked when present (CUDA builds)
#   make test                      shim, then go test ./...
#   make bench-torch               binding vs PyTorch benchmark (bench/torch)
#   make bench-startup             startup of commands without tensors, new vs old binary
#                                  (bench/startup)
#   make device-build              bin/device/: what the GPU machine's device check needs
#   make device-check-cpu          scripts/device-check.sh --cpu (CPU mode; part of check)
#
# The Go binary does not link the shim: package torch dlopens libdmlshim.so on first use
# (torch/load.go: $DMLRUN_SHIM, next to the executable, the BUILD folder recorded below,
# ../torch/csrc/build, then the system loader path), so commands without tensors start
# without libtorch and `go build ./cmd/dmlrun` needs neither libtorch nor the shim.
# Switching libtorch means rebuilding the shim only.

GO        ?= go
CXX       ?= g++
LIBTORCH  ?=
# C++ ABI of the libtorch we link: 1 for Debian; for LIBTORCH it is read from the
# TorchConfig.cmake that official zips and pip wheels ship (pip wheels before torch 2.7
# use 0), falling back to 1. Override with TORCH_CXX11_ABI=0|1.
TORCH_CXX11_ABI ?= $(or $(if $(LIBTORCH),$(shell grep -o '_GLIBCXX_USE_CXX11_ABI=[01]' $(LIBTORCH)/share/cmake/Torch/TorchConfig.cmake 2>/dev/null | head -n1 | cut -d= -f2)),1)
SHIM_OPT  ?= -O2

SHIM_DIR  := torch/csrc
# Where make shim writes the shim; bin/dmlrun records it (-X below) as the folder its
# loader tries after the executable's own. Override BUILD to try a build elsewhere.
BUILD     ?= $(SHIM_DIR)/build
SHIM_LIB  := $(BUILD)/libdmlshim.so
SHIM_SRCS := $(SHIM_DIR)/shim.cpp $(SHIM_DIR)/shim_nn.cpp $(SHIM_DIR)/shim_autograd.cpp
SHIM_OBJS := $(patsubst $(SHIM_DIR)/%.cpp,$(BUILD)/%.o,$(SHIM_SRCS))
# shim_abi.h is generated with torch/shim_stubs.c from shim.h (go generate ./torch).
SHIM_HDRS := $(SHIM_DIR)/shim.h $(SHIM_DIR)/shim_internal.h $(SHIM_DIR)/shim_abi.h
GO_LDFLAGS := -X dmlrun/torch.shimBuildDir=$(abspath $(BUILD))

ifeq ($(LIBTORCH),)
TORCH_INC  := -I/usr/include -I/usr/include/torch/csrc/api/include
TORCH_LIBS := -ltorch -ltorch_cpu -lc10
else
TORCH_INC  := -I$(LIBTORCH)/include -I$(LIBTORCH)/include/torch/csrc/api/include
TORCH_CUDA := $(if $(wildcard $(LIBTORCH)/lib/libtorch_cuda.so),-ltorch_cuda $(if $(wildcard $(LIBTORCH)/lib/libc10_cuda.so),-lc10_cuda))
TORCH_LIBS := -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 $(TORCH_CUDA) -Wl,--as-needed
endif

SHIM_CXXFLAGS := $(SHIM_OPT) -std=c++17 -fPIC -Wall -D_GLIBCXX_USE_CXX11_ABI=$(TORCH_CXX11_ABI) $(TORCH_INC)

.PHONY: all shim dmlrun test bench-torch bench-startup clean-shim FORCE

all: shim dmlrun

shim: $(SHIM_LIB)

# Rebuild when the compiler flags or the chosen libtorch change, not only the sources.
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CXX) $(SHIM_CXXFLAGS) $(TORCH_LIBS)' | cmp -s - $@ || echo '$(CXX) $(SHIM_CXXFLAGS) $(TORCH_LIBS)' > $@

$(BUILD)/%.o: $(SHIM_DIR)/%.cpp $(SHIM_HDRS) $(BUILD)/flags
	$(CXX) $(SHIM_CXXFLAGS) -c $< -o $@

# Link to a temporary name and rename: processes that have the old library mapped keep
# running instead of crashing on a file rewritten under them.
$(SHIM_LIB): $(SHIM_OBJS) $(BUILD)/flags
	$(CXX) -shared -o $@.tmp $(SHIM_OBJS) $(TORCH_LIBS)
	mv -f $@.tmp $@

# bin/dmlrun needs no shim to build (nor libtorch to run commands without tensors: a
# login node builds it with `make dmlrun`); `make all` builds both.
dmlrun:
	$(GO) build -ldflags='$(GO_LDFLAGS)' -o bin/dmlrun ./cmd/dmlrun

# Every Go test. The ResNet parity references are generated once by Debian's
# python3-torchvision into a cache folder (they are too big to commit).
# The numeric packages run a second time on one libtorch thread (OMP_NUM_THREADS=1): other
# reduction orders, the same tolerances.
NUMERIC_PKGS := ./torch/... ./stages/... ./bench/internal/...
test: all
	DMLRUN_REF_DIR="$$(stages/models/testdata/ensure_ref.sh)" $(GO) test -count=1 -timeout 30m ./...
	DMLRUN_REF_DIR="$$(stages/models/testdata/ensure_ref.sh)" OMP_NUM_THREADS=1 $(GO) test -count=1 -timeout 30m $(NUMERIC_PKGS)

bench-torch: shim
	./bench/torch/run.sh

bench-startup: shim
	./bench/startup/run.sh

clean-shim:
	rm -rf $(BUILD)

# ---- Project entry points (README "Set-up") --------------------------------------------

.PHONY: deps deps-test data quickstart check vet fuzz-short e2e slurm-check

# What a fresh Debian 12 machine lacks: libtorch-dev, g++ (and for tests python3-torch,
# torchvision, Fashion-MNIST); idempotent.
deps:
	scripts/install-deps.sh

deps-test:
	scripts/install-deps.sh --test

# Fashion-MNIST (apt) and the emoji sets (npm pack) into data/.
data:
	scripts/fetch-data.sh

# README command 1: install what is missing, build, run the quickstart, print the diff.
quickstart: deps
	$(MAKE) data all
	bin/dmlrun apply experiments/quickstart.hcl
	bin/dmlrun show experiments/quickstart.hcl report.quickstart --cat table.md
	bin/dmlrun diff experiments/quickstart.hcl baseline nir

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# A short fuzz run of every fuzz target (experiment files, manifests, manifest keys,
# safetensors, IDX and image decoding, dataset trees and info files, .pth files). Counted in
# executions, not seconds: a time limit that expires while a worker is busy makes go test
# report "context deadline exceeded" although nothing failed.
fuzz-short: all
	$(GO) test ./spec -run '^$$' -fuzz '^FuzzParseHCL$$' -fuzztime 30000x -fuzzminimizetime 5s
	$(GO) test ./spec -run '^$$' -fuzz '^FuzzParseYAML$$' -fuzztime 30000x -fuzzminimizetime 5s
	$(GO) test ./store -run '^$$' -fuzz '^FuzzDecodeManifest$$' -fuzztime 20000x -fuzzminimizetime 5s
	$(GO) test ./safetensors -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 20000x -fuzzminimizetime 5s
	$(GO) test ./pipeline -run '^$$' -fuzz '^FuzzManifestKey$$' -fuzztime 20000x -fuzzminimizetime 5s
	$(GO) test ./stages/load -run '^$$' -fuzz '^FuzzReadIDX$$' -fuzztime 50000x -fuzzminimizetime 5s
	$(GO) test ./stages/load -run '^$$' -fuzz '^FuzzIDXDataset$$' -fuzztime 10000x -fuzzminimizetime 200x
	$(GO) test ./stages/load -run '^$$' -fuzz '^FuzzInfoFile$$' -fuzztime 50000x -fuzzminimizetime 5s
	$(GO) test ./stages/load -run '^$$' -fuzz '^FuzzDecodeRGB$$' -fuzztime 50000x -fuzzminimizetime 5s
	$(GO) test ./stages/load -run '^$$' -fuzz '^FuzzDatasetTree$$' -fuzztime 5000x -fuzzminimizetime 100x
	$(GO) test ./torch -run '^$$' -fuzz '^FuzzLoadPth$$' -fuzztime 20000x -fuzzminimizetime 200x
	$(GO) test ./torch -run '^$$' -fuzz '^FuzzPthPickle$$' -fuzztime 10000x -fuzzminimizetime 200x

# End-to-end regression check on real data (experiments/ci.hcl), cache and resume checks,
# then the crash matrix: SIGKILL at every fault point, re-apply, compare with an
# uninterrupted run.
e2e: all
	scripts/e2e.sh
	scripts/crash-matrix.sh

# The Slurm executor on a real one-node cluster (scripts/slurm/check.sh): starts munged,
# slurmctld and slurmd under a temporary folder, applies experiments/ci.hcl through
# --executor slurm (same results as local, a scancel'd job retried, the pre-limit signal
# requeues and resumes byte-identically, two heads compute each node once, --detach), and
# stops the daemons by their pid files. Needs root or sudo (slurmd, munged).
slurm-check: all
	bash scripts/slurm/check.sh

# README command 2 (and CI): install what is missing, then every check.
check: deps-test
	$(MAKE) data all
	$(MAKE) vet
	$(MAKE) test
	$(MAKE) fuzz-short
	$(MAKE) e2e
	$(MAKE) slurm-check
	$(MAKE) device-check-cpu

# ---- Device check (scripts/device-check.sh, bench/device/README.md) ---------------------

.PHONY: device-build device-check-cpu

# What the GPU machine (no Go) needs, in one folder to carry (bin/ is git-ignored): dmlrun,
# the dmlrun side of the step benchmark and `go test -c` binaries of the packages with CUDA
# tests, stripped, against the shim's C header only (on the GPU machine the script rebuilds
# the shim against its torch and puts it first on LD_LIBRARY_PATH). The device tool carries
# at most 64 MiB: the sizes are printed and a bigger folder is an error.
DEVICE_BIN      := bin/device
DEVICE_LDFLAGS  := -s -w
DEVICE_TESTS    := torch:./torch nir:./stages/nir evaluate:./stages/evaluate devstep:./bench/device/devstep
DEVICE_MAX_KIB  := 65536

device-build: shim
	@mkdir -p $(DEVICE_BIN)
	$(GO) build -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BIN)/dmlrun ./cmd/dmlrun
	$(GO) build -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BIN)/step ./bench/device/step
	@set -e; for t in $(DEVICE_TESTS); do \
		echo "$(GO) test -c -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BIN)/$${t%%:*}.test $${t#*:}"; \
		$(GO) test -c -ldflags='$(DEVICE_LDFLAGS)' -o $(DEVICE_BIN)/$${t%%:*}.test $${t#*:}; \
	done
	@ls -l $(DEVICE_BIN) | awk 'NR>1{printf "  %-16s %6.1f MiB\n", $$9, $$5/1048576}'
	@kib=$$(du -sk $(DEVICE_BIN) | cut -f1); echo "  $(DEVICE_BIN) total $$((kib / 1024)) MiB (carry limit 64 MiB)"; \
	if [ $$kib -gt $(DEVICE_MAX_KIB) ]; then echo "$(DEVICE_BIN) is over the 64 MiB the device tool carries"; exit 1; fi

# The device check's CPU mode: every step of scripts/device-check.sh on the CPU (CUDA
# subtests skip, toy benchmark sizes), under 2 minutes; fails if any step fails.
device-check-cpu: device-build
	bash scripts/device-check.sh --cpu --out $${TMPDIR:-/tmp}/dmlrun-device-check-cpu
