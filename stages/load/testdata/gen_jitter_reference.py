#!/usr/bin/python3
"""Reference outputs of torchvision's colour ops on PIL images for stages/load's "adv"
augmentation (jitter.go): F.adjust_brightness / adjust_contrast / adjust_saturation /
adjust_hue and F.rgb_to_grayscale(num_output_channels=3) with fixed factors, and one full
ColorJitter with a fixed order and fixed factors (ColorJitter.forward's loop).

Run from stages/load:  /usr/bin/python3 testdata/gen_jitter_reference.py
Writes testdata/jitter_reference.json (base64 raw RGB bytes).
"""
import base64, json, os
import numpy as np
from PIL import Image
import PIL, torchvision
import torchvision.transforms.functional as F

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(4321)

h, w = 11, 13
a = rng.randint(0, 256, size=(h, w, 3)).astype(np.uint8)
a[0, :4] = [[0, 0, 0], [255, 255, 255], [128, 128, 128], [7, 7, 7]]  # greys (s = 0)
a[1, :6] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]]
a[2, :3] = [[250, 3, 2], [2, 250, 251], [200, 199, 1]]  # hues near the wrap and ties
img = Image.fromarray(a, "RGB")

def b64(im):
    return base64.b64encode(np.asarray(im, dtype=np.uint8).tobytes()).decode()

out = {"pillow": PIL.__version__, "torchvision": torchvision.__version__, "w": w, "h": h,
       "input": b64(img), "ops": []}

def add(op, factor, im):
    out["ops"].append({"op": op, "factor": factor, "rgb": b64(im)})

for f in [0.8, 0.9371, 1.0, 1.13, 1.2]:
    add("brightness", f, F.adjust_brightness(img, f))
    add("contrast", f, F.adjust_contrast(img, f))
    add("saturation", f, F.adjust_saturation(img, f))
for f in [-0.2, -0.1, -0.0371, 0.0, 0.05, 0.13, 0.2]:
    add("hue", f, F.adjust_hue(img, f))
add("grayscale", 0, F.rgb_to_grayscale(img, num_output_channels=3))

# One ColorJitter(0.2, 0.2, 0.2, 0.2) draw with its parameters fixed: the order and
# factors that get_params would return, applied as ColorJitter.forward does.
order, b, c, s, hu = [2, 0, 3, 1], 1.0871, 0.8512, 1.1632, -0.1337
x = img
for fn in order:
    if fn == 0:
        x = F.adjust_brightness(x, b)
    elif fn == 1:
        x = F.adjust_contrast(x, c)
    elif fn == 2:
        x = F.adjust_saturation(x, s)
    else:
        x = F.adjust_hue(x, hu)
out["jitter"] = {"order": order, "brightness": b, "contrast": c, "saturation": s, "hue": hu, "rgb": b64(x)}

with open(os.path.join(here, "jitter_reference.json"), "w") as fh:
    json.dump(out, fh, indent=1)
    fh.write("\n")
