package load

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

type rngVectors struct {
	PyRandom []struct {
		Seed    int64     `json:"seed"`
		N       int       `json:"n"`
		Choices []int     `json:"choices"`
		Random  []float64 `json:"random"`
		Bits32  []uint32  `json:"bits32"`
	} `json:"pyrandom"`
	NumpyChoice []struct {
		Seed    uint32 `json:"seed"`
		N       int    `json:"n"`
		Choices []int  `json:"choices"`
	} `json:"numpy_choice"`
	RandomSampler []struct {
		Seed    int64   `json:"seed"`
		Sizes   []int   `json:"sizes"`
		BS      int     `json:"bs"`
		Batches [][]int `json:"batches"`
	} `json:"random_sampler"`
	ClassRandom []struct {
		Seed    int64   `json:"seed"`
		NEpochs int64   `json:"n_epochs"`
		Epoch   int64   `json:"epoch"`
		Sizes   []int   `json:"sizes"`
		BS      int     `json:"bs"`
		SPC     int     `json:"spc"`
		Batches [][]int `json:"batches"`
	} `json:"class_random"`
}

func loadRNGVectors(t *testing.T) rngVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/rng_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v rngVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
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
	v := loadRNGVectors(t)
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
}

func TestNumpyChoiceVectors(t *testing.T) {
	v := loadRNGVectors(t)
	for _, c := range v.NumpyChoice {
		r := NewNumpyRandom(c.Seed)
		for i, want := range c.Choices {
			if got := r.Choice(c.N); got != want {
				t.Fatalf("np seed %d n %d draw %d: got %d want %d", c.Seed, c.N, i, got, want)
			}
		}
	}
}

func fakeClasses(sizes []int) map[int64][]int {
	m := map[int64][]int{}
	k := 0
	for c, s := range sizes {
		for i := 0; i < s; i++ {
			m[int64(c)] = append(m[int64(c)], k)
			k++
		}
	}
	return m
}

func TestSamplersMatchOriginal(t *testing.T) {
	v := loadRNGVectors(t)
	for _, c := range v.RandomSampler {
		py, np := NewPyRandom(c.Seed), NewNumpyRandom(uint32(c.Seed))
		s, err := NewRandomSampler(fakeClasses(c.Sizes), c.BS, py, np)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range c.Batches {
			if got := s.Next(); !reflect.DeepEqual(got, want) {
				t.Fatalf("random seed %d batch %d: got %v want %v", c.Seed, i, got, want)
			}
		}
	}
	for _, c := range v.ClassRandom {
		py := NewPyRandom(0)
		s, err := NewClassRandomSampler(fakeClasses(c.Sizes), c.BS, c.SPC, py)
		if err != nil {
			t.Fatal(err)
		}
		py.Seed(EpochSeed(c.Seed, c.NEpochs, c.Epoch))
		if got := s.Epoch(); !reflect.DeepEqual(got, c.Batches) {
			t.Fatalf("class_random seed %d epoch %d: got %v want %v", c.Seed, c.Epoch, got, c.Batches)
		}
	}
}

// TestClassRandomStructure checks the batch shape on a larger set: bs/spc groups of spc
// indices, each group from a single class, len = floor(n/bs).
func TestClassRandomStructure(t *testing.T) {
	sizes := make([]int, 50)
	for i := range sizes {
		sizes[i] = 3 + i%7
	}
	byClass := fakeClasses(sizes)
	labelOf := map[int]int64{}
	n := 0
	for c, l := range byClass {
		for _, i := range l {
			labelOf[i] = c
		}
		n += len(l)
	}
	s, err := NewClassRandomSampler(byClass, 12, 4, NewPyRandom(5))
	if err != nil {
		t.Fatal(err)
	}
	ep := s.Epoch()
	if len(ep) != n/12 {
		t.Fatalf("%d batches, want %d", len(ep), n/12)
	}
	for _, b := range ep {
		if len(b) != 12 {
			t.Fatalf("batch of %d", len(b))
		}
		for g := 0; g < 12; g += 4 {
			for k := 1; k < 4; k++ {
				if labelOf[b[g+k]] != labelOf[b[g]] {
					t.Fatalf("group %v mixes classes", b[g:g+4])
				}
			}
		}
	}
	if _, err := NewClassRandomSampler(byClass, 10, 4, NewPyRandom(0)); err == nil {
		t.Fatal("spc not dividing bs accepted")
	}
	if _, err := NewClassRandomSampler(map[int64][]int{0: {}}, 2, 1, NewPyRandom(0)); err == nil {
		t.Fatal("empty class accepted")
	}
}
