// One model file that uses every kind of the layer table (and conv's
// grouped and depthwise forms), both joins, one of them reading the image
// itself: the ONNX export test runs it in OpenCV, the run-folder test trains,
// interrupts and resumes it. every_kind_missing() keeps it whole as the
// table grows.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "mnistlab/model_file.h"
#include "model/layer_table.h"

namespace mnistlab::test {

inline const char* kEveryLayer = R"(input 1 28 28 as image
conv 8 k=3 p=1
batchnorm eps=1e-3
relu as a
conv 8 k=3 p=1 bias=0
sigmoid
add a
tanh
conv 8 k=3 p=1 groups=8       # depthwise
gelu
conv 8 k=1 groups=2           # grouped
silu
maxpool k=3 s=2 p=1           # [8, 14, 14]
convt 4 k=3 s=2 p=1 op=1      # [4, 28, 28]
concat image                  # [5, 28, 28]
dropout p=0.3
conv 6 k=5 s=2 p=2            # [6, 14, 14]
leakyrelu slope=0.2
avgpool k=2                   # [6, 7, 7]
upsample scale=2 mode=bilinear
avgpool k=3 s=2 p=1           # [6, 7, 7]
upsample                      # [6, 14, 14]
maxpool k=2                   # [6, 7, 7]
conv 16 k=3 p=1
globalavgpool                 # [16, 1, 1]
flatten
linear 32 bias=0
batchnorm1d eps=1e-3
relu
dropout p=0.5
linear 10
)";

// The table's keywords that no layer of `text` is, and "conv groups=" when
// no convolution is grouped: empty when the model is whole.
inline std::string every_kind_missing(const std::string& text) {
  const Model model = parse_model(text, "every-layer");
  std::set<LayerKind> kinds;
  bool grouped = false;
  for (const auto& layer : model.layers()) {
    kinds.insert(layer->kind());
    if (layer->kind() == LayerKind::Conv2d && layer_option(*layer, "groups") > 1) grouped = true;
  }
  std::string missing;
  for (const LayerSpec& spec : layer_table())
    if (!kinds.count(spec.kind)) missing += " " + spec.keyword;
  if (!grouped) missing += " conv groups=";
  return missing;
}

// Every preset's name and "every-layer", for suites run on each
// (kEveryLayer stands for the last), and gtest's name for each.
inline std::vector<std::string> every_preset_and_layer() {
  std::vector<std::string> names = preset_names();
  names.push_back("every-layer");
  return names;
}
inline std::string model_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string id;
  for (char c : info.param) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

}  // namespace mnistlab::test
