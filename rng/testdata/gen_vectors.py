#!/usr/bin/python3
"""Reference vectors for dmlrun/rng: the MT19937 core and its CPython random, NumPy legacy
RandomState and faiss (std::mt19937) front-ends.

Run with Debian's Python, which has numpy and faiss:
    /usr/bin/python3 rng/testdata/gen_vectors.py > rng/testdata/vectors.json
Every value comes from the library itself (random, numpy, faiss); only the faiss rand_int
"mulshift" variant, which the installed faiss 1.7.3 does not use, is computed here from
NumPy's raw MT19937 outputs with faiss's current formula.
"""
import json
import random
import sys

import faiss
import numpy as np


def raw(seed, n):
    """n raw 32-bit outputs after init_genrand(seed) (RandomState's legacy seeding)."""
    return [int(v) for v in np.random.RandomState(seed)._bit_generator.random_raw(n)]


out = {
    "generator": "rng/testdata/gen_vectors.py",
    "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "faiss": faiss.__version__},
}

# Core: init_genrand outputs (NumPy RandomState) across a state regeneration (624 words).
out["genrand"] = [{"seed": s, "outputs": raw(s, 700)} for s in [0, 1, 1234, 1235, 5489, 2**32 - 1]]

# CPython random: init_by_array seeding, choice/_randbelow, random(), getrandbits(32).
out["pyrandom"] = []
for seed in [0, 1, 42, 12345, 2**32 - 1, 2**32, 2**40 + 7, -5, 100 * 3 + 7]:
    for n in [100, 1, 2, 3, 7, 90, 1000, 11318, 2**31 + 5]:
        random.seed(seed)
        out["pyrandom"].append({"seed": seed, "n": n, "choices": [random.choice(range(n)) for _ in range(20)]})
    random.seed(seed)
    out["pyrandom"].append({"seed": seed, "random": [random.random() for _ in range(5)],
                            "bits32": [random.getrandbits(32) for _ in range(5)]})
# _randbelow(2**32) takes CPython's 33-bit getrandbits path.
random.seed(9)
out["pyrandom_randbelow_2p32_seed9"] = [random._inst._randbelow(2**32) for _ in range(20)]
out["pyrandom_sample"] = []
for seed, n, k in [(0, 100, 10), (5, 12320, 112), (3, 30, 30), (4, 10, 0), (6, 1000, 5)]:
    random.seed(seed)
    out["pyrandom_sample"].append({"seed": seed, "n": n, "k": k, "indices": random.sample(range(n), k)})

# NumPy legacy RandomState.
out["numpy_choice"] = []
for seed in [0, 1, 42, 12345, 2**32 - 1]:
    for n in [1, 2, 3, 7, 60, 1000, 2**31 + 5]:
        np.random.seed(seed)
        out["numpy_choice"].append({"seed": seed, "n": n, "choices": [int(np.random.choice(n)) for _ in range(20)]})
np.random.seed(7)
out["numpy_choice_seed7"] = [[n, int(np.random.choice(n))] for n in [1, 2, 3, 5, 17, 100, 1, 1000, 65537]]
np.random.seed(3)
p = np.array([0.1, 0.0, 0.25, 0.65], dtype=np.float32)
out["numpy_choice_p_seed3"] = {"p": [float(v) for v in p], "draws": [int(np.random.choice(4, p=p)) for _ in range(20)]}
np.random.seed(12345)
out["numpy_random_sample_seed12345"] = [float(np.random.random_sample()) for _ in range(5)]
out["numpy_permutation"] = []
for seed, n in [(0, 10), (1, 1), (2, 2), (5, 100), (3, 1000)]:
    np.random.seed(seed)
    out["numpy_permutation"].append({"seed": seed, "n": n, "perm": [int(v) for v in np.random.permutation(n)]})

# faiss RandomGenerator: rand_perm from faiss itself (its rand_int variant recorded), the
# other variant from the formula, and rand_float from the raw outputs in float32.
def faiss_perm(n, seed):
    perm = np.zeros(n, dtype="int32")
    faiss.rand_perm(faiss.swig_ptr(perm), n, seed)
    return perm.tolist()


def formula_perm(n, seed, variant):
    draws = raw(seed & 0xffffffff, max(n - 1, 0))
    p = list(range(n))
    for i in range(n - 1):
        m = n - i
        r = draws[i] % m if variant == "modulo" else (draws[i] * m) >> 32
        p[i], p[i + r] = p[i + r], p[i]
    return p


variant = None
for v in ("modulo", "mulshift"):
    if formula_perm(1000, 1235, v) == faiss_perm(1000, 1235):
        variant = v
if variant is None:
    raise SystemExit("faiss rand_perm matches neither rand_int variant")
out["faiss_rand_int"] = variant
out["faiss_rand_perm"] = []
for n, seed in [(1000, 1235), (37, 0), (2, 5), (1, 3), (500, 2**33 + 11)]:
    out["faiss_rand_perm"].append({"n": n, "seed": seed, "variant": variant, "perm": faiss_perm(n, seed)})
    other = "mulshift" if variant == "modulo" else "modulo"
    out["faiss_rand_perm"].append({"n": n, "seed": seed, "variant": other, "perm": formula_perm(n, seed, other)})
out["faiss_rand_float_seed1234"] = [float(np.float32(x) / np.float32(4294967295)) for x in raw(1234, 50)]

json.dump(out, sys.stdout)
sys.stdout.write("\n")
