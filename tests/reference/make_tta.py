#!/usr/bin/python3
"""Test-time augmentation with PyTorch: the mean of the softmax of each image
and of its horizontal flip (torch.flip(x, [-1]), the width axis), and of
torchvision's FiveCrop and TenCrop of the image zero-padded by P, on a tiny
network: the reference for mnistlab's evaluate(..., tta) (tests/test_tta.cpp).

Run by ctest as the fixture test ``make_tta``; by hand:

    /usr/bin/python3 tests/reference/make_tta.py --out build/reference

writes ``<out>/tta.safetensors`` holding

    0.weight 0.bias 3.weight 3.bias   the network's state_dict (TINY below)
    pixels      F32 [N,28,28]   byte values 0..255 (the images mnistlab reads, /255)
    labels      I64 [N]
    probs       F32 [N,10]      mean of softmax(image) and softmax(flipped image)
    tta_loss, tta_acc           -log probs[label] and argmax accuracy, means over N
    plain_loss, plain_acc       the same without flips (nn.CrossEntropyLoss)
    five2_probs, five2_loss, five2_acc   FiveCrop(28) of F.pad(image, 2), mean softmax of the five
    ten1_probs, ten1_loss, ten1_acc      TenCrop(28) of F.pad(image, 1): the five and their flips
    wide.*, wide_pixels, wide_five3_probs, wide_ten2_probs
                the same crops (padding 3 and 2) on 12x20 images and a network for them (WIDE)

The labels are the flipped-and-averaged argmax for the first images and
random for the rest, and with and without flips the argmax differs on some
image, so both accuracies are informative and tell the two apart.
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
import torchvision.transforms.functional as TF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import safetensors_bytes, write_atomic  # noqa: E402

COUNT = 12
TINY = "input 1 28 28 / conv 3 k=3 p=1 / relu / flatten / linear 10"  # the model file, line by line
WIDE = "input 1 12 20 / conv 2 k=3 p=1 / relu / flatten / linear 10"


def tiny():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 28 * 28, 10))


def crop_probs(model, x, padding, crop):
    """Mean softmax over torchvision's five_crop or ten_crop of x zero-padded by padding, at x's size."""
    views = crop(F.pad(x, [padding] * 4), list(x.shape[-2:]))
    return sum(F.softmax(model(v).double(), dim=1) for v in views) / len(views)


def wide_crops():
    """FiveCrop and TenCrop on images wider than tall (12x20, two channels
    after the first layer), so rows and columns cannot be mixed up unseen:
    the network's tensors as "wide.<key>", its images and mean probabilities."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 12 * 20, 10))
    model = model.float().eval()
    with torch.no_grad():
        model[3].weight.mul_(20)
    pixels = torch.randint(0, 256, (COUNT, 12, 20)).float()
    x = (pixels / 255).unsqueeze(1)
    out = {"wide." + k: v.detach() for k, v in model.state_dict().items()}
    out["wide_pixels"] = pixels
    with torch.no_grad():
        for name, padding, crop in [("five3", 3, TF.five_crop), ("ten2", 2, TF.ten_crop)]:
            out["wide_" + name + "_probs"] = crop_probs(model, x, padding, crop).float()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(3)
    model = tiny().float().eval()
    with torch.no_grad():
        model[3].weight.mul_(20)  # confident enough that a flip changes the answer
    pixels = torch.randint(0, 256, (COUNT, 28, 28)).float()
    pixels[:, :, :10] = (pixels[:, :, :10] * 0.3).floor()  # darker on the left: no image is its own mirror
    x = (pixels / 255).unsqueeze(1)
    with torch.no_grad():
        plain = F.softmax(model(x).double(), dim=1)
        flipped = F.softmax(model(torch.flip(x, [-1])).double(), dim=1)
    probs = (plain + flipped) / 2
    labels = torch.randint(0, 10, (COUNT,))
    labels[:COUNT // 2] = probs[:COUNT // 2].argmax(1)
    assert (plain.argmax(1) != probs.argmax(1)).any(), "flips change no answer; choose another seed"

    crops = {}
    with torch.no_grad():
        for name, padding, crop in [("five2", 2, TF.five_crop), ("ten1", 1, TF.ten_crop)]:
            mean = crop_probs(model, x, padding, crop)
            crops[name + "_probs"] = mean.float()
            crops[name + "_loss"] = -mean[torch.arange(COUNT), labels].log().mean().float().reshape(1)
            crops[name + "_acc"] = (mean.argmax(1) == labels).double().mean().float().reshape(1)
    wide = wide_crops()
    tta_loss = -probs[torch.arange(COUNT), labels].log().mean()
    plain_loss = F.cross_entropy(torch.log(plain), labels)
    out = {k: v.detach() for k, v in model.state_dict().items()}
    out.update({
        "pixels": pixels, "labels": labels, "probs": probs.float(),
        "tta_loss": tta_loss.float().reshape(1),
        "tta_acc": (probs.argmax(1) == labels).double().mean().float().reshape(1),
        "plain_loss": plain_loss.float().reshape(1),
        "plain_acc": (plain.argmax(1) == labels).double().mean().float().reshape(1),
    })
    out.update(crops)
    out.update(wide)
    tensors = {k: np.array(v.cpu().numpy(), order="C", copy=True) for k, v in out.items()}
    path = os.path.join(args.out, "tta.safetensors")
    write_atomic(path, safetensors_bytes(tensors, {
        "about": "mnistlab PyTorch reference: test-time flips and crops on " + TINY,
        "torch_version": torch.__version__}))
    print(f"wrote {path}: tta loss {tta_loss.item():.6f} acc {tensors['tta_acc'][0]:.4f}, "
          f"plain loss {plain_loss.item():.6f} acc {tensors['plain_acc'][0]:.4f}")


if __name__ == "__main__":
    main()
