#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/: a few small valid inputs
and almost-valid ones (one thing wrong each), so the fuzzers start from
inputs that reach deep into each parser. Standard library only; the output is
committed, run this again after changing it:  python3 fuzz/make_corpus.py
"""
import gzip
import json
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


# ---- IDX: big-endian magic 0x00000803 (images) / 0x00000801 (labels), sizes, bytes
def idx_images(count, rows, cols, pixels=None):
    if pixels is None:
        pixels = bytes((i * 37) % 256 for i in range(count * rows * cols))
    return struct.pack(">IIII", 0x803, count, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx():
    imgs = idx_images(2, 4, 4)
    labels = idx_labels([3, 7, 0])
    write("idx", "images-2x4x4", imgs)
    write("idx", "images-2x4x4.gz", gz(imgs))
    write("idx", "images-1x28x28.gz", gz(idx_images(1, 28, 28)))
    write("idx", "labels-3", labels)
    write("idx", "labels-3.gz", gz(labels))
    write("idx", "labels-0", idx_labels([]))
    write("idx", "images-truncated", imgs[:-3])
    write("idx", "images-trailing-byte", imgs + b"\0")
    write("idx", "images-gz-truncated", gz(imgs)[:-6])
    write("idx", "images-0x0", idx_images(1, 0, 0, b""))
    write("idx", "labels-wrong-magic", struct.pack(">II", 0x802, 1) + b"\1")
    write("idx", "header-only", struct.pack(">I", 0x803))


# ---- model files: the presets and small networks using every layer kind
def model_file():
    models = os.path.join(HERE, "..", "models")
    for name in sorted(os.listdir(models)):
        if name.endswith(".model"):
            shutil.copy(os.path.join(models, name), os.path.join(OUT, "model_file", name))
    write("model_file", "tiny.model", "input 1 4 4\nconv 2 k=3 s=2 p=1\nbatchnorm\nrelu\nflatten\nlinear 3\n")
    write("model_file", "every-layer.model",
          "input 1 8 8 as image\n"
          "conv 4 k=3 p=1 bias=0\nbatchnorm eps=1e-3 momentum=0.2\nrelu as a\n"
          "maxpool k=2 s=2 p=0\nconvt 4 k=3 s=2 p=1 op=1\ntanh\nadd a\nconcat image\n"
          "dropout p=0.25\nsigmoid\nflatten\nlinear 16 in=320\nrelu\nlinear 10 bias=0\n")
    write("model_file", "residual.model",
          "input 3 6 6\nconv 8 k=1\nrelu as r\nconv 8 k=3 p=1\nadd r\nmaxpool k=3 s=3\nflatten\nlinear 2\n")
    write("model_file", "pool-upsample.model",
          "input 1 9 9 as image\nconv 4 k=3 p=1\navgpool k=3 s=2 p=1\nupsample scale=2 mode=bilinear\n"
          "conv 4 k=2\nupsample scale=3\navgpool k=2 s=3\nglobalavgpool\nflatten\nlinear 8\n"
          "batchnorm1d eps=1e-3 momentum=0.2\nlinear 3\n")
    write("model_file", "bad-linear-in.model", "input 1 28 28\nflatten\nlinear 10 in=100\n")
    write("model_file", "bad-upsample-mode.model", "input 1 4 4\nupsample mode=cubic\n")
    write("model_file", "bad-concat.model", "input 1 4 4\nconv 2 k=1\nconcat nowhere\n")
    write("model_file", "kernel-too-big.model", "input 1 2 2\nconv 1 k=5\n")
    write("model_file", "no-input.model", "conv 1 k=1\n")


# ---- safetensors: u64 LE header length, JSON header (keys sorted, data offsets), data
def crc32c(data):
    """CRC-32C (Castagnoli, reflected 0x82f63b78), bit by bit: crc32c(b"123456789") == 0xe3069283."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def safetensors(tensors, metadata=None, pad=True, crc=False):
    """crc: the data's CRC-32C in the metadata, as every file mnistlab writes has (PyTorch's have none)."""
    header, blobs, offset = {}, [], 0
    for key in sorted(tensors):
        dtype, shape, data = tensors[key]
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt", **(metadata or {})}
    if crc:
        header["__metadata__"]["mnistlab.data_crc32c"] = "%08x" % crc32c(b"".join(blobs))
    return raw_safetensors(header, b"".join(blobs), pad)


def raw_safetensors(header, data, pad=True):
    text = json.dumps(header, separators=(",", ":"))
    if pad:
        text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


def many_keys(n):
    """n one-float tensors: a header near the 16 MiB limit for n = 200,000 (14 MB), too big to commit;
    scripts/fuzz.sh makes it (python3 fuzz/make_corpus.py --many-keys DIR) and runs it once per run."""
    header = {"t%06d" % i: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i in range(n)}
    return raw_safetensors(header, struct.pack("<%df" % n, *[0.01 * i for i in range(n)]))


def f32(shape, start=0.0):
    n = 1
    for d in shape:
        n *= d
    return ("F32", shape, struct.pack("<%df" % n, *[start + 0.01 * i for i in range(n)]))


def i64(value):
    return ("I64", [], struct.pack("<q", value))


# The networks of fuzz/safetensors.cpp (linear 3) and fuzz/run_folder.cpp (linear 10):
# input 1 4 4 / conv 2 k=3 s=2 p=1 / batchnorm / relu / flatten / linear N
def state_dict(classes):
    return {"0.weight": f32([2, 1, 3, 3]), "0.bias": f32([2]),
            "1.weight": f32([2], 1.0), "1.bias": f32([2]), "1.running_mean": f32([2]),
            "1.running_var": f32([2], 1.0), "1.num_batches_tracked": i64(5),
            "4.weight": f32([classes, 8]), "4.bias": f32([classes])}


def safetensors_corpus():
    good = state_dict(3)
    write("safetensors", "state-dict", safetensors(good))
    write("safetensors", "state-dict-unpadded", safetensors(good, pad=False))
    write("safetensors", "with-metadata", safetensors(good, {"mnistlab.epoch": "3"}))
    write("safetensors", "extra-key", safetensors({**good, "9.weight": f32([1])}))
    write("safetensors", "missing-key", safetensors({k: v for k, v in good.items() if k != "4.bias"}))
    write("safetensors", "wrong-shape", safetensors({**good, "4.bias": f32([4])}))
    write("safetensors", "f16", safetensors({**good, "0.bias": ("F16", [2], b"\0\x3c\0\x3c")}))
    write("safetensors", "i64-weights", safetensors({**good, "0.bias": ("I64", [2], struct.pack("<2q", 1, -1))}))
    write("safetensors", "truncated", safetensors(good)[:-5])
    write("safetensors", "header-length-too-big", struct.pack("<Q", 1 << 40) + b"{}")
    write("safetensors", "empty-header", struct.pack("<Q", 2) + b"{}")
    write("safetensors", "with-crc32c", safetensors(good, crc=True))
    bad_crc = bytearray(safetensors(good, crc=True))
    bad_crc[-1] ^= 1
    write("safetensors", "crc32c-mismatch", bytes(bad_crc))
    write("safetensors", "metadata-number", raw_safetensors({"__metadata__": {"format": "pt", "epoch": 3}}, b""))
    # Layouts the format forbids: the tensors must tile the data section exactly.
    bias = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    write("safetensors", "same-bytes", raw_safetensors({"0.bias": bias, "1.bias": bias}, f32([2])[2]))
    write("safetensors", "gap", raw_safetensors({"0.bias": {**bias, "data_offsets": [4, 12]}}, f32([3])[2]))
    write("safetensors", "trailing-bytes", safetensors(good) + b"\0\0\0\0")


# ---- PNG: signature, IHDR, IDAT (zlib of filtered rows), IEND
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, depth=8, color=0, pixels=None, extra=b""):
    channels = {0: 1, 2: 3, 4: 2, 6: 4, 3: 1}[color]
    row_bytes = (width * channels * depth + 7) // 8
    if pixels is None:
        pixels = bytes((x * 9 + y * 5) % 256 for y in range(height) for x in range(row_bytes))
    raw = b"".join(b"\0" + pixels[y * row_bytes:(y + 1) * row_bytes] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9)) +
            chunk(b"IEND", b""))


def png_corpus():
    write("png", "gray-28x28.png", png(28, 28))
    write("png", "gray-28x28-16bit.png", png(28, 28, depth=16))
    write("png", "gray-28x28-1bit.png", png(28, 28, depth=1))
    write("png", "gray-4x4.png", png(4, 4))
    write("png", "gray-28x28-gamma.png", png(28, 28, extra=chunk(b"gAMA", struct.pack(">I", 45455))))
    write("png", "rgb-4x4.png", png(4, 4, color=2))
    write("png", "gray-alpha-4x4.png", png(4, 4, color=4))
    write("png", "palette-4x4.png", png(4, 4, color=3, extra=chunk(b"PLTE", bytes(range(48)))))
    write("png", "truncated.png", png(28, 28)[:60])
    write("png", "bad-crc.png", png(4, 4)[:-1] + b"\0")


# ---- run folders: run.json, "\n#resume.safetensors\n", resume.safetensors
SEPARATOR = b"\n#resume.safetensors\n"


def run_json(**changes):
    args = {"task": "classification", "model": "tiny.model", "dataset": "mnist", "data_dir": "data/mnist", "out": "runs/tiny",
            "epochs": 2, "batch_size": 8, "optimizer": "adam", "lr": 0.001, "momentum": 0.0,
            "nesterov": False, "weight_decay": -1.0, "lr_schedule": "none", "step_size": 5, "gamma": 0.1,
            "warmup_epochs": 0.0, "early_stop_patience": 0, "early_stop_metric": "",
            "val_split": 0.0, "seed": 0, "threads": 1, "train_limit": 0, "test_limit": 0, "log_every_steps": 0,
            "augment": "", "label_smoothing": 0.0, "tta": False, "tta_crops": 0}
    args.update(changes)
    return json.dumps(args, indent=2).encode()


def checkpoint_tensors(buffers):
    tensors = state_dict(10)
    for key in list(tensors):
        if "running" in key or "num_batches" in key:
            continue
        for b in buffers:
            tensors["optimizer.%s.%s" % (key, b)] = f32(tensors[key][1])
    return tensors


def checkpoint_metadata(steps=5, **progress_changes):
    progress = {"epoch": 1, "batch": 0, "sums": [0.0, 0.0], "seconds": 0.5, "best_epoch": 1,
                "best_metric": 0.3, "history": [{"epoch": 1, "train": [2.2, 0.15], "eval": [2.1, 0.3],
                                                 "seconds": 0.5, "images_per_second": 80.0}]}
    progress.update(progress_changes)
    return {"mnistlab.optimizer_steps": str(steps), "mnistlab.model_training_steps": str(steps),
            "mnistlab.progress": json.dumps(progress, separators=(",", ":"))}


def checkpoint(buffers=("exp_avg", "exp_avg_sq"), steps=5, **progress_changes):
    return safetensors(checkpoint_tensors(buffers), checkpoint_metadata(steps, **progress_changes), crc=True)


def run_folder():
    write("run_folder", "adam-epoch1", run_json() + SEPARATOR + checkpoint())
    # optimizer_steps = epochs done x batches per epoch + batch; fuzz/run_folder.cpp trains on 40 images
    write("run_folder", "adam-mid-epoch", run_json(epochs=3) + SEPARATOR +
          checkpoint(steps=7, batch=2, sums=[4.4, 3]))
    write("run_folder", "sgd-momentum", run_json(optimizer="sgd", momentum=0.9, nesterov=True, lr=0.01) + SEPARATOR +
          checkpoint(buffers=("momentum_buffer",)))
    write("run_folder", "sgd-no-buffer", run_json(optimizer="sgd", lr=0.01) + SEPARATOR + checkpoint(buffers=()))
    write("run_folder", "adamw-cosine-val", run_json(optimizer="adamw", lr_schedule="cosine", val_split=0.25,
                                                     early_stop_patience=1, early_stop_metric="loss",
                                                     warmup_epochs=0.5) + SEPARATOR + checkpoint(steps=4))
    write("run_folder", "onecycle-step-limits", run_json(lr_schedule="onecycle", train_limit=20, test_limit=5) +
          SEPARATOR + checkpoint(steps=0, epoch=0, best_epoch=0, history=[]))
    write("run_folder", "step-schedule", run_json(lr_schedule="step", step_size=1, gamma=0.5) + SEPARATOR + checkpoint())
    write("run_folder", "finished", run_json(epochs=1) + SEPARATOR + checkpoint())
    write("run_folder", "augment-smoothing", run_json(augment="crop=1,degrees=5,erase=0.5", label_smoothing=0.1,
                                                      log_every_steps=2) + SEPARATOR + checkpoint())
    write("run_folder", "elastic-tta-crops", run_json(augment="elastic=20:2", tta_crops=1) + SEPARATOR + checkpoint())
    args = json.loads(run_json())
    del args["test_limit"]
    write("run_folder", "missing-field", json.dumps(args).encode() + SEPARATOR + checkpoint())
    write("run_folder", "no-progress", run_json() + SEPARATOR + safetensors(state_dict(10)))
    write("run_folder", "adam-exp-avg-only", run_json() + SEPARATOR + checkpoint(buffers=("exp_avg",)))
    partial = checkpoint_tensors(("exp_avg", "exp_avg_sq"))
    del partial["optimizer.4.bias.exp_avg"]
    write("run_folder", "partial-buffer", run_json() + SEPARATOR + safetensors(partial, checkpoint_metadata(), crc=True))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--many-keys"]:
        assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value
        with open(os.path.join(sys.argv[2], "many-keys-200000"), "wb") as f:
            f.write(many_keys(200000))
        sys.exit(0)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "model_file"))
    idx()
    model_file()
    safetensors_corpus()
    png_corpus()
    run_folder()
    for target in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, target))
        size = sum(os.path.getsize(os.path.join(OUT, target, f)) for f in files)
        print("%-12s %3d files, %6d bytes" % (target, len(files), size))
