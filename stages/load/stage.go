package load

import (
	"fmt"

	"dmlrun/stage"
)

// Version is the load stage's implementation version: bump it when decoding, resizing,
// split rules or the artifact format change, so cached artifacts are recomputed.
const Version = 1

// Params is the dataset block's schema.
//
// Content keys and the data itself: the stage's KeyInputs hook (Digest) puts the folder's
// digest (SHA-256 over the relative paths, sizes and contents of exactly the files the
// reader reads) into the node's key, so replacing or editing images under the same root
// makes a new key and the node re-runs; unchanged files are recognised through a stat
// cache and not re-read. The stage checks that the files it decodes are the ones the key
// was made from (ChangedError otherwise) and records the digest in dataset.json. Pin it
// with `digest = "sha256:..."` to make any change of the folder an error (at plan time)
// instead of a recomputation. A relative root is resolved against the working directory.
var Params = []stage.Param{
	{Name: "kind", Type: stage.String, Required: true, Enum: Kinds,
		Doc: "dataset layout: cub200, cars196, online_products, folder (class per folder), idx (MNIST-family files) or emoji (emoji-datasource npm packages)"},
	{Name: "root", Type: stage.String, Required: true, Doc: "dataset folder; a relative path is resolved against the working directory dmlrun runs in (not the experiment file's folder)"},
	{Name: "base", Type: stage.Int, Default: int64(256), Doc: "images are stored with the shorter side resized to base and centre-cropped to base x base"},
	{Name: "crop", Type: stage.Int, Default: int64(224), Doc: "training and evaluation crop size (227 for googlenet, 256 for 'big' augmentation)"},
	{Name: "mean", Type: stage.FloatList, Default: []float64{0.485, 0.456, 0.406}, Doc: "per-channel normalisation mean of [0,1] RGB values (bninception: [0.502, 0.4588, 0.4078])"},
	{Name: "std", Type: stage.FloatList, Default: []float64{0.229, 0.224, 0.225}, Doc: "per-channel normalisation std (bninception: [0.0039, 0.0039, 0.0039])"},
	{Name: "bgr", Type: stage.Bool, Default: false, Doc: "reverse channels to BGR after normalisation (bninception)"},
	{Name: "subset", Type: stage.Object, Doc: "keep the first classes of each split (in label order) and the first per_class images of each; 0 keeps all (for CI)",
		Default: map[string]any{"classes": int64(0), "per_class": int64(0)},
		Fields: []stage.Param{
			{Name: "classes", Type: stage.Int, Default: int64(0), Doc: "classes kept per split (0 = all)"},
			{Name: "per_class", Type: stage.Int, Default: int64(0), Doc: "images kept per class (0 = all)"},
		}},
	{Name: "val_split", Type: stage.Float, Default: 0.0, Doc: "fraction of training classes that stay training; the rest become the val split (0 = no val split)"},
	{Name: "split", Type: stage.String, Default: "half", Enum: []string{"half", "alternate", "first_n"},
		Doc: "folder and idx kinds: classes (sorted) split into train/test by first half / second half, alternating (even positions train), or the first train_classes"},
	{Name: "train_classes", Type: stage.Int, Default: int64(0), Doc: "number of training classes for split = \"first_n\""},
	{Name: "skip_corrupt", Type: stage.Bool, Default: false, Doc: "skip unreadable images with a warning (counted in dataset.json) instead of failing"},
	{Name: "vendors", Type: stage.StringList, Default: []string{"google", "twitter"}, Doc: "emoji kind: image vendors, one image per vendor per emoji"},
	{Name: "digest", Type: stage.String, Doc: "expected dataset digest (sha256:...); a folder with different content is an error"},
}

func init() {
	stage.Register(&stage.Def{
		Kind:    "dataset",
		Version: Version,
		Params:  Params,
		Doc:     "Reads a dataset folder with the original's split protocol and stores decoded, resized images as uint8 shards.",
		Run:     run,

		KeyInputs:     keyInputs,
		KeyInputsName: "dataset content",
	})
}

// OptionsFromParams converts schema-filled parameters into Options.
func OptionsFromParams(p stage.Params) (Options, error) {
	o := Options{
		Kind:         p.String("kind"),
		Root:         p.String("root"),
		Base:         int(p.Int("base")),
		Crop:         int(p.Int("crop")),
		BGR:          p.Bool("bgr"),
		ValSplit:     p.Float("val_split"),
		Split:        p.String("split"),
		TrainClasses: int(p.Int("train_classes")),
		SkipCorrupt:  p.Bool("skip_corrupt"),
		Vendors:      p.Strings("vendors"),
	}
	mean, std := p.Floats("mean"), p.Floats("std")
	if len(mean) != 3 || len(std) != 3 {
		return o, fmt.Errorf("mean and std need 3 values each (got %d and %d)", len(mean), len(std))
	}
	copy(o.Mean[:], mean)
	copy(o.Std[:], std)
	if p.Has("subset") {
		s := p.Object("subset")
		if s.Has("classes") {
			o.SubsetClasses = int(s.Int("classes"))
		}
		if s.Has("per_class") {
			o.SubsetPerClass = int(s.Int("per_class"))
		}
	}
	if p.Has("digest") {
		o.Digest = p.String("digest")
	}
	if o.Base <= 0 || o.Crop <= 0 {
		return o, fmt.Errorf("base %d and crop %d must be positive", o.Base, o.Crop)
	}
	if o.Split == "first_n" && o.TrainClasses <= 0 {
		return o, fmt.Errorf("split = \"first_n\" needs train_classes > 0")
	}
	return o, nil
}

func run(ctx *stage.Context) error {
	o, err := OptionsFromParams(ctx.Params)
	if err != nil {
		return fmt.Errorf("%s: %w", ctx.Addr, err)
	}
	o.Expect = ctx.KeyInputs
	if _, err := Prepare(ctx, o, ctx.OutDir, ctx.Log, ctx.Progress); err != nil {
		return fmt.Errorf("%s: %w", ctx.Addr, err)
	}
	return nil
}
