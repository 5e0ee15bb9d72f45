package metrics

import (
	"fmt"

	"dmlrun/rng"
)

// RandInt selects how faiss's RandomGenerator::rand_int(max) maps one 32-bit draw to [0, max);
// the generator itself (std::mt19937 as faiss wraps it) is dmlrun/rng's FaissRandom. The
// Debian faiss 1.7.3 this project checks against uses the modulo form (verified by
// testdata/gen_reference.py, which records the variant); later faiss releases switched to the
// multiply-shift form.
type RandInt = rng.FaissRandInt

const (
	RandIntModulo   = rng.FaissModulo   // mt() % max (faiss <= 1.7.x, Debian 1.7.3)
	RandIntMulShift = rng.FaissMulShift // (uint64(mt()) * max) >> 32 (current faiss)
)

// KMeansOptions are faiss.Clustering's settings as the original evaluation uses them
// (reference-method.md §9.2). The zero value means: 20 iterations, seed 1234, modulo rand_int.
type KMeansOptions struct {
	Iters   int     // 0: 20
	Seed    int64   // 0: 1234 (faiss default); initial permutation uses Seed+1
	RandInt RandInt // how rand_int maps a draw (faiss-version dependent)
}

func (o KMeansOptions) filled() KMeansOptions {
	if o.Iters == 0 {
		o.Iters = 20
	}
	if o.Seed == 0 {
		o.Seed = 1234
	}
	return o
}

// KMeansResult holds the centroids after the last update and the assignment of every point
// to its nearest final centroid (one assignment more than training did, as the original's
// `kmeans_nearest` does).
type KMeansResult struct {
	Centroids Matrix
	Labels    []int32
	Splits    int // empty clusters re-seeded over all iterations
}

// KMeans replicates faiss::Clustering::train (faiss 1.7.x, nredo 1, no subsampling since
// max_points_per_centroid is 1e9, min_points_per_centroid 1, not spherical, exact L2 index):
//
//  1. initial centroids are x[perm[0..k-1]], perm = rand_perm(n, seed+1);
//  2. Iters times: assign every point to its nearest centroid; centroid = float32 sum of
//     its members in point order times float32(1/count); empty clusters are split off
//     populated ones (splitClusters);
//  3. final labels: nearest of the final centroids.
//
// With n == k faiss skips training and uses the points as centroids; so do we. Results
// match faiss exactly when the backend's nearest-centroid choices match faiss's, which holds
// except for float near-ties (faiss sums dot products in BLAS order), and except for n < 20
// where faiss computes sum((x-c)^2) directly instead of the norm formula.
func KMeans(x Matrix, k int, opt KMeansOptions, b Backend) (*KMeansResult, error) {
	opt = opt.filled()
	if err := x.check("k-means"); err != nil {
		return nil, err
	}
	n, d := x.Rows, x.Cols
	if k < 1 || n < k {
		return nil, fmt.Errorf("k-means: %d clusters need at least as many points, have %d", k, n)
	}
	cent := Matrix{Data: make([]float32, k*d), Rows: k, Cols: d}
	res := &KMeansResult{Centroids: cent}
	if n == k {
		copy(cent.Data, x.Data)
	} else {
		perm := rng.FaissRandPerm(n, opt.Seed+1, opt.RandInt)
		for i := 0; i < k; i++ {
			copy(cent.Row(i), x.Row(perm[i]))
		}
		hassign := make([]float32, k)
		for it := 0; it < opt.Iters; it++ {
			assign, err := b.Assign(x, cent)
			if err != nil {
				return nil, fmt.Errorf("k-means iteration %d: %w", it, err)
			}
			computeCentroids(x, assign, cent, hassign)
			res.Splits += splitClusters(n, cent, hassign)
		}
	}
	labels, err := b.Assign(x, cent)
	if err != nil {
		return nil, fmt.Errorf("k-means final assignment: %w", err)
	}
	res.Labels = labels
	return res, nil
}

// computeCentroids is faiss's compute_centroids without weights: per centroid a float32 sum
// over its members in increasing point order, then a multiply by float32(1/count).
func computeCentroids(x Matrix, assign []int32, cent Matrix, hassign []float32) {
	clear(cent.Data)
	clear(hassign)
	d := x.Cols
	for i, ci := range assign {
		c := cent.Data[int(ci)*d : int(ci+1)*d]
		for j, v := range x.Row(i) {
			c[j] += v
		}
		hassign[ci] += 1
	}
	for ci, h := range hassign {
		if h == 0 {
			continue
		}
		norm := float32(1) / h
		c := cent.Row(ci)
		for j := range c {
			c[j] *= norm
		}
	}
}

// splitClusters is faiss's split_clusters: every empty cluster ci takes the centroid of a
// cluster cj picked by scanning cj = 0, 1, ... cyclically and accepting with probability
// (size_j - 1)/(n - k) (an RNG seeded 1234 afresh in each call), then both are perturbed by
// the factors (1 ± 1/1024), alternating per coordinate in opposite directions, and cj's count
// is split evenly.
func splitClusters(n int, cent Matrix, hassign []float32) int {
	const eps = 1.0 / 1024
	k, d := cent.Rows, cent.Cols
	g := rng.NewFaissRandom(1234)
	nsplit := 0
	for ci := 0; ci < k; ci++ {
		if hassign[ci] != 0 {
			continue
		}
		cj := 0
		for ; ; cj = (cj + 1) % k {
			// C++: float p = (hassign[cj] - 1.0) / (float)(n - k); evaluated in double.
			p := float32((float64(hassign[cj]) - 1.0) / float64(float32(n-k)))
			if g.RandFloat() < p {
				break
			}
		}
		a, b := cent.Row(ci), cent.Row(cj)
		copy(a, b)
		for j := 0; j < d; j++ {
			// (1 ± 2^-10) is exact in float32 and the product of two floats is exact in
			// double, so this equals C++'s float*double-then-round.
			if j%2 == 0 {
				a[j] *= float32(1 + eps)
				b[j] *= float32(1 - eps)
			} else {
				a[j] *= float32(1 - eps)
				b[j] *= float32(1 + eps)
			}
		}
		hassign[ci] = hassign[cj] / 2
		hassign[cj] -= hassign[ci]
		nsplit++
	}
	return nsplit
}
