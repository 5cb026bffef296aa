#pragma once
// Networks as text: one layer per line, '#' starts a comment.
//
//   input 1 28 28
//   conv 32 k=3 p=1        # Conv2d(…, 32, kernel_size=3, padding=1); s=STRIDE, bias=0|1
//   batchnorm              # BatchNorm2d; eps=, momentum=
//   relu
//   maxpool k=2            # MaxPool2d; s=, p=
//   dropout p=0.5
//   flatten
//   linear 10              # Linear(…, 10); bias=0|1, in=N to state the input size
//   convt 16 k=3 s=2 p=1 op=1  # ConvTranspose2d(…, 16, 3, stride=2, padding=1, output_padding=1)
//   sigmoid / tanh
//
// Skip connections: "as NAME" at the end of a line names that layer's
// output (on the input line, the input); "concat NAME" joins the running
// tensor with it along channels (torch.cat([x, NAME], 1)) and "add NAME"
// adds it (x + NAME).
//
//   conv 16 k=3 p=1 s=2 as down1
//   ...
//   concat down1
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mnistlab/model.h"

namespace mnistlab {

// Builds the layers (not the parameters: call build(seed) next). `origin`
// names the text in errors, which read "ORIGIN:LINE: `TEXT`: what was expected".
// `input`, when given, replaces the file's input shape.
Model parse_model(std::string_view text, const std::string& origin, const std::optional<SampleShape>& input = {});

// A preset name (a file in models/, compiled in) or a path to a model file.
struct ModelSource {
  std::string text;
  std::string origin;  // "baseline (preset)" (compiled in from models/baseline.model) or the path given
};
ModelSource resolve_model(const std::string& name_or_path);
std::vector<std::string> preset_names();

// The layer lines a model file may hold, one a kind: its usage and what it
// computes (from the layer table, as the README lists them).
std::string layer_reference();

// The model as a PyTorch module: Python source whose Net() has the model's
// state_dict keys and computes the same function.
std::string pytorch_module_source(const Model& model);

}  // namespace mnistlab
