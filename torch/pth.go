package torch

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// LoadPth reads a PyTorch state dict saved with torch.save (zip format and the legacy
// pre-1.6 format) and returns its tensors by name plus the names in file order. The
// tensors are CPU and contiguous and, like any new tensor, belong to the current scope
// (unscoped when none is open); float16/bfloat16 keep their dtype, int8/int16 become
// int32.
func LoadPth(path string) (map[string]*Tensor, []string, error) {
	obj, err := loadPickled(path)
	if err != nil {
		return nil, nil, fmt.Errorf("torch: load %s: not a readable PyTorch file: %w", path, err)
	}
	type entry struct {
		key string
		val any
	}
	var entries []entry
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			k, ok := oe.Key.(string)
			if !ok {
				return nil, nil, fmt.Errorf("torch: load %s: state dict key %v is not a string", path, oe.Key)
			}
			entries = append(entries, entry{k, oe.Value})
		}
	case *types.Dict:
		for _, de := range *d {
			k, ok := de.Key.(string)
			if !ok {
				return nil, nil, fmt.Errorf("torch: load %s: state dict key %v is not a string", path, de.Key)
			}
			entries = append(entries, entry{k, de.Value})
		}
	default:
		return nil, nil, fmt.Errorf("torch: load %s: top-level object is %T, want a state dict (dict of tensors)", path, obj)
	}

	// Intermediate tensors (storages, views) die with this scope; results are kept.
	scope := NewScope()
	defer scope.Close()
	out := make(map[string]*Tensor, len(entries))
	names := make([]string, 0, len(entries))
	fail := func(err error) (map[string]*Tensor, []string, error) {
		for _, t := range out {
			t.Close()
		}
		return nil, nil, err
	}
	for _, e := range entries {
		pt, ok := e.val.(*pytorch.Tensor)
		if !ok {
			return fail(fmt.Errorf("torch: load %s: entry %q is %T, not a tensor", path, e.key, e.val))
		}
		if _, dup := out[e.key]; dup {
			return fail(fmt.Errorf("torch: load %s: duplicate key %q", path, e.key))
		}
		var t *Tensor
		err := Catch(func() error {
			var err error
			t, err = fromPickled(pt)
			return err
		})
		if err != nil {
			return fail(fmt.Errorf("torch: load %s: tensor %q: %w", path, e.key, err))
		}
		scope.Keep(t)
		out[e.key] = t
		names = append(names, e.key)
	}
	return out, names, nil
}

// fromPickled copies a gopickle tensor (storage + offset + size + stride) into a new
// contiguous tensor in the current scope.
func fromPickled(pt *pytorch.Tensor) (*Tensor, error) {
	var storage *Tensor
	var err error
	var dt DType
	switch s := pt.Source.(type) {
	case *pytorch.FloatStorage:
		storage, err = FromFloat32(s.Data)
		dt = Float32
	case *pytorch.DoubleStorage:
		storage, err = FromFloat64(s.Data)
		dt = Float64
	case *pytorch.HalfStorage:
		storage, err = FromFloat32(s.Data)
		dt = Float16
	case *pytorch.BFloat16Storage:
		storage, err = FromFloat32(s.Data)
		dt = BFloat16
	case *pytorch.LongStorage:
		storage, err = FromInt64(s.Data)
		dt = Int64
	case *pytorch.IntStorage:
		storage, err = FromInt32(s.Data)
		dt = Int32
	case *pytorch.ShortStorage:
		v := make([]int32, len(s.Data))
		for i, x := range s.Data {
			v[i] = int32(x)
		}
		storage, err = FromInt32(v)
		dt = Int32
	case *pytorch.CharStorage:
		v := make([]int32, len(s.Data))
		for i, x := range s.Data {
			v[i] = int32(x)
		}
		storage, err = FromInt32(v)
		dt = Int32
	case *pytorch.ByteStorage:
		storage, err = FromUint8(s.Data)
		dt = Uint8
	case *pytorch.BoolStorage:
		storage, err = FromBool(s.Data)
		dt = Bool
	default:
		return nil, fmt.Errorf("unsupported storage type %T", pt.Source)
	}
	if err != nil {
		return nil, err
	}
	if len(pt.Size) != len(pt.Stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in length", pt.Size, pt.Stride)
	}
	size := make([]int64, len(pt.Size))
	stride := make([]int64, len(pt.Stride))
	for i := range pt.Size {
		size[i], stride[i] = int64(pt.Size[i]), int64(pt.Stride[i])
	}
	view := storage.AsStrided(size, stride, int64(pt.StorageOffset))
	// Both paths copy into memory that does not share the storage; Contiguous then
	// fixes the layout (clone and to() preserve a transposed view's strides).
	if dt == storage.DType() {
		return view.Clone().Contiguous(), nil
	}
	return view.ToDType(dt).Contiguous(), nil
}

// Leading bytes of the two formats torch.save writes: a zip archive, or (legacy) the
// pickled magic number 0x1950a86a20f9469cfc6c with pickle protocol 2.
var (
	zipMagic    = []byte("PK\x03\x04")
	legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}
)

// loadPickled guards gopickle's pytorch.Load: it only hands it files that start like one
// of torch.save's formats (gopickle v0.2.0 loops forever on an empty file and panics on
// tar archives), and turns a panic inside gopickle into an error.
func loadPickled(path string) (obj any, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(legacyMagic))
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	head = head[:n]
	if !bytes.HasPrefix(head, zipMagic) && !bytes.Equal(head, legacyMagic) {
		return nil, fmt.Errorf("neither a zip archive nor a legacy torch.save stream (starts with % x)", head)
	}
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("unsupported or corrupt content: %v", r)
		}
	}()
	return pytorch.Load(path)
}
