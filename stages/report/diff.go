package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Direction says which way a metric improves.
type Direction int

const (
	Unknown      Direction = 0  // no judgement; a check fails when |B−A| exceeds the tolerance
	HigherBetter Direction = 1  // recall, mAP, nmi, f1, dists@inter
	LowerBetter  Direction = -1 // dists@intra, dists@intra_over_inter
)

// DirectionOf returns the direction of a metric name. rho_spectrum has no agreed direction
// (the original uses it as a diagnostic), so it is Unknown.
func DirectionOf(metric string) Direction {
	switch {
	case metric == "dists@intra" || metric == "dists@intra_over_inter":
		return LowerBetter
	case strings.HasPrefix(metric, "rho_spectrum@"):
		return Unknown
	}
	return HigherBetter
}

// DiffOptions configure Diff.
type DiffOptions struct {
	Resamples int    // bootstrap resamples; 0: 10,000
	Seed      uint64 // bootstrap RNG seed; 0: 1
	// Tolerances are the largest allowed worsening of B relative to A per metric (absolute,
	// in metric units); only metrics listed here are checked.
	Tolerances map[string]float64
	// Metrics restricts and orders the compared metrics; empty: every metric both sides have.
	Metrics []string
}

// MetricDiff is one row of a diff.
type MetricDiff struct {
	Metric string  `json:"metric"`
	MeanA  float64 `json:"mean_a"`
	MeanB  float64 `json:"mean_b"`
	NA     int     `json:"n_a"`
	NB     int     `json:"n_b"`
	Diff   float64 `json:"diff"`  // MeanB − MeanA
	CILow  float64 `json:"ci_lo"` // bootstrap 95% interval of MeanB − MeanA
	CIHigh float64 `json:"ci_hi"`
	// Better is "A", "B" or "" (equal means, or a metric without a direction).
	Better string `json:"better"`
	// Significant: the 95% interval excludes 0.
	Significant bool     `json:"significant"`
	Tolerance   *float64 `json:"tolerance,omitempty"`
	Regressed   bool     `json:"regressed"`
}

// DiffResult compares variant B (candidate) with variant A (baseline) over their seeds.
type DiffResult struct {
	NameA     string       `json:"a"`
	NameB     string       `json:"b"`
	Resamples int          `json:"resamples"`
	Seed      uint64       `json:"seed"`
	Rows      []MetricDiff `json:"metrics"`
}

// Diff compares the runs of two variants metric by metric. The confidence interval is a
// percentile bootstrap of the difference of means: each resample draws len(a) runs of A and
// len(b) runs of B with replacement (independently: seeds of different variants share no
// randomness), takes mean(B*) − mean(A*), and the interval is the 2.5th and 97.5th
// percentiles of the resampled differences (linear interpolation between order
// statistics, numpy's default). The RNG is PCG seeded with Seed, so output is
// reproducible. With one run per side the interval collapses to the observed difference;
// read it as "no evidence of spread", not as certainty.
//
// A metric regresses when B is worse than A by more than its tolerance: B−A < −tol for
// higher-is-better metrics, B−A > tol for lower-is-better, |B−A| > tol for Unknown.
// Runs without a finite value for a metric are left out of that metric.
func Diff(nameA string, a []Run, nameB string, b []Run, opt DiffOptions) *DiffResult {
	if opt.Resamples <= 0 {
		opt.Resamples = 10000
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	res := &DiffResult{NameA: nameA, NameB: nameB, Resamples: opt.Resamples, Seed: opt.Seed}
	names := opt.Metrics
	if len(names) == 0 {
		in := func(runs []Run) map[string]bool {
			m := map[string]bool{}
			for _, r := range runs {
				for k := range r.Metrics {
					m[k] = true
				}
			}
			return m
		}
		ia, ib := in(a), in(b)
		all := map[string]float64{}
		for k := range ia {
			if ib[k] {
				all[k] = 0
			}
		}
		names = sortedMetricNames(all)
	}
	for _, m := range names {
		xa, xb := values(a, m), values(b, m)
		row := MetricDiff{Metric: m, NA: len(xa), NB: len(xb), MeanA: math.NaN(), MeanB: math.NaN(),
			Diff: math.NaN(), CILow: math.NaN(), CIHigh: math.NaN()}
		if len(xa) > 0 {
			row.MeanA = mean(xa)
		}
		if len(xb) > 0 {
			row.MeanB = mean(xb)
		}
		if len(xa) > 0 && len(xb) > 0 {
			row.Diff = row.MeanB - row.MeanA
			// one RNG stream per metric (PCG seeded with Seed and a hash of the metric
			// name), so adding or removing a metric does not move the others' CIs
			// A bootstrap over one run per side has no spread: it would "exclude 0" for any
			// difference. Without two seeds on at least one side there is no interval (a
			// single run, or an expected value, is then treated as fixed).
			if len(xa) >= 2 || len(xb) >= 2 {
				rng := rand.New(rand.NewPCG(opt.Seed, hashName(m)))
				row.CILow, row.CIHigh = bootstrapCI(xa, xb, opt.Resamples, rng)
				row.Significant = row.CILow > 0 || row.CIHigh < 0
			}
			dir := DirectionOf(m)
			switch {
			case dir == Unknown || row.Diff == 0:
			case (row.Diff > 0) == (dir == HigherBetter):
				row.Better = "B"
			default:
				row.Better = "A"
			}
		}
		if tol, ok := opt.Tolerances[m]; ok {
			t := tol
			row.Tolerance = &t
			row.Regressed = regressed(m, row.Diff, tol)
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

func regressed(metric string, diff, tol float64) bool {
	if math.IsNaN(diff) {
		return true // a checked metric that is missing on one side fails the check
	}
	switch DirectionOf(metric) {
	case HigherBetter:
		return diff < -tol
	case LowerBetter:
		return diff > tol
	}
	return math.Abs(diff) > tol
}

func hashName(s string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func values(runs []Run, m string) []float64 {
	var xs []float64
	for _, r := range runs {
		if v, ok := r.Metrics[m]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	return xs
}

func bootstrapCI(a, b []float64, n int, rng *rand.Rand) (lo, hi float64) {
	d := make([]float64, n)
	for i := range d {
		var sa, sb float64
		for range a {
			sa += a[rng.IntN(len(a))]
		}
		for range b {
			sb += b[rng.IntN(len(b))]
		}
		d[i] = sb/float64(len(b)) - sa/float64(len(a))
	}
	sort.Float64s(d)
	return percentile(d, 0.025), percentile(d, 0.975)
}

// percentile of sorted xs with linear interpolation at position p·(n−1).
func percentile(xs []float64, p float64) float64 {
	pos := p * float64(len(xs)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i] + f*(xs[i+1]-xs[i])
}

// Regressions lists one line per regressed metric, e.g.
// "e_recall@1: nir 0.6120 vs baseline 0.6400 (diff -0.0280, tolerance 0.0200)".
func (d *DiffResult) Regressions() []string {
	var out []string
	for _, r := range d.Rows {
		if r.Regressed {
			out = append(out, fmt.Sprintf("%s: %s %s vs %s %s (diff %s, tolerance %.4f)",
				r.Metric, d.NameB, num4(r.MeanB), d.NameA, num4(r.MeanA), signed4(r.Diff), *r.Tolerance))
		}
	}
	return out
}

func num4(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4f", v)
}

func signed4(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%+.4f", v)
}

// Text writes the diff as an aligned table.
func (d *DiffResult) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	check := false
	for _, r := range d.Rows {
		check = check || r.Tolerance != nil
	}
	head := fmt.Sprintf("metric\t%s (n)\t%s (n)\tdiff B−A\t95%% CI\tbetter", d.NameA, d.NameB)
	if check {
		head += "\ttolerance\tcheck"
	}
	fmt.Fprintln(tw, head)
	for _, r := range d.Rows {
		better := "–"
		switch r.Better {
		case "A":
			better = d.NameA
		case "B":
			better = d.NameB
		}
		if r.Better != "" && r.Significant {
			better += " *"
		}
		ci := "–"
		if !math.IsNaN(r.CILow) {
			ci = fmt.Sprintf("[%s, %s]", signed4(r.CILow), signed4(r.CIHigh))
		}
		line := fmt.Sprintf("%s\t%s (%d)\t%s (%d)\t%s\t%s\t%s", r.Metric, num4(r.MeanA), r.NA, num4(r.MeanB), r.NB,
			signed4(r.Diff), ci, better)
		if check {
			if r.Tolerance == nil {
				line += "\t–\t–"
			} else if r.Regressed {
				line += fmt.Sprintf("\t%.4f\tREGRESSED", *r.Tolerance)
			} else {
				line += fmt.Sprintf("\t%.4f\tok", *r.Tolerance)
			}
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "CI: percentile bootstrap of the difference of means over seeds, %d resamples, seed %d; * = CI excludes 0; no CI unless a side has 2+ seeds.\n",
		d.Resamples, d.Seed)
	return err
}

// Expectation is one entry of an --expect file.
type Expectation struct {
	Mean      float64 `json:"mean"`
	Tolerance float64 `json:"tolerance"`
}

// ExpectFile is the --expect JSON: stored expected means with tolerances, e.g.
//
//	{"name": "cub200 nir r128", "metrics": {"e_recall@1": {"mean": 0.655, "tolerance": 0.02}}}
//
// A run set passes when, for every listed metric, its mean is not worse than the expected
// mean by more than the tolerance (direction as in DirectionOf).
type ExpectFile struct {
	Name    string                 `json:"name,omitempty"`
	Metrics map[string]Expectation `json:"metrics"`
}

// ReadExpectFile reads and checks an --expect file.
func ReadExpectFile(path string) (*ExpectFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e ExpectFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(e.Metrics) == 0 {
		return nil, fmt.Errorf("%s: no \"metrics\" with expected means", path)
	}
	for m, x := range e.Metrics {
		if x.Tolerance < 0 || math.IsNaN(x.Tolerance) {
			return nil, fmt.Errorf("%s: metric %q: tolerance must be >= 0", path, m)
		}
	}
	return &e, nil
}

// AsRuns turns expected means into a pseudo variant of one run, so that an expectation
// check is a Diff of the runs against it (A = expected, B = measured) with the file's
// tolerances; its CI then reflects only the measured runs' spread.
func (e *ExpectFile) AsRuns() ([]Run, map[string]float64) {
	m := map[string]float64{}
	tol := map[string]float64{}
	for k, x := range e.Metrics {
		m[k] = x.Mean
		tol[k] = x.Tolerance
	}
	return []Run{{Block: "expected", Metrics: m}}, tol
}

func sortedMetricNames(m map[string]float64) []string {
	return sortedNames(m)
}
