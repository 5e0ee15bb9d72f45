// Package optim holds dmlrun's optimisers and schedulers, written in Go over the torch
// binding's in-place tensor ops: Adam with parameter groups (torch.optim.Adam numerics,
// coupled L2 weight decay), MultiStepLR and a GradScaler for mixed-precision training.
//
// What it is not: a general optimiser zoo, or a wrapper of libtorch's torch::optim.
// Optimiser state tensors are owned by the optimiser (outside every scope) and freed by
// Close.
package optim
