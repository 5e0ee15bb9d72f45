package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestGeneratedFilesAreCurrent fails when csrc/shim.h changed and `go generate ./torch`
// was not run: the committed stubs would call the shim with another header's signatures.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	src, err := os.ReadFile("../../csrc/shim.h")
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(string(src))
	if err != nil {
		t.Fatalf("csrc/shim.h: %v", err)
	}
	for _, f := range []struct {
		path string
		want []byte
	}{
		{"../../shim_stubs.c", Stubs(h)},
		{"../../csrc/shim_abi.h", ABIHeader(h)},
	} {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s is stale: run go generate ./torch (and make shim)", strings.TrimPrefix(f.path, "../../"))
		}
	}
	// Every prototype of the header has its stub: counted independently of the parser, by
	// the lines that start a declaration.
	n := 0
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "dml_status dml_") || strings.HasPrefix(l, "void dml_") {
			n++
		}
	}
	if len(h.Funcs) != n {
		t.Errorf("parsed %d prototypes, shim.h has %d lines starting one", len(h.Funcs), n)
	}
}

func TestParse(t *testing.T) {
	const pre = "#include <stdint.h>\nvoid dml_status_free(dml_status s);\n"
	cases := []struct {
		name    string
		src     string
		want    []string // "ret name(types)" per function after dml_status_free
		wantErr string
	}{
		{name: "plain", src: "dml_status dml_a(int n, double v);",
			want: []string{"dml_status dml_a(int n, double v)"}},
		{name: "pointers and const", src: "dml_status dml_b(const int64_t *shape, dml_tensor *out);",
			want: []string{"dml_status dml_b(const int64_t *shape, dml_tensor *out)"}},
		{name: "no params", src: "dml_status dml_c(void);", want: []string{"dml_status dml_c(void)"}},
		{name: "spans lines with comments", src: "dml_status dml_d(dml_tensor x, /* borrowed */\n   int keep, // flag\n dml_tensor *out);",
			want: []string{"dml_status dml_d(dml_tensor x, int keep, dml_tensor *out)"}},
		{name: "void function", src: "void dml_e(char *buf, int cap);", want: []string{"void dml_e(char *buf, int cap)"}},
		{name: "enums and typedefs skipped", src: "typedef struct dml_tensor_s *dml_tensor;\ntypedef enum {\n A = 0,\n B = 1,\n} dml_x;\ndml_status dml_f(int a);",
			want: []string{"dml_status dml_f(int a)"}},
		{name: "unnamed parameter", src: "dml_status dml_g(int, double v);", wantErr: "dml_g: parameter 1"},
		{name: "unnamed pointer parameter", src: "dml_status dml_g(dml_tensor *);", wantErr: "dml_g: parameter 1"},
		{name: "type word as name", src: "dml_status dml_g(const int);", wantErr: "dml_g: parameter 1"},
		{name: "array parameter", src: "dml_status dml_g(int v[2]);", wantErr: "dml_g: parameter 1"},
		{name: "function pointer", src: "dml_status dml_g(void (*cb)(int));", wantErr: "dml_g"},
		{name: "other return type", src: "int dml_h(int a);", wantErr: "dml_h returns int"},
		{name: "not a dml_ function", src: "dml_status other(int a);", wantErr: "want a prototype"},
		{name: "twice", src: "dml_status dml_a(int n);\ndml_status dml_a(int n);", wantErr: "dml_a is declared twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := Parse(pre + c.src)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range h.Funcs[1:] {
				got = append(got, f.Ret+" "+f.Name+"("+f.paramList()+")")
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
	if _, err := Parse("dml_status dml_a(int n);"); err == nil || !strings.Contains(err.Error(), "no dml_status_free") {
		t.Errorf("a header without dml_status_free: err = %v", err)
	}
}

// TestABI: the digest follows what a caller depends on (types, order, codes) and nothing
// else (comments, spacing, parameter names).
func TestABI(t *testing.T) {
	const base = "void dml_status_free(dml_status s);\ntypedef enum { A = 0, B = 1 } e;\ndml_status dml_a(int n, const int64_t *v);\n"
	abi := func(src string) string {
		t.Helper()
		h, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return ABI(h)
	}
	ref := abi(base)
	for _, c := range []struct {
		name string
		src  string
		same bool
	}{
		{"comments and spacing", "/* x */ void  dml_status_free(dml_status s);\ntypedef enum {\n A = 0, // a\n B = 1\n} e;\ndml_status dml_a( int n,\n const int64_t* v );\n", true},
		{"parameter names", "void dml_status_free(dml_status x);\ntypedef enum { A = 0, B = 1 } e;\ndml_status dml_a(int count, const int64_t *vals);\n", true},
		{"parameter type", "void dml_status_free(dml_status s);\ntypedef enum { A = 0, B = 1 } e;\ndml_status dml_a(int64_t n, const int64_t *v);\n", false},
		{"enum code", "void dml_status_free(dml_status s);\ntypedef enum { A = 0, B = 2 } e;\ndml_status dml_a(int n, const int64_t *v);\n", false},
		{"one more function", base + "dml_status dml_b(int n);\n", false},
	} {
		if got := abi(c.src) == ref; got != c.same {
			t.Errorf("%s: same digest = %v, want %v", c.name, got, c.same)
		}
	}
}

// TestStubBodies: what each kind of function does when the shim is not loaded.
func TestStubBodies(t *testing.T) {
	h, err := Parse("void dml_status_free(dml_status s);\nvoid dml_version(char *buf, int cap);\ndml_status dml_a(int n, dml_tensor *out);\n")
	if err != nil {
		t.Fatal(err)
	}
	out := string(Stubs(h))
	for _, want := range []string{
		"void dml_status_free(dml_status s) {\n  if (!dml_shim_ready()) {\n    dml_shim_free_status(s);\n    return;\n  }\n  fns.dml_status_free(s);\n}",
		"void dml_version(char *buf, int cap) {\n  if (!dml_shim_ready()) return;\n  fns.dml_version(buf, cap);\n}",
		"dml_status dml_a(int n, dml_tensor *out) {\n  if (!dml_shim_ready()) return dml_shim_not_loaded();\n  return fns.dml_a(n, out);\n}",
		"if ((pending.dml_a = (dml_a_fn)dlsym(h, \"dml_a\")) == NULL) return \"dml_a\";",
		"void dml_shim_commit(void) { fns = pending; }",
		"#pragma GCC visibility push(hidden)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stubs lack\n%s", want)
		}
	}
}
