"""The safetensors format in numpy alone (no torch), for the reference scripts:
write {name: array} (safetensors_bytes, write_atomic) and read it back with an
independent parser (read_safetensors)."""

import json
import os
import struct
import tempfile

import numpy as np

DTYPES = {  # numpy dtype -> safetensors dtype
    np.dtype("<f4"): "F32",
    np.dtype("<i8"): "I64",
    np.dtype("<f2"): "F16",
    np.dtype("<f8"): "F64",
}


def safetensors_bytes(tensors, metadata, raw_dtypes=None):
    """Serialise {name: numpy array} in the safetensors format; raw_dtypes
    {name: dtype} writes those arrays' bytes as is under that dtype (BF16,
    which numpy lacks, as the uint16 bit patterns)."""
    raw_dtypes = raw_dtypes or {}
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        arr = tensors[name]
        dt = arr.dtype.newbyteorder("<")
        if dt not in DTYPES and name not in raw_dtypes:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype=dt).tobytes()
        header[name] = {
            "dtype": raw_dtypes.get(name) or DTYPES[dt],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def write_atomic(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".baseline.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_safetensors(path):
    """Independent reader: parse the file back with struct/json/frombuffer."""
    np_types = {"F32": "<f4", "I64": "<i8"}
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    assert n % 8 == 0, "header length not a multiple of 8"
    assert 8 + n <= len(blob), "header runs past end of file"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n:]
    out = {}
    end_max = 0
    spans = []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = np.dtype(np_types[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == count * dt.itemsize, f"{name}: size mismatch"
        assert 0 <= begin <= end <= len(data), f"{name}: offsets out of range"
        out[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
        spans.append((begin, end, name))
        end_max = max(end_max, end)
    assert end_max == len(data), "trailing bytes after the last tensor"
    spans.sort()
    pos = 0
    for begin, end, name in spans:  # contiguous, no overlap, sorted by name
        assert begin == pos, f"{name}: gap or overlap at {begin}"
        pos = end
    assert [s[2] for s in spans] == sorted(header), "data not in name order"
    return out, meta

