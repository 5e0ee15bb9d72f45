package stage

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestCanonical: Go-written and JSON-decoded values of every parameter type give the same
// canonical value, and values of the wrong type or out of range are errors that say why.
func TestCanonical(t *testing.T) {
	sched := Param{Name: "schedule", Type: Object, Fields: []Param{
		{Name: "epochs", Type: Int, Default: 100},
		{Name: "lr", Type: Float, Default: 1e-5},
		{Name: "milestones", Type: IntList, Default: []int{30, 60}},
		{Name: "note", Type: String},
	}}
	loss := Param{Name: "loss", Variants: map[string][]Param{
		"oproxy": {{Name: "mode", Type: String, Default: "anchor", Enum: []string{"anchor", "nca"}}, {Name: "lrmulti", Type: Float, Default: 2000}},
		"plain":  nil,
	}}
	tests := []struct {
		name string
		p    Param
		v    any
		want any
		err  string // substring of the error; "" for success
	}{
		{"int from Go int", Param{Type: Int}, 128, int64(128), ""},
		{"int from Go uint8", Param{Type: Int}, uint8(7), int64(7), ""},
		{"int from JSON float", Param{Type: Int}, 3.0, int64(3), ""},
		{"int from json.Number", Param{Type: Int}, json.Number("42"), int64(42), ""},
		{"int from json.Number 3e2", Param{Type: Int}, json.Number("3e2"), int64(300), ""},
		{"int from 3.5", Param{Type: Int}, 3.5, nil, "3.5 is not a whole number"},
		{"int from json.Number 3.5", Param{Type: Int}, json.Number("3.5"), nil, "3.5 is not a whole number"},
		{"int beyond 2^53 as float", Param{Type: Int}, 1e17, nil, "too large"},
		{"int from string", Param{Type: Int}, "3", nil, `string 3 is not an int`},
		{"int from bool", Param{Type: Int}, true, nil, "bool true is not an int"},
		{"int from nil", Param{Type: Int}, nil, nil, "null is not an int"},
		{"float from Go int", Param{Type: Float}, 1, 1.0, ""},
		{"float from JSON float", Param{Type: Float}, 1e-5, 1e-5, ""},
		{"float from json.Number", Param{Type: Float}, json.Number("0.25"), 0.25, ""},
		{"float from string", Param{Type: Float}, "0.1", nil, "string 0.1 is not a float"},
		{"string", Param{Type: String}, "x", "x", ""},
		{"string from number", Param{Type: String}, 1.0, nil, "float64 1 is not a string"},
		{"string in enum", Param{Type: String, Enum: []string{"a", "b"}}, "b", "b", ""},
		{"string not in enum", Param{Type: String, Enum: []string{"a", "b"}}, "c", nil, `"c" is not one of ["a" "b"]`},
		{"bool", Param{Type: Bool}, true, true, ""},
		{"bool from number", Param{Type: Bool}, 1.0, nil, "is not a bool"},
		{"int list from Go", Param{Type: IntList}, []int{1, 2}, []int64{1, 2}, ""},
		{"int list from JSON", Param{Type: IntList}, []any{1.0, 2.0}, []int64{1, 2}, ""},
		{"int list with 3.5", Param{Type: IntList}, []any{1.0, 3.5}, nil, "element 1: 3.5 is not a whole number"},
		{"int list from a number", Param{Type: IntList}, 1.0, nil, "float64 1 is not a list of ints"},
		{"float list from Go", Param{Type: FloatList}, []float32{0.5}, []float64{0.5}, ""},
		{"float list from JSON", Param{Type: FloatList}, []any{0.5, 2.0}, []float64{0.5, 2}, ""},
		{"float list with a string", Param{Type: FloatList}, []any{"x"}, nil, "element 0: string x is not a float"},
		{"string list from Go", Param{Type: StringList}, []string{"a"}, []string{"a"}, ""},
		{"string list from JSON", Param{Type: StringList}, []any{"a", "b"}, []string{"a", "b"}, ""},
		{"string list with a number", Param{Type: StringList}, []any{"a", 1.0}, nil, "element 1: float64 1 is not a string"},
		{"string list outside enum", Param{Type: StringList, Enum: []string{"a"}}, []any{"a", "z"}, nil, `element 1: "z" is not one of`},
		{"empty JSON list", Param{Type: IntList}, []any{}, []int64{}, ""},
		{"map from Go", Param{Type: Map}, map[string]int{"a": 1}, map[string]float64{"a": 1}, ""},
		{"map from JSON", Param{Type: Map}, map[string]any{"e_recall@1": 0.02}, map[string]float64{"e_recall@1": 0.02}, ""},
		{"map with a string value", Param{Type: Map}, map[string]any{"a": "x"}, nil, `the value of "a": string x is not a float`},
		{"map from a list", Param{Type: Map}, []any{}, nil, "is not a map"},
		{"object from Go, defaults filled", sched, map[string]any{"epochs": 3},
			map[string]any{"epochs": int64(3), "lr": 1e-5, "milestones": []int64{30, 60}}, ""},
		{"object from JSON", sched, map[string]any{"epochs": 3.0, "milestones": []any{1.0}, "note": "n", "lr": nil},
			map[string]any{"epochs": int64(3), "lr": 1e-5, "milestones": []int64{1}, "note": "n"}, ""},
		{"object from Params", sched, Params{"lr": 0.5},
			map[string]any{"epochs": int64(100), "lr": 0.5, "milestones": []int64{30, 60}}, ""},
		{"object with 3.5 epochs", sched, map[string]any{"epochs": 3.5}, nil, `field "epochs": 3.5 is not a whole number`},
		{"object with an unknown field", sched, map[string]any{"epoch": 3.0}, nil, `"epoch" is not a field (fields: epochs, lr, milestones, note)`},
		{"object from a string", sched, "x", nil, "string x is not an object"},
		{"variant by name", loss, "oproxy", map[string]any{"kind": "oproxy", "mode": "anchor", "lrmulti": 2000.0}, ""},
		{"variant from JSON", loss, map[string]any{"kind": "oproxy", "mode": "nca", "lrmulti": 10.0},
			map[string]any{"kind": "oproxy", "mode": "nca", "lrmulti": 10.0}, ""},
		{"variant without fields", loss, "plain", map[string]any{"kind": "plain"}, ""},
		{"variant of unknown kind", loss, "nope", nil, `"nope" is not one of its kinds`},
		{"variant without kind", loss, map[string]any{"mode": "nca"}, nil, `needs a string "kind"`},
		{"variant with a bad field", loss, map[string]any{"kind": "oproxy", "mode": "x"}, nil, `field "mode": "x" is not one of`},
		{"variant from a number", loss, 1.0, nil, "must be a kind name or a map"},
		{"reference is not a value", Param{Type: Ref}, "dataset.cub", nil, "is not a reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonical(tc.p, tc.v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Canonical(%#v) = %#v, %v; want an error containing %q", tc.v, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Canonical(%#v): %v", tc.v, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Canonical(%#v) = %#v, want %#v", tc.v, got, tc.want)
			}
		})
	}
}

// TestCanonicalJSONRoundTrip: a canonical block written with encoding/json and read back
// (numbers as float64, lists as []any) is canonicalised to the very same value, which is
// what train's inspect relies on for model.json's loss_params.
func TestCanonicalJSONRoundTrip(t *testing.T) {
	params := []Param{
		{Name: "width", Type: Int, Default: int64(32)},
		{Name: "alpha", Type: Float, Default: 1.5},
		{Name: "mode", Type: String, Default: "a", Enum: []string{"a", "b"}},
		{Name: "on", Type: Bool, Default: false},
		{Name: "steps", Type: IntList, Default: []int64{10, 20}},
		{Name: "ws", Type: FloatList, Default: []float64{0.5}},
		{Name: "tags", Type: StringList, Default: []string{}},
		{Name: "tol", Type: Map, Default: map[string]float64{"r@1": 0.01}},
		{Name: "inner", Type: Object, Fields: []Param{{Name: "n", Type: Int, Default: 2}}},
	}
	want, err := CanonicalParams(params, map[string]any{"width": 64, "mode": "b", "steps": []int{5}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := CanonicalParams(params, back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after a JSON round trip\n got  %#v\n want %#v", got, want)
	}
	if got.Int("width") != 64 || got.Object("inner").Int("n") != 2 || got.Ints("steps")[0] != 5 {
		t.Fatalf("values: %#v", got)
	}
}

// TestCanonicalParams: defaults are filled as spec fills them, nil counts as not given,
// and unknown names, missing required members and bad values are errors naming the member.
func TestCanonicalParams(t *testing.T) {
	params := []Param{
		{Name: "root", Type: String, Required: true},
		{Name: "epochs", Type: Int, Default: 10},
		{Name: "opt", Type: String},
		{Name: "sched", Type: Object, Fields: []Param{{Name: "gamma", Type: Float, Default: 0.1}}},
		{Name: "needs", Type: Object, Fields: []Param{{Name: "x", Type: Int, Required: true}}},
	}
	tests := []struct {
		name  string
		given map[string]any
		want  Params
		err   string
	}{
		{"defaults filled", map[string]any{"root": "/d"},
			Params{"root": "/d", "epochs": int64(10), "sched": map[string]any{"gamma": 0.1}}, ""},
		{"nil is not given", map[string]any{"root": "/d", "epochs": nil, "opt": nil},
			Params{"root": "/d", "epochs": int64(10), "sched": map[string]any{"gamma": 0.1}}, ""},
		{"JSON values", map[string]any{"root": "/d", "epochs": 3.0, "opt": "sgd", "sched": map[string]any{"gamma": 0.5}, "needs": map[string]any{"x": 1.0}},
			Params{"root": "/d", "epochs": int64(3), "opt": "sgd", "sched": map[string]any{"gamma": 0.5}, "needs": map[string]any{"x": int64(1)}}, ""},
		{"missing required", map[string]any{"epochs": 3.0}, nil, `field "root" is required`},
		{"missing required in an object", map[string]any{"root": "/d", "needs": map[string]any{}}, nil, `field "needs": field "x" is required`},
		{"unknown name", map[string]any{"root": "/d", "epoch": 3.0}, nil, `"epoch" is not a field`},
		{"3.5 for an int", map[string]any{"root": "/d", "epochs": 3.5}, nil, `field "epochs": 3.5 is not a whole number`},
		{"wrong type", map[string]any{"root": 1.0}, nil, `field "root": float64 1 is not a string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalParams(params, tc.given)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %#v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}

	// A schema default that is not valid is an error too (spec reports it as a stage bug).
	bad := []Param{{Name: "n", Type: Int, Default: 2.5}}
	if _, err := CanonicalParams(bad, nil); err == nil || !strings.Contains(err.Error(), `field "n": default: 2.5 is not a whole number`) {
		t.Fatalf("bad default: %v", err)
	}
}

// TestCanonicalCopies: the result shares no slice or map with the value given, so nodes
// that got the same default never see each other's changes.
func TestCanonicalCopies(t *testing.T) {
	in := []int64{1, 2}
	out, err := Canonical(Param{Type: IntList}, in)
	if err != nil {
		t.Fatal(err)
	}
	out.([]int64)[0] = 9
	m := map[string]float64{"a": 1}
	mo, err := Canonical(Param{Type: Map}, m)
	if err != nil {
		t.Fatal(err)
	}
	mo.(map[string]float64)["a"] = 9
	if in[0] != 1 || m["a"] != 1 {
		t.Fatalf("input changed: %v %v", in, m)
	}
}
