#!/usr/bin/python3
"""Reference values for report's Welch t intervals (stats.go), computed without gonum.

Run with Debian's Python (numpy, no scipy):  /usr/bin/python3 gen_welch.py > welch.json

The Student t quantile comes from integrating the t density with composite Simpson's rule
(numpy) and bisecting the CDF; it is checked below against printed two-sided 95% table
values (e.g. any statistics textbook's t table: df 1 -> 12.706, 2 -> 4.303, ...).
"""
import json
import math

import numpy as np


def t_cdf(x, nu):
    """P(T <= x) for Student's t with nu degrees of freedom (x >= 0)."""
    c = math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)) / math.sqrt(nu * math.pi)
    n = 40001  # odd: Simpson needs an even number of intervals
    xs = np.linspace(0.0, x, n)
    f = c * (1 + xs * xs / nu) ** (-(nu + 1) / 2)
    h = x / (n - 1)
    simpson = h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
    return 0.5 + simpson


def t_quantile(p, nu):
    """The x with P(T <= x) = p, for p > 0.5."""
    lo, hi = 0.0, 1.0
    while t_cdf(hi, nu) < p:
        hi *= 2
    for _ in range(80):
        mid = (lo + hi) / 2
        if t_cdf(mid, nu) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 10: 2.228, 30: 2.042}
for df, want in TABLE.items():
    got = t_quantile(0.975, df)
    assert abs(got - want) < 5e-4, (df, got, want)


def welch(a, b, fixed_a=False, level=0.95):
    a, b = np.asarray(a, float), np.asarray(b, float)
    vb = b.var(ddof=1) / len(b)
    va = 0.0 if fixed_a else a.var(ddof=1) / len(a)
    den = vb * vb / (len(b) - 1) + (0.0 if fixed_a else va * va / (len(a) - 1))
    df = (va + vb) ** 2 / den
    se = math.sqrt(va + vb)
    d = b.mean() - a.mean()
    t = t_quantile((1 + level) / 2, df)
    return {"diff": d, "lo": d - t * se, "hi": d + t * se, "df": df, "se": se, "t": t}


CASES = [
    # equal spread and n: df = 2(n-1) = 4 exactly, t = 2.776 (table)
    ("n3 equal spread", [0.60, 0.61, 0.62], [0.63, 0.64, 0.65], False),
    ("n3 unequal spread", [0.640, 0.645, 0.650], [0.610, 0.615, 0.612], False),
    ("n2 vs n2", [0.70, 0.72], [0.69, 0.71], False),
    ("n5 vs n3", [0.60, 0.615, 0.62, 0.605, 0.63], [0.63, 0.64, 0.625], False),
    ("n2 vs n5 (one side barely varies)", [0.5, 0.5001], [0.52, 0.53, 0.51, 0.55, 0.50], False),
    ("emoji e_recall@1 (README)", [0.2158 - 0.018, 0.2158, 0.2158 + 0.018], [0.2104 - 0.026, 0.2104, 0.2104 + 0.026], False),
    ("one-sample against an expected value", [0.62], [0.610, 0.615, 0.612], True),
]

out = []
for name, a, b, fixed in CASES:
    r = welch(a, b, fixed)
    r.update({"name": name, "a": a, "b": b, "fixed_a": fixed})
    out.append(r)
print(json.dumps({"level": 0.95, "cases": out}, indent=2))
