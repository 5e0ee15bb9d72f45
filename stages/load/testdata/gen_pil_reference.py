#!/usr/bin/python3
"""Reference images and outputs from Pillow for stages/load's decode and resize ports.

Run from stages/load:  /usr/bin/python3 testdata/gen_pil_reference.py
Writes testdata/pil/*.{png,jpg,gif} and testdata/pil_reference.json (base64 raw RGB bytes).
"""
import base64, json, os, sys
import numpy as np
from PIL import Image
import PIL
import torchvision.transforms as T

here = os.path.dirname(os.path.abspath(__file__))
outdir = os.path.join(here, "pil")
os.makedirs(outdir, exist_ok=True)
rng = np.random.RandomState(1234)

def pattern(w, h, noise=40):
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = ((x * 7 + y * 13) % 256)
    a = np.stack([r, g, b], -1).astype(np.int32) + rng.randint(-noise, noise + 1, size=(h, w, 3))
    return np.clip(a, 0, 255).astype(np.uint8)

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()

out = {"pillow": PIL.__version__, "images": [], "resize": [], "center": [], "crop_resize": []}

# Decoding: file -> PIL convert('RGB') bytes.
def add_file(name, img, **save):
    p = os.path.join(outdir, name)
    img.save(p, **save)
    rgb = np.asarray(Image.open(p).convert("RGB"))
    out["images"].append({"file": "pil/" + name, "w": rgb.shape[1], "h": rgb.shape[0], "rgb": b64(rgb)})

src = pattern(37, 23)
add_file("rgb.png", Image.fromarray(src))
add_file("grey.png", Image.fromarray(src[:, :, 0]))
add_file("palette.png", Image.fromarray(src).quantize(colors=16))
rgba = np.concatenate([src, rng.randint(0, 256, size=(23, 37, 1)).astype(np.uint8)], -1)
add_file("rgba.png", Image.fromarray(rgba, "RGBA"))
add_file("la.png", Image.fromarray(rgba[:, :, [0, 3]], "LA"))
grey16 = (rng.randint(0, 400, size=(23, 37))).astype(np.uint16)
add_file("grey16.png", Image.fromarray(grey16.astype(np.int32), "I").convert("I;16"))
add_file("anim.gif", Image.fromarray(src).quantize(colors=32))
smooth = pattern(61, 45, noise=6)
add_file("q420.jpg", Image.fromarray(smooth), quality=92, subsampling=2)
add_file("q422.jpg", Image.fromarray(smooth), quality=92, subsampling=1)
add_file("q444.jpg", Image.fromarray(smooth), quality=92, subsampling=0)
add_file("grey.jpg", Image.fromarray(smooth[:, :, 1]), quality=92)
add_file("cmyk.jpg", Image.fromarray(smooth).convert("CMYK"), quality=95)

# Resampling on a lossless source (bytes identical in Go and PIL).
big = pattern(97, 71)
Image.fromarray(big).save(os.path.join(outdir, "big.png"))
out["resize_src"] = {"file": "pil/big.png", "w": 97, "h": 71}
for (w, h) in [(32, 24), (50, 37), (97, 71), (200, 150), (13, 71), (97, 9), (1, 1), (60, 71)]:
    r = np.asarray(Image.fromarray(big).resize((w, h), Image.BILINEAR))
    out["resize"].append({"w": w, "h": h, "rgb": b64(r)})
# torchvision Resize(base) + CenterCrop(base) (what the load stage stores).
for base in [16, 32, 40, 71, 80]:
    t = T.Compose([T.Resize(base), T.CenterCrop(base)])
    r = np.asarray(t(Image.fromarray(big)))
    out["center"].append({"base": base, "rgb": b64(r)})
    rt = np.asarray(t(Image.fromarray(big.transpose(1, 0, 2).copy())))
    out["center"].append({"base": base, "transposed": True, "rgb": b64(rt)})
# crop then resize (RandomResizedCrop's resized_crop with fixed parameters).
import torchvision.transforms.functional as F
for (top, left, hh, ww, size) in [(3, 5, 40, 50, 24), (0, 0, 71, 97, 32), (10, 20, 30, 12, 40), (60, 90, 11, 7, 5)]:
    r = np.asarray(F.resized_crop(Image.fromarray(big), top, left, hh, ww, [size, size], T.InterpolationMode.BILINEAR))
    out["crop_resize"].append({"top": top, "left": left, "h": hh, "w": ww, "size": size, "rgb": b64(r)})

json.dump(out, open(os.path.join(here, "pil_reference.json"), "w"))
print("ok", PIL.__version__, file=sys.stderr)
