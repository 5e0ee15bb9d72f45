package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"
)

// ExactArgs is cobra.ExactArgs with a FlagError and the argument names in the message.
func ExactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return FlagErrorf("%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// ParseVars turns -var name=value settings into a map.
func ParseVars(vars []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vars {
		name, value, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, FlagErrorf("-var %q: want name=value", v)
		}
		out[name] = value
	}
	return out, nil
}

// NormalizeArgs accepts Terraform-style single-dash long flags (-var, -target,
// -detailed-exitcode, -json) by rewriting them to the double-dash form pflag parses;
// "-j" and other single-letter flags are left alone, and nothing after "--" is touched.
// Main applies it to every command line; flag tests of one command apply it too.
func NormalizeArgs(args []string) []string {
	long := map[string]bool{"var": true, "target": true, "detailed-exitcode": true, "json": true, "store": true, "threads": true, "device": true}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
