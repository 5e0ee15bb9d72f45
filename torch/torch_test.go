package torch

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestVersionAndThreads(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "1.") && !strings.HasPrefix(v, "2.") {
		t.Fatalf("Version() = %q", v)
	}
	want := defaultThreads(os.Getenv("OMP_NUM_THREADS"), runtime.NumCPU())
	if n := NumThreads(); n != want {
		t.Fatalf("NumThreads() at init = %d, want %d (OMP_NUM_THREADS=%q, %d CPUs)", n, want, os.Getenv("OMP_NUM_THREADS"), runtime.NumCPU())
	}
	SetNumThreads(1)
	if NumThreads() != 1 {
		t.Fatal("SetNumThreads(1) did not stick")
	}
	SetNumThreads(want)
	for _, c := range []struct {
		omp  string
		want int
	}{{"", 2}, {"1", 1}, {" 3 ", 3}, {"0", 2}, {"-1", 2}, {"x", 2}} {
		if got := defaultThreads(c.omp, 2); got != c.want {
			t.Errorf("defaultThreads(%q, 2) = %d, want %d", c.omp, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		fn   func()
		want string
	}{
		{"matmul", func() {
			Zeros([]int64{2, 3}, Float32, CPUDevice).Matmul(Zeros([]int64{4, 5}, Float32, CPUDevice))
		}, "torch: matmul [2 3] x [4 5]: "},
		{"add broadcast", func() {
			Zeros([]int64{2, 3}, Float32, CPUDevice).Add(Zeros([]int64{4}, Float32, CPUDevice))
		}, "torch: add [2 3] x [4]: "},
		{"view", func() { Zeros([]int64{2, 3}, Float32, CPUDevice).View(7) }, "torch: view [2 3]: "},
		{"closed tensor", func() {
			x := Zeros([]int64{2}, Float32, CPUDevice)
			x.Close()
			x.Exp()
		}, "torch: exp: use of closed tensor"},
		{"negative shape", func() { Zeros([]int64{-2}, Float32, CPUDevice) }, "torch: zeros [-2]: "},
		{"cross entropy float target", func() {
			CrossEntropy(Zeros([]int64{2, 3}, Float32, CPUDevice), Zeros([]int64{2, 3, 4}, Float32, CPUDevice))
		}, "torch: cross_entropy [2 3] x [2 3 4]: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			census := StartCensus()
			defer census.Stop()
			err := WithScope(func() error { c.fn(); return nil })
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("want *Error, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error = %q, want prefix %q", err, c.want)
			}
			if strings.Contains(err.Error(), "frame #") {
				t.Fatalf("error carries a C++ backtrace: %q", err)
			}
			if n := census.Live(); n != 0 {
				t.Fatalf("%d tensors still open after the failed op", n)
			}
		})
	}
}

func TestCatchRepanicsOthers(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
	}()
	_ = Catch(func() error { panic("boom") })
}

func TestFromSliceLengthMismatch(t *testing.T) {
	if _, err := FromFloat32([]float32{1, 2, 3}, 2, 2); err == nil || !strings.Contains(err.Error(), "3 values do not fill shape [2 2]") {
		t.Fatalf("err = %v", err)
	}
	if _, err := FromBytes([]byte{1, 2, 3}, Float32); err == nil {
		t.Fatal("3 bytes as float32: want error")
	}
}

func TestParseDevice(t *testing.T) {
	cuda := CUDAAvailable()
	cases := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"cpu", "cpu", ""},
		{"CPU", "cpu", ""},
		{"gpu", "", `bad device "gpu"`},
		{"cuda:x", "", `bad device "cuda:x"`},
		{"cuda:-1", "", `bad device "cuda:-1"`},
		{"", "", `bad device ""`},
	}
	if cuda {
		cases = append(cases, struct{ in, want, wantErr string }{"auto", "cuda:0", ""},
			struct{ in, want, wantErr string }{"cuda:99", "", "only"})
	} else {
		cases = append(cases, struct{ in, want, wantErr string }{"auto", "cpu", ""},
			struct{ in, want, wantErr string }{"cuda", "", "CUDA is not available"},
			struct{ in, want, wantErr string }{"cuda:1", "", "CUDA is not available"})
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			d, err := ParseDevice(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseDevice(%q) = %v, %v; want error containing %q", c.in, d, err, c.wantErr)
				}
				return
			}
			if err != nil || d.String() != c.want {
				t.Fatalf("ParseDevice(%q) = %v, %v; want %s", c.in, d, err, c.want)
			}
		})
	}
}

func TestCUDA(t *testing.T) {
	if !CUDAAvailable() {
		t.Skipf("no CUDA device visible to libtorch %s", Version())
	}
	s := NewScope()
	defer s.Close()
	dev := Device{Kind: CUDA}
	a := Randn([]int64{64, 32}, Float32, dev)
	b := a.Matmul(a.T()).To(CPUDevice)
	c := a.To(CPUDevice)
	want := c.Matmul(c.T())
	d := b.Sub(want).Abs().Max().Item()
	if d > 1e-3 {
		t.Fatalf("cuda matmul differs from cpu by %v", d)
	}
	if a.Device() != dev {
		t.Fatalf("device %v", a.Device())
	}
}

func TestReadBackAndDTypes(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x, _ := FromInt64([]int64{1, -2, 3, 4, 5, 6}, 2, 3)
	if x.DType() != Int64 || x.Dim() != 2 || x.Size(-1) != 3 || x.Numel() != 6 {
		t.Fatalf("meta: %v", x)
	}
	f, _ := x.Float32s()
	if f[1] != -2 {
		t.Fatalf("Float32s %v", f)
	}
	for _, dt := range []DType{Float32, Float64, Int64, Int32, Uint8, Bool, BFloat16, Float16} {
		y := x.Abs().ToDType(dt)
		if y.DType() != dt {
			t.Fatalf("ToDType(%v) gave %v", dt, y.DType())
		}
		b, err := y.Bytes()
		if err != nil || len(b) != 6*dt.ElemSize() {
			t.Fatalf("%v bytes: %d, %v", dt, len(b), err)
		}
		z, err := FromBytes(b, dt, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !z.Eq(y).AllFinite() || z.Eq(y).LogicalNot().Any().Item() != 0 {
			t.Fatalf("%v bytes round trip differs", dt)
		}
	}
	if v := Scalar(2.5, Float64).Item(); v != 2.5 {
		t.Fatalf("Scalar item %v", v)
	}
	if s := Eye(3, Float32, CPUDevice).Sum().Item(); s != 3 {
		t.Fatalf("eye sum %v", s)
	}
	if a, _ := Arange(0, 5, 1, Int64, CPUDevice).Int64s(); fmt.Sprint(a) != "[0 1 2 3 4]" {
		t.Fatalf("arange %v", a)
	}
	p, _ := Randperm(10, CPUDevice).Sort(0, false)
	if pv, _ := p.Int64s(); fmt.Sprint(pv) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Fatalf("sorted randperm %v", pv)
	}
	ri := Randint(3, 7, []int64{100}, CPUDevice)
	if ri.Min().Item() < 3 || ri.Max().Item() > 6 {
		t.Fatal("randint out of range")
	}
	bs, _ := x.GtScalar(2).Bools()
	if fmt.Sprint(bs) != "[false false true true true true]" {
		t.Fatalf("bools %v", bs)
	}
	if x.String() != "Tensor[2 3] int64 cpu" {
		t.Fatalf("String %q", x.String())
	}
}

func TestManualSeedRepeats(t *testing.T) {
	s := NewScope()
	defer s.Close()
	ManualSeed(42)
	a, _ := Randn([]int64{5}, Float32, CPUDevice).Float32s()
	ManualSeed(42)
	b, _ := Randn([]int64{5}, Float32, CPUDevice).Float32s()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different draws: %v vs %v", a, b)
	}
}

func TestScopes(t *testing.T) {
	census := StartCensus()
	defer census.Stop()
	outer := NewScope()
	var kept, keptOut *Tensor
	func() {
		inner := NewScope()
		defer inner.Close()
		a := Ones([]int64{3}, Float32, CPUDevice)
		kept = a.MulScalar(2)
		keptOut = a.AddScalar(1)
		_ = a.Exp()
		inner.Keep(kept, keptOut)
		if census.Live() != 4 {
			t.Fatalf("live %d, want 4", census.Live())
		}
	}()
	if census.Live() != 2 || kept.Closed() || keptOut.Closed() {
		t.Fatalf("after inner close: live %d (want 2), kept closed %v", census.Live(), kept.Closed())
	}
	if v := kept.Sum().Item(); v != 6 {
		t.Fatalf("kept value %v", v)
	}
	outer.Keep(keptOut) // no enclosing scope: becomes unscoped
	outer.Close()
	outer.Close() // idempotent
	if !kept.Closed() || keptOut.Closed() {
		t.Fatalf("outer close: kept closed %v, keptOut closed %v", kept.Closed(), keptOut.Closed())
	}
	keptOut.Close()
	keptOut.Close() // idempotent
	if census.Live() != 0 {
		t.Fatalf("live %d, want 0", census.Live())
	}
}

func TestScopeClosedOutOfOrder(t *testing.T) {
	census := StartCensus()
	defer census.Stop()
	a := NewScope()
	b := NewScope()
	a.Close() // closing the outer first must not break the stack
	x := Ones([]int64{2}, Float32, CPUDevice)
	b.Close()
	if !x.Closed() || census.Live() != 0 || topScope != nil {
		t.Fatalf("x closed %v, live %d (want 0), top %v", x.Closed(), census.Live(), topScope)
	}
}

// TestLeakSafetyNet: a tensor nobody closes is freed by its runtime cleanup and counted as
// leaked. The test runs the cleanup's function itself, as the garbage collector would,
// instead of waiting for a collection whose timing no test can rely on.
func TestLeakSafetyNet(t *testing.T) {
	census := StartCensus()
	defer census.Stop()
	leaked := LeakedTensors()
	x := Ones([]int64{4}, Float32, CPUDevice) // unscoped, never closed
	if census.Live() != 1 {
		t.Fatalf("live %d after making one tensor", census.Live())
	}
	// What the GC does once x is unreachable: the registered cleanup runs with x's record.
	x.cleanup.Stop()
	rec := leakRecord{x.h, x.serial}
	x.h = nil // x is gone for its owner; only the record is left
	freeLeaked(rec)
	if census.Live() != 0 || census.Leaked() != 1 || LeakedTensors() != leaked+1 {
		t.Fatalf("after the safety net: live %d (want 0), leaked %d (want 1), process leaked %d (want %d)",
			census.Live(), census.Leaked(), LeakedTensors(), leaked+1)
	}
}

// TestCensusCountsOnlyItsOwn: tensors made before a census starts do not move its counts
// when they are closed, so a leak test is blind to what earlier tests left to the GC.
func TestCensusCountsOnlyItsOwn(t *testing.T) {
	old := Ones([]int64{2}, Float32, CPUDevice)
	census := StartCensus()
	defer census.Stop()
	inner := StartCensus()
	y := Ones([]int64{2}, Float32, CPUDevice)
	old.Close()
	if census.Live() != 1 || inner.Live() != 1 {
		t.Fatalf("live %d and %d, want 1 and 1 (only y)", census.Live(), inner.Live())
	}
	inner.Stop()
	y.Close()
	if census.Live() != 0 || inner.Live() != 1 {
		t.Fatalf("after y.Close: live %d (want 0), stopped census %d (want 1: it stopped counting)", census.Live(), inner.Live())
	}
}

func TestNoGrad(t *testing.T) {
	s := NewScope()
	defer s.Close()
	w := Ones([]int64{2}, Float32, CPUDevice).SetRequiresGrad(true)
	var y *Tensor
	NoGrad(func() { y = w.MulScalar(3) })
	if y.RequiresGrad() {
		t.Fatal("result made under NoGrad requires grad")
	}
	if !w.MulScalar(3).RequiresGrad() {
		t.Fatal("grad mode not restored after NoGrad")
	}
	if w.Grad() != nil {
		t.Fatal("grad defined before backward")
	}
	w.MulScalar(3).Sum().Backward()
	if g, _ := w.Grad().Float32s(); g[0] != 3 {
		t.Fatalf("grad %v", g)
	}
	w.ZeroGrad()
	if w.Grad() != nil {
		t.Fatal("ZeroGrad left a grad")
	}
	w.AddInPlace(Ones([]int64{2}, Float32, CPUDevice), 0.5) // in-place on a leaf: allowed (no grad)
	if v, _ := w.Float32s(); v[0] != 1.5 {
		t.Fatalf("AddInPlace gave %v", v)
	}
}

// TestFiniteDifferenceGrads checks autograd of composite functions in float64 against
// central differences computed with forward passes only.
func TestFiniteDifferenceGrads(t *testing.T) {
	funcs := map[string]func(x *Tensor) *Tensor{
		"normalize_logsumexp": func(x *Tensor) *Tensor {
			n := x.Normalize(2, 1, 1e-12)
			sim := n.Matmul(n.T()).MulScalar(4)
			return sim.LogSumExp(1, false).Mean()
		},
		"softplus_sigmoid_tanh": func(x *Tensor) *Tensor {
			return x.Softplus().Mul(x.Sigmoid()).Add(x.Tanh().Square()).Sum()
		},
		"acos_clamped_cos_sim": func(x *Tensor) *Tensor {
			n := x.Normalize(2, 1, 1e-12)
			c := n.Narrow(0, 0, 2).Mul(n.Narrow(0, 1, 2)).SumDim([]int64{1}, false)
			return c.Clamp(-0.99, 0.99).Acos().Sum()
		},
		"log_softmax_gather_where": func(x *Tensor) *Tensor {
			idx, _ := FromInt64([]int64{0, 2, 1}, 3, 1)
			ls := x.LogSoftmax(1).Gather(1, idx)
			return Where(ls.GtScalar(-1.5), ls, ls.MulScalar(2)).Sum().Neg()
		},
		"div_pow_exp_log1p": func(x *Tensor) *Tensor {
			p := x.Square().AddScalar(0.5)
			return p.Div(p.Sum()).PowScalar(1.5).Add(x.Exp().Log1p()).Mean()
		},
	}
	data := []float64{0.3, -1.2, 0.8, 0.5, 1.1, -0.4, -0.7, 0.2, 0.9, 0.6, -0.3, 1.4}
	for name, f := range funcs {
		t.Run(name, func(t *testing.T) {
			err := WithScope(func() error {
				x, _ := FromFloat64(data, 3, 4)
				x.SetRequiresGrad(true)
				f(x).Backward()
				g, _ := x.Grad().Float64s()
				const h = 1e-6
				for i := range data {
					plus := append([]float64(nil), data...)
					minus := append([]float64(nil), data...)
					plus[i] += h
					minus[i] -= h
					xp, _ := FromFloat64(plus, 3, 4)
					xm, _ := FromFloat64(minus, 3, 4)
					num := (f(xp).Item() - f(xm).Item()) / (2 * h)
					if math.Abs(num-g[i]) > 1e-6+1e-5*math.Abs(num) {
						t.Errorf("d/dx[%d]: autograd %.10g, finite difference %.10g", i, g[i], num)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestMemoryFlatOverTraining trains a small MLP for 10,000 steps with a scope per step:
// resident memory must grow by less than 20 MB and every step's tensors must be freed.
func TestMemoryFlatOverTraining(t *testing.T) {
	steps := 10000
	if testing.Short() {
		steps = 1000
	}
	ManualSeed(3)
	census := StartCensus()
	defer census.Stop()
	params := []*Tensor{
		Randn([]int64{64, 32}, Float32, CPUDevice).MulScalar(0.1),
		Zeros([]int64{64}, Float32, CPUDevice),
		Randn([]int64{10, 64}, Float32, CPUDevice).MulScalar(0.1),
		Zeros([]int64{10}, Float32, CPUDevice),
	}
	for _, p := range params {
		p.SetRequiresGrad(true)
	}
	x := Randn([]int64{128, 32}, Float32, CPUDevice)
	y := Randint(0, 10, []int64{128}, CPUDevice)
	step := func() error {
		for _, p := range params {
			p.ZeroGrad()
		}
		h := Linear(x, params[0], params[1]).Relu()
		loss := CrossEntropy(Linear(h, params[2], params[3]), y)
		loss.Backward()
		for _, p := range params {
			g := p.Grad()
			p.AddInPlace(g, -0.05)
		}
		return nil
	}
	var rss0 int64
	var firstLoss float64
	for i := range steps {
		if i == 200 { // after allocator warm-up
			runtime.GC()
			rss0 = rssBytes(t)
		}
		if err := WithScope(step); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			firstLoss = evalLoss(params, x, y)
		}
	}
	runtime.GC()
	growth := rssBytes(t) - rss0
	lastLoss := evalLoss(params, x, y)
	for _, p := range params {
		p.Close()
	}
	x.Close()
	y.Close()
	t.Logf("%d steps: rss growth %.1f MB, loss %.3f -> %.3f", steps, float64(growth)/1e6, firstLoss, lastLoss)
	if growth >= 20<<20 {
		t.Errorf("resident memory grew by %.1f MB over %d steps", float64(growth)/1e6, steps)
	}
	if n := census.Live(); n != 0 {
		t.Errorf("%d tensors still open", n)
	}
	if !(lastLoss < firstLoss) {
		t.Errorf("training did not reduce the loss: %v -> %v", firstLoss, lastLoss)
	}
}

func evalLoss(params []*Tensor, x, y *Tensor) float64 {
	var v float64
	_ = WithScope(func() error {
		NoGrad(func() {
			h := Linear(x, params[0], params[1]).Relu()
			v = CrossEntropy(Linear(h, params[2], params[3]), y).Item()
		})
		return nil
	})
	return v
}

func TestAutocastCPU(t *testing.T) {
	s := NewScope()
	defer s.Close()
	a := Ones([]int64{4, 4}, Float32, CPUDevice)
	var inside, outside *Tensor
	Autocast(CPUDevice, BFloat16, func() {
		inside = a.Matmul(a)
		Autocast(CPUDevice, BFloat16, func() {}) // nesting: leaving the inner keeps the outer on
		if d := a.Matmul(a).DType(); d != BFloat16 {
			t.Errorf("matmul after nested autocast: %v, want bfloat16", d)
		}
	})
	outside = a.Matmul(a)
	if inside.DType() != BFloat16 || outside.DType() != Float32 {
		t.Fatalf("matmul dtype inside autocast %v (want bfloat16), after %v (want float32)", inside.DType(), outside.DType())
	}
	if a.Exp().DType() != Float32 {
		t.Fatal("exp changed dtype")
	}
}

func TestAutogradGrad(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x, _ := FromFloat64([]float64{1, 2, 3})
	x.SetRequiresGrad(true)
	unused, _ := FromFloat64([]float64{5})
	unused.SetRequiresGrad(true)
	y := x.PowScalar(3).Sum() // dy/dx = 3x², d²y/dx² = 6x
	g := Grad([]*Tensor{y}, []*Tensor{x, unused}, true)
	if g[1] != nil {
		t.Fatal("gradient for an unused input should be nil")
	}
	if v, _ := g[0].Float64s(); fmt.Sprint(v) != "[3 12 27]" {
		t.Fatalf("first derivative %v", v)
	}
	if x.Grad() != nil {
		t.Fatal("Grad must not accumulate into .grad")
	}
	h := Grad([]*Tensor{g[0].Sum()}, []*Tensor{x}, false)
	if v, _ := h[0].Float64s(); fmt.Sprint(v) != "[6 12 18]" {
		t.Fatalf("second derivative %v", v)
	}
	err := WithScope(func() error {
		Grad([]*Tensor{x.MulScalar(2)}, []*Tensor{x}, false) // non-scalar output
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "torch: autograd_grad [3] x [3]: ") {
		t.Fatalf("non-scalar output: %v", err)
	}
}
