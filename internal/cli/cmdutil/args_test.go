package cmdutil

import (
	"slices"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	got := NormalizeArgs([]string{"plan", "-var", "a=1", "-var=b=2", "-j", "2", "-target=x", "--json", "--", "-var"})
	want := []string{"plan", "--var", "a=1", "--var=b=2", "-j", "2", "--target=x", "--json", "--", "-var"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}
