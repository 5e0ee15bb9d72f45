#!/usr/bin/python3
"""Reference values for the real-data tests (Fashion-MNIST IDX and emoji-datasource).

Run from stages/load after scripts/fetch-data.sh:
    /usr/bin/python3 testdata/gen_realdata_reference.py ../../data > testdata/realdata_reference.json
"""
import base64, gzip, json, os, sys
import numpy as np
from PIL import Image
import torchvision.transforms as T

data = sys.argv[1]
out = {}

def idx(path):
    b = gzip.open(path).read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)

fm = os.path.join(data, "fashion-mnist")
ti, tl = idx(fm + "/train-images-idx3-ubyte.gz"), idx(fm + "/train-labels-idx1-ubyte.gz")
vi, vl = idx(fm + "/t10k-images-idx3-ubyte.gz"), idx(fm + "/t10k-labels-idx1-ubyte.gz")
labels = np.concatenate([tl, vl])
images = np.concatenate([ti, vi])
out["fashion_mnist"] = {
    "per_class": [int((labels == c).sum()) for c in range(10)],
    # first two images of class 0 and of class 5 (pool order: train file then t10k), stored as-is at base 28
    "class0_first": [base64.b64encode(images[np.where(labels == 0)[0][k]].tobytes()).decode() for k in range(2)],
    "class5_first": [base64.b64encode(images[np.where(labels == 5)[0][k]].tobytes()).decode() for k in range(2)],
    # Resize(32) of the first class-0 image as RGB (PIL bilinear upsampling)
    "class0_first_base32": base64.b64encode(np.asarray(T.Resize(32)(Image.fromarray(images[np.where(labels == 0)[0][0]]).convert("RGB"))).tobytes()).decode(),
}

em = json.load(open(os.path.join(data, "emoji", "google", "package", "emoji.json")))
both = [e for e in sorted(em, key=lambda e: e["sort_order"]) if e.get("has_img_google") and e.get("has_img_twitter")]
first = both[0]
imgs = []
for v in ["google", "twitter"]:
    im = Image.open(os.path.join(data, "emoji", v, "package", "img", v, "64", first["image"])).convert("RGBA")
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, im).convert("RGB")
    imgs.append(base64.b64encode(np.asarray(T.Compose([T.Resize(32), T.CenterCrop(32)])(rgb)).tobytes()).decode())
out["emoji"] = {"classes": len(both), "first_short_name": first["short_name"], "first_image": first["image"],
                "train_first": both[0]["short_name"], "test_first": both[len(both) // 2]["short_name"],
                "first_base32": imgs}
json.dump(out, sys.stdout)
print()
