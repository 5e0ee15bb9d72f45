#!/usr/bin/env bash
# scripts/device-check.sh [--cpu] [--out DIR] [--bin DIR]: the GPU path of dmlrun, checked on
# a real GPU in one run (issue 15). See bench/device/README.md for what is measured.
#
# HOW THE LEAD RUNS IT ON THE GPU MACHINE (the device tool, `run`)
#   1. Here, on the build machine:   make device-build
#      It builds bin/device/ (about 40 MB, stripped; it prints the sizes and fails above
#      64 MiB): dmlrun, step (the dmlrun side of the step benchmark) and the `go test -c`
#      binaries torch.test, nir.test, evaluate.test, devstep.test. The GPU machine has no Go.
#   2. One call of the device tool, with
#        carry:     ["bin/device"]       (the shim sources, bench/device/ and the testdata
#                                         folders are tracked files and travel anyway)
#        command:   bash scripts/device-check.sh
#        timeout_s: 360                  (the script keeps its own budget, DEVICE_CHECK_BUDGET_S,
#                                         default 330 s, and skips what no longer fits, so its
#                                         results come back; expected run 3-5 min: shim build
#                                         1-2 min, tests 1 min, benchmark 1-2 min, apply
#                                         0.5 min; 360 leaves room for one rerun on the warm
#                                         machine in a 15-minute lease)
#      then give_back unless rerunning at once.
#   3. The results land in $OUT/results.json (the results file: every step, test, parity
#      figure with its tolerance, benchmark row) and $OUT/results.md (the same as tables,
#      for bench/README.md), with one log per step in $OUT/logs/. The device tool copies
#      them back under its files_at folder. The script rewrites both files after every
#      step, so a run cut short still returns what it did.
#
# What it does (device mode):
#   - builds the shim against the pip torch of `python3` (make shim LIBTORCH=<torch dir>
#     BUILD=<tmp>, the C++ ABI read from torch._C._GLIBCXX_USE_CXX11_ABI, cross-checked with
#     TorchConfig.cmake) with g++, and points DMLRUN_SHIM (and LD_LIBRARY_PATH) at it: the Go
#     binaries link no library but libc and load libdmlshim.so at the first tensor call,
#     DMLRUN_SHIM first (the C header is the same; a shim from another header is refused);
#   - runs the CUDA tests: torch (-test.run 'CUDA|ParseDevice'), stages/nir, stages/evaluate
#     and bench/device/devstep (-test.run CUDA): op, gradient, autocast, Adam and transfer
#     parity, NIR golden cases, Recall@k/NMI, 20 ResNet18 training steps; each prints
#     "parity: {json}" lines with its measured difference and tolerance;
#   - the step benchmark: ResNet50 frozen BN, batch 90, 224 px, fp32 and bf16 autocast,
#     10 warm-up + 50 timed steps, dmlrun (bin/device/step) then PyTorch eager
#     (bench/device/step.py) on the same torch, img/s and peak GPU memory (nvidia-smi for
#     both; torch.cuda.max_memory_allocated for PyTorch too: the shim exposes no allocator
#     statistics);
#   - `dmlrun apply bench/device/tiny.hcl --device cuda:0` on a generated folder dataset
#     (bench/device/gen_folder.py), fp32 and bf16 autocast training, embed, evaluate, report.
#   A failed step is recorded and the next one runs; the exit status is 1 if any failed.
#
# --cpu: the same steps on the CPU with the shim built here (torch/csrc/build, Debian's
#   libtorch) and Debian's /usr/bin/python3 torch, small sizes (benchmark: batch 4, 32 px,
#   1 + 2 steps), so that every path of the script runs in CI (`make device-check-cpu`, the
#   last part of `make check`). CUDA subtests skip there with their reason; the results file
#   lists what ran and what skipped. It fails (exit 1, the failed steps on stderr) if any
#   step fails. --out DIR (default: a new temporary folder) takes the place of $OUT.
#   --bin DIR: where the binaries are (default bin/device).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=device
out=${OUT:-}
bindir=bin/device
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) mode=cpu ;;
    --out) out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    --bin) bindir=$2; shift ;;
    --bin=*) bindir=${1#--bin=} ;;
    -h|--help) sed -n '2,60p' "$0"; exit 0 ;;
    *) echo "device-check: unknown argument $1 (want --cpu, --out DIR, --bin DIR)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ "$mode" = device ]; then
    echo "device-check: \$OUT is not set (the device tool sets it; elsewhere use --out DIR or --cpu)" >&2
    exit 2
  fi
  out=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-device-check.XXXXXX")
fi
rm -rf "$out/logs" "$out/steps.tsv" "$out/results.json" "$out/results.md"
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
bindir=$(cd "$bindir" 2>/dev/null && pwd) || { echo "device-check: no $bindir: run make device-build first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-device-work.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

start=$(date +%s)
budget=${DEVICE_CHECK_BUDGET_S:-330}
[ "$mode" = cpu ] && budget=${DEVICE_CHECK_BUDGET_S:-600}
steps="$out/steps.tsv"
: >"$steps"
failed=()

# Python with torch: the venv's python3 on the GPU machine, Debian's on the build machine.
if [ -n "${PYTHON:-}" ]; then
  py=$PYTHON
elif [ "$mode" = cpu ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  py=/usr/bin/python3
else
  py=python3
fi
# results.py needs the standard library only
rpy=$(command -v python3 || echo "$py")

# Overrides, for dry runs of the device mode without a GPU (DEVICE_CHECK_DEVICE=cpu
# DEVICE_CHECK_SIZES=small DEVICE_CHECK_LIBTORCH=<a libtorch dir>) and for other libtorch
# builds: DEVICE_CHECK_LIBTORCH is the libtorch the shim is built against (default: the
# torch package of $PYTHON), DEVICE_CHECK_DEVICE the device of tests' callers, benchmark
# and apply (default cuda:0), DEVICE_CHECK_SIZES=small the CPU mode's benchmark sizes.
if [ "$mode" = device ]; then
  dev=${DEVICE_CHECK_DEVICE:-cuda:0}
  b_batch=90 b_size=224 b_warm=10 b_steps=50
  threads=0
  autocast=bf16
else
  dev=cpu
  threads=$(nproc)
  autocast=none
fi
if [ "$mode" = cpu ] || [ "${DEVICE_CHECK_SIZES:-}" = small ]; then
  b_batch=4 b_size=32 b_warm=1 b_steps=2
fi
[ "$dev" = cpu ] && autocast=none # the train stage refuses bf16 on CPUs without bfloat16 instructions

assemble() {
  "$rpy" "$root/bench/device/results.py" --out "$out" --mode "$mode" --start "$start" >"$out/logs/results.log" 2>&1 ||
    echo "device-check: writing the results file failed, see $out/logs/results.log" >&2
}

# step NAME TIMEOUT CMD...: run CMD with a time limit, its output in logs/NAME.log; record
# name, status, exit code and seconds in steps.tsv. Skipped when the budget is spent.
step() {
  local name=$1 limit=$2
  shift 2
  local log="$out/logs/$name.log"
  local now; now=$(date +%s)
  local left=$((budget - (now - start)))
  if [ "$left" -lt 15 ]; then
    printf '%s\tskipped\t-\t0\tout of time (under 15 s of the %s s budget left)\n' "$name" "$budget" >>"$steps"
    echo "== $name: skipped, out of time" >&2
    failed+=("$name (out of time)")
    assemble
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s)" >&2
  local t0; t0=$(date +%s.%N)
  # the step functions are exported (below), so timeout can run them in a child bash;
  # timeout signals that child's whole process group
  timeout --signal=TERM --kill-after=10 "$limit" bash -c '"$@"' step-"$name" "$@" >"$log" 2>&1
  local rc=$?
  local secs; secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  local status=pass
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    status=timeout
  elif [ "$rc" -ne 0 ]; then
    status=fail
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$secs" "" >>"$steps"
  if [ "$status" != pass ]; then
    failed+=("$name ($status, exit $rc; log $log)")
    echo "   $status (exit $rc) after ${secs}s; last lines of $log:" >&2
    tail -n 15 "$log" | sed 's/^/   | /' >&2
  else
    echo "   ok in ${secs}s" >&2
  fi
  assemble
  [ "$status" = pass ]
}

# ---- environment -------------------------------------------------------------------------
env_info() {
  echo "mode=$mode"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host=$(uname -srm)"
  echo "cpus=$(nproc)"
  echo "glibc=$(ldd --version 2>/dev/null | head -n1)"
  echo "gxx=$(g++ --version 2>/dev/null | head -n1)"
  echo "python=$py"
  "$py" - <<'EOF' || true
import os, torch
print("torch=" + torch.__version__)
print("torch_dir=" + os.path.dirname(torch.__file__))
print("torch_cxx11_abi=%d" % int(torch._C._GLIBCXX_USE_CXX11_ABI))
print("cuda_available=%s" % torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu=" + torch.cuda.get_device_name(0))
    print("cuda=" + str(torch.version.cuda))
    print("cudnn=" + str(torch.backends.cudnn.version()))
EOF
  if command -v nvidia-smi >/dev/null; then
    echo "nvidia_smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n1)"
  else
    echo "nvidia_smi=unavailable"
  fi
  echo "binaries=$(cd "$bindir" && ls -l | awk 'NR>1{printf "%s:%d ", $9, $5}')"
}
export mode out root bindir py rpy dev threads b_batch b_size b_warm b_steps autocast work
export -f env_info
step env 60 env_info

# ---- shim --------------------------------------------------------------------------------
shimdir=$root/torch/csrc/build
build_shim() {
  local tdir abi cfg_abi
  local pydir
  pydir=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))') || return 1
  tdir=${DEVICE_CHECK_LIBTORCH:-$pydir}
  cfg_abi=$(grep -o '_GLIBCXX_USE_CXX11_ABI=[01]' "$tdir/share/cmake/Torch/TorchConfig.cmake" 2>/dev/null | head -n1 | cut -d= -f2)
  if [ "$tdir" = "$pydir" ]; then
    # the ABI the wheel was built with, as torch itself reports it
    abi=$("$py" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))') || return 1
  else
    abi=${cfg_abi:-1}
  fi
  echo "libtorch $tdir (python's torch: $pydir); C++11 ABI $abi (TorchConfig.cmake says ${cfg_abi:-nothing})"
  if [ -n "$cfg_abi" ] && [ "$cfg_abi" != "$abi" ]; then
    echo "warning: torch reports ABI $abi but TorchConfig.cmake says $cfg_abi; building with $abi"
  fi
  ls "$tdir/lib" | grep -E '^lib(torch|c10)' || true
  if command -v make >/dev/null; then
    make -j"$(nproc)" shim LIBTORCH="$tdir" TORCH_CXX11_ABI="$abi" BUILD="$shimdir" || return 1
  else
    # no make: the Makefile's shim rule by hand (same flags)
    echo "make not found: compiling with g++ directly"
    mkdir -p "$shimdir"
    local flags=(-O2 -std=c++17 -fPIC -Wall -D_GLIBCXX_USE_CXX11_ABI="$abi" -I"$tdir/include" -I"$tdir/include/torch/csrc/api/include")
    local pids=() src
    for src in shim shim_nn shim_autograd; do
      g++ "${flags[@]}" -c "torch/csrc/$src.cpp" -o "$shimdir/$src.o" & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || return 1; done
    local cuda=()
    [ -e "$tdir/lib/libtorch_cuda.so" ] && cuda+=(-ltorch_cuda)
    [ -e "$tdir/lib/libc10_cuda.so" ] && cuda+=(-lc10_cuda)
    g++ -shared -o "$shimdir/libdmlshim.so" "$shimdir"/shim*.o -L"$tdir/lib" -Wl,-rpath,"$tdir/lib" \
      -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 "${cuda[@]}" -Wl,--as-needed || return 1
  fi
  readelf -d "$shimdir/libdmlshim.so" | grep -E 'NEEDED|RUNPATH|RPATH'
}
check_cpu_shim() {
  [ -e "$shimdir/libdmlshim.so" ] || { echo "no $shimdir/libdmlshim.so: run make shim (make device-build does)"; return 1; }
  readelf -d "$shimdir/libdmlshim.so" | grep -E 'NEEDED|RUNPATH|RPATH'
}
export -f build_shim check_cpu_shim
if [ "$mode" = device ]; then
  shimdir=$work/shim-cuda
  export shimdir
  step shim 240 build_shim
else
  export shimdir
  step shim 30 check_cpu_shim
fi
export LD_LIBRARY_PATH="$shimdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The binaries dlopen the shim at their first tensor call; DMLRUN_SHIM wins over the build
# folder they recorded on the build machine.
export DMLRUN_SHIM="$shimdir/libdmlshim.so"

loader() {
  ldd "$shimdir/libdmlshim.so" | grep -E 'torch|c10|cuda|not found' || true
  if ldd "$bindir/dmlrun" 2>&1 | grep -q 'not found\|GLIBC'; then
    ldd "$bindir/dmlrun" >&2 || true
    echo "a library is missing (above); GLIBC errors mean this machine's glibc is older than the build machine's"
    return 1
  fi
  out=$("$bindir/dmlrun" version) || return 1
  echo "$out"
  case "$out" in
    *"(shim $DMLRUN_SHIM)"*) ;;
    *) echo "dmlrun did not load the shim at $DMLRUN_SHIM"; return 1 ;;
  esac
}
export -f loader
step loader 60 loader

# ---- CUDA tests ----------------------------------------------------------------------------
# gotest NAME PKGDIR PATTERN: the test binary bin/device/NAME.test in its package folder
# (tests read testdata/ relative to it).
gotest() {
  local name=$1 pkg=$2 pattern=$3
  (cd "$root/$pkg" && "$bindir/$name.test" -test.run "$pattern" -test.v -test.count=1 -test.timeout 300s)
}
export -f gotest
step test-torch 90 gotest torch torch 'CUDA|ParseDevice'
step test-nir 60 gotest nir stages/nir 'CUDA'
step test-evaluate 60 gotest evaluate stages/evaluate 'CUDA'
step test-train 120 gotest devstep bench/device/devstep 'CUDA'

# ---- step benchmark ------------------------------------------------------------------------
# bench SIDE PRECISION: one side of the benchmark, its JSON line in logs/bench-*.json and
# nvidia-smi samples (every 100 ms) beside it.
bench() {
  local side=$1 prec=$2 tag="bench-$1-$2"
  local smi="" smipid="" appspid=""
  if [ "$mode" = device ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >"$out/logs/$tag.smi-base" 2>&1
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$out/logs/$tag.smi" 2>/dev/null &
    smipid=$!
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits -lms 100 >"$out/logs/$tag.smi-apps" 2>/dev/null &
    appspid=$!
  fi
  local rc=0
  if [ "$side" = dmlrun ]; then
    "$bindir/step" -device "$dev" -arch resnet50_frozen_normalize -precision "$prec" -threads "$threads" \
      -batch "$b_batch" -size "$b_size" -warmup "$b_warm" -steps "$b_steps" >"$out/logs/$tag.json" || rc=$?
  else
    "$py" "$root/bench/device/step.py" --device "$dev" --arch resnet50 --precision "$prec" --threads "$threads" \
      --batch "$b_batch" --size "$b_size" --warmup "$b_warm" --steps "$b_steps" >"$out/logs/$tag.json" || rc=$?
  fi
  for p in $smipid $appspid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  cat "$out/logs/$tag.json"
  return $rc
}
export -f bench
for prec in fp32 bf16; do
  step "bench-dmlrun-$prec" 90 bench dmlrun "$prec"
  step "bench-pytorch-$prec" 90 bench pytorch "$prec"
done

# ---- dmlrun apply end to end ---------------------------------------------------------------
apply_tiny() {
  local data=$work/tiny-data store=$work/store
  "$rpy" "$root/bench/device/gen_folder.py" "$data" --classes 8 --per-class 8 --size 40 || return 1
  local vars=(--var "data_root=$data" --var "autocast=$autocast")
  "$bindir/dmlrun" apply bench/device/tiny.hcl --device "$dev" --store "$store" "${vars[@]}" || return 1
  echo "---- report.tiny table.md"
  "$bindir/dmlrun" show bench/device/tiny.hcl report.tiny --cat table.md --store "$store" "${vars[@]}" | tee "$out/logs/apply-table.md" || return 1
  local b
  for b in fp32 amp; do
    echo "---- evaluate.test[embed.test[train.$b]] metrics.json"
    "$bindir/dmlrun" show bench/device/tiny.hcl "evaluate.test[embed.test[train.$b]]" --cat metrics.json --store "$store" "${vars[@]}" \
      >"$out/logs/apply-metrics-$b.json" || return 1
    cat "$out/logs/apply-metrics-$b.json"
    echo
  done
}
export -f apply_tiny
step apply 120 apply_tiny

"$rpy" "$root/bench/device/results.py" --out "$out" --mode "$mode" --start "$start" --summary ||
  failed+=("results file (bench/device/results.py failed)")
echo "device-check ($mode): results in $out/results.json and $out/results.md" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "device-check ($mode): FAILED steps:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
