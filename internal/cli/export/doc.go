// Package export is `dmlrun export`: an embed node's embeddings, with each image's label,
// class and path, written as files other tools read without dmlrun: NPY version 1.0
// (embeddings.npy float32 [N, D], labels.npy int64 [N], which numpy.load reads with no
// other package; paths.txt and classes.txt beside them) or one CSV (split, label, class,
// path, e0..e{D-1}).
//
// The command resolves ADDR in the experiment as show and inspect do (cmdutil.FindNode),
// refuses a node that is not an embed node or is not in the store yet, reads the embed
// artifact (embed.Read) and, for the paths and class names, the artifact of the embed
// node's dataset input (load.Open and the split's file list), and checks that both hold
// the same images. The NPY encoder is here (npy.go): it is the only one dmlrun needs.
//
// What it is not: a reader of any of these formats, or a way to export other artifacts
// (checkpoints are safetensors already; metrics are JSON).
package export
