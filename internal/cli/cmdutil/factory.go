package cmdutil

import (
	"os"
	"sync"
	"time"

	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/store"
)

// Factory carries what commands need. Expensive parts are functions, built on first use:
// `dmlrun validate` and --help never open the store or ask libtorch for its version.
type Factory struct {
	IOStreams *iostreams.IOStreams

	// Stages are the stages the program links (cmd/dmlrun builds the registry): spec
	// decodes with them, pipeline keys with them, the store checks manifests with them.
	Stages *stage.Registry

	// StoreDir is the store's root (the --store flag; default "results").
	StoreDir string
	// Store opens the store at StoreDir once and returns the same value after.
	Store func() (*store.Store, error)

	Version string
	// TorchVersion reports the linked libtorch version; commands call it only where the
	// version is needed (version, and apply for manifests).
	TorchVersion func() string
	LookupEnv    func(string) (string, bool)
	Now          func() time.Time
}

// NewFactory returns the production factory for a program with the given stages: store
// results/, version "dev" and libtorch "not linked" until the caller sets them, the
// process's environment and clock.
func NewFactory(ios *iostreams.IOStreams, stages *stage.Registry) *Factory {
	f := &Factory{
		IOStreams:    ios,
		Stages:       stages,
		StoreDir:     "results",
		Version:      "dev",
		TorchVersion: func() string { return "not linked" },
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
				// from it with this program's stages, so an edited manifest is damage,
				// not a hit.
				st.ManifestKey = pipeline.KeyCheck(f.Stages)
			}
		})
		return st, err
	}
	return f
}

// Getenv returns an environment variable through LookupEnv ("" when unset).
func (f *Factory) Getenv(name string) string {
	v, _ := f.LookupEnv(name)
	return v
}
