// Package embed is dmlrun's `embed` stage and the owner of its artifact's format.
//
// The format (format.go): embeddings.safetensors (`embeds` F32 [N,D], `labels` I64 [N], in
// dataset order) and embed.json (Info), plus the trained model's train_log.csv copied so a
// report can plot it from the embed artifact alone. The stage writes them through
// WriteEmbeddings and WriteInfo; evaluate, report and diff read them through Read and
// ReadInfo, so one struct describes each file. Reading and writing need no libtorch
// (package safetensors).
//
// The stage (stage.go, Kind "embed", ExpandOver "models", exclusive) rebuilds a trained
// model from its train artifact (train.LoadModel, the one reader of model.json) and embeds
// one split of the dataset it was trained on (with the weights train's checkpoint holds:
// the selected epoch's when the train block selects), in dataset order with the evaluation
// transform and no gradients (train.EmbedSplit, which training's eval_every uses too). A
// dataset other than the model's is refused: its key must equal the one model.json records.
// So are embeddings with a NaN or an infinity in any row (ErrNonFinite, naming how many
// images and the first): a diverged network is not a result to evaluate. embed.json copies
// from model.json how the model trained (epochs, steps, skipped steps, selected epoch and
// selection) so that evaluate, report and diff can show it beside the metrics.
//
// What it is not: it computes no metrics (stages/evaluate does) and trains nothing; how a
// network is built and checkpointed is stages/train's and stages/models' business.
package embed
