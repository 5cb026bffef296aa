#include "model/layer_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {
namespace {

bool parse_int(const std::string& s, int& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_float(const std::string& s, float& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

// A number as a person writes it: 3, 0.5, 1e-5.
std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  std::string s = text;
  const size_t e = s.find("e-0");
  if (e != std::string::npos) s.erase(e + 2, 1);
  return s;
}

// Python's literal for a float32 value, exact when read back as float32.
std::string py_float(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

std::string py_bool(bool v) { return v ? "True" : "False"; }

// A Choice key's words: "nearest, bilinear".
std::string choice_list(const LayerKey& k, const char* separator) {
  std::string list;
  for (const std::string& c : k.choices) list += (list.empty() ? "" : separator) + c;
  return list;
}

// The default as the usage shows it: "3", "k" (maxpool's s), "nearest".
std::string default_text(const LayerKey& k) {
  if (!k.shown.empty()) return k.shown;
  if (k.type == LayerKey::Choice) return k.choices.at(size_t(k.fallback));
  return number_text(k.fallback);
}

const Param* find_param(const Layer& layer, const std::string& name) {
  for (const Param& p : layer.params())
    if (p.name == name) return &p;
  return nullptr;
}

int shape_of(const Layer& layer, const std::string& param, size_t dim) {
  const Param* p = find_param(layer, param);
  if (!p || p->shape.size() <= dim) throw Error(layer.type() + " has no " + param + " of rank > " + std::to_string(dim));
  return p->shape[dim];
}

std::string has_bias(const Layer& layer) { return py_bool(find_param(layer, "bias") != nullptr); }

int64_t int_option(const Layer& layer, const std::string& name) { return int64_t(layer_option(layer, name)); }

// The layer's parameters named in `names`, as inputs after x (a missing bias left out).
std::vector<std::string> with_params(OnnxNodes& g, std::initializer_list<const char*> names) {
  std::vector<std::string> inputs = {g.x()};
  for (const char* name : names)
    if (std::string p = g.param(name); !p.empty()) inputs.push_back(p);
  return inputs;
}

// kernel_shape, strides and pads of a square window (Conv, ConvTranspose, MaxPool).
std::vector<OnnxAttribute> window(const Layer& layer) {
  const int64_t k = int_option(layer, "kernel_size"), s = int_option(layer, "stride"),
                p = int_option(layer, "padding");
  return {{"kernel_shape", std::vector<int64_t>{k, k}},
          {"strides", std::vector<int64_t>{s, s}},
          {"pads", std::vector<int64_t>{p, p, p, p}}};  // top, left, bottom, right
}

void unary_onnx(const char* op, OnnxNodes& g) { g.node(op, {g.x()}, g.y()); }

std::string window_args(const Layer& layer) {
  return "kernel_size=" + std::to_string(int_option(layer, "kernel_size")) +
         ", stride=" + std::to_string(int_option(layer, "stride")) +
         ", padding=" + std::to_string(int_option(layer, "padding"));
}

// BatchNorm2d and BatchNorm1d: the same module arguments and ONNX node.
std::string batchnorm_module(const Layer& l) {
  return "nn." + l.type() + "(" + std::to_string(shape_of(l, "weight", 0)) +
         ", eps=" + py_float(layer_option(l, "eps")) + ", momentum=" + py_float(layer_option(l, "momentum")) + ")";
}

void batchnorm_onnx(const Layer& l, OnnxNodes& g) {
  // ONNX's momentum weighs the old statistics, PyTorch's the new ones;
  // neither matters in inference, but a reader converting back expects it.
  g.node("BatchNormalization", with_params(g, {"weight", "bias", "running_mean", "running_var"}), g.y(),
         {{"epsilon", float(layer_option(l, "eps"))}, {"momentum", float(1 - layer_option(l, "momentum"))}});
}

}  // namespace

const LayerKey& LayerArgs::key(const std::string& name) const {
  for (const LayerKey& k : spec_.keys)
    if (k.name == name) return k;
  throw Error("layer table: " + spec_.keyword + " reads key '" + name + "', which its row does not declare");
}

const std::string* LayerArgs::given(const std::string& name) const {
  auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : &it->second;
}

int LayerArgs::count() const {
  const LayerPositional& p = spec_.positional;
  int v = 0;
  if (positional_.empty()) throw Error("missing " + p.name + " (a positive integer)");
  if (!parse_int(positional_, v) || v < 1) throw Error(p.name + " must be a positive integer, got '" + positional_ + "'");
  if (v > p.max) throw Error(p.name + " " + positional_ + " is above the limit of " + std::to_string(p.max));
  return v;
}

const std::string& LayerArgs::word() const {
  if (positional_.empty()) throw Error("missing " + spec_.positional.name);
  return positional_;
}

int LayerArgs::integer(const std::string& name) const { return integer(name, int(key(name).fallback)); }

int LayerArgs::integer(const std::string& name, int fallback) const {
  const LayerKey& k = key(name);
  const std::string* text = given(name);
  if (!text) return fallback;
  int v = 0;
  if (!parse_int(*text, v) || v < k.min)
    throw Error(name + "= must be an integer >= " + number_text(k.min) + ", got '" + *text + "'");
  if (v > k.max) throw Error(name + "=" + *text + " is above the limit of " + number_text(k.max));
  return v;
}

float LayerArgs::number(const std::string& name) const {
  const LayerKey& k = key(name);
  const std::string* text = given(name);
  if (!text) return float(k.fallback);
  float v = 0;
  if (!parse_float(*text, v) || v < k.min || v > k.max)
    throw Error(name + "= must be a number in [" + number_text(k.min) + ", " + number_text(k.max) + "], got '" +
                *text + "'");
  return v;
}

int LayerArgs::choice(const std::string& name) const {
  const LayerKey& k = key(name);
  const std::string* text = given(name);
  if (!text) return int(k.fallback);
  for (size_t i = 0; i < k.choices.size(); ++i)
    if (*text == k.choices[i]) return int(i);
  throw Error(name + "= must be one of " + choice_list(k, ", ") + ", got '" + *text + "'");
}

bool LayerArgs::flag(const std::string& name) const {
  const LayerKey& k = key(name);
  const std::string* text = given(name);
  if (!text) return k.fallback != 0;
  if (*text == "1" || *text == "true") return true;
  if (*text == "0" || *text == "false") return false;
  throw Error(name + "= must be 0 or 1, got '" + *text + "'");
}

std::string LayerSpec::usage() const {
  std::string u = keyword;
  if (!positional.name.empty()) u += " " + positional.shown;
  for (const LayerKey& k : keys) u += " [" + k.name + "=" + default_text(k) + "]";
  return u;
}

std::string layer_reference() {
  std::string text;
  for (const LayerSpec& spec : layer_table()) {
    std::string keys;
    for (const LayerKey& k : spec.keys)
      if (!k.help.empty())
        keys += (keys.empty() ? "" : ", ") + k.name + " " + k.help +
                (k.type == LayerKey::Choice ? " (" + choice_list(k, "|") + ")" : "");
    text += spec.usage() + "\n    " + spec.pytorch_class + ": " + spec.help + (keys.empty() ? "" : "; " + keys) + "\n";
  }
  return text;
}

double layer_option(const Layer& layer, const std::string& name) {
  for (const LayerOption& o : layer.options())
    if (o.name == name) return o.value;
  throw Error(layer.type() + " does not give its " + name);
}

const std::vector<LayerSpec>& layer_table() {
  using limits::kChannels, limits::kKernel, limits::kSampleFloats;
  const double kernel = double(kKernel), channels = double(kChannels);
  const LayerKey bias{"bias", LayerKey::Flag, 1, 0, 1, "", ""};
  const LayerKey eps{"eps", LayerKey::Number, 1e-5, 0, 1, "", "added to the variance"},
      momentum{"momentum", LayerKey::Number, 0.1, 0, 1, "", "the new batch's weight in the running statistics"};
  const LayerKey pool_k{"k", LayerKey::Integer, 2, 1, kernel, "", "kernel_size"},
      pool_s{"s", LayerKey::Integer, 2, 1, kernel, "k", "stride"};
  // Choices in UpsampleMode's order.
  const LayerKey upsample_mode{"mode", LayerKey::Choice, 0, 0, 0, "", "interpolation", {"nearest", "bilinear"}};
  static const std::vector<LayerSpec> table = {
      {LayerKind::Conv2d, "conv", {"conv2d"}, "Conv2d", "2-D convolution",
       {"out_channels", "OUT_CHANNELS", kChannels},
       {{"k", LayerKey::Integer, 3, 1, kernel, "", "kernel_size"},
        {"s", LayerKey::Integer, 1, 1, kernel, "", "stride"},
        {"p", LayerKey::Integer, 0, 0, kernel, "", "padding (zeros)"},
        bias,
        {"groups", LayerKey::Integer, 1, 1, channels, "", "channel groups (= input channels: depthwise)"}},
       [](const LayerArgs& a) {
         return Conv2d(
             {a.count(), a.integer("k"), a.integer("s"), a.integer("p"), a.flag("bias"), a.integer("groups")});
       },
       [](const Layer& l) {
         const int64_t groups = int_option(l, "groups");
         return "nn.Conv2d(" + std::to_string(shape_of(l, "weight", 1) * groups) + ", " +
                std::to_string(shape_of(l, "weight", 0)) + ", " + window_args(l) +
                ", groups=" + std::to_string(groups) + ", bias=" + has_bias(l) + ")";
       },
       [](const Layer& l, OnnxNodes& g) {
         auto attributes = window(l);
         attributes.push_back({"dilations", std::vector<int64_t>{1, 1}});
         attributes.push_back({"group", int_option(l, "groups")});
         g.node("Conv", with_params(g, {"weight", "bias"}), g.y(), attributes);
       },
       EvalFold::None,
       {{"input 3 8 8\nconv 4 k=3 p=1"},
        {"input 3 7 7\nconv 2 k=3 s=2 bias=0"},
        {"input 3 8 8\nconv 2 k=5 s=3 p=2"},
        {"input 4 6 5\nconv 6 k=3 p=1 groups=2"},
        {"input 3 7 9\nconv 6 k=3 s=2 p=1 groups=3"},
        {"input 4 5 5\nconv 4 groups=4 bias=0"}}},

      {LayerKind::ConvTranspose2d, "convt", {"convtranspose", "convtranspose2d"}, "ConvTranspose2d",
       "2-D transposed convolution (op < s adds rows and columns at the bottom right)",
       {"out_channels", "OUT_CHANNELS", kChannels},
       {{"k", LayerKey::Integer, 3, 1, kernel, "", "kernel_size"},
        {"s", LayerKey::Integer, 1, 1, kernel, "", "stride"},
        {"p", LayerKey::Integer, 0, 0, kernel, "", "padding"},
        {"op", LayerKey::Integer, 0, 0, kernel, "", "output_padding"},
        bias},
       [](const LayerArgs& a) {
         return ConvTranspose2d(
             {a.count(), a.integer("k"), a.integer("s"), a.integer("p"), a.integer("op"), a.flag("bias")});
       },
       [](const Layer& l) {
         return "nn.ConvTranspose2d(" + std::to_string(shape_of(l, "weight", 0)) + ", " +
                std::to_string(shape_of(l, "weight", 1)) + ", " + window_args(l) +
                ", output_padding=" + std::to_string(int_option(l, "output_padding")) + ", bias=" + has_bias(l) + ")";
       },
       [](const Layer& l, OnnxNodes& g) {
         auto attributes = window(l);
         const int64_t op = int_option(l, "output_padding");
         attributes.push_back({"dilations", std::vector<int64_t>{1, 1}});
         attributes.push_back({"group", int64_t(1)});
         attributes.push_back({"output_padding", std::vector<int64_t>{op, op}});
         g.node("ConvTranspose", with_params(g, {"weight", "bias"}), g.y(), attributes);
       },
       EvalFold::None,
       {{"input 3 4 4\nconvt 2 k=3 s=2 p=1 op=1"}, {"input 2 5 5\nconvt 3 k=3 bias=0"},
        {"input 2 3 3\nconvt 2 k=2 s=3"}}},

      {LayerKind::Linear, "linear", {}, "Linear", "fully connected: y = x W^T + b, on a flat input",
       {"out_features", "OUT_FEATURES", kChannels},
       {bias, {"in", LayerKey::Integer, 0, 1, double(kSampleFloats), "IN_FEATURES", "the input size it must have"}},
       [](const LayerArgs& a) { return Linear(a.count(), a.flag("bias"), a.integer("in")); },
       [](const Layer& l) {
         return "nn.Linear(" + std::to_string(shape_of(l, "weight", 1)) + ", " +
                std::to_string(shape_of(l, "weight", 0)) + ", bias=" + has_bias(l) + ")";
       },
       [](const Layer&, OnnxNodes& g) {
         // y = x W^T + b, W stored [out, in] as PyTorch stores it.
         g.node("Gemm", with_params(g, {"weight", "bias"}), g.y(),
                {{"alpha", 1.0f}, {"beta", 1.0f}, {"transB", int64_t(1)}});
       },
       EvalFold::None,
       {{"input 7 1 1\nflatten\nlinear 5"}, {"input 2 2 1\nflatten\nlinear 3 bias=0 in=4"}}},

      {LayerKind::ReLU, "relu", {}, "ReLU", "max(0, x)", {}, {},
       [](const LayerArgs&) { return ReLU(); }, [](const Layer&) { return std::string("nn.ReLU()"); },
       [](const Layer&, OnnxNodes& g) { unary_onnx("Relu", g); }, EvalFold::ReLU,
       {{"input 2 3 3\nrelu", false, 0.05f}}},

      {LayerKind::Sigmoid, "sigmoid", {}, "Sigmoid", "1 / (1 + exp(-x))", {}, {},
       [](const LayerArgs&) { return Sigmoid(); }, [](const Layer&) { return std::string("nn.Sigmoid()"); },
       [](const Layer&, OnnxNodes& g) { unary_onnx("Sigmoid", g); }, EvalFold::None, {{"input 2 3 3\nsigmoid"}}},

      {LayerKind::Tanh, "tanh", {}, "Tanh", "tanh(x)", {}, {},
       [](const LayerArgs&) { return Tanh(); }, [](const Layer&) { return std::string("nn.Tanh()"); },
       [](const Layer&, OnnxNodes& g) { unary_onnx("Tanh", g); }, EvalFold::None,
       {{"input 7 1 1\nflatten\ntanh"}}},

      {LayerKind::GELU, "gelu", {}, "GELU", "x * Phi(x), Phi the standard normal CDF (erf; approximate='none')", {}, {},
       [](const LayerArgs&) { return GELU(); }, [](const Layer&) { return std::string("nn.GELU()"); },
       [](const Layer&, OnnxNodes& g) {
         // As torch.onnx exports nn.GELU() at opset 13: x / sqrt(2), Erf, + 1, * x, * 0.5.
         const std::string div = g.value("Div"), erf = g.value("Erf"), add = g.value("Add"), mul = g.value("Mul");
         g.node("Div", {g.x(), g.constant("sqrt2", {1.41421354f}, {})}, div);
         g.node("Erf", {div}, erf);
         g.node("Add", {erf, g.constant("one", {1.f}, {})}, add);
         g.node("Mul", {g.x(), add}, mul);
         g.node("Mul", {mul, g.constant("half", {0.5f}, {})}, g.y());
       },
       EvalFold::None, {{"input 2 3 3\ngelu"}, {"input 3 5 5\nconv 4 k=3 p=1\ngelu"}}},

      {LayerKind::SiLU, "silu", {}, "SiLU", "x * sigmoid(x)", {}, {},
       [](const LayerArgs&) { return SiLU(); }, [](const Layer&) { return std::string("nn.SiLU()"); },
       [](const Layer&, OnnxNodes& g) {
         const std::string sigmoid = g.value("Sigmoid");  // as torch.onnx exports it at opset 13
         g.node("Sigmoid", {g.x()}, sigmoid);
         g.node("Mul", {g.x(), sigmoid}, g.y());
       },
       EvalFold::None, {{"input 2 3 3\nsilu"}, {"input 3 5 5\nconv 4 k=3 s=2\nsilu"}}},

      {LayerKind::LeakyReLU, "leakyrelu", {}, "LeakyReLU", "x > 0 ? x : slope * x", {},
       {{"slope", LayerKey::Number, 0.01, 0, 1, "", "negative_slope"}},
       [](const LayerArgs& a) { return LeakyReLU(a.number("slope")); },
       [](const Layer& l) { return "nn.LeakyReLU(negative_slope=" + py_float(layer_option(l, "negative_slope")) + ")"; },
       [](const Layer& l, OnnxNodes& g) {
         g.node("LeakyRelu", {g.x()}, g.y(), {{"alpha", float(layer_option(l, "negative_slope"))}});
       },
       EvalFold::None,
       // Inputs away from the kink at 0, where a finite difference straddles two slopes.
       {{"input 2 3 3\nleakyrelu", false, 0.05f}, {"input 2 4 4\nleakyrelu slope=0.2\nconv 3 k=3", false, 0.05f}}},

      {LayerKind::BatchNorm2d, "batchnorm", {"batchnorm2d", "bn"}, "BatchNorm2d",
       "per-channel normalization over the batch (running statistics in eval mode)", {},
       {eps, momentum},
       [](const LayerArgs& a) { return BatchNorm2d(a.number("eps"), a.number("momentum")); }, batchnorm_module,
       batchnorm_onnx, EvalFold::ChannelAffine, {{"input 3 4 4\nbatchnorm eps=1e-3 momentum=0.2"}}},

      // After a Linear, which fuses no epilogue: nothing to fold into.
      {LayerKind::BatchNorm1d, "batchnorm1d", {}, "BatchNorm1d",
       "per-feature normalization over the batch of a flat input, e.g. after linear (running statistics in eval mode)",
       {}, {eps, momentum},
       [](const LayerArgs& a) { return BatchNorm1d(a.number("eps"), a.number("momentum")); }, batchnorm_module,
       batchnorm_onnx, EvalFold::None,
       // Gradient checks run batches of 2, where a feature's two values are
       // normalized to about -1 and 1 and the output is flat unless eps is
       // large next to their variance.
       {{"input 7 1 1\nflatten\nlinear 5\nbatchnorm1d eps=0.1 momentum=0.2"},
        {"input 2 3 3\nflatten\nbatchnorm1d eps=0.5"},
        {"input 2 2 3\nflatten\nlinear 6 bias=0\nbatchnorm1d eps=0.2 momentum=0.5\nlinear 3"}}},

      {LayerKind::MaxPool2d, "maxpool", {"maxpool2d"}, "MaxPool2d", "maximum over each window", {},
       {pool_k, pool_s, {"p", LayerKey::Integer, 0, 0, kernel, "", "padding (never the maximum)"}},
       [](const LayerArgs& a) {
         const int k = a.integer("k");
         return MaxPool2d(k, a.integer("s", k), a.integer("p"));
       },
       [](const Layer& l) { return "nn.MaxPool2d(" + window_args(l) + ")"; },
       [](const Layer& l, OnnxNodes& g) {
         auto attributes = window(l);
         attributes.push_back({"ceil_mode", int64_t(0)});
         g.node("MaxPool", {g.x()}, g.y(), attributes);
       },
       EvalFold::None,
       {{"input 2 6 6\nmaxpool", true}, {"input 2 7 7\nmaxpool k=3 s=2 p=1", true}}},

      {LayerKind::AvgPool2d, "avgpool", {"avgpool2d"}, "AvgPool2d",
       "mean over each window, padding counted as zeros (count_include_pad=True)", {},
       {pool_k, pool_s, {"p", LayerKey::Integer, 0, 0, kernel, "", "padding (zeros, counted in the mean)"}},
       [](const LayerArgs& a) {
         const int k = a.integer("k");
         return AvgPool2d(k, a.integer("s", k), a.integer("p"));
       },
       [](const Layer& l) { return "nn.AvgPool2d(" + window_args(l) + ", ceil_mode=False, count_include_pad=True)"; },
       [](const Layer& l, OnnxNodes& g) {
         // As torch.onnx exports it at opset 13: the zeros added by a Pad,
         // then an AveragePool without padding. (OpenCV 4.6 ignores
         // AveragePool's count_include_pad=1 and divides a window by the
         // inside pixels it covers unless the file's producer is "pytorch".)
         const int64_t k = int_option(l, "kernel_size"), s = int_option(l, "stride"), p = int_option(l, "padding");
         std::string x = g.x();
         if (p > 0) {
           x = g.value("Pad");
           g.node("Pad", {g.x(), g.int_constant("pads", {0, 0, p, p, 0, 0, p, p}, {8})}, x,
                  {{"mode", std::string("constant")}});
         }
         g.node("AveragePool", {x}, g.y(),
                {{"kernel_shape", std::vector<int64_t>{k, k}},
                 {"strides", std::vector<int64_t>{s, s}},
                 {"pads", std::vector<int64_t>{0, 0, 0, 0}},
                 {"ceil_mode", int64_t(0)},
                 {"count_include_pad", int64_t(1)}});
       },
       EvalFold::None,
       {{"input 2 6 6\navgpool"},
        {"input 2 7 7\navgpool k=3 s=2 p=1"},
        {"input 3 5 6\navgpool k=2 s=1"},
        {"input 2 7 9\navgpool k=4 s=3 p=2"},
        {"input 2 5 5\nconv 3 k=3 p=1\navgpool k=3 s=3 p=1"}}},

      {LayerKind::AdaptiveAvgPool2d, "globalavgpool", {}, "AdaptiveAvgPool2d",
       "the mean of each channel, [C, H, W] to [C, 1, 1] (output_size 1)", {}, {},
       [](const LayerArgs&) { return AdaptiveAvgPool2d(1); },
       [](const Layer&) { return std::string("nn.AdaptiveAvgPool2d(1)"); },
       [](const Layer&, OnnxNodes& g) { unary_onnx("GlobalAveragePool", g); }, EvalFold::None,
       {{"input 3 5 7\nglobalavgpool"},
        {"input 2 1 9\nglobalavgpool"},
        {"input 2 4 4\nconv 3 k=3 p=1\nglobalavgpool\nflatten\nlinear 4"}}},

      {LayerKind::Upsample, "upsample", {}, "Upsample",
       "each pixel to scale x scale pixels: copies (nearest) or interpolated (bilinear, align_corners=False)", {},
       {{"scale", LayerKey::Integer, 2, 1, kernel, "", "scale_factor"}, upsample_mode},
       [](const LayerArgs& a) { return Upsample(a.integer("scale"), UpsampleMode(a.choice("mode"))); },
       [upsample_mode](const Layer& l) {
         const int64_t mode = int_option(l, "mode");
         return "nn.Upsample(scale_factor=" + std::to_string(int_option(l, "scale_factor")) + ", mode='" +
                upsample_mode.choices.at(size_t(mode)) + "'" +
                (UpsampleMode(mode) == UpsampleMode::Bilinear ? ", align_corners=False" : "") + ")";
       },
       [](const Layer& l, OnnxNodes& g) {
         // As torch.onnx exports it at opset 13: Resize(x, roi, scales), roi
         // an empty name (only tf_crop_and_resize reads it).
         const float s = float(layer_option(l, "scale_factor"));
         const std::string scales = g.constant("scales", {1.f, 1.f, s, s}, {4});
         std::vector<OnnxAttribute> attributes = {{"coordinate_transformation_mode", std::string("asymmetric")},
                                                  {"mode", std::string("nearest")},
                                                  {"nearest_mode", std::string("floor")}};
         if (UpsampleMode(int_option(l, "mode")) == UpsampleMode::Bilinear)
           attributes = {{"coordinate_transformation_mode", std::string("half_pixel")}, {"mode", std::string("linear")}};
         g.node("Resize", {g.x(), "", scales}, g.y(), attributes);
       },
       EvalFold::None,
       {{"input 2 3 4\nupsample"},
        {"input 2 3 5\nupsample scale=3"},
        {"input 2 3 4\nupsample mode=bilinear"},
        {"input 2 5 3\nupsample scale=3 mode=bilinear"},
        {"input 2 1 3\nupsample mode=bilinear"},
        {"input 2 5 5\nconv 3 k=3 s=2 p=1\nupsample mode=bilinear\nconv 2 k=3 p=1"}}},

      {LayerKind::Dropout, "dropout", {}, "Dropout", "zeroes each value with probability p in training", {},
       {{"p", LayerKey::Number, 0.5, 0, 1, "", "the probability of a zero"}},
       [](const LayerArgs& a) { return Dropout(a.number("p")); },
       [](const Layer& l) { return "nn.Dropout(p=" + py_float(layer_option(l, "p")) + ")"; },
       [](const Layer&, OnnxNodes& g) { g.identity(); }, EvalFold::None, {{"input 2 3 3\ndropout p=0.3"}}},

      {LayerKind::Flatten, "flatten", {}, "Flatten", "[C, H, W] to [C*H*W]", {}, {},
       [](const LayerArgs&) { return Flatten(); }, [](const Layer&) { return std::string("nn.Flatten()"); },
       [](const Layer&, OnnxNodes& g) { g.node("Flatten", {g.x()}, g.y(), {{"axis", int64_t(1)}}); },
       EvalFold::None, {{"input 2 3 3\nflatten"}}},

      {LayerKind::Concat, "concat", {"cat"}, "Concat",
       "the input's channels, then those of the output named NAME (torch.cat([x, NAME], 1))",
       {"the name of an earlier output", "NAME", 0}, {},
       [](const LayerArgs& a) { return Concat(a.word()); }, [](const Layer&) { return std::string("Concat()"); },
       [](const Layer&, OnnxNodes& g) { g.node("Concat", {g.x(), g.joined()}, g.y(), {{"axis", int64_t(1)}}); },
       EvalFold::None, {{"input 2 4 4 as image\nconv 3 k=3 p=1\nconcat image"}}},

      {LayerKind::Add, "add", {}, "Add", "the input plus the output named NAME (same shapes)", {"the name of an earlier output", "NAME", 0}, {},
       [](const LayerArgs& a) { return Add(a.word()); }, [](const Layer&) { return std::string("Add()"); },
       [](const Layer&, OnnxNodes& g) { g.node("Add", {g.x(), g.joined()}, g.y()); }, EvalFold::None,
       {{"input 2 4 4 as image\nconv 2 k=3 p=1\nadd image"}}},
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

const LayerSpec& layer_spec(LayerKind kind) {
  for (const LayerSpec& spec : layer_table())
    if (spec.kind == kind) return spec;
  throw Error("a layer of the user's own kind has no row in the layer table");
}

}  // namespace mnistlab
