// Package rng holds random-number streams that replicate other systems bit for bit, so that
// dmlrun draws the same numbers as the original Python code and the libraries it calls:
//
//   - MT19937 is the one Mersenne Twister core (Matsumoto & Nishimura's reference algorithm)
//     with both of its seeding procedures, init_genrand and init_by_array. Every front-end
//     below is a thin layer over it.
//   - PyRandom is CPython's random module as the samplers and miners use it: random.seed(int)
//     (init_by_array), getrandbits(k <= 32), _randbelow, choice, sample and random().
//   - NumpyRandom is NumPy's legacy RandomState (the np.random.* global functions):
//     np.random.seed(int) (init_genrand), randint / choice(n) by masked rejection,
//     choice(n, p=p), permutation and random_sample.
//   - FaissRandom is C++ std::mt19937 as faiss's RandomGenerator uses it: rand_int (in the
//     modulo and the multiply-shift variants of different faiss releases), rand_float, and
//     rand_perm.
//
// Only the calls dmlrun replays are implemented; for example random.shuffle and
// np.random.uniform are absent because nothing draws from them. Each function's comment
// names the Python, NumPy or C++ call it reproduces; testdata/gen_vectors.py records the
// reference values the tests compare against exactly.
//
// This package is not a general-purpose source of randomness (use math/rand/v2), it is not
// cryptographic, and it does not decide seeding schedules: the stages that replay the
// original (stages/load's samplers, stages/train/miners, stages/evaluate/metrics' k-means,
// stages/nir's flow permutations) seed it the way the original does. No generator here is
// safe for concurrent use.
package rng
