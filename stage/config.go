package stage

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// A stage's typed config is a Go struct whose tagged fields are its parameters: the name is
// written once, in the tag, and both the schema spec validates against (SchemaOf) and the
// decoding into the struct (DecodeParams) come from it.
//
//	type Schedule struct {
//		Epochs int     `param:"epochs" min:"0" doc:"Number of training epochs."`
//		LR     float64 `param:"lr" above:"0" doc:"Base learning rate."`
//		Tau    []int   `param:"tau" min:"0" doc:"MultiStepLR milestones in epochs."`
//	}
//
// Tags beside param (all optional):
//
//	doc:"..."         one sentence for messages and the README
//	enum:"a,b,c"      allowed values of a string (or of each element of a []string)
//	min:"1" max:"9"   inclusive bounds of a number (or of each element of a list)
//	above:"0"         exclusive lower bound ("a positive learning rate")
//	required:"true"   the file must set it (its default is not used)
//	nokey:"true"      not part of the content key (see Param.NoKey)
//
// Field types and the parameter types they declare: string (String), bool (Bool), int and
// int64 (Int), float64 (Float, finite), []string, []int, []int64, []float64 (the list types),
// map[string]float64 (Map), a nested struct (Object), Variant (a labelled block, whose kinds
// come from a SchemaOption), and a pointer to any of the scalar and list types for a parameter
// that is absent unless written. Defaults are the field values of the struct given to
// SchemaOf. Fields without a param tag are not parameters.

// Variant is the value of a labelled block parameter such as `loss "nir" { w_align = 0.01 }`:
// the label and the block's parameters (defaults filled). The plug-in named by Kind decodes
// Params into its own typed config.
type Variant struct {
	Kind   string
	Params Params
}

// VariantSet is what a Variant field needs to be declared: the kinds with their parameter
// lists, other spellings of kind names for "did you mean" ("proxyanchor" -> "oproxy"), and
// one sentence per kind for the reference.
type VariantSet struct {
	Kinds   map[string][]Param
	Aliases map[string]string
	Docs    map[string]string
}

// SchemaOption supplies what a config struct cannot say by itself.
type SchemaOption func(*schemaOpts)

type schemaOpts struct {
	variants map[string]VariantSet
	docs     map[string]string
	enums    map[string]enumOpt
}

type enumOpt struct {
	values  []string
	aliases map[string]string
}

// WithDoc sets the documentation of the parameter at path ("batch_mining",
// "schedule.sampler") where it is computed from a plug-in table rather than written in a tag.
func WithDoc(path, doc string) SchemaOption {
	return func(o *schemaOpts) {
		if o.docs == nil {
			o.docs = map[string]string{}
		}
		o.docs[path] = doc
	}
}

// WithEnum sets the allowed values (and their other spellings) of the string parameter at
// path from a plug-in table: a miner's name, a dataset kind.
func WithEnum(path string, values []string, aliases map[string]string) SchemaOption {
	return func(o *schemaOpts) {
		if o.enums == nil {
			o.enums = map[string]enumOpt{}
		}
		o.enums[path] = enumOpt{values, aliases}
	}
}

// WithVariants gives the kinds of the Variant field whose param tag is name.
func WithVariants(name string, set VariantSet) SchemaOption {
	return func(o *schemaOpts) {
		if o.variants == nil {
			o.variants = map[string]VariantSet{}
		}
		o.variants[name] = set
	}
}

var (
	variantType = reflect.TypeFor[Variant]()
	paramsType  = reflect.TypeFor[Params]()
)

// SchemaOf returns the parameters declared by the tagged fields of defaults (a struct or a
// pointer to one), in field order, with the field values as defaults. An error is a bug in
// the stage (an unsupported field type, a malformed tag).
func SchemaOf(defaults any, opts ...SchemaOption) ([]Param, error) {
	var o schemaOpts
	for _, f := range opts {
		f(&o)
	}
	v := reflect.ValueOf(defaults)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("stage: SchemaOf needs a struct, not %T", defaults)
	}
	return schemaOf(v, &o, "")
}

func schemaOf(v reflect.Value, o *schemaOpts, prefix string) ([]Param, error) {
	var out []Param
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("param")
		if !ok {
			continue
		}
		if !f.IsExported() {
			return nil, fmt.Errorf("stage: field %s.%s with param tag %q is not exported", t.Name(), f.Name, name)
		}
		p, err := paramOf(f, v.Field(i), o, JoinPath(prefix, name))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func paramOf(f reflect.StructField, fv reflect.Value, o *schemaOpts, path string) (Param, error) {
	p := Param{Name: f.Tag.Get("param"), Doc: f.Tag.Get("doc"), Required: f.Tag.Get("required") == "true", NoKey: f.Tag.Get("nokey") == "true"}
	bad := func(format string, args ...any) (Param, error) {
		return Param{}, fmt.Errorf("stage: parameter %s (field %s): %s", path, f.Name, fmt.Sprintf(format, args...))
	}
	if e := f.Tag.Get("enum"); e != "" {
		p.Enum = strings.Split(e, ",")
	}
	if d, ok := o.docs[path]; ok {
		p.Doc = d
	}
	if e, ok := o.enums[path]; ok {
		p.Enum, p.Aliases = e.values, e.aliases
	}
	for tag, dst := range map[string]**float64{"min": &p.Min, "max": &p.Max, "above": &p.Above} {
		if s, ok := f.Tag.Lookup(tag); ok {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return bad("%s tag %q is not a number", tag, s)
			}
			*dst = &x
		}
	}
	t, optional := f.Type, false
	if t.Kind() == reflect.Pointer {
		t, optional = t.Elem(), true
	}
	typ, ok := paramType(t)
	switch {
	case t == variantType:
		set, ok := o.variants[p.Name]
		if !ok {
			return bad("a Variant field needs WithVariants(%q, ...)", p.Name)
		}
		p.Variants, p.Aliases, p.VariantDocs = set.Kinds, set.Aliases, set.Docs
		if k := fv.Interface().(Variant).Kind; k != "" && !p.Required {
			if _, ok := set.Kinds[k]; !ok {
				return bad("default kind %q is not one of its kinds", k)
			}
			p.Default = k
		}
		return p, nil
	case t.Kind() == reflect.Struct:
		if optional {
			return bad("an object cannot be a pointer")
		}
		fields, err := schemaOf(fv, o, path)
		if err != nil {
			return Param{}, err
		}
		p.Type, p.Fields = Object, fields
		return p, nil
	case !ok:
		return bad("unsupported field type %s", f.Type)
	}
	p.Type = typ
	if p.Enum != nil && typ != String && typ != StringList {
		return bad("enum on a %s", typ)
	}
	if (p.Min != nil || p.Max != nil || p.Above != nil) && typ != Int && typ != Float && typ != IntList && typ != FloatList {
		return bad("bounds on a %s", typ)
	}
	if optional || p.Required {
		return p, nil
	}
	def, err := Canonical(p, fv.Interface())
	if err != nil {
		return bad("default %v: %v", fv.Interface(), err)
	}
	if probs := checkBounds(p, def, ""); len(probs) > 0 {
		return bad("its default breaks its own rule: %s", probs[0].Detail)
	}
	p.Default = def
	return p, nil
}

func paramType(t reflect.Type) (Type, bool) {
	switch t.Kind() {
	case reflect.String:
		return String, true
	case reflect.Bool:
		return Bool, true
	case reflect.Int, reflect.Int64:
		return Int, true
	case reflect.Float64:
		return Float, true
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return StringList, true
		case reflect.Int, reflect.Int64:
			return IntList, true
		case reflect.Float64:
			return FloatList, true
		}
	case reflect.Map:
		if t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Float64 {
			return Map, true
		}
	}
	return 0, false
}

// DecodeParams fills the tagged fields of the struct out points at from canonical parameters
// (as spec produces them: defaults filled) and returns every problem: a value outside its
// enum or bounds, a non-finite float, a missing required parameter. Members absent from p
// keep out's current values, so decoding into a copy of the defaults gives the defaults. A
// value of the wrong Go type is a bug in whoever built p and panics.
func DecodeParams(p Params, out any) Problems {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("stage: DecodeParams needs a pointer to a struct, not %T", out))
	}
	var probs Problems
	decodeStruct(v.Elem(), p, "", &probs)
	return probs
}

func decodeStruct(v reflect.Value, p Params, prefix string, probs *Problems) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("param")
		if !ok {
			continue
		}
		path := JoinPath(prefix, name)
		raw, present := p[name]
		fv := v.Field(i)
		if !present || raw == nil {
			if f.Tag.Get("required") == "true" {
				probs.Addf(path, "Missing required argument", "The argument %q is required, but no definition was found.", path)
			}
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			fv.Set(reflect.New(ft.Elem()))
			fv, ft = fv.Elem(), ft.Elem()
		}
		switch {
		case ft == variantType:
			m := asParams(raw, path)
			kind, _ := m["kind"].(string)
			rest := Params{}
			for k, x := range m {
				if k != "kind" {
					rest[k] = x
				}
			}
			fv.Set(reflect.ValueOf(Variant{Kind: kind, Params: rest}))
		case ft.Kind() == reflect.Struct:
			decodeStruct(fv, asParams(raw, path), path, probs)
		default:
			bounds := Param{Type: mustType(ft)}
			if e := f.Tag.Get("enum"); e != "" {
				bounds.Enum = strings.Split(e, ",")
			}
			for tag, dst := range map[string]**float64{"min": &bounds.Min, "max": &bounds.Max, "above": &bounds.Above} {
				if s, ok := f.Tag.Lookup(tag); ok {
					x, _ := strconv.ParseFloat(s, 64)
					*dst = &x
				}
			}
			*probs = append(*probs, checkBounds(bounds, raw, path)...)
			setValue(fv, raw, path)
		}
	}
}

func asParams(raw any, path string) Params {
	switch m := raw.(type) {
	case map[string]any:
		return Params(m)
	case Params:
		return m
	}
	panic(fmt.Sprintf("stage: parameter %s is %T, not an object (stage or spec bug)", path, raw))
}

func mustType(t reflect.Type) Type {
	typ, ok := paramType(t)
	if !ok {
		panic("stage: unsupported config field type " + t.String())
	}
	return typ
}

// setValue stores a canonical value (int64, float64, string, bool, their lists, or a
// map[string]float64) into a field of a matching Go type.
func setValue(fv reflect.Value, raw any, path string) {
	rv := reflect.ValueOf(raw)
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("stage: parameter %s: cannot store %T in a %s field (stage or spec bug): %v", path, raw, fv.Type(), r))
		}
	}()
	if fv.Kind() == reflect.Slice {
		out := reflect.MakeSlice(fv.Type(), rv.Len(), rv.Len())
		for i := range rv.Len() {
			out.Index(i).Set(rv.Index(i).Convert(fv.Type().Elem()))
		}
		fv.Set(out)
		return
	}
	if fv.Kind() == reflect.Map {
		out := reflect.MakeMapWithSize(fv.Type(), rv.Len())
		for _, k := range rv.MapKeys() {
			out.SetMapIndex(k, rv.MapIndex(k))
		}
		fv.Set(out)
		return
	}
	fv.Set(rv.Convert(fv.Type()))
}

// checkBounds returns the problems of a canonical value against p's enum, bounds and
// finiteness, each element of a list on its own ("tau[1]").
func checkBounds(p Param, v any, path string) Problems {
	var probs Problems
	num := func(x float64, at string) {
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			probs.Addf(at, "Value not finite", "%s must be a finite number; got %v.", quoteName(at), x)
		case p.Min != nil && x < *p.Min:
			probs.Addf(at, "Value out of range", "%s must be at least %v; got %v.", quoteName(at), *p.Min, x)
		case p.Max != nil && x > *p.Max:
			probs.Addf(at, "Value out of range", "%s must be at most %v; got %v.", quoteName(at), *p.Max, x)
		case p.Above != nil && x <= *p.Above:
			probs.Addf(at, "Value out of range", "%s must be greater than %v; got %v.", quoteName(at), *p.Above, x)
		}
	}
	str := func(s, at string) {
		if p.Enum != nil && !slices.Contains(p.Enum, s) {
			probs.Addf(at, "Invalid value", "%q is not allowed for %s; the values are %s.%s", s, quoteName(at), QuoteList(p.Enum), Suggest(s, p.Enum, p.Aliases))
		}
	}
	switch x := v.(type) {
	case int64:
		num(float64(x), path)
	case float64:
		num(x, path)
	case string:
		str(x, path)
	case []int64:
		for i, e := range x {
			num(float64(e), JoinPath(path, fmt.Sprintf("[%d]", i)))
		}
	case []float64:
		for i, e := range x {
			num(e, JoinPath(path, fmt.Sprintf("[%d]", i)))
		}
	case []string:
		for i, e := range x {
			str(e, JoinPath(path, fmt.Sprintf("[%d]", i)))
		}
	case map[string]float64:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			num(x[k], JoinPath(path, k))
		}
	}
	return probs
}

func quoteName(path string) string {
	if path == "" {
		return "the value"
	}
	return strconv.Quote(path)
}

// Config declares a stage's typed config: Defaults is a value of it whose tagged fields are
// the parameters and whose field values are their defaults; Check adds the rules no single
// field's tags can say (cross-field rules, names looked up in a plug-in table), with paths.
type Config[C any] struct {
	Defaults C
	Check    func(*C) Problems
	Options  []SchemaOption
}

// Typed completes d for a stage with a typed config: d.Params (which holds the reference
// parameters, and anything declared by hand) is followed by the parameters of cfg.Defaults;
// Decode is DecodeParams into a copy of the defaults plus cfg.Check; Run decodes (or takes
// Context.Config) and calls run with the typed value. An error is a bug in the stage's
// declaration.
func Typed[C any](d Def, cfg Config[C], run func(ctx *Context, c *C) error) (*Def, error) {
	ps, err := SchemaOf(&cfg.Defaults, cfg.Options...)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", d.Kind, err)
	}
	d.Params = append(append([]Param(nil), d.Params...), ps...)
	decode := func(p Params) (*C, Problems) {
		c := cfg.Defaults
		probs := DecodeParams(p, &c)
		if len(probs) == 0 && cfg.Check != nil {
			probs = cfg.Check(&c)
		}
		return &c, probs
	}
	d.Decode = func(p Params) (any, Problems) { return decode(p) }
	d.Run = func(ctx *Context) error {
		c, ok := ctx.Config.(*C)
		if !ok {
			var probs Problems
			if c, probs = decode(ctx.Params); len(probs) > 0 {
				return fmt.Errorf("%s: %w", ctx.Addr, probs.Err())
			}
		}
		return run(ctx, c)
	}
	return &d, nil
}
