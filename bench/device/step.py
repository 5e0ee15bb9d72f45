#!/usr/bin/env python3
"""PyTorch eager side of the device check's step benchmark (scripts/device-check.sh).

Usage: python3 bench/device/step.py [--device cuda:0] [--arch resnet50|resnet18]
        [--precision fp32|bf16|f16] [--batch 90] [--size 224] [--steps 50] [--warmup 10]

The same step as bench/device/step (dmlrun, bench/device/devstep), modelled on
bench/train/step.py: zero grads (set to None) + forward (torchvision-layout ResNet with
frozen BN, i.e. every BatchNorm in eval mode, avg pool, last_linear 128, L2 normalise) +
ProxyAnchor loss (alpha 32, delta 0.1, 100 proxies), forward and loss under
torch.autocast when --precision is bf16 or f16 + backward of the scaled loss + unscale,
finite check and Adam (network lr 1e-5 wd 4e-4, proxies lr 0.02) + scale update. On CUDA
the scaler is torch's own GradScaler (init scale 2^16, what the original trains with); on
the CPU, which has no GradScaler in torch 1.13, it is emulated as bench/train/step.py does.
Adam is torch.optim.Adam with its defaults (on CUDA that is the foreach implementation).
Input images are one fixed random batch made on the device; nothing is loaded.

The ResNet is written out here (torchvision's Bottleneck / BasicBlock, stride on the 3x3)
so that the script needs torch only: the GPU machine's venv may have no torchvision.

Prints one JSON object: the fields of bench/device/step's output plus, on CUDA,
torch.cuda.max_memory_allocated / max_memory_reserved (MiB) and the backend settings that
change speed (TF32 for cuDNN and cuBLAS, cudnn.benchmark).
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, down=None):
        super().__init__()
        w = planes
        self.conv1 = nn.Conv2d(inplanes, w, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.conv3 = nn.Conv2d(w, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = down

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + idt)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, down=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = down

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + idt)


class Net(nn.Module):
    def __init__(self, arch, dim=128):
        super().__init__()
        block, layers = {"resnet50": (Bottleneck, [3, 4, 6, 3]), "resnet18": (BasicBlock, [2, 2, 2, 2])}[arch]
        mods = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        inplanes = 64
        for i, (planes, n) in enumerate(zip([64, 128, 256, 512], layers)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                down = None
                if stride != 1 or inplanes != planes * block.expansion:
                    down = nn.Sequential(nn.Conv2d(inplanes, planes * block.expansion, 1, stride, bias=False),
                                         nn.BatchNorm2d(planes * block.expansion))
                mods.append(block(inplanes, planes, stride, down))
                inplanes = planes * block.expansion
        self.trunk = nn.Sequential(*mods)
        self.last_linear = nn.Linear(inplanes, dim)

    def train(self, mode=True):
        super().train(mode)
        for m in self.modules():  # frozen BN: eval mode always (reference §4.2)
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, x):
        y = F.adaptive_avg_pool2d(self.trunk(x), 1).flatten(1)
        return F.normalize(self.last_linear(y), dim=-1)


def proxy_anchor(x, labels, proxies, alpha=32.0, delta=0.1):
    p = F.normalize(proxies, dim=-1)
    sim = x @ p.t().to(x.dtype)  # B x C
    C = p.shape[0]
    pos = F.one_hot(labels, C).bool()
    present = pos.any(0)
    zero = torch.zeros_like(sim)
    pos_exp = torch.where(pos, torch.exp(-alpha * (sim - delta)), zero).sum(0)
    neg_exp = torch.where(~pos, torch.exp(alpha * (sim + delta)), zero).sum(0)
    pos_term = torch.log1p(pos_exp[present]).sum() / present.sum()
    neg_term = torch.log1p(neg_exp).sum() / C
    return pos_term + neg_term


def make_scaler(cuda):
    if not cuda:
        return None
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        try:
            return torch.amp.GradScaler("cuda", init_scale=65536.0)
        except TypeError:
            pass
    return torch.cuda.amp.GradScaler(init_scale=65536.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--arch", default="resnet50", choices=["resnet50", "resnet18"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "f16"])
    ap.add_argument("--batch", type=int, default=90)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    torch.manual_seed(0)
    net = Net(a.arch).to(dev).train()
    C = 100
    proxies = nn.Parameter((torch.randn(C, 128) / 8).to(dev))
    opt = torch.optim.Adam([{"params": net.parameters(), "lr": 1e-5, "weight_decay": 4e-4},
                            {"params": [proxies], "lr": 0.02, "weight_decay": 0}])
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    labels = (torch.arange(a.batch // 2).repeat_interleave(2) % C).to(dev)
    ac_dtype = {"fp32": None, "bf16": torch.bfloat16, "f16": torch.float16}[a.precision]
    scaler = make_scaler(cuda)
    params = list(net.parameters()) + [proxies]
    emul_scale = 65536.0
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    split = [0.0, 0.0, 0.0]
    state = {"skipped": 0, "first": None, "last": None}

    def forward_loss():
        return proxy_anchor(net(x), labels, proxies)

    def step(timed):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if ac_dtype is None:
            loss = forward_loss()
        else:
            with torch.autocast(device_type=dev.type, dtype=ac_dtype):
                loss = forward_loss()
        lv = loss.item()
        t1 = time.perf_counter()
        if scaler is not None:
            scaler.scale(loss).backward()
            t2 = time.perf_counter()
            before = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if scaler.get_scale() < before:
                state["skipped"] += 1
        else:
            (loss.float() * emul_scale).backward()
            t2 = time.perf_counter()
            finite = True
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(1.0 / emul_scale)
                    finite = finite and bool(torch.isfinite(p.grad).all())
            if finite:
                opt.step()
            else:
                state["skipped"] += 1
        if timed:
            split[0] += t1 - t0
            split[1] += t2 - t1
            split[2] += time.perf_counter() - t2
        if state["first"] is None:
            state["first"] = lv
        state["last"] = lv

    for _ in range(a.warmup):
        step(False)
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step(True)
    sync()
    el = time.perf_counter() - t0
    n = a.steps
    out = {
        "side": "pytorch", "arch": a.arch + "_frozen_normalize", "device": str(dev), "precision": a.precision,
        "batch": a.batch, "size": a.size, "warmup": a.warmup, "steps": a.steps,
        "s_per_step": el / n, "img_per_s": a.batch * n / el,
        "split_s_per_step": {"forward_loss": split[0] / n, "backward": split[1] / n, "unscale_adam": split[2] / n},
        "loss_first": state["first"], "loss_last": state["last"], "skipped_steps": state["skipped"],
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "scaler": "torch GradScaler" if scaler is not None else "emulated (bench/train/step.py)",
    }
    if cuda:
        out["max_memory_allocated_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
        out["max_memory_reserved_mib"] = torch.cuda.max_memory_reserved(dev) / 2**20
        out["gpu"] = torch.cuda.get_device_name(dev)
        out["cuda"] = torch.version.cuda
        out["cudnn"] = torch.backends.cudnn.version()
        out["settings"] = {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                           "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                           "cudnn.benchmark": torch.backends.cudnn.benchmark}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
