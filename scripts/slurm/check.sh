#!/usr/bin/env bash
# The Slurm executor on a real one-node Slurm cluster (run by `make slurm-check`, hence by
# `make check` and CI). It starts the cluster (scripts/slurm/start.sh), applies
# experiments/ci.hcl through `--executor slurm` and checks:
#  1. metrics and checkpoints identical to a local apply's (bitwise);
#  2. a job cancelled with scancel is retried and the run completes;
#  3. a training job that gets the pre-limit signal (scancel --signal=USR1 --batch) stops at
#     a step boundary, requeues itself, resumes, and ends with a checkpoint byte-identical to
#     an uninterrupted run's;
#  4. two heads on one store compute each node once;
#  5. --detach submits everything with dependencies, plan shows the jobs, and the result is
#     the local one;
# and stops the cluster by its pid files at the end, whatever happened (trap).
set -uo pipefail
cd "$(dirname "$0")/../.."

dml=$(realpath "${DMLRUN:-bin/dmlrun}")
exp=experiments/ci.hcl
work=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-slurm-check.XXXXXX")
chmod 0755 "$work" # munged (the munge user) keeps its socket below it
cluster="$work/cluster"
cleanup() {
  scripts/slurm/stop.sh "$cluster"
  if [ -n "${SLURM_CHECK_KEEP:-}" ]; then
    echo "slurm-check: kept $work (SLURM_CHECK_KEEP)" >&2
    return
  fi
  chmod -R u+w "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
step() { printf '\n== %s\n' "$*"; t0=$SECONDS; }
pass() { echo "slurm-check: ok ($((SECONDS - t0)) s): $*"; passed=$((passed + 1)); }
fail() { echo "slurm-check: FAILED ($((SECONDS - t0)) s): $*" >&2; failed=$((failed + 1)); }

scripts/slurm/start.sh "$cluster" || { echo "slurm-check: could not start the cluster" >&2; exit 1; }
# shellcheck disable=SC1091
. "$cluster/env"

# The cluster's settings for these checks: short polls; the signal lead is the minimum,
# but no limit is ever reached (the check sends the signal itself).
cat >"$work/slurm.hcl" <<'EOF'
poll        = "1s"
poll_max    = "2s"
signal_lead = "2m"
retries     = 2
stage "default" {
  cpus = 1
}
stage "train" {
  cpus = 2
}
EOF
slurm=(--executor slurm --executor-config "$work/slurm.hcl")

# key_of STORE NODE [VARS...]: the node's key.
key_of() {
  local st=$1 node=$2
  shift 2
  "$dml" plan "$exp" --store "$st" --json "$@" |
    python3 -c 'import json,sys; print([n["key"] for n in json.load(sys.stdin)["nodes"] if n["addr"]==sys.argv[1]][0])' "$node"
}
# digest STORE NODE FILE [VARS...]: the SHA-256 the node's manifest records for FILE.
digest() {
  local st=$1 node=$2 file=$3
  shift 3
  "$dml" show "$exp" "$node" --store "$st" --json "$@" |
    python3 -c 'import json,sys; m=json.load(sys.stdin)["manifest"]; print([f["sha256"] for f in m["files"] if f["path"]==sys.argv[1]][0])' "$file"
}
# metrics STORE NODE: the metrics object of an evaluate node's metrics.json (it also holds
# timings, which differ).
metrics() {
  "$dml" show "$exp" "$2" --store "$1" --json |
    python3 -c 'import json,sys,os; d=json.load(sys.stdin)["dir"]; print(json.dumps(json.load(open(os.path.join(d,"metrics.json")))["metrics"], sort_keys=True))'
}
# same_results A B: every evaluate node's metrics and every training's checkpoint agree.
same_results() {
  local node ok=0
  for node in "evaluate.fmnist[embed.fmnist[train.fmnist_baseline]]" "evaluate.fmnist[embed.fmnist[train.fmnist_nir]]" "evaluate.emoji[embed.emoji[train.emoji_nir]]"; do
    if [ "$(metrics "$1" "$node")" != "$(metrics "$2" "$node")" ]; then
      echo "  $node: metrics differ: $(metrics "$1" "$node") vs $(metrics "$2" "$node")" >&2
      ok=1
    fi
  done
  for node in train.fmnist_baseline train.fmnist_nir train.emoji_nir; do
    if [ "$(digest "$1" "$node" checkpoint.safetensors)" != "$(digest "$2" "$node" checkpoint.safetensors)" ]; then
      echo "  $node: checkpoint.safetensors differs" >&2
      ok=1
    fi
  done
  return $ok
}
# job_of NODE [STATE]: the id of the run's job for NODE (its --comment), in STATE if given.
job_of() {
  squeue -h -r -t all -o '%i|%k|%T|%j' | awk -F'|' -v node="$1" -v state="${2:-}" \
    '$2 == node && $4 ~ /^dmlrun-/ && (state == "" || $3 == state) { print $1 }' | tail -n 1
}
# wait_for SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds (COMMAND's
# arguments are expanded once: pass a function to re-evaluate a condition).
wait_for() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 5; i++)); do "$@" && return 0; sleep 0.2; done
  return 1
}

step "local apply (the reference)"
start=$SECONDS
"$dml" apply "$exp" --store "$work/local" >"$work/local.log" 2>&1 || { cat "$work/local.log" >&2; echo "slurm-check: the local apply failed" >&2; exit 1; }

check1() {
step "1. apply through Slurm: the local executor's metrics and checkpoints"
if "$dml" apply "$exp" --store "$work/s1" "${slurm[@]}" >"$work/s1.log" 2>&1; then
  if grep -q "Apply: 12 computed, 0 cached, 0 failed, 0 not started." "$work/s1.log" && same_results "$work/local" "$work/s1"; then
    pass "12 nodes as Slurm jobs; metrics and checkpoints identical to the local apply's"
  else
    tail -n 30 "$work/s1.log" >&2
    fail "apply through Slurm did not reproduce the local results"
  fi
  if [ -n "$(ls -A "$work/s1/jobs" 2>/dev/null)" ]; then
    fail "the run left its jobs folder behind: $(ls "$work/s1/jobs")"
  fi
else
  tail -n 30 "$work/s1.log" >&2
  fail "apply through Slurm exited $?"
fi

}

check2() {
step "2. a job cancelled with scancel is retried"
# Keep the node busy so the job stays pending, cancel it there, and let the retry run.
blocker=$(sbatch --parsable -J slurm-check-blocker --exclusive -o /dev/null --wrap 'sleep 600')
# Only once it runs does it block: a pending one would let the small job start first.
blocking() { [ "$(squeue -h -j "$blocker" -o %T)" = RUNNING ]; }
wait_for 60 blocking || echo "slurm-check: the blocker job does not start" >&2
"$dml" apply "$exp" --store "$work/s2" --target dataset.emoji "${slurm[@]}" >"$work/s2.log" 2>&1 &
head=$!
queued() { [ -n "$(job_of dataset.emoji PENDING)" ]; }
first=""
if wait_for 60 queued; then
  first=$(job_of dataset.emoji PENDING)
  scancel "$first"
  wait_for 60 grep -q "dataset.emoji: submitted as Slurm job .* (attempt 2 of 3)" "$work/s2.log"
fi
scancel "$blocker"
wait "$head"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "dataset.emoji: Slurm job ${first:-?} CANCELLED.*retrying (1 of 2 retries)" "$work/s2.log" &&
  [ "$(digest "$work/s2" dataset.emoji dataset.json)" = "$(digest "$work/local" dataset.emoji dataset.json)" ]; then
  pass "job ${first:-?} cancelled while pending; the node was retried and the run completed"
else
  cat "$work/s2.log" >&2
  fail "the cancelled job was not retried to completion (apply exited $rc)"
fi

}

check3() {
step "3. the pre-limit signal: checkpoint, requeue, resume, same checkpoint"
# No race with the training: DMLRUN_FAILPOINT stops (SIGSTOP) the job's dmlrun right after
# its first epoch checkpoint; the check then has Slurm deliver USR1 to the batch step (as
# --signal=B:USR1@T does before the limit) and continues it with SIGCONT. The job stops at
# the step boundary, requeues itself and, run again, stops once more after its first new
# epoch; that one is only continued.
epochs=(-var epochs=4)
"$dml" apply "$exp" --store "$work/local3" --target train.emoji_nir "${epochs[@]}" >"$work/local3.log" 2>&1 || { cat "$work/local3.log" >&2; fail "local reference with ${epochs[*]}"; }
DMLRUN_FAILPOINT=train.epoch-end:1=stop "$dml" apply "$exp" --store "$work/s3" --target train.emoji_nir "${epochs[@]}" "${slurm[@]}" >"$work/s3.log" 2>&1 &
head=$!
# stopped_pid: the pid of the stopped run-node process of this store's jobs, if any.
stopped_pid() {
  local p
  for p in $(pgrep -f "run-node --store $work/s3 " || true); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ] && { echo "$p"; return 0; }
  done
  return 1
}
signalled=""
if wait_for 300 stopped_pid >/dev/null; then
  job=$(job_of train.emoji_nir RUNNING)
  if [ -n "$job" ] && scancel --signal=USR1 --batch "$job"; then
    signalled=$job
  fi
  scancel --signal=CONT --batch "$job" 2>/dev/null || kill -CONT "$(stopped_pid)"
fi
# Continue the requeued run's stop (and any other) until the head is done.
while kill -0 "$head" 2>/dev/null; do
  if p=$(stopped_pid); then kill -CONT "$p"; fi
  sleep 0.2
done
wait "$head"
rc=$?
restarts=""
[ -n "$signalled" ] && restarts=$(scontrol -o show job "$signalled" | grep -o 'Restarts=[0-9]*')
if [ "$rc" -eq 0 ] && [ -n "$signalled" ] && [ "$restarts" = Restarts=1 ] &&
  [ "$(grep -c "train.emoji_nir: submitted as Slurm job" "$work/s3.log")" -eq 1 ] &&
  [ "$(digest "$work/s3" train.emoji_nir checkpoint.safetensors "${epochs[@]}")" = "$(digest "$work/local3" train.emoji_nir checkpoint.safetensors "${epochs[@]}")" ]; then
  resumed=$("$dml" show "$exp" train.emoji_nir --store "$work/s3" --json "${epochs[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["provenance"].get("resumed", False))')
  if [ "$resumed" = True ]; then
    pass "job $signalled got USR1 after its first epoch, requeued itself ($restarts) and resumed to a byte-identical checkpoint"
  else
    fail "the signalled training was not resumed (provenance.resumed is $resumed)"
  fi
else
  cat "$work/s3.log" >&2
  fail "the pre-limit signal check (apply exited $rc, signalled job '${signalled}', ${restarts:-no restarts})"
fi

}

check4() {
step "4. two heads on one store compute each node once"
"$dml" apply "$exp" --store "$work/s4" "${slurm[@]}" >"$work/s4a.log" 2>&1 &
a=$!
"$dml" apply "$exp" --store "$work/s4" "${slurm[@]}" >"$work/s4b.log" 2>&1 &
b=$!
wait "$a"
ra=$?
wait "$b"
rb=$?
# Each head counts as computed only the nodes its own jobs computed (a job that found the
# key committed by the other head's is cached); together they must compute each once.
computed() { sed -n 's/^Apply: \([0-9]*\) computed.*/\1/p' "$1"; }
ca=$(computed "$work/s4a.log")
cb=$(computed "$work/s4b.log")
if [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && [ $((${ca:-0} + ${cb:-0})) -eq 12 ] && same_results "$work/local" "$work/s4"; then
  pass "two heads computed ${ca} + ${cb} = 12 nodes, each once, with the local results"
else
  tail -n 20 "$work/s4a.log" "$work/s4b.log" >&2
  fail "two heads: exit $ra and $rb, computed ${ca:-?} + ${cb:-?}, want 12 in all"
fi

}

check5() {
step "5. --detach: everything submitted with dependencies; plan shows the jobs"
if "$dml" apply "$exp" --store "$work/s5" "${slurm[@]}" --detach >"$work/s5.log" 2>&1; then
  "$dml" plan "$exp" --store "$work/s5" >"$work/s5-plan.log" 2>&1
  shown=$(grep -c "Slurm job [0-9_]* \(queued\|running\)" "$work/s5-plan.log")
  done_plan() { "$dml" plan "$exp" --store "$work/s5" --detailed-exitcode >/dev/null 2>&1; }
  if wait_for 240 done_plan && [ "${shown:-0}" -ge 1 ] && same_results "$work/local" "$work/s5"; then
    pass "detached run: plan showed $shown queued or running job(s); it finished with the local results"
  else
    cat "$work/s5.log" "$work/s5-plan.log" >&2
    "$dml" plan "$exp" --store "$work/s5" >&2
    fail "the detached run (plan showed ${shown:-0} jobs)"
  fi
else
  cat "$work/s5.log" >&2
  fail "apply --detach"
fi

}

for c in ${SLURM_CHECK_ONLY:-1 2 3 4 5}; do
  "check$c"
done

echo
echo "slurm-check: $((SECONDS - start)) s after the cluster started (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
echo "slurm-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
