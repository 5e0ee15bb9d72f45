package torch

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/big"
	"os"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// pthWanted ends every error about a file that is not a readable state dict.
const pthWanted = "expected a PyTorch .pth state dict (zip or legacy pickle)"

// LoadPth reads a PyTorch state dict saved with torch.save (zip format and the legacy
// pre-1.6 format) and returns its tensors by name plus the names in file order. The
// tensors are CPU and contiguous and, like any new tensor, belong to the current scope
// (unscoped when none is open); float16/bfloat16 keep their dtype, int8/int16 become
// int32.
//
// Any file content ends in the state dict or an error that names the file, says what is
// wrong and where ("truncated: the zip central directory is missing", "pickle opcode
// BINBYTES8 at byte 14 of data.pkl declares 4611686018427387904 bytes, 3 remain") and what
// was expected. Sizes the file declares (pickle string and frame lengths, storage element
// counts, tensor shapes) are checked against what it holds before anything is allocated
// for them, and the pickle is validated opcode by opcode before gopickle runs it, so a
// crafted file neither exhausts memory nor makes the loader loop.
func LoadPth(path string) (map[string]*Tensor, []string, error) {
	obj, err := loadPickled(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("torch: load %s: %w", path, err)
		}
		return nil, nil, fmt.Errorf("torch: load %s: %w; %s", path, err, pthWanted)
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
				return nil, nil, fmt.Errorf("torch: load %s: state dict key of Python type %s is not a string; %s", path, pyType(oe.Key), pthWanted)
			}
			entries = append(entries, entry{k, oe.Value})
		}
	case *types.Dict:
		for _, de := range *d {
			k, ok := de.Key.(string)
			if !ok {
				return nil, nil, fmt.Errorf("torch: load %s: state dict key of Python type %s is not a string; %s", path, pyType(de.Key), pthWanted)
			}
			entries = append(entries, entry{k, de.Value})
		}
	default:
		return nil, nil, fmt.Errorf("torch: load %s: the file holds a Python %s, not a state dict (a dict of tensors); %s", path, pyType(obj), pthWanted)
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
			hint := ""
			if _, isDict := e.val.(*types.OrderedDict); isDict {
				hint = fmt.Sprintf(" (a checkpoint? save its state dict alone: torch.save(ckpt[%q], path))", e.key)
			} else if _, isDict := e.val.(*types.Dict); isDict {
				hint = fmt.Sprintf(" (a checkpoint? save its state dict alone: torch.save(ckpt[%q], path))", e.key)
			}
			return fail(fmt.Errorf("torch: load %s: entry %q is a Python %s, not a tensor%s; %s", path, e.key, pyType(e.val), hint, pthWanted))
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

// pyType names the Python type of an unpickled value for messages.
func pyType(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *types.List:
		return "list"
	case *types.Tuple:
		return "tuple"
	case *types.Dict:
		return "dict"
	case *types.OrderedDict:
		return "OrderedDict"
	case *types.Set, *types.FrozenSet:
		return "set"
	case *pytorch.Tensor:
		return "tensor"
	case pytorch.StorageInterface:
		return "storage"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// storageLen is a gopickle storage's number of elements.
func storageLen(s pytorch.StorageInterface) (int, bool) {
	switch s := s.(type) {
	case *pytorch.FloatStorage:
		return len(s.Data), true
	case *pytorch.DoubleStorage:
		return len(s.Data), true
	case *pytorch.HalfStorage:
		return len(s.Data), true
	case *pytorch.BFloat16Storage:
		return len(s.Data), true
	case *pytorch.LongStorage:
		return len(s.Data), true
	case *pytorch.IntStorage:
		return len(s.Data), true
	case *pytorch.ShortStorage:
		return len(s.Data), true
	case *pytorch.CharStorage:
		return len(s.Data), true
	case *pytorch.ByteStorage:
		return len(s.Data), true
	case *pytorch.BoolStorage:
		return len(s.Data), true
	}
	return 0, false
}

// checkView checks that a tensor's size, stride and offset address only elements of its
// storage of n elements, and that it has no more elements than the storage (a view
// expanded with zero strides could otherwise ask for any amount of memory).
func checkView(size, stride []int, offset, n int) error {
	if len(size) != len(stride) {
		return fmt.Errorf("size %v and stride %v differ in length", size, stride)
	}
	if offset < 0 {
		return fmt.Errorf("negative storage offset %d", offset)
	}
	numel, last := 1, offset
	for i := range size {
		if size[i] < 0 || stride[i] < 0 {
			return fmt.Errorf("size %v or stride %v is negative", size, stride)
		}
		if size[i] == 0 {
			numel = 0
			continue
		}
		if numel > n/size[i]+1 {
			numel = n + 1 // more than the storage: reported below
		} else {
			numel *= size[i]
		}
		if stride[i] > 0 && size[i]-1 > (math.MaxInt-last)/stride[i] {
			return fmt.Errorf("size %v and stride %v address beyond any storage", size, stride)
		}
		last += (size[i] - 1) * stride[i]
	}
	if numel == 0 {
		return nil
	}
	if last >= n {
		return fmt.Errorf("size %v, stride %v and offset %d address element %d of a storage of %d", size, stride, offset, last, n)
	}
	if numel > n {
		return fmt.Errorf("size %v over a storage of %d elements repeats elements (zero strides); save a contiguous copy", size, n)
	}
	return nil
}

// fromPickled copies a gopickle tensor (storage + offset + size + stride) into a new
// contiguous tensor in the current scope.
func fromPickled(pt *pytorch.Tensor) (*Tensor, error) {
	n, ok := storageLen(pt.Source)
	if !ok {
		return nil, fmt.Errorf("unsupported storage type %T", pt.Source)
	}
	if err := checkView(pt.Size, pt.Stride, pt.StorageOffset, n); err != nil {
		return nil, err
	}
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
	}
	if err != nil {
		return nil, err
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

// loadPickled reads the object a torch.save file holds. It does not use gopickle's
// pytorch.Load (which loops forever on an empty file, panics on tar archives and
// allocates whatever sizes a file declares): it opens the zip or legacy container itself,
// validates each pickle (scanPickle), bounds every storage by the bytes the file holds,
// and runs gopickle's unpickler only on validated pickles. A panic inside gopickle
// becomes an error.
func loadPickled(path string) (obj any, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	size := st.Size()
	head := make([]byte, len(legacyMagic))
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	head = head[:n]
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("unsupported or corrupt content (the unpickler failed: %v)", r)
		}
	}()
	switch {
	case size == 0:
		return nil, errors.New("the file is empty")
	case bytes.HasPrefix(head, zipMagic):
		return loadZip(f, size)
	case bytes.Equal(head, legacyMagic):
		return loadLegacy(f, size)
	case len(head) < len(legacyMagic) && bytes.HasPrefix(legacyMagic, head):
		return nil, fmt.Errorf("truncated: the file ends after %d bytes, inside the legacy format's magic number", len(head))
	case len(head) < len(zipMagic) && bytes.HasPrefix(zipMagic, head):
		return nil, fmt.Errorf("truncated: the file ends after %d bytes, inside the zip header", len(head))
	}
	return nil, fmt.Errorf("neither a zip archive nor a legacy torch.save stream (starts with % x)", head)
}

// hasZipEnd reports whether the file ends with a complete zip "end of central
// directory" record (signature, 18 bytes of fields, the comment); without one the file
// is a truncated zip.
func hasZipEnd(f io.ReaderAt, size int64) bool {
	n := min(size, 65535+22)
	b := make([]byte, n)
	if _, err := f.ReadAt(b, size-n); err != nil && err != io.EOF {
		return false
	}
	for i := bytes.LastIndex(b, []byte("PK\x05\x06")); i >= 0; i = bytes.LastIndex(b[:i], []byte("PK\x05\x06")) {
		if i+22 <= len(b) && i+22+int(binary.LittleEndian.Uint16(b[i+20:])) == len(b) {
			return true
		}
	}
	return false
}

// maxDeflateRatio bounds how far a deflated zip record can expand (deflate's limit is
// about 1032:1); a record claiming more is corrupt.
const maxDeflateRatio = 1032

// readRecord reads a whole zip record, checking its declared size against what the
// archive can hold before reading and what it holds after (reading to the end also checks
// the CRC). name is for messages.
func readRecord(zf *zip.File, size int64) ([]byte, error) {
	n := zf.UncompressedSize64
	switch zf.Method {
	case zip.Store:
		if n != zf.CompressedSize64 || n > uint64(size) {
			return nil, fmt.Errorf("zip record %s: stored size %d (compressed %d) does not fit a file of %d bytes", zf.Name, n, zf.CompressedSize64, size)
		}
	case zip.Deflate:
		if zf.CompressedSize64 > uint64(size) || n > maxDeflateRatio*zf.CompressedSize64+64 {
			return nil, fmt.Errorf("zip record %s: %d bytes deflated to %d cannot fit a file of %d bytes", zf.Name, n, zf.CompressedSize64, size)
		}
	default:
		return nil, fmt.Errorf("zip record %s: compression method %d unsupported (torch.save stores records)", zf.Name, zf.Method)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("zip record %s: %w", zf.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(n)+1))
	if err != nil {
		return nil, fmt.Errorf("zip record %s: %w", zf.Name, truncatedIfEOF(err))
	}
	if uint64(len(b)) != n {
		return nil, fmt.Errorf("zip record %s holds %d bytes, the zip directory says %d", zf.Name, len(b), n)
	}
	return b, nil
}

func truncatedIfEOF(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated: %w", err)
	}
	return err
}

// loadZip reads torch.save's zip format: <dir>/data.pkl (the pickled object) and
// <dir>/data/<key> (one record per storage, its raw little-endian elements).
func loadZip(f *os.File, size int64) (any, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		if !hasZipEnd(f, size) {
			return nil, errors.New("truncated: the zip central directory is missing")
		}
		return nil, fmt.Errorf("corrupt zip archive: %w", err)
	}
	records := make(map[string]*zip.File, len(zr.File))
	var dataPkl *zip.File
	prefix := ""
	for _, zf := range zr.File {
		records[zf.Name] = zf
		dir, base, _ := strings.Cut(zf.Name, "/")
		if base == "constants.pkl" {
			return nil, errors.New("a TorchScript archive (torch.jit.save), not a torch.save state dict")
		}
		if base == "data.pkl" && dataPkl == nil {
			dataPkl, prefix = zf, dir+"/"
		}
	}
	if dataPkl == nil {
		return nil, fmt.Errorf("a zip archive of %d records without <dir>/data.pkl, not a torch.save file", len(zr.File))
	}
	pkl, err := readRecord(dataPkl, size)
	if err != nil {
		return nil, err
	}
	n, err := scanPickle(bytes.NewReader(pkl), int64(len(pkl)), dataPkl.Name)
	if err != nil {
		return nil, err
	}
	loaded := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(bytes.NewReader(pkl[:n]))
	u.FindClass = findClass
	u.PersistentLoad = func(id any) (any, error) {
		p, err := parseStorageID(id, 5)
		if err != nil {
			return nil, err
		}
		if s, ok := loaded[p.key]; ok {
			return s, nil
		}
		rec, ok := records[prefix+"data/"+p.key]
		if !ok {
			return nil, fmt.Errorf("storage %q: no record %sdata/%s in the zip archive", p.key, prefix, p.key)
		}
		need := uint64(p.size) * uint64(p.elem)
		if need > rec.UncompressedSize64 {
			return nil, fmt.Errorf("storage %q: data.pkl says %d elements (%d bytes), its record %s holds %d bytes",
				p.key, p.size, need, rec.Name, rec.UncompressedSize64)
		}
		b, err := readRecord(rec, size)
		if err != nil {
			return nil, err
		}
		s := p.class.New(p.size, p.location)
		if err := s.SetFromFileWithSize(bytes.NewReader(b), p.size); err != nil {
			return nil, fmt.Errorf("storage %q: %w", p.key, err)
		}
		loaded[p.key] = s
		return s, nil
	}
	obj, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dataPkl.Name, err)
	}
	return obj, nil
}

// storageID is a persistent id ("storage", class, key, location, size[, view]).
type storageID struct {
	class    pytorch.StorageClassInterface
	elem     int
	key      string
	location string
	size     int
	view     any
}

// parseStorageID checks a persistent id of at least n fields (5 in the zip format, 6 in
// the legacy one, whose sixth is the view metadata).
func parseStorageID(id any, n int) (storageID, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() < n {
		return storageID{}, fmt.Errorf("persistent id is a Python %s, want a tuple (\"storage\", class, key, location, size)", pyType(id))
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return storageID{}, fmt.Errorf("persistent id of kind %v, want \"storage\"", t.Get(0))
	}
	var p storageID
	var ok1, ok2, ok3, ok4 bool
	p.class, ok1 = t.Get(1).(pytorch.StorageClassInterface)
	p.key, ok2 = t.Get(2).(string)
	p.location, ok3 = t.Get(3).(string)
	p.size, ok4 = t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return storageID{}, fmt.Errorf("storage persistent id (%s, %s, %s, %s) is not (class, str, str, int)",
			pyType(t.Get(1)), pyType(t.Get(2)), pyType(t.Get(3)), pyType(t.Get(4)))
	}
	p.elem = elemSize(p.class)
	if p.size < 0 || p.size > math.MaxInt64/8 {
		return storageID{}, fmt.Errorf("storage %q: %d elements", p.key, p.size)
	}
	if n > 5 {
		p.view = t.Get(5)
	}
	return p, nil
}

// elemSize is the bytes per element of a storage class.
func elemSize(c pytorch.StorageClassInterface) int {
	switch c.(type) {
	case *pytorch.DoubleStorageClass, *pytorch.LongStorageClass:
		return 8
	case *pytorch.FloatStorageClass, *pytorch.IntStorageClass:
		return 4
	case *pytorch.HalfStorageClass, *pytorch.BFloat16StorageClass, *pytorch.ShortStorageClass:
		return 2
	}
	return 1 // Char, Byte, Bool
}

// findClass resolves the classes a state dict pickles (collections.OrderedDict is
// resolved by gopickle itself). Anything else is refused: a state dict holds tensors, and
// a pickled module (torch.save(model)) cannot be rebuilt here.
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return &pytorch.RebuildTensorV2{}, nil
	case "torch.FloatStorage":
		return &pytorch.FloatStorageClass{}, nil
	case "torch.HalfStorage":
		return &pytorch.HalfStorageClass{}, nil
	case "torch.DoubleStorage":
		return &pytorch.DoubleStorageClass{}, nil
	case "torch.CharStorage":
		return &pytorch.CharStorageClass{}, nil
	case "torch.ShortStorage":
		return &pytorch.ShortStorageClass{}, nil
	case "torch.IntStorage":
		return &pytorch.IntStorageClass{}, nil
	case "torch.LongStorage":
		return &pytorch.LongStorageClass{}, nil
	case "torch.ByteStorage":
		return &pytorch.ByteStorageClass{}, nil
	case "torch.BoolStorage":
		return &pytorch.BoolStorageClass{}, nil
	case "torch.BFloat16Storage":
		return &pytorch.BFloat16StorageClass{}, nil
	}
	return nil, fmt.Errorf("the pickle names class %s.%s, which a state dict of tensors does not hold (saved with torch.save(model)? save model.state_dict())", module, name)
}

// loadLegacy reads the pre-1.6 format: five pickles (magic number, protocol version,
// system info, the object, the sorted storage keys), then each storage as an int64 element
// count and its raw elements.
func loadLegacy(f *os.File, size int64) (any, error) {
	off := int64(0)
	next := func(what string, setup func(*pickle.Unpickler)) (any, error) {
		what = fmt.Sprintf("%s (from byte %d)", what, off)
		n, err := scanPickle(io.NewSectionReader(f, off, size-off), size-off, what)
		if err != nil {
			return nil, err
		}
		u := pickle.NewUnpickler(bufio.NewReader(io.NewSectionReader(f, off, n)))
		if setup != nil {
			setup(&u)
		}
		obj, err := u.Load()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		off += n
		return obj, nil
	}
	magic, err := next("the magic number pickle", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != "1950a86a20f9469cfc6c" {
		return nil, errors.New("the legacy format's magic number is wrong")
	}
	proto, err := next("the protocol version pickle", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != 1001 {
		return nil, fmt.Errorf("legacy protocol version %v, want 1001", proto)
	}
	if _, err := next("the system info pickle", nil); err != nil {
		return nil, err
	}
	storages := map[string]storageID{}
	created := map[string]pytorch.StorageInterface{}
	obj, err := next("the object pickle", func(u *pickle.Unpickler) {
		u.FindClass = findClass
		u.PersistentLoad = func(id any) (any, error) {
			p, err := parseStorageID(id, 6)
			if err != nil {
				return nil, err
			}
			if p.view != nil {
				return nil, fmt.Errorf("storage %q: storage views (legacy view metadata) are not supported", p.key)
			}
			if s, ok := created[p.key]; ok {
				return s, nil
			}
			// The data follows the pickles: filled below, once its size is known.
			s := p.class.New(p.size, p.location)
			storages[p.key], created[p.key] = p, s
			return s, nil
		}
	})
	if err != nil {
		return nil, err
	}
	rawKeys, err := next("the storage keys pickle", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := rawKeys.(*types.List)
	if !ok {
		return nil, fmt.Errorf("the storage keys pickle holds a Python %s, want a list of str", pyType(rawKeys))
	}
	for i, k := range *keys {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("storage key %d is a Python %s, want str", i, pyType(k))
		}
		p, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("storage key %q is not used by the object", key)
		}
		var hdr [8]byte
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return nil, fmt.Errorf("truncated: storage %q: its element count at byte %d is missing", key, off)
		}
		off += 8
		count := binary.LittleEndian.Uint64(hdr[:])
		if count != uint64(p.size) {
			return nil, fmt.Errorf("storage %q at byte %d: %d elements, the object pickle says %d", key, off-8, count, p.size)
		}
		need := int64(count) * int64(p.elem)
		if need > size-off {
			return nil, fmt.Errorf("truncated: storage %q at byte %d needs %d bytes, %d remain", key, off-8, need, size-off)
		}
		if err := created[key].SetFromFileWithSize(bufio.NewReader(io.NewSectionReader(f, off, need)), p.size); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		off += need
		delete(storages, key)
	}
	for key := range storages {
		return nil, fmt.Errorf("storage %q is used by the object but has no data", key)
	}
	return obj, nil
}

// Pickle opcode argument kinds (pickletools' argument descriptors).
const (
	argNone    = iota
	argFixed   // n bytes
	argLine    // bytes up to and including '\n'
	argLine2   // two lines (GLOBAL, INST)
	argNumber  // a number as text up to '\n', at most maxNumberText bytes
	argLen     // an n-byte little-endian length, then that many bytes
	argLenS    // as argLen, a signed 4-byte length
	argFrame   // an 8-byte frame length; the frame holds the following opcodes
	argLongLen // as argLenS, at most maxLongBytes (LONG4)
)

type pickleOp struct {
	name string
	arg  int
	n    int
}

// pickleOps describes every opcode of pickle protocols 0-5 by its argument.
var pickleOps = func() (t [256]pickleOp) {
	for _, o := range []struct {
		code byte
		op   pickleOp
	}{
		{'(', pickleOp{"MARK", argNone, 0}}, {'.', pickleOp{"STOP", argNone, 0}},
		{'0', pickleOp{"POP", argNone, 0}}, {'1', pickleOp{"POP_MARK", argNone, 0}},
		{'2', pickleOp{"DUP", argNone, 0}}, {'F', pickleOp{"FLOAT", argNumber, 0}},
		{'I', pickleOp{"INT", argNumber, 0}}, {'J', pickleOp{"BININT", argFixed, 4}},
		{'K', pickleOp{"BININT1", argFixed, 1}}, {'L', pickleOp{"LONG", argNumber, 0}},
		{'M', pickleOp{"BININT2", argFixed, 2}}, {'N', pickleOp{"NONE", argNone, 0}},
		{'P', pickleOp{"PERSID", argLine, 0}}, {'Q', pickleOp{"BINPERSID", argNone, 0}},
		{'R', pickleOp{"REDUCE", argNone, 0}}, {'S', pickleOp{"STRING", argLine, 0}},
		{'T', pickleOp{"BINSTRING", argLenS, 4}}, {'U', pickleOp{"SHORT_BINSTRING", argLen, 1}},
		{'V', pickleOp{"UNICODE", argLine, 0}}, {'X', pickleOp{"BINUNICODE", argLen, 4}},
		{'a', pickleOp{"APPEND", argNone, 0}}, {'b', pickleOp{"BUILD", argNone, 0}},
		{'c', pickleOp{"GLOBAL", argLine2, 0}}, {'d', pickleOp{"DICT", argNone, 0}},
		{'}', pickleOp{"EMPTY_DICT", argNone, 0}}, {'e', pickleOp{"APPENDS", argNone, 0}},
		{'g', pickleOp{"GET", argNumber, 0}}, {'h', pickleOp{"BINGET", argFixed, 1}},
		{'i', pickleOp{"INST", argLine2, 0}}, {'j', pickleOp{"LONG_BINGET", argFixed, 4}},
		{'l', pickleOp{"LIST", argNone, 0}}, {']', pickleOp{"EMPTY_LIST", argNone, 0}},
		{'o', pickleOp{"OBJ", argNone, 0}}, {'p', pickleOp{"PUT", argNumber, 0}},
		{'q', pickleOp{"BINPUT", argFixed, 1}}, {'r', pickleOp{"LONG_BINPUT", argFixed, 4}},
		{'s', pickleOp{"SETITEM", argNone, 0}}, {'t', pickleOp{"TUPLE", argNone, 0}},
		{')', pickleOp{"EMPTY_TUPLE", argNone, 0}}, {'u', pickleOp{"SETITEMS", argNone, 0}},
		{'G', pickleOp{"BINFLOAT", argFixed, 8}}, {0x80, pickleOp{"PROTO", argFixed, 1}},
		{0x81, pickleOp{"NEWOBJ", argNone, 0}}, {0x82, pickleOp{"EXT1", argFixed, 1}},
		{0x83, pickleOp{"EXT2", argFixed, 2}}, {0x84, pickleOp{"EXT4", argFixed, 4}},
		{0x85, pickleOp{"TUPLE1", argNone, 0}}, {0x86, pickleOp{"TUPLE2", argNone, 0}},
		{0x87, pickleOp{"TUPLE3", argNone, 0}}, {0x88, pickleOp{"NEWTRUE", argNone, 0}},
		{0x89, pickleOp{"NEWFALSE", argNone, 0}}, {0x8a, pickleOp{"LONG1", argLen, 1}},
		{0x8b, pickleOp{"LONG4", argLongLen, 4}}, {'B', pickleOp{"BINBYTES", argLen, 4}},
		{'C', pickleOp{"SHORT_BINBYTES", argLen, 1}}, {0x8c, pickleOp{"SHORT_BINUNICODE", argLen, 1}},
		{0x8d, pickleOp{"BINUNICODE8", argLen, 8}}, {0x8e, pickleOp{"BINBYTES8", argLen, 8}},
		{0x8f, pickleOp{"EMPTY_SET", argNone, 0}}, {0x90, pickleOp{"ADDITEMS", argNone, 0}},
		{0x91, pickleOp{"FROZENSET", argNone, 0}}, {0x92, pickleOp{"NEWOBJ_EX", argNone, 0}},
		{0x93, pickleOp{"STACK_GLOBAL", argNone, 0}}, {0x94, pickleOp{"MEMOIZE", argNone, 0}},
		{0x95, pickleOp{"FRAME", argFrame, 8}}, {0x96, pickleOp{"BYTEARRAY8", argLen, 8}},
		{0x97, pickleOp{"NEXT_BUFFER", argNone, 0}}, {0x98, pickleOp{"READONLY_BUFFER", argNone, 0}},
	} {
		t[o.code] = o.op
	}
	return t
}()

// Limits on what a state dict's pickle can need. gopickle parses number text and LONG4
// bytes in time quadratic in their length, and each BUILD copies its state, which a
// crafted pickle can make as large as the pickle and reuse through the memo.
const (
	maxNumberText = 4096
	maxLongBytes  = 4096
	maxBuildWork  = 1 << 28 // BUILD opcodes x opcodes
)

// scanPickle validates one pickle of at most avail bytes read from r, without building
// anything: every opcode must be known, and every length it declares (strings, bytes,
// frames) must fit in the bytes that remain. It returns the pickle's length, STOP
// included. what names the pickle in messages.
func scanPickle(r io.Reader, avail int64, what string) (int64, error) {
	br := bufio.NewReader(r)
	var pos, ops, builds int64
	for {
		at := pos
		code, err := br.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("truncated: %s ends at byte %d without its STOP opcode", what, at)
		}
		pos++
		ops++
		op := pickleOps[code]
		if op.name == "" {
			return 0, fmt.Errorf("%s: unknown pickle opcode 0x%02x at byte %d", what, code, at)
		}
		short := func() error {
			return fmt.Errorf("truncated: %s ends at byte %d inside opcode %s (byte %d)", what, avail, op.name, at)
		}
		switch op.arg {
		case argFixed:
			if _, err := br.Discard(op.n); err != nil {
				return 0, short()
			}
			pos += int64(op.n)
		case argLine, argLine2, argNumber:
			lines := 1
			if op.arg == argLine2 {
				lines = 2
			}
			for range lines {
				n := 0
				for {
					b, err := br.ReadByte()
					if err != nil {
						return 0, short()
					}
					pos++
					n++
					if b == '\n' {
						break
					}
					if op.arg == argNumber && n > maxNumberText {
						return 0, fmt.Errorf("%s: opcode %s at byte %d has a number of more than %d characters", what, op.name, at, maxNumberText)
					}
				}
			}
		case argLen, argLenS, argLongLen, argFrame:
			var b [8]byte
			if _, err := io.ReadFull(br, b[:op.n]); err != nil {
				return 0, short()
			}
			pos += int64(op.n)
			var n uint64
			switch op.n {
			case 1:
				n = uint64(b[0])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(b[:4]))
				if op.arg != argLen && int32(n) < 0 {
					return 0, fmt.Errorf("%s: opcode %s at byte %d declares a negative length %d", what, op.name, at, int32(n))
				}
			case 8:
				n = binary.LittleEndian.Uint64(b[:])
			}
			if op.arg == argLongLen && n > maxLongBytes {
				return 0, fmt.Errorf("%s: opcode %s at byte %d declares a %d-byte integer, more than %d", what, op.name, at, n, maxLongBytes)
			}
			if n > uint64(avail-pos) {
				return 0, fmt.Errorf("truncated: %s: opcode %s at byte %d declares %d bytes, %d remain", what, op.name, at, n, avail-pos)
			}
			if op.arg != argFrame {
				if _, err := br.Discard(int(n)); err != nil {
					return 0, short()
				}
				pos += int64(n)
			}
		}
		switch code {
		case 'b':
			builds++
		case '.':
			if builds > 0 && ops > maxBuildWork/builds {
				return 0, fmt.Errorf("%s: %d BUILD opcodes among %d opcodes, more than a state dict needs", what, builds, ops)
			}
			return pos, nil
		}
	}
}
