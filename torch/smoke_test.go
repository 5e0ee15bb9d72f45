package torch

import (
	"errors"
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	s := NewScope()
	defer s.Close()
	a, err := FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	b := a.Matmul(a.T())
	v, err := b.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{14, 32, 32, 77}; !equal32(v, want) {
		t.Fatalf("matmul = %v, want %v", v, want)
	}
	if got := b.String(); got != "Tensor[2 2] float32 cpu" {
		t.Fatalf("String() = %q", got)
	}
	t.Logf("version %s threads %d", Version(), NumThreads())
}

func TestMatmulErrorNamesOpAndShapes(t *testing.T) {
	err := WithScope(func() error {
		a := Zeros([]int64{2, 3}, Float32, CPUDevice)
		b := Zeros([]int64{4, 5}, Float32, CPUDevice)
		a.Matmul(b)
		return nil
	})
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("want *Error, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "torch: matmul [2 3] x [4 5]: ") {
		t.Fatalf("error = %q", err)
	}
	t.Log(err)
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
