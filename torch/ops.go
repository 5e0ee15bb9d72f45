package torch

/*
#include "shim.h"
*/
import "C"

import "runtime"

// Op codes are the enums of csrc/shim.h, which the C++ side switches on.
const (
	uExp        = C.DML_UNARY_EXP
	uLog        = C.DML_UNARY_LOG
	uLog1p      = C.DML_UNARY_LOG1P
	uSqrt       = C.DML_UNARY_SQRT
	uAbs        = C.DML_UNARY_ABS
	uNeg        = C.DML_UNARY_NEG
	uAtan       = C.DML_UNARY_ATAN
	uTanh       = C.DML_UNARY_TANH
	uSigmoid    = C.DML_UNARY_SIGMOID
	uRelu       = C.DML_UNARY_RELU
	uSoftplus   = C.DML_UNARY_SOFTPLUS
	uAcos       = C.DML_UNARY_ACOS
	uCos        = C.DML_UNARY_COS
	uSin        = C.DML_UNARY_SIN
	uSquare     = C.DML_UNARY_SQUARE
	uContiguous = C.DML_UNARY_CONTIGUOUS
	uClone      = C.DML_UNARY_CLONE
	uT          = C.DML_UNARY_T
	uDetach     = C.DML_UNARY_DETACH
	uLogicalNot = C.DML_UNARY_LOGICAL_NOT
	uIsFinite   = C.DML_UNARY_IS_FINITE
	uSum        = C.DML_UNARY_SUM
	uMean       = C.DML_UNARY_MEAN
	uMax        = C.DML_UNARY_MAX
	uMin        = C.DML_UNARY_MIN
	uAny        = C.DML_UNARY_ANY
	uAll        = C.DML_UNARY_ALL
)

const (
	bAdd        = C.DML_BINARY_ADD
	bSub        = C.DML_BINARY_SUB
	bMul        = C.DML_BINARY_MUL
	bDiv        = C.DML_BINARY_DIV
	bPow        = C.DML_BINARY_POW
	bEq         = C.DML_BINARY_EQ
	bNe         = C.DML_BINARY_NE
	bLt         = C.DML_BINARY_LT
	bLe         = C.DML_BINARY_LE
	bGt         = C.DML_BINARY_GT
	bGe         = C.DML_BINARY_GE
	bLogicalAnd = C.DML_BINARY_LOGICAL_AND
	bLogicalOr  = C.DML_BINARY_LOGICAL_OR
	bMatmul     = C.DML_BINARY_MATMUL
	bMm         = C.DML_BINARY_MM
	bBmm        = C.DML_BINARY_BMM
	bIndex      = C.DML_BINARY_INDEX
)

const (
	sAdd      = C.DML_SCALAR_ADD
	sSub      = C.DML_SCALAR_SUB
	sMul      = C.DML_SCALAR_MUL
	sDiv      = C.DML_SCALAR_DIV
	sPow      = C.DML_SCALAR_POW
	sRSub     = C.DML_SCALAR_RSUB
	sEq       = C.DML_SCALAR_EQ
	sNe       = C.DML_SCALAR_NE
	sLt       = C.DML_SCALAR_LT
	sLe       = C.DML_SCALAR_LE
	sGt       = C.DML_SCALAR_GT
	sGe       = C.DML_SCALAR_GE
	sClampMin = C.DML_SCALAR_CLAMP_MIN
	sClampMax = C.DML_SCALAR_CLAMP_MAX
)

const (
	dArgmax     = C.DML_DIM_ARGMAX
	dLogSumExp  = C.DML_DIM_LOG_SUM_EXP
	dSoftmax    = C.DML_DIM_SOFTMAX
	dLogSoftmax = C.DML_DIM_LOG_SOFTMAX
	dUnsqueeze  = C.DML_DIM_UNSQUEEZE
	dSqueeze    = C.DML_DIM_SQUEEZE
)

const (
	iReshape = C.DML_INTS_RESHAPE
	iView    = C.DML_INTS_VIEW
	iPermute = C.DML_INTS_PERMUTE
	iExpand  = C.DML_INTS_EXPAND
	iSumDim  = C.DML_INTS_SUM_DIM
	iMeanDim = C.DML_INTS_MEAN_DIM
)

func unary(op C.int, name string, a *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_unary(op, a.handle(name), &out)
	runtime.KeepAlive(a)
	check(st, name, a)
	return wrap(out)
}

func binaryOp(op C.int, name string, a, b *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_binary(op, a.handle(name), b.handle(name), &out)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	check(st, name, a, b)
	return wrap(out)
}

func scalarOp(op C.int, name string, a *Tensor, v float64) *Tensor {
	var out C.dml_tensor
	st := C.dml_scalar_op(op, a.handle(name), C.double(v), &out)
	runtime.KeepAlive(a)
	check(st, name, a)
	return wrap(out)
}

func dimOp(op C.int, name string, a *Tensor, d int64, keep bool) *Tensor {
	var out C.dml_tensor
	st := C.dml_dim_op(op, a.handle(name), C.int64_t(d), cbool(keep), &out)
	runtime.KeepAlive(a)
	check(st, name, a)
	return wrap(out)
}

func intsOp(op C.int, name string, a *Tensor, v []int64, keep bool) *Tensor {
	var out C.dml_tensor
	st := C.dml_ints_op(op, a.handle(name), int64Ptr(v), C.int(len(v)), cbool(keep), &out)
	runtime.KeepAlive(a)
	runtime.KeepAlive(v)
	check(st, name, a)
	return wrap(out)
}

func pairOp(op C.int, name string, a *Tensor, k, d int64, f1, f2 bool) (*Tensor, *Tensor) {
	var v, i C.dml_tensor
	st := C.dml_pair_op(op, a.handle(name), C.int64_t(k), C.int64_t(d), cbool(f1), cbool(f2), &v, &i)
	runtime.KeepAlive(a)
	check(st, name, a)
	return wrap(v), wrap(i)
}

// ---- shape ops ----

// Reshape returns t with a new shape (a view when possible); one size may be -1.
func (t *Tensor) Reshape(shape ...int64) *Tensor { return intsOp(iReshape, "reshape", t, shape, false) }

// View returns a view with a new shape; t must be compatible (see Contiguous).
func (t *Tensor) View(shape ...int64) *Tensor { return intsOp(iView, "view", t, shape, false) }

// Permute reorders dimensions.
func (t *Tensor) Permute(dims ...int64) *Tensor { return intsOp(iPermute, "permute", t, dims, false) }

// Expand broadcasts t to shape without copying (-1 keeps a size).
func (t *Tensor) Expand(shape ...int64) *Tensor { return intsOp(iExpand, "expand", t, shape, false) }

// Transpose swaps dimensions a and b.
func (t *Tensor) Transpose(a, b int64) *Tensor {
	var out C.dml_tensor
	st := C.dml_transpose(t.handle("transpose"), C.int64_t(a), C.int64_t(b), &out)
	runtime.KeepAlive(t)
	check(st, "transpose", t)
	return wrap(out)
}

// T transposes a 2-D tensor.
func (t *Tensor) T() *Tensor { return unary(uT, "t", t) }

// Narrow returns length elements of dim starting at start (a view).
func (t *Tensor) Narrow(dim, start, length int64) *Tensor {
	var out C.dml_tensor
	st := C.dml_narrow(t.handle("narrow"), C.int64_t(dim), C.int64_t(start), C.int64_t(length), &out)
	runtime.KeepAlive(t)
	check(st, "narrow", t)
	return wrap(out)
}

// Select returns index i of dim, removing that dim (a view).
func (t *Tensor) Select(dim, i int64) *Tensor {
	var out C.dml_tensor
	st := C.dml_select(t.handle("select"), C.int64_t(dim), C.int64_t(i), &out)
	runtime.KeepAlive(t)
	check(st, "select", t)
	return wrap(out)
}

// Flatten merges dims start..end (inclusive; negative counts from the end).
func (t *Tensor) Flatten(start, end int64) *Tensor {
	var out C.dml_tensor
	st := C.dml_flatten(t.handle("flatten"), C.int64_t(start), C.int64_t(end), &out)
	runtime.KeepAlive(t)
	check(st, "flatten", t)
	return wrap(out)
}

func (t *Tensor) indexOp(op C.int, name string, dim int64, idx *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_index_op(op, t.handle(name), C.int64_t(dim), idx.handle(name), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(idx)
	check(st, name, t, idx)
	return wrap(out)
}

// IndexSelect picks entries idx (int64, 1-D) along dim.
func (t *Tensor) IndexSelect(dim int64, idx *Tensor) *Tensor {
	return t.indexOp(C.DML_INDEX_SELECT, "index_select", dim, idx)
}

// Gather is torch.gather.
func (t *Tensor) Gather(dim int64, idx *Tensor) *Tensor {
	return t.indexOp(C.DML_INDEX_GATHER, "gather", dim, idx)
}

func (t *Tensor) scatter(op C.int, name string, dim int64, idx, src *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_scatter(op, t.handle(name), C.int64_t(dim), idx.handle(name), src.handle(name), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(idx)
	runtime.KeepAlive(src)
	check(st, name, t, idx, src)
	return wrap(out)
}

// Scatter is the out-of-place torch.scatter(t, dim, idx, src).
func (t *Tensor) Scatter(dim int64, idx, src *Tensor) *Tensor {
	return t.scatter(C.DML_SCATTER_SET, "scatter", dim, idx, src)
}

// ScatterAdd is the out-of-place torch.scatter_add(t, dim, idx, src).
func (t *Tensor) ScatterAdd(dim int64, idx, src *Tensor) *Tensor {
	return t.scatter(C.DML_SCATTER_ADD, "scatter_add", dim, idx, src)
}

// MaskedFill returns t with v where mask (bool, broadcastable) is true.
func (t *Tensor) MaskedFill(mask *Tensor, v float64) *Tensor {
	var out C.dml_tensor
	st := C.dml_masked_fill(t.handle("masked_fill"), mask.handle("masked_fill"), C.double(v), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(mask)
	check(st, "masked_fill", t, mask)
	return wrap(out)
}

// Unsqueeze inserts a size-1 dim at d.
func (t *Tensor) Unsqueeze(d int64) *Tensor { return dimOp(dUnsqueeze, "unsqueeze", t, d, false) }

// Squeeze removes dim d if its size is 1.
func (t *Tensor) Squeeze(d int64) *Tensor { return dimOp(dSqueeze, "squeeze", t, d, false) }

// Contiguous returns t in row-major layout (t's storage when already contiguous).
func (t *Tensor) Contiguous() *Tensor { return unary(uContiguous, "contiguous", t) }

// Index returns t[idx]: int64 indices or a bool mask on the leading dims.
func (t *Tensor) Index(idx *Tensor) *Tensor { return binaryOp(bIndex, "index", t, idx) }

// Clone copies t (autograd-tracked).
func (t *Tensor) Clone() *Tensor { return unary(uClone, "clone", t) }

func (t *Tensor) to(name string, dev Device, dt DType) *Tensor {
	var out C.dml_tensor
	k, i := dev.codes()
	st := C.dml_to(t.handle(name), C.int(k), C.int(i), C.int(dt), &out)
	runtime.KeepAlive(t)
	check(st, name+" "+dev.String()+" "+dt.String(), t)
	return wrap(out)
}

// To moves t to dev (same dtype); returns a new handle even when nothing moves.
func (t *Tensor) To(dev Device) *Tensor { return t.to("to", dev, t.DType()) }

// ToDType converts t's elements to dt (same device).
func (t *Tensor) ToDType(dt DType) *Tensor { return t.to("to", t.Device(), dt) }

// AsStrided returns a view of t's storage with the given sizes, strides and offset.
func (t *Tensor) AsStrided(size, stride []int64, offset int64) *Tensor {
	if len(size) != len(stride) {
		panic(&Error{Op: "as_strided", Shapes: [][]int64{size, stride}, Msg: "size and stride lengths differ"})
	}
	var out C.dml_tensor
	st := C.dml_as_strided(t.handle("as_strided"), int64Ptr(size), int64Ptr(stride), C.int(len(size)), C.int64_t(offset), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(size)
	runtime.KeepAlive(stride)
	check(st, "as_strided", t)
	return wrap(out)
}

func catOp(op C.int, name string, ts []*Tensor, dim int64) *Tensor {
	hs := make([]C.dml_tensor, len(ts))
	for i, t := range ts {
		hs[i] = t.handle(name)
	}
	var p *C.dml_tensor
	if len(hs) > 0 {
		p = &hs[0]
	}
	var out C.dml_tensor
	st := C.dml_cat(op, p, C.int(len(hs)), C.int64_t(dim), &out)
	runtime.KeepAlive(ts)
	runtime.KeepAlive(hs)
	check(st, name, ts...)
	return wrap(out)
}

// Cat concatenates ts along dim.
func Cat(ts []*Tensor, dim int64) *Tensor { return catOp(C.DML_CAT_CAT, "cat", ts, dim) }

// Stack stacks ts along a new dim.
func Stack(ts []*Tensor, dim int64) *Tensor { return catOp(C.DML_CAT_STACK, "stack", ts, dim) }

// Where picks a where cond is true, else b (broadcasting).
func Where(cond, a, b *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_where(cond.handle("where"), a.handle("where"), b.handle("where"), &out)
	runtime.KeepAlive(cond)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	check(st, "where", cond, a, b)
	return wrap(out)
}

// ---- elementwise ----

// Add returns t + o (broadcasting).
func (t *Tensor) Add(o *Tensor) *Tensor { return binaryOp(bAdd, "add", t, o) }

// Sub returns t - o.
func (t *Tensor) Sub(o *Tensor) *Tensor { return binaryOp(bSub, "sub", t, o) }

// Mul returns t * o.
func (t *Tensor) Mul(o *Tensor) *Tensor { return binaryOp(bMul, "mul", t, o) }

// Div returns t / o (true division).
func (t *Tensor) Div(o *Tensor) *Tensor { return binaryOp(bDiv, "div", t, o) }

// Pow returns t ** o.
func (t *Tensor) Pow(o *Tensor) *Tensor { return binaryOp(bPow, "pow", t, o) }

// AddScalar returns t + v.
func (t *Tensor) AddScalar(v float64) *Tensor { return scalarOp(sAdd, "add_scalar", t, v) }

// SubScalar returns t - v.
func (t *Tensor) SubScalar(v float64) *Tensor { return scalarOp(sSub, "sub_scalar", t, v) }

// MulScalar returns t * v.
func (t *Tensor) MulScalar(v float64) *Tensor { return scalarOp(sMul, "mul_scalar", t, v) }

// DivScalar returns t / v.
func (t *Tensor) DivScalar(v float64) *Tensor { return scalarOp(sDiv, "div_scalar", t, v) }

// PowScalar returns t ** v.
func (t *Tensor) PowScalar(v float64) *Tensor { return scalarOp(sPow, "pow_scalar", t, v) }

// RSubScalar returns v - t.
func (t *Tensor) RSubScalar(v float64) *Tensor { return scalarOp(sRSub, "rsub_scalar", t, v) }

// Exp returns e**t.
func (t *Tensor) Exp() *Tensor { return unary(uExp, "exp", t) }

// Log returns the natural log.
func (t *Tensor) Log() *Tensor { return unary(uLog, "log", t) }

// Log1p returns log(1+t).
func (t *Tensor) Log1p() *Tensor { return unary(uLog1p, "log1p", t) }

// Sqrt returns the square root.
func (t *Tensor) Sqrt() *Tensor { return unary(uSqrt, "sqrt", t) }

// Abs returns |t|.
func (t *Tensor) Abs() *Tensor { return unary(uAbs, "abs", t) }

// Neg returns -t.
func (t *Tensor) Neg() *Tensor { return unary(uNeg, "neg", t) }

// Atan returns arctan(t).
func (t *Tensor) Atan() *Tensor { return unary(uAtan, "atan", t) }

// Tanh returns tanh(t).
func (t *Tensor) Tanh() *Tensor { return unary(uTanh, "tanh", t) }

// Sigmoid returns 1/(1+e**-t).
func (t *Tensor) Sigmoid() *Tensor { return unary(uSigmoid, "sigmoid", t) }

// Relu returns max(t, 0).
func (t *Tensor) Relu() *Tensor { return unary(uRelu, "relu", t) }

// Softplus returns log(1+e**t) (beta 1, threshold 20, as torch.nn.functional.softplus).
func (t *Tensor) Softplus() *Tensor { return unary(uSoftplus, "softplus", t) }

// Acos returns arccos(t).
func (t *Tensor) Acos() *Tensor { return unary(uAcos, "acos", t) }

// Cos returns cos(t).
func (t *Tensor) Cos() *Tensor { return unary(uCos, "cos", t) }

// Sin returns sin(t).
func (t *Tensor) Sin() *Tensor { return unary(uSin, "sin", t) }

// Square returns t*t.
func (t *Tensor) Square() *Tensor { return unary(uSquare, "square", t) }

// Clamp limits t to [lo, hi].
func (t *Tensor) Clamp(lo, hi float64) *Tensor {
	var out C.dml_tensor
	st := C.dml_clamp(t.handle("clamp"), C.double(lo), C.double(hi), &out)
	runtime.KeepAlive(t)
	check(st, "clamp", t)
	return wrap(out)
}

// ClampMin returns max(t, lo).
func (t *Tensor) ClampMin(lo float64) *Tensor { return scalarOp(sClampMin, "clamp_min", t, lo) }

// ClampMax returns min(t, hi).
func (t *Tensor) ClampMax(hi float64) *Tensor { return scalarOp(sClampMax, "clamp_max", t, hi) }

// ---- reductions ----

// Sum returns the 0-d sum of all elements.
func (t *Tensor) Sum() *Tensor { return unary(uSum, "sum", t) }

// Mean returns the 0-d mean of all elements.
func (t *Tensor) Mean() *Tensor { return unary(uMean, "mean", t) }

// SumDim sums over dims.
func (t *Tensor) SumDim(dims []int64, keep bool) *Tensor {
	return intsOp(iSumDim, "sum_dim", t, dims, keep)
}

// MeanDim averages over dims.
func (t *Tensor) MeanDim(dims []int64, keep bool) *Tensor {
	return intsOp(iMeanDim, "mean_dim", t, dims, keep)
}

// Max returns the 0-d maximum.
func (t *Tensor) Max() *Tensor { return unary(uMax, "max", t) }

// Min returns the 0-d minimum.
func (t *Tensor) Min() *Tensor { return unary(uMin, "min", t) }

// MaxDim returns maxima along d and their indices.
func (t *Tensor) MaxDim(d int64, keep bool) (values, indices *Tensor) {
	return pairOp(C.DML_PAIR_MAX, "max_dim", t, 0, d, keep, false)
}

// MinDim returns minima along d and their indices.
func (t *Tensor) MinDim(d int64, keep bool) (values, indices *Tensor) {
	return pairOp(C.DML_PAIR_MIN, "min_dim", t, 0, d, keep, false)
}

// TopK returns the k largest (or smallest) entries along d and their indices.
func (t *Tensor) TopK(k, d int64, largest, sorted bool) (values, indices *Tensor) {
	return pairOp(C.DML_PAIR_TOPK, "topk", t, k, d, largest, sorted)
}

// Sort sorts along d.
func (t *Tensor) Sort(d int64, descending bool) (values, indices *Tensor) {
	return pairOp(C.DML_PAIR_SORT, "sort", t, 0, d, descending, false)
}

// Argmax returns the indices of maxima along d.
func (t *Tensor) Argmax(d int64, keep bool) *Tensor { return dimOp(dArgmax, "argmax", t, d, keep) }

// LogSumExp returns log(sum(exp(t))) along d, computed stably.
func (t *Tensor) LogSumExp(d int64, keep bool) *Tensor {
	return dimOp(dLogSumExp, "logsumexp", t, d, keep)
}

// Softmax along d.
func (t *Tensor) Softmax(d int64) *Tensor { return dimOp(dSoftmax, "softmax", t, d, false) }

// LogSoftmax along d.
func (t *Tensor) LogSoftmax(d int64) *Tensor { return dimOp(dLogSoftmax, "log_softmax", t, d, false) }

// Norm returns the p-norm along d.
func (t *Tensor) Norm(p float64, d int64, keep bool) *Tensor {
	var out C.dml_tensor
	st := C.dml_norm(t.handle("norm"), C.double(p), C.int64_t(d), cbool(keep), &out)
	runtime.KeepAlive(t)
	check(st, "norm", t)
	return wrap(out)
}

// Normalize is torch.nn.functional.normalize: t / max(||t||_p along d, eps).
func (t *Tensor) Normalize(p float64, d int64, eps float64) *Tensor {
	var out C.dml_tensor
	st := C.dml_normalize(t.handle("normalize"), C.double(p), C.int64_t(d), C.double(eps), &out)
	runtime.KeepAlive(t)
	check(st, "normalize", t)
	return wrap(out)
}

// ---- comparisons and logic ----

// Eq returns t == o (bool).
func (t *Tensor) Eq(o *Tensor) *Tensor { return binaryOp(bEq, "eq", t, o) }

// Ne returns t != o.
func (t *Tensor) Ne(o *Tensor) *Tensor { return binaryOp(bNe, "ne", t, o) }

// Lt returns t < o.
func (t *Tensor) Lt(o *Tensor) *Tensor { return binaryOp(bLt, "lt", t, o) }

// Le returns t <= o.
func (t *Tensor) Le(o *Tensor) *Tensor { return binaryOp(bLe, "le", t, o) }

// Gt returns t > o.
func (t *Tensor) Gt(o *Tensor) *Tensor { return binaryOp(bGt, "gt", t, o) }

// Ge returns t >= o.
func (t *Tensor) Ge(o *Tensor) *Tensor { return binaryOp(bGe, "ge", t, o) }

// EqScalar returns t == v.
func (t *Tensor) EqScalar(v float64) *Tensor { return scalarOp(sEq, "eq_scalar", t, v) }

// NeScalar returns t != v.
func (t *Tensor) NeScalar(v float64) *Tensor { return scalarOp(sNe, "ne_scalar", t, v) }

// LtScalar returns t < v.
func (t *Tensor) LtScalar(v float64) *Tensor { return scalarOp(sLt, "lt_scalar", t, v) }

// LeScalar returns t <= v.
func (t *Tensor) LeScalar(v float64) *Tensor { return scalarOp(sLe, "le_scalar", t, v) }

// GtScalar returns t > v.
func (t *Tensor) GtScalar(v float64) *Tensor { return scalarOp(sGt, "gt_scalar", t, v) }

// GeScalar returns t >= v.
func (t *Tensor) GeScalar(v float64) *Tensor { return scalarOp(sGe, "ge_scalar", t, v) }

// LogicalAnd returns t && o.
func (t *Tensor) LogicalAnd(o *Tensor) *Tensor { return binaryOp(bLogicalAnd, "logical_and", t, o) }

// LogicalOr returns t || o.
func (t *Tensor) LogicalOr(o *Tensor) *Tensor { return binaryOp(bLogicalOr, "logical_or", t, o) }

// LogicalNot returns !t.
func (t *Tensor) LogicalNot() *Tensor { return unary(uLogicalNot, "logical_not", t) }

// Any returns a 0-d bool: is any element non-zero.
func (t *Tensor) Any() *Tensor { return unary(uAny, "any", t) }

// All returns a 0-d bool: are all elements non-zero.
func (t *Tensor) All() *Tensor { return unary(uAll, "all", t) }

// IsFinite returns a bool tensor: element is neither inf nor nan.
func (t *Tensor) IsFinite() *Tensor { return unary(uIsFinite, "isfinite", t) }

// AllFinite reports whether every element is finite.
func (t *Tensor) AllFinite() bool {
	f := t.IsFinite()
	defer f.Close()
	a := f.All()
	defer a.Close()
	return a.Item() != 0
}

// ---- matrix products ----

// Matmul is torch.matmul (broadcasting batch dims).
func (t *Tensor) Matmul(o *Tensor) *Tensor { return binaryOp(bMatmul, "matmul", t, o) }

// Mm multiplies two 2-D matrices.
func (t *Tensor) Mm(o *Tensor) *Tensor { return binaryOp(bMm, "mm", t, o) }

// Bmm multiplies two batches of matrices (3-D).
func (t *Tensor) Bmm(o *Tensor) *Tensor { return binaryOp(bBmm, "bmm", t, o) }
