package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestEncodeKnownBytes pins the exact file layout against bytes written out by hand from
// the format description (length prefix, sorted compact JSON, space padding, data in name
// order).
func TestEncodeKnownBytes(t *testing.T) {
	a, _ := F32("a", []float32{1, -2}, 2)
	b, _ := U8("b", []uint8{1, 2, 3}, 1, 3)
	got, err := Encode([]Tensor{b, a}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	hdr := `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"U8","shape":[1,3],"data_offsets":[8,11]}}`
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(hdr)))
	want = append(want, hdr...)
	want = append(want, 0x00, 0x00, 0x80, 0x3f) // 1.0f
	want = append(want, 0x00, 0x00, 0x00, 0xc0) // -2.0f
	want = append(want, 1, 2, 3)
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ:\n got %q\nwant %q", got, want)
	}
}

func TestRoundTripAndDeterminism(t *testing.T) {
	dir := t.TempDir()
	mk := func() []Tensor {
		x, _ := F32("x", []float32{0.5, 1.5, -3, 4, 5, 6}, 2, 3)
		y, _ := I64("labels", []int64{7, -1, 1 << 40}, 3)
		z, _ := U8("img", []uint8{9, 8, 7, 6}, 1, 2, 2, 1)
		s := Tensor{Name: "scalar", DType: "F64", Shape: []int64{}, Data: Float64Bytes([]float64{3.25})}
		e := Tensor{Name: "empty", DType: "I32", Shape: []int64{0, 4}, Data: nil}
		return []Tensor{x, y, z, s, e}
	}
	p1, p2 := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	meta := map[string]string{"format": "pt", "z": "1"}
	if err := Write(p1, mk(), meta); err != nil {
		t.Fatal(err)
	}
	ts := mk()
	ts[0], ts[4] = ts[4], ts[0] // order of the input must not matter
	if err := Write(p2, ts, meta); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("same content gave different files")
	}
	if hl := binary.LittleEndian.Uint64(b1); hl%8 != 0 {
		t.Fatalf("header length %d not a multiple of 8", hl)
	}
	got, gm, err := Read(p1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gm, meta) {
		t.Fatalf("meta %v", gm)
	}
	x, _ := got["x"].Float32s()
	if !reflect.DeepEqual(x, []float32{0.5, 1.5, -3, 4, 5, 6}) || !reflect.DeepEqual(got["x"].Shape, []int64{2, 3}) {
		t.Fatalf("x = %v %v", x, got["x"].Shape)
	}
	l, _ := got["labels"].Int64s()
	if !reflect.DeepEqual(l, []int64{7, -1, 1 << 40}) {
		t.Fatalf("labels = %v", l)
	}
	s, _ := got["scalar"].Float64s()
	if len(s) != 1 || s[0] != 3.25 || len(got["scalar"].Shape) != 0 {
		t.Fatalf("scalar = %v shape %v", s, got["scalar"].Shape)
	}
	if len(got["empty"].Data) != 0 || !reflect.DeepEqual(got["empty"].Shape, []int64{0, 4}) {
		t.Fatalf("empty = %+v", got["empty"])
	}
	if _, err := got["x"].Int64s(); err == nil {
		t.Fatal("Int64s on F32 accepted")
	}
	m, err := Map(p1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	u, _ := m.Tensors["img"].Uint8s()
	if !bytes.Equal(u, []uint8{9, 8, 7, 6}) {
		t.Fatalf("mapped img = %v", u)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"size", []Tensor{{Name: "a", DType: "F32", Shape: []int64{3}, Data: make([]byte, 8)}}, "8 bytes of data"},
		{"dtype", []Tensor{{Name: "a", DType: "F8", Shape: []int64{1}, Data: make([]byte, 1)}}, "unsupported dtype"},
		{"dup", []Tensor{{Name: "a", DType: "U8", Shape: []int64{1}, Data: []byte{1}}, {Name: "a", DType: "U8", Shape: []int64{1}, Data: []byte{1}}}, "duplicate"},
		{"meta name", []Tensor{{Name: "__metadata__", DType: "U8", Shape: []int64{1}, Data: []byte{1}}}, "invalid name"},
		{"negative", []Tensor{{Name: "a", DType: "U8", Shape: []int64{-1}}}, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Encode(c.ts, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// TestReadErrors feeds corrupt files and checks each is rejected with the path named.
func TestReadErrors(t *testing.T) {
	good, _ := Encode([]Tensor{{Name: "a", DType: "F32", Shape: []int64{2}, Data: make([]byte, 8)}}, nil)
	withHeader := func(h string, data int) []byte {
		var b []byte
		b = binary.LittleEndian.AppendUint64(b, uint64(len(h)))
		b = append(b, h...)
		return append(b, make([]byte, data)...)
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "header length"},
		{"huge length", append(binary.LittleEndian.AppendUint64(nil, 1<<40), good[8:]...), "does not fit"},
		{"truncated data", good[:len(good)-1], "outside"},
		{"not json", withHeader("[1,2]   ", 0), "not a JSON object"},
		{"bad dtype", withHeader(`{"a":{"dtype":"Q","shape":[1],"data_offsets":[0,1]}}`, 1), "unsupported dtype"},
		{"size mismatch", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,2]}}`, 2), "want 4"},
		{"overlap", withHeader(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, 3), "overlap"},
		{"hole", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "hole"},
		{"trailing bytes", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 3), "trailing"},
		{"unknown field", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), "bad header entry"},
		{"bad meta", withHeader(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
			os.WriteFile(p, c.b, 0o644)
			_, _, err := Read(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want %q and the path", err, c.want)
			}
		})
	}
}

func TestBoolBytesAndDataOrder(t *testing.T) {
	b, err := Encode([]Tensor{
		{Name: "z", DType: "BOOL", Shape: []int64{2}, Data: []byte{0, 1}},
		{Name: "a", DType: "U8", Shape: []int64{1}, Data: []byte{7}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := DecodeList(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "z" {
		t.Fatalf("DecodeList order = %+v, want a (first in the data) then z", list)
	}
	b[len(b)-1] = 2 // the last data byte belongs to the BOOL tensor "z"
	if _, _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "bool byte 2") {
		t.Fatalf("Decode of a bool byte 2: err = %v", err)
	}
}
