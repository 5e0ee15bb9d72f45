package report

import (
	"fmt"
	"io"
	"strings"

	"dmlrun/pipeline"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/store"
)

// Artifacts is where RunsOf reads finished evaluate results: a *store.Store.
type Artifacts interface {
	Get(key string) (*store.Artifact, error)
}

// RunsQuery names the runs of one train block (a variant) in an experiment's graph.
type RunsQuery struct {
	File  string // the experiment file, for messages
	Block string // the train block's name ("nir")
	// Evaluate is the evaluate block whose results count; "" means the one evaluate block
	// of the file, or, when there are several, the one that evaluates Block's models.
	Evaluate string
	// TrainKind and EvalKind are the stage kinds of the walk; "" means "train" and
	// "evaluate" (tests use their own kinds).
	TrainKind, EvalKind string
}

func (q RunsQuery) kinds() (train, eval string) {
	train, eval = q.TrainKind, q.EvalKind
	if train == "" {
		train = "train"
	}
	if eval == "" {
		eval = "evaluate"
	}
	return train, eval
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
// pipeline.Graph.LineageOf) reaches exactly one train node, an instance of q.Block, and
// reads their metrics.json from arts. Each Run is named by the graph, not by what
// metrics.json says: Block is q.Block and Addr the train node's address. Evaluate nodes
// whose artifact is not in arts are listed in a warning on warn; none finished at all is
// an error that says to apply the file. An evaluate block that cannot be chosen is a
// *ChooseEvaluateError; an unknown block is an error listing the file's blocks.
func RunsOf(g *pipeline.Graph, arts Artifacts, q RunsQuery, warn io.Writer) ([]Run, error) {
	trainKind, evalKind := q.kinds()
	var trainBlocks, evalBlocks []string
	seenT, seenE := map[string]bool{}, map[string]bool{}
	for _, n := range g.Nodes {
		if n.Kind == trainKind && !seenT[n.Name] {
			seenT[n.Name] = true
			trainBlocks = append(trainBlocks, n.Name)
		}
		if n.Kind == evalKind && !seenE[n.Name] {
			seenE[n.Name] = true
			evalBlocks = append(evalBlocks, n.Name)
		}
	}
	if !seenT[q.Block] {
		return nil, fmt.Errorf("%s: no %s block %q (have: %s)", q.File, trainKind, q.Block, strings.Join(trainBlocks, ", "))
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
	var runs []Run
	var missing []string
	for _, n := range g.Nodes {
		if n.Kind != evalKind || (evaluate != "" && n.Name != evaluate) {
			continue
		}
		tr := g.LineageOf(n, trainKind).Only(trainKind)
		if tr == nil || tr.Name != q.Block {
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
		r := RunFromResult(res)
		r.Block, r.Addr = q.Block, tr.Addr
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		if len(missing) == 0 {
			return nil, fmt.Errorf("%s: no %s node evaluates a model of %s.%s", q.File, evalKind, trainKind, q.Block)
		}
		return nil, fmt.Errorf("%s: no finished results for %s.%s: %d %s node(s) not in the store (run dmlrun apply %s)",
			q.File, trainKind, q.Block, len(missing), evalKind, q.File)
	}
	if len(missing) > 0 {
		fmt.Fprintf(warn, "warning: %s.%s: %d of %d run(s) not in the store, comparing the %d finished: %s\n",
			trainKind, q.Block, len(missing), len(missing)+len(runs), len(runs), strings.Join(missing, ", "))
	}
	return runs, nil
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
