#!/usr/bin/env bash
# update-expected.sh STORE: rewrites experiments/expected/ci-*.json from the finished
# experiments/ci.hcl runs in STORE (after an apply you trust), keeping a tolerance per metric.
# The tolerance absorbs float differences between CPUs (libtorch picks kernels by CPU);
# on the same machine kind the metrics repeat exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:?usage: scripts/update-expected.sh STORE}
dml=${DMLRUN:-bin/dmlrun}
exp=experiments/ci.hcl
tolerance=${TOLERANCE:-0.03}
mkdir -p experiments/expected
for pair in "fmnist_baseline:evaluate.fmnist[embed.fmnist[train.fmnist_baseline]]" \
            "fmnist_nir:evaluate.fmnist[embed.fmnist[train.fmnist_nir]]" \
            "emoji_nir:evaluate.emoji[embed.emoji[train.emoji_nir]]"; do
  block=${pair%%:*}
  node=${pair#*:}
  out="experiments/expected/ci-${block//_/-}.json"
  "$dml" show "$exp" "$node" --store "$store" --json |
    python3 -c '
import json, os, sys
tol = float(sys.argv[1])
d = json.load(sys.stdin)["dir"]
m = json.load(open(os.path.join(d, "metrics.json")))["metrics"]
print(json.dumps({"metrics": {k: {"mean": round(v, 6), "tolerance": tol} for k, v in sorted(m.items())}}, indent=2))
' "$tolerance" >"$out"
  echo "wrote $out"
done
