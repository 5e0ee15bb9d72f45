// Package gallery draws contact sheets of dataset images: rows of tiles, each an image
// with a caption and a coloured border (the query dark grey, a retrieved image of the
// query's class green, one of another class red), grouped into sections with headings.
// The evaluate stage draws its retrieval picture (a seeded sample of test queries and
// their nearest neighbours) with it, and `dmlrun diff --queries` the queries whose
// Recall@1 flipped between two models. SplitImage gives a prepared split's image as the
// network saw it (the centre crop of the stored image).
//
// It is pure Go (image, golang.org/x/image for scaling and the embedded Go fonts) and
// knows nothing of metrics or artifacts: callers decide what goes into a sheet. Plots with
// axes are stages/report's (gonum.org/v1/plot).
package gallery
