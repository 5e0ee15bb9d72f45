// Package report is the `report` stage and the aggregation and statistics behind `dmlrun
// diff`.
//
// The stage reads every metrics.json of its `from` evaluate blocks and names each result
// by the current experiment file: the train node the pipeline finds upstream of the input
// (stage.Input.Ancestors), never the block name metrics.json recorded when the result was
// first computed. Its key holds its inputs' addresses (stage.Def.InputAddressesInKey), so
// renaming a block recomputes the report, and only it. Only seeds are pooled: one row per
// configuration (train block and matrix instance, "pa[embed_dim=16]") with mean ± sample
// standard deviation (n−1) over its seeds, one row set per evaluate block (and split),
// and a training column when a run is untrained, skipped steps, or had its epoch selected
// (on test, which every table says). Summarize refuses to pool runs of different
// configurations, or one model evaluated twice, in one row. The table is printed with
// tablewriter to the stage log and written as table.md, table.csv and table.json. The
// train logs metrics.json carries become the training curves (Curves, a Figure of panels
// and series that tests inspect as data; render.go draws it with gonum.org/v1/plot as
// curves.png and curves.svg): per configuration the mean over its seeds with a min–max
// band, the loss on one axis per loss kind and scale, every logged metric per split, the
// learning rate of every optimiser group and the skipped steps, epochs 1-based as the
// progress line counts them.
//
// Diff compares two Sides (a configuration's runs, or expected values) with Welch's t
// interval of the difference of means (gonum's Student t quantile), names a better side
// only when the interval excludes 0 and both sides have MinSeeds seeds, checks tolerances,
// and says when the sides were evaluated on different test data or with different metric
// settings (found through the lineage). RunsOf finds one configuration's runs through the
// graph (evaluate -> embed -> train, pipeline's Graph.LineageOf) and reads their
// metrics.json from a store its caller opened; `dmlrun diff` (internal/cli/diff) is a thin
// shell around it and Diff. QueryDiff compares two runs query by query from their
// evaluate artifacts' neighbours.safetensors (which queries flipped at rank 1, per class
// and one by one, refusing different test data), and FlipSheet draws the flips with the
// dataset's images (package stages/evaluate/gallery).
//
// What it is not: it computes no metrics (stages/evaluate does) and never reads an
// experiment file.
package report
