package stage

import (
	"fmt"
	"sort"
)

// Registry is the set of stages one program knows. cmd/dmlrun builds it from the stage
// packages' definitions and hands it to spec (decoding), pipeline (keys) and the CLI; tests
// build their own with test stages. It is a value, not a global: no package registers itself
// at init time, and two registries never share state. Safe for concurrent reads.
type Registry struct {
	defs map[string]*Def
}

// NewRegistry checks and collects stage definitions. A duplicate kind, an empty kind, a
// missing Run or a malformed schema is an error (a bug in a stage's declaration).
func NewRegistry(defs ...*Def) (*Registry, error) {
	r := &Registry{defs: map[string]*Def{}}
	return r.add(defs)
}

// With returns a new registry with r's stages and defs (tests add their own stages).
func (r *Registry) With(defs ...*Def) (*Registry, error) {
	out := &Registry{defs: make(map[string]*Def, len(r.defs)+len(defs))}
	for k, d := range r.defs {
		out.defs[k] = d
	}
	return out.add(defs)
}

func (r *Registry) add(defs []*Def) (*Registry, error) {
	for _, d := range defs {
		switch {
		case d == nil:
			return nil, fmt.Errorf("stage registry: nil definition")
		case d.Kind == "":
			return nil, fmt.Errorf("stage registry: a definition without a Kind")
		case d.Run == nil:
			return nil, fmt.Errorf("stage registry: %s has no Run", d.Kind)
		}
		if _, dup := r.defs[d.Kind]; dup {
			return nil, fmt.Errorf("stage registry: %s defined twice", d.Kind)
		}
		if err := checkParams(d.Params, d.Kind); err != nil {
			return nil, err
		}
		r.defs[d.Kind] = d
	}
	return r, nil
}

func checkParams(ps []Param, where string) error {
	seen := map[string]bool{}
	for _, p := range ps {
		if p.Name == "" {
			return fmt.Errorf("stage registry: %s: a parameter without a name", where)
		}
		if seen[p.Name] {
			return fmt.Errorf("stage registry: %s: parameter %q declared twice", where, p.Name)
		}
		seen[p.Name] = true
		if err := checkParams(p.Fields, where+"."+p.Name); err != nil {
			return err
		}
		for k, fs := range p.Variants {
			if err := checkParams(fs, where+"."+p.Name+" "+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Lookup returns the stage for a block type.
func (r *Registry) Lookup(kind string) (*Def, bool) {
	d, ok := r.defs[kind]
	return d, ok
}

// Kinds lists the block types, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.defs))
	for k := range r.defs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
