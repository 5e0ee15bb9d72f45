#!/bin/sh
# bench/torch/run.sh: the binding's benchmarks, the same training step in PyTorch, and
# their ratio. Both sides use THREADS intra-op threads (default: number of CPUs) and
# report their fastest run (COUNT runs of a few steps each), the figure least disturbed
# by other load on a shared machine. Run from the repository root (make bench-torch).
set -eu
THREADS=${THREADS:-$(nproc)}
COUNT=${COUNT:-5}
PY=${PY:-/usr/bin/python3}
export DMLRUN_BENCH_THREADS=$THREADS

out=$(go test ./bench/torch/ -run '^$' -bench 'SmallOp' -benchtime 200000x -count "$COUNT"
      go test ./bench/torch/ -run '^$' -bench 'TrainStep' -benchtime 3x -count "$COUNT")
echo "$out" | grep -E '^Benchmark'
py=$("$PY" bench/torch/bench_torch.py "$THREADS" "$COUNT" 3)
echo "$py"

min() { awk -v pat="$1" '$1 ~ pat { if (m == "" || $3 < m) m = $3 } END { print m }'; }
go_ns=$(echo "$out" | min '^BenchmarkTrainStep')
op_ns=$(echo "$out" | min '^BenchmarkSmallOp')
py_ns=$(echo "$py" | awk '/^pytorch_step_ns/ {print $2}')
awk -v g="$go_ns" -v p="$py_ns" -v o="$op_ns" -v t="$THREADS" 'BEGIN {
  printf "threads %d: small op %.0f ns/op; train step dmlrun %.1f ms, pytorch %.1f ms; ratio dmlrun/pytorch %.2f\n", t, o, g/1e6, p/1e6, g/p
}'
