package load

import (
	"fmt"
	"path/filepath"
	"sort"
)

// KindCars196 is Stanford Cars (reference-method §2.2).
const KindCars196 = "cars196"

var kindCars196 = Kind{
	Name:    KindCars196,
	Layout:  "<root>/images/<Class Name Year>/<image>",
	Order:   "folders in plain code-point order; first half / second half; files in string order",
	Digest:  "the listed images",
	Aliases: []string{"cars", "stanford_cars", "cars-196"},
	list:    listCars,
}

// listCars: class folders in plain code-point order, first half train.
func listCars(o readOptions) (*listing, error) {
	img := filepath.Join(o.root, "images")
	names, err := classDirs(o.fs, "images")
	if err != nil {
		return nil, fmt.Errorf("cars196: %w", err)
	}
	sort.Strings(names)
	var cs []class
	for _, n := range names {
		c, err := classFromDir(o.fs, "images/"+n, n, nil)
		if err != nil {
			return nil, fmt.Errorf("cars196: %w", err)
		}
		cs = append(cs, c)
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("cars196: %s has %d class folders, need at least 2", img, len(cs))
	}
	train, test := halves(cs)
	train, val, err := cutVal(train, o.valSplit)
	if err != nil {
		return nil, fmt.Errorf("cars196: %w", err)
	}
	return &listing{splits: mkSplits(train, test, val)}, nil
}
