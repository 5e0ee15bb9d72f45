package version

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
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

func TestRunJSON(t *testing.T) {
	cases := []struct {
		name  string
		torch string
		shim  func() (string, error)
		want  LibtorchJSON
	}{
		{"loaded", "1.13.0", func() (string, error) { return "/r/libdmlshim.so", nil },
			LibtorchJSON{Version: "1.13.0", Loaded: true, Shim: "/r/libdmlshim.so"}},
		{"not loadable", "not loaded", func() (string, error) { return "", errors.New("cannot load libdmlshim.so from X: gone; fix") },
			LibtorchJSON{Version: "not loaded", Error: "cannot load libdmlshim.so from X: gone; fix"}},
		{"no shim reporter", "none", nil, LibtorchJSON{Version: "none"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			if err := run(&Options{IO: ios, Version: "1.2", TorchVersion: func() string { return c.torch }, Shim: c.shim, JSON: true}); err != nil {
				t.Fatal(err)
			}
			var got JSON
			dec := json.NewDecoder(strings.NewReader(out.String()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want := JSON{Dmlrun: "1.2", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Libtorch: c.want}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	// The field names scripts read.
	ios, _, out, _ := iostreams.Test()
	_ = run(&Options{IO: ios, Version: "1.2", TorchVersion: func() string { return "2.1" }, Shim: func() (string, error) { return "/s.so", nil }, JSON: true})
	want := `{
  "dmlrun": "1.2",
  "go": "` + runtime.Version() + `",
  "os": "` + runtime.GOOS + `",
  "arch": "` + runtime.GOARCH + `",
  "libtorch": {
    "version": "2.1",
    "loaded": true,
    "shim": "/s.so"
  }
}
`
	if out.String() != want {
		t.Errorf("version --json:\n%s\nwant\n%s", out, want)
	}
}
