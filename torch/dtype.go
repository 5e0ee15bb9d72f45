package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strings"
)

// DType is a tensor element type. The values are the shim's dml_dtype codes (csrc/shim.h).
type DType int

// Element types.
const (
	Float32  DType = C.DML_DTYPE_FLOAT32
	Float64  DType = C.DML_DTYPE_FLOAT64
	Int64    DType = C.DML_DTYPE_INT64
	Int32    DType = C.DML_DTYPE_INT32
	Uint8    DType = C.DML_DTYPE_UINT8
	Bool     DType = C.DML_DTYPE_BOOL
	BFloat16 DType = C.DML_DTYPE_BFLOAT16
	Float16  DType = C.DML_DTYPE_FLOAT16
)

var dtypeNames = [...]string{"float32", "float64", "int64", "int32", "uint8", "bool", "bfloat16", "float16"}

// String returns the PyTorch-style name, e.g. "float32".
func (d DType) String() string {
	if d >= 0 && int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// ElemSize returns the size of one element in bytes.
func (d DType) ElemSize() int {
	switch d {
	case Float32, Int32:
		return 4
	case Float64, Int64:
		return 8
	case Uint8, Bool:
		return 1
	case BFloat16, Float16:
		return 2
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == BFloat16 || d == Float16
}

// ParseDType accepts the names String returns (and "float", "double", "long", "half").
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(s) {
	case "float", "fp32":
		return Float32, nil
	case "double", "fp64":
		return Float64, nil
	case "long":
		return Int64, nil
	case "int":
		return Int32, nil
	case "half", "fp16":
		return Float16, nil
	case "bf16":
		return BFloat16, nil
	}
	for i, n := range dtypeNames {
		if strings.EqualFold(n, s) {
			return DType(i), nil
		}
	}
	return 0, fmt.Errorf("torch: unknown dtype %q (want one of %s)", s, strings.Join(dtypeNames[:], ", "))
}
