"""IDX files (raw or .gz) as numpy arrays, for the PyTorch side of bench/."""

import gzip
import os
import struct
import sys

import numpy as np

FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _open_idx(data_dir, name):
    for path, opener in ((os.path.join(data_dir, name), open),
                         (os.path.join(data_dir, name + ".gz"), gzip.open)):
        if os.path.exists(path):
            with opener(path, "rb") as f:
                return path, f.read()
    sys.exit(f"{os.path.join(data_dir, name)}[.gz] not found (scripts/setup.sh installs the datasets into data/)")


def _read_idx(data_dir, name, magic, ndim):
    path, blob = _open_idx(data_dir, name)
    if len(blob) < 4 + 4 * ndim:
        sys.exit(f"{path}: file too short for an IDX header")
    (got,) = struct.unpack_from(">I", blob, 0)
    if got != magic:
        sys.exit(f"{path}: magic number 0x{got:08x}, expected 0x{magic:08x}")
    dims = struct.unpack_from(">" + "I" * ndim, blob, 4)
    count = int(np.prod(dims))
    start = 4 + 4 * ndim
    if len(blob) - start != count:
        sys.exit(f"{path}: {len(blob) - start} data bytes, header says {count}")
    return np.frombuffer(blob, dtype=np.uint8, offset=start).reshape(dims)


def load_split(data_dir, train):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of the training or test split."""
    image_name, label_name = FILES[train]
    images = _read_idx(data_dir, image_name, 0x00000803, 3)
    labels = _read_idx(data_dir, label_name, 0x00000801, 1)
    if images.shape[0] != labels.shape[0]:
        sys.exit(f"{data_dir}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels
