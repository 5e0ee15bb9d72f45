#!/usr/bin/env bash
# ensure_ref.sh [DIR]: generates the ResNet parity references once (idempotent) and prints
# the directory to export as DMLRUN_REF_DIR. DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/dmlrun/resnet-ref.
# Needs Debian's /usr/bin/python3 with python3-torch and python3-torchvision.
#   export DMLRUN_REF_DIR="$(stages/models/testdata/ensure_ref.sh)"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/dmlrun/resnet-ref}"
mkdir -p "$dir"
stamp="$dir/.gen-$(sha256sum "$here/gen_resnet_ref.py" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  /usr/bin/python3 "$here/gen_resnet_ref.py" "$dir" >&2
  touch "$stamp"
fi
echo "$dir"
