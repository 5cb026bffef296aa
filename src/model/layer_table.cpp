#include "model/layer_table.h"

#include <charconv>
#include <cmath>

#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {
namespace {

bool parse_int(const std::string& s, int& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_float(const std::string& s, float& out) {
  try {
    size_t used = 0;
    out = std::stof(s, &used);
    return used == s.size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int LayerArgs::positive_int(const std::string& what, int64_t max) const {
  int v = 0;
  if (positional_.empty()) throw Error("missing " + what + " (a positive integer)");
  if (!parse_int(positional_, v) || v < 1)
    throw Error(what + " must be a positive integer, got '" + positional_ + "'");
  if (v > max) throw Error(what + " " + positional_ + " is above the limit of " + std::to_string(max));
  return v;
}

const std::string& LayerArgs::word(const std::string& what) const {
  if (positional_.empty()) throw Error("missing " + what);
  return positional_;
}

int LayerArgs::int_key(const std::string& key, int fallback, int min, int64_t max) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return fallback;
  int v = 0;
  if (!parse_int(it->second, v) || v < min)
    throw Error(key + "= must be an integer >= " + std::to_string(min) + ", got '" + it->second + "'");
  if (v > max) throw Error(key + "=" + it->second + " is above the limit of " + std::to_string(max));
  return v;
}

float LayerArgs::float_key(const std::string& key, float fallback, float min, float max) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return fallback;
  float v = 0;
  if (!parse_float(it->second, v) || v < min || v > max)
    throw Error(key + "= must be a number in [" + std::to_string(min) + ", " + std::to_string(max) + "], got '" +
                it->second + "'");
  return v;
}

bool LayerArgs::bool_key(const std::string& key, bool fallback) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return fallback;
  if (it->second == "1" || it->second == "true") return true;
  if (it->second == "0" || it->second == "false") return false;
  throw Error(key + "= must be 0 or 1, got '" + it->second + "'");
}

const std::vector<LayerSpec>& layer_table() {
  using limits::kChannels, limits::kKernel, limits::kSampleFloats;
  static const std::vector<LayerSpec> table = {
      {"conv", {"conv2d"}, "out_channels", {"k", "s", "p", "bias"}, "conv OUT_CHANNELS [k=3] [s=1] [p=0] [bias=1]",
       [](const LayerArgs& a) {
         return Conv2d({a.positive_int("out_channels", kChannels), a.int_key("k", 3, 1, kKernel),
                        a.int_key("s", 1, 1, kKernel), a.int_key("p", 0, 0, kKernel), a.bool_key("bias", true)});
       }},
      {"linear", {}, "out_features", {"bias", "in"}, "linear OUT_FEATURES [bias=1] [in=IN_FEATURES]",
       [](const LayerArgs& a) {
         return Linear(a.positive_int("out_features", kChannels), a.bool_key("bias", true),
                       a.int_key("in", 0, 1, kSampleFloats));
       }},
      {"convt", {"convtranspose", "convtranspose2d"}, "out_channels", {"k", "s", "p", "op", "bias"},
       "convt OUT_CHANNELS [k=3] [s=1] [p=0] [op=0 (output_padding)] [bias=1]",
       [](const LayerArgs& a) {
         return ConvTranspose2d({a.positive_int("out_channels", kChannels), a.int_key("k", 3, 1, kKernel),
                                 a.int_key("s", 1, 1, kKernel), a.int_key("p", 0, 0, kKernel),
                                 a.int_key("op", 0, 0, kKernel), a.bool_key("bias", true)});
       }},
      {"relu", {}, "", {}, "relu", [](const LayerArgs&) { return ReLU(); }},
      {"sigmoid", {}, "", {}, "sigmoid", [](const LayerArgs&) { return Sigmoid(); }},
      {"tanh", {}, "", {}, "tanh", [](const LayerArgs&) { return Tanh(); }},
      {"batchnorm", {"batchnorm2d", "bn"}, "", {"eps", "momentum"}, "batchnorm [eps=1e-5] [momentum=0.1]",
       [](const LayerArgs& a) {
         return BatchNorm2d(a.float_key("eps", 1e-5f, 0.f, 1.f), a.float_key("momentum", 0.1f, 0.f, 1.f));
       }},
      {"maxpool", {"maxpool2d"}, "", {"k", "s", "p"}, "maxpool [k=2] [s=k] [p=0]",
       [](const LayerArgs& a) {
         const int k = a.int_key("k", 2, 1, kKernel);
         return MaxPool2d(k, a.int_key("s", k, 1, kKernel), a.int_key("p", 0, 0, kKernel));
       }},
      {"dropout", {}, "", {"p"}, "dropout [p=0.5]",
       [](const LayerArgs& a) { return Dropout(a.float_key("p", 0.5f, 0.f, 1.f)); }},
      {"flatten", {}, "", {}, "flatten", [](const LayerArgs&) { return Flatten(); }},
      {"concat", {"cat"}, "name", {}, "concat NAME   (channels of the input, then those of the output named NAME)",
       [](const LayerArgs& a) { return Concat(a.word("the name of an earlier output")); }},
      {"add", {}, "name", {}, "add NAME   (the input plus the output named NAME)",
       [](const LayerArgs& a) { return Add(a.word("the name of an earlier output")); }},
  };
  return table;
}

const LayerSpec* find_layer_spec(const std::string& keyword) {
  for (const LayerSpec& spec : layer_table()) {
    if (spec.keyword == keyword) return &spec;
    for (const auto& alias : spec.aliases)
      if (alias == keyword) return &spec;
  }
  return nullptr;
}

}  // namespace mnistlab
