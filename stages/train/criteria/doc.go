// Package criteria holds the train stage's losses: the original's criteria (reference-method
// §5) behind one interface, each with its typed parameters (the `loss "<kind>" { ... }`
// block), its optimiser groups and its named parameters for checkpoints.
//
// Each loss is one file that declares it as one value, Define(Spec{...}): its name, aliases
// for "did you mean", documentation, typed parameters (a tagged struct with the original's
// defaults and the bounds validation reports), whether it needs a batchminer (or one
// particular one), whether s2sd may use it as a sub-criterion, and its constructor.
// builtin.go lists them. A Table built from such a list is what the train stage offers as
// its `loss` variants and builds criteria from (Builtin is dmlrun's); tests build their own
// with extra losses. docs/PLUGINS.md says how to add one.
//
// Kinds: oproxy (ProxyAnchor / ProxyNCA), nir (an adapter around dmlrun/stages/nir, which
// owns the flow and the NIR maths), multisimilarity, margin, triplet, contrastive, softmax,
// arcface, npair and s2sd. oproxy and multisimilarity use stages/nir's ProxyLoss and
// MaskedLogSumExp, so NIR's alignment term and the baseline share one implementation.
// Triplet-based kinds take their triplets from a dmlrun/stages/train/miners Miner.
//
// Numerics follow the original, oddities included (softplus of the batch mean in
// multisimilarity, the ArcFace clamp, batch-column averaging in ProxyAnchor, the margin
// loss's or-count of active triplets). Three of the original's crashes are fixed (§14.11):
// margin with nu ≠ 0 adds nu·Σβ of the mined triplets (the margin-loss paper's
// regulariser), npair runs on miners.NPair, and s2sd implements §5.10's intended maths.
// Where a miner returns no triplets the loss is a zero that still backpropagates (the
// original's constant zero makes backward raise). Parameters are drawn from the global
// torch CPU generator in the original's order (proxies randn/8, class maps uniform_,
// nn.Linear defaults) bit-identically to PyTorch, then moved to the OnDevice device.
//
// Tests compare every loss and its gradients with testdata/reference.json, written by
// testdata/gen_reference.py (run with /usr/bin/python3, PyTorch 1.13), which computes each
// formula independently with per-row / per-triplet loops.
//
// This package does not run the optimiser, the gradient scaler or the training loop
// (stages/train does), and does not choose triplets (miners does).
package criteria
