package main

// The stages linked into dmlrun. Each stage package registers itself with package stage in
// an init function; add one blank import per stage here.
//
// The package that links libtorch also sets cli.TorchVersion (see torch.go) so that
// `dmlrun version` and manifests report the libtorch version.

import (
	_ "dmlrun/stages/evaluate"
	_ "dmlrun/stages/load"
	_ "dmlrun/stages/report"
	_ "dmlrun/stages/train"
)
