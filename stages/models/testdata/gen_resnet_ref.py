#!/usr/bin/python3
"""Writes the ResNet parity references that stages/models tests read from $DMLRUN_REF_DIR.

Run with Debian's python3 (torch 1.13, torchvision 0.14):

    /usr/bin/python3 stages/models/testdata/gen_resnet_ref.py OUTDIR

For depth in (18, 50) it writes, with torch.set_num_threads(1):
  resnet<depth>.pth      torchvision resnet<depth>(weights=None) state dict after
                         torch.manual_seed(0) (random init, includes fc.* and
                         num_batches_tracked, like an ImageNet checkpoint)
  ref<depth>.pth         dict of tensors:
    last_linear.weight/bias   nn.Linear(F, 128) constructed right after the ResNet
                              (same generator, as the original builds its head)
    input                     2x3x64x64, torch.manual_seed(1) randn
    avg_features_eval         eval-mode trunk + global average pool (B x F)
    avg_features_double_eval  eval-mode trunk + (max pool + average pool)
    avg_features_train        BN in training mode (batch statistics) + average pool
    running_mean_bn1_after    bn1.running_mean after that training-mode forward
    embeds_frozen_normalize         F.normalize(last_linear(avg), dim=-1), eval BN
    embeds_frozen_normalize_double  same with double pooling
The files are too big to commit (resnet50 ~100 MB); CI runs this script once into a cache
directory and points DMLRUN_REF_DIR at it.
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision


def trunk(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    x = net.layer1(x)
    x = net.layer2(x)
    x = net.layer3(x)
    return net.layer4(x)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_resnet_ref.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for depth in (18, 50):
        torch.manual_seed(0)
        net = getattr(torchvision.models, "resnet%d" % depth)(weights=None)
        feat = net.fc.in_features
        head = torch.nn.Linear(feat, 128)
        torch.save(net.state_dict(), os.path.join(out, "resnet%d.pth" % depth))
        torch.manual_seed(1)
        x = torch.randn(2, 3, 64, 64)
        ref = {"last_linear.weight": head.weight.detach().clone(),
               "last_linear.bias": head.bias.detach().clone(),
               "input": x}
        with torch.no_grad():
            net.eval()
            fm = trunk(net, x)
            avg = F.adaptive_avg_pool2d(fm, 1).flatten(1)
            dbl = (F.adaptive_max_pool2d(fm, 1) + F.adaptive_avg_pool2d(fm, 1)).flatten(1)
            ref["avg_features_eval"] = avg
            ref["avg_features_double_eval"] = dbl
            ref["embeds_frozen_normalize"] = F.normalize(head(avg), dim=-1)
            ref["embeds_frozen_normalize_double"] = F.normalize(head(dbl), dim=-1)
            net.train()
            ref["avg_features_train"] = F.adaptive_avg_pool2d(trunk(net, x), 1).flatten(1)
            ref["running_mean_bn1_after"] = net.bn1.running_mean.clone()
        torch.save(ref, os.path.join(out, "ref%d.pth" % depth))
        print("wrote resnet%d.pth and ref%d.pth to %s" % (depth, depth, out))


if __name__ == "__main__":
    main()
