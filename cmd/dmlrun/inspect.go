package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"dmlrun/internal/cli"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/stages/nir"
	"dmlrun/stages/train"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

func init() {
	cli.AddCommand(func(f *cli.Factory) *cobra.Command { return newInspectCmd(f, nil) })
}

// InspectOptions are the inputs of dmlrun inspect.
type InspectOptions struct {
	IO      *iostreams.IOStreams
	Factory *cli.Factory

	File, Addr string
	Vars       []string
	Classes    int
	Samples    int
	Seed       uint64
	JSON       bool
}

func newInspectCmd(f *cli.Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f.IOStreams, Factory: f}
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
				return &cli.FlagError{Err: fmt.Errorf("inspect takes 2 arguments (FILE ADDR), got %d", len(args))}
			}
			opts.File, opts.Addr = args[0], args[1]
			if opts.Classes < 1 || opts.Samples < 2 {
				return &cli.FlagError{Err: fmt.Errorf("--classes must be >= 1 and --samples >= 2 (got %d and %d)", opts.Classes, opts.Samples)}
			}
			if runF != nil {
				return runF(opts)
			}
			return runInspect(opts)
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

func runInspect(o *InspectOptions) error {
	src := &storeSource{f: o.Factory, vars: o.Vars, errOut: o.IO.ErrOut}
	l, err := src.load(o.File)
	if err != nil {
		return err
	}
	n, err := findNode(l.graph, o.File, o.Addr)
	if err != nil {
		return err
	}
	if n.Kind != "train" {
		return fmt.Errorf("%s is a %s node; inspect reads train nodes with loss \"nir\"", n.Addr, n.Kind)
	}
	loss, _ := n.Params["loss"].(map[string]any)
	if kind, _ := loss["kind"].(string); kind != "nir" {
		return fmt.Errorf("%s: loss is %q; inspect reads the learned class densities of loss \"nir\"", n.Addr, kind)
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
	rep, err := train.InspectNIRWith(art.Dir, train.InspectOptions{Classes: o.Classes, Samples: o.Samples, Seed: o.Seed, Loss: stage.Params(loss)})
	if err != nil {
		return fmt.Errorf("%s: %w", n.Addr, err)
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(inspectJSON(n.Addr, o, rep))
	}
	fmt.Fprintf(o.IO.Out, "%s (seed %d)\n", n.Addr, o.Seed)
	_, err = rep.WriteTo(o.IO.Out)
	return err
}

// findNode resolves ADDR: an exact node address, or a block with a single instance.
func findNode(g *pipeline.Graph, file, addr string) (*pipeline.Node, error) {
	if n := g.Node(addr); n != nil {
		return n, nil
	}
	var matches []string
	for _, m := range g.Nodes {
		if m.Block() == addr {
			matches = append(matches, m.Addr)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%s: no node %s in the experiment", file, addr)
	case 1:
		return g.Node(matches[0]), nil
	}
	return nil, fmt.Errorf("%s has %d instances; name one: %s", addr, len(matches), strings.Join(matches, ", "))
}

// InspectJSON is what inspect --json prints. Numbers that are not finite (max/min when
// the smallest eigenvalue is 0) are null.
type InspectJSON struct {
	Addr    string             `json:"addr"`
	Seed    uint64             `json:"seed"`
	Samples int                `json:"samples"`
	D       int                `json:"dim"`
	Classes []InspectClassJSON `json:"classes"`
}

// InspectClassJSON is one class of InspectJSON.
type InspectClassJSON struct {
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

func inspectJSON(addr string, o *InspectOptions, r nir.Report) InspectJSON {
	out := InspectJSON{Addr: addr, Seed: o.Seed, Samples: o.Samples, D: r.D, Classes: []InspectClassJSON{}}
	for _, c := range r.Classes {
		cj := InspectClassJSON{Class: c.Class, N: c.N, Eigen: c.Eigen, EffectiveRank: c.EffectiveRank,
			KLUniform: c.KLUniform, Trace: c.Trace, MeanNorm: c.MeanNorm, ProxyCosine: c.ProxyCosine}
		if !math.IsInf(c.Condition, 0) && !math.IsNaN(c.Condition) {
			v := c.Condition
			cj.Condition = &v
		}
		out.Classes = append(out.Classes, cj)
	}
	return out
}
