package cli

import (
	"os"
	"sync"
	"time"

	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/store"
)

// Version is dmlrun's version, set at link time (-ldflags "-X dmlrun/internal/cli.Version=...").
var Version = "dev"

// TorchVersion reports the linked libtorch version. The main package (or the torch
// binding's registration) replaces it; commands call it only where the version is needed
// (version, apply), so validate and --help never load libtorch.
var TorchVersion = func() string { return "not linked" }

// Factory carries what commands need. Expensive parts are functions, built on first use.
type Factory struct {
	IOStreams *iostreams.IOStreams

	// StoreDir is the store's root (the --store flag; default "results").
	StoreDir string
	// Store opens the store at StoreDir once and returns the same value after.
	Store func() (*store.Store, error)

	Version      string
	TorchVersion func() string
	LookupEnv    func(string) (string, bool)
	Now          func() time.Time
}

// NewFactory returns the production factory.
func NewFactory(ios *iostreams.IOStreams) *Factory {
	f := &Factory{
		IOStreams:    ios,
		StoreDir:     "results",
		Version:      Version,
		TorchVersion: func() string { return TorchVersion() },
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
				st.ManifestKey = pipeline.ManifestKey
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
