#!/usr/bin/env bash
# Crash safety at every phase (run by `make e2e`, hence by CI).
#
# For each fault point below, an apply of experiments/ci.hcl (2 epochs) is SIGKILLed there
# (DMLRUN_FAILPOINT=POINT:N=kill), applied again, and then must hold:
#   - every artifact is bitwise equal to the one an uninterrupted apply made (same keys, same
#     file digests; files that record wall-clock times are left out, see timed_files);
#   - `cache verify` is clean;
#   - no lock file is held or still names a holder;
#   - tmp/ is empty (no partial, temporary or discarded directories, no failed logs);
#   - after `cache gc`, index/ holds no temporary files.
# The killed apply must end by SIGKILL (exit 137): a point that is never reached fails.
#
# Usage: scripts/crash-matrix.sh [POINT:N ...]   (default: the whole matrix)
set -euo pipefail
cd "$(dirname "$0")/.."

dml=${DMLRUN:-bin/dmlrun}
exp=experiments/ci.hcl
vars=(-var epochs=2)
work=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-crash.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Point:hit pairs; the hit counts pick different nodes (each point counts its hits over the
# whole apply: store.commit.hashed:4 is the fourth artifact's commit).
matrix=(
  load.shard:1
  train.step:3
  train.epoch-end:1
  train.final:2
  embed.batch:1
  evaluate.metrics:2
  report.write:1
  store.lock:4
  store.commit.hashed:1
  store.commit.manifest:4
  store.commit.renamed:6
  store.index.temp:3
)
[ $# -eq 0 ] || matrix=("$@")

# Files whose bytes record wall-clock time or the process; everything else must match.
timed_files='^(log\.txt|train_log\.csv|metrics\.json)$'

# digests STORE: "key path sha256" for every file of every artifact, minus timed files, plus
# metrics.json's metrics (its timings left out).
digests() {
  python3 - "$1" "$timed_files" <<'PY'
import json, os, re, sys
root, timed = sys.argv[1], re.compile(sys.argv[2])
for shard in sorted(os.listdir(root)):
    if len(shard) != 2:
        continue
    for key in sorted(os.listdir(os.path.join(root, shard))):
        d = os.path.join(root, shard, key)
        m = json.load(open(os.path.join(d, "manifest.json")))
        for f in m["files"]:
            if not timed.match(f["path"]):
                print(key, f["path"], f["sha256"])
        if any(f["path"] == "metrics.json" for f in m["files"]):
            print(key, "metrics.json:metrics", json.dumps(json.load(open(os.path.join(d, "metrics.json")))["metrics"], sort_keys=True))
PY
}

# leftovers STORE: what a finished store must not hold (held or named locks, tmp entries).
leftovers() {
  python3 - "$1" <<'PY'
import fcntl, os, sys
root = sys.argv[1]
for name in sorted(os.listdir(os.path.join(root, "locks"))):
    p = os.path.join(root, "locks", name)
    with open(p, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(f, fcntl.LOCK_UN)
        except BlockingIOError:
            print("lock held:", name)
        if f.read():
            print("lock still names a holder:", name)
for name in sorted(os.listdir(os.path.join(root, "tmp"))):
    print("left in tmp/:", name)
PY
}

printf '== uninterrupted apply (reference)\n'
"$dml" apply "$exp" "${vars[@]}" --store "$work/ref" >"$work/ref.log" 2>&1 || { cat "$work/ref.log" >&2; exit 1; }
digests "$work/ref" >"$work/ref.digests"
[ -s "$work/ref.digests" ] || { echo "crash-matrix: the reference store holds no artifacts" >&2; exit 1; }

pass=0
fail=0
for pt in "${matrix[@]}"; do
  st="$work/${pt//[:.]/_}"
  problems=()
  set +e
  # An inner shell waits for the killed apply, so its "Killed" notice lands in the log.
  DMLRUN_FAILPOINT="$pt=kill" bash -c '"$@"; exit $?' - "$dml" apply "$exp" "${vars[@]}" --store "$st" >"$st.killed.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -ne 137 ]; then
    problems+=("the apply armed with $pt=kill exited $rc, want 137 (the point was never reached?)")
  elif ! "$dml" apply "$exp" "${vars[@]}" --store "$st" >"$st.resumed.log" 2>&1; then
    problems+=("the apply after the kill failed: $(tail -3 "$st.resumed.log")")
  else
    digests "$st" >"$st.digests"
    if ! diff -u "$work/ref.digests" "$st.digests" >"$st.diff"; then
      problems+=("artifacts differ from the uninterrupted run: $(head -20 "$st.diff")")
    fi
    "$dml" cache verify --store "$st" >"$st.verify" 2>&1 || problems+=("cache verify: $(grep -v '^ok ' "$st.verify" | head -5)")
    left=$(leftovers "$st")
    [ -z "$left" ] || problems+=("$left")
    "$dml" cache gc "$exp" "${vars[@]}" --store "$st" >"$st.gc" 2>&1 || problems+=("cache gc failed: $(tail -3 "$st.gc")")
    if compgen -G "$st/index/*.tmp" >/dev/null; then
      problems+=("index/ still holds temporary files after cache gc: $(ls "$st/index")")
    fi
  fi
  if [ "${#problems[@]}" -eq 0 ]; then
    pass=$((pass + 1))
    printf 'ok    %-26s killed, resumed, bitwise equal, store clean\n' "$pt"
  else
    fail=$((fail + 1))
    printf 'FAIL  %s\n' "$pt"
    printf '      %s\n' "${problems[@]}"
    printf '      killed run log:\n'; sed 's/^/        /' "$st.killed.log" | tail -15
  fi
  chmod -R u+w "$st" 2>/dev/null; rm -rf "$st"
done
echo
echo "crash-matrix: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
