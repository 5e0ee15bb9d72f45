package version

import (
	"fmt"
	"runtime"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/torch"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun version.
type Options struct {
	IO           *iostreams.IOStreams
	Version      string
	TorchVersion func() string
	// Shim reports, without loading anything, which shim TorchVersion loaded or why it could
	// not (torch.Shim); nil, or zero results (a fake TorchVersion), print nothing more.
	Shim func() (path string, err error)
}

// NewCmd returns the version command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Shim: torch.Shim}
	return &cobra.Command{
		Use:   "version",
		Short: "Print dmlrun's and libtorch's versions",
		Args:  cmdutil.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Version, opts.TorchVersion = f.Version, f.TorchVersion
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

// run prints the versions. Asking for libtorch's version loads the shim on purpose (the
// only command besides apply that does); when it cannot be loaded the line says why and
// the command still succeeds: on a login node without libtorch that is the answer.
func run(opts *Options) error {
	line := "libtorch " + opts.TorchVersion()
	if opts.Shim != nil {
		switch path, err := opts.Shim(); {
		case err != nil:
			line += ": " + err.Error()
		case path != "":
			line += " (shim " + path + ")"
		}
	}
	fmt.Fprintf(opts.IO.Out, "dmlrun %s (%s, %s/%s)\n%s\n", opts.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, line)
	return nil
}
