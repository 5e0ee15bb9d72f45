package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/spec"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diagnostics to ios.ErrOut with source snippets from files, at
// the terminal's width, in colour when ErrOut is a colour terminal.
func WriteDiagnostics(ios *iostreams.IOStreams, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	return spec.WriteDiagnostics(ios.ErrOut, files, diags, uint(ios.TerminalWidth()), ios.ColorEnabled())
}

// WriteJSON prints v as indented JSON without HTML escaping ("->" stays readable).
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var actionSigns = map[pipeline.Action]string{
	pipeline.Cached: "=", pipeline.Create: "+", pipeline.Rerun: "~", pipeline.Resume: ">",
}

// RenderPlan writes one line per node ("+ create  train.nir[seed=0]  3fa2c1d0e9ab  not in
// store") and a summary line. Cached nodes are listed only with all=true (apply shows what
// it will run).
func RenderPlan(w io.Writer, p *pipeline.Plan, all bool) {
	width := 0
	for _, n := range p.Nodes {
		width = max(width, len(n.Addr))
	}
	for _, n := range p.Nodes {
		if n.Action == pipeline.Cached && !all {
			continue
		}
		key := "(no key)    "
		if len(n.Key) >= 12 {
			key = n.Key[:12]
		}
		line := fmt.Sprintf("%s %-7s %-*s  %s", actionSigns[n.Action], n.Action, width, n.Addr, key)
		if n.Reason != "" {
			line += "  " + n.Reason
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	c := p.Counts()
	fmt.Fprintf(w, "Plan: %d to create, %d to re-run, %d to resume, %d cached.\n",
		c[pipeline.Create], c[pipeline.Rerun], c[pipeline.Resume], c[pipeline.Cached])
}

// HumanBytes renders a size: "512 B", "1.5 KiB", "3.2 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// CountEntries renders a count of store entries: "1 entry", "3 entries".
func CountEntries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
