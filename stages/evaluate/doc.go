// Package evaluate is the `evaluate` stage: it reads one embed artifact
// (embeddings.safetensors with `embeds` F32 [N,D] and `labels` I64 [N], embed.json, and the
// optional train_log.csv the embed stage copies from its model), computes the requested
// metrics with package metrics, and writes metrics.json (metrics.Result), which carries the
// model's block name, seed and address for report and diff, and the copied training log
// for report's plots.
//
// Parameters: `from` (embed blocks; one evaluate node per embed instance), `metrics` (the
// original's default list e_recall@1/2/4/10, nmi, f1, mAP_1000), `kmeans_classes` (0: the
// number of training classes from embed.json, as the original clusters the test set into
// as many clusters as there are training classes) and `faiss_rand_int`.
//
// The heavy steps run through TorchBackend (chunked torch.Mm + TopK/MinDim on the node's
// device). The metric definitions, the faiss k-means replica and the pure-Go reference
// backend live in the metrics subpackage, which needs no libtorch. This package does not
// aggregate runs; stages/report does.
package evaluate
