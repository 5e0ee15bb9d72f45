package load

import (
	"context"
	"fmt"

	"dmlrun/stage"
)

// Version is the load stage's implementation version: bump it when decoding, resizing,
// split rules or the artifact format change, so cached artifacts are recomputed.
const Version = 1

// Def returns the dataset stage definition: its typed Config, the kind table's names and
// descriptions in the schema, the folder's digest as KeyInputs, and Run.
func Def() *stage.Def {
	def := defaultConfig()
	d, err := stage.Typed(stage.Def{
		Kind:    "dataset",
		Version: Version,
		Doc:     "Reads a dataset folder with the original's split protocol and stores decoded, resized images as uint8 shards.",

		KeyInputsName: "dataset content",
	}, stage.Config[Config]{Defaults: def, Check: check, Options: []stage.SchemaOption{
		// What struct tags cannot say: the kind table's names and descriptions.
		stage.WithEnum("kind", KindNames(), kindAliases()),
		stage.WithDoc("kind", kindParamDoc()),
		stage.WithDoc("split", kindArgDoc("split", splitDoc)),
		stage.WithDoc("vendors", kindArgDoc("vendors", vendorsDoc)),
	}}, run)
	if err != nil {
		panic(err) // the declaration above is wrong: a bug, caught by every test
	}
	// The folder's Digest enters the node's key, so changed images make a new key and
	// plan says "dataset content changed".
	d.KeyInputs = func(ctx context.Context, p stage.Params) (string, error) {
		c, probs := d.Decode(p)
		if len(probs) > 0 {
			return "", probs.Err()
		}
		return Digest(ctx, c.(*Config).Options())
	}
	return d
}

func run(ctx *stage.Context, c *Config) error {
	o := c.Options()
	o.Expect = ctx.KeyInputs
	if _, err := Prepare(ctx, o, ctx.OutDir, ctx.Log, ctx.Progress); err != nil {
		return fmt.Errorf("%s: %w", ctx.Addr, err)
	}
	return nil
}
