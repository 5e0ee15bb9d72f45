package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dmlrun/stage"
)

// nodeView is a Node without source ranges: what two equivalent files must agree on.
type nodeView struct {
	Addr   string
	Params stage.Params
	Inputs []string // "param -> target"
}

func views(exp *Experiment) []nodeView {
	out := make([]nodeView, 0, len(exp.Nodes))
	for _, n := range exp.Nodes {
		v := nodeView{Addr: n.Addr.String(), Params: n.Params}
		for _, in := range n.Inputs {
			v.Inputs = append(v.Inputs, in.Param+" -> "+in.Target.String())
		}
		out = append(out, v)
	}
	return out
}

// load writes src to a temporary file with the given name and loads it.
func load(t *testing.T, name, src string, opts LoadOptions) (*Experiment, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = noEnv
	}
	exp, diags := Load(path, opts)
	if diags.HasErrors() {
		var b strings.Builder
		_ = WriteDiagnostics(&b, exp.Files, diags, 0, false)
		t.Fatalf("%s: unexpected diagnostics:\n%s", name, b.String())
	}
	return exp, path
}

const cubHCL = `
variable "data_root" { default = "../Datasets" }
variable "epochs" { default = 100 }

locals {
  common = { batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1 }
}

dataset "cub" {
  kind = "cub200"
  root = "${var.data_root}/cub200"
}

train "baseline" {
  dataset   = dataset.cub
  seeds     = [0, 1, 2]
  arch      = "resnet50_frozen_normalize"
  embed_dim = 128
  loss "oproxy" {}
  schedule  = { epochs = var.epochs, batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1 }
}

train "nir" {
  dataset   = dataset.cub
  seeds     = [0, 1, 2]
  embed_dim = 128
  loss "nir" { w_align = 0.0075 }
  schedule  = { epochs = var.epochs, batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1, warmup = 1 }
}

evaluate "test" {
  models  = [train.baseline, train.nir]
  metrics = ["e_recall@1", "nmi"]
}

report "table" { from = evaluate.test }
`

// The same experiment: attributes and blocks reordered, defaults written out, floats
// written as integers and integers as floats.
const cubHCLReordered = `
train "baseline" {
  loss "oproxy" {
    lrmulti = 2000
    mode    = "anchor"
  }
  schedule = { gamma = 0.1, tau = [100.0], lr = 0.00001, batch_size = 90.0, epochs = 100, warmup = 0 }
  embed_dim   = 128.0
  lr          = 0.00001
  use_float16 = false
  seeds       = [0, 1, 2]
  dataset     = dataset.cub
}

variable "data_root" {
  description = "where the datasets live"
  default     = "../Datasets"
}

dataset "cub" {
  subset = 0
  root   = "../Datasets/cub200"
  kind   = "cub200"
}

train "nir" {
  schedule = { warmup = 1, epochs = 50 * 2, batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1 }
  seeds    = range(3)
  dataset  = dataset.cub
  loss "nir" {
    cblocks       = 5.0
    proxy_lrmulti = 4000
    w_align       = 75e-4
  }
}

report "table" {
  formats = ["table"]
  from    = evaluate.test
}

evaluate "test" {
  metrics = ["e_recall@1", "nmi"]
  models  = [train.baseline, train.nir]
}
`

const cubYAML = `
variables:
  data_root: { default: ../Datasets }
  epochs: { default: 100 }
dataset:
  cub: { kind: cub200, root: "${var.data_root}/cub200" }
train:
  baseline:
    dataset: dataset.cub
    seeds: [0, 1, 2]
    arch: resnet50_frozen_normalize
    embed_dim: 128
    loss: { oproxy: {} }
    schedule: { epochs: "${var.epochs}", batch_size: 90, lr: 1e-5, tau: [100], gamma: 0.1 }
  nir:
    dataset: dataset.cub
    seeds: [0, 1, 2]
    embed_dim: 128
    loss:
      nir:
        w_align: 0.0075
    schedule: { epochs: 100, batch_size: 90, lr: 1e-5, tau: [100], gamma: 0.1, warmup: 1 }
evaluate:
  test:
    models: [train.baseline, train.nir]
    metrics: [e_recall@1, nmi]
report:
  table: { from: evaluate.test }
`

const cubYAMLReordered = `
report:
  table:
    from: evaluate.test
    formats: [table]
evaluate:
  test:
    metrics: ["e_recall@1", "nmi"]
    models:
      - train.baseline
      - train.nir
train:
  nir:
    loss: { nir: { w_align: 7.5e-3, lrmulti: 50 } }
    schedule:
      warmup: 1
      gamma: 0.1
      tau: [100]
      lr: 0.00001
      batch_size: 90.0
      epochs: 100
    seeds: [0, 1, 2]
    dataset: dataset.cub
    arch: ~
  baseline:
    loss: { oproxy: ~ }
    schedule: { tau: [100], gamma: 0.1, lr: 1e-5, batch_size: 90, epochs: 100, warmup: 0 }
    lr: 1e-5
    embed_dim: 128
    dataset: "dataset.cub"
    seeds: [0, 1, 2]
dataset:
  cub:
    kind: cub200
    root: ../Datasets/cub200
    subset: 0
`

func TestEquivalentFiles(t *testing.T) {
	ref, _ := load(t, "ref.hcl", cubHCL, LoadOptions{Registry: testRegistry})
	want := views(ref)
	if len(want) != 1+3+3+6+1 {
		t.Fatalf("got %d nodes, want 14", len(want))
	}
	for _, tc := range []struct{ name, file, src string }{
		{"hcl reordered, defaults spelled out", "a.hcl", cubHCLReordered},
		{"yaml", "b.yaml", cubYAML},
		{"yaml reordered, defaults spelled out", "c.yml", cubYAMLReordered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, _ := load(t, tc.file, tc.src, LoadOptions{Registry: testRegistry})
			got := views(exp)
			// Node order is declaration order, which differs between these files; the
			// meaning is the set of nodes.
			if len(got) != len(want) {
				t.Fatalf("got %d nodes, want %d", len(got), len(want))
			}
			byAddr := map[string]nodeView{}
			for _, v := range got {
				byAddr[v.Addr] = v
			}
			for _, w := range want {
				g, ok := byAddr[w.Addr]
				if !ok {
					t.Errorf("missing node %s", w.Addr)
					continue
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("node %s differs:\n got %#v\nwant %#v", w.Addr, g, w)
				}
			}
		})
	}
}

func TestCanonicalTypes(t *testing.T) {
	exp, _ := load(t, "x.hcl", cubHCLReordered, LoadOptions{Registry: testRegistry})
	n := exp.Node("train.nir[seed=1]")
	if n == nil {
		t.Fatal("no node train.nir[seed=1]")
	}
	p := n.Params
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"seed", p["seed"], int64(1)},
		{"embed_dim default", p["embed_dim"], int64(128)},
		{"lr default", p["lr"], 1e-5},
		{"arch default", p["arch"], "resnet50_frozen_normalize"},
		{"loss", p["loss"], map[string]any{"kind": "nir", "w_align": 0.0075, "proxy_lrmulti": 4000.0, "lrmulti": 50.0, "cblocks": int64(5)}},
		{"schedule", p["schedule"], map[string]any{"epochs": int64(100), "batch_size": int64(90), "lr": 1e-5,
			"tau": []int64{100}, "gamma": 0.1, "warmup": int64(1)}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v (%T), want %#v (%T)", c.name, c.got, c.got, c.want, c.want)
		}
	}
	// Getters of stage.Params work on the decoded values.
	if p.Object("schedule").Ints("tau")[0] != 100 || p.Object("loss").String("kind") != "nir" || p.Int("seed") != 1 {
		t.Error("stage.Params getters disagree with the decoded values")
	}
	// Nodes share no mutable values.
	p.Object("schedule").Ints("tau")[0] = 7
	if exp.Node("train.nir[seed=0]").Params.Object("schedule").Ints("tau")[0] != 100 {
		t.Error("instances share a slice")
	}
}

func TestExpansion(t *testing.T) {
	const datasets = `
dataset "cub" { kind = "cub200" }
dataset "cars" { kind = "cars196" }
`
	type want struct {
		addrs  []string
		inputs map[string][]string // addr -> "param -> target"
		params map[string]map[string]any
	}
	for _, tc := range []struct {
		name string
		src  string
		want want
	}{
		{
			name: "no expansion",
			src: datasets + `train "a" {
  dataset = dataset.cub
  loss "oproxy" {}
}`,
			want: want{
				addrs:  []string{"dataset.cub", "dataset.cars", "train.a"},
				inputs: map[string][]string{"train.a": {"dataset -> dataset.cub"}, "dataset.cub": nil},
				params: map[string]map[string]any{"train.a": {"embed_dim": int64(128)}},
			},
		},
		{
			name: "seeds",
			src: datasets + `train "a" {
  dataset = dataset.cub
  seeds   = [3, 1]
  loss "oproxy" {}
}`,
			want: want{
				addrs: []string{"dataset.cub", "dataset.cars", "train.a[seed=3]", "train.a[seed=1]"},
				inputs: map[string][]string{
					"train.a[seed=3]": {"dataset -> dataset.cub"},
					"train.a[seed=1]": {"dataset -> dataset.cub"},
				},
				params: map[string]map[string]any{"train.a[seed=3]": {"seed": int64(3)}, "train.a[seed=1]": {"seed": int64(1)}},
			},
		},
		{
			name: "matrix times seeds, keys sorted, first key outermost",
			src: datasets + `train "a" {
  dataset = dataset.cub
  seeds   = [0, 1]
  matrix  = { lr = [1e-5, 1e-4], embed_dim = [128, 512] }
  loss "oproxy" {}
}`,
			want: want{
				addrs: []string{"dataset.cub", "dataset.cars",
					"train.a[embed_dim=128,lr=1e-05,seed=0]", "train.a[embed_dim=128,lr=1e-05,seed=1]",
					"train.a[embed_dim=128,lr=0.0001,seed=0]", "train.a[embed_dim=128,lr=0.0001,seed=1]",
					"train.a[embed_dim=512,lr=1e-05,seed=0]", "train.a[embed_dim=512,lr=1e-05,seed=1]",
					"train.a[embed_dim=512,lr=0.0001,seed=0]", "train.a[embed_dim=512,lr=0.0001,seed=1]"},
				params: map[string]map[string]any{
					"train.a[embed_dim=512,lr=0.0001,seed=1]": {"embed_dim": int64(512), "lr": 1e-4, "seed": int64(1)},
				},
			},
		},
		{
			name: "matrix over a list and a string",
			src: datasets + `train "a" {
  dataset  = dataset.cub
  matrix   = { arch = ["resnet50_frozen_normalize", "resnet18_frozen_normalize"] }
  loss "oproxy" {}
}`,
			want: want{
				addrs: []string{"dataset.cub", "dataset.cars",
					"train.a[arch=resnet50_frozen_normalize]", "train.a[arch=resnet18_frozen_normalize]"},
			},
		},
		{
			name: "evaluate expands over models, report gathers all",
			src: datasets + `
report "r" { from = evaluate.test }
evaluate "test" {
  models     = [train.b, train.a]
  depends_on = [dataset.cars]
}
train "a" {
  dataset = dataset.cub
  seeds   = [0, 1]
  loss "oproxy" {}
}
train "b" {
  dataset = dataset.cars
  loss "nir" {}
}`,
			want: want{
				addrs: []string{"dataset.cub", "dataset.cars", "report.r",
					"evaluate.test[train.b]", "evaluate.test[train.a[seed=0]]", "evaluate.test[train.a[seed=1]]",
					"train.a[seed=0]", "train.a[seed=1]", "train.b"},
				inputs: map[string][]string{
					"evaluate.test[train.a[seed=1]]": {"models -> train.a[seed=1]", "depends_on -> dataset.cars"},
					"evaluate.test[train.b]":         {"models -> train.b", "depends_on -> dataset.cars"},
					"report.r": {"from -> evaluate.test[train.b]", "from -> evaluate.test[train.a[seed=0]]",
						"from -> evaluate.test[train.a[seed=1]]"},
				},
				params: map[string]map[string]any{"evaluate.test[train.b]": {"metrics": []string{
					"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"}}},
			},
		},
		{
			name: "a seeded block over a seeded block takes all its instances",
			src: `
dataset "d" {
  kind  = "synthetic"
  seeds = [0, 1]
}
train "t" {
  depends_on = [dataset.d]
  dataset    = dataset.d
  seeds      = [5]
  loss "oproxy" {}
}`,
			want: want{
				addrs: []string{"dataset.d[seed=0]", "dataset.d[seed=1]", "train.t[seed=5]"},
				inputs: map[string][]string{"train.t[seed=5]": {
					"depends_on -> dataset.d[seed=0]", "depends_on -> dataset.d[seed=1]",
					"dataset -> dataset.d[seed=0]", "dataset -> dataset.d[seed=1]"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, _ := load(t, "x.hcl", tc.src, LoadOptions{Registry: testRegistry})
			var addrs []string
			for _, n := range exp.Nodes {
				addrs = append(addrs, n.Addr.String())
			}
			if !reflect.DeepEqual(addrs, tc.want.addrs) {
				t.Errorf("nodes:\n got %q\nwant %q", addrs, tc.want.addrs)
			}
			for addr, wantIn := range tc.want.inputs {
				n := exp.Node(addr)
				if n == nil {
					t.Errorf("no node %s", addr)
					continue
				}
				var got []string
				for _, in := range n.Inputs {
					got = append(got, in.Param+" -> "+in.Target.String())
				}
				if !reflect.DeepEqual(got, wantIn) {
					t.Errorf("%s inputs:\n got %q\nwant %q", addr, got, wantIn)
				}
			}
			for addr, ps := range tc.want.params {
				n := exp.Node(addr)
				if n == nil {
					t.Errorf("no node %s", addr)
					continue
				}
				for k, v := range ps {
					if !reflect.DeepEqual(n.Params[k], v) {
						t.Errorf("%s param %s = %#v, want %#v", addr, k, n.Params[k], v)
					}
				}
			}
		})
	}
}

func TestVariables(t *testing.T) {
	const src = `
variable "root"   { default = "/data" }
variable "epochs" { default = 10 }
variable "fp16"   { default = false }
variable "seeds"  { default = [0] }
variable "name"   {}

dataset "d" {
  kind = "synthetic"
  root = "${var.root}/${var.name}"
}
train "t" {
  dataset     = dataset.d
  seeds       = var.seeds
  use_float16 = var.fp16
  schedule    = { epochs = var.epochs }
  loss "oproxy" {}
}
`
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name   string
		opts   LoadOptions
		root   string
		epochs int64
		fp16   bool
		nodes  int
	}{
		{"defaults and env for the required one", LoadOptions{Registry: testRegistry, LookupEnv: env(map[string]string{"DMLRUN_VAR_name": "x"})}, "/data/x", 10, false, 2},
		{"-var converts to the default's type", LoadOptions{Registry: testRegistry,
			Vars:      map[string]string{"name": "y", "epochs": "3", "fp16": "true", "seeds": "[1, 2, 3]"},
			LookupEnv: env(nil)}, "/data/y", 3, true, 4},
		{"-var beats env", LoadOptions{Registry: testRegistry,
			Vars:      map[string]string{"name": "cli", "root": "/r"},
			LookupEnv: env(map[string]string{"DMLRUN_VAR_name": "env", "DMLRUN_VAR_epochs": "7"})}, "/r/cli", 7, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, _ := load(t, "v.hcl", src, tc.opts)
			if got := exp.NodesOf("dataset.d")[0].Params.String("root"); got != tc.root {
				t.Errorf("root = %q, want %q", got, tc.root)
			}
			tr := exp.NodesOf("train.t")
			if len(exp.Nodes) != tc.nodes || len(tr) == 0 {
				t.Fatalf("got %d nodes, want %d", len(exp.Nodes), tc.nodes)
			}
			if got := tr[0].Params.Object("schedule").Int("epochs"); got != tc.epochs {
				t.Errorf("epochs = %d, want %d", got, tc.epochs)
			}
			if got := tr[0].Params.Bool("use_float16"); got != tc.fp16 {
				t.Errorf("use_float16 = %v, want %v", got, tc.fp16)
			}
		})
	}

	for _, tc := range []struct {
		name, summary string
		opts          LoadOptions
	}{
		{"required variable unset", "No value for required variable", LoadOptions{Registry: testRegistry, LookupEnv: env(nil)}},
		{"bad number", "Invalid value for variable", LoadOptions{Registry: testRegistry, Vars: map[string]string{"name": "x", "epochs": "ten"}, LookupEnv: env(nil)}},
		{"bad bool from env", "Invalid value for variable", LoadOptions{Registry: testRegistry, LookupEnv: env(map[string]string{"DMLRUN_VAR_name": "x", "DMLRUN_VAR_fp16": "yes please"})}},
		{"list var not a list", "Invalid value for variable", LoadOptions{Registry: testRegistry, Vars: map[string]string{"name": "x", "seeds": "3"}, LookupEnv: env(nil)}},
		{"undeclared -var", "Value for undeclared variable", LoadOptions{Registry: testRegistry, Vars: map[string]string{"name": "x", "epoch": "3"}, LookupEnv: env(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse("v.hcl", []byte(src), tc.opts)
			found := false
			for _, d := range diags {
				found = found || d.Summary == tc.summary
			}
			if !found {
				t.Errorf("want a %q diagnostic, got %v", tc.summary, diags)
			}
		})
	}
}

// TestYAMLRanges checks that YAML positions (line, column, byte) point at the source.
func TestYAMLRanges(t *testing.T) {
	src := "dataset:\n  cub: { kind: cub200 }\ntrain:\n  \"a b\":\n    dataset: 'dataset.cub'\n    loss: { oproxy: {} }\n    embed_dim: \"abc\"\n"
	_, diags := Parse("r.yaml", []byte(src), LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
	if len(diags) != 1 {
		t.Fatalf("want 1 diagnostic, got %v", diags)
	}
	if diags[0].Summary != "Invalid block name" {
		t.Fatalf("got %s", diags[0].Summary)
	}
	src = strings.Replace(src, "\"a b\"", "nir", 1) + "    arch: \"résnet\" # é\n"
	exp, diags := Parse("r.yaml", []byte(src), LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
	if len(diags) != 2 {
		t.Fatalf("want 2 diagnostics, got %v", diags)
	}
	for _, d := range diags {
		r := d.Subject
		text := string(src[r.Start.Byte:r.End.Byte])
		switch d.Summary {
		case "Incorrect value type":
			if text != `"abc"` || r.Start.Line != 7 || r.Start.Column != 16 {
				t.Errorf("embed_dim subject %q at %d:%d", text, r.Start.Line, r.Start.Column)
			}
		case "Invalid value":
			if text != `"résnet"` || r.Start.Line != 8 || r.Start.Column != 11 || r.End.Column != 19 {
				t.Errorf("arch subject %q at %d:%d-%d", text, r.Start.Line, r.Start.Column, r.End.Column)
			}
		default:
			t.Errorf("unexpected %s", d.Summary)
		}
	}
	if exp.Files["r.yaml"] == nil || string(exp.Files["r.yaml"].Bytes) != src {
		t.Error("the YAML source is not registered in Files")
	}
}

func TestAddr(t *testing.T) {
	for _, tc := range []struct {
		addr  Addr
		str   string
		block string
	}{
		{Addr{"train", "nir", ""}, "train.nir", "train.nir"},
		{Addr{"train", "nir", "seed=1"}, "train.nir[seed=1]", "train.nir"},
		{Addr{"evaluate", "test", "train.nir[seed=1]"}, "evaluate.test[train.nir[seed=1]]", "evaluate.test"},
	} {
		if got := tc.addr.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.addr.Block(); got != tc.block {
			t.Errorf("Block() = %q, want %q", got, tc.block)
		}
		back, err := ParseAddr(tc.str)
		if err != nil || back != tc.addr {
			t.Errorf("ParseAddr(%q) = %#v, %v", tc.str, back, err)
		}
	}
	for _, bad := range []string{"train", "train.", "train.nir[", "train.nir[]", "a.b.c"} {
		if _, err := ParseAddr(bad); err == nil {
			t.Errorf("ParseAddr(%q) succeeded", bad)
		}
	}
}

func TestChecks(t *testing.T) {
	exp, _ := load(t, "c.hcl", cubHCL+`
check "nir_not_worse" {
  baseline   = train.baseline
  candidate  = train.nir
  tolerances = { "e_recall@1" = 0.02, nmi = 1 }
}`, LoadOptions{Registry: testRegistry})
	c, ok := exp.Checks["nir_not_worse"]
	if !ok {
		t.Fatal("check not decoded")
	}
	if c.Baseline != "train.baseline" || c.Candidate != "train.nir" ||
		!reflect.DeepEqual(c.Tolerances, map[string]float64{"e_recall@1": 0.02, "nmi": 1}) || c.Range.Start.Line == 0 {
		t.Errorf("check = %#v", c)
	}
}

func TestEmptyAndFormats(t *testing.T) {
	for _, name := range []string{"e.hcl", "e.yaml", "e.yml"} {
		exp, diags := Parse(name, nil, LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
		if diags.HasErrors() || len(exp.Nodes) != 0 {
			t.Errorf("%s: empty file gave %v", name, diags)
		}
	}
	if _, diags := Parse("e.json", nil, LoadOptions{Registry: testRegistry}); !diags.HasErrors() {
		t.Error("unknown extension accepted")
	}
	if _, diags := Load(filepath.Join(t.TempDir(), "missing.hcl"), LoadOptions{Registry: testRegistry}); !diags.HasErrors() {
		t.Error("missing file accepted")
	}
}

// TestValuesFromExpressions: values computed through variables, locals, functions,
// conditionals and templates decode exactly like the same values written literally.
func TestValuesFromExpressions(t *testing.T) {
	const literal = `
dataset "d" {
  kind = "cars196"
  root = "/data/cars196"
}
train "t" {
  dataset   = dataset.d
  seeds     = [0, 1, 2]
  embed_dim = 512
  lr        = 0.0001
  loss "nir" { w_align = 0.01 }
  schedule  = { epochs = 100, tau = [100], gamma = 0.1, warmup = 1 }
}
`
	const computed = `
variable "dim" { default = 128 }
variable "big" { default = true }
locals {
  name  = "cars196"
  sched = { epochs = 50 * 2, tau = [for e in [100]: e], gamma = 1 / 10, warmup = 1 }
}
dataset "d" {
  kind = local.name
  root = "/data/${lower(upper(local.name))}"
}
train "t" {
  dataset   = "${dataset.d}"
  seeds     = range(length(["a", "b", "c"]))
  embed_dim = var.big ? var.dim * 4 : var.dim
  lr        = max(1e-5, 1e-4)
  loss "nir" {}
  schedule  = local.sched
}
`
	const computedYAML = `
variables:
  dim: { default: 128 }
locals:
  name: cars196
  epochs: 100
dataset:
  d: { kind: "${local.name}", root: "/data/${local.name}" }
train:
  t:
    dataset: "${dataset.d}"
    seeds: "${range(3)}"
    embed_dim: "${var.dim * 4}"
    lr: "${1e-4}"
    loss: { nir: }
    schedule: { epochs: "${local.epochs}", tau: ["${local.epochs}"], gamma: 0.1, warmup: 1 }
`
	want := views(mustLoad(t, "l.hcl", literal))
	for name, src := range map[string]string{"c.hcl": computed, "c.yaml": computedYAML} {
		if got := views(mustLoad(t, name, src)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", name, got, want)
		}
	}
}

func mustLoad(t *testing.T, name, src string) *Experiment {
	t.Helper()
	exp, _ := load(t, name, src, LoadOptions{Registry: testRegistry})
	return exp
}

func TestChecksYAML(t *testing.T) {
	hcl := mustLoad(t, "c.hcl", cubHCL+`
check "gate" {
  baseline   = train.baseline
  candidate  = train.nir
  tolerances = { "e_recall@1" = 0.02, nmi = 1 }
}`)
	yml := mustLoad(t, "c.yaml", cubYAML+`
check:
  gate:
    baseline: train.baseline
    candidate: train.nir
    tolerances: { "e_recall@1": 0.02, nmi: 1 }
`)
	a, b := hcl.Checks["gate"], yml.Checks["gate"]
	a.Range, b.Range = hcl.Checks["gate"].Range, hcl.Checks["gate"].Range
	if !reflect.DeepEqual(a, b) || a.Baseline != "train.baseline" {
		t.Errorf("HCL %#v, YAML %#v", a, b)
	}
	if yml.Checks["gate"].Range.Filename != yml.Path || yml.Checks["gate"].Range.Start.Line != 31 {
		t.Errorf("YAML check range %#v", yml.Checks["gate"].Range)
	}
}

// A single reference where a list of references is expected reads as a list of one, in
// both syntaxes: `from = evaluate.test` means `from = [evaluate.test]`.
func TestSingleReferenceAsList(t *testing.T) {
	const head = `dataset "cub" { kind = "cub200" }
train "a" {
  dataset = dataset.cub
  seeds   = [0, 1]
  loss "oproxy" {}
}
`
	list, _ := load(t, "list.hcl", head+`evaluate "e" { models = [train.a] }`, LoadOptions{Registry: testRegistry})
	single, _ := load(t, "single.hcl", head+`evaluate "e" { models = train.a }`, LoadOptions{Registry: testRegistry})
	yml, _ := load(t, "single.yaml", `dataset: { cub: { kind: cub200 } }
train: { a: { dataset: dataset.cub, seeds: [0, 1], loss: { oproxy: {} } } }
evaluate: { e: { models: train.a } }
`, LoadOptions{Registry: testRegistry})
	want := views(list)
	if got := views(single); !reflect.DeepEqual(got, want) {
		t.Errorf("HCL single reference:\n got %+v\nwant %+v", got, want)
	}
	if got := views(yml); !reflect.DeepEqual(got, want) {
		t.Errorf("YAML single reference:\n got %+v\nwant %+v", got, want)
	}
	if len(want) != 5 { // dataset, two trains, one evaluate per train instance
		t.Errorf("got %d nodes, want 5", len(want))
	}
}
