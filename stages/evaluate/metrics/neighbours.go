package metrics

import (
	"fmt"
	"path/filepath"
	"strconv"

	"dmlrun/safetensors"
)

// NeighboursFile is the evaluate artifact's per-query neighbour lists.
const NeighboursFile = "neighbours.safetensors"

// QueryNeighbours is neighbours.safetensors: every query's nearest L2 neighbours as the
// metrics ranked them (the first neighbour dropped as self, stable ties), with the labels
// they were scored against. Query i's first neighbour decides its e_recall@1 hit, so two
// models' files say which queries one gets right and the other wrong (dmlrun diff
// --queries) without searching again.
type QueryNeighbours struct {
	Neighbours
	Labels []int64 // one per query, dataset order
}

// Hit says whether query i's first neighbour has its class (its Recall@1).
func (q QueryNeighbours) Hit(i int) bool {
	return q.K > 0 && q.Labels[q.Idx[i*q.K]] == q.Labels[i]
}

// Len is the number of queries.
func (q QueryNeighbours) Len() int { return len(q.Labels) }

// WriteNeighbours writes dir/neighbours.safetensors: `neighbours` I32 [N, K] (dataset
// indices, best first) and `labels` I64 [N]; metadata {"k", "distance": "l2", "self":
// "first neighbour dropped"}.
func WriteNeighbours(dir string, q QueryNeighbours) error {
	n := len(q.Labels)
	if q.K < 1 || len(q.Idx) != n*q.K {
		return fmt.Errorf("%s: %d indices for %d queries x %d neighbours", NeighboursFile, len(q.Idx), n, q.K)
	}
	nt := safetensors.Tensor{Name: "neighbours", DType: "I32", Shape: []int64{int64(n), int64(q.K)}, Data: safetensors.Int32Bytes(q.Idx)}
	lt, err := safetensors.I64("labels", q.Labels, int64(n))
	if err != nil {
		return fmt.Errorf("%s: %w", NeighboursFile, err)
	}
	meta := map[string]string{"k": strconv.Itoa(q.K), "distance": "l2", "self": "first neighbour dropped"}
	return safetensors.Write(filepath.Join(dir, NeighboursFile), []safetensors.Tensor{nt, lt}, meta)
}

// ReadNeighbours reads dir/neighbours.safetensors, checking shapes and index range.
func ReadNeighbours(dir string) (QueryNeighbours, error) {
	var q QueryNeighbours
	path := filepath.Join(dir, NeighboursFile)
	ts, _, err := safetensors.Read(path)
	if err != nil {
		return q, err
	}
	nt, lt := ts["neighbours"], ts["labels"]
	if nt.DType != "I32" || len(nt.Shape) != 2 || nt.Shape[1] < 1 {
		return q, fmt.Errorf("%s: neighbours is %s %v, want I32 [N, K]", path, nt.DType, nt.Shape)
	}
	if q.Idx, err = nt.Int32s(); err != nil {
		return q, fmt.Errorf("%s: %w", path, err)
	}
	if q.Labels, err = lt.Int64s(); err != nil || int64(len(q.Labels)) != nt.Shape[0] {
		return q, fmt.Errorf("%s: labels is %s %v, want I64 [%d]", path, lt.DType, lt.Shape, nt.Shape[0])
	}
	q.K = int(nt.Shape[1])
	for _, j := range q.Idx {
		if j < 0 || int(j) >= len(q.Labels) {
			return q, fmt.Errorf("%s: neighbour index %d outside 0..%d", path, j, len(q.Labels)-1)
		}
	}
	return q, nil
}
