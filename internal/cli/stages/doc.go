// Package stages is `dmlrun stages`: the argument reference of every stage the program
// links, as Markdown, generated from the same schemas validation uses
// (stage.Registry.WriteReference); the README's stage reference is this output.
package stages
