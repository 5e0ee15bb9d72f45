#!/bin/sh
# bench/eval: dmlrun's evaluation (Go + libtorch) vs faiss on the same data, one run each.
#   bench/eval/run.sh [N D CLASSES]     (default 60000 128 11000: SOP's test set size)
# Prints both results and the time ratio dmlrun/faiss (< 1: dmlrun is faster).
set -eu
cd "$(dirname "$0")/../.."
N=${1:-60000}; D=${2:-128}; C=${3:-11000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/evalbench" ./bench/eval
"$tmp/evalbench" -n "$N" -d "$D" -classes "$C" -out "$tmp" > "$tmp/go.json"
/usr/bin/python3 bench/eval/faiss_bench.py "$tmp" "$N" "$D" "$C" > "$tmp/faiss.json"
/usr/bin/python3 - "$tmp/go.json" "$tmp/faiss.json" <<'PY'
import json, sys
g, f = (json.load(open(p)) for p in sys.argv[1:3])
print("N=%d D=%d classes=%d, threads dmlrun %d / faiss %d" % (g["n"], g["d"], g["classes"], g["threads"], f["threads"]))
print("%-34s %10s %10s %10s %12s" % ("", "search s", "kmeans s", "total s", "peak RSS MB"))
for r in (g, f):
    print("%-34s %10.2f %10.2f %10.2f %12.0f" % (r["impl"], r["search_s"], r["kmeans_s"], r["total_s"], r["peak_rss_mb"]))
print("%-34s %10.2f %10.2f %10.2f %12.2f" % ("ratio dmlrun/faiss", g["search_s"] / f["search_s"],
      g["kmeans_s"] / f["kmeans_s"], g["total_s"] / f["total_s"], g["peak_rss_mb"] / f["peak_rss_mb"]))
for m in sorted(g["metrics"]):
    print("  %-12s dmlrun %.6f  faiss %.6f" % (m, g["metrics"][m], f["metrics"][m]))
PY
