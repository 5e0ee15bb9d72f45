package load

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Kind is one dataset layout the dataset stage reads: a plug-in. Each kind is one file
// (kind_<name>.go) that declares its Kind value and its reader, and its name in
// builtinKinds; nothing else in the stage names a kind. The kind argument's enum and
// description, the "did you mean" of a misspelt kind, the layout in errors about an
// unreadable folder, the check of kind-specific arguments and this package's README table
// all come from these values.
//
// A kind lives in this package: its reader builds the unexported listing (splits, classes,
// samples, and the extra files the digest covers), which is also what makes the digest that
// enters the node's key (KeyInputs) and the images Prepare decodes the same files.
type Kind struct {
	// Name is the dataset block's kind value.
	Name string
	// Summary is a few words for the kind argument's description ("class per folder");
	// empty for the benchmark sets, whose names say what they are.
	Summary string
	// Layout is what the folder must hold, with <root> for the dataset root; an error about
	// a folder that cannot be read ends with "expected layout <Layout>".
	Layout string
	// Order says how the reader orders the classes and splits them into train and test
	// (Markdown, for the README).
	Order string
	// Digest says which files the dataset digest covers (Markdown, for the README): exactly
	// the files the reader reads, so that the key changes when, and only when, one of them does.
	Digest string
	// Uses names the kind-specific arguments (kindArgs: split, train_classes, vendors) the
	// reader reads. Another kind-specific argument with a value other than its default is a
	// Problem: it would be silently ignored.
	Uses []string
	// Aliases are other names people write for this kind ("sop"), for "did you mean".
	Aliases []string

	// list reads the folder (readOptions.root, through readOptions.fs) into a listing. It
	// must read every file that decides the listing with readOptions.readFile (so that Prepare
	// can check those bytes against the digest), list the image files as samples, name the
	// other files the result depends on in listing.extra, and return an error naming the
	// path (and file:line for index files) for anything not in its Layout.
	list func(o readOptions) (*listing, error)
}

// builtinKinds are the dataset kinds, in the order the documentation presents them. Adding
// a kind is a new kind_<name>.go file and its name here.
var builtinKinds = []*Kind{&kindCUB200, &kindCars196, &kindSOP, &kindFolder, &kindIDX, &kindEmoji}

// Kinds returns the dataset kinds in documentation order (copies: changing them changes
// nothing).
func Kinds() []Kind {
	out := make([]Kind, len(builtinKinds))
	for i, k := range builtinKinds {
		out[i] = *k
		out[i].Uses = slices.Clone(k.Uses)
		out[i].Aliases = slices.Clone(k.Aliases)
	}
	return out
}

// KindNames returns the kind names in documentation order.
func KindNames() []string {
	out := make([]string, len(builtinKinds))
	for i, k := range builtinKinds {
		out[i] = k.Name
	}
	return out
}

// LookupKind returns the kind called name.
func LookupKind(name string) (Kind, bool) {
	if k := lookupKind(name); k != nil {
		return *k, true
	}
	return Kind{}, false
}

func lookupKind(name string) *Kind {
	for _, k := range builtinKinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// kindAliases maps every kind's aliases to its name (lower case, as stage.Suggest looks
// them up).
func kindAliases() map[string]string {
	m := map[string]string{}
	for _, k := range builtinKinds {
		for _, a := range k.Aliases {
			m[strings.ToLower(a)] = k.Name
		}
	}
	return m
}

// kindUsers lists the kinds whose reader reads the kind-specific argument arg.
func kindUsers(arg string) []string {
	var out []string
	for _, k := range builtinKinds {
		if slices.Contains(k.Uses, arg) {
			out = append(out, k.Name)
		}
	}
	return out
}

// kindArgDoc returns "folder and idx kinds: " + doc (or "emoji kind: " + doc): the
// kind-specific argument's description, saying which kinds read it.
func kindArgDoc(arg, doc string) string { return kindReaders(arg) + ": " + doc }

// kindReaders names the kinds that read arg: "folder and idx kinds", "emoji kind".
func kindReaders(arg string) string {
	users := kindUsers(arg)
	if len(users) == 1 {
		return users[0] + " kind"
	}
	return andList(users) + " kinds"
}

// kindParamDoc is the kind argument's description: "dataset layout: cub200, ..., folder
// (class per folder), ... or emoji (emoji-datasource npm packages)".
func kindParamDoc() string {
	names := make([]string, len(builtinKinds))
	for i, k := range builtinKinds {
		names[i] = k.Name
		if k.Summary != "" {
			names[i] += " (" + k.Summary + ")"
		}
	}
	return "dataset layout: " + orList(names)
}

func andList(xs []string) string { return joinLast(xs, " and ") }
func orList(xs []string) string  { return joinLast(xs, " or ") }

func joinLast(xs []string, last string) string {
	switch len(xs) {
	case 0:
		return "no"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + last + xs[len(xs)-1]
}

// kindTable renders the kinds as the Markdown table of README.md's "Kinds and split rules"
// section (a test keeps the README in sync with it).
func kindTable() string {
	var b strings.Builder
	b.WriteString("| kind | layout | class order and split | the digest covers | kind-specific arguments |\n|---|---|---|---|---|\n")
	for _, k := range builtinKinds {
		uses := "none"
		if len(k.Uses) > 0 {
			q := make([]string, len(k.Uses))
			for i, u := range k.Uses {
				q[i] = "`" + u + "`"
			}
			uses = strings.Join(q, ", ")
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", k.Name, k.Layout, cell(k.Order), cell(k.Digest), uses)
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|") }

// list reads a dataset folder with its kind's reader.
func list(kind string, o readOptions) (*listing, error) {
	k := lookupKind(kind)
	if k == nil {
		return nil, fmt.Errorf("unknown dataset kind %q (want one of %s)", kind, strings.Join(KindNames(), ", "))
	}
	abs, err := filepath.Abs(o.root)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	if o.fs, err = openDatasetRoot(abs); err != nil {
		return nil, err
	}
	o.root = abs
	o.sums = map[string]string{}
	l, err := k.list(o)
	if err != nil {
		return nil, err
	}
	l.readSums = o.sums
	l.root = o.fs
	for _, s := range l.splits {
		if len(s.classes) == 0 {
			return nil, fmt.Errorf("%s split has no classes", s.name)
		}
	}
	return l, nil
}
