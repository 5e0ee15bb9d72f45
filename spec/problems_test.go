package spec

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"dmlrun/stage"
)

// The probe stage reports a problem at every path its "fail" argument lists ("Probe") and
// at every number equal to -1 ("Minus one"), so that tests choose the paths that spec must
// map to source ranges. fail = ["panic"] makes its Decode panic.
var probeRegistry = func() *stage.Registry {
	r, err := testRegistry.With(&stage.Def{Kind: "probe", Version: 1, Run: notRun, Decode: decodeProbe, Params: []stage.Param{
		{Name: "n", Type: stage.Int, Default: int64(0)},
		{Name: "x", Type: stage.Float, Default: 0.0},
		{Name: "names", Type: stage.StringList, Default: []string{}},
		{Name: "obj", Type: stage.Object, Fields: []stage.Param{
			{Name: "a", Type: stage.Float, Default: 0.0},
			{Name: "b", Type: stage.IntList, Default: []int64{5}},
			{Name: "inner", Type: stage.Object, Fields: []stage.Param{{Name: "c", Type: stage.Int, Default: int64(0)}}},
		}},
		{Name: "req", Type: stage.Object, Fields: []stage.Param{
			{Name: "need", Type: stage.Int, Required: true},
			{Name: "opt", Type: stage.Int, Default: int64(0)},
		}},
		{Name: "m", Type: stage.Map},
		{Name: "fail", Type: stage.StringList, Default: []string{}},
		{Name: "v", Default: "k", Variants: map[string][]stage.Param{
			"k": {{Name: "w", Type: stage.Float, Default: 0.0}, {Name: "r", Type: stage.Int, Default: int64(0)}},
			"j": {{Name: "u", Type: stage.Int, Default: int64(0)}},
		}},
		{Name: "nv", Variants: map[string][]stage.Param{"k": {{Name: "w", Type: stage.Float, Default: 0.0}}}},
		{Name: "seed", Type: stage.Int, Default: int64(0)},
	}})
	if err != nil {
		panic(err)
	}
	return r
}()

func decodeProbe(p stage.Params) (any, stage.Problems) {
	var probs stage.Problems
	for _, path := range p.Strings("fail") {
		if path == "panic" {
			panic("probe told to panic")
		}
		probs.Addf(path, "Probe", "probe at %q", path)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case int64:
			if x == -1 {
				probs.Addf(path, "Minus one", "-1 at %q", path)
			}
		case float64:
			if x == -1 {
				probs.Addf(path, "Minus one", "-1 at %q", path)
			}
		case []int64:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case map[string]float64:
			for _, k := range sortedKeys(x) {
				walk(stage.JoinPath(path, k), x[k])
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(stage.JoinPath(path, k), x[k])
			}
		}
	}
	walk("", map[string]any(p))
	return nil, probs
}

// TestProblemRanges: every problem path a stage's Decode reports becomes a diagnostic at the
// tightest range the file has for it. Each want is "line: subject text", with " | context
// text" when the diagnostic has a context, in position order.
func TestProblemRanges(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		want            []string
	}{
		{"top-level attribute", "a.hcl", `probe "p" { n = -1 }`, []string{"1: -1"}},
		{"field of an object", "a.hcl", "probe \"p\" {\n  obj = { a = 2, inner = { c = -1 } }\n}", []string{"2: -1"}},
		{"field of an object from a local", "a.hcl", "locals { o = { a = -1 } }\nprobe \"p\" {\n  obj = local.o\n}",
			[]string{"3: local.o | obj = local.o"}},
		{"field of an object from a variable", "a.hcl", "variable \"o\" { default = { inner = { c = -1 } } }\nprobe \"p\" { obj = var.o }",
			[]string{"2: var.o | obj = var.o"}},
		{"a field's value from a variable", "a.hcl", "variable \"a\" { default = -1 }\nprobe \"p\" { obj = { a = var.a } }",
			[]string{"2: var.a"}},
		{"field of a merged object", "a.hcl", "locals { o = { a = 1 } }\nprobe \"p\" { obj = merge(local.o, { a = -1 }) }",
			[]string{"2: merge(local.o, { a = -1 }) | obj = merge(local.o, { a = -1 })"}},
		{"element of a list", "a.hcl", `probe "p" {
  names = ["a", "b"]
  fail  = ["names[1]"]
}`, []string{`2: "b"`}},
		{"element of a list in an object", "a.hcl", `probe "p" { obj = { b = [0, -1] } }`, []string{"1: -1"}},
		{"element of a list from a for expression", "a.hcl", `probe "p" {
  names = [for s in ["a", "b"] : s]
  fail  = ["names[1]"]
}`, []string{`2: [for s in ["a", "b"] : s] | names = [for s in ["a", "b"] : s]`}},
		{"member of a map", "a.hcl", `probe "p" { m = { "e_recall@1" = -1, k = 2 } }`, []string{"1: -1"}},
		{"field of a variant block", "a.hcl", "probe \"p\" {\n  v \"k\" {\n    w = -1\n  }\n}", []string{"3: -1"}},
		{"defaulted field of a variant block: its label", "a.hcl", "probe \"p\" {\n  v \"k\" {}\n  fail = [\"v.w\"]\n}", []string{`2: "k"`}},
		{"the variant block itself", "a.hcl", "probe \"p\" {\n  v \"k\" {}\n  fail = [\"v\"]\n}", []string{`2: "k"`}},
		{"an unwritten variant block: the block's label", "a.hcl", "probe \"p\" {\n  fail = [\"v.w\"]\n}", []string{`1: "p"`}},
		{"a defaulted argument: the block's label", "a.hcl", "probe \"p\" {\n  fail = [\"x\"]\n}", []string{`1: "p"`}},
		{"the block as a whole", "a.hcl", "probe \"p\" {\n  fail = [\"\"]\n}", []string{`1: "p"`}},
		{"a defaulted field: its object", "a.hcl", "probe \"p\" {\n  obj  = { a = 1 }\n  fail = [\"obj.inner.c\"]\n}", []string{"2: { a = 1 }"}},
		{"past a written list element: the element", "a.hcl", "probe \"p\" {\n  names = [\"a\"]\n  fail  = [\"names[0].x\"]\n}", []string{`2: "a"`}},
		{"a matrix value", "a.hcl", "probe \"p\" {\n  matrix = { n = [1, -1, 2] }\n}", []string{"2: -1"}},
		{"a matrix value of an object field", "a.hcl", "probe \"p\" {\n  matrix = { \"obj.a\" = [0, -1] }\n}", []string{"2: -1"}},
		{"a matrix value of a variant field", "a.hcl", "probe \"p\" {\n  v \"k\" {}\n  matrix = { \"v.w\" = [-1, 2] }\n}", []string{"3: -1"}},
		{"a member of a whole-object matrix value", "a.hcl", "probe \"p\" {\n  matrix = { obj = [{ a = 1 }, { a = -1 }] }\n}", []string{"2: -1"}},
		{"a matrix value over a member of a computed object", "a.hcl", "locals { o = { a = 1 } }\nprobe \"p\" {\n  obj    = local.o\n  matrix = { \"obj.a\" = [-1] }\n}",
			[]string{"4: -1"}},
		{"matrix values from a local", "a.hcl", "locals { ns = [1, -1] }\nprobe \"p\" {\n  matrix = { n = local.ns }\n}",
			[]string{"3: local.ns | matrix = { n = local.ns }"}},
		{"a seed", "a.hcl", "probe \"p\" {\n  seeds = [0, -1]\n}", []string{"2: -1"}},
		{"the same problem in every seed: once", "a.hcl", "probe \"p\" {\n  seeds = [0, 1, 2]\n  n     = -1\n}", []string{"3: -1"}},
		{"the same problem in every matrix instance: once, per-value ones each", "a.hcl",
			"probe \"p\" {\n  seeds  = [0, 1]\n  matrix = { x = [-1, 2, 3] }\n  n      = -1\n}", []string{"3: -1", "4: -1"}},
		{"several problems of one instance", "a.hcl", "probe \"p\" {\n  n    = -1\n  obj  = { a = -1 }\n  fail = [\"x\"]\n}",
			[]string{`1: "p"`, "2: -1", "3: -1"}},
		{"a block whose reference fails is still checked", "a.hcl", "probe \"p\" {\n  depends_on = [dataset.nope]\n  n = -1\n}",
			[]string{"2: dataset.nope", "3: -1"}},
		{"a stage whose Decode panics", "a.hcl", "probe \"p\" {\n  fail = [\"panic\"]\n}", []string{`1: "p"`}},

		{"YAML: top-level argument", "a.yaml", "probe:\n  p: { n: -1 }\n", []string{"2: -1"}},
		{"YAML: field of an object", "a.yaml", "probe:\n  p:\n    obj: { inner: { c: -1 } }\n", []string{"3: -1"}},
		{"YAML: field of an object from a local", "a.yaml", "locals:\n  o: { a: -1 }\nprobe:\n  p:\n    obj: \"${local.o}\"\n",
			[]string{`5: "${local.o}" | obj: "${local.o}"`}},
		{"YAML: element of a list", "a.yaml", "probe:\n  p:\n    names: [a, b]\n    fail: [\"names[1]\"]\n", []string{"3: b"}},
		{"YAML: field of a variant block", "a.yaml", "probe:\n  p:\n    v: { k: { w: -1 } }\n", []string{"3: -1"}},
		{"YAML: defaulted field of a variant block", "a.yaml", "probe:\n  p:\n    v: { k: {} }\n    fail: [v.r]\n", []string{"3: k"}},
		{"YAML: a nested matrix value", "a.yaml", "probe:\n  p:\n    matrix: { \"obj.a\": [0, -1] }\n", []string{"3: -1"}},
		{"YAML: a seed, once for a problem of all", "a.yaml", "probe:\n  p:\n    seeds: [-1, 1]\n    x: -1\n", []string{"3: -1", "4: -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(tc.file, []byte(tc.src), LoadOptions{Registry: probeRegistry, LookupEnv: noEnv})
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Fatalf("diagnostic without a subject: %s: %s", d.Summary, d.Detail)
				}
				s := fmt.Sprintf("%d: %s", d.Subject.Start.Line, tc.src[d.Subject.Start.Byte:d.Subject.End.Byte])
				if d.Context != nil {
					s += " | " + tc.src[d.Context.Start.Byte:d.Context.End.Byte]
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				var b strings.Builder
				for _, d := range diags {
					fmt.Fprintf(&b, "\n  %s: %s", d.Summary, d.Detail)
				}
				t.Errorf("got %q, want %q%s", got, tc.want, b.String())
			}
		})
	}
}

// TestProblemText: a problem's summary and detail are the stage's; a panicking Decode is
// reported as a stage bug.
func TestProblemText(t *testing.T) {
	for _, tc := range []struct{ src, summary, detail string }{
		{`probe "p" { fail = ["obj.a"] }`, "Probe", `probe at "obj.a"`},
		{`probe "p" { fail = ["panic"] }`, "Stage check failed", "The probe stage failed while checking the parameters of probe.p (probe told to panic). This is a bug in the stage, not in the file."},
	} {
		_, diags := Parse("a.hcl", []byte(tc.src), LoadOptions{Registry: probeRegistry, LookupEnv: noEnv})
		if len(diags) != 1 || diags[0].Summary != tc.summary || diags[0].Detail != tc.detail {
			t.Errorf("%s: got %v, want %s: %s", tc.src, diags, tc.summary, tc.detail)
		}
	}
}
