// Package torch is dmlrun's own binding to libtorch (PyTorch's C++ library).
//
// It is a thin, hand-written layer: Go tensors own native tensors through a small C
// shim (csrc/shim.h, built as csrc/build/libdmlshim.so by `make shim`), and only the
// shim links libtorch, so the same Go binary runs on Debian's CPU libtorch 1.13 or on a
// CUDA libtorch 2.x by rebuilding the shim with LIBTORCH=/path.
//
// Loading: the Go binary does not link the shim. shim_stubs.c, generated from shim.h by
// internal/gen (`go generate ./torch`), has one C function per shim function with its name
// and signature, calling the shim through a pointer from dlsym; the first call that needs
// libtorch loads it once (Load: $DMLRUN_SHIM, next to the executable, the build folder
// recorded at build time, ../torch/csrc/build, then the system loader path with
// LD_LIBRARY_PATH). Until then nothing of libtorch is mapped, so a program that never
// touches a tensor starts in milliseconds and runs where libtorch is not installed. When
// loading fails, Load, Pinned and Version say why (*LoadError: every location tried and
// what to do), and every tensor operation fails with "libdmlshim not loaded: <why>". The
// shim exports a digest of shim.h (csrc/shim_abi.h) and a shim built from another header
// is refused rather than called with the wrong arguments.
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
// What it is not: a generated wrapper of the whole libtorch API (only the stubs of the
// hand-written shim are generated), a module/layer library (layers live with the stages
// that use them), or thread-safe for concurrent tensor work from several goroutines.
// Optimisers live in the optim subpackage.
package torch
