// ConvTranspose2d is the input gradient of a Conv2d, so it reuses that
// machinery backwards: forward scatters W^T x into columns and folds them
// with col2im; backward unfolds dy with im2col, which gives the input
// gradient with one GEMM and the weight gradient with another.
//
// The threads split the batch image by image, as Conv2d does on large maps:
// each image's columns stay in cache and its GEMM output is already NCHW;
// the threads' shares of the weight gradient are summed at the end.

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {
namespace {

class ConvTranspose2d final : public ConvKernel {
 public:
  // `s` is the Conv2d this layer transposes: its input is this layer's
  // output [s.cin, s.h, s.w], its output this layer's input [s.cout, ho, wo].
  ConvTranspose2d(const CpuContext& ctx, const ConvShape& s, int max_batch) : ctx_(ctx), s_(s) {
    g_ = {s.cin, s.h, s.w, s.k, s.k, s.stride, s.pad};
    packed_weight_.resize(size_t(s.cout) * g_.k());
    if (!g_.all_taps()) packed_grad_.resize(packed_weight_.size());
    team_ = std::max(1, std::min(ctx.threads, max_batch));
    rows_ = band_rows(ctx.options.image_column_floats, size_t(g_.k()) * g_.wo(), g_.ho());
  }

  std::string route() const override {
    return ctx_.options.precision == Precision::Bf16 ? "per-image col2im forward, im2col backward, bf16 GEMM"
                                                     : "per-image col2im forward, im2col backward";
  }
  size_t workspace_floats() const override { return size_t(team_) * per_thread(); }

  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory m) override {
    const int k = g_.k(), cin = s_.cout, hw = int(hw_in()), hw_out = int(hw_out_());
    const size_t in_len = size_t(cin) * hw, out_len = size_t(s_.cin) * hw_out;
    const float* w = packed(weight);
    const bool shifted = affine.scale || affine.shift;
    parallel_for_threads(team(n), n, [&](int thread, int i) {
      float* col = m.workspace + size_t(thread) * per_thread();
      float* yi = y + i * out_len;
      std::fill(yi, yi + out_len, 0.f);
      for (int r0 = 0; r0 < g_.ho(); r0 += rows_) {
        const int r1 = std::min(g_.ho(), r0 + rows_), cols = (r1 - r0) * g_.wo();
        matmul(ctx_.options.precision, 1, true, false, k, cols, cin, w, k, x + i * in_len + r0 * g_.wo(), hw, 0.f, col, cols);
        col2im_band(g_, col, r0, r1, yi);
      }
      if (bias) add_channel_bias(1, bias, 1, s_.cin, hw_out, yi);
      if (shifted) apply_affine(affine, yi, hw_out);
      if (relu) relu_forward(1, yi, out_len, yi);
    });
  }

  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory m) override {
    const int k = g_.k(), cin = s_.cout, hw = int(hw_in()), hw_out = int(hw_out_()), threads = team(n);
    const size_t in_len = size_t(cin) * hw, out_len = size_t(s_.cin) * hw_out;
    const float* w = packed(weight);
    float* weight_grad = g_.all_taps() ? dweight : packed_grad_.data();
    // Each thread sums its images' weight and bias gradients into its own
    // share of the workspace; the shares are added in thread order below.
    for (int t = 0; t < threads; ++t) {
      float* dw = m.workspace + size_t(t) * per_thread() + col_floats();
      std::fill(dw, dw + grad_floats(), 0.f);
    }
    parallel_for_threads(threads, n, [&](int thread, int i) {
      float* col = m.workspace + size_t(thread) * per_thread();
      float* dw = col + col_floats();
      float* db = dw + size_t(cin) * k;
      const float* dyi = dy + i * out_len;
      for (int r0 = 0; r0 < g_.ho(); r0 += rows_) {
        const int r1 = std::min(g_.ho(), r0 + rows_), cols = (r1 - r0) * g_.wo();
        const size_t at = i * in_len + size_t(r0) * g_.wo();
        im2col_band(g_, dyi, r0, r1, col);
        matmul(ctx_.options.precision, 1, false, true, cin, k, cols, x + at, hw, col, cols, 1.f, dw, k);
        if (dx) matmul(ctx_.options.precision, 1, false, false, cin, cols, k, w, k, col, cols, 0.f, dx + at, hw);
      }
      if (dbias) sum_cols(1, dyi, s_.cin, hw_out, db, true);
    });
    const float* parts = m.workspace + col_floats();
    sum_parts(parts, threads, per_thread(), size_t(cin) * k, weight_grad);
    if (dbias) sum_parts(parts + size_t(cin) * k, threads, per_thread(), s_.cin, dbias);
    if (!g_.all_taps()) unpack_taps(g_, packed_grad_.data(), size_t(cin) * g_.c, dweight);
  }

 private:
  size_t hw_in() const { return size_t(g_.ho()) * g_.wo(); }  // this layer's input map
  size_t hw_out_() const { return size_t(s_.h) * s_.w; }
  size_t col_floats() const { return size_t(g_.k()) * rows_ * g_.wo(); }  // one band
  size_t grad_floats() const { return size_t(s_.cout) * g_.k() + size_t(s_.cin); }
  // Per thread: a band of columns and the thread's share of the gradients.
  size_t per_thread() const { return col_floats() + grad_floats(); }
  int team(int n) const {
    const double macs = double(n) * s_.cout * g_.k() * hw_in();
    return std::max(1, std::min({team_, n, ctx_.threads_for(macs)}));
  }

  // [Cin, Cout * taps]: the weight restricted to the taps that reach the output.
  const float* packed(const float* weight) {
    if (g_.all_taps()) return weight;
    pack_taps(g_, weight, size_t(s_.cout) * g_.c, packed_weight_.data());
    return packed_weight_.data();
  }
  void apply_affine(const ChannelAffine& a, float* y, int hw) const {
    for (int c = 0; c < s_.cin; ++c) {
      const float scale = a.scale ? a.scale[c] : 1.f, shift = a.shift ? a.shift[c] : 0.f;
      for (int p = 0; p < hw; ++p) y[size_t(c) * hw + p] = y[size_t(c) * hw + p] * scale + shift;
    }
  }

  CpuContext ctx_;
  ConvShape s_;
  ConvGeometry g_{};
  int team_ = 1;
  int rows_ = 1;  // rows of this layer's input per band of columns
  std::vector<float> packed_weight_, packed_grad_;
};

}  // namespace

std::unique_ptr<ConvKernel> make_conv_transpose2d(const CpuContext& ctx, const ConvShape& transposed, int max_batch,
                                                  bool) {
  return std::make_unique<ConvTranspose2d>(ctx, transposed, max_batch);
}

}  // namespace mnistlab::cpu
