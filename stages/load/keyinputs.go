package load

import (
	"context"
	"fmt"
	"path/filepath"
)

// ReadError is a dataset folder that cannot be listed or digested: missing, not in the
// kind's layout, or with a listed file missing or unreadable.
type ReadError struct {
	Kind string
	Err  error
}

func (e *ReadError) Error() string {
	layout := "(unknown kind)"
	if k := lookupKind(e.Kind); k != nil {
		layout = k.Layout
	}
	return fmt.Sprintf("cannot read dataset: %v; expected layout %s", e.Err, layout)
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
