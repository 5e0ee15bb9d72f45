package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"dmlrun/stage"
)

// treport is teval with InputAddressesInKey: its output names its inputs.
func treportDefs() []*stage.Def {
	return []*stage.Def{{Kind: "treport", Version: 1, InputAddressesInKey: true,
		Run: func(c *stage.Context) error {
			if err := logRun(c); err != nil {
				return err
			}
			var rows []byte
			for _, in := range c.Inputs {
				rows = append(rows, in.Addr+"\n"...)
			}
			return os.WriteFile(filepath.Join(c.OutDir, "rows.txt"), rows, 0o644)
		}}}
}

func withReport(e *env, evalName string) []Decl {
	d := experiment(1e-5)
	d[len(d)-1].Addr, d[len(d)-1].Name = "teval."+evalName, evalName
	return append(d, Decl{Addr: "treport.r", Kind: "treport", Name: "r", Inputs: []DeclRef{{Param: "from", Target: "teval." + evalName}}})
}

// TestInputAddressesInKey: renaming a block changes the key of a stage that names its
// inputs (a report) and of nothing else, and the stored manifest still checks.
func TestInputAddressesInKey(t *testing.T) {
	e := newEnv(t)
	reg, err := testStages.With(treportDefs()...)
	if err != nil {
		t.Fatal(err)
	}
	e.stages = reg
	a, b := e.build(withReport(e, "e")), e.build(withReport(e, "renamed"))
	if a.Node("teval.e").Key != b.Node("teval.renamed").Key {
		t.Error("renaming an evaluate block changed its own key")
	}
	if a.Node("treport.r").Key == b.Node("treport.r").Key {
		t.Error("the report's key does not follow its inputs' addresses")
	}
	if _, err := e.executor().Apply(context.Background(), b, e.plan(b)); err != nil {
		t.Fatal(err)
	}
	art, err := e.st.Get(b.Node("treport.r").Key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ManifestKey(reg, art.Manifest); err != nil || got != art.Key {
		t.Errorf("ManifestKey = %.12s, %v; want %.12s", got, err, art.Key)
	}
	if rows, _ := os.ReadFile(filepath.Join(art.Dir, "rows.txt")); string(rows) != "teval.renamed\n" {
		t.Errorf("report rows %q", rows)
	}
}

// TestInputsCarryTheirAncestors: a stage sees, for each input, the nearest upstream node of
// every kind, named as the current file names it.
func TestInputsCarryTheirAncestors(t *testing.T) {
	e := newEnv(t)
	var got []string
	onRun = func(c *stage.Context) {
		if c.Addr != "teval.e" {
			return
		}
		for _, in := range c.Inputs {
			got = append(got, in.Addr+" "+in.Instance+":")
			for _, a := range in.Ancestors {
				got = append(got, "  "+a.Stage+" "+a.Addr+" "+a.Block+" "+a.Instance)
			}
		}
	}
	defer func() { onRun = nil }()
	if _, err := e.apply(e.build(experiment(1e-5))); err != nil {
		t.Fatal(err)
	}
	want := []string{"ttrain.a[seed=0] seed=0:", "  tload tload.data data ", "ttrain.a[seed=1] seed=1:", "  tload tload.data data "}
	if !slices.Equal(got, want) {
		t.Errorf("inputs and ancestors:\n%q\nwant\n%q", got, want)
	}
}
