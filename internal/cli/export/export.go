package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/stages/embed"
	"dmlrun/stages/load"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun export.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context

	File, Addr string
	Vars       []string
	Format     string // FormatNPY or FormatCSV
	Out        string // the folder written into; "" = DefaultOut(address)
}

// The formats export writes.
const (
	FormatNPY = "npy"
	FormatCSV = "csv"
)

// Files export writes into the output folder.
const (
	EmbeddingsNPY = "embeddings.npy" // float32 [N, D]
	LabelsNPY     = "labels.npy"     // int64 [N]
	PathsFile     = "paths.txt"      // one image path per line, in row order
	ClassesFile   = "classes.txt"    // line i: the name of label i
	CSVFile       = "embeddings.csv" // split,label,class,path,e0..e{D-1}
)

// NewCmd returns the export command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "export FILE ADDR",
		Short: "Write an embed node's embeddings, labels and image paths as NPY or CSV",
		Long: `Export writes the embeddings of a computed embed node (ADDR, e.g.
"embed.test[train.nir[seed=0]]", or an embed block with one instance), with each image's
label and path, into the folder --out (default: the address made a folder name, e.g.
embed.test_train.nir_seed=0), replacing the files it writes there:

  --format npy   embeddings.npy (float32 [N, D]) and labels.npy (int64 [N]), NPY version
                 1.0 that numpy.load reads with no other package; paths.txt (one image
                 path per line, in the rows' order); classes.txt (line i: label i's class)
  --format csv   embeddings.csv: a header, then one row per image: split, label, class,
                 path, e0 ... e<D-1> (each value in the shortest form that reads back as
                 the same float32)

Rows are in the embedded split's order, as embeddings.safetensors holds them; labels are
the split's class indices (0..K-1) and paths are the images' sources under the dataset's
root as the dataset artifact records it (IDX images: "<file>#<index>").`,
		Args: cmdutil.ExactArgs("FILE", "ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File, opts.Addr = args[0], args[1]
			if err := validate(opts); err != nil {
				return err
			}
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", FormatNPY, "what to write: `npy` (embeddings.npy, labels.npy, paths.txt, classes.txt) or csv (embeddings.csv)")
	fl.StringVar(&opts.Out, "out", "", "folder to write into, made if missing (default: the address as a folder name)")
	fl.StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	return cmd
}

// validate checks the flags before any work.
func validate(o *Options) error {
	if o.Format != FormatNPY && o.Format != FormatCSV {
		return cmdutil.FlagErrorf("--format %q: want %s or %s", o.Format, FormatNPY, FormatCSV)
	}
	return nil
}

// DefaultOut is the folder export writes into without --out: the node's address with
// every run of characters other than letters, digits, ".", "=" and "-" made one "_"
// ("embed.test[train.nir[seed=0]]" -> "embed.test_train.nir_seed=0").
func DefaultOut(addr string) string {
	var b strings.Builder
	under := false
	for _, r := range addr {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '=' || r == '-'
		switch {
		case ok:
			b.WriteRune(r)
			under = false
		case !under:
			b.WriteByte('_')
			under = true
		}
	}
	return strings.Trim(b.String(), "_")
}

// embedKind is the block type export reads.
const embedKind = "embed"

func run(o *Options) error {
	exp, n, err := cmdutil.LoadNode(o.Context, o.Factory, o.File, o.Addr, o.Vars)
	if err != nil {
		return err
	}
	if n.Kind != embedKind {
		return notEmbedError(exp.Graph, o.File, n)
	}
	st, err := o.Factory.Store()
	if err != nil {
		return err
	}
	apply := "dmlrun apply " + o.File
	for _, v := range o.Vars {
		apply += " -var '" + v + "'"
	}
	d, err := Load(st, n, apply)
	if err != nil {
		return err
	}
	out := o.Out
	if out == "" {
		out = DefaultOut(n.Addr)
	}
	files, err := Write(out, o.Format, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %s: %s (%d images of split %s, %d dimensions, from %s)\n",
		out, strings.Join(files, ", "), d.Embeddings.Rows, d.Split, d.Embeddings.Dim, n.Addr)
	return nil
}

// notEmbedError says that n is no embed node and names the file's embed blocks.
func notEmbedError(g *pipeline.Graph, file string, n *pipeline.Node) error {
	var blocks []string
	for _, m := range g.Nodes {
		if m.Kind == embedKind && !slices.Contains(blocks, m.Block()) {
			blocks = append(blocks, m.Block())
		}
	}
	if len(blocks) == 0 {
		return fmt.Errorf("%s is a %s node, and export reads embed nodes (their embeddings); %s has no embed block", n.Addr, n.Kind, file)
	}
	return fmt.Errorf("%s is a %s node, and export reads embed nodes (their embeddings): %s has %s", n.Addr, n.Kind, file, strings.Join(blocks, ", "))
}

// Data is what export writes: an embed node's rows with each image's class and path.
type Data struct {
	Addr       string // the embed node
	Dataset    string // the dataset node the split is of
	Split      string
	Embeddings embed.Embeddings
	Classes    []string // the split's class names, by label
	Paths      []string // each row's image: the dataset root joined with its source
}

// Load reads embed node n's artifact from st (embed.Read) and the image paths and class
// names from its dataset input's artifact (the split's file list, dataset.json), and
// checks that the two describe the same images: as many, with the same labels. A node not
// in the store is an error saying how to compute it: apply is the command line that
// computes the experiment ("dmlrun apply exp.hcl -var 'epochs=2'"), to which it adds the
// node's --target.
func Load(st *store.Store, n *pipeline.Node, apply string) (*Data, error) {
	art, err := get(st, n, apply)
	if err != nil {
		return nil, err
	}
	e, info, err := embed.Read(art.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Addr, err)
	}
	var ds *pipeline.Node
	for _, in := range n.Inputs {
		if in.Param == "dataset" {
			ds = in.From
		}
	}
	if ds == nil {
		return nil, fmt.Errorf("%s has no dataset input, which export needs for the image paths", n.Addr)
	}
	dart, err := get(st, ds, apply)
	if err != nil {
		return nil, fmt.Errorf("the image paths of %s: %w", n.Addr, err)
	}
	d := &Data{Addr: n.Addr, Dataset: ds.Addr, Split: info.Split, Embeddings: e}
	p, err := load.Open(dart.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.Addr, err)
	}
	defer p.Close()
	s, err := p.Split(info.Split)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.Addr, err)
	}
	if !slices.Equal(s.Labels(), e.Labels) {
		return nil, fmt.Errorf("%s holds %d rows whose labels are not those of the %d images of %s split %s: the embeddings are not of these images",
			n.Addr, e.Rows, s.Len(), ds.Addr, info.Split)
	}
	d.Classes = s.Classes
	si := p.Manifest.Splits[info.Split]
	if si == nil || si.Files == "" {
		return nil, fmt.Errorf("%s: dataset.json names no file list for split %s", ds.Addr, info.Split)
	}
	rel, err := readFileList(filepath.Join(dart.Dir, si.Files))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.Addr, err)
	}
	if len(rel) != e.Rows {
		return nil, fmt.Errorf("%s: %s lists %d images, %s has %d rows", ds.Addr, si.Files, len(rel), n.Addr, e.Rows)
	}
	d.Paths = make([]string, len(rel))
	for i, r := range rel {
		d.Paths[i] = filepath.Join(p.Manifest.Root, filepath.FromSlash(r))
	}
	return d, nil
}

// get is n's artifact, or an error that says whether it was never computed or is damaged,
// and how to compute it.
func get(st *store.Store, n *pipeline.Node, apply string) (*store.Artifact, error) {
	if n.KeyErr != nil {
		return nil, fmt.Errorf("%s: no key: %w", n.Addr, n.KeyErr)
	}
	art, err := st.Get(n.Key)
	if err != nil {
		if store.IsMiss(err) {
			return nil, fmt.Errorf("%s is not computed yet (key %.12s…: %v); run: %s --target '%s'", n.Addr, n.Key, err, apply, n.Addr)
		}
		return nil, fmt.Errorf("%s: %w", n.Addr, err)
	}
	return art, nil
}

// readFileList reads a split's file list (docs/ARTIFACTS.md): one "source<TAB>sha256"
// line per image, in index order; it returns the sources.
func readFileList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		src, _, _ := strings.Cut(sc.Text(), "\t")
		out = append(out, src)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return out, nil
}

// Write writes d into the folder dir (made if missing) in format and returns the names
// of the files written. Each file is written to a temporary sibling and renamed over the
// old one, so a failed export leaves no half-written file.
func Write(dir, format string, d *Data) ([]string, error) {
	e := d.Embeddings
	if len(e.Data) != e.Rows*e.Dim || len(e.Labels) != e.Rows || len(d.Paths) != e.Rows {
		return nil, fmt.Errorf("export %s: %d values, %d labels and %d paths for %d x %d embeddings", d.Addr, len(e.Data), len(e.Labels), len(d.Paths), e.Rows, e.Dim)
	}
	for i, p := range d.Paths {
		if strings.ContainsAny(p, "\n\r") {
			return nil, fmt.Errorf("export %s: the path of row %d holds a line break: %q", d.Addr, i, p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	put := func(name string, fill func(io.Writer) error) error {
		if err := writeFile(dir, name, fill); err != nil {
			return fmt.Errorf("export %s: %s: %w", d.Addr, filepath.Join(dir, name), err)
		}
		files = append(files, name)
		return nil
	}
	switch format {
	case FormatNPY:
		lines := func(ss []string) func(io.Writer) error {
			return func(w io.Writer) error {
				bw := bufio.NewWriter(w)
				for _, s := range ss {
					bw.WriteString(s)
					bw.WriteByte('\n')
				}
				return bw.Flush()
			}
		}
		for _, err := range []error{
			put(EmbeddingsNPY, func(w io.Writer) error { return writeNPYFloat32(w, e.Data, e.Rows, e.Dim) }),
			put(LabelsNPY, func(w io.Writer) error { return writeNPYInt64(w, e.Labels) }),
			put(PathsFile, lines(d.Paths)),
			put(ClassesFile, lines(d.Classes)),
		} {
			if err != nil {
				return files, err
			}
		}
	case FormatCSV:
		if err := put(CSVFile, func(w io.Writer) error { return writeCSV(w, d) }); err != nil {
			return files, err
		}
	default:
		panic(fmt.Sprintf("export: format %q was not validated", format)) // validate's job: a bug
	}
	return files, nil
}

// writeCSV writes one row per image: split, label, class, path, e0..e{D-1}; floats in the
// shortest decimal form that parses back to the same float32.
func writeCSV(w io.Writer, d *Data) error {
	e := d.Embeddings
	cw := csv.NewWriter(w)
	rec := make([]string, 0, 4+e.Dim)
	rec = append(rec, "split", "label", "class", "path")
	for j := 0; j < e.Dim; j++ {
		rec = append(rec, "e"+strconv.Itoa(j))
	}
	cw.Write(rec)
	for i := 0; i < e.Rows; i++ {
		class := ""
		if l := e.Labels[i]; l >= 0 && int(l) < len(d.Classes) {
			class = d.Classes[l]
		}
		rec = append(rec[:0], d.Split, strconv.FormatInt(e.Labels[i], 10), class, d.Paths[i])
		for _, v := range e.Data[i*e.Dim : (i+1)*e.Dim] {
			rec = append(rec, strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// writeFile writes dir/name through a temporary sibling renamed into place.
func writeFile(dir, name string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644) // CreateTemp makes it 0600
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
