// Package devstep is the training step of the device check (scripts/device-check.sh) on
// any device: a model from stages/models, a criterion from stages/train/criteria placed
// on the device, torch/optim Adam and the grad scaler, optionally under autocast, in the
// order stages/train's epoch loop runs them (zero grads; forward in training mode and loss,
// under autocast when asked; backward of the scaled loss outside autocast; unscale and
// finite check; Adam; scale update).
//
// It is the device-aware twin of bench/internal/trainstep, which is CPU-only. It is not
// stages/train: no data loading, schedule, checkpointing, miner, warm-up freezing or NaN
// handling. bench/device/step times it against PyTorch eager (bench/device/step.py), and
// its tests compare it on CUDA with the CPU (TestCUDATrainResNet18).
package devstep
