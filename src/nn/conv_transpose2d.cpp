// ConvTranspose2d: shapes and parameters; the arithmetic is the backend's
// ConvKernel for the Conv2d this layer transposes.
//
// PyTorch's weight is [Cin, Cout, k, k], i.e. the weight of the Conv2d
// (Cout -> Cin) it transposes; its default init takes fan_in from dim 1
// (Cout * k * k), torch/nn/modules/conv.py _ConvNd.reset_parameters.
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "nn/checks.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

class ConvTranspose2dLayer final : public Layer {
 public:
  explicit ConvTranspose2dLayer(const ConvTranspose2dOptions& o) : o_(o) {}
  LayerKind kind() const override { return LayerKind::ConvTranspose2d; }
  std::vector<LayerOption> options() const override {
    return {{"kernel_size", double(o_.kernel_size)},
            {"stride", double(o_.stride)},
            {"padding", double(o_.padding)},
            {"output_padding", double(o_.output_padding)}};
  }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("ConvTranspose2d needs an image input [C, H, W], got " + in.str());
    const int k = o_.kernel_size, s = o_.stride, p = o_.padding, op = o_.output_padding;
    if (o_.out_channels < 1 || k < 1 || s < 1 || p < 0 || op < 0)
      throw Error("ConvTranspose2d needs out_channels >= 1, kernel_size >= 1, stride >= 1, padding >= 0, "
                  "output_padding >= 0");
    check_at_most(o_.out_channels, limits::kChannels, "ConvTranspose2d out_channels");
    check_window("ConvTranspose2d", k, s, p, op);
    if (op >= s)
      throw Error("ConvTranspose2d needs output_padding smaller than stride (PyTorch's rule), got output_padding " +
                  std::to_string(op) + " with stride " + std::to_string(s));
    const int ho = (in.h - 1) * s - 2 * p + k + op, wo = (in.w - 1) * s - 2 * p + k + op;
    if (ho < 1 || wo < 1)
      throw Error("ConvTranspose2d with kernel " + std::to_string(k) + ", padding " + std::to_string(p) +
                  " on the input " + in.str() + ": output size would be below 1");
    // The Conv2d this layer transposes: out_channels x ho x wo in, `in` out.
    transposed_ = {o_.out_channels, ho, wo, in.c, k, s, p};
    in_ = in;
    out_ = image_shape(o_.out_channels, ho, wo);
    add_param("weight", {in.c, o_.out_channels, k, k});
    if (o_.bias) add_param("bias", {o_.out_channels});
    return out_;
  }

  void reset_parameters(Rng& rng) override {
    for (Param& p : params_) init_uniform_fan_in(p, o_.out_channels * o_.kernel_size * o_.kernel_size, rng);
  }

  void plan(const Backend& backend, int max_batch, bool gradients) override {
    Layer::plan(backend, max_batch, gradients);
    kernel_ = backend.conv_transpose2d(transposed_, max_batch, gradients);
  }
  std::string route() const override { return kernel_->route(); }
  size_t saved_floats(int) const override { return kernel_->saved_floats(); }
  size_t workspace_floats(int) const override { return kernel_->workspace_floats(); }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    kernel_->forward(x.data, x.n, params_[0].value, bias(), {}, false, y.data, {s.saved, s.workspace});
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    kernel_->backward(x.data, dy.data, x.n, params_[0].value, params_[0].grad, o_.bias ? params_[1].grad : nullptr,
                      dx ? dx->data : nullptr, {s.saved, s.workspace});
  }

 private:
  const float* bias() const { return o_.bias ? params_[1].value : nullptr; }

  ConvTranspose2dOptions o_;
  ConvShape transposed_;
  std::unique_ptr<ConvKernel> kernel_;
};

}  // namespace

std::unique_ptr<Layer> ConvTranspose2d(const ConvTranspose2dOptions& options) {
  return std::make_unique<ConvTranspose2dLayer>(options);
}

}  // namespace mnistlab
