#!/usr/bin/env bash
# bench/autocast/run.sh [JOBS]: bf16 autocast against float32, accuracy and time, on the
# cross-vendor emoji set (bench/autocast/emoji.hcl: ProxyAnchor, smallcnn at 32 px, three
# seeds each, 30 epochs). Applies the file into a fresh store with -j JOBS (default 2),
# then prints `dmlrun diff fp32 bf16` (the means over seeds, the difference and its 95%
# Welch interval) and each side's Recall@1 per seed and mean training seconds per epoch.
# Needs a CPU with AVX512-BF16 or AMX-BF16 (the train stage refuses bf16 elsewhere),
# bin/dmlrun (make all) and the emoji data (scripts/fetch-data.sh). EPOCHS= overrides 30.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs="${1:-2}"
epochs="${EPOCHS:-30}"
exp=bench/autocast/emoji.hcl
store="$(mktemp -d)/store"
trap 'rm -rf "$(dirname "$store")"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs," \
  "bf16 flags: $(grep -o -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
bin/dmlrun apply "$exp" --store "$store" -j "$jobs" -var epochs="$epochs" >/dev/null
echo "apply -j $jobs: $(( $(date +%s) - start )) s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
bin/dmlrun diff "$exp" fp32 bf16 --store "$store" -var epochs="$epochs"

# Per seed: test Recall@1 and the mean of train_log.csv's seconds column.
echo
echo "| side | seed | e_recall@1 | s/epoch |"
echo "|---|---|---|---|"
for side in fp32 bf16; do
  for seed in 0 1 2; do
    node="train.$side[seed=$seed]"
    dir=$(bin/dmlrun show "$exp" "$node" --store "$store" -var epochs="$epochs" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')
    eval_dir=$(bin/dmlrun show "$exp" "evaluate.test[embed.test[$node]]" --store "$store" -var epochs="$epochs" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')
    python3 - "$dir/train_log.csv" "$eval_dir/metrics.json" "$side" "$seed" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
secs = sum(float(r["seconds"]) for r in rows) / len(rows)
r1 = json.load(open(sys.argv[2]))["metrics"]["e_recall@1"]
print("| %s | %s | %.4f | %.2f |" % (sys.argv[3], sys.argv[4], r1, secs))
PY
  done
done
