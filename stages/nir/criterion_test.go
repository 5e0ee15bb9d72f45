package nir

import (
	"math"
	"math/rand/v2"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

func TestGroups(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	for _, tc := range []struct {
		mode     string
		condSize int
	}{{CondDense, 0}, {CondDenseEmbedMulti, 3 * 4}} {
		cfg := smallConfig(8, 5, tc.mode)
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g := c.Groups(1e-5)
		if len(g) != 3 {
			t.Fatalf("%s: %d groups, want 3 (proxies, flow, cond-prep)", tc.mode, len(g))
		}
		want := []struct {
			lr float64
			n  int
		}{{1e-5 * 4000, 1}, {1e-5 * 50, 3 * 2 * 3 * 2}, {1e-5 * 50, tc.condSize}}
		for i, w := range want {
			if math.Abs(g[i].LR-w.lr) > 1e-15 || len(g[i].Params) != w.n || g[i].WeightDecay != 0 {
				t.Errorf("%s group %d (%s): lr %g, %d params, wd %g; want lr %g, %d params, wd 0",
					tc.mode, i, g[i].Name, g[i].LR, len(g[i].Params), g[i].WeightDecay, w.lr, w.n)
			}
		}
		if g[0].Params[0] != c.Proxies() {
			t.Errorf("proxy group does not hold the live proxy tensor")
		}
	}
}

// TestOneAdamStepLowersLoss is a smoke test of the train-facing API: groups into Adam, one
// step, the loss goes down.
func TestOneAdamStepLowersLoss(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(0)
	c, err := New(smallConfig(8, 4, CondDense))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	emb := randTensor(t, r, torch.Float32, 8, 8).Normalize(2, -1, 1e-12)
	labels := labelTensor(t, 0, 0, 1, 1, 2, 2, 3, 3)
	opt := optim.NewAdam(c.Groups(1e-4), 0.9, 0.999, 1e-8)
	l0, _ := c.Loss(emb, labels)
	l0.Backward()
	opt.Step()
	l1, _ := c.Loss(emb, labels)
	if !(l1.Item() < l0.Item()) {
		t.Fatalf("loss %g -> %g after one Adam step", l0.Item(), l1.Item())
	}
}

func TestObjectiveAndNoise(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	r := rand.New(rand.NewPCG(4, 4))
	emb := randTensor(t, r, torch.Float32, 6, 8).Normalize(2, -1, 1e-12)
	labels := labelTensor(t, 0, 1, 2, 0, 1, 2)

	torch.ManualSeed(5)
	cfg := smallConfig(8, 3, CondDense)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	loss, parts := c.Loss(emb, labels)
	nll := values(t, parts.NLL)
	var meanExp, mean, meanAbs float64
	for _, v := range nll {
		meanExp += math.Exp(v) / float64(len(nll))
		mean += v / float64(len(nll))
		meanAbs += math.Abs(v) / float64(len(nll))
	}
	// The loss is a float32 mean of len(nll) exp() values plus w_align * L_PA rounded to
	// float32 (as in the original): within a sum's rounding bound of len(nll)+2 terms.
	pa := cfg.WAlign * parts.ProxyAnchor.Item()
	lossTol := func(mag float64) float64 { return 2 * tol.Sum(tol.Eps32, len(nll)+2) * mag }
	if math.Abs(loss.Item()-(meanExp+pa)) > lossTol(meanExp+math.Abs(pa)) {
		t.Errorf("exp_nll loss %.15g, mean(exp(nll)) + w*PA = %.15g", loss.Item(), meanExp+pa)
	}

	cfg.Objective = ObjectiveNLL
	torch.ManualSeed(5)
	cn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lossN, _ := cn.Loss(emb, labels)
	if math.Abs(lossN.Item()-(mean+pa)) > lossTol(meanAbs+math.Abs(pa)) {
		t.Errorf("nll loss %.15g, mean(nll) + w*PA = %.15g", lossN.Item(), mean+pa)
	}

	// Noise: x = n(emb + sigma*U), U drawn on the CPU generator right when Loss runs.
	cfg.Objective, cfg.Noise = ObjectiveExpNLL, 0.1
	torch.ManualSeed(5)
	cz, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	torch.ManualSeed(77)
	_, partsNoise := cz.Loss(emb, labels)
	torch.ManualSeed(77)
	u := torch.Rand([]int64{6, 8}, torch.Float32, torch.CPUDevice)
	x := emb.Add(u.MulScalar(0.1)).Normalize(2, -1, 1e-12)
	var zWant *torch.Tensor
	torch.NoGrad(func() { zWant, _ = cz.Flow().Forward(x, cz.Conditions(labels)) })
	compareAbs(t, "z with noise", values(t, partsNoise.Z), values(t, zWant), 0)
	// The ProxyAnchor term uses the clean batch.
	if partsNoise.ProxyAnchor.Item() != parts.ProxyAnchor.Item() {
		t.Errorf("ProxyAnchor term changed with noise: %g vs %g", partsNoise.ProxyAnchor.Item(), parts.ProxyAnchor.Item())
	}
}

func TestLoadNamedRejectsMismatch(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	c, err := New(smallConfig(8, 3, CondDense))
	if err != nil {
		t.Fatal(err)
	}
	names, ts := c.Named()
	m := map[string]*torch.Tensor{}
	for i, n := range names {
		m[n] = ts[i]
	}
	delete(m, "flow.block1.subnet2.2.bias")
	if err := c.LoadNamed(m); err == nil {
		t.Fatal("missing parameter not reported")
	}
	m["flow.block1.subnet2.2.bias"] = torch.Zeros([]int64{3}, torch.Float32, torch.CPUDevice)
	if err := c.LoadNamed(m); err == nil {
		t.Fatal("wrong shape not reported")
	}
	m["flow.block1.subnet2.2.bias"] = ts[len(ts)-1]
	m["flow.block9.subnet1.0.weight"] = ts[1]
	if err := c.LoadNamed(m); err == nil {
		t.Fatal("unexpected parameter not reported")
	}
}

// TestNoLeak runs the loss and backward many times inside per-step scopes and checks that
// the number of live native tensors does not grow.
func TestNoLeak(t *testing.T) {
	c, err := New(smallConfig(8, 3, CondDenseEmbedMultiStacked))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(1, 3))
	step := func() {
		s := torch.NewScope()
		defer s.Close()
		emb := randTensor(t, r, torch.Float32, 6, 8).Normalize(2, -1, 1e-12)
		l, _ := c.Loss(emb, labelTensor(t, 0, 1, 2, 0, 1, 2))
		l.Backward()
		_, ts := c.Named()
		for _, p := range ts {
			p.ZeroGrad()
		}
		_ = c.Sample(1, 4)
	}
	step()
	census := torch.StartCensus()
	defer census.Stop()
	for i := 0; i < 50; i++ {
		step()
	}
	if n := census.Live(); n != 0 {
		t.Fatalf("%d tensors made during 50 steps are still open", n)
	}
}
