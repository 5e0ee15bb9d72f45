package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/spec"
	"dmlrun/stages/report"

	"github.com/spf13/cobra"
)

// side is one variant: a train block of an experiment file.
type side struct{ File, Block string }

func (s side) String() string { return s.File + ":" + s.Block }

// Options are the inputs of dmlrun diff.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context
	Source  Source // where finished results come from; nil: the experiments' graphs and the store

	A, B       side   // the variants (B is the candidate); A empty with --expect
	File       string // --check FILE with no variants: every check block of FILE
	Vars       []string
	Evaluate   string   // evaluate block to read when the file has several
	Check      bool     // exit with a RegressionError when a tolerance is exceeded
	Tolerances []string // metric=value
	Expect     string   // expected means file
	Metrics    []string
	JSON       bool
	Resamples  int
	Seed       uint64
}

// NewCmd returns the diff command; runF, when not nil, replaces the work (it gets the
// options after parseArgs accepted them).
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "diff FILE A B | diff FILE_A:A FILE_B:B | diff --check FILE | diff --expect EXPECTED.json FILE B",
		Short: "Compare two variants' metrics over seeds; --check fails on regressions",
		Long: `Diff reads the finished evaluate results of two train blocks (variants) from the store
and prints, per metric, the mean over seeds of A and of B, the difference B−A, a 95%
bootstrap confidence interval of that difference (percentile bootstrap over seeds, 10,000
resamples, seeded, so the output is reproducible) and which variant is better (* when the
interval excludes 0).

A and B are train block names of FILE ("baseline", "nir" or "train.nir"); FILE_A:A
FILE_B:B compares blocks of two experiment files. Runs are matched to a variant through
the graph: evaluate -> embed -> train.

--check turns the comparison into a gate: it exits with code 3 when B is worse than A by
more than a tolerance. Tolerances come from --tolerance metric=value flags, else from the
file's check blocks for that pair; "dmlrun diff --check FILE" runs every check block.
--expect FILE.json checks B against stored expected means instead:
  {"metrics": {"e_recall@1": {"mean": 0.655, "tolerance": 0.02}}}`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseArgs(opts, args); err != nil {
				return err
			}
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Check, "check", false, "exit with code 3 when B regresses beyond a tolerance")
	fl.StringArrayVar(&opts.Tolerances, "tolerance", nil, "allowed worsening of B vs A for a metric (`metric=value`; repeatable; with --check)")
	fl.StringVar(&opts.Expect, "expect", "", "check B against expected means with tolerances from a JSON `file`")
	fl.StringVar(&opts.Evaluate, "evaluate", "", "evaluate block to read (needed when the file has several)")
	fl.StringSliceVar(&opts.Metrics, "metrics", nil, "metrics to compare, in order (default: all both variants have)")
	fl.StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	fl.BoolVar(&opts.JSON, "json", false, "print the comparison as JSON")
	fl.IntVar(&opts.Resamples, "resamples", 10000, "bootstrap resamples")
	fl.Uint64Var(&opts.Seed, "seed", 1, "bootstrap RNG seed")
	return cmd
}

// parseArgs validates positional arguments and flag combinations before any work.
func parseArgs(o *Options, args []string) error {
	if o.Resamples < 1 {
		return cmdutil.FlagErrorf("--resamples must be at least 1")
	}
	if len(o.Tolerances) > 0 && !o.Check {
		return cmdutil.FlagErrorf("--tolerance needs --check")
	}
	if _, err := parseTolerances(o.Tolerances); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	split := func(s string) (side, bool) {
		i := strings.LastIndexByte(s, ':')
		if i <= 0 || i == len(s)-1 {
			return side{}, false
		}
		return side{File: s[:i], Block: s[i+1:]}, true
	}
	if o.Expect != "" {
		if o.Check && len(o.Tolerances) > 0 {
			return cmdutil.FlagErrorf("--expect brings its own tolerances; drop --tolerance")
		}
		switch len(args) {
		case 1:
			b, ok := split(args[0])
			if !ok {
				return cmdutil.FlagErrorf("with --expect give FILE B or FILE:B")
			}
			o.B = b
		case 2:
			o.B = side{File: args[0], Block: args[1]}
		default:
			return cmdutil.FlagErrorf("with --expect give FILE B or FILE:B, got %d argument(s)", len(args))
		}
		return nil
	}
	switch len(args) {
	case 1:
		if !o.Check {
			return cmdutil.FlagErrorf("diff needs FILE A B (or FILE_A:A FILE_B:B); only --check accepts FILE alone")
		}
		o.File = args[0]
	case 2:
		a, okA := split(args[0])
		b, okB := split(args[1])
		if !okA || !okB {
			return cmdutil.FlagErrorf("two arguments must both be FILE:BLOCK (e.g. cub.hcl:baseline sop.hcl:nir)")
		}
		o.A, o.B = a, b
	case 3:
		o.A = side{File: args[0], Block: args[1]}
		o.B = side{File: args[0], Block: args[2]}
	default:
		return cmdutil.FlagErrorf("diff needs FILE A B, FILE_A:A FILE_B:B or --check FILE; got %d argument(s)", len(args))
	}
	return nil
}

func parseTolerances(ts []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, t := range ts {
		name, val, ok := strings.Cut(t, "=")
		v, err := strconv.ParseFloat(val, 64)
		if !ok || name == "" || err != nil || v < 0 {
			return nil, fmt.Errorf("--tolerance %q: want metric=value with value >= 0, e.g. e_recall@1=0.02", t)
		}
		out[name] = v
	}
	return out, nil
}

// comparison is one diff to run.
type comparison struct {
	check  string // check block name ("" for ad-hoc)
	a, b   side
	aRuns  []report.Run
	aName  string
	tol    map[string]float64
	expect bool
}

// JSON is what --json prints, one per comparison.
type JSON struct {
	Check       string             `json:"check,omitempty"`
	A           string             `json:"a"`
	B           string             `json:"b"`
	Result      *report.DiffResult `json:"result"`
	Regressions []string           `json:"regressions"`
}

func run(o *Options) error {
	src := o.Source
	if src == nil {
		ctx := o.Context
		if ctx == nil {
			ctx = context.Background()
		}
		src = &storeSource{ctx: ctx, f: o.Factory, vars: o.Vars, errOut: o.IO.ErrOut}
	}
	var comps []comparison
	switch {
	case o.Expect != "":
		ef, err := report.ReadExpectFile(o.Expect)
		if err != nil {
			return err
		}
		runs, tol := ef.AsRuns()
		name := "expected"
		if ef.Name != "" {
			name = "expected (" + ef.Name + ")"
		}
		comps = append(comps, comparison{a: side{File: o.Expect}, b: o.B, aRuns: runs, aName: name, tol: tol, expect: true})
	case o.File != "":
		checks, err := src.Checks(o.File)
		if err != nil {
			return err
		}
		if len(checks) == 0 {
			return fmt.Errorf("%s: no check blocks; add one or run diff --check FILE A B --tolerance metric=value", o.File)
		}
		names := make([]string, 0, len(checks))
		for n := range checks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := checks[n]
			comps = append(comps, comparison{check: n, tol: c.Tolerances,
				a: side{File: o.File, Block: c.Baseline}, b: side{File: o.File, Block: c.Candidate}})
		}
	default:
		c := comparison{a: o.A, b: o.B}
		if !o.Check {
			comps = append(comps, c)
			break
		}
		if tol, _ := parseTolerances(o.Tolerances); len(tol) > 0 {
			c.tol = tol
			comps = append(comps, c)
			break
		}
		// no --tolerance: every check block of the file for this pair, by name
		if o.A.File == o.B.File {
			checks, err := src.Checks(o.A.File)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(checks))
			for n, ch := range checks {
				if blockName(ch.Baseline) == blockName(o.A.Block) && blockName(ch.Candidate) == blockName(o.B.Block) {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				comps = append(comps, comparison{check: n, a: o.A, b: o.B, tol: checks[n].Tolerances})
			}
		}
		if len(comps) == 0 {
			return &cmdutil.FlagError{Err: fmt.Errorf("--check %s vs %s: no tolerances; pass --tolerance metric=value or add a check block for this pair", o.A, o.B)}
		}
	}

	var (
		outJSON     []JSON
		regressions []string
		checkNames  []string
	)
	for i, c := range comps {
		aRuns, aName := c.aRuns, c.aName
		if aRuns == nil {
			var err error
			if aRuns, err = src.Runs(c.a.File, c.a.Block, o.Evaluate); err != nil {
				return err
			}
			aName = displayName(c.a, c.b)
		}
		bRuns, err := src.Runs(c.b.File, c.b.Block, o.Evaluate)
		if err != nil {
			return err
		}
		bName := displayName(c.b, c.a)
		if c.expect {
			bName = blockName(c.b.Block)
		}
		res := report.Diff(aName, aRuns, bName, bRuns, report.DiffOptions{
			Resamples: o.Resamples, Seed: o.Seed, Tolerances: c.tol, Metrics: o.Metrics})
		regs := res.Regressions()
		label := c.check
		if label == "" {
			label = aName + " vs " + bName
		}
		if len(regs) > 0 {
			checkNames = append(checkNames, label)
			for _, r := range regs {
				regressions = append(regressions, label+": "+r)
			}
		}
		if o.JSON {
			if regs == nil {
				regs = []string{}
			}
			outJSON = append(outJSON, JSON{Check: c.check, A: aName, B: bName, Result: res, Regressions: regs})
			continue
		}
		w := o.IO.Out
		if i > 0 {
			fmt.Fprintln(w)
		}
		if c.check != "" {
			fmt.Fprintf(w, "check %q: %s vs %s\n", c.check, aName, bName)
		}
		if err := res.Text(w); err != nil {
			return err
		}
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(outJSON); err != nil {
			return err
		}
	}
	gate := o.Check || o.Expect != ""
	if gate && len(regressions) > 0 {
		return &cmdutil.RegressionError{Check: strings.Join(checkNames, ", "), Regressions: regressions}
	}
	return nil
}

// blockName strips a "train." prefix.
func blockName(b string) string { return strings.TrimPrefix(b, "train.") }

// displayName is the block name, with its file when the two sides come from different files.
func displayName(s, other side) string {
	if s.File != other.File {
		return s.String()
	}
	return blockName(s.Block)
}

// Source is the seam between diff and the pipeline and store: it returns the finished
// evaluate results of one train block and the file's check blocks.
type Source interface {
	Runs(file, block, evaluate string) ([]report.Run, error)
	Checks(file string) (map[string]spec.Check, error)
}

// storeSource loads experiment files (cmdutil.LoadExperiment), and finds the runs of a
// train block through each graph's lineage and the store (report.RunsOf).
type storeSource struct {
	ctx    context.Context
	f      *cmdutil.Factory
	vars   []string
	errOut io.Writer
	loaded map[string]*cmdutil.Experiment
}

func (s *storeSource) load(file string) (*cmdutil.Experiment, error) {
	if e, ok := s.loaded[file]; ok {
		return e, nil
	}
	e, err := cmdutil.LoadExperiment(s.ctx, s.f, file, cmdutil.LoadOptions{Vars: s.vars})
	if err != nil {
		return nil, err
	}
	if s.loaded == nil {
		s.loaded = map[string]*cmdutil.Experiment{}
	}
	s.loaded[file] = e
	return e, nil
}

func (s *storeSource) Checks(file string) (map[string]spec.Check, error) {
	e, err := s.load(file)
	if err != nil {
		return nil, err
	}
	return e.Spec.Checks, nil
}

func (s *storeSource) Runs(file, block, evaluate string) ([]report.Run, error) {
	e, err := s.load(file)
	if err != nil {
		return nil, err
	}
	st, err := s.f.Store()
	if err != nil {
		return nil, err
	}
	runs, err := report.RunsOf(e.Graph, st, report.RunsQuery{File: file, Block: blockName(block), Evaluate: evaluate}, s.errOut)
	var ce *report.ChooseEvaluateError
	if errors.As(err, &ce) {
		return nil, &cmdutil.FlagError{Err: err} // the command line must choose: show the usage
	}
	return runs, err
}
