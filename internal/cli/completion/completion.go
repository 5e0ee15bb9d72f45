package completion

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/spec"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// loadTimeout bounds how long a completion may spend decoding a file: a shell waits for it.
const loadTimeout = 5 * time.Second

// ExperimentExts are the experiment file extensions FILE completes to.
var ExperimentExts = []string{"hcl", "yaml", "yml"}

// addrKinds narrows the addresses a command's ADDR completes to, where it takes only some
// stages' nodes.
var addrKinds = map[string][]string{
	"dmlrun inspect": {"train"},
}

type argKind int

const (
	argOther argKind = iota // no completion of ours: the shell's default (files)
	argFile                 // an experiment file
	argAddr                 // a block or node address of the file
	argKey                  // a key of the store
	argSide                 // a side of dmlrun diff
)

// usageArgs reads a command's positional arguments from the first form of its Use line:
// "show FILE ADDR | show KEY" -> [file addr]; "verify [KEY...]" -> [key] repeated.
func usageArgs(use string) (kinds []argKind, repeat bool) {
	first, _, _ := strings.Cut(use, " | ")
	words := strings.Fields(first)
	if len(words) == 0 {
		return nil, false
	}
	for _, w := range words[1:] {
		w = strings.Trim(w, "[]")
		if strings.HasSuffix(w, "...") {
			w, repeat = strings.TrimSuffix(w, "..."), true
		}
		switch w {
		case "FILE":
			kinds = append(kinds, argFile)
		case "ADDR", "NODE":
			kinds = append(kinds, argAddr)
		case "KEY":
			kinds = append(kinds, argKey)
		case "A", "B":
			kinds = append(kinds, argSide)
		default:
			kinds = append(kinds, argOther)
		}
	}
	return kinds, repeat
}

// Register gives every command of the tree below root completion of its arguments and of
// its --target and --evaluate flags (see the package comment).
func Register(root *cobra.Command, f *cmdutil.Factory) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		register(cmd, f)
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

func register(cmd *cobra.Command, f *cmdutil.Factory) {
	if fl := cmd.Flags().Lookup("target"); fl != nil {
		_ = cmd.RegisterFlagCompletionFunc("target", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return Addresses(cmd.Context(), f, args[0], vars(cmd), toComplete), cobra.ShellCompDirectiveNoFileComp
		})
	}
	if fl := cmd.Flags().Lookup("evaluate"); fl != nil {
		_ = cmd.RegisterFlagCompletionFunc("evaluate", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return EvaluateBlocks(cmd.Context(), f, args[0], vars(cmd), toComplete), cobra.ShellCompDirectiveNoFileComp
		})
	}
	if cmd.ValidArgsFunction != nil {
		return
	}
	kinds, repeat := usageArgs(cmd.Use)
	file := slices.Index(kinds, argFile)
	switch {
	case cmd.HasSubCommands(): // cobra completes the subcommands' names
		return
	case len(kinds) == 0: // no arguments: nothing to complete, not even a file name
		cmd.ValidArgsFunction = cobra.NoFileCompletions
		return
	case slices.Equal(kinds, []argKind{argOther}): // the shell's own file completion
		return
	}
	only := addrKinds[cmd.CommandPath()]
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		i := len(args)
		if i >= len(kinds) {
			if !repeat {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			i = len(kinds) - 1
		}
		// The file the addresses belong to: the FILE argument, given before this one.
		expFile := ""
		if file >= 0 && file < len(args) {
			expFile = args[file]
		}
		switch kinds[i] {
		case argFile:
			return ExperimentExts, cobra.ShellCompDirectiveFilterFileExt
		case argAddr:
			if expFile == "" {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return Addresses(cmd.Context(), f, expFile, vars(cmd), toComplete, only...), cobra.ShellCompDirectiveNoFileComp
		case argSide:
			if expFile == "" || strings.Contains(expFile, ":") {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return Sides(cmd.Context(), f, expFile, vars(cmd), toComplete), cobra.ShellCompDirectiveNoFileComp
		case argKey:
			return Keys(f, toComplete, args), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveDefault
	}
}

// vars are the -var settings already on the command line, so that completion sees the
// graph the command will.
func vars(cmd *cobra.Command) []string {
	v, _ := cmd.Flags().GetStringArray("var")
	return v
}

// load decodes file quietly: the nodes decoded, whatever the diagnostics.
func load(ctx context.Context, f *cmdutil.Factory, file string, varSettings []string) []*spec.Node {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	vm, err := cmdutil.ParseVars(varSettings)
	if err != nil {
		vm = nil // a malformed -var: complete with the defaults
	}
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	exp, _ := spec.LoadContext(ctx, file, spec.LoadOptions{Registry: f.Stages, Vars: vm, LookupEnv: f.LookupEnv})
	if exp == nil || ctx.Err() != nil {
		return nil
	}
	return exp.Nodes
}

// Addresses lists what an address argument of file can name, starting with toComplete:
// every block ("train.x", described by its number of nodes when it has several) and every
// node ("train.x[seed=0]", "evaluate.x[embed.x[train.y]]"), in file order; only the
// given stage kinds when any are given. Candidates are cobra's "value\tdescription".
func Addresses(ctx context.Context, f *cmdutil.Factory, file string, varSettings []string, toComplete string, kinds ...string) []string {
	nodes := load(ctx, f, file, varSettings)
	count := map[string]int{}
	for _, n := range nodes {
		count[n.Addr.Block()]++
	}
	var out []string
	seen := map[string]bool{}
	add := func(s, desc string) {
		if seen[s] || !strings.HasPrefix(s, toComplete) {
			return
		}
		seen[s] = true
		if desc != "" {
			s += "\t" + desc
		}
		out = append(out, s)
	}
	for _, n := range nodes {
		if len(kinds) > 0 && !slices.Contains(kinds, n.Addr.Kind) {
			continue
		}
		b := n.Addr.Block()
		if c := count[b]; c > 1 {
			add(b, "block: its "+strconv.Itoa(c)+" nodes")
		} else if n.Addr.Instance != "" {
			add(b, "block: its 1 node")
		}
		add(n.Addr.String(), "")
	}
	return out
}

// Sides lists dmlrun diff's sides of file starting with toComplete: each train block's
// name ("nir"), each configuration of a block with a matrix ("pa[embed_dim=16]", its
// seeds pooled) and each run ("pa[embed_dim=16,seed=0]"); after an "@", the side with each
// evaluate block's name ("nir@val").
func Sides(ctx context.Context, f *cmdutil.Factory, file string, varSettings []string, toComplete string) []string {
	nodes := load(ctx, f, file, varSettings)
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] && strings.HasPrefix(s, toComplete) {
			seen[s] = true
			out = append(out, s)
		}
	}
	if side, _, ok := strings.Cut(toComplete, "@"); ok {
		for _, n := range nodes {
			if n.Addr.Kind == "evaluate" {
				add(side + "@" + n.Addr.Name)
			}
		}
		return out
	}
	for _, n := range nodes {
		if n.Addr.Kind != "train" {
			continue
		}
		add(n.Addr.Name)
		if n.Addr.Instance == "" {
			continue
		}
		var config []string
		for _, part := range spec.InstancePairs(n.Addr.Instance) {
			if !strings.HasPrefix(part, "seed=") {
				config = append(config, part)
			}
		}
		if len(config) > 0 {
			add(n.Addr.Name + "[" + strings.Join(config, ",") + "]")
		}
		add(n.Addr.Name + "[" + n.Addr.Instance + "]")
	}
	return out
}

// EvaluateBlocks lists the names of file's evaluate blocks starting with toComplete (diff
// --evaluate).
func EvaluateBlocks(ctx context.Context, f *cmdutil.Factory, file string, varSettings []string, toComplete string) []string {
	var out []string
	for _, n := range load(ctx, f, file, varSettings) {
		if n.Addr.Kind == "evaluate" && strings.HasPrefix(n.Addr.Name, toComplete) && !slices.Contains(out, n.Addr.Name) {
			out = append(out, n.Addr.Name)
		}
	}
	return out
}

// Keys lists the store's keys as the 12 digits commands print, each described by the
// address its manifest records, that start with toComplete and are not among given. It
// opens the store only when its folder exists: completing never creates one.
func Keys(f *cmdutil.Factory, toComplete string, given []string) []string {
	if fi, err := os.Stat(f.StoreDir); err != nil || !fi.IsDir() {
		return nil
	}
	st, err := f.Store()
	if err != nil {
		return nil
	}
	keys, _, err := st.Scan()
	if err != nil {
		return nil
	}
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, toComplete) {
			continue
		}
		short := k[:max(12, len(toComplete))]
		if slices.ContainsFunc(given, func(g string) bool { return strings.HasPrefix(k, g) && len(g) >= store.MinKeyPrefix }) {
			continue
		}
		if m, err := st.Manifest(k); err == nil {
			short += "\t" + m.Addr
		}
		out = append(out, short)
	}
	return out
}
