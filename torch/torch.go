package torch

/*
#cgo CFLAGS: -I${SRCDIR}/csrc
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Error is the panic value of a failed tensor operation: the operation, the shapes of
// its tensor inputs and libtorch's message. Catch turns it into a returned error.
type Error struct {
	Op     string
	Shapes [][]int64
	Msg    string
}

// Error reads "torch: matmul [2 3] x [4 5]: <libtorch message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("torch: ")
	b.WriteString(e.Op)
	for i, s := range e.Shapes {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(" x ")
		}
		fmt.Fprint(&b, s)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Catch runs fn and returns its error; a *Error panic inside fn is recovered and returned
// as the error. Any other panic is re-panicked.
func Catch(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if te, ok := r.(*Error); ok {
				err = te
				return
			}
			panic(r)
		}
	}()
	return fn()
}

// statusError consumes a shim status; it returns nil for success.
func statusError(st C.dml_status) error {
	if st == nil {
		return nil
	}
	msg := C.GoString(st)
	C.dml_status_free(st)
	return errors.New(strings.TrimSpace(msg))
}

// check panics with a *Error naming op and the shapes of ins when st reports a failure.
func check(st C.dml_status, op string, ins ...*Tensor) {
	if st == nil {
		return
	}
	msg := strings.TrimSpace(C.GoString(st))
	C.dml_status_free(st)
	e := &Error{Op: op, Msg: msg}
	for _, t := range ins {
		if t == nil || t.h == nil {
			continue
		}
		e.Shapes = append(e.Shapes, t.Shape())
	}
	panic(e)
}

var (
	liveCount   atomic.Int64
	leakedCount atomic.Int64
	serials     atomic.Uint64 // the last serial number given to a tensor
)

// LiveTensors returns the number of native tensors currently owned by Go handles, in the
// whole process. Tests that look for leaks use a Census instead: this count also moves
// when the safety net frees what other code forgot, at a time the GC chooses.
func LiveTensors() int { return int(liveCount.Load()) }

// LeakedTensors returns how many tensors were freed by the garbage-collector safety net
// instead of Close or a scope: each one is a leak in the caller.
func LeakedTensors() int { return int(leakedCount.Load()) }

// Census counts the tensors made after it started: how many are still open and how many
// the safety net had to free. It sees only what the code under test made, whatever the
// garbage collector does with tensors that earlier code left behind. Safe for concurrent
// use; Stop it when done.
type Census struct {
	start  uint64 // tensors with a larger serial were made after the census started
	live   atomic.Int64
	leaked atomic.Int64
}

var (
	censusMu sync.Mutex
	censuses []*Census
	censusOn atomic.Bool
)

// StartCensus starts counting tensors made from now on.
func StartCensus() *Census {
	censusMu.Lock()
	defer censusMu.Unlock()
	c := &Census{start: serials.Load()}
	censuses = append(censuses, c)
	censusOn.Store(true)
	return c
}

// Live returns how many tensors made since the census started are still open.
func (c *Census) Live() int { return int(c.live.Load()) }

// Leaked returns how many tensors made since the census started were freed by the
// garbage-collector safety net instead of Close or a scope.
func (c *Census) Leaked() int { return int(c.leaked.Load()) }

// Stop ends the census; its counts stay readable.
func (c *Census) Stop() {
	censusMu.Lock()
	defer censusMu.Unlock()
	for i, x := range censuses {
		if x == c {
			censuses = append(censuses[:i], censuses[i+1:]...)
			break
		}
	}
	censusOn.Store(len(censuses) > 0)
}

// countCensus adds d to the live count, and leaked to the leak count, of every running
// census that started before the tensor with this serial was made.
func countCensus(serial uint64, d int64, leaked bool) {
	if !censusOn.Load() {
		return
	}
	censusMu.Lock()
	defer censusMu.Unlock()
	for _, c := range censuses {
		if serial > c.start {
			c.live.Add(d)
			if leaked {
				c.leaked.Add(1)
			}
		}
	}
}

// Tensor owns one native libtorch tensor. Close it (or let its scope close it); the
// garbage collector frees forgotten ones only as a safety net.
type Tensor struct {
	h       C.dml_tensor
	serial  uint64
	scope   *Scope
	cleanup runtime.Cleanup
}

// leakRecord is what the safety net needs to free a forgotten tensor (not the *Tensor:
// a cleanup must not keep its object reachable).
type leakRecord struct {
	h      C.dml_tensor
	serial uint64
}

func freeLeaked(r leakRecord) {
	C.dml_tensor_free(r.h)
	liveCount.Add(-1)
	leakedCount.Add(1)
	countCensus(r.serial, -1, true)
}

// wrap takes ownership of a fresh handle and registers it with the innermost scope.
func wrap(h C.dml_tensor) *Tensor {
	if h == nil {
		return nil
	}
	t := &Tensor{h: h, serial: serials.Add(1)}
	liveCount.Add(1)
	countCensus(t.serial, 1, false)
	t.cleanup = runtime.AddCleanup(t, freeLeaked, leakRecord{h, t.serial})
	scopeMu.Lock()
	if s := topScope; s != nil {
		t.scope = s
		s.ts = append(s.ts, t)
	}
	scopeMu.Unlock()
	return t
}

// Close frees the native tensor. It is idempotent; using t afterwards panics with *Error.
func (t *Tensor) Close() {
	if t == nil || t.h == nil {
		return
	}
	t.cleanup.Stop()
	C.dml_tensor_free(t.h)
	t.h = nil
	liveCount.Add(-1)
	countCensus(t.serial, -1, false)
}

// Unscope removes t from the scope that owns it, if any: the caller now owns t and
// must Close it. Used for values that outlive every step scope (optimiser state).
func (t *Tensor) Unscope() *Tensor {
	if t == nil {
		return nil
	}
	scopeMu.Lock()
	t.scope = nil
	scopeMu.Unlock()
	return t
}

// Closed reports whether t has been closed.
func (t *Tensor) Closed() bool { return t == nil || t.h == nil }

// handle returns the native handle, panicking with *Error when t is nil or closed.
func (t *Tensor) handle(op string) C.dml_tensor {
	if t == nil {
		panic(&Error{Op: op, Msg: "nil tensor"})
	}
	if t.h == nil {
		panic(&Error{Op: op, Msg: "use of closed tensor"})
	}
	return t.h
}

// optHandle is handle for optional arguments: nil gives a NULL handle.
func optHandle(t *Tensor, op string) C.dml_tensor {
	if t == nil {
		return nil
	}
	return t.handle(op)
}

// Scope collects every tensor created while it is the innermost open scope and frees
// them on Close, except those passed to Keep.
type Scope struct {
	parent *Scope
	ts     []*Tensor
	closed bool
}

var (
	scopeMu  sync.Mutex
	topScope *Scope
)

// NewScope pushes a new innermost scope on the process-wide scope stack.
func NewScope() *Scope {
	scopeMu.Lock()
	defer scopeMu.Unlock()
	s := &Scope{parent: topScope}
	topScope = s
	return s
}

// Keep detaches ts from s so that s.Close does not free them; they move to the enclosing
// scope if there is one, else they become unscoped (the caller closes them).
func (s *Scope) Keep(ts ...*Tensor) {
	scopeMu.Lock()
	defer scopeMu.Unlock()
	for _, t := range ts {
		if t == nil || t.scope != s {
			continue
		}
		p := s.parent
		for p != nil && p.closed {
			p = p.parent
		}
		t.scope = p
		if p != nil {
			p.ts = append(p.ts, t)
		}
	}
}

// Close frees every tensor still owned by s and pops it from the stack. Idempotent.
func (s *Scope) Close() {
	scopeMu.Lock()
	if s.closed {
		scopeMu.Unlock()
		return
	}
	s.closed = true
	if topScope == s {
		topScope = s.parent
	} else {
		for c := topScope; c != nil; c = c.parent {
			if c.parent == s {
				c.parent = s.parent
				break
			}
		}
	}
	ts := s.ts
	s.ts = nil
	scopeMu.Unlock()
	for _, t := range ts {
		if t.scope == s {
			t.scope = nil
			t.Close()
		}
	}
}

// WithScope runs fn inside a new scope: *Error panics become the returned error and
// every tensor made inside that was not kept is freed.
func WithScope(fn func() error) error {
	s := NewScope()
	defer s.Close()
	return Catch(fn)
}

var workMu sync.Mutex

// Lock serialises torch work between goroutines (the scope stack is process-wide).
func Lock() { workMu.Lock() }

// Unlock releases Lock.
func Unlock() { workMu.Unlock() }

// Pinned runs fn as the body of a libtorch node, the one place that sets up what every such
// node needs: it takes Lock (scopes are process-wide), pins the goroutine to one OS thread
// (libtorch keeps its intra-op thread count, grad mode and autocast state per thread, so every
// op must run on the thread where they were set, or results depend on which thread an op
// lands on and a resumed run is not bit-identical; glibc's per-thread malloc arenas also stop
// growing), sets the thread count (threads < 1 leaves it as it is) and turns a tensor panic
// into an error (Catch). fn must not call Pinned or Lock itself. When the shim cannot be
// loaded it returns Load's error without running fn: every libtorch stage gets one clean
// error naming what is missing.
func Pinned(threads int, fn func() error) error {
	if err := Load(); err != nil {
		return err
	}
	workMu.Lock()
	defer workMu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return Catch(func() error {
		SetNumThreads(threads)
		return fn()
	})
}

// Version returns the libtorch version the shim was built against, e.g. "1.13.0", loading
// the shim; "not loaded" when it cannot be loaded (Load says why).
func Version() string {
	if Load() != nil {
		return "not loaded"
	}
	var buf [64]C.char
	C.dml_version(&buf[0], C.int(len(buf)))
	return C.GoString(&buf[0])
}

// SetNumThreads sets libtorch's intra-op thread count (n < 1 is ignored).
func SetNumThreads(n int) {
	if n < 1 {
		return
	}
	check(C.dml_set_num_threads(C.int(n)), "set_num_threads")
}

// NumThreads returns libtorch's intra-op thread count.
func NumThreads() int {
	var n C.int
	check(C.dml_get_num_threads(&n), "get_num_threads")
	return int(n)
}

// ManualSeed seeds the CPU generator and every CUDA generator.
func ManualSeed(seed uint64) {
	check(C.dml_manual_seed(C.uint64_t(seed)), "manual_seed")
}

// CUDAAvailable reports whether the linked libtorch sees a usable CUDA device.
func CUDAAvailable() bool {
	var v C.int
	check(C.dml_cuda_available(&v), "cuda_available")
	return v != 0
}

// CUDADeviceCount returns the number of CUDA devices (0 without CUDA).
func CUDADeviceCount() int {
	var v C.int
	check(C.dml_cuda_device_count(&v), "cuda_device_count")
	return int(v)
}

// defaultThreads (Load's initial thread count) is OMP_NUM_THREADS's value when it is a whole number >= 1, else ncpu.
func defaultThreads(omp string, ncpu int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(omp)); err == nil && n >= 1 {
		return n
	}
	return ncpu
}

// int64Ptr returns a C pointer to the first element of v, or nil when v is empty.
func int64Ptr(v []int64) *C.int64_t {
	if len(v) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
