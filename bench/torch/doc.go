// Package torchbench measures the dmlrun/torch binding: the per-call cost of one small op
// and one training step of a small CNN (forward, backward, Adam), to compare with the
// same step in PyTorch (bench_torch.py). Run both with `make bench-torch`.
package torchbench
