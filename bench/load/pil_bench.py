#!/usr/bin/python3
"""Pillow doing the load stage's per-image work on the emoji set: open, RGBA, alpha
composite over white, RGB, Resize(base) + CenterCrop(base) (torchvision semantics, here
square images so one resize), bilinear. Prints images/second.

usage: pil_bench.py DATA_DIR [vendor] [base] [processes] [n]
"""
import json, os, sys, time
from multiprocessing import Pool
import numpy as np
from PIL import Image

def work(args):
    path, base = args
    im = Image.open(path).convert("RGBA")
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, im).convert("RGB")
    w, h = rgb.size
    if w <= h:
        size = (base, int(base * h / w))
    else:
        size = (int(base * w / h), base)
    rgb = rgb.resize(size, Image.BILINEAR)
    top, left = round((size[1] - base) / 2), round((size[0] - base) / 2)
    return np.asarray(rgb.crop((left, top, left + base, top + base))).nbytes

def main():
    data = sys.argv[1]
    vendor = sys.argv[2] if len(sys.argv) > 2 else "google"
    base = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    procs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    pkg = os.path.join(data, "emoji", vendor, "package")
    entries = json.load(open(os.path.join(pkg, "emoji.json")))
    paths = [os.path.join(pkg, "img", vendor, "64", e["image"]) for e in entries]
    if n:
        paths = paths[:n]
    for p in paths[:50]:
        work((p, base))
    import resource
    def cpu():
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
    c = cpu()
    t = time.perf_counter()
    if procs == 1:
        for p in paths:
            work((p, base))
    else:
        with Pool(procs) as pool:
            pool.map(work, [(p, base) for p in paths], chunksize=32)
    el = time.perf_counter() - t
    c = cpu() - c
    print("pil processes=%d images=%d base=%d seconds=%.3f images_per_s=%.1f cpu_seconds=%.3f images_per_cpu_s=%.1f"
          % (procs, len(paths), base, el, len(paths) / el, c, len(paths) / c))

if __name__ == "__main__":
    main()
