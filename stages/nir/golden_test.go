package nir

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"dmlrun/torch"
)

// goldenFile mirrors testdata/nir-golden-vectors.json (reference-method.md §13.1): outputs of
// the original criterion (FrEIA GLOW, torch 1.13 CPU float32) for four configurations.
type goldenFile struct {
	Cases []goldenCase `json:"cases"`
}

type goldenLayer struct {
	W [][]float64 `json:"W"`
	B []float64   `json:"b"`
}

type goldenCase struct {
	Case       string      `json:"case"`
	D          int         `json:"D"`
	C          int         `json:"C"`
	Cblocks    int         `json:"cblocks"`
	FcDepth    int         `json:"fc_depth"`
	FcWidth    int         `json:"fc_width"`
	Clamp      float64     `json:"clamp"`
	CondMode   string      `json:"cond_mode"`
	WAlign     float64     `json:"w_align"`
	Labels     []int64     `json:"labels"`
	Embeddings [][]float64 `json:"embeddings"`
	Proxies    [][]float64 `json:"proxies"`
	Blocks     []struct {
		Subnet1 []goldenLayer `json:"subnet1"`
		Subnet2 []goldenLayer `json:"subnet2"`
	} `json:"blocks"`
	CondPrep []map[string]json.RawMessage `json:"cond_prep"`
	Expected struct {
		Z              [][]float64 `json:"z"`
		LogDet         []float64   `json:"logdet"`
		ProxyAnchor    float64     `json:"proxy_anchor"`
		NLL            []float64   `json:"nll"`
		Loss           float64     `json:"loss"`
		GradEmbeddings [][]float64 `json:"grad_embeddings"`
		GradProxies    [][]float64 `json:"grad_proxies"`
	} `json:"expected"`
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/nir-golden-vectors.json")
	if err != nil {
		t.Fatalf("read golden vectors: %v", err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("decode testdata/nir-golden-vectors.json: %v", err)
	}
	if len(g.Cases) != 4 {
		t.Fatalf("expected 4 golden cases, found %d", len(g.Cases))
	}
	return g.Cases
}

func flat(m [][]float64) ([]float64, []int64) {
	var out []float64
	for _, r := range m {
		out = append(out, r...)
	}
	return out, []int64{int64(len(m)), int64(len(m[0]))}
}

func f32Tensor(t *testing.T, v []float64, shape ...int64) *torch.Tensor {
	t.Helper()
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	ts, err := torch.FromFloat32(f, shape...)
	if err != nil {
		t.Fatalf("FromFloat32: %v", err)
	}
	return ts
}

func mat32(t *testing.T, m [][]float64) *torch.Tensor {
	v, s := flat(m)
	return f32Tensor(t, v, s...)
}

// goldenParams maps the case's weights to the criterion's parameter names.
func goldenParams(t *testing.T, gc goldenCase) map[string]*torch.Tensor {
	t.Helper()
	ps := map[string]*torch.Tensor{"proxies": mat32(t, gc.Proxies)}
	for k, b := range gc.Blocks {
		for s, layers := range [][]goldenLayer{b.Subnet1, b.Subnet2} {
			for i, l := range layers {
				pre := fmt.Sprintf("flow.block%d.subnet%d.%d", k, s+1, 2*i)
				ps[pre+".weight"] = mat32(t, l.W)
				ps[pre+".bias"] = f32Tensor(t, l.B, int64(len(l.B)))
			}
		}
	}
	for _, entry := range gc.CondPrep {
		for name, raw := range entry {
			var m [][]float64
			if err := json.Unmarshal(raw, &m); err == nil {
				ps["condprep."+name] = mat32(t, m)
				continue
			}
			var v []float64
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("cond_prep %s: %v", name, err)
			}
			ps["condprep."+name] = f32Tensor(t, v, int64(len(v)))
		}
	}
	return ps
}

func goldenConfig(gc goldenCase) Config {
	cfg := DefaultConfig(gc.D, gc.C)
	cfg.Blocks, cfg.Depth, cfg.Width = gc.Cblocks, gc.FcDepth, gc.FcWidth
	cfg.Clamp, cfg.CondMode, cfg.WAlign = gc.Clamp, gc.CondMode, gc.WAlign
	return cfg
}

// closeTo is the golden tolerance: 1e-5 relative, 1e-6 absolute near zero.
func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-5*math.Abs(want)+1e-6
}

func compareVec(t *testing.T, what string, got []float64, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, wi := 0.0, -1
	if os.Getenv("NIR_GOLDEN_VERBOSE") != "" {
		var maxAbs, maxRel float64
		for i := range got {
			d := math.Abs(got[i] - want[i])
			maxAbs = math.Max(maxAbs, d)
			if want[i] != 0 {
				maxRel = math.Max(maxRel, d/math.Abs(want[i]))
			}
		}
		t.Logf("%-16s n=%-4d max|diff| %.3g  max rel %.3g", what, len(got), maxAbs, maxRel)
	}
	for i := range got {
		if !closeTo(got[i], want[i]) {
			if d := math.Abs(got[i] - want[i]); d > worst {
				worst, wi = d, i
			}
		}
	}
	if wi >= 0 {
		t.Errorf("%s: element %d = %.9g, want %.9g (|diff| %.3g)", what, wi, got[wi], want[wi], worst)
	}
}

func values(t *testing.T, ts *torch.Tensor) []float64 {
	t.Helper()
	v, err := ts.Float64s()
	if err != nil {
		t.Fatalf("read %v: %v", ts, err)
	}
	return v
}

func TestGoldenVectors(t *testing.T) {
	for _, gc := range loadGolden(t) {
		t.Run(gc.Case, func(t *testing.T) {
			s := torch.NewScope()
			defer s.Close()
			c, err := New(goldenConfig(gc))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.LoadNamed(goldenParams(t, gc)); err != nil {
				t.Fatal(err)
			}
			emb := mat32(t, gc.Embeddings).SetRequiresGrad(true)
			labels, err := torch.FromInt64(gc.Labels, int64(len(gc.Labels)))
			if err != nil {
				t.Fatal(err)
			}
			loss, parts := c.Loss(emb, labels)
			if loss.DType() != torch.Float64 {
				t.Errorf("loss dtype %v, want float64", loss.DType())
			}
			loss.Backward()

			e := gc.Expected
			z, _ := flat(e.Z)
			compareVec(t, "z", values(t, parts.Z), z)
			compareVec(t, "logdet", values(t, parts.LogDet), e.LogDet)
			compareVec(t, "proxy_anchor", []float64{parts.ProxyAnchor.Item()}, []float64{e.ProxyAnchor})
			compareVec(t, "nll", values(t, parts.NLL), e.NLL)
			compareVec(t, "loss", []float64{loss.Item()}, []float64{e.Loss})
			ge, _ := flat(e.GradEmbeddings)
			compareVec(t, "grad_embeddings", values(t, emb.Grad()), ge)
			gp, _ := flat(e.GradProxies)
			compareVec(t, "grad_proxies", values(t, c.Proxies().Grad()), gp)
		})
	}
}
