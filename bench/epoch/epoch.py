#!/usr/bin/python3
"""PyTorch reference of bench/epoch: the original code's epochs on a CUB200-layout folder.

Usage: /usr/bin/python3 bench/epoch/epoch.py ROOT [--epochs 2] [--threads N] [--workers W]
        [--batch 90] [--size 64] [--base 64] [--seed 0] [--loss oproxy|nir]
        [--autocast none|bf16] [--eval-autocast on|off] [--lr 1e-5] [--warmup 0]

ROOT holds cub200/images/ (bench/epoch/gen_cub.py). What one epoch is, in the original's
order (reference-method.md sections 8.4, 8.3, 3.1, 2.6, 9), every piece written as the
original writes it with torch 1.13 / torchvision 0.14 / faiss / sklearn:

  set_seed(epochs*seed + epoch); model.train() (frozen BN stays in eval mode);
  for each batch of the class_random sampler (global Python random, bs/2 class draws of
  2 images each, with replacement; len(train)//bs batches), through a torch DataLoader with
  `--workers` worker processes: PIL open + convert('RGB') + RandomResizedCrop(size) +
  RandomHorizontalFlip(0.5) + ToTensor + Normalize(ImageNet mean/std); zero grads (None);
  [autocast] forward (ResNet18 frozen BN, avg pool, last_linear 128, L2 normalise) + loss;
  backward of loss x scale; unscale, finite check, Adam step or skip; scale update (the
  original's always-on GradScaler, emulated: torch's GradScaler is CUDA-only);
  MultiStepLR step; then the test split's evaluation: DataLoader (bs, no shuffle,
  `--workers`), Resize(base) + CenterCrop(size), model.eval() no-grad forward [autocast,
  as the original's use_float16 also wraps it],
  faiss exact-L2 kNN Recall@1 (first neighbour dropped as self) and faiss k-means (k = number
  of training classes, 20 iterations, seed 1234) + sklearn NMI.

Prints one line per epoch and a last line, each "key=value ...":
  epoch=E train_s=.. eval_s=.. wall_s=.. loss=.. skipped=.. steps=.. recall@1=.. nmi=..
  done setup_s=.. total_s=.. epochs=.. threads=.. workers=.. loss_kind=.. autocast=..
train_s runs from the epoch's set_seed to the end of its last step (DataLoader start-up
included, as the original's logged epoch time); eval_s is the evaluation; wall_s both.
setup_s is from the start of main (after imports) to the first epoch; total_s the whole of main.

Left out of the original's epoch: tqdm, its CSV/SVG progress plots and W&B logging, and the
metrics the benchmark does not ask for (e_recall@2/4/10, f1, mAP_1000: their kNN search
for 1001 neighbours would cost more than Recall@1's). The original's fixed Resize(256) /
crop 224 are --base / --size here, as dmlrun's dataset block's base / crop.
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision import transforms

import faiss
from sklearn.metrics import normalized_mutual_info_score

# nir_torch is imported from bench/nir; no bytecode is left there (a folder this script does
# not own).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nir"))
import nir_torch  # noqa: E402  (the NIR criterion and masked-logsumexp ProxyAnchor, original maths)

MEAN = [0.485, 0.456, 0.406]  # ImageNet ResNet constants (reference 2.6)
STD = [0.229, 0.224, 0.225]


def set_seed(s):
    """The original's set_seed (reference 8.5): NumPy, Python random and torch all get s."""
    np.random.seed(s)
    random.seed(s)
    torch.manual_seed(s)


def cub200_splits(root):
    """reference 2.2: class folders (no '._') sorted by the integer before the first '.',
    first half train, rest test; files (no '._') in string order. Returns two dicts
    label -> [paths], labels 0..K-1 within each split."""
    img = os.path.join(root, "cub200", "images")
    names = [n for n in os.listdir(img) if "._" not in n]
    names.sort(key=lambda n: int(n.split(".")[0]))
    half = len(names) // 2

    def split(ns):
        return {i: [os.path.join(img, n, f) for f in sorted(os.listdir(os.path.join(img, n))) if "._" not in f]
                for i, n in enumerate(ns)}
    return split(names[:half]), split(names[half:])


class BaseDataset(torch.utils.data.Dataset):
    """reference 2.1: images enumerated class by class in sorted-key order; the running
    position is the global index that the sampler draws."""

    def __init__(self, image_dict, transform):
        self.transform = transform
        self.image_list = []
        self.image_dict = {}
        for c in sorted(image_dict):
            self.image_dict[c] = []
            for p in image_dict[c]:
                self.image_dict[c].append([p, len(self.image_list)])
                self.image_list.append((p, c))

    def __len__(self):
        return len(self.image_list)

    def __getitem__(self, idx):
        path, label = self.image_list[idx]
        im = Image.open(path)
        if len(im.size) == 2:  # always true for PIL (reference 2.1): every image is converted
            im = im.convert("RGB")
        return label, self.transform(im), idx


class ClassRandomSampler(torch.utils.data.sampler.Sampler):
    """reference 3.1: per batch bs/spc draws, each a class and then spc images of it, all with
    replacement, from the global Python random module (re-seeded every epoch)."""

    def __init__(self, image_dict, n_images, bs, spc):
        assert bs % spc == 0, "batch size must be a multiple of samples_per_class"
        self.image_dict = image_dict
        self.classes = list(image_dict.keys())
        self.bs, self.spc = bs, spc
        self.length = n_images // bs

    def __iter__(self):
        for _ in range(self.length):
            subset = []
            for _ in range(self.bs // self.spc):
                key = random.choice(self.classes)
                subset.extend(random.choice(self.image_dict[key])[-1] for _ in range(self.spc))
            yield subset

    def __len__(self):
        return self.length


class Net(nn.Module):
    """resnet18_frozen_normalize (reference 4.1, 4.2, 4.4): torchvision ResNet18 (random init
    with --not_pretrained), every BN in eval mode for good, global average pool,
    last_linear(512 -> D), L2 normalisation. Construction order (resnet18, then the head)
    is the original's, so the torch generator is consumed the same way."""

    def __init__(self, dim=128):
        super().__init__()
        self.model = torchvision.models.resnet18(weights=None)
        self.model.last_linear = nn.Linear(self.model.fc.in_features, dim)
        self.model.fc = None
        for m in self.model.modules():
            if type(m) == nn.BatchNorm2d:
                m.eval()
                m.train = lambda _=None: None  # the original's frozen BN: train() is a no-op

    def trunk(self, x):
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
            x = layer(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x, warmup=False):
        if warmup:  # reference 4.4: only last_linear is in the graph during warmup epochs
            with torch.no_grad():
                y = self.trunk(x)
        else:
            y = self.trunk(x)
        return F.normalize(self.model.last_linear(y), dim=-1)


class OProxy(nn.Module):
    """reference 5.1, mode anchor: proxies randn(C, D)/8, masked-logsumexp ProxyAnchor
    (positive term averaged over the batch columns, negative over all C proxies)."""

    def __init__(self, d, c):
        super().__init__()
        self.proxies = nn.Parameter(torch.randn(c, d) / 8)

    def forward(self, batch, labels):
        return nir_torch.panc(batch, self.proxies, labels)


def criterion_and_groups(kind, d, c, lr, w_align):
    """The criterion and its optimiser groups (reference 5.1, 6.1): no weight_decay key, so
    Adam's default 0."""
    if kind == "oproxy":
        crit = OProxy(d, c)
        return crit, [{"params": [crit.proxies], "lr": lr * 2000}]
    crit = nir_torch.NIR(d, c, k=5, w_align=w_align)
    return crit, [{"params": [crit.proxies], "lr": lr * 4000},
                  {"params": list(crit.flow.parameters()), "lr": lr * 50}]


class ScalerEmulation:
    """torch.cuda.amp.GradScaler's semantics on CPU (reference 8.3, always enabled): initial
    scale 2^16; the step divides gradients by the scale (float32 reciprocal, as torch) and is
    skipped if any gradient is inf/NaN; then the scale halves on a skip, doubles after 2000
    good steps in a row."""

    def __init__(self, params):
        self.params = params
        self.scale, self.good = 65536.0, 0

    def step(self, opt):
        inv = float(np.float32(1.0 / self.scale))
        finite = True
        for p in self.params:
            if p.grad is not None:
                p.grad.mul_(inv)
                finite = finite and bool(torch.isfinite(p.grad).all())
        if finite:
            opt.step()
            self.good += 1
            if self.good == 2000:
                self.scale, self.good = self.scale * 2, 0
        else:
            self.scale, self.good = self.scale * 0.5, 0
        return finite


def autocast(on):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=on)


def train_epoch(a, epoch, net, crit, opt, scaler, loader):
    net.train()
    losses, skipped, steps = [], 0, 0
    warm = epoch < a.warmup
    for labels, x, _ in loader:
        opt.zero_grad(set_to_none=True)
        with autocast(a.autocast == "bf16"):
            loss = crit(net(x, warmup=warm), labels)
        losses.append(loss.item())
        (loss * scaler.scale).backward()
        if not scaler.step(opt):
            skipped += 1
        steps += 1
    return float(np.mean(losses)) if losses else float("nan"), skipped, steps


def evaluate(a, net, loader, n_train_classes):
    """reference 9.1-9.3: embeddings in dataset order, faiss exact L2 kNN (k_max + 1 = 2
    neighbours, the first dropped as self) for e_recall@1, faiss k-means with the number of
    training classes for NMI."""
    net.eval()
    feats, targets = [], []
    with torch.no_grad(), autocast(a.autocast == "bf16" and a.eval_autocast == "on"):
        for labels, x, _ in loader:
            feats.extend(net(x).float().numpy().tolist())  # the original collects lists too
            targets.extend(labels.numpy().tolist())
    x = np.vstack(feats).astype("float32")
    y = np.array(targets)
    d = x.shape[1]
    km = faiss.Clustering(d, n_train_classes)
    km.niter = 20
    km.min_points_per_centroid = 1
    km.max_points_per_centroid = 1000000000
    km.train(x, faiss.IndexFlatL2(d))
    centroids = faiss.vector_float_to_array(km.centroids).reshape(n_train_classes, d)
    ci = faiss.IndexFlatL2(d)
    ci.add(centroids)
    _, assign = ci.search(x, 1)
    nn_index = faiss.IndexFlatL2(d)
    nn_index.add(x)
    _, knn = nn_index.search(x, 2)
    recall1 = float(np.mean(y[knn[:, 1]] == y))
    nmi = float(normalized_mutual_info_score(assign.reshape(-1), y.reshape(-1)))
    return recall1, nmi


def main():
    t_main = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", help="folder with cub200/images/ (gen_cub.py)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op and faiss OpenMP threads")
    ap.add_argument("--workers", type=int, default=min(6, os.cpu_count()),
                    help="DataLoader worker processes (the original: --kernels, default 6); default min(6, cores)")
    ap.add_argument("--batch", type=int, default=90)
    ap.add_argument("--size", type=int, default=64, help="crop size (the original: 224)")
    ap.add_argument("--base", type=int, default=64, help="evaluation Resize side (the original: 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", choices=["oproxy", "nir"], default="oproxy")
    ap.add_argument("--w-align", type=float, default=0.0075, help="nir: weight of the ProxyAnchor term (CUB runs: 0.0075)")
    ap.add_argument("--warmup", type=int, default=0, help="epochs with the backbone frozen (the CUB NIR runs: 1)")
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none")
    ap.add_argument("--eval-autocast", choices=["on", "off"], default="on",
                    help="with --autocast bf16, also the evaluation forward (the original's use_float16 does)")
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--decay", type=float, default=4e-4)
    ap.add_argument("--dim", type=int, default=128)
    a = ap.parse_args()
    if a.warmup >= a.epochs > 0:
        sys.exit("epoch.py: --warmup %d must be less than --epochs %d" % (a.warmup, a.epochs))

    torch.set_num_threads(a.threads)
    faiss.omp_set_num_threads(a.threads)
    set_seed(a.seed)  # reference 8.1: seed, model, data, criterion, optimiser
    net = Net(a.dim)
    train_dict, test_dict = cub200_splits(a.root)
    train_tf = transforms.Compose([
        transforms.RandomResizedCrop(size=a.size), transforms.RandomHorizontalFlip(0.5),
        transforms.ToTensor(), transforms.Normalize(mean=MEAN, std=STD)])
    eval_tf = transforms.Compose([
        transforms.Resize(a.base), transforms.CenterCrop(a.size),
        transforms.ToTensor(), transforms.Normalize(mean=MEAN, std=STD)])
    train_ds = BaseDataset(train_dict, train_tf)
    test_ds = BaseDataset(test_dict, eval_tf)
    sampler = ClassRandomSampler(train_ds.image_dict, len(train_ds), a.batch, 2)
    if len(sampler) == 0:
        sys.exit("epoch.py: %d training images give no batch of %d" % (len(train_ds), a.batch))
    train_loader = torch.utils.data.DataLoader(train_ds, num_workers=a.workers, batch_sampler=sampler)
    test_loader = torch.utils.data.DataLoader(test_ds, batch_size=a.batch, shuffle=False, num_workers=a.workers)
    n_classes = len(train_dict)
    crit, groups = criterion_and_groups(a.loss, a.dim, n_classes, a.lr, a.w_align)
    opt = torch.optim.Adam([{"params": net.parameters(), "lr": a.lr, "weight_decay": a.decay}] + groups)
    # --tau 10000 --gamma 0.3, the defaults: no decay within a benchmark's epochs, but the
    # scheduler is stepped after every epoch as the original's is.
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[10000], gamma=0.3)
    scaler = ScalerEmulation([p for g in opt.param_groups for p in g["params"]])
    setup = time.perf_counter() - t_main

    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        set_seed(a.epochs * a.seed + epoch)  # reference 8.4
        loss, skipped, steps = train_epoch(a, epoch, net, crit, opt, scaler, train_loader)
        t1 = time.perf_counter()
        sched.step()
        recall1, nmi = evaluate(a, net, test_loader, n_classes)
        t2 = time.perf_counter()
        print("epoch=%d train_s=%.4f eval_s=%.4f wall_s=%.4f loss=%.6f skipped=%d steps=%d recall@1=%.6f nmi=%.6f"
              % (epoch, t1 - t0, t2 - t1, t2 - t0, loss, skipped, steps, recall1, nmi), flush=True)
    print("done setup_s=%.4f total_s=%.4f epochs=%d threads=%d workers=%d loss_kind=%s autocast=%s seed=%d train_images=%d test_images=%d"
          % (setup, time.perf_counter() - t_main, a.epochs, a.threads, a.workers, a.loss, a.autocast, a.seed,
             len(train_ds), len(test_ds)), flush=True)


if __name__ == "__main__":
    main()
