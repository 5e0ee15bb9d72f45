#!/usr/bin/env bash
# fetch-data.sh [--all-vendors] [DATA_DIR]
#
# Gets the small, freely installable data sets dmlrun's tests and quickstart use:
#   DATA_DIR/fashion-mnist -> /usr/share/datasets/fashion-mnist (Debian package
#                             dataset-fashion-mnist, installed with apt-get when missing)
#   DATA_DIR/emoji/<vendor>/package   (npm packages emoji-datasource-<vendor>@16.0.0;
#                             google and twitter always, apple and facebook with --all-vendors)
# DATA_DIR defaults to ./data. Idempotent: whatever is already present is left alone.
set -euo pipefail

EMOJI_VERSION=16.0.0
vendors=(google twitter)
data_dir=""
for a in "$@"; do
  case "$a" in
    --all-vendors) vendors=(google twitter apple facebook) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "fetch-data.sh: unknown flag $a" >&2; exit 2 ;;
    *) data_dir="$a" ;;
  esac
done
data_dir="${data_dir:-./data}"
mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Fashion-MNIST (IDX files, gzip-compressed) from Debian.
fm_sys=/usr/share/datasets/fashion-mnist
if [ ! -f "$fm_sys/train-images-idx3-ubyte.gz" ]; then
  echo "fetch-data: installing dataset-fashion-mnist with apt-get" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist || {
    as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; }
fi
if [ ! -e "$data_dir/fashion-mnist" ]; then
  ln -s "$fm_sys" "$data_dir/fashion-mnist"
fi
echo "fetch-data: fashion-mnist at $data_dir/fashion-mnist" >&2

# Emoji images from npm (one class per emoji, one image per vendor).
for v in "${vendors[@]}"; do
  dest="$data_dir/emoji/$v"
  if [ -f "$dest/package/emoji.json" ]; then
    echo "fetch-data: emoji/$v present" >&2
    continue
  fi
  tmp="$(mktemp -d "$data_dir/.emoji-$v.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-data: npm pack emoji-datasource-$v@$EMOJI_VERSION" >&2
  tgz="$(cd "$tmp" && npm pack --silent "emoji-datasource-$v@$EMOJI_VERSION" | tail -n1)"
  # Only emoji.json and the 64 px images are needed; skip sheets and other sizes.
  tar -xzf "$tmp/$tgz" -C "$tmp" package/emoji.json package/package.json "package/img/$v/64"
  rm -f "$tmp/$tgz"
  mkdir -p "$data_dir/emoji"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  echo "fetch-data: emoji/$v -> $dest" >&2
done
