package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"dmlrun/stages/evaluate/gallery"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/load"
)

// QueryData is the evaluated split's images, for class names, image paths and pictures;
// a QueryDiff without it names classes by number.
type QueryData struct {
	Dataset string      // the dataset node's address, "dataset.emoji"
	Split   *load.Split // the evaluated split
	Paths   []string    // each image's source, relative to the dataset root ("" when unknown)
}

// OpenQueryData opens a prepared dataset artifact's split with its image paths (the
// split's file list: one "path<TAB>sha256" line per image, docs/ARTIFACTS.md). The caller
// closes the returned Prepared.
func OpenQueryData(addr, dir, split string) (*QueryData, *load.Prepared, error) {
	p, err := load.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	s, err := p.Split(split)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	d := &QueryData{Dataset: addr, Split: s}
	if info := p.Manifest.Splits[split]; info != nil && info.Files != "" {
		f, err := os.Open(filepath.Join(dir, info.Files))
		if err != nil {
			p.Close()
			return nil, nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			path, _, _ := strings.Cut(sc.Text(), "\t")
			d.Paths = append(d.Paths, path)
		}
		if err := sc.Err(); err != nil {
			p.Close()
			return nil, nil, fmt.Errorf("%s: %w", info.Files, err)
		}
		if len(d.Paths) != s.Len() {
			d.Paths = nil // a list that does not match names nothing
		}
	}
	return d, p, nil
}

// Flip is a query whose Recall@1 differs between the two runs.
type Flip struct {
	Query int   `json:"query"` // index in the evaluated split
	Label int64 `json:"label"`
	// ATop and BTop are each run's nearest neighbour of the query (index in the split).
	ATop   int    `json:"a_top1"`
	BTop   int    `json:"b_top1"`
	ALabel int64  `json:"a_top1_label"`
	BLabel int64  `json:"b_top1_label"`
	Class  string `json:"class,omitempty"`
	AClass string `json:"a_top1_class,omitempty"`
	BClass string `json:"b_top1_class,omitempty"`
	Path   string `json:"path,omitempty"`
}

// ClassFlips counts one class's flipped queries.
type ClassFlips struct {
	Label int64  `json:"label"`
	Class string `json:"class,omitempty"`
	Size  int    `json:"size"`   // queries of the class
	AOnly int    `json:"a_only"` // A right, B wrong
	BOnly int    `json:"b_only"` // A wrong, B right
}

// QueryFlips is a per-query comparison of Recall@1 between two runs evaluated on the
// same test data.
type QueryFlips struct {
	A, B      string `json:"-"` // the runs' names, as the table heads them
	Data      string `json:"test_data"`
	N         int    `json:"queries"`
	BothRight int    `json:"both_right"`
	BothWrong int    `json:"both_wrong"`
	AOnly     []Flip `json:"a_right_b_wrong"`
	BOnly     []Flip `json:"a_wrong_b_right"`
	// Classes lists the classes with a flip, most flips first (then by label).
	Classes []ClassFlips `json:"classes"`
}

// SingleRun returns a side's only run, or an error that says how to name one.
func SingleRun(s *Side) (Run, error) {
	if len(s.Runs) == 1 {
		return s.Runs[0], nil
	}
	var seeds []string
	for _, r := range s.Runs {
		seeds = append(seeds, fmt.Sprint(r.Seed))
	}
	eg := s.Name + "[seed=" + seeds[0] + "]"
	if strings.HasSuffix(s.Name, "]") {
		eg = strings.TrimSuffix(s.Name, "]") + ",seed=" + seeds[0] + "]"
	}
	return Run{}, fmt.Errorf("%s has %d runs (seeds %s): a per-query comparison is between two models, one run per side; name one, e.g. %s",
		s.Name, len(s.Runs), strings.Join(seeds, ", "), eg)
}

// QueryDiff compares two runs query by query: which queries each gets right at rank 1
// (its nearest neighbour, as evaluate ranked it, has the query's class). It refuses runs
// evaluated on different test data (dataset content or split, through the lineage) and
// neighbour lists whose queries or labels differ. data, when not nil, names classes and
// images.
func QueryDiff(a, b Run, aName, bName string, data *QueryData) (*QueryFlips, error) {
	if ia, ib := a.TestData.id(), b.TestData.id(); ia != "" && ib != "" && ia != ib {
		return nil, fmt.Errorf("%s was evaluated on %s and %s on %s: per-query results compare the same queries; compare runs evaluated on the same test data",
			aName, a.TestData, bName, b.TestData)
	}
	qa, err := readQueries(a, aName)
	if err != nil {
		return nil, err
	}
	qb, err := readQueries(b, bName)
	if err != nil {
		return nil, err
	}
	if qa.Len() != qb.Len() || !slices.Equal(qa.Labels, qb.Labels) {
		return nil, fmt.Errorf("%s scored %d queries and %s %d, or their labels differ: they were not evaluated on the same test data", aName, qa.Len(), bName, qb.Len())
	}
	if data != nil && data.Split.Len() != qa.Len() {
		return nil, fmt.Errorf("%s's %s split has %d images, the runs scored %d queries", data.Dataset, data.Split.Name, data.Split.Len(), qa.Len())
	}
	f := &QueryFlips{A: aName, B: bName, N: qa.Len(), Data: a.TestData.String()}
	if len(a.TestData.Datasets) == 0 {
		f.Data = a.Split + " split"
	}
	name := func(l int64) string {
		if data == nil {
			return ""
		}
		return className(data.Split, l)
	}
	sizes := map[int64]int{}
	byClass := map[int64]*ClassFlips{}
	for i := range qa.Len() {
		y := qa.Labels[i]
		sizes[y]++
		ha, hb := qa.Hit(i), qb.Hit(i)
		switch {
		case ha && hb:
			f.BothRight++
			continue
		case !ha && !hb:
			f.BothWrong++
			continue
		}
		fl := Flip{Query: i, Label: y, ATop: int(qa.Row(i)[0]), BTop: int(qb.Row(i)[0])}
		fl.ALabel, fl.BLabel = qa.Labels[fl.ATop], qb.Labels[fl.BTop]
		fl.Class, fl.AClass, fl.BClass = name(y), name(fl.ALabel), name(fl.BLabel)
		if data != nil && data.Paths != nil {
			fl.Path = data.Paths[i]
		}
		c := byClass[y]
		if c == nil {
			c = &ClassFlips{Label: y, Class: name(y)}
			byClass[y] = c
		}
		if ha {
			f.AOnly = append(f.AOnly, fl)
			c.AOnly++
		} else {
			f.BOnly = append(f.BOnly, fl)
			c.BOnly++
		}
	}
	for _, c := range byClass {
		c.Size = sizes[c.Label]
		f.Classes = append(f.Classes, *c)
	}
	sort.Slice(f.Classes, func(i, j int) bool {
		ci, cj := f.Classes[i], f.Classes[j]
		if ti, tj := ci.AOnly+ci.BOnly, cj.AOnly+cj.BOnly; ti != tj {
			return ti > tj
		}
		return ci.Label < cj.Label
	})
	return f, nil
}

func readQueries(r Run, name string) (metrics.QueryNeighbours, error) {
	if r.Dir == "" {
		return metrics.QueryNeighbours{}, fmt.Errorf("%s: no evaluate artifact to read per-query results from", name)
	}
	q, err := metrics.ReadNeighbours(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return q, fmt.Errorf("%s: %s has no %s (evaluated before evaluate version 3 kept per-query neighbours); run dmlrun apply to evaluate it again",
			name, r.EvalAddr, metrics.NeighboursFile)
	}
	if err != nil {
		return q, fmt.Errorf("%s: %w", name, err)
	}
	return q, nil
}

func className(s *load.Split, l int64) string {
	if l >= 0 && int(l) < len(s.Classes) {
		return s.Classes[l]
	}
	return fmt.Sprintf("class %d", l)
}

// Recall returns each run's Recall@1 over the queries.
func (f *QueryFlips) Recall() (a, b float64) {
	if f.N == 0 {
		return 0, 0
	}
	right := float64(f.BothRight)
	return (right + float64(len(f.AOnly))) / float64(f.N), (right + float64(len(f.BOnly))) / float64(f.N)
}

// Text writes the comparison: the counts, the flips per class and every flipped query.
func (f *QueryFlips) Text(w io.Writer) error {
	ra, rb := f.Recall()
	fmt.Fprintf(w, "per-query Recall@1, %s vs %s, on %s (%d queries):\n", f.A, f.B, f.Data, f.N)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s right, %s wrong\t%d\n", f.A, f.B, len(f.AOnly))
	fmt.Fprintf(tw, "  %s wrong, %s right\t%d\n", f.A, f.B, len(f.BOnly))
	fmt.Fprintf(tw, "  both right\t%d\n", f.BothRight)
	fmt.Fprintf(tw, "  both wrong\t%d\n", f.BothWrong)
	net := len(f.BOnly) - len(f.AOnly)
	fmt.Fprintf(tw, "  Recall@1\t%.4f -> %.4f (%+d quer%s)\n", ra, rb, net, map[bool]string{true: "y", false: "ies"}[net == 1 || net == -1])
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(f.Classes) == 0 {
		_, err := fmt.Fprintln(w, "no query flipped")
		return err
	}
	fmt.Fprintf(w, "\nflips per class (%d classes with a flip, most first):\n", len(f.Classes))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  class\tqueries\t%s right, %s wrong\t%s wrong, %s right\n", f.A, f.B, f.A, f.B)
	for _, c := range f.Classes {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\n", classText(c.Class, c.Label), c.Size, c.AOnly, c.BOnly)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, part := range []struct {
		head  string
		flips []Flip
	}{{fmt.Sprintf("%s right, %s wrong", f.A, f.B), f.AOnly}, {fmt.Sprintf("%s wrong, %s right", f.A, f.B), f.BOnly}} {
		if len(part.flips) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nqueries %s (%d):\n", part.head, len(part.flips))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  query\tclass\t%s top-1\t%s top-1\timage\n", f.A, f.B)
		for _, fl := range part.flips {
			fmt.Fprintf(tw, "  #%d\t%s\t#%d %s\t#%d %s\t%s\n", fl.Query, classText(fl.Class, fl.Label),
				fl.ATop, classText(fl.AClass, fl.ALabel), fl.BTop, classText(fl.BClass, fl.BLabel), orDash(fl.Path))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func classText(name string, label int64) string {
	if name == "" {
		return fmt.Sprintf("class %d", label)
	}
	return name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// FlipSheet draws the flipped queries: per direction, up to max of them (evenly spaced
// through the list when there are more), each as its image, A's nearest neighbour and B's
// (green when of the query's class, red when not).
func (f *QueryFlips) FlipSheet(data *QueryData, max int) gallery.Sheet {
	sheet := gallery.Sheet{Title: []string{
		fmt.Sprintf("per-query Recall@1: %s vs %s on %s", f.A, f.B, f.Data),
		"each query with each model's nearest neighbour; green: the query's class (right), red: another class (wrong)",
	}}
	for _, part := range []struct {
		head  string
		flips []Flip
	}{{fmt.Sprintf("%s right, %s wrong", f.A, f.B), f.AOnly}, {fmt.Sprintf("%s wrong, %s right", f.A, f.B), f.BOnly}} {
		shown := spaced(part.flips, max)
		head := fmt.Sprintf("%s: %d queries", part.head, len(part.flips))
		if len(shown) < len(part.flips) {
			head += fmt.Sprintf(" (%d shown, evenly spaced by query index)", len(shown))
		}
		sec := gallery.Section{Heading: head, Header: []string{"query", f.A, f.B}, PerLine: 4, Split: 1}
		for _, fl := range shown {
			mark := func(l int64) gallery.Mark {
				if l == fl.Label {
					return gallery.Hit
				}
				return gallery.Miss
			}
			sec.Groups = append(sec.Groups, gallery.Group{Label: fmt.Sprintf("#%d", fl.Query), Tiles: []gallery.Tile{
				{Image: gallery.SplitImage(data.Split, fl.Query), Caption: classText(fl.Class, fl.Label), Mark: gallery.Query},
				{Image: gallery.SplitImage(data.Split, fl.ATop), Caption: classText(fl.AClass, fl.ALabel), Mark: mark(fl.ALabel)},
				{Image: gallery.SplitImage(data.Split, fl.BTop), Caption: classText(fl.BClass, fl.BLabel), Mark: mark(fl.BLabel)},
			}})
		}
		sheet.Sections = append(sheet.Sections, sec)
	}
	return sheet
}

// spaced returns at most n of xs, evenly spaced, in order.
func spaced(xs []Flip, n int) []Flip {
	if n <= 0 || len(xs) <= n {
		return xs
	}
	out := make([]Flip, n)
	for i := range n {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}
