// Package stages is `dmlrun stages [STAGE...]`: the argument reference of every stage the
// program links (or of the named ones), as Markdown, generated from the same schemas
// validation uses (stage.Registry.WriteReference); the README's stage reference is this
// output.
package stages
