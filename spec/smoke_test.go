package spec

import (
	"fmt"
	"os"
	"testing"
)

func TestSmoke(t *testing.T) {
	for _, name := range []string{"testdata/valid/cub200.hcl", "testdata/valid/cub200.yaml"} {
		exp, diags := Load(name, LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
		WriteDiagnostics(os.Stdout, exp.Files, diags, 100, false)
		for _, n := range exp.Nodes {
			fmt.Println(n.Addr, n.Params, n.Inputs)
		}
	}
}
