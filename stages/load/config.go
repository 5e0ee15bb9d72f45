package load

import (
	"fmt"
	"slices"
	"strings"

	"dmlrun/stage"
)

// Config is the dataset block's typed config: the tags name the arguments and their
// single-value rules, check adds the rest, and Options turns it into the library's Options.
//
// Content keys and the data itself: the stage's KeyInputs hook (Digest) puts the folder's
// digest (SHA-256 over the relative paths, sizes and contents of exactly the files the
// reader reads) into the node's key, so replacing or editing images under the same root
// makes a new key and the node re-runs; unchanged files are recognised through a stat
// cache and not re-read. The stage checks that the files it decodes are the ones the key
// was made from (ChangedError otherwise) and records the digest in dataset.json. Pin it
// with `digest = "sha256:..."` to make any change of the folder an error (at plan time)
// instead of a recomputation. A relative root is resolved against the working directory.
type Config struct {
	// Kind's enum and description come from the kind table (Def sets them).
	Kind string `param:"kind" required:"true"`
	Root string `param:"root" required:"true" nokey:"true" doc:"dataset folder; a relative path is resolved against the working directory dmlrun runs in (not the experiment file's folder); not part of the key (the folder's content is), so spelling the path another way reuses the results"`
	// The bounds are MinBase and MaxBase (a test checks that they agree).
	Base         int       `param:"base" min:"8" max:"1024" doc:"images are stored with the shorter side resized to base and centre-cropped to base x base"`
	Crop         int       `param:"crop" min:"1" doc:"training and evaluation crop size (227 for googlenet, 256 for 'big' augmentation)"`
	Mean         []float64 `param:"mean" doc:"per-channel normalisation mean of [0,1] RGB values (bninception: [0.502, 0.4588, 0.4078])"`
	Std          []float64 `param:"std" above:"0" doc:"per-channel normalisation std (bninception: [0.0039, 0.0039, 0.0039])"`
	BGR          bool      `param:"bgr" doc:"reverse channels to BGR after normalisation (bninception)"`
	Subset       Subset    `param:"subset" doc:"keep the first classes of each split (in label order) and the first per_class images of each; 0 keeps all (for CI)"`
	ValSplit     float64   `param:"val_split" min:"0" doc:"fraction of training classes that stay training; the rest become the val split (0 = no val split)"`
	Split        string    `param:"split" enum:"half,alternate,first_n"` // description: Def, from the kinds that read it
	TrainClasses int       `param:"train_classes" min:"0" doc:"number of training classes for split = \"first_n\""`
	SkipCorrupt  bool      `param:"skip_corrupt" doc:"skip unreadable images with a warning (counted in dataset.json) instead of failing"`
	Vendors      []string  `param:"vendors"` // description: Def, from the kinds that read it
	Digest       *string   `param:"digest" doc:"expected dataset digest (sha256:...); a folder with different content is an error"`
}

// Subset is the subset argument (CI runs).
type Subset struct {
	Classes  int `param:"classes" min:"0" doc:"classes kept per split (0 = all)"`
	PerClass int `param:"per_class" min:"0" doc:"images kept per class (0 = all)"`
}

// splitDoc and vendorsDoc follow "<kinds that read it> kind(s): ".
const (
	splitDoc   = "classes (sorted) split into train/test by first half / second half, alternating (even positions train), or the first train_classes"
	vendorsDoc = "image vendors, one image per vendor per emoji"
)

// defaultConfig holds the defaults (the original's ImageNet ResNet preprocessing at 256/224).
func defaultConfig() Config {
	return Config{
		Base:    256,
		Crop:    224,
		Mean:    slices.Clone(ResNetMean[:]),
		Std:     slices.Clone(ResNetStd[:]),
		Split:   "half",
		Vendors: []string{"google", "twitter"},
	}
}

// kindArg is an argument that only some kinds read (Kind.Uses names it).
type kindArg struct {
	name string
	// changed reports whether c sets it to something other than its default, and renders
	// the value for the message.
	changed func(c, def *Config) (bool, string)
}

// kindArgs are the kind-specific arguments. With defaults filled in, a value the file did
// not write cannot be told from a written default, so what is refused is a value other
// than the default for a kind that does not read it: it would be silently ignored.
var kindArgs = []kindArg{
	{"split", func(c, def *Config) (bool, string) { return c.Split != def.Split, fmt.Sprintf("%q", c.Split) }},
	{"train_classes", func(c, def *Config) (bool, string) {
		return c.TrainClasses != def.TrainClasses, fmt.Sprint(c.TrainClasses)
	}},
	{"vendors", func(c, def *Config) (bool, string) {
		return !slices.Equal(c.Vendors, def.Vendors), "[" + strings.Join(quoteAll(c.Vendors), ", ") + "]"
	}},
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// check adds the rules the tags cannot say: the kind (from the kind table), crop within
// base, three channels, val_split below 1, first_n's train_classes, the emoji vendors, the
// digest's form, and kind-specific arguments set for a kind that ignores them.
func check(c *Config) stage.Problems {
	var probs stage.Problems
	kind := lookupKind(c.Kind)
	if kind == nil {
		probs.OneOf("kind", "dataset kind", c.Kind, KindNames(), kindAliases())
	}
	if c.Crop > c.Base {
		probs.Addf("crop", "Value out of range",
			"crop = %d is larger than base = %d: batches are cropped from the stored base x base image; use a crop of at most %d or a larger base.",
			c.Crop, c.Base, c.Base)
	}
	for _, ch := range []struct {
		name string
		v    []float64
	}{{"mean", c.Mean}, {"std", c.Std}} {
		if len(ch.v) != 3 {
			probs.Addf(ch.name, "Wrong number of values",
				"%s needs exactly 3 values, one per RGB channel (ImageNet ResNet: %s); got %d.", ch.name, defaultOf(ch.name), len(ch.v))
		}
	}
	if c.ValSplit >= 1 {
		probs.Addf("val_split", "Value out of range",
			"val_split is the fraction of training classes that stay training, the rest becoming the val split, so it must be below 1 (0 = no val split); got %v.", c.ValSplit)
	}
	if c.Split == "first_n" && c.TrainClasses <= 0 {
		probs.Addf("train_classes", "Missing train_classes",
			"split = \"first_n\" makes the first train_classes classes (in sorted order) the training split, so train_classes must be at least 1; got %d.", c.TrainClasses)
	}
	if kind != nil {
		def := defaultConfig()
		for _, a := range kindArgs {
			changed, val := a.changed(c, &def)
			if !changed || slices.Contains(kind.Uses, a.name) {
				continue
			}
			probs.Addf(a.name, "Argument not used by this kind",
				"%s = %s has no effect on kind %q: only the %s it. Remove it.", a.name, val, kind.Name, kindReadVerb(a.name))
		}
		if slices.Contains(kind.Uses, "vendors") {
			checkVendors(c.Vendors, &probs)
		}
	}
	if c.Digest != nil && !isDigest(*c.Digest) {
		probs.Addf("digest", "Malformed digest",
			"digest must be \"sha256:\" followed by 64 lower-case hex digits, as dmlrun plan and dataset.json show it; got %q.", *c.Digest)
	}
	return probs
}

// kindReadVerb is "folder and idx kinds read" or "emoji kind reads".
func kindReadVerb(arg string) string {
	if len(kindUsers(arg)) == 1 {
		return kindReaders(arg) + " reads"
	}
	return kindReaders(arg) + " read"
}

// defaultOf renders the default of mean or std as written in a file: [0.485, 0.456, 0.406].
func defaultOf(name string) string {
	v := ResNetStd
	if name == "mean" {
		v = ResNetMean
	}
	return fmt.Sprintf("[%v, %v, %v]", v[0], v[1], v[2])
}

// checkVendors: at least one vendor, each a folder name under the root, none twice.
func checkVendors(vs []string, probs *stage.Problems) {
	if len(vs) == 0 {
		probs.Addf("vendors", "No vendors", "vendors names the emoji-datasource packages to read, one image per vendor per emoji; give at least one (default [\"google\", \"twitter\"]).")
	}
	seen := map[string]bool{}
	for i, v := range vs {
		at := fmt.Sprintf("vendors[%d]", i)
		switch {
		case !isFileName(v):
			probs.Addf(at, "Invalid vendor", "a vendor is a folder name directly under the dataset root (<root>/<vendor>/package/emoji.json), such as \"google\"; got %q.", v)
		case seen[v]:
			probs.Addf(at, "Duplicate vendor", "vendor %q is listed twice; each vendor gives one image per emoji, so list it once.", v)
		}
		seen[v] = true
	}
}

// isDigest reports whether s is "sha256:" and 64 lower-case hex digits (what Digest returns).
func isDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for _, r := range h {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// Options returns the library-level options for a decoded config (Expect, StatCache,
// Workers and ShardImages keep their zero values: the stage fills Expect, the rest are
// defaults).
func (c *Config) Options() Options {
	o := Options{
		Kind:           c.Kind,
		Root:           c.Root,
		Base:           c.Base,
		Crop:           c.Crop,
		BGR:            c.BGR,
		SubsetClasses:  c.Subset.Classes,
		SubsetPerClass: c.Subset.PerClass,
		ValSplit:       c.ValSplit,
		Split:          c.Split,
		TrainClasses:   c.TrainClasses,
		SkipCorrupt:    c.SkipCorrupt,
		Vendors:        slices.Clone(c.Vendors),
	}
	copy(o.Mean[:], c.Mean)
	copy(o.Std[:], c.Std)
	if c.Digest != nil {
		o.Digest = *c.Digest
	}
	return o
}
