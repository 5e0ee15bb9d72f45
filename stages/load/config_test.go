package load

import (
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dmlrun/stage"
)

// TestSchemaUnchanged pins the dataset block's parameters as they were declared by hand
// before the typed config (names, types, defaults, required, enums): the canonical
// parameter map, and so every content key, depends on them.
func TestSchemaUnchanged(t *testing.T) {
	want := []stage.Param{
		{Name: "kind", Type: stage.String, Required: true, Enum: []string{"cub200", "cars196", "online_products", "folder", "idx", "emoji"}},
		{Name: "root", Type: stage.String, Required: true},
		{Name: "base", Type: stage.Int, Default: int64(256)},
		{Name: "crop", Type: stage.Int, Default: int64(224)},
		{Name: "mean", Type: stage.FloatList, Default: []float64{0.485, 0.456, 0.406}},
		{Name: "std", Type: stage.FloatList, Default: []float64{0.229, 0.224, 0.225}},
		{Name: "bgr", Type: stage.Bool, Default: false},
		{Name: "subset", Type: stage.Object, Fields: []stage.Param{
			{Name: "classes", Type: stage.Int, Default: int64(0)},
			{Name: "per_class", Type: stage.Int, Default: int64(0)},
		}},
		{Name: "val_split", Type: stage.Float, Default: 0.0},
		{Name: "split", Type: stage.String, Default: "half", Enum: []string{"half", "alternate", "first_n"}},
		{Name: "train_classes", Type: stage.Int, Default: int64(0)},
		{Name: "skip_corrupt", Type: stage.Bool, Default: false},
		{Name: "vendors", Type: stage.StringList, Default: []string{"google", "twitter"}},
		{Name: "digest", Type: stage.String},
	}
	got := Def().Params
	if len(got) != len(want) {
		t.Fatalf("%d parameters, want %d", len(got), len(want))
	}
	strip := func(p stage.Param) stage.Param {
		fs := make([]stage.Param, len(p.Fields))
		for i, f := range p.Fields {
			fs[i] = stage.Param{Name: f.Name, Type: f.Type, Default: f.Default, Required: f.Required, Enum: f.Enum}
		}
		if len(fs) == 0 {
			fs = nil
		}
		return stage.Param{Name: p.Name, Type: p.Type, Default: p.Default, Required: p.Required, Enum: p.Enum, Fields: fs}
	}
	for i := range want {
		if g := strip(got[i]); !reflect.DeepEqual(g, want[i]) {
			t.Errorf("parameter %d:\n got  %+v\n want %+v", i, g, want[i])
		}
		// Only root is left out of the key: the folder's content is in it instead.
		if got[i].Doc == "" || got[i].NoKey != (got[i].Name == "root") {
			t.Errorf("%s: doc %q, nokey %v", got[i].Name, got[i].Doc, got[i].NoKey)
		}
	}
	// The descriptions the README shows, generated from the kind table.
	docs := map[string]string{
		"kind":    "dataset layout: cub200, cars196, online_products, folder (class per folder), idx (MNIST-family files) or emoji (emoji-datasource npm packages)",
		"split":   "folder and idx kinds: classes (sorted) split into train/test by first half / second half, alternating (even positions train), or the first train_classes",
		"vendors": "emoji kind: image vendors, one image per vendor per emoji",
	}
	for _, p := range got {
		if w, ok := docs[p.Name]; ok && p.Doc != w {
			t.Errorf("%s doc %q, want %q", p.Name, p.Doc, w)
		}
		if p.Name == "base" && (p.Min == nil || *p.Min != MinBase || p.Max == nil || *p.Max != MaxBase) {
			t.Errorf("base bounds %v..%v, want MinBase..MaxBase = %d..%d", p.Min, p.Max, MinBase, MaxBase)
		}
	}
}

// params returns the defaults as spec fills them, then the given arguments.
func params(kind string, set map[string]any) stage.Params {
	p := datasetParams(kind, "data/x")
	p["base"], p["crop"] = int64(256), int64(224)
	p["subset"] = map[string]any{"classes": int64(0), "per_class": int64(0)}
	for k, v := range set {
		p[k] = v
	}
	return p
}

func TestDecodeProblems(t *testing.T) {
	type prob struct{ path, summary, detail string } // detail: a substring
	cases := []struct {
		name string
		kind string
		set  map[string]any
		want []prob
	}{
		{"defaults", "cub200", nil, nil},
		{"every kind-specific argument where it is read", "folder",
			map[string]any{"split": "first_n", "train_classes": int64(3)}, nil},
		{"emoji vendors", "emoji", map[string]any{"vendors": []string{"apple"}}, nil},
		{"pinned digest", "idx", map[string]any{"digest": "sha256:" + strings.Repeat("0a", 32)}, nil},
		{"unknown kind", "cub", nil, []prob{{"kind", "Unknown dataset kind", `Did you mean "cub200"?`}}},
		{"alias", "sop", nil, []prob{{"kind", "Unknown dataset kind", `Did you mean "online_products"?`}}},
		{"misspelt kind", "foldr", nil, []prob{{"kind", "Unknown dataset kind", `Did you mean "folder"?`}}},
		{"base too small", "cub200", map[string]any{"base": int64(4), "crop": int64(4)}, []prob{{"base", "Value out of range", "at least 8"}}},
		{"base too large", "cub200", map[string]any{"base": int64(100000)}, []prob{{"base", "Value out of range", "at most 1024"}}},
		{"crop zero", "cub200", map[string]any{"crop": int64(0)}, []prob{{"crop", "Value out of range", "at least 1"}}},
		{"crop above base", "cub200", map[string]any{"base": int64(64), "crop": int64(65)}, []prob{{"crop", "Value out of range", "at most 64"}}},
		{"two means", "cub200", map[string]any{"mean": []float64{0.5, 0.5}}, []prob{{"mean", "Wrong number of values", "exactly 3 values"}}},
		{"four stds", "cub200", map[string]any{"std": []float64{1, 1, 1, 1}}, []prob{{"std", "Wrong number of values", "got 4"}}},
		{"zero std", "cub200", map[string]any{"std": []float64{0.2, 0, 0.2}}, []prob{{"std[1]", "Value out of range", "greater than 0"}}},
		{"negative val_split", "cub200", map[string]any{"val_split": -0.1}, []prob{{"val_split", "Value out of range", "at least 0"}}},
		{"val_split 1", "cub200", map[string]any{"val_split": 1.0}, []prob{{"val_split", "Value out of range", "below 1"}}},
		{"negative subset", "cub200", map[string]any{"subset": map[string]any{"classes": int64(-1), "per_class": int64(-2)}},
			[]prob{{"subset.classes", "Value out of range", "at least 0"}, {"subset.per_class", "Value out of range", "at least 0"}}},
		{"unknown split", "folder", map[string]any{"split": "halfs"}, []prob{{"split", "Invalid value", `Did you mean "half"?`}}},
		{"first_n without train_classes", "idx", map[string]any{"split": "first_n"}, []prob{{"train_classes", "Missing train_classes", "at least 1"}}},
		{"negative train_classes", "idx", map[string]any{"train_classes": int64(-1)}, []prob{{"train_classes", "Value out of range", "at least 0"}}},
		{"split on a fixed-protocol kind", "cub200", map[string]any{"split": "alternate"},
			[]prob{{"split", "Argument not used by this kind", `split = "alternate" has no effect on kind "cub200": only the folder and idx kinds read it`}}},
		{"train_classes on emoji", "emoji", map[string]any{"train_classes": int64(5)},
			[]prob{{"train_classes", "Argument not used by this kind", "only the folder and idx kinds read it"}}},
		{"vendors on folder", "folder", map[string]any{"vendors": []string{"apple"}},
			[]prob{{"vendors", "Argument not used by this kind", `vendors = ["apple"] has no effect on kind "folder": only the emoji kind reads it`}}},
		{"no vendors", "emoji", map[string]any{"vendors": []string{}}, []prob{{"vendors", "No vendors", "at least one"}}},
		{"bad vendors", "emoji", map[string]any{"vendors": []string{"google", "../x", "google"}},
			[]prob{{"vendors[1]", "Invalid vendor", `got "../x"`}, {"vendors[2]", "Duplicate vendor", "twice"}}},
		{"short digest", "cub200", map[string]any{"digest": "sha256:0000"}, []prob{{"digest", "Malformed digest", "64 lower-case hex digits"}}},
		{"digest without algorithm", "cub200", map[string]any{"digest": strings.Repeat("a", 64)}, []prob{{"digest", "Malformed digest", ""}}},
		{"upper-case digest", "cub200", map[string]any{"digest": "sha256:" + strings.Repeat("A", 64)}, []prob{{"digest", "Malformed digest", ""}}},
	}
	d := Def()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, probs := d.Decode(params(c.kind, c.set))
			if len(probs) != len(c.want) {
				t.Fatalf("problems %v, want %d", probs, len(c.want))
			}
			for i, w := range c.want {
				p := probs[i]
				if p.Path != w.path || p.Summary != w.summary || !strings.Contains(p.Detail, w.detail) || !strings.HasSuffix(p.Detail, ".") && !strings.HasSuffix(p.Detail, "?") {
					t.Errorf("problem %d = %+v, want %+v", i, p, w)
				}
			}
			if len(c.want) == 0 {
				if _, ok := cfg.(*Config); !ok {
					t.Fatalf("config %T", cfg)
				}
			}
		})
	}
}

// TestOptionsFromConfig: the decoded config becomes the library's Options field by field.
func TestOptionsFromConfig(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ab", 32)
	c, probs := Def().Decode(params("folder", map[string]any{
		"root": "data/f", "base": int64(32), "crop": int64(28), "mean": []float64{0.5, 0.4, 0.3}, "std": []float64{0.1, 0.2, 0.3},
		"bgr": true, "subset": map[string]any{"classes": int64(3), "per_class": int64(4)}, "val_split": 0.5,
		"split": "first_n", "train_classes": int64(2), "skip_corrupt": true, "digest": dg,
	}))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	got := c.(*Config).Options()
	want := Options{Kind: "folder", Root: "data/f", Base: 32, Crop: 28, Mean: [3]float64{0.5, 0.4, 0.3}, Std: [3]float64{0.1, 0.2, 0.3},
		BGR: true, SubsetClasses: 3, SubsetPerClass: 4, ValSplit: 0.5, Split: "first_n", TrainClasses: 2, SkipCorrupt: true,
		Vendors: []string{"google", "twitter"}, Digest: dg}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options\n got  %+v\n want %+v", got, want)
	}
	// Defaults: ResNet normalisation, not pinned.
	c, _ = Def().Decode(params("cub200", nil))
	if o := c.(*Config).Options(); o.Mean != ResNetMean || o.Std != ResNetStd || o.Digest != "" || o.Base != 256 || o.Crop != 224 {
		t.Errorf("default options %+v", o)
	}
}

// TestKindTable: every kind declares what the stage needs, names are unique, and Uses only
// names kind-specific arguments.
func TestKindTable(t *testing.T) {
	args := map[string]bool{}
	for _, a := range kindArgs {
		args[a.name] = true
		if !slices.ContainsFunc(Def().Params, func(p stage.Param) bool { return p.Name == a.name }) {
			t.Errorf("kind-specific argument %q is not a parameter", a.name)
		}
	}
	seen := map[string]bool{}
	for _, k := range Kinds() {
		switch {
		case k.Name == "" || seen[k.Name]:
			t.Errorf("kind %q: empty or duplicate name", k.Name)
		case k.Layout == "" || !strings.HasPrefix(k.Layout, "<root>/") || k.Order == "" || k.Digest == "":
			t.Errorf("kind %s: layout, order or digest undocumented", k.Name)
		case lookupKind(k.Name).list == nil:
			t.Errorf("kind %s has no reader", k.Name)
		}
		seen[k.Name] = true
		for _, u := range k.Uses {
			if !args[u] {
				t.Errorf("kind %s uses %q, which is not a kind-specific argument", k.Name, u)
			}
		}
		for _, a := range k.Aliases {
			if _, ok := LookupKind(a); ok {
				t.Errorf("alias %q of %s is a kind name", a, k.Name)
			}
		}
		if got, ok := LookupKind(k.Name); !ok || got.Name != k.Name {
			t.Errorf("LookupKind(%q) = %v, %v", k.Name, got.Name, ok)
		}
	}
	if _, ok := LookupKind("nope"); ok {
		t.Error("LookupKind found an unknown kind")
	}
}

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's generated kind table")

// TestReadmeKindTable: README.md's kind table is generated from the kind table.
func TestReadmeKindTable(t *testing.T) {
	const begin, end = "<!-- kinds:begin -->\n", "<!-- kinds:end -->"
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	want := kindTable()
	if readme[i+len(begin):j] == want {
		return
	}
	if *updateReadme {
		if err := os.WriteFile("README.md", []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's kind table is stale; run: go test ./stages/load -run TestReadmeKindTable -update-readme")
}
