package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func side(name string, runs []Run) Side { return Side{Name: name, Runs: runs} }

func runs(block string, vals map[string][]float64) []Run {
	n := 0
	for _, v := range vals {
		n = max(n, len(v))
	}
	out := make([]Run, n)
	for i := range out {
		out[i] = Run{Label: block, Block: block, Seed: int64(i), Metrics: map[string]float64{}}
		for m, v := range vals {
			if i < len(v) && !math.IsNaN(v[i]) {
				out[i].Metrics[m] = v[i]
			}
		}
	}
	return out
}

// Hand-computed cases; the t quantiles are from a printed t table (two-sided 95%: df 2
// 4.3027, df 4 2.7764), so the intervals below are checked to 1e-4.
func TestDiffCases(t *testing.T) {
	nan := math.NaN()
	none := [2]float64{nan, nan}
	cases := []struct {
		name        string
		a, b        map[string][]float64
		tol         map[string]float64
		metric      string
		diff        float64
		ci          [2]float64 // NaN: no interval
		significant bool
		better      string
		regressed   bool
	}{
		// sd 0.01 on both sides, n = 3: SE = sqrt(2·0.0001/3) = 0.008165, df = 4,
		// 0.03 ± 2.7764·0.008165 = [0.0073, 0.0527]: B better.
		{name: "B better, n=3", a: map[string][]float64{"e_recall@1": {0.60, 0.61, 0.62}},
			b: map[string][]float64{"e_recall@1": {0.63, 0.64, 0.65}}, metric: "e_recall@1",
			diff: 0.03, ci: [2]float64{0.0073, 0.0527}, significant: true, better: "B"},
		// n = 2, sd 0.01414: SE = 0.01414, df = 2, −0.01 ± 4.3027·0.01414 = [−0.0708, 0.0508].
		{name: "B worse within tolerance, n=2", a: map[string][]float64{"nmi": {0.70, 0.72}},
			b: map[string][]float64{"nmi": {0.69, 0.71}}, tol: map[string]float64{"nmi": 0.02}, metric: "nmi",
			diff: -0.01, ci: [2]float64{-0.0708, 0.0508}},
		{name: "B worse beyond tolerance, n=2", a: map[string][]float64{"f1": {0.50, 0.52}},
			b: map[string][]float64{"f1": {0.45, 0.47}}, tol: map[string]float64{"f1": 0.02}, metric: "f1",
			diff: -0.05, ci: [2]float64{-0.1108, 0.0108}, regressed: true},
		// n = 2 whose interval excludes 0: still no winner below MinSeeds.
		{name: "n=2 excluding 0 is not significant", a: map[string][]float64{"e_recall@1": {0.50, 0.51}},
			b: map[string][]float64{"e_recall@1": {0.70, 0.71}}, metric: "e_recall@1",
			diff: 0.2, ci: [2]float64{0.2 - 4.3027*0.007071, 0.2 + 4.3027*0.007071}},
		// n = 3 whose interval contains 0: no winner, although B's mean is higher.
		{name: "n=3 interval containing 0", a: map[string][]float64{"e_recall@1": {0.60, 0.62, 0.64}},
			b: map[string][]float64{"e_recall@1": {0.61, 0.63, 0.65}}, metric: "e_recall@1",
			diff: 0.01, ci: [2]float64{0.01 - 2.7764*0.016330, 0.01 + 2.7764*0.016330}},
		// one seed per side: no interval, no winner, whatever the difference
		{name: "one seed per side", a: map[string][]float64{"e_recall@1": {0.5}},
			b: map[string][]float64{"e_recall@1": {0.9}}, metric: "e_recall@1", diff: 0.4, ci: none},
		{name: "lower is better, one seed", a: map[string][]float64{"dists@intra": {0.5}},
			b: map[string][]float64{"dists@intra": {0.6}}, tol: map[string]float64{"dists@intra": 0.05},
			metric: "dists@intra", diff: 0.1, ci: none, regressed: true},
		{name: "lower is better, n=3", a: map[string][]float64{"dists@intra": {0.60, 0.61, 0.62}},
			b: map[string][]float64{"dists@intra": {0.50, 0.51, 0.52}}, metric: "dists@intra",
			diff: -0.1, ci: [2]float64{-0.1 - 0.022670, -0.1 + 0.022670}, significant: true, better: "B"},
		// no spread on either side: the interval is the point
		{name: "unknown direction", a: map[string][]float64{"rho_spectrum@1": {0.1, 0.1, 0.1}},
			b: map[string][]float64{"rho_spectrum@1": {0.05, 0.05, 0.05}}, tol: map[string]float64{"rho_spectrum@1": 0.01},
			metric: "rho_spectrum@1", diff: -0.05, ci: [2]float64{-0.05, -0.05}, significant: true, regressed: true},
		{name: "missing on one side fails its check", a: map[string][]float64{"mAP_1000": {0.3}, "e_recall@1": {0.6}},
			b: map[string][]float64{"e_recall@1": {0.6}, "mAP_1000": {nan}}, tol: map[string]float64{"mAP_1000": 0.1},
			metric: "mAP_1000", diff: nan, ci: none, regressed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := DiffOptions{Tolerances: c.tol}
			if c.metric == "mAP_1000" {
				opt.Metrics = []string{"e_recall@1", "mAP_1000"}
			}
			d := Diff(side("A", runs("a", c.a)), side("B", runs("b", c.b)), opt)
			var r *MetricDiff
			for i := range d.Rows {
				if d.Rows[i].Metric == c.metric {
					r = &d.Rows[i]
				}
			}
			if r == nil {
				t.Fatalf("no row for %s in %+v", c.metric, d.Rows)
			}
			if !near(r.Diff, c.diff, 1e-12) {
				t.Errorf("diff %v, want %v", r.Diff, c.diff)
			}
			if !near(r.CILow, c.ci[0], 1e-4) || !near(r.CIHigh, c.ci[1], 1e-4) {
				t.Errorf("CI [%v, %v], want [%v, %v]", r.CILow, r.CIHigh, c.ci[0], c.ci[1])
			}
			if r.Significant != c.significant || r.Better != c.better || r.Regressed != c.regressed {
				t.Errorf("significant %v better %q regressed %v, want %v %q %v", r.Significant, r.Better, r.Regressed, c.significant, c.better, c.regressed)
			}
			if got := len(d.Regressions()); got != map[bool]int{false: 0, true: 1}[c.regressed] {
				t.Errorf("Regressions() = %v", d.Regressions())
			}
		})
	}
}

// near compares with NaN equal to NaN.
func near(got, want, tol float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) == math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol
}

// The Welch intervals against testdata/welch.json, computed by testdata/gen_welch.py with
// numpy alone (the t quantile by integrating the t density, checked there against a
// printed t table), not by gonum.
func TestWelchAgainstReference(t *testing.T) {
	b, err := os.ReadFile("testdata/welch.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Level float64 `json:"level"`
		Cases []struct {
			Name                string
			A, B                []float64
			FixedA              bool `json:"fixed_a"`
			Diff, Lo, Hi, DF, T float64
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			iv, ok := welch(c.A, c.B, c.FixedA, ref.Level)
			if !ok {
				t.Fatal("no interval")
			}
			if !near(iv.DF, c.DF, 1e-9*c.DF) || !near(iv.Lo, c.Lo, 1e-9) || !near(iv.Hi, c.Hi, 1e-9) {
				t.Errorf("interval [%.12f, %.12f] df %.10f, reference [%.12f, %.12f] df %.10f", iv.Lo, iv.Hi, iv.DF, c.Lo, c.Hi, c.DF)
			}
			// and through Diff, with the same numbers
			a := Side{Name: "A", Fixed: c.FixedA}
			for _, v := range c.A {
				a.Runs = append(a.Runs, Run{Metrics: map[string]float64{"m": v}})
			}
			bs := Side{Name: "B"}
			for _, v := range c.B {
				bs.Runs = append(bs.Runs, Run{Metrics: map[string]float64{"m": v}})
			}
			r := Diff(a, bs, DiffOptions{}).Rows[0]
			if !near(r.CILow, c.Lo, 1e-9) || !near(r.CIHigh, c.Hi, 1e-9) || !near(r.Diff, c.Diff, 1e-12) {
				t.Errorf("Diff row %+v, reference %+v", r, c)
			}
		})
	}
}

// An expectation (Fixed side) is exact: the interval is B's one-sample t interval, and a
// single expected value does not block significance.
func TestDiffAgainstFixedSide(t *testing.T) {
	exp := Side{Name: "expected", Fixed: true, Runs: []Run{{Metrics: map[string]float64{"e_recall@1": 0.62}}}}
	d := Diff(exp, side("B", runs("b", map[string][]float64{"e_recall@1": {0.610, 0.615, 0.612}})), DiffOptions{})
	r := d.Rows[0]
	// mean 0.612333, sd 0.0025166, SE 0.0014530, df 2: −0.0076667 ± 4.3027·0.0014530
	if d.Method != "one-sample-t" || !near(r.DF, 2, 1e-12) || !near(r.CILow, -0.0076667-0.0062517, 1e-5) || !r.Significant || r.Better != "A" {
		t.Errorf("method %s row %+v", d.Method, r)
	}
}

func TestDiffGolden(t *testing.T) {
	a, b := fixtureRuns()
	d := Diff(side("baseline", a), side("nir", b), DiffOptions{Tolerances: map[string]float64{"e_recall@1": 0.02, "nmi": 0.005}})
	var txt bytes.Buffer
	if err := d.Text(&txt); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff.txt", txt.Bytes())
	j, _ := json.MarshalIndent(d, "", "  ")
	golden(t, "diff.json", append(j, '\n'))
	d = Diff(side("baseline", a), side("nir", b), DiffOptions{})
	txt.Reset()
	d.Text(&txt)
	golden(t, "diff_nocheck.txt", txt.Bytes())
}

func fixtureRuns() (a, b []Run) {
	for _, r := range fixtureResults() {
		run := fixtureRun(r)
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
	exp, tol := e.AsSide("expected")
	_, b := fixtureRuns()
	d := Diff(exp, side("nir", b), DiffOptions{Tolerances: tol, Metrics: []string{"e_recall@1", "nmi"}})
	// nir e_recall@1 mean 0.64 < 0.66 − 0.01: regressed; nmi 0.69 vs 0.69: ok
	if !d.Rows[0].Regressed || d.Rows[1].Regressed {
		t.Errorf("rows %+v", d.Rows)
	}
	os.WriteFile(p, []byte(`{"metrics": {"nmi": {"mean": 0.7, "tol": 0.01}}}`), 0o644)
	if _, err := ReadExpectFile(p); err == nil {
		t.Error("unknown field accepted")
	}
}
