// ConvTranspose2d is the input gradient of a Conv2d, so it reuses that
// machinery backwards: forward scatters W^T x into columns and folds them
// with col2im; backward unfolds dy with im2col, which gives the input
// gradient with one GEMM and the weight gradient with another.
//
// The threads split the batch image by image, as Conv2d does on large maps:
// each image's columns stay in cache and its GEMM output is already NCHW;
// the threads' shares of the weight gradient are summed at the end.
//
// PyTorch's weight is [Cin, Cout, k, k], i.e. the weight of the Conv2d
// (Cout -> Cin) it transposes; its default init takes fan_in from dim 1
// (Cout * k * k), torch/nn/modules/conv.py _ConvNd.reset_parameters.
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/layout.h"
#include "mnistlab/error.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

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
  size_t col_floats() const { return size_t(g_.k()) * hw_in(); }
  size_t grad_floats() const { return size_t(in_.c) * g_.k() + size_t(out_.c); }
  // Per thread: one image's columns and the thread's share of the gradients.
  size_t per_thread() const { return col_floats() + grad_floats(); }
  size_t workspace_floats(int) const override {
    team_ = cpu::num_threads();
    return size_t(team_) * per_thread();
  }
  int team(int n) const { return std::max(1, std::min({team_, cpu::num_threads(), n})); }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    const int k = g_.k(), cin = in_.c, hw = int(hw_in()), hw_out = int(out_.h * out_.w);
    const float* weight = pack_weight();
    const float* bias = o_.bias ? params_[1].value : nullptr;
#pragma omp parallel num_threads(team(x.n))
    {
      float* col = s.workspace + size_t(omp_get_thread_num()) * per_thread();
#pragma omp for schedule(static)
      for (int i = 0; i < x.n; ++i) {
        cpu::gemm(true, false, k, hw, cin, 1.f, weight, k, x.sample(i), hw, 0.f, col, hw);
        cpu::col2im(g_, col, 1, y.sample(i));
        if (bias) cpu::add_channel_bias(bias, 1, out_.c, hw_out, y.sample(i));
      }
    }
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    const int k = g_.k(), cin = in_.c, hw = int(hw_in()), hw_out = int(out_.h * out_.w), threads = team(x.n);
    const float* weight = g_.all_taps() ? params_[0].value : packed_weight_.data();  // packed by forward
    float* weight_grad = g_.all_taps() ? params_[0].grad : packed_grad_.data();
#pragma omp parallel num_threads(threads)
    {
      float* col = s.workspace + size_t(omp_get_thread_num()) * per_thread();
      float* dw = col + col_floats();
      float* db = dw + size_t(cin) * k;
      std::fill(dw, dw + grad_floats(), 0.f);
#pragma omp for schedule(static)
      for (int i = 0; i < x.n; ++i) {
        cpu::im2col_band(g_, dy.sample(i), 0, g_.ho(), col);
        cpu::gemm(false, true, cin, k, hw, 1.f, x.sample(i), hw, col, hw, 1.f, dw, k);
        if (o_.bias) cpu::sum_cols(dy.sample(i), out_.c, hw_out, db, true);
        if (dx) cpu::gemm(false, false, cin, hw, k, 1.f, weight, k, col, hw, 0.f, dx->sample(i), hw);
      }
    }
    const float* parts = s.workspace + col_floats();
    cpu::sum_parts(parts, threads, per_thread(), size_t(cin) * k, weight_grad);
    if (o_.bias) cpu::sum_parts(parts + size_t(cin) * k, threads, per_thread(), out_.c, params_[1].grad);
    if (!g_.all_taps()) unpack_grad();
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
  mutable int team_ = 1;  // threads the workspace was sized for
};

}  // namespace

std::unique_ptr<Layer> ConvTranspose2d(const ConvTranspose2dOptions& options) {
  return std::make_unique<ConvTranspose2dLayer>(options);
}

}  // namespace mnistlab
