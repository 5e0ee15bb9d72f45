package store

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestManifestRoundTrip(t *testing.T) {
	m := &Manifest{
		Format: ManifestFormat, Key: testKey("k"), Stage: "train", StageVersion: 2, Addr: "train.nir[seed=0]",
		Params:     map[string]any{"lr": "1e-05"},
		Inputs:     []InputRef{{Param: "dataset", Addr: "dataset.cub", Key: testKey("d")}},
		Provenance: Provenance{DmlrunVersion: "dev", Host: "h", Start: time.Unix(10, 0).UTC(), End: time.Unix(20, 0).UTC()},
		Files:      []File{{Path: "a/b.txt", Size: 3, SHA256: testKey("f")}},
	}
	b, err := EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
	}
}

func TestDecodeManifestRejects(t *testing.T) {
	good := `{"format":1,"key":"` + testKey("k") + `","stage":"s","stage_version":1,"addr":"a","params":{},"inputs":[],"provenance":{"dmlrun_version":"","torch_version":"","device":"","host":"","start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"},"files":FILES}`
	file := func(p string) string { return `[{"path":"` + p + `","size":1,"sha256":"` + testKey("x") + `"}]` }
	cases := []struct{ name, in, want string }{
		{"ok", strings.Replace(good, "FILES", file("a/b"), 1), ""},
		{"dotdot", strings.Replace(good, "FILES", file("../x"), 1), "leaves the artifact directory"},
		{"abs", strings.Replace(good, "FILES", file("/etc/passwd"), 1), "absolute"},
		{"unclean", strings.Replace(good, "FILES", file("a//b"), 1), "not clean"},
		{"self", strings.Replace(good, "FILES", file(ManifestName), 1), "lists itself"},
		{"unknown field", strings.Replace(strings.Replace(good, "FILES", "[]", 1), `"format":1`, `"format":1,"x":2`, 1), "unknown field"},
		{"format", strings.Replace(strings.Replace(good, "FILES", "[]", 1), `"format":1`, `"format":7`, 1), "format 7"},
		{"trailing", strings.Replace(good, "FILES", "[]", 1) + "{}", "trailing data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeManifest([]byte(tc.in))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeManifest: the decoder never panics, and whatever it accepts re-encodes to
// something it accepts again with only safe relative paths.
func FuzzDecodeManifest(f *testing.F) {
	// The seed corpus lives in testdata/fuzz/FuzzDecodeManifest (Go's corpus format).
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			return
		}
		for _, fl := range m.Files {
			if checkRelPath(fl.Path) != nil {
				t.Fatalf("accepted unsafe path %q", fl.Path)
			}
		}
		b, err := EncodeManifest(m)
		if err != nil {
			return // e.g. a float param that JSON cannot encode back is fine to refuse
		}
		if _, err := DecodeManifest(b); err != nil {
			t.Fatalf("re-encoded manifest rejected: %v\n%s", err, b)
		}
	})
}
