package stage

import (
	"reflect"
	"strings"
	"testing"
)

type testSchedule struct {
	Epochs int     `param:"epochs" min:"0" doc:"epochs"`
	LR     float64 `param:"lr" above:"0" doc:"learning rate"`
	Tau    []int   `param:"tau" min:"0"`
}

type testConfig struct {
	Arch     string             `param:"arch" enum:"resnet50,smallcnn" doc:"backbone"`
	Dim      int64              `param:"embed_dim" min:"1"`
	Frozen   bool               `param:"frozen"`
	Root     string             `param:"root" required:"true" nokey:"true"`
	Digest   *string            `param:"digest"`
	Schedule testSchedule       `param:"schedule"`
	Weights  map[string]float64 `param:"weights"`
	Loss     Variant            `param:"loss"`
	internal int                // no tag: not a parameter
}

func testSchema(t *testing.T) []Param {
	t.Helper()
	ps, err := SchemaOf(testConfig{Arch: "resnet50", Dim: 128, Schedule: testSchedule{Epochs: 10, LR: 1e-5, Tau: []int{100}}, Loss: Variant{Kind: "oproxy"}},
		WithVariants("loss", VariantSet{Kinds: map[string][]Param{"oproxy": nil, "nir": {{Name: "w_align", Type: Float, Default: 0.0075}}}, Aliases: map[string]string{"proxyanchor": "oproxy"}}))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestSchemaOfDeclaresParamsOnce(t *testing.T) {
	ps := testSchema(t)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "arch,embed_dim,frozen,root,digest,schedule,weights,loss" {
		t.Fatalf("params %s", got)
	}
	byName := map[string]Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	check := func(name string, typ Type, def any) {
		t.Helper()
		p := byName[name]
		if p.Type != typ || !reflect.DeepEqual(p.Default, def) {
			t.Errorf("%s: %v default %#v, want %v %#v", name, p.Type, p.Default, typ, def)
		}
	}
	check("arch", String, "resnet50")
	check("embed_dim", Int, int64(128))
	check("frozen", Bool, false)
	check("root", String, nil) // required: no default
	check("digest", String, nil)
	check("weights", Map, map[string]float64{})
	if p := byName["root"]; !p.Required || !p.NoKey {
		t.Errorf("root: required %v nokey %v", p.Required, p.NoKey)
	}
	s := byName["schedule"]
	if s.Type != Object || len(s.Fields) != 3 || s.Fields[2].Type != IntList || !reflect.DeepEqual(s.Fields[2].Default, []int64{100}) || *s.Fields[1].Above != 0 {
		t.Errorf("schedule: %+v", s)
	}
	if l := byName["loss"]; l.Default != "oproxy" || len(l.Variants) != 2 || l.Aliases["proxyanchor"] != "oproxy" {
		t.Errorf("loss: %+v", l)
	}
}

func TestSchemaOfRejectsBadDeclarations(t *testing.T) {
	for name, v := range map[string]any{
		"unsupported type": struct {
			X complex128 `param:"x"`
		}{},
		"enum on an int": struct {
			X int `param:"x" enum:"a"`
		}{},
		"bad bound": struct {
			X int `param:"x" min:"one"`
		}{},
		"default breaks its bound": struct {
			X int `param:"x" min:"1"`
		}{},
		"variant without kinds": struct {
			L Variant `param:"loss"`
		}{},
	} {
		if _, err := SchemaOf(v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecodeParams(t *testing.T) {
	p := Params{"arch": "smallcnn", "embed_dim": int64(-3), "frozen": true, "root": "data", "digest": "sha256:x",
		"schedule": map[string]any{"epochs": int64(2), "lr": -1.0, "tau": []int64{5, -1}},
		"weights":  map[string]float64{"a": 1},
		"loss":     map[string]any{"kind": "nir", "w_align": 0.01}}
	c := testConfig{Dim: 128}
	probs := DecodeParams(p, &c)
	if c.Arch != "smallcnn" || c.Dim != -3 || !c.Frozen || c.Root != "data" || c.Digest == nil || *c.Digest != "sha256:x" ||
		c.Schedule.Epochs != 2 || !reflect.DeepEqual(c.Schedule.Tau, []int{5, -1}) || c.Weights["a"] != 1 ||
		c.Loss.Kind != "nir" || c.Loss.Params["w_align"] != 0.01 || c.Loss.Params["kind"] != nil {
		t.Fatalf("decoded %+v", c)
	}
	var got []string
	for _, pr := range probs {
		got = append(got, pr.Path+": "+pr.Detail)
	}
	want := []string{
		`embed_dim: "embed_dim" must be at least 1; got -3.`,
		`schedule.lr: "schedule.lr" must be greater than 0; got -1.`,
		`schedule.tau[1]: "schedule.tau[1]" must be at least 0; got -1.`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Absent members keep the value decoded into; a missing required one is a problem.
	c2 := testConfig{Arch: "resnet50"}
	probs = DecodeParams(Params{"embed_dim": int64(4)}, &c2)
	if c2.Arch != "resnet50" || c2.Digest != nil || len(probs) != 1 || probs[0].Path != "root" {
		t.Errorf("partial decode: %+v, problems %v", c2, probs)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"oproxy", "nir", "margin"}
	for in, want := range map[string]string{
		"proxyanchor": ` Did you mean "oproxy"?`, // by alias
		"ProxyAnchor": ` Did you mean "oproxy"?`,
		"margn":       ` Did you mean "margin"?`, // by edit distance
		"xyzzy":       "",
	} {
		if got := Suggest(in, names, map[string]string{"proxyanchor": "oproxy"}); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	var ps Problems
	if ps.OneOf("arch", "backbone", "smallcnn_normalise", []string{"smallcnn_normalize"}, nil) || !strings.Contains(ps[0].Detail, `Did you mean "smallcnn_normalize"?`) {
		t.Errorf("OneOf: %v", ps)
	}
}

func TestTypedDecodesAndChecks(t *testing.T) {
	type cfg struct {
		N  int `param:"n" min:"1"`
		Of int `param:"of"`
	}
	var ran *cfg
	d, err := Typed(Def{Kind: "t", Version: 1}, Config[cfg]{
		Defaults: cfg{N: 1, Of: 4},
		Check: func(c *cfg) Problems {
			var ps Problems
			if c.Of%c.N != 0 {
				ps.Addf("n", "Not a divisor", "n = %d must divide of = %d.", c.N, c.Of)
			}
			return ps
		},
	}, func(ctx *Context, c *cfg) error { ran = c; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Params) != 2 || d.Params[0].Default != int64(1) {
		t.Fatalf("params %+v", d.Params)
	}
	if _, probs := d.Decode(Params{"n": int64(3), "of": int64(4)}); len(probs) != 1 || probs[0].Path != "n" {
		t.Errorf("cross-field rule: %v", probs)
	}
	if _, probs := d.Decode(Params{"n": int64(0), "of": int64(4)}); len(probs) != 1 || !strings.Contains(probs[0].Detail, "at least 1") {
		t.Errorf("bound: %v", probs) // (Check is not run on a config whose fields are out of bounds)
	}
	if err := d.Run(&Context{Params: Params{"n": int64(2), "of": int64(4)}}); err != nil || ran == nil || ran.N != 2 {
		t.Errorf("Run: %v, ran %+v", err, ran)
	}
	if err := d.Run(&Context{Addr: "t.x", Params: Params{"n": int64(3), "of": int64(4)}}); err == nil || !strings.Contains(err.Error(), "must divide") {
		t.Errorf("Run with a bad config: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	run := func(*Context) error { return nil }
	a, b := &Def{Kind: "a", Run: run}, &Def{Kind: "b", Run: run}
	r, err := NewRegistry(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := r.Lookup("a"); !ok || d != a || strings.Join(r.Kinds(), ",") != "a,b" {
		t.Fatalf("lookup/kinds: %v %v", ok, r.Kinds())
	}
	r2, err := r.With(&Def{Kind: "c", Run: run})
	if err != nil || len(r2.Kinds()) != 3 || len(r.Kinds()) != 2 {
		t.Fatalf("With: %v, %v / %v", err, r2.Kinds(), r.Kinds())
	}
	for name, defs := range map[string][]*Def{
		"duplicate":  {a, a},
		"no run":     {{Kind: "x"}},
		"no kind":    {{Run: run}},
		"dup param":  {{Kind: "x", Run: run, Params: []Param{{Name: "p"}, {Name: "p"}}}},
		"nested dup": {{Kind: "x", Run: run, Params: []Param{{Name: "o", Type: Object, Fields: []Param{{Name: "p"}, {Name: "p"}}}}}},
		"nil":        {nil},
	} {
		if _, err := NewRegistry(defs...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
