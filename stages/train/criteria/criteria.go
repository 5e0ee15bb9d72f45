package criteria

import (
	"math"

	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// Batch is what a criterion sees of one training step (the original passes the same as
// keyword arguments, reference §5).
type Batch struct {
	Embeds      *torch.Tensor // model embeddings [B, D] (L2-normalised by the _normalize archs)
	Labels      *torch.Tensor // int64 [B], on Embeds' device
	Features    *torch.Tensor // backbone feature map [B, F, H, W] (s2sd with pool_aggr only)
	AvgFeatures *torch.Tensor // globally pooled features [B, F] (s2sd only)
	Iter        int           // global iteration count, 0 at the first step of the run (s2sd's feature-distillation delay)
}

// Criterion is one training loss with its own parameters.
//
// Loss returns a scalar that belongs to the caller's innermost open scope: float32, except
// float64 for nir (the original's float64 tail, §6.4). It may panic with *torch.Error
// (wrap the step in torch.Catch). Groups lists the criterion's optimiser groups in the
// original's order, all without weight decay (§5); Named lists parameters and buffers
// under stable names for checkpoints (copy values in with CopyFrom to restore).
// Criteria are not safe for concurrent use.
type Criterion interface {
	Loss(b Batch) *torch.Tensor
	Groups(baseLR float64) []optim.Group
	Named() ([]string, []*torch.Tensor)
}

// Termed is a Criterion whose loss is a weighted sum of named terms (nir: ProxyAnchor
// and the flow's NLL term). LossTerms returns the loss Loss would and, in TermNames'
// order, each term as it enters the sum (its weight applied, in the loss's dtype), so
// that the terms add up to the loss; all are scalars in the caller's innermost scope.
// Training logs each term's epoch mean next to the total (train_log.csv's
// loss_<term>, TensorBoard's train/loss/<term>).
type Termed interface {
	Criterion
	TermNames() []string
	LossTerms(b Batch) (loss *torch.Tensor, terms []*torch.Tensor)
}

// Close frees a criterion's parameters (every criterion New returns has a Close method).
func Close(c Criterion) {
	if cl, ok := c.(interface{ Close() }); ok {
		cl.Close()
	}
}

type options struct {
	dev        torch.Device
	featureDim int
	arch       string
}

// Option configures New beyond the loss block's parameters.
type Option func(*options)

// OnDevice places the parameters on dev after drawing them on the CPU generator (the
// original builds the criterion on CPU and moves it, §8.1). Default: CPU.
func OnDevice(dev torch.Device) Option { return func(o *options) { o.dev = dev } }

// FeatureDim is the width F of Batch.AvgFeatures, the input of s2sd's target branches
// (2048 for ResNet50, 512 for ResNet18). Default 2048, the original's value for ResNets.
func FeatureDim(n int) Option { return func(o *options) { o.featureDim = n } }

// Arch is the model's arch string; npair divides the batch by 4 when it contains
// "bninception", as the original does.
func Arch(name string) Option { return func(o *options) { o.arch = name } }

// param is one named parameter tensor.
type param struct {
	name string
	t    *torch.Tensor
}

func named(ps []param) ([]string, []*torch.Tensor) {
	names := make([]string, len(ps))
	ts := make([]*torch.Tensor, len(ps))
	for i, p := range ps {
		names[i], ts[i] = p.name, p.t
	}
	return names, ts
}

func closeParams(ps []param) {
	for _, p := range ps {
		p.t.Close()
	}
}

// place moves a freshly drawn CPU tensor to dev and makes it a trainable leaf.
func place(t *torch.Tensor, dev torch.Device) *torch.Tensor {
	return t.To(dev).SetRequiresGrad(true)
}

// uniformInit draws shape from U(-bound, bound) on the CPU generator bit-identically to
// PyTorch's float32 tensor.uniform_(-bound, bound): it computes x*(to-from)+from from the
// 24-bit draw x with to, from rounded to float32, and rounds once (checked against torch
// 1.13: r*(2*bf) - bf in float64 matches exactly, float32 arithmetic does not).
func uniformInit(shape []int64, bound float64) *torch.Tensor {
	bf := float64(float32(bound))
	r := torch.Rand(shape, torch.Float32, torch.CPUDevice)
	return r.ToDType(torch.Float64).MulScalar(2 * bf).SubScalar(bf).ToDType(torch.Float32)
}

// linearInit is nn.Linear's default reset: weight kaiming_uniform_(a=sqrt(5)), i.e.
// U(±sqrt(3)*gain/sqrt(fan_in)) with the float64 steps PyTorch takes, then bias
// U(±1/sqrt(fan_in)).
func linearInit(in, out int) (w, b *torch.Tensor) {
	a := math.Sqrt(5)
	gain := math.Sqrt(2.0 / (1 + a*a))
	w = uniformInit([]int64{int64(out), int64(in)}, math.Sqrt(3.0)*(gain/math.Sqrt(float64(in))))
	b = uniformInit([]int64{int64(out)}, 1/math.Sqrt(float64(in)))
	return w, b
}

// zeroLike returns a float32 zero that is part of emb's graph, so that backward works when
// a miner found nothing (the original returns a constant there and its backward raises).
func zeroLike(emb *torch.Tensor) *torch.Tensor { return emb.Sum().MulScalar(0) }

// cpuLabels copies the batch labels to Go.
func cpuLabels(labels *torch.Tensor) []int64 {
	v, err := labels.Int64s()
	if err != nil {
		panic(&torch.Error{Op: "criteria: read labels", Msg: err.Error()})
	}
	return v
}

// indexTensor makes an int64 index tensor on dev.
func indexTensor(idx []int64, dev torch.Device) *torch.Tensor {
	t, err := torch.FromInt64(idx, int64(len(idx)))
	if err != nil {
		panic(&torch.Error{Op: "criteria: index tensor", Msg: err.Error()})
	}
	return t.To(dev)
}

// tripletIndex splits mined triplets into anchor, positive and negative index tensors.
func tripletIndex(trip [][3]int, dev torch.Device) (a, p, n *torch.Tensor) {
	ai := make([]int64, len(trip))
	pi := make([]int64, len(trip))
	ni := make([]int64, len(trip))
	for k, t := range trip {
		ai[k], pi[k], ni[k] = int64(t[0]), int64(t[1]), int64(t[2])
	}
	return indexTensor(ai, dev), indexTensor(pi, dev), indexTensor(ni, dev)
}

// classMap draws the C x D class weights of softmax and arcface as the original:
// uniform_(−1/√D, 1/√D) on the CPU generator.
func classMap(D, C int, dev torch.Device) param {
	return param{"class_map", place(uniformInit([]int64{int64(C), int64(D)}, 1/math.Sqrt(float64(D))), dev)}
}

// mine runs the miner on the batch (it reads the embeddings without autograd) and returns
// the triplets with the labels as Go values.
func mine(m miners.Miner, b Batch) (trip [][3]int, labels []int64) {
	labels = cpuLabels(b.Labels)
	return m.Mine(b.Embeds, labels), labels
}

const normEps = 1e-12 // F.normalize's default
