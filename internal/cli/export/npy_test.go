package export

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNPYHeader: the bytes of NPY 1.0 worked out by hand: magic, version 1.0, the header
// length (uint16 LE), the dict padded with spaces to end in a newline at a multiple of 64.
func TestNPYHeader(t *testing.T) {
	for _, c := range []struct {
		descr string
		shape []int
		dict  string
	}{
		{"<i8", []int{2}, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"},
		{"<f4", []int{3, 16}, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16), }"},
		{"<f4", []int{0, 8}, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 8), }"},
	} {
		h, err := npyHeader(c.descr, c.shape)
		if err != nil {
			t.Fatal(err)
		}
		if len(h)%64 != 0 {
			t.Fatalf("%v: header of %d bytes, want a multiple of 64", c.shape, len(h))
		}
		want := "\x93NUMPY\x01\x00" + string(binary.LittleEndian.AppendUint16(nil, uint16(len(h)-10))) +
			c.dict + strings.Repeat(" ", len(h)-10-len(c.dict)-1) + "\n"
		if string(h) != want {
			t.Errorf("%v: header\n%q\nwant\n%q", c.shape, h, want)
		}
	}
	if _, err := npyHeader("<f4", []int{-1, 2}); err == nil {
		t.Error("a negative dimension was accepted")
	}
	var b bytes.Buffer
	if err := writeNPYFloat32(&b, []float32{1, 2, 3}, 2, 2); err == nil || !strings.Contains(err.Error(), "3 values for shape [2, 2]") {
		t.Errorf("a short array: %v", err)
	}
}

// TestNPYData: the data follows the header little-endian in C order.
func TestNPYData(t *testing.T) {
	var b bytes.Buffer
	if err := writeNPYInt64(&b, []int64{1, -2}); err != nil {
		t.Fatal(err)
	}
	got := npyData(t, b.Bytes())
	want := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !bytes.Equal(got, want) {
		t.Errorf("int64 data % x, want % x", got, want)
	}
	b.Reset()
	if err := writeNPYFloat32(&b, []float32{1, -0.5}, 1, 2); err != nil {
		t.Fatal(err)
	}
	if got, want := npyData(t, b.Bytes()), []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xbf}; !bytes.Equal(got, want) {
		t.Errorf("float32 data % x, want % x", got, want)
	}
}

// TestNPYNumpy: numpy.load (Debian's /usr/bin/python3, numpy alone) reads the files back
// with their dtype, shape and every bit: -0, a subnormal, the largest float32, infinities,
// an empty array.
func TestNPYNumpy(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s not found (make deps-test installs it): %v", py, err)
	}
	dir := t.TempDir()
	vals := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), 1.0 / 3, -123456.789}
	write := func(name string, fill func(*bytes.Buffer) error) string {
		var b bytes.Buffer
		if err := fill(&b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(path string) string {
		t.Helper()
		// dtype, shape, then every element's bits in C order
		script := `import sys, numpy as np
a = np.load(sys.argv[1], allow_pickle=False)
u = a.view("<u4" if a.dtype.itemsize == 4 else "<u8").ravel()
print(a.dtype, a.shape, " ".join("%x" % x for x in u))`
		out, err := exec.Command(py, "-c", script, path).CombinedOutput()
		if err != nil {
			t.Fatalf("numpy.load %s: %v\n%s", path, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	f := write("f.npy", func(b *bytes.Buffer) error { return writeNPYFloat32(b, vals, 4, 2) })
	var bits []string
	for _, v := range vals {
		bits = append(bits, fmt.Sprintf("%x", math.Float32bits(v)))
	}
	if got, want := read(f), "float32 (4, 2) "+strings.Join(bits, " "); got != want {
		t.Errorf("numpy reads\n%s\nwant\n%s", got, want)
	}
	l := write("l.npy", func(b *bytes.Buffer) error { return writeNPYInt64(b, []int64{0, -1, math.MaxInt64}) })
	if got, want := read(l), "int64 (3,) 0 ffffffffffffffff 7fffffffffffffff"; got != want {
		t.Errorf("numpy reads %s, want %s", got, want)
	}
	e := write("e.npy", func(b *bytes.Buffer) error { return writeNPYFloat32(b, nil, 0, 5) })
	if got, want := read(e), "float32 (0, 5)"; got != want {
		t.Errorf("numpy reads %q, want %q", got, want)
	}
}

// npyData is what follows the header of the NPY file in b.
func npyData(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("no NPY 1.0 file: % x", b)
	}
	n := 10 + int(binary.LittleEndian.Uint16(b[8:]))
	if n%64 != 0 || len(b) < n {
		t.Fatalf("header of %d bytes in %d", n, len(b))
	}
	return b[n:]
}
