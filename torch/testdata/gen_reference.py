#!/usr/bin/python3
"""Reference values for dmlrun/torch tests, computed by PyTorch itself.

Run with Debian's Python (which has torch):  /usr/bin/python3 torch/testdata/gen_reference.py
It writes torch/testdata/reference.json (ops, gradients, Adam/MultiStepLR trajectory).
The Go tests read only that JSON; they never run Python.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_num_threads(1)

DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype],
            "data": [float(v) for v in t.reshape(-1).double().tolist()]}


x = torch.randn(3, 4)
y = torch.randn(3, 4)
row = torch.randn(4)
pos = torch.rand(3, 4) + 0.1
unit = torch.rand(3, 4) * 1.8 - 0.9
m45 = torch.randn(4, 5)
b234 = torch.randn(2, 3, 4)
b245 = torch.randn(2, 4, 5)
idx = torch.tensor([2, 0, 2], dtype=torch.int64)
gidx = torch.randint(0, 4, (3, 4))
mask = x > 0.3
img = torch.randn(2, 3, 7, 7)
convw = torch.randn(4, 3, 3, 3)
convb = torch.randn(4)
bnw = torch.rand(3) + 0.5
bnb = torch.randn(3)
linw = torch.randn(5, 4)
linb = torch.randn(5)
logits = torch.randn(6, 5)
target = torch.tensor([0, 4, 2, 2, 1, 3], dtype=torch.int64)
small_img = torch.rand(1, 2, 9, 11)

cases = []


def case(name, inputs, fn):
    out = fn(*inputs)
    cases.append({"name": name, "inputs": [enc(t) for t in inputs], "output": enc(out)})


for n, f in [("exp", torch.exp), ("neg", torch.neg), ("abs", torch.abs), ("atan", torch.atan),
             ("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("relu", torch.relu),
             ("softplus", F.softplus), ("cos", torch.cos), ("sin", torch.sin), ("square", torch.square)]:
    case(n, [x * 3], f)
for n, f in [("log", torch.log), ("log1p", torch.log1p), ("sqrt", torch.sqrt)]:
    case(n, [pos], f)
case("acos", [unit], torch.acos)

for n, f in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]:
    case(n, [x, y], f)
    case(n + "_broadcast", [x, row], f)
case("pow", [pos, y], torch.pow)
case("matmul", [x, m45], torch.matmul)
case("matmul_batched", [b234, m45], torch.matmul)
case("mm", [x, m45], torch.mm)
case("bmm", [b234, b245], torch.bmm)

case("add_scalar", [x], lambda a: a + 1.5)
case("sub_scalar", [x], lambda a: a - 1.5)
case("mul_scalar", [x], lambda a: a * 2.5)
case("div_scalar", [x], lambda a: a / 4)
case("pow_scalar", [pos], lambda a: a ** 3)
case("rsub_scalar", [x], lambda a: 2 - a)
case("clamp", [x], lambda a: a.clamp(-0.5, 0.5))
case("clamp_min", [x], lambda a: a.clamp_min(0.2))
case("clamp_max", [x], lambda a: a.clamp_max(0.2))

case("sum", [x], torch.sum)
case("mean", [x], torch.mean)
case("sum_dim", [b234], lambda a: a.sum(dim=[1], keepdim=True))
case("mean_dim", [b234], lambda a: a.mean(dim=[0, 2]))
case("max", [x], torch.max)
case("min", [x], torch.min)
case("max_dim_values", [x], lambda a: a.max(dim=1).values)
case("max_dim_indices", [x], lambda a: a.max(dim=1).indices)
case("min_dim_values", [x], lambda a: a.min(dim=0, keepdim=True).values)
case("argmax", [x], lambda a: a.argmax(dim=0))
case("logsumexp", [x], lambda a: a.logsumexp(dim=1))
case("softmax", [x], lambda a: a.softmax(dim=1))
case("log_softmax", [x], lambda a: a.log_softmax(dim=0))
case("norm", [x], lambda a: a.norm(p=2, dim=1))
case("normalize", [x], lambda a: F.normalize(a, p=2, dim=1, eps=1e-12))
case("topk_values", [x], lambda a: a.topk(2, dim=1).values)
case("topk_indices", [x], lambda a: a.topk(2, dim=1, largest=False).indices)
case("sort_values", [x], lambda a: a.sort(dim=1, descending=True).values)
case("sort_indices", [x], lambda a: a.sort(dim=1).indices)

case("eq", [x, x.clone().masked_fill(mask, 0)], torch.eq)
case("gt", [x, y], torch.gt)
case("le_scalar", [x], lambda a: a <= 0.1)
case("logical_and", [x > 0, y > 0], torch.logical_and)
case("logical_not", [x > 0], torch.logical_not)

case("reshape", [x], lambda a: a.reshape(2, 6))
case("permute", [b234], lambda a: a.permute(2, 0, 1))
case("transpose", [b234], lambda a: a.transpose(0, 2))
case("t", [x], lambda a: a.t())
case("narrow", [x], lambda a: a.narrow(1, 1, 2))
case("select", [b234], lambda a: a.select(1, 2))
case("index_select", [x, idx], lambda a, i: a.index_select(0, i))
case("index", [x, idx], lambda a, i: a[i])
case("index_mask", [x, mask], lambda a, m: a[m])
case("gather", [x, gidx], lambda a, i: a.gather(1, i))
case("scatter", [x, gidx, y], lambda a, i, s: a.scatter(1, i[:, :1], s[:, :1]))
case("scatter_add", [x, gidx, y], lambda a, i, s: a.scatter_add(1, i, s))
case("masked_fill", [x, mask], lambda a, m: a.masked_fill(m, -7.0))
case("expand", [row], lambda a: a.expand(3, 4))
case("unsqueeze", [x], lambda a: a.unsqueeze(1))
case("squeeze", [x.unsqueeze(1)], lambda a: a.squeeze(1))
case("flatten", [b234], lambda a: a.flatten(1, 2))
case("cat", [x, y], lambda a, b: torch.cat([a, b], 1))
case("stack", [x, y], lambda a, b: torch.stack([a, b], 0))
case("where", [mask, x, y], torch.where)

case("linear", [x, linw, linb], F.linear)
case("linear_nobias", [x, linw], F.linear)
case("conv2d", [img, convw, convb], lambda a, w, b: F.conv2d(a, w, b, stride=2, padding=1))
case("conv2d_dilated", [img, convw], lambda a, w: F.conv2d(a, w, None, stride=1, padding=2, dilation=2))
case("batch_norm_eval", [img, bnw, bnb], lambda a, w, b: F.batch_norm(a, torch.full((3,), 0.1), torch.full((3,), 2.0), w, b, False, 0.1, 1e-5))
rm, rv = torch.zeros(3), torch.ones(3)
out = F.batch_norm(img, rm, rv, bnw, bnb, True, 0.1, 1e-5)
cases.append({"name": "batch_norm_train", "inputs": [enc(img), enc(bnw), enc(bnb)], "output": enc(out),
              "extra": [enc(rm), enc(rv)]})
case("max_pool2d", [img], lambda a: F.max_pool2d(a, 3, 2, 1))
case("max_pool2d_ceil", [img], lambda a: F.max_pool2d(a, 2, 2, 0, ceil_mode=True))
case("avg_pool2d", [img], lambda a: F.avg_pool2d(a, 3, 2, 1))
case("adaptive_avg_pool2d", [img], lambda a: F.adaptive_avg_pool2d(a, (2, 3)))
case("adaptive_max_pool2d", [img], lambda a: F.adaptive_max_pool2d(a, (1, 1)))
case("cross_entropy", [logits, target], F.cross_entropy)
case("interpolate", [small_img], lambda a: F.interpolate(a, size=(5, 6), mode="bilinear", align_corners=False))
case("interpolate_align", [small_img], lambda a: F.interpolate(a, size=(13, 4), mode="bilinear", align_corners=True))
case("interpolate_antialias", [small_img], lambda a: F.interpolate(a, size=(4, 5), mode="bilinear", align_corners=False, antialias=True))

# Gradients of a composite through autograd: conv -> relu -> pool -> linear -> CE.
gw = convw.clone().requires_grad_()
gl = torch.randn(5, 4 * 2 * 2).requires_grad_()
gx = img.clone().requires_grad_()
h = F.adaptive_avg_pool2d(F.relu(F.conv2d(gx, gw, None, stride=2, padding=1)), (2, 2)).flatten(1)
loss = F.cross_entropy(F.linear(h, gl), torch.tensor([1, 3]))
loss.backward()
grads = {"inputs": [enc(img), enc(convw), enc(gl.detach())], "loss": float(loss),
         "grads": [enc(gx.grad), enc(gw.grad), enc(gl.grad)]}

# Adam with two groups (coupled L2 on one), a parameter that never gets a gradient,
# and MultiStepLR; 50 steps on a fixed least-squares problem.
X = torch.randn(16, 6)
Y = torch.randn(16, 3)
W0 = torch.randn(3, 6) * 0.5
B0 = torch.randn(3) * 0.1
U0 = torch.randn(2)


def run_adam(dtype):
    """The problem above, from the same starting values, in dtype."""
    x, y = X.to(dtype), Y.to(dtype)
    W, B, U = (v.to(dtype).clone().requires_grad_() for v in (W0, B0, U0))
    opt = torch.optim.Adam([{"params": [W, U], "lr": 0.01, "weight_decay": 0.1},
                            {"params": [B], "lr": 0.05, "weight_decay": 0.0}], betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[20, 35, 35], gamma=0.5)
    traj = []
    for step in range(50):
        opt.zero_grad(set_to_none=True)
        loss = ((x @ W.t() + B - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 10 == 0:
            traj.append({"step": step + 1, "loss": float(loss), "W": enc(W), "B": enc(B),
                         "lr": [g["lr"] for g in opt.param_groups]})
    st = opt.state_dict()["state"]
    return {"X": enc(X), "Y": enc(Y), "W0": enc(W0), "B0": enc(B0), "U0": enc(U0), "trajectory": traj,
            "final": {"W_exp_avg": enc(st[0]["exp_avg"]), "W_exp_avg_sq": enc(st[0]["exp_avg_sq"]),
                      "W_step": float(st[0]["step"]), "U_has_state": 1 in st}}


# float32 is what training uses; float64 makes the comparison independent of the CPU's
# vector width and summation order (see adam_test.go).
adam = run_adam(torch.float32)
adam64 = run_adam(torch.float64)

out = {"torch_version": torch.__version__, "cases": cases, "grads": grads, "adam": adam, "adam64": adam64}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=0)
print("wrote", path, len(cases), "cases")
