package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// Shape returns the sizes of t.
func (t *Tensor) Shape() []int64 {
	var buf [8]int64
	var nd C.int
	st := C.dml_shape(t.handle("shape"), (*C.int64_t)(unsafe.Pointer(&buf[0])), C.int(len(buf)), &nd)
	runtime.KeepAlive(t)
	check(st, "shape")
	if int(nd) <= len(buf) {
		return append([]int64(nil), buf[:nd]...)
	}
	big := make([]int64, nd)
	st = C.dml_shape(t.handle("shape"), (*C.int64_t)(unsafe.Pointer(&big[0])), C.int(len(big)), &nd)
	runtime.KeepAlive(t)
	check(st, "shape")
	return big
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int { return len(t.Shape()) }

// Size returns the size of dimension d (negative d counts from the end).
func (t *Tensor) Size(d int) int64 {
	s := t.Shape()
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) {
		panic(&Error{Op: "size", Shapes: [][]int64{s}, Msg: fmt.Sprintf("dimension %d out of range", d)})
	}
	return s[d]
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int64 {
	n := int64(1)
	for _, s := range t.Shape() {
		n *= s
	}
	return n
}

func (t *Tensor) info() (dt DType, dev Device, rg bool) {
	var d, k, i, r C.int
	st := C.dml_info(t.handle("info"), &d, &k, &i, &r)
	runtime.KeepAlive(t)
	check(st, "info", t)
	dev = CPUDevice
	if k == 1 {
		dev = Device{Kind: CUDA, Index: int(i)}
	}
	return DType(d), dev, r != 0
}

// DType returns the element type.
func (t *Tensor) DType() DType { d, _, _ := t.info(); return d }

// Device returns where t lives.
func (t *Tensor) Device() Device { _, d, _ := t.info(); return d }

// RequiresGrad reports whether autograd records operations on t.
func (t *Tensor) RequiresGrad() bool { _, _, r := t.info(); return r }

// copyOut converts t to dt on the CPU and copies it into dst (nbytes long).
func (t *Tensor) copyOut(op string, dt DType, dst unsafe.Pointer, nbytes int) error {
	if t == nil || t.h == nil {
		return fmt.Errorf("torch: %s: use of closed tensor", op)
	}
	st := C.dml_copy_out(t.h, C.int(dt), dst, C.int64_t(nbytes))
	runtime.KeepAlive(t)
	if err := statusError(st); err != nil {
		return fmt.Errorf("torch: %s %v: %w", op, t.Shape(), err)
	}
	return nil
}

// Float32s copies t to a new slice (moved to the CPU and converted if needed).
func (t *Tensor) Float32s() ([]float32, error) {
	if t.Closed() {
		return nil, fmt.Errorf("torch: float32s: use of closed tensor")
	}
	out := make([]float32, t.Numel())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	return out, t.copyOut("float32s", Float32, p, 4*len(out))
}

// Float64s copies t to a new float64 slice.
func (t *Tensor) Float64s() ([]float64, error) {
	if t.Closed() {
		return nil, fmt.Errorf("torch: float64s: use of closed tensor")
	}
	out := make([]float64, t.Numel())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	return out, t.copyOut("float64s", Float64, p, 8*len(out))
}

// Int64s copies t to a new int64 slice.
func (t *Tensor) Int64s() ([]int64, error) {
	if t.Closed() {
		return nil, fmt.Errorf("torch: int64s: use of closed tensor")
	}
	out := make([]int64, t.Numel())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	return out, t.copyOut("int64s", Int64, p, 8*len(out))
}

// Uint8s copies t to a new uint8 slice.
func (t *Tensor) Uint8s() ([]uint8, error) {
	if t.Closed() {
		return nil, fmt.Errorf("torch: uint8s: use of closed tensor")
	}
	out := make([]uint8, t.Numel())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	return out, t.copyOut("uint8s", Uint8, p, len(out))
}

// Bools copies t to a new bool slice.
func (t *Tensor) Bools() ([]bool, error) {
	if t.Closed() {
		return nil, fmt.Errorf("torch: bools: use of closed tensor")
	}
	b := make([]uint8, t.Numel())
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	if err := t.copyOut("bools", Bool, p, len(b)); err != nil {
		return nil, err
	}
	out := make([]bool, len(b))
	for i, v := range b {
		out[i] = v != 0
	}
	return out, nil
}

// Bytes copies t's elements, in its own dtype, as raw little-endian bytes (CPU, contiguous).
func (t *Tensor) Bytes() ([]byte, error) {
	if t.Closed() {
		return nil, fmt.Errorf("torch: bytes: use of closed tensor")
	}
	dt := t.DType()
	out := make([]byte, int(t.Numel())*dt.ElemSize())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	return out, t.copyOut("bytes", dt, p, len(out))
}

// Item returns the single element of t as float64; panics with *Error otherwise.
func (t *Tensor) Item() float64 {
	var v C.double
	st := C.dml_item(t.handle("item"), &v)
	runtime.KeepAlive(t)
	check(st, "item", t)
	return float64(v)
}

// String returns a short description such as "Tensor[2 3] float32 cpu".
func (t *Tensor) String() string {
	if t.Closed() {
		return "Tensor(closed)"
	}
	dt, dev, _ := t.info()
	s := fmt.Sprint(t.Shape())
	return "Tensor" + strings.ReplaceAll(s, "  ", " ") + " " + dt.String() + " " + dev.String()
}
