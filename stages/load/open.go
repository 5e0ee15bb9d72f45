package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"dmlrun/safetensors"
)

// Prepared is an opened load artifact. Image shards are memory-mapped: opening is cheap
// and pages are read on first use. Close releases the mappings; batches already returned
// stay valid (they are copies). A Prepared is safe for concurrent use.
type Prepared struct {
	Dir      string
	Manifest Manifest
	splits   map[string]*Split
}

// Split is one split of a Prepared dataset.
type Split struct {
	Name     string
	Classes  []string
	Protocol Protocol
	shards   []*safetensors.Mapped
	starts   []int     // first sample index of each shard
	images   [][]uint8 // per shard: n*base*base*3
	labels   []int64
}

// Open reads dir/dataset.json and maps every shard, checking shapes, dtypes, label range
// and that the shards' index tensors run 0..n-1.
func Open(dir string) (_ *Prepared, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err != nil {
		return nil, fmt.Errorf("load: open %s: %w", dir, err)
	}
	p := &Prepared{Dir: dir, splits: map[string]*Split{}}
	if err := json.Unmarshal(b, &p.Manifest); err != nil {
		return nil, fmt.Errorf("load: %s: %w", filepath.Join(dir, "dataset.json"), err)
	}
	if p.Manifest.Format != 1 {
		return nil, fmt.Errorf("load: %s: dataset.json format %d, this build reads format 1", dir, p.Manifest.Format)
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	pr := p.Manifest.Protocol
	if err := checkSize(pr.Base, pr.Crop); err != nil {
		return nil, fmt.Errorf("load: %s: dataset.json: %w", dir, err)
	}
	for name, info := range p.Manifest.Splits {
		s := &Split{Name: name, Classes: info.Classes, Protocol: pr}
		p.splits[name] = s
		n := 0
		for _, sh := range info.Shards {
			path := filepath.Join(dir, sh)
			m, err := safetensors.Map(path)
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			s.shards = append(s.shards, m)
			img, lab, idx := m.Tensors["images"], m.Tensors["labels"], m.Tensors["index"]
			if img.DType != "U8" || len(img.Shape) != 4 || img.Shape[1] != int64(pr.Base) || img.Shape[2] != int64(pr.Base) || img.Shape[3] != 3 {
				return nil, fmt.Errorf("load: %s: images tensor is %s %v, want U8 [n, %d, %d, 3]", path, img.DType, img.Shape, pr.Base, pr.Base)
			}
			k := int(img.Shape[0])
			ls, err := lab.Int64s()
			if err != nil || len(ls) != k {
				return nil, fmt.Errorf("load: %s: labels tensor is %s %v, want I64 [%d]", path, lab.DType, lab.Shape, k)
			}
			xs, err := idx.Int64s()
			if err != nil || len(xs) != k {
				return nil, fmt.Errorf("load: %s: index tensor is %s %v, want I64 [%d]", path, idx.DType, idx.Shape, k)
			}
			for i, l := range ls {
				if l < 0 || int(l) >= len(info.Classes) {
					return nil, fmt.Errorf("load: %s: label %d outside 0..%d", path, l, len(info.Classes)-1)
				}
				if xs[i] != int64(n+i) {
					return nil, fmt.Errorf("load: %s: index[%d] = %d, want %d", path, i, xs[i], n+i)
				}
			}
			s.starts = append(s.starts, n)
			s.images = append(s.images, img.Data)
			s.labels = append(s.labels, ls...)
			n += k
		}
		if n != info.N {
			return nil, fmt.Errorf("load: %s: split %s has %d images in its shards, dataset.json says %d", dir, name, n, info.N)
		}
	}
	return p, nil
}

// Close unmaps the shards; it is idempotent.
func (p *Prepared) Close() error {
	var errs []error
	for _, s := range p.splits {
		for _, m := range s.shards {
			errs = append(errs, m.Close())
		}
		s.shards, s.images = nil, nil
	}
	return errors.Join(errs...)
}

// SplitNames lists the splits present ("test", "train", and "val" when made), sorted.
func (p *Prepared) SplitNames() []string {
	var out []string
	for n := range p.splits {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Split returns a split by name.
func (p *Prepared) Split(name string) (*Split, error) {
	s, ok := p.splits[name]
	if !ok {
		return nil, fmt.Errorf("load: %s has no %q split (it has %s)", p.Dir, name, strings.Join(p.SplitNames(), ", "))
	}
	return s, nil
}

// Len is the number of images.
func (s *Split) Len() int { return len(s.labels) }

// Labels returns every image's label (0..NumClasses-1) in index order; do not modify.
func (s *Split) Labels() []int64 { return s.labels }

// NumClasses is the number of classes of the split.
func (s *Split) NumClasses() int { return len(s.Classes) }

// ClassIndex maps each label to its sample indices in index order (the original's
// image_dict).
func (s *Split) ClassIndex() map[int64][]int {
	m := make(map[int64][]int, len(s.Classes))
	for i, l := range s.labels {
		m[l] = append(m[l], i)
	}
	return m
}

// Image returns sample i's stored base x base x 3 RGB image (aliases the mapping: do not
// modify, do not use after Close). It panics on an index out of range (caller bug).
func (s *Split) Image(i int) []uint8 {
	if i < 0 || i >= len(s.labels) {
		panic(fmt.Sprintf("load: image index %d outside split %s of %d images (caller bug)", i, s.Name, len(s.labels)))
	}
	k := sort.Search(len(s.starts), func(j int) bool { return s.starts[j] > i }) - 1
	sz := s.Protocol.Base * s.Protocol.Base * 3
	o := (i - s.starts[k]) * sz
	return s.images[k][o : o+sz]
}
