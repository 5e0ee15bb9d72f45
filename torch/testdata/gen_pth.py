#!/usr/bin/python3
"""Small PyTorch state dicts for LoadPth tests, plus their expected values.

Run with Debian's Python (which has torch):  /usr/bin/python3 torch/testdata/gen_pth.py
Writes tiny.pth (zip format), tiny_legacy.pth (_use_new_zipfile_serialization=False)
and tiny_pth.json (keys in order, dtype, shape, values as float64).
"""
import collections
import json
import os

import torch

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))

model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Linear(4, 2))
model.train()
model[1](torch.randn(4, 3, 5, 5))  # move running stats away from their defaults
sd = collections.OrderedDict(model.state_dict())

base = torch.randn(5, 4)
sd["extra.base"] = base
sd["extra.offset"] = base[2:]            # shares base's storage, offset 8
sd["extra.transposed"] = torch.randn(3, 4).t()  # non-contiguous strides (1, 4)
sd["extra.half"] = torch.randn(2, 3).half()
sd["extra.double"] = torch.randn(3).double()
sd["extra.mask"] = torch.tensor([True, False, True])
sd["extra.bytes"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
sd["extra.int"] = torch.tensor([[-3, 4]], dtype=torch.int32)
sd["extra.bf16"] = torch.randn(4).bfloat16()
sd["extra.empty"] = torch.zeros(0, 3)

names = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
         torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
         torch.uint8: "uint8", torch.bool: "bool"}
expected = [{"name": k, "dtype": names[v.dtype], "shape": list(v.shape),
             "data": [float(x) for x in v.detach().reshape(-1).double().tolist()]} for k, v in sd.items()]

torch.save(sd, os.path.join(here, "tiny.pth"))
torch.save(sd, os.path.join(here, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)
with open(os.path.join(here, "tiny_pth.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "entries": expected}, f, indent=0)
print("wrote", len(expected), "entries")
