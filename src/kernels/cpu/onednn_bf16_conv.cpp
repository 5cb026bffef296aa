// Conv2d at Precision::Bf16 by oneDNN 2.6's bfloat16 convolution primitives
// (jit avx512_core_bf16 here; avx512_core_amx where the CPU has AMX):
// bf16 src, weights and diff_dst, float32 dst, diff_src, diff_weights and
// bias, the formats oneDNN picks (format_tag::any). bench/bf16_bakeoff.sh
// measured it, with the reorders from and to the layers' NCHW float32
// tensors, ahead of im2col with our bfloat16 GEMM and of float32 Winograd on
// rounded inputs on most passes of the presets (bench/README.md).
//
// Everything is created in the constructor for the planned batch: the
// primitives, the reorders (their float32 -> bfloat16 conversion rounds to
// nearest even: vcvtneps2bf16, which flushes float32 denormals to zero),
// the memory objects and the argument maps. A call only points the memory
// objects at the caller's tensors and at workspace (scratchpads included:
// scratchpad_mode::user), so nothing of ours allocates. Another batch size
// (an epoch's last) takes the fallback kernel, our own bfloat16 route.
//
// Workspace, so that bf16 needs no more memory than float32: the forward's
// buffers, the weight gradient's and the input gradient's are used one
// after the other and share the same bytes (the workspace is the largest
// of the three, not their sum); a kernel without gradients (evaluation,
// whose batch is 1000 by default) and a training step are made for a
// share of the planned batch (chunk_of) and run a batch chunk by chunk:
// best-fashion's evaluation at batch 1000 took 109 MB more than float32
// with whole-batch reorders, its training at batch 64 23 MB more. A
// training batch that is not whole chunks (an epoch's last) runs on the
// fallback, as does a partial chunk of an evaluation.
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_fold.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

constexpr size_t kAlign = 64;  // bytes: each buffer carved from the workspace starts on a cache line

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Images per primitive call (see above). The reordered tensors of one call
// stay within kChunkBytes (bf16 x, float32 y; with gradients also bf16 dy
// and float32 dx) and at most kInferenceChunk or kTrainingChunk images; the
// chunk divides the planned batch where a divisor near that size exists
// (1000 in 8 calls of 125, or 40 of 25 for best-fashion's 14x14 layers; 64
// in 2 of 32). Otherwise an evaluation splits it evenly and leaves the
// remainder to the fallback, and a training step takes the batch in one
// call (a partial chunk there would send the whole batch to the fallback).
// The budget keeps bf16's peak memory at float32's: with 125-image chunks
// best-fashion's evaluation took 14 MB more, with 25 none, at the same speed.
constexpr size_t kChunkBytes = size_t(5) << 19;  // 2.5 MiB
constexpr int kInferenceChunk = 128, kTrainingChunk = 32;
int chunk_of(const ConvShape& s, int batch, bool gradients) {
  const size_t x = size_t(s.cin) * s.h * s.w, y = size_t(s.cout) * s.ho() * s.wo();
  // Forward: bf16 x, float32 y; input gradient: bf16 dy, float32 dx (the weight gradient's bf16 x and dy are less).
  const size_t per_image = gradients ? std::max(2 * x + 4 * y, 2 * y + 4 * x) : 2 * x + 4 * y;
  const int most = std::clamp(int(std::min<size_t>(kChunkBytes / per_image, size_t(gradients ? kTrainingChunk : kInferenceChunk))), 1, batch);
  for (int d = most; d >= 1; --d)
    if (batch % d == 0) {
      if (4 * d >= most) return d;
      break;
    }
  if (gradients) return batch;
  const int calls = (batch + most - 1) / most;
  return (batch + calls - 1) / calls;
}

// oneDNN takes omp_get_max_threads() threads (gemm.cpp says why it is set per call).
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : before_(omp_get_max_threads()) {
    if (before_ != threads) omp_set_num_threads(threads);
    threads_ = threads;
  }
  ~ThreadScope() {
    if (before_ != threads_) omp_set_num_threads(before_);
  }

 private:
  int before_, threads_;
};

// A tensor as the layer holds it (user) and as a primitive wants it (prim),
// with the reorder between when they differ; prim lives in the workspace.
struct Slot {
  dnnl::memory user, prim;
  dnnl::reorder copy;
  dnnl_exec_arg_t args[2] = {};  // the reorder's {from, to}
  size_t offset = 0;             // of prim in the workspace, bytes
  bool reordered = false;
};

// A primitive run through oneDNN's C API with arguments fixed at planning:
// the C++ API's execute() builds a std::vector of them on every call.
void run(const dnnl::primitive& p, const dnnl::stream& strm, const dnnl_exec_arg_t* args, int count) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), strm.get(), count, args), "could not execute a primitive");
}
void run(const dnnl::primitive& p, const dnnl::stream& strm, const std::vector<dnnl_exec_arg_t>& args) {
  run(p, strm, args.data(), int(args.size()));
}
std::vector<dnnl_exec_arg_t> c_args(const std::unordered_map<int, dnnl::memory>& args) {
  std::vector<dnnl_exec_arg_t> out;
  for (const auto& [arg, m] : args) out.push_back({arg, m.get()});
  return out;
}

// oneDNN's primitive cache keeps a second reference to every primitive made
// (up to 1024): each kernel here holds its own for the plan's lifetime, so
// the cache only kept alive those of plans already gone, 2 MiB of them in
// vgg-bn's evaluation. Re-planning the same shapes measured no slower without.
void no_primitive_cache() {
  static std::once_flag once;
  std::call_once(once, [] { dnnl::set_primitive_cache_capacity(0); });
}

class OnednnBf16Conv2d final : public ConvKernel {
 public:
  OnednnBf16Conv2d(const CpuContext& ctx, const ConvShape& s, int batch, bool gradients,
                   const std::function<std::unique_ptr<ConvKernel>()>& fallback)
      : ctx_(ctx),
        s_(s),
        batch_(chunk_of(s, batch, gradients)),
        gradients_(gradients),
        eng_(dnnl::engine::kind::cpu, 0),
        strm_(eng_) {
    batch = batch_;
    no_primitive_cache();
    ThreadScope scope(ctx.threads);
    zero_bias_.assign(s.cout, 0.f);
    dbias_scratch_.assign(s.cout, 0.f);
    folded_bias_.assign(s.cout, 0.f);
    const int ho = s.ho(), wo = s.wo();
    const dnnl::memory::dims x_dims{batch, s.cin, s.h, s.w}, w_dims{s.cout, s.cin, s.k, s.k},
        y_dims{batch, s.cout, ho, wo}, b_dims{s.cout};
    const dnnl::memory::dims st{s.stride, s.stride}, pl{s.pad, s.pad};
    // oneDNN wants the right padding that makes the division exact.
    const dnnl::memory::dims pr{(ho - 1) * s.stride + s.k - s.h - s.pad, (wo - 1) * s.stride + s.k - s.w - s.pad};
    auto any = [](const dnnl::memory::dims& d, dt t) { return dnnl::memory::desc(d, t, tag::any); };
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto prop = gradients ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, any(x_dims, dt::bf16),
                                        any(w_dims, dt::bf16), dnnl::memory::desc(b_dims, dt::f32, tag::x),
                                        any(y_dims, dt::f32), st, pl, pr),
        attr, eng_);
    fwd_ = dnnl::convolution_forward(fwd_pd_);
    begin_phase();
    const dnnl::memory::desc x_user(x_dims, dt::f32, tag::nchw), w_user(w_dims, dt::f32, tag::oihw),
        y_user(y_dims, dt::f32, tag::nchw), b_user(b_dims, dt::f32, tag::x);
    x_ = slot(x_user, fwd_pd_.src_desc(), true);
    w_ = slot(w_user, fwd_pd_.weights_desc(), true);
    y_ = slot(y_user, fwd_pd_.dst_desc(), false);
    bias_ = dnnl::memory(b_user, eng_, DNNL_MEMORY_NONE);
    fwd_pad_ = dnnl::memory(fwd_pd_.scratchpad_desc(), eng_, DNNL_MEMORY_NONE);
    fwd_pad_at_ = carve(fwd_pd_.scratchpad_desc().get_size());
    scaled_weight_at_ = carve(s.weight_floats() * sizeof(float));
    fwd_args_ = c_args({{DNNL_ARG_SRC, x_.prim}, {DNNL_ARG_WEIGHTS, w_.prim}, {DNNL_ARG_BIAS, bias_},
                        {DNNL_ARG_DST, y_.prim}, {DNNL_ARG_SCRATCHPAD, fwd_pad_}});
    if (!gradients) {
      fallback_ = fallback();
      return;
    }
    bwd_w_pd_ = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, any(x_dims, dt::bf16),
                                                 any(w_dims, dt::f32), dnnl::memory::desc(b_dims, dt::f32, tag::x),
                                                 any(y_dims, dt::bf16), st, pl, pr),
        attr, eng_, fwd_pd_);
    bwd_w_ = dnnl::convolution_backward_weights(bwd_w_pd_);
    bwd_d_pd_ = dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, any(x_dims, dt::f32),
                                              any(w_dims, dt::bf16), any(y_dims, dt::bf16), st, pl, pr),
        attr, eng_, fwd_pd_);
    bwd_d_ = dnnl::convolution_backward_data(bwd_d_pd_);
    begin_phase();  // the weight gradient's buffers
    bx_ = slot(x_user, bwd_w_pd_.src_desc(), true);
    dy_w_ = slot(y_user, bwd_w_pd_.diff_dst_desc(), true);
    dw_ = slot(w_user, bwd_w_pd_.diff_weights_desc(), false);
    db_ = dnnl::memory(b_user, eng_, DNNL_MEMORY_NONE);
    bwd_w_pad_ = dnnl::memory(bwd_w_pd_.scratchpad_desc(), eng_, DNNL_MEMORY_NONE);
    bwd_w_pad_at_ = carve(bwd_w_pd_.scratchpad_desc().get_size());
    chunk_dweight_at_ = carve(s.weight_floats() * sizeof(float));
    begin_phase();  // the input gradient's
    dy_d_ = slot(y_user, bwd_d_pd_.diff_dst_desc(), true);
    bw_ = slot(w_user, bwd_d_pd_.weights_desc(), true);
    dx_ = slot(x_user, bwd_d_pd_.diff_src_desc(), false);
    bwd_d_pad_ = dnnl::memory(bwd_d_pd_.scratchpad_desc(), eng_, DNNL_MEMORY_NONE);
    bwd_d_pad_at_ = carve(bwd_d_pd_.scratchpad_desc().get_size());
    bwd_w_args_ = c_args({{DNNL_ARG_SRC, bx_.prim}, {DNNL_ARG_DIFF_DST, dy_w_.prim},
                          {DNNL_ARG_DIFF_WEIGHTS, dw_.prim}, {DNNL_ARG_DIFF_BIAS, db_},
                          {DNNL_ARG_SCRATCHPAD, bwd_w_pad_}});
    bwd_d_args_ = c_args({{DNNL_ARG_DIFF_DST, dy_d_.prim}, {DNNL_ARG_WEIGHTS, bw_.prim},
                          {DNNL_ARG_DIFF_SRC, dx_.prim}, {DNNL_ARG_SCRATCHPAD, bwd_d_pad_}});
    fallback_ = fallback();
  }

  std::string route() const override {
    return std::string("onednn bf16 ") + fwd_pd_.impl_info_str() + " (smaller batches: " + fallback_->route() + ")";
  }
  size_t saved_floats() const override { return fallback_->saved_floats(); }
  size_t workspace_floats() const override {
    return std::max((bytes_ + sizeof(float) - 1) / sizeof(float), fallback_->workspace_floats());
  }

  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory m) override {
    const int whole = gradients_ ? (n % batch_ == 0 ? n : 0) : n / batch_ * batch_;
    if (whole == 0) return fallback_->forward(x, n, weight, bias, affine, relu, y, m);
    ThreadScope scope(ctx_.threads);
    char* work = reinterpret_cast<char*>(m.workspace);
    // A folded BatchNorm scales the weight before it is rounded (conv_fold.h).
    const float* w = weight;
    if (affine.scale) {
      float* scaled = reinterpret_cast<float*>(work + scaled_weight_at_);
      std::copy(weight, weight + s_.weight_floats(), scaled);
      scale_rows(affine, s_.cout, s_.weight_floats() / s_.cout, scaled);
      w = scaled;
    }
    const float* b = fold_bias(bias, affine, s_.cout, folded_bias_.data());
    const size_t in_len = size_t(s_.cin) * s_.h * s_.w, out_len = size_t(s_.cout) * s_.ho() * s_.wo();
    point(w_, w, work);
    bias_.set_data_handle(const_cast<float*>(b ? b : zero_bias_.data()));
    fwd_pad_.set_data_handle(work + fwd_pad_at_);
    copy_in(w_);
    run_chunks(fwd_, fwd_args_, x_, x, in_len, y_, y, out_len, whole, work);
    const size_t count = size_t(whole) * out_len;
    if (relu) relu_forward(count >= (size_t(1) << 16) ? ctx_.threads : 1, y, count, y);
    if (whole < n) fallback_->forward(x + whole * in_len, n - whole, weight, bias, affine, relu, y + whole * out_len, m);
  }

  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory m) override {
    if (n % batch_ != 0) return fallback_->backward(x, dy, n, weight, dweight, dbias, dx, m);
    ThreadScope scope(ctx_.threads);
    char* work = reinterpret_cast<char*>(m.workspace);
    const size_t in_len = size_t(s_.cin) * s_.h * s_.w, out_len = size_t(s_.cout) * s_.ho() * s_.wo();
    // oneDNN sums the bias gradient from the rounded dy; ours, from dy itself (below).
    db_.set_data_handle(dbias_scratch_.data());
    bwd_w_pad_.set_data_handle(work + bwd_w_pad_at_);
    bwd_d_pad_.set_data_handle(work + bwd_d_pad_at_);
    // The weight gradient over every chunk, then the input gradient (whose
    // buffers share bytes with the weight gradient's): its weights are then
    // reordered once a step, not once a chunk.
    float* chunk_dweight = reinterpret_cast<float*>(work + chunk_dweight_at_);
    for (int i = 0; i < n; i += batch_) {
      // The first chunk's weight gradient goes to dweight, the others' are added to it.
      point(bx_, x + i * in_len, work);
      point(dy_w_, dy + i * out_len, work);
      point(dw_, i == 0 ? dweight : chunk_dweight, work);
      copy_in(bx_);
      copy_in(dy_w_);
      run(bwd_w_, strm_, bwd_w_args_);
      copy_out(dw_);
      strm_.wait();
      if (i > 0)
        parallel_for_elementwise(ctx_.threads, s_.weight_floats(), [&](size_t j) { dweight[j] += chunk_dweight[j]; });
    }
    if (dx) {
      point(bw_, weight, work);
      copy_in(bw_);
      run_chunks(bwd_d_, bwd_d_args_, dy_d_, dy, out_len, dx_, dx, in_len, n, work);
    }
    if (dbias) {
      const int hw = s_.ho() * s_.wo();
      channel_sums(size_t(n) * s_.cout * hw >= (size_t(1) << 16) ? ctx_.threads : 1, dy, n, s_.cout, hw, dbias);
    }
  }

 private:
  // `prim` over images [0, count) chunk by chunk: its input slot pointed at
  // the chunk's `in_len` floats per image and reordered in, its output slot
  // the same way out.
  void run_chunks(const dnnl::primitive& prim, const std::vector<dnnl_exec_arg_t>& args, Slot& in, const float* from,
                  size_t in_len, Slot& out, float* to, size_t out_len, int count, char* work) {
    for (int i = 0; i < count; i += batch_) {
      point(in, from + i * in_len, work);
      point(out, to + i * out_len, work);
      copy_in(in);
      run(prim, strm_, args);
      copy_out(out);
    }
    strm_.wait();
  }
  // Buffers carved after this share the bytes of the previous phase's.
  void begin_phase() { cursor_ = 0; }
  // Bytes of workspace for one more buffer of this phase; returns its offset.
  size_t carve(size_t bytes) {
    const size_t at = cursor_;
    cursor_ += aligned(std::max<size_t>(bytes, 1));
    bytes_ = std::max(bytes_, cursor_);
    return at;
  }
  Slot slot(const dnnl::memory::desc& user, const dnnl::memory::desc& want, bool input) {
    Slot s;
    s.user = dnnl::memory(user, eng_, DNNL_MEMORY_NONE);
    if (want == user) {
      s.prim = s.user;
      return s;
    }
    s.reordered = true;
    s.prim = dnnl::memory(want, eng_, DNNL_MEMORY_NONE);
    s.offset = carve(want.get_size());
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::reorder::primitive_desc pd = input ? dnnl::reorder::primitive_desc(eng_, user, eng_, want, attr)
                                                   : dnnl::reorder::primitive_desc(eng_, want, eng_, user, attr);
    // Reorders between plain and blocked layouts need no scratchpad; one that does is refused here.
    if (pd.scratchpad_desc().get_size() != 0) throw dnnl::error(dnnl_unimplemented, "reorder with a scratchpad");
    s.copy = dnnl::reorder(pd);
    s.args[0] = {DNNL_ARG_FROM, (input ? s.user : s.prim).get()};
    s.args[1] = {DNNL_ARG_TO, (input ? s.prim : s.user).get()};
    return s;
  }
  void point(Slot& s, const float* user, char* work) {
    s.user.set_data_handle(const_cast<float*>(user));
    if (s.reordered) s.prim.set_data_handle(work + s.offset);
  }
  void copy_in(Slot& s) {
    if (s.reordered) run(s.copy, strm_, s.args, 2);
  }
  void copy_out(Slot& s) {
    if (s.reordered) run(s.copy, strm_, s.args, 2);
  }
  CpuContext ctx_;
  ConvShape s_;
  int batch_;
  bool gradients_;
  std::unique_ptr<ConvKernel> fallback_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  size_t bytes_ = 0, cursor_ = 0;  // the workspace's bytes; the current phase's end
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::convolution_backward_weights bwd_w_;
  dnnl::convolution_backward_data::primitive_desc bwd_d_pd_;
  dnnl::convolution_backward_data bwd_d_;
  Slot x_, w_, y_, bx_, dy_w_, dw_, dy_d_, bw_, dx_;
  dnnl::memory bias_, db_, fwd_pad_, bwd_w_pad_, bwd_d_pad_;
  size_t fwd_pad_at_ = 0, bwd_w_pad_at_ = 0, bwd_d_pad_at_ = 0;
  std::vector<dnnl_exec_arg_t> fwd_args_, bwd_w_args_, bwd_d_args_;
  std::vector<float> zero_bias_, dbias_scratch_;  // a missing bias, an unwanted bias gradient
  std::vector<float> folded_bias_;  // an eval epilogue folded in
  // In the workspace (no memory of their own when another layer's workspace
  // is larger): the weight scaled by an eval epilogue (forward's bytes) and
  // the weight gradient of a chunk after the first (the weight gradient's).
  size_t scaled_weight_at_ = 0, chunk_dweight_at_ = 0;
};

}  // namespace

std::unique_ptr<ConvKernel> make_onednn_bf16_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch,
                                                    bool gradients,
                                                    const std::function<std::unique_ptr<ConvKernel>()>& fallback) {
  try {
    return std::make_unique<OnednnBf16Conv2d>(ctx, shape, max_batch, gradients, fallback);
  } catch (const dnnl::error&) {
    return nullptr;  // no bf16 implementation for this shape here: the caller keeps its own route
  }
}

}  // namespace mnistlab::cpu
