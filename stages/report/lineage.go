package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"dmlrun/pipeline"
	"dmlrun/spec"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/store"
)

// Artifacts is where RunsOf reads finished evaluate results: a *store.Store.
type Artifacts interface {
	Get(key string) (*store.Artifact, error)
}

// RunsQuery names the runs of one configuration of a train block in an experiment's graph.
type RunsQuery struct {
	File  string // the experiment file, for messages
	Block string // the train block's name ("nir")
	// Instance selects among the block's instances as written between brackets,
	// "embed_dim=16" or "embed_dim=16,seed=0" (pairs in any order; values as in the
	// node addresses): a configuration (its seeds pooled) or a single run. "" takes the
	// block's only configuration.
	Instance string
	// Evaluate is the evaluate block whose results count; "" means the one evaluate block
	// of the file, or, when there are several, the one that evaluates Block's models.
	Evaluate string
	// TrainKind, EvalKind, EmbedKind and DatasetKind are the stage kinds of the walk; ""
	// means "train", "evaluate", "embed" and "dataset" (tests use their own kinds).
	TrainKind, EvalKind, EmbedKind, DatasetKind string
}

func (q RunsQuery) kinds() (train, eval, embed, dataset string) {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	return or(q.TrainKind, TrainKind), or(q.EvalKind, EvaluateKind), or(q.EmbedKind, EmbedKind), or(q.DatasetKind, DatasetKind)
}

// ChooseEvaluateError says which evaluate block to read is ambiguous: the file has several
// and not exactly one of them evaluates the train block. The command line has to choose
// (dmlrun diff --evaluate).
type ChooseEvaluateError struct {
	File, EvalKind, TrainKind, Block string
	Blocks                           []string // every evaluate block of the file
	Reaching                         []string // those that evaluate the train block
}

func (e *ChooseEvaluateError) Error() string {
	return fmt.Sprintf("%s has %d %s blocks (%s), %d of them evaluating %s.%s; choose one with --evaluate",
		e.File, len(e.Blocks), e.EvalKind, strings.Join(e.Blocks, ", "), len(e.Reaching), e.TrainKind, e.Block)
}

// RunsOf finds the evaluate nodes of g whose lineage (evaluate -> embed -> train, through
// pipeline.Graph.LineageOf) reaches exactly one train node, an instance of q.Block that
// q.Instance selects, and reads their metrics.json from arts. The side and its runs are
// named by the graph (newRun), not by what metrics.json says: Name is the block with the
// selected instance ("pa[embed_dim=16]"), each run's Addr its train node's address.
//
// Only seeds are pooled: a block with several configurations (matrix instances) needs
// q.Instance, and an unknown instance is an error that lists the block's configurations.
// Evaluate nodes whose artifact is not in arts are listed in a warning on warn; none
// finished at all is an error that says to apply the file. An evaluate block that cannot
// be chosen is a *ChooseEvaluateError; an unknown block is an error listing the file's
// blocks.
func RunsOf(g *pipeline.Graph, arts Artifacts, q RunsQuery, warn io.Writer) (*Side, error) {
	trainKind, evalKind, embedKind, datasetKind := q.kinds()
	var trainBlocks, evalBlocks []string
	seenT, seenE := map[string]bool{}, map[string]bool{}
	var instances []*pipeline.Node // q.Block's train nodes
	for _, n := range g.Nodes {
		if n.Kind == trainKind && !seenT[n.Name] {
			seenT[n.Name] = true
			trainBlocks = append(trainBlocks, n.Name)
		}
		if n.Kind == trainKind && n.Name == q.Block {
			instances = append(instances, n)
		}
		if n.Kind == evalKind && !seenE[n.Name] {
			seenE[n.Name] = true
			evalBlocks = append(evalBlocks, n.Name)
		}
	}
	if !seenT[q.Block] {
		return nil, fmt.Errorf("%s: no %s block %q (have: %s)", q.File, trainKind, q.Block, strings.Join(trainBlocks, ", "))
	}
	chosen, name, err := selectInstances(q, trainKind, instances)
	if err != nil {
		return nil, err
	}
	evaluate := q.Evaluate
	if evaluate == "" && len(evalBlocks) > 1 {
		// Several evaluate blocks: the ones that evaluate this train block's models decide.
		reaching := Evaluators(g, q.Block, trainKind, evalKind)
		if len(reaching) != 1 {
			return nil, &ChooseEvaluateError{File: q.File, EvalKind: evalKind, TrainKind: trainKind, Block: q.Block,
				Blocks: evalBlocks, Reaching: reaching}
		}
		evaluate = reaching[0]
	}
	switch {
	case evaluate != "" && !seenE[evaluate]:
		return nil, fmt.Errorf("%s: no %s block %q (have: %s)", q.File, evalKind, evaluate, strings.Join(evalBlocks, ", "))
	case len(evalBlocks) == 0:
		return nil, fmt.Errorf("%s: no %s blocks, so there are no metrics to compare", q.File, evalKind)
	}
	if evaluate == "" {
		evaluate = evalBlocks[0]
	}
	side := &Side{Name: name, Evaluate: evaluate}
	var missing []string
	for _, n := range g.Nodes {
		if n.Kind != evalKind || n.Name != evaluate {
			continue
		}
		tr := g.LineageOf(n, trainKind).Only(trainKind)
		if tr == nil || !chosen[tr] {
			continue
		}
		a, err := arts.Get(n.Key)
		if err != nil {
			if !store.IsMiss(err) {
				return nil, err
			}
			missing = append(missing, n.Addr)
			continue
		}
		res, err := metrics.ReadResult(a.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Addr, err)
		}
		r := newRun(originOfNode(g, n, tr, embedKind, datasetKind), res)
		r.Dir = a.Dir
		side.Runs = append(side.Runs, r)
	}
	what := trainKind + "." + name
	if len(side.Runs) == 0 {
		if len(missing) == 0 {
			return nil, fmt.Errorf("%s: no %s node of block %q evaluates a model of %s", q.File, evalKind, evaluate, what)
		}
		return nil, fmt.Errorf("%s: no finished results for %s: %d %s node(s) not in the store (run dmlrun apply %s)",
			q.File, what, len(missing), evalKind, q.File)
	}
	if len(missing) > 0 {
		fmt.Fprintf(warn, "warning: %s: %d of %d run(s) not in the store, comparing the %d finished: %s\n",
			what, len(missing), len(missing)+len(side.Runs), len(side.Runs), strings.Join(missing, ", "))
	}
	return side, nil
}

// selectInstances picks the train nodes q.Instance names among a block's instances: all
// of them when the block has one configuration and no instance is given, else those whose
// instance, with or without its seed, has exactly the given pairs. It returns them with
// the side's name.
func selectInstances(q RunsQuery, trainKind string, instances []*pipeline.Node) (map[*pipeline.Node]bool, string, error) {
	var configs []string // distinct instances without the seed, in graph order
	for _, n := range instances {
		if c := withoutSeed(n.Address.Instance); !slices.Contains(configs, c) {
			configs = append(configs, c)
		}
	}
	list := func() string {
		out := make([]string, len(configs))
		for i, c := range configs {
			out[i] = label(q.Block, c)
		}
		return strings.Join(out, ", ")
	}
	chosen := map[*pipeline.Node]bool{}
	if q.Instance == "" {
		if len(configs) > 1 {
			return nil, "", fmt.Errorf("%s: %s.%s has %d configurations (matrix instances: %s) and diff compares one at a time, its seeds pooled: name one, e.g. '%s'",
				q.File, trainKind, q.Block, len(configs), list(), label(q.Block, configs[0]))
		}
		for _, n := range instances {
			chosen[n] = true
		}
		return chosen, label(q.Block, configs[0]), nil
	}
	want := spec.InstancePairs(q.Instance)
	name := ""
	for _, n := range instances {
		switch {
		case sameMembers(spec.InstancePairs(withoutSeed(n.Address.Instance)), want):
			name = label(q.Block, withoutSeed(n.Address.Instance))
		case sameMembers(spec.InstancePairs(n.Address.Instance), want):
			name = label(q.Block, n.Address.Instance)
		default:
			continue
		}
		chosen[n] = true
	}
	if len(chosen) == 0 {
		return nil, "", fmt.Errorf("%s: %s.%s has no instance [%s]; its configurations are %s (add ,seed=N for one run)",
			q.File, trainKind, q.Block, q.Instance, list())
	}
	return chosen, name, nil
}

// Evaluators lists, in graph order, the blocks of kind evalKind with a node whose lineage
// reaches exactly one node of kind trainKind, an instance of train block `block`.
func Evaluators(g *pipeline.Graph, block, trainKind, evalKind string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Kind != evalKind || seen[n.Name] {
			continue
		}
		if tr := g.LineageOf(n, trainKind).Only(trainKind); tr != nil && tr.Name == block {
			seen[n.Name] = true
			out = append(out, n.Name)
		}
	}
	return out
}
