package version

import (
	"fmt"
	"runtime"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun version.
type Options struct {
	IO           *iostreams.IOStreams
	Version      string
	TorchVersion func() string
}

// NewCmd returns the version command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
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

func run(opts *Options) error {
	fmt.Fprintf(opts.IO.Out, "dmlrun %s (%s, %s/%s)\nlibtorch %s\n", opts.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, opts.TorchVersion())
	return nil
}
