package main

import (
	"dmlrun/internal/cli"
	"dmlrun/torch"
)

func init() {
	// A function, not a value: the version is asked for only by `version` and `apply`
	// (for manifests), never by validate, plan or --help.
	cli.TorchVersion = torch.Version
}
