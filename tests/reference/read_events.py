#!/usr/bin/python3
"""Reads a TensorBoard event file back without TensorBoard and without any of
mnistlab's code, for tests/test_event_file.cpp:

- TFRecord framing, both CRCs of every record checked with python3-crc32c;
- every field of every message checked against TensorFlow's field numbers and
  wire types, typed below from tensorflow/core/util/event.proto and
  core/framework/{summary,histogram,tensor,tensor_shape}.proto, apart from
  proto/tensorboard.proto, so that a wrong number there fails here;
- the messages decoded with Debian's python3-protobuf from proto/tensorboard.proto
  compiled here by protoc --python_out (into a temporary folder);
- PNG images decoded with zlib: chunk CRCs, 8-bit gray or RGB, every pixel.

    /usr/bin/python3 tests/reference/read_events.py --proto proto/tensorboard.proto FILE

prints {"records": [...], "partial_tail": BYTES} as JSON, where partial_tail
counts the bytes of a partial last record (a killed writer's; TensorBoard
reads up to it). Exits 1 and says which record is wrong on a CRC mismatch,
a field TensorFlow does not have there, or an undecodable image.
"""

import argparse
import importlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import crc32c
from google.protobuf.message import DecodeError


class Corrupt(Exception):
    pass


def masked_crc(data):
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def split_records(blob):
    """[(offset, data)] of the whole records, and the bytes of a partial last one."""
    records, at = [], 0
    while at < len(blob):
        if len(blob) - at < 12:
            return records, len(blob) - at
        header = blob[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        if struct.unpack("<I", blob[at + 8:at + 12])[0] != masked_crc(header):
            raise Corrupt(f"record at byte {at}: length CRC mismatch")
        if len(blob) - at < 16 + length:
            return records, len(blob) - at
        data = blob[at + 12:at + 12 + length]
        if struct.unpack("<I", blob[at + 12 + length:at + 16 + length])[0] != masked_crc(data):
            raise Corrupt(f"record at byte {at}: data CRC mismatch")
        records.append((at, data))
        at += 16 + length
    return records, 0


# TensorFlow's schema, the messages and fields mnistlab writes:
# message -> {field number: (wire type, message inside or None)}.
VARINT, I64, LEN, I32 = 0, 1, 2, 5
TF_SCHEMA = {
    "Event": {1: (I64, None), 2: (VARINT, None), 3: (LEN, None), 5: (LEN, "Summary"), 10: (LEN, "SourceMetadata")},
    "SourceMetadata": {1: (LEN, None)},
    "Summary": {1: (LEN, "Summary.Value")},
    "Summary.Value": {1: (LEN, None), 2: (I32, None), 4: (LEN, "Summary.Image"), 5: (LEN, "HistogramProto"),
                      8: (LEN, "TensorProto"), 9: (LEN, "SummaryMetadata")},
    "Summary.Image": {1: (VARINT, None), 2: (VARINT, None), 3: (VARINT, None), 4: (LEN, None)},
    "HistogramProto": {1: (I64, None), 2: (I64, None), 3: (I64, None), 4: (I64, None), 5: (I64, None),
                       6: (LEN, None), 7: (LEN, None)},  # 6, 7: packed doubles
    "SummaryMetadata": {1: (LEN, "SummaryMetadata.PluginData"), 2: (LEN, None), 3: (LEN, None)},
    "SummaryMetadata.PluginData": {1: (LEN, None), 2: (LEN, None)},
    "TensorProto": {1: (VARINT, None), 2: (LEN, "TensorShapeProto"), 8: (LEN, None)},
    "TensorShapeProto": {2: (LEN, "TensorShapeProto.Dim")},
    "TensorShapeProto.Dim": {1: (VARINT, None), 2: (LEN, None)},
}


def read_varint(buf, at):
    value = shift = 0
    while at < len(buf):
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at
    raise Corrupt("a varint runs past the end of its message")


def check_wire(buf, message):
    at = 0
    while at < len(buf):
        key, at = read_varint(buf, at)
        field, wire = key >> 3, key & 7
        if TF_SCHEMA[message].get(field, (None,))[0] != wire:
            raise Corrupt(f"field {field} of wire type {wire} is not in TensorFlow's {message}")
        if wire == VARINT:
            _, at = read_varint(buf, at)
        elif wire in (I64, I32):
            at += 8 if wire == I64 else 4
        else:
            length, at = read_varint(buf, at)
            inner = TF_SCHEMA[message][field][1]
            if inner:
                check_wire(buf[at:at + length], inner)
            at += length
        if at > len(buf):
            raise Corrupt(f"field {field} of {message} runs past the end of its message")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


# PNG color types this reader decodes: gray (mnistlab's picture files) and
# RGB (TensorBoard images, as SummaryWriter.add_image writes a gray one).
CHANNELS = {0: 1, 2: 3}


def decode_png(data):
    """An 8-bit gray or RGB PNG's header fields and pixels, row-major with the
    channels of a pixel together (PNG spec: chunks, zlib, filters)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Corrupt("image: no PNG signature")
    at, ihdr, idat = 8, None, b""
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] != zlib.crc32(kind + body):
            raise Corrupt(f"image: PNG chunk {kind} CRC mismatch")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        at += 12 + length
    if ihdr is None:
        raise Corrupt("image: PNG without IHDR")
    width, height, depth, color, _, _, interlace = ihdr
    if depth != 8 or color not in CHANNELS or interlace != 0:
        raise Corrupt(f"image: PNG of depth {depth}, color type {color}, interlace {interlace}; "
                      "expected 8-bit gray or RGB, not interlaced")
    channels = CHANNELS[color]
    stride = width * channels
    raw = zlib.decompress(idat)
    if len(raw) != height * (stride + 1):
        raise Corrupt(f"image: {len(raw)} bytes of scanlines for {width}x{height}x{channels}")
    pixels, above = [], [0] * stride
    for r in range(height):
        line = raw[r * (stride + 1):(r + 1) * (stride + 1)]
        kind, row = line[0], list(line[1:])
        if kind > 4:
            raise Corrupt(f"image: PNG filter type {kind}")
        for i in range(stride):
            # a: the same channel of the pixel to the left; b: above; c: above a.
            left = i >= channels
            a, b, c = row[i - channels] if left else 0, above[i], above[i - channels] if left else 0
            predictor = (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]
            row[i] = (row[i] + predictor) & 0xFF
        pixels += row
        above = row
    return {"width": width, "height": height, "bit_depth": depth, "color_type": color, "interlace": interlace,
            "channels": channels, "pixels": pixels}


def value_json(v):
    kind = v.WhichOneof("value")
    out = {"tag": v.tag, "kind": kind}
    if v.HasField("metadata"):
        out["plugin_name"] = v.metadata.plugin_data.plugin_name
        out["plugin_content"] = v.metadata.plugin_data.content.hex()
    if kind == "simple_value":
        out["value"] = v.simple_value
    elif kind == "image":
        i = v.image
        out.update(width=i.width, height=i.height, colorspace=i.colorspace, png=decode_png(i.encoded_image_string))
    elif kind == "tensor":
        t = v.tensor
        out.update(dtype=t.dtype, has_shape=t.HasField("tensor_shape"), shape=[d.size for d in t.tensor_shape.dim],
                   strings=[s.decode("utf-8") for s in t.string_val])
    elif kind == "histo":
        h = v.histo
        out.update(min=h.min, max=h.max, num=h.num, sum=h.sum, sum_squares=h.sum_squares,
                   bucket_limit=list(h.bucket_limit), bucket=list(h.bucket))
    return out


def event_json(schema, offset, data):
    try:
        check_wire(data, "Event")
        event = schema.Event()
        event.ParseFromString(data)
        out = {"offset": offset, "end": offset + 16 + len(data), "wall_time": event.wall_time, "step": event.step}
        what = event.WhichOneof("what")
        if what == "file_version":
            out["file_version"] = event.file_version
        if event.HasField("source_metadata"):
            out["source_writer"] = event.source_metadata.writer
        elif what == "summary":
            out["values"] = [value_json(v) for v in event.summary.value]
        return out
    except (Corrupt, DecodeError) as e:
        raise Corrupt(f"record at byte {offset}: {e}")


def compile_schema(proto, protoc):
    proto = os.path.abspath(proto)
    with tempfile.TemporaryDirectory(prefix="read_events_") as out:
        subprocess.run([protoc, f"--proto_path={os.path.dirname(proto)}", f"--python_out={out}", proto], check=True)
        sys.path.insert(0, out)
        return importlib.import_module(os.path.splitext(os.path.basename(proto))[0] + "_pb2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proto", required=True, help="proto/tensorboard.proto")
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("file")
    args = parser.parse_args()
    schema = compile_schema(args.proto, args.protoc)
    with open(args.file, "rb") as f:
        blob = f.read()
    try:
        records, partial_tail = split_records(blob)
        events = [event_json(schema, offset, data) for offset, data in records]
    except Corrupt as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        sys.exit(1)
    json.dump({"records": events, "partial_tail": partial_tail}, sys.stdout)


if __name__ == "__main__":
    main()
