#!/usr/bin/python3
"""Write the emoji images as a CUB200-2011-layout folder, the data of bench/epoch.

Usage: /usr/bin/python3 bench/epoch/gen_cub.py ROOT [--emoji data/emoji] [--classes N]
        [--size 64] [--quality 90]

Writes ROOT/cub200/images/<NNNN.short_name>/{google,twitter}.jpg, the layout of
reference-method.md section 2.2 that both dmlrun's `kind = "cub200"` (root = ROOT/cub200)
and bench/epoch/epoch.py read, and ROOT/gen.json with the arguments and counts.

Classes are chosen as dmlrun's `kind = "emoji"` chooses them (stages/load/kind_emoji.go):
the top-level entries of google's emoji.json (skin-tone variants are not top-level) that both
google's and twitter's emoji.json mark has_img_<vendor>, ordered by sort_order. --classes N
keeps the first N (0 = all, 1,911 with scripts/fetch-data.sh's packages). The folder number
is the position in that order, so the CUB reader's first half (train) is the first half of
the emoji order and the second half (test) the rest, as with the emoji kind.

Each image is the vendor's 64 px PNG, alpha composited over white (as the emoji kind does),
optionally resized to --size with PIL bicubic, and saved as a baseline JPEG with fixed
quality and PIL's default 4:2:0 subsampling. No randomness: the same inputs and Pillow give
the same bytes, so both sides of the benchmark decode the same files.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile

from PIL import Image

VENDORS = ("google", "twitter")


def choose(emoji_root):
    """The (short_name, image file) of every emoji both vendors have, in sort_order."""
    has = {}
    entries = None
    for v in VENDORS:
        path = os.path.join(emoji_root, v, "package", "emoji.json")
        try:
            with open(path) as f:
                es = json.load(f)
        except OSError as e:
            sys.exit("gen_cub: %s: %s (run scripts/fetch-data.sh)" % (path, e.strerror))
        has[v] = {e["unified"]: bool(e.get("has_img_" + v)) for e in es}
        if entries is None:
            entries = es
    # sorted() is stable, as the Go side's sort.SliceStable.
    entries = sorted(entries, key=lambda e: e["sort_order"])
    return [(e.get("short_name") or e["unified"], e["image"]) for e in entries
            if all(has[v].get(e["unified"]) for v in VENDORS)]


def folder_name(i, n, short):
    """NNN.Name: the CUB reader sorts by the integer before the first '.'; the name keeps
    only [A-Za-z0-9_] so no folder contains '._' (which the reader ignores)."""
    width = max(3, len(str(n)))
    return "%0*d.%s" % (width, i + 1, re.sub(r"[^A-Za-z0-9_]", "_", short))


def convert(src, dst, size, quality):
    im = Image.open(src).convert("RGBA")
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, im).convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.BICUBIC)
    rgb.save(dst, "JPEG", quality=quality)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--emoji", default="data/emoji", help="folder scripts/fetch-data.sh filled")
    ap.add_argument("--classes", type=int, default=0, help="keep the first N classes (0 = all)")
    ap.add_argument("--size", type=int, default=64, help="image side in pixels (64 = the PNGs' own)")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality")
    a = ap.parse_args()
    chosen = choose(a.emoji)
    if a.classes > 0:
        chosen = chosen[:a.classes]
    if len(chosen) < 4:
        sys.exit("gen_cub: only %d classes; need at least 4 (2 train, 2 test)" % len(chosen))
    out = os.path.join(a.root, "cub200")
    if os.path.exists(out):
        sys.exit("gen_cub: %s exists; remove it or choose another ROOT" % out)
    os.makedirs(a.root, exist_ok=True)
    # Written beside the target and renamed into place: an interrupted run leaves no
    # half-filled cub200/ that a later run would take for a finished one.
    tmp = tempfile.mkdtemp(prefix=".cub200-", dir=a.root)
    try:
        for i, (short, image) in enumerate(chosen):
            d = os.path.join(tmp, "images", folder_name(i, len(chosen), short))
            os.makedirs(d)
            for v in VENDORS:
                src = os.path.join(a.emoji, v, "package", "img", v, "64", image)
                convert(src, os.path.join(d, v + ".jpg"), a.size, a.quality)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = {"classes": len(chosen), "images": 2 * len(chosen), "train_classes": len(chosen) // 2,
            "size": a.size, "quality": a.quality, "vendors": list(VENDORS)}
    with open(os.path.join(a.root, "gen.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print("gen_cub: %s: %d classes (%d train, %d test), %d images of %dx%d, JPEG quality %d"
          % (out, len(chosen), len(chosen) // 2, len(chosen) - len(chosen) // 2, 2 * len(chosen), a.size, a.size, a.quality))


if __name__ == "__main__":
    main()
