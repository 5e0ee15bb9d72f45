#!/usr/bin/env bash
# bench/epoch/run.sh: dmlrun against the original's PyTorch code (bench/epoch/epoch.py), whole
# epochs with evaluation, side by side in one run on one machine. See bench/epoch/README.md.
#
#   bench/epoch/run.sh                                  # epoch level, fp32, 2 rounds
#   AUTOCAST=bf16 bench/epoch/run.sh                    # ... and bf16 autocast
#   SWEEP=1 bench/epoch/run.sh                          # ... and the 6-run sweep at -j 1 and 2
#   CLASSES=200 BATCH=30 EPOCHS=2 ROUNDS=1 bench/epoch/run.sh   # a small smoke run
#
# Knobs (environment): ROUNDS (2), EPOCHS (2), THREADS (nproc; libtorch intra-op threads of
# both sides, faiss's too), WORKERS (min(6, nproc): the reference's DataLoader workers),
# SEED (0, epoch level), CLASSES (0 = all 1,911 emoji), IMAGE_SIZE (64: the JPEGs' side and
# the dataset's base), CROP (64), BATCH (90), LR (1e-5), AUTOCAST ("" or bf16: adds bf16
# rounds after the fp32 ones), SWEEP (0/1), JOBS ("1 2"), EPOCH_LEVEL (1; 0 = the sweep only),
# DATA_DIR (a cache folder per CLASSES/IMAGE_SIZE), OUT (a new temporary folder: every log,
# manifest and train_log.csv; kept), DMLRUN (bin/dmlrun), PYTHON (/usr/bin/python3).
#
# Every dmlrun apply gets a fresh, empty store (and DMLRUN_STATCACHE=off), so each one
# decodes the dataset and trains from nothing, as a first run does. The two sides alternate
# within a round, and swap which goes first from one round to the next. Prints the Markdown
# tables of report.py summary at the end (also in $OUT/summary.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/epoch

rounds="${ROUNDS:-2}"
epochs="${EPOCHS:-2}"
threads="${THREADS:-$(nproc)}"
workers="${WORKERS:-$(( $(nproc) < 6 ? $(nproc) : 6 ))}"
seed="${SEED:-0}"
classes="${CLASSES:-0}"
image_size="${IMAGE_SIZE:-64}"
crop="${CROP:-64}"
batch="${BATCH:-90}"
lr="${LR:-1e-5}"
autocast="${AUTOCAST:-}"
sweep="${SWEEP:-0}"
jobs="${JOBS:-1 2}"
epoch_level="${EPOCH_LEVEL:-1}"
dmlrun="${DMLRUN:-bin/dmlrun}"
py="${PYTHON:-/usr/bin/python3}"
data="${DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dmlrun-bench-epoch/c${classes}-s${image_size}}"
out="${OUT:-$(mktemp -d -t bench-epoch.XXXXXX)}"
mkdir -p "$out"

case "$autocast" in "" | none) precisions="none" ;; bf16) precisions="none bf16" ;;
  *) echo "run.sh: AUTOCAST=$autocast: want empty, none or bf16" >&2; exit 1 ;; esac
[ -x "$dmlrun" ] || { echo "run.sh: $dmlrun not found; run make all" >&2; exit 1; }
if [ "$sweep" = 1 ] && [ "$epochs" -lt 2 ]; then
  echo "run.sh: SWEEP=1 needs EPOCHS >= 2 (the nir runs warm up for one epoch)" >&2; exit 1
fi

# The data folder, built once per CLASSES/IMAGE_SIZE and reused (gen_cub.py is deterministic).
if [ ! -f "$data/gen.json" ]; then
  rm -rf "$data/cub200"
  "$py" "$here/gen_cub.py" "$data" --classes "$classes" --size "$image_size" >&2
fi

export OMP_NUM_THREADS="$threads" DMLRUN_STATCACHE=off
vars=(-var "data_root=$data" -var "epochs=$epochs" -var "batch=$batch" -var "lr=$lr"
  -var "base=$image_size" -var "crop=$crop")
ref_args=(--epochs "$epochs" --threads "$threads" --workers "$workers" --batch "$batch"
  --lr "$lr" --base "$image_size" --size "$crop")

"$py" "$here/report.py" machine > "$out/machine.json"
{
  echo "rounds=$rounds"; echo "epochs=$epochs"; echo "threads=$threads"; echo "workers=$workers"
  echo "seed=$seed"; echo "classes=$(sed -n 's/.*"classes": \([0-9]*\).*/\1/p' "$data/gen.json")"
  echo "image_size=$image_size"; echo "crop=$crop"; echo "batch=$batch"; echo "lr=$lr"
  echo "jobs=$jobs"; echo "dmlrun=$("$dmlrun" version 2>/dev/null | head -1)"
  echo "torch=$("$py" -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__)')"
} > "$out/settings.txt"
uptime > "$out/uptime.before"
echo "bench/epoch: data $data, output $out; $(cat "$out/uptime.before")" >&2

# dmlrun_apply DIR HCL [apply flags...]: one apply on a fresh store; keeps the train nodes'
# manifests and logs under DIR/nodes, then removes the store (checkpoints are 45 MB each).
dmlrun_apply() {
  local dir="$1" hcl="$2"; shift 2
  local store; store="$(mktemp -d -t bench-epoch-store.XXXXXX)"
  mkdir -p "$dir"
  local rc=0
  "$py" "$here/report.py" time "$dir/time.json" -- \
    "$dmlrun" apply "$hcl" --store "$store" --threads "$threads" -v "${vars[@]}" "$@" \
    > "$dir/apply.log" 2>&1 || rc=$?
  "$py" "$here/report.py" collect "$store" "$dir/nodes" 2>>"$dir/apply.log" || true
  rm -rf "$store"
  [ "$rc" = 0 ] || echo "run.sh: dmlrun apply $hcl failed (rc $rc); see $dir/apply.log" >&2
}

# reference DIR [epoch.py flags...]: one epoch.py run.
reference() {
  local dir="$1"; shift
  mkdir -p "$dir"
  local rc=0
  "$py" "$here/report.py" time "$dir/time.json" -- \
    "$py" "$here/epoch.py" "$data" "${ref_args[@]}" "$@" > "$dir/out.txt" 2> "$dir/err.txt" || rc=$?
  [ "$rc" = 0 ] || echo "run.sh: epoch.py $* failed (rc $rc); see $dir/err.txt" >&2
}

if [ "$epoch_level" = 1 ]; then
  for ac in $precisions; do
    for r in $(seq "$rounds"); do
      d="$out/epoch/$ac/r$r"
      echo "bench/epoch: epoch level, autocast $ac, round $r/$rounds" >&2
      if [ $((r % 2)) = 1 ]; then
        dmlrun_apply "$d/dmlrun" "$here/epoch.hcl" -var "seed=$seed" -var "autocast=$ac"
        reference "$d/ref" --seed "$seed" --autocast "$ac" --loss oproxy
      else
        reference "$d/ref" --seed "$seed" --autocast "$ac" --loss oproxy
        dmlrun_apply "$d/dmlrun" "$here/epoch.hcl" -var "seed=$seed" -var "autocast=$ac"
      fi
    done
  done
fi

if [ "$sweep" = 1 ]; then
  for ac in $precisions; do
    first=1
    for j in $jobs; do
      echo "bench/epoch: sweep, autocast $ac, dmlrun apply -j $j" >&2
      dmlrun_apply "$out/sweep/$ac/j$j" "$here/sweep.hcl" -j "$j" -var "autocast=$ac"
      if [ "$first" = 1 ]; then # the reference once, after the first -j: the sides alternate
        first=0
        echo "bench/epoch: sweep, autocast $ac, reference: 6 runs in a row" >&2
        for s in 0 1 2; do
          reference "$out/sweep/$ac/ref/oproxy-s$s" --seed "$s" --autocast "$ac" --loss oproxy
          reference "$out/sweep/$ac/ref/nir-s$s" --seed "$s" --autocast "$ac" --loss nir --w-align 0.0075 --warmup 1
        done
      fi
    done
  done
fi

uptime > "$out/uptime.after"
"$py" "$here/report.py" summary "$out" | tee "$out/summary.md"
echo "bench/epoch: everything is in $out" >&2
