package evaluate

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/torch"
)

// Version is the evaluate stage's implementation version (part of every evaluate key).
// 2: metrics.json records how the model trained (run.train), and non-finite embeddings
// fail the node instead of giving metrics. 3: every node writes neighbours.safetensors
// (each query's nearest L2 neighbours, for dmlrun diff --queries) and, with a dataset,
// retrieval.png (recorded in metrics.json "retrieval"); the metric values are unchanged.
const Version = 3

// Config is the evaluate block's typed config.
type Config struct {
	// Metrics' description lists the metric table's names (Def sets it).
	Metrics       []string `param:"metrics"`
	KMeansClasses int      `param:"kmeans_classes" min:"0" doc:"Number of k-means clusters for nmi and f1; 0 uses the number of TRAINING classes recorded by the embed artifact (embed.json train_classes), as the original does."`
	FaissRandInt  string   `param:"faiss_rand_int" enum:"modulo,mulshift" doc:"How the replicated faiss k-means draws its initial permutation: modulo (faiss 1.7.x, Debian's 1.7.3) or mulshift (later faiss)."`
	// FaissPadding is off by default: a padded list counts images that are not there.
	FaissPadding bool `param:"faiss_padding" doc:"On a set with no more images than a metric asks neighbours for (mAP_1000 on 1000 images or fewer), count the missing neighbours as the original does (faiss returns index -1, read as the last image's class) instead of cutting the list to the real ones; for comparing with the original's logs."`

	RetrievalQueries int   `param:"retrieval_queries" min:"0" max:"100" doc:"Test queries drawn in retrieval.png (a seeded random sample, recorded in metrics.json), each with its retrieval_k nearest neighbours, green bordered when of the query's class, red when not; needs dataset. 0 draws nothing."`
	RetrievalK       int   `param:"retrieval_k" min:"1" max:"20" doc:"Nearest neighbours per query kept in neighbours.safetensors (for dmlrun diff --queries) and drawn in retrieval.png."`
	RetrievalSeed    int64 `param:"retrieval_seed" doc:"Seed of the sample of queries retrieval.png draws."`
}

// Def returns the evaluate stage definition.
func Def() *stage.Def {
	d, err := stage.Typed(stage.Def{
		Kind:    "evaluate",
		Version: Version,
		Doc:     "Computes retrieval and clustering metrics (reference-method.md §9) of embedded test sets; writes metrics.json.",
		Params: []stage.Param{
			{Name: "from", Type: stage.RefList, RefKind: "embed", Required: true,
				Doc: "Embed blocks whose embeddings are evaluated (one evaluate node per embed instance)."},
			// Optional: metrics need only embeddings; the picture needs the images, and an
			// edge comes only from a reference, like embed's own dataset.
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset",
				Doc: "The prepared dataset the embed block embedded (the same dataset block): its images are drawn in retrieval.png. Without it no picture is drawn."},
		},
		ExpandOver: "from",
		Exclusive:  true,
	}, stage.Config[Config]{
		Defaults: Config{Metrics: slices.Clone(metrics.Default), FaissRandInt: "modulo", RetrievalQueries: 8, RetrievalK: 5},
		Check:    check,
		Options:  []stage.SchemaOption{stage.WithDoc("metrics", "Metric names: "+metrics.Summary()+".")},
	}, run)
	if err != nil {
		panic(err) // the declaration above is wrong: a bug, caught by every test
	}
	return d
}

// check looks every metric name up in the metric table: an unknown name gets the nearest
// valid one as "did you mean", a known family with a bad parameter (e_recall@0) its reason,
// and a repeated name its first position.
func check(c *Config) stage.Problems {
	var probs stage.Problems
	first := map[string]int{}
	for i, n := range c.Metrics {
		at := fmt.Sprintf("metrics[%d]", i)
		if j, dup := first[n]; dup {
			probs.Addf(at, "Duplicate metric", "%q is already requested at metrics[%d]; list each metric once.", n, j)
			continue
		}
		first[n] = i
		var ne *metrics.NameError
		if err := metrics.Check(n); !errors.As(err, &ne) {
			continue
		}
		if ne.Reason != "" {
			probs.Addf(at, "Invalid metric", "%q: %s.", n, ne.Reason)
			continue
		}
		probs.Addf(at, "Unknown metric", "%q is not a metric; the metrics are %s.%s",
			n, metrics.Summary(), stage.Suggest(n, metrics.Candidates(n), nil))
	}
	return probs
}

func run(ctx *stage.Context, cfg *Config) error {
	ins := ctx.InputsOf("from")
	if len(ins) != 1 {
		return fmt.Errorf("evaluate %s: expected one embed input, got %d", ctx.Addr, len(ins))
	}
	in := ins[0]
	e, info, err := embed.Read(in.Dir)
	if err != nil {
		return fmt.Errorf("evaluate %s: input %s: %w", ctx.Addr, in.Addr, err)
	}
	train, err := readTraining(in.Dir, info)
	if err != nil {
		return fmt.Errorf("evaluate %s: input %s: %w", ctx.Addr, in.Addr, err)
	}
	pics, err := openPictureData(ctx, cfg, in, info, e.Labels)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	defer pics.Close()
	x := metrics.Matrix{Data: e.Data, Rows: e.Rows, Cols: e.Dim}
	k := cfg.KMeansClasses
	if k == 0 {
		k = info.TrainClasses
	}
	ri := metrics.RandIntModulo
	if cfg.FaissRandInt == "mulshift" {
		ri = metrics.RandIntMulShift
	}
	dev, err := torch.ParseDevice(ctx.Device)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	fmt.Fprintf(ctx.Log, "evaluate %s: %s split, %d x %d embeddings of %s on %s\n", ctx.Addr, info.Split, x.Rows, x.Cols, info.ModelAddr, dev)
	if train != nil {
		fmt.Fprintf(ctx.Log, "model: %d epochs, %d steps, %d skipped", train.Epochs, train.Steps, train.Skipped)
		if train.Selection != "" {
			fmt.Fprintf(ctx.Log, ", epoch %d selected by %s", train.SelectedEpoch, train.Selection)
		}
		fmt.Fprintln(ctx.Log)
	}
	var comp *metrics.Computation
	// All of the node's libtorch work runs in one Pinned call: the thread count is set on
	// the OS thread the backend's ops then run on (TorchBackend's methods run inside it).
	err = torch.Pinned(ctx.Threads, func() error {
		var err error
		comp, err = metrics.ComputeAll(x, e.Labels, cfg.Metrics, metrics.Options{
			KMeansK:      k,
			KMeans:       metrics.KMeansOptions{RandInt: ri},
			FaissPadding: cfg.FaissPadding,
			Backend:      TorchBackend{Device: dev},
			Logf:         func(f string, a ...any) { fmt.Fprintf(ctx.Log, f+"\n", a...) },
			Neighbours:   cfg.RetrievalK,
		})
		return err
	})
	var nf *metrics.NonFiniteError
	if errors.As(err, &nf) {
		return fmt.Errorf("evaluate %s: input %s (%s split of %s): %w", ctx.Addr, in.Addr, info.Split, info.ModelAddr, err)
	}
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	vals := comp.Values
	nb := metrics.QueryNeighbours{Neighbours: comp.L2, Labels: e.Labels}
	res := &metrics.Result{
		Metrics: map[string]metrics.Value{},
		Run: metrics.Run{Block: info.ModelBlock, Seed: info.Seed, Addr: info.ModelAddr, EmbedAddr: in.Addr,
			Split: info.Split, N: x.Rows, Dim: x.Cols, Train: train},
	}
	for n, v := range vals {
		res.Metrics[n] = metrics.Value(v)
	}
	for _, n := range cfg.Metrics {
		if n == "nmi" || n == "f1" {
			res.KMeansClasses = k
		}
	}
	if res.TrainLog, err = ReadTrainLog(filepath.Join(in.Dir, embed.TrainLogFile)); err != nil {
		return fmt.Errorf("evaluate %s: input %s: %w", ctx.Addr, in.Addr, err)
	}
	for _, n := range metrics.SortedNames(vals) {
		fmt.Fprintf(ctx.Log, "  %-24s %.4f\n", n, vals[n])
	}
	if err := metrics.WriteNeighbours(ctx.OutDir, nb); err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	if res.Retrieval, err = drawPicture(ctx, cfg, in, info, pics, nb); err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	if err := failpoint.Inject("evaluate.metrics"); err != nil {
		return err
	}
	return metrics.WriteResult(ctx.OutDir, res)
}

// readTraining returns how the embedded model trained, from embed.json's train_* fields,
// or nil when embed.json predates them: their zero values would read as "untrained".
func readTraining(dir string, info embed.Info) (*metrics.Training, error) {
	b, err := os.ReadFile(filepath.Join(dir, embed.InfoFile))
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", embed.InfoFile, err)
	}
	if _, ok := raw["train_epochs"]; !ok {
		return nil, nil
	}
	return &metrics.Training{Epochs: info.TrainEpochs, Steps: info.TrainSteps, Skipped: info.TrainSkipped,
		SelectedEpoch: info.SelectedEpoch, Selection: info.Selection}, nil
}

// ReadTrainLog parses a train_log.csv (header row, numeric cells, empty cell = missing);
// a missing file gives nil.
func ReadTrainLog(path string) (*metrics.Table, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty (no header)", path)
	}
	t := &metrics.Table{Columns: recs[0]}
	for li, rec := range recs[1:] {
		row := make([]metrics.Value, len(rec))
		for i, c := range rec {
			if c == "" {
				row[i] = metrics.Value(math.NaN())
				continue
			}
			v, err := strconv.ParseFloat(c, 64)
			if err != nil {
				return nil, fmt.Errorf("%s line %d column %q: %w", path, li+2, t.Columns[i], err)
			}
			row[i] = metrics.Value(v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
