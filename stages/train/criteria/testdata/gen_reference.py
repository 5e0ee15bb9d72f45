#!/usr/bin/python3
"""Reference values for dmlrun's training criteria (stages/train/criteria).

Run with Debian's Python (torch 1.13):  /usr/bin/python3 gen_reference.py
It writes reference.json next to this file. Every loss is written here directly from its
formula in reference-method.md section 5 (mostly with explicit per-row / per-triplet loops,
so the Go code's vectorised form is checked against an independent computation), in
float32 PyTorch on CPU. For each case the JSON holds the inputs, the parameter values, the
loss and the gradients with respect to the embeddings and the criterion's parameters.
It also records parameter initialisations drawn from the torch generator after
torch.manual_seed, which the Go code must reproduce bit for bit.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
F32MAX = torch.finfo(torch.float32).max


def log1p_sum_exp(v):
    """log(1 + sum(exp(v))) for a 1-D tensor; 0 for an empty one (masked logsumexp semantics)."""
    if v.numel() == 0:
        return torch.zeros((), dtype=v.dtype)
    return torch.logsumexp(torch.cat([v, torch.zeros(1, dtype=v.dtype)]), 0)


def proxy_loss(x, proxies, labels, mode, pa=32.0, na=32.0, pd=0.1, nd=-0.1):
    xn = F.normalize(x, dim=1)
    pn = F.normalize(proxies, dim=1)
    B, C = x.shape[0], proxies.shape[0]
    pos_terms, neg_terms = [], []
    if mode == "anchor":
        for j in range(B):  # column j: proxy of y_j against the samples of class y_j
            idx = [i for i in range(B) if labels[i] == labels[j]]
            s = xn[idx] @ pn[labels[j]]
            pos_terms.append(log1p_sum_exp(-pa * (s - pd)))
        for c in range(C):
            idx = [i for i in range(B) if labels[i] != c]
            s = xn[idx] @ pn[c] if idx else torch.zeros(0)
            neg_terms.append(log1p_sum_exp(na * (s - nd)))
    else:
        for i in range(B):
            idx = [j for j in range(B) if labels[j] == labels[i]]
            s = pn[[labels[j] for j in idx]] @ xn[i]
            pos_terms.append(log1p_sum_exp(-pa * (s - pd)))
            cs = [c for c in range(C) if c != labels[i]]
            neg_terms.append(log1p_sum_exp(na * (pn[cs] @ xn[i] - nd)))
    return torch.stack(pos_terms).mean() + torch.stack(neg_terms).mean()


def multisimilarity(x, labels, dim=0, a=2.0, b=40.0, eps=0.1, lp=0.5, ln=0.5):
    S = x @ x.t()
    if dim == 1:
        S = S.t()  # reduce over the first index of the transposed matrix = over columns of S
    B = x.shape[0]
    pos_terms, neg_terms = [], []
    for j in range(B):
        P = [i for i in range(B) if labels[i] == labels[j] and i != j]
        N = [i for i in range(B) if labels[i] != labels[j]]
        with torch.no_grad():
            posbound = min([S[i, j].item() for i in P]) if P else F32MAX
            negbound = max([S[i, j].item() for i in N]) if N else -F32MAX
            # comparisons in float32, as torch does them
            Pm = [i for i in P if (S[i, j] - eps) < torch.tensor(negbound, dtype=torch.float32)]
            Nm = [i for i in N if (S[i, j] + eps) > torch.tensor(posbound, dtype=torch.float32)]
        pos_terms.append(log1p_sum_exp(-a * (S[Pm, j] - lp)) if Pm else torch.zeros(()))
        neg_terms.append(log1p_sum_exp(b * (S[Nm, j] - ln)) if Nm else torch.zeros(()))
    return F.softplus(torch.stack(pos_terms).mean()) / abs(a) + F.softplus(torch.stack(neg_terms).mean()) / abs(b)


def margin_loss(x, labels, trip, beta, m=0.2, nu=0.0):
    dap, dan, bs = [], [], []
    for a, p, n in trip:
        dap.append(((x[a] - x[p]).pow(2).sum() + 1e-8).pow(0.5))
        dan.append(((x[a] - x[n]).pow(2).sum() + 1e-8).pow(0.5))
        bs.append(beta[labels[a]])
    dap, dan, bs = torch.stack(dap), torch.stack(dan), torch.stack(bs)
    pos = F.relu(dap - bs + m)
    neg = F.relu(bs - dan + m)
    count = ((pos > 0) | (neg > 0)).sum().item()
    loss = (pos + neg).sum()
    if count:
        loss = loss / count
    if nu:
        loss = loss + nu * bs.sum()
    return loss


def triplet_loss(x, trip, m=0.2):
    ls = [F.relu((x[a] - x[p]).pow(2).sum() - (x[a] - x[n]).pow(2).sum() + m) for a, p, n in trip]
    return torch.stack(ls).mean()


def contrastive_loss(x, trip, pm=0.0, nm=1.0):
    dp = torch.stack([torch.norm(x[a] - x[p] + 1e-6) for a, p, n in trip])
    dn = torch.stack([torch.norm(x[a] - x[n] + 1e-6) for a, p, n in trip])
    return F.relu(dp - pm).mean() + F.relu(nm - dn).mean()


def softmax_loss(x, labels, W, T=0.05):
    return F.cross_entropy(x @ F.normalize(W, dim=1).t() / T, labels)


def arcface_loss(x, labels, W, m=0.5, s=16.0):
    cos = (x @ F.normalize(W, dim=1).t()).clamp(min=1e-10, max=1 - 1e-10)
    rows = []
    for i in range(x.shape[0]):
        y = int(labels[i])
        t = torch.cos(torch.acos(cos[i, y]) + m)
        row = torch.cat([cos[i, :y], t.view(1), cos[i, y + 1:]])
        rows.append(row)
    return F.cross_entropy(s * torch.stack(rows), labels)


def npair_loss(x, groups, l2=0.005):
    A = len(groups)
    loss = 0
    for a, p, negs in groups:
        inner = torch.stack([x[a] @ (x[n] - x[p]) for n in negs])
        loss = loss + torch.log(torch.exp(inner).sum() + 1) / A
        loss = loss + l2 * x.norm(dim=1).mean() / A
    return loss


def kl(A, Bm, T):
    pb = F.softmax(Bm / T, dim=-1)
    return (pb * (F.log_softmax(Bm / T, dim=-1) - F.log_softmax(A / T, dim=-1))).sum() * T * T / A.shape[0]


def s2sd_loss(x, labels, feats, nets, T, w, featw, feat_on):
    xn = F.normalize(x, dim=1)
    src = multisimilarity(xn, labels)
    Ss = xn @ xn.t()
    tl, kls = [], []
    for (w1, b1, w2, b2) in nets:
        y = F.normalize(F.linear(F.relu(F.linear(feats, w1, b1)), w2, b2), dim=1)
        tl.append(multisimilarity(y, labels))
        kls.append(kl(Ss, (y @ y.t()).detach(), T))
    loss = (torch.stack(tl).mean() + src) / 2 + w * torch.stack(kls).mean()
    if feat_on:
        nf = F.normalize(feats, dim=1).detach()
        loss = loss + featw * kl(Ss, nf @ nf.t(), T)
    return loss


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run(name, fn, inputs, plist, **meta):
    """Evaluate fn(*inputs, *plist) with grads on leaf copies; return a JSON record."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs + plist]
    loss = fn(*leaves)
    loss.backward()
    rec = {"name": name, "loss": float(loss.item()), "dtype": str(loss.dtype).replace("torch.", "")}
    rec["grads"] = [flat(t.grad) if t.grad is not None else None for t in leaves]
    rec["inputs"] = [flat(t) for t in inputs]
    rec.update(meta)
    return rec


def main():
    g = torch.Generator().manual_seed(1234)
    B, D, C = 12, 8, 7
    labels = torch.tensor([3, 0, 2, 0, 5, 3, 0, 2, 1, 5, 0, 4])
    L = labels.tolist()
    xraw = torch.randn(B, D, generator=g)
    x = F.normalize(xraw, dim=1)
    proxies = torch.randn(C, D, generator=g) / 8
    W = torch.rand(C, D, generator=g) * 0.7 - 0.35
    beta = 1.2 + 0.3 * torch.randn(C, generator=g)
    # valid triplets: anchors with a same-class partner
    trip = []
    for a in range(B):
        pos = [p for p in range(B) if L[p] == L[a] and p != a]
        neg = [n for n in range(B) if L[n] != L[a]]
        if not pos:
            continue
        for k in range(2):
            p = pos[int(torch.randint(len(pos), (1,), generator=g))]
            n = neg[int(torch.randint(len(neg), (1,), generator=g))]
            trip.append([a, p, n])
    # npair groups: one pair per class with >= 2 samples, negatives = other pairs' positives
    pairs = [(1, 3), (0, 5), (2, 7), (4, 9)]
    groups = [(a, p, [q for (_, q) in pairs if q != p]) for (a, p) in pairs]
    npair_trip = [[a, p, n] for a, p, negs in groups for n in negs]

    Fdim, dims = 16, [6, 10]
    feats = torch.randn(B, Fdim, generator=g).abs()
    fmap = torch.randn(B, Fdim, 2, 2, generator=g)
    nets = []
    for t in dims:
        l1, l2 = torch.nn.Linear(Fdim, t), torch.nn.Linear(t, t)
        nets.append([l1.weight.detach(), l1.bias.detach(), l2.weight.detach(), l2.bias.detach()])
    net_flat = [p for n in nets for p in n]

    def nets_of(ps):
        return [ps[4 * k:4 * k + 4] for k in range(len(dims))]

    cases = []
    for mode in ["anchor", "nca"]:
        cases.append(run("oproxy_" + mode, lambda xx, pp, mode=mode: proxy_loss(xx, pp, L, mode), [xraw], [proxies],
                         kind="oproxy", params={"mode": mode}, param_names=["proxies"]))
    cases.append(run("oproxy_custom", lambda xx, pp: proxy_loss(xx, pp, L, "anchor", 16.0, 24.0, 0.2, -0.05), [x], [proxies],
                     kind="oproxy", params={"mode": "anchor", "pos_alpha": 16.0, "neg_alpha": 24.0, "pos_delta": 0.2, "neg_delta": -0.05},
                     param_names=["proxies"]))
    for dim in [0, 1]:
        cases.append(run("multisimilarity_dim%d" % dim, lambda xx, dim=dim: multisimilarity(xx, L, dim), [x], [],
                         kind="multisimilarity", params={"dim": dim}, param_names=[]))
    cases.append(run("multisimilarity_custom", lambda xx: multisimilarity(xx, L, 0, 3.0, 25.0, 0.3, 0.4, 0.6), [x], [],
                     kind="multisimilarity", params={"pos_weight": 3.0, "neg_weight": 25.0, "margin": 0.3, "pos_thresh": 0.4, "neg_thresh": 0.6},
                     param_names=[]))
    cases.append(run("margin", lambda xx, bb: margin_loss(xx, L, trip, bb), [x], [beta],
                     kind="margin", params={}, param_names=["beta"], triplets=trip))
    cases.append(run("margin_nu", lambda xx, bb: margin_loss(xx, L, trip, bb, 0.35, 0.1), [x], [beta],
                     kind="margin", params={"margin": 0.35, "nu": 0.1}, param_names=["beta"], triplets=trip))
    cases.append(run("margin_const", lambda xx: margin_loss(xx, L, trip, torch.full((C,), 1.1), 0.2, 0.05), [x], [],
                     kind="margin", params={"beta_constant": True, "beta": 1.1, "nu": 0.05}, param_names=[], triplets=trip))
    cases.append(run("triplet", lambda xx: triplet_loss(xx, trip), [x], [], kind="triplet", params={}, param_names=[], triplets=trip))
    cases.append(run("triplet_m05", lambda xx: triplet_loss(xx, trip, 0.5), [xraw * 0.4], [], kind="triplet", params={"margin": 0.5},
                     param_names=[], triplets=trip))
    cases.append(run("contrastive", lambda xx: contrastive_loss(xx, trip), [x], [], kind="contrastive", params={}, param_names=[], triplets=trip))
    cases.append(run("contrastive_m", lambda xx: contrastive_loss(xx, trip, 0.3, 1.3), [x], [], kind="contrastive",
                     params={"pos_margin": 0.3, "neg_margin": 1.3}, param_names=[], triplets=trip))
    cases.append(run("softmax", lambda xx, ww: softmax_loss(xx, labels, ww), [x], [W], kind="softmax", params={}, param_names=["class_map"]))
    cases.append(run("softmax_T", lambda xx, ww: softmax_loss(xx, labels, ww, 0.2), [xraw], [W], kind="softmax",
                     params={"temperature": 0.2}, param_names=["class_map"]))
    cases.append(run("arcface", lambda xx, ww: arcface_loss(xx, labels, ww), [x], [W], kind="arcface", params={}, param_names=["class_map"]))
    cases.append(run("arcface_m", lambda xx, ww: arcface_loss(xx, labels, ww, 0.3, 8.0), [x], [W], kind="arcface",
                     params={"angular_margin": 0.3, "feature_scale": 8.0}, param_names=["class_map"]))
    cases.append(run("npair", lambda xx: npair_loss(xx, groups), [x], [], kind="npair", params={}, param_names=[], triplets=npair_trip))
    cases.append(run("npair_bninception", lambda xx: npair_loss(xx / 4, groups, 0.05), [x], [], kind="npair", params={"l2": 0.05},
                     param_names=[], triplets=npair_trip, arch="bninception"))
    s2sd_names = ["target_nets.%d.%s" % (k, n) for k in range(len(dims)) for n in ["0.weight", "0.bias", "2.weight", "2.bias"]]
    cases.append(run("s2sd", lambda xx, ff, *ps: s2sd_loss(xx, L, ff, nets_of(ps), 2.0, 0.5, 50.0, True), [xraw, feats], net_flat,
                     kind="s2sd", params={"T": 2.0, "w": 0.5, "feat_distill": True, "feat_distill_delay": 3, "target_dims": dims},
                     param_names=s2sd_names, iter=3, feature_dim=Fdim))
    cases.append(run("s2sd_before_delay", lambda xx, ff, *ps: s2sd_loss(xx, L, ff, nets_of(ps), 1.0, 0.0, 50.0, False), [xraw, feats], net_flat,
                     kind="s2sd", params={"feat_distill": True, "feat_distill_delay": 3, "target_dims": dims},
                     param_names=s2sd_names, iter=2, feature_dim=Fdim))

    def s2sd_pool(xx, fm, *ps):
        f = F.adaptive_avg_pool2d(fm, 1).view(B, -1) + F.adaptive_max_pool2d(fm, 1).view(B, -1)
        return s2sd_loss(xx, L, f, nets_of(ps), 1.5, 1.0, 50.0, False)
    cases.append(run("s2sd_pool_aggr", s2sd_pool, [xraw, fmap], net_flat, kind="s2sd",
                     params={"T": 1.5, "w": 1.0, "pool_aggr": True, "target_dims": dims},
                     param_names=s2sd_names, iter=0, feature_dim=Fdim, feature_map=True))

    # Initialisation from the global generator after manual_seed (bit-exact expectations).
    init = {}
    torch.manual_seed(7)
    init["oproxy_proxies_seed7_C5_D6"] = flat(torch.randn(5, 6) / 8)
    torch.manual_seed(8)
    cm = torch.Tensor(5, 6)
    cm.uniform_(-1.0 / math.sqrt(6), 1.0 / math.sqrt(6))
    init["softmax_class_map_seed8_C5_D6"] = flat(cm)
    torch.manual_seed(9)
    ns = []
    for t in [3, 4]:
        seq = torch.nn.Sequential(torch.nn.Linear(5, t), torch.nn.ReLU(), torch.nn.Linear(t, t))
        ns += [flat(seq[0].weight), flat(seq[0].bias), flat(seq[2].weight), flat(seq[2].bias)]
    init["s2sd_nets_seed9_F5_dims3_4"] = ns

    out = {"B": B, "D": D, "C": C, "labels": L, "emb_raw": flat(xraw), "emb": flat(x),
           "proxies": flat(proxies), "class_map": flat(W), "beta": flat(beta),
           "features": flat(feats), "feature_map": flat(fmap), "feature_dim": Fdim, "target_dims": dims,
           "nets": [flat(p) for p in net_flat], "cases": cases, "init": init}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path, "with", len(cases), "cases")


if __name__ == "__main__":
    main()
