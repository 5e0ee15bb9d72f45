package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// KindSOP is Stanford Online Products (reference-method §2.4).
const KindSOP = "online_products"

var kindSOP = Kind{
	Name:   KindSOP,
	Layout: "<root>/Info_Files/Ebay_train.txt, <root>/Info_Files/Ebay_test.txt and <root>/images/<path in the info files>",
	Order: "§2.4: rows of both files grouped by `class_id` (train file first, row order); a class is train if its product id " +
		"(file name before the first `_`) is in Ebay_train.txt, test if in Ebay_test.txt; each split sorted by class id. " +
		"A malformed row is an error `file:line: ...`",
	Digest:  "both info files and the images they list",
	Aliases: []string{"sop", "stanford_online_products", "ebay"},
	list:    listSOP,
}

type sopRow struct {
	classID int
	path    string // relative to <root>/images, slash-separated, checked by lexicalEscape
	line    int
	where   string // "file:line", set by listSOP
}

// readInfoFile parses an Ebay_*.txt file: a header row, then
// "image_id class_id super_class_id path" rows separated by single spaces. The dataset
// root is taken to be the info file's grandparent (<root>/Info_Files/Ebay_*.txt).
func readInfoFile(path string) ([]sopRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseInfoFile(filepath.Dir(filepath.Dir(path)), path, b)
}

// parseInfoFile parses an info file's contents; root and path are for messages. A path
// that would leave <root>/images as written (absolute, or with a ".." component) is an
// *EscapeError naming path:line.
func parseInfoFile(root, path string, data []byte) ([]sopRow, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	var rows []sopRow
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if !strings.HasPrefix(strings.TrimSpace(t), "image_id") {
				return nil, fmt.Errorf("%s:1: header must be \"image_id class_id super_class_id path\", got %q", path, t)
			}
			continue
		}
		if strings.TrimSpace(t) == "" {
			continue
		}
		fs := strings.Fields(t)
		if len(fs) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 fields (image_id class_id super_class_id path), got %d in %q", path, line, len(fs), t)
		}
		cid, err := strconv.Atoi(fs[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: class_id %q is not an integer", path, line, fs[1])
		}
		if _, err := strconv.Atoi(fs[2]); err != nil {
			return nil, fmt.Errorf("%s:%d: super_class_id %q is not an integer", path, line, fs[2])
		}
		if why := lexicalEscape(fs[3]); why != "" {
			return nil, &EscapeError{Root: root, Where: fmt.Sprintf("%s:%d", path, line), Field: "path", Path: fs[3], Reason: why}
		}
		rows = append(rows, sopRow{classID: cid, path: fs[3], line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no image rows", path)
	}
	return rows, nil
}

func productID(p string) string {
	b := p[strings.LastIndex(p, "/")+1:]
	return strings.SplitN(b, "_", 2)[0]
}

// listSOP implements reference-method §2.4: classes are grouped from both info files by
// class_id (train file first, row order), assigned to train or test by whether their
// product id appears in Ebay_train.txt or Ebay_test.txt, and sorted by class_id. The
// validation cut (§2.5) is taken on training class ids in first-appearance order.
func listSOP(o readOptions) (*listing, error) {
	trainInfo := filepath.Join("Info_Files", "Ebay_train.txt")
	testInfo := filepath.Join("Info_Files", "Ebay_test.txt")
	readInfo := func(rel string) ([]sopRow, error) {
		b, err := o.readFile(rel)
		if err != nil {
			return nil, fmt.Errorf("online_products: %w", err)
		}
		path := filepath.Join(o.root, rel)
		rows, err := parseInfoFile(o.root, path, b)
		if err != nil {
			return nil, fmt.Errorf("online_products: %w", err)
		}
		for i := range rows {
			rows[i].where = fmt.Sprintf("%s:%d", path, rows[i].line)
		}
		return rows, nil
	}
	trRows, err := readInfo(trainInfo)
	if err != nil {
		return nil, err
	}
	teRows, err := readInfo(testInfo)
	if err != nil {
		return nil, err
	}
	trainProducts, testProducts := map[string]bool{}, map[string]bool{}
	for _, r := range trRows {
		trainProducts[productID(r.path)] = true
	}
	for _, r := range teRows {
		testProducts[productID(r.path)] = true
	}
	byClass := map[int][]sopRow{}
	var order []int // class ids in first-appearance order
	for _, r := range append(append([]sopRow{}, trRows...), teRows...) {
		if _, ok := byClass[r.classID]; !ok {
			order = append(order, r.classID)
		}
		byClass[r.classID] = append(byClass[r.classID], r)
	}
	var trainIDs, testIDs []int
	for _, id := range order {
		pid := productID(byClass[id][0].path)
		if trainProducts[pid] {
			trainIDs = append(trainIDs, id)
		}
		if testProducts[pid] {
			testIDs = append(testIDs, id)
		}
	}
	var valIDs []int
	if o.valSplit != 0 {
		if o.valSplit < 0 || o.valSplit >= 1 {
			return nil, fmt.Errorf("online_products: val_split %v must be in (0, 1)", o.valSplit)
		}
		k := int(float64(len(trainIDs)) * o.valSplit)
		if k == 0 || k == len(trainIDs) {
			return nil, fmt.Errorf("online_products: val_split %v of %d training classes leaves an empty split", o.valSplit, len(trainIDs))
		}
		trainIDs, valIDs = trainIDs[:k], append([]int{}, trainIDs[k:]...)
	}
	mk := func(ids []int) []class {
		sort.Ints(ids)
		cs := make([]class, len(ids))
		for i, id := range ids {
			c := class{name: strconv.Itoa(id)}
			for _, row := range byClass[id] {
				r := "images/" + row.path
				c.samples = append(c.samples, sample{rel: r, path: o.fs.named(r), where: row.where})
			}
			cs[i] = c
		}
		return cs
	}
	var val []class
	if valIDs != nil {
		val = mk(valIDs)
	}
	return &listing{
		splits: mkSplits(mk(trainIDs), mk(testIDs), val),
		extra:  []string{filepath.ToSlash(trainInfo), filepath.ToSlash(testInfo)},
	}, nil
}
