package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// rows returns the table as strings: header, then per group a summary row and, with
// perSeed, one row per run.
func (s *Summary) rows(perSeed bool) (head []string, body [][]string) {
	head = append([]string{"run", "n"}, s.Metrics...)
	for _, g := range s.Groups {
		row := []string{g.Block, strconv.Itoa(len(g.Runs))}
		for _, m := range s.Metrics {
			row = append(row, fmtStat(g.Stats[m]))
		}
		body = append(body, row)
		if !perSeed {
			continue
		}
		for _, r := range g.Runs {
			row := []string{fmt.Sprintf("  %s seed=%d", g.Block, r.Seed), "1"}
			for _, m := range s.Metrics {
				v, ok := r.Metrics[m]
				row = append(row, fmtVal(v, ok))
			}
			body = append(body, row)
		}
	}
	return head, body
}

func renderTable(w io.Writer, head []string, body [][]string, markdown bool) error {
	opts := []tablewriter.Option{tablewriter.WithConfig(tablewriter.Config{
		Header: tw.CellConfig{Formatting: tw.CellFormatting{AutoFormat: tw.Off}},
		Row:    tw.CellConfig{Alignment: tw.CellAlignment{Global: tw.AlignLeft}},
	})}
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(head)
	for _, r := range body {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	return t.Render()
}

// Text renders the terminal table.
func (s *Summary) Text(w io.Writer, perSeed bool) error {
	h, b := s.rows(perSeed)
	return renderTable(w, h, b, false)
}

// Markdown renders table.md.
func (s *Summary) Markdown(perSeed bool) ([]byte, error) {
	var buf bytes.Buffer
	h, b := s.rows(perSeed)
	err := renderTable(&buf, h, b, true)
	return buf.Bytes(), err
}

// CSV renders table.csv: columns run, seed ("" on group rows), n, then per metric its mean
// (or the run's value) and <metric>_std; full precision, empty cells for missing values.
func (s *Summary) CSV(perSeed bool) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"run", "seed", "n"}
	for _, m := range s.Metrics {
		head = append(head, m, m+"_std")
	}
	w.Write(head)
	num := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, g := range s.Groups {
		row := []string{g.Block, "", strconv.Itoa(len(g.Runs))}
		for _, m := range s.Metrics {
			st := g.Stats[m]
			row = append(row, num(st.Mean), num(st.Std))
		}
		w.Write(row)
		if !perSeed {
			continue
		}
		for _, r := range g.Runs {
			row := []string{g.Block, strconv.FormatInt(r.Seed, 10), "1"}
			for _, m := range s.Metrics {
				v, ok := r.Metrics[m]
				if !ok {
					v = math.NaN()
				}
				row = append(row, num(v), "")
			}
			w.Write(row)
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

type jsonStat struct {
	Mean *float64 `json:"mean"`
	Std  *float64 `json:"std"`
	N    int      `json:"n"`
}

type jsonRun struct {
	Seed    int64               `json:"seed"`
	Addr    string              `json:"addr"`
	Metrics map[string]*float64 `json:"metrics"`
}

type jsonGroup struct {
	Block string              `json:"block"`
	Stats map[string]jsonStat `json:"stats"`
	Runs  []jsonRun           `json:"runs"`
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// JSON renders table.json: {"metrics": [...], "groups": [{"block", "stats": {metric: {mean,
// std, n}}, "runs": [{seed, addr, metrics}]}]}; non-finite numbers are null. Runs are always
// included (the JSON is for machines).
func (s *Summary) JSON() ([]byte, error) {
	out := struct {
		Metrics []string    `json:"metrics"`
		Groups  []jsonGroup `json:"groups"`
	}{Metrics: s.Metrics}
	for _, g := range s.Groups {
		jg := jsonGroup{Block: g.Block, Stats: map[string]jsonStat{}}
		for m, st := range g.Stats {
			jg.Stats[m] = jsonStat{Mean: ptr(st.Mean), Std: ptr(st.Std), N: st.N}
		}
		for _, r := range g.Runs {
			jr := jsonRun{Seed: r.Seed, Addr: r.Addr, Metrics: map[string]*float64{}}
			for m, v := range r.Metrics {
				jr.Metrics[m] = ptr(v)
			}
			jg.Runs = append(jg.Runs, jr)
		}
		out.Groups = append(out.Groups, jg)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	return append(b, '\n'), err
}
