package spec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
)

// The inputs of these tests are generated: the ones that crashed or hung dmlrun are far too
// large to commit (testdata/invalid holds small cases of each limit, which the fuzz targets
// also start from).

// errorsOf returns the error diagnostics of a parse, failing the test on a panic-free but
// rangeless one (all of these are about the file's content).
func errorsOf(t *testing.T, name, src string, opts LoadOptions) hcl.Diagnostics {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = noEnv
	}
	_, diags := Parse(name, []byte(src), opts)
	var errs hcl.Diagnostics
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if d.Subject == nil {
			t.Errorf("%s without a subject: %s", d.Summary, d.Detail)
		}
		errs = append(errs, d)
	}
	return errs
}

// wantOne checks that errs is exactly one error with the summary, starting at line:col
// (col 0: any column).
func wantOne(t *testing.T, errs hcl.Diagnostics, summary string, line, col int) {
	t.Helper()
	if len(errs) != 1 || errs[0].Summary != summary {
		var got []string
		for _, d := range errs {
			got = append(got, d.Summary+": "+d.Detail)
		}
		t.Fatalf("want one %q, got %d: %q", summary, len(errs), got)
	}
	s := errs[0].Subject
	if s.Start.Line != line || (col != 0 && s.Start.Column != col) {
		t.Errorf("%s at %d:%d, want %d:%d", summary, s.Start.Line, s.Start.Column, line, col)
	}
	if s.End.Line != s.Start.Line || s.End.Byte-s.Start.Byte > 8 {
		t.Errorf("%s: subject %s spans %d bytes, want the one token or name", summary, s, s.End.Byte-s.Start.Byte)
	}
}

// TestDeepNesting feeds source nested 70,000 levels (and other shapes of deep recursion in
// hclsyntax's parser and evaluator) to both formats. Before the limit each one ended in
// "fatal error: stack overflow" after more than a gigabyte of stack.
func TestDeepNesting(t *testing.T) {
	const n = 70000
	r := strings.Repeat
	cases := []struct {
		name, file, src string
		line, col       int // where the level past maxNesting opens
	}{
		// locals { is level 1: the 128th "[" opens level 129, at column 6 + 128.
		{"brackets", "x.hcl", "locals {\n  x = " + r("[", n) + r("]", n) + "\n}\n", 2, 134},
		{"objects", "x.hcl", "locals {\n  x = " + r("{a = ", n) + "1" + r("}", n) + "\n}\n", 2, 0},
		{"parentheses", "x.hcl", "locals {\n  x = " + r("(", n) + "1" + r(")", n) + "\n}\n", 2, 134},
		{"blocks", "x.hcl", r("a {\n", n) + r("}\n", n), 129, 3},
		{"operators", "x.hcl", "locals {\n  x = 1" + r(" + 1", n) + "\n}\n", 2, 0},
		{"operators over lines", "x.hcl", "locals {\n  x = (1" + r(" +\n  1", n) + ")\n}\n", 0, 0},
		// The parser skips newlines inside {for ...}, unlike between object items.
		{"operators over lines in a for", "x.hcl", "locals {\n  x = {for k in [1] : k => 1" + r(" +\n  1", n) + "}\n}\n", 0, 0},
		{"conditions", "x.hcl", "locals {\n  x = " + r("true ? 1 : ", n) + "1\n}\n", 2, 0},
		{"unary", "x.hcl", "locals {\n  x = " + r("-", n) + "1\n}\n", 2, 134},
		{"index chain", "x.hcl", "locals {\n  y = [0]\n  x = local.y" + r("[local.y[0]]", n) + "\n}\n", 3, 0},
		{"template directives", "x.hcl", "locals {\n  x = \"" + r("%{ if true }", n/3) + r("%{ endif }", n/3) + "\"\n}\n", 2, 0},
		{"interpolations", "x.hcl", "locals {\n  x = " + r(`"${`, n) + "1" + r(`}"`, n) + "\n}\n", 2, 0},
		{"-var expression", "x.hcl", "", 0, 0}, // see below
		// yaml.v3 gives up at 10,000 levels itself, without a column: the flow scan finds it.
		{"yaml flow", "x.yaml", "locals:\n  x: " + r("[", n) + r("]", n) + "\n", 2, 134},
		{"yaml flow on line 1", "x.yaml", r("{a: ", n) + "1" + r("}", n) + "\n", 1, 0},
		// Below yaml's own limit, the node walk finds it: the top mapping is level 1.
		{"yaml nodes", "x.yaml", "locals:\n  x: " + r("[", 5000) + r("]", 5000) + "\n", 2, 132},
		{"yaml block mappings", "x.yaml", blockYAML(300), 129, 129},
		{"yaml block sequences", "x.yaml", "locals:\n  x:\n" + r("  - ", 1) + r("- ", 5000) + "1\n", 3, 0},
		{"yaml template", "x.yaml", "locals:\n  x: \"${" + r("[", n) + r("]", n) + "}\"\n", 2, 136},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "-var expression" {
				// A -var value for a list variable is an HCL expression too.
				src := "variable \"v\" { default = [] }\n"
				errs := errorsOf(t, "x.hcl", src, LoadOptions{Registry: testRegistry, Vars: map[string]string{"v": r("[", n) + r("]", n)}})
				if len(errs) != 1 || errs[0].Summary != "Invalid value for variable" || !strings.Contains(errs[0].Detail, "nests more than 128 levels") {
					t.Fatalf("got %v", errs)
				}
				return
			}
			errs := errorsOf(t, c.file, c.src, LoadOptions{Registry: testRegistry})
			if c.line == 0 {
				if len(errs) != 1 || errs[0].Summary != "Too deeply nested" {
					t.Fatalf("got %v", errs)
				}
				return
			}
			wantOne(t, errs, "Too deeply nested", c.line, c.col)
			if c.col == 0 {
				return
			}
			if b := c.src[errs[0].Subject.Start.Byte]; !strings.ContainsRune("[({-$a", rune(b)) {
				t.Errorf("subject starts at %q", b)
			}
		})
	}
}

func blockYAML(depth int) string {
	var b strings.Builder
	b.WriteString("locals:\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "%sa:\n", strings.Repeat(" ", i))
	}
	return b.String()
}

// TestNestingAtTheLimit: 127 brackets inside locals are exactly the 128 levels allowed, in
// source and as a value.
func TestNestingAtTheLimit(t *testing.T) {
	src := "locals {\n  x = " + strings.Repeat("[", 127) + strings.Repeat("]", 127) + "\n}\n"
	if errs := errorsOf(t, "x.hcl", src, LoadOptions{Registry: testRegistry}); len(errs) != 0 {
		t.Fatalf("127 brackets: %v", errs)
	}
}

// TestValueDepth: locals that each wrap the previous one build a value deeper than any
// source; the first local past the limit is reported, and the rest fail with it.
func TestValueDepth(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n  a0 = 1\n")
	for i := 1; i <= 2000; i++ {
		fmt.Fprintf(&b, "  a%d = [local.a%d]\n", i, i-1)
	}
	b.WriteString("}\n")
	// a_k is k+1 levels deep: a128 (line 130) is the first past 128.
	wantOne(t, errorsOf(t, "x.hcl", b.String(), LoadOptions{Registry: testRegistry}), "Value nested too deeply", 130, 3)
}

// TestBudget: inputs whose evaluation would take minutes to hours, or more memory than the
// machine has, end at the evaluation budget with one diagnostic at what crossed it.
func TestBudget(t *testing.T) {
	fan := func(levels, refs int, tmpl bool) string {
		var b strings.Builder
		b.WriteString("locals {\n  a0 = \"xxxxxxxxxx\"\n")
		for i := 1; i <= levels; i++ {
			parts := make([]string, refs)
			for j := range parts {
				parts[j] = fmt.Sprintf("local.a%d", i-1)
				if tmpl {
					parts[j] = "${" + parts[j] + "}"
				}
			}
			if tmpl {
				fmt.Fprintf(&b, "  a%d = \"%s\"\n", i, strings.Join(parts, ""))
			} else {
				fmt.Fprintf(&b, "  a%d = [%s]\n", i, strings.Join(parts, ", "))
			}
		}
		b.WriteString("}\n")
		return b.String()
	}
	r := strings.Repeat
	cases := []struct {
		name, file, src string
		vars            map[string]string
		line, col       int
	}{
		// The file: 10 levels of 10 references, 10^10 values. a6 is the first whose
		// reads (10 x 111,111) pass the budget.
		{"fan-out", "x.hcl", fan(10, 10, false), nil, 8, 3},
		// Strings grow tenfold per level: 10^11 bytes.
		{"string fan-out", "x.hcl", fan(10, 10, true), nil, 0, 3},
		{"nested for", "x.hcl", "locals {\n  x = [for a in range(1024) : [for b in range(1024) : [for c in range(1024) : c]]]\n}\n", nil, 2, 3},
		// A condition that is always false produces nothing, but each step is charged.
		{"for condition", "x.hcl", "locals {\n  x = [for a in range(1024) : [for b in range(1024) : [for c in range(1024) : c if false]]]\n}\n", nil, 2, 3},
		// == walks both operands: reads are charged even when the result is one bool.
		{"equality in a for", "x.hcl", "locals {\n  big = range(1000)\n  x = [for i in range(1024) : local.big == local.big]\n}\n", nil, 3, 3},
		{"template for", "x.hcl", "locals {\n  s = join(\"\", [for i in range(1024) : \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"])\n  x = \"%{ for a in range(1024) }%{ for b in range(1024) }${local.s}%{ endfor }%{ endfor }\"\n}\n", nil, 3, 3},
		// A variable's default is a constant, but for expressions over literal lists work.
		{"variable default", "x.hcl", "variable \"v\" {\n  default = " + r("[for i in ["+r("0, ", 100)+"] : ", 4) + "1" + r("]", 4) + "\n}\n", nil, 1, 10},
		{"argument", "x.hcl", "dataset \"d\" {\n  kind   = \"synthetic\"\n  subset = length(" + r("[for i in range(1024) : ", 3) + "1" + r("]", 3) + ")\n}\n", nil, 3, 3},
		{"yaml fan-out", "x.yaml", yamlFan(10, 10), nil, 8, 3},
		{"yaml template for", "x.yaml", "locals:\n  x: \"%{ for a in range(1024) }%{ for b in range(1024) }%{ for c in range(1024) }x%{ endfor }%{ endfor }%{ endfor }\"\n", nil, 2, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := errorsOf(t, c.file, c.src, LoadOptions{Registry: testRegistry, Vars: c.vars})
			if c.line == 0 {
				if len(errs) != 1 || errs[0].Summary != "Evaluation budget exceeded" {
					t.Fatalf("got %v", errs)
				}
				return
			}
			wantOne(t, errs, "Evaluation budget exceeded", c.line, c.col)
			if !strings.Contains(errs[0].Detail, "budget of 1000000 values") {
				t.Errorf("detail does not state the limit: %s", errs[0].Detail)
			}
		})
	}

	t.Run("-var expression", func(t *testing.T) {
		src := "variable \"v\" { default = [] }\n"
		v := r("[for i in ["+r("0, ", 100)+"] : ", 4) + "1" + r("]", 4)
		errs := errorsOf(t, "x.hcl", src, LoadOptions{Registry: testRegistry, Vars: map[string]string{"v": v}})
		if len(errs) != 1 || errs[0].Summary != "Invalid value for variable" || !strings.Contains(errs[0].Detail, "evaluation budget") {
			t.Fatalf("got %v", errs)
		}
	})

	t.Run("within the budget", func(t *testing.T) {
		// A large but reasonable file: 200 blocks reading shared locals, a 1000-value sweep.
		var b strings.Builder
		b.WriteString("locals {\n  common = { epochs = 10, batch_size = 32, tau = range(100) }\n  dims = [for d in range(1, 11) : d * 16]\n}\n")
		b.WriteString("dataset \"d\" { kind = \"synthetic\" }\n")
		for i := range 200 {
			fmt.Fprintf(&b, "train \"t%d\" {\n  dataset = dataset.d\n  schedule = local.common\n  loss \"nir\" {}\n}\n", i)
		}
		b.WriteString("train \"sweep\" {\n  dataset = dataset.d\n  seeds = range(100)\n  matrix = { embed_dim = local.dims }\n  loss \"nir\" {}\n}\n")
		exp, _ := load(t, "big.hcl", b.String(), LoadOptions{Registry: testRegistry})
		if got := len(exp.Nodes); got != 1+200+1000 {
			t.Fatalf("%d nodes", got)
		}
	})
}

func yamlFan(levels, refs int) string {
	var b strings.Builder
	b.WriteString("locals:\n  a0: xxxxxxxxxx\n")
	for i := 1; i <= levels; i++ {
		parts := make([]string, refs)
		for j := range parts {
			parts[j] = fmt.Sprintf(`"${local.a%d}"`, i-1)
		}
		fmt.Fprintf(&b, "  a%d: [%s]\n", i, strings.Join(parts, ", "))
	}
	return b.String()
}

// cancelAfter is a context that cancels itself on the at-th call of Err, the way decoding
// polls it, and counts the calls made after that: a signal arriving mid-evaluation,
// without timing.
type cancelAfter struct {
	context.Context
	cancel      context.CancelFunc
	calls, at   int
	afterCancel int
}

func newCancelAfter(at int) *cancelAfter {
	ctx, cancel := context.WithCancel(context.Background())
	return &cancelAfter{Context: ctx, cancel: cancel, at: at}
}

func (c *cancelAfter) Err() error {
	c.calls++
	switch {
	case c.calls == c.at:
		c.cancel()
	case c.calls > c.at:
		c.afterCancel++
	}
	return c.Context.Err()
}

// TestInterrupted: decoding observes its context. A context already done stops it before it
// starts; one cancelled during evaluation (here, of the budget-sized fan-out, which would
// otherwise run until the budget is spent, and of a file of many blocks) stops it within a
// few more polls, with one "Interrupted" error whose Extra names the cause, no nodes, and
// no problems from what it did not reach.
func TestInterrupted(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, name := range []string{"x.hcl", "x.yaml"} {
			exp, diags := ParseContext(ctx, name, []byte("locals { a = 1 }"), LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
			checkInterrupted(t, exp, diags)
		}
		exp, diags := LoadContext(ctx, "testdata/valid/cub200.hcl", LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
		checkInterrupted(t, exp, diags)
	})

	var many strings.Builder
	many.WriteString("dataset \"d\" { kind = \"synthetic\" }\n")
	for i := range 500 {
		fmt.Fprintf(&many, "train \"t%d\" {\n  dataset = dataset.d\n  loss \"nir\" {}\n}\n", i)
	}
	many.WriteString("train \"last\" { colour = 1 }\n") // an error decoding must not reach

	cases := []struct{ name, file, src string }{
		{"during locals", "x.hcl", budgetFanOut(t)},
		{"during a for expression", "x.hcl", "locals {\n  x = [for a in range(1024) : [for b in range(1024) : [for c in range(1024) : c]]]\n}\n"},
		{"between blocks", "x.hcl", many.String()},
		{"yaml", "x.yaml", yamlFan(10, 10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := newCancelAfter(20)
			exp, diags := ParseContext(ctx, c.file, []byte(c.src), LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
			if ctx.calls < ctx.at {
				t.Fatalf("decoding polled its context %d times; the test needs %d", ctx.calls, ctx.at)
			}
			checkInterrupted(t, exp, diags)
			// Every poll after the cancel returns at once, and each phase checks before its
			// next item: a handful of polls, not one per remaining step.
			if ctx.afterCancel > 10 {
				t.Errorf("%d polls after the cancel", ctx.afterCancel)
			}
		})
	}
}

func budgetFanOut(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("locals {\n  a0 = \"xxxxxxxxxx\"\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "  a%d = [%s]\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("local.a%d, ", i-1), 10), ", "))
	}
	b.WriteString("}\n")
	return b.String()
}

func checkInterrupted(t *testing.T, exp *Experiment, diags hcl.Diagnostics) {
	t.Helper()
	if exp == nil || len(exp.Nodes) != 0 {
		t.Fatalf("want an experiment without nodes, got %v", exp)
	}
	var found bool
	for _, d := range diags {
		switch d.Summary {
		case "Interrupted":
			found = true
			in, ok := d.Extra.(Interrupted)
			if !ok || !errors.Is(in.Err, context.Canceled) || d.Subject != nil {
				t.Errorf("Interrupted diagnostic: extra %#v subject %v", d.Extra, d.Subject)
			}
		case "Evaluation budget exceeded", "Unsupported argument", "Missing required argument":
			t.Errorf("decoding went on after the cancel: %s: %s", d.Summary, d.Detail)
		}
	}
	if !found {
		t.Errorf("no Interrupted diagnostic in %v", diags)
	}
}

// TestTooManyErrors: a file of 20,000 misspelt references spent minutes on suggestions
// (every message compared the name with every declared one) and printed megabytes. Now
// decoding stops after maxErrors, and suggestions and name lists are bounded.
func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "  a%d = local.b%d\n", i, i)
	}
	b.WriteString("}\n")
	errs := errorsOf(t, "x.hcl", b.String(), LoadOptions{Registry: testRegistry})
	if len(errs) != maxErrors+1 || errs[len(errs)-1].Summary != "Too many errors" {
		t.Fatalf("%d errors, last %q", len(errs), errs[len(errs)-1].Summary)
	}
	if d := errs[0].Detail; !strings.Contains(d, "and 19970 more.") || len(d) > 1000 {
		t.Errorf("detail of %d bytes: %.300s", len(d), d)
	}
}

// TestExperimentTooLarge: two 10,000-node blocks where one depends on the other are 10^8
// edges, gigabytes of nodes; the expansion is refused at the block that crosses the limit.
func TestExperimentTooLarge(t *testing.T) {
	src := `dataset "d" { kind = "synthetic" }
train "a" {
  dataset = dataset.d
  seeds   = range(1000)
  matrix  = { embed_dim = range(1, 11) }
  loss "nir" {}
}
train "b" {
  dataset    = dataset.d
  seeds      = range(1000)
  matrix     = { embed_dim = range(1, 11) }
  depends_on = [train.a]
  loss "nir" {}
}
`
	wantOne(t, errorsOf(t, "x.hcl", src, LoadOptions{Registry: testRegistry}), "Experiment too large", 8, 7)
}

// TestFileTooLarge: the source is refused past 1 MiB, at the first byte over.
func TestFileTooLarge(t *testing.T) {
	line := "# " + strings.Repeat("x", 1021) + "\n" // 1024 bytes
	src := strings.Repeat(line, 1024) + "locals {}\n"
	wantOne(t, errorsOf(t, "x.hcl", src, LoadOptions{Registry: testRegistry}), "Experiment file too large", 1025, 1)
	wantOne(t, errorsOf(t, "x.yaml", src, LoadOptions{Registry: testRegistry}), "Experiment file too large", 1025, 1)
}

// TestDefaultBounds: a stage whose default breaks its own bounds, finiteness or enum is a
// stage bug, reported as such (without a range: the file is not at fault).
func TestDefaultBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		param  stage.Param
		detail string
	}{
		{"below Min", stage.Param{Name: "n", Type: stage.Int, Default: int64(0), Min: new(1.0)}, "0 breaks the parameter's own bound: it must be at least 1"},
		{"above Max", stage.Param{Name: "n", Type: stage.Int, Default: int64(10), Max: new(9.0)}, "it must be at most 9"},
		{"not Above", stage.Param{Name: "x", Type: stage.Float, Default: 0.0, Above: new(0.0)}, "it must be greater than 0"},
		{"NaN", stage.Param{Name: "x", Type: stage.Float, Default: math.NaN()}, "NaN is not a finite number"},
		{"an infinite list element", stage.Param{Name: "xs", Type: stage.FloatList, Default: []float64{1, math.Inf(1)}}, "the element +Inf is not a finite number"},
		{"a list element above Max", stage.Param{Name: "ns", Type: stage.IntList, Default: []int64{1, 5}, Max: new(4.0)}, "the element 5 breaks"},
		{"not in Enum", stage.Param{Name: "s", Type: stage.String, Default: "c", Enum: []string{"a", "b"}}, `"c" is not one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := testRegistry.With(&stage.Def{Kind: "zz_bounds", Version: 1, Run: notRun, Params: []stage.Param{tc.param}})
			if err != nil {
				t.Fatal(err)
			}
			_, diags := Parse("x.hcl", []byte("zz_bounds \"a\" {}\n"), LoadOptions{Registry: reg, LookupEnv: noEnv})
			if len(diags) != 1 || diags[0].Summary != "Invalid stage schema" || !strings.Contains(diags[0].Detail, tc.detail) || diags[0].Subject != nil {
				t.Fatalf("want one rangeless Invalid stage schema containing %q, got %v", tc.detail, diags)
			}
		})
	}
}
