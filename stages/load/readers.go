package load

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Dataset kinds.
const (
	KindCUB200  = "cub200"          // <root>/images/<NNN.Name>/<file>
	KindCars196 = "cars196"         // <root>/images/<Class Name Year>/<file>
	KindSOP     = "online_products" // <root>/Info_Files/Ebay_{train,test}.txt + <root>/images/
	KindFolder  = "folder"          // <root>/<class>/<file>, explicit split rule
	KindIDX     = "idx"             // <root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
	KindEmoji   = "emoji"           // <root>/<vendor>/package/emoji.json + img/<vendor>/64/
)

// Kinds lists the dataset kinds in the order the docs present them.
var Kinds = []string{KindCUB200, KindCars196, KindSOP, KindFolder, KindIDX, KindEmoji}

// sample is one image to load: a file (path, rel) or, for IDX data, greyscale pixels.
type sample struct {
	rel    string // identifier relative to the dataset root (file path, or "file#i")
	path   string // file to read; empty for in-memory samples
	grey   []uint8
	gw, gh int
}

type class struct {
	name    string
	samples []sample
}

type splitDef struct {
	name    string // "train", "test", "val"
	classes []class
}

// listing is what a reader finds: the splits with their classes in label order, and the
// files besides the images that decide the result (info files, emoji.json, IDX files).
type listing struct {
	splits []splitDef
	extra  []string // paths relative to root
	white  bool     // composite alpha over white (emoji)
	// readSums holds the SHA-256 (hex) of the bytes the reader parsed, for each extra file
	// it read (info files, emoji.json, IDX files), so Prepare can check they are the bytes
	// the digest covers. Empty in a filesOnly listing of IDX files.
	readSums map[string]string
}

// splitRule says how a folder or IDX dataset's sorted classes are divided.
type splitRule struct {
	mode         string // "half", "alternate", "first_n"
	trainClasses int    // for first_n
}

// readOptions are the reader-relevant parameters.
type readOptions struct {
	root     string
	valSplit float64 // fraction of training classes kept for training; 0 = no val split
	rule     splitRule
	vendors  []string
	// filesOnly: the caller needs the files the dataset consists of (for its digest), not
	// the samples' pixels. Only IDX differs: its files are found but not read, and the
	// listing has no splits. Image files are never read by a listing anyway.
	filesOnly bool

	sums map[string]string // filled by readFile
}

// readFile reads a file under the root that decides the listing and records its SHA-256.
func (o readOptions) readFile(rel string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(o.root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	o.sums[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
	return b, nil
}

// list dispatches on kind.
func list(kind string, o readOptions) (*listing, error) {
	st, err := os.Stat(o.root)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dataset root %s is not a directory", o.root)
	}
	o.sums = map[string]string{}
	var l *listing
	switch kind {
	case KindCUB200:
		l, err = listCUB(o)
	case KindCars196:
		l, err = listCars(o)
	case KindSOP:
		l, err = listSOP(o)
	case KindFolder:
		l, err = listFolder(o)
	case KindIDX:
		l, err = listIDX(o)
	case KindEmoji:
		l, err = listEmoji(o)
	default:
		return nil, fmt.Errorf("unknown dataset kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
	}
	if err != nil {
		return nil, err
	}
	l.readSums = o.sums
	for _, s := range l.splits {
		if len(s.classes) == 0 {
			return nil, fmt.Errorf("%s split has no classes", s.name)
		}
	}
	return l, nil
}

// readDirNames lists a directory's entries, skipping names that contain "._" (macOS
// resource forks; the original ignores them too). dirs selects directories or files.
func readDirNames(dir string, dirs bool) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), "._") {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
				isDir = st.IsDir()
			}
		}
		if isDir == dirs {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// classFromDir lists a class folder's image files, sorted by plain string order.
func classFromDir(root, rel, name string, filter func(string) bool) (class, error) {
	files, err := readDirNames(filepath.Join(root, rel), false)
	if err != nil {
		return class{}, fmt.Errorf("class folder: %w", err)
	}
	sort.Strings(files)
	c := class{name: name}
	for _, f := range files {
		if filter != nil && !filter(f) {
			continue
		}
		r := filepath.ToSlash(filepath.Join(rel, f))
		c.samples = append(c.samples, sample{rel: r, path: filepath.Join(root, r)})
	}
	if len(c.samples) == 0 {
		return class{}, fmt.Errorf("class folder %s has no images", filepath.Join(root, rel))
	}
	return c, nil
}

// halves splits sorted classes: the first floor(n/2) train, the rest test (the original's
// keys[:len(keys)//2], keys[len(keys)//2:]).
func halves(cs []class) (train, test []class) { return cs[:len(cs)/2], cs[len(cs)/2:] }

// cutVal keeps the first int(len*f) training classes for training and makes the rest the
// validation split (reference-method §2.5). f = 0 means no validation split.
func cutVal(train []class, f float64) (tr, val []class, err error) {
	if f == 0 {
		return train, nil, nil
	}
	if f < 0 || f >= 1 {
		return nil, nil, fmt.Errorf("val_split %v must be in (0, 1)", f)
	}
	k := int(float64(len(train)) * f)
	if k == 0 || k == len(train) {
		return nil, nil, fmt.Errorf("val_split %v of %d training classes leaves an empty split", f, len(train))
	}
	return train[:k], train[k:], nil
}

func mkSplits(train, test, val []class) []splitDef {
	s := []splitDef{{"train", train}, {"test", test}}
	if val != nil {
		s = append(s, splitDef{"val", val})
	}
	return s
}

// listCUB: class folders sorted by the integer before the first '.', first half train.
func listCUB(o readOptions) (*listing, error) {
	img := filepath.Join(o.root, "images")
	names, err := readDirNames(img, true)
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
		c, err := classFromDir(o.root, filepath.Join("images", k.name), k.name, nil)
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

// listCars: class folders in plain code-point order, first half train.
func listCars(o readOptions) (*listing, error) {
	img := filepath.Join(o.root, "images")
	names, err := readDirNames(img, true)
	if err != nil {
		return nil, fmt.Errorf("cars196: %w", err)
	}
	sort.Strings(names)
	var cs []class
	for _, n := range names {
		c, err := classFromDir(o.root, filepath.Join("images", n), n, nil)
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

type sopRow struct {
	classID int
	path    string
}

// readInfoFile parses an Ebay_*.txt file: a header row, then
// "image_id class_id super_class_id path" rows separated by single spaces.
func readInfoFile(path string) ([]sopRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseInfoFile(path, b)
}

// parseInfoFile parses an info file's contents; path is for messages.
func parseInfoFile(path string, data []byte) ([]sopRow, error) {
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
		rows = append(rows, sopRow{classID: cid, path: fs[3]})
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
		rows, err := parseInfoFile(filepath.Join(o.root, rel), b)
		if err != nil {
			return nil, fmt.Errorf("online_products: %w", err)
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
	byClass := map[int][]string{}
	var order []int // class ids in first-appearance order
	for _, r := range append(append([]sopRow{}, trRows...), teRows...) {
		if _, ok := byClass[r.classID]; !ok {
			order = append(order, r.classID)
		}
		byClass[r.classID] = append(byClass[r.classID], r.path)
	}
	var trainIDs, testIDs []int
	for _, id := range order {
		pid := productID(byClass[id][0])
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
			for _, p := range byClass[id] {
				r := "images/" + p
				c.samples = append(c.samples, sample{rel: r, path: filepath.Join(o.root, filepath.FromSlash(r))})
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

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".webp": true}

func isImageName(n string) bool {
	return !strings.HasPrefix(n, ".") && imageExts[strings.ToLower(filepath.Ext(n))]
}

// applyRule divides sorted classes by a split rule.
func applyRule(cs []class, r splitRule) (train, test []class, err error) {
	switch r.mode {
	case "", "half":
		train, test = halves(cs)
	case "alternate":
		for i, c := range cs {
			if i%2 == 0 {
				train = append(train, c)
			} else {
				test = append(test, c)
			}
		}
	case "first_n":
		if r.trainClasses <= 0 || r.trainClasses >= len(cs) {
			return nil, nil, fmt.Errorf("train_classes = %d must be between 1 and %d (there are %d classes)", r.trainClasses, len(cs)-1, len(cs))
		}
		train, test = cs[:r.trainClasses], cs[r.trainClasses:]
	default:
		return nil, nil, fmt.Errorf("unknown split rule %q (want half, alternate or first_n)", r.mode)
	}
	if len(train) == 0 || len(test) == 0 {
		return nil, nil, fmt.Errorf("split rule %q on %d classes leaves an empty split", r.mode, len(cs))
	}
	return train, test, nil
}

// listFolder: any <root>/<class>/<image> tree; class folders in plain string order, image
// files (jpg, jpeg, png, gif, bmp, webp; not hidden) in plain string order.
func listFolder(o readOptions) (*listing, error) {
	names, err := readDirNames(o.root, true)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	sort.Strings(names)
	var cs []class
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			continue
		}
		c, err := classFromDir(o.root, n, n, isImageName)
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

// readIDX reads an IDX file (optionally gzip-compressed). It returns the dimensions and
// the unsigned-byte payload.
func readIDX(path string) ([]int, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return decodeIDX(path, raw)
}

// decodeIDX decodes an IDX file's contents; path is for messages.
func decodeIDX(path string, raw []byte) ([]int, []byte, error) {
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: gunzip: %w", path, err)
		}
	}
	if len(raw) < 4 || raw[0] != 0 || raw[1] != 0 {
		return nil, nil, fmt.Errorf("%s: not an IDX file (bad magic)", path)
	}
	if raw[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: IDX type 0x%02x unsupported (want unsigned byte, 0x08)", path, raw[2])
	}
	nd := int(raw[3])
	if len(raw) < 4+4*nd {
		return nil, nil, fmt.Errorf("%s: truncated IDX header", path)
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4+4*i:]))
		total *= dims[i]
	}
	body := raw[4+4*nd:]
	if len(body) != total {
		return nil, nil, fmt.Errorf("%s: IDX payload is %d bytes, dimensions %v need %d", path, len(body), dims, total)
	}
	return dims, body, nil
}

func findIDX(root, base string) (string, error) {
	for _, n := range []string{base, base + ".gz"} {
		if _, err := os.Stat(filepath.Join(root, n)); err == nil {
			return n, nil
		}
	}
	return "", fmt.Errorf("idx: neither %s nor %s.gz in %s", base, base, root)
}

// listIDX pools the train and t10k files of an MNIST-family set by label (train file
// first, file order within), names classes "0".."9" (labels in ascending order) and
// splits the classes with the split rule (default half: 0-4 train, 5-9 test), so train
// and test classes are disjoint as retrieval benchmarks need.
func listIDX(o readOptions) (*listing, error) {
	byLabel := map[int][]sample{}
	var extra []string
	for _, part := range []string{"train", "t10k"} {
		in, err := findIDX(o.root, part+"-images-idx3-ubyte")
		if err != nil {
			return nil, err
		}
		ln, err := findIDX(o.root, part+"-labels-idx1-ubyte")
		if err != nil {
			return nil, err
		}
		extra = append(extra, in, ln)
		if o.filesOnly {
			continue
		}
		read := func(rel string) ([]int, []byte, error) {
			raw, err := o.readFile(rel)
			if err != nil {
				return nil, nil, fmt.Errorf("idx: %w", err)
			}
			dims, body, err := decodeIDX(filepath.Join(o.root, rel), raw)
			if err != nil {
				return nil, nil, fmt.Errorf("idx: %w", err)
			}
			return dims, body, nil
		}
		idims, pix, err := read(in)
		if err != nil {
			return nil, err
		}
		ldims, labels, err := read(ln)
		if err != nil {
			return nil, err
		}
		if len(idims) != 3 || len(ldims) != 1 || idims[0] != ldims[0] {
			return nil, fmt.Errorf("idx: %s %v and %s %v do not describe the same images", in, idims, ln, ldims)
		}
		h, w := idims[1], idims[2]
		for i, lab := range labels {
			byLabel[int(lab)] = append(byLabel[int(lab)], sample{
				rel: fmt.Sprintf("%s#%d", in, i), grey: pix[i*h*w : (i+1)*h*w], gw: w, gh: h})
		}
	}
	if o.filesOnly {
		return &listing{extra: extra}, nil
	}
	var labs []int
	for l := range byLabel {
		labs = append(labs, l)
	}
	sort.Ints(labs)
	var cs []class
	for _, l := range labs {
		cs = append(cs, class{name: strconv.Itoa(l), samples: byLabel[l]})
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("idx: %s has %d labels, need at least 2", o.root, len(cs))
	}
	train, test, err := applyRule(cs, o.rule)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	train, val, err := cutVal(train, o.valSplit)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	return &listing{splits: mkSplits(train, test, val), extra: extra}, nil
}

type emojiEntry struct {
	Unified   string `json:"unified"`
	ShortName string `json:"short_name"`
	Image     string `json:"image"`
	SortOrder int    `json:"sort_order"`
}

// listEmoji: one class per emoji of emoji-datasource (top-level entries, skin-tone
// variations excluded), one image per vendor (the 64 px PNG, alpha composited over
// white). An emoji is a class when every listed vendor's emoji.json marks it has_img_<v>.
// Classes are ordered by sort_order (emoji-datasource's semantic order: smileys, people,
// animals, food, travel, activities, objects, symbols, flags) and split first half / second
// half of that order, so train and test emoji come from different categories.
func listEmoji(o readOptions) (*listing, error) {
	if len(o.vendors) == 0 {
		return nil, errors.New("emoji: vendors is empty")
	}
	has := map[string]map[string]bool{} // vendor -> unified -> has image
	var entries []emojiEntry
	var extra []string
	for vi, v := range o.vendors {
		rel := filepath.ToSlash(filepath.Join(v, "package", "emoji.json"))
		b, err := o.readFile(rel)
		if err != nil {
			return nil, fmt.Errorf("emoji: vendor %s: %w (run scripts/fetch-data.sh)", v, err)
		}
		extra = append(extra, rel)
		var raws []map[string]json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, fmt.Errorf("emoji: %s: %w", filepath.Join(o.root, rel), err)
		}
		has[v] = map[string]bool{}
		for i, r := range raws {
			e, err := decodeEmojiEntry(r)
			if err != nil || e.Unified == "" || e.Image == "" {
				return nil, fmt.Errorf("emoji: %s: entry %d lacks unified/image/sort_order", filepath.Join(o.root, rel), i)
			}
			var hv bool
			if m, ok := r["has_img_"+v]; ok {
				json.Unmarshal(m, &hv)
			}
			has[v][e.Unified] = hv
			if vi == 0 {
				entries = append(entries, e)
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].SortOrder < entries[j].SortOrder })
	var cs []class
	for _, e := range entries {
		ok := true
		for _, v := range o.vendors {
			ok = ok && has[v][e.Unified]
		}
		if !ok {
			continue
		}
		c := class{name: e.ShortName}
		if c.name == "" {
			c.name = e.Unified
		}
		for _, v := range o.vendors {
			r := filepath.ToSlash(filepath.Join(v, "package", "img", v, "64", e.Image))
			c.samples = append(c.samples, sample{rel: r, path: filepath.Join(o.root, filepath.FromSlash(r))})
		}
		cs = append(cs, c)
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("emoji: only %d emoji have images for all of %v", len(cs), o.vendors)
	}
	train, test := halves(cs)
	train, val, err := cutVal(train, o.valSplit)
	if err != nil {
		return nil, fmt.Errorf("emoji: %w", err)
	}
	return &listing{splits: mkSplits(train, test, val), extra: extra, white: true}, nil
}

// decodeEmojiEntry takes the fields it needs from one decoded emoji.json entry (decoding
// only those four values: plan lists the folder on every run, and re-encoding each entry
// to decode it again took most of a second for two vendors).
func decodeEmojiEntry(r map[string]json.RawMessage) (emojiEntry, error) {
	var e emojiEntry
	for name, dst := range map[string]any{"unified": &e.Unified, "short_name": &e.ShortName, "image": &e.Image, "sort_order": &e.SortOrder} {
		if v, ok := r[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

// subset keeps the first n classes of every split (in label order) and the first m
// images of each kept class (in list order); 0 keeps all. It is meant for CI runs.
func (l *listing) subset(n, m int) {
	for i := range l.splits {
		cs := l.splits[i].classes
		if n > 0 && n < len(cs) {
			cs = cs[:n]
		}
		out := make([]class, len(cs))
		for j, c := range cs {
			if m > 0 && m < len(c.samples) {
				c.samples = c.samples[:m]
			}
			out[j] = c
		}
		l.splits[i].classes = out
	}
}
