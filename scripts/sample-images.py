#!/usr/bin/python3
"""Writes two test images to try `predict` and `denoise apply` on, from the
datasets scripts/get-data.sh put in data/:

    digit.png  the first MNIST test image (a 7), 8-bit grayscale, 28x28
    noisy.png  the first Fashion-MNIST test image (an ankle boot) with Gaussian
               noise of sigma 0.3 (seed 0), clipped to [0, 1]

    /usr/bin/python3 scripts/sample-images.py [--data DIR] [--out DIR]
"""

import argparse
import gzip
import os
import struct
import sys

import cv2
import numpy as np


def first_test_image(folder):
    for name in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
                magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
                if magic != 0x803 or count < 1:
                    sys.exit(f"{path}: not an IDX file of images")
                return np.frombuffer(f.read(rows * cols), dtype=np.uint8).reshape(rows, cols)
    sys.exit(f"{folder}: no t10k-images-idx3-ubyte[.gz]; run scripts/get-data.sh first")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data", help="the folder with mnist/ and fashion-mnist/ (default: data)")
    parser.add_argument("--out", default=".", help="where to write digit.png and noisy.png (default: here)")
    args = parser.parse_args()
    digit = first_test_image(os.path.join(args.data, "mnist"))
    boot = first_test_image(os.path.join(args.data, "fashion-mnist")).astype(np.float32) / 255.0
    noisy = np.clip(boot + np.random.default_rng(0).normal(0.0, 0.3, boot.shape), 0.0, 1.0)
    for name, image in (("digit.png", digit), ("noisy.png", np.round(noisy * 255.0).astype(np.uint8))):
        path = os.path.join(args.out, name)
        if not cv2.imwrite(path, image):
            sys.exit(f"{path}: cannot write")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
