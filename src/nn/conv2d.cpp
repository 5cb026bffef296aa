// Conv2d as im2col + GEMM, by one of two strategies:
//
// - per sample, on large maps: the threads split the batch, and each
//   unfolds one image into its own column buffer (small enough to stay in
//   cache) and multiplies it with a single-threaded GEMM whose result is
//   already that image's NCHW output. No transposes, one barrier per call;
//   the columns are unfolded again in backward instead of being kept, which
//   costs less than writing them to memory and reading them back. Weight
//   gradients are summed per thread, then added up in thread order.
// - batched, on small maps (VGG-BN's 4x4 .. 1x1), where a per-image GEMM
//   would have N = 16 .. 1: one im2col + one GEMM per chunk of the batch
//   (chunks keep the column buffer bounded for large batches).
//
// Kernel taps that only ever see padding are left out of the GEMMs (see
// ConvGeometry::taps): on VGG-BN's 1x1 maps a 3x3 kernel does 1/9 of the work.
//
// 3x3 stride-1 padding-1 layers with enough input channels (the baseline's
// and VGG-BN's 28x28 and 14x14 layers) compute their per-sample forward by
// Winograd F(2x2, 3x3) instead (kernels/cpu/winograd.h): 16 products per
// 2x2 outputs and channel pair instead of 36. bench/conv3x3 measured the
// threshold: below 8 input channels the transforms cost more than they save;
// from 8 it is 1.2x faster, from 32 about 2x. The input gradient of such a
// layer (below) is the same convolution with channels swapped, so it takes
// Winograd too when the layer has 8 or more output channels.
//
// Backward, input gradient: for stride 1 it is itself a convolution of dy
// with the kernel flipped and in/out channels swapped, padding k-1-p; that
// costs one im2col and a well-shaped GEMM (M = Cin), where the textbook
// route (W^T dy into columns, then col2im) runs a GEMM with K = Cout only
// and a scattered col2im. Strided convolutions and small maps take the
// textbook route.
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/winograd.h"
#include "mnistlab/error.h"
#include "nn/conv2d.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

size_t g_workspace_budget = size_t(1) << 25;  // floats (128 MiB)
int g_per_sample_min_hw = 49;                  // output pixels per image from which to go per sample
bool g_winograd = true;
constexpr int kWinogradMinChannels = 8;  // input channels (forward) or output channels (input gradient)
constexpr size_t kBandFloats = size_t(1) << 16;  // 256 KiB of columns: half of this machine's L2

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
    // dy seen as the input of the transposed convolution (stride 1 only).
    flipped_ = {o_.out_channels, g_.ho(), g_.wo(), g_.kh, g_.kw, 1, g_.kh - 1 - o_.padding};
    // On small maps the textbook route's GEMM is cheap and skips flipping the weight.
    transposed_dx_ = o_.stride == 1 && o_.padding <= g_.kh - 1 && in.h * in.w >= 64;
    if (transposed_dx_) flipped_weight_.resize(size_t(in.c) * flipped_.k());
    per_sample_ = int(hw_out()) >= g_per_sample_min_hw;
    const bool winograd_geometry =
        g_winograd && per_sample_ && o_.kernel_size == 3 && o_.stride == 1 && o_.padding == 1;
    winograd_ = winograd_geometry && in.c >= kWinogradMinChannels;
    if (winograd_) {
      wg_ = cpu::Winograd3x3(in.c, o_.out_channels, in.h, in.w);
      winograd_weight_.resize(wg_.weight_floats());
    }
    // The input gradient's convolution (dy with the flipped kernel) has the
    // same geometry with the channels swapped.
    winograd_dx_ = winograd_geometry && transposed_dx_ && flipped_.all_taps() &&
                   o_.out_channels >= kWinogradMinChannels;
    if (winograd_dx_) {
      wg_dx_ = cpu::Winograd3x3(o_.out_channels, in.c, in.h, in.w);
      winograd_dx_weight_.resize(wg_dx_.weight_floats());
    }
    band_rows_ = std::clamp(int(kBandFloats / (size_t(g_.k()) * g_.wo())), 1, g_.ho());
    if (!g_.all_taps()) {
      packed_weight_.resize(size_t(o_.out_channels) * g_.k());
      packed_grad_.resize(packed_weight_.size());
    }
    add_param("weight", {o_.out_channels, in.c, o_.kernel_size, o_.kernel_size});
    if (o_.bias) add_param("bias", {o_.out_channels});
    return out_;
  }

  void reset_parameters(Rng& rng) override {
    for (Param& p : params_) init_uniform_fan_in(p, g_.k(), rng);
  }

  size_t hw_out() const { return size_t(g_.ho()) * g_.wo(); }
  size_t hw_in() const { return size_t(g_.h) * g_.w; }
  size_t col_floats() const { return size_t(g_.k()) * hw_out(); }  // per sample
  size_t work_floats() const {                                       // per sample, besides the columns
    const size_t dx_route = transposed_dx_ ? size_t(flipped_.k()) * hw_in() + size_t(g_.c) * hw_in() : col_floats();
    return size_t(o_.out_channels) * hw_out() + dx_route;
  }
  int chunk(int n) const {
    return std::clamp(int(g_workspace_budget / (col_floats() + work_floats())), 1, std::max(n, 1));
  }
  // The columns are kept from forward to backward when the largest batch
  // reserved for is one chunk; a smaller batch then fits the same space.
  bool keeps_columns(int n) const { return !per_sample_ && chunk(n) >= n; }
  size_t saved_floats(int n) const override {
    kept_batch_ = keeps_columns(n) ? n : 0;
    return size_t(kept_batch_) * col_floats();
  }
  size_t workspace_floats(int n) const override {
    if (per_sample_) {
      team_ = cpu::num_threads();
      return size_t(team_) * per_thread_floats();
    }
    return size_t(chunk(n)) * ((keeps_columns(n) ? 0 : col_floats()) + work_floats());
  }

  bool fuses_relu() const override { return true; }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    if (per_sample_)
      forward_per_sample(x, y, s);
    else
      forward_batched(x, y, s);
  }

  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, Scratch& s) override {
    if (per_sample_)
      backward_per_sample(x, dy, dx, s);
    else
      backward_batched(x, y, dy, dx, s);
  }

 private:
  // Per thread: one image's columns, its input-gradient route, and the
  // thread's share of the weight and bias gradients.
  size_t per_thread_floats() const {
    const size_t dx_route = winograd_dx_     ? wg_dx_.workspace_floats()
                            : transposed_dx_ ? size_t(flipped_.k()) * hw_in()
                                             : col_floats();
    const size_t backward = col_floats() + dx_route + size_t(o_.out_channels) * (g_.k() + 1);
    return winograd_ ? std::max(backward, wg_.workspace_floats()) : backward;
  }
  int team(int n) const { return std::max(1, std::min({team_, cpu::num_threads(), n})); }

  void forward_per_sample(const Tensor& x, Tensor& y, Scratch& s) {
    const float* bias = o_.bias ? params_[1].value : nullptr;
    const size_t per_thread = per_thread_floats();
    if (winograd_) {
      cpu::winograd_weight(wg_, params_[0].value, winograd_weight_.data());
#pragma omp parallel for schedule(static) num_threads(team(x.n))
      for (int i = 0; i < x.n; ++i) {
        float* work = s.workspace + size_t(omp_get_thread_num()) * per_thread;
        cpu::winograd_conv3x3(wg_, winograd_weight_.data(), x.sample(i), bias, s.relu, y.sample(i), work);
      }
      return;
    }
    const int hw = int(hw_out()), k = g_.k(), cout = o_.out_channels;
    const float* weight = pack_weight();
#pragma omp parallel num_threads(team(x.n))
    {
      float* col = s.workspace + size_t(omp_get_thread_num()) * per_thread;
#pragma omp for schedule(static)
      for (int i = 0; i < x.n; ++i) {
        float* out = y.sample(i);
        // Bands of output rows whose columns fit in L2: the GEMM then reads
        // them where im2col just wrote them.
        for (int oh0 = 0; oh0 < g_.ho(); oh0 += band_rows_) {
          const int oh1 = std::min(g_.ho(), oh0 + band_rows_), cols = (oh1 - oh0) * g_.wo();
          cpu::im2col_band(g_, x.sample(i), oh0, oh1, col);
          cpu::gemm(false, false, cout, cols, k, 1.f, weight, k, col, cols, 0.f, out + oh0 * g_.wo(), hw);
        }
        if (bias) cpu::add_channel_bias(bias, 1, cout, hw, out);
        if (s.relu) cpu::relu_forward(out, size_t(cout) * hw, out);
      }
    }
  }

  void backward_per_sample(const Tensor& x, const Tensor& dy, Tensor* dx, Scratch& s) {
    const int hw = int(hw_out()), k = g_.k(), cout = o_.out_channels, threads = team(x.n);
    if (dx && transposed_dx_) flip_weight();
    if (dx && winograd_dx_) cpu::winograd_weight(wg_dx_, flipped_weight_.data(), winograd_dx_weight_.data());
    const float* weight = g_.all_taps() ? params_[0].value : packed_weight_.data();
    float* weight_grad = g_.all_taps() ? params_[0].grad : packed_grad_.data();
    const size_t per_thread = per_thread_floats(), grads = size_t(cout) * (k + 1);
#pragma omp parallel num_threads(threads)
    {
      float* col = s.workspace + size_t(omp_get_thread_num()) * per_thread;
      float* route = col + col_floats();
      float* dw = s.workspace + (size_t(omp_get_thread_num()) + 1) * per_thread - grads;
      float* db = dw + size_t(cout) * k;
      std::fill(dw, dw + grads, 0.f);
#pragma omp for schedule(static)
      for (int i = 0; i < x.n; ++i) {
        const float* dyi = dy.sample(i);
        cpu::im2col_band(g_, x.sample(i), 0, g_.ho(), col);
        cpu::gemm(false, true, cout, k, hw, 1.f, dyi, hw, col, hw, 1.f, dw, k);
        if (o_.bias) cpu::sum_cols(dyi, cout, hw, db, true);
        if (!dx) continue;
        if (winograd_dx_) {
          cpu::winograd_conv3x3(wg_dx_, winograd_dx_weight_.data(), dyi, nullptr, false, dx->sample(i), route);
        } else if (transposed_dx_) {
          const int hwi = int(hw_in()), kt = flipped_.k();
          cpu::im2col_band(flipped_, dyi, 0, flipped_.ho(), route);
          cpu::gemm(false, false, g_.c, hwi, kt, 1.f, flipped_weight_.data(), kt, route, hwi, 0.f, dx->sample(i), hwi);
        } else {
          cpu::gemm(true, false, k, hw, cout, 1.f, weight, k, dyi, hw, 0.f, route, hw);
          cpu::col2im(g_, route, 1, dx->sample(i));
        }
      }
    }
    const float* parts = s.workspace + per_thread - grads;
    cpu::sum_parts(parts, threads, per_thread, size_t(cout) * k, weight_grad);
    if (o_.bias) cpu::sum_parts(parts + size_t(cout) * k, threads, per_thread, cout, params_[1].grad);
    if (!g_.all_taps()) unpack_grad();
  }

  void forward_batched(const Tensor& x, Tensor& y, Scratch& s) {
    const int hw = int(hw_out()), k = g_.k(), cout = o_.out_channels, step = chunk(x.n);
    const bool keep = x.n <= kept_batch_;
    const float* bias = o_.bias ? params_[1].value : nullptr;
    const float* weight = pack_weight();
    for (int start = 0; start < x.n; start += step) {
      const int m = std::min(step, x.n - start), cols = m * hw;
      float* col = keep ? s.saved : s.workspace;
      float* out = keep ? s.workspace : col + size_t(k) * cols;
      cpu::im2col(g_, x.sample(start), m, col);
      cpu::gemm(false, false, cout, cols, k, 1.f, weight, k, col, cols, 0.f, out, cols);
      cpu::channels_to_nchw(out, m, cout, hw, bias, y.sample(start));
      if (s.relu) cpu::relu_forward(y.sample(start), size_t(m) * cout * hw, y.sample(start));
    }
  }

  void backward_batched(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) {
    const int hw = int(hw_out()), k = g_.k(), cout = o_.out_channels, step = chunk(x.n);
    const bool keep = x.n <= kept_batch_;
    if (dx && transposed_dx_) flip_weight();
    const float* weight = g_.all_taps() ? params_[0].value : packed_weight_.data();
    float* weight_grad = g_.all_taps() ? params_[0].grad : packed_grad_.data();
    for (int start = 0; start < x.n; start += step) {
      const int m = std::min(step, x.n - start), cols = m * hw;
      const float beta = start == 0 ? 0.f : 1.f;
      float* col = keep ? s.saved : s.workspace;
      float* dout = keep ? s.workspace : col + size_t(k) * cols;
      float* rest = dout + size_t(cout) * cols;
      if (!keep) cpu::im2col(g_, x.sample(start), m, col);
      cpu::nchw_to_channels(dy.sample(start), m, cout, hw, dout);
      cpu::gemm(false, true, cout, k, cols, 1.f, dout, cols, col, cols, beta, weight_grad, k);
      if (o_.bias) cpu::sum_cols(dout, cout, cols, params_[1].grad, start != 0);
      if (!dx) continue;
      if (transposed_dx_) {
        const int cols_in = m * int(hw_in()), kt = flipped_.k();
        float* col_dy = rest;
        float* dxc = col_dy + size_t(kt) * cols_in;
        cpu::im2col(flipped_, dy.sample(start), m, col_dy);
        cpu::gemm(false, false, g_.c, cols_in, kt, 1.f, flipped_weight_.data(), kt, col_dy, cols_in, 0.f, dxc,
                  cols_in);
        cpu::channels_to_nchw(dxc, m, g_.c, int(hw_in()), nullptr, dx->sample(start));
      } else {
        float* dcol = rest;
        cpu::gemm(true, false, k, cols, cout, 1.f, weight, k, dout, cols, 0.f, dcol, cols);
        cpu::col2im(g_, dcol, m, dx->sample(start));
      }
    }
    if (!g_.all_taps()) unpack_grad();
  }

  // The weight restricted to the active taps: [Cout, Cin * taps].
  const float* pack_weight() {
    if (g_.all_taps()) return params_[0].value;
    cpu::pack_taps(g_, params_[0].value, size_t(o_.out_channels) * g_.c, packed_weight_.data());
    return packed_weight_.data();
  }
  void unpack_grad() { cpu::unpack_taps(g_, packed_grad_.data(), size_t(o_.out_channels) * g_.c, params_[0].grad); }
  // flipped[ci][co][tap'] = W[co][ci][k-1-ki][k-1-kj] for the flipped geometry's active taps.
  void flip_weight() {
    const int kh = g_.kh, kw = g_.kw, kk = kh * kw, cout = o_.out_channels, nt = int(flipped_.taps.size());
    const float* w = params_[0].value;
    for (int ci = 0; ci < g_.c; ++ci)
      for (int co = 0; co < cout; ++co)
        for (int t = 0; t < nt; ++t) {
          const int ki = flipped_.taps[t] / kw, kj = flipped_.taps[t] % kw;
          flipped_weight_[(size_t(ci) * cout + co) * nt + t] =
              w[(size_t(co) * g_.c + ci) * kk + (kh - 1 - ki) * kw + (kw - 1 - kj)];
        }
  }

  Conv2dOptions o_;
  cpu::ConvGeometry g_{}, flipped_{};
  bool transposed_dx_ = false, per_sample_ = false, winograd_ = false, winograd_dx_ = false;
  cpu::Winograd3x3 wg_{}, wg_dx_{};
  std::vector<float> winograd_weight_;     // U of the last forward, [16][Cin][Cout]
  std::vector<float> winograd_dx_weight_;  // U of the flipped kernel, [16][Cout][Cin]
  int band_rows_ = 1;  // output rows per im2col + GEMM in the image-by-image forward
  mutable int team_ = 1;        // threads the workspace was sized for
  mutable int kept_batch_ = 0;  // batches up to this size keep their columns in `saved`
  std::vector<float> flipped_weight_, packed_weight_, packed_grad_;
};

}  // namespace

void set_conv2d_workspace_budget(size_t floats) { g_workspace_budget = floats; }
void set_conv2d_per_sample_min_hw(int pixels) { g_per_sample_min_hw = pixels; }
void set_conv2d_winograd(bool enabled) { g_winograd = enabled; }

std::unique_ptr<Layer> Conv2d(const Conv2dOptions& options) { return std::make_unique<Conv2dLayer>(options); }

}  // namespace mnistlab
