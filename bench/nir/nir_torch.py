#!/usr/bin/python3
"""PyTorch side of bench/nir/run.sh: one NIR loss forward+backward, written directly from the
original's formulas (FrEIA GLOWCouplingBlock with the ATAN clamp, PermuteRandom with NumPy
legacy seeds, masked-logsumexp ProxyAnchor, mean(exp(nll)) tail in float64), because FrEIA is
not installed. Same setup as main.go: manual_seed(0), proxies randn(C,D)/8, then block k
subnet1, subnet2 (nn.Linear default init, weight then bias); manual_seed(1), embeddings
randn(B, D) normalised; labels 45 classes x 2. Prints one line per dimension in main.go's format.

usage: /usr/bin/python3 nir_torch.py [--dims 128,512] [--iters 30] [--warmup 5] [--threads N]
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def subnet_fc(c_in, c_out, depth=8, width=128):
    layers = [nn.Linear(c_in, width)]
    for _ in range(depth - 2):
        layers += [nn.ReLU(), nn.Linear(width, width)]
    layers += [nn.ReLU(), nn.Linear(width, c_out)]
    return nn.Sequential(*layers)


class GLOW(nn.Module):
    """FrEIA GLOWCouplingBlock (GraphINN era), conditioned, ATAN soft clamp."""

    def __init__(self, d, dc, clamp=2.0):
        super().__init__()
        self.l1 = round(d / 2)
        self.l2 = d - self.l1
        self.clamp = clamp
        self.subnet1 = subnet_fc(self.l1 + dc, 2 * self.l2)
        self.subnet2 = subnet_fc(self.l2 + dc, 2 * self.l1)

    def f_clamp(self, s):
        return self.clamp * (0.636 * torch.atan(s))

    def forward(self, x, c):
        x1, x2 = torch.split(x, [self.l1, self.l2], dim=1)
        a2 = self.subnet2(torch.cat([x2, c], 1))
        s2, t2 = a2[:, :self.l1], a2[:, self.l1:]
        s2 = self.f_clamp(s2)
        j1 = torch.sum(s2, dim=1)
        y1 = torch.exp(s2) * x1 + t2
        a1 = self.subnet1(torch.cat([y1, c], 1))
        s1, t1 = a1[:, :self.l2], a1[:, self.l2:]
        s1 = self.f_clamp(s1)
        j2 = torch.sum(s1, dim=1)
        y2 = torch.exp(s1) * x2 + t1
        return torch.cat((y1, y2), 1), j1 + j2


class Flow(nn.Module):
    def __init__(self, d, k=5):
        super().__init__()
        self.perms = []
        for i in range(k):
            np.random.seed(i)
            self.perms.append(torch.from_numpy(np.random.permutation(d)))
        self.blocks = nn.ModuleList([GLOW(d, d) for _ in range(k)])

    def forward(self, x, conds):
        logdet = torch.zeros(x.shape[0])
        for perm, block, c in zip(self.perms, self.blocks, conds):
            x = x[:, perm]
            x, j = block(x, c)
            logdet = logdet + j
        return x, logdet


def masked_logsumexp(sims, dim, mask):
    sims = sims.masked_fill(~mask, torch.finfo(sims.dtype).min)
    dims = list(sims.shape)
    dims[dim] = 1
    sims = torch.cat([sims, torch.zeros(dims, dtype=sims.dtype)], dim=dim)
    lse = torch.logsumexp(sims, dim=dim, keepdim=True)
    return lse.masked_fill(~torch.any(mask, dim=dim, keepdim=True), 0)


def panc(batch, proxies, labels, pa=32.0, na=32.0, pd=0.1, nd=-0.1):
    batch = F.normalize(batch, dim=-1)
    p = F.normalize(proxies, dim=-1)
    pos_sims = batch.mm(p[labels].T)
    sims = batch.mm(p.T)
    w_pos = -pa * (pos_sims - pd)
    w_neg = na * (sims - nd)
    same = labels.unsqueeze(1) == labels.unsqueeze(0)
    diff = labels.unsqueeze(1) != torch.arange(proxies.shape[0]).unsqueeze(0)
    return masked_logsumexp(w_pos, 0, same).mean() + masked_logsumexp(w_neg, 0, diff).mean()


class NIR(nn.Module):
    def __init__(self, d, c, k=5, w_align=0.01):
        super().__init__()
        self.proxies = nn.Parameter(torch.randn(c, d) / 8)
        self.flow = Flow(d, k)
        self.k = k
        self.w_align = w_align

    def forward(self, batch, labels):
        pa = panc(batch, self.proxies, labels)
        q = F.normalize(self.proxies, dim=-1)[labels]
        z, logdet = self.flow(batch, [q] * self.k)
        nll = 0.5 * torch.sum(z ** 2, dim=1) - logdet
        nll = nll * torch.from_numpy(np.ones(batch.shape[0]))  # float64 from here, as the original
        return torch.mean(torch.exp(nll)) + self.w_align * pa


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dims', default='128,512')
    ap.add_argument('--iters', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    B, C = 90, 100
    for d in [int(x) for x in a.dims.split(',')]:
        torch.manual_seed(0)
        crit = NIR(d, C)
        torch.manual_seed(1)
        emb = F.normalize(torch.randn(B, d), dim=-1).requires_grad_(True)
        labels = torch.arange(B) // 2

        def step():
            loss = crit(emb, labels)
            loss.backward()
            v = loss.item()
            for p in crit.parameters():
                p.grad = None
            emb.grad = None
            return v

        for _ in range(a.warmup):
            loss = step()
        times = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            loss = step()
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print('impl=pytorch D=%d B=%d C=%d threads=%d iters=%d median_ms=%.3f mean_ms=%.3f min_ms=%.3f loss=%.9g'
              % (d, B, C, torch.get_num_threads(), a.iters, times[len(times) // 2], sum(times) / len(times),
                 times[0], loss))


if __name__ == '__main__':
    main()
