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
	JSON bool
}

// JSON is what version --json prints.
type JSON struct {
	Dmlrun   string       `json:"dmlrun"`
	Go       string       `json:"go"`
	OS       string       `json:"os"`
	Arch     string       `json:"arch"`
	Libtorch LibtorchJSON `json:"libtorch"`
}

// LibtorchJSON is the libtorch part of version --json: the version the shim reports ("not
// loaded" when it could not be loaded), the shim's path when it was loaded, and why it
// could not be otherwise.
type LibtorchJSON struct {
	Version string `json:"version"`
	Loaded  bool   `json:"loaded"`
	Shim    string `json:"shim,omitempty"`
	Error   string `json:"error,omitempty"`
}

// NewCmd returns the version command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Shim: torch.Shim}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print dmlrun's and libtorch's versions",
		Long: `Version prints dmlrun's version, the Go release it was built with, the OS and
architecture, and the version of libtorch the shim reports with the shim's path, or why the
shim could not be loaded (the command succeeds either way). --json prints the same as an
object: {"dmlrun", "go", "os", "arch", "libtorch": {"version", "loaded", "shim", "error"}}.`,
		Args: cmdutil.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Version, opts.TorchVersion = f.Version, f.TorchVersion
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the versions as JSON")
	return cmd
}

// run prints the versions. Asking for libtorch's version loads the shim on purpose (the
// only command besides apply that does); when it cannot be loaded the line says why and
// the command still succeeds: on a login node without libtorch that is the answer.
func run(opts *Options) error {
	lt := LibtorchJSON{Version: opts.TorchVersion()}
	if opts.Shim != nil {
		switch path, err := opts.Shim(); {
		case err != nil:
			lt.Error = err.Error()
		case path != "":
			lt.Shim, lt.Loaded = path, true
		}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, JSON{Dmlrun: opts.Version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Libtorch: lt})
	}
	line := "libtorch " + lt.Version
	switch {
	case lt.Error != "":
		line += ": " + lt.Error
	case lt.Shim != "":
		line += " (shim " + lt.Shim + ")"
	}
	fmt.Fprintf(opts.IO.Out, "dmlrun %s (%s, %s/%s)\n%s\n", opts.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, line)
	return nil
}
