package load

import "dmlrun/rng"

// PyRandom is CPython's random.Random for the calls the samplers make (seeding from an int,
// getrandbits, _randbelow, choice, random()); it lives in dmlrun/rng. The original uses the
// global random module, re-seeded every epoch (reference-method §3.1, §8.5), so batch
// composition is bit-exact with the original when seeded the same way.
type PyRandom = rng.PyRandom

// NewPyRandom returns a generator in the state of random.seed(seed).
func NewPyRandom(seed int64) *PyRandom { return rng.NewPyRandom(seed) }

// NumpyRandom is NumPy's legacy global generator (np.random.seed / np.random.choice(n)) as
// the `random` sampler uses it (reference-method §3.2); it lives in dmlrun/rng.
type NumpyRandom = rng.NumpyRandom

// NewNumpyRandom returns a generator in the state of np.random.seed(seed).
func NewNumpyRandom(seed uint32) *NumpyRandom { return rng.NewNumpyRandom(seed) }
