#pragma once
// The interface every layer implements: forward and backward over a batch,
// its parameters by PyTorch name, and the scratch memory it needs per batch.
#include <memory>
#include <string>
#include <vector>

#include "mnistlab/rng.h"
#include "mnistlab/tensor.h"

namespace mnistlab {

class Backend;  // src/kernels/backend.h: where a layer's arithmetic runs
class Communicator;  // distributed.h

struct LayerOption {
  std::string name;  // PyTorch's argument name
  double value;
};

enum class ParamKind { Parameter, Buffer };  // Buffer: state_dict entry the optimizer leaves alone

struct Param {
  std::string name;        // PyTorch attribute name: "weight", "bias", "running_mean"
  std::vector<int> shape;  // PyTorch shape, e.g. {32, 1, 3, 3}
  ParamKind kind = ParamKind::Parameter;
  float* value = nullptr;  // in the model's parameter or buffer block
  float* grad = nullptr;   // parameters only
  size_t numel() const;
};

// Memory a layer gets for one batch: `saved` lives from its forward to its
// backward; `workspace` is shared by all layers and only lasts for one call.
struct Scratch {
  float* saved = nullptr;
  int32_t* saved_indices = nullptr;  // saved_int32s() of them, kept like `saved`
  float* workspace = nullptr;
  bool training = true;
  uint64_t step = 0;  // training forwards before this one: random masks are a function of it
  // Data parallel: the position of this batch's first sample in the global
  // batch (random masks are a function of it too), and the ranks whose
  // batches BatchNorm's statistics span (SyncBatchNorm; null: this batch).
  uint64_t first_sample = 0;
  const Communicator* batchnorm_across = nullptr;
  // Eval mode, only asked of layers whose fuses_epilogue() is true: the
  // output becomes max(0, out) when relu, and out * scale[c] + shift[c] per
  // channel when scale is set; the model then skips the BatchNorm2d and ReLU
  // layers that follow, which these stand for.
  bool relu = false;
  const float* scale = nullptr;
  const float* shift = nullptr;
};

// The layer kinds mnistlab knows. Everything about a kind (model-file
// syntax, PyTorch equivalent, ONNX mapping, eval-time folding, its gradient
// check) is declared once, in its row of the layer table
// (src/model/layer_table.cpp); a layer of the user's own is Custom.
enum class LayerKind {
  Custom,
  Conv2d,
  ConvTranspose2d,
  Linear,
  ReLU,
  Sigmoid,
  Tanh,
  GELU,
  SiLU,
  LeakyReLU,
  BatchNorm2d,
  BatchNorm1d,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Upsample,
  Dropout,
  Flatten,
  Concat,
  Add,
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual LayerKind kind() const { return LayerKind::Custom; }
  // PyTorch class name, used in summaries and messages ("Conv2d"): the
  // layer table's for a known kind; a Custom layer names itself.
  virtual std::string type() const;
  // The constructor arguments that shape the arithmetic, under PyTorch's
  // names ("kernel_size", "stride", "padding", "output_padding", "eps",
  // "p"), for writers of other formats (ONNX). Sizes that the parameters'
  // shapes already give (channels, features) are not repeated.
  virtual std::vector<LayerOption> options() const { return {}; }
  // Check the input shape, declare parameters, return the output shape.
  // Throws mnistlab::Error saying what does not fit.
  virtual SampleShape configure(const SampleShape& in) = 0;
  // PyTorch's default initialization.
  virtual void reset_parameters(Rng&) {}
  // Chooses this layer's kernels on `backend` for batches up to max_batch,
  // with a backward to come or not (gradients); the model calls it before
  // it asks for saved_floats and workspace_floats.
  virtual void plan(const Backend& backend, int max_batch, bool gradients);
  // The route the kernels chosen by plan() take ("" for simple layers).
  virtual std::string route() const { return ""; }
  virtual size_t saved_floats(int /*n*/) const { return 0; }
  // Indices kept from forward to backward (MaxPool2d's argmax), in storage of their own type.
  virtual size_t saved_int32s(int /*n*/) const { return 0; }
  virtual size_t workspace_floats(int /*n*/) const { return 0; }
  // A view (Flatten) shares its input's memory and does no work.
  virtual bool is_view() const { return false; }
  // Whether forward honours Scratch::relu, scale and shift.
  virtual bool fuses_epilogue() const { return false; }
  // Eval mode: the per-channel y = x * scale + shift this layer computes
  // (BatchNorm2d with its running statistics), written into scale and shift
  // (one float per channel each, in the backend's memory); false for other layers.
  virtual bool eval_affine(float* /*scale*/, float* /*shift*/) const { return false; }
  virtual void forward(const Tensor& x, Tensor& y, Scratch& s) = 0;
  // Writes parameter gradients (overwriting) and, when dx is given, dL/dx.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, Scratch& s) = 0;

  std::vector<Param>& params() { return params_; }
  const std::vector<Param>& params() const { return params_; }
  const SampleShape& input_shape() const { return in_; }
  const SampleShape& output_shape() const { return out_; }

 protected:
  void add_param(std::string name, std::vector<int> shape, ParamKind kind = ParamKind::Parameter);
  // The backend of the last plan(); an error before the first.
  const Backend& backend() const;
  std::vector<Param> params_;
  SampleShape in_, out_;

 private:
  const Backend* backend_ = nullptr;
};

// A join also reads an earlier output of the model, the one named `source`
// (U-Net skips). The model calls the *_join functions; forward and backward
// without the second input are errors.
class JoinLayer : public Layer {
 public:
  explicit JoinLayer(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }
  virtual SampleShape configure_join(const SampleShape& in, const SampleShape& other) = 0;
  virtual void forward_join(const Tensor& x, const Tensor& other, Tensor& y) = 0;
  // Overwrites dx and adds into dother: an output may feed several joins.
  virtual void backward_join(const Tensor& dy, Tensor* dx, Tensor& dother) = 0;

  SampleShape configure(const SampleShape&) final;
  void forward(const Tensor&, Tensor&, Scratch&) final;
  void backward(const Tensor&, const Tensor&, const Tensor&, Tensor*, Scratch&) final;

 private:
  std::string source_;
};

// The layers, with PyTorch's names and defaults. Input sizes come from the
// shape the model feeds in, so only output sizes are given.
struct Conv2dOptions {
  int out_channels = 0;
  int kernel_size = 3;
  int stride = 1;
  int padding = 0;
  bool bias = true;
  // Input channel group g feeds only output channel group g; both channel
  // counts divisible by it. groups = in_channels: depthwise.
  int groups = 1;
};
std::unique_ptr<Layer> Conv2d(const Conv2dOptions& options);
struct ConvTranspose2dOptions {
  int out_channels = 0;
  int kernel_size = 3;
  int stride = 1;
  int padding = 0;
  int output_padding = 0;  // extra rows/columns at the bottom/right; < stride
  bool bias = true;
};
std::unique_ptr<Layer> ConvTranspose2d(const ConvTranspose2dOptions& options);
// in_features = 0 takes the input's size; otherwise the input must have it.
std::unique_ptr<Layer> Linear(int out_features, bool bias = true, int in_features = 0);
std::unique_ptr<Layer> ReLU();
std::unique_ptr<Layer> Sigmoid();
std::unique_ptr<Layer> Tanh();
// GELU with approximate='none' (erf); SiLU = x * sigmoid(x); LeakyReLU.
std::unique_ptr<Layer> GELU();
std::unique_ptr<Layer> SiLU();
std::unique_ptr<Layer> LeakyReLU(float negative_slope = 0.01f);
std::unique_ptr<Layer> BatchNorm2d(float eps = 1e-5f, float momentum = 0.1f);
// BatchNorm2d's statistics on a flat input [N, F] (after a linear layer).
std::unique_ptr<Layer> BatchNorm1d(float eps = 1e-5f, float momentum = 0.1f);
std::unique_ptr<Layer> MaxPool2d(int kernel_size, int stride = 0 /* = kernel_size */, int padding = 0);
// count_include_pad=True, ceil_mode=False (PyTorch's defaults).
std::unique_ptr<Layer> AvgPool2d(int kernel_size, int stride = 0 /* = kernel_size */, int padding = 0);
// Output size 1 only: the mean of each channel, [C, H, W] -> [C, 1, 1].
std::unique_ptr<Layer> AdaptiveAvgPool2d(int output_size = 1);
// nn.Upsample(scale_factor=scale_factor, mode=...), an integer factor;
// bilinear with align_corners=False. The order is the model file's.
enum class UpsampleMode { Nearest, Bilinear };
std::unique_ptr<Layer> Upsample(int scale_factor = 2, UpsampleMode mode = UpsampleMode::Nearest);
std::unique_ptr<Layer> Dropout(float p = 0.5f, uint64_t seed = 0);
std::unique_ptr<Layer> Flatten();
// torch.cat([x, source], dim=1): channels of x first, then the source's.
std::unique_ptr<Layer> Concat(const std::string& source);
// x + source, same shapes.
std::unique_ptr<Layer> Add(const std::string& source);

}  // namespace mnistlab
