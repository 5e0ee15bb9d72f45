package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/stage"
)

// tfile is a test stage that reads a file outside the store (its "path" parameter): its
// KeyInputs hook digests the file, and Run checks that the file still has that digest.
func fileDefs() []*stage.Def {
	return []*stage.Def{{Kind: "tfile", Version: 1,
		Params:        []stage.Param{{Name: "path", Type: stage.String}},
		KeyInputsName: "file content",
		KeyInputs: func(ctx context.Context, p stage.Params) (string, error) {
			return fileDigest(p.String("path"))
		},
		Run: func(c *stage.Context) error {
			if err := logRun(c); err != nil {
				return err
			}
			d, err := fileDigest(c.Params.String("path"))
			if err != nil {
				return err
			}
			if d != c.KeyInputs {
				return fmt.Errorf("file changed during apply: %s, key made from %s", d, c.KeyInputs)
			}
			b, _ := os.ReadFile(c.Params.String("path"))
			return os.WriteFile(filepath.Join(c.OutDir, "data.txt"), b, 0o644)
		}}}
}

func fileDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read file: %w; expected a text file", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// fileExperiment is the standard experiment with tload replaced by tfile over path.
func fileExperiment(path string) []Decl {
	d := experiment(1e-5)
	d[0] = Decl{Addr: "tfile.data", Kind: "tfile", Name: "data", Params: stage.Params{"path": path}}
	for i := range d {
		for j := range d[i].Inputs {
			if d[i].Inputs[j].Target == "tload.data" {
				d[i].Inputs[j].Target = "tfile.data"
			}
		}
	}
	return d
}

func TestKeyInputsChangeKeyAndReason(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	g1 := e.build(fileExperiment(path))
	if _, err := e.apply(g1); err != nil {
		t.Fatal(err)
	}
	if got := e.runs(); len(got) != 4 {
		t.Fatalf("first apply ran %v, want 4 nodes", got)
	}
	art, err := e.st.Get(g1.Node("tfile.data").Key)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := fileDigest(path); art.Manifest.KeyInputs != want || g1.Node("tfile.data").KeyInputs != want {
		t.Errorf("manifest key_inputs %q, node %q, want %q", art.Manifest.KeyInputs, g1.Node("tfile.data").KeyInputs, want)
	}

	// Same content written again: same keys, everything cached.
	if err := os.WriteFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	g2 := e.build(fileExperiment(path))
	if p := e.plan(g2); p.Changes() != 0 {
		t.Fatalf("rewriting the same bytes changed the plan: %v", actions(p))
	}

	// New content: the file node and everything downstream re-run, and the plan says why.
	if err := os.WriteFile(path, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	g3 := e.build(fileExperiment(path))
	if g3.Node("tfile.data").Key == g1.Node("tfile.data").Key {
		t.Fatal("changing the file's content did not change the key")
	}
	got := actions(e.plan(g3))
	want := map[string]string{
		"tfile.data":       "re-run: file content changed",
		"ttrain.a[seed=0]": "re-run: input tfile.data changed",
		"ttrain.a[seed=1]": "re-run: input tfile.data changed",
		"teval.e":          "re-run: input ttrain.a[seed=0] changed; input ttrain.a[seed=1] changed",
	}
	for addr, w := range want {
		if got[addr] != w {
			t.Errorf("%s: %q, want %q", addr, got[addr], w)
		}
	}
}

func TestKeyInputsInDebugOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.txt")
	os.WriteFile(path, []byte("one"), 0o644)
	var buf bytes.Buffer
	if _, err := Build(testStages, fileExperiment(path), BuildOptions{KeyDebug: &buf}); err != nil {
		t.Fatal(err)
	}
	d, _ := fileDigest(path)
	if want := "  key_inputs = \"" + d + "\""; !strings.Contains(buf.String(), want) {
		t.Errorf("debug output lacks %q:\n%s", want, buf.String())
	}
}

func TestKeyInputsFailurePlanAndApply(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "missing.txt")
	var buf bytes.Buffer
	g, err := Build(testStages, fileExperiment(path), BuildOptions{KeyDebug: &buf})
	if err != nil {
		t.Fatalf("Build failed on a missing file (it must leave the node unkeyed): %v", err)
	}
	if !strings.Contains(buf.String(), "key tfile.data unknown: tfile.data: cannot read file: open "+path) {
		t.Errorf("debug output does not say why the key is unknown:\n%s", buf.String())
	}
	p := e.plan(g)
	if p.Unkeyed() != 4 {
		t.Errorf("%d unkeyed nodes, want 4", p.Unkeyed())
	}
	got := actions(p)
	wantFile := "create: cannot read file: open " + path + ": no such file or directory; expected a text file"
	if got["tfile.data"] != wantFile {
		t.Errorf("tfile.data: %q, want %q", got["tfile.data"], wantFile)
	}
	if w := "create: key unknown until input tfile.data can be keyed"; got["teval.e"] != w {
		t.Errorf("teval.e: %q, want %q", got["teval.e"], w)
	}
	for _, n := range p.Nodes {
		if n.Key != "" || !n.KeyUnknown {
			t.Errorf("%s: key %q, key_unknown %v", n.Addr, n.Key, n.KeyUnknown)
		}
	}

	res, err := e.executor().Apply(context.Background(), g, p)
	if err == nil {
		t.Fatal("apply succeeded without a key")
	}
	if res != nil || len(e.runs()) != 0 {
		t.Errorf("apply ran something: %v", res)
	}
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Addr != "tfile.data" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v is not tfile.data's KeyError wrapping the hook's error", err)
	}
	if !strings.Contains(err.Error(), "open "+path+": no such file or directory") {
		t.Errorf("error does not name the path: %v", err)
	}

	// A target below the failing node still fails at once.
	if _, err := e.executor().Apply(context.Background(), g, e.plan(g, "ttrain.a[seed=0]")); err == nil || len(e.runs()) != 0 {
		t.Errorf("targeted apply: err %v", err)
	}
	// A node that does not depend on it is keyed as usual.
	d := append(fileExperiment(path), Decl{Addr: "tload.other", Kind: "tload", Name: "other", Params: stage.Params{"n": int64(1)}})
	g2 := e.build(d)
	if n := g2.Node("tload.other"); n.KeyErr != nil || n.Key == "" {
		t.Errorf("tload.other: key %q, err %v", n.Key, n.KeyErr)
	}
}

func TestKeyInputsChangedDuringApply(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "data.txt")
	os.WriteFile(path, []byte("one"), 0o644)
	g := e.build(fileExperiment(path))
	p := e.plan(g)
	os.WriteFile(path, []byte("two"), 0o644) // after the key was made
	_, err := e.executor().Apply(context.Background(), g, p)
	if err == nil || !strings.Contains(err.Error(), "file changed during apply") {
		t.Fatalf("err %v, want the stage's changed-during-apply error", err)
	}
	if _, gerr := e.st.Get(g.Node("tfile.data").Key); gerr == nil {
		t.Error("an artifact was stored under the old content's key")
	}
}

func TestSkipKeyInputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.txt")
	os.WriteFile(path, []byte("one"), 0o644)
	g, err := Build(testStages, fileExperiment(path), BuildOptions{SkipKeyInputs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if !errors.Is(n.KeyErr, ErrKeyInputsSkipped) || n.Key != "" {
			t.Errorf("%s: key %q err %v, want ErrKeyInputsSkipped", n.Addr, n.Key, n.KeyErr)
		}
	}
}

func TestKeyInputsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stages, err := testStages.With(&stage.Def{Kind: "tctx", Version: 1,
		KeyInputs: func(ctx context.Context, _ stage.Params) (string, error) { return "", ctx.Err() },
		Run:       func(*stage.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(stages, []Decl{{Addr: "tctx.a", Kind: "tctx", Name: "a", Params: stage.Params{}}}, BuildOptions{Context: ctx})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a cancelled context: %v", err)
	}
}
