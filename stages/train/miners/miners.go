package miners

import (
	"fmt"

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
