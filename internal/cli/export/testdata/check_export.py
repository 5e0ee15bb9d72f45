#!/usr/bin/python3
"""Checks a `dmlrun export` folder against the embed artifact's safetensors, for dmlrun's tests.

Usage: check_export.py npy|csv EXPORT_DIR EMBEDDINGS_SAFETENSORS
Prints "ok N D" when the export holds exactly the safetensors' values; exits 1 with a
message otherwise.

The safetensors file is parsed here from its published layout (an 8-byte little-endian
header length, a JSON header with dtype, shape and data_offsets per tensor, the data),
sharing no code with dmlrun. The NPY files are read with numpy.load alone (no pickle), the
CSV with the csv module, each value parsed as a Python float and rounded to float32.
Floats are compared by their bits, so -0, 0 and every last bit count.
"""
import csv
import json
import os
import struct
import sys

import numpy as np


def safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        dt = {"F32": "<f4", "I64": "<i8"}.get(t["dtype"])
        if dt is None:
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=dt).reshape(t["shape"])
    return out


def fail(msg):
    sys.exit("check_export.py: " + msg)


def same_floats(got, want, what):
    if got.shape != want.shape:
        fail("%s: shape %s, want %s" % (what, got.shape, want.shape))
    bad = np.nonzero(got.astype("<f4").view("<u4") != want.view("<u4"))
    if len(bad[0]):
        i = tuple(int(x[0]) for x in bad)
        fail("%s: %d values differ, the first at %s: %r, want %r" % (what, len(bad[0]), i, got[i], want[i]))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("npy", "csv"):
        sys.exit(__doc__)
    fmt, d, st = sys.argv[1:]
    ts = safetensors(st)
    emb, lab = ts["embeds"], ts["labels"]
    n, dim = emb.shape
    if fmt == "npy":
        e = np.load(os.path.join(d, "embeddings.npy"), allow_pickle=False)
        l = np.load(os.path.join(d, "labels.npy"), allow_pickle=False)
        if e.dtype != np.float32 or l.dtype != np.int64:
            fail("dtypes %s and %s, want float32 and int64" % (e.dtype, l.dtype))
        same_floats(e, emb, "embeddings.npy")
        if l.shape != lab.shape or not np.array_equal(l, lab):
            fail("labels.npy %s differs from the labels %s" % (l, lab))
        with open(os.path.join(d, "paths.txt")) as f:
            paths = f.read().split("\n")
        if paths[-1] != "" or len(paths) - 1 != n:
            fail("paths.txt has %d lines for %d rows" % (len(paths) - 1, n))
    else:
        with open(os.path.join(d, "embeddings.csv"), newline="") as f:
            rows = list(csv.reader(f))
        want = ["split", "label", "class", "path"] + ["e%d" % j for j in range(dim)]
        if rows[0] != want:
            fail("header %s" % rows[0])
        if len(rows) - 1 != n:
            fail("%d rows for %d embeddings" % (len(rows) - 1, n))
        labels = np.array([int(r[1]) for r in rows[1:]], dtype=np.int64)
        if not np.array_equal(labels, lab):
            fail("labels %s, want %s" % (labels, lab))
        vals = np.array([[float(x) for x in r[4:]] for r in rows[1:]], dtype=np.float64).reshape(n, dim)
        same_floats(vals, emb, "embeddings.csv")
    print("ok", n, dim)


if __name__ == "__main__":
    main()
