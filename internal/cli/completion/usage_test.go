package completion

import (
	"dmlrun/spec"

	"slices"
	"strings"
	"testing"
)

func TestUsageArgs(t *testing.T) {
	for _, c := range []struct {
		use    string
		kinds  []argKind
		repeat bool
	}{
		{"show FILE ADDR | show KEY", []argKind{argFile, argAddr}, false},
		{"verify [KEY...]", []argKind{argKey}, true},
		{"gc FILE...", []argKind{argFile}, true},
		{"diff FILE A B | diff FILE_A:A FILE_B:B", []argKind{argFile, argSide, argSide}, false},
		{"export FILE NODE", []argKind{argFile, argAddr}, false},
		{"run-node JOBFILE", []argKind{argOther}, false},
		{"version", nil, false},
	} {
		kinds, repeat := usageArgs(c.use)
		if !slices.Equal(kinds, c.kinds) || repeat != c.repeat {
			t.Errorf("usageArgs(%q) = %v %v, want %v %v", c.use, kinds, repeat, c.kinds, c.repeat)
		}
	}
}

func TestInstancePairs(t *testing.T) {
	for in, want := range map[string]string{
		"seed=0":                            "seed=0",
		"embed_dim=16,seed=0":               "embed_dim=16|seed=0",
		"schedule={epochs=1,seed=3},seed=0": "schedule={epochs=1,seed=3}|seed=0",
		`name="a,b]",x=[1,2]`:               `name="a,b]"|x=[1,2]`,
		`name="a\",b",seed=1`:               `name="a\",b"|seed=1`,
	} {
		if got := strings.Join(spec.InstancePairs(in), "|"); got != want {
			t.Errorf("spec.InstancePairs(%s) = %s, want %s", in, got, want)
		}
	}
}
