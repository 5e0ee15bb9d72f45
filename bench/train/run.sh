#!/usr/bin/env bash
# bench/train/run.sh [THREADS] [STEPS]: seconds per training step, dmlrun vs PyTorch, for
# ResNet18 (frozen BN) and smallcnn at 64x64, batch 90 (2 per class), oproxy loss, the same
# thread count on both sides. PyTorch is Debian's /usr/bin/python3 (torch 1.13.1). Needs the
# shim (make shim). Each side runs ROUNDS times, alternating, and the fastest round counts
# (the build machine is shared; the minimum is the least disturbed measurement). Prints a
# Markdown table; record it in bench/train/README.md. AUTOCAST=bf16: both sides under CPU
# bfloat16 autocast (forward and loss).
set -euo pipefail
cd "$(dirname "$0")/../.."
threads="${1:-$(nproc)}"
steps="${2:-10}"
rounds="${ROUNDS:-2}"
autocast="${AUTOCAST:-none}" # bf16: forward and loss under CPU bfloat16 autocast on both sides
bin="$(mktemp -d)/bench-train"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/train
echo "| model | threads | dmlrun s/step | PyTorch s/step | dmlrun / PyTorch |"
echo "|---|---|---|---|---|"
for arch in resnet18 smallcnn; do
  g=""; p=""
  for _ in $(seq "$rounds"); do
    g="$g $(OMP_NUM_THREADS="$threads" "$bin" -arch "$arch" -threads "$threads" -steps "$steps" -autocast "$autocast" | awk '{print $2}')"
    p="$p $(OMP_NUM_THREADS="$threads" /usr/bin/python3 bench/train/step.py --arch "$arch" --threads "$threads" --steps "$steps" --autocast "$autocast" | awk '{print $2}')"
  done
  g=$(echo $g | tr ' ' '\n' | sort -g | head -1)
  p=$(echo $p | tr ' ' '\n' | sort -g | head -1)
  r=$(awk -v a="$g" -v b="$p" 'BEGIN{printf "%.2f", a/b}')
  echo "| $arch 64x64, batch 90, $autocast | $threads | $g | $p | $r |"
done
