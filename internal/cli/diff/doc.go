// Package diff is `dmlrun diff`: compare two configurations' metrics over seeds (a train
// block, a matrix instance "pa[embed_dim=16]", one run, optionally "@EVALUATE" for the
// evaluate block), with Welch's t interval per metric, warnings when the sides were
// evaluated on different test data or with different metric settings, and with --check
// or --expect a gate on tolerances (a RegressionError, exit code 3; incomparable sides,
// exit 1). --queries compares two runs (one per side) query by query: the queries whose
// Recall@1 flipped, per class and one by one (report.QueryDiff, from each evaluation's
// neighbours.safetensors), and --queries-png draws them with the dataset's images, found
// in the store through the runs' lineage.
//
// What it is not: the statistics (report.Diff, report.QueryDiff) or the lineage query that finds a side's
// runs, evaluate -> embed -> train (report.RunsOf, on pipeline's graph); the command
// parses arguments, loads the files and renders. Source is the seam tests fill from
// memory.
package diff
