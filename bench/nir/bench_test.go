package main

import (
	"fmt"
	"testing"

	"dmlrun/torch"
)

// BenchmarkNIRLoss is the Go half of run.sh as a standard benchmark: one NIR loss
// forward+backward at B=90, C=100, default flow. The number is for comparing against
// PyTorch (nir_torch.py) and against earlier versions of stages/nir.
func BenchmarkNIRLoss(b *testing.B) {
	for _, d := range []int{128, 512} {
		b.Run(fmt.Sprintf("D%d", d), func(b *testing.B) {
			s := torch.NewScope()
			defer s.Close()
			crit, emb, labels, err := setup(d)
			if err != nil {
				b.Fatal(err)
			}
			defer crit.Close()
			step(crit, emb, labels) // warm-up outside the timer
			b.ReportAllocs()
			for b.Loop() {
				step(crit, emb, labels)
			}
		})
	}
}

func TestBenchSetupLossIsFinite(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	crit, emb, labels, err := setup(16)
	if err != nil {
		t.Fatal(err)
	}
	defer crit.Close()
	if v := step(crit, emb, labels); v != v || v <= 0 {
		t.Fatalf("loss %g", v)
	}
}
