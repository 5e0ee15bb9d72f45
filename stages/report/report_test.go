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
				Run: metrics.Run{Block: b.block, Seed: seed, Addr: fmt.Sprintf("train.%s[seed=%d]", b.block, seed)}})
		}
	}
	return out
}

func runStage(t *testing.T, perSeed bool, formats []string) (string, string) {
	t.Helper()
	var ins []stage.Input
	for i, r := range fixtureResults() {
		d := t.TempDir()
		if err := metrics.WriteResult(d, r); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, stage.Input{Param: "from", Addr: fmt.Sprintf("evaluate.test[%d]", i), Dir: d})
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
		runs = append(runs, RunFromResult(r))
	}
	s := Summarize(runs)
	st := s.Groups[1].Stats["e_recall@1"] // nir: 0.63, 0.64, 0.65
	if math.Abs(st.Mean-0.64) > 1e-12 || math.Abs(st.Std-0.01) > 1e-12 || st.N != 3 {
		t.Errorf("nir e_recall@1 %+v, want mean 0.64 sample std 0.01", st)
	}
	if st := s.Groups[1].Stats["mAP_1000"]; st.N != 2 || math.Abs(st.Mean-0.305) > 1e-12 {
		t.Errorf("nir mAP_1000 over the two runs that have it: %+v", st)
	}
}

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
	if b := img.Bounds(); b.Dx() != 2*panelW || b.Dy() != panelH {
		t.Errorf("png size %v", b)
	}
	// both block colours must appear in both panels
	for pi := 0; pi < 2; pi++ {
		for gi := 0; gi < 2; gi++ {
			want := palette[gi]
			found := false
			for y := 0; y < panelH && !found; y++ {
				for x := pi * panelW; x < (pi+1)*panelW; x++ {
					r, g, b, _ := img.At(x, y).RGBA()
					if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
						found = true
						break
					}
				}
			}
			if !found {
				t.Errorf("panel %d lacks the colour of group %d", pi, gi)
			}
		}
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
	for _, s := range []string{"baseline (3)", "nir (3)", "test Recall@1", rgb(palette[0]), rgb(palette[1])} {
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
