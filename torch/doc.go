// Package torch is dmlrun's own binding to libtorch (PyTorch's C++ library).
//
// It is a thin, hand-written layer: Go tensors own native tensors through a small C
// shim (csrc/shim.h, built as csrc/build/libdmlshim.so by `make shim`), and only the
// shim links libtorch, so the same Go binary runs on Debian's CPU libtorch 1.13 or on a
// CUDA libtorch 2.x by rebuilding the shim with LIBTORCH=/path.
//
// Failure model: functions that touch the outside world (files, devices, Go slices)
// return errors; tensor operations panic with *Error (op, input shapes, libtorch's
// message), which Catch and WithScope turn back into errors at a stage boundary.
//
// Memory: every tensor is closed explicitly or by the innermost Scope open when it was
// made; a runtime cleanup frees forgotten tensors only as a safety net and counts them
// (LeakedTensors). The scope stack is process-wide: torch work runs on one goroutine at
// a time (Lock/Unlock).
//
// What it is not: a generated wrapper of the whole libtorch API, a module/layer library
// (layers live with the stages that use them), or thread-safe for concurrent tensor work
// from several goroutines. Optimisers live in the optim subpackage.
package torch
