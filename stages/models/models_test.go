package models

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/torch"
)

// refDir returns $DMLRUN_REF_DIR or fails: parity references are generated, not committed.
func refDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("DMLRUN_REF_DIR")
	if d == "" {
		t.Fatal("DMLRUN_REF_DIR is not set: generate the ResNet references with " +
			"`/usr/bin/python3 stages/models/testdata/gen_resnet_ref.py DIR` and set DMLRUN_REF_DIR=DIR")
	}
	return d
}

func maxRelDiff(t *testing.T, name string, got, want *torch.Tensor) float64 {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), want.Shape())
	}
	g, err := got.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	var maxAbs, maxDiff float64
	for i := range w {
		maxAbs = math.Max(maxAbs, math.Abs(float64(w[i])))
		maxDiff = math.Max(maxDiff, math.Abs(float64(g[i]-w[i])))
	}
	if maxAbs == 0 {
		return maxDiff
	}
	return maxDiff / maxAbs
}

func TestParseArch(t *testing.T) {
	cases := []struct {
		in                        string
		base                      string
		frozen, normalize, double bool
	}{
		{"resnet50_frozen_normalize", "resnet50", true, true, false},
		{"resnet50_frozen_normalize_double", "resnet50", true, true, true},
		{"resnet18_frozen", "resnet18", true, false, false},
		{"smallcnn_normalize", "smallcnn", false, true, false},
		{"bninception_normalize", "bninception", false, true, false},
		{"bninception_frozen_double_lp3", "bninception", true, false, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			a, err := ParseArch(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if a.Base != c.base || a.Frozen != c.frozen || a.Normalize != c.normalize || a.Double != c.double {
				t.Fatalf("got %+v", a)
			}
		})
	}
	if _, err := ParseArch("vgg16"); err == nil || !strings.Contains(err.Error(), "vgg16") {
		t.Fatalf("want error naming vgg16, got %v", err)
	}
}

// TestShapesAndOrder checks the state-dict names and order (torchvision's) and output shapes.
func TestShapesAndOrder(t *testing.T) {
	torch.SetNumThreads(1)
	torch.ManualSeed(0)
	m, err := New("resnet18_frozen_normalize", 32, cpu)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	names, ts := m.State()
	wantFirst := []string{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
		"layer1.0.conv1.weight", "layer1.0.bn1.weight"}
	for i, w := range wantFirst {
		if names[i] != w {
			t.Fatalf("state name %d = %q, want %q", i, names[i], w)
		}
	}
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	for _, n := range []string{"layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias"} {
		if _, ok := idx[n]; !ok {
			t.Fatalf("missing %s", n)
		}
	}
	if idx["layer2.0.conv2.weight"] > idx["layer2.0.downsample.0.weight"] {
		t.Fatal("state dict: downsample must come after the block's convs (torchvision order)")
	}
	if names[len(names)-2] != "last_linear.weight" || !slices.Equal(ts[len(ts)-2].Shape(), []int64{32, 512}) {
		t.Fatalf("head: %s %v", names[len(names)-2], ts[len(ts)-2].Shape())
	}
	// 62 state tensors in torchvision resnet18 without fc and num_batches_tracked: 20 convs + 20 BN x 4... count:
	// convs: 1 + 16 + 3 downsample = 20; BNs same count x 4 tensors = 80; + 2 head = 102.
	if len(names) != 102 {
		t.Fatalf("resnet18 state has %d tensors, want 102", len(names))
	}
	err = torch.WithScope(func() error {
		x := torch.Randn([]int64{2, 3, 64, 64}, torch.Float32, cpu)
		out := m.Forward(x, true, false)
		if !slices.Equal(out.Embeds.Shape(), []int64{2, 32}) || !slices.Equal(out.AvgFeatures.Shape(), []int64{2, 512}) ||
			!slices.Equal(out.Features.Shape(), []int64{2, 512, 2, 2}) {
			t.Fatalf("shapes %v %v %v", out.Embeds.Shape(), out.AvgFeatures.Shape(), out.Features.Shape())
		}
		n := out.Embeds.Norm(2, 1, false)
		v, _ := n.Float32s()
		for _, x := range v {
			if math.Abs(float64(x)-1) > 1e-5 {
				t.Fatalf("normalize: row norm %v", x)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New("smallcnn", 16, cpu)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = torch.WithScope(func() error {
		out := s.Forward(torch.Randn([]int64{3, 3, 32, 32}, torch.Float32, cpu), true, false)
		if !slices.Equal(out.Embeds.Shape(), []int64{3, 16}) || !slices.Equal(out.Features.Shape(), []int64{3, 128, 4, 4}) {
			t.Fatalf("smallcnn shapes %v %v", out.Embeds.Shape(), out.Features.Shape())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBNInceptionShapes checks pretrainedmodels' layout: key names and count, parameter
// count, and the 1024 x 7 x 7 feature map for a 224 input (ceil-mode pools: 112 -> 56 -> 28).
func TestBNInceptionShapes(t *testing.T) {
	torch.SetNumThreads(1)
	torch.ManualSeed(0)
	m, err := New("bninception_frozen_normalize_double_lp2", 64, cpu)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	names, ts := m.State()
	if len(names) != 69*6+2 {
		t.Fatalf("%d state tensors, want %d (69 conv+BN units x 6, plus last_linear)", len(names), 69*6+2)
	}
	idx := map[string][]int64{}
	var nparams int64
	for i, n := range names {
		idx[n] = ts[i].Shape()
		if !strings.Contains(n, "running") && !strings.HasPrefix(n, "last_linear") {
			nparams += ts[i].Numel()
		}
	}
	for n, want := range map[string][]int64{
		"conv1_7x7_s2.weight":                 {64, 3, 7, 7},
		"conv1_7x7_s2_bn.running_var":         {64},
		"inception_3a_pool_proj.weight":       {32, 192, 1, 1},
		"inception_3c_double_3x3_2.bias":      {96},
		"inception_4e_3x3.weight":             {192, 128, 3, 3},
		"inception_5b_double_3x3_2_bn.weight": {224},
		"inception_5a_1x1.weight":             {352, 1056, 1, 1},
		"last_linear.weight":                  {64, 1024},
	} {
		if !slices.Equal(idx[n], want) {
			t.Errorf("%s: shape %v, want %v", n, idx[n], want)
		}
	}
	if _, ok := idx["inception_3c_1x1.weight"]; ok {
		t.Error("reduction module 3c has no 1x1 branch")
	}
	// BN-Inception has about 10.2M parameters without its classifier.
	if nparams < 10_000_000 || nparams > 10_400_000 {
		t.Errorf("%d trunk parameters", nparams)
	}
	err = torch.WithScope(func() error {
		out := m.Forward(torch.Randn([]int64{1, 3, 224, 224}, torch.Float32, cpu), false, false)
		if !slices.Equal(out.Features.Shape(), []int64{1, 1024, 7, 7}) || !slices.Equal(out.Embeds.Shape(), []int64{1, 64}) {
			t.Fatalf("features %v embeds %v", out.Features.Shape(), out.Embeds.Shape())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BN-Inception trunk parameters: %d", nparams)
}

// TestFrozenBN: frozen archs never update running statistics and give identical outputs in
// train and eval mode; non-frozen archs update them in train mode.
func TestFrozenBN(t *testing.T) {
	torch.SetNumThreads(1)
	for _, arch := range []string{"smallcnn_frozen", "smallcnn"} {
		t.Run(arch, func(t *testing.T) {
			torch.ManualSeed(0)
			m, err := New(arch, 8, cpu)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			err = torch.WithScope(func() error {
				names, ts := m.State()
				var rm *torch.Tensor
				for i, n := range names {
					if n == "bn1.running_mean" {
						rm = ts[i].Clone()
					}
				}
				x := torch.Randn([]int64{4, 3, 32, 32}, torch.Float32, cpu).MulScalar(3).AddScalar(1)
				tr := m.Forward(x, true, false).Embeds
				ev := m.Forward(x, false, false).Embeds
				var after *torch.Tensor
				for i, n := range names {
					if n == "bn1.running_mean" {
						after = ts[i]
					}
				}
				d := maxRelDiff(t, "running_mean", after, rm)
				e := maxRelDiff(t, "train vs eval", tr, ev)
				frozen := strings.Contains(arch, "frozen")
				if frozen && (d != 0 || e != 0) {
					t.Fatalf("frozen BN changed: running mean diff %g, train/eval diff %g", d, e)
				}
				if !frozen && (d == 0 || e == 0) {
					t.Fatalf("plain BN did not use batch statistics: running mean diff %g, train/eval diff %g", d, e)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWarmupGrads: a warmup forward gives gradients to last_linear only.
func TestWarmupGrads(t *testing.T) {
	torch.SetNumThreads(1)
	torch.ManualSeed(0)
	m, err := New("smallcnn_normalize", 8, cpu)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = torch.WithScope(func() error {
		x := torch.Randn([]int64{4, 3, 32, 32}, torch.Float32, cpu)
		m.Forward(x, true, true).Embeds.Sum().Backward()
		_, bb := m.Params(false)
		_, hd := m.Params(true)
		for _, p := range bb {
			if g := p.Grad(); g != nil {
				t.Fatal("warmup: backbone parameter got a gradient")
			}
		}
		for _, p := range hd {
			if p.Grad() == nil {
				t.Fatal("warmup: head parameter got no gradient")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestResNetParity compares against torchvision (see testdata/gen_resnet_ref.py): the
// initial weights after ManualSeed(0) (construction order), loading the .pth by key name,
// and eval/train-mode features and frozen-normalize embeddings.
//
// Tolerances (relative to the largest reference value) come from package tol: initial
// weights are the same random draws up to the rounding of the uniform transform; features
// pass through depth layers whose longest reduction is a 3x3 convolution over 512 channels
// (4608 terms), summed in a CPU-dependent order (ResNet50's train-mode features moved by
// 2.8e-4 between scalar and AVX2 kernels); bn1's running mean is one convolution and a mean
// over the batch's 2x112x112 positions.
func TestResNetParity(t *testing.T) {
	dir := refDir(t)
	torch.SetNumThreads(1)
	initTol := tol.DrawULPs * tol.Eps32
	statTol := tol.Layers(tol.Eps32, 2, 2*112*112)
	for _, depth := range []string{"18", "50"} {
		featTol := tol.Layers(tol.Eps32, map[string]int{"18": 18, "50": 50}[depth], 3*3*512)
		t.Run("resnet"+depth, func(t *testing.T) {
			pth := filepath.Join(dir, "resnet"+depth+".pth")
			ref, _, err := torch.LoadPth(filepath.Join(dir, "ref"+depth+".pth"))
			if err != nil {
				t.Fatal(err)
			}
			sd, _, err := torch.LoadPth(pth)
			if err != nil {
				t.Fatal(err)
			}
			for _, arch := range []string{"resnet" + depth, "resnet" + depth + "_frozen_normalize", "resnet" + depth + "_frozen_normalize_double"} {
				torch.ManualSeed(0)
				m, err := New(arch, 128, cpu)
				if err != nil {
					t.Fatal(err)
				}
				// Construction order: fresh weights equal torchvision's (up to the rounding of
				// the uniform transform), head equal to the Linear built after it.
				names, ts := m.State()
				if arch != "resnet"+depth {
					names = names[len(names)-2:] // the trunk's init was checked for the plain arch
					ts = ts[len(ts)-2:]
				}
				for i, n := range names {
					want := sd[n]
					if n == "last_linear.weight" || n == "last_linear.bias" {
						want = ref[n]
					}
					if d := maxRelDiff(t, n, ts[i], want); d > initTol {
						t.Fatalf("%s: init of %s differs from torchvision by %g (relative)", arch, n, d)
					}
				}
				if err := m.LoadPretrained(pth); err != nil {
					t.Fatal(err)
				}
				err = torch.WithScope(func() error {
					x := ref["input"]
					switch arch {
					case "resnet" + depth:
						out := m.Forward(x, false, false)
						if d := maxRelDiff(t, "avg eval", out.AvgFeatures, ref["avg_features_eval"]); d > featTol {
							t.Errorf("%s eval avg features: rel diff %g", arch, d)
						}
						out = m.Forward(x, true, false)
						if d := maxRelDiff(t, "avg train", out.AvgFeatures, ref["avg_features_train"]); d > featTol {
							t.Errorf("%s train-mode avg features: rel diff %g", arch, d)
						}
						n, ts := m.State()
						for i := range n {
							if n[i] == "bn1.running_mean" {
								if d := maxRelDiff(t, "running mean", ts[i], ref["running_mean_bn1_after"]); d > statTol {
									t.Errorf("%s bn1 running mean after train forward: rel diff %g", arch, d)
								}
							}
						}
					case "resnet" + depth + "_frozen_normalize":
						out := m.Forward(x, true, false) // frozen: train mode = eval mode
						if d := maxRelDiff(t, "embeds", out.Embeds, ref["embeds_frozen_normalize"]); d > featTol {
							t.Errorf("%s embeds: rel diff %g", arch, d)
						}
					default:
						out := m.Forward(x, false, false)
						if d := maxRelDiff(t, "double", out.AvgFeatures, ref["avg_features_double_eval"]); d > featTol {
							t.Errorf("%s double-pooled features: rel diff %g", arch, d)
						}
						if d := maxRelDiff(t, "embeds", out.Embeds, ref["embeds_frozen_normalize_double"]); d > featTol {
							t.Errorf("%s embeds: rel diff %g", arch, d)
						}
					}
					return nil
				})
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestLoadPretrainedKeyErrors: missing and unexpected keys are errors naming them.
func TestLoadPretrainedKeyErrors(t *testing.T) {
	torch.SetNumThreads(1)
	torch.ManualSeed(0)
	m, err := New("smallcnn", 8, cpu)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	names, ts := m.State()
	sd := map[string]*torch.Tensor{}
	for i, n := range names {
		if n != "bn2.running_var" {
			sd[n] = ts[i]
		}
	}
	sd["conv9.weight"] = ts[0]
	sd["fc.weight"] = ts[0] // ignored by the filter below
	err = m.LoadState(sd, func(k string) bool { return strings.HasPrefix(k, "fc.") })
	if err == nil || !strings.Contains(err.Error(), "missing keys bn2.running_var") ||
		!strings.Contains(err.Error(), "unexpected keys conv9.weight") || strings.Contains(err.Error(), "fc.weight") {
		t.Fatalf("got %v", err)
	}
}
