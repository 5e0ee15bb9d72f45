package rng

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// vectors mirrors testdata/vectors.json, written by testdata/gen_vectors.py from CPython's
// random, NumPy's legacy RandomState and faiss.
type vectors struct {
	Genrand []struct {
		Seed    uint32   `json:"seed"`
		Outputs []uint32 `json:"outputs"`
	} `json:"genrand"`
	PyRandom []struct {
		Seed    int64     `json:"seed"`
		N       int       `json:"n"`
		Choices []int     `json:"choices"`
		Random  []float64 `json:"random"`
		Bits32  []uint32  `json:"bits32"`
	} `json:"pyrandom"`
	PyRandBelow2p32 []int `json:"pyrandom_randbelow_2p32_seed9"`
	PySample        []struct {
		Seed    int64 `json:"seed"`
		N, K    int
		Indices []int `json:"indices"`
	} `json:"pyrandom_sample"`
	NumpyChoice []struct {
		Seed    uint32 `json:"seed"`
		N       int    `json:"n"`
		Choices []int  `json:"choices"`
	} `json:"numpy_choice"`
	NumpyChoiceSeed7 [][2]int `json:"numpy_choice_seed7"`
	NumpyChoiceP     struct {
		P     []float32 `json:"p"`
		Draws []int     `json:"draws"`
	} `json:"numpy_choice_p_seed3"`
	NumpySample []float64 `json:"numpy_random_sample_seed12345"`
	NumpyPerm   []struct {
		Seed uint32 `json:"seed"`
		N    int    `json:"n"`
		Perm []int  `json:"perm"`
	} `json:"numpy_permutation"`
	FaissRandInt string `json:"faiss_rand_int"`
	FaissPerm    []struct {
		N       int    `json:"n"`
		Seed    int64  `json:"seed"`
		Variant string `json:"variant"`
		Perm    []int  `json:"perm"`
	} `json:"faiss_rand_perm"`
	FaissFloat []float32 `json:"faiss_rand_float_seed1234"`
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatalf("read reference vectors (regenerate with /usr/bin/python3 rng/testdata/gen_vectors.py): %v", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode testdata/vectors.json: %v", err)
	}
	return &v
}

func TestMT19937MatchesStd(t *testing.T) {
	// C++11 §26.5.5: the 10000th output of a default-constructed std::mt19937 (seed 5489).
	m := NewMT19937(5489)
	var v uint32
	for range 10000 {
		v = m.Uint32()
	}
	if v != 4123659995 {
		t.Fatalf("10000th output %d, want 4123659995", v)
	}
	// numpy RandomState(1235) (same init_genrand) first output.
	if got := NewMT19937(1235).Uint32(); got != 4096379083 {
		t.Fatalf("seed 1235 first output %d, want 4096379083", got)
	}
}

func TestGenrandOutputs(t *testing.T) {
	for _, c := range loadVectors(t).Genrand {
		m := NewMT19937(c.Seed)
		for i, want := range c.Outputs {
			if got := m.Uint32(); got != want {
				t.Fatalf("init_genrand(%d) output %d: got %d want %d", c.Seed, i, got, want)
			}
		}
	}
}

// The vector from reference-method §13: random.seed(0), ten random.choice over 100 items.
func TestPyRandomReferenceVector(t *testing.T) {
	r := NewPyRandom(0)
	var got []int
	for i := 0; i < 10; i++ {
		got = append(got, r.Choice(100))
	}
	if want := []int{49, 97, 53, 5, 33, 65, 62, 51, 38, 61}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestPyRandomVectors(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.PyRandom {
		r := NewPyRandom(c.Seed)
		if c.Choices != nil {
			for i, want := range c.Choices {
				if got := r.Choice(c.N); got != want {
					t.Fatalf("seed %d n %d draw %d: got %d want %d", c.Seed, c.N, i, got, want)
				}
			}
			continue
		}
		for i, want := range c.Random {
			if got := r.Random(); got != want {
				t.Fatalf("seed %d random() %d: got %v want %v", c.Seed, i, got, want)
			}
		}
		for i, want := range c.Bits32 {
			if got := r.GetRandBits(32); got != want {
				t.Fatalf("seed %d getrandbits(32) %d: got %v want %v", c.Seed, i, got, want)
			}
		}
	}
	r := NewPyRandom(9)
	for i, want := range v.PyRandBelow2p32 {
		if got := r.RandBelow(1 << 32); got != want {
			t.Fatalf("seed 9 _randbelow(2**32) draw %d: got %d want %d", i, got, want)
		}
	}
}

func TestPySample(t *testing.T) {
	for _, c := range loadVectors(t).PySample {
		if got := NewPyRandom(c.Seed).Sample(c.N, c.K); !reflect.DeepEqual(got, c.Indices) {
			t.Errorf("random.seed(%d); sample(range(%d), %d):\n got %v\nwant %v", c.Seed, c.N, c.K, got, c.Indices)
		}
	}
}

func TestNumpyVectors(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.NumpyChoice {
		r := NewNumpyRandom(c.Seed)
		for i, want := range c.Choices {
			if got := r.Choice(c.N); got != want {
				t.Fatalf("np seed %d n %d draw %d: got %d want %d", c.Seed, c.N, i, got, want)
			}
		}
	}
	g := NewNumpyRandom(12345)
	for i, want := range v.NumpySample {
		if got := g.RandomSample(); got != want {
			t.Errorf("random_sample #%d = %v, want %v", i, got, want)
		}
	}
	g.Seed(7)
	for _, c := range v.NumpyChoiceSeed7 {
		if got := g.Choice(c[0]); got != c[1] {
			t.Errorf("choice(%d) = %d, want %d", c[0], got, c[1])
		}
	}
	g.Seed(3)
	p := make([]float64, len(v.NumpyChoiceP.P))
	for i, x := range v.NumpyChoiceP.P {
		p[i] = float64(x)
	}
	for i, want := range v.NumpyChoiceP.Draws {
		if got := g.ChoiceP(p); got != want {
			t.Errorf("choice(4, p) draw %d = %d, want %d", i, got, want)
		}
	}
	for _, c := range v.NumpyPerm {
		if got := NewNumpyRandom(c.Seed).Permutation(c.N); !reflect.DeepEqual(got, c.Perm) {
			t.Errorf("np.random.seed(%d); permutation(%d):\n got %v\nwant %v", c.Seed, c.N, got, c.Perm)
		}
	}
}

func TestNumpyChoicePNoMass(t *testing.T) {
	g := NewNumpyRandom(1)
	for _, p := range [][]float64{nil, {0, 0}, {-1, 0.5}} {
		if got := g.ChoiceP(p); got != -1 {
			t.Errorf("ChoiceP(%v) = %d, want -1", p, got)
		}
	}
	// Nothing may have been consumed.
	if got, want := g.Uint32(), NewNumpyRandom(1).Uint32(); got != want {
		t.Errorf("ChoiceP without mass consumed the generator")
	}
}

func TestFaiss(t *testing.T) {
	v := loadVectors(t)
	if v.FaissRandInt != FaissModulo.String() {
		t.Errorf("reference faiss uses %s rand_int; FaissRandInt's zero value assumes modulo", v.FaissRandInt)
	}
	for _, c := range v.FaissPerm {
		variant := FaissModulo
		if c.Variant == "mulshift" {
			variant = FaissMulShift
		}
		if got := FaissRandPerm(c.N, c.Seed, variant); !reflect.DeepEqual(got, c.Perm) {
			t.Errorf("rand_perm(n=%d, seed=%d) %s: got %v want %v", c.N, c.Seed, c.Variant, got, c.Perm)
		}
	}
	g := NewFaissRandom(1234)
	for i, want := range v.FaissFloat {
		if got := g.RandFloat(); got != want {
			t.Fatalf("rand_float #%d = %v, want %v", i, got, want)
		}
	}
}
