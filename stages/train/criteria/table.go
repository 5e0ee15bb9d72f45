package criteria

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"dmlrun/stage"
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
)

// Spec declares one loss. The file that implements a loss holds one Spec, made into a Loss
// by Define; listing that Loss in builtinLosses (builtin.go) is all it takes for the train
// stage to accept `loss "<Name>" { ... }`. docs/PLUGINS.md walks through it.
type Spec[C any] struct {
	Name    string   // loss "<Name>" { ... }
	Aliases []string // other spellings that "did you mean" maps to Name ("proxyanchor" -> "oproxy")
	Doc     string   // one sentence: what it is, and where it departs from the original

	// Defaults is the loss's typed parameters: a struct with param tags (stage.SchemaOf),
	// each named after the original's --loss_<name>_<param> flag and holding its default.
	// The tags carry the bounds that make `dmlrun validate` report a value the loss cannot
	// work with at its file:line:col.
	Defaults C

	// NeedsMiner: the loss draws triplets from a batchminer (the original's
	// REQUIRES_BATCHMINER), so the train stage builds the one batch_mining names.
	NeedsMiner bool
	// Miner, if set, is the only batchminer the loss works with ("npair"); validation
	// refuses another batch_mining. It implies NeedsMiner.
	Miner string
	// SubCriterion: s2sd may use the loss as its source or target criterion, built with
	// its default parameters.
	SubCriterion bool
	// SubCriteria names string parameters whose values name a SubCriterion loss (s2sd's
	// source and target): the table gives them the enum of its sub-criteria, checks them,
	// and counts their miners.
	SubCriteria []string
	// OwnsScope: the constructor manages its tensors' lifetime itself, so New runs it
	// outside the scope it otherwise opens (nir keeps buffers that Named does not list).
	OwnsScope bool

	// Check adds the rules that the tags cannot say (cross-field, or on the train block
	// around the loss); paths are relative to the loss block ("" for the block). nil: none.
	Check func(c *C, b TrainBlock) stage.Problems
	// New builds the criterion from its decoded parameters. It draws parameters from the
	// torch CPU generator in the original's order and places them on env.Device.
	New func(c *C, env Env) (Criterion, error)
}

// TrainBlock is what a loss's Check may look at besides its own parameters: the settings of
// the train block around it. A zero field is unknown (a direct New) and not checked.
type TrainBlock struct {
	EmbedDim    int64
	BatchMining string
}

// Env is what a loss's constructor gets beyond its parameters.
type Env struct {
	D, C       int          // embedding dimension, number of training classes (>= 1)
	Miner      miners.Miner // the batchminer; nil unless the loss (or a sub-criterion) needs one
	Device     torch.Device // where the parameters go after being drawn on the CPU
	FeatureDim int          // width F of Batch.AvgFeatures (s2sd's target branches)
	Arch       string       // the model's arch string (npair quarters bninception batches)

	losses *Table
}

// Sub builds the sub-criterion called name with its default parameters at embedding
// dimension d, inside the caller's scope (s2sd's source and target criteria).
func (e Env) Sub(name string, d int) (Criterion, error) {
	l, ok := e.losses.losses[name]
	if !ok || !l.SubCriterion {
		return nil, fmt.Errorf("%q is not a sub-criterion; they are %s", name, stage.QuoteList(e.losses.subNames))
	}
	sub := e
	sub.D = d
	c, err := l.buildChecked(l.defaults(), sub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// Loss is one declared loss (Define's result), as a Table holds it.
type Loss struct {
	Name         string
	Aliases      []string
	Doc          string
	NeedsMiner   bool
	Miner        string
	SubCriterion bool
	SubCriteria  []string
	// Params are the `loss "<Name>"` block's parameters with defaults (from the Spec's
	// tags; in a Table, SubCriteria parameters also carry the sub-criteria enum).
	Params []stage.Param

	ownsScope bool
	defaults  func() any
	decode    func(p stage.Params, b TrainBlock) (any, stage.Problems)
	build     func(cfg any, env Env) (Criterion, error)
	err       error // a malformed Spec (a bug in the loss's file), reported by NewTable
}

// Define turns a loss's Spec into the Loss a Table is built from. A malformed Spec (bad
// tags, no New) is reported by NewTable.
func Define[C any](s Spec[C]) Loss {
	l := Loss{Name: s.Name, Aliases: s.Aliases, Doc: s.Doc, NeedsMiner: s.NeedsMiner || s.Miner != "", Miner: s.Miner,
		SubCriterion: s.SubCriterion, SubCriteria: s.SubCriteria, ownsScope: s.OwnsScope}
	l.Params, l.err = stage.SchemaOf(&s.Defaults)
	if l.err == nil && s.New == nil {
		l.err = fmt.Errorf("loss %q: Spec.New is nil", s.Name)
	}
	l.defaults = func() any { c := s.Defaults; return &c }
	l.decode = func(p stage.Params, b TrainBlock) (any, stage.Problems) {
		c := s.Defaults
		probs := stage.DecodeParams(p, &c)
		if len(probs) == 0 && s.Check != nil {
			probs = s.Check(&c, b)
		}
		return &c, probs
	}
	l.build = func(cfg any, env Env) (Criterion, error) { return s.New(cfg.(*C), env) }
	return l
}

// Table is a set of losses: what a train block's `loss "<kind>"` may name. It is built once
// and only read afterwards, so it is safe for concurrent use.
type Table struct {
	losses   map[string]*Loss
	names    []string          // sorted
	subNames []string          // the SubCriterion losses, in the order given to NewTable
	aliases  map[string]string // lower-case other spelling -> name
}

// NewTable checks and collects losses. A malformed loss, an empty or duplicate name, an
// alias that is already a name or another loss's alias, or a SubCriteria entry that is not
// a string parameter is an error (a bug in a loss's declaration).
func NewTable(losses ...Loss) (*Table, error) {
	t := &Table{losses: map[string]*Loss{}, aliases: map[string]string{}}
	for _, l := range losses {
		switch {
		case l.err != nil:
			return nil, fmt.Errorf("criteria: %w", l.err)
		case l.Name == "":
			return nil, fmt.Errorf("criteria: a loss without a Name")
		case l.decode == nil:
			return nil, fmt.Errorf("criteria: loss %q was not made by Define", l.Name)
		}
		if _, dup := t.losses[l.Name]; dup {
			return nil, fmt.Errorf("criteria: loss %q declared twice", l.Name)
		}
		l.Params = slices.Clone(l.Params)
		t.losses[l.Name] = &l
		t.names = append(t.names, l.Name)
		if l.SubCriterion {
			t.subNames = append(t.subNames, l.Name)
		}
	}
	for _, name := range t.names {
		l := t.losses[name]
		for _, a := range l.Aliases {
			a = strings.ToLower(a)
			if _, isName := t.losses[a]; isName {
				return nil, fmt.Errorf("criteria: alias %q of %q is a loss's name", a, l.Name)
			}
			if other, dup := t.aliases[a]; dup {
				return nil, fmt.Errorf("criteria: alias %q given to %q and %q", a, other, l.Name)
			}
			t.aliases[a] = l.Name
		}
		for _, sc := range l.SubCriteria {
			i := slices.IndexFunc(l.Params, func(p stage.Param) bool { return p.Name == sc })
			if i < 0 || l.Params[i].Type != stage.String {
				return nil, fmt.Errorf("criteria: loss %q: SubCriteria names %q, which is not one of its string parameters", l.Name, sc)
			}
			l.Params[i].Enum = slices.Clone(t.subNames)
			if def, _ := l.Params[i].Default.(string); def != "" && !slices.Contains(t.subNames, def) {
				return nil, fmt.Errorf("criteria: loss %q: the default %s %q is not a sub-criterion of this table", l.Name, sc, def)
			}
		}
	}
	sort.Strings(t.names)
	return t, nil
}

// Names lists the losses, sorted.
func (t *Table) Names() []string { return slices.Clone(t.names) }

// SubCriteria lists the losses s2sd may use, in table order.
func (t *Table) SubCriteria() []string { return slices.Clone(t.subNames) }

// Aliases maps other spellings (lower case) to loss names, for "did you mean".
func (t *Table) Aliases() map[string]string { return maps.Clone(t.aliases) }

// Lookup returns the loss called name.
func (t *Table) Lookup(name string) (Loss, bool) {
	l, ok := t.losses[name]
	if !ok {
		return Loss{}, false
	}
	return *l, true
}

// Variants are the losses' parameter schemas by name.
func (t *Table) Variants() map[string][]stage.Param {
	out := make(map[string][]stage.Param, len(t.losses))
	for n, l := range t.losses {
		out[n] = slices.Clone(l.Params)
	}
	return out
}

// VariantSet declares the train stage's `loss` block (stage.WithVariants).
func (t *Table) VariantSet() stage.VariantSet {
	docs := make(map[string]string, len(t.losses))
	for n, l := range t.losses {
		docs[n] = l.Doc
	}
	return stage.VariantSet{Kinds: t.Variants(), Aliases: t.Aliases(), Docs: docs}
}

// Config is a decoded loss block: which loss, its typed parameters, and the block's
// canonical parameters (which model.json records).
type Config struct {
	Kind   string
	Params stage.Params // the block's parameters, defaults filled, without "kind"

	value any // *C of the loss's Spec
	loss  *Loss
	subs  []*Loss // the sub-criteria its SubCriteria parameters name
}

// Value is the typed parameters (a pointer to the loss's Spec.Defaults type).
func (c Config) Value() any { return c.value }

// NeedsMiner reports whether building the loss needs a batchminer: the loss mines, or one
// of its sub-criteria does.
func (c Config) NeedsMiner() bool {
	if c.loss == nil {
		return false
	}
	if c.loss.NeedsMiner {
		return true
	}
	for _, s := range c.subs {
		if s.NeedsMiner {
			return true
		}
	}
	return false
}

// Decode decodes a loss block (kind and canonical parameters, extra "kind" key allowed)
// into its loss's typed parameters and returns every problem, with paths relative to the
// block ("w_align"; "" for the kind or the block as a whole). b is what the train block
// says around it.
func (t *Table) Decode(v stage.Variant, b TrainBlock) (Config, stage.Problems) {
	var probs stage.Problems
	l, ok := t.losses[v.Kind]
	if !ok {
		probs.OneOf("", "loss kind", v.Kind, t.names, t.aliases)
		return Config{Kind: v.Kind}, probs
	}
	params := stage.Params{}
	for k, x := range v.Params {
		if k != "kind" {
			params[k] = x
		}
	}
	value, probs := l.decode(params, b)
	c := Config{Kind: v.Kind, Params: params, value: value, loss: l}
	if len(probs) > 0 {
		return c, probs
	}
	// Sub-criteria: each named one must be a sub-criterion of this table, and one bound to a
	// batchminer must get it.
	for _, sc := range l.SubCriteria {
		name := stringField(value, sc)
		if !probs.OneOf(sc, "sub-criterion name", name, t.subNames, t.aliases) {
			continue
		}
		sub := t.losses[name]
		c.subs = append(c.subs, sub)
		probs = append(probs, minerProblems(sc, sub, b)...)
	}
	probs = append(probs, minerProblems("", l, b)...)
	return c, probs
}

// stringField returns the string field tagged param:"<name>" of a decoded config (a
// pointer to a struct), so the table reads a loss's SubCriteria without knowing its type.
func stringField(cfg any, name string) string {
	v := reflect.ValueOf(cfg).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("param") == name {
			return v.Field(i).String()
		}
	}
	panic(fmt.Sprintf("criteria: no parameter %q in %T (NewTable checks SubCriteria; a bug)", name, cfg))
}

// minerProblems says when a loss bound to one batchminer gets another.
func minerProblems(path string, l *Loss, b TrainBlock) stage.Problems {
	var probs stage.Problems
	if l.Miner != "" && b.BatchMining != "" && b.BatchMining != l.Miner {
		probs.Addf(path, "Wrong batchminer", "The %s loss works only with batch_mining = %q, but the block has batch_mining = %q; set batch_mining = %q.",
			l.Name, l.Miner, b.BatchMining, l.Miner)
	}
	return probs
}

// Build builds the criterion of a decoded loss block for embedding dimension D and C
// training classes. Parameters (proxies, class maps, s2sd's branches) are drawn from the
// global torch CPU generator in the original's order, then moved to the OnDevice device;
// seed and consume the generator as the original did before (backbone, head) for
// bit-identical initial values. A loss that needs a batchminer (Config.NeedsMiner) needs
// miner.
//
// The parameters survive Build: they belong to the scope open when it was called (or to
// none); Close frees them.
func (t *Table) Build(c Config, D, C int, miner miners.Miner, opts ...Option) (Criterion, error) {
	if c.loss == nil {
		return nil, fmt.Errorf("loss %q: not decoded by this table (criteria.Table.Decode)", c.Kind)
	}
	o := options{dev: torch.CPUDevice, featureDim: 2048}
	for _, f := range opts {
		f(&o)
	}
	if D < 1 || C < 1 {
		return nil, fmt.Errorf("loss %q: embedding dimension %d and class count %d must be >= 1", c.Kind, D, C)
	}
	env := Env{D: D, C: C, Miner: miner, Device: o.dev, FeatureDim: o.featureDim, Arch: o.arch, losses: t}
	l := c.loss
	if l.ownsScope {
		crit, err := l.buildChecked(c.value, env)
		if err != nil {
			return nil, fmt.Errorf("loss %q (D=%d, C=%d): %w", c.Kind, D, C, err)
		}
		return crit, nil
	}
	var crit Criterion
	s := torch.NewScope()
	defer s.Close()
	err := torch.Catch(func() error {
		var err error
		if crit, err = l.buildChecked(c.value, env); err != nil {
			return err
		}
		_, ts := crit.Named()
		s.Keep(ts...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loss %q (D=%d, C=%d): %w", c.Kind, D, C, err)
	}
	return crit, nil
}

// buildChecked is the loss's constructor behind the miner check every loss shares.
func (l *Loss) buildChecked(cfg any, env Env) (Criterion, error) {
	if l.NeedsMiner && env.Miner == nil {
		return nil, fmt.Errorf("needs a batchminer (batch_mining), got none")
	}
	return l.build(cfg, env)
}

// New decodes p (a loss block's parameters; missing ones take their defaults, an extra
// "kind" is ignored) for the loss kind and builds it (Build). An unknown kind or a problem
// with the parameters is an error that names it.
func (t *Table) New(kind string, p stage.Params, D, C int, miner miners.Miner, opts ...Option) (Criterion, error) {
	c, probs := t.Decode(stage.Variant{Kind: kind, Params: p}, TrainBlock{EmbedDim: int64(D)})
	if len(probs) > 0 {
		if c.loss == nil {
			return nil, fmt.Errorf("unknown loss: %s", probs[0].Detail)
		}
		return nil, fmt.Errorf("loss %q: %w", kind, probs.Err())
	}
	return t.Build(c, D, C, miner, opts...)
}

var builtin = sync.OnceValue(func() *Table {
	t, err := NewTable(builtinLosses()...)
	if err != nil {
		panic(err) // a loss's declaration is wrong: a bug, caught by every test
	}
	return t
})

// Builtin is the table of dmlrun's losses (builtinLosses).
func Builtin() *Table { return builtin() }

// New builds a built-in loss (Table.New on Builtin).
func New(kind string, p stage.Params, D, C int, miner miners.Miner, opts ...Option) (Criterion, error) {
	return Builtin().New(kind, p, D, C, miner, opts...)
}

// Kinds lists the built-in losses, sorted.
func Kinds() []string { return Builtin().Names() }

// Variants are the built-in `loss "<kind>" { ... }` schemas: each field named after the
// original's --loss_<kind>_<name> flag (reference §1.4, §1.5) with its default.
func Variants() map[string][]stage.Param { return Builtin().Variants() }
