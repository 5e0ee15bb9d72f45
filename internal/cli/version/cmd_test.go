package version_test

import (
	"encoding/json"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/cli/version"
)

// The command line reaches the JSON form, in both spellings of the flag.
func TestVersionJSONFlag(t *testing.T) {
	for _, flag := range []string{"--json", "-json"} {
		r := clitest.Run(t, "version", flag)
		var v version.JSON
		if err := json.Unmarshal([]byte(r.Out), &v); r.Code != root.ExitOK || err != nil || v.Dmlrun != "test" || v.Libtorch.Version != "none" {
			t.Errorf("version %s: exit %d, %v, %+v\n%s%s", flag, r.Code, err, v, r.Out, r.ErrOut)
		}
	}
}
