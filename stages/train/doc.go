// Package train is dmlrun's `train` stage, and the one reader of its artifact.
//
// train (Kind "train", resumable, exclusive) reproduces the original's training loop
// (reference-method.md §8): torch.ManualSeed(seed), the model (stages/models) and its
// network optimiser group(s), the prepared dataset and its sampler (stages/load), the
// batchminer and criterion (stages/train/miners, stages/train/criteria) with their groups,
// Adam over all groups (dmlrun/torch/optim, coupled L2 on the network group only),
// MultiStepLR stepped after every epoch, and optim.GradScaler, always on as in the
// original (scale 2^16, a step with non-finite unscaled gradients is skipped and halves
// the scale, 2000 good steps double it; clarifications.md). Each epoch re-seeds torch, the
// Python-random sampler, the NumPy miner generator and the augmentation streams with
// epochs*seed+epoch, which is also what makes resuming exact: after every epoch an
// epoch-N.safetensors checkpoint (weights, Adam moments and step counts, scaler state, the
// log so far) is written atomically, and an interrupted node continues from the newest one
// with the same result, bit for bit on CPU with the same thread count. Warmup epochs run
// the backbone without gradients. schedule.epochs = 0 trains nothing and stores the
// network as initialised (seeded, pretrained weights loaded) with the criterion as
// constructed: the untrained floor, which the original evaluates before its first epoch.
// NaN in the embeddings or the loss, more than max_skipped consecutive skipped steps, or
// an epoch after warmup in which more than max_skipped_share of the steps were skipped (a
// run that did not train is not a result) stop training with an error wrapping
// ErrNonFinite; the last good epoch checkpoint stays for inspection. An inf loss alone is
// a skipped step. The finished node holds checkpoint.safetensors, model.json (with the
// totals: epochs, steps, skipped steps, and selected_epoch, selection, selection_value)
// and train_log.csv (per epoch: loss, and since version 4 for a loss that is a sum of named
// terms, criteria.Termed, each term's mean as it enters the total, loss_<term>: nir's
// loss_proxyanchor and loss_nir; skipped and steps, learning rates, seconds, and with
// eval_every a <split>_<metric> column per evaluated split and metric, e.g.
// val_e_recall@1, test_e_recall@1; logs before version 2 had test_recall@1)
// (ARTIFACTS.md), and since version 3 the same log as a TensorBoard event file,
// events.out.tfevents.dmlrun (events.go, written by internal/tfevents with the step
// counted from 1 and wall times taken from the step, not the clock, so resuming keeps it
// byte-identical). The embed stage is stages/embed.
//
// Per-epoch evaluation and model selection: eval_every evaluates eval_metrics on the val
// and test splits the dataset has, into train_log.csv. select = { metric, split } then keeps
// the weights of the evaluated epoch with the largest value on that split (model selection
// on the class-disjoint val split; on test only with allow_test, recorded as
// "test:<metric>"). The best weights so far live in best-K.safetensors in the partial
// directory, named by each epoch file, so a resumed run selects the same epoch; the final
// checkpoint.safetensors is the selected epoch's, and the last epoch's is not kept.
//
// Config is the train block's typed config (tagged fields, stage.Typed): Def decodes and
// checks it once, at validate time, with every problem at its parameter's path (ranges,
// schedule rules such as batch_size a multiple of samples_per_class and warmup < epochs,
// the arch against the backbone table of stages/models, batch_mining against the miner
// table, the loss block against the loss table); Run receives the typed value. Def takes
// the plug-in tables as Options, so tests train with losses and miners of their own.
//
// The artifact's readers are here too: ReadModelInfo (model.json) and LoadModel (the
// network rebuilt from the checkpoint), which stages/embed uses, and EmbedSplit, the
// embedding loop that embed and training's eval_every share.
//
// Content key: train's KeyInputs hook adds the SHA-256 of the pretrained weights file (when
// pretrained is set and not_pretrained is false), so new weights under the same path make
// a new key; the stage refuses a file that changed after the key was made.
//
// InspectNIR rebuilds a finished nir model's criterion from its artifact (model.json's
// loss_params and the checkpoint) and reports how non-isotropic the learned class
// densities are (nir.Inspect); InspectNode does the same for a train node's parameters
// and artifact (refusing a loss other than nir from the parameters), and `dmlrun inspect`
// prints it.
//
// What it is not: it computes no metrics beyond the optional per-epoch evaluation
// (eval_every: eval_metrics on the val and test splits the dataset has, through
// stages/evaluate/metrics on the evaluate stage's libtorch backend), knows nothing of the store, and
// owns no loss: criteria and miners are their own packages. Mixed precision (autocast =
// "bf16" or "f16", the original's --use_float16) wraps forward and loss in the device's
// autocast: on CUDA either, on the CPU bf16 only, and only where the CPU has bfloat16
// instructions (checkAutocast). Embedding (EmbedSplit) always runs in float32.
//
// Every node pins its torch work to one OS thread: libtorch's intra-op thread count
// (OpenMP, and OpenBLAS through it) is a per-OS-thread setting, and without the pin a
// goroutine that moves between threads runs some ops with another thread count, which
// changes float summation order and broke bit-identical resume.
package train
