package nir

import (
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"testing"
)

type permFile struct {
	Permutations    map[string]map[string][]int `json:"permutations"`
	NumpyTestVector map[string][]int            `json:"numpy_test_vector"`
}

func loadPermFile(t *testing.T) permFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/nir-flow-permutations.json")
	if err != nil {
		t.Fatalf("read permutation file: %v", err)
	}
	var pf permFile
	if err := json.Unmarshal(raw, &pf); err != nil {
		t.Fatalf("decode testdata/nir-flow-permutations.json: %v", err)
	}
	return pf
}

func TestNumpyPermutationSmallVector(t *testing.T) {
	pf := loadPermFile(t)
	want := pf.NumpyTestVector["seed0_perm10"]
	if len(want) != 10 {
		t.Fatalf("test vector seed0_perm10 missing from the JSON file")
	}
	if got := NumpyPermutation(0, 10); !reflect.DeepEqual(got, want) {
		t.Fatalf("np.random.seed(0); permutation(10): got %v want %v", got, want)
	}
	// The value written in reference-method.md §6.2, independent of the JSON file.
	if got := NumpyPermutation(0, 10); !reflect.DeepEqual(got, []int{2, 8, 4, 9, 1, 6, 7, 3, 0, 5}) {
		t.Fatalf("got %v", got)
	}
}

func TestFlowPermutationsMatchNumpy(t *testing.T) {
	pf := loadPermFile(t)
	n := 0
	for dStr, bySeed := range pf.Permutations {
		d, err := strconv.Atoi(dStr)
		if err != nil {
			t.Fatalf("dimension key %q: %v", dStr, err)
		}
		for seedStr, want := range bySeed {
			seed, err := strconv.Atoi(seedStr)
			if err != nil {
				t.Fatalf("seed key %q: %v", seedStr, err)
			}
			t.Run("D"+dStr+"/seed"+seedStr, func(t *testing.T) {
				got := FlowPermutation(seed, d)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("D=%d seed=%d: first mismatch at %d", d, seed, firstDiff(got, want))
				}
			})
			n++
		}
	}
	if n != 40 {
		t.Fatalf("expected 40 permutations (4 dims x 10 seeds) in the JSON file, found %d", n)
	}
}

func TestInvertPermutation(t *testing.T) {
	p := FlowPermutation(3, 64)
	inv := invertPermutation(p)
	for i := range p {
		if inv[p[i]] != i || p[inv[i]] != i {
			t.Fatalf("inverse wrong at %d", i)
		}
	}
}

func firstDiff(a, b []int) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}
