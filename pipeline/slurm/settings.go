package slurm

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"
)

// Settings are how dmlrun uses one Slurm cluster: what every job asks for and how the
// head process drives them. They come from an executor config file (DecodeFile) and
// flags, never from the experiment file, so that one experiment runs unchanged locally and
// on any cluster with the same keys and results.
type Settings struct {
	Partition string // sbatch --partition; "" is the cluster's default
	Account   string // sbatch --account; "" is the user's default
	// MaxJobs is how many of the run's nodes may be submitted and not finished at once.
	MaxJobs int
	// ArrayLimit caps how many tasks of one job array run at once (--array=0-N%ArrayLimit).
	ArrayLimit int
	// Retries is how many times a failed node is submitted again (excluding the hosts that
	// failed it) before the run stops scheduling.
	Retries int
	// SignalLead is how long before its time limit a job gets SIGUSR1
	// (--signal=B:USR1@SignalLead): a resumable stage stops at a step boundary, keeps its
	// checkpoint and the job requeues itself. At least MinSignalLead: Slurm delivers it up
	// to about 30 s early or late, and a checkpoint must be written in what is left.
	SignalLead time.Duration
	// Poll is the first interval between two status queries; it doubles up to PollMax while
	// nothing changes, and drops back to Poll when something does.
	Poll, PollMax time.Duration
	// ExtraArgs are passed to every sbatch as they are (--qos=..., --constraint=...).
	ExtraArgs []string
	// Dmlrun is the dmlrun binary the jobs run; "" is this process's own executable, which
	// must then be at the same path on the compute nodes (a shared filesystem).
	Dmlrun string
	// Stages are the resources per stage kind; "default" applies to every kind that does
	// not set a field itself.
	Stages map[string]Resources
}

// Resources are what one node's job asks for.
type Resources struct {
	Partition string        // overrides Settings.Partition
	Time      time.Duration // --time; 0 is the partition's default limit
	CPUs      int           // --cpus-per-task; 0 is Slurm's default (1)
	Memory    string        // --mem, Slurm's form: "16G", "4000" (MB)
	GPUs      int           // --gres=gpu:N
	Gres      string        // --gres as written ("gpu:a100:1"); overrides GPUs
}

// MinSignalLead is the smallest SignalLead accepted.
const MinSignalLead = 120 * time.Second

// DefaultKind names the Resources that apply to every stage kind.
const DefaultKind = "default"

// Defaults returns the settings used where neither the file nor a flag says otherwise.
func Defaults() *Settings {
	return &Settings{MaxJobs: 100, Retries: 2, SignalLead: 5 * time.Minute, Poll: 10 * time.Second, PollMax: time.Minute,
		Stages: map[string]Resources{}}
}

// For returns the resources of a stage kind: its own fields, else the default ones.
func (s *Settings) For(kind string) Resources {
	r, d := s.Stages[kind], s.Stages[DefaultKind]
	if r.Partition == "" {
		r.Partition = d.Partition
	}
	if r.Partition == "" {
		r.Partition = s.Partition
	}
	if r.Time == 0 {
		r.Time = d.Time
	}
	if r.CPUs == 0 {
		r.CPUs = d.CPUs
	}
	if r.Memory == "" {
		r.Memory = d.Memory
	}
	if r.GPUs == 0 && r.Gres == "" {
		r.GPUs, r.Gres = d.GPUs, d.Gres
	}
	return r
}

// Check reports what no file or flag may set: a signal lead under MinSignalLead, a time
// limit not longer than the signal lead, counts below their minimum. Messages name the
// setting as the file and the flags spell it.
func (s *Settings) Check() error {
	var errs []string
	if s.SignalLead < MinSignalLead {
		errs = append(errs, fmt.Sprintf("signal_lead %s: want at least %s (Slurm delivers the signal up to ~30 s off, and the checkpoint must be written in what is left)", s.SignalLead, MinSignalLead))
	}
	if s.MaxJobs < 1 {
		errs = append(errs, fmt.Sprintf("max_jobs %d: want at least 1", s.MaxJobs))
	}
	if s.ArrayLimit < 0 {
		errs = append(errs, fmt.Sprintf("array_limit %d: want at least 1 (0: max_jobs)", s.ArrayLimit))
	}
	if s.Retries < 0 {
		errs = append(errs, fmt.Sprintf("retries %d: want 0 or more", s.Retries))
	}
	if s.Poll <= 0 || s.PollMax < s.Poll {
		errs = append(errs, fmt.Sprintf("poll %s, poll_max %s: want poll > 0 and poll_max >= poll", s.Poll, s.PollMax))
	}
	kinds := make([]string, 0, len(s.Stages))
	for k := range s.Stages {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		r := s.For(k)
		if r.Time != 0 && r.Time <= s.SignalLead {
			errs = append(errs, fmt.Sprintf("stage %q: time %s is not longer than signal_lead %s: a job would be signalled before it starts working; raise time or lower signal_lead", k, SlurmTime(r.Time), s.SignalLead))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("slurm settings: %s", strings.Join(errs, "; "))
	}
	return nil
}

// The executor config file: top-level attributes and `stage "<kind>" { ... }` blocks (in
// YAML a `stage:` mapping of kind to attributes).
var (
	topAttrs   = []string{"partition", "account", "max_jobs", "array_limit", "retries", "signal_lead", "poll", "poll_max", "extra_args", "dmlrun"}
	stageAttrs = []string{"partition", "time", "cpus", "memory", "gpus", "gres"}
)

// setting is one attribute as a file wrote it, before it is checked.
type setting struct {
	name              string
	nameRng, valueRng hcl.Range
	value             any  // string, int64, float64, bool, []any or nil (another type)
	broken            bool // its value could not be read (already reported)
}

// DecodeFile reads an executor config file (HCL, or YAML when the name ends in .yaml or
// .yml) over base and returns the result, every problem as a diagnostic at file:line:col,
// and the source it read (for rendering with spec.WriteDiagnostics). kinds are the stage
// kinds the program has: a stage block for another kind is an error with the nearest
// name. The returned settings are partial when there are errors.
func DecodeFile(path string, base *Settings, kinds []string) (*Settings, hcl.Diagnostics, map[string]*hcl.File) {
	src, err := os.ReadFile(path)
	if err != nil {
		return base, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the executor config file",
			Detail: fmt.Sprintf("%v; pass an existing HCL or YAML file with --executor-config.", err)}}, nil
	}
	return Decode(path, src, base, kinds)
}

// Decode is DecodeFile for a file already read.
func Decode(filename string, src []byte, base *Settings, kinds []string) (*Settings, hcl.Diagnostics, map[string]*hcl.File) {
	var (
		top    []setting
		stages map[string][]setting
		labels map[string]hcl.Range
		diags  hcl.Diagnostics
		file   *hcl.File
	)
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".yaml", ".yml":
		file = &hcl.File{Bytes: src}
		top, stages, labels, diags = parseYAML(filename, src)
	default:
		file, top, stages, labels, diags = parseHCL(filename, src)
	}
	files := map[string]*hcl.File{filename: file}
	s := copySettings(base)
	diags = append(diags, apply(s, top, stages, labels, kinds)...)
	return s, diags, files
}

func copySettings(b *Settings) *Settings {
	if b == nil {
		b = Defaults()
	}
	s := *b
	s.ExtraArgs = append([]string(nil), b.ExtraArgs...)
	s.Stages = make(map[string]Resources, len(b.Stages))
	for k, v := range b.Stages {
		s.Stages[k] = v
	}
	return &s
}

func parseHCL(filename string, src []byte) (*hcl.File, []setting, map[string][]setting, map[string]hcl.Range, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return file, nil, nil, nil, diags
	}
	body := file.Body.(*hclsyntax.Body)
	var top []setting
	stages, labels := map[string][]setting{}, map[string]hcl.Range{}
	for _, name := range sortedAttrs(body.Attributes) {
		top = append(top, hclSetting(body.Attributes[name], &diags))
	}
	for _, b := range body.Blocks {
		if b.Type != "stage" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type",
				Detail:  fmt.Sprintf("Blocks of type %q are not expected here; the executor config has attributes (%s) and stage \"<kind>\" blocks.%s", b.Type, strings.Join(topAttrs, ", "), didYouMean(b.Type, []string{"stage"})),
				Subject: b.TypeRange.Ptr()})
			continue
		}
		if len(b.Labels) != 1 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing stage kind",
				Detail: `A stage block takes one label, the stage kind it applies to ("train") or "default": stage "train" { gpus = 1 }.`, Subject: b.TypeRange.Ptr()})
			continue
		}
		kind := b.Labels[0]
		if prev, dup := labels[kind]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate stage block",
				Detail: fmt.Sprintf("stage %q is already set at %s; merge the two blocks.", kind, prev), Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		labels[kind] = b.LabelRanges[0]
		for _, nb := range b.Body.Blocks {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type",
				Detail: fmt.Sprintf("A stage block holds attributes only (%s).", strings.Join(stageAttrs, ", ")), Subject: nb.TypeRange.Ptr()})
		}
		var ss []setting
		for _, name := range sortedAttrs(b.Body.Attributes) {
			ss = append(ss, hclSetting(b.Body.Attributes[name], &diags))
		}
		stages[kind] = ss
	}
	return file, top, stages, labels, diags
}

func sortedAttrs(attrs hclsyntax.Attributes) []string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return attrs[names[i]].SrcRange.Start.Byte < attrs[names[j]].SrcRange.Start.Byte })
	return names
}

// hclSetting evaluates an attribute without variables or functions: the file holds
// literal values.
func hclSetting(a *hclsyntax.Attribute, diags *hcl.Diagnostics) setting {
	s := setting{name: a.Name, nameRng: a.NameRange, valueRng: a.Expr.Range()}
	v, d := a.Expr.Value(nil)
	if d.HasErrors() {
		for _, x := range d {
			x.Detail += " The executor config file holds literal values only (no variables or functions)."
		}
		*diags = append(*diags, d...)
		s.broken = true
		return s
	}
	s.value = ctyValue(v)
	return s
}

func ctyValue(v cty.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == 0 {
			return i
		}
		f, _ := bf.Float64()
		return f
	case t == cty.Bool:
		return v.True()
	case t.IsTupleType() || t.IsListType():
		var out []any
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, ctyValue(e))
		}
		if out == nil {
			out = []any{}
		}
		return out
	}
	return struct{}{} // an object or map: no setting takes one
}

func parseYAML(filename string, src []byte) ([]setting, map[string][]setting, map[string]hcl.Range, hcl.Diagnostics) {
	lines := []int{0}
	for i, c := range src {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	pos := func(line, col int) hcl.Pos {
		if line < 1 || line > len(lines) {
			return hcl.Pos{Line: max(line, 1), Column: 1, Byte: len(src)}
		}
		b := lines[line-1]
		for c := 1; c < col && b < len(src) && src[b] != '\n'; c++ {
			_, size := utf8.DecodeRune(src[b:])
			b += size
		}
		return hcl.Pos{Line: line, Column: col, Byte: b}
	}
	rng := func(n *yaml.Node) hcl.Range {
		start := pos(n.Line, n.Column)
		end := start
		if n.Kind == yaml.ScalarNode {
			w := len(n.Value)
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				w += 2
			}
			end = hcl.Pos{Line: start.Line, Column: start.Column + utf8.RuneCountInString(n.Value) + (w - len(n.Value)), Byte: min(start.Byte+w, len(src))}
		} else {
			end.Byte, end.Column = min(end.Byte+1, len(src)), end.Column+1
		}
		return hcl.Range{Filename: filename, Start: start, End: end}
	}
	var diags hcl.Diagnostics
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		r := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		if m := regexp.MustCompile(`^line (\d+): `).FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			r.Start, r.End = pos(l, 1), pos(l, 1)
			msg = msg[len(m[0]):]
		}
		return nil, nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid YAML", Detail: upperFirst(msg) + ".", Subject: &r}}
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil, nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		r := rng(root)
		return nil, nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid executor config",
			Detail: "The file must be a mapping of settings (partition: gpu, stage: {train: {gpus: 1}}).", Subject: &r}}
	}
	var yamlValue func(n *yaml.Node) any
	yamlValue = func(n *yaml.Node) any {
		switch n.Kind {
		case yaml.AliasNode:
			return yamlValue(n.Alias)
		case yaml.SequenceNode:
			out := []any{}
			for _, c := range n.Content {
				out = append(out, yamlValue(c))
			}
			return out
		case yaml.ScalarNode:
			var v any
			if err := n.Decode(&v); err != nil {
				return nil
			}
			switch x := v.(type) {
			case int:
				return int64(x)
			case string, float64, bool:
				return x
			case nil:
				return nil
			}
			return n.Value
		}
		return struct{}{}
	}
	settings := func(m *yaml.Node) []setting {
		var out []setting
		seen := map[string]hcl.Range{}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if prev, dup := seen[k.Value]; dup {
				r := rng(k)
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate setting",
					Detail: fmt.Sprintf("%s is already set at %s; keep one.", k.Value, prev), Subject: &r})
				continue
			}
			seen[k.Value] = rng(k)
			out = append(out, setting{name: k.Value, nameRng: rng(k), valueRng: rng(v), value: yamlValue(v)})
		}
		return out
	}
	var top []setting
	stages, labels := map[string][]setting{}, map[string]hcl.Range{}
	for _, s := range settings(root) {
		if s.name != "stage" {
			top = append(top, s)
			continue
		}
		var m *yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "stage" {
				m = root.Content[i+1]
			}
		}
		if m.Kind != yaml.MappingNode {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid stage settings",
				Detail: "stage is a mapping of stage kind to settings: stage: {train: {gpus: 1, time: 24h}}.", Subject: s.valueRng.Ptr()})
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			kr := rng(k)
			if _, dup := labels[k.Value]; dup {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate stage settings",
					Detail: fmt.Sprintf("stage %q is already set at %s; merge the two.", k.Value, labels[k.Value]), Subject: &kr})
				continue
			}
			labels[k.Value] = kr
			if v.Kind != yaml.MappingNode {
				r := rng(v)
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid stage settings",
					Detail: fmt.Sprintf("stage %s: want a mapping of settings (%s).", k.Value, strings.Join(stageAttrs, ", ")), Subject: &r})
				continue
			}
			stages[k.Value] = settings(v)
		}
	}
	return top, stages, labels, diags
}

// apply checks each setting against the schema and sets it on s.
func apply(s *Settings, top []setting, stages map[string][]setting, labels map[string]hcl.Range, kinds []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(st setting, summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: st.valueRng.Ptr(), Context: hcl.RangeBetween(st.nameRng, st.valueRng).Ptr()})
	}
	str := func(st setting) (string, bool) {
		v, ok := st.value.(string)
		if !ok {
			bad(st, "Incorrect value type", fmt.Sprintf("%s takes a string.", st.name))
		}
		return v, ok
	}
	count := func(st setting, least int64) (int, bool) {
		v, ok := st.value.(int64)
		if !ok || v < least || v > 1<<20 {
			bad(st, "Invalid value", fmt.Sprintf("%s takes a whole number of at least %d.", st.name, least))
			return 0, false
		}
		return int(v), true
	}
	dur := func(st setting) (time.Duration, bool) {
		v, ok := st.value.(string)
		if !ok {
			bad(st, "Incorrect value type", fmt.Sprintf("%s takes a duration as a string: \"90m\", \"24h\" or Slurm's \"1-00:00:00\".", st.name))
			return 0, false
		}
		d, err := ParseDuration(v)
		if err != nil {
			bad(st, "Invalid duration", fmt.Sprintf("%s: %v.", st.name, err))
			return 0, false
		}
		return d, true
	}
	unknown := func(st setting, allowed []string, where string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
			Detail:  fmt.Sprintf("%q is not a setting %s (settings: %s).%s", st.name, where, strings.Join(allowed, ", "), didYouMean(st.name, allowed)),
			Subject: st.nameRng.Ptr()})
	}
	for _, st := range top {
		if st.broken {
			continue
		}
		switch st.name {
		case "partition":
			if v, ok := str(st); ok {
				s.Partition = v
			}
		case "account":
			if v, ok := str(st); ok {
				s.Account = v
			}
		case "dmlrun":
			if v, ok := str(st); ok {
				if !filepath.IsAbs(v) {
					bad(st, "Invalid path", "dmlrun is the absolute path of the dmlrun binary on the compute nodes.")
				} else {
					s.Dmlrun = v
				}
			}
		case "max_jobs":
			if v, ok := count(st, 1); ok {
				s.MaxJobs = v
			}
		case "array_limit":
			if v, ok := count(st, 1); ok {
				s.ArrayLimit = v
			}
		case "retries":
			if v, ok := count(st, 0); ok {
				s.Retries = v
			}
		case "signal_lead":
			if v, ok := dur(st); ok {
				if v < MinSignalLead {
					bad(st, "Signal lead too short", fmt.Sprintf("signal_lead is %s; want at least %s: Slurm delivers the signal up to ~30 s off, and a checkpoint must be written in what is left.", v, MinSignalLead))
				} else {
					s.SignalLead = v
				}
			}
		case "poll":
			if v, ok := dur(st); ok {
				s.Poll = v
			}
		case "poll_max":
			if v, ok := dur(st); ok {
				s.PollMax = v
			}
		case "extra_args":
			l, ok := st.value.([]any)
			if !ok {
				bad(st, "Incorrect value type", `extra_args takes a list of sbatch arguments: ["--qos=short", "--constraint=a100"].`)
				continue
			}
			var args []string
			for _, x := range l {
				a, ok := x.(string)
				if !ok || !strings.HasPrefix(a, "-") {
					bad(st, "Invalid sbatch argument", `Each of extra_args is one sbatch option as a string starting with "-" ("--qos=short").`)
					args = nil
					break
				}
				if err := checkExtraArg(a); err != nil {
					bad(st, "Invalid sbatch argument", err.Error()+".")
					args = nil
					break
				}
				args = append(args, a)
			}
			s.ExtraArgs = append(s.ExtraArgs, args...)
		default:
			unknown(st, topAttrs, "of the executor config")
		}
	}
	names := make([]string, 0, len(stages))
	for k := range stages {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return labels[names[i]].Start.Byte < labels[names[j]].Start.Byte })
	valid := append([]string{DefaultKind}, kinds...)
	for _, kind := range names {
		if kinds != nil && !contains(valid, kind) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown stage kind",
				Detail:  fmt.Sprintf("%q is not a stage kind of this dmlrun (kinds: %s).%s", kind, strings.Join(valid, ", "), didYouMean(kind, valid)),
				Subject: labels[kind].Ptr()})
			continue
		}
		r := s.Stages[kind]
		for _, st := range stages[kind] {
			if st.broken {
				continue
			}
			switch st.name {
			case "partition":
				if v, ok := str(st); ok {
					r.Partition = v
				}
			case "time":
				if v, ok := dur(st); ok {
					if v < time.Minute {
						bad(st, "Invalid time limit", "time is at least one minute (Slurm counts time limits in minutes).")
					} else {
						r.Time = v
					}
				}
			case "cpus":
				if v, ok := count(st, 1); ok {
					r.CPUs = v
				}
			case "gpus":
				if v, ok := count(st, 0); ok {
					r.GPUs = v
				}
			case "memory":
				if v, ok := str(st); ok {
					if !memoryRE.MatchString(v) {
						bad(st, "Invalid memory size", fmt.Sprintf("memory %q: write it as Slurm's --mem does: a whole number with an optional unit K, M, G or T (\"16G\", \"4000M\").", v))
					} else {
						r.Memory = v
					}
				}
			case "gres":
				if v, ok := str(st); ok {
					if strings.ContainsAny(v, " \t\n") || v == "" {
						bad(st, "Invalid gres", fmt.Sprintf("gres %q: write it as Slurm's --gres does (\"gpu:a100:1\").", v))
					} else {
						r.Gres = v
					}
				}
			default:
				unknown(st, stageAttrs, "of a stage block")
			}
		}
		s.Stages[kind] = r
	}
	if !diags.HasErrors() {
		for kind := range s.Stages {
			r := s.For(kind)
			if r.Time != 0 && r.Time <= s.SignalLead {
				rng := labels[kind]
				for _, st := range stages[kind] {
					if st.name == "time" {
						rng = st.valueRng
					}
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Time limit shorter than the signal lead",
					Detail:  fmt.Sprintf("stage %q: time %s is not longer than signal_lead %s, so a job would be signalled to stop before it starts working; raise time or lower signal_lead (at least %s).", kind, SlurmTime(r.Time), s.SignalLead, MinSignalLead),
					Subject: rng.Ptr()})
			}
		}
	}
	return diags
}

var memoryRE = regexp.MustCompile(`^[0-9]+[KMGTkmgt]?$`)

// ownArgs are the sbatch options dmlrun sets itself; extra arguments may not set them,
// since the executor depends on them (the job name finds the run's jobs, --parsable gives
// the job id, the output file is the kept log).
var ownArgs = []string{"--parsable", "--job-name", "-J", "--comment", "--output", "-o", "--error", "-e", "--array", "-a",
	"--dependency", "-d", "--requeue", "--no-requeue", "--signal", "--open-mode", "--wrap", "--kill-on-invalid-dep", "--chdir", "-D"}

func checkExtraArg(a string) error {
	name, _, _ := strings.Cut(a, "=")
	for _, o := range ownArgs {
		if name == o || (len(o) == 2 && strings.HasPrefix(a, o) && len(a) > 2 && !strings.HasPrefix(a, "--")) {
			return fmt.Errorf("%s is set by dmlrun itself and cannot be passed through (dmlrun sets %s)", a, strings.Join(ownArgs, " "))
		}
	}
	return nil
}

// CheckExtraArg reports whether an sbatch argument may be passed through --sbatch-arg.
func CheckExtraArg(a string) error {
	if !strings.HasPrefix(a, "-") {
		return fmt.Errorf("%q is not an sbatch option (want one starting with \"-\", e.g. --qos=short)", a)
	}
	return checkExtraArg(a)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var slurmTimeRE = regexp.MustCompile(`^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$`)

// ParseDuration reads a duration as Go writes it ("90m", "24h", "1h30m") or in one of
// Slurm's time forms: "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS".
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("%q is not positive", s)
		}
		return d, nil
	}
	m := slurmTimeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration; write \"90m\", \"24h\", \"1h30m\" or Slurm's \"1-00:00:00\" (days-hours:minutes:seconds)", s)
	}
	n := func(i int) time.Duration {
		v, _ := strconv.Atoi(m[i])
		return time.Duration(v)
	}
	var d time.Duration
	switch {
	case m[1] != "": // D-HH[:MM[:SS]]
		d = n(1)*24*time.Hour + n(2)*time.Hour + n(3)*time.Minute + n(4)*time.Second
	case m[4] != "": // HH:MM:SS
		d = n(2)*time.Hour + n(3)*time.Minute + n(4)*time.Second
	case m[3] != "": // MM:SS
		d = n(2)*time.Minute + n(3)*time.Second
	default: // MM
		d = n(2) * time.Minute
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive", s)
	}
	return d, nil
}

// SlurmTime renders a duration as sbatch --time takes it, D-HH:MM:SS, rounded up to whole
// seconds.
func SlurmTime(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	days, secs := secs/86400, secs%86400
	return fmt.Sprintf("%d-%02d:%02d:%02d", days, secs/3600, secs%3600/60, secs%60)
}
