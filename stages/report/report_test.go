package report

import (
	"bytes"
	"context"
	goldenfile "dmlrun/internal/golden"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testdata", name+".golden"), got)
}

// fixtureRuns: baseline and nir, 3 seeds each, with train logs; nir seed 2 lacks mAP_1000.
func fixtureResults() []*metrics.Result {
	var out []*metrics.Result
	for _, b := range []struct {
		block string
		base  float64
	}{{"baseline", 0.60}, {"nir", 0.63}} {
		for seed := int64(0); seed < 3; seed++ {
			d := float64(seed) * 0.01
			m := map[string]metrics.Value{
				"e_recall@1": metrics.Value(b.base + d), "e_recall@2": metrics.Value(b.base + 0.1 + d/2),
				"nmi": metrics.Value(0.7 - d), "mAP_1000": metrics.Value(0.3 + d),
			}
			if b.block == "nir" && seed == 2 {
				delete(m, "mAP_1000")
			}
			log := &metrics.Table{Columns: []string{"epoch", "loss", "skipped", "seconds", "test_recall@1"}}
			for ep := 0; ep < 10; ep++ {
				r := metrics.Value(math.NaN())
				if ep%2 == 0 {
					r = metrics.Value(b.base - 0.3/float64(ep+1) + d)
				}
				log.Rows = append(log.Rows, []metrics.Value{metrics.Value(ep), metrics.Value(2/float64(ep+1) + d), 0, 1, r})
			}
			out = append(out, &metrics.Result{Metrics: m, TrainLog: log,
				Run: metrics.Run{Block: b.block, Seed: seed, Addr: fmt.Sprintf("train.%s[seed=%d]", b.block, seed), Split: "test"}})
		}
	}
	return out
}

// fixtureInput is the report input (an evaluate node) of a fixture result, with the
// lineage the pipeline gives it: the train node block[seed=N], its embed node, its dataset.
func fixtureInput(r *metrics.Result, dir string) stage.Input {
	tr := stage.Input{Stage: "train", Block: r.Run.Block, Instance: fmt.Sprintf("seed=%d", r.Run.Seed), Addr: r.Run.Addr,
		Key: "key-of-" + r.Run.Addr, Params: map[string]any{"seed": r.Run.Seed, "lr": 1e-5}}
	em := stage.Input{Stage: "embed", Block: "test", Instance: tr.Addr, Addr: "embed.test[" + tr.Addr + "]", Params: map[string]any{"split": "test"}}
	ds := stage.Input{Stage: "dataset", Block: "cub", Addr: "dataset.cub", Key: "cubkey0123456789"}
	return stage.Input{Param: "from", Stage: "evaluate", Block: "test", Instance: em.Addr, Addr: "evaluate.test[" + em.Addr + "]", Dir: dir,
		Params:    map[string]any{"metrics": []string{"e_recall@1"}, "kmeans_classes": int64(0)},
		Ancestors: []stage.Input{ds, tr, em}}
}

// fixtureRun is a fixture result named as the report stage names it.
func fixtureRun(r *metrics.Result) Run {
	o, err := originOfInput(fixtureInput(r, ""))
	if err != nil {
		panic(err)
	}
	return newRun(o, r)
}

func runStage(t *testing.T, perSeed bool, formats []string) (string, string) {
	t.Helper()
	var ins []stage.Input
	for _, r := range fixtureResults() {
		d := t.TempDir()
		if err := metrics.WriteResult(d, r); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, fixtureInput(r, d))
	}
	// reversed seed order in the inputs: the table must still list seeds in order
	ins[0], ins[2] = ins[2], ins[0]
	out := t.TempDir()
	var log bytes.Buffer
	ctx := &stage.Context{Context: context.Background(), Addr: "report.table",
		Params: stage.Params{"per_seed": perSeed, "formats": formats},
		Inputs: ins, OutDir: out, Log: &log}
	if err := Def().Run(ctx); err != nil {
		t.Fatal(err)
	}
	return out, log.String()
}

func TestReportTablesGolden(t *testing.T) {
	for _, perSeed := range []bool{false, true} {
		out, log := runStage(t, perSeed, AllFormats)
		sfx := map[bool]string{false: "", true: "_per_seed"}[perSeed]
		golden(t, "log"+sfx+".txt", []byte(log))
		for _, f := range []string{"table.md", "table.csv", "table.json"} {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f+sfx, b)
		}
	}
}

func TestSummaryStats(t *testing.T) {
	var runs []Run
	for _, r := range fixtureResults() {
		runs = append(runs, fixtureRun(r))
	}
	s, err := Summarize(runs)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Groups[1].Stats["e_recall@1"] // nir: 0.63, 0.64, 0.65
	if math.Abs(st.Mean-0.64) > 1e-12 || math.Abs(st.Std-0.01) > 1e-12 || st.N != 3 {
		t.Errorf("nir e_recall@1 %+v, want mean 0.64 sample std 0.01", st)
	}
	if st := s.Groups[1].Stats["mAP_1000"]; st.N != 2 || math.Abs(st.Mean-0.305) > 1e-12 {
		t.Errorf("nir mAP_1000 over the two runs that have it: %+v", st)
	}
}

// The stage writes curves.png and curves.svg that decode (a PNG of the figure's size, a
// well-formed SVG naming the panels and variants), and only the formats asked for.
func TestCurvesFiles(t *testing.T) {
	out, _ := runStage(t, false, []string{"png", "svg"})
	f, err := os.Open(filepath.Join(out, "curves.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 300 {
		t.Errorf("png size %v", b)
	}
	svg, err := os.ReadFile(filepath.Join(out, "curves.svg"))
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("curves.svg is not well-formed XML: %v", err)
		}
	}
	for _, s := range []string{"baseline (n=3 seeds)", "nir (n=3 seeds)", "test e_recall@1", "training loss"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("curves.svg lacks %q", s)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "table.md")); err == nil {
		t.Error("table.md written although formats excluded it")
	}
}

func TestUnknownFormat(t *testing.T) {
	ctx := &stage.Context{Context: context.Background(), Addr: "report.x",
		Params: stage.Params{"per_seed": false, "formats": []string{"pdf"}}, Log: io.Discard}
	if err := Def().Run(ctx); err == nil || !strings.Contains(err.Error(), `"pdf"`) {
		t.Errorf("error %v", err)
	}
}

// notesRuns: a matrix block selected on val, an untrained floor and a block selected on
// test with skipped steps, each on two evaluate blocks (val and test).
func notesRuns() []Run {
	var out []Run
	add := func(eval, split, block, inst string, seed int64, v float64, tr *metrics.Training) {
		addr := label(block, strings.TrimPrefix(inst+",", ",")+fmt.Sprintf("seed=%d", seed))
		if inst == "" {
			addr = fmt.Sprintf("%s[seed=%d]", block, seed)
		}
		out = append(out, Run{Label: label(block, inst), Block: block, Instance: inst, Seed: seed, Addr: "train." + addr,
			Evaluate: eval, Split: split, Metrics: map[string]float64{"e_recall@1": v}, Training: tr, Config: block + inst})
	}
	for _, set := range []struct {
		eval, split string
		off         float64
	}{{"val", "val", 0.1}, {"test", "test", 0}} {
		for seed := int64(0); seed < 3; seed++ {
			d := set.off + float64(seed)/100
			add(set.eval, set.split, "pa", "embed_dim=16", seed, 0.6+d, &metrics.Training{Epochs: 30, Steps: 900, SelectedEpoch: 20 + int(seed), Selection: "val:e_recall@1"})
			add(set.eval, set.split, "floor", "", seed, 0.1+d, &metrics.Training{SelectedEpoch: -1})
			skipped := 0
			if seed == 1 {
				skipped = 7
			}
			add(set.eval, set.split, "shaky", "", seed, 0.5+d, &metrics.Training{Epochs: 30, Steps: 893, Skipped: skipped, SelectedEpoch: 12, Selection: "test:e_recall@1"})
		}
	}
	return out
}

// Row sets (one per evaluate block), matrix labels and the training column, in every
// format; a test-selected row says so in each of them and in the plot legend.
func TestReportNotesGolden(t *testing.T) {
	s, err := Summarize(notesRuns())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Sets, []string{"val", "test"}) || len(s.Groups) != 6 {
		t.Fatalf("sets %v, %d groups", s.Sets, len(s.Groups))
	}
	golden(t, "notes.txt", []byte(TextTable(s, true)))
	md, err := s.Markdown(false)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "notes.md", md)
	csv, err := s.CSV(false)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "notes.csv", csv)
	j, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{md, csv, j} {
		if !strings.Contains(string(b), "selected on test by e_recall@1") {
			t.Errorf("the test-selected row is not labelled so:\n%s", b)
		}
	}
}

// Summarize pools seeds only: not runs of different configurations under one label, not
// one model evaluated twice in one row.
func TestSummarizeRefusesToPool(t *testing.T) {
	base := func(addr, config, eval string) Run {
		return Run{Label: "pa", Block: "pa", Addr: addr, Evaluate: "test", Split: "test", Config: config, EvalAddr: eval,
			Metrics: map[string]float64{"nmi": 0.5}}
	}
	cases := []struct {
		name string
		runs []Run
		want string
	}{
		{"different configurations", []Run{base("train.pa[seed=0]", "lr=1", "e1"), base("train.pa[seed=1]", "lr=2", "e2")},
			"row pa of evaluate.test would pool train.pa[seed=0] and train.pa[seed=1], which differ in more than their seed"},
		{"one model twice", []Run{base("train.pa[seed=0]", "c", "evaluate.test[embed.a[train.pa[seed=0]]]"), base("train.pa[seed=0]", "c", "evaluate.test[embed.b[train.pa[seed=0]]]")},
			"train.pa[seed=0] is evaluated twice by evaluate.test on the test split (evaluate.test[embed.a[train.pa[seed=0]]] and evaluate.test[embed.b[train.pa[seed=0]]])"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Summarize(c.runs); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// The legend of a plotted row says when its epoch was selected on test or it is untrained.
func TestCurveLegends(t *testing.T) {
	log := &metrics.Table{Columns: []string{"epoch", "loss"}, Rows: [][]metrics.Value{{0, 1}, {1, 0.5}}}
	var rs []Run
	for _, r := range notesRuns() {
		r.TrainLog = log
		rs = append(rs, r)
	}
	s, err := Summarize(rs)
	if err != nil {
		t.Fatal(err)
	}
	fig := Curves(s)
	var legends []string
	for _, e := range fig.Legend {
		legends = append(legends, e.Text)
	}
	want := []string{"pa[embed_dim=16] (n=3 seeds)", "floor (n=3 seeds; untrained)", "shaky (n=3 seeds; skipped 7 steps in 1 of 3 runs; selected on test by e_recall@1)"}
	if !slices.Equal(legends, want) {
		t.Errorf("legends %q, want %q", legends, want)
	}
	loss := fig.Panels[0]
	if len(loss.Series) != 3 {
		t.Fatalf("%d loss series, want 3 (one per variant)", len(loss.Series))
	}
	if n := loss.Series[0].Points[0].N; n != 3 {
		t.Errorf("the first loss point pools %d runs, want 3 (each model once, though val and test both evaluate it)", n)
	}
}
