package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestMatrixPaths: a matrix key may be a path into an object argument or a variant block;
// its values reach that member of each node, the rest of the value stays as written or
// defaulted, and addresses name the axis by its last component unless that is ambiguous.
func TestMatrixPaths(t *testing.T) {
	const head = "dataset \"d\" { kind = \"synthetic\" }\n"
	sched := func(lr float64, warmup int64) map[string]any {
		return map[string]any{"epochs": int64(10), "batch_size": int64(112), "lr": lr, "tau": []int64{10000}, "gamma": 0.3, "warmup": warmup}
	}
	nir := func(w float64) map[string]any {
		return map[string]any{"kind": "nir", "w_align": w, "proxy_lrmulti": 4000.0, "lrmulti": 50.0, "cblocks": int64(5)}
	}
	for _, tc := range []struct {
		name, file, src string
		addrs           []string
		params          map[string]map[string]any // addr -> parameter -> value
	}{
		{
			name: "an object field, with seeds",
			file: "a.hcl",
			src: head + `train "pa" {
  dataset  = dataset.d
  seeds    = [0, 1]
  schedule = { epochs = 10 }
  matrix   = { "schedule.lr" = [1e-3, 3e-3] }
  loss "nir" {}
}`,
			addrs: []string{"dataset.d", "train.pa[lr=0.001,seed=0]", "train.pa[lr=0.001,seed=1]", "train.pa[lr=0.003,seed=0]", "train.pa[lr=0.003,seed=1]"},
			params: map[string]map[string]any{
				"train.pa[lr=0.001,seed=1]": {"schedule": sched(1e-3, 0), "seed": int64(1), "lr": 1e-5},
				"train.pa[lr=0.003,seed=0]": {"schedule": sched(3e-3, 0), "seed": int64(0)},
			},
		},
		{
			name: "a variant field and an object field, HCL",
			file: "a.hcl",
			src: head + `locals { schedule = { epochs = 10, warmup = 1 } }
train "pb" {
  dataset  = dataset.d
  schedule = local.schedule
  matrix   = { "schedule.lr" = [1e-3], "loss.w_align" = [0.01, 0.1] }
  loss "nir" {}
}`,
			addrs: []string{"dataset.d", "train.pb[lr=0.001,w_align=0.01]", "train.pb[lr=0.001,w_align=0.1]"},
			params: map[string]map[string]any{
				"train.pb[lr=0.001,w_align=0.1]": {"schedule": sched(1e-3, 1), "loss": nir(0.1)},
			},
		},
		{
			name: "a variant field and an object field, YAML",
			file: "a.yaml",
			src: `dataset: { d: { kind: synthetic } }
locals:
  schedule: { epochs: 10, warmup: 1 }
train:
  pb:
    dataset: dataset.d
    schedule: "${local.schedule}"
    matrix: { schedule.lr: [1e-3], "loss.w_align": [0.01, 0.1] }
    loss: { nir: {} }
`,
			addrs: []string{"dataset.d", "train.pb[lr=0.001,w_align=0.01]", "train.pb[lr=0.001,w_align=0.1]"},
			params: map[string]map[string]any{
				"train.pb[lr=0.001,w_align=0.1]": {"schedule": sched(1e-3, 1), "loss": nir(0.1)},
			},
		},
		{
			name: "a member of a computed object is the base the matrix overrides",
			file: "a.hcl",
			src: head + `locals { schedule = { epochs = 10, lr = 1e-5, warmup = 1 } }
train "po" {
  dataset  = dataset.d
  schedule = merge(local.schedule, { warmup = 0 })
  matrix   = { "schedule.lr" = [1e-3, 3e-3] }
  loss "oproxy" {}
}`,
			addrs: []string{"dataset.d", "train.po[lr=0.001]", "train.po[lr=0.003]"},
			params: map[string]map[string]any{
				"train.po[lr=0.003]": {"schedule": sched(3e-3, 0)},
			},
		},
		{
			name: "an unwritten object gets its defaults around the swept field",
			file: "a.hcl",
			src: head + `train "pc" {
  dataset = dataset.d
  matrix  = { "schedule.warmup" = [1, 2] }
  loss "oproxy" {}
}`,
			addrs: []string{"dataset.d", "train.pc[warmup=1]", "train.pc[warmup=2]"},
			params: map[string]map[string]any{
				"train.pc[warmup=2]": {"schedule": map[string]any{"epochs": int64(150), "batch_size": int64(112), "lr": 1e-5, "tau": []int64{10000}, "gamma": 0.3, "warmup": int64(2)}},
			},
		},
		{
			name: "an ambiguous last component: the full path, sorted by label",
			file: "a.hcl",
			src: head + `train "pd" {
  dataset = dataset.d
  matrix  = { "schedule.lr" = [1e-3], lr = [1e-4, 1e-5] }
  loss "oproxy" {}
}`,
			addrs: []string{"dataset.d", "train.pd[lr=0.0001,schedule.lr=0.001]", "train.pd[lr=1e-05,schedule.lr=0.001]"},
			params: map[string]map[string]any{
				"train.pd[lr=0.0001,schedule.lr=0.001]": {"lr": 1e-4},
			},
		},
		{
			name:  "the default kind of a variant block that is not written",
			file:  "a.hcl",
			src:   `probe "pe" { matrix = { "v.w" = [0.5] } }`,
			addrs: []string{"probe.pe[w=0.5]"},
			params: map[string]map[string]any{
				"probe.pe[w=0.5]": {"v": map[string]any{"kind": "k", "w": 0.5, "r": int64(0)}},
			},
		},
		{
			name:  "a required field supplied by the matrix, the object not written",
			file:  "a.hcl",
			src:   `probe "pf" { matrix = { "req.need" = [1, 2] } }`,
			addrs: []string{"probe.pf[need=1]", "probe.pf[need=2]"},
			params: map[string]map[string]any{
				"probe.pf[need=2]": {"req": map[string]any{"need": int64(2), "opt": int64(0)}},
			},
		},
		{
			name: "a nested object field, and a seed-named field beside seeds",
			file: "a.hcl",
			src: `probe "pg" {
  obj    = { a = 1 }
  seeds  = [7]
  matrix = { "obj.inner.c" = [3], "v.r" = [1] }
}`,
			addrs: []string{"probe.pg[c=3,r=1,seed=7]"},
			params: map[string]map[string]any{
				"probe.pg[c=3,r=1,seed=7]": {"obj": map[string]any{"a": 1.0, "b": []int64{5}, "inner": map[string]any{"c": int64(3)}}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, _ := load(t, tc.file, tc.src, LoadOptions{Registry: probeRegistry})
			var addrs []string
			for _, n := range exp.Nodes {
				addrs = append(addrs, n.Addr.String())
			}
			if !slices.Equal(addrs, tc.addrs) {
				t.Errorf("nodes:\n got %q\nwant %q", addrs, tc.addrs)
			}
			for addr, ps := range tc.params {
				n := exp.Node(addr)
				if n == nil {
					t.Errorf("no node %s", addr)
					continue
				}
				for k, v := range ps {
					if !reflect.DeepEqual(n.Params[k], v) {
						t.Errorf("%s %s = %#v, want %#v", addr, k, n.Params[k], v)
					}
				}
			}
			// Instances share no mutable values.
			if len(exp.Nodes) > 1 && !reflect.DeepEqual(exp.Nodes[0].Params, exp.Nodes[len(exp.Nodes)-1].Params) {
				for _, n := range exp.Nodes {
					if m, ok := n.Params["schedule"].(map[string]any); ok {
						m["epochs"] = int64(-7)
						break
					}
				}
				if m, ok := exp.Nodes[len(exp.Nodes)-1].Params["schedule"].(map[string]any); ok && m["epochs"] == int64(-7) {
					t.Error("instances share an object")
				}
			}
		})
	}
}

// TestMatrixPathErrors: unknown and invalid matrix paths are reported at the key, with the
// nearest valid path.
func TestMatrixPathErrors(t *testing.T) {
	const head = "dataset \"d\" { kind = \"synthetic\" }\ntrain \"t\" {\n  dataset = dataset.d\n  loss \"nir\" {}\n  matrix = { "
	for _, tc := range []struct{ key, summary, detail, subject string }{
		{`"schedule.lrr" = [1]`, "Unsupported matrix key", `"schedule" has no field "lrr". Did you mean "schedule.lr"? Its fields are epochs, batch_size, lr, tau, gamma, warmup.`, ""},
		{`"scheduel.lr" = [1]`, "Unsupported matrix key", `A matrix path starts with an object argument or a nested block of train blocks, and "scheduel" is neither. Did you mean "schedule.lr"? Those are: loss, schedule.`, ""},
		{`"loss.w_algn" = [1]`, "Unsupported matrix key", `The "nir" kind of loss has no field "w_algn". Did you mean "loss.w_align"? Its fields are w_align, proxy_lrmulti, lrmulti, cblocks.`, ""},
		{`"loss.mode" = ["nca"]`, "Unsupported matrix key", `The "nir" kind of loss has no field "mode". Its fields are w_align, proxy_lrmulti, lrmulti, cblocks.`, ""},
		{`"loss.kind" = ["oproxy"]`, "Invalid matrix key", `The kind of a loss block cannot be swept by matrix, because each kind has its own fields; write one block per kind.`, ""},
		{`"embed_dim.x" = [1]`, "Invalid matrix key", `"embed_dim.x" goes into "embed_dim", which is an integer and has no fields; a matrix path goes into object arguments and variant blocks.`, ""},
		{`"schedule..lr" = [1]`, "Invalid matrix key", `"schedule..lr" is not a parameter path: a path is names joined by single dots, such as "schedule.lr".`, ""},
		{`loss = [1]`, "Invalid matrix key", `"loss" cannot be varied by matrix: only value arguments can (not references or nested blocks). To sweep a field of the loss block, write its path, such as "loss.<field>".`, ""},
		{`schedule.lr = [1]`, "Ambiguous key", `The key schedule.lr of "matrix" reads as a reference. Write a name with dots in quotes, such as "schedule.lr" = ..., or a reference in parentheses, such as (schedule.lr) = ....`, ""},
		{`"schedule.lr" = [0]`, "Value out of range", `"matrix.schedule.lr[0]" must be greater than 0; got 0. lr: a finite positive learning rate`, "0"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			src := head + tc.key + " }\n}\n"
			errs := errorsOf(t, "x.hcl", src, LoadOptions{Registry: testRegistry})
			if len(errs) != 1 || errs[0].Summary != tc.summary || errs[0].Detail != tc.detail {
				t.Fatalf("got %v\nwant %s: %s", errs, tc.summary, tc.detail)
			}
			want := tc.subject
			if want == "" {
				want, _, _ = strings.Cut(tc.key, " =") // the key
			}
			if got := src[errs[0].Subject.Start.Byte:errs[0].Subject.End.Byte]; got != want || errs[0].Subject.Start.Line != 5 {
				t.Errorf("subject %q at line %d, want %q on line 5", got, errs[0].Subject.Start.Line, want)
			}
		})
	}
}

// TestMatrixPathsIntoAbsentValues: a path into a variant block that is not written and has
// no default kind, or into an object that is not written and has other required fields, is
// an error at the key; a path that supplies the required field is not.
func TestMatrixPathsIntoAbsentValues(t *testing.T) {
	for _, tc := range []struct{ src, summary, detail string }{
		{`probe "p" { matrix = { "nv.w" = [1] } }`, "Invalid matrix key",
			`"nv.w" sweeps a field of the nv block, but there is no nv block: write one, such as nv "<kind>" {}.`},
		{`probe "p" { matrix = { "req.opt" = [1] } }`, "Missing required field",
			`The matrix sets a field of "req", which is not written, and its field "need" is required; write "req" with a value for "need".`},
		{`probe "p" { req = { opt = 1 } }`, "Missing required field", `The field "need" of "req" is required, but no definition was found.`},
	} {
		errs := errorsOf(t, "x.hcl", tc.src, LoadOptions{Registry: probeRegistry})
		if len(errs) != 1 || errs[0].Summary != tc.summary || errs[0].Detail != tc.detail {
			t.Errorf("%s:\n got %v\nwant %s: %s", tc.src, errs, tc.summary, tc.detail)
		}
	}
	for _, src := range []string{
		`probe "p" { matrix = { "req.need" = [1] } }`,
		`probe "p" {
  req    = { opt = 2 }
  matrix = { "req.need" = [1] }
}`,
	} {
		if errs := errorsOf(t, "x.hcl", src, LoadOptions{Registry: probeRegistry}); len(errs) != 0 {
			t.Errorf("%s: %v", src, errs)
		}
	}
}

// TestValidSweeps: testdata/valid/sweeps.hcl and its YAML twin (also fuzz seeds) decode to
// the same nodes, with the addresses the matrix rule gives.
func TestValidSweeps(t *testing.T) {
	var got [][]nodeView
	for _, path := range []string{"testdata/valid/sweeps.hcl", "testdata/valid/sweeps.yaml"} {
		exp, diags := Load(path, LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
		if diags.HasErrors() {
			t.Fatalf("%s: %v", path, diags)
		}
		got = append(got, views(exp))
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Errorf("HCL and YAML differ:\n%#v\n%#v", got[0], got[1])
	}
	var addrs []string
	for _, v := range got[0] {
		if strings.HasPrefix(v.Addr, "train.sweep") {
			addrs = append(addrs, v.Addr)
		}
	}
	want := []string{
		"train.sweep[gamma=0.1,seed=0,w_align=0.005]", "train.sweep[gamma=0.1,seed=0,w_align=0.01]",
		"train.sweep[gamma=0.1,seed=1,w_align=0.005]", "train.sweep[gamma=0.1,seed=1,w_align=0.01]",
		"train.sweep[gamma=0.3,seed=0,w_align=0.005]", "train.sweep[gamma=0.3,seed=0,w_align=0.01]",
		"train.sweep[gamma=0.3,seed=1,w_align=0.005]", "train.sweep[gamma=0.3,seed=1,w_align=0.01]",
	}
	if !slices.Equal(addrs, want) {
		t.Errorf("train.sweep nodes:\n got %q\nwant %q", addrs, want)
	}
}
