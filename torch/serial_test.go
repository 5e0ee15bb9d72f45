package torch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type pthExpected struct {
	Entries []struct {
		Name  string    `json:"name"`
		DType string    `json:"dtype"`
		Shape []int64   `json:"shape"`
		Data  []float64 `json:"data"`
	} `json:"entries"`
}

// TestLoadPth reads the same small state dict in PyTorch's zip and legacy formats
// (testdata/gen_pth.py): names in file order, dtypes, shapes (0-d, empty, non-contiguous,
// storage offsets) and exact values.
func TestLoadPth(t *testing.T) {
	b, err := os.ReadFile("testdata/tiny_pth.json")
	if err != nil {
		t.Fatal(err)
	}
	var want pthExpected
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"testdata/tiny.pth", "testdata/tiny_legacy.pth"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			census := StartCensus()
			defer census.Stop()
			s := NewScope()
			ts, names, err := LoadPth(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != len(want.Entries) || len(ts) != len(names) {
				t.Fatalf("%d names / %d tensors, want %d", len(names), len(ts), len(want.Entries))
			}
			for i, e := range want.Entries {
				if names[i] != e.Name {
					t.Fatalf("name %d = %q, want %q", i, names[i], e.Name)
				}
				x := ts[e.Name]
				if x.DType().String() != e.DType || fmt.Sprint(x.Shape()) != fmt.Sprint(e.Shape) {
					t.Fatalf("%s: %v, want %s %v", e.Name, x, e.DType, e.Shape)
				}
				got, err := x.Float64s()
				if err != nil {
					t.Fatal(err)
				}
				for j := range e.Data {
					if got[j] != e.Data[j] {
						t.Fatalf("%s[%d] = %v, want %v", e.Name, j, got[j], e.Data[j])
					}
				}
			}
			s.Close()
			if n := census.Live(); n != 0 {
				t.Fatalf("%d tensors still open after scope close", n)
			}
		})
	}
}

func TestLoadPthCorrupt(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/tiny.pth")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile("testdata/tiny_legacy.pth")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"garbage.pth":          []byte("this is not a pytorch file at all"),
		"empty.pth":            nil,
		"truncated.pth":        good[:len(good)/2],
		"truncated_legacy.pth": legacy[:len(legacy)/2],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			census := StartCensus()
			defer census.Stop()
			_, _, err := LoadPth(p)
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadPth(%s) error = %v; want one naming the path", name, err)
			}
			if n := census.Live(); n != 0 {
				t.Fatalf("failed load left %d tensors open", n)
			}
		})
	}
	if _, _, err := LoadPth(filepath.Join(dir, "missing.pth")); err == nil || !strings.Contains(err.Error(), "missing.pth") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestLoadPthResNet18 loads a torchvision resnet18 state dict (122 entries). The .pth is
// 45 MB, so it is not committed: the test makes it with Debian's Python when torchvision
// is there and skips otherwise.
func TestLoadPthResNet18(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	py := "/usr/bin/python3"
	dir := t.TempDir()
	pth := filepath.Join(dir, "resnet18.pth")
	script := `
import json, sys, torch, torchvision
torch.manual_seed(0)
sd = torchvision.models.resnet18(weights=None).state_dict()
torch.save(sd, sys.argv[1])
print(json.dumps([[k, list(v.shape), float(v.double().sum()), float(v.reshape(-1)[0]) if v.numel() else 0.0] for k, v in sd.items()]))
`
	cmd := exec.Command(py, "-c", script, pth)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("cannot make a resnet18 state dict with %s (needs torch + torchvision): %v", py, err)
	}
	var want [][4]any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	s := NewScope()
	defer s.Close()
	ts, names, err := LoadPth(pth)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 122 || len(want) != 122 {
		t.Fatalf("%d entries (python %d), want 122", len(names), len(want))
	}
	for i, w := range want {
		name := w[0].(string)
		if names[i] != name {
			t.Fatalf("entry %d: %q, want %q", i, names[i], name)
		}
		x := ts[name]
		if fmt.Sprint(x.Shape()) != fmt.Sprint(w[1]) {
			t.Fatalf("%s shape %v, want %v", name, x.Shape(), w[1])
		}
		sum := x.ToDType(Float64).Sum().Item()
		if ws := w[2].(float64); math.Abs(sum-ws) > 1e-6*math.Max(1, math.Abs(ws)) {
			t.Fatalf("%s sum %v, want %v", name, sum, ws)
		}
		if x.Numel() > 0 {
			first := x.Flatten(0, -1).Select(0, 0).Item()
			if first != w[3].(float64) {
				t.Fatalf("%s[0] = %v, want %v", name, first, w[3])
			}
		}
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	s := NewScope()
	defer s.Close()
	ManualSeed(5)
	x := Randn([]int64{3, 4}, Float32, CPUDevice)
	ts := []*Tensor{
		x,
		x.T(), // non-contiguous: saved contiguous
		Randn([]int64{2}, Float64, CPUDevice),
		Arange(0, 6, 1, Int64, CPUDevice).Reshape(2, 3),
		Arange(-3, 3, 1, Int32, CPUDevice),
		Arange(0, 4, 1, Uint8, CPUDevice),
		x.GtScalar(0),
		x.ToDType(BFloat16),
		x.ToDType(Float16),
		Scalar(7, Int64),
		Zeros([]int64{0, 5}, Float32, CPUDevice),
	}
	names := []string{"w", "w.t", "d", "ids", "i32", "u8", "mask", "bf", "half", "count", "empty"}
	meta := map[string]string{"format": "dmlrun", "epoch": "3"}
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	if err := SaveSafetensors(p1, names, ts, meta); err != nil {
		t.Fatal(err)
	}
	// Same tensors in another order: byte-identical file.
	rn := append([]string(nil), names...)
	rt := append([]*Tensor(nil), ts...)
	for i, j := 0, len(rn)-1; i < j; i, j = i+1, j-1 {
		rn[i], rn[j] = rn[j], rn[i]
		rt[i], rt[j] = rt[j], rt[i]
	}
	if err := SaveSafetensors(p2, rn, rt, meta); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("saving the same tensors twice gave different bytes")
	}
	if hl := binary.LittleEndian.Uint64(b1[:8]); hl%8 != 0 {
		t.Fatalf("header length %d not padded to 8", hl)
	}
	got, order, gmeta, err := LoadSafetensors(p1)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gmeta) != fmt.Sprint(meta) {
		t.Fatalf("metadata %v, want %v", gmeta, meta)
	}
	if len(order) != len(names) {
		t.Fatalf("names %v", order)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] > order[i] {
			t.Fatalf("names not in (sorted) data order: %v", order)
		}
	}
	for i, n := range names {
		g, w := got[n], ts[i]
		if g.DType() != w.DType() || fmt.Sprint(g.Shape()) != fmt.Sprint(w.Shape()) {
			t.Fatalf("%s: %v, want %v", n, g, w)
		}
		gb, _ := g.Bytes()
		wb, _ := w.Bytes()
		if !bytes.Equal(gb, wb) {
			t.Fatalf("%s: values differ", n)
		}
	}
}

// TestSafetensorsPythonLayout decodes a file laid out by hand exactly as the reference
// implementation writes it (header JSON, then data), independently of our writer.
func TestSafetensorsPythonLayout(t *testing.T) {
	hdr := `{"__metadata__":{"k":"v"},"b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(hdr)))
	buf.WriteString(hdr)
	binary.Write(&buf, binary.LittleEndian, []float32{1.5, -2})
	binary.Write(&buf, binary.LittleEndian, []int64{7, -9})
	p := filepath.Join(t.TempDir(), "x.safetensors")
	os.WriteFile(p, buf.Bytes(), 0o644)
	s := NewScope()
	defer s.Close()
	ts, names, meta, err := LoadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ts["a"].Float32s()
	b, _ := ts["b"].Int64s()
	if fmt.Sprint(names, a, b, meta) != "[a b] [1.5 -2] [7 -9] map[k:v]" {
		t.Fatalf("got %v %v %v %v", names, a, b, meta)
	}
}

func TestSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	s := NewScope()
	defer s.Close()
	x := Ones([]int64{2}, Float32, CPUDevice)
	if err := SaveSafetensors(filepath.Join(dir, "a"), []string{"x", "x"}, []*Tensor{x, x}, nil); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("duplicate names: %v", err)
	}
	if err := SaveSafetensors(filepath.Join(dir, "a"), []string{"x"}, nil, nil); err == nil {
		t.Fatal("length mismatch: want error")
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveSafetensors(good, []string{"x"}, []*Tensor{x}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	for name, data := range map[string][]byte{
		"short":     b[:4],
		"truncated": b[:len(b)-1],
		"extra":     append(append([]byte(nil), b...), 0),
		"badjson":   append(append([]byte(nil), b[:8]...), bytes.Repeat([]byte{'{'}, len(b)-8)...),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		if _, _, _, err := LoadSafetensors(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v; want one naming the path", name, err)
		}
	}
}
