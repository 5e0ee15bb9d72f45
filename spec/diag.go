package spec

import (
	"encoding/json"
	"io"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diagnostics with source snippets (hcl's text writer). files maps
// file names to parsed files, usually Experiment.Files; width 0 means no wrapping.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) error {
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}

// JSONPos is a position in a JSONDiagnostic range.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONRange is a source range in a JSONDiagnostic.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONDiagnostic is one diagnostic as data (the shape of `dmlrun validate --json`).
type JSONDiagnostic struct {
	Severity string     `json:"severity"` // "error" or "warning"
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *JSONRange `json:"range,omitempty"`   // the subject; absent for sourceless problems
	Context  *JSONRange `json:"context,omitempty"` // the enclosing construct, when known
}

func jsonRange(r *hcl.Range) *JSONRange {
	if r == nil {
		return nil
	}
	return &JSONRange{
		Filename: r.Filename,
		Start:    JSONPos{r.Start.Line, r.Start.Column, r.Start.Byte},
		End:      JSONPos{r.End.Line, r.End.Column, r.End.Byte},
	}
}

// DiagnosticsJSON encodes diagnostics as a JSON array of JSONDiagnostic, carrying the same
// content as WriteDiagnostics (without the snippets).
func DiagnosticsJSON(diags hcl.Diagnostics) ([]byte, error) {
	out := make([]JSONDiagnostic, 0, len(diags))
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		out = append(out, JSONDiagnostic{
			Severity: sev,
			Summary:  d.Summary,
			Detail:   d.Detail,
			Range:    jsonRange(d.Subject),
			Context:  jsonRange(d.Context),
		})
	}
	return json.MarshalIndent(out, "", "  ")
}

// sortDiagnostics orders diagnostics by file and position (sourceless ones first), keeping
// the order of equal positions, so that output is stable although some decoders walk maps.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}
