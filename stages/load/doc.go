// Package load is dmlrun's `dataset` stage: it reads a dataset folder with the original
// code's split protocol, decodes and resizes every image once, and stores the result as
// uint8 image shards (safetensors) plus dataset.json in the node's output directory. It
// also holds what the training and embedding stages need to consume that artifact: Open,
// Split (evaluation and training batches with the protocol's crops, flips and
// normalisation) and the original's batch samplers with bit-exact CPython / NumPy random
// number generators.
//
// It is not a data loader in PyTorch's sense (no worker processes, no tensors: batches are
// []float32 in NCHW order that the train stage hands to dmlrun/torch), and it does not
// know the store, keys or experiment files: the pipeline runs it through stage.Def.
//
// The stage's typed config is Config (config.go): Decode reports every problem with an
// argument path, so validate shows it at file:line:col, and Run gets the decoded value.
// Each dataset kind is one file, kind_<name>.go, declaring a Kind (name, layout, reader,
// what the digest covers, the kind-specific arguments it reads) listed in builtinKinds
// (kind.go); the kind argument's enum and description, the layouts in errors and the
// README's kind table come from that table.
//
// It reads nothing outside the dataset root: paths from index files and symlinks that
// lead out of it are refused (EscapeError, contain.go), as are image sizes outside
// MinBase..MaxBase and datasets whose shards would not fit the machine's memory or disk
// (limits.go).
//
// README.md in this folder documents the kinds, split rules, preprocessing, the dataset
// digest, what the stage refuses, and where results differ from the original (JPEG IDCT,
// augmentation on the stored square image).
package load
