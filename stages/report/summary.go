package report

import (
	"fmt"
	"math"
	"sort"

	"dmlrun/stages/evaluate/metrics"
)

// Run is one evaluated model as report and diff see it.
type Run struct {
	Block    string // train block name: the group key
	Seed     int64
	Addr     string
	Metrics  map[string]float64
	TrainLog *metrics.Table
}

// RunFromResult converts a metrics.json.
func RunFromResult(r *metrics.Result) Run {
	m := make(map[string]float64, len(r.Metrics))
	for k, v := range r.Metrics {
		m[k] = float64(v)
	}
	block := r.Run.Block
	if block == "" {
		block = r.Run.Addr
	}
	return Run{Block: block, Seed: r.Run.Seed, Addr: r.Run.Addr, Metrics: m, TrainLog: r.TrainLog}
}

// Stat is one metric of one group over its seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"` // sample standard deviation (n−1); NaN for n < 2
	N    int     `json:"n"`   // runs with a finite value
}

// Group is all runs of one block.
type Group struct {
	Block string
	Runs  []Run // ordered by seed
	Stats map[string]Stat
}

// Summary is the aggregated table: groups in first-appearance order, metric columns in
// metrics.SortedNames order.
type Summary struct {
	Metrics []string
	Groups  []Group
}

// Summarize groups runs by block (first appearance order; runs by seed) and computes mean
// and sample standard deviation of every metric over the runs with a finite value.
func Summarize(runs []Run) *Summary {
	s := &Summary{}
	idx := map[string]int{}
	all := map[string]float64{}
	for _, r := range runs {
		i, ok := idx[r.Block]
		if !ok {
			i = len(s.Groups)
			idx[r.Block] = i
			s.Groups = append(s.Groups, Group{Block: r.Block})
		}
		s.Groups[i].Runs = append(s.Groups[i].Runs, r)
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
			var xs []float64
			for _, r := range g.Runs {
				if v, ok := r.Metrics[m]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
					xs = append(xs, v)
				}
			}
			g.Stats[m] = stat(xs)
		}
	}
	return s
}

func stat(xs []float64) Stat {
	st := Stat{Mean: math.NaN(), Std: math.NaN(), N: len(xs)}
	if len(xs) == 0 {
		return st
	}
	st.Mean = mean(xs)
	if len(xs) > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - st.Mean) * (x - st.Mean)
		}
		st.Std = math.Sqrt(ss / float64(len(xs)-1))
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
