package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// ManifestName is the file inside every artifact directory that describes it. It is not
// listed in its own Files.
const ManifestName = "manifest.json"

// ManifestFormat is the version of the manifest layout written by this package.
const ManifestFormat = 1

// Manifest describes one finished artifact.
type Manifest struct {
	Format       int            `json:"format"`
	Key          string         `json:"key"`
	Stage        string         `json:"stage"`
	StageVersion int            `json:"stage_version"`
	Addr         string         `json:"addr"` // the node address that first computed it
	Params       map[string]any `json:"params"`
	Inputs       []InputRef     `json:"inputs"`
	// KeyInputs is the digest of the external content the key covers (a dataset folder's),
	// as the stage's KeyInputs hook returned it; empty for stages without one.
	KeyInputs  string     `json:"key_inputs,omitempty"`
	Provenance Provenance `json:"provenance"`
	Files      []File     `json:"files"` // sorted by Path
}

// InputRef names one upstream artifact of a node.
type InputRef struct {
	Param string `json:"param"`
	Addr  string `json:"addr"`
	Key   string `json:"key"`
}

// Provenance records how and where an artifact was made. It is not part of the key.
type Provenance struct {
	DmlrunVersion string    `json:"dmlrun_version"`
	TorchVersion  string    `json:"torch_version"`
	Device        string    `json:"device"`
	Threads       int       `json:"threads,omitempty"`
	Host          string    `json:"host"`
	PID           int       `json:"pid,omitempty"`
	Resumed       bool      `json:"resumed,omitempty"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
}

// File is one file of an artifact: a slash-separated path relative to the artifact
// directory, its size in bytes and the hex SHA-256 of its contents.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// EncodeManifest renders a manifest as indented JSON with a trailing newline.
func EncodeManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.Key, err)
	}
	return append(b, '\n'), nil
}

// DecodeManifest parses and checks a manifest. It rejects unknown fields, a wrong format
// number, malformed keys and digests, negative sizes, duplicate files and paths that are
// absolute, unclean or leave the artifact directory. It never panics on any input.
func DecodeManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("manifest: trailing data after the JSON object")
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest: format %d, want %d", m.Format, ManifestFormat)
	}
	if !ValidKey(m.Key) {
		return nil, fmt.Errorf("manifest: key %q is not 64 lower-case hex digits", m.Key)
	}
	if m.Stage == "" {
		return nil, fmt.Errorf("manifest %s: empty stage", m.Key)
	}
	for i, in := range m.Inputs {
		if !ValidKey(in.Key) {
			return nil, fmt.Errorf("manifest %s: input %d (%s): key %q is not 64 lower-case hex digits", m.Key, i, in.Addr, in.Key)
		}
	}
	seen := make(map[string]bool, len(m.Files))
	for i, f := range m.Files {
		if err := checkRelPath(f.Path); err != nil {
			return nil, fmt.Errorf("manifest %s: file %d: %w", m.Key, i, err)
		}
		if f.Path == ManifestName {
			return nil, fmt.Errorf("manifest %s: lists itself", m.Key)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("manifest %s: file %q listed twice", m.Key, f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 {
			return nil, fmt.Errorf("manifest %s: file %q: negative size %d", m.Key, f.Path, f.Size)
		}
		if !ValidKey(f.SHA256) {
			return nil, fmt.Errorf("manifest %s: file %q: digest %q is not 64 lower-case hex digits", m.Key, f.Path, f.SHA256)
		}
	}
	return &m, nil
}

// checkRelPath accepts clean, relative, slash-separated paths that stay inside a directory.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case strings.ContainsRune(p, 0) || strings.Contains(p, `\`):
		return fmt.Errorf("path %q has a NUL or backslash", p)
	case path.IsAbs(p):
		return fmt.Errorf("path %q is absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean", p)
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path %q leaves the artifact directory", p)
	}
	return nil
}

// ValidKey reports whether s looks like a content key (or a file digest): 64 lower-case hex
// digits.
func ValidKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
