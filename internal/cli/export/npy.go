package export

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// NPY format version 1.0 (numpy/lib/format.py, "NEP 1"): the magic "\x93NUMPY", the
// version bytes 1 0, the header's length as a little-endian uint16, then the header: a
// Python dict literal {'descr', 'fortran_order', 'shape'} padded with spaces and ended by
// a newline so that the data starts at a multiple of 64 bytes (numpy writes 64 since 1.14;
// the format asks for 16, which 64 satisfies). The data follows in C order. np.load reads
// it without pickle, so no package beyond numpy is needed.
const (
	npyMagic = "\x93NUMPY"
	npyAlign = 64
)

// npyHeader returns the magic, version, length and header of an array of dtype descr
// ("<f4", "<i8") and shape.
func npyHeader(descr string, shape []int) ([]byte, error) {
	dims := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("npy: negative dimension %d in shape %v", d, shape)
		}
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)" // a 1-tuple in Python needs its comma
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	pre := len(npyMagic) + 2 + 2
	n := len(dict) + 1 // the newline
	n += (npyAlign - (pre+n)%npyAlign) % npyAlign
	if n > math.MaxUint16 {
		return nil, fmt.Errorf("npy: header of %d bytes does not fit version 1.0", n)
	}
	b := make([]byte, 0, pre+n)
	b = append(b, npyMagic...)
	b = append(b, 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	b = append(b, dict...)
	for len(b) < pre+n-1 {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

// writeNPYFloat32 writes data as a float32 array of shape [rows, cols] (little-endian).
func writeNPYFloat32(w io.Writer, data []float32, rows, cols int) error {
	if len(data) != rows*cols {
		return fmt.Errorf("npy: %d values for shape [%d, %d]", len(data), rows, cols)
	}
	h, err := npyHeader("<f4", []int{rows, cols})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(h)
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// writeNPYInt64 writes data as an int64 array of shape [len(data)] (little-endian).
func writeNPYInt64(w io.Writer, data []int64) error {
	h, err := npyHeader("<i8", []int{len(data)})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(h)
	var b [8]byte
	for _, v := range data {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}
