package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/store"
)

// Stages whose schemas use every parameter type, so that ManifestKey's reading of JSON
// parameters back through the schema is tried on each: mksrc has a KeyInputs hook (its
// answer is its "content" parameter); mkembed reads one mksrc.
var mkembedParams = []stage.Param{
	{Name: "from", Type: stage.Ref, RefKind: "mksrc", Required: true},
	{Name: "embed_dim", Type: stage.Int, Default: int64(16)},
	{Name: "lr", Type: stage.Float, Default: 1e-5},
	{Name: "arch", Type: stage.String, Default: "resnet50", Enum: []string{"resnet50", "bninception"}},
	{Name: "normal", Type: stage.Bool, Default: true},
	{Name: "tags", Type: stage.StringList, Default: []string{}},
	{Name: "milestones", Type: stage.IntList, Default: []int64{10, 20}},
	{Name: "weights", Type: stage.FloatList, Default: []float64{0.5}},
	{Name: "tolerances", Type: stage.Map},
	{Name: "schedule", Type: stage.Object, Fields: []stage.Param{
		{Name: "epochs", Type: stage.Int, Default: int64(2)},
		{Name: "gamma", Type: stage.Float, Default: 0.1},
	}},
	{Name: "loss", Default: "oproxy", Variants: map[string][]stage.Param{
		"oproxy": {{Name: "margin", Type: stage.Float, Default: 0.1}},
		"nir":    {{Name: "w_align", Type: stage.Float, Default: 0.0075}, {Name: "flows", Type: stage.Int, Default: int64(2)}},
	}},
}

func manifestKeyDefs() []*stage.Def {
	write := func(c *stage.Context) error {
		return os.WriteFile(filepath.Join(c.OutDir, "out.txt"), []byte(c.Addr), 0o644)
	}
	return []*stage.Def{
		{Kind: "mksrc", Version: 2,
			Params: []stage.Param{{Name: "content", Type: stage.String, Default: ""}},
			KeyInputs: func(_ context.Context, p stage.Params) (string, error) {
				return p.String("content"), nil
			},
			Run: write},
		{Kind: "mkembed", Version: 4, Params: mkembedParams, Run: write},
		{Kind: "mkembedcopy", Version: 4, Params: mkembedParams, Run: write},
	}
}

// canonical fills a node's parameters as spec would: the given values, canonical, with
// defaults filled (references are inputs, not parameters).
func canonical(t *testing.T, kind string, given map[string]any) stage.Params {
	t.Helper()
	def, _ := testStages.Lookup(kind)
	var values []stage.Param
	for _, p := range def.Params {
		if p.Type != stage.Ref && p.Type != stage.RefList {
			values = append(values, p)
		}
	}
	p, err := stage.CanonicalParams(values, given)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func manifestKeyDecls(t *testing.T) []Decl {
	inf, nan := math.Inf(1), math.NaN()
	ref := func(target string) []DeclRef { return []DeclRef{{Param: "from", Target: target}} }
	return []Decl{
		{Addr: "mksrc.plain", Kind: "mksrc", Name: "plain", Params: canonical(t, "mksrc", nil)},
		{Addr: "mksrc.hooked", Kind: "mksrc", Name: "hooked", Params: canonical(t, "mksrc", map[string]any{"content": "sha256:abc"})},
		{Addr: "mkembed.defaults", Kind: "mkembed", Name: "defaults", Params: canonical(t, "mkembed", nil), Inputs: ref("mksrc.plain")},
		{Addr: "mkembed.every[seed=3]", Kind: "mkembed", Name: "every", Inputs: ref("mksrc.hooked"),
			Params: func() stage.Params {
				p := canonical(t, "mkembed", map[string]any{
					"embed_dim": 17, "lr": 1, "arch": "bninception", "normal": false,
					"tags": []string{"a", "b"}, "milestones": []int64{1 << 60, -3},
					"weights":    []float64{math.Copysign(0, -1), 1e-300, inf, -inf, nan},
					"tolerances": map[string]float64{"e_recall@1": 0.02, "nmi": nan, "inf": -inf},
					"schedule":   map[string]any{"gamma": inf},
					"loss":       map[string]any{"kind": "nir", "w_align": nan},
				})
				p["seed"] = int64(3) // seeds = [...] on a stage without a seed parameter
				return p
			}()},
	}
}

// Applying writes manifests exactly as the executor does; reading each back, ManifestKey
// recomputes the key the graph gave the node, for every parameter type, non-finite floats,
// -0, large ints, key inputs present and absent, and inputs.
func TestManifestKeyEqualsGraphKey(t *testing.T) {
	st, g := applyManifestKeyGraph(t)
	for _, n := range g.Nodes {
		m, err := st.Manifest(n.Key)
		if err != nil {
			t.Fatalf("%s: %v", n.Addr, err)
		}
		got, err := ManifestKey(testStages, m)
		if err != nil || got != n.Key {
			t.Errorf("%s: ManifestKey = %s, %v; graph key %s", n.Addr, got, err, n.Key)
		}
	}
	st.ManifestKey = KeyCheck(testStages)
	for _, n := range g.Nodes {
		if v := st.VerifyArtifact(n.Key); len(v.Problems) != 0 || v.NotChecked != "" {
			t.Errorf("%s: verify %+v", n.Addr, v)
		}
		if _, err := st.Get(n.Key); err != nil {
			t.Errorf("%s: Get: %v", n.Addr, err)
		}
	}
}

func applyManifestKeyGraph(t *testing.T) (*store.Store, *Graph) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "results"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(testStages, manifestKeyDecls(t), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(g, st, "", "exp.hcl", nil)
	if err != nil {
		t.Fatal(err)
	}
	ex := &Executor{Store: st, Jobs: 1, Device: "cpu", Threads: 1}
	if _, err := ex.Apply(context.Background(), g, p); err != nil {
		t.Fatal(err)
	}
	return st, g
}

// A manifest edited after the fact is damage for verify and a miss for Get and plan.
func TestManifestKeyDetectsEdits(t *testing.T) {
	other := strings.Repeat("ab", 32)
	cases := []struct {
		name     string
		addr     string
		from, to string
		damage   string // Verify's problem, or
		notCheck string // Verify's reason for not checking
	}{
		{"param", "mkembed.defaults", `"embed_dim": 16`, `"embed_dim": 17`, "manifest fields hash to key", ""},
		{"nested param", "mkembed.every[seed=3]", `"epochs": 2`, `"epochs": 3`, "manifest fields hash to key", ""},
		{"non-finite param", "mkembed.every[seed=3]", `"gamma": "+Inf"`, `"gamma": "-Inf"`, "manifest fields hash to key", ""},
		{"param type", "mkembed.defaults", `"embed_dim": 16`, `"embed_dim": 16.5`, `params do not fit stage mkembed version 4: field "embed_dim": 16.5 is not a whole number`, ""},
		{"unknown param", "mkembed.defaults", `"embed_dim": 16`, `"embed_dimension": 16`, `params do not fit stage mkembed version 4: "embed_dimension" is not a field`, ""},
		{"stage", "mkembed.defaults", `"stage": "mkembed"`, `"stage": "mkembedcopy"`, "manifest fields hash to key", ""},
		{"stage and version", "mkembed.defaults", `"stage": "mkembed"`, `"stage": "mksrc"`, "", "made by stage mksrc version 4, this dmlrun has 2"},
		{"key inputs", "mksrc.hooked", `"key_inputs": "sha256:abc"`, `"key_inputs": "sha256:abd"`, "manifest fields hash to key", ""},
		{"input key", "mkembed.defaults", "", "", "manifest fields hash to key", ""}, // the input's key, replaced by another
		{"version", "mkembed.defaults", `"stage_version": 4`, `"stage_version": 3`, "", "made by stage mkembed version 3, this dmlrun has 4"},
		{"unknown stage", "mkembed.defaults", `"stage": "mkembed"`, `"stage": "gone"`, "", `made by stage "gone", which this dmlrun does not have`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, g := applyManifestKeyGraph(t)
			st.ManifestKey = KeyCheck(testStages)
			n := g.Node(tc.addr)
			from, to := tc.from, tc.to
			if from == "" {
				from, to = `"key": "`+n.Inputs[0].From.Key+`"`, `"key": "`+other+`"`
			}
			dir := st.ArtifactDir(n.Key)
			b, err := os.ReadFile(filepath.Join(dir, store.ManifestName))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), from) {
				t.Fatalf("manifest lacks %q:\n%s", from, b)
			}
			os.Chmod(filepath.Join(dir, store.ManifestName), 0o644)
			os.WriteFile(filepath.Join(dir, store.ManifestName), []byte(strings.Replace(string(b), from, to, 1)), 0o644)

			v := st.VerifyArtifact(n.Key)
			switch {
			case tc.damage != "" && (len(v.Problems) != 1 || !strings.Contains(v.Problems[0], tc.damage)):
				t.Errorf("verify = %+v, want damage %q", v, tc.damage)
			case tc.notCheck != "" && (len(v.Problems) != 0 || v.NotChecked != tc.notCheck):
				t.Errorf("verify = %+v, want not checked %q", v, tc.notCheck)
			}
			_, err = st.Get(n.Key)
			var me *store.MissError
			if !errors.As(err, &me) || me.Absent {
				t.Fatalf("Get = %v, want a miss", err)
			}
			p, err := MakePlan(g, st, "", "exp.hcl", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(p)[tc.addr]; !strings.HasPrefix(got, string(Rerun)+": ") || !strings.Contains(got, me.Reason) {
				t.Errorf("plan: %s, want a rerun because %s", got, me.Reason)
			}
		})
	}
}

// FuzzManifestKey: whatever parameters a manifest holds, ManifestKey returns a key or an
// error and never panics; a key comes only from parameters that fit the schema. The seeds
// are hostile shapes for each parameter type.
func FuzzManifestKey(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `{"loss": 3}`, `{"loss": {"kind": 5}}`, `{"loss": {"kind": "nir", "flows": "x"}}`,
		`{"loss": "nope"}`, `{"tags": "x"}`, `{"tags": [1]}`, `{"tolerances": [1]}`, `{"tolerances": {"a": "NaN"}}`,
		`{"schedule": "x"}`, `{"schedule": {"gamma": "Inf"}}`, `{"weights": {"a": 1}}`, `{"weights": ["+Inf", "x"]}`,
		`{"milestones": [1e300]}`, `{"milestones": [9223372036854775808]}`, `{"embed_dim": null}`, `{"seed": "3"}`,
		`{"arch": "vgg"}`, `{"lr": "NaN"}`, `{"normal": 1}`, `{"embed_dim": 1e999}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, params string) {
		dec := json.NewDecoder(strings.NewReader(params))
		dec.UseNumber()
		var p map[string]any
		if dec.Decode(&p) != nil {
			return
		}
		m := &store.Manifest{Stage: "mkembed", StageVersion: 4, Params: p}
		if key, err := ManifestKey(testStages, m); err == nil && !store.ValidKey(key) {
			t.Fatalf("key %q from %s", key, params)
		}
	})
}
