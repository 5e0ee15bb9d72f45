#!/usr/bin/python3
"""faiss side of bench/eval: the same Recall@{1,2,4,10} and NMI on the vectors evalbench wrote.

Mirrors the original evaluation: exact search with k_max+1 = 11 neighbours (IndexFlatIP on
unit vectors ranks like IndexFlatL2) dropping the first as self; faiss.Kmeans with one
cluster per class, 20 iterations, min_points_per_centroid 1, max 1e9, seed 1234, then the
nearest centroid of every point; sklearn NMI.
Usage: /usr/bin/python3 faiss_bench.py DIR N D CLASSES
"""
import json
import resource
import sys
import time

import faiss
import numpy as np
from sklearn.metrics import normalized_mutual_info_score


def main():
    d_ir, n, d, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    x = np.fromfile(d_ir + "/x.f32", dtype="<f4").reshape(n, d)
    y = np.fromfile(d_ir + "/labels.i64", dtype="<i8")
    # warm-up outside the timings
    w = faiss.IndexFlatIP(d)
    w.add(x[:1000])
    w.search(x[:1000], 11)

    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(d)
    index.add(x)
    _, nn = index.search(x, 11)
    nn = nn[:, 1:]
    hit = y[nn] == y[:, None]
    out = {"e_recall@%d" % k: float(hit[:, :k].any(1).mean()) for k in (1, 2, 4, 10)}
    t1 = time.perf_counter()
    km = faiss.Kmeans(d, classes, niter=20, min_points_per_centroid=1, max_points_per_centroid=1000000000, seed=1234)
    km.train(x)
    ci = faiss.IndexFlatL2(d)
    ci.add(km.centroids)
    _, assign = ci.search(x, 1)
    out["nmi"] = float(normalized_mutual_info_score(y, assign.ravel()))
    t2 = time.perf_counter()
    print(json.dumps({
        "impl": "faiss %s (numpy %s)" % (faiss.__version__, np.__version__),
        "n": n, "d": d, "classes": classes, "threads": faiss.omp_get_max_threads(),
        "search_s": t1 - t0, "kmeans_s": t2 - t1, "total_s": t2 - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "metrics": out,
    }))


if __name__ == "__main__":
    main()
