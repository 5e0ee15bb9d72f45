package miners

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"dmlrun/stage"
)

// Sources are the generators a miner draws from: NumPy's legacy generator (every miner but
// random) and CPython's random module (random). The train loop passes the ones it re-seeds
// every epoch; a miner whose generator is missing is an error from New.
type Sources struct {
	NumPy  *NumpyRandom
	Python PyRandom
}

// Spec declares one miner. The file that implements a miner holds one Spec, made into an
// Entry by Define; listing that Entry in builtinMiners (builtin.go) is all it takes for the
// train stage to accept batch_mining = "<Name>".
type Spec[C any] struct {
	Name    string   // batch_mining = "<Name>"
	Aliases []string // other spellings that "did you mean" maps to Name ("semi_hard")
	Doc     string   // one sentence: what it mines, and where it departs from the original

	// Defaults is the miner's typed parameters, a struct with param tags (see
	// stage.SchemaOf), holding the original's defaults; struct{} for a miner without any.
	Defaults C
	// Check adds the rules that the tags cannot say; nil: none.
	Check func(*C) stage.Problems
	// New builds the miner from its decoded parameters and the generators.
	New func(c *C, src Sources) (Miner, error)
}

// Entry is one declared miner as a Table holds it (Define's result).
type Entry struct {
	Name    string
	Aliases []string
	Doc     string
	Params  []stage.Param // its parameters with defaults, from Spec.Defaults' tags

	decode func(p stage.Params) (any, stage.Problems)
	build  func(cfg any, src Sources) (Miner, error)
	err    error // a malformed Spec (a bug in the miner's file), reported by NewTable
}

// Define turns a miner's Spec into the Entry a Table is built from. A malformed Spec (bad
// tags, no New) is reported by NewTable.
func Define[C any](s Spec[C]) Entry {
	e := Entry{Name: s.Name, Aliases: s.Aliases, Doc: s.Doc}
	e.Params, e.err = stage.SchemaOf(&s.Defaults)
	if e.err == nil && s.New == nil {
		e.err = fmt.Errorf("miner %q: Spec.New is nil", s.Name)
	}
	e.decode = func(p stage.Params) (any, stage.Problems) {
		c := s.Defaults
		probs := stage.DecodeParams(p, &c)
		if len(probs) == 0 && s.Check != nil {
			probs = s.Check(&c)
		}
		return &c, probs
	}
	e.build = func(cfg any, src Sources) (Miner, error) { return s.New(cfg.(*C), src) }
	return e
}

// Table is a set of miners: what batch_mining may name. It is a value, built once and only
// read afterwards, so it is safe for concurrent use.
type Table struct {
	entries map[string]Entry
	names   []string          // sorted
	aliases map[string]string // lower-case other spelling -> name
}

// NewTable checks and collects entries. A malformed entry, an empty or duplicate name, or an
// alias that is already a name or another miner's alias is an error (a bug in a miner's
// declaration).
func NewTable(entries ...Entry) (*Table, error) {
	t := &Table{entries: map[string]Entry{}, aliases: map[string]string{}}
	for _, e := range entries {
		switch {
		case e.err != nil:
			return nil, fmt.Errorf("miners: %w", e.err)
		case e.Name == "":
			return nil, fmt.Errorf("miners: an entry without a Name")
		case e.decode == nil:
			return nil, fmt.Errorf("miners: %q was not made by Define", e.Name)
		}
		if _, dup := t.entries[e.Name]; dup {
			return nil, fmt.Errorf("miners: %q declared twice", e.Name)
		}
		t.entries[e.Name] = e
		t.names = append(t.names, e.Name)
	}
	for _, e := range entries {
		for _, a := range e.Aliases {
			a = strings.ToLower(a)
			if _, isName := t.entries[a]; isName {
				return nil, fmt.Errorf("miners: alias %q of %q is a miner's name", a, e.Name)
			}
			if other, dup := t.aliases[a]; dup {
				return nil, fmt.Errorf("miners: alias %q given to %q and %q", a, other, e.Name)
			}
			t.aliases[a] = e.Name
		}
	}
	sort.Strings(t.names)
	return t, nil
}

// Names lists the miners, sorted.
func (t *Table) Names() []string { return slices.Clone(t.names) }

// Aliases maps other spellings (lower case) to miner names, for "did you mean".
func (t *Table) Aliases() map[string]string { return maps.Clone(t.aliases) }

// Lookup returns the miner called name.
func (t *Table) Lookup(name string) (Entry, bool) {
	e, ok := t.entries[name]
	return e, ok
}

// Variants are the miners' parameter schemas by name.
func (t *Table) Variants() map[string][]stage.Param {
	out := make(map[string][]stage.Param, len(t.entries))
	for n, e := range t.entries {
		out[n] = slices.Clone(e.Params)
	}
	return out
}

// CheckName adds an "Unknown batchminer" problem at path (listing the miners and suggesting
// the nearest) unless name is one of t's, and reports whether it is.
func (t *Table) CheckName(probs *stage.Problems, path, name string) bool {
	return probs.OneOf(path, "batchminer", name, t.names, t.aliases)
}

// New builds the miner called name with parameters p (nil or a subset of its parameters;
// missing ones take the original's defaults). An unknown name, a value out of range or a
// missing generator is an error that says so.
func (t *Table) New(name string, p stage.Params, src Sources) (Miner, error) {
	e, ok := t.entries[name]
	if !ok {
		var probs stage.Problems
		t.CheckName(&probs, "", name)
		return nil, fmt.Errorf("batch miner: %s", probs[0].Detail)
	}
	cfg, probs := e.decode(p)
	if len(probs) > 0 {
		return nil, fmt.Errorf("batch miner %q: %w", name, probs.Err())
	}
	m, err := e.build(cfg, src)
	if err != nil {
		return nil, fmt.Errorf("batch miner %q: %w", name, err)
	}
	return m, nil
}

var builtin = sync.OnceValue(func() *Table {
	t, err := NewTable(builtinMiners()...)
	if err != nil {
		panic(err) // a miner's declaration is wrong: a bug, caught by every test
	}
	return t
})

// Builtin is the table of dmlrun's miners (builtinMiners).
func Builtin() *Table { return builtin() }

// Names lists the built-in miners, sorted.
func Names() []string { return Builtin().Names() }

// Variants are the built-in miners' parameter schemas with the original's defaults
// (reference §1.3), named after the flags without the miner_<name>_ prefix.
func Variants() map[string][]stage.Param { return Builtin().Variants() }

type options struct {
	py PyRandom
}

// Option configures New.
type Option func(*options)

// WithPython gives the miners their CPython random source; only "random" uses it (the
// original's random miner calls Python's random.sample on the global generator the batch
// sampler also draws from). Pass the sampler's generator (stages/load's *PyRandom works).
func WithPython(py PyRandom) Option { return func(o *options) { o.py = py } }

// New builds the built-in miner called name (one of Names) with parameters p (nil or a
// subset of its parameters; missing ones take the original's defaults). Every miner but
// "random" draws from rng, which must not be nil; "random" needs WithPython.
func New(name string, p stage.Params, rng *NumpyRandom, opts ...Option) (Miner, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return Builtin().New(name, p, Sources{NumPy: rng, Python: o.py})
}

// needNumPy is the error of a miner built without its NumPy generator.
func needNumPy(src Sources) error {
	if src.NumPy == nil {
		return fmt.Errorf("needs a NumPy generator (Sources.NumPy is nil)")
	}
	return nil
}
