package criteria

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/stage"
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
)

type refCase struct {
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	Loss       float64        `json:"loss"`
	DType      string         `json:"dtype"`
	Grads      [][]float64    `json:"grads"`
	Inputs     [][]float32    `json:"inputs"`
	Params     map[string]any `json:"params"`
	ParamNames []string       `json:"param_names"`
	Triplets   [][3]int       `json:"triplets"`
	Arch       string         `json:"arch"`
	Iter       int            `json:"iter"`
	FeatureMap bool           `json:"feature_map"`
}

type reference struct {
	B, D, C    int
	Labels     []int64     `json:"labels"`
	Proxies    []float32   `json:"proxies"`
	ClassMap   []float32   `json:"class_map"`
	Beta       []float32   `json:"beta"`
	FeatureDim int         `json:"feature_dim"`
	Nets       [][]float32 `json:"nets"`
	Cases      []refCase   `json:"cases"`
	Init       map[string][]float32
}

func loadRef(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatalf("read reference (regenerate with /usr/bin/python3 testdata/gen_reference.py): %v", err)
	}
	var r struct {
		reference
		InitRaw map[string]json.RawMessage `json:"init"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode reference.json: %v", err)
	}
	ref := r.reference
	ref.Init = map[string][]float32{}
	for k, v := range r.InitRaw {
		var flat []float32
		if err := json.Unmarshal(v, &flat); err != nil {
			flat = nil
			var nested [][]float32
			if err := json.Unmarshal(v, &nested); err != nil {
				t.Fatalf("init %s: %v", k, err)
			}
			for _, n := range nested {
				flat = append(flat, n...)
			}
		}
		ref.Init[k] = flat
	}
	return &ref
}

// fixedMiner returns the reference script's triplets.
type fixedMiner struct{ trip [][3]int }

func (m fixedMiner) Mine(*torch.Tensor, []int64) [][3]int { return m.trip }

// defaults returns a kind's parameters with every default filled, and "kind".
func defaults(kind string) stage.Params {
	p := stage.Params{"kind": kind}
	for _, f := range Variants()[kind] {
		if f.Default != nil {
			p[f.Name] = f.Default
		}
	}
	return p
}

// params fills a kind's defaults and overrides them with the case's values (JSON numbers
// become float64 or int64 as the schema says).
func params(t *testing.T, kind string, over map[string]any) stage.Params {
	t.Helper()
	p := defaults(kind)
	for _, f := range Variants()[kind] {
		v, ok := over[f.Name]
		if !ok {
			continue
		}
		switch f.Type {
		case stage.Int:
			p[f.Name] = int64(v.(float64))
		case stage.IntList:
			var l []int64
			for _, x := range v.([]any) {
				l = append(l, int64(x.(float64)))
			}
			p[f.Name] = l
		default:
			p[f.Name] = v
		}
	}
	return p
}

func tensor(t *testing.T, v []float32, shape ...int64) *torch.Tensor {
	t.Helper()
	x, err := torch.FromFloat32(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func closeEnough(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-12
}

// compareVec checks |g - w| <= rel * max|w| elementwise (relative to the vector's scale,
// so that tiny components of a gradient are not held to a relative bound they cannot meet
// in float32).
func compareVec(t *testing.T, what string, got []float32, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	bad := 0
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > rel*scale+1e-9 {
			if bad < 3 {
				t.Errorf("%s[%d] = %.9g, want %.9g (scale %.3g)", what, i, got[i], want[i], scale)
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(got))
	}
}

func TestAgainstReference(t *testing.T) {
	r := loadRef(t)
	for _, c := range r.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s := torch.NewScope()
			defer s.Close()
			var miner miners.Miner = fixedMiner{c.Triplets}
			var crit Criterion
			if c.Kind == "npair" {
				// New insists on miners.NPair; the reference fixes the tuples instead.
				crit = &npair{l2: params(t, "npair", c.Params).Float("l2"), quarter: strings.Contains(c.Arch, "bninception"), miner: miner}
			} else {
				var err error
				crit, err = New(c.Kind, params(t, c.Kind, c.Params), r.D, r.C, miner, FeatureDim(r.FeatureDim), Arch(c.Arch))
				if err != nil {
					t.Fatal(err)
				}
				defer Close(crit)
			}
			names, ts := crit.Named()
			byName := map[string]*torch.Tensor{}
			for i, n := range names {
				byName[n] = ts[i]
			}
			values := map[string][]float32{"proxies": r.Proxies, "beta": r.Beta, "class_map": r.ClassMap}
			if c.Kind == "s2sd" {
				for k := range r.Nets {
					values[names[k]] = r.Nets[k] // nets come first in Named, in the script's order
				}
			}
			for _, n := range c.ParamNames {
				p, ok := byName[n]
				if !ok {
					t.Fatalf("criterion has no parameter %q (has %v)", n, names)
				}
				torch.NoGrad(func() { p.CopyFrom(tensor(t, values[n], p.Shape()...)) })
			}
			if len(names) != len(c.ParamNames) {
				t.Errorf("Named() = %v, reference parameters %v", names, c.ParamNames)
			}

			emb := tensor(t, c.Inputs[0], int64(r.B), int64(r.D)).SetRequiresGrad(true)
			lab, _ := torch.FromInt64(r.Labels, int64(r.B))
			b := Batch{Embeds: emb, Labels: lab, Iter: c.Iter}
			var feat *torch.Tensor
			if len(c.Inputs) > 1 {
				if c.FeatureMap {
					feat = tensor(t, c.Inputs[1], int64(r.B), int64(r.FeatureDim), 2, 2).SetRequiresGrad(true)
					b.Features = feat
				} else {
					feat = tensor(t, c.Inputs[1], int64(r.B), int64(r.FeatureDim)).SetRequiresGrad(true)
					b.AvgFeatures = feat
				}
			}
			loss := crit.Loss(b)
			if got := loss.DType().String(); !strings.EqualFold(got, c.DType) {
				t.Errorf("loss dtype %s, want %s", got, c.DType)
			}
			if got := loss.Item(); !closeEnough(got, c.Loss, 1e-5) {
				t.Errorf("loss = %.9g, want %.9g (rel %.2g)", got, c.Loss, math.Abs(got-c.Loss)/math.Abs(c.Loss))
			}
			loss.Backward()
			g, _ := emb.Grad().Float32s()
			compareVec(t, "grad embeddings", g, c.Grads[0], 1e-5)
			off := len(c.Inputs)
			if feat != nil {
				// s2sd detaches the features everywhere but in the target branches.
				gf, _ := feat.Grad().Float32s()
				compareVec(t, "grad features", gf, c.Grads[1], 1e-5)
			}
			for k, n := range c.ParamNames {
				gt := byName[n].Grad()
				if gt == nil {
					t.Errorf("grad %s: none", n)
					continue
				}
				gv, _ := gt.Float32s()
				compareVec(t, "grad "+n, gv, c.Grads[off+k], 1e-5)
			}
		})
	}
}

// TestInitFromGenerator checks that parameters are drawn from the global torch generator
// as the original draws them: the same stream, in the same order.
func TestInitFromGenerator(t *testing.T) {
	r := loadRef(t)
	check := func(name string, got []*torch.Tensor, want []float32) {
		t.Helper()
		var flat []float32
		for _, g := range got {
			v, err := g.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			flat = append(flat, v...)
		}
		if len(flat) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(flat), len(want))
		}
		g64 := make([]float64, len(flat))
		for i, v := range flat {
			g64[i] = float64(v)
		}
		// The same stream, up to the rounding of libtorch's per-CPU transforms.
		w64 := make([]float64, len(want))
		for i, v := range want {
			w64[i] = float64(v)
		}
		if i := tol.FirstDrawMismatch(g64, w64, tol.Eps32); i >= 0 {
			t.Fatalf("%s[%d] = %v, want %v (not the same draws)", name, i, flat[i], want[i])
		}
	}
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(7)
	c, err := New("oproxy", defaults("oproxy"), 6, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ts := c.Named()
	check("oproxy proxies", ts, r.Init["oproxy_proxies_seed7_C5_D6"])

	torch.ManualSeed(8)
	c, err = New("softmax", defaults("softmax"), 6, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ts = c.Named()
	check("softmax class_map", ts, r.Init["softmax_class_map_seed8_C5_D6"])

	torch.ManualSeed(9)
	p := defaults("s2sd")
	p["target_dims"] = []int64{3, 4}
	c, err = New("s2sd", p, 6, 5, nil, FeatureDim(5))
	if err != nil {
		t.Fatal(err)
	}
	_, ts = c.Named()
	check("s2sd target nets", ts, r.Init["s2sd_nets_seed9_F5_dims3_4"])
	if !ts[0].RequiresGrad() {
		t.Error("parameters must be trainable leaves")
	}
}

func TestGroups(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	m, _ := miners.New("distance", nil, miners.NewNumpyRandom(0))
	np, _ := miners.New("npair", nil, miners.NewNumpyRandom(0))
	cases := []struct {
		kind  string
		miner miners.Miner
		want  []float64 // group learning rates at base lr 1e-5
	}{
		{"oproxy", nil, []float64{0.02}},
		{"nir", nil, []float64{0.04, 5e-4, 5e-4}},
		{"multisimilarity", nil, nil},
		{"margin", m, []float64{5e-4}},
		{"triplet", m, nil},
		{"contrastive", m, nil},
		{"softmax", nil, []float64{1e-5}},
		{"arcface", nil, []float64{5e-4}},
		{"npair", np, nil},
		{"s2sd", m, []float64{1e-5}},
	}
	if len(cases) != len(Kinds()) {
		t.Fatalf("test covers %d kinds, package has %v", len(cases), Kinds())
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			c, err := New(tc.kind, defaults(tc.kind), 8, 5, tc.miner, FeatureDim(16))
			if err != nil {
				t.Fatal(err)
			}
			defer Close(c)
			gs := c.Groups(1e-5)
			if len(gs) != len(tc.want) {
				t.Fatalf("%d groups, want %d", len(gs), len(tc.want))
			}
			for i, g := range gs {
				if !closeEnough(g.LR, tc.want[i], 1e-12) || g.WeightDecay != 0 {
					t.Errorf("group %d (%s): lr %g wd %g, want lr %g wd 0", i, g.Name, g.LR, g.WeightDecay, tc.want[i])
				}
			}
		})
	}
}

// TestMinedLossesRun runs every miner-based criterion with a real miner through forward and
// backward on a small batch, and checks that an empty mining result still backpropagates.
func TestMinedLossesRun(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(0)
	x := torch.Randn([]int64{8, 6}, torch.Float32, torch.CPUDevice).Normalize(2, 1, 1e-12).SetRequiresGrad(true)
	lab, _ := torch.FromInt64([]int64{0, 0, 1, 1, 2, 2, 3, 3}, 8)
	for _, kind := range []string{"margin", "triplet", "contrastive", "npair"} {
		name := "semihard"
		if kind == "npair" {
			name = "npair"
		}
		m, _ := miners.New(name, nil, miners.NewNumpyRandom(1))
		c, err := New(kind, defaults(kind), 6, 4, m)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		l := c.Loss(Batch{Embeds: x, Labels: lab})
		if v := l.Item(); math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s: loss %v", kind, v)
		}
		l.Backward()
		empty, _ := New(kind, defaults(kind), 6, 4, fixedMiner{})
		if kind == "npair" {
			empty = &npair{l2: 0.005, miner: fixedMiner{}}
		}
		z := empty.Loss(Batch{Embeds: x, Labels: lab})
		if z.Item() != 0 {
			t.Errorf("%s: loss without triplets = %v, want 0", kind, z.Item())
		}
		z.Backward()
		x.ZeroGrad()
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		kind  string
		p     stage.Params
		miner miners.Miner
		want  string
	}{
		{"proxyanchor", nil, nil, "unknown"},
		{"margin", defaults("margin"), nil, "batchminer"},
		{"npair", defaults("npair"), fixedMiner{}, "npair batchminer"},
		{"multisimilarity", stage.Params{"dim": int64(2), "pos_weight": 2.0, "neg_weight": 40.0, "margin": 0.1, "pos_thresh": 0.5, "neg_thresh": 0.5}, nil, `"dim" must be at most 1; got 2`},
		{"oproxy", stage.Params{"mode": "nce", "lrmulti": 1.0, "pos_alpha": 1.0, "neg_alpha": 1.0, "pos_delta": 0.0, "neg_delta": 0.0}, nil, "nca"},
	}
	for _, tc := range cases {
		_, err := New(tc.kind, tc.p, 8, 5, tc.miner)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s): error %v, want one mentioning %q", tc.kind, err, tc.want)
		}
	}
}

func TestVariantsDefaults(t *testing.T) {
	v := Variants()
	get := func(kind, name string) any {
		for _, f := range v[kind] {
			if f.Name == name {
				if f.Doc == "" {
					t.Errorf("%s.%s has no Doc", kind, name)
				}
				return f.Default
			}
		}
		t.Errorf("%s has no field %s", kind, name)
		return nil
	}
	checks := map[[2]string]any{
		{"oproxy", "mode"}: "anchor", {"oproxy", "lrmulti"}: 2000.0, {"oproxy", "neg_delta"}: -0.1,
		{"nir", "w_align"}: 0.01, {"nir", "proxy_lrmulti"}: 4000.0, {"nir", "oproxy_pos_alpha"}: 32.0,
		{"multisimilarity", "neg_weight"}: 40.0, {"margin", "beta"}: 1.2, {"margin", "beta_lr"}: 5e-4,
		{"triplet", "margin"}: 0.2, {"contrastive", "neg_margin"}: 1.0, {"softmax", "temperature"}: 0.05,
		{"arcface", "feature_scale"}: 16.0, {"npair", "l2"}: 0.005, {"s2sd", "feat_w"}: 50.0,
		{"s2sd", "feat_distill_delay"}: int64(1000),
	}
	for k, want := range checks {
		if got := get(k[0], k[1]); got != want {
			t.Errorf("%s.%s default = %v, want %v", k[0], k[1], got, want)
		}
	}
}

// TestNIRAdapter checks the nir kind is stages/nir's criterion unchanged: same loss value,
// float64, and gradients reach the embeddings.
func TestNIRAdapter(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(3)
	p := defaults("nir")
	p["nf_fc_width"] = int64(16)
	p["nf_fc_depth"] = int64(3)
	c, err := New("nir", p, 8, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(c)
	x := torch.Randn([]int64{6, 8}, torch.Float32, torch.CPUDevice).Normalize(2, 1, 1e-12).SetRequiresGrad(true)
	lab, _ := torch.FromInt64([]int64{0, 0, 1, 1, 4, 4}, 6)
	l := c.Loss(Batch{Embeds: x, Labels: lab})
	if l.DType() != torch.Float64 {
		t.Errorf("nir loss dtype %s, want float64", l.DType())
	}
	want, _ := NIR(c).Loss(x, lab)
	if l.Item() != want.Item() {
		t.Errorf("adapter loss %v, stages/nir loss %v", l.Item(), want.Item())
	}
	l.Backward()
	if x.Grad() == nil {
		t.Error("no gradient on the embeddings")
	}
	names, _ := c.Named()
	if len(names) == 0 || names[0] != "proxies" {
		t.Errorf("Named() starts with %v, want proxies first", names[:min(3, len(names))])
	}
}

// TestNoLeak builds, runs and closes each criterion inside a scope and checks that no
// native tensor outlives them.
func TestNoLeak(t *testing.T) {
	lab := []int64{0, 0, 1, 1, 2, 2, 3, 3}
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			census := torch.StartCensus()
			defer census.Stop()
			func() {
				s := torch.NewScope()
				defer s.Close()
				var m miners.Miner
				switch kind {
				case "npair":
					m, _ = miners.New("npair", nil, miners.NewNumpyRandom(0))
				default:
					m, _ = miners.New("distance", nil, miners.NewNumpyRandom(0))
				}
				p := defaults(kind)
				if kind == "nir" {
					p["nf_fc_width"], p["nf_fc_depth"] = int64(8), int64(2)
				}
				if kind == "s2sd" {
					p["target_dims"] = []int64{4}
				}
				c, err := New(kind, p, 6, 4, m, FeatureDim(5))
				if err != nil {
					t.Fatal(err)
				}
				defer Close(c)
				for step := 0; step < 3; step++ {
					st := torch.NewScope()
					x := torch.Randn([]int64{8, 6}, torch.Float32, torch.CPUDevice).Normalize(2, 1, 1e-12).SetRequiresGrad(true)
					f := torch.Rand([]int64{8, 5}, torch.Float32, torch.CPUDevice)
					y, _ := torch.FromInt64(lab, 8)
					c.Loss(Batch{Embeds: x, Labels: y, AvgFeatures: f, Iter: step}).Backward()
					st.Close()
				}
			}()
			if n := census.Live(); n != 0 {
				t.Errorf("%d tensors made by the criterion are still open", n)
			}
		})
	}
}
