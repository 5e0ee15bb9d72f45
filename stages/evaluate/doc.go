// Package evaluate is the `evaluate` stage: it reads one embed artifact through package
// stages/embed (embed.Read: embeddings.safetensors and embed.json, checked against each
// other; plus the optional train_log.csv the embed stage copies from its model), computes
// the requested metrics with package metrics, and writes metrics.json (metrics.Result),
// which carries the model's block name, seed and address for report and diff, and the
// copied training log for report's plots.
//
// Its typed config is Config: `metrics` (names looked up in the metric table of package
// metrics when the config is decoded, so validate reports an unknown name at its list
// element with "did you mean"; default the original's e_recall@1/2/4/10, nmi, f1,
// mAP_1000), `kmeans_classes` (>= 0; 0: the number of training classes from embed.json,
// as the original clusters the test set into as many clusters as there are training
// classes) and `faiss_rand_int`; `from` (embed blocks, one evaluate node per embed
// instance) is a reference. README.md lists the metrics, generated from the table.
//
// The heavy steps run through TorchBackend (chunked torch.Mm + TopK/MinDim on the node's
// device), inside one torch.Pinned call around the node's libtorch work. The metric
// definitions, the faiss k-means replica and the pure-Go reference backend live in the
// metrics subpackage, which needs no libtorch. This package does not own the embed
// artifact's format (stages/embed does) and does not aggregate runs (stages/report does).
package evaluate
