// Conv2d: shapes and parameters; the arithmetic is the backend's ConvKernel
// (kernels/backend.h), chosen when the model plans its batch size.
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "nn/checks.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

class Conv2dLayer final : public Layer {
 public:
  explicit Conv2dLayer(const Conv2dOptions& o) : o_(o) {}
  LayerKind kind() const override { return LayerKind::Conv2d; }
  std::vector<LayerOption> options() const override {
    return {{"kernel_size", double(o_.kernel_size)},
            {"stride", double(o_.stride)},
            {"padding", double(o_.padding)},
            {"groups", double(o_.groups)}};
  }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("Conv2d needs an image input [C, H, W], got " + in.str());
    if (o_.out_channels < 1 || o_.kernel_size < 1 || o_.stride < 1 || o_.padding < 0)
      throw Error("Conv2d needs out_channels >= 1, kernel_size >= 1, stride >= 1, padding >= 0");
    check_at_most(o_.out_channels, limits::kChannels, "Conv2d out_channels");
    check_window("Conv2d", o_.kernel_size, o_.stride, o_.padding);
    if (o_.groups < 1 || in.c % o_.groups || o_.out_channels % o_.groups)
      throw Error("Conv2d groups=" + std::to_string(o_.groups) + " must divide both its input's " +
                  std::to_string(in.c) + " channels and its " + std::to_string(o_.out_channels) + " output channels");
    s_ = {in.c, in.h, in.w, o_.out_channels, o_.kernel_size, o_.stride, o_.padding};
    s_.groups = o_.groups;
    if (in.h + 2 * o_.padding < o_.kernel_size || in.w + 2 * o_.padding < o_.kernel_size)
      throw Error("Conv2d kernel " + std::to_string(o_.kernel_size) + " does not fit the input " + in.str() +
                  " with padding " + std::to_string(o_.padding) + ": output size would be below 1");
    in_ = in;
    out_ = image_shape(o_.out_channels, s_.ho(), s_.wo());
    add_param("weight", {o_.out_channels, in.c / o_.groups, o_.kernel_size, o_.kernel_size});
    if (o_.bias) add_param("bias", {o_.out_channels});
    return out_;
  }

  void reset_parameters(Rng& rng) override {
    for (Param& p : params_) init_uniform_fan_in(p, in_.c / o_.groups * o_.kernel_size * o_.kernel_size, rng);
  }

  void plan(const Backend& backend, int max_batch, bool gradients) override {
    Layer::plan(backend, max_batch, gradients);
    kernel_ = backend.conv2d(s_, max_batch, gradients);
  }
  std::string route() const override { return kernel_->route(); }
  size_t saved_floats(int) const override { return kernel_->saved_floats(); }
  size_t workspace_floats(int) const override { return kernel_->workspace_floats(); }
  bool fuses_epilogue() const override { return true; }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    kernel_->forward(x.data, x.n, weight().value, bias(), {s.scale, s.shift}, s.relu, y.data, {s.saved, s.workspace});
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    kernel_->backward(x.data, dy.data, x.n, weight().value, weight().grad, o_.bias ? params_[1].grad : nullptr,
                      dx ? dx->data : nullptr, {s.saved, s.workspace});
  }

 private:
  Param& weight() { return params_[0]; }
  const float* bias() const { return o_.bias ? params_[1].value : nullptr; }

  Conv2dOptions o_;
  ConvShape s_;
  std::unique_ptr<ConvKernel> kernel_;
};

}  // namespace

std::unique_ptr<Layer> Conv2d(const Conv2dOptions& options) { return std::make_unique<Conv2dLayer>(options); }

}  // namespace mnistlab
