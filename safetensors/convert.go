package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Float32Bytes returns v as little-endian bytes (a copy).
func Float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// Float64Bytes returns v as little-endian bytes (a copy).
func Float64Bytes(v []float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

// Int64Bytes returns v as little-endian bytes (a copy).
func Int64Bytes(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

// Int32Bytes returns v as little-endian bytes (a copy).
func Int32Bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

// Uint8Bytes returns v itself: U8 and BOOL tensors need no conversion.
func Uint8Bytes(v []uint8) []byte { return v }

func checkDType(t Tensor, want ...string) error {
	for _, w := range want {
		if t.DType == w {
			if len(t.Data)%DTypeSize(w) != 0 {
				return fmt.Errorf("safetensors: tensor %q: %d bytes is not a multiple of %d", t.Name, len(t.Data), DTypeSize(w))
			}
			return nil
		}
	}
	return fmt.Errorf("safetensors: tensor %q has dtype %s, want %v", t.Name, t.DType, want)
}

// Float32s decodes an F32 tensor's data (a copy).
func (t Tensor) Float32s() ([]float32, error) {
	if err := checkDType(t, "F32"); err != nil {
		return nil, err
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Float64s decodes an F64 tensor's data (a copy).
func (t Tensor) Float64s() ([]float64, error) {
	if err := checkDType(t, "F64"); err != nil {
		return nil, err
	}
	v := make([]float64, len(t.Data)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// Int64s decodes an I64 tensor's data (a copy).
func (t Tensor) Int64s() ([]int64, error) {
	if err := checkDType(t, "I64"); err != nil {
		return nil, err
	}
	v := make([]int64, len(t.Data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// Int32s decodes an I32 tensor's data (a copy).
func (t Tensor) Int32s() ([]int32, error) {
	if err := checkDType(t, "I32"); err != nil {
		return nil, err
	}
	v := make([]int32, len(t.Data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Uint8s returns a U8 or BOOL tensor's data (not a copy).
func (t Tensor) Uint8s() ([]uint8, error) {
	if err := checkDType(t, "U8", "BOOL"); err != nil {
		return nil, err
	}
	return t.Data, nil
}

// F32 builds an F32 tensor from values (copied), checking the shape's element count.
func F32(name string, v []float32, shape ...int64) (Tensor, error) {
	return mk(name, "F32", Float32Bytes(v), len(v), shape)
}

// I64 builds an I64 tensor from values (copied), checking the shape's element count.
func I64(name string, v []int64, shape ...int64) (Tensor, error) {
	return mk(name, "I64", Int64Bytes(v), len(v), shape)
}

// U8 builds a U8 tensor over v (not copied), checking the shape's element count.
func U8(name string, v []uint8, shape ...int64) (Tensor, error) {
	return mk(name, "U8", v, len(v), shape)
}

func mk(name, dt string, data []byte, n int, shape []int64) (Tensor, error) {
	want, err := numel(shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	if want != int64(n) {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %d values for shape %v", name, n, shape)
	}
	return Tensor{Name: name, DType: dt, Shape: append([]int64{}, shape...), Data: data}, nil
}
