package miners

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"

	"dmlrun/torch"
)

type refMiner struct {
	NPSeed uint32     `json:"np_seed"`
	PySeed int64      `json:"py_seed"`
	Calls  [][][3]int `json:"calls"`
}

type refCase struct {
	B, D   int
	Labels []int64              `json:"labels"`
	Emb    []float32            `json:"emb"`
	Miners map[string]*refMiner `json:"miners"`
}

type reference struct {
	Cases []refCase `json:"cases"`
}

func loadRef(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatalf("read reference (regenerate with /usr/bin/python3 testdata/gen_reference.py): %v", err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode reference.json: %v", err)
	}
	return &r
}

func embTensor(t *testing.T, c refCase) *torch.Tensor {
	t.Helper()
	e, err := torch.FromFloat32(c.Emb, int64(c.B), int64(c.D))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestParityWithReference replays the reference script's seeds: two consecutive Mine calls
// per miner must return exactly the original's triplets.
func TestParityWithReference(t *testing.T) {
	r := loadRef(t)
	for ci, c := range r.Cases {
		emb := embTensor(t, c)
		for name, rm := range c.Miners {
			t.Run(name+"/"+string(rune('0'+ci)), func(t *testing.T) {
				np := NewNumpyRandom(rm.NPSeed)
				m, err := New(name, nil, np, WithPython(NewPythonRandom(rm.PySeed)))
				if err != nil {
					t.Fatal(err)
				}
				for k, want := range rm.Calls {
					got := m.Mine(emb, c.Labels)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("call %d:\n got %v\nwant %v", k, got, want)
					}
					checkValid(t, name, got, c.Labels)
				}
			})
		}
		emb.Close()
	}
}

func checkValid(t *testing.T, name string, trip [][3]int, labels []int64) {
	t.Helper()
	for _, tr := range trip {
		a, p, n := tr[0], tr[1], tr[2]
		if labels[a] != labels[p] {
			t.Errorf("%s: triplet %v: positive has another class", name, tr)
		}
		if name == "rho_distance" && a == p {
			if labels[n] != labels[a] || n == a {
				t.Errorf("%s: push triplet %v must have a same-class third element other than the anchor", name, tr)
			}
			continue
		}
		if a == p && name != "distance" {
			t.Errorf("%s: triplet %v: positive equals anchor", name, tr)
		}
		if labels[n] == labels[a] {
			t.Errorf("%s: triplet %v: negative has the anchor's class", name, tr)
		}
	}
}

// TestDistanceDistribution draws the negative of one anchor many times on a tiny batch and
// compares the frequencies with q_j computed analytically in float64 from the formula.
func TestDistanceDistribution(t *testing.T) {
	const D = 4
	// anchor 0 and 1 share a class; 2..5 are negatives at chosen angles from anchor 0.
	angles := []float64{0, 0.3, 0.6, 1.2, 1.9, 2.8}
	labels := []int64{0, 0, 1, 2, 3, 4}
	emb := make([]float32, 0, len(angles)*D)
	for _, a := range angles {
		emb = append(emb, float32(math.Cos(a)), float32(math.Sin(a)), 0, 0)
	}
	x, err := torch.FromFloat32(emb, int64(len(angles)), D)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := make([]float64, len(angles))
	sum := 0.0
	for j := 2; j < len(angles); j++ {
		d := math.Max(2*math.Sin(angles[j]/2), 0.5)
		w := math.Exp((2-D)*math.Log(d) - (D-3)/2.0*math.Log(1-d*d/4))
		want[j] = w
		sum += w
	}
	for j := range want {
		want[j] /= sum
	}
	m, _ := New("distance", nil, NewNumpyRandom(1))
	count := make([]float64, len(angles))
	const rounds = 4000
	for r := 0; r < rounds; r++ {
		tr := m.Mine(x, labels)
		count[tr[0][2]]++
	}
	for j := range count {
		f := count[j] / rounds
		sd := math.Sqrt(want[j]*(1-want[j])/rounds) + 1e-9
		if math.Abs(f-want[j]) > 5*sd {
			t.Errorf("negative %d: frequency %.4f, analytic q %.4f (5 sd = %.4f)", j, f, want[j], 5*sd)
		}
	}
	if count[0]+count[1] != 0 {
		t.Errorf("same-class samples drawn as negatives: %v", count[:2])
	}
}

// TestSemihardWindow checks the chosen negative lies in (d_ap, d_ap+margin) whenever such a
// negative exists, and that mining is deterministic for a seed.
func TestSemihardWindow(t *testing.T) {
	r := loadRef(t)
	c := r.Cases[2]
	emb := embTensor(t, c)
	defer emb.Close()
	var dist [][]float32
	torch.NoGrad(func() { dist = rows(pdist(emb, 0)) })
	for _, margin := range []float64{0.05, 0.2, 0.5} {
		m1 := &Semihard{Margin: margin, rng: NewNumpyRandom(9)}
		m2 := &Semihard{Margin: margin, rng: NewNumpyRandom(9)}
		got := m1.Mine(emb, c.Labels)
		if again := m2.Mine(emb, c.Labels); !reflect.DeepEqual(got, again) {
			t.Fatalf("margin %g: not deterministic under a seed", margin)
		}
		checkValid(t, "semihard", got, c.Labels)
		for _, tr := range got {
			d := dist[tr[0]]
			lo, hi := d[tr[1]], float32(margin+float64(d[tr[1]]))
			exists := false
			for j, l := range c.Labels {
				if l != c.Labels[tr[0]] && d[j] > lo && d[j] < hi {
					exists = true
				}
			}
			in := d[tr[2]] > lo && d[tr[2]] < hi
			if exists && !in {
				t.Errorf("margin %g: triplet %v: negative at %v outside window (%v, %v) although one exists", margin, tr, d[tr[2]], lo, hi)
			}
		}
	}
}

func TestNPairStructure(t *testing.T) {
	labels := []int64{5, 5, 2, 2, 2, 9, 7, 7}
	x := torch.Randn([]int64{8, 4}, torch.Float32, torch.CPUDevice)
	defer x.Close()
	m, _ := New("npair", nil, NewNumpyRandom(0))
	got := m.Mine(x, labels)
	// classes with pairs: 2, 5, 7 -> 3 pairs, each with 2 negatives
	if len(got) != 6 {
		t.Fatalf("got %d triplets, want 6: %v", len(got), got)
	}
	anchorsOf := map[int64]int{}
	for k, tr := range got {
		if labels[tr[0]] != labels[tr[1]] || tr[0] == tr[1] || labels[tr[2]] == labels[tr[0]] {
			t.Errorf("invalid npair triplet %v", tr)
		}
		anchorsOf[labels[tr[0]]]++
		// the negative is another pair's positive
		found := false
		for _, o := range got {
			if o[1] == tr[2] && labels[o[0]] != labels[tr[0]] {
				found = true
			}
		}
		if !found {
			t.Errorf("triplet %d %v: negative is not another pair's positive", k, tr)
		}
	}
	if !reflect.DeepEqual(anchorsOf, map[int64]int{2: 2, 5: 2, 7: 2}) {
		t.Errorf("pairs per class = %v", anchorsOf)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("hardest", nil, NewNumpyRandom(0)); err == nil {
		t.Error("unknown miner accepted")
	}
	if _, err := New("random", nil, NewNumpyRandom(0)); err == nil {
		t.Error("random miner without a Python source accepted")
	}
	if _, err := New("distance", nil, nil); err == nil {
		t.Error("nil NumPy generator accepted")
	}
	if _, err := New("rho_distance", map[string]any{"cp": 1.5}, NewNumpyRandom(0)); err == nil {
		t.Error("cp > 1 accepted")
	}
}

// TestNoLeak checks that mining frees every tensor it makes.
func TestNoLeak(t *testing.T) {
	r := loadRef(t)
	c := r.Cases[1]
	emb := embTensor(t, c)
	defer emb.Close()
	census := torch.StartCensus()
	defer census.Stop()
	for _, name := range Names() {
		m, err := New(name, nil, NewNumpyRandom(4), WithPython(NewPythonRandom(4)))
		if err != nil {
			t.Fatal(err)
		}
		m.Mine(emb, c.Labels)
	}
	if n := census.Live(); n != 0 {
		t.Errorf("%d tensors made by the miners are still open", n)
	}
}
