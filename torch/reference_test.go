package torch

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
)

// refTensor is a tensor in testdata/reference.json (values as float64).
type refTensor struct {
	Shape []int64   `json:"shape"`
	DType string    `json:"dtype"`
	Data  []float64 `json:"data"`
}

type refCase struct {
	Name   string      `json:"name"`
	Inputs []refTensor `json:"inputs"`
	Output refTensor   `json:"output"`
	Extra  []refTensor `json:"extra"`
}

type refFile struct {
	TorchVersion string    `json:"torch_version"`
	Cases        []refCase `json:"cases"`
	Grads        struct {
		Inputs []refTensor `json:"inputs"`
		Loss   float64     `json:"loss"`
		Grads  []refTensor `json:"grads"`
	} `json:"grads"`
}

var (
	refOnce sync.Once
	ref     refFile
	refErr  error
)

func loadReference(t *testing.T) *refFile {
	t.Helper()
	refOnce.Do(func() {
		b, err := os.ReadFile("testdata/reference.json")
		if err != nil {
			refErr = err
			return
		}
		refErr = json.Unmarshal(b, &ref)
	})
	if refErr != nil {
		t.Fatalf("reading reference values: %v", refErr)
	}
	return &ref
}

// tensorOf builds a tensor from a reference entry (in the current scope).
func tensorOf(t *testing.T, r refTensor) *Tensor {
	t.Helper()
	x, err := FromFloat64(r.Data, r.Shape...)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Shape) == 0 {
		x = x.Reshape()
	}
	dt, err := ParseDType(r.DType)
	if err != nil {
		t.Fatal(err)
	}
	return x.ToDType(dt)
}

// assertClose compares got with the reference: same shape and dtype, values within
// atol + rtol*|want| (exact for integer and bool results).
func assertClose(t *testing.T, what string, got *Tensor, want refTensor, atol, rtol float64) {
	t.Helper()
	if gs := got.Shape(); fmt.Sprint(gs) != fmt.Sprint(want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, gs, want.Shape)
	}
	if gd := got.DType().String(); gd != want.DType {
		t.Fatalf("%s: dtype %s, want %s", what, gd, want.DType)
	}
	vals, err := got.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	exact := want.DType == "int64" || want.DType == "bool"
	for i, w := range want.Data {
		g := vals[i]
		if exact {
			if g != w {
				t.Fatalf("%s[%d] = %v, want %v", what, i, g, w)
			}
			continue
		}
		if math.Abs(g-w) > atol+rtol*math.Abs(w) || math.IsNaN(g) != math.IsNaN(w) {
			t.Fatalf("%s[%d] = %.9g, want %.9g", what, i, g, w)
		}
	}
}

var (
	s3 = [2]int64{3, 3}
	s2 = [2]int64{2, 2}
	s1 = [2]int64{1, 1}
	s0 = [2]int64{0, 0}
)

// refOps maps each case name of gen_reference.py to the same computation in Go.
var refOps = map[string]func(in []*Tensor) *Tensor{
	"exp":      func(in []*Tensor) *Tensor { return in[0].Exp() },
	"neg":      func(in []*Tensor) *Tensor { return in[0].Neg() },
	"abs":      func(in []*Tensor) *Tensor { return in[0].Abs() },
	"atan":     func(in []*Tensor) *Tensor { return in[0].Atan() },
	"tanh":     func(in []*Tensor) *Tensor { return in[0].Tanh() },
	"sigmoid":  func(in []*Tensor) *Tensor { return in[0].Sigmoid() },
	"relu":     func(in []*Tensor) *Tensor { return in[0].Relu() },
	"softplus": func(in []*Tensor) *Tensor { return in[0].Softplus() },
	"cos":      func(in []*Tensor) *Tensor { return in[0].Cos() },
	"sin":      func(in []*Tensor) *Tensor { return in[0].Sin() },
	"square":   func(in []*Tensor) *Tensor { return in[0].Square() },
	"log":      func(in []*Tensor) *Tensor { return in[0].Log() },
	"log1p":    func(in []*Tensor) *Tensor { return in[0].Log1p() },
	"sqrt":     func(in []*Tensor) *Tensor { return in[0].Sqrt() },
	"acos":     func(in []*Tensor) *Tensor { return in[0].Acos() },

	"add":            func(in []*Tensor) *Tensor { return in[0].Add(in[1]) },
	"add_broadcast":  func(in []*Tensor) *Tensor { return in[0].Add(in[1]) },
	"sub":            func(in []*Tensor) *Tensor { return in[0].Sub(in[1]) },
	"sub_broadcast":  func(in []*Tensor) *Tensor { return in[0].Sub(in[1]) },
	"mul":            func(in []*Tensor) *Tensor { return in[0].Mul(in[1]) },
	"mul_broadcast":  func(in []*Tensor) *Tensor { return in[0].Mul(in[1]) },
	"div":            func(in []*Tensor) *Tensor { return in[0].Div(in[1]) },
	"div_broadcast":  func(in []*Tensor) *Tensor { return in[0].Div(in[1]) },
	"pow":            func(in []*Tensor) *Tensor { return in[0].Pow(in[1]) },
	"matmul":         func(in []*Tensor) *Tensor { return in[0].Matmul(in[1]) },
	"matmul_batched": func(in []*Tensor) *Tensor { return in[0].Matmul(in[1]) },
	"mm":             func(in []*Tensor) *Tensor { return in[0].Mm(in[1]) },
	"bmm":            func(in []*Tensor) *Tensor { return in[0].Bmm(in[1]) },

	"add_scalar":  func(in []*Tensor) *Tensor { return in[0].AddScalar(1.5) },
	"sub_scalar":  func(in []*Tensor) *Tensor { return in[0].SubScalar(1.5) },
	"mul_scalar":  func(in []*Tensor) *Tensor { return in[0].MulScalar(2.5) },
	"div_scalar":  func(in []*Tensor) *Tensor { return in[0].DivScalar(4) },
	"pow_scalar":  func(in []*Tensor) *Tensor { return in[0].PowScalar(3) },
	"rsub_scalar": func(in []*Tensor) *Tensor { return in[0].RSubScalar(2) },
	"clamp":       func(in []*Tensor) *Tensor { return in[0].Clamp(-0.5, 0.5) },
	"clamp_min":   func(in []*Tensor) *Tensor { return in[0].ClampMin(0.2) },
	"clamp_max":   func(in []*Tensor) *Tensor { return in[0].ClampMax(0.2) },

	"sum":             func(in []*Tensor) *Tensor { return in[0].Sum() },
	"mean":            func(in []*Tensor) *Tensor { return in[0].Mean() },
	"sum_dim":         func(in []*Tensor) *Tensor { return in[0].SumDim([]int64{1}, true) },
	"mean_dim":        func(in []*Tensor) *Tensor { return in[0].MeanDim([]int64{0, 2}, false) },
	"max":             func(in []*Tensor) *Tensor { return in[0].Max() },
	"min":             func(in []*Tensor) *Tensor { return in[0].Min() },
	"max_dim_values":  func(in []*Tensor) *Tensor { v, _ := in[0].MaxDim(1, false); return v },
	"max_dim_indices": func(in []*Tensor) *Tensor { _, i := in[0].MaxDim(1, false); return i },
	"min_dim_values":  func(in []*Tensor) *Tensor { v, _ := in[0].MinDim(0, true); return v },
	"argmax":          func(in []*Tensor) *Tensor { return in[0].Argmax(0, false) },
	"logsumexp":       func(in []*Tensor) *Tensor { return in[0].LogSumExp(1, false) },
	"softmax":         func(in []*Tensor) *Tensor { return in[0].Softmax(1) },
	"log_softmax":     func(in []*Tensor) *Tensor { return in[0].LogSoftmax(0) },
	"norm":            func(in []*Tensor) *Tensor { return in[0].Norm(2, 1, false) },
	"normalize":       func(in []*Tensor) *Tensor { return in[0].Normalize(2, 1, 1e-12) },
	"topk_values":     func(in []*Tensor) *Tensor { v, _ := in[0].TopK(2, 1, true, true); return v },
	"topk_indices":    func(in []*Tensor) *Tensor { _, i := in[0].TopK(2, 1, false, true); return i },
	"sort_values":     func(in []*Tensor) *Tensor { v, _ := in[0].Sort(1, true); return v },
	"sort_indices":    func(in []*Tensor) *Tensor { _, i := in[0].Sort(1, false); return i },

	"eq":          func(in []*Tensor) *Tensor { return in[0].Eq(in[1]) },
	"gt":          func(in []*Tensor) *Tensor { return in[0].Gt(in[1]) },
	"le_scalar":   func(in []*Tensor) *Tensor { return in[0].LeScalar(0.1) },
	"logical_and": func(in []*Tensor) *Tensor { return in[0].LogicalAnd(in[1]) },
	"logical_not": func(in []*Tensor) *Tensor { return in[0].LogicalNot() },

	"reshape":      func(in []*Tensor) *Tensor { return in[0].Reshape(2, 6) },
	"permute":      func(in []*Tensor) *Tensor { return in[0].Permute(2, 0, 1) },
	"transpose":    func(in []*Tensor) *Tensor { return in[0].Transpose(0, 2) },
	"t":            func(in []*Tensor) *Tensor { return in[0].T() },
	"narrow":       func(in []*Tensor) *Tensor { return in[0].Narrow(1, 1, 2) },
	"select":       func(in []*Tensor) *Tensor { return in[0].Select(1, 2) },
	"index_select": func(in []*Tensor) *Tensor { return in[0].IndexSelect(0, in[1]) },
	"index":        func(in []*Tensor) *Tensor { return in[0].Index(in[1]) },
	"index_mask":   func(in []*Tensor) *Tensor { return in[0].Index(in[1]) },
	"gather":       func(in []*Tensor) *Tensor { return in[0].Gather(1, in[1]) },
	"scatter": func(in []*Tensor) *Tensor {
		return in[0].Scatter(1, in[1].Narrow(1, 0, 1), in[2].Narrow(1, 0, 1))
	},
	"scatter_add": func(in []*Tensor) *Tensor { return in[0].ScatterAdd(1, in[1], in[2]) },
	"masked_fill": func(in []*Tensor) *Tensor { return in[0].MaskedFill(in[1], -7) },
	"expand":      func(in []*Tensor) *Tensor { return in[0].Expand(3, 4) },
	"unsqueeze":   func(in []*Tensor) *Tensor { return in[0].Unsqueeze(1) },
	"squeeze":     func(in []*Tensor) *Tensor { return in[0].Squeeze(1) },
	"flatten":     func(in []*Tensor) *Tensor { return in[0].Flatten(1, 2) },
	"cat":         func(in []*Tensor) *Tensor { return Cat(in, 1) },
	"stack":       func(in []*Tensor) *Tensor { return Stack(in, 0) },
	"where":       func(in []*Tensor) *Tensor { return Where(in[0], in[1], in[2]) },

	"linear":         func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) },
	"linear_nobias":  func(in []*Tensor) *Tensor { return Linear(in[0], in[1], nil) },
	"conv2d":         func(in []*Tensor) *Tensor { return Conv2d(in[0], in[1], in[2], s2, s1, s1, 1) },
	"conv2d_dilated": func(in []*Tensor) *Tensor { return Conv2d(in[0], in[1], nil, s1, s2, s2, 1) },
	"batch_norm_eval": func(in []*Tensor) *Tensor {
		rm := Full([]int64{3}, 0.1, Float32, CPUDevice)
		rv := Full([]int64{3}, 2, Float32, CPUDevice)
		return BatchNorm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-5)
	},
	"max_pool2d":          func(in []*Tensor) *Tensor { return MaxPool2d(in[0], s3, s2, s1, false) },
	"max_pool2d_ceil":     func(in []*Tensor) *Tensor { return MaxPool2d(in[0], s2, s2, s0, true) },
	"avg_pool2d":          func(in []*Tensor) *Tensor { return AvgPool2d(in[0], s3, s2, s1, false) },
	"adaptive_avg_pool2d": func(in []*Tensor) *Tensor { return AdaptiveAvgPool2d(in[0], [2]int64{2, 3}) },
	"adaptive_max_pool2d": func(in []*Tensor) *Tensor { return AdaptiveMaxPool2d(in[0], s1) },
	"cross_entropy":       func(in []*Tensor) *Tensor { return CrossEntropy(in[0], in[1]) },
	"interpolate": func(in []*Tensor) *Tensor {
		return InterpolateBilinear(in[0], [2]int64{5, 6}, false, false)
	},
	"interpolate_align": func(in []*Tensor) *Tensor {
		return InterpolateBilinear(in[0], [2]int64{13, 4}, true, false)
	},
	"interpolate_antialias": func(in []*Tensor) *Tensor {
		return InterpolateBilinear(in[0], [2]int64{4, 5}, false, true)
	},
}

// TestReferenceOps checks every op family against PyTorch's own results
// (testdata/reference.json from testdata/gen_reference.py).
func TestReferenceOps(t *testing.T) {
	r := loadReference(t)
	seen := map[string]bool{}
	for _, c := range r.Cases {
		if c.Name == "batch_norm_train" {
			continue // checked in TestBatchNormTrainUpdatesRunningStats
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			fn, ok := refOps[c.Name]
			if !ok {
				t.Fatalf("no Go counterpart for reference case %q", c.Name)
			}
			err := WithScope(func() error {
				var in []*Tensor
				for _, x := range c.Inputs {
					in = append(in, tensorOf(t, x))
				}
				// The longest reduction among the cases is a 3x3 convolution over 3
				// channels of unit-scale values: 2*tol.Sum(Eps32, 27) times the terms'
				// magnitudes (about 20) is 6e-6; regenerating the file on an AMD EPYC
				// moved conv2d by at most 8e-7 against the machine that made it.
				assertClose(t, c.Name, fn(in), c.Output, 1e-5, 1e-5)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	for name := range refOps {
		if !seen[name] {
			t.Errorf("Go case %q has no reference value", name)
		}
	}
}

func TestBatchNormTrainUpdatesRunningStats(t *testing.T) {
	r := loadReference(t)
	for _, c := range r.Cases {
		if c.Name != "batch_norm_train" {
			continue
		}
		err := WithScope(func() error {
			x, w, b := tensorOf(t, c.Inputs[0]), tensorOf(t, c.Inputs[1]), tensorOf(t, c.Inputs[2])
			rm := Zeros([]int64{3}, Float32, CPUDevice)
			rv := Ones([]int64{3}, Float32, CPUDevice)
			assertClose(t, "batch_norm_train", BatchNorm(x, w, b, rm, rv, true, 0.1, 1e-5), c.Output, 1e-5, 1e-5)
			assertClose(t, "running_mean", rm, c.Extra[0], 1e-6, 1e-5)
			assertClose(t, "running_var", rv, c.Extra[1], 1e-6, 1e-5)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("reference has no batch_norm_train case")
}

// TestReferenceGrads compares autograd through conv, relu, pooling, linear and cross
// entropy with PyTorch's gradients.
func TestReferenceGrads(t *testing.T) {
	r := loadReference(t)
	g := r.Grads
	err := WithScope(func() error {
		x := tensorOf(t, g.Inputs[0]).SetRequiresGrad(true)
		w := tensorOf(t, g.Inputs[1]).SetRequiresGrad(true)
		l := tensorOf(t, g.Inputs[2]).SetRequiresGrad(true)
		target, _ := FromInt64([]int64{1, 3})
		h := AdaptiveAvgPool2d(Conv2d(x, w, nil, s2, s1, s1, 1).Relu(), s2).Flatten(1, -1)
		loss := CrossEntropy(Linear(h, l, nil), target)
		if got := loss.Item(); math.Abs(got-g.Loss) > 1e-5 {
			t.Errorf("loss %v, want %v", got, g.Loss)
		}
		loss.Backward()
		for i, p := range []*Tensor{x, w, l} {
			assertClose(t, fmt.Sprintf("grad %d", i), p.Grad(), g.Grads[i], 1e-6, 1e-4)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
