package cli

import (
	"fmt"
	"runtime"

	"dmlrun/internal/iostreams"

	"github.com/spf13/cobra"
)

// VersionOptions are the inputs of dmlrun version.
type VersionOptions struct {
	IO           *iostreams.IOStreams
	Version      string
	TorchVersion func() string
}

func newVersionCmd(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "version",
		Short: "Print dmlrun's and libtorch's versions",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Version, opts.TorchVersion = f.Version, f.TorchVersion
			if runF != nil {
				return runF(opts)
			}
			return runVersion(opts)
		},
	}
}

func runVersion(opts *VersionOptions) error {
	fmt.Fprintf(opts.IO.Out, "dmlrun %s (%s, %s/%s)\nlibtorch %s\n", opts.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, opts.TorchVersion())
	return nil
}
