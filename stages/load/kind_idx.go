package load

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// KindIDX is an MNIST-family set in IDX files (MNIST, Fashion-MNIST, KMNIST).
const KindIDX = "idx"

var kindIDX = Kind{
	Name:    KindIDX,
	Summary: "MNIST-family files",
	Layout:  "<root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]",
	Order: "both files pooled by label (train file first, file order); classes named \"0\"..\"9\" in label order; " +
		"split rule as for `folder` (default half: labels 0-4 train, 5-9 test, for zero-shot retrieval). " +
		"Greyscale replicated to RGB. Use a small `base` (e.g. 32): the default 256 would store 13.7 GB for Fashion-MNIST",
	Digest:  "the four IDX files",
	Uses:    []string{"split", "train_classes"},
	Aliases: []string{"mnist", "fashion_mnist", "fashion-mnist", "fmnist", "kmnist"},
	list:    listIDX,
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
