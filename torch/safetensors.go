package torch

import (
	"fmt"

	"dmlrun/safetensors"
)

// Our checkpoints are safetensors files (package dmlrun/safetensors holds the format), so
// PyTorch users can open them with safetensors.torch.load_file. Names are written sorted and
// the header is padded canonically, so identical tensors give byte-identical files.

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

// SaveSafetensors writes ts under names (copied to the CPU) with string metadata to path,
// atomically (temporary file + rename).
func SaveSafetensors(path string, names []string, ts []*Tensor, meta map[string]string) error {
	if len(names) != len(ts) {
		return fmt.Errorf("torch: save %s: %d names for %d tensors", path, len(names), len(ts))
	}
	out := make([]safetensors.Tensor, len(ts))
	for i, t := range ts {
		if t.Closed() {
			return fmt.Errorf("torch: save %s: tensor %q is closed", path, names[i])
		}
		code, ok := safetensorsDTypes[t.DType()]
		if !ok {
			return fmt.Errorf("torch: save %s: tensor %q: dtype %v has no safetensors code", path, names[i], t.DType())
		}
		b, err := t.Bytes()
		if err != nil {
			return fmt.Errorf("torch: save %s: tensor %q: %w", path, names[i], err)
		}
		shape := t.Shape()
		if shape == nil {
			shape = []int64{}
		}
		out[i] = safetensors.Tensor{Name: names[i], DType: code, Shape: shape, Data: b}
	}
	if err := safetensors.Write(path, out, meta); err != nil {
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	return nil
}

// LoadSafetensors reads a safetensors file: tensors by name (CPU, in the current scope),
// names in data order, and the metadata.
func LoadSafetensors(path string) (map[string]*Tensor, []string, map[string]string, error) {
	entries, meta, err := safetensors.ReadList(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("torch: load %s: %w", path, err)
	}
	out := make(map[string]*Tensor, len(entries))
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		var t *Tensor
		dt, ok := safetensorsDType(e.DType)
		if !ok {
			err = fmt.Errorf("unsupported dtype %q", e.DType)
		} else {
			t, err = FromBytes(e.Data, dt, e.Shape...)
		}
		if err == nil && len(e.Shape) == 0 {
			r := t.Reshape()
			t.Close()
			t = r
		}
		if err != nil {
			for _, t := range out {
				t.Close()
			}
			return nil, nil, nil, fmt.Errorf("torch: load %s: tensor %q: %w", path, e.Name, err)
		}
		out[e.Name] = t
		names = append(names, e.Name)
	}
	return out, names, meta, nil
}
