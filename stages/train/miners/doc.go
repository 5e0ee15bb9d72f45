// Package miners holds the batchminers of the train stage: given one batch of embeddings and
// labels they return (anchor, positive, negative) index triplets for the triplet-based
// criteria (margin, triplet, contrastive, npair, s2sd's sub-criteria) in
// dmlrun/stages/train/criteria.
//
// The miners are ports of the original's batchminer/ folder (reference-method.md §7):
// distance (default), rho_distance, semihard, softhard and random, plus npair, which the
// original's npair loss asks for but never had (§14.11). Distances are computed with libtorch
// exactly as the original computes them, and every random choice replays the original's
// generator calls in the same order:
//
//   - NumpyRandom is NumPy's legacy global RandomState (MT19937 seeded by init_genrand,
//     masked-rejection randint, 53-bit random_sample, choice with p via cumsum/searchsorted).
//     The original seeds it with np.random.seed(seed) once and with n_epochs*seed+epoch at
//     the start of every epoch; the train loop does the same and hands the generator to New.
//   - PyRandom is CPython's random module (_randbelow), used only by the random miner; pass
//     the batch sampler's generator (stages/load's *PyRandom) with WithPython, because the
//     original draws both from Python's one global generator. PythonRandom is a stand-alone
//     generator for tests and callers without one.
//
// The generators themselves live in dmlrun/rng (these names are aliases), which tests them
// against NumPy and CPython.
//
// On CPU, with the same seeds and embeddings, the triplets equal the original's
// (testdata/gen_reference.py replays the original's calls; the tests compare exactly). Where
// the original raises on a degenerate batch (an anchor with no negative, a singleton class
// for semihard, fewer than B candidate triplets for random) these miners skip the anchor or
// sample all candidates instead; each type's comment says which.
//
// Each miner is one file that declares it as one value (Define(Spec{...}): name, aliases for
// "did you mean", documentation, typed parameters with the original's defaults, constructor);
// builtin.go lists them, and a Table built from such a list is what the train stage's
// batch_mining accepts (Builtin is dmlrun's). docs/PLUGINS.md says how to add one.
//
// This package does not compute losses (criteria does) and does not own the generators'
// seeding schedule (the train loop does).
package miners
