package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/stages/nir"
	"dmlrun/stages/train"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun inspect.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context

	File, Addr string
	Vars       []string
	Classes    int
	Samples    int
	Seed       uint64
	JSON       bool
}

// NewCmd returns the inspect command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "inspect FILE ADDR",
		Short: "Show how non-isotropic a trained NIR model's class densities are",
		Long: `Inspect rebuilds the NIR criterion of a finished train node (loss "nir") from its
artifact and samples each of the first --classes training classes' learned density,
x = flow^-1(z | proxy) with z ~ N(0, I), --samples times. Per class it prints the
eigen-spectrum of the samples' covariance: largest and smallest eigenvalue, their ratio,
the effective rank (D for an isotropic class) and the KL divergence of the normalised
spectrum to the uniform one (0 for an isotropic class). The samples are drawn from a
generator seeded with --seed, so the output is reproducible.

ADDR is a train node ("train.nir[seed=0]") or a block with one instance ("train.nir").`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return cmdutil.FlagErrorf("inspect takes 2 arguments (FILE ADDR), got %d", len(args))
			}
			opts.File, opts.Addr = args[0], args[1]
			if opts.Classes < 1 || opts.Samples < 2 {
				return cmdutil.FlagErrorf("--classes must be >= 1 and --samples >= 2 (got %d and %d)", opts.Classes, opts.Samples)
			}
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Classes, "classes", 10, "inspect the first `N` training classes")
	fl.IntVar(&opts.Samples, "samples", 500, "samples drawn per class (well above the embedding dimension)")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the sampling generator")
	fl.StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	fl.BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	return cmd
}

// trainKind is the block type inspect reads.
const trainKind = "train"

func run(o *Options) error {
	_, n, err := cmdutil.LoadNode(o.Context, o.Factory, o.File, o.Addr, o.Vars)
	if err != nil {
		return err
	}
	if n.Kind != trainKind {
		return fmt.Errorf("%s is a %s node; inspect reads train nodes with loss \"nir\"", n.Addr, n.Kind)
	}
	// Whether the node can be inspected at all (its loss is nir) is train's to say, and
	// known before anything is trained.
	if err := train.CheckInspectable(n.Params); err != nil {
		return fmt.Errorf("%s: %w", n.Addr, err)
	}
	if n.KeyErr != nil {
		return fmt.Errorf("%s: no key: %w", n.Addr, n.KeyErr)
	}
	st, err := o.Factory.Store()
	if err != nil {
		return err
	}
	art, err := st.Get(n.Key)
	if err != nil {
		if store.IsMiss(err) {
			return fmt.Errorf("%s is not trained yet (%v); run dmlrun apply %s", n.Addr, err, o.File)
		}
		return err
	}
	rep, err := train.InspectNode(n.Params, art.Dir, train.InspectOptions{Classes: o.Classes, Samples: o.Samples, Seed: o.Seed})
	if err != nil {
		return fmt.Errorf("%s: %w", n.Addr, err)
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(toJSON(n.Addr, o, rep))
	}
	fmt.Fprintf(o.IO.Out, "%s (seed %d)\n", n.Addr, o.Seed)
	_, err = rep.WriteTo(o.IO.Out)
	return err
}

// JSON is what inspect --json prints. Numbers that are not finite (max/min when the
// smallest eigenvalue is 0) are null.
type JSON struct {
	Addr    string      `json:"addr"`
	Seed    uint64      `json:"seed"`
	Samples int         `json:"samples"`
	D       int         `json:"dim"`
	Classes []ClassJSON `json:"classes"`
}

// ClassJSON is one class of JSON.
type ClassJSON struct {
	Class         int       `json:"class"`
	N             int       `json:"n"`
	Eigen         []float64 `json:"eigenvalues"`
	Condition     *float64  `json:"max_over_min"`
	EffectiveRank float64   `json:"effective_rank"`
	KLUniform     float64   `json:"kl_uniform"`
	Trace         float64   `json:"trace"`
	MeanNorm      float64   `json:"mean_norm"`
	ProxyCosine   float64   `json:"proxy_cosine"`
}

func toJSON(addr string, o *Options, r nir.Report) JSON {
	out := JSON{Addr: addr, Seed: o.Seed, Samples: o.Samples, D: r.D, Classes: []ClassJSON{}}
	for _, c := range r.Classes {
		cj := ClassJSON{Class: c.Class, N: c.N, Eigen: c.Eigen, EffectiveRank: c.EffectiveRank,
			KLUniform: c.KLUniform, Trace: c.Trace, MeanNorm: c.MeanNorm, ProxyCosine: c.ProxyCosine}
		if !math.IsInf(c.Condition, 0) && !math.IsNaN(c.Condition) {
			v := c.Condition
			cj.Condition = &v
		}
		out.Classes = append(out.Classes, cj)
	}
	return out
}
