package torch

/*
#include "shim.h"
*/
import "C"

import "runtime"

// SetRequiresGrad turns autograd recording for t on or off (leaf tensors) and returns t.
func (t *Tensor) SetRequiresGrad(b bool) *Tensor {
	st := C.dml_set_requires_grad(t.handle("requires_grad_"), cbool(b))
	runtime.KeepAlive(t)
	check(st, "requires_grad_", t)
	return t
}

// Backward computes gradients of the scalar t into the .grad of its leaves.
func (t *Tensor) Backward() {
	st := C.dml_backward(t.handle("backward"), nil)
	runtime.KeepAlive(t)
	check(st, "backward", t)
}

// BackwardWithGrad back-propagates g (same shape as t) from t.
func (t *Tensor) BackwardWithGrad(g *Tensor) {
	st := C.dml_backward(t.handle("backward"), g.handle("backward"))
	runtime.KeepAlive(t)
	runtime.KeepAlive(g)
	check(st, "backward", t, g)
}

// Grad returns a new handle to t's accumulated gradient, or nil when it is undefined.
func (t *Tensor) Grad() *Tensor {
	var out C.dml_tensor
	st := C.dml_grad(t.handle("grad"), &out)
	runtime.KeepAlive(t)
	check(st, "grad", t)
	return wrap(out)
}

// ZeroGrad sets t's gradient to undefined (like zero_grad(set_to_none=True)).
func (t *Tensor) ZeroGrad() {
	st := C.dml_zero_grad(t.handle("zero_grad"))
	runtime.KeepAlive(t)
	check(st, "zero_grad", t)
}

// Detach returns a new handle sharing t's data with no autograd history.
func (t *Tensor) Detach() *Tensor { return unary(uDetach, "detach", t) }

// NoGrad runs fn with autograd recording disabled. libtorch's grad mode is per OS thread,
// so the calling goroutine is pinned to its thread while fn runs.
func NoGrad(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var prev C.int
	check(C.dml_set_grad_enabled(0, &prev), "no_grad")
	defer func() {
		var ignored C.int
		check(C.dml_set_grad_enabled(prev, &ignored), "no_grad")
	}()
	fn()
}

// ---- in-place updates, always without autograd (for optimisers) ----

func (t *Tensor) inplace(op C.int, name string, src *Tensor, v float64) {
	st := C.dml_inplace(op, t.handle(name), src.handle(name), C.double(v))
	runtime.KeepAlive(t)
	runtime.KeepAlive(src)
	check(st, name, t, src)
}

func (t *Tensor) inplaceScalar(op C.int, name string, v float64) {
	st := C.dml_inplace_scalar(op, t.handle(name), C.double(v))
	runtime.KeepAlive(t)
	check(st, name, t)
}

func (t *Tensor) inplace3(op C.int, name string, a, b *Tensor, v float64) {
	st := C.dml_inplace3(op, t.handle(name), a.handle(name), b.handle(name), C.double(v))
	runtime.KeepAlive(t)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	check(st, name, t, a, b)
}

// CopyFrom copies src's values into t (t.copy_(src), broadcasting, no autograd).
func (t *Tensor) CopyFrom(src *Tensor) { t.inplace(C.DML_INPLACE_COPY, "copy_", src, 0) }

// AddInPlace does t += alpha * o without autograd.
func (t *Tensor) AddInPlace(o *Tensor, alpha float64) { t.inplace(C.DML_INPLACE_ADD, "add_", o, alpha) }

// SetData replaces t's data by src's (param.data = src), keeping t's autograd identity.
func (t *Tensor) SetData(src *Tensor) { t.inplace(C.DML_INPLACE_SET_DATA, "set_data", src, 0) }

// MulInPlace does t *= o without autograd.
func (t *Tensor) MulInPlace(o *Tensor) { t.inplace(C.DML_INPLACE_MUL, "mul_", o, 0) }

// MulScalarInPlace does t *= v without autograd.
func (t *Tensor) MulScalarInPlace(v float64) { t.inplaceScalar(C.DML_INPLACE_SCALAR_MUL, "mul_", v) }

// AddScalarInPlace does t += v without autograd.
func (t *Tensor) AddScalarInPlace(v float64) { t.inplaceScalar(C.DML_INPLACE_SCALAR_ADD, "add_", v) }

// FillInPlace sets every element of t to v without autograd.
func (t *Tensor) FillInPlace(v float64) { t.inplaceScalar(C.DML_INPLACE_SCALAR_FILL, "fill_", v) }

// SqrtInPlace does t = sqrt(t) without autograd.
func (t *Tensor) SqrtInPlace() { t.inplaceScalar(C.DML_INPLACE_SCALAR_SQRT, "sqrt_", 0) }

// DivScalarInPlace does t /= v without autograd.
func (t *Tensor) DivScalarInPlace(v float64) { t.inplaceScalar(C.DML_INPLACE_SCALAR_DIV, "div_", v) }

// ZeroInPlace sets t to zeros without autograd.
func (t *Tensor) ZeroInPlace() { t.inplaceScalar(C.DML_INPLACE_SCALAR_ZERO, "zero_", 0) }

// Addcmul does t += v * a * b without autograd.
func (t *Tensor) Addcmul(a, b *Tensor, v float64) {
	t.inplace3(C.DML_INPLACE3_ADDCMUL, "addcmul_", a, b, v)
}

// Addcdiv does t += v * a / b without autograd.
func (t *Tensor) Addcdiv(a, b *Tensor, v float64) {
	t.inplace3(C.DML_INPLACE3_ADDCDIV, "addcdiv_", a, b, v)
}

// Autocast runs fn with automatic mixed precision for dev's kind, like
// `with torch.autocast(device_type, dtype)`: eligible ops (matmul, linear, conv, ...)
// run in dt (CUDA: Float16 or BFloat16; CPU: BFloat16), others keep float32. Autocast
// state is per OS thread in libtorch, so the goroutine is pinned while fn runs.
func Autocast(dev Device, dt DType, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	k, _ := dev.codes()
	var prevOn, prevDT C.int
	check(C.dml_autocast_enter(C.int(k), 1, C.int(dt), &prevOn, &prevDT), "autocast "+dev.String()+" "+dt.String())
	defer func() {
		check(C.dml_autocast_exit(C.int(k), prevOn, prevDT), "autocast exit")
	}()
	fn()
}

// Grad is torch.autograd.grad(outputs, inputs, allow_unused=True): the gradients of the
// sum of the scalar outputs with respect to each input, as new tensors (nil for an input
// the outputs do not depend on). The inputs' .grad fields are left alone. With
// createGraph the results are themselves differentiable (higher-order gradients).
func Grad(outputs, inputs []*Tensor, createGraph bool) []*Tensor {
	oh := make([]C.dml_tensor, len(outputs))
	for i, t := range outputs {
		oh[i] = t.handle("grad")
	}
	ih := make([]C.dml_tensor, len(inputs))
	for i, t := range inputs {
		ih[i] = t.handle("grad")
	}
	res := make([]C.dml_tensor, len(inputs))
	var op, ip, rp *C.dml_tensor
	if len(oh) > 0 {
		op = &oh[0]
	}
	if len(ih) > 0 {
		ip, rp = &ih[0], &res[0]
	}
	st := C.dml_autograd_grad(op, C.int(len(oh)), ip, C.int(len(ih)), cbool(createGraph), rp)
	runtime.KeepAlive(outputs)
	runtime.KeepAlive(inputs)
	runtime.KeepAlive(oh)
	runtime.KeepAlive(ih)
	check(st, "autograd_grad", append(append([]*Tensor(nil), outputs...), inputs...)...)
	out := make([]*Tensor, len(res))
	for i, h := range res {
		out[i] = wrap(h)
	}
	return out
}
