package cmdutil_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/spec"
)

// A problem that keeps pipeline.Build from making a graph is a diagnostic at the place it
// was written, rendered by the same writer as spec's (file:line:col and the snippet) and
// listed with its range by --json. spec rules every such problem out of a valid file, so
// the experiment is tampered with after decoding: its dataset node is dropped, leaving the
// train nodes' references to nothing.
func TestBuildErrorsAreDiagnostics(t *testing.T) {
	clitest.Workdir(t)
	ios, _, _, errOut := iostreams.Test()
	f := clitest.NewFactory(ios)
	exp, diags := spec.Load("exp.hcl", spec.LoadOptions{Registry: f.Stages, LookupEnv: f.LookupEnv})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	exp.Nodes = exp.Nodes[1:] // dataset.toy
	g, bd, err := cmdutil.BuildGraph(context.Background(), f, exp, pipeline.BuildOptions{SkipKeyInputs: true})
	var ge *pipeline.GraphError
	if g != nil || !errors.As(err, &ge) || len(bd) != 2 {
		t.Fatalf("graph %v, %d diagnostics, err %v", g, len(bd), err)
	}
	if err := cmdutil.WriteDiagnostics(ios, exp.Files, bd); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Error: Reference to unknown node\n\n  on exp.hcl line 9, in train \"a\":\n   8: train \"a\" {\n   9:   dataset  = dataset.toy\n",
		"train.a[seed=0]: dataset refers to unknown node dataset.toy; declare it or\nremove the reference.\n",
		"train.a[seed=1]: dataset refers to unknown node dataset.toy",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("diagnostics lack %q:\n%s", want, errOut)
		}
	}
	b, err := spec.DiagnosticsJSON(bd)
	var js []spec.JSONDiagnostic
	if err == nil {
		err = json.Unmarshal(b, &js)
	}
	if err != nil || len(js) != 2 || js[0].Range == nil || js[0].Range.Filename != "exp.hcl" ||
		js[0].Range.Start.Line != 9 || js[0].Range.Start.Column != 14 || js[0].Context == nil || js[0].Context.Start.Line != 8 {
		t.Errorf("--json form: %v\n%s", err, b)
	}
}

// A context cancelled while keys are computed is an error, not a diagnostic.
func TestBuildCancelledIsAnError(t *testing.T) {
	clitest.Workdir(t)
	ios, _, _, _ := iostreams.Test()
	f := clitest.NewFactory(ios)
	exp, diags := spec.Parse("src.hcl", []byte("source \"s\" {\n  path = \"missing.txt\"\n}\n"), spec.LoadOptions{Registry: f.Stages, LookupEnv: f.LookupEnv})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, bd, err := cmdutil.BuildGraph(ctx, f, exp, pipeline.BuildOptions{}); len(bd) != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("%d diagnostics, %v; want context.Canceled", len(bd), err)
	}
}
