package load

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// KindFolder is any tree of class folders, split by an explicit rule.
const KindFolder = "folder"

var kindFolder = Kind{
	Name:    KindFolder,
	Summary: "class per folder",
	Layout:  "<root>/<class>/<image> (at least 2 class folders)",
	Order: "class folders (not hidden) in string order; files with extensions jpg/jpeg/png/gif/bmp/webp, not hidden, " +
		"in string order; others ignored. `split = \"half\"` (default: first floor(n/2) train), `\"alternate\"` " +
		"(classes at even positions train, odd test) or `\"first_n\"` with `train_classes = N`",
	Digest:  "the listed images",
	Uses:    []string{"split", "train_classes"},
	Aliases: []string{"folders", "imagefolder", "dir", "directory"},
	list:    listFolder,
}

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".webp": true}

func isImageName(n string) bool {
	return !strings.HasPrefix(n, ".") && imageExts[strings.ToLower(filepath.Ext(n))]
}

// listFolder: any <root>/<class>/<image> tree; class folders in plain string order, image
// files (jpg, jpeg, png, gif, bmp, webp; not hidden) in plain string order.
func listFolder(o readOptions) (*listing, error) {
	names, err := classDirs(o.fs, "")
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	sort.Strings(names)
	var cs []class
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			continue
		}
		c, err := classFromDir(o.fs, n, n, isImageName)
		if err != nil {
			return nil, fmt.Errorf("folder: %w", err)
		}
		cs = append(cs, c)
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("folder: %s has %d class folders, need at least 2", o.root, len(cs))
	}
	train, test, err := applyRule(cs, o.rule)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	train, val, err := cutVal(train, o.valSplit)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	return &listing{splits: mkSplits(train, test, val)}, nil
}
