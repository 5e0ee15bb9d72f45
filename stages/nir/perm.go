package nir

import "dmlrun/rng"

// NumpyPermutation returns what np.random.seed(seed); np.random.permutation(n) returns with
// NumPy's legacy RandomState (dmlrun/rng's NumpyRandom): a Fisher-Yates shuffle of [0, n)
// from the last position down, each swap partner drawn by masked rejection. FrEIA's
// PermuteRandom layer calls exactly that with seed = block index, so the permutations are
// part of the model and must be bit-identical to the original (reference-method.md §6.2).
func NumpyPermutation(seed uint32, n int) []int {
	return rng.NewNumpyRandom(seed).Permutation(n)
}

// FlowPermutation is the channel permutation of flow block k for embedding dimension d:
// out[:, i] = in[:, perm[i]] (FrEIA PermuteRandom with seed k).
func FlowPermutation(k, d int) []int { return NumpyPermutation(uint32(k), d) }

// invertPermutation returns inv with inv[perm[i]] = i.
func invertPermutation(perm []int) []int {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}
