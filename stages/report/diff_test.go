package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func runs(block string, vals map[string][]float64) []Run {
	n := 0
	for _, v := range vals {
		n = max(n, len(v))
	}
	out := make([]Run, n)
	for i := range out {
		out[i] = Run{Block: block, Seed: int64(i), Metrics: map[string]float64{}}
		for m, v := range vals {
			if i < len(v) && !math.IsNaN(v[i]) {
				out[i].Metrics[m] = v[i]
			}
		}
	}
	return out
}

func TestDiffCases(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name      string
		a, b      map[string][]float64
		tol       map[string]float64
		metric    string
		diff      float64
		better    string
		regressed bool
		ciLo      float64 // bounds the CI must lie within
		ciHi      float64
	}{
		{name: "B better", a: map[string][]float64{"e_recall@1": {0.60, 0.61, 0.62}},
			b: map[string][]float64{"e_recall@1": {0.63, 0.64, 0.65}}, metric: "e_recall@1",
			diff: 0.03, better: "B", ciLo: 0.01, ciHi: 0.05},
		{name: "B worse within tolerance", a: map[string][]float64{"nmi": {0.70, 0.72}},
			b: map[string][]float64{"nmi": {0.69, 0.71}}, tol: map[string]float64{"nmi": 0.02}, metric: "nmi",
			diff: -0.01, better: "A", ciLo: -0.03, ciHi: 0.01},
		{name: "B worse beyond tolerance", a: map[string][]float64{"f1": {0.50, 0.52}},
			b: map[string][]float64{"f1": {0.45, 0.47}}, tol: map[string]float64{"f1": 0.02}, metric: "f1",
			diff: -0.05, better: "A", regressed: true, ciLo: -0.07, ciHi: -0.03},
		{name: "lower is better", a: map[string][]float64{"dists@intra": {0.5}},
			b: map[string][]float64{"dists@intra": {0.6}}, tol: map[string]float64{"dists@intra": 0.05},
			metric: "dists@intra", diff: 0.1, better: "A", regressed: true, ciLo: 0.1, ciHi: 0.1},
		{name: "unknown direction", a: map[string][]float64{"rho_spectrum@1": {0.1, 0.1}},
			b: map[string][]float64{"rho_spectrum@1": {0.05, 0.05}}, tol: map[string]float64{"rho_spectrum@1": 0.01},
			metric: "rho_spectrum@1", diff: -0.05, better: "", regressed: true, ciLo: -0.05, ciHi: -0.05},
		{name: "missing on one side fails its check", a: map[string][]float64{"mAP_1000": {0.3}, "e_recall@1": {0.6}},
			b: map[string][]float64{"e_recall@1": {0.6}, "mAP_1000": {nan}}, tol: map[string]float64{"mAP_1000": 0.1},
			metric: "mAP_1000", diff: nan, regressed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := DiffOptions{Tolerances: c.tol}
			if c.metric == "mAP_1000" {
				opt.Metrics = []string{"e_recall@1", "mAP_1000"}
			}
			d := Diff("A", runs("a", c.a), "B", runs("b", c.b), opt)
			var r *MetricDiff
			for i := range d.Rows {
				if d.Rows[i].Metric == c.metric {
					r = &d.Rows[i]
				}
			}
			if r == nil {
				t.Fatalf("no row for %s in %+v", c.metric, d.Rows)
			}
			if math.IsNaN(c.diff) != math.IsNaN(r.Diff) || (!math.IsNaN(c.diff) && math.Abs(r.Diff-c.diff) > 1e-12) {
				t.Errorf("diff %v, want %v", r.Diff, c.diff)
			}
			if r.Better != c.better || r.Regressed != c.regressed {
				t.Errorf("better %q regressed %v, want %q %v", r.Better, r.Regressed, c.better, c.regressed)
			}
			if !math.IsNaN(c.diff) && (r.CILow < c.ciLo-1e-12 || r.CIHigh > c.ciHi+1e-12 || r.CILow > r.Diff+1e-12 || r.CIHigh < r.Diff-1e-12) {
				t.Errorf("CI [%v, %v] not within [%v, %v] around %v", r.CILow, r.CIHigh, c.ciLo, c.ciHi, r.Diff)
			}
			if got := len(d.Regressions()); got != map[bool]int{false: 0, true: 1}[c.regressed] {
				t.Errorf("Regressions() = %v", d.Regressions())
			}
		})
	}
}

func TestDiffDeterministicAndSeeded(t *testing.T) {
	a := runs("a", map[string][]float64{"e_recall@1": {0.60, 0.615, 0.62, 0.605, 0.63}})
	b := runs("b", map[string][]float64{"e_recall@1": {0.63, 0.64, 0.625, 0.66, 0.645}})
	d1 := Diff("A", a, "B", b, DiffOptions{})
	d2 := Diff("A", a, "B", b, DiffOptions{})
	d3 := Diff("A", a, "B", b, DiffOptions{Seed: 7})
	if d1.Rows[0].CILow != d2.Rows[0].CILow || d1.Rows[0].CIHigh != d2.Rows[0].CIHigh {
		t.Error("same seed, different CI")
	}
	if d1.Rows[0].CILow == d3.Rows[0].CILow && d1.Rows[0].CIHigh == d3.Rows[0].CIHigh {
		t.Error("different seeds, identical CI")
	}
	if d1.Resamples != 10000 || d1.Seed != 1 {
		t.Errorf("defaults %d %d", d1.Resamples, d1.Seed)
	}
	// The bootstrap CI of a mean difference with n=5 per side should be close to the
	// normal-theory interval diff ± 1.96·sqrt(var_a/n + var_b/n) (with the plug-in
	// variance that the bootstrap estimates); a loose check that it is not nonsense.
	r := d1.Rows[0]
	if !(r.CILow > 0.005 && r.CILow < 0.02 && r.CIHigh > 0.035 && r.CIHigh < 0.05) {
		t.Errorf("CI [%v, %v] for diff %v", r.CILow, r.CIHigh, r.Diff)
	}
}

func TestDiffGolden(t *testing.T) {
	a, b := fixtureRuns()
	d := Diff("baseline", a, "nir", b, DiffOptions{Tolerances: map[string]float64{"e_recall@1": 0.02, "nmi": 0.005}})
	var txt bytes.Buffer
	if err := d.Text(&txt); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff.txt", txt.Bytes())
	j, _ := json.MarshalIndent(d, "", "  ")
	golden(t, "diff.json", append(j, '\n'))
	d = Diff("baseline", a, "nir", b, DiffOptions{})
	txt.Reset()
	d.Text(&txt)
	golden(t, "diff_nocheck.txt", txt.Bytes())
}

func fixtureRuns() (a, b []Run) {
	for _, r := range fixtureResults() {
		run := RunFromResult(r)
		if run.Block == "baseline" {
			a = append(a, run)
		} else {
			b = append(b, run)
		}
	}
	return a, b
}

func TestExpectFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "exp.json")
	os.WriteFile(p, []byte(`{"name": "x", "metrics": {"e_recall@1": {"mean": 0.66, "tolerance": 0.01}, "nmi": {"mean": 0.69, "tolerance": 0.01}}}`), 0o644)
	e, err := ReadExpectFile(p)
	if err != nil {
		t.Fatal(err)
	}
	exp, tol := e.AsRuns()
	_, b := fixtureRuns()
	d := Diff("expected", exp, "nir", b, DiffOptions{Tolerances: tol, Metrics: []string{"e_recall@1", "nmi"}})
	// nir e_recall@1 mean 0.64 < 0.66 − 0.01: regressed; nmi 0.69 vs 0.69: ok
	if !d.Rows[0].Regressed || d.Rows[1].Regressed {
		t.Errorf("rows %+v", d.Rows)
	}
	os.WriteFile(p, []byte(`{"metrics": {"nmi": {"mean": 0.7, "tol": 0.01}}}`), 0o644)
	if _, err := ReadExpectFile(p); err == nil {
		t.Error("unknown field accepted")
	}
}
