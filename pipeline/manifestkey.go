package pipeline

import (
	"fmt"
	"io"
	"math"

	"dmlrun/stage"
	"dmlrun/store"
)

// keyMaterial is everything a content key is made of, in the order it is hashed. Graph
// nodes (computeKeys) and stored manifests (ManifestKey) both reduce to it, and hash is the
// only code that turns it into a key, so a key recomputed from a manifest is computed
// exactly as the graph computed it.
type keyMaterial struct {
	Stage   string
	Version int
	// Params are canonical parameter values (package stage), defaults filled, without the
	// NoKey ones (keyParams).
	Params map[string]any
	// Omitted are the NoKey parameters left out of Params, for the debug record only.
	Omitted []Field
	// KeyInputs is the stage's KeyInputs answer. An empty answer means "reads nothing
	// outside the store" (a train node without pretrained weights) and adds nothing, so
	// such a node's key is what it was before its stage had the hook.
	KeyInputs string
	Inputs    []keyInput // in the order the references were written
}

type keyInput struct {
	Param string // the parameter that made the reference ("dataset", "models", ...)
	Key   string
	Addr  string // only for stages with Def.InputAddressesInKey, else ""
}

// hash computes the key. label and debug are as for NewHasher.
func (km keyMaterial) hash(label string, debug io.Writer) (string, error) {
	h := NewHasher(label, debug)
	h.Add("stage", km.Stage)
	h.Add("version", int64(km.Version))
	h.Add("params", km.Params)
	for _, f := range km.Omitted {
		h.note(fmt.Sprintf("  params.%s = %s (not in the key: the parameter is NoKey)", f.Path, f.Value))
	}
	if km.KeyInputs != "" {
		h.Add("key_inputs", km.KeyInputs)
	}
	for i, in := range km.Inputs {
		h.Add(fmt.Sprintf("input.%d.%s", i, in.Param), in.Key)
		if in.Addr != "" {
			h.Add(fmt.Sprintf("input.%d.%s.addr", i, in.Param), in.Addr)
		}
	}
	return h.Sum()
}

// ManifestKey recomputes the key of a stored artifact from the key material its manifest
// records: stage, stage version, parameters, the keys of its inputs in order, and its key
// inputs. The store calls it (Store.ManifestKey) on every manifest that Get and Verify
// read, so an edited manifest, one whose fields no longer hash to the artifact's key, is
// damage and never a hit.
//
// The parameters are read back through the stage's own schema (stage.CanonicalParams):
// the manifest holds them as JSON (numbers as json.Number, non-finite floats written as
// the strings "NaN", "+Inf" and "-Inf"), and only the schema says which JSON value was an
// int, a float or a string. An error means the parameters do not fit the schema (a lie
// too). A manifest made by a stage this program does not have, or by another version of
// it, cannot be recomputed: that is a *store.UncheckableError. stages is the program's
// registry, the one its graphs are built with; KeyCheck wraps it for Store.ManifestKey.
func ManifestKey(stages *stage.Registry, m *store.Manifest) (string, error) {
	def, ok := stages.Lookup(m.Stage)
	if !ok {
		return "", &store.UncheckableError{Reason: fmt.Sprintf("made by stage %q, which this dmlrun does not have", m.Stage)}
	}
	if m.StageVersion != def.Version {
		return "", &store.UncheckableError{Reason: fmt.Sprintf("made by stage %s version %d, this dmlrun has %d", m.Stage, m.StageVersion, def.Version)}
	}
	params, err := manifestParams(def, m.Params)
	if err != nil {
		return "", fmt.Errorf("params do not fit stage %s version %d: %w", m.Stage, def.Version, err)
	}
	// The manifest records NoKey parameters too; the key never covered them.
	params, _ = keyParams(def.Params, params)
	km := keyMaterial{Stage: m.Stage, Version: def.Version, Params: params, KeyInputs: m.KeyInputs}
	for _, in := range m.Inputs {
		ki := keyInput{Param: in.Param, Key: in.Key}
		if def.InputAddressesInKey {
			ki.Addr = in.Addr
		}
		km.Inputs = append(km.Inputs, ki)
	}
	return km.hash(m.Addr, nil)
}

// KeyCheck returns ManifestKey with stages fixed, the function Store.ManifestKey takes.
func KeyCheck(stages *stage.Registry) func(*store.Manifest) (string, error) {
	if stages == nil {
		panic("pipeline.KeyCheck: nil stage registry (build one with stage.NewRegistry)")
	}
	return func(m *store.Manifest) (string, error) { return ManifestKey(stages, m) }
}

// keyParams returns the parameters a key covers: params without those whose Param is NoKey,
// at the top level, among an Object's fields or a variant's fields (the schema is the
// stage's Def.Params). params itself is returned, unchanged, when nothing is left out, so
// that the keys of stages without NoKey parameters are what they always were; otherwise
// the objects on the way are copied and params is not modified. omitted lists what was
// left out, for the debug record.
func keyParams(schema []stage.Param, params map[string]any) (kept map[string]any, omitted []Field) {
	kept, _ = withoutNoKey(schema, params, "", &omitted)
	return kept, omitted
}

func withoutNoKey(schema []stage.Param, m map[string]any, prefix string, omitted *[]Field) (map[string]any, bool) {
	out, changed := m, false
	edit := func() {
		if !changed {
			out, changed = make(map[string]any, len(m)), true
			for k, v := range m {
				out[k] = v
			}
		}
	}
	for i := range schema {
		p := &schema[i]
		v, ok := m[p.Name]
		if !ok {
			continue
		}
		path := stage.JoinPath(prefix, p.Name)
		if p.NoKey {
			edit()
			delete(out, p.Name)
			*omitted = append(*omitted, flatten(path, v)...)
			continue
		}
		obj, isObj := asMap(v)
		var fields []stage.Param
		switch {
		case !isObj:
			continue
		case p.Variants != nil:
			kind, _ := obj["kind"].(string)
			fields = p.Variants[kind]
		case p.Type == stage.Object:
			fields = p.Fields
		}
		if sub, subChanged := withoutNoKey(fields, obj, path, omitted); subChanged {
			edit()
			out[p.Name] = sub
		}
	}
	return out, changed
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case stage.Params:
		return map[string]any(m), true
	}
	return nil, false
}

// manifestParams turns a manifest's JSON parameters back into canonical values with the
// stage's schema: its value parameters (references are inputs, not parameters), plus
// "seed" as an int when the stage does not declare it, since spec's seeds = [...] sets it
// on any block.
func manifestParams(def *stage.Def, given map[string]any) (map[string]any, error) {
	var schema []stage.Param
	seed := false
	for _, p := range def.Params {
		if p.Type == stage.Ref || p.Type == stage.RefList {
			continue
		}
		schema = append(schema, p)
		seed = seed || p.Name == "seed"
	}
	if _, ok := given["seed"]; ok && !seed {
		schema = append(schema, stage.Param{Name: "seed", Type: stage.Int})
	}
	out, err := stage.CanonicalParams(schema, restoreObject(schema, given))
	if err != nil {
		return nil, err
	}
	return map[string]any(out), nil
}

// restoreObject copies an object's JSON members, turning the strings that stand for
// non-finite floats back into floats where the schema says a float is.
func restoreObject(fields []stage.Param, given map[string]any) map[string]any {
	if given == nil {
		return nil
	}
	out := make(map[string]any, len(given))
	for k, v := range given {
		out[k] = v
		for i := range fields {
			if fields[i].Name == k {
				out[k] = restoreValue(&fields[i], v)
				break
			}
		}
	}
	return out
}

func restoreValue(p *stage.Param, v any) any {
	if p.Variants != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		kind, _ := m["kind"].(string)
		fields, ok := p.Variants[kind]
		if !ok {
			return v
		}
		return restoreObject(fields, m)
	}
	switch p.Type {
	case stage.Float:
		return restoreFloat(v)
	case stage.FloatList:
		if l, ok := v.([]any); ok {
			out := make([]any, len(l))
			for i, x := range l {
				out[i] = restoreFloat(x)
			}
			return out
		}
	case stage.Map:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, x := range m {
				out[k] = restoreFloat(x)
			}
			return out
		}
	case stage.Object:
		if m, ok := v.(map[string]any); ok {
			return restoreObject(p.Fields, m)
		}
	}
	return v
}

// restoreFloat undoes jsonSafe for one value: formatFloat's spellings of non-finite floats.
func restoreFloat(v any) any {
	switch v {
	case "NaN":
		return math.NaN()
	case "+Inf":
		return math.Inf(1)
	case "-Inf":
		return math.Inf(-1)
	}
	return v
}
