#!/usr/bin/env bash
# bench/datapath/run.sh [DATA_DIR]: data path per batch (sampler draw + TrainBatch +
# tensors, as stages/train does after its first epoch) against one training step, on the
# emoji set (google + twitter) prepared by the load stage, batch 90, 2 per class,
# class_random, oproxy, torch on all cores (stages/train's default). Three protocols:
# smallcnn_normalize at base 36 / crop 32 (the quickstart), smallcnn_normalize and
# resnet18_frozen_normalize at base 72 / crop 64. Prints a Markdown table; record it in
# bench/datapath/README.md. Environment: STEPS (default 10; ResNet uses half), EPOCHS
# (data-path-only epochs, default 5), THREADS (default: all cores), BIN (a prebuilt
# bench/datapath binary). Needs the shim (make shim) and scripts/fetch-data.sh's emoji set.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-data}"
steps="${STEPS:-10}"
epochs="${EPOCHS:-5}"
threads="${THREADS:-$(nproc)}"
if [ -n "${BIN:-}" ]; then
  bin="$BIN" # a binary built earlier (e.g. while someone's edit breaks the build)
else
  bin="$(mktemp -d)/bench-datapath"
  trap 'rm -rf "$(dirname "$bin")"' EXIT
  go build -o "$bin" ./bench/datapath
fi
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u '+%Y-%m-%d %H:%M UTC'), $(uptime | sed 's/.*load/load/')"
echo
echo "| arch | base/crop | embed | threads | data ms (in loop) | step ms | data/step | median per-batch | data ms (alone) | TrainBatch ms | tensors ms | draw ms | load avg |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
while read -r arch base crop embed n; do
  out="$("$bin" -data "$data" -arch "$arch" -base "$base" -crop "$crop" -embed "$embed" -steps "$n" -epochs "$epochs" -threads "$threads")"
  la="$(uptime | sed 's/.*average: //')"
  echo "| $arch | $base/$crop | $embed | $threads | $(echo "$out" | get data_ms) | $(echo "$out" | get step_ms) | $(echo "$out" | get data_over_step_pct)% | $(echo "$out" | get median_batch_pct)% | $(echo "$out" | get alone_data_ms) | $(echo "$out" | get alone_trainbatch_ms) | $(echo "$out" | get alone_tensor_ms) | $(echo "$out" | get alone_draw_ms) | $la |"
done <<LIST
smallcnn_normalize 36 32 64 $steps
smallcnn_normalize 72 64 128 $steps
resnet18_frozen_normalize 72 64 128 $(( (steps + 1) / 2 ))
LIST
