#!/usr/bin/env bash
# End-to-end regression check on real data (run by `make e2e`, hence by CI):
#  1. apply experiments/ci.hcl into a fresh store;
#  2. check the metrics against the expected values with tolerances (experiments/expected/);
#  3. a second apply must do no work (`plan --detailed-exitcode` exits 0);
#  4. a training run killed with SIGKILL midway (at a fault point) and applied again must end
#     with the same checkpoint and the same metrics as the uninterrupted run;
#  5. apply -j 2 --threads 2 (libtorch nodes side by side, each in its own process with one
#     thread) must give the bytes of apply --threads 1, and record one thread and its own pid.
set -euo pipefail
cd "$(dirname "$0")/.."

dml=${DMLRUN:-bin/dmlrun}
exp=experiments/ci.hcl
work=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-e2e.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
store="$work/store"

step() { printf '\n== %s\n' "$*"; }

step "apply $exp"
"$dml" apply "$exp" --store "$store"

step "metrics against the expected values"
"$dml" diff --expect experiments/expected/ci-fmnist-baseline.json "$exp" fmnist_baseline --store "$store"
"$dml" diff --expect experiments/expected/ci-fmnist-nir.json "$exp" fmnist_nir --store "$store"
"$dml" diff --expect experiments/expected/ci-emoji-nir.json "$exp" emoji_nir --store "$store"
"$dml" diff "$exp" fmnist_baseline fmnist_nir --store "$store"

step "a second apply does no work"
set +e
"$dml" plan "$exp" --store "$store" --detailed-exitcode
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "e2e: plan after apply exited $rc, want 0 (everything cached)" >&2
  exit 1
fi
"$dml" apply "$exp" --store "$store" | tee "$work/second.txt"
grep -Eq "Nothing to do|Apply: 0 computed" "$work/second.txt" || { echo "e2e: second apply computed something" >&2; exit 1; }

step "kill a training run midway, apply again, same result"
store2="$work/store2"
target=evaluate.emoji
# A fault point (DMLRUN_FAILPOINT, see README) SIGKILLs the apply right after the training
# node's second epoch checkpoint: the same moment on any machine, however fast.
set +e
DMLRUN_FAILPOINT=train.epoch-end:2=kill bash -c '"$@"; exit $?' - "$dml" apply "$exp" --store "$store2" --target "$target" >"$work/killed.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 137 ]; then
  cat "$work/killed.log" >&2
  echo "e2e: the apply armed with train.epoch-end:2=kill exited $rc, want 137 (killed)" >&2
  exit 1
fi
if ! compgen -G "$store2/tmp/*.partial/epoch-1.safetensors" >/dev/null; then
  ls -R "$store2/tmp" >&2 || true
  echo "e2e: the killed training left no epoch-1 checkpoint to resume from" >&2
  exit 1
fi
"$dml" plan "$exp" --store "$store2" --target "$target" | tee "$work/after-kill.txt" || true
# The killed training must be picked up where it stopped, not started again.
grep -Eq '^> resume +train\.emoji_nir ' "$work/after-kill.txt" || {
  echo "e2e: after the kill, plan does not resume train.emoji_nir" >&2; exit 1; }
"$dml" apply "$exp" --store "$store2" --target "$target"
# file_digest STORE NODE FILE: the SHA-256 the node's manifest records for FILE.
file_digest() {
  "$dml" show "$exp" "$2" --store "$1" --json |
    python3 -c 'import json,sys; m=json.load(sys.stdin)["manifest"]; print([f["sha256"] for f in m["files"] if f["path"]==sys.argv[1]][0])' "$3"
}
# metrics_of STORE NODE: the metrics of an evaluate node (metrics.json also holds timings).
metrics_of() {
  "$dml" show "$exp" "$2" --store "$1" --json |
    python3 -c 'import json,sys,os; d=json.load(sys.stdin)["dir"]; print(json.dumps(json.load(open(os.path.join(d,"metrics.json")))["metrics"], sort_keys=True))'
}
a=$(file_digest "$store" train.emoji_nir checkpoint.safetensors)
b=$(file_digest "$store2" train.emoji_nir checkpoint.safetensors)
if [ "$a" != "$b" ]; then
  echo "e2e: train.emoji_nir checkpoint differs after kill and resume: $a (uninterrupted) vs $b (resumed)" >&2
  exit 1
fi
echo "train.emoji_nir checkpoint.safetensors: byte-identical after kill and resume ($a)"
node="evaluate.emoji[embed.emoji[train.emoji_nir]]"
a=$(metrics_of "$store" "$node")
b=$(metrics_of "$store2" "$node")
if [ "$a" != "$b" ]; then
  echo "e2e: $node metrics differ after kill and resume: $a vs $b" >&2
  exit 1
fi
echo "$node: same metrics after kill and resume $a"

step "apply -j 2 --threads 2 against apply --threads 1: same bytes"
store3="$work/store3"
store4="$work/store4"
"$dml" apply "$exp" --store "$store3" --threads 1 >"$work/j1.log" 2>&1 || { cat "$work/j1.log" >&2; exit 1; }
"$dml" apply "$exp" --store "$store4" -j 2 --threads 2 2>&1 | tee "$work/j2.log"
# provenance STORE NODE: "<threads> <pid>" from the node's manifest.
provenance() {
  "$dml" show "$exp" "$2" --store "$1" --json |
    python3 -c 'import json,sys; p=json.load(sys.stdin)["manifest"]["provenance"]; print(p["threads"], p["pid"])'
}
pids=""
for n in train.fmnist_baseline train.fmnist_nir train.emoji_nir; do
  a=$(file_digest "$store3" "$n" checkpoint.safetensors)
  b=$(file_digest "$store4" "$n" checkpoint.safetensors)
  if [ "$a" != "$b" ]; then
    echo "e2e: $n checkpoint differs between --threads 1 ($a) and -j 2 --threads 2 ($b)" >&2
    exit 1
  fi
  read -r threads pid < <(provenance "$store4" "$n")
  if [ "$threads" != 1 ]; then
    echo "e2e: $n ran with $threads threads under -j 2 --threads 2, want 1" >&2
    exit 1
  fi
  pids="$pids $pid"
done
if [ "$(echo $pids | tr ' ' '\n' | sort -u | wc -l)" -ne 3 ]; then
  echo "e2e: the three trainings of -j 2 did not each run in a process of their own (pids:$pids)" >&2
  exit 1
fi
for n in "evaluate.fmnist[embed.fmnist[train.fmnist_baseline]]" "evaluate.fmnist[embed.fmnist[train.fmnist_nir]]" "$node"; do
  a=$(metrics_of "$store3" "$n")
  b=$(metrics_of "$store4" "$n")
  if [ "$a" != "$b" ]; then
    echo "e2e: $n metrics differ between --threads 1 and -j 2 --threads 2: $a vs $b" >&2
    exit 1
  fi
done
echo "-j 2 --threads 2: checkpoints and metrics byte-identical to --threads 1, one thread per node, pids$pids"
echo
echo "e2e: 5 passed, 0 failed"
