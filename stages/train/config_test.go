package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"dmlrun/spec"
	"dmlrun/stage"
	"dmlrun/stages/load"
	"dmlrun/stages/train/criteria"
	"dmlrun/stages/train/miners"
	"dmlrun/stages/train/traintest"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// TestParamsPinned: the typed config declares exactly the parameters (names, order, types,
// defaults) recorded in testdata/params.golden.json, so no train node's key changes by
// accident. A parameter added on purpose is added to that file by hand, in the commit that
// regenerates experiments/testdata/keys.golden.
func TestParamsPinned(t *testing.T) {
	traintest.CheckParamsPinned(t, "testdata/params.golden.json", "train", Def().Params)
}

// validParams are the smallest train parameters that decode without problems.
func validParams() stage.Params {
	p := fill(Def().Params)
	p["arch"] = "smallcnn_normalize"
	p["loss"] = lossParams("oproxy", nil)
	return p
}

// TestConfigProblems: every value the stage cannot train with is a problem at its
// parameter's path, found when the node is decoded (so `dmlrun validate` reports it at
// file:line:col), with a sentence that says what is allowed.
func TestConfigProblems(t *testing.T) {
	sched := func(name string, v any) func(stage.Params) {
		return func(p stage.Params) { p.Object("schedule")[name] = v }
	}
	top := func(name string, v any) func(stage.Params) { return func(p stage.Params) { p[name] = v } }
	// sel sets select's members and eval_every.
	sel := func(members map[string]any, evalEvery int64) func(stage.Params) {
		return func(p stage.Params) {
			for k, v := range members {
				p.Object("select")[k] = v
			}
			p["eval_every"] = evalEvery
		}
	}
	loss := func(kind string, over map[string]any) func(stage.Params) {
		return func(p stage.Params) { p["loss"] = lossParams(kind, over) }
	}
	cases := []struct {
		name, path, want string
		set              func(stage.Params)
	}{
		{"epochs negative", "schedule.epochs", `"schedule.epochs" must be at least 0; got -1`, sched("epochs", int64(-1))},
		{"warmup without epochs", "schedule.warmup", `schedule.warmup = 1 with schedule.epochs = 0: epochs = 0 stores the untrained network`,
			func(p stage.Params) {
				p.Object("schedule")["epochs"], p.Object("schedule")["warmup"] = int64(0), int64(1)
			}},
		{"batch size 0", "schedule.batch_size", `"schedule.batch_size" must be at least 1; got 0`, sched("batch_size", int64(0))},
		{"batch size not a multiple", "schedule.batch_size", `schedule.batch_size = 111 is not a multiple of samples_per_class = 2`, sched("batch_size", int64(111))},
		{"samples per class 0", "schedule.samples_per_class", `must be at least 1; got 0`, sched("samples_per_class", int64(0))},
		{"embed_dim negative", "embed_dim", `"embed_dim" must be at least 1; got -3`, top("embed_dim", int64(-3))},
		{"lr negative", "schedule.lr", `"schedule.lr" must be greater than 0; got -1`, sched("lr", -1.0)},
		{"lr zero", "schedule.lr", `must be greater than 0; got 0`, sched("lr", 0.0)},
		{"lr not finite", "schedule.lr", `must be a finite number`, sched("lr", math.Inf(1))},
		{"fc_lr zero", "schedule.fc_lr", `it is -1 (last_linear trains at lr, the default) or a learning rate > 0`, sched("fc_lr", 0.0)},
		{"fc_lr other negative", "schedule.fc_lr", `schedule.fc_lr = -0.5`, sched("fc_lr", -0.5)},
		{"decay negative", "schedule.decay", `must be at least 0`, sched("decay", -1e-4)},
		{"gamma negative", "schedule.gamma", `"schedule.gamma" must be greater than 0; got -5`, sched("gamma", -5.0)},
		{"tau negative", "schedule.tau[1]", `must be at least 0; got -2`, sched("tau", []int64{10, -2})},
		{"warmup negative", "schedule.warmup", `must be at least 0; got -1`, sched("warmup", int64(-1))},
		{"warmup as long as training", "schedule.warmup", `schedule.warmup = 150 must be less than schedule.epochs = 150`, sched("warmup", int64(150))},
		{"eval_every negative", "eval_every", `"eval_every" must be at least 0; got -3`, top("eval_every", int64(-3))},
		{"max_skipped negative", "max_skipped", `must be at least 0`, top("max_skipped", int64(-1))},
		{"max_skipped_share above 1", "max_skipped_share", `"max_skipped_share" must be at most 1; got 2`, top("max_skipped_share", 2.0)},
		{"max_skipped_share negative", "max_skipped_share", `must be at least 0`, top("max_skipped_share", -0.1)},
		{"eval metric typo", "eval_metrics[1]", `"e_recal@4" is not a metric; the metrics are e_recall@K, c_recall@K`, top("eval_metrics", []string{"nmi", "e_recal@4"})},
		{"eval metric did you mean", "eval_metrics[0]", `Did you mean "e_recall@4"?`, top("eval_metrics", []string{"e_recal@4"})},
		{"eval metric bad K", "eval_metrics[0]", `"e_recall@0": K must be a whole number of at least 1`, top("eval_metrics", []string{"e_recall@0"})},
		{"eval metric twice", "eval_metrics[2]", `"nmi" is already requested at eval_metrics[0]`, top("eval_metrics", []string{"nmi", "f1", "nmi"})},
		{"select on test", "select.split", `select.split = "test" picks the epoch by its test numbers`,
			sel(map[string]any{"metric": "e_recall@1", "split": "test"}, 1)},
		{"select without eval_every", "select", `select chooses among the evaluated epochs, but eval_every = 0 evaluates none; set eval_every = 1`,
			sel(map[string]any{"metric": "e_recall@1"}, 0)},
		{"select beyond the last epoch", "select", `eval_every = 200 is more than schedule.epochs = 150, so none is evaluated`,
			sel(map[string]any{"metric": "e_recall@1"}, 200)},
		{"select metric typo", "select.metric", `Did you mean "e_recall@1"?`, sel(map[string]any{"metric": "e_recal@1"}, 1)},
		{"select by a distance", "select.metric", `select.metric = "dists@intra": selection keeps the epoch with the largest value`,
			sel(map[string]any{"metric": "dists@intra"}, 1)},
		{"select the untrained network", "select", `schedule.epochs = 0 stores the untrained network, so there is no epoch to select`,
			func(p stage.Params) {
				sel(map[string]any{"metric": "nmi"}, 1)(p)
				p.Object("schedule")["epochs"] = int64(0)
			}},
		{"select split without metric", "select.metric", `select sets split or allow_test but no metric`, sel(map[string]any{"split": "test", "allow_test": true}, 1)},
		{"no eval metrics", "eval_metrics", `eval_every = 2 evaluates every 2 epochs, but eval_metrics is empty`,
			func(p stage.Params) { p["eval_every"], p["eval_metrics"] = int64(2), []string{} }},
		{"scheduler", "schedule.scheduler", `Did you mean "step"?`, sched("scheduler", "stepp")},
		{"sampler", "schedule.sampler", `Did you mean "class_random"?`, sched("sampler", "class_randm")},
		{"augmentation", "schedule.augmentation", `Did you mean "base"?`, sched("augmentation", "bse")},
		{"autocast", "autocast", `Did you mean "bf16"?`, top("autocast", "bf17")},
		{"arch typo", "arch", `Did you mean "smallcnn_normalize"?`, top("arch", "smallcnn_normalise")},
		{"arch unknown", "arch", `"vgg" names no backbone`, top("arch", "vgg")},
		{"batch_mining nonsense", "batch_mining", `"nonsense" is not a batchminer; the batchminers are`, top("batch_mining", "nonsense")},
		{"batch_mining typo", "batch_mining", `Did you mean "semihard"?`, top("batch_mining", "semi_hard")},
		{"loss alias", "loss", `Did you mean "oproxy"?`, func(p stage.Params) { p["loss"] = map[string]any{"kind": "proxyanchor"} }},
		{"loss parameter", "loss.w_align", `must be a finite number`, loss("nir", map[string]any{"w_align": math.NaN()})},
		{"loss multiplier", "loss.lrmulti", `must be greater than 0`, loss("oproxy", map[string]any{"lrmulti": -2000.0})},
		{"nir flow depth", "loss.nf_fc_depth", `must be at least 2`, loss("nir", map[string]any{"nf_fc_depth": int64(1)})},
		{"s2sd sub-criterion", "loss.source", `"nir" is not a sub-criterion name`, loss("s2sd", map[string]any{"source": "nir"})},
		{"npair needs its miner", "loss", `works only with batch_mining = "npair"`, loss("npair", nil)},
		{"nir needs two dims", "loss", `needs embed_dim >= 2`, func(p stage.Params) { p["loss"] = lossParams("nir", nil); p["embed_dim"] = int64(1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validParams()
			c.set(p)
			_, probs := Def().Decode(p)
			if len(probs) != 1 || probs[0].Path != c.path || !strings.Contains(probs[0].Detail, c.want) {
				t.Fatalf("problems %v, want one at %s containing %q", probs, c.path, c.want)
			}
		})
	}
	if _, probs := Def().Decode(validParams()); len(probs) != 0 {
		t.Fatalf("valid parameters: %v", probs)
	}
	for _, set := range []map[string]any{
		{"metric": "e_recall@1", "split": "val"},
		{"metric": "c_mAP@R", "split": "test", "allow_test": true},
	} {
		p := validParams()
		for k, v := range set {
			p.Object("select")[k] = v
		}
		p["eval_every"] = int64(5)
		if _, probs := Def().Decode(p); len(probs) != 0 {
			t.Fatalf("select %v is valid: %v", set, probs)
		}
	}
	untrained := validParams()
	untrained.Object("schedule")["epochs"] = int64(0)
	if _, probs := Def().Decode(untrained); len(probs) != 0 {
		t.Fatalf("epochs = 0 (the untrained network) is valid: %v", probs)
	}
}

// TestGeneratedReference: the reference's arch, loss and batch_mining rows come from the
// plug-in tables, so a new backbone, loss or miner documents itself.
func TestGeneratedReference(t *testing.T) {
	byName := map[string]stage.Param{}
	for _, p := range Def().Params {
		byName[p.Name] = p
	}
	if d := byName["arch"].Doc; !strings.Contains(d, "smallcnn (frozen, normalize, double)") || !strings.Contains(d, "lp2") {
		t.Errorf("arch doc: %s", d)
	}
	if bm := byName["batch_mining"]; !slices.Equal(bm.Enum, miners.Builtin().Names()) || bm.Aliases["semi_hard"] != "semihard" ||
		!strings.Contains(bm.Doc, "(contrastive, margin, npair, s2sd, triplet)") {
		t.Errorf("batch_mining: %+v", bm)
	}
	l := byName["loss"]
	for _, n := range criteria.Builtin().Names() {
		if loss, _ := criteria.Builtin().Lookup(n); l.Variants[n] == nil || l.VariantDocs[n] != loss.Doc || loss.Doc == "" {
			t.Errorf("loss %s: not in the variants or without its doc (%q)", n, l.VariantDocs[n])
		}
	}
	if l.Aliases["proxyanchor"] != "oproxy" {
		t.Errorf("loss aliases %v", l.Aliases)
	}
}

// meanNorm is a loss declared in this test file, the way a loss's file in
// stages/train/criteria declares one; TestTrainWithATestLoss trains with it.
var meanNorm = criteria.Define(criteria.Spec[meanNormParams]{
	Name:     "mean_norm",
	Doc:      "Pulls each embedding towards its class's learned centre (a test loss).",
	Defaults: meanNormParams{LRMulti: 10},
	New: func(p *meanNormParams, env criteria.Env) (criteria.Criterion, error) {
		c := torch.Randn([]int64{int64(env.C), int64(env.D)}, torch.Float32, torch.CPUDevice).To(env.Device).SetRequiresGrad(true)
		return &centres{c: c, lrmulti: p.LRMulti}, nil
	},
})

type meanNormParams struct {
	LRMulti float64 `param:"lrmulti" above:"0" doc:"Centre learning rate = lr x this."`
}

type centres struct {
	c       *torch.Tensor
	lrmulti float64
}

func (c *centres) Loss(b criteria.Batch) *torch.Tensor {
	return b.Embeds.Sub(c.c.Index(b.Labels)).PowScalar(2).Sum().DivScalar(float64(b.Embeds.Size(0)))
}
func (c *centres) Groups(lr float64) []optim.Group {
	return []optim.Group{{Name: "mean_norm.centres", Params: []*torch.Tensor{c.c}, LR: lr * c.lrmulti}}
}
func (c *centres) Named() ([]string, []*torch.Tensor) {
	return []string{"centres"}, []*torch.Tensor{c.c}
}
func (c *centres) Close() { c.c.Close() }

// TestTrainWithATestLoss: a loss is one value; a table with it, passed to the train stage,
// makes it a valid `loss "mean_norm"` block that trains, checkpoints its parameters and is
// recorded in model.json. The built-in stage does not know it.
func TestTrainWithATestLoss(t *testing.T) {
	tab, err := criteria.NewTable(append([]criteria.Loss{meanNorm}, builtinLosses()...)...)
	if err != nil {
		t.Fatal(err)
	}
	d := Def(Options{Losses: tab})
	s := newSetup(t, 6, 8)
	s.params["loss"] = map[string]any{"kind": "mean_norm", "lrmulti": 5.0}
	s.params.Object("schedule")["epochs"] = int64(1)
	if _, probs := d.Decode(s.params); len(probs) != 0 {
		t.Fatalf("decode: %v", probs)
	}
	if _, probs := Def().Decode(s.params); len(probs) != 1 || probs[0].Path != "loss" {
		t.Fatalf("the built-in stage accepted the test loss: %v", probs)
	}
	out := t.TempDir()
	if err := d.Run(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	rows := readLog(t, out)
	if len(rows) != 2 || rows[0][5] != "lr_mean_norm.centres" || rows[1][5] != "0.005" {
		t.Fatalf("train_log.csv %v", rows)
	}
	sd := loadCkpt(t, out+"/checkpoint.safetensors")
	if c := sd["criterion.centres"]; c == nil || !sameShape(c.Shape(), []int64{6, 16}) {
		t.Fatalf("checkpoint criterion.centres = %v", c)
	}
	info, err := ReadModelInfo(out)
	if err != nil || info.Loss != "mean_norm" || info.LossParams["lrmulti"] != 5.0 {
		t.Fatalf("model.json: %+v (%v)", info, err)
	}
}

// builtinLosses is the built-in table's losses, for tables that add one.
func builtinLosses() []criteria.Loss {
	var out []criteria.Loss
	for _, n := range criteria.Builtin().Names() {
		l, _ := criteria.Builtin().Lookup(n)
		out = append(out, l)
	}
	return out
}

// firstTriplets is a batchminer declared in this test file: for each class with two
// samples, (first, second, first sample of the next class).
var firstTriplets = miners.Define(miners.Spec[struct{}]{
	Name: "first_triplets",
	Doc:  "The first two samples of each class and the next class's first (a test miner).",
	New: func(*struct{}, miners.Sources) (miners.Miner, error) {
		return firstMiner{}, nil
	},
})

type firstMiner struct{}

func (firstMiner) Mine(_ *torch.Tensor, labels []int64) [][3]int {
	first := map[int64][]int{}
	var order []int64
	for i, l := range labels {
		if _, ok := first[l]; !ok {
			order = append(order, l)
		}
		first[l] = append(first[l], i)
	}
	var out [][3]int
	for k, l := range order {
		next := first[order[(k+1)%len(order)]]
		if idx := first[l]; len(idx) >= 2 && len(order) > 1 {
			out = append(out, [3]int{idx[0], idx[1], next[0]})
		}
	}
	return out
}

// TestTrainWithATestMiner: a miner table passed to the train stage makes batch_mining
// accept its miner, which a mining loss then trains with.
func TestTrainWithATestMiner(t *testing.T) {
	var entries []miners.Entry
	for _, n := range miners.Builtin().Names() {
		e, _ := miners.Builtin().Lookup(n)
		entries = append(entries, e)
	}
	tab, err := miners.NewTable(append(entries, firstTriplets)...)
	if err != nil {
		t.Fatal(err)
	}
	d := Def(Options{Miners: tab})
	s := newSetup(t, 6, 8)
	s.params["loss"] = lossParams("triplet", nil)
	s.params["batch_mining"] = "first_triplets"
	s.params.Object("schedule")["epochs"] = int64(1)
	if _, probs := Def().Decode(s.params); len(probs) != 1 || probs[0].Path != "batch_mining" {
		t.Fatalf("the built-in stage accepted the test miner: %v", probs)
	}
	out := t.TempDir()
	if err := d.Run(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	if rows := readLog(t, out); len(rows) != 2 || rows[1][1] == "" || rows[1][2] != "0" {
		t.Fatalf("train_log.csv %v", rows)
	}
}

// TestSelectValidatesAtFileLineCol: `dmlrun validate` reports the selection and evaluation
// rules at the value that breaks them, in HCL and in YAML: selecting on test without
// allow_test at the split, selecting without eval_every at the select object, an unknown
// eval_metrics name at its element with "did you mean".
func TestSelectValidatesAtFileLineCol(t *testing.T) {
	reg, err := stage.NewRegistry(load.Def(), Def())
	if err != nil {
		t.Fatal(err)
	}
	const hclHead = `dataset "d" {
  kind      = "emoji"
  root      = "/nonexistent"
  val_split = 0.8
}

train "t" {
  dataset        = dataset.d
  arch           = "smallcnn_normalize"
  not_pretrained = true
`
	const yamlHead = `dataset:
  d: { kind: emoji, root: /nonexistent, val_split: 0.8 }
train:
  t:
    dataset: dataset.d
    arch: smallcnn_normalize
    not_pretrained: true
`
	cases := []struct {
		name, file, body string
		line, col        int
		summary, detail  string
	}{
		{"test without opt-in", "x.hcl", "  eval_every     = 1\n  select         = { metric = \"e_recall@1\", split = \"test\" }\n}\n",
			12, 53, "Selection on the test split", `select.split = "test" picks the epoch by its test numbers`},
		{"no eval_every", "x.hcl", "  select         = { metric = \"e_recall@1\" }\n}\n",
			11, 20, "Selection without evaluation", `eval_every = 0 evaluates none`},
		{"eval metric typo", "x.hcl", "  eval_every     = 1\n  eval_metrics   = [\"nmi\", \"e_recal@4\"]\n}\n",
			12, 28, "Unknown metric", `Did you mean "e_recall@4"?`},
		{"test without opt-in", "x.yaml", "    eval_every: 1\n    select: { metric: e_recall@1, split: test }\n",
			9, 42, "Selection on the test split", `select.split = "test" picks the epoch by its test numbers`},
		{"eval metric typo", "x.yaml", "    eval_every: 1\n    eval_metrics: [nmi, e_recal@4]\n",
			9, 25, "Unknown metric", `Did you mean "e_recall@4"?`},
	}
	for _, c := range cases {
		t.Run(c.file+" "+c.name, func(t *testing.T) {
			src := hclHead + c.body
			if strings.HasSuffix(c.file, ".yaml") {
				src = yamlHead + c.body
			}
			_, diags := spec.Parse(c.file, []byte(src), spec.LoadOptions{Registry: reg, LookupEnv: func(string) (string, bool) { return "", false }})
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got %v", diags)
			}
			d := diags[0]
			if d.Summary != c.summary || d.Subject == nil || d.Subject.Start.Line != c.line || d.Subject.Start.Column != c.col || !strings.Contains(d.Detail, c.detail) {
				t.Errorf("%s at %v: %s\nwant %s at %d:%d containing %q", d.Summary, d.Subject, d.Detail, c.summary, c.line, c.col, c.detail)
			}
		})
	}
}
