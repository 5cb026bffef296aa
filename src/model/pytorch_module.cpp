// A model as a PyTorch module: a Python file whose Net() has the same
// state_dict keys ("0.weight", ...) and computes the same function, so
// weights saved by either side load in the other. Each layer's module comes
// from its row of the layer table.
#include <sstream>

#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "model/layer_table.h"

namespace mnistlab {
namespace {

std::string py_string(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

// "[N, 1, 28, 28]"
std::string batch_shape(const SampleShape& shape) { return shape.str().replace(1, 2, "N"); }

}  // namespace

std::string pytorch_module_source(const Model& model) {
  const auto& layers = model.layers();
  std::ostringstream py;
  py << "# Written by mnistlab from a model file: Net() has the model's state_dict keys.\n"
        "import torch\nfrom torch import nn\n\n\n"
        "class Concat(nn.Module):\n    \"\"\"torch.cat([x, other], 1): the running tensor's channels first.\"\"\"\n\n"
        "    def forward(self, x, other):\n        return torch.cat([x, other], 1)\n\n\n"
        "class Add(nn.Module):\n    def forward(self, x, other):\n        return x + other\n\n\n"
        "class Net(nn.Sequential):\n"
     << "    \"\"\"Input " << batch_shape(model.input_shape()) << ", output " << batch_shape(model.output_shape())
     << ".\"\"\"\n\n"
     << "    def __init__(self):\n        super().__init__(\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = *layers[i];
    const LayerSpec* spec = layer.kind() == LayerKind::Custom ? nullptr : &layer_spec(layer.kind());
    if (!spec || !spec->pytorch)
      throw Error("layer " + std::to_string(i) + " (" + layer.type() + ") has no PyTorch equivalent");
    py << "            " << spec->pytorch(layer) << ",  # " << i << "\n";
  }
  py << "        )\n\n    def forward(self, x):\n        named = {}\n";
  if (!model.input_name().empty()) py << "        named[" << py_string(model.input_name()) << "] = x\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto* join = dynamic_cast<const JoinLayer*>(layers[i].get());
    py << "        x = self[" << i << "](x" << (join ? ", named[" + py_string(join->source()) + "]" : "") << ")\n";
    if (!model.output_name(i).empty()) py << "        named[" << py_string(model.output_name(i)) << "] = x\n";
  }
  py << "        return x\n";
  return py.str();
}

}  // namespace mnistlab
