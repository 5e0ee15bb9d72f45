package load

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

type rngVectors struct {
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
