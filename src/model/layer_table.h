#pragma once
// The one table of layer kinds. A row says everything the rest of mnistlab
// needs of a kind: its model-file line (keyword, arguments with their
// defaults and ranges, help), how it is built, the PyTorch module it is, its
// ONNX nodes, its role in eval-time folding, and the small models its tests
// check it in. The model-file parser and help, the PyTorch module writer,
// ONNX export and the model's eval folding read it; the tests iterate it, so
// a half-declared kind fails a test.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mnistlab/layer.h"
#include "mnistlab/model_file.h"
#include "model/onnx_nodes.h"

namespace mnistlab {

struct LayerSpec;

// A key=value argument. A given value must lie in [min, max]; the default
// may lie outside (linear's in=0: "take the input's size"). A Choice takes
// one of the words in `choices`; its fallback is the default's index there.
struct LayerKey {
  enum Type { Integer, Number, Flag, Choice };
  std::string name;  // "k"
  Type type = Integer;
  double fallback = 0;
  double min = 0, max = 0;
  std::string shown;  // the default as the usage shows it, when not the number ("k" for maxpool's s)
  std::string help;   // "kernel_size"
  std::vector<std::string> choices = {};  // a Choice's words: "nearest", "bilinear"
};

// The one positional argument: a count (out_channels) or a word (a name).
struct LayerPositional {
  std::string name;   // "out_channels"; "" when the kind has none
  std::string shown;  // "OUT_CHANNELS"
  int64_t max = 0;    // 0: any word
};

// Arguments of one model-file line, checked against the row as they are
// read; errors say what was expected.
class LayerArgs {
 public:
  LayerArgs(const LayerSpec& spec, std::string positional, std::map<std::string, std::string> keys)
      : spec_(spec), positional_(std::move(positional)), keys_(std::move(keys)) {}
  int count() const;                // the positional argument, 1..max
  const std::string& word() const;  // the positional argument, any text
  int integer(const std::string& key) const;
  int integer(const std::string& key, int fallback) const;  // a default that depends on another key
  float number(const std::string& key) const;
  bool flag(const std::string& key) const;
  int choice(const std::string& key) const;  // the index of the word given in the key's choices

 private:
  const LayerKey& key(const std::string& name) const;
  const std::string* given(const std::string& name) const;
  const LayerSpec& spec_;
  std::string positional_;
  std::map<std::string, std::string> keys_;
};

// The kind's role when a model is folded for inference: a ChannelAffine
// (BatchNorm2d with its running statistics) and a ReLU become the epilogue
// of a convolution before them.
enum class EvalFold { None, ChannelAffine, ReLU };

// A small model holding the kind, for the tests that iterate the table:
// gradients against finite differences, parity with PyTorch, ONNX export.
struct LayerExample {
  std::string model;             // a model file: the input line, then layers
  bool distinct_inputs = false;  // inputs far apart: a maximum must not flip under a finite difference
  float input_min_abs = 0;       // inputs away from 0, a kink
};

struct LayerSpec {
  LayerKind kind = LayerKind::Custom;
  std::string keyword;               // "conv"
  std::vector<std::string> aliases;  // "conv2d"
  std::string pytorch_class;         // "Conv2d": summaries, messages
  std::string help;                  // what it computes, one line
  LayerPositional positional;
  std::vector<LayerKey> keys;
  std::function<std::unique_ptr<Layer>(const LayerArgs&)> make;
  // The PyTorch module it is, as Python: "nn.Conv2d(1, 8, kernel_size=3, stride=1, padding=1, bias=True)".
  std::function<std::string(const Layer&)> pytorch;
  std::function<void(const Layer&, OnnxNodes&)> onnx;  // its ONNX nodes (opset 13)
  EvalFold fold = EvalFold::None;
  std::vector<LayerExample> examples;

  // "conv OUT_CHANNELS [k=3] [s=1] [p=0] [bias=1]"
  std::string usage() const;
};

const std::vector<LayerSpec>& layer_table();

const LayerSpec* find_layer_spec(const std::string& keyword);  // by keyword or alias
const LayerSpec& layer_spec(LayerKind kind);                   // an error for Custom
// The value of a layer's option by PyTorch's name (Layer::options()); an
// error naming the layer when it does not give it.
double layer_option(const Layer& layer, const std::string& name);

}  // namespace mnistlab
