package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"dmlrun/internal/failpoint"
	"dmlrun/safetensors"
	"dmlrun/stage"
)

// ImageNet ResNet normalisation (torchvision) and the original's BN-Inception constants
// (reference-method §2.6).
var (
	ResNetMean      = [3]float64{0.485, 0.456, 0.406}
	ResNetStd       = [3]float64{0.229, 0.224, 0.225}
	BNInceptionMean = [3]float64{0.502, 0.4588, 0.4078}
	BNInceptionStd  = [3]float64{0.0039, 0.0039, 0.0039}
)

// Options are the load stage's parameters in typed form.
type Options struct {
	Kind, Root     string
	Base, Crop     int        // stored square size (short side resized to Base, centre-cropped); crop for batches
	Mean, Std      [3]float64 // per-channel normalisation of [0,1] values
	BGR            bool       // reverse channels after normalisation (bninception)
	SubsetClasses  int        // keep the first N classes of each split (0 = all)
	SubsetPerClass int        // keep the first M images of each kept class (0 = all)
	ValSplit       float64    // fraction of training classes kept for training; the rest is "val" (0 = none)
	Split          string     // folder/idx: "half", "alternate" or "first_n"
	TrainClasses   int        // folder/idx with Split "first_n"
	SkipCorrupt    bool       // undecodable images become counted warnings instead of errors
	Vendors        []string   // emoji vendors
	Digest         string     // expected "sha256:..." dataset digest; empty = not pinned
	Expect         string     // the digest the node's key was made from (stage.Context.KeyInputs); empty = unchecked
	StatCache      string     // stat cache file; "" = default location, "off" = none
	Workers        int        // decoding goroutines; 0 = runtime.NumCPU()
	ShardImages    int        // images per shard; 0 = about 512 MiB per shard
}

// Manifest is dataset.json.
type Manifest struct {
	Format   int                   `json:"format"`
	Kind     string                `json:"kind"`
	Root     string                `json:"root"`
	Digest   string                `json:"digest"`
	Protocol Protocol              `json:"protocol"`
	Splits   map[string]*SplitInfo `json:"splits"`
	Skipped  []Skipped             `json:"skipped,omitempty"`
}

// Protocol is the per-architecture preprocessing recorded with the data.
type Protocol struct {
	Base int        `json:"base"`
	Crop int        `json:"crop"`
	Mean [3]float64 `json:"mean"`
	Std  [3]float64 `json:"std"`
	BGR  bool       `json:"bgr"`
}

// SplitInfo describes one split's shards.
type SplitInfo struct {
	N       int      `json:"n"`
	Classes []string `json:"classes"`
	Shards  []string `json:"shards"`
	// Files names a text file with one line per image in index order: its source (path
	// relative to root, or "file#i" for IDX images), a tab, and the SHA-256 of the source
	// file's contents ("-" for IDX images).
	Files string `json:"files"`
}

// Skipped is an image left out under skip_corrupt.
type Skipped struct {
	Split string `json:"split"`
	Path  string `json:"path"`
	Error string `json:"error"`
}

// DigestMismatchError reports a pinned digest that the dataset folder does not match.
type DigestMismatchError struct {
	Root, Want, Got string
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("dataset %s has digest %s but the experiment pins digest = %q: the data changed; "+
		"check the folder or update the digest", e.Root, e.Got, e.Want)
}

func (o *Options) fill() error {
	if o.Base <= 0 {
		o.Base = 256
	}
	if o.Crop <= 0 {
		o.Crop = 224
	}
	if err := checkSize(o.Base, o.Crop); err != nil {
		return err
	}
	if o.Std == [3]float64{} {
		o.Mean, o.Std = ResNetMean, ResNetStd
	}
	for c, s := range o.Std {
		if s <= 0 {
			return fmt.Errorf("std[%d] = %v must be positive", c, s)
		}
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.ShardImages <= 0 {
		o.ShardImages = max(1, min(4096, (512<<20)/(o.Base*o.Base*3)))
	}
	if o.SubsetClasses < 0 || o.SubsetPerClass < 0 {
		return fmt.Errorf("subset classes/per_class must be >= 0")
	}
	if len(o.Vendors) == 0 {
		o.Vendors = []string{"google", "twitter"}
	}
	if o.Digest != "" && !strings.HasPrefix(o.Digest, "sha256:") {
		return fmt.Errorf("digest %q must look like sha256:<64 hex digits>", o.Digest)
	}
	return nil
}

// noBar is used when no progress reporter is given.
type noProgress struct{}
type noBar struct{}

func (noProgress) Start(string, int64) stage.Bar { return noBar{} }
func (noBar) Add(int64)                          {}
func (noBar) SetStatus(string)                   {}
func (noBar) Finish()                            {}

// Prepare lists, digests, decodes and stores the dataset into outDir (which must exist).
// On error, outDir may hold partial files; the caller (the pipeline) discards it.
func Prepare(ctx context.Context, o Options, outDir string, log io.Writer, prog stage.Progress) (*Manifest, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	if prog == nil {
		prog = noProgress{}
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	l, err := enumerate(o, root, false)
	if err != nil {
		return nil, err
	}
	var counts []int
	for _, s := range l.splits {
		k := 0
		for _, c := range s.classes {
			k += len(c.samples)
		}
		counts = append(counts, k)
	}
	if err := checkResources(o, counts, outDir); err != nil {
		return nil, err
	}

	cachePath := o.statCachePath()
	cache := openStatCache(cachePath)
	nfiles := len(l.extra)
	for _, s := range l.splits {
		for _, c := range s.classes {
			nfiles += len(c.samples)
		}
	}
	bar := prog.Start("digest "+o.Kind, int64(nfiles))
	digest, dst, err := datasetDigest(ctx, l, cache, func() { bar.Add(1) })
	bar.Finish()
	if err != nil {
		return nil, err
	}
	if err := cache.save(); err != nil {
		fmt.Fprintf(log, "warning: stat cache %s not saved: %v\n", cachePath, err)
	}
	fmt.Fprintf(log, "dataset %s at %s: digest %s (%d files, %d bytes, %d from the stat cache)\n",
		o.Kind, root, digest, dst.Files, dst.Bytes, dst.CacheHits)
	if o.Digest != "" && o.Digest != digest {
		return nil, &DigestMismatchError{Root: root, Want: o.Digest, Got: digest}
	}
	if o.Expect != "" && o.Expect != digest {
		return nil, &ChangedError{Path: root, Detail: fmt.Sprintf("its digest is %s now, the node's key was made from %s", digest, o.Expect)}
	}
	// The reader parsed info files, emoji.json or IDX files before the digest read them
	// (or found them in the stat cache): they must be the same bytes.
	for rel, sum := range l.readSums {
		if dst.Sums[rel] != sum {
			return nil, &ChangedError{Path: filepath.Join(root, filepath.FromSlash(rel)), Detail: "it changed between being read and being digested"}
		}
	}

	m := &Manifest{Format: 1, Kind: o.Kind, Root: root, Digest: digest,
		Protocol: Protocol{Base: o.Base, Crop: o.Crop, Mean: o.Mean, Std: o.Std, BGR: o.BGR},
		Splits:   map[string]*SplitInfo{}}
	for _, s := range l.splits {
		info, skipped, err := writeSplit(ctx, o, l, s, dst, outDir, log, prog)
		if err != nil {
			return nil, err
		}
		m.Splits[s.name] = info
		m.Skipped = append(m.Skipped, skipped...)
	}
	if len(m.Skipped) > 0 {
		fmt.Fprintf(log, "warning: skipped %d unreadable images (skip_corrupt = true); see dataset.json\n", len(m.Skipped))
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(outDir, "dataset.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// decodeSample reads and preprocesses one sample into a base x base x 3 image. A file
// sample is read from real, the path the digest resolved inside the dataset root and
// read; want is the SHA-256 (hex) it had then: bytes that differ are a *ChangedError, so
// the stored images are the ones the digest (and the key) covers.
func decodeSample(s sample, real string, base int, white bool, want string) ([]uint8, error) {
	if s.path == "" {
		w, h := s.gw, s.gh
		if err := checkResize(w, h, base); err != nil {
			return nil, fmt.Errorf("%s: %w", s.rel, err)
		}
		pix := make([]uint8, 3*w*h)
		for i, v := range s.grey {
			pix[3*i], pix[3*i+1], pix[3*i+2] = v, v, v
		}
		return resizeCenterCrop(rgbView{Pix: pix, Stride: 3 * w, W: w, H: h}, base), nil
	}
	if real == "" || want == "" {
		panic(fmt.Sprintf("load: %s was not digested before decoding (caller bug)", s.rel))
	}
	data, err := readResolved(real, s.path)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
		return nil, &ChangedError{Path: s.path, Detail: "its contents differ from those digested before decoding"}
	}
	return preprocess(data, s.path, base, white)
}

// preprocess decodes image file contents (name is for messages) and resizes and crops
// them to base x base.
func preprocess(data []byte, name string, base int, white bool) ([]uint8, error) {
	pix, w, h, err := decodeRGB(data, white, maxPixels)
	if err == nil {
		err = checkResize(w, h, base)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return resizeCenterCrop(rgbView{Pix: pix, Stride: 3 * w, W: w, H: h}, base), nil
}

type job struct {
	s     sample
	label int
}

// writeSplit decodes a split in shards of o.ShardImages with o.Workers goroutines and
// writes <split>-NNNNN.safetensors files and <split>.files.txt.
func writeSplit(ctx context.Context, o Options, l *listing, s splitDef, dst digestStats, outDir string, log io.Writer, prog stage.Progress) (*SplitInfo, []Skipped, error) {
	sums := dst.Sums
	var jobs []job
	info := &SplitInfo{Files: s.name + ".files.txt"}
	for ci, c := range s.classes {
		info.Classes = append(info.Classes, c.name)
		for _, sm := range c.samples {
			jobs = append(jobs, job{sm, ci})
		}
	}
	bar := prog.Start("decode "+s.name, int64(len(jobs)))
	defer bar.Finish()
	var skipped []Skipped
	perClass := make([]int, len(s.classes))
	var files strings.Builder
	imgBytes := o.Base * o.Base * 3
	n := 0
	for start := 0; start < len(jobs); start += o.ShardImages {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		chunk := jobs[start:min(len(jobs), start+o.ShardImages)]
		imgs := make([][]uint8, len(chunk))
		errs := make([]error, len(chunk))
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < o.Workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if ctx.Err() != nil {
						errs[i] = ctx.Err()
						continue
					}
					sm := chunk[i].s
					imgs[i], errs[i] = decodeSample(sm, dst.Real[sm.rel], o.Base, l.white, sums[sm.rel])
					bar.Add(1)
				}
			}()
		}
		for i := range chunk {
			next <- i
		}
		close(next)
		wg.Wait()
		pix := make([]uint8, 0, len(chunk)*imgBytes)
		var labels, index []int64
		for i, j := range chunk {
			if errs[i] != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				if ce := (*ChangedError)(nil); errors.As(errs[i], &ce) {
					return nil, nil, fmt.Errorf("%s split: %w", s.name, ce) // never skipped: not a corrupt file
				}
				if !o.SkipCorrupt {
					return nil, nil, fmt.Errorf("%s split: image %s: %w (set skip_corrupt = true to skip unreadable images)",
						s.name, j.s.rel, errs[i])
				}
				fmt.Fprintf(log, "warning: skipping %s: %v\n", j.s.rel, errs[i])
				skipped = append(skipped, Skipped{Split: s.name, Path: j.s.rel, Error: errs[i].Error()})
				continue
			}
			pix = append(pix, imgs[i]...)
			labels = append(labels, int64(j.label))
			index = append(index, int64(n))
			perClass[j.label]++
			sum := sums[j.s.rel]
			if sum == "" {
				sum = "-" // in-memory sample (IDX): the file's digest is in dataset.json's digest
			}
			files.WriteString(j.s.rel + "\t" + sum + "\n")
			n++
		}
		if len(labels) == 0 {
			continue
		}
		name := fmt.Sprintf("%s-%05d.safetensors", s.name, len(info.Shards))
		ti, _ := safetensors.U8("images", pix, int64(len(labels)), int64(o.Base), int64(o.Base), 3)
		tl, _ := safetensors.I64("labels", labels, int64(len(labels)))
		tx, _ := safetensors.I64("index", index, int64(len(labels)))
		if err := safetensors.Write(filepath.Join(outDir, name), []safetensors.Tensor{ti, tl, tx},
			map[string]string{"split": s.name}); err != nil {
			return nil, nil, err
		}
		if err := failpoint.Inject("load.shard"); err != nil {
			return nil, nil, err
		}
		info.Shards = append(info.Shards, name)
	}
	for ci, k := range perClass {
		if k == 0 {
			return nil, nil, fmt.Errorf("%s split: class %q has no readable images", s.name, s.classes[ci].name)
		}
	}
	info.N = n
	if err := writeFileSync(filepath.Join(outDir, info.Files), []byte(files.String())); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(log, "%s: %d images in %d classes, %d shards\n", s.name, n, len(s.classes), len(info.Shards))
	return info, skipped, nil
}

// PreprocessFile decodes an image file, converts it to RGB (alpha composited over white
// when white is true, dropped otherwise, like PIL's convert('RGB')), resizes its shorter
// side to base and centre-crops base x base: the stored form of one image (HWC, RGB).
func PreprocessFile(path string, base int, white bool) ([]uint8, error) {
	if err := checkSize(base, base); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return preprocess(data, path, base, white)
}
