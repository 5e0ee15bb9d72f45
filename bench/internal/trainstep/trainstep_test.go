package trainstep

import (
	"math"
	"testing"

	"dmlrun/torch"
)

// TestStepLearns runs a few steps of smallcnn + oproxy on one fixed batch and checks that
// the loss is finite, no step is skipped and the loss goes down (the optimiser sees the
// model's and the proxies' gradients).
func TestStepLearns(t *testing.T) {
	torch.ManualSeed(0)
	s, err := New(Config{Arch: "smallcnn_normalize", EmbedDim: 16, Classes: 4, Loss: "oproxy", LR: 1e-3, Decay: 4e-4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := torch.Randn([]int64{8, 3, 16, 16}, torch.Float32, torch.CPUDevice).Unscope()
	defer x.Close()
	y, err := torch.FromInt64([]int64{0, 0, 1, 1, 2, 2, 3, 3}, 8)
	if err != nil {
		t.Fatal(err)
	}
	y.Unscope()
	defer y.Close()
	var first, last float64
	for i := 0; i < 15; i++ {
		err := torch.WithScope(func() error {
			l, skipped, tm := s.Run(x, y)
			if math.IsNaN(l) || math.IsInf(l, 0) || skipped {
				t.Fatalf("step %d: loss %v skipped %v", i, l, skipped)
			}
			if tm.Total() <= 0 {
				t.Fatalf("step %d: timing %+v", i, tm)
			}
			if i == 0 {
				first = l
			}
			last = l
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !(last < first) {
		t.Fatalf("loss did not decrease: %v -> %v", first, last)
	}
}

func TestUnknownArch(t *testing.T) {
	if _, err := New(Config{Arch: "nope", EmbedDim: 8, Classes: 2, Loss: "oproxy", LR: 1e-3}); err == nil {
		t.Fatal("want an error for an unknown architecture")
	}
}
