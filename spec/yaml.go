package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"
)

// The YAML twin of the HCL format is decoded into yaml.Node values, which are wrapped as
// hcl.Body and hcl.Expression so that one decoder serves both formats. A mapping is a
// body: a key is an argument, or, where the schema has a block type of that name, a block
// (labelled blocks are a mapping of label to body). A string is an HCL template when it
// contains "${" or "%{", and a reference when a reference is expected ("dataset.cub").

// yamlRootAliases maps top-level YAML keys to the block types they stand for.
var yamlRootAliases = map[string]string{"variables": blockVariable}

type yamlFile struct {
	filename   string
	src        []byte
	lineStarts []int
	ranges     map[*yaml.Node]hcl.Range
	ev         *evaluator // instruments templates; nil in tests of positions alone
}

func newYAMLFile(filename string, src []byte) *yamlFile {
	f := &yamlFile{filename: filename, src: src, lineStarts: []int{0}, ranges: map[*yaml.Node]hcl.Range{}}
	for i, c := range src {
		if c == '\n' {
			f.lineStarts = append(f.lineStarts, i+1)
		}
	}
	return f
}

// pos converts yaml's 1-based line and character column into an hcl.Pos with a byte offset.
func (f *yamlFile) pos(line, col int) hcl.Pos {
	if line < 1 {
		line, col = 1, 1
	}
	if line > len(f.lineStarts) {
		return f.endPos()
	}
	b := f.lineStarts[line-1]
	c := 1
	for c < col && b < len(f.src) && f.src[b] != '\n' {
		_, size := utf8.DecodeRune(f.src[b:])
		b += size
		c++
	}
	return hcl.Pos{Line: line, Column: c, Byte: b}
}

func (f *yamlFile) endPos() hcl.Pos {
	line := len(f.lineStarts)
	return hcl.Pos{Line: line, Column: utf8.RuneCount(f.src[f.lineStarts[line-1]:]) + 1, Byte: len(f.src)}
}

// posAt returns the position of a byte offset.
func (f *yamlFile) posAt(off int) hcl.Pos {
	if off > len(f.src) {
		off = len(f.src)
	}
	line := 1
	lo, hi := 0, len(f.lineStarts)-1
	for lo <= hi { // last line start <= off
		mid := (lo + hi) / 2
		if f.lineStarts[mid] <= off {
			line = mid + 1
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	start := f.lineStarts[line-1]
	return hcl.Pos{Line: line, Column: utf8.RuneCount(f.src[start:off]) + 1, Byte: off}
}

func (f *yamlFile) rangeOf(n *yaml.Node) hcl.Range {
	if r, ok := f.ranges[n]; ok {
		return r
	}
	start := f.pos(n.Line, n.Column)
	end := start.Byte
	switch n.Kind {
	case yaml.ScalarNode, yaml.AliasNode:
		end = f.scalarEnd(n, start.Byte)
	case yaml.MappingNode, yaml.SequenceNode:
		end = start.Byte + 1
		if len(n.Content) > 0 {
			end = max(end, f.rangeOf(n.Content[len(n.Content)-1]).End.Byte)
		}
		if n.Style&yaml.FlowStyle != 0 {
			closer := byte('}')
			if n.Kind == yaml.SequenceNode {
				closer = ']'
			}
			i := end
			if len(n.Content) == 0 {
				i = start.Byte + 1
			}
			for i < len(f.src) && strings.IndexByte(" \t\r\n,", f.src[i]) >= 0 {
				i++
			}
			if i < len(f.src) && f.src[i] == closer {
				end = i + 1
			}
		}
	}
	if end < start.Byte {
		end = start.Byte
	}
	r := hcl.Range{Filename: f.filename, Start: start, End: f.posAt(end)}
	f.ranges[n] = r
	return r
}

// scalarEnd finds the end of a scalar's source text, which yaml.Node does not record.
func (f *yamlFile) scalarEnd(n *yaml.Node, b int) int {
	src := f.src
	if b >= len(src) {
		return len(src)
	}
	lineEnd := bytes.IndexByte(src[b:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src)
	} else {
		lineEnd += b
	}
	switch {
	case src[b] == '"':
		for i := b + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(src)
	case src[b] == '\'':
		for i := b + 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return len(src)
	case n.Kind == yaml.ScalarNode && n.Value != "" && bytes.HasPrefix(src[b:], []byte(n.Value)):
		return b + len(n.Value)
	}
	// Block scalars, tagged or multi-line plain scalars: the rest of the first line.
	return max(b+1, b+len(bytes.TrimRight(src[b:lineEnd], " \t\r")))
}

var yamlLineRE = regexp.MustCompile(`^line (\d+)`)

// yamlParserProblems are the messages of yaml.v3's parser (not its scanner) errors.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func parseYAML(filename string, src []byte, ev *evaluator) (file *hcl.File, diags hcl.Diagnostics) {
	f := newYAMLFile(filename, src)
	f.ev = ev
	file = &hcl.File{Bytes: src}
	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	syntaxError := func(msg string) hcl.Diagnostics {
		rng := start
		msg = strings.TrimPrefix(msg, "yaml: ")
		if strings.Contains(msg, "exceeded max depth") {
			// yaml.v3 stops at 10,000 levels, without a column (and on the first line
			// without a line); point at the level past ours instead.
			off, what := f.deepFlowOffset(), "flow mappings and lists"
			if off == 0 {
				what = "mappings and lists"
				if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
					if line, err := strconv.Atoi(m[1]); err == nil && line >= 1 && line <= len(f.lineStarts) {
						off = f.lineStarts[line-1]
					}
				}
			}
			return hcl.Diagnostics{f.tooDeep(off, what)}
		}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			msg = strings.TrimPrefix(msg, m[0]+": ")
			if line, err := strconv.Atoi(m[1]); err == nil && line >= 1 {
				if yamlParserProblems[msg] {
					// yaml.v3 reports a parser error at the 0-based line of its context
					// mark (scanner errors are 1-based): +1 is the line where the
					// unfinished construct starts, or the offending line.
					line++
				}
				s := f.pos(min(line, len(f.lineStarts)), 1)
				rng = hcl.Range{Filename: filename, Start: s, End: s}
				if e := bytes.IndexByte(src[s.Byte:], '\n'); e > 0 {
					rng.End = f.posAt(s.Byte + e)
				}
			}
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid YAML",
			Detail:   upperFirst(msg) + ".",
			Subject:  &rng,
		}}
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	err := decodeYAMLNode(dec, &doc)
	empty := &yamlBody{f: f, missing: start, root: true}
	switch {
	case errors.Is(err, io.EOF):
		file.Body = empty
		return file, nil
	case err != nil:
		file.Body = empty
		return file, syntaxError(err.Error())
	}
	var extra yaml.Node
	if err := decodeYAMLNode(dec, &extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return file, syntaxError(err.Error())
		}
		rng := f.rangeOf(&extra) // the "---" that starts it
		return file, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Multiple YAML documents",
			Detail:   "An experiment file holds one YAML document; remove the \"---\" separator and everything after it, or move it to its own file.",
			Subject:  &rng,
		}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if d := f.checkNodes(root, 1); d.HasErrors() {
		return file, d
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		file.Body = empty
	case root.Kind != yaml.MappingNode:
		rng := f.rangeOf(root)
		return file, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid experiment file",
			Detail:   "The top level of a YAML experiment must be a mapping with keys such as variables, locals, dataset, train and evaluate.",
			Subject:  &rng,
		}}
	default:
		file.Body = &yamlBody{f: f, n: root, missing: start, root: true}
	}
	return file, nil
}

// decodeYAMLNode wraps the yaml decoder so that a panic inside it on hostile input becomes
// an error instead of taking the program down.
func decodeYAMLNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// checkNodes rejects what the format does not support: aliases (an alias can expand a small
// file into a huge tree), tags other than the core ones, and mappings and lists nested more
// than maxNesting levels (depth is the level of n).
func (f *yamlFile) checkNodes(n *yaml.Node, depth int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	deep := false
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || deep {
			return
		}
		if depth > maxNesting && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
			deep = true // once: the levels below would repeat it
			start := f.pos(n.Line, n.Column)
			diags = append(diags, f.tooDeep(start.Byte, "mappings and lists"))
			return
		}
		if n.Kind == yaml.AliasNode {
			rng := f.rangeOf(n)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported YAML alias",
				Detail:   "Experiment files do not support YAML anchors and aliases; write the value out, or use a local value (locals) and ${local.name}.",
				Subject:  &rng,
			})
			return
		}
		switch n.ShortTag() {
		case "!!null", "!!bool", "!!int", "!!float", "!!str", "!!timestamp", "!!map", "!!seq":
		default:
			rng := f.rangeOf(n)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported YAML tag",
				Detail:   fmt.Sprintf("The tag %s is not supported; values are strings, numbers, bools, null, lists and mappings.", n.Tag),
				Subject:  &rng,
			})
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, depth)
	return diags
}

// tooDeep is the diagnostic for source nested more than maxNesting levels, at the byte
// offset where the level past the limit opens (one character).
func (f *yamlFile) tooDeep(off int, what string) *hcl.Diagnostic {
	start := f.posAt(off)
	end := start
	if off < len(f.src) {
		_, size := utf8.DecodeRune(f.src[off:])
		end = f.posAt(off + size)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Too deeply nested",
		Detail: fmt.Sprintf("The %s here nest more than %d levels deep. Experiment files allow at most %d levels, so that decoding cannot exhaust the stack; write the value flatter, or split it into local values.",
			what, maxNesting, maxNesting),
		Subject: &hcl.Range{Filename: f.filename, Start: start, End: end},
	}
}

// deepFlowOffset finds where flow collections ([...], {...}) first nest more than
// maxNesting levels, skipping quoted scalars and comments; it returns 0 when they do not
// (the nesting is then in block collections, and yaml named no place).
func (f *yamlFile) deepFlowOffset() int {
	src := f.src
	depth := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '[', '{':
			if depth++; depth > maxNesting {
				return i
			}
		case ']', '}':
			depth = max(0, depth-1)
		case '"', '\'':
			for i++; i < len(src) && src[i] != c; i++ {
				if c == '"' && src[i] == '\\' {
					i++
				}
			}
		case '#':
			if i == 0 || src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			}
		}
	}
	return 0
}

// --- bodies -----------------------------------------------------------------------------

type yamlBody struct {
	f       *yamlFile
	n       *yaml.Node // a mapping, or nil for an empty body
	missing hcl.Range  // where missing items are reported
	root    bool       // the top level, where yamlRootAliases apply
	hidden  map[string]bool
}

var _ hcl.Body = (*yamlBody)(nil)

// yamlInvalidBody stands in for a block whose value is not a mapping (see invalidBody).
type yamlInvalidBody struct{ yamlBody }

func (yamlInvalidBody) invalidBlock() {}

func (b *yamlBody) invalid(typ string, kr hcl.Range, labels int) *hcl.Block {
	blk := &hcl.Block{Type: typ, Body: &yamlInvalidBody{yamlBody{f: b.f, missing: kr}}, DefRange: kr, TypeRange: kr}
	for range labels {
		blk.Labels = append(blk.Labels, "")
		blk.LabelRanges = append(blk.LabelRanges, kr)
	}
	return blk
}

// name translates a key into the schema name it stands for.
func (b *yamlBody) name(key string) string {
	if !b.root {
		return key
	}
	if t, ok := yamlRootAliases[key]; ok {
		return t
	}
	for _, t := range yamlRootAliases {
		if key == t {
			return "\x00" + key // the HCL spelling is not the YAML one: unknown here
		}
	}
	return key
}

// spelling is the inverse of name, for suggestions.
func (b *yamlBody) spelling(name string) string {
	if b.root {
		for k, t := range yamlRootAliases {
			if t == name {
				return k
			}
		}
	}
	return name
}

type yamlPair struct{ k, v *yaml.Node }

func (b *yamlBody) pairs() []yamlPair {
	if b.n == nil {
		return nil
	}
	var out []yamlPair
	for i := 0; i+1 < len(b.n.Content); i += 2 {
		out = append(out, yamlPair{b.n.Content[i], b.n.Content[i+1]})
	}
	return out
}

func (b *yamlBody) keyOf(k *yaml.Node) (string, hcl.Diagnostics) {
	if k.Kind != yaml.ScalarNode {
		rng := b.f.rangeOf(k)
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid key",
			Detail:   "Keys of a mapping must be plain names.",
			Subject:  &rng,
		}}
	}
	return k.Value, nil
}

func (b *yamlBody) Content(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	content, rest, diags := b.PartialContent(schema)
	remain := rest.(*yamlBody)
	var suggestions []string
	for _, a := range schema.Attributes {
		if _, set := content.Attributes[a.Name]; !set {
			suggestions = append(suggestions, b.spelling(a.Name))
		}
	}
	for _, bl := range schema.Blocks {
		suggestions = append(suggestions, b.spelling(bl.Type))
	}
	for _, p := range b.pairs() {
		key, kd := b.keyOf(p.k)
		if kd != nil {
			continue // reported by PartialContent
		}
		if remain.hidden[b.name(key)] {
			continue
		}
		rng := b.f.rangeOf(p.k)
		summary, detail := "Unsupported argument", fmt.Sprintf("An argument named %q is not expected here.", key)
		if len(schema.Attributes) == 0 {
			summary, detail = "Unsupported block type", fmt.Sprintf("Blocks of type %q are not expected here.", key)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail + didYouMean(key, suggestions),
			Subject:  &rng,
		})
	}
	return content, diags
}

func (b *yamlBody) PartialContent(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	content := &hcl.BodyContent{Attributes: hcl.Attributes{}, MissingItemRange: b.missing}
	hidden := map[string]bool{}
	for k := range b.hidden {
		hidden[k] = true
	}
	attrs := map[string]bool{}
	blocks := map[string]*hcl.BlockHeaderSchema{}
	for _, a := range schema.Attributes {
		attrs[a.Name] = true
	}
	for i := range schema.Blocks {
		blocks[schema.Blocks[i].Type] = &schema.Blocks[i]
	}
	seen := map[string]hcl.Range{}
	for _, p := range b.pairs() {
		key, kd := b.keyOf(p.k)
		if kd != nil {
			if len(b.hidden) == 0 { // report once, on the first decoding of this body
				diags = append(diags, kd...)
			}
			continue
		}
		name := b.name(key)
		if b.hidden[name] || (!attrs[name] && blocks[name] == nil) {
			continue
		}
		kr := b.f.rangeOf(p.k)
		if prev, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate argument",
				Detail:   fmt.Sprintf("The key %q was already set at %s. Each key may appear once in a mapping.", key, prev),
				Subject:  &kr,
			})
			continue
		}
		seen[name] = kr
		if attrs[name] {
			expr := b.f.expr(p.v)
			content.Attributes[name] = &hcl.Attribute{Name: name, Expr: expr, Range: hcl.RangeBetween(kr, expr.Range()), NameRange: kr}
			continue
		}
		bs, d := b.blocks(blocks[name], name, p)
		diags = append(diags, d...)
		content.Blocks = append(content.Blocks, bs...)
	}
	for _, a := range schema.Attributes {
		if _, ok := content.Attributes[a.Name]; a.Required && !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required, but no definition was found.", a.Name),
				Subject:  b.missing.Ptr(),
			})
		}
		hidden[a.Name] = true
	}
	for _, bl := range schema.Blocks {
		hidden[bl.Type] = true
	}
	return content, &yamlBody{f: b.f, n: b.n, missing: b.missing, root: b.root, hidden: hidden}, diags
}

// blocks turns one key into blocks: `locals: {...}` is one block, `train: {a: {...}}` one
// block per label.
func (b *yamlBody) blocks(s *hcl.BlockHeaderSchema, name string, p yamlPair) (hcl.Blocks, hcl.Diagnostics) {
	kr := b.f.rangeOf(p.k)
	body := func(n *yaml.Node, missing hcl.Range, what string) (*yamlBody, hcl.Diagnostics) {
		switch {
		case n.Kind == yaml.MappingNode:
			return &yamlBody{f: b.f, n: n, missing: missing}, nil
		case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
			return &yamlBody{f: b.f, missing: missing}, nil
		}
		rng := b.f.rangeOf(n)
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid block",
			Detail:   fmt.Sprintf("%s must be a mapping of its arguments.", what),
			Subject:  &rng,
			Context:  &kr,
		}}
	}
	if len(s.LabelNames) == 0 {
		bd, diags := body(p.v, kr, p.k.Value)
		if bd == nil {
			return hcl.Blocks{b.invalid(name, kr, 0)}, diags
		}
		return hcl.Blocks{{Type: name, Body: bd, DefRange: kr, TypeRange: kr}}, nil
	}
	if p.v.Kind == yaml.ScalarNode && p.v.ShortTag() == "!!null" {
		return nil, nil
	}
	if p.v.Kind != yaml.MappingNode {
		rng := b.f.rangeOf(p.v)
		return hcl.Blocks{b.invalid(name, kr, len(s.LabelNames))}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid block",
			Detail: fmt.Sprintf("%s must be a mapping from %s to its arguments, such as {%s: {...}}.",
				p.k.Value, s.LabelNames[0], map[bool]string{true: "nir", false: "name"}[s.LabelNames[0] == "kind"]),
			Subject: &rng,
			Context: &kr,
		}}
	}
	var out hcl.Blocks
	var diags hcl.Diagnostics
	inner := &yamlBody{f: b.f, n: p.v}
	for _, lp := range inner.pairs() {
		label, kd := inner.keyOf(lp.k)
		if kd != nil {
			diags = append(diags, kd...)
			continue
		}
		lr := b.f.rangeOf(lp.k)
		bd, d := body(lp.v, lr, p.k.Value+"."+label)
		diags = append(diags, d...)
		if bd == nil {
			out = append(out, b.invalid(name, lr, len(s.LabelNames)))
			continue
		}
		out = append(out, &hcl.Block{
			Type: name, Labels: []string{label}, Body: bd,
			DefRange: lr, TypeRange: kr, LabelRanges: []hcl.Range{lr},
		})
	}
	return out, diags
}

func (b *yamlBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	attrs := hcl.Attributes{}
	var diags hcl.Diagnostics
	for _, p := range b.pairs() {
		key, kd := b.keyOf(p.k)
		if kd != nil {
			diags = append(diags, kd...)
			continue
		}
		if b.hidden[key] {
			continue
		}
		kr := b.f.rangeOf(p.k)
		if prev, dup := attrs[key]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate argument",
				Detail:   fmt.Sprintf("The key %q was already set at %s. Each key may appear once in a mapping.", key, prev.NameRange),
				Subject:  &kr,
			})
			continue
		}
		if !hclsyntax.ValidIdentifier(key) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid name",
				Detail:   fmt.Sprintf("%q is not a valid name: a name must start with a letter or underscore and may contain only letters, digits, underscores and dashes.", key),
				Subject:  &kr,
			})
			continue
		}
		expr := b.f.expr(p.v)
		attrs[key] = &hcl.Attribute{Name: key, Expr: expr, Range: hcl.RangeBetween(kr, expr.Range()), NameRange: kr}
	}
	return attrs, diags
}

func (b *yamlBody) MissingItemRange() hcl.Range { return b.missing }

// --- expressions ------------------------------------------------------------------------

func (f *yamlFile) expr(n *yaml.Node) hcl.Expression {
	switch n.Kind {
	case yaml.SequenceNode:
		return &yamlSeq{f: f, n: n}
	case yaml.MappingNode:
		return &yamlMap{f: f, n: n}
	}
	return f.scalar(n, false)
}

func (f *yamlFile) scalar(n *yaml.Node, literal bool) *yamlScalar {
	s := &yamlScalar{f: f, n: n, rng: f.rangeOf(n), literal: literal}
	start := s.contentStart().Byte
	end := start + len(n.Value)
	s.exact = end <= len(f.src) && string(f.src[start:end]) == n.Value
	if !literal && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" &&
		(strings.Contains(n.Value, "${") || strings.Contains(n.Value, "%{")) {
		tokens, _ := hclsyntax.LexTemplate([]byte(n.Value), f.filename, s.contentStart())
		if diag := checkNesting(tokens, false); diag != nil {
			// A template that cannot be parsed safely is an invalid one.
			s.tmpl = &hclsyntax.LiteralValueExpr{Val: cty.DynamicVal, SrcRange: s.rng}
			s.tmplDiags = s.fix(hcl.Diagnostics{diag})
			return s
		}
		var diags hcl.Diagnostics
		s.tmpl, diags = hclsyntax.ParseTemplate([]byte(n.Value), f.filename, s.contentStart())
		s.tmplDiags = s.fix(diags)
		if f.ev != nil && !diags.HasErrors() {
			f.ev.instrument(s.tmpl)
		}
	}
	return s
}

// yamlScalar is a YAML scalar as an expression. literal scalars (mapping keys) are plain
// strings, never templates or references.
type yamlScalar struct {
	f         *yamlFile
	n         *yaml.Node
	rng       hcl.Range
	literal   bool
	tmpl      hclsyntax.Expression
	tmplDiags hcl.Diagnostics
	// exact is true when the source text at contentStart is the value itself (no escapes,
	// folding or block-scalar indentation), so positions inside it map onto the file.
	exact bool
}

// fix moves the ranges of diagnostics from inside an inexact scalar onto the scalar.
func (s *yamlScalar) fix(diags hcl.Diagnostics) hcl.Diagnostics {
	if s.exact {
		return diags
	}
	for _, d := range diags {
		if d.Subject != nil {
			d.Subject = s.rng.Ptr()
		}
		if d.Context != nil {
			d.Context = s.rng.Ptr()
		}
	}
	return diags
}

// fixTraversal does the same for a traversal's step ranges.
func (s *yamlScalar) fixTraversal(t hcl.Traversal) hcl.Traversal {
	if s.exact {
		return t
	}
	out := make(hcl.Traversal, len(t))
	for i, step := range t {
		switch st := step.(type) {
		case hcl.TraverseRoot:
			st.SrcRange = s.rng
			out[i] = st
		case hcl.TraverseAttr:
			st.SrcRange = s.rng
			out[i] = st
		case hcl.TraverseIndex:
			st.SrcRange = s.rng
			out[i] = st
		case hcl.TraverseSplat:
			st.SrcRange = s.rng
			out[i] = st
		default:
			out[i] = step
		}
	}
	return out
}

// contentStart is where the scalar's text begins: after the opening quote if quoted.
// Positions inside escaped or folded strings are approximate.
func (s *yamlScalar) contentStart() hcl.Pos {
	p := s.rng.Start
	if p.Byte < len(s.f.src) && (s.f.src[p.Byte] == '"' || s.f.src[p.Byte] == '\'') {
		p.Byte++
		p.Column++
	}
	return p
}

func (s *yamlScalar) Range() hcl.Range      { return s.rng }
func (s *yamlScalar) StartRange() hcl.Range { return s.rng }

func (s *yamlScalar) Variables() []hcl.Traversal {
	if s.tmpl == nil || s.tmplDiags.HasErrors() {
		return nil
	}
	vars := s.tmpl.Variables()
	for i, t := range vars {
		vars[i] = s.fixTraversal(t)
	}
	return vars
}

func (s *yamlScalar) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if s.n.Kind != yaml.ScalarNode {
		return cty.DynamicVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid key",
			Detail: "Keys of a mapping must be plain names.", Subject: s.rng.Ptr()}}
	}
	if s.literal {
		return cty.StringVal(s.n.Value), nil
	}
	bad := func(what string) (cty.Value, hcl.Diagnostics) {
		return cty.DynamicVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid number",
			Detail: fmt.Sprintf("%q is not a usable number: %s.", s.n.Value, what), Subject: s.rng.Ptr()}}
	}
	switch s.n.ShortTag() {
	case "!!null":
		return cty.NullVal(cty.DynamicPseudoType), nil
	case "!!bool":
		var b bool
		if err := s.n.Decode(&b); err != nil {
			return cty.DynamicVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid bool",
				Detail: fmt.Sprintf("%q is not a bool.", s.n.Value), Subject: s.rng.Ptr()}}
		}
		return cty.BoolVal(b), nil
	case "!!int", "!!float":
		// Decimal text is parsed the way HCL parses numbers, so 0.0075 in YAML and in HCL
		// give the same value; other spellings (0x10, .inf) go through yaml.
		if v, err := cty.ParseNumberVal(s.n.Value); err == nil {
			return v, nil
		}
		var x any
		if err := s.n.Decode(&x); err != nil {
			return bad(err.Error())
		}
		switch x := x.(type) {
		case int:
			return cty.NumberIntVal(int64(x)), nil
		case int64:
			return cty.NumberIntVal(x), nil
		case uint64:
			return cty.NumberUIntVal(x), nil
		case float64:
			switch {
			case math.IsNaN(x):
				return bad("NaN is not a number")
			case math.IsInf(x, 1):
				return cty.PositiveInfinity, nil
			case math.IsInf(x, -1):
				return cty.NegativeInfinity, nil
			}
			return cty.NumberFloatVal(x), nil
		}
		return bad("unrecognised number")
	case "!!str", "!!timestamp":
		if s.tmpl != nil {
			if s.tmplDiags.HasErrors() {
				return cty.DynamicVal, s.tmplDiags
			}
			v, diags := s.tmpl.Value(ctx)
			return v, s.fix(diags)
		}
		if !utf8.ValidString(s.n.Value) {
			return cty.DynamicVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid string",
				Detail: "Strings must be valid UTF-8.", Subject: s.rng.Ptr()}}
		}
		return cty.StringVal(s.n.Value), nil
	}
	return cty.DynamicVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported YAML tag",
		Detail: fmt.Sprintf("The tag %s is not supported.", s.n.Tag), Subject: s.rng.Ptr()}}
}

// AsTraversal lets hcl.AbsTraversalForExpr read "dataset.cub" (or "${dataset.cub}") as a
// reference.
func (s *yamlScalar) AsTraversal() hcl.Traversal {
	if s.literal || s.n.Kind != yaml.ScalarNode || s.n.ShortTag() != "!!str" {
		return nil
	}
	if s.tmpl != nil {
		if s.tmplDiags.HasErrors() {
			return nil
		}
		t, diags := hcl.AbsTraversalForExpr(unwrapTemplate(s.tmpl))
		if diags.HasErrors() {
			return nil
		}
		return s.fixTraversal(t)
	}
	t, diags := hclsyntax.ParseTraversalAbs([]byte(s.n.Value), s.f.filename, s.contentStart())
	if diags.HasErrors() {
		return nil
	}
	return s.fixTraversal(t)
}

type yamlSeq struct {
	f *yamlFile
	n *yaml.Node
}

func (s *yamlSeq) Range() hcl.Range      { return s.f.rangeOf(s.n) }
func (s *yamlSeq) StartRange() hcl.Range { return s.f.rangeOf(s.n) }

func (s *yamlSeq) ExprList() []hcl.Expression {
	out := make([]hcl.Expression, len(s.n.Content))
	for i, c := range s.n.Content {
		out[i] = s.f.expr(c)
	}
	return out
}

func (s *yamlSeq) Variables() []hcl.Traversal {
	var out []hcl.Traversal
	for _, e := range s.ExprList() {
		out = append(out, e.Variables()...)
	}
	return out
}

func (s *yamlSeq) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := make([]cty.Value, 0, len(s.n.Content))
	for _, e := range s.ExprList() {
		v, d := e.Value(ctx)
		diags = append(diags, d...)
		vals = append(vals, v)
	}
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	return cty.TupleVal(vals), diags
}

type yamlMap struct {
	f *yamlFile
	n *yaml.Node
}

func (m *yamlMap) Range() hcl.Range      { return m.f.rangeOf(m.n) }
func (m *yamlMap) StartRange() hcl.Range { return m.f.rangeOf(m.n) }

func (m *yamlMap) ExprMap() []hcl.KeyValuePair {
	out := make([]hcl.KeyValuePair, 0, len(m.n.Content)/2)
	for i := 0; i+1 < len(m.n.Content); i += 2 {
		out = append(out, hcl.KeyValuePair{Key: m.f.scalar(m.n.Content[i], true), Value: m.f.expr(m.n.Content[i+1])})
	}
	return out
}

func (m *yamlMap) Variables() []hcl.Traversal {
	var out []hcl.Traversal
	for _, kv := range m.ExprMap() {
		out = append(out, kv.Value.Variables()...)
	}
	return out
}

func (m *yamlMap) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]cty.Value{}
	for _, kv := range m.ExprMap() {
		k, d := kv.Key.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		key := k.AsString()
		if _, dup := vals[key]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate key",
				Detail: fmt.Sprintf("The key %q appears twice in this mapping.", key), Subject: kv.Key.Range().Ptr()})
			continue
		}
		v, d := kv.Value.Value(ctx)
		diags = append(diags, d...)
		vals[key] = v
	}
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	return cty.ObjectVal(vals), diags
}
