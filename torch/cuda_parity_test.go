package torch

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"dmlrun/internal/tol"
)

// The CUDA variants of the binding's tests (scripts/device-check.sh runs every test whose
// name contains CUDA on the GPU machine). Each one has two subtests:
//
//   - cpu: the float32 CPU result checked against float64 with the same bound, on every
//     machine. It proves the harness runs and that the bound is not tighter than float32
//     rounding itself, so a CUDA failure is a CUDA difference, not a bad tolerance.
//   - cuda:0: the float32 result on the GPU checked against the same float64 CPU
//     reference and bound; skipped, with the reason, when libtorch sees no GPU.
//
// Bounds follow from the dtype and the length of the computation (internal/tol): a sum or
// dot product of k float32 terms is within Sum(Eps32, k)·Σ|terms| of the exact value,
// elementwise math within a few ulps. CUDA convolutions get one term more: cuDNN runs
// float32 convolutions in TF32 by default on Ampere and newer GPUs (PyTorch's
// torch.backends.cudnn.allow_tf32 = True; the shim cannot change it), which rounds both
// operands to a 10-bit mantissa, a relative error of 2^-11 each per product. cuBLAS matmuls
// stay in full float32 (torch.backends.cuda.matmul.allow_tf32 = False by default), so a
// matmul that fails here while the convolutions pass means TF32 matmuls were switched on.

// uTF32 is TF32's unit roundoff (10 explicit mantissa bits).
const uTF32 = 0x1p-11

// parityDevices are the devices each CUDA variant runs on: the CPU always, then cuda:0.
var parityDevices = []Device{CPUDevice, {Kind: CUDA}}

// forDevices runs fn as one subtest per device, skipping CUDA without a GPU.
func forDevices(t *testing.T, fn func(t *testing.T, dev Device)) {
	t.Helper()
	for _, dev := range parityDevices {
		t.Run(dev.String(), func(t *testing.T) {
			if dev.IsCUDA() && !CUDAAvailable() {
				t.Skipf("no CUDA device visible to libtorch %s (shim built against a CPU libtorch?)", Version())
			}
			s := NewScope()
			defer s.Close()
			if err := Catch(func() error { fn(t, dev); return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// convRoundoff is the per-product input rounding of convolutions on dev: TF32 on CUDA.
func convRoundoff(dev Device) float64 {
	if dev.IsCUDA() {
		return uTF32
	}
	return 0
}

// parityRecord is one line of the device check's results: the worst difference of a
// quantity against its reference, the tolerance it had, and their ratio.
type parityRecord struct {
	Test      string  `json:"test"`
	Device    string  `json:"device"`
	Quantity  string  `json:"quantity"`
	MaxDiff   float64 `json:"max_diff"`
	Tolerance string  `json:"tolerance"`
	Ratio     float64 `json:"worst_ratio"` // max over elements of diff / bound (<= 1 passes)
}

// logParity writes the record as a "parity: {json}" line, which scripts/device-check.sh
// collects into its results file.
func logParity(t *testing.T, r parityRecord) {
	t.Helper()
	b, _ := json.Marshal(r)
	t.Logf("parity: %s", b)
}

// randVals draws n float32-representable values (so float32 inputs are exact and the
// float64 reference sees the very same numbers): "normal", "pos" (|N|+0.05) or "unit"
// (uniform in (-0.95, 0.95)).
func randVals(r *rand.Rand, kind string, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		v := r.NormFloat64()
		switch kind {
		case "pos":
			v = math.Abs(v) + 0.05
		case "unit":
			v = (2*r.Float64() - 1) * 0.95
		}
		out[i] = float64(float32(v))
	}
	return out
}

type opInput struct {
	kind  string
	shape []int64
}

// opCase is one operation compared on a device against float64. fn computes it from the
// inputs (float64 on the CPU for the reference, float32 on the device); bound returns the
// per-element tolerance (broadcastable to the result), computed in float64 on the CPU
// from the reference inputs and result.
type opCase struct {
	name  string
	in    []opInput
	fn    func(in []*Tensor, dev Device) *Tensor
	bound func(in []*Tensor, ref *Tensor, dev Device) *Tensor
	what  string // the tolerance in words, for the results file
}

func in(kind string, shape ...int64) opInput { return opInput{kind, shape} }

// ulps is the bound of elementwise math: DrawULPs float32 ulps of the result, with a floor
// of that many ulps of 2^-10 times the largest result (results near zero of a function
// whose values elsewhere are large are computed to absolute, not relative, accuracy).
func ulps(_ []*Tensor, ref *Tensor, _ Device) *Tensor {
	floor := ref.Abs().Max().Item() * 0x1p-10
	return ref.Abs().ClampMin(floor).MulScalar(tol.DrawULPs * tol.Eps32)
}

const ulpsWhat = "8 float32 ulps of |ref| (floor: 2^-10 max|ref|)"

func exact(_ []*Tensor, ref *Tensor, _ Device) *Tensor { return Zeros([]int64{1}, Float64, CPUDevice) }

// linearBound is the bound of an operation that is a sum of k products per element, given
// the same operation on the absolute values of the inputs (absOp): (2·uIn + 2·Sum(k))·|op|(|x|)
// plus the rounding of the result. uIn is the input rounding of the device (TF32) when conv.
func linearBound(k int, conv bool, absOp func(abs []*Tensor) *Tensor) func([]*Tensor, *Tensor, Device) *Tensor {
	return func(in []*Tensor, ref *Tensor, dev Device) *Tensor {
		abs := make([]*Tensor, len(in))
		for i, x := range in {
			abs[i] = x.Abs()
		}
		u := 0.0
		if conv {
			u = convRoundoff(dev)
		}
		return absOp(abs).MulScalar(2*u + 2*tol.Sum(tol.Eps32, k)).Add(ref.Abs().MulScalar(tol.Eps32))
	}
}

func linearWhat(k int, conv bool) string {
	s := fmt.Sprintf("2·Sum(eps32, %d)·(|a|∘|b|) + eps32·|ref|", k)
	if conv {
		s = fmt.Sprintf("(2·u_conv + 2·Sum(eps32, %d))·(|x|∘|w|) + eps32·|ref|, u_conv = 2^-11 (TF32) on CUDA, 0 on CPU", k)
	}
	return s
}

// reductionBound is (2·Sum(eps32, n) + 8·eps32)·(scale + |ref|) for softmax-like results
// whose error is absolute in units of scale.
func reductionBound(n int, scale float64) func([]*Tensor, *Tensor, Device) *Tensor {
	return func(_ []*Tensor, ref *Tensor, _ Device) *Tensor {
		return ref.Abs().AddScalar(scale).MulScalar(2*tol.Sum(tol.Eps32, n) + 8*tol.Eps32)
	}
}

func idxTensor(v []int64, dev Device, shape ...int64) *Tensor {
	t, err := FromInt64(v, shape...)
	if err != nil {
		panic(err)
	}
	return t.To(dev)
}

func opCases() []opCase {
	p1 := [2]int64{1, 1}
	return []opCase{
		{name: "mm", in: []opInput{in("normal", 33, 70), in("normal", 70, 21)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return x[0].Mm(x[1]) },
			bound: linearBound(70, false, func(a []*Tensor) *Tensor { return a[0].Mm(a[1]) }), what: linearWhat(70, false)},
		{name: "bmm", in: []opInput{in("normal", 4, 9, 50), in("normal", 4, 50, 7)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return x[0].Bmm(x[1]) },
			bound: linearBound(50, false, func(a []*Tensor) *Tensor { return a[0].Bmm(a[1]) }), what: linearWhat(50, false)},
		{name: "linear", in: []opInput{in("normal", 16, 300), in("normal", 40, 300), in("normal", 40)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return Linear(x[0], x[1], x[2]) },
			bound: linearBound(301, false, func(a []*Tensor) *Tensor { return Linear(a[0], a[1], a[2]) }), what: linearWhat(301, false)},
		{name: "conv2d 3x3", in: []opInput{in("normal", 2, 5, 12, 12), in("normal", 7, 5, 3, 3), in("normal", 7)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return Conv2d(x[0], x[1], x[2], p1, p1, p1, 1) },
			bound: linearBound(46, true, func(a []*Tensor) *Tensor { return Conv2d(a[0], a[1], a[2], p1, p1, p1, 1) }),
			what:  linearWhat(46, true)},
		{name: "conv2d 7x7 stride 2 (ResNet stem)", in: []opInput{in("normal", 2, 3, 17, 17), in("normal", 4, 3, 7, 7)},
			fn: func(x []*Tensor, _ Device) *Tensor {
				return Conv2d(x[0], x[1], nil, [2]int64{2, 2}, [2]int64{3, 3}, p1, 1)
			},
			bound: linearBound(147, true, func(a []*Tensor) *Tensor {
				return Conv2d(a[0], a[1], nil, [2]int64{2, 2}, [2]int64{3, 3}, p1, 1)
			}), what: linearWhat(147, true)},
		{name: "batchnorm eval", in: []opInput{in("normal", 4, 6, 5, 5), in("normal", 6), in("normal", 6), in("normal", 6), in("pos", 6)},
			fn: func(x []*Tensor, _ Device) *Tensor {
				return BatchNorm(x[0], x[1], x[2], x[3].Clone(), x[4].Clone(), false, 0.1, 1e-5)
			},
			bound: func(x []*Tensor, ref *Tensor, _ Device) *Tensor {
				v := func(t *Tensor) *Tensor { return t.Reshape(1, -1, 1, 1) }
				scaled := x[0].Sub(v(x[3])).Mul(v(x[1])).Div(v(x[4]).AddScalar(1e-5).Sqrt()).Abs()
				return scaled.Add(v(x[2]).Abs()).MulScalar(8 * tol.Eps32)
			}, what: "8·eps32·(|(x-mean)·w/sqrt(var+eps)| + |b|)"},
		{name: "batchnorm train (100 per channel)", in: []opInput{in("normal", 4, 6, 5, 5), in("normal", 6), in("normal", 6)},
			fn: func(x []*Tensor, dev Device) *Tensor {
				rm, rv := Zeros([]int64{6}, x[0].DType(), dev), Ones([]int64{6}, x[0].DType(), dev)
				return BatchNorm(x[0], x[1], x[2], rm, rv, true, 0.1, 1e-5)
			},
			// mean and variance are sums of 100 terms: the normalised value is off by about
			// Sum(100)·(1 + |y| + |mean|/std) in units of |w|.
			bound: func(x []*Tensor, ref *Tensor, _ Device) *Tensor {
				v := func(t *Tensor) *Tensor { return t.Reshape(1, -1, 1, 1) }
				mean := x[0].MeanDim([]int64{0, 2, 3}, true)
				std := x[0].Sub(mean).Square().MeanDim([]int64{0, 2, 3}, true).Sqrt()
				y := x[0].Sub(mean).Div(std).Abs()
				s := 4*tol.Sum(tol.Eps32, 100) + 8*tol.Eps32
				return y.AddScalar(1).Add(mean.Abs().Div(std)).Mul(v(x[1]).Abs()).MulScalar(s).Add(ref.Abs().MulScalar(8 * tol.Eps32))
			}, what: "(4·Sum(eps32, 100) + 8·eps32)·|w|·(1 + |y| + |mean|/std) + 8·eps32·|ref|"},
		{name: "max_pool2d 3x3 s2", in: []opInput{in("normal", 2, 3, 11, 11)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return MaxPool2d(x[0], [2]int64{3, 3}, [2]int64{2, 2}, p1, false) },
			bound: exact, what: "exact"},
		{name: "avg_pool2d 2x2", in: []opInput{in("normal", 2, 3, 10, 10)},
			fn: func(x []*Tensor, _ Device) *Tensor {
				return AvgPool2d(x[0], [2]int64{2, 2}, [2]int64{2, 2}, [2]int64{0, 0}, false)
			},
			bound: linearBound(4, false, func(a []*Tensor) *Tensor {
				return AvgPool2d(a[0], [2]int64{2, 2}, [2]int64{2, 2}, [2]int64{0, 0}, false)
			}), what: linearWhat(4, false)},
		{name: "adaptive_avg_pool2d 7x7->1", in: []opInput{in("normal", 3, 64, 7, 7)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return AdaptiveAvgPool2d(x[0], [2]int64{1, 1}) },
			bound: linearBound(49, false, func(a []*Tensor) *Tensor { return AdaptiveAvgPool2d(a[0], [2]int64{1, 1}) }), what: linearWhat(49, false)},
		{name: "adaptive_max_pool2d", in: []opInput{in("normal", 3, 8, 7, 7)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return AdaptiveMaxPool2d(x[0], [2]int64{1, 1}) },
			bound: exact, what: "exact"},
		{name: "softmax", in: []opInput{in("normal", 8, 50)},
			fn: func(x []*Tensor, _ Device) *Tensor { return x[0].MulScalar(3).Softmax(1) },
			bound: func(_ []*Tensor, ref *Tensor, _ Device) *Tensor {
				return ref.Abs().MulScalar(2*tol.Sum(tol.Eps32, 50) + 8*tol.Eps32)
			}, what: "(2·Sum(eps32, 50) + 8·eps32)·|ref|"},
		{name: "log_softmax", in: []opInput{in("normal", 8, 50)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return x[0].MulScalar(3).LogSoftmax(1) },
			bound: reductionBound(50, 1), what: "(2·Sum(eps32, 50) + 8·eps32)·(1 + |ref|)"},
		{name: "logsumexp", in: []opInput{in("normal", 8, 50)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return x[0].MulScalar(3).LogSumExp(1, false) },
			bound: reductionBound(50, 1), what: "(2·Sum(eps32, 50) + 8·eps32)·(1 + |ref|)"},
		{name: "normalize", in: []opInput{in("normal", 8, 128)},
			fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Normalize(2, -1, 1e-12) },
			bound: func(_ []*Tensor, ref *Tensor, _ Device) *Tensor {
				return ref.Abs().MulScalar(2*tol.Sum(tol.Eps32, 128) + 8*tol.Eps32)
			}, what: "(2·Sum(eps32, 128) + 8·eps32)·|ref|"},
		{name: "sum 1000", in: []opInput{in("normal", 1000)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return x[0].Sum() },
			bound: linearBound(1000, false, func(a []*Tensor) *Tensor { return a[0].Sum() }), what: linearWhat(1000, false)},
		{name: "mean dim 200", in: []opInput{in("normal", 30, 200)},
			fn:    func(x []*Tensor, _ Device) *Tensor { return x[0].MeanDim([]int64{1}, false) },
			bound: linearBound(200, false, func(a []*Tensor) *Tensor { return a[0].MeanDim([]int64{1}, false) }), what: linearWhat(200, false)},
		{name: "exp", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].MulScalar(4).Exp() }, bound: ulps, what: ulpsWhat},
		{name: "log", in: []opInput{in("pos", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Log() }, bound: ulps, what: ulpsWhat},
		{name: "log1p", in: []opInput{in("pos", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Log1p() }, bound: ulps, what: ulpsWhat},
		{name: "sqrt", in: []opInput{in("pos", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Sqrt() }, bound: ulps, what: ulpsWhat},
		{name: "tanh", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Tanh() }, bound: ulps, what: ulpsWhat},
		{name: "sigmoid", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Sigmoid() }, bound: ulps, what: ulpsWhat},
		{name: "atan", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Atan() }, bound: ulps, what: ulpsWhat},
		{name: "acos", in: []opInput{in("unit", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Acos() }, bound: ulps, what: ulpsWhat},
		{name: "softplus", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].MulScalar(5).Softplus() }, bound: ulps, what: ulpsWhat},
		{name: "cos", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Cos() }, bound: ulps, what: ulpsWhat},
		{name: "sin", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Sin() }, bound: ulps, what: ulpsWhat},
		{name: "relu", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Relu() }, bound: exact, what: "exact"},
		{name: "square", in: []opInput{in("normal", 500)}, fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Square() }, bound: ulps, what: ulpsWhat},
		{name: "pow", in: []opInput{in("pos", 200), in("unit", 200)},
			fn: func(x []*Tensor, _ Device) *Tensor { return x[0].Pow(x[1].MulScalar(3)) }, bound: ulps, what: ulpsWhat},
		{name: "add/sub/mul/div", in: []opInput{in("normal", 300), in("pos", 300)},
			fn: func(x []*Tensor, _ Device) *Tensor {
				return Cat([]*Tensor{x[0].Add(x[1]), x[0].Sub(x[1]), x[0].Mul(x[1]), x[0].Div(x[1])}, 0)
			},
			bound: func(x []*Tensor, ref *Tensor, _ Device) *Tensor {
				s := x[0].Abs().Add(x[1].Abs())
				return Cat([]*Tensor{s, s, ref.Narrow(0, 600, 600).Abs()}, 0).MulScalar(tol.Eps32)
			}, what: "eps32·(|a|+|b|) for add and sub, eps32·|ref| for mul and div"},
		{name: "cross_entropy", in: []opInput{in("normal", 16, 10)},
			fn: func(x []*Tensor, dev Device) *Tensor {
				y := idxTensor([]int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5}, dev, 16)
				return CrossEntropy(x[0].MulScalar(3), y)
			},
			bound: func(x []*Tensor, ref *Tensor, _ Device) *Tensor {
				m := x[0].Abs().Max().Item()*3 + 1
				return ref.Abs().AddScalar(m).MulScalar(2*tol.Sum(tol.Eps32, 10) + 2*tol.Sum(tol.Eps32, 16) + 8*tol.Eps32)
			}, what: "(2·Sum(eps32, 10) + 2·Sum(eps32, 16) + 8·eps32)·(1 + max|logit| + |ref|)"},
		{name: "interpolate bilinear 9->13", in: []opInput{in("normal", 1, 3, 9, 9)},
			fn: func(x []*Tensor, _ Device) *Tensor { return InterpolateBilinear(x[0], [2]int64{13, 13}, false, false) },
			// source coordinates are computed in float32: their error, up to 9·eps, moves the
			// interpolation weights by as much, in each of the two dimensions.
			bound: func(x []*Tensor, ref *Tensor, _ Device) *Tensor {
				return ref.Abs().MulScalar(8 * tol.Eps32).AddScalar(4 * 9 * tol.Eps32 * x[0].Abs().Max().Item())
			}, what: "8·eps32·|ref| + 36·eps32·max|x| (float32 source coordinates up to 9)"},
		{name: "index_select/gather/scatter/masked_fill/where", in: []opInput{in("normal", 6, 5)},
			fn: func(x []*Tensor, dev Device) *Tensor {
				i := idxTensor([]int64{4, 0, 2}, dev, 3)
				g := idxTensor([]int64{0, 4, 1, 1, 3, 2}, dev, 6, 1)
				a := x[0].IndexSelect(0, i).Flatten(0, -1)
				b := x[0].Gather(1, g).Flatten(0, -1)
				c := x[0].Scatter(1, g, x[0].Narrow(1, 0, 1)).Flatten(0, -1)
				d := x[0].MaskedFill(x[0].GtScalar(0.5), -7).Flatten(0, -1)
				e := Where(x[0].LtScalar(0), x[0].Neg(), x[0].MulScalar(2)).Flatten(0, -1)
				return Cat([]*Tensor{a, b, c, d, e, x[0].Index(i).Flatten(0, -1)}, 0)
			}, bound: exact, what: "exact"},
		{name: "scatter_add (8 sources per slot)", in: []opInput{in("normal", 1, 40)},
			fn: func(x []*Tensor, dev Device) *Tensor {
				idx := make([]int64, 40)
				for i := range idx {
					idx[i] = int64(i % 5)
				}
				return Zeros([]int64{1, 5}, x[0].DType(), dev).ScatterAdd(1, idxTensor(idx, dev, 1, 40), x[0])
			},
			bound: func(x []*Tensor, ref *Tensor, _ Device) *Tensor {
				return Full([]int64{1}, 2*tol.Sum(tol.Eps32, 8)*x[0].Abs().Sum().Item(), Float64, CPUDevice)
			}, what: "2·Sum(eps32, 8)·Σ|src|"},
		{name: "topk/sort/argmax/max (values and indices)", in: []opInput{in("normal", 6, 40)},
			fn: func(x []*Tensor, _ Device) *Tensor {
				tv, ti := x[0].TopK(5, 1, true, true)
				sv, si := x[0].Sort(1, false)
				mv, mi := x[0].MinDim(1, false)
				am := x[0].Argmax(1, false)
				f := func(t *Tensor) *Tensor { return t.ToDType(x[0].DType()).Flatten(0, -1) }
				return Cat([]*Tensor{f(tv), f(ti), f(sv), f(si), f(mv), f(mi), f(am), x[0].Max().Reshape(1), x[0].Min().Reshape(1)}, 0)
			}, bound: exact, what: "exact (random values have no ties)"},
		{name: "comparisons", in: []opInput{in("normal", 200), in("normal", 200)},
			fn: func(x []*Tensor, _ Device) *Tensor {
				f := func(t *Tensor) *Tensor { return t.ToDType(x[0].DType()) }
				return Cat([]*Tensor{f(x[0].Eq(x[1])), f(x[0].Lt(x[1])), f(x[0].Ge(x[1])), f(x[0].GtScalar(0.1)),
					f(x[0].Gt(x[1]).LogicalAnd(x[0].GtScalar(0))), f(x[0].IsFinite())}, 0)
			}, bound: exact, what: "exact"},
	}
}

// compareBound checks |got - ref| <= bound elementwise and returns the worst ratio and
// difference. got and ref are float64 CPU tensors of one shape.
func compareBound(t *testing.T, what string, got, ref, bound *Tensor) (ratio, maxDiff float64) {
	t.Helper()
	if fmt.Sprint(got.Shape()) != fmt.Sprint(ref.Shape()) {
		t.Fatalf("%s: shape %v, reference %v", what, got.Shape(), ref.Shape())
	}
	d := got.Sub(ref).Abs()
	b := bound.Expand(ref.Shape()...).Contiguous()
	dv, _ := d.Float64s()
	bv, _ := b.Float64s()
	gv, _ := got.Float64s()
	rv, _ := ref.Float64s()
	worst := -1
	for i := range dv {
		maxDiff = math.Max(maxDiff, dv[i])
		r := 0.0
		switch {
		case dv[i] == 0:
		case bv[i] > 0:
			r = dv[i] / bv[i]
		default:
			r = math.Inf(1)
		}
		if math.IsNaN(dv[i]) {
			r = math.Inf(1)
		}
		if r > ratio {
			ratio = r
			if r > 1 {
				worst = i
			}
		}
	}
	if worst >= 0 {
		t.Errorf("%s: element %d = %.9g, reference %.9g: |diff| %.3g exceeds the bound %.3g (%d elements)",
			what, worst, gv[worst], rv[worst], dv[worst], bv[worst], len(dv))
	}
	return ratio, maxDiff
}

// TestCUDAOpParity: every operation family dmlrun's models, losses and metrics use, in
// float32 on the device, against float64 on the CPU with the bound of each case.
func TestCUDAOpParity(t *testing.T) {
	forDevices(t, func(t *testing.T, dev Device) {
		r := rand.New(rand.NewPCG(15, 1))
		for _, c := range opCases() {
			var ref64, in32 []*Tensor
			for _, spec := range c.in {
				n := int64(1)
				for _, s := range spec.shape {
					n *= s
				}
				x, err := FromFloat64(randVals(r, spec.kind, int(n)), spec.shape...)
				if err != nil {
					t.Fatal(err)
				}
				ref64 = append(ref64, x)
				in32 = append(in32, x.ToDType(Float32).To(dev))
			}
			err := WithScope(func() error {
				ref := c.fn(ref64, CPUDevice)
				got := c.fn(in32, dev)
				if got.Device() != dev {
					t.Errorf("%s: result on %v, want %v", c.name, got.Device(), dev)
				}
				if got.DType() != Float32 && got.DType() != Int64 && got.DType() != Bool {
					t.Errorf("%s: result dtype %v", c.name, got.DType())
				}
				ratio, diff := compareBound(t, c.name, got.To(CPUDevice).ToDType(Float64), ref.ToDType(Float64), c.bound(ref64, ref, dev))
				logParity(t, parityRecord{Test: "torch op", Device: dev.String(), Quantity: c.name, MaxDiff: diff, Tolerance: c.what, Ratio: ratio})
				return nil
			})
			if err != nil {
				t.Errorf("%s on %s: %v", c.name, dev, err)
			}
		}
	})
}

// TestCUDAGradParity: the gradients of a small conv - batchnorm - relu - pool - linear -
// normalize network (the shape of dmlrun's models) with respect to input and weights, on
// the device in float32, against float64 on the CPU. Norm-wise relative bound per tensor:
// forward and backward pass through 2·depth layers, each adding 2·u_in (TF32 operand
// rounding on CUDA) + sqrt(k)·eps32 (a random walk of k rounding errors, Higham §2.8), and
// the final normalisation at most doubles it.
func TestCUDAGradParity(t *testing.T) {
	forDevices(t, func(t *testing.T, dev Device) {
		r := rand.New(rand.NewPCG(15, 2))
		mk := func(kind string, shape ...int64) *Tensor {
			n := int64(1)
			for _, s := range shape {
				n *= s
			}
			x, err := FromFloat64(randVals(r, kind, int(n)), shape...)
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
		vals := []*Tensor{mk("normal", 4, 3, 16, 16), mk("normal", 8, 3, 3, 3), mk("normal", 8), mk("normal", 8),
			mk("normal", 8), mk("pos", 8), mk("normal", 16, 8, 3, 3), mk("normal", 10, 16), mk("normal", 10), mk("normal", 4, 10)}
		names := []string{"x", "conv1.w", "bn.w", "bn.b", "bn.mean", "bn.var", "conv2.w", "fc.w", "fc.b"}
		trainable := []int{0, 1, 2, 3, 6, 7, 8}
		run := func(d Device, dt DType) []*Tensor {
			ts := make([]*Tensor, len(vals))
			for i, v := range vals {
				ts[i] = v.ToDType(dt).To(d)
			}
			var params []*Tensor
			for _, i := range trainable {
				params = append(params, ts[i].SetRequiresGrad(true))
			}
			p1 := [2]int64{1, 1}
			h := Conv2d(ts[0], ts[1], nil, [2]int64{2, 2}, p1, p1, 1)
			h = BatchNorm(h, ts[2], ts[3], ts[4], ts[5], false, 0.1, 1e-5).Relu()
			h = MaxPool2d(h, [2]int64{3, 3}, [2]int64{2, 2}, p1, false)
			h = Conv2d(h, ts[6], nil, p1, p1, p1, 1).Relu()
			h = AdaptiveAvgPool2d(h, [2]int64{1, 1}).Flatten(1, -1)
			z := Linear(h, ts[7], ts[8]).Normalize(2, -1, 1e-12)
			loss := z.Sub(ts[9].Normalize(2, -1, 1e-12)).Square().Sum()
			return append(Grad([]*Tensor{loss}, params, false), loss)
		}
		want := run(CPUDevice, Float64)
		got := run(dev, Float32)
		const depth, k = 2 * 5, 16 * 9
		bound := 2 * 2 * depth * (2*convRoundoff(dev) + math.Sqrt(k)*tol.Eps32)
		for j, i := range append(trainable, -1) {
			name := "loss"
			if i >= 0 {
				name = "grad " + names[i]
			}
			w := want[j]
			g := got[j].To(CPUDevice).ToDType(Float64)
			rel := g.Sub(w).Flatten(0, -1).Norm(2, 0, false).Item() / w.Flatten(0, -1).Norm(2, 0, false).Item()
			if !(rel <= bound) {
				t.Errorf("%s: relative difference %.3g exceeds %.3g", name, rel, bound)
			}
			logParity(t, parityRecord{Test: "torch grad", Device: dev.String(), Quantity: name, MaxDiff: rel,
				Tolerance: fmt.Sprintf("norm-wise relative 4·depth·(2·u_conv + sqrt(k)·eps32), depth %d, k %d: %.3g", depth, k, bound), Ratio: rel / bound})
		}
	})
}

// TestCUDAAutocast: under torch.autocast in bfloat16 (CPU and CUDA) and float16 (CUDA),
// matmul, linear and conv run in the low precision dtype and stay within its rounding
// bound: operands rounded to u_low (2^-8 bfloat16, 2^-11 float16) each, float32
// accumulation, result rounded once more.
func TestCUDAAutocast(t *testing.T) {
	forDevices(t, func(t *testing.T, dev Device) {
		if !dev.IsCUDA() {
			skipWithoutBF16Conv(t)
		}
		r := rand.New(rand.NewPCG(15, 3))
		mk := func(shape ...int64) *Tensor {
			n := int64(1)
			for _, s := range shape {
				n *= s
			}
			x, _ := FromFloat64(randVals(r, "normal", int(n)), shape...)
			return x
		}
		a, b, w, cx, cw := mk(20, 64), mk(64, 12), mk(12, 64), mk(2, 8, 9, 9), mk(6, 8, 3, 3)
		p1 := [2]int64{1, 1}
		ops := []struct {
			name string
			k    int
			fn   func(in []*Tensor) *Tensor
			in   []*Tensor
		}{
			{"mm", 64, func(x []*Tensor) *Tensor { return x[0].Mm(x[1]) }, []*Tensor{a, b}},
			{"linear", 64, func(x []*Tensor) *Tensor { return Linear(x[0], x[1], nil) }, []*Tensor{a, w}},
			{"conv2d", 72, func(x []*Tensor) *Tensor { return Conv2d(x[0], x[1], nil, p1, p1, p1, 1) }, []*Tensor{cx, cw}},
		}
		dts := []struct {
			dt DType
			u  float64
		}{{BFloat16, 0x1p-8}, {Float16, 0x1p-11}}
		for _, d := range dts {
			if d.dt == Float16 && !dev.IsCUDA() {
				continue // CPU autocast is bfloat16 only
			}
			for _, op := range ops {
				var ins, abs []*Tensor
				for _, x := range op.in {
					ins = append(ins, x.ToDType(Float32).To(dev))
					abs = append(abs, x.Abs())
				}
				var got *Tensor
				Autocast(dev, d.dt, func() { got = op.fn(ins) })
				if got.DType() != d.dt {
					t.Errorf("%s under %v autocast: result dtype %v", op.name, d.dt, got.DType())
				}
				want := op.fn(op.in)
				bound := op.fn(abs).MulScalar(2*d.u + 2*tol.Sum(tol.Eps32, op.k)).Add(want.Abs().MulScalar(d.u))
				what := fmt.Sprintf("autocast %v %s", d.dt, op.name)
				ratio, diff := compareBound(t, what, got.To(CPUDevice).ToDType(Float64), want, bound)
				logParity(t, parityRecord{Test: "torch autocast", Device: dev.String(), Quantity: what, MaxDiff: diff,
					Tolerance: fmt.Sprintf("(2·u + 2·Sum(eps32, %d))·(|a|∘|b|) + u·|ref|, u = %g", op.k, d.u), Ratio: ratio})
			}
		}
	})
}

// skipWithoutBF16Conv skips on a CPU whose oneDNN has no bfloat16 convolution (pre-AVX2).
func skipWithoutBF16Conv(t *testing.T) {
	t.Helper()
	err := WithScope(func() error {
		x := Ones([]int64{1, 3, 4, 4}, Float32, CPUDevice)
		w := Ones([]int64{2, 3, 3, 3}, Float32, CPUDevice)
		Autocast(CPUDevice, BFloat16, func() { Conv2d(x, w, nil, [2]int64{1, 1}, [2]int64{1, 1}, [2]int64{1, 1}, 1) })
		return nil
	})
	if err != nil {
		t.Skipf("this CPU cannot run a bfloat16 convolution in libtorch's oneDNN: %v", err)
	}
}

// TestCUDATransfers: every dtype goes to the device and back bit for bit, reading back
// (Float32s, Int64s, Bytes, Item) works on device tensors, and random draws on the device
// repeat after ManualSeed (CUDA's generator is seeded with the CPU's).
func TestCUDATransfers(t *testing.T) {
	forDevices(t, func(t *testing.T, dev Device) {
		raw := make([]byte, 48)
		for i := range raw {
			raw[i] = byte(i*37 + 11)
		}
		for _, dt := range []DType{Float32, Float64, Int64, Int32, Uint8, Bool, BFloat16, Float16} {
			n := int64(48 / dt.ElemSize())
			src := raw[:n*int64(dt.ElemSize())]
			if dt == Bool {
				src = make([]byte, n)
				for i := range src {
					src[i] = raw[i] & 1
				}
			}
			x, err := FromBytes(src, dt, n)
			if err != nil {
				t.Fatal(err)
			}
			y := x.To(dev)
			if y.Device() != dev || y.DType() != dt {
				t.Fatalf("%v to %v: %v %v", dt, dev, y.Device(), y.DType())
			}
			back, err := y.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if string(back) != string(src) {
				t.Errorf("%v: bytes changed on the way to %v and back", dt, dev)
			}
		}
		v := Arange(0, 6, 1, Float32, dev)
		if f, err := v.Float32s(); err != nil || fmt.Sprint(f) != "[0 1 2 3 4 5]" {
			t.Errorf("Float32s from %v: %v %v", dev, f, err)
		}
		if s := v.Sum().Item(); s != 15 {
			t.Errorf("Item from %v: %v", dev, s)
		}
		ManualSeed(42)
		a, _ := Randn([]int64{64}, Float32, dev).Float32s()
		ManualSeed(42)
		b, _ := Randn([]int64{64}, Float32, dev).Float32s()
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("Randn on %v does not repeat after ManualSeed", dev)
		}
		if !dev.IsCUDA() {
			return
		}
		err := Catch(func() error {
			Zeros([]int64{2}, Float32, CPUDevice).Add(Zeros([]int64{2}, Float32, dev))
			return nil
		})
		if err == nil {
			t.Error("adding a CPU and a CUDA tensor: want an error")
		} else {
			t.Logf("mixed-device add fails as it should: %v", err)
		}
	})
}

// TestCUDALeaks: a training-like loop (forward, backward, in-place update) inside scopes
// on the device leaves no live tensor behind.
func TestCUDALeaks(t *testing.T) {
	forDevices(t, func(t *testing.T, dev Device) {
		census := StartCensus()
		defer census.Stop()
		w := Randn([]int64{32, 16}, Float32, CPUDevice).To(dev).SetRequiresGrad(true).Unscope()
		defer w.Close()
		before := census.Live()
		for range 20 {
			err := WithScope(func() error {
				x := Randn([]int64{8, 16}, Float32, dev)
				l := Linear(x, w, nil).Relu().Square().Mean()
				l.Backward()
				g := w.Grad()
				NoGrad(func() { w.AddInPlace(g, -0.01) })
				w.ZeroGrad()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := census.Live() - before; n != 0 {
			t.Errorf("%d tensors left alive on %v after 20 scoped steps", n, dev)
		}
	})
}
