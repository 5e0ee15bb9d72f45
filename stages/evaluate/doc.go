// Package evaluate is the `evaluate` stage: it reads one embed artifact through package
// stages/embed (embed.Read: embeddings.safetensors and embed.json, checked against each
// other; plus the optional train_log.csv the embed stage copies from its model), computes
// the requested metrics with package metrics, and writes metrics.json (metrics.Result),
// which carries the model's seed, how it trained (epochs, steps, skipped steps, the
// selected epoch, from embed.json), the copied training log for report's plots, and the
// block name and address the model had when the node was computed (for people reading the
// file: report and diff name runs by the current experiment file, never by these).
// Embeddings with NaN or Inf fail the node (metrics.NonFiniteError). Every node also
// writes neighbours.safetensors (metrics.QueryNeighbours: each query's nearest L2
// neighbours as the metrics ranked them, for dmlrun diff --queries) and, when the block
// names the embed block's dataset, retrieval.png: a seeded sample of test queries with
// their nearest neighbours' images (package gallery), recorded in metrics.json.
//
// Its typed config is Config: `metrics` (names looked up in the metric table of package
// metrics when the config is decoded, so validate reports an unknown name at its list
// element with "did you mean"; default the original's e_recall@1/2/4/10, nmi, f1,
// mAP_1000), `kmeans_classes` (>= 0; 0: the number of training classes from embed.json,
// as the original clusters the test set into as many clusters as there are training
// classes), `faiss_rand_int` and `faiss_padding` (the original's mAP_1000 on sets of at
// most 1000 images; README.md explains the difference), `retrieval_queries`, `retrieval_k`
// and `retrieval_seed` (the picture); `from` (embed blocks, one evaluate node per embed
// instance) and the optional `dataset` are references. README.md lists the metrics,
// generated from the table.
//
// The heavy steps run through TorchBackend (chunked torch.Mm + TopK/MinDim on the node's
// device), inside one torch.Pinned call around the node's libtorch work. The metric
// definitions, the faiss k-means replica and the pure-Go reference backend live in the
// metrics subpackage, which needs no libtorch. This package does not own the embed
// artifact's format (stages/embed does) and does not aggregate runs (stages/report does).
package evaluate
