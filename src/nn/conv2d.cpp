// Conv2d as im2col + one GEMM per chunk of the batch (chunks keep the
// column buffer bounded for large evaluation batches).
#include <algorithm>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/layout.h"
#include "mnistlab/error.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

constexpr size_t kWorkspaceBudget = size_t(1) << 25;  // floats (128 MiB)

class Conv2dLayer final : public Layer {
 public:
  explicit Conv2dLayer(const Conv2dOptions& o) : o_(o) {}
  std::string type() const override { return "Conv2d"; }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("Conv2d needs an image input [C, H, W], got " + in.str());
    if (o_.out_channels < 1 || o_.kernel_size < 1 || o_.stride < 1 || o_.padding < 0)
      throw Error("Conv2d needs out_channels >= 1, kernel_size >= 1, stride >= 1, padding >= 0");
    g_ = {in.c, in.h, in.w, o_.kernel_size, o_.kernel_size, o_.stride, o_.padding};
    if (in.h + 2 * o_.padding < o_.kernel_size || in.w + 2 * o_.padding < o_.kernel_size)
      throw Error("Conv2d kernel " + std::to_string(o_.kernel_size) + " does not fit the input " + in.str() +
                  " with padding " + std::to_string(o_.padding) + ": output size would be below 1");
    in_ = in;
    out_ = image_shape(o_.out_channels, g_.ho(), g_.wo());
    add_param("weight", {o_.out_channels, in.c, o_.kernel_size, o_.kernel_size});
    if (o_.bias) add_param("bias", {o_.out_channels});
    return out_;
  }

  void reset_parameters(Rng& rng) override {
    for (Param& p : params_) init_uniform_fan_in(p, g_.k(), rng);
  }

  int chunk(int n) const {
    const size_t per_sample = size_t(g_.ho()) * g_.wo() * (2 * size_t(g_.k()) + o_.out_channels);
    return std::clamp(int(kWorkspaceBudget / per_sample), 1, std::max(n, 1));
  }
  size_t workspace_floats(int n) const override {
    return size_t(chunk(n)) * g_.ho() * g_.wo() * (2 * size_t(g_.k()) + o_.out_channels);
  }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    const int hw = g_.ho() * g_.wo(), k = g_.k(), cout = o_.out_channels, step = chunk(x.n);
    const float* bias = o_.bias ? params_[1].value : nullptr;
    for (int start = 0; start < x.n; start += step) {
      const int m = std::min(step, x.n - start), cols = m * hw;
      float* col = s.workspace;
      float* out = col + size_t(k) * cols;
      cpu::im2col(g_, x.sample(start), m, col);
      cpu::gemm(false, false, cout, cols, k, 1.f, params_[0].value, k, col, cols, 0.f, out, cols);
      cpu::channels_to_nchw(out, m, cout, hw, bias, y.sample(start));
    }
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    const int hw = g_.ho() * g_.wo(), k = g_.k(), cout = o_.out_channels, step = chunk(x.n);
    for (int start = 0; start < x.n; start += step) {
      const int m = std::min(step, x.n - start), cols = m * hw;
      const float beta = start == 0 ? 0.f : 1.f;
      float* col = s.workspace;
      float* dout = col + size_t(k) * cols;
      float* dcol = dout + size_t(cout) * cols;
      cpu::im2col(g_, x.sample(start), m, col);
      cpu::nchw_to_channels(dy.sample(start), m, cout, hw, dout);
      cpu::gemm(false, true, cout, k, cols, 1.f, dout, cols, col, cols, beta, params_[0].grad, k);
      if (o_.bias) cpu::sum_cols(dout, cout, cols, params_[1].grad, start != 0);
      if (dx) {
        cpu::gemm(true, false, k, cols, cout, 1.f, params_[0].value, k, dout, cols, 0.f, dcol, cols);
        cpu::col2im(g_, dcol, m, dx->sample(start));
      }
    }
  }

 private:
  Conv2dOptions o_;
  cpu::ConvGeometry g_{};
};

}  // namespace

std::unique_ptr<Layer> Conv2d(const Conv2dOptions& options) { return std::make_unique<Conv2dLayer>(options); }

}  // namespace mnistlab
