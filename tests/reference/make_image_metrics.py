#!/usr/bin/python3
"""PSNR and SSIM of a few image pairs, computed with PyTorch the way
pytorch_msssim computes SSIM (gaussian window 11, sigma 1.5, K1 0.01,
K2 0.03, data range 1, separable "valid" filtering with conv2d), as the
reference for mnistlab's image metrics (tests/test_image_metrics.cpp).

Run by ctest as the fixture test ``make_image_metrics``; by hand:

    /usr/bin/python3 tests/reference/make_image_metrics.py --out build/reference

writes ``<out>/image_metrics.json`` with each pair's pixels and its psnr/ssim.
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F


def gaussian_window(size=11, sigma=1.5):
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(x, y):
    g = gaussian_window()
    def blur(t):
        t = F.conv2d(t, g.view(1, 1, 1, -1))
        return F.conv2d(t, g.view(1, 1, -1, 1))
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_x, mu_y = blur(x), blur(y)
    sigma_x = blur(x * x) - mu_x ** 2
    sigma_y = blur(y * y) - mu_y ** 2
    sigma_xy = blur(x * y) - mu_x * mu_y
    cs = (2 * sigma_xy + c2) / (sigma_x + sigma_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (luminance * cs).mean().item()


def psnr(x, y):
    return (10 * torch.log10(1.0 / F.mse_loss(x, y))).item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pairs = []
    for h, w, noise in [(28, 28, 0.1), (28, 28, 0.5), (16, 20, 0.05), (28, 28, 1.0)]:
        clean = rng.random((h, w))
        clean[h // 4:h // 2, w // 4:3 * w // 4] = 1.0  # some structure besides noise
        noisy = clean + noise * rng.standard_normal((h, w))
        xc = torch.tensor(clean, dtype=torch.float64).view(1, 1, h, w)
        xn = torch.tensor(noisy, dtype=torch.float64).view(1, 1, h, w)
        pairs.append({"height": h, "width": w,
                      "image": np.float32(noisy).ravel().tolist(), "reference": np.float32(clean).ravel().tolist(),
                      "psnr": psnr(xn.float().double(), xc.float().double()),
                      "ssim": ssim(xn.float().double(), xc.float().double())})
    path = os.path.join(args.out, "image_metrics.json")
    os.makedirs(args.out, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump({"pairs": pairs}, f)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
