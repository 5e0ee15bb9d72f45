package load

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
)

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
