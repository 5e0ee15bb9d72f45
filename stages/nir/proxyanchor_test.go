package nir

import (
	"math"
	"math/rand/v2"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/torch"
)

// refProxyLoss evaluates reference-method.md §5.1 literally in float64 Go.
func refProxyLoss(x, p []float64, labels []int, b, c, d int, hp ProxyHP, mode ProxyMode) float64 {
	norm := func(v []float64) []float64 {
		var s float64
		for _, a := range v {
			s += a * a
		}
		n := math.Max(math.Sqrt(s), 1e-12)
		out := make([]float64, len(v))
		for i := range v {
			out[i] = v[i] / n
		}
		return out
	}
	xs := make([][]float64, b)
	for i := range xs {
		xs[i] = norm(x[i*d : (i+1)*d])
	}
	ps := make([][]float64, c)
	for k := range ps {
		ps[k] = norm(p[k*d : (k+1)*d])
	}
	dot := func(a, b []float64) float64 {
		var s float64
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	var pos, neg float64
	if mode == ProxyModeAnchor {
		for j := 0; j < b; j++ { // positive: per batch column j, over i with y_i = y_j
			var s float64
			for i := 0; i < b; i++ {
				if labels[i] == labels[j] {
					s += math.Exp(-hp.PosAlpha * (dot(xs[i], ps[labels[j]]) - hp.PosDelta))
				}
			}
			pos += math.Log(1+s) / float64(b)
		}
		for k := 0; k < c; k++ { // negative: per proxy, over samples of other classes
			var s float64
			any := false
			for i := 0; i < b; i++ {
				if labels[i] != k {
					any = true
					s += math.Exp(hp.NegAlpha * (dot(xs[i], ps[k]) - hp.NegDelta))
				}
			}
			if any {
				neg += math.Log(1+s) / float64(c)
			}
		}
		return pos + neg
	}
	for i := 0; i < b; i++ {
		n := 0
		for j := 0; j < b; j++ {
			if labels[j] == labels[i] {
				n++
			}
		}
		pos += math.Log(1+float64(n)*math.Exp(-hp.PosAlpha*(dot(xs[i], ps[labels[i]])-hp.PosDelta))) / float64(b)
		var s float64
		for k := 0; k < c; k++ {
			if k != labels[i] {
				s += math.Exp(hp.NegAlpha * (dot(xs[i], ps[k]) - hp.NegDelta))
			}
		}
		neg += math.Log(1+s) / float64(b)
	}
	return pos + neg
}

func TestProxyLossMatchesFormula(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	r := rand.New(rand.NewPCG(21, 22))
	const b, c, d = 9, 6, 5
	labels := []int{0, 0, 0, 0, 2, 2, 5, 1, 1} // class 0 four times, classes 3 and 4 absent
	lab := make([]int64, b)
	for i, l := range labels {
		lab[i] = int64(l)
	}
	for _, dt := range []torch.DType{torch.Float32, torch.Float64} {
		for _, mode := range []ProxyMode{ProxyModeAnchor, ProxyModeNCA} {
			for _, hp := range []ProxyHP{DefaultProxyHP(), {PosAlpha: 4, NegAlpha: 8, PosDelta: 0.3, NegDelta: 0.05}} {
				x := randTensor(t, r, torch.Float64, b, d)
				p := randTensor(t, r, torch.Float64, c, d).MulScalar(0.125)
				want := refProxyLoss(values(t, x), values(t, p), labels, b, c, d, hp, mode)
				got := ProxyLoss(x.ToDType(dt), p.ToDType(dt), labelTensor(t, lab...), hp, mode).Item()
				tol := 1e-12
				if dt == torch.Float32 {
					tol = 2e-5
				}
				if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
					t.Errorf("%v %v %+v: got %.12g want %.12g", dt, mode, hp, got, want)
				}
			}
		}
	}
}

func TestMaskedLogSumExpAllMaskedSliceIsZeroWithFiniteGradient(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	v, _ := torch.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	v.SetRequiresGrad(true)
	m, _ := torch.FromBool([]bool{true, false, false, true, false, false}, 2, 3)
	out := MaskedLogSumExp(v, m, 0) // columns: {1,4}, {}, {}
	got := values(t, out)
	want := []float64{math.Log(1 + math.Exp(1) + math.Exp(4)), 0, 0}
	// float32 exp, a sum of 3 terms and log: a few roundings of the largest term (e^4).
	for i := range want {
		if math.Abs(got[i]-want[i]) > 2*tol.Sum(tol.Eps32, 3+2)*math.Exp(4) {
			t.Fatalf("MLSE column %d = %g want %g", i, got[i], want[i])
		}
	}
	out.Sum().Backward()
	g := values(t, v.Grad())
	den := 1 + math.Exp(1) + math.Exp(4)
	wantG := []float64{math.Exp(1) / den, 0, 0, math.Exp(4) / den, 0, 0}
	for i := range g {
		if math.Abs(g[i]-wantG[i]) > 1e-6 || math.IsNaN(g[i]) {
			t.Fatalf("gradient %d = %g want %g", i, g[i], wantG[i])
		}
	}
	if _, err := ParseProxyMode("nca"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProxyMode("softmax"); err == nil {
		t.Fatal("bad mode accepted")
	}
}
