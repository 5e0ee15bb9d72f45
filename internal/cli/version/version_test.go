package version

import (
	"errors"
	"runtime"
	"testing"

	"dmlrun/internal/iostreams"
)

func TestRun(t *testing.T) {
	head := "dmlrun 1.2 (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	cases := []struct {
		name  string
		torch string
		shim  func() (string, error)
		want  string
	}{
		{"loaded", "1.13.0", func() (string, error) { return "/r/torch/csrc/build/libdmlshim.so", nil },
			"libtorch 1.13.0 (shim /r/torch/csrc/build/libdmlshim.so)\n"},
		{"not loadable", "not loaded", func() (string, error) { return "", errors.New("cannot load libdmlshim.so from X: no such file; fix") },
			"libtorch not loaded: cannot load libdmlshim.so from X: no such file; fix\n"},
		{"a fake version, nothing tried", "none", func() (string, error) { return "", nil }, "libtorch none\n"},
		{"no shim reporter", "none", nil, "libtorch none\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			err := run(&Options{IO: ios, Version: "1.2", TorchVersion: func() string { return c.torch }, Shim: c.shim})
			if err != nil || out.String() != head+c.want {
				t.Errorf("run = %v, output\n%q\nwant\n%q", err, out.String(), head+c.want)
			}
		})
	}
}
