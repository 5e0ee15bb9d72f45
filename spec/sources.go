package spec

import (
	"fmt"
	"strings"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
)

// A stage's Decode (stage.Def.Decode) reports problems by parameter path ("schedule.lr",
// "metrics[1]", "loss.w_align"; see stage.Problem). spec notes, while it decodes a block,
// where the value of every path was written, so that each problem becomes a diagnostic at
// file:line:col without spec knowing any stage's parameter names.

// source is where a parameter's value was written.
type source struct {
	subject hcl.Range
	// context is the enclosing attribute when subject is an expression that stands for a
	// larger value (local.schedule for the field schedule.lr): the value has no source of
	// its own, so the diagnostic points at the expression and shows the attribute around it.
	context *hcl.Range
	// derived marks a member of a value computed as a whole (see derivedExpr), as opposed
	// to one written out in the block.
	derived bool
}

// sources maps the parameter paths of one block, or of one matrix or seeds value, to where
// their values were written. Defaults have no source.
type sources map[string]source

// derivedExpr is a member of a value that was evaluated as a whole (an object that is a
// local value, a list made by a for expression or a function): it has no source text of its
// own, and its range is that of the expression it came from.
type derivedExpr struct{ hcl.Expression }

func derived(v hcl.Expression) hcl.Expression { return &derivedExpr{v} }

// note records where the value of path was written, when the decoder is recording.
func (d *decoder) note(path string, expr hcl.Expression) {
	if d.srcs == nil {
		return
	}
	s := source{subject: expr.Range()}
	if _, ok := expr.(*derivedExpr); ok {
		s.derived, s.context = true, d.attrRange
	}
	d.srcs[path] = s
}

// noteRange records a range for path (a variant block's label).
func (d *decoder) noteRange(path string, rng hcl.Range) {
	if d.srcs != nil {
		d.srcs[path] = source{subject: rng}
	}
}

// parentPath is the path that encloses path: "schedule" for "schedule.lr", "metrics" for
// "metrics[1]", "" for "embed_dim".
func parentPath(path string) string {
	i := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
	if i < 0 {
		return ""
	}
	return path[:i]
}

// within reports whether path is p or a member of it ("schedule.lr" and "tau[0]" are within
// "schedule" and "tau").
func within(path, p string) bool {
	return path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")
}

// sourceOf finds the tightest written range for path: the path itself, else the nearest
// enclosing path that was written (a defaulted field of a written object gives the object;
// a field of a variant block the block's label), else the block's label. overlays are the
// sources of the matrix and seeds values of one instance; they supply their paths.
func (bd *blockDecl) sourceOf(path string, overlays []sources) source {
	for p := path; ; p = parentPath(p) {
		for _, o := range overlays {
			if s, ok := o[p]; ok {
				return s
			}
		}
		if s, ok := bd.srcs[p]; ok {
			return s
		}
		if p == "" {
			return source{subject: bd.labelRange}
		}
	}
}

// problemKey identifies a diagnostic for deduplication: the instances of a seeded block
// mostly report the same problem at the same place.
type problemKey struct {
	rng             hcl.Range
	summary, detail string
}

// checkConfig runs the stage's Decode over one instance's parameters and reports every
// problem at the source of its path, once per block (seen) however many instances share it.
// A Decode that panics is a bug in the stage; it is reported as such, at the block.
func (d *decoder) checkConfig(bd *blockDecl, params stage.Params, overlays []sources, seen map[problemKey]bool) {
	probs, crash := decodeSafely(bd.def, params)
	if crash != nil {
		d.reportOnce(seen, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Stage check failed",
			Detail:   fmt.Sprintf("The %s stage failed while checking the parameters of %s (%v). This is a bug in the stage, not in the file.", bd.kind, bd.addr(), crash),
			Subject:  bd.labelRange.Ptr(),
		})
		return
	}
	for _, p := range probs {
		s := bd.sourceOf(p.Path, overlays)
		summary, detail := p.Summary, p.Detail
		if summary == "" {
			summary = "Invalid value"
		}
		if detail == "" {
			detail = fmt.Sprintf("The %s stage rejects %s.", bd.kind, quotePath(p.Path))
		}
		d.reportOnce(seen, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail,
			Subject:  s.subject.Ptr(),
			Context:  s.context,
		})
	}
}

func (d *decoder) reportOnce(seen map[problemKey]bool, diag *hcl.Diagnostic) {
	k := problemKey{rng: *diag.Subject, summary: diag.Summary, detail: diag.Detail}
	if seen[k] {
		return
	}
	seen[k] = true
	d.add(diag)
}

func decodeSafely(def *stage.Def, params stage.Params) (probs stage.Problems, crash any) {
	defer func() {
		if r := recover(); r != nil {
			crash = r
		}
	}()
	_, probs = def.Decode(params)
	return probs, nil
}

func quotePath(path string) string {
	if path == "" {
		return "the block"
	}
	return fmt.Sprintf("%q", path)
}
