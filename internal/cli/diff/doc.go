// Package diff is `dmlrun diff`: compare two train blocks' (variants') metrics over seeds,
// with a seeded bootstrap confidence interval per metric, and with --check or --expect
// gate on tolerances (a RegressionError, exit code 3).
//
// What it is not: the statistics (report.Diff) or the lineage query that finds a
// variant's runs, evaluate -> embed -> train (report.RunsOf, on pipeline's graph); the
// command parses arguments, loads the files and renders. Source is the seam tests fill
// from memory.
package diff
