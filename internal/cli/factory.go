package cli

import (
	"os"
	"sync"
	"time"

	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/store"
)

// Version is dmlrun's version, set at link time (-ldflags "-X dmlrun/internal/cli.Version=...").
var Version = "dev"

// Factory carries what commands need. Expensive parts are functions, built on first use.
type Factory struct {
	IOStreams *iostreams.IOStreams

	// Stages are the stages the program links (cmd/dmlrun builds the registry); spec
	// decodes with them, pipeline keys with them, and the store checks manifests with them.
	Stages *stage.Registry

	// StoreDir is the store's root (the --store flag; default "results").
	StoreDir string
	// Store opens the store at StoreDir once and returns the same value after.
	Store func() (*store.Store, error)

	Version string
	// TorchVersion reports the linked libtorch version; commands call it only where the
	// version is needed (version, apply), so validate and --help never load libtorch.
	TorchVersion func() string
	LookupEnv    func(string) (string, bool)
	Now          func() time.Time
}

// NewFactory returns the production factory for a program with the given stages;
// torchVersion reports the linked libtorch's version (nil: "not linked").
func NewFactory(ios *iostreams.IOStreams, stages *stage.Registry, torchVersion func() string) *Factory {
	if torchVersion == nil {
		torchVersion = func() string { return "not linked" }
	}
	f := &Factory{
		IOStreams:    ios,
		Stages:       stages,
		StoreDir:     "results",
		Version:      Version,
		TorchVersion: torchVersion,
		LookupEnv:    os.LookupEnv,
		Now:          time.Now,
	}
	var (
		once sync.Once
		st   *store.Store
		err  error
	)
	f.Store = func() (*store.Store, error) {
		once.Do(func() {
			st, err = store.Open(f.StoreDir)
			if err == nil {
				st.Now = f.Now
				// Every read that trusts a manifest's key material re-derives the key
				// from it, so an edited manifest is damage, not a hit.
				st.ManifestKey = pipeline.KeyCheck(f.Stages)
			}
		})
		return st, err
	}
	return f
}

func (f *Factory) getenv(name string) string {
	v, _ := f.LookupEnv(name)
	return v
}
