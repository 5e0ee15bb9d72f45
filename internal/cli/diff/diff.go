package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/spec"
	"dmlrun/stages/report"

	"github.com/spf13/cobra"
)

// side is one variant: a configuration of a train block of an experiment file, written
// [FILE:]BLOCK[INSTANCE][@EVALUATE] ("nir", "train.pa[embed_dim=16]", "cub.hcl:nir@val").
type side struct {
	File     string
	Block    string // the train block's name, without "train."
	Instance string // what was written between the brackets; "" for none
	Evaluate string // the evaluate block after @, without "evaluate."; "" for the default
}

func (s side) String() string {
	out := s.Block
	if s.Instance != "" {
		out += "[" + s.Instance + "]"
	}
	if s.Evaluate != "" {
		out += "@" + s.Evaluate
	}
	if s.File != "" {
		out = s.File + ":" + out
	}
	return out
}

// parseSide reads [FILE:]BLOCK[INSTANCE][@EVALUATE]; withFile says the FILE: part is
// required (the two-argument form), else it must be absent. The file is split off at the
// last colon before the instance, whose values may hold colons.
func parseSide(s string, withFile bool) (side, error) {
	var sd side
	rest := s
	head := rest
	if i := strings.IndexByte(rest, '['); i >= 0 {
		head = rest[:i]
	}
	if i := strings.LastIndexByte(head, ':'); i >= 0 {
		if !withFile {
			return sd, fmt.Errorf("%q: give the file once, as FILE A B, or both sides as FILE_A:A FILE_B:B", s)
		}
		sd.File, rest = rest[:i], rest[i+1:]
		if sd.File == "" {
			return sd, fmt.Errorf("%q: empty file name before the colon", s)
		}
	} else if withFile {
		return sd, fmt.Errorf("%q: two arguments must both be FILE:BLOCK (e.g. cub.hcl:baseline sop.hcl:nir)", s)
	}
	// the evaluate block: after an @ that follows the instance (or the block name)
	tail := rest
	if i := strings.LastIndexByte(rest, ']'); i >= 0 {
		tail = rest[i:]
	}
	if i := strings.LastIndexByte(tail, '@'); i >= 0 {
		at := len(rest) - len(tail) + i
		sd.Evaluate = strings.TrimPrefix(rest[at+1:], "evaluate.")
		rest = rest[:at]
		if sd.Evaluate == "" {
			return sd, fmt.Errorf("%q: an evaluate block name must follow @ (e.g. nir@val)", s)
		}
	}
	if i := strings.IndexByte(rest, '['); i >= 0 {
		if !strings.HasSuffix(rest, "]") || i == len(rest)-2 {
			return sd, fmt.Errorf("%q: write an instance as BLOCK[key=value,...], e.g. pa[embed_dim=16]", s)
		}
		sd.Instance = rest[i+1 : len(rest)-1]
		rest = rest[:i]
	}
	sd.Block = strings.TrimPrefix(rest, "train.")
	if sd.Block == "" || strings.ContainsAny(sd.Block, ".[]@: ") {
		return sd, fmt.Errorf("%q: want a train block name, e.g. nir, train.nir or pa[embed_dim=16]", s)
	}
	return sd, nil
}

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
	Evaluate   string   // evaluate block to read when several evaluate the models (a side's @EVALUATE wins)
	Check      bool     // exit with a RegressionError when a tolerance is exceeded
	Tolerances []string // metric=value
	Expect     string   // expected means file
	Metrics    []string
	JSON       bool
	// Queries compares the two runs query by query (report.QueryDiff); QueriesPNG, when
	// set, draws the flipped queries into that file (and implies Queries), at most
	// QueriesMax per direction.
	Queries    bool
	QueriesPNG string
	QueriesMax int
}

// NewCmd returns the diff command; runF, when not nil, replaces the work (it gets the
// options after parseArgs accepted them).
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "diff FILE A B | diff FILE_A:A FILE_B:B | diff --check FILE | diff --expect EXPECTED.json FILE B",
		Short: "Compare two configurations' metrics over seeds; --check fails on regressions",
		Long: `Diff reads the finished evaluate results of two configurations from the store and prints,
per metric, the mean over seeds of A and of B, the difference B−A, its 95% Welch t
interval (unequal variances, Welch–Satterthwaite degrees of freedom) and which side is
better. A side is named better only when the interval excludes 0 and both sides have at
least 3 seeds; with 1 seed there is no interval, and 2 seeds claim nothing.

A side is a train block of FILE ("nir", "train.nir"), one configuration of a block with a
matrix ("pa[embed_dim=16]": its seeds pooled; a block with several configurations needs
one named), or one run ("pa[embed_dim=16,seed=0]"). "@EVALUATE" picks the evaluate block
for that side ("nir@val"), --evaluate for both; by default it is the one evaluate block
that evaluates the side's models. FILE_A:A FILE_B:B compares blocks of two files. Runs are
matched to a side through the graph (evaluate -> embed -> train) and named as the file
names them now.

When the sides were evaluated on different test data (dataset content or split) or with
different metric settings, diff warns, and --check and --expect fail (exit 1): such
numbers do not measure the same thing.

--check turns the comparison into a gate: it exits with code 3 when B is worse than A by
more than a tolerance. Tolerances come from --tolerance metric=value flags, else from the
file's check blocks for that pair; "dmlrun diff --check FILE" runs every check block.
--expect FILE.json checks B against stored expected means instead (taken as exact: the
interval is B's one-sample t interval):
  {"metrics": {"e_recall@1": {"mean": 0.655, "tolerance": 0.02}}}

--queries compares two models query by query: the queries whose Recall@1 flipped (A right
and B wrong, and the reverse, from each evaluation's nearest neighbours), with counts per
class and each query's image path; --queries-png FILE draws them (query, A's top-1, B's
top-1). It takes one run per side: name a seed when a side has several
("baseline[seed=0]"), since two seeds of one configuration already disagree on many
queries. Sides evaluated on different test data are refused.`,
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
	fl.StringVar(&opts.Evaluate, "evaluate", "", "evaluate block to read for both sides (needed when several evaluate the same models)")
	fl.StringSliceVar(&opts.Metrics, "metrics", nil, "metrics to compare, in order (default: all both variants have)")
	fl.StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	fl.BoolVar(&opts.JSON, "json", false, "print the comparison as JSON")
	fl.BoolVar(&opts.Queries, "queries", false, "also list the queries whose Recall@1 flipped between the two runs (one run per side)")
	fl.StringVar(&opts.QueriesPNG, "queries-png", "", "draw the flipped queries into this PNG `file` (implies --queries)")
	fl.IntVar(&opts.QueriesMax, "queries-max", 24, "the most flipped queries drawn per direction by --queries-png (evenly spaced)")
	return cmd
}

// parseArgs validates positional arguments and flag combinations before any work.
func parseArgs(o *Options, args []string) error {
	if len(o.Tolerances) > 0 && !o.Check {
		return cmdutil.FlagErrorf("--tolerance needs --check")
	}
	if _, err := parseTolerances(o.Tolerances); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	o.Evaluate = strings.TrimPrefix(o.Evaluate, "evaluate.")
	if o.QueriesPNG != "" {
		o.Queries = true
	}
	if o.Queries {
		switch {
		case o.Expect != "":
			return cmdutil.FlagErrorf("--queries compares two runs; --expect has expected values, not runs")
		case len(args) == 1:
			return cmdutil.FlagErrorf("--queries compares two runs: give FILE A B (or FILE_A:A FILE_B:B)")
		case o.QueriesMax < 1:
			return cmdutil.FlagErrorf("--queries-max %d: draw at least 1 query per direction", o.QueriesMax)
		}
	}
	parse := func(s string, withFile bool) (side, error) {
		sd, err := parseSide(s, withFile)
		if err != nil {
			return sd, &cmdutil.FlagError{Err: err}
		}
		return sd, nil
	}
	var err error
	if o.Expect != "" {
		if o.Check && len(o.Tolerances) > 0 {
			return cmdutil.FlagErrorf("--expect brings its own tolerances; drop --tolerance")
		}
		switch len(args) {
		case 1:
			if o.B, err = parseSide(args[0], true); err != nil {
				return cmdutil.FlagErrorf("with --expect give FILE B or FILE:B: %v", err)
			}
		case 2:
			if o.B, err = parse(args[1], false); err != nil {
				return err
			}
			o.B.File = args[0]
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
		if o.A, err = parse(args[0], true); err != nil {
			return err
		}
		if o.B, err = parse(args[1], true); err != nil {
			return err
		}
	case 3:
		if o.A, err = parse(args[1], false); err != nil {
			return err
		}
		if o.B, err = parse(args[2], false); err != nil {
			return err
		}
		o.A.File, o.B.File = args[0], args[0]
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
	check string // check block name ("" for ad-hoc)
	a, b  side
	tol   map[string]float64
	// expect, when set, is side A: expected values from an --expect file.
	expect *report.Side
}

// JSON is what --json prints, one per comparison.
type JSON struct {
	Check       string             `json:"check,omitempty"`
	A           string             `json:"a"`
	B           string             `json:"b"`
	Result      *report.DiffResult `json:"result"`
	Regressions []string           `json:"regressions"`
	Queries     *report.QueryFlips `json:"queries,omitempty"` // with --queries
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
	comps, err := comparisons(o, src)
	if err != nil {
		return err
	}
	var (
		outJSON      []JSON
		regressions  []string
		checkNames   []string
		incomparable []string
	)
	for i, c := range comps {
		aSide := c.expect
		if aSide == nil {
			if aSide, err = src.Side(c.a.File, c.a.Block, c.a.Instance, evaluateOf(c.a, o)); err != nil {
				return err
			}
		}
		bSide, err := src.Side(c.b.File, c.b.Block, c.b.Instance, evaluateOf(c.b, o))
		if err != nil {
			return err
		}
		a, b := *aSide, *bSide
		if c.expect == nil {
			a.Name, b.Name = displayNames(c.a, aSide, c.b, bSide)
		}
		res := report.Diff(a, b, report.DiffOptions{Tolerances: c.tol, Metrics: o.Metrics})
		regs := res.Regressions()
		label := c.check
		if label == "" {
			label = a.Name + " vs " + b.Name
		}
		if len(regs) > 0 {
			checkNames = append(checkNames, label)
			for _, r := range regs {
				regressions = append(regressions, label+": "+r)
			}
		}
		for _, w := range res.Incomparable {
			fmt.Fprintf(o.IO.ErrOut, "warning: %s: %s\n", label, w)
			incomparable = append(incomparable, label+": "+w)
		}
		var flips *report.QueryFlips
		if o.Queries {
			if flips, err = queryDiff(o, src, a, b); err != nil {
				return err
			}
		}
		if o.JSON {
			if regs == nil {
				regs = []string{}
			}
			outJSON = append(outJSON, JSON{Check: c.check, A: a.Name, B: b.Name, Result: res, Regressions: regs, Queries: flips})
			continue
		}
		w := o.IO.Out
		if i > 0 {
			fmt.Fprintln(w)
		}
		if c.check != "" {
			fmt.Fprintf(w, "check %q: %s vs %s\n", c.check, a.Name, b.Name)
		}
		if err := res.Text(w); err != nil {
			return err
		}
		if flips != nil {
			fmt.Fprintln(w)
			if err := flips.Text(w); err != nil {
				return err
			}
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
	if gate && len(incomparable) > 0 {
		// A tolerance on numbers that measure different things passes or fails by accident.
		return fmt.Errorf("cannot check: the sides do not measure the same thing; compare sides evaluated on the same test data with the same metric settings:\n  %s",
			strings.Join(incomparable, "\n  "))
	}
	if gate && len(regressions) > 0 {
		return &cmdutil.RegressionError{Check: strings.Join(checkNames, ", "), Regressions: regressions}
	}
	return nil
}

// comparisons lists the diffs the options ask for.
func comparisons(o *Options, src Source) ([]comparison, error) {
	switch {
	case o.Expect != "":
		ef, err := report.ReadExpectFile(o.Expect)
		if err != nil {
			return nil, err
		}
		name := "expected"
		if ef.Name != "" {
			name = "expected (" + ef.Name + ")"
		}
		exp, tol := ef.AsSide(name)
		return []comparison{{b: o.B, expect: &exp, tol: tol}}, nil
	case o.File != "":
		checks, err := src.Checks(o.File)
		if err != nil {
			return nil, err
		}
		if len(checks) == 0 {
			return nil, fmt.Errorf("%s: no check blocks; add one or run diff --check FILE A B --tolerance metric=value", o.File)
		}
		var comps []comparison
		for _, n := range slices.Sorted(maps.Keys(checks)) {
			c := checks[n]
			a, errA := parseSide(c.Baseline, false)
			b, errB := parseSide(c.Candidate, false)
			if err := errors.Join(errA, errB); err != nil {
				return nil, fmt.Errorf("%s: check %q: %w", o.File, n, err)
			}
			a.File, b.File = o.File, o.File
			comps = append(comps, comparison{check: n, tol: c.Tolerances, a: a, b: b})
		}
		return comps, nil
	}
	c := comparison{a: o.A, b: o.B}
	if !o.Check {
		return []comparison{c}, nil
	}
	if tol, _ := parseTolerances(o.Tolerances); len(tol) > 0 {
		c.tol = tol
		return []comparison{c}, nil
	}
	// no --tolerance: every check block of the file for this pair, by name
	var comps []comparison
	if o.A.File == o.B.File {
		checks, err := src.Checks(o.A.File)
		if err != nil {
			return nil, err
		}
		for _, n := range slices.Sorted(maps.Keys(checks)) {
			ch := checks[n]
			a, errA := parseSide(ch.Baseline, false)
			b, errB := parseSide(ch.Candidate, false)
			if errA == nil && errB == nil && sameSide(a, o.A) && sameSide(b, o.B) {
				comps = append(comps, comparison{check: n, a: o.A, b: o.B, tol: ch.Tolerances})
			}
		}
	}
	if len(comps) == 0 {
		return nil, &cmdutil.FlagError{Err: fmt.Errorf("--check %s vs %s: no tolerances; pass --tolerance metric=value or add a check block for this pair", o.A, o.B)}
	}
	return comps, nil
}

// sameSide says whether a check block's side (no file) is the command line's side.
func sameSide(check, arg side) bool {
	return check.Block == arg.Block && check.Evaluate == arg.Evaluate &&
		slices.Equal(sortedPairs(check.Instance), sortedPairs(arg.Instance))
}

// sortedPairs splits an instance at its commas for an order-blind comparison (a value
// with a comma inside brackets then compares as pieces, which is still exact).
func sortedPairs(inst string) []string {
	if inst == "" {
		return nil
	}
	p := strings.Split(inst, ",")
	slices.Sort(p)
	return p
}

// evaluateOf is the evaluate block a side reads: its own @EVALUATE, else --evaluate.
func evaluateOf(s side, o *Options) string {
	if s.Evaluate != "" {
		return s.Evaluate
	}
	return o.Evaluate
}

// displayNames heads the two columns: each side's name as the file has it ("nir",
// "pa[embed_dim=16]"), with its evaluate block when the sides' differ and its file when
// the files differ, so that the two never read the same for different things.
func displayNames(a side, ra *report.Side, b side, rb *report.Side) (string, string) {
	na, nb := ra.Name, rb.Name
	if ra.Evaluate != rb.Evaluate {
		na, nb = na+"@"+ra.Evaluate, nb+"@"+rb.Evaluate
	}
	if a.File != b.File {
		na, nb = a.File+":"+na, b.File+":"+nb
	}
	return na, nb
}

// queryDiff compares the sides' single runs query by query and, with --queries-png, draws
// the flips. The images come from the dataset node the runs were evaluated on, found in
// the store through the lineage; without it the listing names classes by number and no
// picture can be drawn.
func queryDiff(o *Options, src Source, a, b report.Side) (*report.QueryFlips, error) {
	ra, errA := report.SingleRun(&a)
	rb, errB := report.SingleRun(&b)
	if err := errors.Join(errA, errB); err != nil {
		return nil, &cmdutil.FlagError{Err: fmt.Errorf("--queries: %w", err)}
	}
	var data *report.QueryData
	var why string
	switch ds := ra.TestData.Datasets; len(ds) {
	case 1:
		dir, err := src.Dataset(ds[0])
		if err != nil {
			why = fmt.Sprintf("%s is not in the store (%v)", ds[0].Addr, err)
			break
		}
		d, p, err := report.OpenQueryData(ds[0].Addr, dir, ra.Split)
		if err != nil {
			return nil, fmt.Errorf("--queries: %s: %w", ds[0].Addr, err)
		}
		defer p.Close()
		data = d
	case 0:
		why = "the runs' lineage names no dataset"
	default:
		why = fmt.Sprintf("the runs were evaluated on %d datasets", len(ds))
	}
	flips, err := report.QueryDiff(ra, rb, a.Name, b.Name, data)
	if err != nil {
		return nil, fmt.Errorf("--queries: %w", err)
	}
	if data == nil {
		fmt.Fprintf(o.IO.ErrOut, "warning: --queries: no images: %s; classes are named by number\n", why)
	}
	if o.QueriesPNG == "" {
		return flips, nil
	}
	if data == nil {
		return nil, fmt.Errorf("--queries-png %s: no images to draw: %s; run dmlrun apply to make the dataset again", o.QueriesPNG, why)
	}
	png, err := flips.FlipSheet(data, o.QueriesMax).PNG()
	if err != nil {
		return nil, fmt.Errorf("--queries-png: %w", err)
	}
	if err := os.WriteFile(o.QueriesPNG, png, 0o644); err != nil {
		return nil, fmt.Errorf("--queries-png: %w", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %s: %d + %d flipped queries\n", o.QueriesPNG, min(len(flips.AOnly), o.QueriesMax), min(len(flips.BOnly), o.QueriesMax))
	return flips, nil
}

// Source is the seam between diff and the pipeline and store: it returns the finished
// evaluate results of one configuration of a train block (report.RunsOf), the file's
// check blocks, and the directory of a dataset node's artifact (for --queries' images).
type Source interface {
	Side(file, block, instance, evaluate string) (*report.Side, error)
	Checks(file string) (map[string]spec.Check, error)
	Dataset(ref report.DatasetRef) (string, error)
}

// storeSource loads experiment files (cmdutil.LoadExperiment), and finds the runs of a
// configuration through each graph's lineage and the store (report.RunsOf).
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

func (s *storeSource) Dataset(ref report.DatasetRef) (string, error) {
	st, err := s.f.Store()
	if err != nil {
		return "", err
	}
	a, err := st.Get(ref.Key)
	if err != nil {
		return "", err
	}
	return a.Dir, nil
}

func (s *storeSource) Side(file, block, instance, evaluate string) (*report.Side, error) {
	e, err := s.load(file)
	if err != nil {
		return nil, err
	}
	st, err := s.f.Store()
	if err != nil {
		return nil, err
	}
	sd, err := report.RunsOf(e.Graph, st, report.RunsQuery{File: file, Block: block, Instance: instance, Evaluate: evaluate}, s.errOut)
	var ce *report.ChooseEvaluateError
	if errors.As(err, &ce) {
		return nil, &cmdutil.FlagError{Err: err} // the command line must choose: show the usage
	}
	return sd, err
}
