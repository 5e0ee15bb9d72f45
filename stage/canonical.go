package stage

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// Canonical converts v to the canonical Go value of parameter p (see Param): int64,
// float64, string, bool, []int64, []float64, []string, map[string]any (Object, defaults
// filled), map[string]float64 (Map), or for a Variants parameter map[string]any with
// "kind" and that kind's fields (defaults filled).
//
// It accepts values as Go code writes them (int 128, []int{100}, map[string]int) and as
// encoding/json decodes them (float64 or json.Number for every number, []any, map[string]any).
// A number for an Int must be whole (3.0 is int64(3), 3.5 is an error); a String, or each
// element of a StringList, must be in p.Enum when it is set; a Variants value is a kind name
// or a map with a string "kind". Object members are checked as in CanonicalParams. The
// result shares no slice or map with v. nil is not a value: callers treat a nil member as
// "not given" (CanonicalParams does). spec uses it for stage defaults; values written in a
// file it checks itself, so that each problem gets the source range it came from.
func Canonical(p Param, v any) (any, error) {
	return canonical(&p, v)
}

// CanonicalParams returns the canonical values of the members given for a list of
// parameters (an Object's fields, a variant's fields, or a loss block read back from JSON),
// with the defaults of the members not given filled in as spec fills them: a parameter's
// Default, or for an Object without one, an object built from its fields' defaults (absent
// when one of them is Required). A nil member counts as not given. A name that is not a
// parameter, a Required parameter not given, or a value Canonical rejects is an error that
// names the member.
func CanonicalParams(params []Param, given map[string]any) (Params, error) {
	out, err := canonicalObject(params, given, "")
	if err != nil {
		return nil, err
	}
	return Params(out), nil
}

func canonical(p *Param, v any) (any, error) {
	if p.Variants != nil {
		var label string
		var given map[string]any
		if s, ok := v.(string); ok {
			label = s
		} else if m, ok := asObject(v); ok {
			s, ok := m["kind"].(string)
			if !ok {
				return nil, fmt.Errorf("a variant value needs a string \"kind\"")
			}
			label, given = s, m
		} else {
			return nil, fmt.Errorf("a variant value must be a kind name or a map with \"kind\", not %T", v)
		}
		fields, ok := p.Variants[label]
		if !ok {
			return nil, fmt.Errorf("%q is not one of its kinds", label)
		}
		obj, err := canonicalObject(fields, given, "kind")
		if err != nil {
			return nil, err
		}
		obj["kind"] = label
		return obj, nil
	}
	switch p.Type {
	case String:
		if s, ok := v.(string); ok {
			return s, inEnum(p, s)
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Int:
		return toInt64(v)
	case Float:
		return toFloat64(v)
	case StringList, IntList, FloatList:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice {
			break
		}
		n := rv.Len()
		switch p.Type {
		case StringList:
			out := make([]string, n)
			for i := range n {
				e := rv.Index(i).Interface()
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d: %s", i, notA(e, String))
				}
				if err := inEnum(p, s); err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
				out[i] = s
			}
			return out, nil
		case IntList:
			out := make([]int64, n)
			for i := range n {
				x, err := toInt64(rv.Index(i).Interface())
				if err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
				out[i] = x
			}
			return out, nil
		default:
			out := make([]float64, n)
			for i := range n {
				x, err := toFloat64(rv.Index(i).Interface())
				if err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
				out[i] = x
			}
			return out, nil
		}
	case Object:
		m, ok := asObject(v)
		if !ok {
			break
		}
		return canonicalObject(p.Fields, m, "")
	case Map:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]float64, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			x, err := toFloat64(it.Value().Interface())
			if err != nil {
				return nil, fmt.Errorf("the value of %q: %w", it.Key().String(), err)
			}
			out[it.Key().String()] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s", notA(v, p.Type))
}

// canonicalObject checks given against fields and fills defaults; skip names a member that
// is not a field but allowed ("kind" of a variant).
func canonicalObject(fields []Param, given map[string]any, skip string) (map[string]any, error) {
	for k := range given {
		if k != skip && findParam(fields, k) == nil {
			return nil, fmt.Errorf("%q is not a field (fields: %s)", k, strings.Join(paramNames(fields), ", "))
		}
	}
	out := map[string]any{}
	for i := range fields {
		f := &fields[i]
		if x, ok := given[f.Name]; ok && x != nil {
			c, err := canonical(f, x)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			out[f.Name] = c
			continue
		}
		if f.Required {
			return nil, fmt.Errorf("field %q is required", f.Name)
		}
		v, ok, err := defaultOf(f)
		if err != nil {
			return nil, fmt.Errorf("field %q: default: %w", f.Name, err)
		}
		if ok {
			out[f.Name] = v
		}
	}
	return out, nil
}

// defaultOf is a parameter's default in canonical form; an Object without a Default gets
// one built from its fields' defaults unless one of them is Required (then it has none).
func defaultOf(p *Param) (any, bool, error) {
	if p.Default != nil {
		v, err := canonical(p, p.Default)
		return v, err == nil, err
	}
	if p.Type != Object || p.Variants != nil {
		return nil, false, nil
	}
	for i := range p.Fields {
		if p.Fields[i].Required {
			return nil, false, nil
		}
	}
	v, err := canonicalObject(p.Fields, nil, "")
	return v, err == nil, err
}

func asObject(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case Params:
		return m, true
	}
	return nil, false
}

func inEnum(p *Param, s string) error {
	if len(p.Enum) == 0 {
		return nil
	}
	for _, e := range p.Enum {
		if e == s {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %q", s, p.Enum)
}

func findParam(params []Param, name string) *Param {
	for i := range params {
		if params[i].Name == name {
			return &params[i]
		}
	}
	return nil
}

func paramNames(params []Param) []string {
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.Name
	}
	return out
}

// notA says that v is not a value of type t, e.g. `float64 3.5 is not an int`.
func notA(v any, t Type) string {
	name := t.String()
	art := "a "
	if strings.IndexByte("aeiou", name[0]) >= 0 {
		art = "an "
	}
	if v == nil {
		return "null is not " + art + name
	}
	return fmt.Sprintf("%T %v is not %s%s", v, v, art, name)
}

// toInt64 accepts Go integers, whole floats (JSON numbers) up to 2^53 and json.Number.
func toInt64(v any) (int64, error) {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s", notA(v, Int))
		}
		v = f
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return 0, fmt.Errorf("%v is out of the range of a 64-bit integer", v)
		}
		return int64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		// Beyond 2^53 a float64 no longer tells which integer was meant.
		f := rv.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%v is not a whole number", v)
		}
		if math.Abs(f) > 1<<53 {
			return 0, fmt.Errorf("%v is too large to be an exact integer", v)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("%s", notA(v, Int))
}

// toFloat64 accepts Go numbers and json.Number.
func toFloat64(v any) (float64, error) {
	if n, ok := v.(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s", notA(v, Float))
		}
		return f, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	}
	return 0, fmt.Errorf("%s", notA(v, Float))
}
