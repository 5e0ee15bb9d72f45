#!/usr/bin/env bash
# bench/startup/run.sh: how long dmlrun takes to start and finish commands that need no
# tensors, the binary that loads the shim on first use (this checkout) against the one that
# linked it (the commit before the loader), side by side in one run. See README.md.
#
#   bench/startup/run.sh [--runs N] [--old REV] [--out DIR] [--work DIR] [-var name=value]...
#
#   --runs N     timed runs per command (default 30; hyperfine adds 3 warm-up runs)
#   --old REV    the old side (default: the parent of the commit that added
#                torch/shim_stubs.c, the last commit whose dmlrun links libdmlshim)
#   --out DIR    where results.md and results.json go (default: a new temporary folder)
#   --work DIR   the worktree, binaries and store (default: a new temporary folder; reusing
#                one keeps its trained store and built binaries)
#   -var ...     passed to plan and apply (e.g. -var epochs=1 for a quicker first apply)
#
# Commands timed, each with both binaries: validate experiments/quickstart.hcl, plan of the
# same file against a small temporary store, a no-op apply (after a first apply computed
# every node, so nothing runs), and version (which loads libtorch on purpose in both: the
# cost the others no longer pay). Uses hyperfine when installed (apt-get install hyperfine;
# python3 reads its JSON), else a loop of N runs timed with date. The old side is built in a `git worktree` under
# the work folder (removed at the end), against this checkout's shim when shim.h is
# unchanged, else against a shim built there.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

runs=30
old=
out=
work=
vars=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --old) old=$2; shift ;;
    --out) out=$2; shift ;;
    --work) work=$2; shift ;;
    -var|--var) vars+=(-var "$2"); shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (want --runs N, --old REV, --out DIR, --work DIR, -var name=value)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-startup.XXXXXX")
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/dmlrun-startup-work.XXXXXX")
mkdir -p "$out" "$work"
out=$(cd "$out" && pwd)
work=$(cd "$work" && pwd)

if [ -z "$old" ]; then
  added=$(git log --diff-filter=A --format=%H -- torch/shim_stubs.c | tail -n1)
  [ -n "$added" ] || { echo "run.sh: no commit added torch/shim_stubs.c; pass --old REV" >&2; exit 2; }
  old=$(git rev-parse "$added^")
fi
old=$(git rev-parse --verify "$old^{commit}")
new_rev=$(git rev-parse HEAD)
[ -e torch/csrc/build/libdmlshim.so ] || { echo "run.sh: no torch/csrc/build/libdmlshim.so: run make shim" >&2; exit 1; }

# ---- the two binaries ------------------------------------------------------------------
echo "new: this checkout (HEAD $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ', with uncommitted changes'))"
mkdir -p "$work/new"
go build -ldflags "-X dmlrun/torch.shimBuildDir=$root/torch/csrc/build" -o "$work/new/dmlrun" ./cmd/dmlrun
new_bin=$work/new/dmlrun

old_tree=$work/old-tree
old_bin=$work/old/dmlrun
old_shim=$work/old/shim # the folder the old binary's libdmlshim.so is found in
cleanup() {
  if [ -d "$old_tree" ]; then git worktree remove --force "$old_tree" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
# The old binary links libdmlshim.so with an rpath into its worktree, which is removed at
# the end: it runs with LD_LIBRARY_PATH=$old_shim (searched before the rpath), exported for
# the whole run. The new binary finds its shim in the build folder it recorded, before
# LD_LIBRARY_PATH, so the variable does not change what it loads.
if [ "$(cat "$work/old/rev" 2>/dev/null)" != "$old" ] || ! LD_LIBRARY_PATH=$old_shim "$old_bin" version >/dev/null 2>&1; then
  echo "old: $(git log -1 --format='%h %s' "$old" | cut -c1-90)"
  rm -rf "$old_tree" "$work/old"
  mkdir -p "$work/old"
  git worktree prune
  git worktree add --detach "$old_tree" "$old" >/dev/null
  if cmp -s "$old_tree/torch/csrc/shim.h" torch/csrc/shim.h; then
    # Same C interface: the old binary uses this checkout's shim (it exports the same
    # functions, plus the ABI digest the old binary ignores).
    ln -s "$root/torch/csrc/build" "$old_shim"
  else
    make -C "$old_tree" shim
    mv "$old_tree/torch/csrc/build" "$old_shim"
  fi
  ln -s "$old_shim" "$old_tree/torch/csrc/build" # where the old cgo flags link from
  (cd "$old_tree" && go build -o "$old_bin" ./cmd/dmlrun)
  echo "$old" > "$work/old/rev"
fi
export LD_LIBRARY_PATH="$old_shim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for b in "$new_bin" "$old_bin"; do
  printf '%s: %s, DT_NEEDED %s\n' "${b#"$work"/}" "$(du -h "$b" | cut -f1)" \
    "$(readelf -d "$b" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
done

# ---- the store: one first apply computes every node ------------------------------------
exp=experiments/quickstart.hcl
store=$work/store
have_data=yes
if [ ! -d data/emoji ]; then
  have_data=no
  echo "no data/emoji (scripts/fetch-data.sh fills it): the no-op apply is not measured"
else
  if ! "$new_bin" plan "$exp" --store "$store" "${vars[@]}" --detailed-exitcode >/dev/null 2>&1; then
    echo "first apply of $exp ${vars[*]} into $store (trains; once per work folder)"
    "$new_bin" apply "$exp" --store "$store" "${vars[@]}" >"$work/first-apply.log" 2>&1 ||
      { tail -20 "$work/first-apply.log"; exit 1; }
  fi
  # The old binary must see the same store as fully cached (same keys), or its apply would
  # not be a no-op; if it does not, it gets a store of its own.
  old_store=$store
  if ! "$old_bin" plan "$exp" --store "$store" "${vars[@]}" --detailed-exitcode >/dev/null 2>&1; then
    old_store=$work/store-old
    echo "the old binary does not see $store as cached; first apply into $old_store"
    "$old_bin" apply "$exp" --store "$old_store" "${vars[@]}" >"$work/first-apply-old.log" 2>&1 ||
      { tail -20 "$work/first-apply-old.log"; exit 1; }
  fi
fi

# ---- timing ------------------------------------------------------------------------------
names=() cmds=()
add() { names+=("$1"); shift; cmds+=("$*"); }
for side in new old; do
  b=$new_bin s=$store
  [ "$side" = old ] && b=$old_bin s=${old_store:-$store}
  add "$side validate" "$b" validate "$exp"
  add "$side plan" "$b" plan "$exp" --store "$s" "${vars[@]}"
  [ "$have_data" = yes ] && add "$side apply (no-op)" "$b" apply "$exp" --store "$s" "${vars[@]}"
  add "$side version" "$b" version
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
threads=$(nproc)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "CPU: $cpu; $threads threads; load before: $load_before"

results=$out/results.tsv # name, mean s, stddev s, min s, runs
: > "$results"
if command -v hyperfine >/dev/null && command -v python3 >/dev/null; then
  tool="hyperfine $(hyperfine --version | cut -d' ' -f2), --warmup 3 --runs $runs, no shell"
  hargs=()
  for i in "${!names[@]}"; do hargs+=(-n "${names[$i]}" "${cmds[$i]}"); done
  hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$out/results.json" "${hargs[@]}" >"$out/hyperfine.log"
  python3 - "$out/results.json" > "$results" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%s\t%.6f\t%.6f\t%.6f\t%d" % (r["command"], r["mean"], r["stddev"] or 0, r["min"], len(r["times"])))
PY
else
  tool="a loop of $runs runs timed with date (no hyperfine), after 3 warm-up runs"
  for i in "${!names[@]}"; do
    # shellcheck disable=SC2086
    for _ in 1 2 3; do ${cmds[$i]} >/dev/null 2>&1 || true; done
    ts=()
    for ((r = 0; r < runs; r++)); do
      t0=$(date +%s%N)
      # shellcheck disable=SC2086
      ${cmds[$i]} >/dev/null 2>&1 || true
      t1=$(date +%s%N)
      ts+=("$(( t1 - t0 ))")
    done
    printf '%s\n' "${ts[@]}" | awk -v n="${names[$i]}" -v runs="$runs" '
      { s += $1; ss += $1 * $1; if (NR == 1 || $1 < mn) mn = $1 }
      END { m = s / NR; sd = sqrt(ss / NR - m * m); printf "%s\t%.6f\t%.6f\t%.6f\t%d\n", n, m / 1e9, sd / 1e9, mn / 1e9, runs }' >> "$results"
  done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report --------------------------------------------------------------------------
{
  echo "# dmlrun startup: new (shim loaded on first use) vs old (shim linked)"
  echo
  echo "- new: $(git log -1 --format='%h' "$new_rev")$(git diff --quiet HEAD -- . 2>/dev/null || echo ' + uncommitted changes'); old: $(git log -1 --format='%h' "$old")"
  echo "- CPU: $cpu; $threads threads; load average before $load_before, after $load_after"
  echo "- $tool; experiment $exp${vars[*]:+ ${vars[*]}}; data: $( [ "$have_data" = yes ] && echo 'data/emoji' || echo 'absent (no apply row)')"
  echo "- $(go version | cut -d' ' -f3), libtorch $("$new_bin" version | sed -n 's/^libtorch \([^ ]*\).*/\1/p')"
  echo
  echo "| command | new mean (s) | new min (s) | old mean (s) | old min (s) | old/new (mean) |"
  echo "|---|---:|---:|---:|---:|---:|"
  awk -F'\t' '
    { side = substr($1, 1, index($1, " ") - 1); cmd = substr($1, index($1, " ") + 1)
      mean[side, cmd] = $2; sd[side, cmd] = $3; mn[side, cmd] = $4
      if (!(cmd in seen)) { seen[cmd] = 1; order[++k] = cmd } }
    END { for (i = 1; i <= k; i++) { c = order[i]
      printf "| %s | %.4f ± %.4f | %.4f | %.4f ± %.4f | %.4f | %.1fx |\n", c, mean["new", c], sd["new", c], mn["new", c], mean["old", c], sd["old", c], mn["old", c], mean["old", c] / mean["new", c] } }' "$results"
} > "$out/results.md"
cat "$out/results.md"
echo
echo "results: $out/results.md, $out/results.tsv$( [ -e "$out/results.json" ] && echo ", $out/results.json")"
echo "work folder (store, binaries; pass --work to reuse): $work"
