package models

import (
	"errors"
	"strings"
	"testing"
)

// TestParseArchKeepsMeaning: every arch string written in the repository's experiments,
// tests and docs parses to what the original's substring matching made of it.
func TestParseArchKeepsMeaning(t *testing.T) {
	cases := []struct {
		in   string
		want Arch
	}{
		{"resnet50", Arch{Base: "resnet50"}},
		{"resnet18", Arch{Base: "resnet18"}},
		{"bninception", Arch{Base: "bninception"}},
		{"smallcnn", Arch{Base: "smallcnn"}},
		{"resnet50_frozen_normalize", Arch{Base: "resnet50", Frozen: true, Normalize: true}},
		{"resnet50_frozen_normalize_double", Arch{Base: "resnet50", Frozen: true, Normalize: true, Double: true}},
		{"resnet18_frozen_normalize", Arch{Base: "resnet18", Frozen: true, Normalize: true}},
		{"resnet18_frozen_normalize_double", Arch{Base: "resnet18", Frozen: true, Normalize: true, Double: true}},
		{"resnet18_frozen", Arch{Base: "resnet18", Frozen: true}},
		{"smallcnn_normalize", Arch{Base: "smallcnn", Normalize: true}},
		{"smallcnn_frozen", Arch{Base: "smallcnn", Frozen: true}},
		{"smallcnn_frozen_normalize", Arch{Base: "smallcnn", Frozen: true, Normalize: true}},
		{"bninception_normalize", Arch{Base: "bninception", Normalize: true}},
		{"bninception_frozen_double_lp3", Arch{Base: "bninception", Frozen: true, Double: true, LP3: true}},
		{"bninception_frozen_normalize_double_lp2", Arch{Base: "bninception", Frozen: true, Normalize: true, Double: true, LP2: true}},
		{"normalize_resnet50_frozen", Arch{Base: "resnet50", Frozen: true, Normalize: true}}, // order is free, as with substrings
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			a, err := ParseArch(c.in)
			c.want.Name = c.in
			if err != nil || a != c.want {
				t.Fatalf("ParseArch = %+v, %v; want %+v", a, err, c.want)
			}
		})
	}
}

// TestParseArchStrict: every token must be known, so a misspelt modifier (which the
// original's substring matching silently dropped) is an error that suggests the fix.
func TestParseArchStrict(t *testing.T) {
	cases := []struct{ in, want string }{
		{"smallcnn_normalise", `"normalise" is not a modifier of smallcnn, which accepts "frozen", "normalize" and "double". Did you mean "smallcnn_normalize"?`},
		{"resnet50_frozn_normalise", `"frozn" and "normalise" are not modifiers of resnet50, which accepts "frozen", "normalize" and "double". Did you mean "resnet50_frozen_normalize"?`},
		{"resnet50_lp2", `"lp2" is not a modifier of resnet50, which accepts "frozen", "normalize" and "double". "lp2" is a modifier of bninception only.`},
		{"resnet50_fancy", `"fancy" is not a modifier of resnet50`},
		{"vgg16", `"vgg16" names no backbone. An arch is a backbone name followed by modifiers`},
		{"resnet5_frozen", `Did you mean "resnet50_frozen"?`},
		{"smalcnn_normalize", `Did you mean "smallcnn_normalize"?`},
		{"resnet50_resnet18", `names 2 backbones ("resnet50" and "resnet18")`},
		{"resnet50_frozen_frozen", `names the modifier "frozen" twice`},
		{"resnet50__frozen", `has an empty part`},
		{"resnet50_", `has an empty part`},
		{"", `The arch is empty. An arch is`},
		{"resnet50frozen", `names no backbone`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := ParseArch(c.in)
			var ae *ArchError
			if !errors.As(err, &ae) || ae.Arch != c.in || !strings.Contains(ae.Detail, c.want) {
				t.Fatalf("ParseArch(%q) = %v, want an *ArchError containing %q", c.in, err, c.want)
			}
			_, probs := CheckArch(c.in)
			if len(probs) != 1 || probs[0].Path != "" || probs[0].Detail != ae.Detail {
				t.Fatalf("CheckArch: %v", probs)
			}
		})
	}
	if _, probs := CheckArch("resnet50_frozen_normalize"); len(probs) != 0 {
		t.Fatalf("a valid arch has problems: %v", probs)
	}
}

// TestBackboneTable: every backbone is documented, accepts only known modifiers, and the
// generated documentation names each one.
func TestBackboneTable(t *testing.T) {
	doc := ArchDoc()
	for _, b := range Backbones() {
		if b.Doc == "" || b.build == nil {
			t.Errorf("%s: doc %q, build set %v", b.Name, b.Doc, b.build != nil)
		}
		for _, m := range b.Modifiers {
			if _, ok := modifierNamed(m); !ok {
				t.Errorf("%s accepts unknown modifier %q", b.Name, m)
			}
		}
		if !strings.Contains(doc, b.Name) {
			t.Errorf("ArchDoc does not name %s: %s", b.Name, doc)
		}
		a, err := ParseArch(b.Name)
		if err != nil || a.PretrainedDefault() != (b.Weights != "") {
			t.Errorf("%s: %v, pretrained default %v", b.Name, err, a.PretrainedDefault())
		}
	}
	for _, m := range Modifiers() {
		if m.Doc == "" || len(takers(m.Name)) == 0 {
			t.Errorf("modifier %s: doc %q, accepted by %v", m.Name, m.Doc, takers(m.Name))
		}
	}
}
