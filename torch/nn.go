package torch

/*
#include "shim.h"
*/
import "C"

import "runtime"

// Linear returns x @ w.T + b (b may be nil).
func Linear(x, w, b *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_linear(x.handle("linear"), w.handle("linear"), optHandle(b, "linear"), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	check(st, "linear", x, w, b)
	return wrap(out)
}

// Conv2d is torch.nn.functional.conv2d (b may be nil).
func Conv2d(x, w, b *Tensor, stride, padding, dilation [2]int64, groups int64) *Tensor {
	p := [6]int64{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]}
	var out C.dml_tensor
	st := C.dml_conv2d(x.handle("conv2d"), w.handle("conv2d"), optHandle(b, "conv2d"), int64Ptr(p[:]), C.int64_t(groups), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	runtime.KeepAlive(&p)
	check(st, "conv2d", x, w, b)
	return wrap(out)
}

// BatchNorm is torch.nn.functional.batch_norm; in training it updates runMean and runVar
// in place (either may be nil, as may w and b).
func BatchNorm(x, w, b, runMean, runVar *Tensor, training bool, momentum, eps float64) *Tensor {
	var out C.dml_tensor
	st := C.dml_batch_norm(x.handle("batch_norm"), optHandle(w, "batch_norm"), optHandle(b, "batch_norm"),
		optHandle(runMean, "batch_norm"), optHandle(runVar, "batch_norm"), cbool(training),
		C.double(momentum), C.double(eps), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	runtime.KeepAlive(runMean)
	runtime.KeepAlive(runVar)
	check(st, "batch_norm", x, w, b, runMean, runVar)
	return wrap(out)
}

func pool2d(op C.int, name string, x *Tensor, kernel, stride, padding [2]int64, ceil bool) *Tensor {
	p := [6]int64{kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1]}
	var out C.dml_tensor
	st := C.dml_pool2d(op, x.handle(name), int64Ptr(p[:]), cbool(ceil), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(&p)
	check(st, name, x)
	return wrap(out)
}

// MaxPool2d is torch.nn.functional.max_pool2d (dilation 1).
func MaxPool2d(x *Tensor, kernel, stride, padding [2]int64, ceil bool) *Tensor {
	return pool2d(C.DML_POOL_MAX, "max_pool2d", x, kernel, stride, padding, ceil)
}

// AvgPool2d is torch.nn.functional.avg_pool2d (count_include_pad true).
func AvgPool2d(x *Tensor, kernel, stride, padding [2]int64, ceil bool) *Tensor {
	return pool2d(C.DML_POOL_AVG, "avg_pool2d", x, kernel, stride, padding, ceil)
}

func adaptivePool(op C.int, name string, x *Tensor, size [2]int64) *Tensor {
	var out C.dml_tensor
	st := C.dml_adaptive_pool2d(op, x.handle(name), C.int64_t(size[0]), C.int64_t(size[1]), &out)
	runtime.KeepAlive(x)
	check(st, name, x)
	return wrap(out)
}

// AdaptiveAvgPool2d pools x to the output size.
func AdaptiveAvgPool2d(x *Tensor, out [2]int64) *Tensor {
	return adaptivePool(C.DML_ADAPTIVE_POOL_AVG, "adaptive_avg_pool2d", x, out)
}

// AdaptiveMaxPool2d pools x to the output size (values only).
func AdaptiveMaxPool2d(x *Tensor, out [2]int64) *Tensor {
	return adaptivePool(C.DML_ADAPTIVE_POOL_MAX, "adaptive_max_pool2d", x, out)
}

// Dropout zeroes elements with probability p and rescales by 1/(1-p) when train is true.
func Dropout(x *Tensor, p float64, train bool) *Tensor {
	var out C.dml_tensor
	st := C.dml_dropout(x.handle("dropout"), C.double(p), cbool(train), &out)
	runtime.KeepAlive(x)
	check(st, "dropout", x)
	return wrap(out)
}

// CrossEntropy is torch.nn.functional.cross_entropy with mean reduction and int64 targets.
func CrossEntropy(logits, target *Tensor) *Tensor {
	var out C.dml_tensor
	st := C.dml_cross_entropy(logits.handle("cross_entropy"), target.handle("cross_entropy"), &out)
	runtime.KeepAlive(logits)
	runtime.KeepAlive(target)
	check(st, "cross_entropy", logits, target)
	return wrap(out)
}

// InterpolateBilinear resizes an (N,C,H,W) tensor like F.interpolate(mode="bilinear").
// antialias uses libtorch's anti-aliased kernel (present in 1.13 and later).
func InterpolateBilinear(x *Tensor, size [2]int64, alignCorners bool, antialias bool) *Tensor {
	var out C.dml_tensor
	st := C.dml_interpolate_bilinear(x.handle("interpolate"), C.int64_t(size[0]), C.int64_t(size[1]),
		cbool(alignCorners), cbool(antialias), &out)
	runtime.KeepAlive(x)
	check(st, "interpolate", x)
	return wrap(out)
}
