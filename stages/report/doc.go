// Package report is the `report` stage and the aggregation behind `dmlrun diff`.
//
// The stage reads every metrics.json of its `from` evaluate blocks, groups runs by the
// train block that produced the model (metrics.json run.block: "baseline", "nir", ...),
// and writes one table of blocks x metrics with mean ± sample standard deviation (n−1)
// over seeds, optionally with one row per seed: printed with tablewriter to the stage log
// and written as table.md, table.csv and table.json. It also plots training loss and test
// Recall@1 per epoch of every run (from the train log that metrics.json carries) with all
// blocks on the same axes, as curves.png (drawn with image/draw and a small hand-made line
// plotter) and curves.svg (written by hand).
//
// Diff compares two blocks over seeds with a seeded bootstrap confidence interval and
// checks tolerances. RunsOf finds a variant's runs through the graph (evaluate -> embed ->
// train, pipeline's Graph.LineageOf) and reads their metrics.json from a store its caller
// opened; `dmlrun diff` (internal/cli/diff) is a thin shell around it and Diff.
//
// What it is not: it computes no metrics (stages/evaluate does) and never reads an
// experiment file.
package report
