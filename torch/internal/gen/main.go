// Command gen writes the torch package's lazy-loading stubs from the shim's C header:
// torch/shim_stubs.c (one C function per shim.h function, same name and signature, calling
// the shim through a pointer resolved with dlsym) and torch/csrc/shim_abi.h (a digest of
// the header's declarations that the shim exports and the loader compares). Run it with
// `go generate ./torch` after editing csrc/shim.h; a test fails while the files are stale.
//
// It understands exactly the C that shim.h uses: typedef'd enums of NAME = value lines and
// prototypes returning dml_status or void whose parameters all have names. Anything else
// in a declaration is an error naming the declaration, so a header change the stubs cannot
// follow stops the generator instead of producing a stub that calls with the wrong
// arguments.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
)

func main() {
	header := flag.String("header", "csrc/shim.h", "the shim's C header")
	stubs := flag.String("stubs", "shim_stubs.c", "the stub file to write")
	abi := flag.String("abi", "csrc/shim_abi.h", "the ABI digest header to write")
	flag.Parse()
	if err := run(*header, *stubs, *abi); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(headerPath, stubsPath, abiPath string) error {
	src, err := os.ReadFile(headerPath)
	if err != nil {
		return err
	}
	h, err := Parse(string(src))
	if err != nil {
		return fmt.Errorf("%s: %w", headerPath, err)
	}
	if err := writeIfChanged(stubsPath, Stubs(h)); err != nil {
		return err
	}
	return writeIfChanged(abiPath, ABIHeader(h))
}

// writeIfChanged leaves an up-to-date file alone, so make does not rebuild the shim for
// nothing (shim_abi.h is one of its prerequisites).
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}

// Param is one named parameter of a prototype: Type is everything before the name
// ("const int64_t *"), Name the identifier.
type Param struct {
	Type string
	Name string
}

// Func is one prototype of shim.h.
type Func struct {
	Ret    string // "dml_status" or "void"
	Name   string
	Params []Param
}

// Header is what the generator reads from shim.h: its prototypes in file order and its enum
// constants (only for the ABI digest: a renumbered code changes the contract too).
type Header struct {
	Funcs []Func
	Enums []string // "NAME=value", in file order
}

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	lineComment  = regexp.MustCompile(`//[^\n]*`)
	space        = regexp.MustCompile(`\s+`)
	enumDecl     = regexp.MustCompile(`^typedef enum \{(.*)\} (\w+)$`)
	protoDecl    = regexp.MustCompile(`^(\w+) (dml_\w+) ?\((.*)\)$`)
	paramDecl    = regexp.MustCompile(`^(.*?[\s*])([A-Za-z_]\w*)$`)
	ident        = regexp.MustCompile(`^[A-Za-z_]\w*$`)
)

// Parse reads shim.h's declarations. Comments and preprocessor lines are dropped; the
// rest is split at semicolons (enum bodies end with a brace, so their commas stay inside
// one statement) and each statement must be a typedef or a prototype.
func Parse(src string) (*Header, error) {
	src = blockComment.ReplaceAllString(src, " ")
	src = lineComment.ReplaceAllString(src, " ")
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") || t == `extern "C" {` || t == "}" {
			continue
		}
		lines = append(lines, l)
	}
	h := &Header{}
	seen := map[string]bool{}
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		s := strings.TrimSpace(space.ReplaceAllString(stmt, " "))
		if s == "" {
			continue
		}
		if m := enumDecl.FindStringSubmatch(s); m != nil {
			for _, c := range strings.Split(m[1], ",") {
				c = strings.ReplaceAll(strings.TrimSpace(c), " ", "")
				if c != "" {
					h.Enums = append(h.Enums, c)
				}
			}
			continue
		}
		if strings.HasPrefix(s, "typedef ") {
			continue // dml_tensor, dml_status: the stubs include shim.h for them
		}
		f, err := parseProto(s)
		if err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%s is declared twice", f.Name)
		}
		seen[f.Name] = true
		h.Funcs = append(h.Funcs, f)
	}
	if len(h.Funcs) == 0 {
		return nil, fmt.Errorf("no dml_ prototypes found")
	}
	if !seen["dml_status_free"] {
		return nil, fmt.Errorf("no dml_status_free: the stubs need it to free the statuses they make")
	}
	return h, nil
}

func parseProto(s string) (Func, error) {
	m := protoDecl.FindStringSubmatch(s)
	if m == nil {
		return Func{}, fmt.Errorf("declaration %q: want a prototype `dml_status|void dml_name(type name, ...)`", s)
	}
	f := Func{Ret: m[1], Name: m[2]}
	if f.Ret != "dml_status" && f.Ret != "void" {
		return Func{}, fmt.Errorf("%s returns %s: the stubs know only dml_status (a not-loaded status) and void (nothing)", f.Name, f.Ret)
	}
	args := strings.TrimSpace(m[3])
	if args == "void" || args == "" {
		return f, nil
	}
	for i, a := range strings.Split(args, ",") {
		a = strings.TrimSpace(a)
		pm := paramDecl.FindStringSubmatch(a)
		if pm == nil || strings.TrimSpace(pm[1]) == "" || isTypeWord(pm[2]) || strings.ContainsAny(a, "()[]") {
			return Func{}, fmt.Errorf("%s: parameter %d %q: want `type name` (every parameter named, no arrays or function pointers)", f.Name, i+1, a)
		}
		typ := strings.TrimSpace(pm[1])
		for _, w := range strings.FieldsFunc(typ, func(r rune) bool { return r == ' ' || r == '*' }) {
			if !ident.MatchString(w) {
				return Func{}, fmt.Errorf("%s: parameter %d %q: cannot read its type", f.Name, i+1, a)
			}
		}
		f.Params = append(f.Params, Param{Type: typ, Name: pm[2]})
	}
	return f, nil
}

// isTypeWord catches a parameter without a name ("int", "dml_tensor"): its last word would
// otherwise be taken for the name.
func isTypeWord(w string) bool {
	switch w {
	case "int", "double", "float", "char", "void", "const", "unsigned", "long",
		"int64_t", "uint64_t", "int32_t", "uint8_t", "dml_tensor", "dml_status":
		return true
	}
	return false
}

// decl is a parameter as C writes it: "const int64_t *shape", "int n".
func (p Param) decl() string {
	if strings.HasSuffix(p.Type, "*") {
		return p.Type + p.Name
	}
	return p.Type + " " + p.Name
}

func (f Func) paramList() string {
	if len(f.Params) == 0 {
		return "void"
	}
	var ds []string
	for _, p := range f.Params {
		ds = append(ds, p.decl())
	}
	return strings.Join(ds, ", ")
}

func (f Func) argList() string {
	var ns []string
	for _, p := range f.Params {
		ns = append(ns, p.Name)
	}
	return strings.Join(ns, ", ")
}

// ABI is the digest of the declarations that matter to a caller: prototypes with their
// parameter types and the enum codes, normalised (comments, spacing and parameter names do
// not count). 16 hex digits are plenty to tell two headers apart.
func ABI(h *Header) string {
	var b strings.Builder
	for _, f := range h.Funcs {
		fmt.Fprintf(&b, "%s %s(", f.Ret, f.Name)
		for i, p := range f.Params {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strings.ReplaceAll(p.Type, " ", ""))
		}
		b.WriteString(");")
	}
	for _, e := range h.Enums {
		b.WriteString(e + ";")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// fallback is what a stub does when the shim is not loaded, by function: statuses are
// made by the stubs then, so the stubs free them; other void functions do nothing.
var fallback = map[string]string{
	"dml_status_free": "dml_shim_free_status(s);",
}

// Stubs is the text of shim_stubs.c.
func Stubs(h *Header) []byte {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("// Code generated by torch/internal/gen from csrc/shim.h; DO NOT EDIT.\n")
	p("// Regenerate with `go generate ./torch` after editing csrc/shim.h.\n\n")
	p("// One stub per shim.h function, with its name and signature, so the Go code calls the\n")
	p("// shim as if it were linked. Each stub loads the shim on first use (dml_shim_ready) and\n")
	p("// calls it through a pointer dml_shim_resolve took from dlsym; when loading failed, a\n")
	p("// dml_status function returns an owned \"libdmlshim not loaded: <why>\" status and a void\n")
	p("// one does nothing. Hidden visibility keeps these names out of the executable's dynamic\n")
	p("// symbol table: the shim's own calls between its functions must bind to the shim, never\n")
	p("// back to a stub.\n\n")
	p("#include <dlfcn.h>\n#include <stdlib.h>\n\n")
	p("#pragma GCC visibility push(hidden)\n")
	p("#include \"shim.h\"\n#include \"shim_loader.h\"\n\n")
	p("const char dml_shim_abi_expected[] = \"%s\";\n\n", ABI(h))
	for _, f := range h.Funcs {
		p("typedef %s (*%s_fn)(%s);\n", f.Ret, f.Name, f.paramList())
	}
	p("\nstatic struct {\n")
	for _, f := range h.Funcs {
		p("  %s_fn %s;\n", f.Name, f.Name)
	}
	p("} fns, pending;\n\n")
	p("// dml_shim_resolve fills a pending pointer table from an open shim; it returns the name\n")
	p("// of the first missing symbol, or NULL when every one was found. The stubs' table\n")
	p("// changes only at dml_shim_commit: a refused library leaves it as it was.\n")
	p("const char *dml_shim_resolve(void *h) {\n")
	for _, f := range h.Funcs {
		p("  if ((pending.%s = (%s_fn)dlsym(h, \"%s\")) == NULL) return \"%s\";\n", f.Name, f.Name, f.Name, f.Name)
	}
	p("  return NULL;\n}\n\n")
	p("// dml_shim_commit makes the stubs call the shim dml_shim_resolve read.\n")
	p("void dml_shim_commit(void) { fns = pending; }\n")
	for _, f := range h.Funcs {
		p("\n%s %s(%s) {\n", f.Ret, f.Name, f.paramList())
		if f.Ret == "void" {
			fb := fallback[f.Name]
			if fb == "" {
				p("  if (!dml_shim_ready()) return;\n")
			} else {
				p("  if (!dml_shim_ready()) {\n    %s\n    return;\n  }\n", fb)
			}
			p("  fns.%s(%s);\n}\n", f.Name, f.argList())
			continue
		}
		p("  if (!dml_shim_ready()) return dml_shim_not_loaded();\n")
		p("  return fns.%s(%s);\n}\n", f.Name, f.argList())
	}
	p("\n#pragma GCC visibility pop\n")
	return b.Bytes()
}

// ABIHeader is the text of csrc/shim_abi.h, which shim.cpp includes to export the digest.
func ABIHeader(h *Header) []byte {
	return []byte(fmt.Sprintf(`/* Code generated by torch/internal/gen from shim.h; DO NOT EDIT. */
/* The digest of shim.h's declarations: shim.cpp exports it as dml_shim_abi and the torch
   package refuses a shim whose digest differs from the one its stubs were generated with
   (a shim built from another shim.h would be called with the wrong arguments). */
#ifndef DMLRUN_SHIM_ABI_H
#define DMLRUN_SHIM_ABI_H
#define DML_SHIM_ABI "%s"
#endif
`, ABI(h)))
}
