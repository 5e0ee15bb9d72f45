#!/usr/bin/env bash
# NIR loss forward+backward: dmlrun (Go + libtorch) vs PyTorch with the original's formulas,
# same thread count, same parameters and inputs (both print the loss: it must match).
#
#   bench/nir/run.sh [dims=128,512] [iters=30] [rounds=2]
#
# Runs from the repository root. Needs the shim (make shim) and /usr/bin/python3 with torch.
# The two implementations alternate for `rounds` rounds so that load on a shared machine hits
# both alike; the table reports, per dimension, the best median and the best minimum over the
# rounds and the ratio Go / PyTorch (< 1: Go faster).
#
# Environment: THREADS (default nproc) sets both sides' intra-op threads. OMP_WAIT_POLICY
# defaults to PASSIVE here: on a loaded machine OpenMP workers that spin-wait (the libgomp
# default) make the timings measure scheduler contention rather than the computation, and
# they hit the Python process far harder (see README.md). Set OMP_WAIT_POLICY=ACTIVE to
# measure libgomp's default on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIMS=${1:-128,512}
ITERS=${2:-30}
ROUNDS=${3:-2}
THREADS=${THREADS:-$(nproc)}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
PY=/usr/bin/python3

test -f torch/csrc/build/libdmlshim.so || { echo "run.sh: shim missing; run 'make shim' first" >&2; exit 1; }
BIN=$(mktemp -d)/nirbench
trap 'rm -rf "$(dirname "$BIN")"' EXIT
go build -o "$BIN" ./bench/nir

OUT=$(mktemp)
for r in $(seq "$ROUNDS"); do
  "$BIN" -dims "$DIMS" -iters "$ITERS" -threads "$THREADS" | tee -a "$OUT"
  "$PY" bench/nir/nir_torch.py --dims "$DIMS" --iters "$ITERS" --threads "$THREADS" | tee -a "$OUT"
done

echo
echo "libtorch $( "$PY" -c 'import torch; print(torch.__version__)' ) (Python) / Debian libtorch-dev (Go); threads=$THREADS; OMP_WAIT_POLICY=$OMP_WAIT_POLICY; load $(cut -d' ' -f1 /proc/loadavg); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
awk '
  { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    k = f["impl"] SUBSEP f["D"]
    if (!(k in med) || f["median_ms"] < med[k]) med[k] = f["median_ms"]
    if (!(k in mn) || f["min_ms"] < mn[k]) mn[k] = f["min_ms"]
    loss[k] = f["loss"]; dims[f["D"]] = 1 }
  END {
    printf "%-6s %14s %14s %8s %12s %12s %8s %14s %14s\n", "D", "go median ms", "py median ms", "ratio", "go min ms", "py min ms", "ratio", "go loss", "py loss"
    for (d in dims) {
      g = "go-libtorch" SUBSEP d; p = "pytorch" SUBSEP d
      printf "%-6s %14.2f %14.2f %8.2f %12.2f %12.2f %8.2f %14s %14s\n", d, med[g], med[p], med[g] / med[p], mn[g], mn[p], mn[g] / mn[p], loss[g], loss[p]
    }
  }' "$OUT" | sort -n
rm -f "$OUT"
