#!/usr/bin/python3
"""Reference values for stages/evaluate/metrics tests.

Run with Debian's Python (it has numpy, scipy, sklearn, faiss):
    /usr/bin/python3 stages/evaluate/testdata/gen_reference.py > stages/evaluate/testdata/reference.json
Go tests read the JSON only. Independent implementations: sklearn for NMI and the pair
confusion matrix (F1), scipy cdist for dists, numpy SVD for the spectrum, numpy brute force
(float64, stable sort) for neighbours, and faiss itself for k-means.
"""
import json
import sys

import faiss
import numpy as np
import sklearn
from scipy.spatial import distance
from scipy.stats import entropy
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import pair_confusion_matrix
from sklearn.preprocessing import normalize


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def clustering_cases():
    rng = np.random.RandomState(7)
    cases = [
        {"name": "hand", "truth": [0, 0, 0, 1, 1, 1], "pred": [0, 0, 1, 1, 2, 2]},
        {"name": "perfect_relabel", "truth": [0, 0, 1, 1, 2], "pred": [5, 5, 3, 3, 9]},
        {"name": "one_cluster", "truth": [0, 1, 2, 3], "pred": [0, 0, 0, 0]},
        {"name": "both_single", "truth": [4, 4, 4], "pred": [1, 1, 1]},
        {"name": "random_200", "truth": rng.randint(0, 12, 200).tolist(), "pred": rng.randint(0, 15, 200).tolist()},
        {"name": "random_1000", "truth": rng.randint(0, 50, 1000).tolist(), "pred": rng.randint(0, 40, 1000).tolist()},
    ]
    for c in cases:
        c["nmi"] = float(normalized_mutual_info_score(c["truth"], c["pred"]))
        pc = pair_confusion_matrix(c["truth"], c["pred"]).astype(np.float64)
        tp, a, b = pc[1, 1] / 2, (pc[1, 1] + pc[1, 0]) / 2, (pc[1, 1] + pc[0, 1]) / 2
        if tp == 0 or a == 0 or b == 0:
            c["f1"] = 0.0
        else:
            p, r = tp / a, tp / b
            c["f1"] = float(2 * p * r / (p + r))
    return cases


def neighbours(x, ip):
    """All neighbours of every row, best first, ties by lower index (stable sort), self kept."""
    x = x.astype(np.float64)
    if ip:
        key = -(x @ x.T)
    else:
        key = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return np.argsort(key, axis=1, kind="stable")


def retrieval(labels, order, ks):
    nn = order[:, 1:]  # drop the first neighbour as self
    lab = labels[nn]
    hit = lab == labels[:, None]
    out = {}
    for k in ks:
        out["recall@%d" % k] = float(np.mean(hit[:, :k].any(1)))
    sizes = {y: int((labels == y).sum()) for y in np.unique(labels)}
    # mAP_1000 (the set has fewer than 1001 rows: all N-1 neighbours)
    K = min(1000, nn.shape[1])
    h = hit[:, :K].astype(np.float64)
    prec = np.cumsum(h, 1) / np.arange(1, K + 1)
    ap = (h * prec).sum(1) / np.array([sizes[y] for y in labels])
    out["mAP_1000"] = float(ap.mean())
    # MAP@R
    vals = []
    for i, y in enumerate(labels):
        R = sizes[y] - 1
        if R == 0:
            continue
        hh = hit[i, :R].astype(np.float64)
        vals.append(float((hh * np.cumsum(hh) / np.arange(1, R + 1)).sum() / R))
    out["mAP@R"] = float(np.mean(vals))
    return out


def dists(x, labels):
    locs = [np.where(labels == y)[0] for y in np.unique(labels)]
    intra = []
    for loc in locs:
        c = distance.cdist(x[loc], x[loc], "cosine")
        with np.errstate(invalid="ignore", divide="ignore"):
            intra.append(np.sum(c) / (len(c) ** 2 - len(c)))
    intra = np.array(intra)
    bad = np.isnan(intra) | np.isinf(intra)
    intra[bad] = np.max(intra[~bad])  # the intended rule (the original's index bug fixed)
    di = float(np.mean(intra))
    coms = np.array([normalize(np.mean(x[loc], axis=0).reshape(1, -1)).reshape(-1) for loc in locs])
    m = distance.cdist(coms, coms, "cosine")
    de = float(np.sum(m) / (len(m) ** 2 - len(m)))
    return {"dists@intra": di, "dists@inter": de, "dists@intra_over_inter": di / max(de, 1e-8)}


def rho(x, mode):
    s = np.linalg.svd(x.astype(np.float64), compute_uv=False)
    s = s[abs(mode) - 1:]
    sn = s / s.sum()
    u = np.ones(len(s)) / len(s)
    return float(entropy(u, sn) if mode > 0 else entropy(sn, u))


def embedding_case():
    rng = np.random.RandomState(3)
    n_cls, d = 25, 16
    centers = rng.randn(n_cls, d)
    labels = rng.randint(0, n_cls, 300)
    labels[0] = 99  # a singleton class (exercises the dists NaN rule and MAP@R's R=0 skip)
    centers = np.vstack([centers, rng.randn(75, d)])
    x = (centers[np.minimum(labels, 99)] * 0.8 + rng.randn(300, d)).astype(np.float32)
    xn = normalize(x).astype(np.float32)
    ks = [1, 2, 4, 10]
    e = retrieval(labels, neighbours(x, False), ks)
    c = retrieval(labels, neighbours(xn, True), ks)
    exp = {}
    for k in ks:
        exp["e_recall@%d" % k] = e["recall@%d" % k]
        exp["c_recall@%d" % k] = c["recall@%d" % k]
    exp["mAP_1000"], exp["c_mAP_1000"] = e["mAP_1000"], c["mAP_1000"]
    exp["mAP@R"], exp["c_mAP@R"] = e["mAP@R"], c["mAP@R"]
    exp.update(dists(x, labels))
    for m in (1, 2, -1, -3):
        exp["rho_spectrum@%d" % m] = rho(x, m)
    from sklearn.decomposition import TruncatedSVD
    tsvd = TruncatedSVD(n_components=d - 1, n_iter=7, random_state=42).fit(x)
    s = tsvd.singular_values_
    sn = s / s.sum()
    return {
        "n": 300, "d": d, "x": f32list(x), "labels": labels.tolist(),
        "expected": exp,
        "singular_values": [float(v) for v in np.linalg.svd(x.astype(np.float64), compute_uv=False)],
        "note_truncated_svd_rho_spectrum@1": float(entropy(np.ones(len(s)) / len(s), sn)),
    }


def rand_int_variant():
    """Which rand_int this faiss uses: compare faiss.rand_perm with both formulas over
    std::mt19937 (numpy's RandomState(seed) is the same generator with init_genrand)."""
    n, seed = 1000, 1235
    perm = np.zeros(n, dtype="int32")
    faiss.rand_perm(faiss.swig_ptr(perm), n, seed)
    draws = np.random.RandomState(seed).randint(0, 2**32, size=n, dtype=np.uint64)
    for variant in ("modulo", "mulshift"):
        p = list(range(n))
        for i in range(n - 1):
            m = n - i
            r = int(draws[i]) % m if variant == "modulo" else (int(draws[i]) * m) >> 32
            j = i + r
            p[i], p[j] = p[j], p[i]
        if p == perm.tolist():
            return variant, perm[:20].tolist()
    raise SystemExit("faiss rand_perm matches neither rand_int variant")


def kmeans_case(name, x, k, niter=20):
    clus = faiss.Clustering(x.shape[1], k)
    clus.niter = niter
    clus.min_points_per_centroid = 1
    clus.max_points_per_centroid = 1000000000
    index = faiss.IndexFlatL2(x.shape[1])
    clus.train(x, index)
    cent = faiss.vector_float_to_array(clus.centroids).reshape(k, x.shape[1])
    idx = faiss.IndexFlatL2(x.shape[1])
    idx.add(cent)
    _, assign = idx.search(x, 1)
    # empty clusters seen by faiss during training (from its iteration stats)
    stats = clus.iteration_stats
    nsplit = [int(stats.at(i).nsplit) for i in range(stats.size())]
    return {"name": name, "n": x.shape[0], "d": x.shape[1], "k": k, "iters": niter, "x": f32list(x),
            "centroids": f32list(cent), "labels": assign.ravel().tolist(), "splits": nsplit}


def kmeans_cases():
    """Exact comparisons need data without distance near-ties: faiss computes
    |x|^2+|c|^2-2<x,c> with BLAS, so ties are decided by rounding (see metrics.KMeans).
    The repeats case (30 distinct points repeated 7 times, 40 clusters) makes 17 clusters
    empty after the first assignment, so one iteration exercises split_clusters, its RNG
    and the perturbation exactly; from the second iteration on, split centroid pairs sit
    symmetrically around data points (exact ties) and the outcome is a rounding lottery."""
    rng = np.random.RandomState(11)
    a = rng.randn(500, 8).astype(np.float32)
    b = (rng.randn(40, 32)[rng.randint(0, 40, 2000)] + 0.5 * rng.randn(2000, 32)).astype(np.float32)
    r = np.repeat(rng.randn(30, 3), 7, axis=0).astype(np.float32)
    return [kmeans_case("gauss_500x8_k20", a, 20), kmeans_case("blobs_2000x32_k100", b, 100),
            kmeans_case("repeats_210x3_k40_1iter", r, 40, niter=1)]


def main():
    variant, perm = rand_int_variant()
    out = {
        "generator": "stages/evaluate/testdata/gen_reference.py",
        "versions": {"faiss": faiss.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__},
        "faiss_rand_int": variant,
        "faiss_rand_perm_1000_seed1235_first20": perm,
        "clustering": clustering_cases(),
        "embedding": embedding_case(),
        "kmeans": kmeans_cases(),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
