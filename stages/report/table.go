package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"dmlrun/stages/evaluate/metrics"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// rows returns the table as strings: header, then per group a summary row and, with
// perSeed, one row per run. An "evaluate" column leads when there are several row sets
// (evaluate blocks or splits), a "training" column ends the table when a run has a note
// (untrained, skipped steps, epoch selection).
func (s *Summary) rows(perSeed bool) (head []string, body [][]string) {
	sets, notes := len(s.Sets) > 1, s.hasNotes()
	if sets {
		head = append(head, "evaluate")
	}
	head = append(head, "run", "n")
	head = append(head, s.Metrics...)
	if notes {
		head = append(head, "training")
	}
	for _, g := range s.Groups {
		var row []string
		if sets {
			row = append(row, g.Set)
		}
		row = append(row, g.Label, strconv.Itoa(len(g.Runs)))
		for _, m := range s.Metrics {
			row = append(row, fmtStat(g.Stats[m]))
		}
		if notes {
			row = append(row, g.Note())
		}
		body = append(body, row)
		if !perSeed {
			continue
		}
		for _, r := range g.Runs {
			var row []string
			if sets {
				row = append(row, g.Set)
			}
			row = append(row, fmt.Sprintf("  %s seed=%d", g.Label, r.Seed), "1")
			for _, m := range s.Metrics {
				v, ok := r.Metrics[m]
				row = append(row, fmtVal(v, ok))
			}
			if notes {
				row = append(row, r.Note())
			}
			body = append(body, row)
		}
	}
	return head, body
}

// hasNotes says whether any run has a training note.
func (s *Summary) hasNotes() bool {
	for _, g := range s.Groups {
		for _, r := range g.Runs {
			if r.Note() != "" {
				return true
			}
		}
	}
	return false
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

// CSV renders table.csv: columns evaluate (the row set), split, run (the row's label),
// seed ("" on group rows), n, then per metric its mean (or the run's value) and
// <metric>_std, then training (the note: untrained, skipped steps, epoch selection); full
// precision, empty cells for missing values. The columns are the same whatever the table
// holds, for programs that read it.
func (s *Summary) CSV(perSeed bool) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"evaluate", "split", "run", "seed", "n"}
	for _, m := range s.Metrics {
		head = append(head, m, m+"_std")
	}
	head = append(head, "training")
	w.Write(head)
	num := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, g := range s.Groups {
		row := []string{g.Set, g.Split, g.Label, "", strconv.Itoa(len(g.Runs))}
		for _, m := range s.Metrics {
			st := g.Stats[m]
			row = append(row, num(st.Mean), num(st.Std))
		}
		w.Write(append(row, g.Note()))
		if !perSeed {
			continue
		}
		for _, r := range g.Runs {
			row := []string{g.Set, g.Split, g.Label, strconv.FormatInt(r.Seed, 10), "1"}
			for _, m := range s.Metrics {
				v, ok := r.Metrics[m]
				if !ok {
					v = math.NaN()
				}
				row = append(row, num(v), "")
			}
			w.Write(append(row, r.Note()))
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
	Train   *metrics.Training   `json:"train,omitempty"`
	Note    string              `json:"training,omitempty"`
}

type jsonGroup struct {
	Evaluate string              `json:"evaluate"`
	Split    string              `json:"split"`
	Set      string              `json:"set"`
	Label    string              `json:"label"`
	Block    string              `json:"block"`
	Instance string              `json:"instance,omitempty"`
	Note     string              `json:"training,omitempty"`
	Stats    map[string]jsonStat `json:"stats"`
	Runs     []jsonRun           `json:"runs"`
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// JSON renders table.json: {"metrics": [...], "groups": [{"evaluate", "split", "set",
// "label", "block", "instance", "training", "stats": {metric: {mean, std, n}}, "runs":
// [{seed, addr, metrics, train, training}]}]}; non-finite numbers are null; "training" is
// the note, "train" the record it comes from. Runs are always included (the JSON is for
// machines).
func (s *Summary) JSON() ([]byte, error) {
	out := struct {
		Metrics []string    `json:"metrics"`
		Groups  []jsonGroup `json:"groups"`
	}{Metrics: s.Metrics}
	for _, g := range s.Groups {
		jg := jsonGroup{Evaluate: g.Evaluate, Split: g.Split, Set: g.Set, Label: g.Label, Block: g.Block, Instance: g.Instance,
			Note: g.Note(), Stats: map[string]jsonStat{}}
		for m, st := range g.Stats {
			jg.Stats[m] = jsonStat{Mean: ptr(st.Mean), Std: ptr(st.Std), N: st.N}
		}
		for _, r := range g.Runs {
			jr := jsonRun{Seed: r.Seed, Addr: r.Addr, Metrics: map[string]*float64{}, Train: r.Training, Note: r.Note()}
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
