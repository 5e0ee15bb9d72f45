package spec

import (
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
// value (see stage.Param). what names the value in messages ("schedule.epochs").
func (d *decoder) decodeValue(p *stage.Param, what string, expr hcl.Expression) (any, bool) {
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
		return d.decodeObject(p, what, pairs, expr.Range())
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
			d.errorf(&rng, "Invalid value", "%q must be one of %s; got %q.%s", what, quoteList(p.Enum), s, didYouMean(s, p.Enum))
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
		if p.Min != nil && bf.Cmp(big.NewFloat(*p.Min)) < 0 {
			d.errorf(&rng, "Value out of range", "%q must be at least %s; got %s.%s",
				what, strconv.FormatFloat(*p.Min, 'g', -1, 64), bf.Text('g', 10), docSuffix(p))
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
		out = append(out, hcl.StaticExpr(ev, expr.Range()))
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
		out = append(out, pair{k.AsString(), rng, hcl.StaticExpr(ev, rng)})
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
// defaults of those not written.
func (d *decoder) decodeObject(p *stage.Param, what string, pairs []pair, rng hcl.Range) (any, bool) {
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
		v, ok := d.decodeValue(f, what+"."+f.Name, kv.value)
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
		if f.Required {
			d.errorf(&rng, "Missing required field", "The field %q of %q is required, but no definition was found.%s", f.Name, what, docSuffix(f))
			good = false
			continue
		}
		if v, ok := d.defaultValue(f); ok {
			out[f.Name] = v
		}
	}
	return out, good
}

// belowMin reports whether a canonical Int, Float or list value has a number below min.
func belowMin(v any, min float64) bool {
	switch x := v.(type) {
	case int64:
		return float64(x) < min
	case float64:
		return x < min
	case []int64:
		for _, e := range x {
			if float64(e) < min {
				return true
			}
		}
	case []float64:
		for _, e := range x {
			if e < min {
				return true
			}
		}
	}
	return false
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
// default gets one built from its fields' defaults (when none is required).
func (d *decoder) defaultValue(p *stage.Param) (any, bool) {
	if p.Default != nil {
		v, err := stage.Canonical(*p, p.Default)
		if err == nil && p.Min != nil && belowMin(v, *p.Min) {
			err = fmt.Errorf("it is below the parameter's minimum %g", *p.Min)
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
			if f.Required {
				return nil, false
			}
			if v, ok := d.defaultValue(f); ok {
				out[f.Name] = v
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
