package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"dmlrun/pipeline"
	"dmlrun/spec"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
)

// The stage kinds of the lineage that names a result: the evaluate node, the embedding it
// scored, the train node that made the model and the dataset it was evaluated on.
const (
	TrainKind    = "train"
	EmbedKind    = "embed"
	EvaluateKind = "evaluate"
	DatasetKind  = "dataset"
)

// nodeRef is what naming a run needs to know of one node, whether it comes from the graph
// (pipeline.Node, for diff) or from a stage input (stage.Input, for the report stage).
type nodeRef struct {
	Name     string // block name
	Instance string // "" when the block is not expanded
	Addr     string
	Key      string
	Params   map[string]any
}

func refOfNode(n *pipeline.Node) nodeRef {
	return nodeRef{Name: n.Name, Instance: n.Address.Instance, Addr: n.Addr, Key: n.Key, Params: n.Params}
}

func refOfInput(in stage.Input) nodeRef {
	return nodeRef{Name: in.Block, Instance: in.Instance, Addr: in.Addr, Key: in.Key, Params: in.Params}
}

// origin is where one evaluate result came from, named as the current experiment file
// names it.
type origin struct {
	eval     nodeRef
	embed    *nodeRef  // nil when the lineage has no embed node (test graphs)
	train    nodeRef   // the train node whose model was evaluated
	datasets []nodeRef // the nearest dataset nodes upstream of the evaluation
}

// originOfInput reads the origin of a report input (an evaluate node) from the ancestors
// the pipeline gave it (stage.Input.Ancestors).
func originOfInput(in stage.Input) (origin, error) {
	o := origin{eval: refOfInput(in)}
	var trains []string
	for _, a := range in.Ancestors {
		switch a.Stage {
		case TrainKind:
			o.train = refOfInput(a)
			trains = append(trains, a.Addr)
		case EmbedKind:
			if o.embed == nil {
				e := refOfInput(a)
				o.embed = &e
			}
		case DatasetKind:
			o.datasets = append(o.datasets, refOfInput(a))
		}
	}
	if len(trains) != 1 {
		return o, fmt.Errorf("input %s: %d train nodes upstream (%s), want exactly one: a report row names the model's train block",
			in.Addr, len(trains), strings.Join(trains, ", "))
	}
	return o, nil
}

// originOfNode reads the origin of an evaluate node from the graph; train is its model's
// train node (the caller found it with LineageOf).
func originOfNode(g *pipeline.Graph, n, train *pipeline.Node, embedKind, datasetKind string) origin {
	o := origin{eval: refOfNode(n), train: refOfNode(train)}
	lin := g.LineageOf(n, embedKind, datasetKind)
	if e := lin.Only(embedKind); e != nil {
		r := refOfNode(e)
		o.embed = &r
	}
	for _, d := range lin[datasetKind] {
		o.datasets = append(o.datasets, refOfNode(d))
	}
	return o
}

// newRun names one metrics.json by its origin: its label, block, instance and seed come
// from the current file's train node, never from what metrics.json recorded when the
// result was first computed (a run computed under another block name, or shared by two
// blocks, is named by each block that has it now).
func newRun(o origin, res *metrics.Result) Run {
	r := RunFromResult(res)
	r.Block = o.train.Name
	r.Addr = o.train.Addr
	r.Instance = withoutSeed(o.train.Instance)
	r.Label = label(o.train.Name, r.Instance)
	if s, ok := o.train.Params["seed"].(int64); ok {
		r.Seed = s
	}
	if l, ok := o.train.Params["loss"].(map[string]any); ok {
		r.Loss, _ = l["kind"].(string)
	}
	r.Evaluate = o.eval.Name
	r.EvalAddr = o.eval.Addr
	if o.embed != nil {
		r.EmbedAddr = o.embed.Addr
	}
	r.Config = configOf(o.train.Params, o.datasets)
	r.TestData = TestData{Split: r.Split}
	for _, d := range o.datasets {
		r.TestData.Datasets = append(r.TestData.Datasets, DatasetRef{Addr: d.Addr, Key: d.Key})
	}
	slices.SortFunc(r.TestData.Datasets, func(a, b DatasetRef) int { return strings.Compare(a.Key, b.Key) })
	r.Settings = settingsOf(o.eval.Params, res)
	return r
}

// label is a row's name: the train block with its matrix instance, "pa[embed_dim=16]",
// or the block alone, "nir".
func label(block, instance string) string {
	if instance == "" {
		return block
	}
	return block + "[" + instance + "]"
}

// configOf identifies a train configuration: its parameters without the seed (canonical
// values, so encoding/json's sorted keys give one spelling) and the datasets it read.
func configOf(params map[string]any, datasets []nodeRef) string {
	p := maps.Clone(params)
	delete(p, "seed")
	var keys []string
	for _, d := range datasets {
		keys = append(keys, d.Key)
	}
	slices.Sort(keys)
	b, err := json.Marshal(struct {
		Params   map[string]any `json:"params"`
		Datasets []string       `json:"datasets"`
	}{p, keys})
	if err != nil {
		// Canonical parameters always encode (the pipeline hashed them the same way).
		panic(fmt.Sprintf("report: train parameters do not encode: %v", err))
	}
	return string(b)
}

// settingsOf lists the settings that change what an evaluate node's numbers mean: its
// parameters other than the metric list and the retrieval picture's (kmeans_classes,
// faiss_rand_int, faiss_padding, whatever the stage adds), and the number of k-means
// clusters it used.
func settingsOf(params map[string]any, res *metrics.Result) map[string]string {
	out := map[string]string{}
	for k, v := range params {
		if k == "metrics" || strings.HasPrefix(k, "retrieval_") {
			// the metric list is compared metric by metric; the retrieval picture's
			// parameters change no number
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		out[k] = string(b)
	}
	if res.KMeansClasses > 0 {
		out["k-means clusters used"] = fmt.Sprint(res.KMeansClasses)
	}
	return out
}

// pairKey is the label of a key=value pair ("seed" for "seed=0").
func pairKey(p string) string {
	k, _, _ := strings.Cut(p, "=")
	return k
}

// withoutSeed drops the seed pair from an instance: what is left names the configuration
// whose seeds a row pools ("embed_dim=16,seed=0" -> "embed_dim=16", "seed=1" -> "").
func withoutSeed(inst string) string {
	var keep []string
	for _, p := range spec.InstancePairs(inst) {
		if pairKey(p) != "seed" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// sameMembers says whether two instances have the same pairs, in any order.
func sameMembers(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
