package miners

import (
	"fmt"
	"sort"
	"strings"

	"dmlrun/stage"
	"dmlrun/torch"
)

// Miner picks (anchor, positive, negative) index triplets from one batch. emb is the batch
// of embeddings (B x D, any device; only read, never part of the autograd graph) and labels
// are the B class labels. Implementations draw from the generators they were built with,
// so two miners built on generators in the same state return the same triplets.
//
// Mine panics with *torch.Error if a tensor operation fails (wrap the step in torch.Catch).
type Miner interface {
	Mine(emb *torch.Tensor, labels []int64) [][3]int
}

// Names lists the miners New knows, sorted.
func Names() []string {
	var out []string
	for n := range Variants() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Variants are the miners' parameter schemas with the original's defaults (reference §1.3),
// named after the flags without the miner_<name>_ prefix. The train stage may expose them
// as `batch_mining "distance" { lower_cutoff = 0.5 }`; New fills absent ones with these
// defaults, so a nil Params means "the original's defaults".
func Variants() map[string][]stage.Param {
	return map[string][]stage.Param{
		"distance": {
			{Name: "lower_cutoff", Type: stage.Float, Default: 0.5, Doc: "Distances are clamped from below to this value before the inverse-sphere density (miner_distance_lower_cutoff)."},
			{Name: "upper_cutoff", Type: stage.Float, Default: 1.4, Doc: "Accepted for compatibility; unused, as in the original (miner_distance_upper_cutoff)."},
		},
		"rho_distance": {
			{Name: "lower_cutoff", Type: stage.Float, Default: 0.5, Doc: "Distances are clamped from below to this value (miner_rho_distance_lower_cutoff)."},
			{Name: "upper_cutoff", Type: stage.Float, Default: 1.4, Doc: "Accepted for compatibility; unused, as in the original (miner_rho_distance_upper_cutoff)."},
			{Name: "cp", Type: stage.Float, Default: 0.2, Doc: "Probability of a (i, i, same-class j) triplet that pushes a positive away (miner_rho_distance_cp)."},
		},
		"semihard": {
			{Name: "margin", Type: stage.Float, Default: 0.2, Doc: "Semihard window: negatives with d_ap < d_an < d_ap + margin (miner_semihard_margin)."},
		},
		"softhard": {},
		"random":   {},
		"npair":    {},
	}
}

type options struct {
	py PyRandom
}

// Option configures New.
type Option func(*options)

// WithPython gives the miners their CPython random source; only "random" uses it (the
// original's random miner calls Python's random.sample on the global generator the batch
// sampler also draws from). Pass the sampler's generator (stages/load's *PyRandom works).
func WithPython(py PyRandom) Option { return func(o *options) { o.py = py } }

// New builds the miner called name (one of Names) with parameters p (nil or a subset of the
// variant's fields; missing ones take the original's defaults). Every miner but "random"
// draws from rng, which must not be nil; "random" needs WithPython.
func New(name string, p stage.Params, rng *NumpyRandom, opts ...Option) (Miner, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	schema, ok := Variants()[name]
	if !ok {
		return nil, fmt.Errorf("batch miner %q: unknown; known miners are %s", name, strings.Join(Names(), ", "))
	}
	vals := map[string]float64{}
	for _, f := range schema {
		v := f.Default.(float64)
		if p != nil && p.Has(f.Name) && p[f.Name] != nil {
			fv, ok := p[f.Name].(float64)
			if !ok {
				return nil, fmt.Errorf("batch miner %q: parameter %s must be a number, got %T", name, f.Name, p[f.Name])
			}
			v = fv
		}
		vals[f.Name] = v
	}
	if name == "random" {
		if o.py == nil {
			return nil, fmt.Errorf("batch miner \"random\": needs a Python random source (miners.WithPython), the generator the batch sampler uses")
		}
		return &Random{py: o.py}, nil
	}
	if rng == nil {
		return nil, fmt.Errorf("batch miner %q: needs a NumPy generator (nil *NumpyRandom)", name)
	}
	switch name {
	case "distance":
		return &Distance{LowerCutoff: vals["lower_cutoff"], rng: rng}, nil
	case "rho_distance":
		cp := vals["cp"]
		if cp < 0 || cp > 1 {
			return nil, fmt.Errorf("batch miner \"rho_distance\": cp = %g must be a probability in [0, 1]", cp)
		}
		return &RhoDistance{LowerCutoff: vals["lower_cutoff"], CP: cp, rng: rng}, nil
	case "semihard":
		return &Semihard{Margin: vals["margin"], rng: rng}, nil
	case "softhard":
		return &Softhard{rng: rng}, nil
	case "npair":
		return &NPair{rng: rng}, nil
	}
	panic("miners: schema and constructor disagree on " + name + " (programmer error)")
}

// pdist is the original miners' distance matrix, computed with libtorch exactly as they do
// (so CPU results are bit-identical to the original's): prod = A Aᵀ, n = diag(prod),
// sqrt(clamp(clamp(n_i + n_j - 2 prod_ij, min 0), min eps)). eps 0 skips the second clamp
// (distance, semihard, softhard); rho_distance uses 1e-4. The result stays a tensor (on
// emb's device) for callers that keep computing on it.
func pdist(emb *torch.Tensor, eps float64) *torch.Tensor {
	a := emb.Detach()
	prod := a.Mm(a.T())
	b := prod.Size(0)
	idx := torch.Arange(0, float64(b), 1, torch.Int64, prod.Device()).Unsqueeze(1)
	norm := prod.Gather(1, idx) // diag as a column: norm[i] = prod[i,i]
	res := norm.Add(norm.T()).Sub(prod.MulScalar(2)).ClampMin(0)
	if eps > 0 {
		res = res.ClampMin(eps)
	}
	return res.Sqrt()
}

// rows copies a B x B float32 matrix to Go rows.
func rows(t *torch.Tensor) [][]float32 {
	v, err := t.Float32s()
	if err != nil {
		panic(&torch.Error{Op: "miners: read distances", Msg: err.Error()})
	}
	b := int(t.Size(0))
	out := make([][]float32, b)
	for i := range out {
		out[i] = v[i*b : (i+1)*b]
	}
	return out
}

// checkBatch panics (a caller bug) when labels and embeddings disagree.
func checkBatch(name string, emb *torch.Tensor, labels []int64) {
	if emb.Dim() != 2 || int(emb.Size(0)) != len(labels) {
		panic(fmt.Sprintf("miners: %s: embeddings %v and %d labels do not match (bug in the caller)", name, emb.Shape(), len(labels)))
	}
}

// where returns the indices i with labels[i] == l (same) or != l (!same), ascending, minus
// the index skip (-1 to keep all).
func where(labels []int64, l int64, same bool, skip int) []int {
	var out []int
	for i, v := range labels {
		if (v == l) == same && i != skip {
			out = append(out, i)
		}
	}
	return out
}
