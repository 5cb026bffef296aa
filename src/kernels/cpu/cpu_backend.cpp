// The CPU backend: threads and instruction set fixed when it is made, every
// operation forwarded to the kernels of kernels/cpu/ with them.
#include <omp.h>

#include <cstring>

#include "kernels/backend.h"
#include "kernels/cpu/avgpool.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/bf16.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_info.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/grouped_conv.h"
#include "kernels/cpu/join.h"
#include "kernels/cpu/losses.h"
#include "kernels/cpu/memory.h"
#include "kernels/cpu/noise.h"
#include "kernels/cpu/optimizer_steps.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/upsample.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

using namespace cpu;

constexpr size_t kMinParallelFloats = size_t(1) << 16;

CpuContext context(const BackendOptions& o) {
  if (o.threads < 0) throw Error("threads must be 0 (every CPU) or more, got " + std::to_string(o.threads));
  CpuContext ctx;
  ctx.options = o;
  ctx.threads = o.threads > 0 ? o.threads : omp_get_num_procs();
  ctx.isa = widest_isa();
  if (o.max_isa) {
    if (!runs(*o.max_isa))
      throw Error(std::string("this CPU does not run ") + isa_name(*o.max_isa) + " code; the widest it runs is " +
                  isa_name(widest_isa()));
    ctx.isa = *o.max_isa;
  }
  if (o.precision == Precision::Bf16) {
    const std::string why = bf16_unsupported(cpu_info(), o.max_isa);
    if (!why.empty()) throw Error(why);
  }
  return ctx;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& o) : ctx_(context(o)) {}

  const BackendOptions& options() const override { return ctx_.options; }
  int threads() const override { return ctx_.threads; }
  std::string describe() const override { return describe_backend(ctx_.options); }

  std::unique_ptr<Storage> allocate(size_t bytes) const override { return allocate_host(bytes); }
  void upload(const void* host, size_t bytes, void* to) const override { std::memcpy(to, host, bytes); }
  void download(const void* from, size_t bytes, void* host) const override { std::memcpy(host, from, bytes); }
  void copy(const float* from, size_t count, float* to) const override { cpu::copy(t(count), from, count, to); }
  void fill(float value, size_t count, float* to) const override { cpu::fill(t(count), value, count, to); }

  std::unique_ptr<ConvKernel> conv2d(const ConvShape& s, int max_batch, bool gradients) const override {
    // Grouped and depthwise convolutions stay float32 at Precision::Bf16
    // (PyTorch's autocast converts them too): they are memory-bound, a few
    // multiply-adds per value loaded, so bfloat16 products would save no time.
    if (s.groups != 1) return make_grouped_conv2d(ctx_, s, max_batch, gradients);
    return make_conv2d(ctx_, s, max_batch, gradients);
  }
  std::unique_ptr<ConvKernel> conv_transpose2d(const ConvShape& s, int max_batch, bool gradients) const override {
    if (s.groups != 1) throw Error("ConvTranspose2d takes no groups (got groups=" + std::to_string(s.groups) + ")");
    return make_conv_transpose2d(ctx_, s, max_batch, gradients);
  }

  void linear_forward(const float* x, int n, int in, int out, const float* w, const float* b,
                      float* y) const override {
    matmul(ctx_.options.precision, ctx_.threads, false, true, n, out, in, x, in, w, in, 0.f, y, out);
    if (b) add_to_rows(t(size_t(n) * out), b, n, out, y);
  }
  void linear_backward(const float* x, const float* dy, int n, int in, int out, const float* w, float* dw, float* db,
                       float* dx) const override {
    const Precision p = ctx_.options.precision;
    matmul(p, ctx_.threads, true, false, out, in, n, dy, out, x, in, 0.f, dw, in);
    if (db) sum_rows(t(size_t(n) * out), dy, n, out, db);
    if (dx) matmul(p, ctx_.threads, false, false, n, in, out, dy, out, w, in, 0.f, dx, in);
  }

  void activation_forward(Activation f, float slope, const float* x, size_t count, float* y) const override {
    switch (f) {
      case Activation::ReLU: return relu_forward(t(count), x, count, y);
      case Activation::Sigmoid: return sigmoid_forward(t(count), x, count, y);
      case Activation::Tanh: return tanh_forward(t(count), x, count, y);
      case Activation::GELU: return gelu_forward(t(count), x, count, y);
      case Activation::SiLU: return silu_forward(t(count), x, count, y);
      case Activation::LeakyReLU: return leaky_relu_forward(t(count), slope, x, count, y);
    }
  }
  void activation_backward(Activation f, float slope, const float* x, const float* y, const float* dy, size_t count,
                           float* dx) const override {
    switch (f) {
      case Activation::ReLU: return relu_backward(t(count), y, dy, count, dx);
      case Activation::Sigmoid: return sigmoid_backward(t(count), y, dy, count, dx);
      case Activation::Tanh: return tanh_backward(t(count), y, dy, count, dx);
      case Activation::GELU: return gelu_backward(t(count), x, dy, count, dx);
      case Activation::SiLU: return silu_backward(t(count), x, dy, count, dx);
      case Activation::LeakyReLU: return leaky_relu_backward(t(count), slope, x, dy, count, dx);
    }
  }

  double channel_mean_var(const float* x, int n, int c, int hw, float* mean, float* var,
                          const Communicator* across) const override {
    return cpu::channel_mean_var(t(size_t(n) * c * hw), x, n, c, hw, mean, var, across);
  }
  void batchnorm_apply(const float* x, int n, int c, int hw, const float* mean, const float* invstd,
                       const float* gamma, const float* beta, float* y) const override {
    cpu::batchnorm_apply(t(size_t(n) * c * hw), x, n, c, hw, mean, invstd, gamma, beta, y);
  }
  void batchnorm_backward(const float* x, const float* dy, int n, int c, int hw, const float* mean,
                          const float* invstd, const float* gamma, bool batch_statistics, float* dx, float* dgamma,
                          float* dbeta, const Communicator* across) const override {
    cpu::batchnorm_backward(t(size_t(n) * c * hw), x, dy, n, c, hw, mean, invstd, gamma, batch_statistics, dx, dgamma,
                            dbeta, across);
  }

  void batchnorm_update_running(int c, float momentum, float eps, double count, const float* mean,
                                float* var_to_invstd, float* running_mean, float* running_var,
                                float* batches_tracked) const override {
    cpu::batchnorm_update_running(c, momentum, eps, count, mean, var_to_invstd, running_mean, running_var,
                                  batches_tracked);
  }
  void batchnorm_running_stats(int c, float eps, const float* running_mean, const float* running_var, float* mean,
                               float* invstd) const override {
    cpu::batchnorm_running_stats(c, eps, running_mean, running_var, mean, invstd);
  }
  void batchnorm_eval_affine(int c, float eps, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, float* scale, float* shift) const override {
    cpu::batchnorm_eval_affine(c, eps, gamma, beta, running_mean, running_var, scale, shift);
  }

  void maxpool_forward(const PoolShape& s, const float* x, int n, float* y, int32_t* argmax) const override {
    cpu::maxpool_forward(t(size_t(n) * s.c * s.h * s.w), ctx_.isa, s, x, n, y, argmax);
  }
  void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, int n, float* dx) const override {
    cpu::maxpool_backward(t(size_t(n) * s.c * s.h * s.w), s, dy, argmax, n, dx);
  }
  void avgpool_forward(const PoolShape& s, const float* x, int n, float* y) const override {
    cpu::avgpool_forward(t(size_t(n) * s.c * s.h * s.w), s, x, n, y);
  }
  void avgpool_backward(const PoolShape& s, const float* dy, int n, float* dx) const override {
    cpu::avgpool_backward(t(size_t(n) * s.c * s.h * s.w), s, dy, n, dx);
  }
  void global_avgpool_forward(const float* x, size_t planes, int hw, float* y) const override {
    cpu::global_avgpool_forward(t(planes * hw), x, planes, hw, y);
  }
  void global_avgpool_backward(const float* dy, size_t planes, int hw, float* dx) const override {
    cpu::global_avgpool_backward(t(planes * hw), dy, planes, hw, dx);
  }
  void upsample_forward(const UpsampleShape& s, const float* x, int n, float* y) const override {
    cpu::upsample_forward(t(size_t(n) * s.c * s.ho() * s.wo()), s, x, n, y);
  }
  void upsample_backward(const UpsampleShape& s, const float* dy, int n, float* dx) const override {
    cpu::upsample_backward(t(size_t(n) * s.c * s.ho() * s.wo()), s, dy, n, dx);
  }

  void dropout_forward(const float* x, size_t count, float p, uint64_t seed, uint64_t first, float* mask,
                       float* y) const override {
    cpu::dropout_forward(t(count), x, count, p, seed, first, mask, y);
  }
  void multiply(const float* a, const float* b, size_t count, float* out) const override {
    cpu::multiply(t(count), a, b, count, out);
  }

  void concat_samples(const float* a, size_t a_len, const float* b, size_t b_len, int n, float* y) const override {
    cpu::concat_samples(t((a_len + b_len) * n), a, a_len, b, b_len, n, y);
  }
  void split_samples_accumulate(const float* dy, size_t a_len, size_t b_len, int n, float* da,
                                float* db) const override {
    cpu::split_samples_accumulate(t((a_len + b_len) * n), dy, a_len, b_len, n, da, db);
  }
  void add(const float* a, const float* b, size_t count, float* out) const override {
    cpu::add(t(count), a, b, count, out);
  }
  void add_into(const float* x, size_t count, float* acc) const override { cpu::add_into(t(count), x, count, acc); }

  bool sgd_step(const SgdStep& s, float* params, const float* grads, float* momentum_buffer,
                size_t count) const override {
    return cpu::sgd_step(t(count), s, params, grads, momentum_buffer, count);
  }
  bool adam_step(const AdamStep& s, float* params, const float* grads, float* exp_avg, float* exp_avg_sq,
                 size_t count) const override {
    return cpu::adam_step(t(count), s, params, grads, exp_avg, exp_avg_sq, count);
  }

  // The losses sum on every thread whatever the batch (their sum's order,
  // and so its last bits, follow the thread count, as they did when they
  // ran outside the seam).
  double cross_entropy(const float* logits, int n, int k, const int32_t* labels, float label_smoothing, float* grad,
                       int* correct, int grad_rows) const override {
    return cpu::cross_entropy(ctx_.threads, logits, n, k, labels, label_smoothing, grad, correct, grad_rows);
  }
  double regression_loss(RegressionLoss kind, const float* output, const float* target, size_t count,
                         float* grad, size_t grad_count) const override {
    return cpu::regression_loss(ctx_.threads, kind, output, target, count, grad, grad_count);
  }
  void sum_slice_across(const Communicator& comm, float* data, size_t count) const override {
    comm.sum_slice(data, count);
  }
  void gather_across(const Communicator& comm, float* data, size_t count) const override {
    comm.gather_slices(data, count);
  }

  void add_noise(NoiseKind kind, float amount, bool clip, uint64_t seed, uint64_t first, const float* clean,
                 size_t count, float* noisy) const override {
    cpu::add_noise(t(count), kind, amount, clip, seed, first, clean, count, noisy);
  }

 private:
  // Threads for a pass over `floats` values: one below about 64K, where
  // waking a second thread and meeting at the barrier costs more than it
  // saves (and on a loaded machine, a time slice).
  int t(size_t floats) const { return floats >= kMinParallelFloats ? ctx_.threads : 1; }
  CpuContext ctx_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) { return std::make_unique<CpuBackend>(options); }

std::string describe_backend(const BackendOptions& options) {
  const CpuContext ctx = context(options);
  const CpuInfo& cpu = cpu_info();
  std::string s = cpu.model.empty() ? std::string("unknown CPU") : cpu.model;
  s += " (" + cpu.vendor + " family " + std::to_string(cpu.family) + " model " + std::to_string(cpu.model_number) +
       ", " + std::to_string(cpu.logical_cpus) + " CPUs), kernels " + isa_name(ctx.isa) + " (widest " +
       isa_name(cpu.widest) + "), " + std::to_string(ctx.threads) + " thread" + (ctx.threads == 1 ? "" : "s") +
       "; GEMM " + gemm_provider() + "; precision " + precision_name(options.precision) + " (bfloat16 on this CPU: " +
       (cpu.amx_bf16 && cpu.avx512_bf16 ? "AMX-BF16, AVX512_BF16"
        : cpu.avx512_bf16               ? "AVX512_BF16"
        : cpu.amx_bf16                  ? "AMX-BF16"
                                        : "none") +
       ")";
  return s;
}

}  // namespace mnistlab
