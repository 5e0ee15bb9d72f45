package spec

import (
	"context"
	"fmt"
	"reflect"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Limits that keep a small or hostile file from crashing or stalling decoding. Each is far
// above what an experiment needs; doc.go ("Limits") states them for users.
const (
	// maxNesting bounds how deeply source may nest: hclsyntax parses and evaluates
	// recursively, and 70,000 nested brackets exhaust the goroutine stack, which is a fatal
	// error, not a recoverable panic. It also bounds the nesting of evaluated values (lists
	// and objects built from local values that nest each other).
	maxNesting = 128

	// evalBudget bounds the values that evaluating one file may touch (see evaluator), so
	// that locals which refer to each other ten times over ten levels (10^10 values from a
	// 1 KB file), or nested for expressions, end in an error well under a second.
	evalBudget = 1_000_000

	// stringBytesPerValue is how many bytes of a string count as one value in the budget.
	stringBytesPerValue = 64

	// stepCost is what one step of a for expression costs before its result: hclsyntax
	// makes a scope and converts the condition at every step, several times the work of
	// producing a small value.
	stepCost = 4

	// maxFileSize bounds the source: hclsyntax's lexer keeps about 80 bytes per token, so
	// a few hundred megabytes of source would exhaust memory before any other check ran.
	maxFileSize = 1 << 20

	// maxErrors stops decoding after that many errors: a file of 50,000 misspelt names
	// would otherwise spend minutes on suggestions and print megabytes.
	maxErrors = 200

	// maxSuggestCandidates and maxListed bound the names a message considers for "Did you
	// mean" and lists after "Declared:".
	maxSuggestCandidates = 1000
	maxListed            = 30

	// maxGraphValues bounds the expanded experiment: every node counts one, plus its
	// parameter values and its edges. A block may expand to maxInstances nodes; this bounds
	// many such blocks and the edges between them (10,000 nodes that each depend on 10,000
	// others are 10^8 edges).
	maxGraphValues = 2_000_000
)

// --- nesting ----------------------------------------------------------------------------

// nestingLevel is one open bracket (or the file, a template) while scanning tokens.
type nestingLevel struct {
	closer hclsyntax.TokenType // what ends it; TokenNil for the outermost level
	ops    int                 // operators and postfix brackets since the last separator
	// items: newlines and = separate items here (a body, an object), as opposed to
	// brackets, parentheses, templates and {for ...}, where the parser skips newlines.
	items bool
}

var closers = map[hclsyntax.TokenType]hclsyntax.TokenType{
	hclsyntax.TokenOBrace: hclsyntax.TokenCBrace, hclsyntax.TokenOBrack: hclsyntax.TokenCBrack,
	hclsyntax.TokenOParen: hclsyntax.TokenCParen, hclsyntax.TokenOQuote: hclsyntax.TokenCQuote,
	hclsyntax.TokenOHeredoc: hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateInterp: hclsyntax.TokenTemplateSeqEnd,
	hclsyntax.TokenTemplateControl: hclsyntax.TokenTemplateSeqEnd,
}

// checkNesting scans HCL tokens and returns a diagnostic at the first token where the
// source nests more than maxNesting levels, or nil. It runs before the parser, which would
// recurse once per level.
//
// A level is an open bracket, brace, parenthesis, quote, heredoc or template sequence, an
// open %{if}/%{for} directive, or an operator or condition: a + b + c is a tree two deep,
// and so is x[a][b]. Operators count until the next separator (a comma, or an = or newline
// between arguments and object items), so long lists of short items stay shallow. The
// count can only overestimate the depth of the syntax tree, never miss it. body tells
// whether tokens are a file (a body, whose newlines end arguments) or one expression.
func checkNesting(tokens hclsyntax.Tokens, body bool) *hcl.Diagnostic {
	stack := []nestingLevel{{closer: hclsyntax.TokenNil, items: body}}
	directives := 0
	depth := func() int {
		n := len(stack) - 1 + directives
		for _, l := range stack {
			n += l.ops
		}
		return n
	}
	afterControl := false
	for i := range tokens {
		tok := &tokens[i]
		top := &stack[len(stack)-1]
		deeper := false
		wasControl := afterControl
		afterControl = false
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			items := tok.Type == hclsyntax.TokenOBrace &&
				!(i+1 < len(tokens) && tokens[i+1].Type == hclsyntax.TokenIdent && string(tokens[i+1].Bytes) == "for")
			stack = append(stack, nestingLevel{closer: closers[tok.Type], items: items})
			afterControl = tok.Type == hclsyntax.TokenTemplateControl
			deeper = true
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			// Unbalanced input is the parser's to report; only the depth matters here.
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
				// A closed bracket can be indexed or called again (x[a][b]), which nests.
				if tok.Type == hclsyntax.TokenCBrack || tok.Type == hclsyntax.TokenCParen {
					stack[len(stack)-1].ops++
					deeper = true
				}
			}
		case hclsyntax.TokenIdent:
			if wasControl {
				switch string(tok.Bytes) {
				case "if", "for":
					directives++
					deeper = true
				case "endif", "endfor":
					directives = max(0, directives-1)
				}
			}
		case hclsyntax.TokenComma:
			top.ops = 0
		case hclsyntax.TokenEqual, hclsyntax.TokenNewline:
			if top.items {
				top.ops = 0
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenBang, hclsyntax.TokenQuestion:
			top.ops++
			deeper = true
		}
		if deeper && depth() > maxNesting {
			return &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Too deeply nested",
				Detail: fmt.Sprintf("The source nests more than %d levels deep here: every bracket, brace, parenthesis, quote, template interpolation or directive, operator and condition opens a level, counting the enclosing blocks. Experiment files allow at most %d levels, so that decoding cannot exhaust the stack; write the value flatter, or split it into local values.",
					maxNesting, maxNesting),
				Subject: tok.Range.Ptr(),
			}
		}
	}
	return nil
}

// fileTooLarge is the diagnostic for a source above maxFileSize, at the first byte past it.
func fileTooLarge(filename string, src []byte) *hcl.Diagnostic {
	line, lineStart := 1, 0
	for i, c := range src[:maxFileSize] {
		if c == '\n' {
			line, lineStart = line+1, i+1
		}
	}
	start := hcl.Pos{Line: line, Column: utf8.RuneCount(src[lineStart:maxFileSize]) + 1, Byte: maxFileSize}
	end := hcl.Pos{Line: line, Column: start.Column + 1, Byte: maxFileSize + 1}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Experiment file too large",
		Detail: fmt.Sprintf("The file has %d bytes; an experiment file may have at most %d (1 MiB), which is far more than any experiment needs. Use seeds, matrix and for expressions instead of writing blocks out, or split the experiment into several files.",
			len(src), maxFileSize),
		Subject: &hcl.Range{Filename: filename, Start: start, End: end},
	}
}

// --- the evaluation budget --------------------------------------------------------------

// evaluator is the budget shared by every evaluation of one file, and the context that
// may interrupt it.
//
// Evaluating an expression spends, each time it runs, the size of every value it reads
// through var.<name>, local.<name> or a for variable, and the size of the value it
// produces; a for expression spends the same for its body, key and condition at every
// step, plus stepCost for the step itself, and a function call the size of its result
// (merge also the size of its arguments, see walksArgs). The size of a value counts one for the
// value and one for every element, recursively (a string counts one per
// stringBytesPerValue bytes). Reads are counted because operators such as == walk their
// operands whatever the size of their result. Literal values written in the file cost
// nothing beyond the value they produce: they are bounded by the file's size.
//
// Once the budget is spent or the context is done, every further evaluation returns an
// unknown value at once (for expressions skip their remaining steps), and the decoder
// reports the problem once.
type evaluator struct {
	ctx       context.Context
	left      int
	exhausted bool // the budget is spent
	stopped   bool // ctx is done
	// sizes holds the size of each evaluated variable and local value ("var.x",
	// "local.y"), so that reading one costs a map lookup, not a walk.
	sizes map[string]int
	funcs map[string]function.Function
}

func newEvaluator(ctx context.Context, budget int) *evaluator {
	if budget <= 0 {
		budget = evalBudget
	}
	ev := &evaluator{ctx: ctx, left: budget, sizes: map[string]int{}}
	ev.funcs = make(map[string]function.Function, len(functions))
	for name, f := range functions {
		ev.funcs[name] = ev.budgeted(f, walksArgs[name])
	}
	return ev
}

// ok reports whether evaluation may go on: the budget is not spent and ctx is not done.
func (e *evaluator) ok() bool {
	if e.stopped || e.exhausted {
		return false
	}
	if e.ctx.Err() != nil {
		e.stopped = true
		return false
	}
	return true
}

// interrupted reports whether ctx is done; decoding phases check it between items.
func (e *evaluator) interrupted() bool {
	if !e.stopped && e.ctx.Err() != nil {
		e.stopped = true
	}
	return e.stopped
}

// spend charges n values and reports whether evaluation may go on.
func (e *evaluator) spend(n int) bool {
	if !e.ok() {
		return false
	}
	if n > e.left {
		e.left, e.exhausted = 0, true
		return false
	}
	e.left -= n
	return true
}

// size measures v, walking no further than one value past what is left of the budget (a
// result above that is spent anyway). deep reports a value nested deeper than maxNesting.
func (e *evaluator) size(v cty.Value) (n int, deep bool) {
	return sizeOf(v, e.left+1)
}

// sizeOf counts v's values (see evaluator), stopping once the count exceeds limit.
func sizeOf(v cty.Value, limit int) (n int, deep bool) {
	var walk func(v cty.Value, depth int)
	walk = func(v cty.Value, depth int) {
		n++
		if n > limit {
			return
		}
		if depth > maxNesting {
			deep = true
			return
		}
		if v.IsMarked() {
			v, _ = v.Unmark()
		}
		if !v.IsKnown() || v.IsNull() {
			return
		}
		ty := v.Type()
		switch {
		case ty == cty.String:
			n += len(v.AsString()) / stringBytesPerValue
		case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
			for it := v.ElementIterator(); it.Next() && n <= limit && !deep; {
				_, ev := it.Element()
				walk(ev, depth+1)
			}
		}
	}
	walk(v, 1)
	return n, deep
}

// readCost is what reading the values of these traversals costs in ctx (see evaluator).
// Traversals that do not resolve cost nothing: the evaluation reports them.
func (e *evaluator) readCost(trs []hcl.Traversal, ctx *hcl.EvalContext) int {
	cost := 0
	for _, t := range trs {
		if cost > e.left {
			break
		}
		if len(t) == 2 {
			if a, ok := t[1].(hcl.TraverseAttr); ok {
				if n, known := e.sizes[t.RootName()+"."+a.Name]; known {
					cost += n
					continue
				}
			}
		}
		if ctx == nil {
			continue
		}
		v, diags := t.TraverseAbs(ctx)
		if diags.HasErrors() {
			continue
		}
		n, _ := sizeOf(v, e.left-cost+1)
		cost += n
	}
	return cost
}

// walksArgs names the functions whose work grows with their arguments rather than with
// their result: merge walks every argument, however much of it the result keeps, so
// merge(local.big, local.big, ...) costs each argument.
var walksArgs = map[string]bool{"merge": true}

// budgeted wraps a function so that its result (and, with args, its arguments) is charged
// and a call after the budget is spent returns an unknown value without running.
func (e *evaluator) budgeted(f function.Function, chargeArgs bool) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if !e.ok() {
				return cty.UnknownVal(retType), nil
			}
			if chargeArgs {
				n := 0
				for _, a := range args {
					if n > e.left {
						break
					}
					m, _ := sizeOf(a, e.left-n+1)
					n += m
				}
				if !e.spend(n) {
					return cty.UnknownVal(retType), nil
				}
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			if n, _ := e.size(v); !e.spend(n) {
				return cty.UnknownVal(retType), nil
			}
			return v, nil
		},
	})
}

// budgetExpr charges every evaluation of a for expression's body, key or condition. It
// embeds a ParenthesesExpr around the original expression, so that walks (Variables, the
// checks of references) still see the original as a child.
type budgetExpr struct {
	hclsyntax.Expression
	ev    *evaluator
	reads []hcl.Traversal
}

func (b *budgetExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if !b.ev.spend(stepCost + b.ev.readCost(b.reads, ctx)) {
		return cty.DynamicVal, nil
	}
	v, diags := b.Expression.Value(ctx)
	if n, _ := b.ev.size(v); !b.ev.spend(n) {
		return cty.DynamicVal, nil
	}
	return v, diags
}

// instrument makes every for expression under node charge the budget at each step.
// hclsyntax evaluates for expressions itself and carries on after errors, so the charge
// has to sit inside them: a wrapped step returns an unknown value once the budget is
// spent, which ends the remaining steps at almost no cost.
func (e *evaluator) instrument(node hclsyntax.Node) {
	if node == nil || reflect.ValueOf(node).IsNil() {
		return
	}
	wrap := func(x hclsyntax.Expression) hclsyntax.Expression {
		if x == nil {
			return nil
		}
		return &budgetExpr{
			Expression: &hclsyntax.ParenthesesExpr{Expression: x, SrcRange: x.Range()},
			ev:         e,
			reads:      x.Variables(),
		}
	}
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if f, ok := n.(*hclsyntax.ForExpr); ok {
			f.KeyExpr, f.ValExpr, f.CondExpr = wrap(f.KeyExpr), wrap(f.ValExpr), wrap(f.CondExpr)
		}
		return nil
	})
}

// valuesIn counts a canonical parameter value like sizeOf counts a cty value.
func valuesIn(v any) int {
	switch x := v.(type) {
	case string:
		return 1 + len(x)/stringBytesPerValue
	case []string:
		n := 1
		for _, s := range x {
			n += 1 + len(s)/stringBytesPerValue
		}
		return n
	case []int64:
		return 1 + len(x)
	case []float64:
		return 1 + len(x)
	case map[string]float64:
		return 1 + len(x)
	case map[string]any:
		n := 1
		for _, e := range x {
			n += valuesIn(e)
		}
		return n
	}
	return 1
}
