package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Default is the original's default evaluation metric list.
var Default = []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"}

// Names documents the accepted metric names (for error messages and docs).
const Names = "e_recall@K, c_recall@K, mAP_K (e.g. mAP_1000), c_mAP_K, mAP@R, c_mAP@R, nmi, f1, " +
	"dists@intra, dists@inter, dists@intra_over_inter, rho_spectrum@M (M a non-zero integer, optional suffix @embeds)"

type kind int

const (
	kRecall kind = iota
	kMAPK
	kMAPR
	kNMI
	kF1
	kDists
	kRho
)

// spec is one parsed metric name.
type spec struct {
	name   string
	kind   kind
	cosine bool
	k      int    // recall k, mAP k, rho mode
	mode   string // dists mode
}

// Parse checks metric names and returns an error naming every bad one.
func Parse(names []string) error {
	_, err := parse(names)
	return err
}

func parse(names []string) ([]spec, error) {
	var out []spec
	var bad []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			bad = append(bad, n+" (duplicate)")
			continue
		}
		seen[n] = true
		s, ok := parseOne(n)
		if !ok {
			bad = append(bad, strconv.Quote(n))
			continue
		}
		out = append(out, s)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown metric %s; known: %s", strings.Join(bad, ", "), Names)
	}
	return out, nil
}

func parseOne(n string) (spec, bool) {
	s := spec{name: n}
	rest := n
	if r, ok := strings.CutPrefix(n, "c_"); ok {
		s.cosine, rest = true, r
	}
	posInt := func(v string) (int, bool) {
		k, err := strconv.Atoi(v)
		return k, err == nil && k >= 1 && strconv.Itoa(k) == v
	}
	switch {
	case strings.HasPrefix(n, "e_recall@") || strings.HasPrefix(n, "c_recall@"):
		k, ok := posInt(n[len("e_recall@"):])
		s.kind, s.k = kRecall, k
		return s, ok
	case rest == "mAP@R":
		s.kind = kMAPR
		return s, true
	case strings.HasPrefix(rest, "mAP_"):
		k, ok := posInt(rest[len("mAP_"):])
		s.kind, s.k = kMAPK, k
		return s, ok
	}
	if s.cosine {
		return s, false
	}
	switch n {
	case "nmi":
		s.kind = kNMI
		return s, true
	case "f1":
		s.kind = kF1
		return s, true
	case "dists@intra", "dists@inter", "dists@intra_over_inter":
		s.kind, s.mode = kDists, n[len("dists@"):]
		return s, true
	}
	if r, ok := strings.CutPrefix(n, "rho_spectrum@"); ok {
		r = strings.TrimSuffix(r, "@embeds")
		m, err := strconv.Atoi(r)
		s.kind, s.k = kRho, m
		return s, err == nil && m != 0
	}
	return s, false
}

// Options configure Compute.
type Options struct {
	// KMeansK is the number of k-means clusters for nmi and f1. The original uses the
	// number of TRAINING classes even when evaluating the test set. Required (>0) when
	// nmi or f1 is requested.
	KMeansK int
	KMeans  KMeansOptions
	Backend Backend                       // nil: GoBackend{}
	Logf    func(format string, a ...any) // optional progress lines
}

// Compute evaluates the named metrics on embeddings x (N x D) with labels (N). Shared work
// is done once: k-means if nmi/f1 are asked for, an L2 kNN search with k_max+1 neighbours
// (first one dropped as self) for e_* metrics, and the same on row-normalised x with inner
// products for c_* metrics, where k_max is the largest k any metric needs. When the set has
// fewer than k_max+1 rows, k_max is clipped to N−1 (the original would index faiss's −1
// padding instead).
func Compute(x Matrix, labels []int64, names []string, opt Options) (map[string]float64, error) {
	if err := x.check("evaluate"); err != nil {
		return nil, err
	}
	if len(labels) != x.Rows {
		return nil, fmt.Errorf("evaluate: %d labels for %d embeddings", len(labels), x.Rows)
	}
	if x.Rows < 2 {
		return nil, fmt.Errorf("evaluate: need at least 2 embeddings, have %d", x.Rows)
	}
	specs, err := parse(names)
	if err != nil {
		return nil, err
	}
	b := opt.Backend
	if b == nil {
		b = GoBackend{}
	}
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	kNeed := [2]int{} // [euclid, cosine]
	var needKM bool
	for _, s := range specs {
		c := 0
		if s.cosine {
			c = 1
		}
		switch s.kind {
		case kRecall, kMAPK:
			kNeed[c] = max(kNeed[c], s.k)
		case kMAPR:
			kNeed[c] = max(kNeed[c], MaxClassSize(labels)-1, 1)
		case kNMI, kF1:
			needKM = true
		}
	}
	var nn [2]Neighbours
	for c := range 2 {
		if kNeed[c] == 0 {
			continue
		}
		k1 := min(kNeed[c]+1, x.Rows)
		xs, ip, what := x, false, "L2"
		if c == 1 {
			xs, ip, what = normalizeRows(x), true, "cosine"
		}
		logf("%s neighbours: %d queries, k=%d (+1 dropped as self)", what, x.Rows, k1-1)
		idx, err := SearchSelf(b, xs, k1, ip)
		if err != nil {
			return nil, fmt.Errorf("%s neighbour search: %w", what, err)
		}
		nn[c] = DropFirst(idx, x.Rows, k1)
	}
	var km *KMeansResult
	if needKM {
		if opt.KMeansK < 1 {
			return nil, fmt.Errorf("nmi/f1 need the number of k-means clusters (training classes); got %d", opt.KMeansK)
		}
		logf("k-means: %d points, %d clusters, %d iterations", x.Rows, opt.KMeansK, opt.KMeans.filled().Iters)
		km, err = KMeans(x, opt.KMeansK, opt.KMeans, b)
		if err != nil {
			return nil, err
		}
	}
	out := map[string]float64{}
	for _, s := range specs {
		c := 0
		if s.cosine {
			c = 1
		}
		var v float64
		switch s.kind {
		case kRecall:
			v = RecallAtK(nn[c], labels, s.k)
		case kMAPK:
			v = MAPAtK(nn[c], labels, s.k)
		case kMAPR:
			v = MAPAtR(nn[c], labels)
		case kNMI:
			v = NMI(labels, km.Labels)
		case kF1:
			v = F1(labels, km.Labels)
		case kDists:
			switch s.mode {
			case "intra":
				v = DistsIntra(x, labels)
			case "inter":
				v = DistsInter(x, labels)
			default:
				v = DistsIntraOverInter(x, labels)
			}
		case kRho:
			v, err = RhoSpectrum(x, s.k)
			if err != nil {
				return nil, err
			}
		}
		out[s.name] = v
	}
	return out, nil
}

// normalizeRows is sklearn.preprocessing.normalize (L2, rows; zero rows stay zero).
func normalizeRows(x Matrix) Matrix {
	out := Matrix{Data: make([]float32, len(x.Data)), Rows: x.Rows, Cols: x.Cols}
	for i := 0; i < x.Rows; i++ {
		r := x.Row(i)
		var ss float64
		for _, v := range r {
			ss += float64(v) * float64(v)
		}
		n := math.Sqrt(ss)
		if n == 0 {
			continue
		}
		o := out.Row(i)
		for j, v := range r {
			o[j] = float32(float64(v) / n)
		}
	}
	return out
}

// SortedNames returns the keys of a metrics map in a stable order (the order of Default
// first, then alphabetical).
func SortedNames(m map[string]float64) []string {
	rank := map[string]int{}
	for i, n := range Default {
		rank[n] = i
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, oki := rank[out[i]]
		rj, okj := rank[out[j]]
		if oki != okj {
			return oki
		}
		if oki {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}
