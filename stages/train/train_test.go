package train

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/stages/train/traintest"
	"dmlrun/torch"
)

// ---- helpers -----------------------------------------------------------------------

type nopProgress = traintest.Progress

func writeTinyDataset(t *testing.T, dir string, classes, per int) {
	traintest.WriteTinyDataset(t, dir, classes, per)
}

// runTrain runs the built-in train stage on ctx.Params (decoded by Run, as for a node whose
// executor passes no Config).
func runTrain(ctx *stage.Context) error { return Def().Run(ctx) }

// parseConfig decodes train parameters as validation does.
func parseConfig(p stage.Params) (*Config, error) {
	c, probs := Def().Decode(p)
	if len(probs) > 0 {
		return nil, probs.Err()
	}
	return c.(*Config), nil
}

// builtinOptions are the tables the built-in train stage uses.
var builtinOptions = Options{}.withDefaults(nil)

// canon converts a schema default to its canonical decoded type (as spec does).
func canon(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case []int:
		out := make([]int64, len(x))
		for i := range x {
			out[i] = int64(x[i])
		}
		return out
	}
	return v
}

func fill(ps []stage.Param) stage.Params {
	out := stage.Params{}
	for _, p := range ps {
		switch {
		case p.Type == stage.Object && p.Variants == nil:
			out[p.Name] = map[string]any(fill(p.Fields))
		case p.Default != nil && p.Variants == nil:
			out[p.Name] = canon(p.Default)
		}
	}
	return out
}

// lossParams returns the filled loss block of kind with overrides.
func lossParams(kind string, over map[string]any) map[string]any {
	m := map[string]any(fill(criteria.Variants()[kind]))
	m["kind"] = kind
	for k, v := range over {
		m[k] = v
	}
	return m
}

type setup struct {
	dataDir string
	params  stage.Params
}

func newSetup(t *testing.T, classes, per int) *setup {
	dd := t.TempDir()
	writeTinyDataset(t, dd, classes, per)
	p := fill(Def().Params)
	p["arch"] = "smallcnn_normalize"
	p["embed_dim"] = int64(16)
	p["loss"] = lossParams("oproxy", map[string]any{})
	s := p.Object("schedule")
	s["epochs"] = int64(3)
	s["batch_size"] = int64(16)
	s["lr"] = 1e-3
	s["augmentation"] = "base"
	return &setup{dataDir: dd, params: p}
}

func (s *setup) ctx(t *testing.T, out string, resumed bool, log io.Writer) *stage.Context {
	if log == nil {
		log = io.Discard
	}
	return &stage.Context{
		Context: context.Background(), Addr: "train.test[seed=0]", Key: "k", Params: s.params,
		Inputs: []stage.Input{{Param: "dataset", Addr: "dataset.tiny", Block: "tiny", Stage: "dataset", Key: "dskey", Dir: s.dataDir}},
		OutDir: out, Resumed: resumed, Log: log, Progress: nopProgress{}, Device: "cpu", Threads: 1,
	}
}

func readLog(t *testing.T, dir string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "train_log.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func loadCkpt(t *testing.T, path string) map[string]*torch.Tensor {
	t.Helper()
	sd, _, _, err := torch.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// ---- tests ---------------------------------------------------------------------------

func TestSchema(t *testing.T) {
	p := fill(Def().Params)
	s := p.Object("schedule")
	if s.Int("epochs") != 150 || s.Int("batch_size") != 112 || s.Float("lr") != 1e-5 || s.Float("decay") != 4e-4 ||
		s.Float("gamma") != 0.3 || s.Ints("tau")[0] != 10000 || s.Int("samples_per_class") != 2 || p.Int("embed_dim") != 128 {
		t.Fatalf("defaults differ from the original's: %v", p)
	}
	var loss stage.Param
	for _, q := range Def().Params {
		if q.Doc == "" {
			t.Errorf("parameter %s has no Doc", q.Name)
		}
		for _, f := range q.Fields {
			if f.Doc == "" {
				t.Errorf("parameter %s.%s has no Doc", q.Name, f.Name)
			}
		}
		if q.Name == "loss" {
			loss = q
		}
	}
	if loss.Default != "oproxy" || loss.Variants["oproxy"] == nil || loss.Variants["nir"] == nil {
		t.Fatalf("loss param: default %v, variants %d", loss.Default, len(loss.Variants))
	}
	if d := Def(); !d.Resumable || !d.Exclusive {
		t.Fatal("train stage not defined as resumable and exclusive")
	}
}

// TestEndToEnd trains smallcnn with oproxy and with nir through the stage's Run
// (stages/embed's tests embed such a model).
func TestEndToEnd(t *testing.T) {
	for _, kind := range []string{"oproxy", "nir"} {
		t.Run(kind, func(t *testing.T) {
			s := newSetup(t, 6, 8)
			if kind == "nir" {
				// Small flow and learning rates that train without skipping (with the
				// original's x50 flow multiplier at lr 1e-3 nearly every step overflows).
				s.params["loss"] = lossParams("nir", map[string]any{"lrmulti": 0.1, "proxy_lrmulti": 100.0,
					"nf_fc_width": int64(32), "nf_fc_depth": int64(3), "nf_cblocks": int64(2)})
				s.params.Object("schedule")["warmup"] = int64(1)
			}
			out := t.TempDir()
			var logbuf bytes.Buffer
			if err := runTrain(s.ctx(t, out, false, &logbuf)); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"checkpoint.safetensors", "model.json", "train_log.csv"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Fatal(err)
				}
			}
			if m, _ := filepath.Glob(filepath.Join(out, "epoch-*")); len(m) != 0 {
				t.Fatalf("epoch checkpoints left: %v", m)
			}
			rows := readLog(t, out)
			head := "epoch,loss,skipped,steps"
			if kind == "nir" {
				head = "epoch,loss,loss_proxyanchor,loss_nir,skipped,steps"
			}
			n := strings.Count(head, ",") + 1
			if len(rows) != 4 || strings.Join(rows[0][:n], ",") != head {
				t.Fatalf("train_log.csv: %v", rows)
			}
			t.Logf("%s log:\n%s", kind, logbuf.String())
			for _, r := range rows[1:] {
				if r[n-2] != "0" || r[1] == "" || r[n-1] != "3" {
					t.Errorf("epoch %s: loss %q, %s of %s steps skipped", r[0], r[1], r[n-2], r[n-1])
				}
			}
			l0, _ := strconv.ParseFloat(rows[1][1], 64)
			l2, _ := strconv.ParseFloat(rows[3][1], 64)
			if !(l2 < l0) {
				t.Errorf("%s loss did not fall: %v -> %v", kind, l0, l2)
			}
			var info ModelInfo
			b, _ := os.ReadFile(filepath.Join(out, "model.json"))
			if err := json.Unmarshal(b, &info); err != nil || info.TrainClasses != 6 || info.DatasetKey != "dskey" ||
				info.Epochs != 3 || info.Steps != 9 || info.Skipped != 0 || info.SelectedEpoch != -1 {
				t.Fatalf("model.json %s (%v)", b, err)
			}

		})
	}
}

// TestResumeByteIdentical: stopping after epoch 1 and resuming gives the same
// checkpoint.safetensors and event file bytes as an uninterrupted run (CPU, one thread).
func TestResumeByteIdentical(t *testing.T) {
	for _, kind := range []string{"oproxy", "nir"} {
		t.Run(kind, func(t *testing.T) { testResume(t, kind) })
	}
}

func testResume(t *testing.T, kind string) {
	s := newSetup(t, 6, 8)
	if kind == "nir" {
		s.params["loss"] = lossParams("nir", map[string]any{"lrmulti": 0.1, "proxy_lrmulti": 100.0,
			"nf_fc_width": int64(32), "nf_fc_depth": int64(3), "nf_cblocks": int64(2)})
		s.params.Object("schedule")["warmup"] = int64(1)
	}
	// A milestone after the interruption: resuming must replay MultiStepLR.
	s.params.Object("schedule")["tau"] = []int64{2}
	s.params.Object("schedule")["gamma"] = 0.5
	full := t.TempDir()
	if err := runTrain(s.ctx(t, full, false, nil)); err != nil {
		t.Fatal(err)
	}
	part := t.TempDir()
	stop := errors.New("interrupted")
	afterEpoch = func(e int) error {
		if e == 1 {
			return stop
		}
		return nil
	}
	err := runTrain(s.ctx(t, part, false, nil))
	afterEpoch = nil
	if !errors.Is(err, stop) {
		t.Fatalf("want interruption, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(part, "epoch-1.safetensors")); err != nil {
		t.Fatal(err)
	}
	var logbuf bytes.Buffer
	if err := runTrain(s.ctx(t, part, true, &logbuf)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logbuf.String(), "resuming after epoch 1") {
		t.Fatalf("did not resume: %s", logbuf.String())
	}
	for _, f := range []string{CheckpointFile, EventsFile} {
		a, _ := os.ReadFile(filepath.Join(full, f))
		b, _ := os.ReadFile(filepath.Join(part, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("resumed %s differs from the uninterrupted one (%d vs %d bytes)", f, len(a), len(b))
		}
	}
	ra, rb := readLog(t, full), readLog(t, part)
	if len(ra) != len(rb) {
		t.Fatalf("logs: %d vs %d rows", len(ra), len(rb))
	}
	lr := slices.Index(ra[0], "lr_network")
	if lr < 0 || ra[2][lr] != "0.001" || ra[3][lr] != "0.0005" || rb[3][lr] != "0.0005" {
		t.Fatalf("MultiStepLR (tau [2], gamma 0.5): lr_network by epoch %v / resumed %v", ra, rb)
	}
	if kind == "nir" && !slices.Contains(ra[0], "loss_nir") {
		t.Fatalf("nir log without its terms: %v", ra[0])
	}
	// Every column but the clock's seconds is the same after resume (the loss and its
	// terms, rebuilt from the epoch file's log).
	for i := 1; i < len(ra); i++ {
		for j, c := range ra[0] {
			if c != "seconds" && c != "eval_seconds" && ra[i][j] != rb[i][j] {
				t.Fatalf("epoch %d %s %s vs %s after resume", i-1, c, ra[i][j], rb[i][j])
			}
		}
	}
}

// TestWarmupFreezesBackbone: during warmup epochs only last_linear and the criterion train;
// with a frozen-BN arch every backbone tensor is bit-identical to its initial value after
// the warmup epoch (epoch-0.safetensors), and the epoch after it trains the backbone.
func TestWarmupFreezesBackbone(t *testing.T) {
	s := newSetup(t, 6, 8)
	s.params["arch"] = "smallcnn_frozen_normalize"
	sch := s.params.Object("schedule")
	sch["epochs"], sch["warmup"] = int64(2), int64(1)
	out := t.TempDir()
	var afterWarmup map[string]*torch.Tensor
	afterEpoch = func(e int) error {
		if e == 0 {
			afterWarmup = loadCkpt(t, filepath.Join(out, epochCheckpointName(0)))
		}
		return nil
	}
	defer func() { afterEpoch = nil }()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	final := loadCkpt(t, filepath.Join(out, "checkpoint.safetensors"))
	torch.ManualSeed(0)
	cfg, _ := parseConfig(s.params)
	tr, err := newTrainer(s.ctx(t, t.TempDir(), false, nil), cfg, builtinOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	names, ts := tr.weights()
	changedHead, trainedLater := false, false
	for i, n := range names {
		d := maxAbsDiff(t, ts[i], afterWarmup[n])
		switch {
		case strings.HasPrefix(n, "model.last_linear"):
			changedHead = changedHead || d > 0
		case strings.HasPrefix(n, "model."):
			if d != 0 {
				t.Errorf("warmup changed backbone tensor %s by %g", n, d)
			}
			trainedLater = trainedLater || maxAbsDiff(t, ts[i], final[n]) > 0
		}
	}
	if !changedHead {
		t.Fatal("warmup did not train last_linear")
	}
	if !trainedLater {
		t.Fatal("the epoch after warmup did not train the backbone")
	}
}

func maxAbsDiff(t *testing.T, a, b *torch.Tensor) float64 {
	t.Helper()
	x, err := a.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.Float32s()
	if err != nil || len(x) != len(y) {
		t.Fatalf("compare: %v (%d vs %d)", err, len(x), len(y))
	}
	var m float64
	for i := range x {
		m = math.Max(m, math.Abs(float64(x[i]-y[i])))
	}
	return m
}

// TestNonFiniteHandling: an inf loss is a skipped step (counted, scale halved, training goes
// on); more than max_skipped consecutive skips and a NaN loss are errors that keep the last
// good epoch checkpoint.
func TestNonFiniteHandling(t *testing.T) {
	defer func() { lossHook = nil }()
	t.Run("inf loss skips", func(t *testing.T) {
		s := newSetup(t, 6, 8)
		s.params.Object("schedule")["epochs"] = int64(2)
		s.params["max_skipped_share"] = 1.0 // 2 of 3 steps skipped: not a failure here
		lossHook = func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
			if epoch == 0 && (step == 0 || step == 2) {
				return loss.MulScalar(math.Inf(1))
			}
			return loss
		}
		out := t.TempDir()
		afterEpoch = func(e int) error {
			if e == 0 {
				sd, _, meta, err := torch.LoadSafetensors(filepath.Join(out, "epoch-0.safetensors"))
				if err != nil {
					return err
				}
				for _, v := range sd {
					v.Close()
				}
				var sc scalerMeta
				json.Unmarshal([]byte(meta["scaler"]), &sc)
				if sc.Scale != 16384 || sc.Growth != 0 {
					return fmt.Errorf("scaler after skip, good, skip: %+v, want scale 16384 growth 0", sc)
				}
			}
			return nil
		}
		defer func() { afterEpoch = nil }()
		if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
			t.Fatal(err)
		}
		rows := readLog(t, out)
		if rows[1][2] != "2" || rows[2][2] != "0" {
			t.Fatalf("skipped column: %v", rows)
		}
		if rows[1][1] == "" {
			t.Fatal("epoch loss should be the mean of the finite losses")
		}
		if info, err := ReadModelInfo(out); err != nil || info.Steps != 6 || info.Skipped != 2 {
			t.Fatalf("model.json totals: %+v (%v), want 6 steps, 2 skipped", info, err)
		}
	})
	t.Run("too many consecutive skips", func(t *testing.T) {
		s := newSetup(t, 6, 8)
		s.params["max_skipped"] = int64(5)
		s.params["max_skipped_share"] = 1.0 // the consecutive limit alone
		lossHook = func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
			if epoch >= 1 {
				return loss.MulScalar(math.Inf(1))
			}
			return loss
		}
		out := t.TempDir()
		err := runTrain(s.ctx(t, out, false, nil))
		// 3 steps per epoch: epochs 1 and 2 skip everything, the 6th skip ends the run.
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "6 consecutive steps skipped") || !strings.Contains(err.Error(), "epoch-1.safetensors") {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(filepath.Join(out, "epoch-1.safetensors")); err != nil {
			t.Fatal("last good checkpoint removed")
		}
	})
	t.Run("nan loss", func(t *testing.T) {
		s := newSetup(t, 6, 8)
		lossHook = func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
			if epoch == 1 && step == 1 {
				return loss.MulScalar(math.NaN())
			}
			return loss
		}
		out := t.TempDir()
		err := runTrain(s.ctx(t, out, false, nil))
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "loss is NaN") || !strings.Contains(err.Error(), "epoch-0.safetensors") {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(filepath.Join(out, "epoch-0.safetensors")); err != nil {
			t.Fatal("last good checkpoint removed")
		}
	})
}

func TestConstructionOrder(t *testing.T) {
	// The network is built right after ManualSeed(seed), before the data and the
	// criterion: its initial weights equal models.New's after the same seed.
	s := newSetup(t, 6, 8)
	cfg, err := parseConfig(s.params)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTrainer(s.ctx(t, t.TempDir(), false, nil), cfg, builtinOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	if len(tr.groupNames) < 2 || tr.groupNames[0] != "network" {
		t.Fatalf("groups %v: want the network group first, then the criterion's", tr.groupNames)
	}
	s.params.Object("schedule")["fc_lr"] = 1e-3
	cfg2, _ := parseConfig(s.params)
	tr2, err := newTrainer(s.ctx(t, t.TempDir(), false, nil), cfg2, builtinOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.close()
	if tr2.groupNames[0] != "backbone" || tr2.groupNames[1] != "last_linear" || tr2.opt.LR(1) != 1e-3 {
		t.Fatalf("fc_lr groups %v", tr2.groupNames)
	}
	n1, t1 := tr.weights()
	_, t2 := tr2.weights()
	for i := range n1 {
		if d := maxAbsDiff(t, t1[i], t2[i]); d != 0 {
			t.Fatalf("same seed, different init of %s", n1[i])
		}
	}
	// The original's order: seed, network, (data: no torch draws), criterion. Building the
	// two by hand after the same seed must give the trainer's initial tensors exactly.
	torch.ManualSeed(uint64(cfg.Seed))
	m, err := models.New(cfg.Arch, cfg.EmbedDim, torch.CPUDevice)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := criteria.New(cfg.Loss.Kind, cfg.Loss.Params, int(cfg.EmbedDim), 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer criteria.Close(c)
	_, mt := m.State()
	_, ct := c.Named()
	hand := append(mt, ct...)
	if len(hand) != len(t1) {
		t.Fatalf("%d tensors by hand, %d in the trainer", len(hand), len(t1))
	}
	for i := range n1 {
		if d := maxAbsDiff(t, t1[i], hand[i]); d != 0 {
			t.Fatalf("%s: trainer init differs from seed -> model -> criterion by %g", n1[i], d)
		}
	}
}

// TestEvalEveryAndFlatMemory: eval_every adds a test Recall@1 column (test_e_recall@1) on
// the right epochs,
// and the number of live native tensors does not grow from epoch to epoch (per-step scopes).
func TestEvalEveryAndFlatMemory(t *testing.T) {
	s := newSetup(t, 6, 8)
	s.params["eval_every"] = int64(2)
	s.params.Object("schedule")["epochs"] = int64(4)
	var live []int
	census := torch.StartCensus()
	defer census.Stop()
	afterEpoch = func(int) error { live = append(live, census.Live()); return nil }
	defer func() { afterEpoch = nil }()
	out := t.TempDir()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, out)
	if h := rows[0]; h[len(h)-1] != "test_e_recall@1" || h[len(h)-2] != "eval_seconds" || h[len(h)-3] != "seconds" {
		t.Fatalf("header %v", h)
	}
	for i, r := range rows[1:] {
		v := r[len(r)-1]
		if (i%2 == 1) != (v != "") {
			t.Fatalf("epoch %d: recall %q (eval_every 2)", i, v)
		}
		if v != "" {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 || f > 1 {
				t.Fatalf("recall %q", v)
			}
		}
	}
	for i := 2; i < len(live); i++ {
		if live[i] != live[1] {
			t.Fatalf("live tensors after each epoch: %v (grows)", live)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		set  func(p stage.Params)
		want string
	}{
		{"resnet needs weights", func(p stage.Params) { p["arch"] = "resnet18_frozen_normalize" }, "not_pretrained = true"},
		{"missing weights file", func(p stage.Params) { p["arch"] = "resnet18"; p["pretrained"] = "/nonexistent/r18.pth" }, "/nonexistent/r18.pth"},
		{"f16 autocast on cpu", func(p stage.Params) { p["autocast"] = "f16" }, "needs a CUDA device"},
		{"spc must divide bs", func(p stage.Params) { p.Object("schedule")["samples_per_class"] = int64(3) }, "not a multiple of samples_per_class"},
		{"unknown arch", func(p stage.Params) { p["arch"] = "vgg" }, "vgg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, 4, 4)
			c.set(s.params)
			err := runTrain(s.ctx(t, t.TempDir(), false, nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error containing %q, got %v", c.want, err)
			}
		})
	}
}

// skipWithoutCPUBF16Conv skips on a CPU whose oneDNN has no bfloat16 convolution (older than
// AVX2: "could not create a primitive descriptor iterator"); every CPU CI runs on has one.
func skipWithoutCPUBF16Conv(t *testing.T) {
	t.Helper()
	err := torch.Catch(func() error {
		return torch.WithScope(func() error {
			x := torch.Ones([]int64{1, 3, 4, 4}, torch.Float32, torch.CPUDevice)
			w := torch.Ones([]int64{2, 3, 3, 3}, torch.Float32, torch.CPUDevice)
			torch.Autocast(torch.CPUDevice, torch.BFloat16, func() {
				torch.Conv2d(x, w, nil, [2]int64{1, 1}, [2]int64{1, 1}, [2]int64{1, 1}, 1)
			})
			return nil
		})
	})
	if err != nil {
		t.Skipf("this CPU cannot run a bfloat16 convolution in libtorch's oneDNN: %v", err)
	}
}

// TestAutocastPlumbing runs the autocast path on CPU in bfloat16: forward and loss under
// autocast, scaled backward in float32, finite losses, no skipped steps, float32 weights in
// the checkpoint. On a CPU without bfloat16 instructions the stage would refuse it, so the
// test tells it the CPU has them (oneDNN then emulates bfloat16, slowly).
func TestAutocastPlumbing(t *testing.T) {
	skipWithoutCPUBF16Conv(t)
	if !cpuBF16() {
		cpuBF16 = func() bool { return true }
		defer func() { cpuBF16 = realCPUBF16 }()
	}
	// oproxy's masked log-sum-exp fills with bfloat16's own minimum (float32's overflows).
	for _, kind := range []string{"oproxy", "softmax"} {
		t.Run(kind, func(t *testing.T) {
			s := newSetup(t, 6, 8)
			s.params["autocast"] = "bf16"
			s.params["loss"] = lossParams(kind, nil)
			s.params.Object("schedule")["epochs"] = int64(1)
			s.params["eval_every"] = int64(1) // the evaluation forward runs under autocast too
			var dts []torch.DType
			lossHook = func(_, _ int, l *torch.Tensor) *torch.Tensor { dts = append(dts, l.DType()); return l }
			defer func() { lossHook = nil }()
			out := t.TempDir()
			if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
				t.Fatal(err)
			}
			rows := readLog(t, out)
			if rows[1][1] == "" || rows[1][2] != "0" || rows[1][len(rows[1])-1] == "" {
				t.Fatalf("autocast epoch (loss, skipped, ..., its evaluation): %v", rows[1])
			}
			sd := loadCkpt(t, filepath.Join(out, "checkpoint.safetensors"))
			if sd["model.conv1.weight"].DType() != torch.Float32 {
				t.Fatal("weights must stay float32 under autocast")
			}
			t.Logf("loss dtypes under bf16 autocast: %v", dts)
		})
	}
}

// TestAutocastRefusedOnCPU: f16 on the CPU, and bf16 on a CPU without bfloat16
// instructions, fail before any training with what to set instead.
func TestAutocastRefusedOnCPU(t *testing.T) {
	cpuBF16 = func() bool { return false }
	defer func() { cpuBF16 = realCPUBF16 }()
	for ac, want := range map[string]string{
		"bf16": `autocast = "bf16" on the CPU needs bfloat16 instructions (AVX512-BF16 or AMX-BF16)`,
		"f16":  `autocast = "f16" needs a CUDA device (the device is cpu)`,
	} {
		t.Run(ac, func(t *testing.T) {
			s := newSetup(t, 6, 8)
			s.params["autocast"] = ac
			s.params.Object("schedule")["epochs"] = int64(1)
			out := t.TempDir()
			err := runTrain(s.ctx(t, out, false, nil))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
			if _, err := os.Stat(filepath.Join(out, "train_log.csv")); !os.IsNotExist(err) {
				t.Fatalf("a refused autocast trained anyway (train_log.csv: %v)", err)
			}
		})
	}
}

// realCPUBF16 is cpuBF16 as the package sets it, for tests that replace it.
var realCPUBF16 = cpuBF16

// TestPretrainedResNet trains resnet18_frozen_normalize from torchvision weights (the
// random-init file of stages/models/testdata/gen_resnet_ref.py in $DMLRUN_REF_DIR) for a
// warmup epoch and one more: after the warmup epoch the backbone (epoch-0.safetensors) must
// equal the file's tensors bit for bit, and model.json records the file's digest.
func TestPretrainedResNet(t *testing.T) {
	dir := os.Getenv("DMLRUN_REF_DIR")
	if dir == "" {
		t.Fatal("DMLRUN_REF_DIR is not set: run `stages/models/testdata/ensure_ref.sh DIR` and set DMLRUN_REF_DIR=DIR")
	}
	pth := filepath.Join(dir, "resnet18.pth")
	s := newSetup(t, 6, 8)
	s.params["arch"] = "resnet18_frozen_normalize"
	s.params["pretrained"] = pth
	sch := s.params.Object("schedule")
	sch["epochs"], sch["warmup"] = int64(2), int64(1)
	out := t.TempDir()
	var got map[string]*torch.Tensor
	afterEpoch = func(e int) error {
		if e == 0 {
			got = loadCkpt(t, filepath.Join(out, epochCheckpointName(0)))
		}
		return nil
	}
	defer func() { afterEpoch = nil }()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	want, _, err := torch.LoadPth(pth)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k, v := range got {
		name, ok := strings.CutPrefix(k, "model.")
		if !ok || strings.HasPrefix(name, "last_linear") {
			continue
		}
		n++
		if d := maxAbsDiff(t, v, want[name]); d != 0 {
			t.Errorf("%s differs from the pretrained file by %g after a warmup epoch", name, d)
		}
	}
	if n != 100 {
		t.Fatalf("compared %d backbone tensors, want 100", n)
	}
	var info ModelInfo
	b, _ := os.ReadFile(filepath.Join(out, "model.json"))
	if err := json.Unmarshal(b, &info); err != nil || !strings.HasPrefix(info.PretrainedSHA, "sha256:") || info.Pretrained != pth {
		t.Fatalf("model.json: %s", b)
	}
}

// TestProgressAgreesWithLog: the status a progress bar shows when its last step is counted
// (a plain-line bar prints it then) has the same skipped count as train_log.csv. It used to
// be set after Add, so the line printed for the last step said "skipped 9" where the log
// said 10.
func TestProgressAgreesWithLog(t *testing.T) {
	defer func() { lossHook = nil }()
	s := newSetup(t, 6, 8)
	s.params.Object("schedule")["epochs"] = int64(2)
	// 3 steps per epoch: the last step of epoch 0 and the first of epoch 1 are skipped.
	lossHook = func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
		if (epoch == 0 && step == 2) || (epoch == 1 && step == 0) {
			return loss.MulScalar(math.Inf(1))
		}
		return loss
	}
	rec := &traintest.Recorder{}
	ctx := s.ctx(t, t.TempDir(), false, nil)
	ctx.Progress = rec
	if err := runTrain(ctx); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, ctx.OutDir)
	if len(rec.Bars) != 2 {
		t.Fatalf("%d bars, want one per epoch", len(rec.Bars))
	}
	for e, b := range rec.Bars {
		if b.Done != b.Total || len(b.AtAdd) == 0 {
			t.Fatalf("epoch %d bar: %d of %d done", e, b.Done, b.Total)
		}
		last := b.AtAdd[len(b.AtAdd)-1]
		if want := "skipped " + rows[e+1][2]; !strings.HasSuffix(last, want) {
			t.Errorf("epoch %d: the bar showed %q at its last step, the log says %s", e, last, want)
		}
	}
	if rows[1][2] != "1" || rows[2][2] != "1" {
		t.Fatalf("skipped column %v", rows)
	}
}

func TestNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	cases := []struct {
		name        string
		x           []float32
		dim         int
		rows, first int
	}{
		{"finite", []float32{1, 2, 3, 4}, 2, 0, -1},
		{"empty", nil, 3, 0, -1},
		{"one NaN row", []float32{1, 2, 3, nan, 5, 6}, 2, 1, 1},
		{"NaN and Inf rows", []float32{1, 2, inf, 4, 5, 6, nan, nan}, 2, 2, 1},
		{"every row", []float32{nan, inf, nan}, 1, 3, 0},
		{"largest float is finite", []float32{math.MaxFloat32, -math.MaxFloat32}, 2, 0, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if rows, first := NonFinite(c.x, c.dim); rows != c.rows || first != c.first {
				t.Fatalf("NonFinite = %d rows, first %d; want %d, %d", rows, first, c.rows, c.first)
			}
		})
	}
}

// TestSkippedShare: a training whose epochs after warmup skipped most steps (an inf loss on
// every step, under the max_skipped limit of consecutive skips) was cached as a success and
// evaluated. Now an epoch after warmup with more than max_skipped_share of its steps skipped
// fails the node (ErrNonFinite), keeping the last good checkpoint and not writing its own;
// warmup epochs are exempt, share 1 disables the check, and whatever was skipped is recorded
// in model.json.
func TestSkippedShare(t *testing.T) {
	defer func() { lossHook = nil }()
	// 3 steps per epoch; skip[e] is how many of epoch e's first steps get an inf loss.
	cases := []struct {
		name    string
		skip    []int
		warmup  int64
		share   float64 // -1: the default
		wantErr string  // "" : trains
		last    string  // the last good checkpoint the error names and keeps
		skipped int     // model.json's total when it trains
	}{
		{"two of three after warmup", []int{0, 2, 0}, 0, -1, "epoch 1: training diverged: 2 of 3 steps skipped for non-finite gradients (67%, more than max_skipped_share = 0.5)", "epoch-0.safetensors", 0},
		{"every step of the first epoch", []int{3, 0, 0}, 0, -1, "epoch 0: training diverged: 3 of 3 steps skipped", "none yet", 0},
		{"one of three is fine", []int{1, 1, 1}, 0, -1, "", "", 3},
		{"warmup epochs are exempt", []int{3, 0, 0}, 1, -1, "", "", 3},
		{"after warmup they count", []int{0, 3, 0}, 1, -1, "epoch 1: training diverged: 3 of 3 steps skipped", "epoch-0.safetensors", 0},
		{"share 1 disables", []int{0, 3, 3}, 0, 1, "", "", 6},
		{"share 0 allows none", []int{0, 0, 1}, 0, 0, "epoch 2: training diverged: 1 of 3 steps skipped", "epoch-1.safetensors", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, 6, 8)
			s.params.Object("schedule")["warmup"] = c.warmup
			if c.share >= 0 {
				s.params["max_skipped_share"] = c.share
			}
			lossHook = func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
				if step < c.skip[epoch] {
					return loss.MulScalar(math.Inf(1))
				}
				return loss
			}
			out := t.TempDir()
			err := runTrain(s.ctx(t, out, false, nil))
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				info, err := ReadModelInfo(out)
				if err != nil || info.Steps != 9 || info.Skipped != c.skipped || info.Epochs != 3 {
					t.Fatalf("model.json %+v (%v), want 9 steps, %d skipped", info, err, c.skipped)
				}
				return
			}
			if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "(last good checkpoint: "+c.last+")") {
				t.Fatalf("got %v\nwant %q and last good checkpoint %s", err, c.wantErr, c.last)
			}
			m, _ := filepath.Glob(filepath.Join(out, "epoch-*.safetensors"))
			if want := filepath.Join(out, c.last); (c.last == "none yet") != (len(m) == 0) || (len(m) > 0 && (len(m) != 1 || m[0] != want)) {
				t.Fatalf("epoch files %v, want only %s", m, c.last)
			}
			if _, err := os.Stat(filepath.Join(out, ModelInfoFile)); !os.IsNotExist(err) {
				t.Fatal("a failed training wrote model.json")
			}
		})
	}
}

// TestUntrained: schedule.epochs = 0 (an error before) trains nothing and stores the
// network as initialised after ManualSeed(seed), with the criterion as constructed after
// it: the network the original evaluates before training, the floor of a report.
func TestUntrained(t *testing.T) {
	s := newSetup(t, 6, 8)
	s.params.Object("schedule")["epochs"] = int64(0)
	s.params["seed"] = int64(3)
	s.params["eval_every"] = int64(1)
	out := t.TempDir()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	info, err := ReadModelInfo(out)
	if err != nil || info.Epochs != 0 || info.Steps != 0 || info.Skipped != 0 || info.SelectedEpoch != -1 {
		t.Fatalf("model.json %+v (%v)", info, err)
	}
	if rows := readLog(t, out); len(rows) != 1 || rows[0][0] != "epoch" {
		t.Fatalf("train_log.csv of an untrained network: %v, want the header alone", rows)
	}
	sd := loadCkpt(t, filepath.Join(out, CheckpointFile))
	torch.ManualSeed(3)
	m, err := models.New("smallcnn_normalize", 16, torch.CPUDevice)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	names, ts := m.State()
	for i, n := range names {
		got := sd["model."+n]
		if got == nil {
			t.Fatalf("checkpoint has no model.%s", n)
		}
		if d := maxAbsDiff(t, got, ts[i]); d != 0 {
			t.Fatalf("model.%s differs from the seeded initialisation by %g", n, d)
		}
	}
	if sd["criterion.proxies"] == nil {
		t.Fatalf("the criterion's initial proxies are not in the checkpoint")
	}
}

// TestEvalMetricsOnValAndTest: per-epoch evaluation logged only test Recall@1. It now logs
// every eval_metrics name on the val and the test split when the dataset has both, in
// columns <split>_<metric>, and the values are those of the network of that epoch: the last
// row equals the metrics of the final checkpoint embedded afresh.
func TestEvalMetricsOnValAndTest(t *testing.T) {
	names := []string{"e_recall@1", "e_recall@4", "nmi", "mAP@R"}
	for _, c := range []struct {
		name   string
		splits []string
	}{
		{"val and test", []string{"train", "test", "val"}},
		{"test only", []string{"train", "test"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, 6, 8)
			traintest.WriteTinyDatasetSplits(t, s.dataDir, 6, 8, c.splits...)
			s.params["eval_every"] = int64(3)
			s.params["eval_metrics"] = names
			out := t.TempDir()
			var logbuf bytes.Buffer
			if err := runTrain(s.ctx(t, out, false, &logbuf)); err != nil {
				t.Fatal(err)
			}
			rows := readLog(t, out)
			var wantCols []string // val first, then test
			for _, sp := range []string{"val", "test"} {
				for _, m := range names {
					if slices.Contains(c.splits, sp) {
						wantCols = append(wantCols, sp+"_"+m)
					}
				}
			}
			head := rows[0]
			if got := head[len(head)-len(wantCols):]; !slices.Equal(got, wantCols) || head[len(head)-len(wantCols)-1] != "eval_seconds" || head[len(head)-len(wantCols)-2] != "seconds" {
				t.Fatalf("header %v, want seconds, eval_seconds and then the evaluation columns %v", head, wantCols)
			}
			for _, r := range rows[1:3] {
				if r[len(r)-1] != "" {
					t.Fatalf("epoch %s evaluated with eval_every 3: %v", r[0], r)
				}
			}
			last := rows[3]
			m, _, err := LoadModel(out, torch.CPUDevice)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			p, err := load.Open(s.dataDir)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for i, col := range wantCols {
				sp, metric, _ := strings.Cut(col, "_")
				split, err := p.Split(sp)
				if err != nil {
					t.Fatal(err)
				}
				x, y, err := EmbedSplit(m, split, 7, torch.CPUDevice, nil)
				if err != nil {
					t.Fatal(err)
				}
				r, err := metrics.Compute(metrics.Matrix{Data: x, Rows: len(y), Cols: 16}, y, []string{metric}, metrics.Options{KMeansK: 6})
				if err != nil {
					t.Fatal(err)
				}
				got := last[len(last)-len(wantCols)+i]
				if want := strconv.FormatFloat(r[metric], 'f', 6, 64); got != want {
					t.Errorf("%s: logged %s, the final network gives %s", col, got, want)
				}
			}
			if !strings.Contains(logbuf.String(), " test e_recall@1 ") {
				t.Errorf("log lines do not show the evaluation:\n%s", logbuf.String())
			}
		})
	}
}

// selectSetup is a 3-epoch run on a dataset with a val split, evaluated every epoch and
// selecting on val e_recall@1.
func selectSetup(t *testing.T) *setup {
	s := newSetup(t, 6, 8)
	traintest.WriteTinyDatasetSplits(t, s.dataDir, 6, 8, "train", "test", "val")
	s.params["eval_every"] = int64(1)
	s.params.Object("select")["metric"] = "e_recall@1"
	return s
}

// epochWeights records, after each epoch, the model.* tensors of its epoch file.
func epochWeights(t *testing.T, out string) (map[int]map[string]*torch.Tensor, func()) {
	got := map[int]map[string]*torch.Tensor{}
	afterEpoch = func(e int) error {
		got[e] = loadCkpt(t, filepath.Join(out, epochCheckpointName(e)))
		return nil
	}
	return got, func() { afterEpoch = nil }
}

// sameModel fails unless the checkpoint's model.* tensors equal want's.
func sameModel(t *testing.T, ckpt, want map[string]*torch.Tensor) bool {
	t.Helper()
	n := 0
	for k, v := range ckpt {
		if !strings.HasPrefix(k, "model.") {
			continue
		}
		n++
		if maxAbsDiff(t, v, want[k]) != 0 {
			return false
		}
	}
	return n > 0
}

// TestSelection: with select = { metric = "e_recall@1", split = "val" } the artifact's
// checkpoint is the weights of the evaluated epoch with the largest val Recall@1 (the first
// of equal ones), not the last epoch's; model.json records the epoch, the selection and its
// value, and no epoch or best file is left.
func TestSelection(t *testing.T) {
	defer func() { evalHook = nil }()
	cases := []struct {
		name   string
		forced []float64 // val_e_recall@1 by epoch (nil: the real values)
		want   int       // the selected epoch (-1: the argmax of the logged values)
	}{
		{"best first", []float64{0.9, 0.5, 0.7}, 0},
		{"best in the middle", []float64{0.2, 0.8, 0.7}, 1},
		{"ties keep the earlier", []float64{0.3, 0.6, 0.6}, 1},
		{"not a number is never chosen", []float64{math.NaN(), 0.1, math.NaN()}, 1},
		{"real values", nil, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := selectSetup(t)
			evalHook = nil
			if c.forced != nil {
				evalHook = func(e int, ev map[string]float64) { ev["val_e_recall@1"] = c.forced[e] }
			}
			out := t.TempDir()
			weights, done := epochWeights(t, out)
			defer done()
			if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
				t.Fatal(err)
			}
			rows := readLog(t, out)
			col := slices.Index(rows[0], "val_e_recall@1")
			if col < 0 || slices.Index(rows[0], "test_e_recall@1") < 0 {
				t.Fatalf("header %v", rows[0])
			}
			want := c.want
			if want < 0 {
				best := -1.0
				for e, r := range rows[1:] {
					if v, _ := strconv.ParseFloat(r[col], 64); v > best {
						best, want = v, e
					}
				}
			}
			info, err := ReadModelInfo(out)
			if err != nil {
				t.Fatal(err)
			}
			wantValue, _ := strconv.ParseFloat(rows[want+1][col], 64)
			if info.SelectedEpoch != want || info.Selection != "val:e_recall@1" || info.SelectionValue == nil ||
				math.Abs(*info.SelectionValue-wantValue) > 1e-6 || info.Epochs != 3 {
				t.Fatalf("model.json %+v (value %v), want selected epoch %d with %v", info, info.SelectionValue, want, wantValue)
			}
			ckpt := loadCkpt(t, filepath.Join(out, CheckpointFile))
			if !sameModel(t, ckpt, weights[want]) {
				t.Fatalf("checkpoint.safetensors is not epoch %d's weights", want)
			}
			if want != 2 && sameModel(t, ckpt, weights[2]) {
				t.Fatal("checkpoint.safetensors is the last epoch's weights")
			}
			if m, _ := filepath.Glob(filepath.Join(out, "*-*.safetensors")); len(m) != 0 {
				t.Fatalf("files left: %v", m)
			}
		})
	}
}

// TestSelectionResumeByteIdentical: a selecting run stopped after epoch 1 keeps the best
// epoch so far (epoch 0) in its partial directory, beside the newest epoch file, and the
// resumed run ends with the checkpoint, model.json and event file bytes of an
// uninterrupted one. A
// resume that forgot the best epoch would select epoch 2.
func TestSelectionResumeByteIdentical(t *testing.T) {
	defer func() { evalHook = nil }()
	evalHook = func(e int, ev map[string]float64) { ev["val_e_recall@1"] = []float64{0.9, 0.5, 0.7}[e] }
	s := selectSetup(t)
	full := t.TempDir()
	if err := runTrain(s.ctx(t, full, false, nil)); err != nil {
		t.Fatal(err)
	}
	part := t.TempDir()
	stop := errors.New("interrupted")
	afterEpoch = func(e int) error {
		if e == 1 {
			return stop
		}
		return nil
	}
	err := runTrain(s.ctx(t, part, false, nil))
	afterEpoch = nil
	if !errors.Is(err, stop) {
		t.Fatalf("want interruption, got %v", err)
	}
	m, _ := filepath.Glob(filepath.Join(part, "*.safetensors"))
	if want := []string{filepath.Join(part, "best-0.safetensors"), filepath.Join(part, "epoch-1.safetensors")}; !slices.Equal(m, want) {
		t.Fatalf("partial directory holds %v, want %v", m, want)
	}
	var logbuf bytes.Buffer
	if err := runTrain(s.ctx(t, part, true, &logbuf)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logbuf.String(), "resuming after epoch 1") {
		t.Fatalf("did not resume: %s", logbuf.String())
	}
	for _, f := range []string{CheckpointFile, ModelInfoFile, EventsFile} {
		a, _ := os.ReadFile(filepath.Join(full, f))
		b, _ := os.ReadFile(filepath.Join(part, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("resumed %s differs from the uninterrupted one (%d vs %d bytes)", f, len(a), len(b))
		}
	}
	if info, err := ReadModelInfo(part); err != nil || info.SelectedEpoch != 0 {
		t.Fatalf("model.json %+v (%v), want epoch 0 selected", info, err)
	}
}

// TestSelectionNeedsTheSplit: selecting on val with a dataset that has no val split fails
// before training, saying how to make one (validate cannot see the dataset's splits).
func TestSelectionNeedsTheSplit(t *testing.T) {
	s := newSetup(t, 6, 8)
	s.params["eval_every"] = int64(1)
	s.params.Object("select")["metric"] = "e_recall@1"
	var logbuf bytes.Buffer
	err := runTrain(s.ctx(t, t.TempDir(), false, &logbuf))
	if err == nil || !strings.Contains(err.Error(), `select.split = "val", but dataset dataset.tiny has no val split (it has test, train): give its dataset block val_split = 0.8`) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(logbuf.String(), "epoch 0") {
		t.Fatalf("trained before failing:\n%s", logbuf.String())
	}
}
