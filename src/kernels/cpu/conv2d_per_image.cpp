// Conv2d on maps of 49 pixels and more (BackendOptions::per_image_min_pixels):
// the threads split the batch, and each unfolds one image into its own
// column buffer (small enough to stay in cache) and multiplies it with a
// single-threaded GEMM whose result is already that image's NCHW output. No
// transposes, one barrier per call; the columns are unfolded again in
// backward instead of being kept, which costs less than writing them to
// memory and reading them back. Weight gradients are summed per thread,
// then added up in thread order. (Small maps: conv2d_batched.cpp.)
//
// Kernel taps that only ever see padding are left out of the GEMMs (see
// ConvGeometry::taps).
//
// 3x3 stride-1 padding-1 layers with enough input channels (the baseline's
// and VGG-BN's 28x28 and 14x14 layers) compute their forward by Winograd
// F(2x2, 3x3) instead (kernels/cpu/winograd.h): 16 products per 2x2 outputs
// and channel pair instead of 36. bench/conv3x3 measured the threshold:
// below 8 input channels the transforms cost more than they save. The input
// gradient of such a layer (below) is the same convolution with channels
// swapped, so it takes Winograd too when the layer has 8 or more output
// channels. Its weight gradient takes Winograd when both channel counts are
// 8 or more and the layer is large enough (winograd_weight_products): 16
// products per tile and channel pair instead of 36, the transforms costing
// less than the GEMM they save.
//
// Backward, input gradient: for stride 1 it is itself a convolution of dy
// with the kernel flipped and in/out channels swapped, padding k-1-p; that
// costs one im2col and a well-shaped GEMM (M = Cin), where the textbook
// route (W^T dy into columns, then col2im) runs a GEMM with K = Cout only
// and a scattered col2im. Strided convolutions and small maps take the
// textbook route.

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_fold.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/memory.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/winograd.h"

namespace mnistlab::cpu {
namespace {

constexpr int kWinogradMinChannels = 8;           // input channels (forward) or output channels (input gradient)
// The weight gradient's 16 GEMMs per image have K = the image's tiles: on a
// 7x7 map (16 tiles) with 64 channels or fewer they run slower than im2col's
// one GEMM (bench/conv3x3: 0.74x at 64-64 7x7, 0.90x at 32-32 14x14; 1.08x
// to 1.40x from Cin * Cout * tiles = 200,704 up).
constexpr size_t kWinogradMinWeightProducts = size_t(1) << 17;
constexpr size_t kBandFloats = size_t(1) << 16;  // 256 KiB of columns: half of a typical L2
// Backward unfolds whole images (one GEMM each) up to
// BackendOptions::image_column_floats per thread, larger maps in bands of
// rows (a fuzzed `input 128 4 4` / `conv 128 k=3 p=114` wanted 600 MB).

class PerImageConv2d final : public ConvKernel {
 public:
  PerImageConv2d(const CpuContext& ctx, const ConvShape& s, int max_batch, bool gradients)
      : ctx_(ctx), s_(s), gradients_(gradients) {
    const BackendOptions& o = ctx.options;
    g_ = {s.cin, s.h, s.w, s.k, s.k, s.stride, s.pad};
    // dy seen as the input of the transposed convolution (stride 1 only).
    flipped_ = {s.cout, g_.ho(), g_.wo(), s.k, s.k, 1, s.k - 1 - s.pad};
    // On small maps the textbook route's GEMM is cheap and skips flipping the weight.
    transposed_dx_ = s.stride == 1 && s.pad <= s.k - 1 && s.h * s.w >= 64;
    if (transposed_dx_) flipped_weight_ = KernelFloats(size_t(s.cin) * flipped_.k());
    // (On a map of one row or column some taps only see padding: the GEMM
    // route leaves them out, Winograd's transforms cannot.)
    //
    // At Bf16 these layers keep float32 Winograd, on x, weights and dy
    // rounded to bfloat16 first (round_): the products of the rounded values
    // summed in float32, as the bfloat16 GEMM computes them. bench/
    // bf16_bakeoff.sh measured it faster than im2col with the bfloat16 GEMM
    // and than oneDNN's bfloat16 primitives on NCHW tensors (bench/README.md).
    const bool winograd_geometry = o.conv != ConvAlgorithm::Im2col && s.k == 3 && s.stride == 1 && s.pad == 1 &&
                                   g_.all_taps();
    const int min_channels = o.conv == ConvAlgorithm::Winograd ? 1 : kWinogradMinChannels;
    winograd_ = winograd_geometry && s.cin >= min_channels;
    if (winograd_) {
      wg_ = Winograd3x3(s.cin, s.cout, s.h, s.w, ctx.isa);
      winograd_weight_ = KernelFloats(wg_.weight_floats());
    }
    // The input gradient's convolution (dy with the flipped kernel) has the
    // same geometry with the channels swapped.
    winograd_dx_ = winograd_geometry && transposed_dx_ && flipped_.all_taps() && s.cout >= min_channels;
    if (winograd_dx_) {
      wg_dx_ = Winograd3x3(s.cout, s.cin, s.h, s.w, ctx.isa);
      winograd_dx_weight_ = KernelFloats(wg_dx_.weight_floats());
    }
    winograd_dw_ = gradients && winograd_ && s.cout >= min_channels &&
                   (o.conv == ConvAlgorithm::Winograd ||
                    size_t(s.cin) * s.cout * wg_.tiles_h * wg_.tiles_w >= kWinogradMinWeightProducts);
    if (winograd_dw_) winograd_grad_ = KernelFloats(wg_.weight_floats());
    round_ = o.precision == Precision::Bf16 && (winograd_ || winograd_dx_);
    backward_rows_ = band_rows(o.image_column_floats, size_t(g_.k()) * g_.wo(), g_.ho());
    band_rows_ = std::min(backward_rows_, band_rows(kBandFloats, size_t(g_.k()) * g_.wo(), g_.ho()));
    flipped_rows_ = band_rows(o.image_column_floats, size_t(flipped_.k()) * g_.w, g_.h);
    packed_weight_ = KernelFloats(size_t(s.cout) * g_.k());
    if (!g_.all_taps()) packed_grad_ = KernelFloats(packed_weight_.size());
    bias_.resize(s.cout);
    team_ = std::max(1, std::min(ctx.threads, max_batch));
  }

  std::string route() const override {
    std::string r = ctx_.options.precision != Precision::Bf16 ? "per image, "
                    : round_ ? "per image, bf16 (winograd on rounded inputs, GEMMs bf16), "
                             : "per image, bf16 GEMM, ";
    r += winograd_ ? std::string("winograd/") + isa_name(ctx_.isa) : "im2col";
    r += " forward";
    if (!gradients_) return r;
    r += ", ";
    r += winograd_dx_ ? std::string("winograd/") + isa_name(ctx_.isa) : transposed_dx_ ? "flipped im2col" : "col2im";
    r += " input gradient, ";
    r += winograd_dw_ ? std::string("winograd/") + isa_name(ctx_.isa) : "im2col";
    return r + " weight gradient";
  }

  size_t workspace_floats() const override {
    return std::max(size_t(team_) * (per_thread_floats() + round_floats()), round_ ? s_.weight_floats() : 0);
  }

  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory m) override {
    const float* w = fold(weight, affine);
    forward_images(x, n, w, fold_bias(bias, affine, s_.cout, bias_.data()), relu, y, m);
  }

  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory m) override {
    backward_images(x, dy, n, weight, dweight, dbias, dx, m);
  }

 private:
  size_t hw_out() const { return size_t(g_.ho()) * g_.wo(); }
  size_t hw_in() const { return size_t(g_.h) * g_.w; }
  // One band of backward's columns: backward_rows_ output rows.
  size_t col_floats() const { return size_t(g_.k()) * backward_rows_ * g_.wo(); }
  // Backward's first region per thread: the weight gradient's columns or Winograd workspace.
  size_t dw_route_floats() const { return winograd_dw_ ? wg_.workspace_floats() : col_floats(); }
  // The thread's share of the weight gradient (im2col's [Cout][Cin * taps]
  // or Winograd's 16 products [16][Cout][Cin]), then of the bias gradient.
  size_t grad_floats() const {
    return (winograd_dw_ ? wg_.weight_floats() : size_t(s_.cout) * g_.k()) + size_t(s_.cout);
  }
  // Per thread: a band of columns, its input-gradient route, and the
  // thread's share of the weight and bias gradients.
  size_t per_thread_floats() const {
    const size_t forward = winograd_ ? wg_.workspace_floats() : size_t(g_.k()) * band_rows_ * g_.wo();
    if (!gradients_) return forward;
    const size_t dx_route = winograd_dx_     ? wg_dx_.workspace_floats()
                            : transposed_dx_ ? size_t(flipped_.k()) * flipped_rows_ * g_.w
                                             : col_floats();
    const size_t backward = dw_route_floats() + dx_route + grad_floats();
    return winograd_ ? std::max(backward, wg_.workspace_floats()) : backward;
  }
  // Per thread, after every thread's per_thread_floats(): one image of x and
  // one of dy rounded to bfloat16 for the Winograd routes.
  size_t round_floats() const { return round_ ? size_t(g_.c) * hw_in() + size_t(s_.cout) * hw_out() : 0; }
  float* rounded_x(const KernelMemory& m, int thread) const {
    return m.workspace + size_t(team_) * per_thread_floats() + size_t(thread) * round_floats();
  }
  float* rounded_dy(const KernelMemory& m, int thread) const { return rounded_x(m, thread) + size_t(g_.c) * hw_in(); }
  // x (len floats) as the Winograd routes read it: rounded into `to` at Bf16.
  const float* as_multiplied(const float* x, size_t len, float* to) const {
    if (!round_) return x;
    round_bf16_floats(x, len, to);
    return to;
  }

  int team(int n) const {
    const double macs = double(n) * s_.cout * g_.k() * hw_out();
    return std::max(1, std::min({team_, n, ctx_.threads_for(macs)}));
  }

  // The weight restricted to the active taps, [Cout, Cin * taps], scaled per
  // output channel by an eval-mode affine.
  const float* fold(const float* weight, const ChannelAffine& a) {
    if (g_.all_taps() && !a.scale) return weight;
    pack_taps(g_, weight, size_t(s_.cout) * g_.c, packed_weight_.data());
    scale_rows(a, s_.cout, size_t(g_.k()), packed_weight_.data());
    return packed_weight_.data();
  }

  void forward_images(const float* x, int n, const float* w, const float* bias, bool relu, float* y,
                         KernelMemory m) {
    const size_t per_thread = per_thread_floats(), in_len = size_t(g_.c) * hw_in();
    const int hw = int(hw_out()), k = g_.k(), cout = s_.cout;
    const size_t out_len = size_t(cout) * hw;
    if (winograd_) {
      // The Winograd route needs all taps: a scaled weight is still [Cout, Cin, 3, 3].
      // The rounded weight lives in the workspace until its transform is made, before any thread's work starts.
      winograd_weight(wg_, as_multiplied(w, s_.weight_floats(), m.workspace), winograd_weight_.data());
      parallel_for_threads(team(n), n, [&](int thread, int i) {
        float* work = m.workspace + size_t(thread) * per_thread;
        const float* xi = as_multiplied(x + i * in_len, in_len, rounded_x(m, thread));
        winograd_conv3x3(wg_, winograd_weight_.data(), xi, bias, relu, y + i * out_len, work);
      });
      return;
    }
    parallel_for_threads(team(n), n, [&](int thread, int i) {
      float* col = m.workspace + size_t(thread) * per_thread;
      float* out = y + i * out_len;
      // Bands of output rows whose columns fit in L2: the GEMM then reads
      // them where im2col just wrote them.
      for (int oh0 = 0; oh0 < g_.ho(); oh0 += band_rows_) {
        const int oh1 = std::min(g_.ho(), oh0 + band_rows_), cols = (oh1 - oh0) * g_.wo();
        im2col_band(g_, x + i * in_len, oh0, oh1, col);
        matmul(ctx_.options.precision, 1, false, false, cout, cols, k, w, k, col, cols, 0.f, out + oh0 * g_.wo(), hw);
      }
      if (bias) add_channel_bias(1, bias, 1, cout, hw, out);
      if (relu) relu_forward(1, out, out_len, out);
    });
  }

  void backward_images(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias,
                          float* dx, KernelMemory m) {
    const int hw = int(hw_out()), k = g_.k(), cout = s_.cout, threads = team(n);
    const size_t in_len = size_t(g_.c) * hw_in(), out_len = size_t(cout) * hw;
    if (dx && transposed_dx_) flip_weight(weight);
    if (dx && winograd_dx_) {
      if (round_) round_bf16_floats(flipped_weight_.data(), flipped_weight_.size(), flipped_weight_.data());
      winograd_weight(wg_dx_, flipped_weight_.data(), winograd_dx_weight_.data());
    }
    const float* w = g_.all_taps() ? weight : packed(weight);
    float* weight_grad = g_.all_taps() ? dweight : packed_grad_.data();
    const size_t per_thread = per_thread_floats(), grads = grad_floats(), dw_len = grads - cout;
    const bool textbook_dx = dx && !winograd_dx_ && !transposed_dx_;
    // Bands of output rows serve im2col's weight gradient and the textbook input gradient.
    const bool im2col_dw = !winograd_dw_, bands = im2col_dw || textbook_dx;
    // Each thread sums its images' weight and bias gradients into its own
    // share of the workspace; the shares are added in thread order below.
    for (int t = 0; t < threads; ++t) {
      float* dw = m.workspace + (size_t(t) + 1) * per_thread - grads;
      std::fill(dw, dw + grads, 0.f);
    }
    parallel_for_threads(threads, n, [&](int thread, int i) {
      float* col = m.workspace + size_t(thread) * per_thread;
      float* route = col + dw_route_floats();
      float* dw = m.workspace + (size_t(thread) + 1) * per_thread - grads;
      float* db = dw + dw_len;
      const float* dyi = dy + i * out_len;
      float* dxi = dx ? dx + i * in_len : nullptr;
      if (textbook_dx) std::fill(dxi, dxi + in_len, 0.f);
      // The Winograd routes' inputs rounded at Bf16 (the GEMMs round their own).
      const bool dy_winograd = winograd_dw_ || (dx && winograd_dx_);
      const float* dy_mult = dy_winograd ? as_multiplied(dyi, out_len, rounded_dy(m, thread)) : dyi;
      if (winograd_dw_)
        winograd_weight_products(wg_, as_multiplied(x + i * in_len, in_len, rounded_x(m, thread)), dy_mult, dw, col);
      for (int oh0 = 0; bands && oh0 < g_.ho(); oh0 += backward_rows_) {
        const int oh1 = std::min(g_.ho(), oh0 + backward_rows_), cols = (oh1 - oh0) * g_.wo();
        const float* dy_band = dyi + oh0 * g_.wo();
        if (im2col_dw) {
          im2col_band(g_, x + i * in_len, oh0, oh1, col);
          matmul(ctx_.options.precision, 1, false, true, cout, k, cols, dy_band, hw, col, cols, 1.f, dw, k);
        }
        if (textbook_dx) {
          matmul(ctx_.options.precision, 1, true, false, k, cols, cout, w, k, dy_band, hw, 0.f, route, cols);
          col2im_band(g_, route, oh0, oh1, dxi);
        }
      }
      if (dbias) sum_cols(1, dyi, cout, hw, db, true);
      if (dx && winograd_dx_) {
        winograd_conv3x3(wg_dx_, winograd_dx_weight_.data(), dy_mult, nullptr, false, dxi, route);
      } else if (dx && transposed_dx_) {
        const int hwi = int(hw_in()), kt = flipped_.k(), wi = g_.w;
        for (int r0 = 0; r0 < g_.h; r0 += flipped_rows_) {
          const int r1 = std::min(g_.h, r0 + flipped_rows_), cols = (r1 - r0) * wi;
          im2col_band(flipped_, dyi, r0, r1, route);
          matmul(ctx_.options.precision, 1, false, false, g_.c, cols, kt, flipped_weight_.data(), kt, route, cols, 0.f, dxi + r0 * wi, hwi);
        }
      }
    });
    const float* parts = m.workspace + per_thread - grads;
    if (winograd_dw_) {
      sum_parts(parts, threads, per_thread, dw_len, winograd_grad_.data());
      winograd_weight_gradient(wg_, winograd_grad_.data(), weight_grad);
    } else {
      sum_parts(parts, threads, per_thread, dw_len, weight_grad);
    }
    if (dbias) sum_parts(parts + dw_len, threads, per_thread, cout, dbias);
    if (!g_.all_taps()) unpack_taps(g_, packed_grad_.data(), size_t(cout) * g_.c, dweight);
  }

  const float* packed(const float* weight) {
    pack_taps(g_, weight, size_t(s_.cout) * g_.c, packed_weight_.data());
    return packed_weight_.data();
  }
  // flipped[ci][co][tap'] = W[co][ci][k-1-ki][k-1-kj] for the flipped geometry's active taps.
  void flip_weight(const float* w) {
    const int kh = g_.kh, kw = g_.kw, kk = kh * kw, cout = s_.cout, nt = int(flipped_.taps.size());
    for (int ci = 0; ci < g_.c; ++ci)
      for (int co = 0; co < cout; ++co)
        for (int t = 0; t < nt; ++t) {
          const int ki = flipped_.taps[t] / kw, kj = flipped_.taps[t] % kw;
          flipped_weight_[(size_t(ci) * cout + co) * nt + t] =
              w[(size_t(co) * g_.c + ci) * kk + (kh - 1 - ki) * kw + (kw - 1 - kj)];
        }
  }

  CpuContext ctx_;
  ConvShape s_;
  bool gradients_;
  ConvGeometry g_{}, flipped_{};
  bool transposed_dx_ = false, winograd_ = false, winograd_dx_ = false, winograd_dw_ = false;
  bool round_ = false;  // Bf16 with a Winograd route: its inputs rounded to bfloat16 first
  Winograd3x3 wg_{}, wg_dx_{};
  // Written before read (memory.h's KernelFloats): untouched while unused.
  KernelFloats winograd_weight_;     // U of the last forward, [16][Cin][Cout]
  KernelFloats winograd_dx_weight_;  // U of the flipped kernel, [16][Cout][Cin]
  KernelFloats winograd_grad_;       // the weight gradient's products summed over threads, [16][Cout][Cin]
  int band_rows_ = 1;                      // output rows per im2col + GEMM in the image-by-image forward
  int backward_rows_ = 1;                  // output rows per band in backward
  int flipped_rows_ = 1;                   // input rows per band of the flipped route's input gradient
  int team_ = 1;                           // threads the workspace was sized for
  KernelFloats flipped_weight_, packed_weight_, packed_grad_;
  std::vector<float> bias_;
};

// Where oneDNN's bfloat16 primitives (with their NCHW reorders) won
// bench/bf16_bakeoff.sh (bench/README.md; 2-core Zen 5 with AVX512_BF16,
// 1 thread, heavily loaded, so only the large differences count): VGG-BN's
// and best-fashion's 14x14, 7x7 and 4x4 layers and the 28x28 stride-2 one
// (forward and input gradient 1.4x to 6.8x faster than float32). Not on
// 2x2 and 1x1 maps, where its weight gradient took 11 to 180 ms against our
// 4 to 21 ms (VGG-BN L11-L16); not on one input channel (L1: oneDNN's
// forward 0.3x to 0.8x). On 28x28 stride-1 layers only when training and
// with 32 outputs or more: at 2 threads (2026-12-04, after eecc8ac) baseline
// L2/L3 and best-fashion L2 trained 1.1x to 2.2x faster than float32
// Winograd in every pass, while their inference at batch 1000 came out even
// and dae-unet's 17->1 output layer was 2.3x to 5x slower.
bool onednn_bf16_wins(const CpuContext&, const ConvShape& s, bool gradients) {
  const int pixels = s.h * s.w;
  if (s.cin == 1 || pixels < 16) return false;
  if (s.stride == 1 && pixels >= 28 * 28) return gradients && s.cout >= 32;
  return true;
}

}  // namespace

std::unique_ptr<ConvKernel> make_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch, bool gradients) {
  auto own = [&]() -> std::unique_ptr<ConvKernel> {
    if (shape.ho() * shape.wo() < ctx.options.per_image_min_pixels)
      return make_batched_conv2d(ctx, shape, max_batch, gradients);
    return std::make_unique<PerImageConv2d>(ctx, shape, max_batch, gradients);
  };
  if (ctx.options.precision == Precision::Bf16 && onednn_bf16_wins(ctx, shape, gradients))
    if (auto k = make_onednn_bf16_conv2d(ctx, shape, max_batch, gradients, own)) return k;
  return own();
}

}  // namespace mnistlab::cpu
