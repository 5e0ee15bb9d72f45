package export_test

import (
	"bytes"
	"context"
	"dmlrun/internal/cli/clitest"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/cli/export"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/load"
	"dmlrun/stages/train"
)

// flags -> options: defaults, each flag, and the misuse that is a usage error.
func TestExportArgs(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want export.Options
		err  string
	}{
		{"defaults", []string{"e.hcl", "embed.test"}, export.Options{File: "e.hcl", Addr: "embed.test", Format: "npy"}, ""},
		{"csv and out", []string{"e.hcl", "embed.test[train.a[seed=0]]", "--format", "csv", "--out", "x"},
			export.Options{File: "e.hcl", Addr: "embed.test[train.a[seed=0]]", Format: "csv", Out: "x"}, ""},
		{"vars", []string{"e.hcl", "embed.test", "--var", "a=1", "--var", "b=2"},
			export.Options{File: "e.hcl", Addr: "embed.test", Format: "npy", Vars: []string{"a=1", "b=2"}}, ""},
		{"unknown format", []string{"e.hcl", "embed.test", "--format", "parquet"}, export.Options{}, `--format "parquet": want npy or csv`},
		{"one argument", []string{"e.hcl"}, export.Options{}, "export takes 2 argument(s) (FILE ADDR), got 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *export.Options
			cmd := export.NewCmd(cmdutil.NewFactory(ios, nil), func(o *export.Options) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if c.err != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &fe) {
					t.Fatalf("error %v, want a flag error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Factory, got.Context = nil, nil, nil
			if fmt.Sprint(*got) != fmt.Sprint(c.want) {
				t.Fatalf("options %+v, want %+v", *got, c.want)
			}
		})
	}
}

func TestDefaultOut(t *testing.T) {
	for addr, want := range map[string]string{
		"embed.test":                       "embed.test",
		"embed.test[train.nir[seed=0]]":    "embed.test_train.nir_seed=0",
		`embed.t[train.pa[d=16,seed=1]]`:   "embed.t_train.pa_d=16_seed=1",
		"embed.x[train.y[name=\"a/b c\"]]": "embed.x_train.y_name=_a_b_c",
	} {
		if got := export.DefaultOut(addr); got != want {
			t.Errorf("DefaultOut(%q) = %q, want %q", addr, got, want)
		}
	}
}

const exportExp = `
variable "x" { default = 0 }

dataset "tiny" {
  kind = "folder"
  root = "data"
  base = 40
  crop = 32
}

train "a" {
  dataset        = dataset.tiny
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 8
  schedule       = { epochs = 1, batch_size = 8, lr = 1e-3, augmentation = "base" }
}

embed "test" {
  models  = [train.a]
  dataset = dataset.tiny
  split   = "test"
}
`

// readNPY decodes an NPY 1.0 file by hand (header dict, then the data): the test's own
// reader, so the round trip is checked where there is no python too.
func readNPY(t *testing.T, path string) (descr, shape string, data []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("%s: not NPY 1.0", path)
	}
	n := 10 + int(binary.LittleEndian.Uint16(b[8:]))
	h := string(b[10:n])
	m := npyDict.FindStringSubmatch(h)
	if m == nil || n%64 != 0 {
		t.Fatalf("%s: header %q of %d bytes", path, h, n)
	}
	return m[1], m[2], b[n:]
}

var npyDict = regexp.MustCompile(`^\{'descr': '([<>|][a-z][0-9]+)', 'fortran_order': False, 'shape': (\([0-9, ]*\)), \} *\n$`)

// Through the real root command: an embed node not computed yet, a node that is no embed
// node and one that does not exist are errors saying so; after apply, the NPY and CSV
// exports hold exactly the safetensors' embeddings and labels (read back by this test and
// by numpy / Python's csv module), each image's path and class, in the split's order.
func TestExportThroughMain(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	clitest.WriteFolderDataset(t, "data", 8, 4)
	if err := os.WriteFile("exp.hcl", []byte(exportExp), 0o644); err != nil {
		t.Fatal(err)
	}
	stages, err := stage.NewRegistry(load.Def(), train.Def(), embed.Def())
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (root.ExitCode, string, string) {
		ios, _, out, errOut := iostreams.Test()
		f := cmdutil.NewFactory(ios, stages)
		f.LookupEnv = func(string) (string, bool) { return "", false }
		code := root.Run(context.Background(), f, append(args, "--store", "results"))
		return code, out.String(), errOut.String()
	}
	const addr = "embed.test[train.a]"
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"not computed", []string{"embed.test"}, addr + " is not computed yet (key "},
		{"not computed: how", []string{addr}, "run: dmlrun apply exp.hcl --target '" + addr + "'"},
		{"not computed: how, with vars", []string{addr, "-var", "x=1"}, "run: dmlrun apply exp.hcl -var 'x=1' --target '" + addr + "'"},
		{"a train node", []string{"train.a"}, "train.a is a train node, and export reads embed nodes (their embeddings): exp.hcl has embed.test"},
		{"a dataset node", []string{"dataset.tiny"}, "dataset.tiny is a dataset node"},
		{"no such node", []string{"embed.nope"}, "no node embed.nope in the experiment"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := run(append([]string{"export", "exp.hcl"}, c.args...)...)
			if code != root.ExitError || !strings.Contains(errOut, c.want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, c.want)
			}
		})
	}
	if _, err := os.Stat(export.DefaultOut(addr)); !os.IsNotExist(err) {
		t.Fatalf("a failed export made its folder: %v", err)
	}
	if code, _, errOut := run("apply", "exp.hcl", "--target", "embed.test", "--device", "cpu", "--threads", "1"); code != root.ExitOK {
		t.Fatalf("apply: exit %d\n%s", code, errOut)
	}
	code, out, errOut := run("show", "exp.hcl", addr, "--json")
	var shown struct{ Dir string }
	if code != root.ExitOK || json.Unmarshal([]byte(out), &shown) != nil {
		t.Fatalf("show: exit %d %s %s", code, out, errOut)
	}
	emb, info, err := embed.Read(shown.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// The folder kind's default split: the first half of the classes train, c04..c07 test.
	cwd, _ := os.Getwd()
	var wantPaths []string
	var wantLabels []int64
	for c := 4; c < 8; c++ {
		for i := 0; i < 4; i++ {
			wantPaths = append(wantPaths, filepath.Join(cwd, "data", fmt.Sprintf("c%02d", c), fmt.Sprintf("%d.png", i)))
			wantLabels = append(wantLabels, int64(c-4))
		}
	}
	if info.Split != "test" || emb.Rows != 16 || emb.Dim != 8 || !slices.Equal(emb.Labels, wantLabels) {
		t.Fatalf("embed artifact: split %s, %d x %d, labels %v", info.Split, emb.Rows, emb.Dim, emb.Labels)
	}
	st := filepath.Join(shown.Dir, embed.EmbeddingsFile)
	const py = "/usr/bin/python3"
	python := func(t *testing.T, format, out string) {
		t.Helper()
		if _, err := os.Stat(py); err != nil {
			t.Logf("%s not found, numpy does not read the export back: %v", py, err)
			return
		}
		b, err := exec.Command(py, filepath.Join(testdata, "check_export.py"), format, out, st).CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) != "ok 16 8" {
			t.Fatalf("check_export.py %s: %v\n%s", format, err, b)
		}
	}

	t.Run("npy", func(t *testing.T) {
		for range 2 { // the second export replaces the first's files
			code, out, errOut := run("export", "exp.hcl", "embed.test", "--out", "x/npy")
			if code != root.ExitOK || out != "" || !strings.Contains(errOut, "wrote x/npy: embeddings.npy, labels.npy, paths.txt, classes.txt (16 images of split test, 8 dimensions, from "+addr+")") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		}
		ents, _ := os.ReadDir("x/npy")
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if want := []string{"classes.txt", "embeddings.npy", "labels.npy", "paths.txt"}; !slices.Equal(names, want) {
			t.Fatalf("x/npy holds %v, want %v", names, want)
		}
		descr, shape, data := readNPY(t, "x/npy/embeddings.npy")
		if descr != "<f4" || shape != "(16, 8)" || len(data) != 4*16*8 {
			t.Fatalf("embeddings.npy: %s %s, %d bytes", descr, shape, len(data))
		}
		for i, v := range emb.Data {
			if got := binary.LittleEndian.Uint32(data[4*i:]); got != math.Float32bits(v) {
				t.Fatalf("embeddings.npy value %d: %#x, the safetensors hold %#x", i, got, math.Float32bits(v))
			}
		}
		descr, shape, data = readNPY(t, "x/npy/labels.npy")
		if descr != "<i8" || shape != "(16,)" || len(data) != 8*16 {
			t.Fatalf("labels.npy: %s %s, %d bytes", descr, shape, len(data))
		}
		for i, l := range wantLabels {
			if got := int64(binary.LittleEndian.Uint64(data[8*i:])); got != l {
				t.Fatalf("labels.npy[%d] = %d, want %d", i, got, l)
			}
		}
		if b, _ := os.ReadFile("x/npy/paths.txt"); string(b) != strings.Join(wantPaths, "\n")+"\n" {
			t.Fatalf("paths.txt:\n%s\nwant\n%s", b, strings.Join(wantPaths, "\n"))
		}
		if b, _ := os.ReadFile("x/npy/classes.txt"); string(b) != "c04\nc05\nc06\nc07\n" {
			t.Fatalf("classes.txt: %q", b)
		}
		python(t, "npy", "x/npy")
	})

	t.Run("csv", func(t *testing.T) {
		code, _, errOut := run("export", "exp.hcl", addr, "--format", "csv")
		out := export.DefaultOut(addr)
		if code != root.ExitOK || !strings.Contains(errOut, "wrote "+out+": embeddings.csv (16 images") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		f, err := os.Open(filepath.Join(out, export.CSVFile))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 17 || strings.Join(rows[0], ",") != "split,label,class,path,e0,e1,e2,e3,e4,e5,e6,e7" {
			t.Fatalf("%d rows, header %v", len(rows), rows[0])
		}
		for i, r := range rows[1:] {
			if r[0] != "test" || r[1] != strconv.FormatInt(wantLabels[i], 10) || r[2] != fmt.Sprintf("c%02d", 4+wantLabels[i]) || r[3] != wantPaths[i] {
				t.Fatalf("row %d: %v", i, r[:4])
			}
			for j, s := range r[4:] {
				v, err := strconv.ParseFloat(s, 32)
				if want := emb.Data[i*8+j]; err != nil || math.Float32bits(float32(v)) != math.Float32bits(want) {
					t.Fatalf("row %d e%d: %q (%v), the safetensors hold %v", i, j, s, err, want)
				}
			}
		}
		python(t, "csv", out)
	})
}

// testdata is this package's testdata folder, found before a test changes the working
// directory.
var testdata = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata")
}()
