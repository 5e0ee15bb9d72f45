// Package metrics computes the deep-metric-learning evaluation metrics of the original NIR
// code base (reference-method.md §9) from an embedding matrix and its labels: e_recall@k,
// c_recall@k, mAP_k and c_mAP_k (mAP_1000), MAP@R (Musgrave et al.), nmi, f1, dists@intra,
// dists@inter, dists@intra_over_inter and rho_spectrum@mode.
//
// Each metric family is one file (recall.go, mapk.go, mapr.go, nmi.go, f1.go, dists.go,
// spectrum.go) that declares a Metric (its name patterns, documentation and how a name
// becomes a computation) listed in builtinMetrics (metric.go). Parse, Check, Names, Summary
// and Candidates ("did you mean") come from that table, and Compute does the shared work
// (neighbour searches, k-means) once for all the families a list of names asks for.
//
// Fidelity to the original:
//   - Nearest neighbours are searched over the evaluated set itself with k_max+1 results and
//     the first is dropped as "self" (DropFirst); ties are ordered by lower index first (see
//     Backend), which pins down what faiss leaves unspecified.
//   - k-means is faiss's Clustering algorithm replicated step by step (KMeans, rand_perm,
//     split_clusters, drawing from dmlrun/rng's std::mt19937), with the number of TRAINING
//     classes as k; cluster labels come from one more assignment to the final centroids. The
//     rand_int variant is a parameter because faiss changed it; the Debian faiss 1.7.3 we
//     test against uses modulo.
//   - c_mAP_1000 is reported under its own name (the original reports it as mAP_1000).
//   - dists@intra replaces NaN class values with the maximum over all finite classes (the
//     original's index bug took it from classes 0 and 1 only).
//   - rho_spectrum uses exact singular values (all min(N,D) of them) where the original's
//     CPU path used a randomized TruncatedSVD with D−1 components.
//
// It owns the evaluate artifact's file formats, metrics.json (Result, ReadResult) and
// neighbours.safetensors (QueryNeighbours, ReadNeighbours: ComputeAll's per-query lists),
// so that report and diff read them without linking libtorch.
//
// What it is not: it does not read embed artifacts (stages/evaluate does), and its GoBackend is a
// plain-Go exhaustive search meant for tests and small sets; production runs pass the
// libtorch Backend from stages/evaluate, which does the O(N²·D) products with BLAS on CPU or
// on a GPU.
package metrics
