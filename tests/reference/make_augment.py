#!/usr/bin/python3
"""torchvision's own transforms on a few images with given parameters, as
the reference for mnistlab's augmentation (tests/test_augment.cpp):
RandomCrop's pad-then-crop, RandomAffine's affine (the tensor path:
affine_grid + grid_sample, nearest and bilinear, zero fill),
ElasticTransform (its own get_params on given uniform noise, then
elastic_transform), RandomHorizontalFlip's hflip and RandomErasing's erase.

Run by ctest as the fixture test ``make_augment``; by hand:

    /usr/bin/python3 tests/reference/make_augment.py --out build/reference

writes ``<out>/augment.json``: each case's input pixels (bytes), its
parameters and torchvision's output (floats in [0, 1]).
"""

import argparse
import json
import os

import torch
import torchvision.transforms.functional as F
from torchvision.transforms import ElasticTransform, InterpolationMode


def elastic_params(uniform_x, uniform_y, alpha, sigma, size):
    """ElasticTransform.get_params itself, its two torch.rand calls answered
    with the given uniform noise (the C++ side gets the same numbers)."""
    answers = [uniform_x.reshape(1, 1, *size), uniform_y.reshape(1, 1, *size)]
    real_rand = torch.rand
    torch.rand = lambda *args, **kwargs: answers.pop(0)
    try:
        displacement = ElasticTransform.get_params([alpha, alpha], [sigma, sigma], list(size))
    finally:
        torch.rand = real_rand
    assert not answers, "get_params drew another number of fields"
    return displacement


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out_dir = parser.parse_args().out
    os.makedirs(out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(7)
    cases = []
    # Not square, so rows and columns cannot be swapped unnoticed.
    for rows, cols in [(12, 10), (28, 28)]:
        pixels = torch.randint(0, 256, (rows, cols), generator=gen, dtype=torch.uint8)
        image = pixels.float().div(255).unsqueeze(0)  # ToTensor
        def case(kind, params, output):
            cases.append({"kind": kind, "rows": rows, "cols": cols, "pixels": pixels.flatten().tolist(),
                          "params": params, "output": output.flatten().tolist()})
        for padding, top, left in [(2, 0, 4), (3, 6, 1), (1, 1, 1)]:
            cropped = F.crop(F.pad(image, [padding]), top, left, rows, cols)
            case("crop", {"padding": padding, "top": top, "left": left}, cropped)
        for angle, tx, ty, scale, shear in [(90, 0, 0, 1, 0), (-90, 0, 0, 1, 0), (17.3, 2, -1, 1.1, 0),
                                            (-8.5, -3, 2, 0.87, 6.5), (0, 0, 0, 1.9, 0), (33, 1, 1, 1, -12)]:
            for mode in ["nearest", "bilinear"]:
                transformed = F.affine(image, angle=angle, translate=[tx, ty], scale=scale, shear=[shear, 0.0],
                                       interpolation=InterpolationMode(mode), fill=[0.0])
                case("affine", {"angle": angle, "translate_x": tx, "translate_y": ty, "scale": scale,
                                "shear_x": shear, "interpolation": mode}, transformed)
        # Kernels int(8 sigma + 1) must leave the reflect padding under the image size.
        for alpha, sigma in ([(8.0, 1.5), (30.0, 1.0), (20.0, 0.0)] if rows < 28 else [(50.0, 5.0), (34.0, 4.0)]):
            uniform_x = torch.rand((rows, cols), generator=gen)
            uniform_y = torch.rand((rows, cols), generator=gen)
            displacement = elastic_params(uniform_x, uniform_y, alpha, sigma, (rows, cols))
            transformed = F.elastic_transform(image, displacement, InterpolationMode.BILINEAR, fill=0)
            case("elastic", {"alpha": alpha, "sigma": sigma, "uniform_x": uniform_x.flatten().tolist(),
                             "uniform_y": uniform_y.flatten().tolist(),
                             "dx": displacement[0, :, :, 0].flatten().tolist(),
                             "dy": displacement[0, :, :, 1].flatten().tolist()}, transformed)
        case("hflip", {}, F.hflip(image))
        for top, left, height, width in [(1, 2, 5, 3), (0, 0, rows - 1, cols - 1)]:
            case("erase", {"top": top, "left": left, "height": height, "width": width},
                 F.erase(image.clone(), top, left, height, width, torch.tensor(0.0)))
    path = os.path.join(out_dir, "augment.json")
    with open(path, "w") as f:
        json.dump({"torchvision": __import__("torchvision").__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
