#!/usr/bin/env bash
# The Slurm executor's overheads on a real one-node cluster (scripts/slurm/start.sh):
#  - the head's CPU time (user + sys, its squeue/sbatch children included) and its Slurm
#    command calls while it drives 100 queued nodes (100 dataset blocks over Fashion-MNIST
#    subsets, each a short job), against the CPU the 100 jobs themselves used;
#  - submit-to-start latency (Slurm's SubmitTime -> StartTime, 1 s resolution) of a
#    one-node dmlrun apply on an idle cluster, side by side with a plain `sbatch --wrap true`
#    (Slurm's own latency, the reference), 5 rounds each.
# Prints a table for bench/README.md with the CPU model, cores and load.
#
#   bench/slurm/run.sh            (needs root or sudo, data/fashion-mnist: scripts/fetch-data.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
dml=$(realpath "${DMLRUN:-bin/dmlrun}")
nodes=${NODES:-100}
rounds=${ROUNDS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-bench-slurm.XXXXXX")
chmod 0755 "$work"
cluster="$work/cluster"
trap 'scripts/slurm/stop.sh "$cluster"; rm -rf "$work"' EXIT
scripts/slurm/start.sh "$cluster" >/dev/null
# shellcheck disable=SC1091
. "$cluster/env"

# Count the head's Slurm calls: wrappers first on PATH.
mkdir -p "$work/bin"
for c in sbatch squeue sacct scancel scontrol sinfo; do
  real=$(command -v "$c")
  printf '#!/bin/sh\necho %s >> "%s/calls"\nexec %s "$@"\n' "$c" "$work" "$real" >"$work/bin/$c"
  chmod +x "$work/bin/$c"
done

data=$(realpath data/fashion-mnist)
{
  for i in $(seq 1 "$nodes"); do
    printf 'dataset "d%d" {\n  kind = "idx"\n  root = "%s"\n  base = 32\n  crop = 28\n  subset = { classes = 2, per_class = %d }\n}\n' "$i" "$data" "$((i + 4))"
  done
} >"$work/many.hcl"
printf 'dataset "one" {\n  kind = "idx"\n  root = "%s"\n  base = 32\n  crop = 28\n  subset = { classes = 2, per_class = ROUND }\n}\n' "$data" >"$work/one.hcl.in"
cat >"$work/slurm.hcl" <<'CONF'
poll     = "1s"
poll_max = "5s"
stage "default" {
  cpus = 1
}
CONF

# 1. The head driving 100 nodes.
: >"$work/calls"
start=$(date +%s.%N)
PATH="$work/bin:$PATH" /usr/bin/time -f '%U %S %e' -o "$work/head.time" \
  "$dml" apply "$work/many.hcl" --store "$work/store" --executor slurm --executor-config "$work/slurm.hcl" >"$work/many.log" 2>&1 ||
  { tail -n 30 "$work/many.log" >&2; exit 1; }
read -r hu hs hwall <"$work/head.time"
run=$(sed -n 's/^slurm: run \([^:]*\):.*/\1/p' "$work/many.log")
# What the head drives, for scale: the jobs' summed elapsed time (squeue %M; this cluster
# keeps no accounting of their CPU).
jobs_elapsed=$(squeue -h -t all --name="$run" -o '%M' | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; t += s } END { print t + 0 }')
ncalls() { grep -c "^$1\$" "$work/calls" || true; }

# 2. Submit-to-start latency, idle cluster: dmlrun (one node) and plain sbatch.
lat() { # JOBID -> StartTime - SubmitTime in seconds
  local sub st
  sub=$(squeue -h -t all -j "$1" -o %V)
  st=$(squeue -h -t all -j "$1" -o %S)
  echo $(($(date -d "$st" +%s) - $(date -d "$sub" +%s)))
}
dml_lat=() ref_lat=()
for r in $(seq 1 "$rounds"); do
  sed "s/ROUND/$((200 + r))/" "$work/one.hcl.in" >"$work/one.hcl"
  "$dml" apply "$work/one.hcl" --store "$work/store1" --executor slurm --executor-config "$work/slurm.hcl" >"$work/one.log" 2>&1 ||
    { cat "$work/one.log" >&2; exit 1; }
  id=$(sed -n 's/.*submitted as Slurm job \([0-9_]*\).*/\1/p' "$work/one.log" | head -n 1)
  dml_lat+=("$(lat "$id")")
  id=$(sbatch --parsable -o /dev/null --wait --wrap true)
  ref_lat+=("$(lat "$id")")
done
mean() { printf '%s\n' "$@" | awk '{ t += $1 } END { printf "%.1f", t / NR }'; }

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
echo
echo "machine: $cpu, $(nproc) cores; load average after: $(cut -d' ' -f1-3 /proc/loadavg); Slurm $(sinfo -V | cut -d' ' -f2)"
echo
echo "| measure | dmlrun | reference | ratio |"
echo "|---|---|---|---|"
echo "| head CPU for $nodes queued nodes (user+sys, s) | $(awk -v u="$hu" -v s="$hs" 'BEGIN{printf "%.2f", u+s}') | the jobs' elapsed time, $jobs_elapsed s | $(awk -v u="$hu" -v s="$hs" -v j="$jobs_elapsed" 'BEGIN{ if (j > 0) printf "%.3f", (u+s)/j; else print "-" }') |"
echo "| head wall for $nodes nodes (s) | $hwall | - | - |"
echo "| head Slurm calls | sbatch $(ncalls sbatch), squeue $(ncalls squeue), sacct $(ncalls sacct), scontrol $(ncalls scontrol), sinfo $(ncalls sinfo) | - | - |"
echo "| submit-to-start latency, idle cluster (s, mean of $rounds; 1 s resolution) | $(mean "${dml_lat[@]}") (${dml_lat[*]}) | plain sbatch --wrap true: $(mean "${ref_lat[@]}") (${ref_lat[*]}) | - |"
