// Package nir is dmlrun's implementation of NIR, non-isotropy regularisation for proxy-based
// deep metric learning (Roth, Vinyals, Akata, CVPR 2022), reproducing the original code
// (ExplainableML/NonIsotropicProxyDML with FrEIA) as specified in
// docs/reference-method.md §5-§6 and §13.
//
// What it is:
//
//   - Criterion: the `--loss nir` criterion — class proxies, a conditional normalising flow
//     and its cond-prep network — with New (parameters drawn in the original's order from
//     the torch CPU generator), Loss (the exact forward pass incl. the float64 tail
//     mean(exp(nll)) and the ProxyAnchor term weighted by w_align), Groups (the optimiser
//     groups with their learning-rate multipliers), Named/LoadNamed (checkpoints), and
//     Sample (draws from a class's learned density).
//   - Flow: FrEIA GraphINN semantics of K (PermuteRandom, GLOWCouplingBlock) blocks with the
//     ATAN soft clamp; Forward (x -> z, log|det|) and Reverse.
//   - ProxyLoss / ProxyAnchor / MaskedLogSumExp: the oproxy (ProxyAnchor, ProxyNCA) maths of
//     §5, shared with the oproxy baseline loss so it is written once.
//   - NumpyPermutation: NumPy legacy RandomState permutations (dmlrun/rng), which fix the flow's
//     channel permutations bit-exactly.
//   - Inspect: how non-isotropic each learned class density is (covariance spectrum of
//     samples), with a printable Report.
//   - Config, DefaultConfig: the criterion's configuration with the original's defaults.
//     LossParams is the typed `loss "nir" { ... }` block (tagged fields whose bounds make
//     `dmlrun validate` report what Config.Validate would refuse); ParamSchema and
//     ConfigFromParams are derived from it. The original's dead flags are accepted and
//     warned about.
//
// What it is not: it does not train (stages/train owns the loop, the optimiser and the
// GradScaler step skipping), parse experiment files, or touch the store. It is a library the
// train stage calls, not a registered stage.
//
// Numerics: float32 everywhere except the loss tail (float64 from the per-sample NLL on, as
// in the original). The golden tests reproduce the original's z, log-det, ProxyAnchor term,
// NLL, loss and gradients to float32 rounding. The paper's stated objective (mean NLL) is
// available as the opt-in Objective "nll"; the default "exp_nll" is what the code ran.
package nir
