package inspect

import (
	"bytes"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
)

// flags -> options
func TestInspectArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		classes int
		samples int
		seed    uint64
		wantErr string
	}{
		{name: "defaults", args: []string{"exp.hcl", "train.nir[seed=0]"}, classes: 10, samples: 500},
		{name: "flags", args: []string{"exp.hcl", "train.nir", "--classes", "3", "--samples", "64", "--seed", "9", "--json"}, classes: 3, samples: 64, seed: 9},
		{name: "one arg", args: []string{"exp.hcl"}, wantErr: "2 arguments"},
		{name: "no samples", args: []string{"exp.hcl", "train.nir", "--samples", "1"}, wantErr: "--samples >= 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Classes != c.classes || got.Samples != c.samples || got.Seed != c.seed || got.File != "exp.hcl" {
				t.Errorf("options %+v", got)
			}
		})
	}
}
