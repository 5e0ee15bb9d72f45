package nir

import (
	"fmt"
	"sort"
	"strings"

	"dmlrun/stage"
	"dmlrun/torch"
)

// Conditioning modes of the flow (reference-method.md §6.2-§6.3).
const (
	CondDense                  = "dense"                     // every block gets c = n(p_y)
	CondDenseEmbed             = "dense_embed"               // every block gets f(n(p_y)), one shared MLP
	CondDenseEmbedMulti        = "dense_embed_multi"         // block k gets f_k(n(p_y))
	CondDenseEmbedMultiStacked = "dense_embed_multi_stacked" // block k gets f_k(...f_0(n(p_y)))
	CondStart                  = "start"                     // only block 0 is conditioned
	CondMid                    = "mid"                       // only block K/2 is conditioned
	CondEnd                    = "end"                       // only block K-1 is conditioned
)

// CondModes lists the accepted conditioning modes.
var CondModes = []string{CondDense, CondDenseEmbed, CondDenseEmbedMulti, CondDenseEmbedMultiStacked,
	CondStart, CondMid, CondEnd}

// Objectives of the flow term.
const (
	// ObjectiveExpNLL is what the original code optimises: mean_i exp(nll_i) in float64
	// (reference §6.4 step 6, flagged §14.5). Default.
	ObjectiveExpNLL = "exp_nll"
	// ObjectiveNLL is the paper's stated objective, mean_i nll_i (float64). Opt-in; not the
	// original's numerics.
	ObjectiveNLL = "nll"
)

// DeadFlags are the original's NIR flags that are parsed and stored but never used
// (reference §1.5, §14.7). dmlrun accepts them so old command lines translate, and warns.
var DeadFlags = []string{"logmatch", "pos_alpha", "neg_alpha", "margin", "delta", "pair_perc", "nf_fc_dropout"}

// Config is everything the NIR criterion needs. Zero values are not defaults: start from
// DefaultConfig.
type Config struct {
	D, C int // embedding dimension, number of training classes (= proxies)

	CondMode string  // one of CondModes (loss_nir_nf_cond_mode)
	Blocks   int     // K, number of (permute, GLOW coupling) blocks (loss_nir_nf_cblocks)
	Depth    int     // Linear layers per coupling subnet, >= 2 (loss_nir_nf_fc_depth)
	Width    int     // hidden width of the subnets (loss_nir_nf_fc_width)
	Clamp    float64 // soft-clamp constant of the coupling scales (loss_nir_nf_clamp_alpha)
	FcInit   string  // "xavier" re-initialises the middle and last subnet layers; anything else: PyTorch default

	WAlign    float64 // weight on the ProxyAnchor term (loss_nir_w_align; yes, on the proxy term, §6.6)
	Noise     float64 // sigma of the Uniform[0,1) noise added before the flow (loss_nir_noise), 0 = off
	Objective string  // ObjectiveExpNLL (default, the original) or ObjectiveNLL

	// ProxyAnchor hyperparameters: the original's loss_oproxy_* flags, which NIR's alignment
	// term uses (§6.7).
	PosAlpha, NegAlpha, PosDelta, NegDelta float64

	ProxyLRMulti float64 // proxy lr = base lr x this (loss_nir_proxy_lrmulti)
	FlowLRMulti  float64 // flow and cond-prep lr = base lr x this (loss_nir_lrmulti)

	// Device the parameters live on. They are always drawn on the CPU generator first
	// (parity with the original, §13) and then moved. Zero value = CPU.
	Device torch.Device

	// Ignored lists dead flags (DeadFlags) that the experiment set; Warnings reports them.
	Ignored []string
}

// DefaultConfig returns the original's defaults (reference §1.5 and the loss_oproxy_* rows of
// §1.4) for embedding dimension d and c classes.
func DefaultConfig(d, c int) Config {
	return Config{
		D: d, C: c,
		CondMode: CondDense, Blocks: 5, Depth: 8, Width: 128, Clamp: 2.0, FcInit: "none",
		WAlign: 0.01, Noise: 0, Objective: ObjectiveExpNLL,
		PosAlpha: 32, NegAlpha: 32, PosDelta: 0.1, NegDelta: -0.1,
		ProxyLRMulti: 4000, FlowLRMulti: 50,
	}
}

// ProxyHP returns the ProxyAnchor hyperparameters of the alignment term.
func (c Config) ProxyHP() ProxyHP {
	return ProxyHP{PosAlpha: c.PosAlpha, NegAlpha: c.NegAlpha, PosDelta: c.PosDelta, NegDelta: c.NegDelta}
}

// Validate reports every problem with the configuration in one error.
func (c Config) Validate() error {
	var probs []string
	if c.D < 2 {
		probs = append(probs, fmt.Sprintf("embedding dimension D = %d: the flow splits the channels in two halves, so D must be >= 2", c.D))
	}
	if c.C < 1 {
		probs = append(probs, fmt.Sprintf("number of classes C = %d: need at least one proxy", c.C))
	}
	if !contains(CondModes, c.CondMode) {
		probs = append(probs, fmt.Sprintf("nf_cond_mode %q: must be one of %s", c.CondMode, strings.Join(CondModes, ", ")))
	}
	if c.Blocks < 1 {
		probs = append(probs, fmt.Sprintf("nf_cblocks = %d: need at least one coupling block", c.Blocks))
	}
	if c.Depth < 2 {
		probs = append(probs, fmt.Sprintf("nf_fc_depth = %d: a subnet has at least an input and an output Linear layer (>= 2)", c.Depth))
	}
	if c.Width < 1 {
		probs = append(probs, fmt.Sprintf("nf_fc_width = %d: must be >= 1", c.Width))
	}
	if !(c.Clamp > 0) {
		probs = append(probs, fmt.Sprintf("nf_clamp_alpha = %g: must be > 0", c.Clamp))
	}
	if c.Objective != ObjectiveExpNLL && c.Objective != ObjectiveNLL {
		probs = append(probs, fmt.Sprintf("objective %q: must be %q (the original) or %q", c.Objective, ObjectiveExpNLL, ObjectiveNLL))
	}
	if len(probs) > 0 {
		return fmt.Errorf("nir config: %s", strings.Join(probs, "; "))
	}
	return nil
}

// Warnings returns one line per dead flag the experiment set.
func (c Config) Warnings() []string {
	var w []string
	names := append([]string(nil), c.Ignored...)
	sort.Strings(names)
	for _, n := range names {
		w = append(w, fmt.Sprintf("nir: %s is accepted for compatibility with the original's loss_nir_%s flag but has no effect (it is never read there either)", n, n))
	}
	return w
}

// splitLen1 is FrEIA's round(D * 0.5) with Python's round-half-to-even.
func splitLen1(d int) int {
	h := d / 2
	if d%2 == 1 && h%2 == 1 { // d/2 = h + 0.5: round to the even neighbour
		return h + 1
	}
	return h
}

// LossParams is the typed `loss "nir" { ... }` block: one field per parameter, named after
// the original's flags with the loss_nir_ / loss_ prefix dropped (loss_oproxy_pos_alpha
// becomes oproxy_pos_alpha), defaults from DefaultLossParams. The tags' bounds are what the
// criterion needs to be buildable (Config.Validate says the same at construction), so a bad
// value is reported by `dmlrun validate` at its file:line:col instead of failing at apply.
// Dead flags are pointers without a default, so that Config can tell whether the file set
// them.
type LossParams struct {
	WAlign       float64 `param:"w_align" doc:"Weight on the ProxyAnchor term (the flow term has weight 1)."`
	ProxyLRMulti float64 `param:"proxy_lrmulti" above:"0" doc:"Proxy learning rate = lr x this."`
	FlowLRMulti  float64 `param:"lrmulti" above:"0" doc:"Flow and cond-prep learning rate = lr x this."`
	Noise        float64 `param:"noise" min:"0" doc:"Sigma of Uniform[0,1) noise added to the flow input, then renormalised; 0 = off."`
	// The enum repeats CondModes (a tag cannot name a variable); TestLossParamsEnums keeps
	// the two equal.
	CondMode  string  `param:"nf_cond_mode" enum:"dense,dense_embed,dense_embed_multi,dense_embed_multi_stacked,start,mid,end" doc:"How the class proxy conditions the flow blocks."`
	Depth     int     `param:"nf_fc_depth" min:"2" doc:"Linear layers per coupling subnet."`
	Width     int     `param:"nf_fc_width" min:"1" doc:"Hidden width of the coupling subnets."`
	Blocks    int     `param:"nf_cblocks" min:"1" doc:"Number of (permute, GLOW coupling) blocks."`
	Clamp     float64 `param:"nf_clamp_alpha" above:"0" doc:"Soft clamp of the coupling log-scales: clamp*0.636*atan(s)."`
	FcInit    string  `param:"nf_fc_init" doc:"\"xavier\": Xavier-uniform weights and zero bias for all subnet layers but the first; anything else: PyTorch default."`
	Objective string  `param:"objective" enum:"exp_nll,nll" doc:"exp_nll: mean(exp(NLL)) as the original code; nll: mean NLL as the paper states."`
	PosAlpha  float64 `param:"oproxy_pos_alpha" doc:"ProxyAnchor positive scale (the original's loss_oproxy_pos_alpha)."`
	NegAlpha  float64 `param:"oproxy_neg_alpha" doc:"ProxyAnchor negative scale (loss_oproxy_neg_alpha)."`
	PosDelta  float64 `param:"oproxy_pos_delta" doc:"ProxyAnchor positive margin (loss_oproxy_pos_delta)."`
	NegDelta  float64 `param:"oproxy_neg_delta" doc:"ProxyAnchor negative margin (loss_oproxy_neg_delta)."`

	// The original's dead flags (DeadFlags, in that order).
	Logmatch    *float64 `param:"logmatch" doc:"Accepted for compatibility with the original; has no effect."`
	PosAlphaOld *float64 `param:"pos_alpha" doc:"Accepted for compatibility with the original; has no effect."`
	NegAlphaOld *float64 `param:"neg_alpha" doc:"Accepted for compatibility with the original; has no effect."`
	Margin      *float64 `param:"margin" doc:"Accepted for compatibility with the original; has no effect."`
	Delta       *float64 `param:"delta" doc:"Accepted for compatibility with the original; has no effect."`
	PairPerc    *float64 `param:"pair_perc" doc:"Accepted for compatibility with the original; has no effect."`
	FcDropout   *float64 `param:"nf_fc_dropout" doc:"Accepted for compatibility with the original; has no effect."`
}

// DefaultLossParams returns the original's defaults (DefaultConfig's values).
func DefaultLossParams() LossParams {
	d := DefaultConfig(0, 0)
	return LossParams{
		WAlign: d.WAlign, ProxyLRMulti: d.ProxyLRMulti, FlowLRMulti: d.FlowLRMulti, Noise: d.Noise,
		CondMode: d.CondMode, Depth: d.Depth, Width: d.Width, Blocks: d.Blocks, Clamp: d.Clamp,
		FcInit: d.FcInit, Objective: d.Objective,
		PosAlpha: d.PosAlpha, NegAlpha: d.NegAlpha, PosDelta: d.PosDelta, NegDelta: d.NegDelta,
	}
}

// deadFlags pairs each dead flag's name with its field.
func (p *LossParams) deadFlags() []struct {
	name string
	v    *float64
} {
	return []struct {
		name string
		v    *float64
	}{{"logmatch", p.Logmatch}, {"pos_alpha", p.PosAlphaOld}, {"neg_alpha", p.NegAlphaOld}, {"margin", p.Margin},
		{"delta", p.Delta}, {"pair_perc", p.PairPerc}, {"nf_fc_dropout", p.FcDropout}}
}

// Config returns the criterion's configuration for embedding dimension d and c classes,
// validated (Config.Validate). Set dead flags end up in Config.Ignored.
func (p LossParams) Config(d, c int) (Config, error) {
	cfg := DefaultConfig(d, c)
	cfg.WAlign, cfg.ProxyLRMulti, cfg.FlowLRMulti, cfg.Noise = p.WAlign, p.ProxyLRMulti, p.FlowLRMulti, p.Noise
	cfg.CondMode, cfg.Depth, cfg.Width, cfg.Blocks = p.CondMode, p.Depth, p.Width, p.Blocks
	cfg.Clamp, cfg.FcInit, cfg.Objective = p.Clamp, p.FcInit, p.Objective
	cfg.PosAlpha, cfg.NegAlpha, cfg.PosDelta, cfg.NegDelta = p.PosAlpha, p.NegAlpha, p.PosDelta, p.NegDelta
	for _, f := range p.deadFlags() {
		if f.v != nil {
			cfg.Ignored = append(cfg.Ignored, f.name)
		}
	}
	return cfg, cfg.Validate()
}

// ParamSchema is the parameter schema of a `loss "nir" { ... }` block, declared by
// LossParams' tags.
func ParamSchema() []stage.Param {
	ps, err := stage.SchemaOf(DefaultLossParams())
	if err != nil {
		panic("nir: LossParams' tags are malformed (a bug): " + err.Error())
	}
	return ps
}

// ConfigFromParams builds a Config from a decoded `loss "nir"` block (ParamSchema, defaults
// filled; missing members take their defaults) for embedding dimension d and c classes. A
// value outside its bounds is an error naming it.
func ConfigFromParams(d, c int, p stage.Params) (Config, error) {
	lp := DefaultLossParams()
	if probs := stage.DecodeParams(p, &lp); len(probs) > 0 {
		return Config{}, fmt.Errorf("nir config: %w", probs.Err())
	}
	return lp.Config(d, c)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
