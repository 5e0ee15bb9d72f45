package apply

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
)

// flags -> options: every flag, its single-dash spelling, and the FlagErrors of bad values.
func TestApplyFlags(t *testing.T) {
	cases := []struct {
		args    []string
		want    Options
		wantErr string
	}{
		{[]string{"x.hcl"}, Options{File: "x.hcl", Jobs: 1, Device: "auto"}, ""},
		{[]string{"-j", "4", "--device", "cuda:1", "--threads", "8", "-var", "a=1", "-target", "train.a", "x.hcl"},
			Options{File: "x.hcl", Jobs: 4, Device: "cuda:1", Threads: 8, Vars: []string{"a=1"}, Targets: []string{"train.a"}}, ""},
		{[]string{"--device", "gpu", "x.hcl"}, Options{}, `--device "gpu": want auto, cpu, cuda or cuda:N`},
		{[]string{"--threads", "-1", "x.hcl"}, Options{}, "--threads -1"},
		{[]string{}, Options{}, "takes 1 argument"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios, nil)
			var got *Options
			cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
			cmd.SetArgs(cmdutil.NormalizeArgs(tc.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tc.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FlagError %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Factory = nil, nil
			if got.File != tc.want.File || got.Jobs != tc.want.Jobs || got.Device != tc.want.Device ||
				got.Threads != tc.want.Threads || !slices.Equal(got.Vars, tc.want.Vars) || !slices.Equal(got.Targets, tc.want.Targets) {
				t.Errorf("options = %+v, want %+v", *got, tc.want)
			}
		})
	}
}
