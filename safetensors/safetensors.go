package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Tensor is one named tensor. Data holds its little-endian bytes, row-major.
type Tensor struct {
	Name  string
	DType string // "F32", "F64", "I64", "I32", "U8", "BOOL", "BF16", "F16"
	Shape []int64
	Data  []byte
}

// dtypeSize gives the element size of each supported dtype.
var dtypeSize = map[string]int64{
	"F64": 8, "I64": 8, "F32": 4, "I32": 4, "BF16": 2, "F16": 2, "U8": 1, "BOOL": 1,
}

// DTypeSize returns the element size in bytes of dtype, or 0 when it is not supported.
func DTypeSize(dtype string) int { return int(dtypeSize[dtype]) }

// maxHeader bounds the JSON header we accept, so a corrupt length cannot make us allocate
// gigabytes (the reference implementation uses the same 100 MB limit).
const maxHeader = 100 << 20

// numel returns the element count of shape, or an error on a negative or overflowing size.
func numel(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

// Encode returns the canonical file bytes for ts and meta. It checks that every tensor's
// byte length matches its dtype and shape and that names are unique and not "__metadata__".
func Encode(ts []Tensor, meta map[string]string) ([]byte, error) {
	header, total, err := encodeHeader(ts, meta)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(8 + len(header) + int(total))
	writeAll(&buf, header, ts)
	return buf.Bytes(), nil
}

// encodeHeader validates ts and returns the padded header (including the 8-byte length
// prefix) and the data size. The tensors are sorted by name in place.
func encodeHeader(ts []Tensor, meta map[string]string) ([]byte, int64, error) {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			h.WriteByte(',')
		}
		first = false
		b, _ := json.Marshal(k)
		h.Write(b)
		h.WriteByte(':')
	}
	// "__metadata__" sorts before any name starting with a letter or digit but not before
	// every possible name; we write all keys in byte order to keep the header canonical.
	type entry struct {
		name string
		body []byte
	}
	var entries []entry
	if len(meta) > 0 {
		mb, err := json.Marshal(meta) // encoding/json sorts map keys
		if err != nil {
			return nil, 0, err
		}
		entries = append(entries, entry{"__metadata__", mb})
	}
	var off int64
	for i, t := range ts {
		if t.Name == "" || t.Name == "__metadata__" {
			return nil, 0, fmt.Errorf("tensor %d: invalid name %q", i, t.Name)
		}
		if i > 0 && ts[i-1].Name == t.Name {
			return nil, 0, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		es, ok := dtypeSize[t.DType]
		if !ok {
			return nil, 0, fmt.Errorf("tensor %q: unsupported dtype %q", t.Name, t.DType)
		}
		n, err := numel(t.Shape)
		if err != nil {
			return nil, 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if int64(len(t.Data)) != n*es {
			return nil, 0, fmt.Errorf("tensor %q: %d bytes of data for %s %v (want %d)",
				t.Name, len(t.Data), t.DType, t.Shape, n*es)
		}
		var b bytes.Buffer
		b.WriteString(`{"dtype":"` + t.DType + `","shape":[`)
		for k, d := range t.Shape {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
		b.WriteString(`],"data_offsets":[` + strconv.FormatInt(off, 10) + "," +
			strconv.FormatInt(off+int64(len(t.Data)), 10) + "]}")
		off += int64(len(t.Data))
		entries = append(entries, entry{t.Name, b.Bytes()})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	for _, e := range entries {
		key(e.name)
		h.Write(e.body)
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	out := make([]byte, 8+h.Len())
	binary.LittleEndian.PutUint64(out, uint64(h.Len()))
	copy(out[8:], h.Bytes())
	return out, off, nil
}

func writeAll(w io.Writer, header []byte, ts []Tensor) error {
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Write writes ts and meta to path atomically: it writes a temporary file in the same
// directory, fsyncs it and renames it over path, so a reader never sees a partial file.
// ts is sorted by name in place.
func Write(path string, ts []Tensor, meta map[string]string) (err error) {
	header, _, err := encodeHeader(ts, meta)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = writeAll(f, header, ts); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("safetensors: write %s: fsync: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}

// Header describes one tensor as the header lists it; Begin and End are offsets into the
// data section (which starts at DataStart in the file).
type Header struct {
	Name       string
	DType      string
	Shape      []int64
	Begin, End int64
}

type rawEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// ParseHeader reads and validates the header from r, given the total file size. It returns
// the tensors sorted by name, the metadata and the file offset at which data begins.
// Validation: the header length fits in the file, the JSON parses, dtypes are known,
// every tensor's byte range matches its dtype and shape, lies inside the data section and
// ranges do not overlap.
func ParseHeader(r io.Reader, fileSize int64) ([]Header, map[string]string, int64, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, nil, 0, fmt.Errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > fileSize-8 {
		return nil, nil, 0, fmt.Errorf("header length %d does not fit (file is %d bytes)", n, fileSize)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, nil, 0, fmt.Errorf("reading header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, nil, 0, fmt.Errorf("header is not a JSON object: %w", err)
	}
	dataStart := int64(8 + n)
	dataLen := fileSize - dataStart
	var meta map[string]string
	var hs []Header
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, 0, fmt.Errorf("__metadata__ is not a string map: %w", err)
			}
			continue
		}
		var e rawEntry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, nil, 0, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, nil, 0, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
		}
		cnt, err := numel(e.Shape)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("tensor %q: %w", name, err)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > dataLen {
			return nil, nil, 0, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d-byte data section",
				name, b, end, dataLen)
		}
		if cnt > math.MaxInt64/es || end-b != cnt*es {
			return nil, nil, 0, fmt.Errorf("tensor %q: %d bytes for %s %v (want %d)",
				name, end-b, e.DType, e.Shape, cnt*es)
		}
		if e.Shape == nil {
			e.Shape = []int64{}
		}
		hs = append(hs, Header{Name: name, DType: e.DType, Shape: e.Shape, Begin: b, End: end})
	}
	sort.Slice(hs, func(i, j int) bool {
		return hs[i].Begin < hs[j].Begin || hs[i].Begin == hs[j].Begin && hs[i].End < hs[j].End
	})
	// The format requires the data section to be indexed entirely: no overlaps, no holes,
	// no trailing bytes that belong to no tensor.
	var pos int64
	for i, h := range hs {
		if i > 0 && h.Begin < hs[i-1].End {
			return nil, nil, 0, fmt.Errorf("tensors %q and %q overlap", hs[i-1].Name, h.Name)
		}
		if h.Begin != pos {
			return nil, nil, 0, fmt.Errorf("tensor %q: data starts at %d, expected %d (a hole in the data section)", h.Name, h.Begin, pos)
		}
		pos = h.End
	}
	if pos != dataLen {
		return nil, nil, 0, fmt.Errorf("%d trailing data bytes belong to no tensor", dataLen-pos)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Name < hs[j].Name })
	return hs, meta, dataStart, nil
}

// Decode parses a whole file held in memory. The returned tensors' Data alias b.
func Decode(b []byte) (map[string]Tensor, map[string]string, error) {
	list, meta, err := DecodeList(b)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]Tensor, len(list))
	for _, t := range list {
		out[t.Name] = t
	}
	return out, meta, nil
}

// DecodeList is Decode returning the tensors in the order of their data in the file. It
// also checks that BOOL tensors hold only 0 and 1 bytes.
func DecodeList(b []byte) ([]Tensor, map[string]string, error) {
	hs, meta, start, err := ParseHeader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(hs, func(i, j int) bool {
		return hs[i].Begin < hs[j].Begin || hs[i].Begin == hs[j].Begin && hs[i].Name < hs[j].Name
	})
	out := make([]Tensor, 0, len(hs))
	for _, h := range hs {
		data := b[start+h.Begin : start+h.End : start+h.End]
		if h.DType == "BOOL" {
			for _, v := range data {
				if v > 1 {
					return nil, nil, fmt.Errorf("tensor %q: bool byte %d is neither 0 nor 1", h.Name, v)
				}
			}
		}
		out = append(out, Tensor{Name: h.Name, DType: h.DType, Shape: h.Shape, Data: data})
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return out, meta, nil
}

// ReadList reads the file at path into memory and returns its tensors in data order and
// its metadata. Errors name the path.
func ReadList(path string) ([]Tensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	ts, meta, err := DecodeList(b)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return ts, meta, nil
}

// Read reads the file at path into memory and returns its tensors by name and its
// metadata. Errors name the path.
func Read(path string) (map[string]Tensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	ts, meta, err := Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return ts, meta, nil
}
