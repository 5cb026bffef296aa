// Grouped and depthwise Conv2d (grouped_conv.h).
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_fold.h"
#include "kernels/cpu/depthwise_kernels.h"
#include "kernels/cpu/grouped_conv.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/parallel.h"
#include "mnistlab/error.h"

namespace mnistlab::cpu {
namespace {

int round_up(int v, int m) { return (v + m - 1) / m * m; }

DepthwisePlan depthwise_plan(const ConvShape& s) {
  DepthwisePlan p{};
  p.k = s.k, p.stride = s.stride, p.pad = s.pad;
  p.h = s.h, p.w = s.w, p.ho = s.ho(), p.wo = s.wo();
  p.multiplier = s.cout / s.cin;
  constexpr int V = kDepthwiseColumns;
  const int st = s.stride, reach = (s.k - 1) / st;  // columns a tap reaches past its output, per phase
  p.hp = s.h + 2 * s.pad;
  // Forward and the weight gradient read up to the last vector's end plus
  // the reach; the image's last column lands at (w - 1 + pad) / stride,
  // and filling the planes may store a vector of zeros from there.
  p.xq = std::max(round_up(p.wo, V) + reach, (s.w - 1 + s.pad) / st + 1 + V);
  p.lq = reach;
  // Input gradient: padded columns up to pad + w - 1, i.e. t up to (pad + w - 1) / stride.
  p.tq = round_up(std::max((s.pad + s.w - 1) / st + 1, p.wo), V);
  // (The stride-1 input gradient reads columns pad .. pad + round_up(w) + k - 2.)
  p.dq = p.lq + p.tq + V;
  const bool flipped = st == 1 && s.pad <= s.k - 1;
  p.dy_top = flipped ? s.k - 1 - s.pad : 0;
  p.dy_rows = flipped ? s.h + s.k - 1 : p.ho;
  p.phase_floats = size_t(p.hp) * p.xq;
  p.dy_floats = size_t(p.dy_rows) * p.dq;
  p.work_floats = size_t(st) * p.phase_floats + size_t(p.multiplier) * p.dy_floats + 2 * size_t(st) * p.tq;
  p.flat = s.k == 3 && st == 1 && s.pad == 1 && p.multiplier == 1;
  if (p.flat) p.work_floats = 0;  // read in place
  return p;
}

// The flat route's masks (depthwise_flat_body.h) for vectors of `lanes`
// floats over an h x w plane: per vector left, right, row above, own row,
// row below, bit l for the vector's lane l.
std::vector<std::uint32_t> flat_masks(int h, int w, int lanes) {
  const int n = h * w;
  std::vector<std::uint32_t> masks;
  for (int i = 0; i < n; i += lanes) {
    std::uint32_t m[kFlatMasks] = {};
    for (int l = 0; l < lanes && i + l < n; ++l) {
      const int at = i + l, col = at % w;
      const std::uint32_t bit = std::uint32_t(1) << l;
      if (col > 0) m[0] |= bit;
      if (col < w - 1) m[1] |= bit;
      if (at >= w) m[2] |= bit;
      m[3] |= bit;
      if (at < n - w) m[4] |= bit;
    }
    masks.insert(masks.end(), m, m + kFlatMasks);
  }
  return masks;
}

// The AVX-512 stride-2 route's permutes (depthwise_s2_body.h), when the shape takes it.
void plan_s2(const ConvShape& s, DepthwisePlan& p) {
  p.s2 = s.k == 3 && s.stride == 2 && s.pad == 1 && p.multiplier == 1 && p.wo <= 16;
  if (!p.s2) return;
  p.s2_rows = p.wo <= 8 ? 2 : 1;  // two rows: both in A:B, 16 floats each
  for (int kj = 0; kj < 3; ++kj) {
    p.s2_mask[kj] = 0;
    for (int l = 0; l < 16; ++l) {
      const int row = l / p.wo, col = 2 * (l % p.wo) + kj - 1;
      const bool in = row < p.s2_rows && col >= 0 && col < s.w;
      p.s2_index[kj][l] = in ? row * 16 + col : 0;
      if (in) p.s2_mask[kj] |= 1u << l;
    }
  }
  p.work_floats = 0;  // read in place
}

int vector_lanes(Isa isa) { return isa == Isa::Avx512 ? 16 : isa == Isa::Avx2 ? 8 : 1; }

// body(thread, begin, end) on each of `threads` threads, planes [0, count)
// split as OpenMP's static schedule splits them (the first count % threads
// threads one more); one thread opens no OpenMP region (parallel.h says why).
template <class Body>
void each_thread(int threads, long count, Body&& body) {
  if (threads <= 1) return body(0, 0L, count);
  auto share = [&](int t) {
    const long q = count / threads, r = count % threads;
    const long begin = t * q + std::min<long>(t, r);
    body(t, begin, begin + q + (t < r ? 1 : 0));
  };
#pragma omp parallel num_threads(threads)
  share(omp_get_thread_num());
}

using ForwardPlane = void (*)(const DepthwisePlan&, const float*, const float*, const float*, bool, float*, float*);
using BackwardPlane = void (*)(const DepthwisePlan&, const float*, const float*, const float*, float*, float*, float*,
                               float*);

// Depthwise: one (image, input channel) plane at a time, each thread with
// its own padded planes and its share of the weight and bias gradients,
// summed in thread order at the end (the same sums every time for a given
// thread count).
class DepthwiseConv2d final : public ConvKernel {
 public:
  DepthwiseConv2d(const CpuContext& ctx, const ConvShape& s, int max_batch, bool gradients)
      : ctx_(ctx), s_(s), gradients_(gradients), plan_(depthwise_plan(s)) {
    switch (ctx.isa) {
      case Isa::Avx512: forward_ = depthwise_forward_avx512, backward_ = depthwise_backward_avx512; break;
      case Isa::Avx2: forward_ = depthwise_forward_avx2, backward_ = depthwise_backward_avx2; break;
      case Isa::Scalar: forward_ = depthwise_forward_scalar, backward_ = depthwise_backward_scalar; break;
    }
    if (plan_.flat) {
      masks_ = flat_masks(s.h, s.w, vector_lanes(ctx.isa));
      plan_.masks = masks_.data();
    }
    if (ctx.isa == Isa::Avx512) plan_s2(s, plan_);
    team_ = std::max(1, std::min(ctx.threads, std::max(max_batch, 1) * s.cin));
    scaled_weight_.resize(size_t(s.cout) * taps());
    bias_.resize(s.cout);
  }

  std::string route() const override {
    return std::string("depthwise direct ") + (s_.k == 3 ? "3x3" : "k=" + std::to_string(s_.k) + " (any k)") + "/" +
           isa_name(ctx_.isa) + (plan_.multiplier > 1 ? ", multiplier " + std::to_string(plan_.multiplier) : "") +
           (plan_.flat ? ", flat planes" : plan_.s2 ? ", rows in place" : "");
  }
  size_t workspace_floats() const override { return size_t(team_) * per_thread(); }

  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory m) override {
    const float* w = weight;
    if (affine.scale) {
      std::copy(weight, weight + scaled_weight_.size(), scaled_weight_.begin());
      scale_rows(affine, s_.cout, taps(), scaled_weight_.data());
      w = scaled_weight_.data();
    }
    const float* b = fold_bias(bias, affine, s_.cout, bias_.data());
    const int cin = s_.cin, mult = plan_.multiplier, kk = int(taps());
    const size_t in_len = size_t(s_.h) * s_.w, out_len = size_t(plan_.ho) * plan_.wo * mult;
    const long planes = long(n) * cin;
    const size_t per = per_thread(), zeroed = plan_.work_floats ? size_t(s_.stride) * plan_.phase_floats : 0;
    const ForwardPlane plane = forward_;
    each_thread(team(n), planes, [&](int thread, long begin, long end) {
      float* work = m.workspace + size_t(thread) * per;
      std::memset(work, 0, sizeof(float) * zeroed);
      for (long i = begin; i < end; ++i) {
        const int c = int(i % cin);
        plane(plan_, x + i * in_len, w + size_t(c) * mult * kk, b ? b + size_t(c) * mult : nullptr, relu,
              y + i * out_len, work);
      }
    });
  }

  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory m) override {
    const int cin = s_.cin, cout = s_.cout, mult = plan_.multiplier, kk = int(taps()), threads = team(n);
    const size_t in_len = size_t(s_.h) * s_.w, out_len = size_t(plan_.ho) * plan_.wo * mult;
    const long planes = long(n) * cin;
    constexpr size_t L = kDepthwiseColumns;  // partial sums per gradient value
    const size_t per = per_thread(), grads = (size_t(cout) * kk + cout) * L;
    const size_t zeroed =
        plan_.work_floats ? size_t(s_.stride) * plan_.phase_floats + size_t(mult) * plan_.dy_floats : 0;
    const BackwardPlane plane = backward_;
    each_thread(threads, planes, [&](int thread, long begin, long end) {
      float* work = m.workspace + size_t(thread) * per;
      float* dw = work + plan_.work_floats;
      float* db = dw + size_t(cout) * kk * L;
      std::memset(work, 0, sizeof(float) * zeroed);
      std::memset(dw, 0, sizeof(float) * grads);
      for (long i = begin; i < end; ++i) {
        const int c = int(i % cin);
        const size_t first = size_t(c) * mult;  // the plane's first output channel
        plane(plan_, x + i * in_len, dy + i * out_len, weight + first * kk, dw + first * kk * L,
              dbias ? db + first * L : nullptr, dx ? dx + i * in_len : nullptr, work);
      }
    });
    // Every value's partial sums, thread by thread, lane by lane: the same order every time.
    const float* parts = m.workspace + plan_.work_floats;
    auto total = [&](size_t at) {
      float sum = 0.f;
      for (int t = 0; t < threads; ++t)
        for (size_t l = 0; l < L; ++l) sum += parts[t * per + at * L + l];
      return sum;
    };
    for (size_t v = 0; v < size_t(cout) * kk; ++v) dweight[v] = total(v);
    if (dbias)
      for (int c = 0; c < cout; ++c) dbias[c] = total(size_t(cout) * kk + c);
  }

 private:
  size_t taps() const { return size_t(s_.k) * s_.k; }
  // Per thread: the padded planes and rows, then its share of the weight and bias gradients.
  size_t per_thread() const {
    const size_t floats = plan_.work_floats + (gradients_ ? size_t(s_.cout) * (taps() + 1) * kDepthwiseColumns : 0);
    return (floats + 15) / 16 * 16;  // whole cache lines apart
  }
  int team(int n) const {
    const double macs = double(n) * s_.cout * plan_.ho * plan_.wo * taps();
    return std::max(1, std::min({team_, n * s_.cin, ctx_.threads_for(macs)}));
  }

  CpuContext ctx_;
  ConvShape s_;
  bool gradients_;
  DepthwisePlan plan_;
  ForwardPlane forward_ = nullptr;
  BackwardPlane backward_ = nullptr;
  int team_ = 1;
  std::vector<float> scaled_weight_, bias_;
  std::vector<std::uint32_t> masks_;  // plan_.masks
};

// Any other grouping: each group by the ordinary routes, as a Conv2d of
// cin / G -> cout / G channels on its input channels gathered into a batch
// of their own (its output channels, and its weight and bias rows, are
// contiguous already). Each group keeps its own kernel: a route may keep
// packed weights or columns from its forward for its backward.
class GroupedConv2d final : public ConvKernel {
 public:
  GroupedConv2d(const CpuContext& ctx, const ConvShape& s, int max_batch, bool gradients)
      : ctx_(ctx), s_(s), max_batch_(std::max(max_batch, 1)) {
    group_ = s;
    group_.cin = s.cin / s.groups, group_.cout = s.cout / s.groups, group_.groups = 1;
    size_t saved = 0;
    for (int g = 0; g < s.groups; ++g) {
      kernels_.push_back(make_conv2d(ctx, group_, max_batch, gradients));
      saved_at_.push_back(saved);
      saved += kernels_.back()->saved_floats();
      inner_workspace_ = std::max(inner_workspace_, kernels_.back()->workspace_floats());
    }
    saved_ = saved;
  }

  std::string route() const override {
    return "grouped, " + std::to_string(s_.groups) + " groups of " + std::to_string(group_.cin) + " -> " +
           std::to_string(group_.cout) + " channels, each " + kernels_.front()->route();
  }
  size_t saved_floats() const override { return saved_; }
  // The group's input, output gradient and input gradient for the whole batch, then its kernel's workspace.
  size_t workspace_floats() const override {
    return size_t(max_batch_) * (2 * group_in() + group_out()) + inner_workspace_;
  }

  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory m) override {
    float* xg = m.workspace;
    float* yg = xg + size_t(max_batch_) * group_in();
    float* inner = yg + size_t(max_batch_) * group_out() + size_t(max_batch_) * group_in();
    for (int g = 0; g < s_.groups; ++g) {
      gather(x, n, g, group_in(), xg);
      const size_t co = size_t(g) * group_.cout;
      const ChannelAffine a{affine.scale ? affine.scale + co : nullptr, affine.shift ? affine.shift + co : nullptr};
      kernels_[g]->forward(xg, n, weight + co * weight_row(), bias ? bias + co : nullptr, a, relu, yg,
                           {m.saved ? m.saved + saved_at_[g] : nullptr, inner});
      scatter(yg, n, g, group_out(), y);
    }
  }

  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory m) override {
    float* xg = m.workspace;
    float* dyg = xg + size_t(max_batch_) * group_in();
    float* dxg = dyg + size_t(max_batch_) * group_out();
    float* inner = dxg + size_t(max_batch_) * group_in();
    for (int g = 0; g < s_.groups; ++g) {
      gather(x, n, g, group_in(), xg);
      gather(dy, n, g, group_out(), dyg);
      const size_t co = size_t(g) * group_.cout;
      kernels_[g]->backward(xg, dyg, n, weight + co * weight_row(), dweight + co * weight_row(),
                            dbias ? dbias + co : nullptr, dx ? dxg : nullptr,
                            {m.saved ? m.saved + saved_at_[g] : nullptr, inner});
      if (dx) scatter(dxg, n, g, group_in(), dx);
    }
  }

 private:
  size_t group_in() const { return size_t(group_.cin) * s_.h * s_.w; }
  size_t group_out() const { return size_t(group_.cout) * s_.ho() * s_.wo(); }
  size_t weight_row() const { return size_t(group_.cin) * s_.k * s_.k; }
  int threads(int n, size_t len) const { return size_t(n) * len >= (size_t(1) << 16) ? ctx_.threads : 1; }

  // Group g's slice (len floats per image) of every image, packed one image after another, and back.
  void gather(const float* all, int n, int g, size_t len, float* part) const {
    const size_t stride = len * s_.groups;
    parallel_for(threads(n, len), n,
                 [&](int i) { std::memcpy(part + i * len, all + i * stride + g * len, sizeof(float) * len); });
  }
  void scatter(const float* part, int n, int g, size_t len, float* all) const {
    const size_t stride = len * s_.groups;
    parallel_for(threads(n, len), n,
                 [&](int i) { std::memcpy(all + i * stride + g * len, part + i * len, sizeof(float) * len); });
  }

  CpuContext ctx_;
  ConvShape s_, group_;
  int max_batch_;
  std::vector<std::unique_ptr<ConvKernel>> kernels_;
  std::vector<size_t> saved_at_;
  size_t saved_ = 0, inner_workspace_ = 0;
};

}  // namespace

std::unique_ptr<ConvKernel> make_grouped_conv2d(const CpuContext& ctx, const ConvShape& s, int max_batch,
                                                bool gradients) {
  if (s.groups < 1 || s.cin % s.groups != 0 || s.cout % s.groups != 0)
    throw Error("conv groups=" + std::to_string(s.groups) + " must divide both the input channels (" +
                std::to_string(s.cin) + ") and the output channels (" + std::to_string(s.cout) + ")");
  if (s.groups == 1) return make_conv2d(ctx, s, max_batch, gradients);
  if (s.groups == s.cin) return std::make_unique<DepthwiseConv2d>(ctx, s, max_batch, gradients);
  return std::make_unique<GroupedConv2d>(ctx, s, max_batch, gradients);
}

}  // namespace mnistlab::cpu
