#!/usr/bin/env bash
# bench/datapath/overlap.sh [DATA_DIR]: what issue 17's overlap work saves, measured on the
# real code by stages/train's benchmarks (overlap_bench_test.go): one training epoch
# (runEpoch: data path + steps) with the next batch prefetched while the step runs and
# without, and the evaluation's embedding of the test split with per-batch allocation (the
# code before), buffers reused within a call (EmbedSplit) and an Embedder kept across calls
# (training's eval_every). smallcnn_normalize at 36/32 and resnet18_frozen_normalize at
# 72/64 (its epochs cut to 6 batches), emoji (google + twitter), batch 90, 2 per class.
# Each iteration runs the modes back to back in rotating order. Prints Markdown tables;
# record them in bench/datapath/README.md. Environment: PAIRS (iterations, default 3),
# THREADS (libtorch threads, default 2), BENCH (a -test.bench pattern, default both).
# Needs the shim (make shim) and scripts/fetch-data.sh's emoji set.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="$(cd "${1:-data}" && pwd)"
pairs="${PAIRS:-3}"
threads="${THREADS:-2}"
bench="${BENCH:-EpochPrefetch|EvalReuse}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/train.test" ./stages/train
cpu="$(lscpu | sed -n 's/^Model name: *//p')"
echo "machine: $cpu, $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u '+%Y-%m-%d %H:%M UTC'), start $(uptime | sed 's/.*load/load/')"
(cd stages/train && DMLRUN_BENCH_THREADS="$threads" DMLRUN_EMOJI="$data/emoji" \
  "$tmp/train.test" -test.run '^$' -test.bench "$bench" -test.benchtime="${pairs}x") >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
echo "end $(uptime | sed 's/.*load/load/')"
# m LINE NAME: the value before unit NAME on a benchmark line.
m() { echo "$1" | awk -v u="$2" '{for (i = 2; i <= NF; i++) if ($i == u) { print $(i-1); exit }}'; }
if grep -q '^BenchmarkEpochPrefetch' "$tmp/out"; then
  echo
  echo "| protocol | threads | batches/epoch | inline ms/epoch | prefetch ms/epoch | saved | data ms/batch (alone) | inline MB/epoch | prefetch MB/epoch | pairs |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  grep '^BenchmarkEpochPrefetch' "$tmp/out" | while read -r line; do
    name="$(echo "$line" | awk '{print $1}' | sed 's/^BenchmarkEpochPrefetch\///; s/-[0-9]*$//')"
    echo "| $name | $threads | $(m "$line" batches) | $(m "$line" inline-ms) | $(m "$line" prefetch-ms) | $(m "$line" saved-%)% | $(m "$line" data-per-batch-ms) | $(m "$line" inline-MB) | $(m "$line" prefetch-MB) | $pairs |"
  done
fi
if grep -q '^BenchmarkEvalReuse' "$tmp/out"; then
  echo
  echo "| protocol | threads | images | per-batch ms | EmbedSplit ms | Embedder ms | saved (Embedder vs per-batch) | per-batch MB / allocs | EmbedSplit MB / allocs | Embedder MB / allocs | pairs |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  grep '^BenchmarkEvalReuse' "$tmp/out" | while read -r line; do
    name="$(echo "$line" | awk '{print $1}' | sed 's/^BenchmarkEvalReuse\///; s/-[0-9]*$//')"
    echo "| $name | $threads | $(m "$line" images) | $(m "$line" perbatch-ms) | $(m "$line" fresh-ms) | $(m "$line" reuse-ms) | $(m "$line" saved-%)% | $(m "$line" perbatch-MB) / $(m "$line" perbatch-allocs) | $(m "$line" fresh-MB) / $(m "$line" fresh-allocs) | $(m "$line" reuse-MB) / $(m "$line" reuse-allocs) | $pairs |"
  done
fi
