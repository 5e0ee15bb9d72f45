package torch

/*
#include <stdlib.h>
#include "shim.h"
void *dml_shim_open(const char *path, char **err);
char *dml_shim_install(void *h, char **path);
void dml_shim_fail(const char *why);
*/
import "C"

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

//go:generate go run ./internal/gen

// ShimName is the file name of the shim library.
const ShimName = "libdmlshim.so"

// shimBuildDir is the folder `make shim` wrote the shim to, recorded when the program is
// built (the Makefile passes -X dmlrun/torch.shimBuildDir=$(abspath $(BUILD))). Empty, the
// loader uses csrc/build next to this package's source as the compiler saw it, which is
// what the Makefile's default BUILD is and what `go test` and `go build` get.
var shimBuildDir string

var (
	loadOnce sync.Once
	loadDone atomic.Bool // set after loadPath and loadErr are final
	loadPath string
	loadErr  error
)

// Load loads libdmlshim (and through it libtorch) unless that was done or tried before, and
// returns why it failed, the same error on every call. Nothing in this package loads the
// shim at init: the first tensor operation or call that needs libtorch loads it, so
// commands that never touch a tensor never map libtorch. Callers that want a clean error
// before any tensor work call Load (Pinned does).
//
// Where it looks, in order:
//  1. $DMLRUN_SHIM, a file or a folder holding libdmlshim.so; when set, nothing else is
//     tried (an explicit choice is never replaced by another shim);
//  2. next to the executable (a shim copied beside a copied dmlrun);
//  3. the build folder recorded when the program was built (torch/csrc/build of the
//     checkout, or the Makefile's BUILD): the role the rpath had when the shim was linked;
//  4. ../torch/csrc/build from the executable's folder (bin/dmlrun of a moved checkout);
//  5. the system loader path: dlopen("libdmlshim.so"), which searches LD_LIBRARY_PATH,
//     ld.so.cache and the default library folders.
//
// A location without the file is skipped, one whose file dlopen refuses (typically: its
// libtorch is missing) is noted and the search goes on; the first file that opens is the
// shim, and if it was built from another shim.h (its ABI digest differs or a function is
// missing) loading fails there. The error (*LoadError) names every location tried and what
// went wrong.
func Load() error {
	loadOnce.Do(func() {
		defer loadDone.Store(true)
		exe, _ := os.Executable()
		cands, explicit := searchPath(os.Getenv("DMLRUN_SHIM"), exe, buildDir())
		loadPath, loadErr = load(cands, explicit, os.Getenv("LD_LIBRARY_PATH"))
		if loadErr != nil {
			why := C.CString(loadErr.Error())
			C.dml_shim_fail(why)
			C.free(unsafe.Pointer(why))
			return
		}
		// Debian's libtorch starts with one intra-op thread on some machines, so set the
		// count ourselves: OMP_NUM_THREADS when it is set (the variable every libtorch user
		// knows, and how tests run at 1 or 2 threads), else every CPU this process may use.
		// A failure is ignored here: Pinned sets the count again and reports it.
		if st := C.dml_set_num_threads(C.int(defaultThreads(os.Getenv("OMP_NUM_THREADS"), runtime.NumCPU()))); st != nil {
			C.dml_status_free(st)
		}
	})
	return loadErr
}

// Shim reports what loading did without loading anything: the file loaded, or why loading
// failed; both are zero while nothing has tried (`dmlrun version` prints them).
func Shim() (path string, err error) {
	if !loadDone.Load() {
		return "", nil
	}
	return loadPath, loadErr
}

// dmlrunLoadShim is what a stub calls when it runs before anything loaded the shim.
//
//export dmlrunLoadShim
func dmlrunLoadShim() { _ = Load() }

// LoadError is why the shim could not be loaded.
type LoadError struct {
	Tried  []string // the locations tried, in order, as the message names them
	Reason string   // what went wrong: dlerror's message, or why an opened shim was refused
	Fix    string   // what to do about it
}

// Error reads "cannot load libdmlshim.so from A, B and C: reason; fix".
func (e *LoadError) Error() string {
	var tried string
	switch n := len(e.Tried); n {
	case 0:
		tried = "nowhere"
	case 1:
		tried = e.Tried[0]
	default:
		tried = strings.Join(e.Tried[:n-1], ", ") + " and " + e.Tried[n-1]
	}
	return "cannot load " + ShimName + " from " + tried + ": " + e.Reason + "; " + e.Fix
}

// candidate is one place the shim may be: a file path, or the bare name for the system
// loader's own search.
type candidate struct {
	path  string
	where string // how an error names it
}

// buildDir is shimBuildDir, else csrc/build beside this file's source (runtime.Caller
// gives the path the compiler read it from; under -trimpath it is not absolute and there is
// no build folder to record).
func buildDir() string {
	if shimBuildDir != "" {
		return shimBuildDir
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return filepath.Join(filepath.Dir(file), "csrc", "build")
	}
	return ""
}

// searchPath lists where to look, in Load's order, without duplicates; explicit is true
// when $DMLRUN_SHIM chose the only candidate.
func searchPath(env, exe, build string) (cands []candidate, explicit bool) {
	if env != "" {
		p := env
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, ShimName)
		}
		return []candidate{{path: p, where: "DMLRUN_SHIM=" + env}}, true
	}
	seen := map[string]bool{}
	add := func(dir, why string) {
		if dir == "" || !filepath.IsAbs(dir) {
			return
		}
		p := filepath.Join(dir, ShimName)
		if seen[p] {
			return
		}
		seen[p] = true
		cands = append(cands, candidate{path: p, where: filepath.Clean(dir) + " (" + why + ")"})
	}
	exeDir := ""
	if exe != "" {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		exeDir = filepath.Dir(exe)
	}
	add(exeDir, "next to the executable")
	add(build, "the build folder")
	if exeDir != "" {
		add(filepath.Join(exeDir, "..", "torch", "csrc", "build"), "the executable's ../torch/csrc/build")
	}
	cands = append(cands, candidate{path: ShimName, where: "the system loader path"})
	return cands, false
}

// load tries the candidates in order and installs the first shim that opens.
func load(cands []candidate, explicit bool, ldPath string) (string, error) {
	var tried, failures []string
	sysErr := ""
	for _, c := range cands {
		where := c.where
		if c.path == ShimName {
			if ldPath == "" {
				where += " (LD_LIBRARY_PATH unset)"
			} else {
				where += " (LD_LIBRARY_PATH=" + ldPath + ")"
			}
		}
		tried = append(tried, where)
		if filepath.IsAbs(c.path) || strings.Contains(c.path, "/") {
			if _, err := os.Stat(c.path); err != nil {
				if explicit {
					failures = append(failures, err.Error())
				}
				continue
			}
		}
		h, derr := dlopen(c.path)
		if h == nil {
			if c.path == ShimName {
				sysErr = derr
				continue
			}
			if !strings.HasPrefix(derr, c.path) {
				derr = c.path + ": " + derr
			}
			failures = append(failures, derr)
			continue
		}
		path, why := install(h)
		if why != "" {
			return "", &LoadError{Tried: []string{where}, Reason: c.path + ": " + why,
				Fix: "rebuild it from this checkout's torch/csrc with make shim, or point DMLRUN_SHIM at one that was"}
		}
		if path == "" {
			path = c.path
		}
		return path, nil
	}
	e := &LoadError{Tried: tried}
	switch {
	case len(failures) > 0:
		// A shim that exists but does not open says more than "not found" elsewhere.
		e.Reason = strings.Join(failures, "; ")
	case sysErr != "":
		e.Reason = sysErr
	default:
		e.Reason = "no such file"
	}
	switch {
	case explicit:
		e.Fix = "point DMLRUN_SHIM at a " + ShimName + " built with make shim, or unset it to search the usual places"
	case len(failures) > 0:
		e.Fix = "make the libtorch it was built against findable (LD_LIBRARY_PATH), rebuild it against this machine's with make shim LIBTORCH=/path, or set DMLRUN_SHIM=/path/" + ShimName
	default:
		e.Fix = "build it with make shim (make shim LIBTORCH=/path for another libtorch), or set DMLRUN_SHIM=/path/" + ShimName
	}
	return "", e
}

// dlopen opens path with the C loader; on failure it returns nil and dlerror's message.
func dlopen(path string) (unsafe.Pointer, string) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	var cerr *C.char
	h := C.dml_shim_open(cs, &cerr)
	if h == nil {
		msg := C.GoString(cerr)
		C.free(unsafe.Pointer(cerr))
		return nil, strings.TrimSpace(msg)
	}
	return h, ""
}

// install checks and resolves an open shim; on success the stubs call it from now on and
// path is the file the loader mapped.
func install(h unsafe.Pointer) (path, why string) {
	var cpath *C.char
	if msg := C.dml_shim_install(h, &cpath); msg != nil {
		why = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
		return "", why
	}
	if cpath != nil {
		path = C.GoString(cpath)
		C.free(unsafe.Pointer(cpath))
	}
	return path, ""
}
