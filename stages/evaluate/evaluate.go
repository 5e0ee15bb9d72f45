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
	"strconv"

	"dmlrun/internal/failpoint"
	"dmlrun/safetensors"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/torch"
)

// Version is the evaluate stage's implementation version (part of every evaluate key).
const Version = 1

// Files the stage reads from an embed artifact (docs/ARTIFACTS.md).
const (
	EmbeddingsFile = "embeddings.safetensors"
	EmbedInfoFile  = "embed.json"
	TrainLogFile   = "train_log.csv"
)

func init() {
	stage.Register(Def())
}

// Def returns the evaluate stage definition.
func Def() *stage.Def {
	return &stage.Def{
		Kind:    "evaluate",
		Version: Version,
		Doc:     "Computes retrieval and clustering metrics (reference-method.md §9) of embedded test sets; writes metrics.json.",
		Params: []stage.Param{
			{Name: "from", Type: stage.RefList, RefKind: "embed", Required: true,
				Doc: "Embed blocks whose embeddings are evaluated (one evaluate node per embed instance)."},
			{Name: "metrics", Type: stage.StringList, Default: append([]string(nil), metrics.Default...),
				Doc: "Metric names: " + metrics.Summary() + "."},
			{Name: "kmeans_classes", Type: stage.Int, Default: int64(0),
				Doc: "Number of k-means clusters for nmi and f1; 0 uses the number of TRAINING classes recorded by the embed artifact (embed.json train_classes), as the original does."},
			{Name: "faiss_rand_int", Type: stage.String, Default: "modulo", Enum: []string{"modulo", "mulshift"},
				Doc: "How the replicated faiss k-means draws its initial permutation: modulo (faiss 1.7.x, Debian's 1.7.3) or mulshift (later faiss)."},
		},
		ExpandOver: "from",
		Exclusive:  true,
		Run:        run,
	}
}

// embedInfo is the part of embed.json the stage reads.
type embedInfo struct {
	Split        string `json:"split"`
	N            int    `json:"n"`
	Dim          int    `json:"dim"`
	ModelBlock   string `json:"model_block"`
	ModelAddr    string `json:"model_addr"`
	Seed         int64  `json:"seed"`
	TrainClasses int    `json:"train_classes"`
}

func run(ctx *stage.Context) error {
	ins := ctx.InputsOf("from")
	if len(ins) != 1 {
		return fmt.Errorf("evaluate %s: expected one embed input, got %d", ctx.Addr, len(ins))
	}
	in := ins[0]
	x, labels, info, err := ReadEmbeddings(in.Dir)
	if err != nil {
		return fmt.Errorf("evaluate %s: input %s: %w", ctx.Addr, in.Addr, err)
	}
	names := ctx.Params.Strings("metrics")
	if err := metrics.Parse(names); err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	k := int(ctx.Params.Int("kmeans_classes"))
	if k == 0 {
		k = info.TrainClasses
	}
	ri := metrics.RandIntModulo
	if ctx.Params.String("faiss_rand_int") == "mulshift" {
		ri = metrics.RandIntMulShift
	}
	dev, err := torch.ParseDevice(ctx.Device)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	if ctx.Threads > 0 {
		torch.SetNumThreads(ctx.Threads)
	}
	fmt.Fprintf(ctx.Log, "evaluate %s: %s split, %d x %d embeddings of %s on %s\n", ctx.Addr, info.Split, x.Rows, x.Cols, info.ModelAddr, dev)
	vals, err := metrics.Compute(x, labels, names, metrics.Options{
		KMeansK: k,
		KMeans:  metrics.KMeansOptions{RandInt: ri},
		Backend: TorchBackend{Device: dev},
		Logf:    func(f string, a ...any) { fmt.Fprintf(ctx.Log, f+"\n", a...) },
	})
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", ctx.Addr, err)
	}
	res := &metrics.Result{
		Metrics: map[string]metrics.Value{},
		Run: metrics.Run{Block: info.ModelBlock, Seed: info.Seed, Addr: info.ModelAddr, EmbedAddr: in.Addr,
			Split: info.Split, N: x.Rows, Dim: x.Cols},
	}
	for n, v := range vals {
		res.Metrics[n] = metrics.Value(v)
	}
	for _, n := range names {
		if n == "nmi" || n == "f1" {
			res.KMeansClasses = k
		}
	}
	if res.TrainLog, err = ReadTrainLog(filepath.Join(in.Dir, TrainLogFile)); err != nil {
		return fmt.Errorf("evaluate %s: input %s: %w", ctx.Addr, in.Addr, err)
	}
	for _, n := range metrics.SortedNames(vals) {
		fmt.Fprintf(ctx.Log, "  %-24s %.4f\n", n, vals[n])
	}
	if err := failpoint.Inject("evaluate.metrics"); err != nil {
		return err
	}
	return metrics.WriteResult(ctx.OutDir, res)
}

// ReadEmbeddings reads an embed artifact directory: embeddings.safetensors (`embeds` F32
// [N,D], `labels` I64 [N]) and embed.json.
func ReadEmbeddings(dir string) (metrics.Matrix, []int64, *embedInfo, error) {
	var x metrics.Matrix
	b, err := os.ReadFile(filepath.Join(dir, EmbedInfoFile))
	if err != nil {
		return x, nil, nil, err
	}
	info := &embedInfo{}
	if err := json.Unmarshal(b, info); err != nil {
		return x, nil, nil, fmt.Errorf("%s: %w", EmbedInfoFile, err)
	}
	ts, _, err := safetensors.Read(filepath.Join(dir, EmbeddingsFile))
	if err != nil {
		return x, nil, nil, err
	}
	et, ok := ts["embeds"]
	if !ok || len(et.Shape) != 2 {
		return x, nil, nil, fmt.Errorf("%s: need tensor \"embeds\" of shape [N,D]", EmbeddingsFile)
	}
	lt, ok := ts["labels"]
	if !ok || len(lt.Shape) != 1 || lt.Shape[0] != et.Shape[0] {
		return x, nil, nil, fmt.Errorf("%s: need tensor \"labels\" of shape [%d]", EmbeddingsFile, et.Shape[0])
	}
	data, err := et.Float32s()
	if err != nil {
		return x, nil, nil, fmt.Errorf("%s: %w", EmbeddingsFile, err)
	}
	labels, err := lt.Int64s()
	if err != nil {
		return x, nil, nil, fmt.Errorf("%s: %w", EmbeddingsFile, err)
	}
	x = metrics.Matrix{Data: data, Rows: int(et.Shape[0]), Cols: int(et.Shape[1])}
	return x, labels, info, nil
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
