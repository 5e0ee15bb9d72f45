//go:build unix

package safetensors

import (
	"fmt"
	"os"
	"syscall"
)

// Mapped is a safetensors file mapped read-only into memory. Its tensors' Data alias the
// mapping: they must not be written and are invalid after Close.
type Mapped struct {
	Tensors map[string]Tensor
	Meta    map[string]string
	data    []byte
}

// Map maps the file at path read-only and validates its header. Pages are read lazily by
// the OS, so large files (image shards) cost no memory until touched. Close unmaps.
func Map(path string) (*Mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.Size() < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, too short", path, st.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("safetensors: mmap %s: %w", path, err)
	}
	ts, meta, err := Decode(b)
	if err != nil {
		syscall.Munmap(b)
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return &Mapped{Tensors: ts, Meta: meta, data: b}, nil
}

// Close unmaps the file; it is idempotent.
func (m *Mapped) Close() error {
	if m.data == nil {
		return nil
	}
	err := syscall.Munmap(m.data)
	m.data, m.Tensors = nil, nil
	return err
}
