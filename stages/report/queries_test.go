package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"dmlrun/stages/evaluate/evaltest"
	"dmlrun/stages/evaluate/gallery"
	"dmlrun/stages/evaluate/metrics"
)

// The constructed case: ten queries, five classes of two. Each run's first neighbours are
// chosen so that the flips are known: A right and B wrong on queries 0 and 4, A wrong
// and B right on 2, 5 and 7, both right on 1, 3, 6 and 9, both wrong on 8.
var (
	qLabels  = []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}
	qClasses = []string{"zero", "one", "two", "three", "four"}
	qTopA    = []int32{1, 0, 4, 2, 5, 6, 7, 0, 0, 8}
	qTopB    = []int32{2, 0, 3, 2, 0, 4, 7, 6, 1, 8}
)

// queryRun writes an evaluate artifact with the given first neighbours (the second is
// any other query) and returns its run.
func queryRun(t *testing.T, name string, top []int32, labels []int64, dataKey string) Run {
	t.Helper()
	dir := t.TempDir()
	idx := make([]int32, 0, 2*len(top))
	for i, j := range top {
		second := int32((i + 1) % len(top))
		if second == j {
			second = int32((i + 2) % len(top))
		}
		idx = append(idx, j, second)
	}
	if err := metrics.WriteNeighbours(dir, metrics.QueryNeighbours{Neighbours: metrics.Neighbours{Idx: idx, K: 2}, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	return Run{Label: name, Addr: "train." + name + "[seed=0]", EvalAddr: "evaluate.test[embed.test[train." + name + "[seed=0]]]", Split: "test", Dir: dir,
		TestData: TestData{Datasets: []DatasetRef{{Addr: "dataset.toy", Key: dataKey}}, Split: "test"}}
}

func queryData(t *testing.T) *QueryData {
	t.Helper()
	dir := evaltest.WriteDataset(t, t.TempDir(), "test", qClasses, qLabels)
	d, p, err := OpenQueryData("dataset.toy", dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return d
}

func queriesOf(fs []Flip) []int {
	var out []int
	for _, f := range fs {
		out = append(out, f.Query)
	}
	return out
}

// The flips of the constructed case, per direction and per class, with names and paths.
func TestQueryDiff(t *testing.T) {
	a, b := queryRun(t, "a", qTopA, qLabels, "toykey"), queryRun(t, "b", qTopB, qLabels, "toykey")
	f, err := QueryDiff(a, b, "a", "b", queryData(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := queriesOf(f.AOnly); !slices.Equal(got, []int{0, 4}) {
		t.Errorf("A right, B wrong: %v, want [0 4]", got)
	}
	if got := queriesOf(f.BOnly); !slices.Equal(got, []int{2, 5, 7}) {
		t.Errorf("A wrong, B right: %v, want [2 5 7]", got)
	}
	if f.BothRight != 4 || f.BothWrong != 1 || f.N != 10 {
		t.Errorf("both right %d, both wrong %d, n %d; want 4, 1, 10", f.BothRight, f.BothWrong, f.N)
	}
	if ra, rb := f.Recall(); ra != 0.6 || rb != 0.7 {
		t.Errorf("Recall@1 %v -> %v, want 0.6 -> 0.7", ra, rb)
	}
	var classes []string
	for _, c := range f.Classes {
		classes = append(classes, c.Class)
		if c.Size != 2 {
			t.Errorf("class %s size %d", c.Class, c.Size)
		}
	}
	if want := []string{"two", "zero", "one", "three"}; !slices.Equal(classes, want) {
		t.Errorf("classes %v, want %v (most flips first, then by label)", classes, want)
	}
	if c := f.Classes[0]; c.AOnly != 1 || c.BOnly != 1 {
		t.Errorf("class two: %+v, want one flip each way", c)
	}
	fl := f.AOnly[1] // query 4: A's top-1 is 5 (class two), B's is 0 (class zero)
	if fl.ATop != 5 || fl.BTop != 0 || fl.Class != "two" || fl.AClass != "two" || fl.BClass != "zero" || fl.Path != "img/two/004.png" {
		t.Errorf("flip of query 4: %+v", fl)
	}
	var text bytes.Buffer
	if err := f.Text(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "queries.txt", text.Bytes())

	// without the dataset: classes by number, no paths
	f, err = QueryDiff(a, b, "a", "b", nil)
	if err != nil || f.AOnly[0].Class != "" || f.AOnly[0].Path != "" || !strings.Contains(func() string { var w bytes.Buffer; f.Text(&w); return w.String() }(), "class 0") {
		t.Errorf("without data: %v, %+v", err, f)
	}
}

func TestQueryDiffRefusals(t *testing.T) {
	a := queryRun(t, "a", qTopA, qLabels, "toykey")
	other := queryRun(t, "b", qTopB, qLabels, "carskey")
	shuffled := queryRun(t, "b", qTopB, []int64{4, 4, 0, 0, 1, 1, 2, 2, 3, 3}, "toykey")
	old := queryRun(t, "b", qTopB, qLabels, "toykey")
	old.Dir = t.TempDir() // no neighbours.safetensors
	cases := []struct {
		name string
		b    Run
		want string
	}{
		{"different test data", other, "a was evaluated on dataset.toy (key toykey), test split and b on dataset.toy (key carskey), test split"},
		{"different labels", shuffled, "or their labels differ: they were not evaluated on the same test data"},
		{"evaluated before version 3", old, "has no neighbours.safetensors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := QueryDiff(a, c.b, "a", "b", nil); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	side := &Side{Name: "pa[embed_dim=16]", Runs: []Run{{Seed: 0}, {Seed: 1}, {Seed: 2}}}
	if _, err := SingleRun(side); err == nil || !strings.Contains(err.Error(), "pa[embed_dim=16] has 3 runs (seeds 0, 1, 2)") || !strings.Contains(err.Error(), "e.g. pa[embed_dim=16,seed=0]") {
		t.Errorf("several runs: %v", err)
	}
}

// The flip picture: a section per direction, each flipped query with A's and B's first
// neighbour, marked right (green) or wrong (red); at most max per direction, evenly
// spaced.
func TestFlipSheet(t *testing.T) {
	data := queryData(t)
	f, err := QueryDiff(queryRun(t, "a", qTopA, qLabels, "k"), queryRun(t, "b", qTopB, qLabels, "k"), "a", "b", data)
	if err != nil {
		t.Fatal(err)
	}
	s := f.FlipSheet(data, 2)
	if len(s.Sections) != 2 || len(s.Sections[0].Groups) != 2 || len(s.Sections[1].Groups) != 2 {
		t.Fatalf("sections %+v", s.Sections)
	}
	if h := s.Sections[1].Heading; h != "a wrong, b right: 3 queries (2 shown, evenly spaced by query index)" {
		t.Errorf("heading %q", h)
	}
	var marks []gallery.Mark
	for _, tl := range s.Sections[0].Groups[0].Tiles {
		marks = append(marks, tl.Mark)
	}
	if want := []gallery.Mark{gallery.Query, gallery.Hit, gallery.Miss}; !slices.Equal(marks, want) {
		t.Errorf("A right, B wrong marks %v, want %v", marks, want)
	}
	if g := s.Sections[1].Groups[1]; g.Label != "#5" || g.Tiles[1].Mark != gallery.Miss || g.Tiles[2].Mark != gallery.Hit {
		t.Errorf("second shown of A wrong, B right: %+v (want query 5, the middle of 2, 5, 7)", g)
	}
	if _, err := s.PNG(); err != nil {
		t.Fatal(err)
	}
}
