package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"dmlrun/stage"
	"dmlrun/store"
)

// ttyped is a typed test stage (stage.Typed) whose config has NoKey members at every level
// a schema can put them: top level (root), an Object field (schedule.cache) and a variant
// field (loss "scaled" { scratch }). Its Check rejects n = 13, a rule no tag can say.
type tcSchedule struct {
	LR    float64 `param:"lr" above:"0"`
	Cache string  `param:"cache" nokey:"true"`
}

type tcConfig struct {
	Root     string        `param:"root" nokey:"true"`
	N        int           `param:"n" min:"1"`
	Schedule tcSchedule    `param:"schedule"`
	Loss     stage.Variant `param:"loss"`
}

var (
	typedMu   sync.Mutex
	typedSeen []typedRun // what each ttyped run was handed
)

type typedRun struct {
	fromExecutor bool // ctx.Config is the value run got: the executor decoded it
	cfg          tcConfig
}

func typedDefs() []*stage.Def {
	def, err := stage.Typed(stage.Def{Kind: "ttyped", Version: 1},
		stage.Config[tcConfig]{
			Defaults: tcConfig{Root: "data", N: 1, Schedule: tcSchedule{LR: 0.1}, Loss: stage.Variant{Kind: "plain"}},
			Check: func(c *tcConfig) stage.Problems {
				var p stage.Problems
				if c.N == 13 {
					p.Addf("n", "Unlucky number", "n must not be 13; pick another.")
				}
				return p
			},
			Options: []stage.SchemaOption{stage.WithVariants("loss", stage.VariantSet{Kinds: map[string][]stage.Param{
				"plain": nil,
				"scaled": {
					{Name: "w", Type: stage.Float, Default: 1.0},
					{Name: "scratch", Type: stage.String, Default: "", NoKey: true},
				},
			}})},
		},
		func(ctx *stage.Context, c *tcConfig) error {
			if err := logRun(ctx); err != nil {
				return err
			}
			typedMu.Lock()
			typedSeen = append(typedSeen, typedRun{fromExecutor: ctx.Config == any(c), cfg: *c})
			typedMu.Unlock()
			return os.WriteFile(filepath.Join(ctx.OutDir, "out.txt"), []byte(ctx.Addr), 0o644)
		})
	if err != nil {
		panic(err) // the declaration above is wrong
	}
	return []*stage.Def{def}
}

func typedRuns() []typedRun {
	typedMu.Lock()
	defer typedMu.Unlock()
	out := typedSeen
	typedSeen = nil
	return out
}

// typedDecl is one ttyped node with the given values over the defaults, canonical as spec
// would make them.
func typedDecl(t *testing.T, given map[string]any) Decl {
	t.Helper()
	return Decl{Addr: "ttyped.x", Kind: "ttyped", Name: "x", Params: canonical(t, "ttyped", given)}
}

func typedKey(t *testing.T, given map[string]any) string {
	t.Helper()
	g, err := Build(testStages, []Decl{typedDecl(t, given)}, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g.Nodes[0].Key
}

func TestNoKeyParamsStayOutOfTheKey(t *testing.T) {
	base := map[string]any{"root": "data/emoji", "n": 2,
		"schedule": map[string]any{"lr": 0.5, "cache": "/tmp/a"},
		"loss":     map[string]any{"kind": "scaled", "w": 2.0, "scratch": "/tmp/s"}}
	with := func(path string, v any) map[string]any {
		m := canonical(t, "ttyped", base)
		parts := strings.Split(path, ".")
		obj := map[string]any(m)
		for _, p := range parts[:len(parts)-1] {
			obj = obj[p].(map[string]any)
		}
		obj[parts[len(parts)-1]] = v
		return m
	}
	want := typedKey(t, base)
	cases := []struct {
		path  string
		value any
		same  bool
	}{
		{"root", "./data/emoji", true},
		{"schedule.cache", "/elsewhere", true},
		{"loss.scratch", "/other", true},
		{"n", int64(3), false},
		{"schedule.lr", 0.25, false},
		{"loss.w", 3.0, false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			if got := typedKey(t, with(tc.path, tc.value)); (got == want) != tc.same {
				t.Errorf("changing %s: key %s, base key %s; want same=%v", tc.path, got, want, tc.same)
			}
		})
	}
}

// Stages without NoKey parameters hash exactly the map they were given (their keys are
// what they always were; keys.golden pins the real stages'), and the graph does not modify
// the parameters of stages with them.
func TestKeyParamsWithoutNoKeyIsIdentity(t *testing.T) {
	p := map[string]any(manifestKeyDecls(t)[3].Params)
	kept, omitted := keyParams(mkembedParams, p)
	if reflect.ValueOf(kept).Pointer() != reflect.ValueOf(p).Pointer() || omitted != nil {
		t.Errorf("keyParams copied or dropped something: omitted %v", omitted)
	}
	d := typedDecl(t, map[string]any{"root": "r", "schedule": map[string]any{"cache": "c"}})
	g, err := Build(testStages, []Decl{d}, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := g.Nodes[0]; n.Params["root"] != "r" || n.Params["schedule"].(map[string]any)["cache"] != "c" {
		t.Errorf("node params lost NoKey members: %v", n.Params)
	}
}

func TestNoKeyInDebugOutput(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Build(testStages, []Decl{typedDecl(t, map[string]any{"root": "data/x"})}, BuildOptions{KeyDebug: &buf}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"  params.root = \"data/x\" (not in the key: the parameter is NoKey)\n",
		"  params.schedule.cache = \"\" (not in the key: the parameter is NoKey)\n",
		"  params.schedule.lr = 0.1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug output lacks %q:\n%s", want, out)
		}
	}
}

// The manifest records NoKey parameters; ManifestKey leaves them out as the graph did, so
// the stored key checks out, and editing one in the manifest is not damage (it never was
// key material) while editing a keyed one is.
func TestNoKeyInManifest(t *testing.T) {
	e := newEnv(t)
	e.st.ManifestKey = KeyCheck(testStages)
	d := typedDecl(t, map[string]any{"root": "data/x", "loss": map[string]any{"kind": "scaled", "scratch": "s"}})
	g := e.build([]Decl{d})
	if _, err := e.apply(g); err != nil {
		t.Fatal(err)
	}
	typedRuns()
	key := g.Nodes[0].Key
	m, err := e.st.Manifest(key)
	if err != nil {
		t.Fatal(err)
	}
	if m.Params["root"] != "data/x" || m.Params["loss"].(map[string]any)["scratch"] != "s" {
		t.Errorf("manifest params lack NoKey members: %v", m.Params)
	}
	if got, err := ManifestKey(testStages, m); err != nil || got != key {
		t.Fatalf("ManifestKey = %s, %v; want %s", got, err, key)
	}
	edit := func(from, to string) store.Verification {
		t.Helper()
		name := filepath.Join(e.st.ArtifactDir(key), store.ManifestName)
		b, err := os.ReadFile(name)
		if err != nil || !bytes.Contains(b, []byte(from)) {
			t.Fatalf("manifest lacks %q (%v):\n%s", from, err, b)
		}
		os.Chmod(name, 0o644)
		if err := os.WriteFile(name, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		return e.st.VerifyArtifact(key)
	}
	if v := edit(`"root": "data/x"`, `"root": "./data/x"`); len(v.Problems) != 0 {
		t.Errorf("editing a NoKey parameter: %v, want no damage", v.Problems)
	}
	if v := edit(`"n": 1`, `"n": 2`); len(v.Problems) != 1 || !strings.Contains(v.Problems[0], "manifest fields hash to key") {
		t.Errorf("editing a keyed parameter: %v, want damage", v.Problems)
	}
}
