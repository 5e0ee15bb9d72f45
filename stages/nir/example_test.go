package nir_test

import (
	"fmt"

	"dmlrun/stages/nir"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// Example shows how the train stage drives the criterion: build it after seeding, put its
// groups into Adam beside the network group, and per step compute the loss inside a scope.
func Example() {
	torch.ManualSeed(0)
	cfg := nir.DefaultConfig(16, 4) // D = 16, 4 classes
	cfg.Blocks, cfg.Depth, cfg.Width = 2, 3, 32
	crit, err := nir.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer crit.Close()
	for _, w := range cfg.Warnings() { // dead flags the experiment set, if any
		fmt.Println(w)
	}
	opt := optim.NewAdam(crit.Groups(1e-5), 0.9, 0.999, 1e-8) // plus the network group in train

	_ = torch.WithScope(func() error {
		emb := torch.Randn([]int64{8, 16}, torch.Float32, torch.CPUDevice).Normalize(2, -1, 1e-12)
		labels, err := torch.FromInt64([]int64{0, 0, 1, 1, 2, 2, 3, 3}, 8)
		if err != nil {
			return err
		}
		loss, parts := crit.Loss(emb, labels)
		loss.Backward()
		opt.Step()
		fmt.Println(loss.DType(), parts.NLL.Shape(), parts.ProxyAnchor.DType())
		return nil
	})
	// Output: float64 [8] float32
}
