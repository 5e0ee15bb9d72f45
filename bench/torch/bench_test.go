package torchbench

import (
	"os"
	"strconv"
	"testing"

	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// setThreads applies DMLRUN_BENCH_THREADS so both sides of the comparison use the same
// intra-op thread count (run.sh sets it for Go and Python).
func setThreads(b *testing.B) {
	if s := os.Getenv("DMLRUN_BENCH_THREADS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("DMLRUN_BENCH_THREADS=%q: %v", s, err)
		}
		torch.SetNumThreads(n)
	}
	b.Logf("libtorch %s, %d threads", torch.Version(), torch.NumThreads())
}

// BenchmarkSmallOp is the fixed cost of one op through cgo + shim + libtorch dispatch
// (add of two 16-element tensors, result closed): the overhead every op pays.
func BenchmarkSmallOp(b *testing.B) {
	setThreads(b)
	x := torch.Ones([]int64{16}, torch.Float32, torch.CPUDevice)
	y := torch.Ones([]int64{16}, torch.Float32, torch.CPUDevice)
	defer x.Close()
	defer y.Close()
	b.ReportAllocs()
	for b.Loop() {
		x.Add(y).Close()
	}
}

// cnn is the small CNN of bench_torch.py: 3 x (conv3x3 + batch norm + relu), max-pool
// after the first two, global average pool, linear to 10 classes.
type cnn struct {
	convW, bnW, bnB, bnMean, bnVar []*torch.Tensor
	fcW, fcB                       *torch.Tensor
}

func newCNN() *cnn {
	m := &cnn{}
	chans := []int64{3, 16, 32, 64}
	for i := 0; i < 3; i++ {
		cin, cout := chans[i], chans[i+1]
		fan := float64(cin * 9)
		m.convW = append(m.convW, torch.Randn([]int64{cout, cin, 3, 3}, torch.Float32, torch.CPUDevice).MulScalar(1/fan).SetRequiresGrad(true))
		m.bnW = append(m.bnW, torch.Ones([]int64{cout}, torch.Float32, torch.CPUDevice).SetRequiresGrad(true))
		m.bnB = append(m.bnB, torch.Zeros([]int64{cout}, torch.Float32, torch.CPUDevice).SetRequiresGrad(true))
		m.bnMean = append(m.bnMean, torch.Zeros([]int64{cout}, torch.Float32, torch.CPUDevice))
		m.bnVar = append(m.bnVar, torch.Ones([]int64{cout}, torch.Float32, torch.CPUDevice))
	}
	m.fcW = torch.Randn([]int64{10, 64}, torch.Float32, torch.CPUDevice).MulScalar(0.125).SetRequiresGrad(true)
	m.fcB = torch.Zeros([]int64{10}, torch.Float32, torch.CPUDevice).SetRequiresGrad(true)
	return m
}

func (m *cnn) params() []*torch.Tensor {
	var ps []*torch.Tensor
	for i := range m.convW {
		ps = append(ps, m.convW[i], m.bnW[i], m.bnB[i])
	}
	return append(ps, m.fcW, m.fcB)
}

func (m *cnn) forward(x *torch.Tensor) *torch.Tensor {
	one, two, zero := [2]int64{1, 1}, [2]int64{2, 2}, [2]int64{0, 0}
	for i := range m.convW {
		x = torch.Conv2d(x, m.convW[i], nil, one, one, one, 1)
		x = torch.BatchNorm(x, m.bnW[i], m.bnB[i], m.bnMean[i], m.bnVar[i], true, 0.1, 1e-5).Relu()
		if i < 2 {
			x = torch.MaxPool2d(x, two, two, zero, false)
		}
	}
	x = torch.AdaptiveAvgPool2d(x, one).Flatten(1, -1)
	return torch.Linear(x, m.fcW, m.fcB)
}

// BenchmarkTrainStep is one training step (zero grad, forward, cross entropy, backward,
// Adam) of the small CNN on a 32 x 3 x 64 x 64 batch: compare with bench_torch.py.
func BenchmarkTrainStep(b *testing.B) {
	setThreads(b)
	outer := torch.NewScope()
	defer outer.Close()
	torch.ManualSeed(0)
	m := newCNN()
	x := torch.Randn([]int64{32, 3, 64, 64}, torch.Float32, torch.CPUDevice)
	y := torch.Randint(0, 10, []int64{32}, torch.CPUDevice)
	opt := optim.NewAdam([]optim.Group{{Name: "all", Params: m.params(), LR: 1e-3}}, 0.9, 0.999, 1e-8)
	defer opt.Close()
	step := func() error {
		opt.ZeroGrad()
		loss := torch.CrossEntropy(m.forward(x), y)
		loss.Backward()
		opt.Step()
		return nil
	}
	for range 3 { // warm-up: allocator, Adam state
		if err := torch.WithScope(step); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := torch.WithScope(step); err != nil {
			b.Fatal(err)
		}
	}
}
