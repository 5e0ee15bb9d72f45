package spec

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

func evalMerge(t *testing.T, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "m.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", src, diags)
	}
	return expr.Value(&hcl.EvalContext{Functions: map[string]function.Function{"merge": mergeFunc}})
}

// TestMerge: later arguments win, objects merge member by member at every depth, anything
// else replaces whole, and arguments that are not objects are errors at the argument.
func TestMerge(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`merge({ a = 1, b = 2 }, { b = 3 })`, `{ a = 1, b = 3 }`},
		{`merge({ a = 1 }, { b = 2 }, { a = 3, c = 4 })`, `{ a = 3, b = 2, c = 4 }`},
		{`merge({ o = { x = 1, y = 2 } }, { o = { y = 3 } })`, `{ o = { x = 1, y = 3 } }`},
		{`merge({ o = { p = { x = 1, y = 2 }, z = 0 } }, { o = { p = { y = 3 } } })`, `{ o = { p = { x = 1, y = 3 }, z = 0 } }`},
		{`merge({ o = { x = 1 } }, { o = 2 })`, `{ o = 2 }`},
		{`merge({ o = 2 }, { o = { x = 1 } })`, `{ o = { x = 1 } }`},
		{`merge({ l = [1, 2] }, { l = [3] })`, `{ l = [3] }`},
		{`merge({ a = 1 })`, `{ a = 1 }`},
		{`merge()`, `{}`},
		{`merge({ a = 1 }, {})`, `{ a = 1 }`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got, diags := evalMerge(t, tc.expr)
			want, _ := evalMerge(t, tc.want)
			if diags.HasErrors() || !got.RawEquals(want) {
				t.Errorf("got %#v (%v), want %#v", got, diags, want)
			}
		})
	}
	for _, tc := range []struct{ expr, detail, arg string }{
		{`merge("a")`, "merge takes objects, such as { lr = 1e-3 }, and argument 1 is a string", `"a"`},
		{`merge({ a = 1 }, [1])`, "argument 2 is a list", `[1]`},
		{`merge({}, 3, {})`, "argument 2 is a number", `3`},
		{`merge({ a = 1 }, null)`, "must not be null", `null`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, diags := evalMerge(t, tc.expr)
			if len(diags) != 1 || !strings.Contains(diags[0].Detail, tc.detail) || diags[0].Subject == nil {
				t.Fatalf("got %v, want one error containing %q", diags, tc.detail)
			}
			// hcl points at the start of the argument ("[" of a list, the text in quotes).
			at := strings.LastIndex(tc.expr, tc.arg)
			if s := diags[0].Subject.Start.Byte; s < at || s >= at+len(tc.arg) {
				t.Errorf("subject %s, want it in the argument %q", diags[0].Subject, tc.arg)
			}
		})
	}
}

// TestMergeBudget: a merge call costs the size of its arguments and of its result.
func TestMergeBudget(t *testing.T) {
	ev := newEvaluator(context.Background(), 1000)
	a := cty.ObjectVal(map[string]cty.Value{"x": cty.NumberIntVal(1), "y": cty.NumberIntVal(2)}) // 3 values
	b := cty.ObjectVal(map[string]cty.Value{"y": cty.NumberIntVal(3)})                           // 2 values
	got, err := ev.funcs["merge"].Call([]cty.Value{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1000 - (3 + 2) - 3; ev.left != want { // arguments, then the result {x, y}
		t.Errorf("budget left %d, want %d", ev.left, want)
	}
	if !got.RawEquals(cty.ObjectVal(map[string]cty.Value{"x": cty.NumberIntVal(1), "y": cty.NumberIntVal(3)})) {
		t.Errorf("got %#v", got)
	}
	// Past the budget a call returns an unknown value without running.
	ev = newEvaluator(context.Background(), 4)
	if got, _ := ev.funcs["merge"].Call([]cty.Value{a, b}); got.IsKnown() || !ev.exhausted {
		t.Errorf("over the budget: got %#v, exhausted %v", got, ev.exhausted)
	}
}

// TestMergeInFiles: merge overrides fields of a shared schedule in HCL and inside YAML
// templates, giving the nodes the literal file gives; a merge that runs too often spends
// the evaluation budget.
func TestMergeInFiles(t *testing.T) {
	const literal = `dataset "d" { kind = "synthetic" }
train "t" {
  dataset  = dataset.d
  loss "oproxy" {}
  schedule = { epochs = 10, lr = 3e-3, warmup = 1 }
}
`
	const merged = `dataset "d" { kind = "synthetic" }
locals { schedule = { epochs = 10, lr = 1e-5, warmup = 1 } }
train "t" {
  dataset  = dataset.d
  loss "oproxy" {}
  schedule = merge(local.schedule, { lr = 3e-3 })
}
`
	const mergedYAML = `dataset: { d: { kind: synthetic } }
locals:
  schedule: { epochs: 10, lr: 1e-5, warmup: 1 }
train:
  t:
    dataset: dataset.d
    loss: { oproxy: {} }
    schedule: "${merge(local.schedule, { lr = 3e-3 })}"
`
	want := views(mustLoad(t, "l.hcl", literal))
	for name, src := range map[string]string{"m.hcl": merged, "m.yaml": mergedYAML} {
		if got := views(mustLoad(t, name, src)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", name, got, want)
		}
	}

	const spend = `locals {
  big = { for i in range(1000) : "k${i}" => i }
  all = [for i in range(1000) : merge(local.big, { k0 = i })]
}
`
	wantOne(t, errorsOf(t, "b.hcl", spend, LoadOptions{Registry: testRegistry}), "Evaluation budget exceeded", 3, 3)
}
