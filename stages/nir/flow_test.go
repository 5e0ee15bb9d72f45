package nir

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/stage"
	"dmlrun/torch"
)

func smallConfig(d, c int, mode string) Config {
	cfg := DefaultConfig(d, c)
	cfg.Blocks, cfg.Depth, cfg.Width, cfg.CondMode = 3, 3, 16, mode
	return cfg
}

func randTensor(t *testing.T, r *rand.Rand, dt torch.DType, shape ...int64) *torch.Tensor {
	t.Helper()
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	ts, err := torch.FromFloat64(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return ts.ToDType(dt)
}

func labelTensor(t *testing.T, labels ...int64) *torch.Tensor {
	t.Helper()
	ts, err := torch.FromInt64(labels, int64(len(labels)))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// perturbFlow gives every parameter a random offset so the flow is far from identity and the
// subnets' ReLUs are exercised (default init is already random; this widens the scales).
func perturbFlow(t *testing.T, c *Criterion, r *rand.Rand, scale float64) {
	t.Helper()
	names, ts := c.Named()
	vals := map[string]*torch.Tensor{}
	for i, n := range names {
		vals[n] = ts[i].Detach().Add(randTensor(t, r, ts[i].DType(), ts[i].Shape()...).MulScalar(scale))
	}
	if err := c.LoadNamed(vals); err != nil {
		t.Fatal(err)
	}
}

func TestReverseInvertsForward(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, mode := range CondModes {
		for _, d := range []int{8, 7} {
			t.Run(mode+"/D"+itoa(d), func(t *testing.T) {
				s := torch.NewScope()
				defer s.Close()
				torch.ManualSeed(1)
				c, err := New(smallConfig(d, 4, mode))
				if err != nil {
					t.Fatal(err)
				}
				perturbFlow(t, c, r, 0.2)
				x := randTensor(t, r, torch.Float32, 6, int64(d)).Normalize(2, -1, 1e-12)
				conds := c.Conditions(labelTensor(t, 0, 1, 2, 3, 1, 0))
				var back, ldF, ldR *torch.Tensor
				torch.NoGrad(func() {
					var z *torch.Tensor
					z, ldF = c.Flow().Forward(x, conds)
					back, ldR = c.Flow().Reverse(z, conds)
				})
				compareAbs(t, "reverse(forward(x))", values(t, back), values(t, x), 1e-5)
				compareAbs(t, "reverse logdet", values(t, ldR), values(t, ldF.Neg()), 1e-5)
			})
		}
	}
}

func TestReverseInvertsForwardDefaultSize(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(0)
	c, err := New(DefaultConfig(128, 10))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(t, r, torch.Float32, 16, 128).Normalize(2, -1, 1e-12)
	conds := c.Conditions(labelTensor(t, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5))
	var back *torch.Tensor
	torch.NoGrad(func() {
		z, _ := c.Flow().Forward(x, conds)
		back, _ = c.Flow().Reverse(z, conds)
	})
	compareAbs(t, "reverse(forward(x)) D=128", values(t, back), values(t, x), 1e-5)
}

func compareAbs(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol || math.IsNaN(got[i]) {
			t.Fatalf("%s: element %d = %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestLogDetMatchesJacobian builds the Jacobian dz/dx of the float64 flow row by row with
// backward and checks log|det J| (LU in Go) against the flow's log-det.
func TestLogDetMatchesJacobian(t *testing.T) {
	for _, tc := range []struct {
		d    int
		mode string
	}{{8, CondDense}, {8, CondStart}, {8, CondDenseEmbedMultiStacked}, {7, CondEnd}} {
		t.Run(tc.mode+"/D"+itoa(tc.d), func(t *testing.T) {
			s := torch.NewScope()
			defer s.Close()
			torch.ManualSeed(2)
			c, err := New(smallConfig(tc.d, 3, tc.mode))
			if err != nil {
				t.Fatal(err)
			}
			c.place(torch.CPUDevice, torch.Float64)
			r := rand.New(rand.NewPCG(5, 6))
			perturbFlow(t, c, r, 0.3)
			const b = 3
			d := tc.d
			x := randTensor(t, r, torch.Float64, b, int64(d)).SetRequiresGrad(true)
			var conds []*torch.Tensor
			torch.NoGrad(func() { conds = c.Conditions(labelTensor(t, 0, 1, 2)) })
			jac := make([][]float64, b) // jac[s][row*d+col] = dz_row/dx_col for sample s
			for i := range jac {
				jac[i] = make([]float64, d*d)
			}
			var logdet []float64
			for row := 0; row < d; row++ {
				x.ZeroGrad()
				z, ld := c.Flow().Forward(x, conds)
				if row == 0 {
					logdet = values(t, ld)
				}
				z.Narrow(1, int64(row), 1).Sum().Backward()
				g := values(t, x.Grad())
				for smp := 0; smp < b; smp++ {
					copy(jac[smp][row*d:(row+1)*d], g[smp*d:(smp+1)*d])
				}
			}
			for smp := 0; smp < b; smp++ {
				want := logAbsDet(jac[smp], d)
				if math.Abs(want-logdet[smp]) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("sample %d: flow logdet %.12g, log|det J| %.12g", smp, logdet[smp], want)
				}
				if math.Abs(want) < 0.05 {
					t.Errorf("sample %d: log|det J| = %g is too close to 0 for the test to mean much", smp, want)
				}
			}
		})
	}
}

// TestGradientsFiniteDifferences checks autograd gradients of the complete float64 loss with
// respect to proxies, every flow parameter tensor and the cond-prep MLPs against central
// differences, at a few random elements per tensor.
func TestGradientsFiniteDifferences(t *testing.T) {
	for _, mode := range []string{CondDense, CondDenseEmbedMultiStacked, CondMid} {
		t.Run(mode, func(t *testing.T) {
			s := torch.NewScope()
			defer s.Close()
			torch.ManualSeed(3)
			cfg := smallConfig(6, 4, mode)
			cfg.Depth, cfg.Width = 3, 8
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.place(torch.CPUDevice, torch.Float64)
			r := rand.New(rand.NewPCG(11, 12))
			perturbFlow(t, c, r, 0.2)
			emb := randTensor(t, r, torch.Float64, 5, 6).Normalize(2, -1, 1e-12)
			labels := labelTensor(t, 0, 1, 1, 3, 0)

			lossAt := func() float64 {
				var v float64
				torch.NoGrad(func() {
					l, _ := c.Loss(emb, labels)
					v = l.Item()
				})
				return v
			}
			loss, _ := c.Loss(emb, labels)
			loss.Backward()
			names, ts := c.Named()
			checked := 0
			for i, p := range ts {
				grad := values(t, p.Grad())
				vals := values(t, p)
				for trial := 0; trial < 3; trial++ {
					j := r.IntN(len(vals))
					const h = 1e-6
					set := func(v float64) {
						w := append([]float64(nil), vals...)
						w[j] = v
						src, err := torch.FromFloat64(w, p.Shape()...)
						if err != nil {
							t.Fatal(err)
						}
						torch.NoGrad(func() { p.CopyFrom(src) })
					}
					set(vals[j] + h)
					up := lossAt()
					set(vals[j] - h)
					down := lossAt()
					set(vals[j])
					fd := (up - down) / (2 * h)
					if math.Abs(fd-grad[j]) > 1e-6+1e-5*math.Abs(fd) {
						t.Errorf("%s[%d]: autograd %.10g, finite difference %.10g", names[i], j, grad[j], fd)
					}
					checked++
				}
			}
			if checked < 3*13 {
				t.Fatalf("only %d elements checked", checked)
			}
		})
	}
}

func TestParameterCounts(t *testing.T) {
	for _, tc := range []struct {
		d    int
		want int64
	}{{128, 1402880}, {512, 2635520}} {
		s := torch.NewScope()
		torch.ManualSeed(0)
		c, err := New(DefaultConfig(tc.d, 100))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Flow().NumParams(); got != tc.want {
			t.Errorf("D=%d: %d trainable flow parameters, the original prints %d", tc.d, got, tc.want)
		}
		names, _ := c.Named()
		// proxies + 5 blocks x 2 subnets x 8 layers x (weight, bias); dense: no cond-prep.
		if len(names) != 1+5*2*8*2 {
			t.Errorf("D=%d: %d named parameters", tc.d, len(names))
		}
		if names[0] != "proxies" || names[1] != "flow.block0.subnet1.0.weight" || names[len(names)-1] != "flow.block4.subnet2.14.bias" {
			t.Errorf("D=%d: unexpected names %q ... %q", tc.d, names[:2], names[len(names)-1])
		}
		s.Close()
	}
}

// TestInitParity checks that New draws the same numbers as PyTorch building the original's
// modules after torch.manual_seed (testdata/gen_init_parity.py).
func TestInitParity(t *testing.T) {
	raw, err := os.ReadFile("testdata/init_parity.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Seed     uint64 `json:"seed"`
			D        int    `json:"D"`
			C        int    `json:"C"`
			Cblocks  int    `json:"cblocks"`
			FcDepth  int    `json:"fc_depth"`
			FcWidth  int    `json:"fc_width"`
			CondMode string `json:"cond_mode"`
			FcInit   string `json:"fc_init"`
			Names    []string
			Params   map[string]struct {
				Shape  []int64
				Values []float64
			}
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, pc := range f.Cases {
		t.Run(pc.CondMode+"/"+pc.FcInit, func(t *testing.T) {
			s := torch.NewScope()
			defer s.Close()
			cfg := DefaultConfig(pc.D, pc.C)
			cfg.Blocks, cfg.Depth, cfg.Width, cfg.CondMode, cfg.FcInit = pc.Cblocks, pc.FcDepth, pc.FcWidth, pc.CondMode, pc.FcInit
			torch.ManualSeed(pc.Seed)
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			names, ts := c.Named()
			if strings.Join(names, ",") != strings.Join(pc.Names, ",") {
				t.Fatalf("parameter names/order differ:\n got  %v\n want %v", names, pc.Names)
			}
			for i, n := range names {
				got := values(t, ts[i])
				want := pc.Params[n].Values
				// The same stream, up to the rounding of libtorch's per-CPU transforms.
				if j := tol.FirstDrawMismatch(got, want, tol.Eps32); j >= 0 {
					t.Fatalf("%s[%d] = %.9g, PyTorch drew %.9g (RNG parity lost)", n, j, got[min(j, len(got)-1)], want[min(j, len(want)-1)])
				}
			}
		})
	}
}

func TestDeadFlagsWarn(t *testing.T) {
	p := stage.Params{}
	for _, sp := range ParamSchema() {
		if sp.Default != nil {
			p[sp.Name] = sp.Default
		}
	}
	cfg, err := ConfigFromParams(128, 100, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings()) != 0 {
		t.Fatalf("defaults alone produced warnings: %v", cfg.Warnings())
	}
	if !reflect.DeepEqual(cfg, DefaultConfig(128, 100)) {
		t.Fatalf("schema defaults differ from DefaultConfig: %+v", cfg)
	}
	p["logmatch"] = 2.0
	p["nf_fc_dropout"] = 0.5
	p["pos_alpha"] = 1.0
	cfg, err = ConfigFromParams(128, 100, p)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Warnings()
	if len(w) != 3 {
		t.Fatalf("want 3 warnings, got %v", w)
	}
	for i, n := range []string{"logmatch", "nf_fc_dropout", "pos_alpha"} {
		if !strings.Contains(w[i], n) || !strings.Contains(w[i], "no effect") {
			t.Errorf("warning %q does not name %s as having no effect", w[i], n)
		}
	}
	// Dead flags change nothing in the numbers: the criterion ignores Ignored.
	p["nf_cond_mode"] = "sideways"
	if _, err := ConfigFromParams(128, 100, p); err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Fatalf("bad cond mode not reported: %v", err)
	}
}
