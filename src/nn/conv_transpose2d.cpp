// ConvTranspose2d is the input gradient of a Conv2d, so it reuses that
// machinery backwards: forward scatters W^T x into columns and folds them
// with col2im; backward unfolds dy with im2col, which gives the input
// gradient with one GEMM and the weight gradient with another.
//
// PyTorch's weight is [Cin, Cout, k, k], i.e. the weight of the Conv2d
// (Cout -> Cin) it transposes; its default init takes fan_in from dim 1
// (Cout * k * k), torch/nn/modules/conv.py _ConvNd.reset_parameters.
#include <algorithm>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/layout.h"
#include "mnistlab/error.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

constexpr size_t kWorkspaceBudget = size_t(1) << 25;  // floats (128 MiB)

class ConvTranspose2dLayer final : public Layer {
 public:
  explicit ConvTranspose2dLayer(const ConvTranspose2dOptions& o) : o_(o) {}
  std::string type() const override { return "ConvTranspose2d"; }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("ConvTranspose2d needs an image input [C, H, W], got " + in.str());
    const int k = o_.kernel_size, s = o_.stride, p = o_.padding, op = o_.output_padding;
    if (o_.out_channels < 1 || k < 1 || s < 1 || p < 0 || op < 0)
      throw Error("ConvTranspose2d needs out_channels >= 1, kernel_size >= 1, stride >= 1, padding >= 0, "
                  "output_padding >= 0");
    if (op >= s)
      throw Error("ConvTranspose2d needs output_padding smaller than stride (PyTorch's rule), got output_padding " +
                  std::to_string(op) + " with stride " + std::to_string(s));
    const int ho = (in.h - 1) * s - 2 * p + k + op, wo = (in.w - 1) * s - 2 * p + k + op;
    if (ho < 1 || wo < 1)
      throw Error("ConvTranspose2d with kernel " + std::to_string(k) + ", padding " + std::to_string(p) +
                  " on the input " + in.str() + ": output size would be below 1");
    // The Conv2d this layer transposes: out_channels x ho x wo in, `in` out.
    g_ = {o_.out_channels, ho, wo, k, k, s, p};
    in_ = in;
    out_ = image_shape(o_.out_channels, ho, wo);
    if (!g_.all_taps()) {
      packed_weight_.resize(size_t(in.c) * g_.k());
      packed_grad_.resize(packed_weight_.size());
    }
    add_param("weight", {in.c, o_.out_channels, k, k});
    if (o_.bias) add_param("bias", {o_.out_channels});
    return out_;
  }

  void reset_parameters(Rng& rng) override {
    for (Param& p : params_) init_uniform_fan_in(p, o_.out_channels * o_.kernel_size * o_.kernel_size, rng);
  }

  size_t hw_in() const { return size_t(in_.h) * in_.w; }
  // Per sample: x (or dy's columns' partner) channel-major, plus the columns.
  size_t per_sample() const { return size_t(in_.c) * hw_in() + size_t(g_.k()) * hw_in(); }
  int chunk(int n) const { return std::clamp(int(kWorkspaceBudget / per_sample()), 1, std::max(n, 1)); }
  size_t workspace_floats(int n) const override { return size_t(chunk(n)) * per_sample(); }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    const int k = g_.k(), cin = in_.c, hw = int(hw_in()), step = chunk(x.n);
    const float* weight = pack_weight();
    for (int start = 0; start < x.n; start += step) {
      const int m = std::min(step, x.n - start), cols = m * hw;
      float* xc = s.workspace;
      float* col = xc + size_t(cin) * cols;
      cpu::nchw_to_channels(x.sample(start), m, cin, hw, xc);
      cpu::gemm(true, false, k, cols, cin, 1.f, weight, k, xc, cols, 0.f, col, cols);
      cpu::col2im(g_, col, m, y.sample(start));
    }
    if (o_.bias) cpu::add_channel_bias(params_[1].value, x.n, out_.c, int(out_.h * out_.w), y.data);
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    const int k = g_.k(), cin = in_.c, hw = int(hw_in()), step = chunk(x.n);
    const float* weight = pack_weight();
    float* weight_grad = g_.all_taps() ? params_[0].grad : packed_grad_.data();
    for (int start = 0; start < x.n; start += step) {
      const int m = std::min(step, x.n - start), cols = m * hw;
      float* xc = s.workspace;
      float* col = xc + size_t(cin) * cols;
      cpu::im2col(g_, dy.sample(start), m, col);
      cpu::nchw_to_channels(x.sample(start), m, cin, hw, xc);
      cpu::gemm(false, true, cin, k, cols, 1.f, xc, cols, col, cols, start == 0 ? 0.f : 1.f, weight_grad, k);
      if (!dx) continue;
      // xc is free again: the input gradient goes there, channel-major.
      cpu::gemm(false, false, cin, cols, k, 1.f, weight, k, col, cols, 0.f, xc, cols);
      cpu::channels_to_nchw(xc, m, cin, hw, nullptr, dx->sample(start));
    }
    if (!g_.all_taps()) unpack_grad();
    if (o_.bias) cpu::channel_sums(dy.data, dy.n, out_.c, int(out_.h * out_.w), params_[1].grad);
  }

 private:
  // [Cin, Cout * taps]: the weight restricted to the taps that reach the output.
  const float* pack_weight() {
    if (g_.all_taps()) return params_[0].value;
    cpu::pack_taps(g_, params_[0].value, size_t(in_.c) * g_.c, packed_weight_.data());
    return packed_weight_.data();
  }
  void unpack_grad() { cpu::unpack_taps(g_, packed_grad_.data(), size_t(in_.c) * g_.c, params_[0].grad); }

  ConvTranspose2dOptions o_;
  cpu::ConvGeometry g_{};
  std::vector<float> packed_weight_, packed_grad_;
};

}  // namespace

std::unique_ptr<Layer> ConvTranspose2d(const ConvTranspose2dOptions& options) {
  return std::make_unique<ConvTranspose2dLayer>(options);
}

}  // namespace mnistlab
