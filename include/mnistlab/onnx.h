#pragma once
// A model as an ONNX file (opset 13), for runtimes that are not ours:
// OpenCV's dnn module, ONNX Runtime, TensorRT, a browser.
#include <filesystem>
#include <string>

#include "mnistlab/model.h"

namespace mnistlab {

struct OnnxOptions {
  // The input's first dimension: a fixed batch size, or 0 for a dynamic one
  // (the symbol "batch_size", as torch.onnx.export's dynamic_axes name it).
  int batch_size = 1;
  // Append Softmax over the classes (a classifier's output [N, K] only).
  bool softmax = false;
  // Stored in the file (ModelProto.doc_string): where the network came from.
  std::string doc;
};

// The model in eval mode with its current weights as a serialized
// ModelProto: the input "input", the output "output", initializers named by
// the state_dict keys ("0.weight", "1.running_mean"; num_batches_tracked is
// left out, as torch.onnx.export leaves it). Dropout is dropped, BatchNorm2d
// becomes BatchNormalization with its running statistics. The graph is
// checked with ONNX's own checker before it is returned. A layer that ONNX
// cannot express is an Error naming its index and type.
std::string onnx_model_bytes(Model& model, const OnnxOptions& options = {});

// onnx_model_bytes, written to `path` whole (temporary file, then rename).
void export_onnx(Model& model, const std::filesystem::path& path, const OnnxOptions& options = {});

}  // namespace mnistlab
