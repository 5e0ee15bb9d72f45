package torch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkLoad loads a .pth file: it must give a state dict or an error naming the file,
// and leave no tensor behind once the results are closed.
func checkLoad(t *testing.T, p string) {
	start := LiveTensors()
	s := NewScope()
	ts, names, err := LoadPth(p)
	if err != nil {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error does not name the file: %v", err)
		}
	} else if len(ts) != len(names) {
		t.Fatalf("%d tensors, %d names", len(ts), len(names))
	}
	s.Close()
	if LiveTensors() != start {
		t.Fatalf("%d tensors leaked", LiveTensors()-start)
	}
}

// FuzzLoadPth: any file content loads as a state dict or is refused with an error naming
// the file; never a panic, a hang or an allocation the file does not back. Mutating the
// legacy format reaches the pickles and storages directly (it has no checksums).
func FuzzLoadPth(f *testing.F) {
	for _, n := range []string{"testdata/tiny.pth", "testdata/tiny_legacy.pth"} {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	w := pkUni("w")
	f.Add(legacyPth(pk(pkDict(w, pkTensor("0", 2, 0, []int{2}, []int{1}, true))), map[string][]float32{"0": {1.5, -2}}))
	f.Add(legacyPth(pk([]byte{']'}), nil))
	f.Add([]byte{})
	f.Add(legacyMagic[:5])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.pth")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkLoad(t, p)
	})
}

// FuzzPthPickle: an arbitrary data.pkl inside a well-formed zip archive (with one
// float storage record "0") loads or is refused with an error; this reaches the unpickler
// and the storage and tensor checks, which a whole-file mutation of the zip format
// rarely does (its records carry CRCs).
func FuzzPthPickle(f *testing.F) {
	w := pkUni("w")
	f.Add(pk(pkDict(w, pkTensor("0", 2, 0, []int{2}, []int{1}, false))))
	f.Add(pk(pkDict(w, pkTensor("0", 2, 1, []int{10}, []int{1}, false))))
	f.Add(pk(pkDict(w, pkTensor("0", 2, 0, []int{1 << 30, 2}, []int{0, 1}, false))))
	f.Add(pk(pkDict(pkUni("state_dict"), []byte{'}'})))
	f.Add(pk([]byte{'}'}, []byte("}b}b}b")))
	f.Add(pk(pkGlobal("torch.nn.modules.linear", "Linear"), []byte(")R")))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, pkl []byte) {
		p := filepath.Join(dir, "f.pth")
		b := zipPth(t, map[string][]byte{"archive/data.pkl": pkl, "archive/data/0": floats(1.5, -2)})
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkLoad(t, p)
	})
}
