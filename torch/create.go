package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

func numelOf(shape []int64) (int64, error) {
	n := int64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("torch: negative size in shape %v", shape)
		}
		n *= s
	}
	return n, nil
}

// fromRaw copies len(data)/elemsize elements of dt into a new CPU tensor of shape.
// With no shape the tensor is 1-D.
func fromRaw(op string, ptr unsafe.Pointer, n int, dt DType, shape []int64) (*Tensor, error) {
	if len(shape) == 0 {
		shape = []int64{int64(n)}
	}
	want, err := numelOf(shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if want != int64(n) {
		return nil, fmt.Errorf("torch: %s: %d values do not fill shape %v (%d elements)", op, n, shape, want)
	}
	var out C.dml_tensor
	st := C.dml_from_data(ptr, C.int(dt), int64Ptr(shape), C.int(len(shape)), &out)
	runtime.KeepAlive(shape)
	if err := statusError(st); err != nil {
		return nil, fmt.Errorf("torch: %s %v: %w", op, shape, err)
	}
	return wrap(out), nil
}

// FromFloat32 copies data into a new CPU float32 tensor of the given shape
// (1-D when shape is empty).
func FromFloat32(data []float32, shape ...int64) (*Tensor, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	t, err := fromRaw("from_float32", p, len(data), Float32, shape)
	runtime.KeepAlive(data)
	return t, err
}

// FromFloat64 copies data into a new CPU float64 tensor.
func FromFloat64(data []float64, shape ...int64) (*Tensor, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	t, err := fromRaw("from_float64", p, len(data), Float64, shape)
	runtime.KeepAlive(data)
	return t, err
}

// FromInt64 copies data into a new CPU int64 tensor.
func FromInt64(data []int64, shape ...int64) (*Tensor, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	t, err := fromRaw("from_int64", p, len(data), Int64, shape)
	runtime.KeepAlive(data)
	return t, err
}

// FromInt32 copies data into a new CPU int32 tensor.
func FromInt32(data []int32, shape ...int64) (*Tensor, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	t, err := fromRaw("from_int32", p, len(data), Int32, shape)
	runtime.KeepAlive(data)
	return t, err
}

// FromUint8 copies data into a new CPU uint8 tensor.
func FromUint8(data []uint8, shape ...int64) (*Tensor, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	t, err := fromRaw("from_uint8", p, len(data), Uint8, shape)
	runtime.KeepAlive(data)
	return t, err
}

// FromBool copies data into a new CPU bool tensor.
func FromBool(data []bool, shape ...int64) (*Tensor, error) {
	b := make([]uint8, len(data))
	for i, v := range data {
		if v {
			b[i] = 1
		}
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	t, err := fromRaw("from_bool", p, len(b), Bool, shape)
	runtime.KeepAlive(b)
	return t, err
}

// FromBytes copies raw little-endian element bytes of dtype dt into a new CPU tensor.
func FromBytes(data []byte, dt DType, shape ...int64) (*Tensor, error) {
	es := dt.ElemSize()
	if es == 0 {
		return nil, fmt.Errorf("torch: from_bytes: unknown dtype %v", dt)
	}
	if len(data)%es != 0 {
		return nil, fmt.Errorf("torch: from_bytes: %d bytes is not a whole number of %v elements", len(data), dt)
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	t, err := fromRaw("from_bytes", p, len(data)/es, dt, shape)
	runtime.KeepAlive(data)
	return t, err
}

// Scalar returns a 0-d CPU tensor holding v.
func Scalar(v float64, dt DType) *Tensor {
	var out C.dml_tensor
	check(C.dml_scalar(C.double(v), C.int(dt), &out), "scalar")
	return wrap(out)
}

func fill(op string, kind C.int, shape []int64, v float64, dt DType, dev Device) *Tensor {
	var out C.dml_tensor
	k, i := dev.codes()
	st := C.dml_fill(kind, int64Ptr(shape), C.int(len(shape)), C.double(v), C.int(dt), C.int(k), C.int(i), &out)
	runtime.KeepAlive(shape)
	if st != nil {
		e := shapeErr(st, op, shape)
		panic(e)
	}
	return wrap(out)
}

// shapeErr builds the *Error of a creation op from the requested shape.
func shapeErr(st C.dml_status, op string, shape []int64) *Error {
	err := statusError(st)
	return &Error{Op: op, Shapes: [][]int64{append([]int64(nil), shape...)}, Msg: err.Error()}
}

// Zeros returns a tensor of zeros.
func Zeros(shape []int64, dt DType, dev Device) *Tensor {
	return fill("zeros", C.DML_FILL_ZEROS, shape, 0, dt, dev)
}

// Ones returns a tensor of ones.
func Ones(shape []int64, dt DType, dev Device) *Tensor {
	return fill("ones", C.DML_FILL_ONES, shape, 0, dt, dev)
}

// Full returns a tensor filled with v.
func Full(shape []int64, v float64, dt DType, dev Device) *Tensor {
	return fill("full", C.DML_FILL_FULL, shape, v, dt, dev)
}

// Empty returns an uninitialised tensor.
func Empty(shape []int64, dt DType, dev Device) *Tensor {
	return fill("empty", C.DML_FILL_EMPTY, shape, 0, dt, dev)
}

// Rand returns uniform samples in [0, 1) from the global generator.
func Rand(shape []int64, dt DType, dev Device) *Tensor {
	return fill("rand", C.DML_FILL_RAND, shape, 0, dt, dev)
}

// Randn returns standard normal samples from the global generator.
func Randn(shape []int64, dt DType, dev Device) *Tensor {
	return fill("randn", C.DML_FILL_RANDN, shape, 0, dt, dev)
}

// Eye returns the n x n identity.
func Eye(n int64, dt DType, dev Device) *Tensor {
	var out C.dml_tensor
	k, i := dev.codes()
	st := C.dml_eye(C.int64_t(n), C.int(dt), C.int(k), C.int(i), &out)
	if st != nil {
		panic(shapeErr(st, "eye", []int64{n, n}))
	}
	return wrap(out)
}

// Arange returns start, start+step, ... < end.
func Arange(start, end, step float64, dt DType, dev Device) *Tensor {
	var out C.dml_tensor
	k, i := dev.codes()
	check(C.dml_arange(C.double(start), C.double(end), C.double(step), C.int(dt), C.int(k), C.int(i), &out), "arange")
	return wrap(out)
}

// Randint returns int64 samples uniform in [low, high).
func Randint(low, high int64, shape []int64, dev Device) *Tensor {
	var out C.dml_tensor
	k, i := dev.codes()
	st := C.dml_randint(C.int64_t(low), C.int64_t(high), int64Ptr(shape), C.int(len(shape)), C.int(k), C.int(i), &out)
	runtime.KeepAlive(shape)
	if st != nil {
		panic(shapeErr(st, "randint", shape))
	}
	return wrap(out)
}

// Randperm returns a random permutation of 0..n-1 (int64).
func Randperm(n int64, dev Device) *Tensor {
	var out C.dml_tensor
	k, i := dev.codes()
	check(C.dml_randperm(C.int64_t(n), C.int(k), C.int(i), &out), "randperm")
	return wrap(out)
}
