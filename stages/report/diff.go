package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
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
	// Tolerances are the largest allowed worsening of B relative to A per metric (absolute,
	// in metric units); only metrics listed here are checked.
	Tolerances map[string]float64
	// Metrics restricts and orders the compared metrics; empty: every metric both sides have.
	Metrics []string
}

// Side is one side of a diff: a configuration's runs over their seeds, or expected values.
type Side struct {
	Name     string // as the table heads it: "nir", "pa[embed_dim=16]", "cub.hcl:nir@val"
	Evaluate string // the evaluate block its runs come from ("" for expected values)
	Runs     []Run
	// Fixed marks expected values (an --expect file: one pseudo-run): they are taken as
	// exact, not as a sample, so the interval is the one-sample t interval of the other
	// side, and the side has no seeds to count.
	Fixed bool
}

// MetricDiff is one row of a diff.
type MetricDiff struct {
	Metric string  `json:"metric"`
	MeanA  float64 `json:"mean_a"`
	MeanB  float64 `json:"mean_b"`
	NA     int     `json:"n_a"`
	NB     int     `json:"n_b"`
	Diff   float64 `json:"diff"`  // MeanB − MeanA
	CILow  float64 `json:"ci_lo"` // 95% Welch t interval of MeanB − MeanA (NaN: none)
	CIHigh float64 `json:"ci_hi"`
	DF     float64 `json:"df"` // its degrees of freedom (NaN: no interval)
	// Better is "A" or "B" only when the difference is significant and the metric has a
	// direction; "" otherwise (however the means compare).
	Better string `json:"better"`
	// Significant: the interval excludes 0 and both sides have at least MinSeeds seeds (a
	// fixed side counts as enough).
	Significant bool     `json:"significant"`
	Tolerance   *float64 `json:"tolerance,omitempty"`
	Regressed   bool     `json:"regressed"`
}

// MarshalJSON writes NaN and infinite numbers (no interval, a side without a value) as
// null, which encoding/json cannot do for float64.
func (m MetricDiff) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Metric      string   `json:"metric"`
		MeanA       *float64 `json:"mean_a"`
		MeanB       *float64 `json:"mean_b"`
		NA          int      `json:"n_a"`
		NB          int      `json:"n_b"`
		Diff        *float64 `json:"diff"`
		CILow       *float64 `json:"ci_lo"`
		CIHigh      *float64 `json:"ci_hi"`
		DF          *float64 `json:"df"`
		Better      string   `json:"better"`
		Significant bool     `json:"significant"`
		Tolerance   *float64 `json:"tolerance,omitempty"`
		Regressed   bool     `json:"regressed"`
	}{m.Metric, ptr(m.MeanA), ptr(m.MeanB), m.NA, m.NB, ptr(m.Diff), ptr(m.CILow), ptr(m.CIHigh), ptr(m.DF),
		m.Better, m.Significant, m.Tolerance, m.Regressed})
}

// DiffResult compares variant B (candidate) with variant A (baseline) over their seeds.
type DiffResult struct {
	NameA string `json:"a"`
	NameB string `json:"b"`
	// Method names the interval: "welch" (two samples) or "one-sample-t" (A fixed).
	Method string       `json:"method"`
	Level  float64      `json:"level"`
	Rows   []MetricDiff `json:"metrics"`
	// NotesA and NotesB say how each side's models trained when a reader must know
	// (untrained, skipped steps, epoch selection; Group.Note).
	NotesA string `json:"notes_a,omitempty"`
	NotesB string `json:"notes_b,omitempty"`
	// Incomparable says why the sides' numbers do not measure the same thing: different
	// test data (dataset content or split) or different metric settings. diff warns;
	// --check refuses to pass or fail on them.
	Incomparable []string `json:"incomparable,omitempty"`

	fixedA bool
}

// Diff compares the runs of two sides metric by metric: means, their difference B − A, a
// 95% Welch t interval of it (welch: unequal variances, Welch–Satterthwaite degrees of
// freedom; the one-sample t interval when A is Fixed), and which side is better. A side
// is called better only when the interval excludes 0 and both sides have at least
// MinSeeds seeds: with one seed there is no interval at all, with two it is not trusted
// (see MinSeeds). A percentile bootstrap, used before, is not an interval at such n: over
// 2 seeds it resamples 4 combinations and "excluded 0" for noise.
//
// A metric regresses when B is worse than A by more than its tolerance: B−A < −tol for
// higher-is-better metrics, B−A > tol for lower-is-better, |B−A| > tol for Unknown.
// Runs without a finite value for a metric are left out of that metric.
func Diff(a, b Side, opt DiffOptions) *DiffResult {
	res := &DiffResult{NameA: a.Name, NameB: b.Name, Method: "welch", Level: Level, fixedA: a.Fixed,
		NotesA: note(a.Runs, false), NotesB: note(b.Runs, false), Incomparable: incomparable(a, b)}
	if a.Fixed {
		res.Method = "one-sample-t"
	}
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
		ia, ib := in(a.Runs), in(b.Runs)
		all := map[string]float64{}
		for k := range ia {
			if ib[k] {
				all[k] = 0
			}
		}
		names = sortedMetricNames(all)
	}
	for _, m := range names {
		xa, xb := values(a.Runs, m), values(b.Runs, m)
		row := MetricDiff{Metric: m, NA: len(xa), NB: len(xb), MeanA: math.NaN(), MeanB: math.NaN(),
			Diff: math.NaN(), CILow: math.NaN(), CIHigh: math.NaN(), DF: math.NaN()}
		if len(xa) > 0 {
			row.MeanA = mean(xa)
		}
		if len(xb) > 0 {
			row.MeanB = mean(xb)
		}
		if len(xa) > 0 && len(xb) > 0 {
			row.Diff = row.MeanB - row.MeanA
			if iv, ok := welch(xa, xb, a.Fixed, Level); ok {
				row.CILow, row.CIHigh, row.DF = iv.Lo, iv.Hi, iv.DF
				enough := (a.Fixed || len(xa) >= MinSeeds) && len(xb) >= MinSeeds
				row.Significant = enough && (iv.Lo > 0 || iv.Hi < 0)
			}
			dir := DirectionOf(m)
			switch {
			case !row.Significant || dir == Unknown:
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

// incomparable lists why two sides' numbers do not measure the same thing: their runs
// were evaluated on different test data (dataset content keys or split, through the
// lineage) or with different evaluate settings (kmeans_classes, faiss_rand_int,
// faiss_padding, the k-means k used). A side whose runs disagree among themselves is
// reported too. A fixed side (expected values) has no lineage and is not compared.
func incomparable(a, b Side) []string {
	var out []string
	data := func(s Side) (ids []string, desc []string) {
		for _, r := range s.Runs {
			if id := r.TestData.id(); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
				desc = append(desc, r.TestData.String())
			}
		}
		return ids, desc
	}
	settings := func(s Side) (ids []string, first map[string]string) {
		for _, r := range s.Runs {
			if r.Settings == nil {
				continue
			}
			id := fmt.Sprint(sortedSettings(r.Settings))
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
			if first == nil {
				first = r.Settings
			}
		}
		return ids, first
	}
	sides := []Side{a, b}
	var dataIDs [2][]string
	var dataDesc [2][]string
	var setIDs [2][]string
	var sets [2]map[string]string
	for i, s := range sides {
		if s.Fixed {
			continue
		}
		dataIDs[i], dataDesc[i] = data(s)
		setIDs[i], sets[i] = settings(s)
		if len(dataIDs[i]) > 1 {
			out = append(out, fmt.Sprintf("%s: its runs were evaluated on %d different test sets (%s)", s.Name, len(dataIDs[i]), strings.Join(dataDesc[i], "; ")))
		}
		if len(setIDs[i]) > 1 {
			out = append(out, fmt.Sprintf("%s: its runs were evaluated with %d different metric settings", s.Name, len(setIDs[i])))
		}
	}
	if a.Fixed || b.Fixed {
		return out
	}
	if len(dataIDs[0]) == 1 && len(dataIDs[1]) == 1 && dataIDs[0][0] != dataIDs[1][0] {
		out = append(out, fmt.Sprintf("different test data: %s was evaluated on %s, %s on %s", a.Name, dataDesc[0][0], b.Name, dataDesc[1][0]))
	}
	if sets[0] != nil && sets[1] != nil {
		var diffs []string
		keys := map[string]bool{}
		for k := range sets[0] {
			keys[k] = true
		}
		for k := range sets[1] {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			va, oka := sets[0][k]
			vb, okb := sets[1][k]
			if va != vb || oka != okb {
				diffs = append(diffs, fmt.Sprintf("%s %s vs %s", k, orUnset(va, oka), orUnset(vb, okb)))
			}
		}
		if len(diffs) > 0 {
			out = append(out, fmt.Sprintf("different metric settings (%s vs %s): %s", a.Name, b.Name, strings.Join(diffs, ", ")))
		}
	}
	return out
}

func orUnset(v string, ok bool) string {
	if !ok {
		return "(unset)"
	}
	return v
}

func sortedSettings(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
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

func values(runs []Run, m string) []float64 {
	var xs []float64
	for _, r := range runs {
		if v, ok := r.Metrics[m]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	return xs
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

// Text writes the diff as an aligned table, with the method and what "better" means under
// it, and the sides' training notes.
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
	few := false
	for _, r := range d.Rows {
		better := "–"
		switch r.Better {
		case "A":
			better = d.NameA
		case "B":
			better = d.NameB
		}
		ci := "–"
		if !math.IsNaN(r.CILow) {
			ci = fmt.Sprintf("[%s, %s]", signed4(r.CILow), signed4(r.CIHigh))
		}
		few = few || (!d.fixedA && r.NA < MinSeeds) || r.NB < MinSeeds
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
	for _, l := range d.Footnote(few) {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// Footnote is the text under the table: the interval's method, when "better" names a
// side, and (few: some metric has a side with fewer than MinSeeds seeds) why none is
// named at small n; then the sides' training notes.
func (d *DiffResult) Footnote(few bool) []string {
	var out []string
	if d.fixedA {
		out = append(out, fmt.Sprintf("CI: one-sample Student t interval of mean(B) − expected over B's seeds (%s taken as exact); better names a side only when the interval excludes 0 and B has %d+ seeds.", d.NameA, MinSeeds))
	} else {
		out = append(out, fmt.Sprintf("CI: Welch's t interval of the difference of means over seeds (unequal variances, Welch–Satterthwaite df); better names a side only when the interval excludes 0 and both sides have %d+ seeds.", MinSeeds))
	}
	if few {
		out = append(out, fmt.Sprintf("Fewer than %d seeds on a side claim nothing: 1 seed has no spread (no interval), and 2 seeds estimate it from one difference, so the interval rests on normality that two values cannot show.", MinSeeds))
	}
	if d.NotesA != "" {
		out = append(out, fmt.Sprintf("%s: %s", d.NameA, d.NotesA))
	}
	if d.NotesB != "" {
		out = append(out, fmt.Sprintf("%s: %s", d.NameB, d.NotesB))
	}
	return out
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

// AsSide turns expected means into a Fixed side of one pseudo-run, so that an expectation
// check is a Diff of the runs against it (A = expected, B = measured) with the file's
// tolerances; its interval then reflects only the measured runs' spread. name heads the
// side's column.
func (e *ExpectFile) AsSide(name string) (Side, map[string]float64) {
	m := map[string]float64{}
	tol := map[string]float64{}
	for k, x := range e.Metrics {
		m[k] = x.Mean
		tol[k] = x.Tolerance
	}
	return Side{Name: name, Runs: []Run{{Label: name, Metrics: m}}, Fixed: true}, tol
}

func sortedMetricNames(m map[string]float64) []string {
	return sortedNames(m)
}
