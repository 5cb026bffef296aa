"""The course's networks as PyTorch nn.Sequential, shared by the reference
script (tests/reference/make_reference.py) and the benchmarks (bench/).
They mirror models/*.model layer by layer, so state_dict keys agree."""

import torch
from torch import nn

NUM_CLASSES = 10
VGG_BN_BLOCKS = [(32, 1), (32, 2), (32, 1), (64, 2), (64, 1), (64, 1),
                 (128, 2), (128, 1), (128, 1), (256, 2), (512, 1), (512, 1),
                 (512, 1), (1024, 2), (1024, 1), (1024, 1)]
EXPECTED_PARAMS = {"baseline": 6_444_170, "vgg-bn": 30_292_490, "dae": 4_945, "fast": 29_290}


def baseline():
    """models/baseline.model: the course's default network."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.Flatten(),
        nn.Linear(25088, 256), nn.ReLU(),
        nn.Linear(256, NUM_CLASSES),
    )


def vgg_bn():
    """models/vgg-bn.model: 16 Conv2d+BatchNorm2d+ReLU blocks, 28 -> 14 -> 7 -> 4 -> 2 -> 1."""
    layers = []
    cin = 1
    for cout, stride in VGG_BN_BLOCKS:
        layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=True),
                   nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    layers += [nn.Flatten(), nn.Linear(1024, NUM_CLASSES)]
    return nn.Sequential(*layers)


def dae():
    """models/dae.model: strided Conv2d encoder 28 -> 14 -> 7, ConvTranspose2d decoder back to 28."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
    )


def fast():
    """models/fast.model: three Conv2d+BatchNorm2d+ReLU+MaxPool2d blocks (28 -> 14 -> 7 -> 3), one Linear."""
    layers = []
    cin = 1
    for cout in (16, 32, 64):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    layers += [nn.Flatten(), nn.Linear(64 * 3 * 3, NUM_CLASSES)]
    return nn.Sequential(*layers)


class DaeUnet(nn.Module):
    """models/dae-unet.model: modules named by their line index, so the
    state_dict keys are the model file's (0, 2, 4, 7, 10); the joins are
    torch.cat in forward."""

    def __init__(self):
        super().__init__()
        self.add_module("0", nn.Conv2d(1, 16, 3, stride=2, padding=1))
        self.add_module("2", nn.Conv2d(16, 16, 3, stride=2, padding=1))
        self.add_module("4", nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1, output_padding=1))
        self.add_module("7", nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1))
        self.add_module("10", nn.Conv2d(17, 1, 3, padding=1))

    def forward(self, image):
        m = self._modules
        down14 = torch.relu(m["0"](image))
        x = torch.relu(m["2"](down14))
        x = torch.relu(m["4"](x))
        x = torch.cat([x, down14], 1)
        x = torch.relu(m["7"](x))
        x = torch.cat([x, image], 1)
        return torch.sigmoid(m["10"](x))


MODELS = {"baseline": baseline, "vgg-bn": vgg_bn, "dae": dae, "fast": fast}
