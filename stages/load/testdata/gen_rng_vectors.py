#!/usr/bin/python3
"""Reference vectors for stages/load's batch samplers, which draw from dmlrun/rng's CPython random
and NumPy legacy RandomState (the generators' own vectors are rng/testdata/gen_vectors.py).

Run with Debian's /usr/bin/python3 (has numpy):  /usr/bin/python3 gen_rng_vectors.py > rng_vectors.json
"""
import json, random, sys
import numpy as np

out = {"python": sys.version.split()[0], "numpy": np.__version__, "random_sampler": []}
# The original `random` sampler (reference-method 3.2), on a small fake dataset, as a
# whole-algorithm vector: classes with sizes below, global indices class by class.
sizes = [3, 5, 2, 4, 6]
image_dict, image_list, k = {}, [], 0
for c, s in enumerate(sizes):
    image_dict[c] = []
    for _ in range(s):
        image_dict[c].append(["p%d" % k, k]); image_list.append(["p%d" % k, c]); k += 1
for seed in [0, 7]:
    random.seed(seed); np.random.seed(seed)
    batches = []
    for _ in range(3):
        subset = []
        for _ in range(6 - 1):
            class_key = random.choice(list(image_dict.keys()))
            sample_idx = np.random.choice(len(image_dict[class_key]))
            subset.append(image_dict[class_key][sample_idx][-1])
        subset.append(random.choice(image_dict[image_list[random.choice(subset)][-1]])[-1])
        batches.append(subset)
    out["random_sampler"].append({"seed": seed, "sizes": sizes, "bs": 6, "batches": batches})

# class_random (reference-method 3.1): bs 6, spc 2, same fake dataset, epochs seeded n_epochs*seed+e.
out["class_random"] = []
for seed in [0, 3]:
    n_epochs = 4
    for e in range(2):
        random.seed(n_epochs * seed + e)
        batches = []
        for _ in range(len(image_list) // 6):
            subset = []
            for _ in range(6 // 2):
                class_key = random.choice(list(image_dict.keys()))
                subset.extend([random.choice(image_dict[class_key])[-1] for _ in range(2)])
            batches.append(subset)
        out["class_random"].append({"seed": seed, "n_epochs": n_epochs, "epoch": e, "sizes": sizes, "bs": 6, "spc": 2, "batches": batches})
json.dump(out, sys.stdout, indent=None)
print()
