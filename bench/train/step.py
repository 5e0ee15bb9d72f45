#!/usr/bin/python3
"""PyTorch side of bench/train: seconds per training step, the same step as dmlrun's.

Usage: /usr/bin/python3 bench/train/step.py --arch resnet18|smallcnn --threads N
        [--size 64] [--batch 90] [--steps 20] [--warmup 3]

One step = zero grads (set to None) + forward (frozen-BN ResNet18 or smallcnn, avg pool,
last_linear 128, L2 normalise) + ProxyAnchor loss (alpha 32, delta 0.1, 100 classes)
+ backward of loss * 2^16 + unscale + finite check + Adam step (network group lr 1e-5
wd 4e-4, proxies lr 0.02), i.e. the original's iteration with its always-on GradScaler
emulated on CPU. Input images are a fixed random batch (no data loading in either side).
Prints one line: "<arch> <seconds per step>".
"""
import argparse
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Net(nn.Module):
    def __init__(self, arch, dim=128):
        super().__init__()
        if arch == "resnet18":
            r = torchvision.models.resnet18(weights=None)
            self.trunk = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4)
            feat = 512
        else:
            layers, cin = [], 3
            for i, cout in enumerate([16, 32, 64, 128]):
                layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
                if i < 3:
                    layers.append(nn.MaxPool2d(2))
                cin = cout
            self.trunk = nn.Sequential(*layers)
            feat = 128
        self.frozen = arch == "resnet18"
        self.last_linear = nn.Linear(feat, dim)

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:  # frozen BN: eval mode always (reference §4.2)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x):
        y = F.adaptive_avg_pool2d(self.trunk(x), 1).flatten(1)
        return F.normalize(self.last_linear(y), dim=-1)


def proxy_anchor(x, labels, proxies, alpha=32.0, delta=0.1):
    p = F.normalize(proxies, dim=-1)
    sim = x @ p.t()  # B x C
    C = p.shape[0]
    pos = F.one_hot(labels, C).bool()
    present = pos.any(0)
    pos_exp = torch.where(pos, torch.exp(-alpha * (sim - delta)), torch.zeros_like(sim)).sum(0)
    neg_exp = torch.where(~pos, torch.exp(alpha * (sim + delta)), torch.zeros_like(sim)).sum(0)
    pos_term = torch.log1p(pos_exp[present]).sum() / present.sum()
    neg_term = torch.log1p(neg_exp).sum() / C
    return pos_term + neg_term


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=90)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none",
                    help="bf16: forward and loss under torch.autocast('cpu', torch.bfloat16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = Net(a.arch).train()
    C = 100
    proxies = nn.Parameter(torch.randn(C, 128) / 8)
    opt = torch.optim.Adam([{"params": net.parameters(), "lr": 1e-5, "weight_decay": 4e-4},
                            {"params": [proxies], "lr": 0.02, "weight_decay": 0}])
    x = torch.randn(a.batch, 3, a.size, a.size)
    labels = torch.arange(a.batch // 2).repeat_interleave(2) % C
    scale = 65536.0
    params = list(net.parameters()) + [proxies]

    times = [0.0, 0.0, 0.0]

    def step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            loss = proxy_anchor(net(x), labels, proxies)
        loss.item()
        t1 = time.perf_counter()
        (loss * scale).backward()
        t2 = time.perf_counter()
        finite = True
        for p in params:
            if p.grad is not None:
                p.grad.mul_(1.0 / scale)
                finite = finite and bool(torch.isfinite(p.grad).all())
        if finite:
            opt.step()
        times[0] += t1 - t0
        times[1] += t2 - t1
        times[2] += time.perf_counter() - t2
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    el = (time.perf_counter() - t0) / a.steps
    n = a.steps + a.warmup
    print("%s: forward+loss %.3fs backward %.3fs unscale+adam %.3fs per step (all steps)"
          % (a.arch, times[0] / n, times[1] / n, times[2] / n), file=sys.stderr)
    print("%s %.4f" % (a.arch, el))


if __name__ == "__main__":
    main()
