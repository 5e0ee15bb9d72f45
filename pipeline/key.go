package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"dmlrun/stage"
)

// keyScheme names the canonical encoding below. Changing the encoding changes every key, so
// it is part of what is hashed.
const keyScheme = "dmlrun-key-v1"

// Hasher computes one node's content key: SHA-256 over a canonical, self-delimiting
// encoding of named fields. The encoding is typed (a string "3" and an int 3 differ),
// length-prefixed (no two field sequences encode the same) and orders map keys, so a key
// never depends on map iteration order or on how the experiment file was spelled.
//
// With a debug writer, every field fed in is also printed there in readable form, so that
// "why did this key change" can be answered by diffing two runs' output.
type Hasher struct {
	h     hash.Hash
	debug io.Writer
	label string
	lines []string
	err   error
}

// NewHasher starts a key. label (the node address) is used only in debug output.
func NewHasher(label string, debug io.Writer) *Hasher {
	k := &Hasher{h: sha256.New(), debug: debug, label: label}
	k.writeString(keyScheme)
	return k
}

// Add feeds one named field. Values must be the canonical parameter types of package stage
// (string, int64, float64, bool, []string, []int64, []float64, map[string]any,
// map[string]float64) or nil; anything else makes Sum return an error.
func (k *Hasher) Add(name string, v any) {
	k.writeString(name)
	if err := k.encode(v); err != nil && k.err == nil {
		k.err = fmt.Errorf("key field %s: %w", name, err)
	}
	if k.debug != nil {
		for _, f := range flatten(name, v) {
			k.lines = append(k.lines, fmt.Sprintf("  %s = %s", f.Path, f.Value))
		}
	}
}

// note adds a line to the debug record without feeding anything into the key.
func (k *Hasher) note(line string) {
	if k.debug != nil {
		k.lines = append(k.lines, line)
	}
}

// Sum returns the key as 64 hex digits, and prints the debug record if one was asked for.
func (k *Hasher) Sum() (string, error) {
	if k.err != nil {
		return "", k.err
	}
	key := hex.EncodeToString(k.h.Sum(nil))
	if k.debug != nil {
		fmt.Fprintf(k.debug, "key %s = %s\n%s\n", k.label, key, strings.Join(k.lines, "\n"))
	}
	return key, nil
}

func (k *Hasher) writeString(s string) {
	k.h.Write([]byte("s" + strconv.Itoa(len(s)) + ":"))
	k.h.Write([]byte(s))
}

func (k *Hasher) tag(t string) { k.h.Write([]byte(t)) }

func (k *Hasher) encode(v any) error {
	switch v := v.(type) {
	case nil:
		k.tag("n;")
	case string:
		k.writeString(v)
	case int64:
		k.tag("i" + strconv.FormatInt(v, 10) + ";")
	case float64:
		k.tag("f" + formatFloat(v) + ";")
	case bool:
		if v {
			k.tag("b1;")
		} else {
			k.tag("b0;")
		}
	case []string:
		k.tag("S" + strconv.Itoa(len(v)) + "[")
		for _, e := range v {
			k.writeString(e)
		}
		k.tag("]")
	case []int64:
		k.tag("I" + strconv.Itoa(len(v)) + "[")
		for _, e := range v {
			k.tag(strconv.FormatInt(e, 10) + ";")
		}
		k.tag("]")
	case []float64:
		k.tag("F" + strconv.Itoa(len(v)) + "[")
		for _, e := range v {
			k.tag(formatFloat(e) + ";")
		}
		k.tag("]")
	case map[string]float64:
		k.tag("m" + strconv.Itoa(len(v)) + "{")
		for _, name := range sortedKeys(v) {
			k.writeString(name)
			k.tag(formatFloat(v[name]) + ";")
		}
		k.tag("}")
	case stage.Params:
		return k.encode(map[string]any(v))
	case map[string]any:
		k.tag("M" + strconv.Itoa(len(v)) + "{")
		for _, name := range sortedKeys(v) {
			k.writeString(name)
			if err := k.encode(v[name]); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		k.tag("}")
	default:
		return fmt.Errorf("unsupported value type %T (a stage or spec bug: parameters must be canonical)", v)
	}
	return nil
}

// formatFloat is the shortest decimal that round-trips, so equal float64 values encode
// equally however they were written (1e-5, 0.00001, 1.0e-05). -0 and 0 differ, as they
// can in results.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Field is one leaf of a flattened parameter tree, rendered for people.
type Field struct {
	Path  string // "schedule.lr"
	Value string // "1e-05"
}

// flatten renders a value as sorted dotted leaves. Lists are leaves; empty objects are
// leaves ("{}") so that they do not vanish.
func flatten(prefix string, v any) []Field {
	var out []Field
	var walk func(p string, v any)
	join := func(p, name string) string {
		if p == "" {
			return name
		}
		return p + "." + name
	}
	walk = func(p string, v any) {
		if sp, ok := v.(stage.Params); ok {
			v = map[string]any(sp)
		}
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 {
				out = append(out, Field{p, "{}"})
			}
			for _, name := range sortedKeys(v) {
				walk(join(p, name), v[name])
			}
		case map[string]float64:
			if len(v) == 0 {
				out = append(out, Field{p, "{}"})
			}
			for _, name := range sortedKeys(v) {
				out = append(out, Field{join(p, name), formatFloat(v[name])})
			}
		default:
			out = append(out, Field{p, formatValue(v)})
		}
	}
	walk(prefix, v)
	return out
}

// formatValue renders a leaf value the way plan reasons show it.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatFloat(v)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []int64:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []float64:
		parts := make([]string, len(v))
		for i, f := range v {
			parts[i] = formatFloat(f)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf("%v", v)
}

// FlatParams renders a node's parameters as dotted paths to readable values, the form the
// store's index keeps and plan reasons compare.
func FlatParams(p map[string]any) map[string]string {
	out := map[string]string{}
	for _, f := range flatten("", p) {
		if f.Path == "" { // empty parameter set
			continue
		}
		out[f.Path] = f.Value
	}
	return out
}
