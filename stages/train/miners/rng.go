package miners

import "dmlrun/rng"

// NumpyRandom is NumPy's legacy global generator (np.random.seed / np.random.choice /
// np.random.random_sample), which is where the original's batchminers draw from
// (reference-method §7, §8.5); it lives in dmlrun/rng.
//
// Seeding: the original calls np.random.seed(s) at the start with s = seed and at the start
// of every epoch with s = n_epochs*seed + epoch (§8.5); in the main process nothing but the
// batchminer consumes NumPy's global stream, so a train loop that calls Seed the same way
// and hands the same *NumpyRandom to the miner reproduces the original's triplets on CPU.
type NumpyRandom = rng.NumpyRandom

// NewNumpyRandom returns a generator in the state of np.random.seed(seed).
func NewNumpyRandom(seed uint32) *NumpyRandom { return rng.NewNumpyRandom(seed) }

// PyRandom is what the random miner needs from CPython's random module: _randbelow(n), on
// which random.sample is built. stages/load's *PyRandom (load.NewPyRandom) satisfies it, and
// so does *PythonRandom; the train loop should pass the same generator its batch sampler
// uses, because the original's random miner draws from Python's global `random`, the
// sampler's stream (§3.1, §8.5).
type PyRandom = rng.RandBelower

// PythonRandom is CPython's random.Random from dmlrun/rng, for callers and tests that have
// no stages/load generator at hand.
type PythonRandom = rng.PyRandom

// NewPythonRandom returns a generator in the state of random.seed(seed).
func NewPythonRandom(seed int64) *PythonRandom { return rng.NewPyRandom(seed) }
