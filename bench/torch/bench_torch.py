#!/usr/bin/python3
"""PyTorch side of bench/torch: the same small-CNN training step as BenchmarkTrainStep.

Usage: /usr/bin/python3 bench/torch/bench_torch.py THREADS [RUNS [STEPS]]
Prints one line: "pytorch_step_ns <nanoseconds per step>": the fastest of RUNS timed runs of
STEPS steps each (the minimum is the least disturbed by other load on a shared machine).
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
torch.set_num_threads(threads)
torch.manual_seed(0)


def block(cin, cout, pool):
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


model = nn.Sequential(*block(3, 16, True), *block(16, 32, True), *block(32, 64, False),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
model.train()
x = torch.randn(32, 3, 64, 64)
y = torch.randint(0, 10, (32,))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


for _ in range(3):
    step()
nruns = int(sys.argv[2]) if len(sys.argv) > 2 else 5
n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
runs = []
for _ in range(nruns):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        step()
    runs.append((time.perf_counter_ns() - t0) / n)
print(f"pytorch {torch.__version__} threads {torch.get_num_threads()}", file=sys.stderr)
print(f"pytorch_step_ns {min(runs):.0f}")
