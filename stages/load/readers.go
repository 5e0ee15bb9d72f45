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
	path   string // the file under the root as given (messages); empty for in-memory samples
	where  string // "file:line" of the index file row that named it, or ""
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
	root   *datasetRoot // every file of the listing is read through it
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

	fs   *datasetRoot      // set by list
	sums map[string]string // filled by readFile
}

// readFile reads a file under the root (slash-separated relative path) that decides the
// listing and records its SHA-256.
func (o readOptions) readFile(rel string) ([]byte, error) {
	b, err := o.fs.readFile(rel)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	o.sums[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
	return b, nil
}

// list dispatches on kind.
func list(kind string, o readOptions) (*listing, error) {
	abs, err := filepath.Abs(o.root)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	if o.fs, err = openDatasetRoot(abs); err != nil {
		return nil, err
	}
	o.root = abs
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
	l.root = o.fs
	for _, s := range l.splits {
		if len(s.classes) == 0 {
			return nil, fmt.Errorf("%s split has no classes", s.name)
		}
	}
	return l, nil
}

// classFromDir lists a class folder's image files, sorted by plain string order.
// rel is slash-separated, relative to the root.
func classFromDir(r *datasetRoot, rel, name string, filter func(string) bool) (class, error) {
	files, err := r.readDirNames(rel, false)
	if err != nil {
		return class{}, fmt.Errorf("class folder: %w", err)
	}
	sort.Strings(files)
	c := class{name: name}
	for _, f := range files {
		if filter != nil && !filter(f) {
			continue
		}
		p := rel + "/" + f
		c.samples = append(c.samples, sample{rel: p, path: r.named(p)})
	}
	if len(c.samples) == 0 {
		return class{}, fmt.Errorf("class folder %s has no images", r.named(rel))
	}
	return c, nil
}

// classDirs lists the class folders of a folder under the root ("" for the root itself);
// a class folder that is a symlink out of the root is an error naming it.
func classDirs(r *datasetRoot, rel string) ([]string, error) {
	names, err := r.readDirNames(rel, true)
	var ee *EscapeError
	if errors.As(err, &ee) && ee.Path != rel {
		return nil, fmt.Errorf("class folder %w", err)
	}
	return names, err
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

// readIDX reads an IDX file (optionally gzip-compressed). It returns the dimensions and
// the unsigned-byte payload.
func readIDX(path string) ([]int, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return decodeIDX(path, raw)
}

// maxDeflateRatio bounds how far a gzip stream can expand (deflate's limit is about
// 1032:1): a gzip-compressed IDX file whose header claims a larger payload is refused
// before anything is decompressed.
const maxDeflateRatio = 1032

// decodeIDX decodes an IDX file's contents (unsigned-byte type, optionally gzipped); path
// is for messages. The header's dimensions must describe exactly the payload: their
// product is checked against what the file can hold before anything is allocated for it,
// so a header claiming 10^9 images in a 1 KB file, or dimensions whose product overflows,
// is an error, not an allocation.
func decodeIDX(path string, raw []byte) ([]int, []byte, error) {
	gz := bytes.HasPrefix(raw, []byte{0x1f, 0x8b})
	var zr *gzip.Reader
	hdr := raw
	if gz {
		var err error
		if zr, err = gzip.NewReader(bytes.NewReader(raw)); err != nil {
			return nil, nil, fmt.Errorf("%s: gzip: %w", path, err)
		}
		hdr = make([]byte, 4, 4+4*255)
		if _, err := io.ReadFull(zr, hdr); err != nil {
			return nil, nil, fmt.Errorf("%s: truncated IDX header (gunzip: %v)", path, err)
		}
	}
	if len(hdr) < 4 || hdr[0] != 0 || hdr[1] != 0 {
		return nil, nil, fmt.Errorf("%s: not an IDX file (bad magic)", path)
	}
	if hdr[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: IDX type 0x%02x unsupported (want unsigned byte, 0x08)", path, hdr[2])
	}
	nd := int(hdr[3])
	hlen := 4 + 4*nd
	if gz {
		hdr = hdr[:hlen]
		if _, err := io.ReadFull(zr, hdr[4:]); err != nil {
			return nil, nil, fmt.Errorf("%s: truncated IDX header: %d dimensions need %d bytes (gunzip: %v)", path, nd, hlen, err)
		}
	} else if len(hdr) < hlen {
		return nil, nil, fmt.Errorf("%s: truncated IDX header: %d dimensions need %d bytes, the file has %d", path, nd, hlen, len(hdr))
	}
	dims := make([]int, nd)
	zero := false
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(hdr[4+4*i:]))
		zero = zero || dims[i] == 0
	}
	// The most payload the file can hold: its remaining bytes, or for gzip the
	// decompressed size deflate can reach.
	capacity := len(raw) - hlen
	if gz {
		capacity = maxDeflateRatio * len(raw)
	}
	total := 0
	if !zero {
		total = 1
		for _, d := range dims {
			if total > capacity/d {
				return nil, nil, fmt.Errorf("%s: IDX header's dimensions %v need more than the %d payload bytes the file can hold",
					path, dims, capacity)
			}
			total *= d
		}
	}
	if !gz {
		body := raw[hlen:]
		if len(body) != total {
			return nil, nil, fmt.Errorf("%s: IDX payload is %d bytes, dimensions %v need %d", path, len(body), dims, total)
		}
		return dims, body, nil
	}
	// Read at most one byte more than declared: memory grows with what the stream really
	// holds, never with what the header claims.
	body, err := io.ReadAll(io.LimitReader(zr, int64(total)+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: gunzip: %w", path, err)
	}
	if len(body) != total {
		more := ""
		if len(body) > total {
			more = "more than "
		}
		return nil, nil, fmt.Errorf("%s: IDX payload (gunzipped) is %s%d bytes, dimensions %v need %d", path, more, len(body), dims, total)
	}
	return dims, body, nil
}

func findIDX(r *datasetRoot, base string) (string, error) {
	for _, n := range []string{base, base + ".gz"} {
		if r.exists(n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("idx: neither %s nor %s.gz in %s", base, base, r.abs)
}

// listIDX pools the train and t10k files of an MNIST-family set by label (train file
// first, file order within), names classes "0".."9" (labels in ascending order) and
// splits the classes with the split rule (default half: 0-4 train, 5-9 test), so train
// and test classes are disjoint as retrieval benchmarks need.
func listIDX(o readOptions) (*listing, error) {
	byLabel := map[int][]sample{}
	var extra []string
	for _, part := range []string{"train", "t10k"} {
		in, err := findIDX(o.fs, part+"-images-idx3-ubyte")
		if err != nil {
			return nil, err
		}
		ln, err := findIDX(o.fs, part+"-labels-idx1-ubyte")
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
		if h < 1 || w < 1 {
			return nil, fmt.Errorf("idx: %s: IDX header says %dx%d images; want at least 1x1", filepath.Join(o.root, in), h, w)
		}
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

	where string // "emoji.json:line" of the first vendor's entry
}

// isFileName reports whether s names a file in a folder: not empty, ".", ".." or a path.
func isFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// decodeEmojiJSON decodes emoji.json (an array of objects) and returns, with each entry,
// the line it starts on; path is for messages.
func decodeEmojiJSON(path string, b []byte) ([]map[string]json.RawMessage, []int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	fail := func(err error) ([]map[string]json.RawMessage, []int, error) {
		off := int(dec.InputOffset())
		return nil, nil, fmt.Errorf("%s:%d: %w", path, 1+bytes.Count(b[:min(off, len(b))], []byte("\n")), err)
	}
	if t, err := dec.Token(); err != nil {
		return fail(err)
	} else if d, ok := t.(json.Delim); !ok || d != '[' {
		return fail(fmt.Errorf("want a JSON array of emoji entries, got %v", t))
	}
	var raws []map[string]json.RawMessage
	var lines []int
	line, at := 1, 0 // line number of byte offset at
	for dec.More() {
		start := int(dec.InputOffset())
		for start < len(b) && (b[start] == ' ' || b[start] == '\t' || b[start] == '\n' || b[start] == '\r' || b[start] == ',') {
			start++
		}
		line += bytes.Count(b[at:start], []byte("\n"))
		at = start
		var r map[string]json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return fail(err)
		}
		raws = append(raws, r)
		lines = append(lines, line)
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	return raws, lines, nil
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
		var ee *EscapeError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("emoji: vendor %s: %w", v, err)
		} else if err != nil {
			return nil, fmt.Errorf("emoji: vendor %s: %w (run scripts/fetch-data.sh)", v, err)
		}
		extra = append(extra, rel)
		path := filepath.Join(o.root, rel)
		raws, lines, err := decodeEmojiJSON(path, b)
		if err != nil {
			return nil, fmt.Errorf("emoji: %w", err)
		}
		has[v] = map[string]bool{}
		for i, r := range raws {
			e, err := decodeEmojiEntry(r)
			if err != nil || e.Unified == "" || e.Image == "" {
				return nil, fmt.Errorf("emoji: %s:%d: entry %d lacks unified/image/sort_order", path, lines[i], i)
			}
			if !isFileName(e.Image) {
				return nil, fmt.Errorf("emoji: %w", &EscapeError{Root: o.root, Where: fmt.Sprintf("%s:%d", path, lines[i]),
					Field: "image", Path: e.Image, Reason: "is not a file name"})
			}
			e.where = fmt.Sprintf("%s:%d", path, lines[i])
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
			c.samples = append(c.samples, sample{rel: r, path: o.fs.named(r), where: e.where})
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
