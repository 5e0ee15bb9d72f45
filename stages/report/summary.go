package report

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"dmlrun/stages/evaluate/metrics"
)

// Run is one evaluated model as report and diff see it, named by the current experiment
// file (newRun): never by the block name metrics.json recorded when it was computed.
type Run struct {
	// Label names the run's row: the train block and its matrix instance without the seed,
	// "pa[embed_dim=16]", or the block alone, "nir". Runs of one evaluate block and split
	// with the same Label are one row, pooled over their seeds; nothing else is pooled.
	Label    string
	Block    string // the train block's name
	Instance string // the train node's matrix instance without the seed ("" when none)
	Seed     int64
	Addr     string // the train node's address, "train.pa[embed_dim=16,seed=0]"
	Evaluate string // the evaluate block's name
	Split    string // the split that was evaluated (metrics.json)

	EvalAddr, EmbedAddr string // the evaluate and embed nodes' addresses, for messages
	// Dir is the evaluate artifact's directory (metrics.json, neighbours.safetensors) when
	// the run was read from a store or a stage input; "" otherwise.
	Dir string

	// Loss is the train block's loss kind ("oproxy", "nir"; "" when unknown): the curves
	// draw different losses on different axes.
	Loss string

	Metrics  map[string]float64
	TrainLog *metrics.Table
	// Training is how the model trained; nil when metrics.json predates that record.
	Training *metrics.Training

	// Config identifies the train configuration (parameters other than the seed, and the
	// datasets read): runs pooled into one row must share it. "" when unknown.
	Config string
	// TestData is what the run was evaluated on; Settings are the evaluate node's
	// parameters besides its metric list. diff refuses to call two sides comparable when
	// either differs.
	TestData TestData
	Settings map[string]string
}

// TestData is what a run was evaluated on: the dataset nodes upstream of the evaluation
// (their content keys decide, not their addresses) and the split.
type TestData struct {
	Datasets []DatasetRef `json:"datasets"`
	Split    string       `json:"split"`
}

// DatasetRef is one dataset node.
type DatasetRef struct {
	Addr string `json:"addr"`
	Key  string `json:"key"`
}

// id is what decides whether two runs saw the same test data; "" when nothing is known.
func (d TestData) id() string {
	if len(d.Datasets) == 0 {
		return ""
	}
	s := d.Split
	for _, ds := range d.Datasets {
		s += " " + ds.Key
	}
	return s
}

func (d TestData) String() string {
	s := ""
	for i, ds := range d.Datasets {
		if i > 0 {
			s += " + "
		}
		s += fmt.Sprintf("%s (key %.12s)", ds.Addr, ds.Key)
	}
	return s + ", " + d.Split + " split"
}

// RunFromResult converts a metrics.json's numbers and training record; the run's names
// (Label, Block, Addr) are left to the caller, who knows the current file (newRun).
func RunFromResult(r *metrics.Result) Run {
	m := make(map[string]float64, len(r.Metrics))
	for k, v := range r.Metrics {
		m[k] = float64(v)
	}
	return Run{Seed: r.Run.Seed, Split: r.Run.Split, Metrics: m, TrainLog: r.TrainLog, Training: r.Run.Train}
}

// Stat is one metric of one group over its seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"` // sample standard deviation (n−1); NaN for n < 2
	N    int     `json:"n"`   // runs with a finite value
}

// Group is one row: the runs of one configuration (train block and matrix instance) in
// one row set (evaluate block and split), over their seeds.
type Group struct {
	Set      string // the row set: the evaluate block, "test", or "test/val" when it evaluates several splits
	Evaluate string
	Split    string
	Label    string // "pa[embed_dim=16]"
	Block    string
	Instance string
	Runs     []Run // ordered by seed
	Stats    map[string]Stat
}

// Summary is the aggregated table: row sets in first-appearance order, groups in
// first-appearance order within their set, metric columns in metrics.SortedNames order.
type Summary struct {
	Metrics []string
	Sets    []string // the distinct Group.Set values, in order
	Groups  []Group
}

// Summarize groups runs into rows (evaluate block and split, then label; first appearance
// order; runs by seed) and computes mean and sample standard deviation of every metric
// over the runs with a finite value.
//
// It refuses to pool what is not seeds of one configuration: runs of one row whose
// Config differs (train parameters other than the seed, or datasets), and one train node
// that appears twice in a row (evaluated twice on one split by one evaluate block,
// through two embed blocks). Separate rows with the same name would read as a
// contradiction, so both are errors that say what to change.
func Summarize(runs []Run) (*Summary, error) {
	s := &Summary{}
	splits := map[string][]string{} // evaluate block -> its splits, in order
	for _, r := range runs {
		if !slices.Contains(splits[r.Evaluate], r.Split) {
			splits[r.Evaluate] = append(splits[r.Evaluate], r.Split)
		}
	}
	idx := map[[2]string]int{}
	all := map[string]float64{}
	for _, r := range runs {
		set := r.Evaluate
		if len(splits[r.Evaluate]) > 1 {
			set += "/" + r.Split
		}
		k := [2]string{set, r.Label}
		i, ok := idx[k]
		if !ok {
			i = len(s.Groups)
			idx[k] = i
			s.Groups = append(s.Groups, Group{Set: set, Evaluate: r.Evaluate, Split: r.Split, Label: r.Label, Block: r.Block, Instance: r.Instance})
			if !slices.Contains(s.Sets, set) {
				s.Sets = append(s.Sets, set)
			}
		}
		g := &s.Groups[i]
		for _, o := range g.Runs {
			switch {
			case o.Addr == r.Addr:
				return nil, fmt.Errorf("%s is evaluated twice by evaluate.%s on the %s split (%s and %s): a row pools the seeds of one configuration, not repeated evaluations of one model; evaluate the two embed blocks in separate evaluate blocks",
					r.Addr, r.Evaluate, r.Split, o.EvalAddr, r.EvalAddr)
			case o.Config != r.Config:
				return nil, fmt.Errorf("row %s of evaluate.%s would pool %s and %s, which differ in more than their seed (train parameters or datasets): a row pools the seeds of one configuration",
					r.Label, r.Evaluate, o.Addr, r.Addr)
			}
		}
		g.Runs = append(g.Runs, r)
		for k := range r.Metrics {
			all[k] = 0
		}
	}
	s.Metrics = metrics.SortedNames(all)
	for gi := range s.Groups {
		g := &s.Groups[gi]
		sort.SliceStable(g.Runs, func(a, b int) bool { return g.Runs[a].Seed < g.Runs[b].Seed })
		g.Stats = map[string]Stat{}
		for _, m := range s.Metrics {
			g.Stats[m] = stat(values(g.Runs, m))
		}
	}
	return s, nil
}

func stat(xs []float64) Stat {
	st := Stat{Mean: math.NaN(), Std: math.NaN(), N: len(xs)}
	if len(xs) == 0 {
		return st
	}
	st.Mean = mean(xs)
	if len(xs) > 1 {
		st.Std = sampleStd(xs, st.Mean)
	}
	return st
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// sampleStd is the n−1 standard deviation of xs around their mean m.
func sampleStd(xs []float64, m float64) float64 {
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// fmtStat renders "0.6123 ± 0.0045", "0.6123" for a single run, "–" for no value.
func fmtStat(st Stat) string {
	switch {
	case st.N == 0:
		return "–"
	case math.IsNaN(st.Std):
		return fmt.Sprintf("%.4f", st.Mean)
	}
	return fmt.Sprintf("%.4f ± %.4f", st.Mean, st.Std)
}

func fmtVal(v float64, ok bool) string {
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.4f", v)
}

func sortedNames(m map[string]float64) []string { return metrics.SortedNames(m) }
