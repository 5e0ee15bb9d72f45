// Package trainstep is the training step the benchmarks under bench/ time: a model from
// stages/models, a criterion from stages/train/criteria, torch/optim Adam and the grad
// scaler, in the order stages/train's epoch loop runs them (zero grads, forward in
// training mode, loss, backward of the scaled loss, unscale + finite check, Adam step,
// scale update).
//
// It is not stages/train: there is no data, schedule, checkpointing, miner, autocast,
// warm-up freezing or NaN handling, and it runs on the CPU only. bench/train (fixed random
// batch) and bench/datapath (real batches from stages/load) share it so both time the same
// step.
package trainstep
