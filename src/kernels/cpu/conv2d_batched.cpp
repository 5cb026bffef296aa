// Conv2d on small maps (VGG-BN's 4x4 .. 1x1), where a GEMM per image would
// have N = 16 .. 1: the whole batch (in chunks that bound the columns) is
// unfolded and multiplied at once, one exact GEMM per group of output pixels
// that see the same kernel taps (kernels/cpu/tap_groups.h), so no product
// with padding is computed: on 2x2 maps that is 4/9 of a plain im2col's.
//
// The columns are kept from forward to backward when the largest batch fits
// in one chunk; the groups' packed weights are kept too (a training forward
// packs them unscaled, and backward uses them as they are).
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_fold.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/memory.h"
#include "kernels/cpu/tap_groups.h"

namespace mnistlab::cpu {
namespace {

class BatchedConv2d final : public ConvKernel {
 public:
  BatchedConv2d(const CpuContext& ctx, const ConvShape& s, int max_batch, bool gradients)
      : ctx_(ctx), s_(s), max_batch_(max_batch), gradients_(gradients) {
    g_ = {s.cin, s.h, s.w, s.k, s.k, s.stride, s.pad};
    groups_ = tap_groups(g_);
    size_t max_taps = 0;
    for (const TapGroup& group : groups_) {
      col_at_.push_back(col_per_image_);
      col_per_image_ += size_t(group.k(s.cin)) * group.size();
      out_per_image_ = std::max(out_per_image_, size_t(s.cout) * group.size());
      dcol_per_image_ = std::max(dcol_per_image_, size_t(group.k(s.cin)) * group.size());
      packed_.emplace_back(size_t(s.cout) * group.k(s.cin));
      max_taps = std::max(max_taps, group.taps.size());
    }
    dw_floats_ = size_t(s.cout) * s.cin * max_taps;
    bias_.resize(s.cout);
  }

  std::string route() const override {
    return std::string(ctx_.options.precision == Precision::Bf16 ? "batched, bf16 GEMM, " : "batched, ") +
           std::to_string(groups_.size()) + " tap group" + (groups_.size() == 1 ? "" : "s") +
           " (exact im2col + GEMM)";
  }
  size_t saved_floats() const override { return keeps_columns() ? size_t(max_batch_) * col_per_image_ : 0; }
  size_t workspace_floats() const override {
    const size_t per_image = (keeps_columns() ? 0 : col_per_image_) + out_per_image_ + dcol_per_image_;
    return size_t(chunk()) * per_image + dw_floats_;
  }

  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory m) override {
    pack(weight, affine);
    const float* b = fold_bias(bias, affine, s_.cout, bias_.data());
    const int step = chunk(), hw = s_.ho() * s_.wo();
    const int threads = ctx_.threads_for(double(std::min(step, n)) * col_per_image_ * s_.cout);
    const size_t in_len = size_t(s_.cin) * s_.h * s_.w, out_len = size_t(s_.cout) * hw;
    const bool keep = keeps_columns();
    for (int start = 0; start < n; start += step) {
      const int count = std::min(step, n - start);
      float* cols = keep ? m.saved : m.workspace + dw_floats_;
      float* out = keep ? m.workspace + dw_floats_ : cols + size_t(count) * col_per_image_;
      for (size_t gi = 0; gi < groups_.size(); ++gi) {
        const TapGroup& group = groups_[gi];
        const int k = group.k(s_.cin), width = count * group.size();
        float* col = cols + size_t(count) * col_at_[gi];
        gather_rows(threads, g_, group, x + start * in_len, count, col);
        matmul(ctx_.options.precision, threads, false, true, width, s_.cout, k, col, k, packed_[gi].data(), k, 0.f, out, s_.cout);
        scatter_pixels(threads, group, out, count, s_.cout, hw, b, y + start * out_len);
      }
      if (relu) relu_forward(threads, y + start * out_len, count * out_len, y + start * out_len);
    }
  }

  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory m) override {
    if (packed_scaled_) pack(weight, {});
    const int step = chunk(), hw = s_.ho() * s_.wo();
    const int threads = ctx_.threads_for(double(std::min(step, n)) * col_per_image_ * s_.cout);
    const size_t in_len = size_t(s_.cin) * s_.h * s_.w, out_len = size_t(s_.cout) * hw;
    const bool keep = keeps_columns() && n <= max_batch_;
    std::fill(dweight, dweight + s_.weight_floats(), 0.f);
    if (dbias) channel_sums(threads, dy, n, s_.cout, hw, dbias);
    float* dw = m.workspace;
    for (int start = 0; start < n; start += step) {
      const int count = std::min(step, n - start);
      float* cols = keep ? m.saved : m.workspace + dw_floats_;
      float* dout = keep ? m.workspace + dw_floats_ : cols + size_t(count) * col_per_image_;
      float* dcol = dout + size_t(count) * out_per_image_;
      if (dx) std::fill(dx + start * in_len, dx + (start + count) * in_len, 0.f);
      for (size_t gi = 0; gi < groups_.size(); ++gi) {
        const TapGroup& group = groups_[gi];
        const int k = group.k(s_.cin), width = count * group.size();
        float* col = cols + size_t(count) * col_at_[gi];
        if (!keep) gather_rows(threads, g_, group, x + start * in_len, count, col);
        gather_pixels(threads, group, dy + start * out_len, count, s_.cout, hw, dout);
        matmul(ctx_.options.precision, threads, true, false, s_.cout, k, width, dout, s_.cout, col, k, 0.f, dw, k);
        unpack_group_weight_add(threads, g_, group, dw, s_.cout, dweight);
        if (!dx) continue;
        matmul(ctx_.options.precision, threads, false, false, width, k, s_.cout, dout, s_.cout, packed_[gi].data(), k, 0.f, dcol, k);
        scatter_rows_add(threads, g_, group, dcol, count, dx + start * in_len);
      }
    }
  }

 private:
  int chunk() const {
    const size_t per_image = col_per_image_ + out_per_image_ + dcol_per_image_;
    return std::clamp(int(ctx_.options.conv_workspace_floats / per_image), 1, std::max(max_batch_, 1));
  }
  // The columns stay from forward to backward when the largest batch is one chunk.
  bool keeps_columns() const { return gradients_ && chunk() >= max_batch_; }

  void pack(const float* weight, const ChannelAffine& affine) {
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      pack_group_weight(ctx_.threads_for(double(s_.cout) * s_.cin * g_.kh * g_.kw), g_, groups_[gi], weight, s_.cout, packed_[gi].data());
      scale_rows(affine, s_.cout, size_t(groups_[gi].k(s_.cin)), packed_[gi].data());
    }
    packed_scaled_ = affine.scale != nullptr;
  }

  CpuContext ctx_;
  ConvShape s_;
  int max_batch_;
  bool gradients_;
  ConvGeometry g_{};
  std::vector<TapGroup> groups_;
  std::vector<size_t> col_at_;  // per group: where its columns start, in floats per image
  size_t col_per_image_ = 0, out_per_image_ = 0, dcol_per_image_ = 0, dw_floats_ = 0;
  std::vector<KernelFloats> packed_;  // per group: [Cout, Cin * taps], written by pack() before any read
  bool packed_scaled_ = false;
  std::vector<float> bias_;
};

}  // namespace

std::unique_ptr<ConvKernel> make_batched_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch,
                                                bool gradients) {
  return std::make_unique<BatchedConv2d>(ctx, shape, max_batch, gradients);
}

}  // namespace mnistlab::cpu
