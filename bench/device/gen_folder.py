#!/usr/bin/env python3
"""Write a tiny `kind = "folder"` dataset for the device check's `dmlrun apply`.

Usage: python3 bench/device/gen_folder.py DIR [--classes 8] [--per-class 8] [--size 40]

DIR/<class>/<i>.png, RGB PNGs of size x size: each class has its own base colour and
stripe period, plus per-pixel noise, so a network can learn something in a few steps.
Standard library only (zlib, struct): the GPU machine's venv may have no PIL. Deterministic
(random.Random(7)), so every run writes the same files.
"""
import argparse
import os
import random
import struct
import sys
import zlib


def png(width, height, rows):
    """rows: list of bytes, each 3*width RGB bytes."""
    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 per row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--per-class", type=int, default=8)
    ap.add_argument("--size", type=int, default=40)
    a = ap.parse_args()
    rng = random.Random(7)
    n = a.size
    for c in range(a.classes):
        d = os.path.join(a.dir, "class%02d" % c)
        os.makedirs(d, exist_ok=True)
        base = [40 + 70 * ((c >> ch) & 1) for ch in range(3)]
        period = 2 + c % 5
        for i in range(a.per_class):
            rows = []
            for y in range(n):
                r = bytearray()
                for x in range(n):
                    stripe = ((x + y * (c % 3)) // period) % 2
                    for ch in range(3):
                        r.append(min(255, base[ch] + 60 * stripe + rng.randrange(50)))
                rows.append(bytes(r))
            with open(os.path.join(d, "%03d.png" % i), "wb") as f:
                f.write(png(n, n, rows))
    print("%s: %d classes x %d PNGs of %dx%d" % (a.dir, a.classes, a.per_class, n, n), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
