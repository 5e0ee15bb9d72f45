package load

import (
	"context"
	"fmt"
	"path/filepath"

	"dmlrun/stage"
)

// layouts describes, per kind, what a dataset folder must hold; errors about an
// unreadable folder end with it.
var layouts = map[string]string{
	KindCUB200:  "<root>/images/<NNN.Class>/<image>",
	KindCars196: "<root>/images/<Class Name Year>/<image>",
	KindSOP:     "<root>/Info_Files/Ebay_train.txt, <root>/Info_Files/Ebay_test.txt and <root>/images/<path in the info files>",
	KindFolder:  "<root>/<class>/<image> (at least 2 class folders)",
	KindIDX:     "<root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]",
	KindEmoji:   "<root>/<vendor>/package/emoji.json and <root>/<vendor>/package/img/<vendor>/64/<image> (scripts/fetch-data.sh)",
}

// ReadError is a dataset folder that cannot be listed or digested: missing, not in the
// kind's layout, or with a listed file missing or unreadable.
type ReadError struct {
	Kind string
	Err  error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("cannot read dataset: %v; expected layout %s", e.Err, layouts[e.Kind])
}
func (e *ReadError) Unwrap() error { return e.Err }

// ChangedError says the dataset's files are not the ones the node's key was made from, or
// not the ones digested a moment earlier: they changed while apply was running. The result
// would not match its key, so the stage fails instead of storing it.
type ChangedError struct {
	Path   string // the dataset root or the file that changed
	Detail string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("dataset changed during apply: %s: %s; run apply again once it is stable", e.Path, e.Detail)
}

// enumerate lists the dataset the way Prepare reads it (reader, then subset): the files of
// the listing are exactly the files the digest covers, so the key (KeyInputs) and the
// stage (Prepare) cannot disagree on what the dataset is. root must be absolute.
func enumerate(o Options, root string, filesOnly bool) (*listing, error) {
	l, err := list(o.Kind, readOptions{root: root, valSplit: o.ValSplit,
		rule: splitRule{mode: o.Split, trainClasses: o.TrainClasses}, vendors: o.Vendors, filesOnly: filesOnly})
	if err != nil {
		return nil, err
	}
	l.subset(o.SubsetClasses, o.SubsetPerClass)
	return l, nil
}

// statCachePath resolves Options.StatCache.
func (o Options) statCachePath() string {
	switch o.StatCache {
	case "":
		return defaultStatCachePath()
	case "off":
		return ""
	}
	return o.StatCache
}

// Digest computes the dataset's digest as Prepare would record it ("sha256:<hex>" over
// the relative paths, sizes and SHA-256 of the contents of every file the reader reads:
// images after subset, info files, emoji.json, IDX files), through the stat cache, so an
// unchanged folder costs a directory listing and a stat per file. A relative Root is
// resolved against the working directory. A folder that cannot be listed or digested is a
// *ReadError; a digest other than a pinned Options.Digest is a *DigestMismatchError.
func Digest(ctx context.Context, o Options) (string, error) {
	if err := o.fill(); err != nil {
		return "", err
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return "", err
	}
	l, err := enumerate(o, root, true)
	if err != nil {
		return "", &ReadError{Kind: o.Kind, Err: err}
	}
	cache := openStatCache(o.statCachePath())
	d, _, err := datasetDigest(ctx, l, cache, nil)
	cache.save() // a cache that cannot be saved only costs re-hashing next time
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &ReadError{Kind: o.Kind, Err: err}
	}
	if o.Digest != "" && o.Digest != d {
		return "", &DigestMismatchError{Root: root, Want: o.Digest, Got: d}
	}
	return d, nil
}

// keyInputs is the dataset stage's stage.Def.KeyInputs: the folder's Digest enters the
// node's key, so changed images make a new key and plan says "dataset content changed".
func keyInputs(ctx context.Context, p stage.Params) (string, error) {
	o, err := OptionsFromParams(p)
	if err != nil {
		return "", err
	}
	return Digest(ctx, o)
}
