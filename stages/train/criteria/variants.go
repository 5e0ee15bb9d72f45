package criteria

import (
	"dmlrun/stage"
	"dmlrun/stages/nir"
)

// subKinds are the criteria s2sd accepts as its source and target criteria.
var subKinds = []string{"multisimilarity", "margin", "triplet", "contrastive", "softmax", "arcface", "oproxy", "npair"}

// Variants are the `loss "<kind>" { ... }` schemas: one entry per criterion, each field
// named after the original's --loss_<kind>_<name> flag (reference §1.4, §1.5) with its
// default.
func Variants() map[string][]stage.Param {
	f := func(name string, def float64, doc string) stage.Param {
		return stage.Param{Name: name, Type: stage.Float, Default: def, Doc: doc}
	}
	return map[string][]stage.Param{
		"oproxy": {
			{Name: "mode", Type: stage.String, Default: "anchor", Enum: []string{"anchor", "nca"}, Doc: "\"anchor\" is ProxyAnchor (reduce over the batch), \"nca\" ProxyNCA-like (reduce over proxies) (loss_oproxy_mode)."},
			f("lrmulti", 2000, "Proxy learning rate = lr x this (loss_oproxy_lrmulti)."),
			f("pos_alpha", 32, "Scale alpha+ of the positive term (loss_oproxy_pos_alpha)."),
			f("neg_alpha", 32, "Scale alpha- of the negative term (loss_oproxy_neg_alpha)."),
			f("pos_delta", 0.1, "Margin delta+ of the positive term (loss_oproxy_pos_delta)."),
			f("neg_delta", -0.1, "Margin delta- of the negative term (loss_oproxy_neg_delta)."),
		},
		"nir": nir.ParamSchema(),
		"multisimilarity": {
			{Name: "dim", Type: stage.Int, Default: int64(0), Doc: "Reduction dimension of the masked logsumexp, 0 or 1 (loss_multisimilarity_dim)."},
			f("pos_weight", 2, "alpha, the positive scale (loss_multisimilarity_pos_weight)."),
			f("neg_weight", 40, "beta, the negative scale (loss_multisimilarity_neg_weight)."),
			f("margin", 0.1, "Mining margin epsilon (loss_multisimilarity_margin)."),
			f("pos_thresh", 0.5, "lambda of the positive term (loss_multisimilarity_pos_thresh)."),
			f("neg_thresh", 0.5, "lambda of the negative term (loss_multisimilarity_neg_thresh)."),
		},
		"margin": {
			f("margin", 0.2, "Margin m around the class boundary beta (loss_margin_margin)."),
			f("beta_lr", 5e-4, "Learning rate of the per-class beta (loss_margin_beta_lr)."),
			f("beta", 1.2, "Initial beta (loss_margin_beta)."),
			f("nu", 0, "Weight of the beta regulariser nu * sum of the triplets' beta (loss_margin_nu; crashes in the original, works here)."),
			{Name: "beta_constant", Type: stage.Bool, Default: false, Doc: "Keep beta a fixed scalar instead of a trainable per-class vector (loss_margin_beta_constant)."},
		},
		"triplet": {
			f("margin", 0.2, "Margin on squared distances (loss_triplet_margin)."),
		},
		"contrastive": {
			f("pos_margin", 0, "Positive margin (loss_contrastive_pos_margin)."),
			f("neg_margin", 1, "Negative margin (loss_contrastive_neg_margin)."),
		},
		"softmax": {
			f("lr", 1e-5, "Learning rate of the class weights (loss_softmax_lr)."),
			f("temperature", 0.05, "Softmax temperature T (loss_softmax_temperature)."),
		},
		"arcface": {
			f("lr", 5e-4, "Learning rate of the class weights (loss_arcface_lr)."),
			f("angular_margin", 0.5, "Additive angular margin m in radians (loss_arcface_angular_margin)."),
			f("feature_scale", 16, "Logit scale s (loss_arcface_feature_scale)."),
		},
		"npair": {
			f("l2", 0.005, "Weight of the mean embedding norm (loss_npair_l2)."),
		},
		"s2sd": {
			{Name: "source", Type: stage.String, Default: "multisimilarity", Enum: subKinds, Doc: "Criterion on the (normalised) embeddings, with its default parameters (loss_s2sd_source)."},
			{Name: "target", Type: stage.String, Default: "multisimilarity", Enum: subKinds, Doc: "Criterion of every target branch, with its default parameters (loss_s2sd_target)."},
			f("T", 1, "Distillation temperature (loss_s2sd_T)."),
			f("w", 0, "Weight of the similarity distillation (loss_s2sd_w)."),
			{Name: "pool_aggr", Type: stage.Bool, Default: false, Doc: "Target branches read global average + global max pooling of the feature map instead of the pooled features (loss_s2sd_pool_aggr)."},
			{Name: "target_dims", Type: stage.IntList, Default: []int64{1024, 1536, 2048}, Doc: "Output widths of the target branches (loss_s2sd_target_dims)."},
			{Name: "feat_distill", Type: stage.Bool, Default: false, Doc: "Also distil from the pooled features' similarities (loss_s2sd_feat_distill)."},
			f("feat_w", 50, "Weight of the feature distillation (loss_s2sd_feat_w)."),
			{Name: "feat_distill_delay", Type: stage.Int, Default: int64(1000), Doc: "Iterations before feature distillation starts (loss_s2sd_feat_distill_delay)."},
		},
	}
}
