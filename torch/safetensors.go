package torch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes; offsets are
// relative to the end of the header. We write names sorted and pad the header with spaces
// to a multiple of 8, so identical tensors give byte-identical files.

var safetensorsDTypes = map[DType]string{
	Float32: "F32", Float64: "F64", Int64: "I64", Int32: "I32", Uint8: "U8", Bool: "BOOL",
	BFloat16: "BF16", Float16: "F16",
}

func safetensorsDType(s string) (DType, bool) {
	for d, n := range safetensorsDTypes {
		if n == s {
			return d, true
		}
	}
	return 0, false
}

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// SaveSafetensors writes ts under names (moved to the CPU) with string metadata to path,
// atomically (temporary file + rename).
func SaveSafetensors(path string, names []string, ts []*Tensor, meta map[string]string) error {
	if len(names) != len(ts) {
		return fmt.Errorf("torch: save %s: %d names for %d tensors", path, len(names), len(ts))
	}
	order := make([]int, len(names))
	seen := map[string]bool{}
	for i, n := range names {
		if n == "__metadata__" || n == "" {
			return fmt.Errorf("torch: save %s: invalid tensor name %q", path, n)
		}
		if seen[n] {
			return fmt.Errorf("torch: save %s: duplicate tensor name %q", path, n)
		}
		seen[n] = true
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return names[order[a]] < names[order[b]] })

	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var datas [][]byte
	var off int64
	for _, i := range order {
		t := ts[i]
		if t.Closed() {
			return fmt.Errorf("torch: save %s: tensor %q is closed", path, names[i])
		}
		dt := t.DType()
		code, ok := safetensorsDTypes[dt]
		if !ok {
			return fmt.Errorf("torch: save %s: tensor %q: dtype %v has no safetensors code", path, names[i], dt)
		}
		b, err := t.Bytes()
		if err != nil {
			return fmt.Errorf("torch: save %s: tensor %q: %w", path, names[i], err)
		}
		header[names[i]] = stEntry{DType: code, Shape: nonNil(t.Shape()), DataOffsets: [2]int64{off, off + int64(len(b))}}
		off += int64(len(b))
		datas = append(datas, b)
	}
	hj, err := json.Marshal(header) // map keys are sorted: deterministic
	if err != nil {
		return fmt.Errorf("torch: save %s: header: %w", path, err)
	}
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, bytes.Repeat([]byte{' '}, pad)...)
	}
	var buf bytes.Buffer
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
	buf.Write(n[:])
	buf.Write(hj)
	for _, d := range datas {
		buf.Write(d)
	}
	return writeAtomic(path, buf.Bytes())
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	for _, e := range []error{werr, serr, cerr} {
		if e != nil {
			os.Remove(tmp)
			return fmt.Errorf("torch: save %s: %w", path, e)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	return nil
}

// stTensor is one decoded header entry with its data slice.
type stTensor struct {
	name  string
	dtype DType
	shape []int64
	data  []byte
}

// parseSafetensors validates a whole file's bytes and returns its tensors in data order
// and the metadata. It never panics on malformed input.
func parseSafetensors(b []byte) ([]stTensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("file too short (%d bytes) for a safetensors header", len(b))
	}
	hl := binary.LittleEndian.Uint64(b[:8])
	if hl > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds file size %d", hl, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+hl], &raw); err != nil {
		return nil, nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	data := b[8+hl:]
	var meta map[string]string
	var out []stTensor
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ is not a string map: %w", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
		}
		dt, ok := safetensorsDType(e.DType)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
		}
		n := int64(1)
		for _, s := range e.Shape {
			if s < 0 || (s > 0 && n > (1<<50)/s) {
				return nil, nil, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
			}
			n *= s
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > int64(len(data)) {
			return nil, nil, fmt.Errorf("tensor %q: data offsets [%d, %d] outside data of %d bytes", name, begin, end, len(data))
		}
		if end-begin != n*int64(dt.ElemSize()) {
			return nil, nil, fmt.Errorf("tensor %q: %d data bytes for shape %v of %s", name, end-begin, e.Shape, e.DType)
		}
		if dt == Bool {
			for _, v := range data[begin:end] {
				if v > 1 {
					return nil, nil, fmt.Errorf("tensor %q: bool byte %d is neither 0 nor 1", name, v)
				}
			}
		}
		out = append(out, stTensor{name: name, dtype: dt, shape: e.Shape, data: data[begin:end]})
	}
	sort.Slice(out, func(i, j int) bool {
		bi, bj := offsetOf(out[i], data), offsetOf(out[j], data)
		if bi != bj {
			return bi < bj
		}
		return out[i].name < out[j].name
	})
	// The data section must be covered exactly, without overlaps or holes.
	var pos int64
	for _, t := range out {
		b := offsetOf(t, data)
		if b != pos {
			return nil, nil, fmt.Errorf("tensor %q: data starts at %d, expected %d (overlap or hole)", t.name, b, pos)
		}
		pos += int64(len(t.data))
	}
	if pos != int64(len(data)) {
		return nil, nil, fmt.Errorf("%d trailing data bytes not owned by any tensor", int64(len(data))-pos)
	}
	return out, meta, nil
}

// offsetOf returns where t.data starts within data (t.data is data[begin:end]).
func offsetOf(t stTensor, data []byte) int64 { return int64(cap(data) - cap(t.data)) }

// LoadSafetensors reads a safetensors file: tensors by name (CPU, in the current scope),
// names in data order, and the metadata.
func LoadSafetensors(path string) (map[string]*Tensor, []string, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("torch: load %s: %w", path, err)
	}
	entries, meta, err := parseSafetensors(b)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("torch: load %s: %w", path, err)
	}
	out := make(map[string]*Tensor, len(entries))
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		t, err := FromBytes(e.data, e.dtype, e.shape...)
		if err == nil && len(e.shape) == 0 {
			r := t.Reshape()
			t.Close()
			t = r
		}
		if err != nil {
			for _, t := range out {
				t.Close()
			}
			return nil, nil, nil, fmt.Errorf("torch: load %s: tensor %q: %w", path, e.name, err)
		}
		out[e.name] = t
		names = append(names, e.name)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return out, names, meta, nil
}
