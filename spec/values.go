package spec

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decodeValue decodes a value expression as parameter p and returns its canonical Go
// value (see stage.Param). what names the value in messages ("schedule.epochs"); path is
// its parameter path ("schedule.epochs"), under which it and its members are noted (see
// note) when the decoder records sources.
func (d *decoder) decodeValue(p *stage.Param, what, path string, expr hcl.Expression) (any, bool) {
	d.note(path, expr)
	switch p.Type {
	case stage.String, stage.Int, stage.Float, stage.Bool:
		v, ok := d.value(expr)
		if !ok {
			return nil, false
		}
		return d.scalar(p, what, v, expr.Range())
	case stage.StringList, stage.IntList, stage.FloatList:
		elems, ok := d.listElems(p, what, article(p.Type), expr)
		if !ok {
			return nil, false
		}
		ep := *p
		ep.Type = map[stage.Type]stage.Type{stage.StringList: stage.String, stage.IntList: stage.Int, stage.FloatList: stage.Float}[p.Type]
		vals := make([]any, 0, len(elems))
		good := true
		for i, e := range elems {
			d.note(fmt.Sprintf("%s[%d]", path, i), e)
			v, ok := d.value(e)
			if !ok {
				good = false
				continue
			}
			x, ok := d.scalar(&ep, fmt.Sprintf("%s[%d]", what, i), v, e.Range())
			if !ok {
				good = false
				continue
			}
			vals = append(vals, x)
		}
		if !good {
			return nil, false
		}
		switch p.Type {
		case stage.StringList:
			out := make([]string, len(vals))
			for i, v := range vals {
				out[i] = v.(string)
			}
			return out, true
		case stage.IntList:
			out := make([]int64, len(vals))
			for i, v := range vals {
				out[i] = v.(int64)
			}
			return out, true
		default:
			out := make([]float64, len(vals))
			for i, v := range vals {
				out[i] = v.(float64)
			}
			return out, true
		}
	case stage.Object:
		pairs, ok := d.pairs(p, what, expr)
		if !ok {
			return nil, false
		}
		return d.decodeObject(p, what, path, pairs, expr.Range())
	case stage.Map:
		pairs, ok := d.pairs(p, what, expr)
		if !ok {
			return nil, false
		}
		out := make(map[string]float64, len(pairs))
		seen := map[string]hcl.Range{}
		good := true
		fp := &stage.Param{Name: p.Name, Type: stage.Float}
		for _, kv := range pairs {
			if prev, dup := seen[kv.key]; dup {
				d.errorf(kv.keyRange.Ptr(), "Duplicate key", "The key %q of %q was already set at %s.", kv.key, what, prev)
				good = false
				continue
			}
			seen[kv.key] = kv.keyRange
			d.note(stage.JoinPath(path, kv.key), kv.value)
			v, ok := d.value(kv.value)
			if !ok {
				good = false
				continue
			}
			x, ok := d.scalar(fp, fmt.Sprintf("%s[%q]", what, kv.key), v, kv.value.Range())
			if !ok {
				good = false
				continue
			}
			out[kv.key] = x.(float64)
		}
		return out, good
	}
	rng := expr.Range()
	d.errorf(&rng, "Invalid stage schema",
		"The parameter %q has type %s, which cannot appear here; this is a bug in the stage.", what, p.Type)
	return nil, false
}

// scalar converts a value to a String, Int, Float or Bool parameter value. Numbers are
// canonical: a Float written as 1 is float64(1), an Int written as 3.0 is int64(3).
func (d *decoder) scalar(p *stage.Param, what string, v cty.Value, rng hcl.Range) (any, bool) {
	wrong := func(want string) (any, bool) {
		got := kindOf(v.Type())
		if v.IsNull() {
			got = "null"
		}
		d.errorf(&rng, "Incorrect value type", "Inappropriate value for %q: expected %s, got %s.%s", what, want, got, docSuffix(p))
		return nil, false
	}
	if v.IsNull() {
		return wrong(article(p.Type))
	}
	switch p.Type {
	case stage.String:
		if !v.Type().IsPrimitiveType() {
			return wrong("a string")
		}
		cv, err := convert.Convert(v, cty.String)
		if err != nil {
			return wrong("a string")
		}
		s := cv.AsString()
		if len(p.Enum) > 0 && !contains(p.Enum, s) {
			d.errorf(&rng, "Invalid value", "%q must be one of %s; got %q.%s", what, quoteList(p.Enum), s, stage.Suggest(s, p.Enum, p.Aliases))
			return nil, false
		}
		return s, true
	case stage.Bool:
		if !v.Type().IsPrimitiveType() {
			return wrong("a bool")
		}
		cv, err := convert.Convert(v, cty.Bool)
		if err != nil {
			return wrong("a bool")
		}
		return cv.True(), true
	case stage.Int, stage.Float:
		want := map[stage.Type]string{stage.Int: "an integer", stage.Float: "a number"}[p.Type]
		if !v.Type().IsPrimitiveType() {
			return wrong(want)
		}
		cv, err := convert.Convert(v, cty.Number)
		if err != nil {
			return wrong(want)
		}
		bf := cv.AsBigFloat()
		if bf.IsInf() {
			d.errorf(&rng, "Invalid value", "%q must be a finite number.", what)
			return nil, false
		}
		if msg := outOfRange(p, bf); msg != "" {
			d.errorf(&rng, "Value out of range", "%q must be %s; got %s.%s", what, msg, bf.Text('g', 10), docSuffix(p))
			return nil, false
		}
		if p.Type == stage.Float {
			f, _ := bf.Float64()
			if math.IsInf(f, 0) {
				d.errorf(&rng, "Invalid value", "%q is too large for a 64-bit float.", what)
				return nil, false
			}
			return f, true
		}
		if !bf.IsInt() {
			d.errorf(&rng, "Invalid value", "%q must be a whole number; got %s.", what, bf.Text('g', -1))
			return nil, false
		}
		i, acc := bf.Int64()
		if acc != big.Exact {
			d.errorf(&rng, "Invalid value", "%q is out of the range of a 64-bit integer.", what)
			return nil, false
		}
		return i, true
	}
	panic("spec: scalar called with a non-scalar parameter type (bug)")
}

func article(t stage.Type) string {
	switch t {
	case stage.Int:
		return "an integer"
	case stage.Object:
		return "an object"
	case stage.Ref:
		return "a reference"
	case stage.Float:
		return "a number"
	}
	return "a " + t.String()
}

func docSuffix(p *stage.Param) string {
	if p.Doc == "" {
		return ""
	}
	return " " + p.Name + ": " + p.Doc
}

// listElems returns the element expressions of a list, keeping each element's own range
// when the list is written literally.
func (d *decoder) listElems(p *stage.Param, what, want string, expr hcl.Expression) ([]hcl.Expression, bool) {
	if exprs, diags := hcl.ExprList(expr); !diags.HasErrors() {
		return exprs, true
	}
	v, ok := d.value(expr)
	if !ok {
		return nil, false
	}
	ty := v.Type()
	if v.IsNull() || !(ty.IsTupleType() || ty.IsListType() || ty.IsSetType()) {
		rng := expr.Range()
		got := kindOf(ty)
		if v.IsNull() {
			got = "null"
		}
		d.errorf(&rng, "Incorrect value type", "Inappropriate value for %q: expected %s, got %s.%s", what, want, got, docSuffix(p))
		return nil, false
	}
	var out []hcl.Expression
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		out = append(out, derived(hcl.StaticExpr(ev, expr.Range())))
	}
	return out, true
}

type pair struct {
	key      string
	keyRange hcl.Range
	value    hcl.Expression
}

// pairs returns the members of an object, keeping each member's range when the object is
// written literally.
func (d *decoder) pairs(p *stage.Param, what string, expr hcl.Expression) ([]pair, bool) {
	if kvs, diags := hcl.ExprMap(expr); !diags.HasErrors() {
		out := make([]pair, 0, len(kvs))
		good := true
		for _, kv := range kvs {
			key := hcl.ExprAsKeyword(kv.Key)
			if t, diags := hcl.AbsTraversalForExpr(kv.Key); key == "" && !diags.HasErrors() && len(t) > 1 {
				// hcl refuses a naked dotted key too, but would first report its root as
				// an unknown variable: say what to write instead.
				name := traversalString(t)
				d.errorf(kv.Key.Range().Ptr(), "Ambiguous key",
					"The key %s of %q reads as a reference. Write a name with dots in quotes, such as \"%s\" = ..., or a reference in parentheses, such as (%s) = ....", name, what, name, name)
				good = false
				continue
			}
			if key == "" {
				v, ok := d.value(kv.Key)
				if !ok {
					good = false
					continue
				}
				if v.IsNull() || !v.Type().IsPrimitiveType() {
					d.errorf(kv.Key.Range().Ptr(), "Invalid key", "The keys of %q must be names or strings.", what)
					good = false
					continue
				}
				sv, err := convert.Convert(v, cty.String)
				if err != nil {
					d.errorf(kv.Key.Range().Ptr(), "Invalid key", "The keys of %q must be names or strings.", what)
					good = false
					continue
				}
				key = sv.AsString()
			}
			out = append(out, pair{key, kv.Key.Range(), kv.Value})
		}
		return out, good
	}
	v, ok := d.value(expr)
	if !ok {
		return nil, false
	}
	ty := v.Type()
	rng := expr.Range()
	if v.IsNull() || !(ty.IsObjectType() || ty.IsMapType()) {
		got := kindOf(ty)
		if v.IsNull() {
			got = "null"
		}
		d.errorf(&rng, "Incorrect value type", "Inappropriate value for %q: expected %s, got %s.%s", what, article(p.Type), got, docSuffix(p))
		return nil, false
	}
	var out []pair
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		out = append(out, pair{k.AsString(), rng, derived(hcl.StaticExpr(ev, rng))})
	}
	return out, true
}

func findParam(params []stage.Param, name string) *stage.Param {
	for i := range params {
		if params[i].Name == name {
			return &params[i]
		}
	}
	return nil
}

func paramNames(params []stage.Param) []string {
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.Name
	}
	return out
}

// decodeObject checks an object's members against the parameter's fields and fills the
// defaults of those not written. A field that a matrix supplies per instance (d.supplied)
// is not required here.
func (d *decoder) decodeObject(p *stage.Param, what, path string, pairs []pair, rng hcl.Range) (any, bool) {
	out := map[string]any{}
	seen := map[string]hcl.Range{}
	good := true
	names := paramNames(p.Fields)
	for _, kv := range pairs {
		f := findParam(p.Fields, kv.key)
		if f == nil {
			d.errorf(kv.keyRange.Ptr(), "Unsupported field", "%q has no field named %q.%s Its fields are %s.",
				what, kv.key, didYouMean(kv.key, names), strings.Join(names, ", "))
			good = false
			continue
		}
		if prev, dup := seen[kv.key]; dup {
			d.errorf(kv.keyRange.Ptr(), "Duplicate field", "The field %q of %q was already set at %s.", kv.key, what, prev)
			good = false
			continue
		}
		seen[kv.key] = kv.keyRange
		if isNullExpr(kv.value) {
			continue
		}
		v, ok := d.decodeValue(f, what+"."+f.Name, stage.JoinPath(path, f.Name), kv.value)
		if !ok {
			good = false
			continue
		}
		out[f.Name] = v
	}
	for i := range p.Fields {
		f := &p.Fields[i]
		if _, set := out[f.Name]; set {
			continue
		}
		if _, written := seen[f.Name]; written && !isNullWritten(pairs, f.Name) {
			continue // failed above
		}
		fpath := stage.JoinPath(path, f.Name)
		if f.Required && !d.suppliedWithin(fpath) {
			d.errorf(&rng, "Missing required field", "The field %q of %q is required, but no definition was found.%s", f.Name, what, docSuffix(f))
			good = false
			continue
		}
		if v, ok := d.defaultValue(f, fpath); ok {
			out[f.Name] = v
		}
	}
	return out, good
}

// outOfRange returns what a number must be ("at least 1", "greater than 0") when x breaks
// one of p's bounds (Min, Max, Above), else "". Bounds are float64s; x is compared exactly,
// so that an int64 far beyond 2^53 is not rounded into range.
func outOfRange(p *stage.Param, x *big.Float) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch {
	case p.Min != nil && x.Cmp(big.NewFloat(*p.Min)) < 0:
		return "at least " + num(*p.Min)
	case p.Max != nil && x.Cmp(big.NewFloat(*p.Max)) > 0:
		return "at most " + num(*p.Max)
	case p.Above != nil && x.Cmp(big.NewFloat(*p.Above)) <= 0:
		return "greater than " + num(*p.Above)
	}
	return ""
}

// defaultProblem says what is wrong with a stage's canonical default under its own
// bounds, finiteness and enum, or returns "" (a non-empty answer is a bug in the stage).
func defaultProblem(p *stage.Param, v any) string {
	num := func(f float64) string {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprintf("%v is not a finite number", f)
		}
		if msg := outOfRange(p, big.NewFloat(f)); msg != "" {
			return fmt.Sprintf("%v breaks the parameter's own bound: it must be %s", f, msg)
		}
		return ""
	}
	switch x := v.(type) {
	case int64:
		if msg := outOfRange(p, new(big.Float).SetInt64(x)); msg != "" {
			return fmt.Sprintf("%d breaks the parameter's own bound: it must be %s", x, msg)
		}
	case float64:
		return num(x)
	case []int64:
		for _, e := range x {
			if msg := outOfRange(p, new(big.Float).SetInt64(e)); msg != "" {
				return fmt.Sprintf("the element %d breaks the parameter's own bound: it must be %s", e, msg)
			}
		}
	case []float64:
		for _, e := range x {
			if msg := num(e); msg != "" {
				return "the element " + msg
			}
		}
	case map[string]float64:
		for _, k := range sortedKeys(x) {
			if math.IsNaN(x[k]) || math.IsInf(x[k], 0) {
				return fmt.Sprintf("the value of %q, %v, is not a finite number", k, x[k])
			}
		}
	}
	return ""
}

func isNullWritten(pairs []pair, key string) bool {
	for _, kv := range pairs {
		if kv.key == key {
			return isNullExpr(kv.value)
		}
	}
	return false
}

// defaultValue returns a parameter's default in canonical form; an Object without a
// default gets one built from its fields' defaults (when none is required, or a matrix
// supplies the required ones). path is the parameter's path.
func (d *decoder) defaultValue(p *stage.Param, path string) (any, bool) {
	if p.Default != nil {
		v, err := stage.Canonical(*p, p.Default)
		if err == nil {
			if msg := defaultProblem(p, v); msg != "" {
				err = errors.New(msg)
			}
		}
		if err != nil {
			d.errorf(nil, "Invalid stage schema", "The default of parameter %q is invalid: %v. This is a bug in the stage.", p.Name, err)
			return nil, false
		}
		return v, true
	}
	if p.Type == stage.Object && p.Variants == nil {
		out := map[string]any{}
		for i := range p.Fields {
			f := &p.Fields[i]
			fpath := stage.JoinPath(path, f.Name)
			if f.Required {
				if d.suppliedWithin(fpath) {
					continue // the matrix sets it in every instance
				}
				if at, ok := d.suppliedAt(path); ok {
					// The matrix sets another field of an object that has no value.
					d.errorf(&at, "Missing required field",
						"The matrix sets a field of %q, which is not written, and its field %q is required; write %q with a value for %q.", path, f.Name, path, f.Name)
				}
				return nil, false
			}
			if v, ok := d.defaultValue(f, fpath); ok {
				out[f.Name] = v
			} else if d.suppliedWithin(fpath) {
				return nil, false // reported for the field
			}
		}
		return out, true
	}
	return nil, false
}

// deepCopy copies canonical values so that nodes never share slices or maps.
func deepCopy(v any) any {
	switch x := v.(type) {
	case []string:
		return append([]string(nil), x...)
	case []int64:
		return append([]int64(nil), x...)
	case []float64:
		return append([]float64(nil), x...)
	case map[string]float64:
		out := make(map[string]float64, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case stage.Params:
		return stage.Params(deepCopy(map[string]any(x)).(map[string]any))
	}
	return v
}

// formatValue renders a canonical value for an instance label: numbers as Go prints them
// shortest, plain strings bare and others quoted, lists as [a,b], objects as {k=v} sorted.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		if isPlainLabel(x) {
			return x
		}
		return strconv.Quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []string, []int64, []float64:
		rv := reflect.ValueOf(x)
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = formatValue(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]float64:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = formatValue(k) + "=" + formatValue(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = formatValue(k) + "=" + formatValue(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprint(v)
}

func isPlainLabel(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == '@' || r == '/' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return false
		}
	}
	return true
}
