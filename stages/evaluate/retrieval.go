package evaluate

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/evaluate/gallery"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/load"
)

// PictureFile is the evaluate artifact's retrieval picture.
const PictureFile = "retrieval.png"

// SampleQueries draws n distinct query indices out of 0..total-1 (all of them, shuffled,
// when total <= n): a partial Fisher–Yates shuffle driven by PCG's defined output
// sequence, so the sample stays the same across Go releases (math/rand/v2's Perm does
// not promise that).
func SampleQueries(total, n int, seed int64) []int {
	n = min(n, total)
	src := rand.NewPCG(uint64(seed), 0x72657472696576) // "retriev"
	idx := make([]int, total)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < n; i++ {
		j := i + bounded(src, uint64(total-i))
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:n]
}

// bounded returns a uniform integer in [0, n) by rejection (no modulo bias).
func bounded(src *rand.PCG, n uint64) int {
	limit := ^uint64(0) - ^uint64(0)%n
	for {
		if v := src.Uint64(); v < limit {
			return int(v % n)
		}
	}
}

// pictureData is the evaluated split's images for retrieval.png.
type pictureData struct {
	dataset string // the dataset node's address
	p       *load.Prepared
	split   *load.Split
}

// openPictureData opens the images for retrieval.png, before any metric is computed so
// that a wrong dataset fails the node at once: nil when the block asks for no picture or
// names no dataset (the log says how to get one). The dataset must be the one the embed
// node read (by key), and its split must hold the embedded images in the same order
// (count and labels): the picture shows the images the metrics score. The caller closes
// the returned data.
func openPictureData(ctx *stage.Context, cfg *Config, in stage.Input, info embed.Info, labels []int64) (*pictureData, error) {
	if cfg.RetrievalQueries == 0 {
		return nil, nil
	}
	dins := ctx.InputsOf("dataset")
	if len(dins) == 0 {
		fmt.Fprintf(ctx.Log, "no %s: set dataset = dataset.<name> (the embed block's dataset) in the evaluate block to draw it\n", PictureFile)
		return nil, nil
	}
	din, err := embeddedDataset(in, dins)
	if err != nil {
		return nil, err
	}
	p, err := load.Open(din.Dir)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", din.Addr, err)
	}
	s, err := p.Split(info.Split)
	if err == nil && (s.Len() != len(labels) || !slices.Equal(s.Labels(), labels)) {
		err = fmt.Errorf("its %s split (%d images) is not what %s embedded (%d rows, labels in another order): the embed artifact does not come from this dataset",
			info.Split, s.Len(), in.Addr, len(labels))
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("dataset %s: %w", din.Addr, err)
	}
	return &pictureData{dataset: din.Addr, p: p, split: s}, nil
}

func (d *pictureData) Close() error {
	if d == nil {
		return nil
	}
	return d.p.Close()
}

// drawPicture writes retrieval.png from the neighbour lists and returns its record for
// metrics.json (nil without picture data).
func drawPicture(ctx *stage.Context, cfg *Config, in stage.Input, info embed.Info, d *pictureData, nb metrics.QueryNeighbours) (*metrics.Retrieval, error) {
	if d == nil {
		return nil, nil
	}
	queries := SampleQueries(nb.Len(), cfg.RetrievalQueries, cfg.RetrievalSeed)
	model := info.ModelAddr
	for _, a := range in.Ancestors {
		if a.Stage == "train" {
			model = a.Addr // as the current file names it
		}
	}
	b, err := RetrievalSheet(d.split, nb, queries, model, cfg.RetrievalSeed).PNG()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PictureFile, err)
	}
	if err := os.WriteFile(filepath.Join(ctx.OutDir, PictureFile), b, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(ctx.Log, "%s: %d queries (seed %d) with their %d nearest neighbours\n", PictureFile, len(queries), cfg.RetrievalSeed, nb.K)
	return &metrics.Retrieval{Picture: PictureFile, Seed: cfg.RetrievalSeed, Queries: queries, K: nb.K, Dataset: d.dataset}, nil
}

// embeddedDataset picks, among the evaluate block's dataset inputs, the one the embed
// input read (the nearest dataset node upstream of it, by key).
func embeddedDataset(in stage.Input, dins []stage.Input) (stage.Input, error) {
	var upstream []string
	for _, a := range in.Ancestors {
		if a.Stage != "dataset" {
			continue
		}
		upstream = append(upstream, fmt.Sprintf("%s (key %.12s)", a.Addr, a.Key))
		for _, d := range dins {
			if d.Key == a.Key {
				return d, nil
			}
		}
	}
	return stage.Input{}, fmt.Errorf("dataset = %s (key %.12s) is not the dataset %s embedded (%v): name the embed block's dataset",
		dins[0].Addr, dins[0].Key, in.Addr, upstream)
}

// RetrievalSheet lays out the retrieval picture: one line per query, the query's image
// (dark border) then its nearest neighbours best first (green: the query's class, red:
// another), captioned with class names.
func RetrievalSheet(s *load.Split, nb metrics.QueryNeighbours, queries []int, model string, seed int64) gallery.Sheet {
	hits := 0
	sec := gallery.Section{Header: []string{"query"}, Split: 1}
	for r := 1; r <= nb.K; r++ {
		sec.Header = append(sec.Header, ordinal(r))
	}
	for _, q := range queries {
		g := gallery.Group{Label: fmt.Sprintf("#%d", q)}
		g.Tiles = append(g.Tiles, gallery.Tile{Image: gallery.SplitImage(s, q), Caption: className(s, nb.Labels[q]), Mark: gallery.Query})
		for _, j := range nb.Row(q) {
			m := gallery.Miss
			if nb.Labels[j] == nb.Labels[q] {
				m = gallery.Hit
			}
			g.Tiles = append(g.Tiles, gallery.Tile{Image: gallery.SplitImage(s, int(j)), Caption: className(s, nb.Labels[j]), Mark: m})
		}
		if nb.Hit(q) {
			hits++
		}
		sec.Groups = append(sec.Groups, g)
	}
	return gallery.Sheet{
		Title: []string{
			fmt.Sprintf("%s: %d random %s queries (seed %d) and their %d nearest neighbours (L2)", model, len(queries), s.Name, seed, nb.K),
			fmt.Sprintf("green: the query's class, red: another class; %d of %d queries right at rank 1", hits, len(queries)),
		},
		Sections: []gallery.Section{sec},
	}
}

func className(s *load.Split, label int64) string {
	if label >= 0 && int(label) < len(s.Classes) {
		return s.Classes[label]
	}
	return fmt.Sprintf("class %d", label)
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprint(n) + suffix
}
