//go:build !unix

package safetensors

// Mapped is a safetensors file held in memory (this platform has no mmap support here).
type Mapped struct {
	Tensors map[string]Tensor
	Meta    map[string]string
}

// Map reads the file at path into memory and validates it.
func Map(path string) (*Mapped, error) {
	ts, meta, err := Read(path)
	if err != nil {
		return nil, err
	}
	return &Mapped{Tensors: ts, Meta: meta}, nil
}

// Close releases the tensors.
func (m *Mapped) Close() error { m.Tensors = nil; return nil }
