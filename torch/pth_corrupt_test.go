package torch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Pickle pieces for crafted .pth files (protocol 2 opcodes).
func pkUni(s string) []byte { // BINUNICODE
	return append(binary.LittleEndian.AppendUint32([]byte{'X'}, uint32(len(s))), s...)
}
func pkGlobal(module, name string) []byte { return []byte("c" + module + "\n" + name + "\n") }
func pkInt(n int) []byte                  { return binary.LittleEndian.AppendUint32([]byte{'J'}, uint32(int32(n))) }
func pkTuple(items ...[]byte) []byte {
	b := []byte{'('}
	for _, it := range items {
		b = append(b, it...)
	}
	return append(b, 't')
}
func pk(ops ...[]byte) []byte { // PROTO 2, ops, STOP
	b := []byte{0x80, 0x02}
	for _, o := range ops {
		b = append(b, o...)
	}
	return append(b, '.')
}

// pkDict is a plain dict of key/value pickles.
func pkDict(kv ...[]byte) []byte {
	b := []byte{'}', '('}
	for _, x := range kv {
		b = append(b, x...)
	}
	return append(b, 'u')
}

// pkTensor pickles torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False,
// OrderedDict()) with a FloatStorage persistent id; legacy adds the view metadata field.
func pkTensor(key string, numel, offset int, size, stride []int, legacy bool) []byte {
	id := [][]byte{pkUni("storage"), pkGlobal("torch", "FloatStorage"), pkUni(key), pkUni("cpu"), pkInt(numel)}
	if legacy {
		id = append(id, []byte{'N'})
	}
	ints := func(xs []int) []byte {
		var parts [][]byte
		for _, x := range xs {
			parts = append(parts, pkInt(x))
		}
		return pkTuple(parts...)
	}
	b := pkGlobal("torch._utils", "_rebuild_tensor_v2")
	args := pkTuple(append(pkTuple(id...), 'Q'), pkInt(offset), ints(size), ints(stride), []byte{0x89},
		append(pkGlobal("collections", "OrderedDict"), ')', 'R'))
	return append(append(b, args...), 'R')
}

// legacyPth is torch.save's legacy format around an object pickle, with storage keys
// and their raw data (count, then float32 elements).
func legacyPth(obj []byte, storages map[string][]float32) []byte {
	b := append([]byte{}, legacyMagic...)
	b = append(b, '.')
	b = append(b, pk([]byte{'M', 0xe9, 0x03})...) // protocol version 1001
	b = append(b, pk([]byte{'}'})...)             // system info
	b = append(b, obj...)
	var keys [][]byte
	for k := range storages {
		keys = append(keys, pkUni(k))
	}
	list := []byte{']', '('}
	for _, k := range keys {
		list = append(list, k...)
	}
	b = append(b, pk(append(list, 'e'))...)
	for _, k := range keys { // one key in these tests, so map order does not matter
		data := storages[string(k[5:])]
		b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
		for _, v := range data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

// buildBomb pickles a dict of n entries (memo 1) and m OrderedDicts (the class is memo
// 0) each BUILT from that dict: unpickling copies the dict m times, n*m steps from a file
// of 4n+8m bytes (before the BUILD bound, 20000 x 20000 took gopickle 6 s on this
// machine; a 10 MB file would take hours).
func buildBomb(n, m int) []byte {
	b := append(pkGlobal("collections", "OrderedDict"), 'q', 0, '}', '(')
	b = append(b, bytes.Repeat([]byte{0x8c, 1, 'a', 'N'}, n)...)
	b = append(b, 'u', 'q', 1, '0')
	b = append(b, bytes.Repeat([]byte{'h', 0, ')', 'R', 'h', 1, 'b', '0'}, m)...)
	return pk(b, []byte{'}'})
}

// zipPth is torch.save's zip format: archive/data.pkl plus records (stored, like torch).
func zipPth(t *testing.T, records map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"archive/data.pkl", "archive/data/0", "archive/constants.pkl", "archive/version", "other/file"} {
		b, ok := records[name]
		if !ok {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func floats(xs ...float32) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// TestLoadPthHostile: garbage, truncated and crafted weights files end in an error that
// names the file, says what is wrong and what was expected, and leaks no tensor; before,
// they gave a bare "EOF", "data.pkl not found in zip file", a makeslice panic or an
// out-of-memory crash. The crafted well-formed files load, which proves the crafting.
func TestLoadPthHostile(t *testing.T) {
	good, err := os.ReadFile("testdata/tiny.pth")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile("testdata/tiny_legacy.pth")
	if err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range rnd {
		rnd[i] = byte(r.UintN(256))
	}
	w := pkUni("w")
	okDict := pk(pkDict(w, pkTensor("0", 2, 0, []int{2}, []int{1}, false)))
	okLegacyDict := pk(pkDict(w, pkTensor("0", 2, 0, []int{2}, []int{1}, true)))
	const expected = "; expected a PyTorch .pth state dict (zip or legacy pickle)"
	cases := []struct {
		name string
		data []byte
		want string // "" = loads
	}{
		{"crafted zip", zipPth(t, map[string][]byte{"archive/data.pkl": okDict, "archive/data/0": floats(1.5, -2)}), ""},
		{"crafted legacy", legacyPth(okLegacyDict, map[string][]float32{"0": {1.5, -2}}), ""},

		{"empty", nil, "the file is empty" + expected},
		{"random bytes", rnd, "neither a zip archive nor a legacy torch.save stream (starts with"},
		{"tar archive", append([]byte("weights.pth\x00"), make([]byte, 1012)...), "neither a zip archive nor a legacy torch.save stream"},
		{"zip cut at 3", good[:3], "truncated: the file ends after 3 bytes, inside the zip header" + expected},
		{"zip cut at 100", good[:100], "truncated: the zip central directory is missing" + expected},
		{"zip cut at half", good[:len(good)/2], "truncated: the zip central directory is missing" + expected},
		{"zip cut 22 short", good[:len(good)-22], "truncated: the zip central directory is missing" + expected},
		{"zip cut 1 short", good[:len(good)-1], "truncated: the zip central directory is missing" + expected},
		{"legacy cut at 5", legacy[:5], "truncated: the file ends after 5 bytes, inside the legacy format's magic number" + expected},
		{"legacy cut at 18", legacy[:18], "truncated: the protocol version pickle (from byte 15) ends at byte 3 inside opcode BININT2 (byte 2)" + expected},
		{"legacy cut at half", legacy[:len(legacy)/2], "truncated: "},
		{"legacy cut 1 short", legacy[:len(legacy)-1], "truncated: storage "},
		{"zip without data.pkl", zipPth(t, map[string][]byte{"archive/version": []byte("3\n"), "other/file": nil}),
			"a zip archive of 2 records without <dir>/data.pkl, not a torch.save file" + expected},
		{"torchscript", zipPth(t, map[string][]byte{"archive/data.pkl": okDict, "archive/constants.pkl": pk([]byte{')'})}),
			"a TorchScript archive (torch.jit.save), not a torch.save state dict" + expected},
		{"list", legacyPth(pk([]byte{']'}), nil), "the file holds a Python list, not a state dict (a dict of tensors)" + expected},
		{"int entry", zipPth(t, map[string][]byte{"archive/data.pkl": pk(pkDict(pkUni("epoch"), pkInt(3)))}),
			`entry "epoch" is a Python int, not a tensor` + expected},
		{"checkpoint", zipPth(t, map[string][]byte{"archive/data.pkl": pk(pkDict(pkUni("state_dict"), []byte{'}'}))}),
			`entry "state_dict" is a Python dict, not a tensor (a checkpoint? save its state dict alone: torch.save(ckpt["state_dict"], path))`},
		{"int key", zipPth(t, map[string][]byte{"archive/data.pkl": pk(pkDict(pkInt(1), pkInt(3)))}), "state dict key of Python type int is not a string"},
		{"whole model", zipPth(t, map[string][]byte{"archive/data.pkl": pk(pkGlobal("torch.nn.modules.linear", "Linear"), []byte(")R"))}),
			"the pickle names class torch.nn.modules.linear.Linear, which a state dict of tensors does not hold (saved with torch.save(model)? save model.state_dict())"},
		{"huge BINBYTES8", zipPth(t, map[string][]byte{"archive/data.pkl": pk(append([]byte{0x8e}, binary.LittleEndian.AppendUint64(nil, 1<<62)...))}),
			"truncated: archive/data.pkl: opcode BINBYTES8 at byte 2 declares 4611686018427387904 bytes, 1 remain"},
		{"huge FRAME", legacyPth(pk(append([]byte{0x95}, binary.LittleEndian.AppendUint64(nil, 1<<40)...)), nil),
			"truncated: the object pickle (from byte 25): opcode FRAME at byte 2 declares 1099511627776 bytes"},
		{"negative BINSTRING", zipPth(t, map[string][]byte{"archive/data.pkl": pk([]byte{'T', 0xff, 0xff, 0xff, 0xff})}),
			"opcode BINSTRING at byte 2 declares a negative length -1"},
		{"huge LONG4", zipPth(t, map[string][]byte{"archive/data.pkl": pk(append([]byte{0x8b, 0, 0, 1, 0}, make([]byte, 1<<16)...))}),
			"opcode LONG4 at byte 2 declares a 65536-byte integer, more than 4096"},
		{"long number text", zipPth(t, map[string][]byte{"archive/data.pkl": pk([]byte("L" + strings.Repeat("9", 5000) + "\n"))}),
			"opcode LONG at byte 2 has a number of more than 4096 characters"},
		{"unknown opcode", zipPth(t, map[string][]byte{"archive/data.pkl": pk([]byte{0xff})}), "unknown pickle opcode 0xff at byte 2"},
		{"no STOP", zipPth(t, map[string][]byte{"archive/data.pkl": {0x80, 0x02, '}'}}), "truncated: archive/data.pkl ends at byte 3 without its STOP opcode"},
		{"BUILD bomb", zipPth(t, map[string][]byte{"archive/data.pkl": buildBomb(20000, 20000)}),
			"20000 BUILD opcodes among 160010 opcodes, more than a state dict needs"},
		{"storage larger than record", zipPth(t, map[string][]byte{
			"archive/data.pkl": pk(pkDict(w, pkTensor("0", 1e9, 0, []int{2}, []int{1}, false))), "archive/data/0": floats(1, 2)}),
			`storage "0": data.pkl says 1000000000 elements (4000000000 bytes), its record archive/data/0 holds 8 bytes`},
		{"missing storage record", zipPth(t, map[string][]byte{"archive/data.pkl": okDict}), `storage "0": no record archive/data/0 in the zip archive`},
		{"legacy count differs", legacyPth(pk(pkDict(w, pkTensor("0", 1e9, 0, []int{2}, []int{1}, true))), map[string][]float32{"0": {1, 2}}),
			`elements, the object pickle says 1000000000`},
		{"view out of bounds", zipPth(t, map[string][]byte{
			"archive/data.pkl": pk(pkDict(w, pkTensor("0", 2, 1, []int{10}, []int{1}, false))), "archive/data/0": floats(1, 2)}),
			`tensor "w": size [10], stride [1] and offset 1 address element 10 of a storage of 2`},
		{"zero-stride expansion", zipPth(t, map[string][]byte{
			"archive/data.pkl": pk(pkDict(w, pkTensor("0", 2, 0, []int{1 << 30, 2}, []int{0, 1}, false))), "archive/data/0": floats(1, 2)}),
			`tensor "w": size [1073741824 2] over a storage of 2 elements repeats elements (zero strides)`},
		{"negative size", zipPth(t, map[string][]byte{
			"archive/data.pkl": pk(pkDict(w, pkTensor("0", 2, 0, []int{-1}, []int{1}, false))), "archive/data/0": floats(1, 2)}),
			`tensor "w": size [-1] or stride [1] is negative`},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pth")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			start := LiveTensors()
			s := NewScope()
			ts, _, err := LoadPth(p)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				v, err := ts["w"].Float32s()
				if err != nil || len(v) != 2 || v[0] != 1.5 || v[1] != -2 {
					t.Fatalf("w = %v, %v", v, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "torch: load "+p+": ") {
				t.Fatalf("error = %v\nwant it to name %s and contain %q", err, p, tc.want)
			}
			s.Close()
			if LiveTensors() != start {
				t.Fatalf("%d tensors leaked", LiveTensors()-start)
			}
		})
	}
}
