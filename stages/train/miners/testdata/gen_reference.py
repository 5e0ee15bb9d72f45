#!/usr/bin/python3
"""Reference triplets for dmlrun's batchminers (stages/train/miners).

Run with Debian's Python (torch 1.13, NumPy 1.24):  /usr/bin/python3 gen_reference.py
It writes reference.json next to this file. Each miner below is written from
reference-method.md section 7 with the same torch distance computation and the same NumPy /
CPython random calls, in the same order, as the original batchminers; the Go tests replay
the seeds and compare triplets exactly.
"""
import itertools
import json
import os
import random

import numpy as np
import torch


def pdist(a, eps=0.0):
    prod = torch.mm(a, a.t())
    norm = prod.diag().unsqueeze(1).expand_as(prod)
    res = (norm + norm.t() - 2 * prod).clamp(min=0)
    if eps > 0:
        res = res.clamp(min=eps)
    return res.sqrt()


def inv_sphere(dim, dists, labels, anchor_label):
    logq = (2.0 - float(dim)) * torch.log(dists) - (float(dim - 3) / 2) * torch.log(1.0 - 0.25 * dists.pow(2))
    same = np.where(labels == anchor_label)[0]
    logq[same] = 0
    q = torch.exp(logq - torch.max(logq))
    q[same] = 0
    q = q / q.sum()
    return q.numpy()


def distance(emb, labels, cutoff=0.5):
    bs, dim = emb.shape
    d = pdist(emb).clamp(min=cutoff)
    out = []
    for i in range(bs):
        pos = labels == labels[i]
        q = inv_sphere(dim, d[i], labels, labels[i])
        n = np.random.choice(bs, p=q)
        if np.sum(pos) > 1:
            pos[i] = False
        p = np.random.choice(np.where(pos)[0])
        out.append([i, int(p), int(n)])
    return out


def rho_distance(emb, labels, cutoff=0.5, cp=0.2):
    bs, dim = emb.shape
    d = pdist(emb, 1e-4).clamp(min=cutoff)
    out = []
    for i in range(bs):
        pos = labels == labels[i]
        use_contr = np.random.choice(2, p=[1 - cp, cp])
        if np.sum(pos) > 1:
            pos[i] = False
            if use_contr:
                out.append([i, i, int(np.random.choice(np.where(pos)[0]))])
            else:
                q = inv_sphere(dim, d[i], labels, labels[i])
                p = np.random.choice(np.where(pos)[0])
                n = np.random.choice(bs, p=q)
                out.append([i, int(p), int(n)])
    return out


def semihard(emb, labels, margin=0.2):
    d_all = pdist(emb).numpy()
    out = []
    for i in range(len(labels)):
        d = d_all[i]
        neg = labels != labels[i]
        pos = labels == labels[i]
        pos[i] = False
        p = np.random.choice(np.where(pos)[0])
        m = np.logical_and(neg, d > d[p])
        m = np.logical_and(m, d < margin + d[p])
        if m.sum() > 0:
            n = np.random.choice(np.where(m)[0])
        else:
            n = np.random.choice(np.where(neg)[0])
        out.append([i, int(p), int(n)])
    return out


def softhard(emb, labels):
    d_all = pdist(emb).numpy()
    out = []
    for i in range(len(labels)):
        d = d_all[i]
        neg = labels != labels[i]
        pos = labels == labels[i]
        if np.sum(pos) > 1:
            pos[i] = False
            nm = np.logical_and(neg, d < d[np.where(pos)[0]].max())
            pm = np.logical_and(pos, d > d[np.where(neg)[0]].min())
            p = np.random.choice(np.where(pm)[0]) if pm.sum() > 0 else np.random.choice(np.where(pos)[0])
            n = np.random.choice(np.where(nm)[0]) if nm.sum() > 0 else np.random.choice(np.where(neg)[0])
            out.append([i, int(p), int(n)])
    return out


def random_miner(emb, labels):
    classes = np.unique(labels)
    idx = np.arange(len(labels))
    by = {c: idx[labels == c] for c in classes}
    trip = []
    for x in classes:
        for y in classes:
            if x == y:
                continue
            for t in itertools.product(by[x], by[x], by[y]):
                if t[0] != t[1]:
                    trip.append([int(v) for v in t])
    return random.sample(trip, len(labels))


def npair(emb, labels):
    classes = [c for c in np.unique(labels) if np.sum(labels == c) >= 2]
    pairs = []
    for c in classes:
        idx = np.where(labels == c)[0]
        ai = np.random.choice(len(idx))
        rest = np.delete(idx, ai)
        pairs.append((int(idx[ai]), int(rest[np.random.choice(len(rest))])))
    out = []
    for k, (a, p) in enumerate(pairs):
        for j, (_, pj) in enumerate(pairs):
            if j != k:
                out.append([a, p, pj])
    return out


def make_batch(seed, b, d, spc):
    g = torch.Generator().manual_seed(seed)
    emb = torch.nn.functional.normalize(torch.randn(b, d, generator=g), dim=1)
    labels = np.repeat(np.arange(b // spc) * 3 + 1, spc).astype(np.int64)
    return emb, labels


def main():
    # The generators' own vectors (np.random.permutation, random_sample, choice, random.sample)
    # are in rng/testdata/gen_vectors.py.
    out = {"cases": []}

    miners = [("distance", distance), ("rho_distance", rho_distance), ("semihard", semihard),
              ("softhard", softhard), ("npair", npair)]
    for (b, d, spc, seed) in [(12, 8, 2, 0), (16, 32, 4, 1), (24, 128, 3, 2), (112, 128, 2, 3)]:
        emb, labels = make_batch(seed, b, d, spc)
        case = {"B": b, "D": d, "labels": labels.tolist(), "emb": emb.flatten().tolist(), "miners": {}}
        for name, fn in miners:
            np.random.seed(100 + seed)
            first = fn(emb, labels)
            second = fn(emb, labels)  # continues the same stream
            case["miners"][name] = {"np_seed": 100 + seed, "calls": [first, second]}
        random.seed(200 + seed)
        case["miners"]["random"] = {"py_seed": 200 + seed, "calls": [random_miner(emb, labels), random_miner(emb, labels)]}
        out["cases"].append(case)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
