package torch

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestNoShimLinked: the test binary, like dmlrun, neither needs libdmlshim or libtorch
// from the dynamic loader nor exports the stub names (the shim's calls between its own
// functions would bind to them).
func TestNoShimLinked(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if strings.Contains(l, "dmlshim") || strings.Contains(l, "torch") || strings.Contains(l, "c10") {
			t.Errorf("the binary needs %s (DT_NEEDED); it must load the shim with dlopen", l)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "dml_") && s.Section != elf.SHN_UNDEF {
			t.Errorf("the binary exports %s: the stubs must be hidden", s.Name)
		}
	}
}

func TestSearchPath(t *testing.T) {
	dir := t.TempDir()
	shimDir := filepath.Join(dir, "shim")
	if err := os.Mkdir(shimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, env, exe, build string
		want                  []string // candidate paths
		explicit              bool
	}{
		{name: "DMLRUN_SHIM file, nothing else", env: "/opt/x/libdmlshim.so", exe: "/r/bin/dmlrun", build: "/r/torch/csrc/build",
			want: []string{"/opt/x/libdmlshim.so"}, explicit: true},
		{name: "DMLRUN_SHIM folder", env: shimDir, exe: "/r/bin/dmlrun",
			want: []string{filepath.Join(shimDir, ShimName)}, explicit: true},
		{name: "checkout binary: ../torch/csrc/build is the build folder, once", exe: "/r/bin/dmlrun", build: "/r/torch/csrc/build",
			want: []string{"/r/bin/libdmlshim.so", "/r/torch/csrc/build/libdmlshim.so", ShimName}},
		{name: "copied binary", exe: "/opt/tools/dmlrun", build: "/home/u/dmlrun/torch/csrc/build",
			want: []string{"/opt/tools/libdmlshim.so", "/home/u/dmlrun/torch/csrc/build/libdmlshim.so", "/opt/torch/csrc/build/libdmlshim.so", ShimName}},
		{name: "no build folder recorded (-trimpath)", exe: "/r/bin/dmlrun", build: "",
			want: []string{"/r/bin/libdmlshim.so", "/r/torch/csrc/build/libdmlshim.so", ShimName}},
		{name: "relative build folder ignored", exe: "/r/bin/dmlrun", build: "torch/csrc/build",
			want: []string{"/r/bin/libdmlshim.so", "/r/torch/csrc/build/libdmlshim.so", ShimName}},
		{name: "no executable path", build: "/r/torch/csrc/build",
			want: []string{"/r/torch/csrc/build/libdmlshim.so", ShimName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cands, explicit := searchPath(c.env, c.exe, c.build)
			var got []string
			for _, k := range cands {
				got = append(got, k.path)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") || explicit != c.explicit {
				t.Errorf("got %q explicit %v, want %q explicit %v", got, explicit, c.want, c.explicit)
			}
		})
	}
}

// fakeShims builds small libraries that open but are not this checkout's shim, and one
// that does not open because a library it needs is gone. It needs gcc (cgo does too).
func fakeShims(t *testing.T) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc to build fake shims")
	}
	abi, err := os.ReadFile("csrc/shim_abi.h")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`#define DML_SHIM_ABI "([0-9a-f]+)"`).FindSubmatch(abi)
	if m == nil {
		t.Fatal("csrc/shim_abi.h has no DML_SHIM_ABI")
	}
	dir := t.TempDir()
	srcs := map[string]string{
		"noabi":    "int dml_unrelated(void) { return 0; }\n",
		"otherabi": `const char dml_shim_abi[] = "0123456789abcdef";` + "\n",
		"nofuncs":  `const char dml_shim_abi[] = "` + string(m[1]) + `";` + "\n",
		"dep":      "int dml_dep(void) { return 1; }\n",
		"needsdep": "int dml_dep(void); int dml_x(void) { return dml_dep(); }\n",
	}
	out := map[string]string{}
	for _, name := range []string{"noabi", "otherabi", "nofuncs", "dep", "needsdep"} {
		src := filepath.Join(dir, name+".c")
		if err := os.WriteFile(src, []byte(srcs[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		lib := filepath.Join(dir, "lib"+name+".so")
		args := []string{"-shared", "-fPIC", "-o", lib, src}
		if name == "needsdep" {
			args = append(args, "-L"+dir, "-Wl,--no-as-needed", "-ldep")
		}
		if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, b)
		}
		out[name] = lib
	}
	if err := os.Remove(out["dep"]); err != nil { // needsdep no longer opens
		t.Fatal(err)
	}
	return out
}

// TestLoadRefuses: what Load says for each way a location can be wrong. Only absolute
// candidates, and none that installs: this process's shim stays as it is.
func TestLoadRefuses(t *testing.T) {
	// The shim is loaded first, so the test also shows that refused libraries leave the
	// stubs' pointers alone (checked at the end).
	if err := Load(); err != nil {
		t.Skip(err)
	}
	real, _ := Shim()
	libs := fakeShims(t)
	junk := filepath.Join(t.TempDir(), ShimName)
	if err := os.WriteFile(junk, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none", ShimName)
	cand := func(p, where string) candidate { return candidate{path: p, where: where} }
	cases := []struct {
		name     string
		cands    []candidate
		explicit bool
		want     []string
	}{
		{name: "nothing there", cands: []candidate{cand(missing, "/a (next to the executable)"), cand(missing+"2", "/b (the build folder)")},
			want: []string{"cannot load libdmlshim.so from /a (next to the executable) and /b (the build folder): no such file; build it with make shim", "DMLRUN_SHIM=/path/libdmlshim.so"}},
		{name: "explicit file missing", cands: []candidate{cand(missing, "DMLRUN_SHIM="+missing)}, explicit: true,
			want: []string{"from DMLRUN_SHIM=" + missing + ": stat " + missing + ": no such file or directory; point DMLRUN_SHIM at"}},
		{name: "not a library, then nothing", cands: []candidate{cand(junk, "/j (the build folder)"), cand(missing, "/m (x)")},
			want: []string{"from /j (the build folder) and /m (x): " + junk + ": ", "make the libtorch it was built against findable"}},
		{name: "its library is gone", cands: []candidate{cand(libs["needsdep"], "/d (x)")},
			want: []string{libs["needsdep"] + ": libdep.so: cannot open shared object file", "make shim LIBTORCH=/path"}},
		{name: "no ABI digest", cands: []candidate{cand(libs["noabi"], "/n (x)"), cand(missing, "/never (y)")},
			want: []string{"from /n (x): " + libs["noabi"] + ": it exports no dml_shim_abi, so it was built from an older shim.h; rebuild it"}},
		{name: "another ABI", cands: []candidate{cand(libs["otherabi"], "/o (x)")},
			want: []string{libs["otherabi"] + ": it was built from another shim.h (ABI 0123456789abcdef; this program's stubs want "}},
		{name: "a function missing", cands: []candidate{cand(libs["nofuncs"], "/f (x)")},
			want: []string{libs["nofuncs"] + ": it lacks dml_status_free"}},
		{name: "a second shim in one process", cands: []candidate{cand(real, "/s (x)")},
			want: []string{real + ": a shim is already loaded in this process"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, err := load(c.cands, c.explicit, "")
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("load = %q, %v; want a *LoadError", path, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
	err := WithScope(func() error {
		if got := Ones([]int64{2, 3}, Float32, CPUDevice).Sum().Item(); got != 6 {
			t.Errorf("sum after the refusals = %v", got)
		}
		Zeros([]int64{2, 3}, Float32, CPUDevice).Matmul(Zeros([]int64{4, 5}, Float32, CPUDevice)) // a status to free
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "matmul") {
		t.Errorf("a failing op after the refusals: %v", err)
	}
}

// loadHelperEnv names the check TestLoadHelperProcess runs in a fresh process.
const loadHelperEnv = "DMLRUN_TORCH_LOAD_HELPER"

// TestLoadInFreshProcess runs the checks that need a process where nothing loaded the
// shim yet: this test binary again, with the helper's name in the environment.
func TestLoadInFreshProcess(t *testing.T) {
	if os.Getenv(loadHelperEnv) != "" {
		t.Skip("inside the helper")
	}
	build := buildDir()
	if _, err := os.Stat(filepath.Join(build, ShimName)); err != nil {
		t.Skipf("no shim in %s (make shim)", build)
	}
	cases := []struct {
		mode string
		env  []string
	}{
		{"fail", []string{"DMLRUN_SHIM=/nonexistent/" + ShimName}},
		{"lazy", []string{"OMP_NUM_THREADS=1"}},
		{"dir", []string{"DMLRUN_SHIM=" + build}},
		{"concurrent", nil},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLoadHelperProcess$", "-test.count=1", "-test.v")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "DMLRUN_SHIM=") && !strings.HasPrefix(kv, "OMP_NUM_THREADS=") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(append(env, loadHelperEnv+"="+c.mode), c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestLoadHelperProcess") {
				t.Errorf("helper %s: %v\n%s", c.mode, err, out)
			}
		})
	}
}

// mapped returns the lines of /proc/self/maps that map the shim or libtorch.
func mapped(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	var ls []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "libdmlshim") || strings.Contains(l, "libtorch") {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestLoadHelperProcess is the fresh process's side of TestLoadInFreshProcess.
func TestLoadHelperProcess(t *testing.T) {
	mode := os.Getenv(loadHelperEnv)
	if mode == "" {
		t.Skip("run by TestLoadInFreshProcess")
	}
	// Package initialisation (this package's and the test's) is over: nothing is loaded.
	if m := mapped(t); len(m) > 0 {
		t.Fatalf("before any torch call, the process maps\n%s", strings.Join(m, "\n"))
	}
	if p, err := Shim(); p != "" || err != nil {
		t.Fatalf("Shim() before any call = %q, %v", p, err)
	}
	switch mode {
	case "fail":
		err := Load()
		var le *LoadError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "DMLRUN_SHIM=/nonexistent/libdmlshim.so") {
			t.Fatalf("Load = %v", err)
		}
		if again := Load(); again != err {
			t.Errorf("second Load = %v, want the same error", again)
		}
		if _, serr := Shim(); serr != err {
			t.Errorf("Shim's error = %v", serr)
		}
		if v := Version(); v != "not loaded" {
			t.Errorf("Version = %q", v)
		}
		ran := false
		if perr := Pinned(1, func() error { ran = true; return nil }); perr != err || ran {
			t.Errorf("Pinned = %v (fn ran: %v), want Load's error and fn not run", perr, ran)
		}
		// Tensor work: each stub returns the not-loaded status; the binding panics with
		// *Error as for any libtorch failure, and Catch turns it into an error.
		// FromFloat32 returns a plain error instead (it touches a Go slice).
		for name, fn := range map[string]func() error{
			"zeros":       func() error { Zeros([]int64{2}, Float32, CPUDevice); return nil },
			"from_data":   func() error { _, err := FromFloat32([]float32{1}, 1); return err },
			"num_threads": func() error { NumThreads(); return nil },
			"cuda":        func() error { CUDAAvailable(); return nil },
		} {
			cerr := Catch(fn)
			var te *Error
			if name != "from_data" && !errors.As(cerr, &te) {
				t.Errorf("%s: %v, want a *Error", name, cerr)
			}
			if cerr == nil || !strings.Contains(cerr.Error(), "libdmlshim not loaded: cannot load libdmlshim.so from DMLRUN_SHIM=") {
				t.Errorf("%s: %v, want 'libdmlshim not loaded: cannot load ...'", name, cerr)
			}
		}
		if m := mapped(t); len(m) > 0 {
			t.Errorf("after a failed load, the process maps\n%s", strings.Join(m, "\n"))
		}
	case "lazy":
		// The first tensor operation loads the shim through its stub, not Load.
		x := Ones([]int64{3}, Float32, CPUDevice)
		defer x.Close()
		sum := x.Sum()
		defer sum.Close()
		if got := sum.Item(); got != 3 {
			t.Errorf("sum = %v", got)
		}
		p, err := Shim()
		if err != nil || p != filepath.Join(buildDir(), ShimName) {
			t.Errorf("Shim() = %q, %v; want the build folder's", p, err)
		}
		if len(mapped(t)) == 0 {
			t.Error("the shim is in use but /proc/self/maps shows no libdmlshim or libtorch")
		}
		if n := NumThreads(); n != 1 {
			t.Errorf("NumThreads = %d, want OMP_NUM_THREADS=1 set at load", n)
		}
		if v := Version(); v == "not loaded" || v == "" {
			t.Errorf("Version = %q", v)
		}
	case "dir":
		if err := Load(); err != nil {
			t.Fatal(err)
		}
		if p, _ := Shim(); p != filepath.Join(os.Getenv("DMLRUN_SHIM"), ShimName) {
			t.Errorf("Shim() = %q, want the DMLRUN_SHIM folder's", p)
		}
	case "concurrent":
		// Several first uses at once: one loads, the others wait for it, all succeed.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = Catch(func() error {
					x := Full([]int64{2}, float64(i), Float64, CPUDevice)
					defer x.Close()
					sum := x.Sum()
					defer sum.Close()
					if got := sum.Item(); got != float64(2*i) {
						t.Errorf("goroutine %d: sum %v", i, got)
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("goroutine %d: %v", i, err)
			}
		}
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}
