#!/usr/bin/python3
"""Checks an event file of mnistlab's against what PyTorch's SummaryWriter
makes of the same calls, field by field, for tests/test_summary_writer_parity.cpp.

    /usr/bin/python3 tests/reference/summary_writer_messages.py \\
        --events FILE --calls CALLS.json [--protoc protoc]

CALLS.json is {"calls": [...]}, each call one of
  {"kind": "scalar", "tag", "step", "value"}
  {"kind": "image", "tag", "step", "width", "height", "pixels": [8-bit gray, row-major]}
  {"kind": "text", "tag", "step", "text"}
  {"kind": "histogram", "tag", "step", "values": [float32 values]}
in the order mnistlab wrote them. Each becomes SummaryWriter.add_scalar,
add_image (a uint8 tensor of shape (1, height, width), CHW as add_image
takes by default), add_text or add_histogram (a float32 tensor, bins
"tensorflow" by default) of Debian's python3-torch (PyTorch 1.13), whose
torch.utils.tensorboard.summary builds the Summary messages.

torch.utils.tensorboard imports its message classes and its file writer
from the `tensorboard` package, which Debian lacks. This script serves them
itself: the messages compiled by protoc from tensorboard_messages.proto
(TensorBoard's field numbers, typed apart from proto/tensorboard.proto), an
EventFileWriter that keeps the events SummaryWriter hands it, and inert
classes for what the import names but these calls never build (graphs,
projector, PR curves). One line of PyTorch 1.13 fails on numpy 1.24 and is
let through (let_make_histogram_run_on_numpy_1_24) with numpy 1.23's meaning.

The file's records are read with read_events.py's TFRecord reader (both
CRCs) and decoded with the same compiled messages, then compared with
SummaryWriter's events field by field, every field of the schema, set or
not; a field that TensorBoard's schema lacks is a difference too. Apart:
- wall_time, which the clock sets;
- encoded_image_string: PIL's PNG bytes are not libpng's, so both PNGs are
  decoded and their size, bit depth, color type, interlacing and pixels
  compared;
- HistogramProto.sum_squares: PyTorch takes values.dot(values), BLAS's
  ddot, whose order of additions depends on the BLAS library and the CPU
  (OpenBLAS's kernels differ by instruction set), so it is compared to a
  relative 1e-12 (the rounding of a sum of n squares is below n * 2^-53,
  1e-13 for the 1000-odd values of a test; orders differ by ~1e-15).
  HistogramProto.sum (numpy's pairwise summation) must be equal.

Prints how many records matched; exits 1 listing every difference.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import types
import warnings

from google.protobuf.descriptor import FieldDescriptor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_events import Corrupt, decode_png, split_records  # noqa: E402

SUM_SQUARES_TOLERANCE = 1e-12  # relative; see the docstring
# TensorBoard's EventFileWriter (tensorboard/summary/writer/event_file_writer.py,
# 2.11 and later) names itself in the first event.
TENSORBOARD_WRITER = "tensorboard.summary.writer.event_file_writer"
# The one difference by design: mnistlab's file names mnistlab as its writer.
MNISTLAB_WRITER = "mnistlab"


def compile_messages(protoc, out):
    proto = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tensorboard_messages.proto")
    subprocess.run([protoc, f"--proto_path={os.path.dirname(proto)}", f"--python_out={out}", proto], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tensorboard_messages_pb2")


class Inert:
    """A class torch.utils.tensorboard imports but these calls never make."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: not served by summary_writer_messages.py")


def inert(name):
    return type(name, (Inert,), {})


def capturing_writer(pb2):
    class EventFileWriter:
        """tensorboard's EventFileWriter, keeping the events in memory. Its
        first event is the one tensorboard's writes on opening a file."""

        def __init__(self, logdir, max_queue_size=10, flush_secs=120, filename_suffix=""):
            self._logdir = logdir
            first = pb2.Event(file_version="brain.Event:2",
                              source_metadata=pb2.SourceMetadata(writer=TENSORBOARD_WRITER))
            self.events = [first]

        def get_logdir(self):
            return self._logdir

        def add_event(self, event):
            kept = pb2.Event()
            kept.CopyFrom(event)
            self.events.append(kept)

        def flush(self):
            pass

        def close(self):
            pass

    return EventFileWriter


def serve_tensorboard(pb2):
    """Puts a `tensorboard` package in sys.modules with what
    torch/utils/tensorboard/{__init__,writer,summary,_embedding,_onnx_graph,
    _pytorch_graph,_proto_graph}.py import. Returns the EventFileWriter class."""
    def module(name, **attributes):
        m = types.ModuleType(name)
        m.__dict__.update(attributes)
        return put(name, m)

    def put(name, m):
        sys.modules[name] = m
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, m)
        return m

    writer = capturing_writer(pb2)
    module("tensorboard", __version__="2.11.0")  # torch checks it is 1.15 or later
    module("tensorboard.compat", tf=None)  # None: no TensorFlow, as tensorboard says without one
    module("tensorboard.compat.proto")
    for name in ("event_pb2", "summary_pb2", "histogram_pb2", "tensor_pb2", "tensor_shape_pb2", "types_pb2"):
        put("tensorboard.compat.proto." + name, pb2)
    for name, classes in {"graph_pb2": ["GraphDef"], "node_def_pb2": ["NodeDef"], "versions_pb2": ["VersionDef"],
                          "attr_value_pb2": ["AttrValue"], "config_pb2": ["RunMetadata"],
                          "step_stats_pb2": ["StepStats", "DeviceStepStats"]}.items():
        module("tensorboard.compat.proto." + name, **{c: inert(c) for c in classes})
    module("tensorboard.plugins")
    module("tensorboard.plugins.projector")
    module("tensorboard.plugins.projector.projector_config_pb2",
           ProjectorConfig=inert("ProjectorConfig"), EmbeddingInfo=inert("EmbeddingInfo"))
    module("tensorboard.plugins.custom_scalar")
    module("tensorboard.plugins.custom_scalar.layout_pb2")
    module("tensorboard.plugins.pr_curve")
    module("tensorboard.plugins.pr_curve.plugin_data_pb2", PrCurvePluginData=inert("PrCurvePluginData"))
    module("tensorboard.plugins.text")
    put("tensorboard.plugins.text.plugin_data_pb2", pb2)
    module("tensorboard.summary")
    module("tensorboard.summary.writer")
    module("tensorboard.summary.writer.event_file_writer", EventFileWriter=writer)
    module("tensorboard.summary.writer.record_writer", RecordWriter=inert("RecordWriter"))
    return writer


def let_make_histogram_run_on_numpy_1_24(summary):
    """PyTorch 1.13's make_histogram calls np.greater(counts, 0, dtype=np.int32),
    which numpy 1.24 (Debian 12's) refuses ("No loop matching the specified
    signature", PyTorch issue 91516): numpy 1.23 compared as int32 and gave
    bools, and PyTorch 2.0 dropped the argument. So summary.py's `np` becomes
    numpy itself but for a greater() that drops dtype=, giving those bools."""
    import numpy

    class Numpy(types.ModuleType):
        def __getattr__(self, name):
            return getattr(numpy, name)

        @staticmethod
        def greater(x1, x2, *args, dtype=None, **kwargs):
            return numpy.greater(x1, x2, *args, **kwargs)

    summary.np = Numpy("numpy")


def summary_writer_events(calls, logdir):
    """The Events SummaryWriter makes of the calls, its first one included."""
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's check of the version uses distutils
        from torch.utils.tensorboard import SummaryWriter, summary
    let_make_histogram_run_on_numpy_1_24(summary)
    writer = SummaryWriter(log_dir=logdir)
    for c in calls:
        tag, step = c["tag"], c["step"]
        if c["kind"] == "scalar":
            writer.add_scalar(tag, c["value"], step)
        elif c["kind"] == "image":
            pixels = torch.tensor(c["pixels"], dtype=torch.uint8).reshape(1, c["height"], c["width"])
            writer.add_image(tag, pixels, step)
        elif c["kind"] == "text":
            writer.add_text(tag, c["text"], step)
        elif c["kind"] == "histogram":
            writer.add_histogram(tag, torch.tensor(c["values"], dtype=torch.float32), step)
        else:
            raise ValueError(f"unknown call kind {c['kind']!r}")
    events = writer.file_writer.event_writer.events
    writer.close()
    return events


def unknown_fields(message):
    """The numbers of the fields the message carries but its schema lacks."""
    try:
        unknown = message.UnknownFields()  # protobuf 3.x and 4.21
    except (AttributeError, NotImplementedError):
        from google.protobuf import unknown_fields as uf  # 4.22 and later
        unknown = uf.UnknownFieldSet(message)
    return sorted({f.field_number for f in unknown})


def png_differences(ours, theirs, path):
    decoded = []
    for who, data in (("mnistlab's", ours), ("SummaryWriter's", theirs)):
        try:
            decoded.append(decode_png(data))
        except Corrupt as e:
            return [f"{path}: {who} PNG: {e}"]
    return [f"{path} (decoded): {key} {decoded[0][key]!r:.200} != {decoded[1][key]!r:.200}"
            for key in ("width", "height", "bit_depth", "color_type", "interlace", "pixels")
            if decoded[0][key] != decoded[1][key]]


def sum_squares_differences(ours, theirs, path):
    if abs(ours - theirs) <= SUM_SQUARES_TOLERANCE * abs(theirs):
        return []
    return [f"{path}: {ours!r} != {theirs!r} (beyond a relative {SUM_SQUARES_TOLERANCE})"]


# (message, field) -> how to compare it, where it is not plain equality.
SPECIAL = {
    ("tensorboard.Event", "wall_time"): lambda ours, theirs, path: [],
    ("tensorboard.Summary.Image", "encoded_image_string"): png_differences,
    ("tensorboard.HistogramProto", "sum_squares"): sum_squares_differences,
}


def differences(ours, theirs, path):
    """Every field of the schema where `ours` differs from `theirs`, recursively."""
    found = []
    descriptor = ours.DESCRIPTOR
    extra = unknown_fields(ours)
    if extra:
        found.append(f"{path}: fields {extra} that TensorBoard's {descriptor.name} does not have")
    for oneof in descriptor.oneofs:
        if ours.WhichOneof(oneof.name) != theirs.WhichOneof(oneof.name):
            found.append(f"{path}.{oneof.name}: {ours.WhichOneof(oneof.name)} != {theirs.WhichOneof(oneof.name)}")
    for field in descriptor.fields:
        name = f"{path}.{field.name}"
        a, b = getattr(ours, field.name), getattr(theirs, field.name)
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE
        special = SPECIAL.get((descriptor.full_name, field.name))
        if field.label == FieldDescriptor.LABEL_REPEATED:
            if len(a) != len(b):
                found.append(f"{name}: {len(a)} entries != {len(b)}: {list(a)!r:.300} != {list(b)!r:.300}")
                continue
            for i, (x, y) in enumerate(zip(a, b)):
                if is_message:
                    found += differences(x, y, f"{name}[{i}]")
                elif x != y:
                    found.append(f"{name}[{i}]: {x!r} != {y!r}")
        elif is_message:
            if ours.HasField(field.name) != theirs.HasField(field.name):
                found.append(f"{name}: {'set' if ours.HasField(field.name) else 'unset'} != "
                             f"{'set' if theirs.HasField(field.name) else 'unset'}")
            elif ours.HasField(field.name):
                found += differences(a, b, name)
        elif special:
            found += special(a, b, name)
        elif a != b:
            found.append(f"{name}: {a!r:.300} != {b!r:.300}")
    return found


def describe(call):
    return f"{call['kind']} {call['tag']!r} at step {call['step']}" if call else "the first record"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, help="mnistlab's event file")
    parser.add_argument("--calls", required=True, help="JSON of the calls that wrote it")
    parser.add_argument("--protoc", default="protoc")
    args = parser.parse_args()
    with open(args.calls, encoding="utf-8") as f:
        calls = json.load(f)["calls"]
    with tempfile.TemporaryDirectory(prefix="summary_writer_") as work:
        pb2 = compile_messages(args.protoc, work)
        serve_tensorboard(pb2)
        theirs = summary_writer_events(calls, os.path.join(work, "logdir"))
    if theirs[0].source_metadata.writer != TENSORBOARD_WRITER:
        sys.exit(f"SummaryWriter's first event names {theirs[0].source_metadata.writer!r} as its writer")
    theirs[0].source_metadata.writer = MNISTLAB_WRITER
    with open(args.events, "rb") as f:
        blob = f.read()
    try:
        records, partial_tail = split_records(blob)
    except Corrupt as e:
        sys.exit(f"{args.events}: {e}")
    problems = []
    if partial_tail:
        problems.append(f"a partial record of {partial_tail} bytes at the end")
    if len(records) != len(theirs):
        problems.append(f"{len(records)} records; SummaryWriter made {len(theirs)} of {len(calls)} calls")
    for i, ((offset, data), event) in enumerate(zip(records, theirs)):
        ours = pb2.Event()
        ours.ParseFromString(data)
        where = f"record {i} at byte {offset} ({describe(calls[i - 1] if i else None)})"
        problems += [f"{where}: {d}" for d in differences(ours, event, "event")]
    if problems:
        print(f"{args.events}: differs from SummaryWriter's events (mnistlab's != SummaryWriter's):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(f"{len(records)} records equal SummaryWriter's field by field")


if __name__ == "__main__":
    main()
