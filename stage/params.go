package stage

import "fmt"

// Params are a node's decoded parameters with defaults filled (see Param for value types).
// The getters panic on a missing or mistyped name: spec validated the block against the
// stage's own schema, so a mismatch here is a bug in the stage, not bad input.
type Params map[string]any

func (p Params) get(name string) any {
	v, ok := p[name]
	if !ok {
		panic(fmt.Sprintf("stage: parameter %q not in schema-filled params (stage bug)", name))
	}
	return v
}

// Has reports whether a parameter is present (optional parameters without a default may not be).
func (p Params) Has(name string) bool { _, ok := p[name]; return ok }

func (p Params) String(name string) string    { return p.get(name).(string) }
func (p Params) Int(name string) int64        { return p.get(name).(int64) }
func (p Params) Float(name string) float64    { return p.get(name).(float64) }
func (p Params) Bool(name string) bool        { return p.get(name).(bool) }
func (p Params) Strings(name string) []string { return p.get(name).([]string) }
func (p Params) Ints(name string) []int64     { return p.get(name).([]int64) }
func (p Params) Floats(name string) []float64 { return p.get(name).([]float64) }
func (p Params) Map(name string) map[string]float64 {
	return p.get(name).(map[string]float64)
}

// Object returns an Object or Variants parameter's members as Params.
func (p Params) Object(name string) Params { return Params(p.get(name).(map[string]any)) }
