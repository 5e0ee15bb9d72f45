package train

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"dmlrun/internal/tfevents"
	"dmlrun/internal/tfevents/tfeventstest"
	"dmlrun/stages/train/traintest"
)

// TestTrainEvents: one event per log row at step epoch+1 (wall time = step), the row's
// values under their tags in a fixed order, NaN (an empty CSV cell) left out, evaluations
// only on evaluated epochs, and a log that does not fit its groups is an error.
func TestTrainEvents(t *testing.T) {
	groups := []string{"network", "proxies"}
	cols := []string{"val_e_recall@1", "test_e_recall@1", "test_mAP@R"}
	rows := []logRow{
		{Epoch: 0, Loss: math.NaN(), Skipped: 3, Steps: 3, LRs: []float64{1e-3, 0.1}, Seconds: 9.5},
		{Epoch: 1, Loss: 2.5, Skipped: 0, Steps: 3, LRs: []float64{5e-4, 0.05}, Seconds: 1,
			Evals: map[string]float64{"val_e_recall@1": 0.25, "test_e_recall@1": math.NaN(), "test_mAP@R": 0.125}},
	}
	got, err := trainEvents(groups, nil, cols, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []tfevents.Event{
		{WallTime: 1, Step: 1, Values: []tfevents.Value{
			{Tag: "train/skipped", Simple: 3}, {Tag: "train/steps", Simple: 3},
			{Tag: "lr/network", Simple: 1e-3}, {Tag: "lr/proxies", Simple: 0.1}}},
		{WallTime: 2, Step: 2, Values: []tfevents.Value{
			{Tag: "train/loss", Simple: 2.5}, {Tag: "train/skipped", Simple: 0}, {Tag: "train/steps", Simple: 3},
			{Tag: "lr/network", Simple: 5e-4}, {Tag: "lr/proxies", Simple: 0.05},
			{Tag: "val/e_recall@1", Simple: 0.25}, {Tag: "test/mAP@R", Simple: 0.125}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n%+v\nwant\n%+v", got, want)
	}
	// The seconds are the clock's: two logs that differ only there give the same file.
	other := append([]logRow(nil), rows...)
	other[0].Seconds, other[1].Seconds = 100, 200
	other[0].EvalSeconds = 7
	a, _ := trainEvents(groups, nil, cols, rows)
	b, _ := trainEvents(groups, nil, cols, other)
	if string(tfevents.Encode(0, a)) != string(tfevents.Encode(0, b)) {
		t.Fatal("the event file depends on the epochs' seconds")
	}

	if _, err := trainEvents(groups[:1], nil, cols, rows); err == nil || !strings.Contains(err.Error(), "epoch 0 logs 2 learning rates for 1 optimiser groups") {
		t.Fatalf("groups that do not fit: %v", err)
	}
	if _, err := trainEvents(groups, nil, []string{"recall"}, rows); err == nil || !strings.Contains(err.Error(), `"recall" is not <split>_<metric>`) {
		t.Fatalf("a column without split: %v", err)
	}
}

// logScalar is one scalar of train_log.csv as TensorBoard should show it.
type logScalar struct {
	step int64
	tag  string
	csv  string
}

// logScalars reads train_log.csv's cells as the scalars the event file must hold, by an
// independent mapping of its columns: loss, skipped, steps under train/, loss_<term> as
// train/loss/<term>, lr_<g> as lr/<g>,
// <split>_<metric> as <split>/<metric>, epoch as step (+1: the progress line's count), the
// clock's seconds (training and evaluation) and empty cells left out.
func logScalars(t *testing.T, rows [][]string) []logScalar {
	t.Helper()
	var out []logScalar
	head := rows[0]
	for _, r := range rows[1:] {
		ep, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatalf("epoch %q", r[0])
		}
		for i, c := range head[1:] {
			v := r[i+1]
			var tag string
			switch {
			case c == "seconds" || c == "eval_seconds" || v == "":
				continue
			case c == "loss" || c == "skipped" || c == "steps":
				tag = "train/" + c
			case strings.HasPrefix(c, "loss_"):
				tag = "train/loss/" + strings.TrimPrefix(c, "loss_")
			case strings.HasPrefix(c, "lr_"):
				tag = "lr/" + strings.TrimPrefix(c, "lr_")
			default:
				sp, m, _ := strings.Cut(c, "_")
				tag = sp + "/" + m
			}
			out = append(out, logScalar{int64(ep) + 1, tag, v})
		}
	}
	return out
}

// sameAsLog fails unless events (a whole file, header first) hold exactly the scalars of
// train_log.csv's rows: integers and learning rates (written in full) exactly as float32,
// the others (6 decimals) to their rounding.
func sameAsLog(t *testing.T, events []tfevents.Event, rows [][]string) {
	t.Helper()
	if len(events) == 0 || events[0].FileVersion != tfevents.FileVersion || len(events[0].Values) != 0 {
		t.Fatalf("the file does not start with the header: %+v", events)
	}
	var got []logScalar
	vals := map[logScalar]float32{}
	for i, e := range events[1:] {
		if e.Step != int64(i)+1 || e.WallTime != float64(e.Step) {
			t.Fatalf("event %d: step %d wall time %v, want step %d", i+1, e.Step, e.WallTime, i+1)
		}
		for _, v := range e.Values {
			k := logScalar{e.Step, v.Tag, ""}
			got = append(got, k)
			vals[k] = v.Simple
		}
	}
	want := logScalars(t, rows)
	if len(events)-1 != len(rows)-1 {
		t.Fatalf("%d epoch events, train_log.csv has %d rows", len(events)-1, len(rows)-1)
	}
	if len(got) != len(want) {
		t.Fatalf("%d scalars, train_log.csv has %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for i, w := range want {
		k := logScalar{w.step, w.tag, ""}
		if got[i] != k {
			t.Fatalf("scalar %d is %s at step %d, train_log.csv has %s at %d", i, got[i].tag, got[i].step, w.tag, w.step)
		}
		c, err := strconv.ParseFloat(w.csv, 64)
		if err != nil {
			t.Fatalf("%s at %d: %q", w.tag, w.step, w.csv)
		}
		v := vals[k]
		exact := !strings.Contains(w.csv, ".") || strings.HasPrefix(w.tag, "lr/")
		if exact && v != float32(c) || !exact && math.Abs(float64(v)-c) > 5e-7+6e-8*math.Abs(c) {
			t.Errorf("%s at step %d: %v, train_log.csv %s", w.tag, w.step, v, w.csv)
		}
	}
}

// TestEventFileMatchesLog: a training with per-epoch evaluation on val and test writes
// events.out.tfevents.dmlrun beside train_log.csv, and both tfevents.Read and the
// independent Python reader find exactly train_log.csv's scalars in it (evaluations only on
// the evaluated epochs). The partial directory holds the file of the epochs so far.
func TestEventFileMatchesLog(t *testing.T) {
	s := newSetup(t, 6, 8)
	traintest.WriteTinyDatasetSplits(t, s.dataDir, 6, 8, "train", "test", "val")
	s.params["eval_every"] = int64(2)
	s.params["eval_metrics"] = []string{"e_recall@1", "mAP@R"}
	s.params.Object("schedule")["epochs"] = int64(4)
	s.params.Object("schedule")["tau"] = []int64{1}
	s.params.Object("schedule")["gamma"] = 0.3
	out := t.TempDir()
	var partial [][]byte
	afterEpoch = func(int) error {
		b, err := os.ReadFile(filepath.Join(out, EventsFile))
		partial = append(partial, b)
		return err
	}
	defer func() { afterEpoch = nil }()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, out)
	if h := strings.Join(rows[0], ","); !strings.Contains(h, "val_e_recall@1,val_mAP@R,test_e_recall@1,test_mAP@R") {
		t.Fatalf("train_log.csv header %s", h)
	}
	path := filepath.Join(out, EventsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	events, err := tfevents.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	sameAsLog(t, events, rows)
	t.Logf("%d bytes, %d events; last: %+v", len(b), len(events), events[len(events)-1])
	if py, ok := tfeventstest.Read(t, path); ok && !reflect.DeepEqual(py, events) {
		t.Fatalf("read_events.py reads\n%+v\ntfevents.Read\n%+v", py, events)
	}
	for i, p := range partial {
		ev, err := tfevents.Read(p)
		if err != nil || len(ev) != i+2 || !reflect.DeepEqual(ev, events[:i+2]) {
			t.Fatalf("after epoch %d the partial file holds %d events (%v), want the first %d of the final file", i, len(ev), err, i+2)
		}
	}
}

// TestEventFileUntrained: epochs = 0 writes a file holding the header alone, as
// train_log.csv holds its header alone.
func TestEventFileUntrained(t *testing.T) {
	s := newSetup(t, 6, 8)
	s.params.Object("schedule")["epochs"] = int64(0)
	out := t.TempDir()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := tfevents.Read(b)
	if err != nil || len(ev) != 1 || ev[0].FileVersion != tfevents.FileVersion {
		t.Fatalf("untrained event file: %+v (%v)", ev, err)
	}
}

// TestLossTermsLogged: a nir training logs its loss terms beside the total, in
// train_log.csv (loss_proxyanchor, loss_nir right after loss) and in the event file
// (train/loss/proxyanchor, train/loss/nir); each epoch's total is the sum of the weighted
// terms (w_align * L_PA and the flow term) to the CSV's rounding, and the weighted
// ProxyAnchor term divided by w_align is a ProxyAnchor loss (positive). A loss of one
// term (oproxy) has no such columns or tags.
func TestLossTermsLogged(t *testing.T) {
	s := newSetup(t, 6, 8)
	const wAlign = 0.5
	s.params["loss"] = lossParams("nir", map[string]any{"lrmulti": 0.1, "proxy_lrmulti": 100.0, "w_align": wAlign,
		"nf_fc_width": int64(32), "nf_fc_depth": int64(3), "nf_cblocks": int64(2)})
	s.params.Object("schedule")["epochs"] = int64(3)
	out := t.TempDir()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, out)
	if h := strings.Join(rows[0][:6], ","); h != "epoch,loss,loss_proxyanchor,loss_nir,skipped,steps" {
		t.Fatalf("train_log.csv header %s", strings.Join(rows[0], ","))
	}
	if len(rows) != 4 {
		t.Fatalf("%d log rows, want 3 epochs", len(rows)-1)
	}
	for _, r := range rows[1:] {
		var v [3]float64
		for i := range v {
			f, err := strconv.ParseFloat(r[1+i], 64)
			if err != nil {
				t.Fatalf("epoch %s: %q: %v", r[0], r[1+i], err)
			}
			v[i] = f
		}
		// Each of the three cells is rounded to 6 decimals (up to 5e-7 each), and the total
		// is the float32 sum of the terms (up to half an ulp of it, below |loss|*2^-24;
		// one ulp is allowed), so the cells' sum may be off by 1.5e-6 + |loss|*2^-23.
		tol := 1.5e-6 + math.Abs(v[0])*0x1p-23 + 1e-12
		if d := math.Abs(v[0] - (v[1] + v[2])); d > tol {
			t.Errorf("epoch %s: loss %v, loss_proxyanchor + loss_nir = %v (off by %g)", r[0], v[0], v[1]+v[2], d)
		}
		if pa := v[1] / wAlign; !(pa > 0) {
			t.Errorf("epoch %s: ProxyAnchor term %v (weighted %v)", r[0], pa, v[1])
		}
		t.Logf("epoch %s: loss %v = %v + %v", r[0], v[0], v[1], v[2])
	}
	b, err := os.ReadFile(filepath.Join(out, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	events, err := tfevents.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	sameAsLog(t, events, rows)
	tags := map[string]int{}
	for _, e := range events {
		for _, v := range e.Values {
			tags[v.Tag]++
		}
	}
	if tags["train/loss"] != 3 || tags["train/loss/proxyanchor"] != 3 || tags["train/loss/nir"] != 3 {
		t.Fatalf("event file tags %v", tags)
	}

	one, _ := trainTiny(t, "oproxy")
	for _, c := range readLog(t, one)[0] {
		if strings.HasPrefix(c, "loss_") {
			t.Fatalf("oproxy log has a term column %q", c)
		}
	}
}
