package stage

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteReference writes the parameter reference of every stage of r as Markdown, block types
// in sorted order: one section per block type with a table of its arguments, their types,
// defaults and descriptions. The README's "Stages and their arguments" section is this
// output for dmlrun's registry (`dmlrun stages`), so the documentation is generated from the
// same schemas spec validates against.
func (r *Registry) WriteReference(w io.Writer) error {
	var b strings.Builder
	for _, kind := range r.Kinds() {
		d, _ := r.Lookup(kind)
		fmt.Fprintf(&b, "### `%s` (version %d)\n\n", kind, d.Version)
		if d.Doc != "" {
			fmt.Fprintf(&b, "%s\n\n", d.Doc)
		}
		if d.ExpandOver != "" {
			fmt.Fprintf(&b, "One node per node referenced by `%s`.\n\n", d.ExpandOver)
		}
		writeParamTable(&b, d.Params, "")
		for _, p := range d.Params {
			if len(p.Variants) == 0 {
				continue
			}
			kinds := make([]string, 0, len(p.Variants))
			for k := range p.Variants {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				fmt.Fprintf(&b, "`%s \"%s\" { ... }`", p.Name, k)
				if doc := p.VariantDocs[k]; doc != "" {
					fmt.Fprintf(&b, ": %s", doc)
				}
				b.WriteString("\n\n")
				writeParamTable(&b, p.Variants[k], "")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeParamTable(b *strings.Builder, ps []Param, prefix string) {
	if len(ps) == 0 {
		b.WriteString("(no arguments)\n\n")
		return
	}
	b.WriteString("| argument | type | default | meaning |\n|---|---|---|---|\n")
	var objects []Param
	for _, p := range ps {
		typ := p.Type.String()
		switch {
		case len(p.Variants) > 0:
			typ = "variant block"
		case p.Type == Ref || p.Type == RefList:
			typ += " to `" + p.RefKind + "`"
		}
		def := formatDefault(p)
		doc := p.Doc
		if len(p.Enum) > 0 {
			doc += " One of: " + strings.Join(quoteAll(p.Enum), ", ") + "."
		}
		fmt.Fprintf(b, "| `%s%s` | %s | %s | %s |\n", prefix, p.Name, typ, def, strings.ReplaceAll(doc, "|", "\\|"))
		if p.Type == Object && len(p.Fields) > 0 {
			objects = append(objects, p)
		}
	}
	b.WriteString("\n")
	for _, o := range objects {
		writeParamTable(b, o.Fields, o.Name+".")
	}
}

func formatDefault(p Param) string {
	switch {
	case p.Required:
		return "required"
	case len(p.Variants) > 0 && p.Default != nil:
		return fmt.Sprintf("`%v`", p.Default)
	case p.Type == Object:
		return "fields' defaults"
	case p.Default == nil:
		return "unset"
	}
	switch v := p.Default.(type) {
	case string:
		return fmt.Sprintf("`%q`", v)
	case []string:
		return "`[" + strings.Join(quoteAll(v), ", ") + "]`"
	default:
		return fmt.Sprintf("`%v`", v)
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
