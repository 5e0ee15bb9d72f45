package load

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// KindCUB200 is Caltech-UCSD Birds-200-2011 (reference-method §2.1).
const KindCUB200 = "cub200"

var kindCUB200 = Kind{
	Name:   KindCUB200,
	Layout: "<root>/images/<NNN.Class>/<image>",
	Order: "folders sorted by the integer before the first `.`; first `floor(n/2)` train, rest test; " +
		"files in string order; names containing `._` ignored (folders and files)",
	Digest:  "the listed images",
	Aliases: []string{"cub", "cub200_2011", "cub-200-2011", "birds"},
	list:    listCUB,
}

// listCUB: class folders sorted by the integer before the first '.', first half train.
func listCUB(o readOptions) (*listing, error) {
	img := filepath.Join(o.root, "images")
	names, err := classDirs(o.fs, "images")
	if err != nil {
		return nil, fmt.Errorf("cub200: %w", err)
	}
	type keyed struct {
		n    int
		name string
	}
	var ks []keyed
	for _, n := range names {
		i, err := strconv.Atoi(strings.SplitN(n, ".", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("cub200: class folder %s: name must start with an integer and a '.' (like 001.Black_footed_Albatross)",
				filepath.Join(img, n))
		}
		ks = append(ks, keyed{i, n})
	}
	sort.SliceStable(ks, func(a, b int) bool { return ks[a].n < ks[b].n })
	for i := 1; i < len(ks); i++ {
		if ks[i].n == ks[i-1].n {
			return nil, fmt.Errorf("cub200: class folders %s and %s have the same number", ks[i-1].name, ks[i].name)
		}
	}
	var cs []class
	for _, k := range ks {
		c, err := classFromDir(o.fs, "images/"+k.name, k.name, nil)
		if err != nil {
			return nil, fmt.Errorf("cub200: %w", err)
		}
		cs = append(cs, c)
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("cub200: %s has %d class folders, need at least 2", img, len(cs))
	}
	train, test := halves(cs)
	train, val, err := cutVal(train, o.valSplit)
	if err != nil {
		return nil, fmt.Errorf("cub200: %w", err)
	}
	return &listing{splits: mkSplits(train, test, val)}, nil
}
