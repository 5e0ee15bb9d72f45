package main

// The stages linked into dmlrun. Each stage package registers itself with package stage in
// an init function; add one blank import per stage here, e.g.
//
//	import _ "dmlrun/stages/load"
//
// The package that links libtorch may also set cli.TorchVersion (see internal/cli) so that
// `dmlrun version` and manifests report the libtorch version.

import _ "dmlrun/stages/train"
