#!/usr/bin/env bash
# bench/load/run.sh [DATA_DIR] [BASE]: decode + resize throughput of the load stage (Go)
# against Pillow doing the same work, single-threaded and on all cores, with ratios of
# wall-clock rates and of images per CPU-second (the fairer number on a busy machine).
# Needs scripts/fetch-data.sh's emoji set and Debian's /usr/bin/python3 with PIL + numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-data}"
base="${2:-256}"
cores="$(nproc)"
go build -o /tmp/dmlrun-loadbench ./bench/load
rate() { sed -n 's/.* images_per_s=\([0-9.]*\).*/\1/p'; }
cpurate() { sed -n 's/.*images_per_cpu_s=\([0-9.]*\).*/\1/p'; }
echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3), Pillow $(/usr/bin/python3 -c 'import PIL; print(PIL.__version__)')"
for w in 1 "$cores"; do
  g="$(/tmp/dmlrun-loadbench -data "$data" -base "$base" -workers "$w")"
  p="$(/usr/bin/python3 bench/load/pil_bench.py "$data" google "$base" "$w")"
  echo "$g"
  echo "$p"
  gr="$(echo "$g" | rate)"; pr="$(echo "$p" | rate)"
  gc="$(echo "$g" | cpurate)"; pc="$(echo "$p" | cpurate)"
  echo "ratio go/pil (workers=$w): wall $(/usr/bin/python3 -c "print('%.2f' % ($gr / $pr))"), per CPU-second $(/usr/bin/python3 -c "print('%.2f' % ($gc / $pc))")"
done
