#!/usr/bin/env bash
# Installs what dmlrun needs on Debian 12 when it is missing: libtorch (Debian's CPU build,
# unless LIBTORCH points at another), a C++ compiler, npm (for the emoji data sets), and with
# --test Debian's python3-torch/torchvision (ResNet parity references), Fashion-MNIST, and slurm-wlm
# and munge (the one-node Slurm cluster of `make slurm-check`).
# Go itself (see go.mod) is expected on PATH. Idempotent.
set -euo pipefail

want=(g++ make npm) # npm fetches the emoji data sets (scripts/fetch-data.sh)
[ -n "${LIBTORCH:-}" ] || want+=(libtorch-dev)
if [ "${1:-}" = "--test" ]; then
  want+=(python3-torch python3-torchvision dataset-fashion-mnist slurm-wlm munge)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from a non-Debian Node.js install; then it need not be installed by apt.
if command -v npm >/dev/null 2>&1; then
  filtered=(); for p in "${missing[@]}"; do [ "$p" = npm ] || filtered+=("$p"); done; missing=("${filtered[@]}")
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
