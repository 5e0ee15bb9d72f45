package nir

import (
	"fmt"
	"math"

	"dmlrun/torch"
)

// ProxyHP are the ProxyAnchor/ProxyNCA hyperparameters (the original's loss_oproxy_*).
type ProxyHP struct {
	PosAlpha, NegAlpha float64 // alpha+, alpha-
	PosDelta, NegDelta float64 // delta+, delta-
}

// DefaultProxyHP are the original's defaults: alpha+- = 32, delta+ = 0.1, delta- = -0.1.
func DefaultProxyHP() ProxyHP {
	return ProxyHP{PosAlpha: 32, NegAlpha: 32, PosDelta: 0.1, NegDelta: -0.1}
}

// ProxyMode selects the reduction of the proxy loss (loss_oproxy_mode).
type ProxyMode int

const (
	// ProxyModeAnchor reduces over the batch (dim 0): ProxyAnchor. NIR's alignment term.
	ProxyModeAnchor ProxyMode = 0
	// ProxyModeNCA reduces over proxies (dim 1): ProxyNCA-like.
	ProxyModeNCA ProxyMode = 1
)

func (m ProxyMode) String() string {
	switch m {
	case ProxyModeAnchor:
		return "anchor"
	case ProxyModeNCA:
		return "nca"
	}
	return fmt.Sprintf("ProxyMode(%d)", int(m))
}

// ParseProxyMode maps loss_oproxy_mode's strings.
func ParseProxyMode(s string) (ProxyMode, error) {
	switch s {
	case "anchor":
		return ProxyModeAnchor, nil
	case "nca":
		return ProxyModeNCA, nil
	}
	return 0, fmt.Errorf("oproxy mode %q: must be \"anchor\" or \"nca\"", s)
}

// FloatMax is torch.finfo(dt).max for a floating dtype (float32's for any other dtype).
// The original masks with torch.finfo(s.dtype).min = -FloatMax(dt) of the tensor's own
// dtype: under autocast similarities are float16 or bfloat16, whose range float32's limit
// overflows (masked_fill then fails).
func FloatMax(dt torch.DType) float64 {
	switch dt {
	case torch.Float64:
		return math.MaxFloat64
	case torch.Float16:
		return 65504 // (2 - 2^-10) * 2^15
	case torch.BFloat16:
		return 3.3895313892515355e38 // (2 - 2^-7) * 2^127
	}
	return math.MaxFloat32
}

// normEps is F.normalize's default eps.
const normEps = 1e-12

// MaskedLogSumExp is the original's masked logsumexp (reference §5): entries of s where mask
// is false become the minimum of s's own dtype (torch.finfo(s.dtype).min; not -inf, which
// would make logsumexp's gradient NaN on all-masked slices), a zero is appended along dim,
// logsumexp is taken along dim (kept as size 1), and slices whose mask is all false are set
// to 0. Per slice this is log(1 + sum_{mask} exp(s)), or 0 when nothing is masked in. mask
// is a Bool tensor with s's shape.
func MaskedLogSumExp(s, mask *torch.Tensor, dim int64) *torch.Tensor {
	filled := s.MaskedFill(mask.LogicalNot(), -FloatMax(s.DType()))
	shape := filled.Shape()
	shape[dim] = 1
	zero := torch.Zeros(shape, filled.DType(), filled.Device())
	lse := torch.Cat([]*torch.Tensor{filled, zero}, dim).LogSumExp(dim, true)
	// torch.any(mask, dim, keepdim): a slice has a masked-in entry iff its count is > 0.
	none := mask.ToDType(torch.Float32).SumDim([]int64{dim}, true).EqScalar(0)
	return lse.MaskedFill(none, 0)
}

// ProxyLoss is the original's oproxy criterion (reference §5.1) for embeddings emb (B x D,
// any norm), raw proxies (C x D) and int64 labels (B), on emb's device:
//
//	Spos[i,j] = -alpha+ (n(x_i).n(p_{y_j}) - delta+),  mask y_i = y_j      (B x B)
//	Sneg[i,c] =  alpha- (n(x_i).n(p_c)     - delta-),  mask c != y_i       (B x C)
//	L = mean(MLSE(Spos, dim)) + mean(MLSE(Sneg, dim)),  dim 0 = anchor, 1 = nca
//
// In anchor mode the positive part averages over the B batch columns (a class present k
// times counts k times) and the negative part over all C proxies, as the original (§14.8).
// The result is a scalar of emb's dtype that backpropagates into emb and proxies; labels may
// live on the CPU while emb is on a GPU.
func ProxyLoss(emb, proxies, labels *torch.Tensor, hp ProxyHP, mode ProxyMode) *torch.Tensor {
	dim := int64(mode)
	labels = labels.To(emb.Device()) // labels often arrive on the CPU, as in the original
	x := emb.Normalize(2, -1, normEps)
	p := proxies.Normalize(2, -1, normEps)
	c := proxies.Size(0)

	posSims := x.Mm(p.Index(labels).T())
	negSims := x.Mm(p.T())
	wPos := posSims.SubScalar(hp.PosDelta).MulScalar(-hp.PosAlpha)
	wNeg := negSims.SubScalar(hp.NegDelta).MulScalar(hp.NegAlpha)

	col := labels.Unsqueeze(1)
	same := col.Eq(labels.Unsqueeze(0))
	classes := torch.Arange(0, float64(c), 1, torch.Int64, labels.Device())
	diff := col.Ne(classes.Unsqueeze(0))

	pos := MaskedLogSumExp(wPos, same, dim).Mean()
	neg := MaskedLogSumExp(wNeg, diff, dim).Mean()
	return pos.Add(neg)
}

// ProxyAnchor is ProxyLoss in anchor mode: NIR's alignment term L_PA (reference §6.7) and
// the oproxy baseline's default.
func ProxyAnchor(emb, proxies, labels *torch.Tensor, hp ProxyHP) *torch.Tensor {
	return ProxyLoss(emb, proxies, labels, hp, ProxyModeAnchor)
}

// InitProxies draws C x D proxies as the original: randn(C, D) / 8 on the CPU generator (the
// caller seeds it; the draw consumes the generator exactly as PyTorch's does), float32. The
// result is a plain CPU tensor; the caller moves it and marks it trainable.
func InitProxies(c, d int) *torch.Tensor {
	return torch.Randn([]int64{int64(c), int64(d)}, torch.Float32, torch.CPUDevice).DivScalar(8)
}
