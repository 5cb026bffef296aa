#pragma once
// A Backend in front of another: every operation goes to the inner backend
// between enter(op) and leave(). What stands in front decides what those do
// (record the operation, open guarded memory) and may wrap the convolutions
// the inner backend plans (kernel()), whose calls happen outside the
// Backend's methods. Tests' recording backend and the guarded backend are
// both this.
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace mnistlab {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  const BackendOptions& options() const override { return inner_->options(); }
  int threads() const override { return inner_->threads(); }
  std::string describe() const override { return inner_->describe(); }

  std::unique_ptr<Storage> allocate(size_t bytes) const override {
    Call call(*this, "allocate");
    return inner_->allocate(bytes);
  }
  void upload(const void* host, size_t bytes, void* to) const override {
    Call call(*this, "upload");
    inner_->upload(host, bytes, to);
  }
  void download(const void* from, size_t bytes, void* host) const override {
    Call call(*this, "download");
    inner_->download(from, bytes, host);
  }
  void copy(const float* from, size_t count, float* to) const override {
    Call call(*this, "copy");
    inner_->copy(from, count, to);
  }
  void fill(float value, size_t count, float* to) const override {
    Call call(*this, "fill");
    inner_->fill(value, count, to);
  }
  std::unique_ptr<ConvKernel> conv2d(const ConvShape& shape, int max_batch, bool gradients) const override {
    Call call(*this, "conv2d");
    return kernel(inner_->conv2d(shape, max_batch, gradients));
  }
  std::unique_ptr<ConvKernel> conv_transpose2d(const ConvShape& transposed, int max_batch, bool gradients) const override {
    Call call(*this, "conv_transpose2d");
    return kernel(inner_->conv_transpose2d(transposed, max_batch, gradients));
  }
  void linear_forward(const float* x, int n, int in, int out, const float* w, const float* b, float* y) const override {
    Call call(*this, "linear_forward");
    inner_->linear_forward(x, n, in, out, w, b, y);
  }
  void linear_backward(const float* x, const float* dy, int n, int in, int out, const float* w, float* dw, float* db, float* dx) const override {
    Call call(*this, "linear_backward");
    inner_->linear_backward(x, dy, n, in, out, w, dw, db, dx);
  }
  void activation_forward(Activation f, float slope, const float* x, size_t count, float* y) const override {
    Call call(*this, "activation_forward");
    inner_->activation_forward(f, slope, x, count, y);
  }
  void activation_backward(Activation f, float slope, const float* x, const float* y, const float* dy, size_t count, float* dx) const override {
    Call call(*this, "activation_backward");
    inner_->activation_backward(f, slope, x, y, dy, count, dx);
  }
  double channel_mean_var(const float* x, int n, int c, int hw, float* mean, float* var,
                          const Communicator* across) const override {
    Call call(*this, "channel_mean_var");
    return inner_->channel_mean_var(x, n, c, hw, mean, var, across);
  }
  void batchnorm_apply(const float* x, int n, int c, int hw, const float* mean, const float* invstd, const float* gamma, const float* beta, float* y) const override {
    Call call(*this, "batchnorm_apply");
    inner_->batchnorm_apply(x, n, c, hw, mean, invstd, gamma, beta, y);
  }
  void batchnorm_backward(const float* x, const float* dy, int n, int c, int hw, const float* mean, const float* invstd, const float* gamma, bool batch_statistics, float* dx, float* dgamma, float* dbeta, const Communicator* across) const override {
    Call call(*this, "batchnorm_backward");
    inner_->batchnorm_backward(x, dy, n, c, hw, mean, invstd, gamma, batch_statistics, dx, dgamma, dbeta, across);
  }
  void batchnorm_update_running(int c, float momentum, float eps, double count, const float* mean, float* var_to_invstd, float* running_mean, float* running_var, float* batches_tracked) const override {
    Call call(*this, "batchnorm_update_running");
    inner_->batchnorm_update_running(c, momentum, eps, count, mean, var_to_invstd, running_mean, running_var, batches_tracked);
  }
  void batchnorm_running_stats(int c, float eps, const float* running_mean, const float* running_var, float* mean, float* invstd) const override {
    Call call(*this, "batchnorm_running_stats");
    inner_->batchnorm_running_stats(c, eps, running_mean, running_var, mean, invstd);
  }
  void batchnorm_eval_affine(int c, float eps, const float* gamma, const float* beta, const float* running_mean, const float* running_var, float* scale, float* shift) const override {
    Call call(*this, "batchnorm_eval_affine");
    inner_->batchnorm_eval_affine(c, eps, gamma, beta, running_mean, running_var, scale, shift);
  }
  void maxpool_forward(const PoolShape& s, const float* x, int n, float* y, int32_t* argmax) const override {
    Call call(*this, "maxpool_forward");
    inner_->maxpool_forward(s, x, n, y, argmax);
  }
  void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, int n, float* dx) const override {
    Call call(*this, "maxpool_backward");
    inner_->maxpool_backward(s, dy, argmax, n, dx);
  }
  void avgpool_forward(const PoolShape& s, const float* x, int n, float* y) const override {
    Call call(*this, "avgpool_forward");
    inner_->avgpool_forward(s, x, n, y);
  }
  void avgpool_backward(const PoolShape& s, const float* dy, int n, float* dx) const override {
    Call call(*this, "avgpool_backward");
    inner_->avgpool_backward(s, dy, n, dx);
  }
  void global_avgpool_forward(const float* x, size_t planes, int hw, float* y) const override {
    Call call(*this, "global_avgpool_forward");
    inner_->global_avgpool_forward(x, planes, hw, y);
  }
  void global_avgpool_backward(const float* dy, size_t planes, int hw, float* dx) const override {
    Call call(*this, "global_avgpool_backward");
    inner_->global_avgpool_backward(dy, planes, hw, dx);
  }
  void upsample_forward(const UpsampleShape& s, const float* x, int n, float* y) const override {
    Call call(*this, "upsample_forward");
    inner_->upsample_forward(s, x, n, y);
  }
  void upsample_backward(const UpsampleShape& s, const float* dy, int n, float* dx) const override {
    Call call(*this, "upsample_backward");
    inner_->upsample_backward(s, dy, n, dx);
  }
  void dropout_forward(const float* x, size_t count, float p, uint64_t seed, uint64_t first, float* mask,
                       float* y) const override {
    Call call(*this, "dropout_forward");
    inner_->dropout_forward(x, count, p, seed, first, mask, y);
  }
  void multiply(const float* a, const float* b, size_t count, float* out) const override {
    Call call(*this, "multiply");
    inner_->multiply(a, b, count, out);
  }
  void concat_samples(const float* a, size_t a_len, const float* b, size_t b_len, int n, float* y) const override {
    Call call(*this, "concat_samples");
    inner_->concat_samples(a, a_len, b, b_len, n, y);
  }
  void split_samples_accumulate(const float* dy, size_t a_len, size_t b_len, int n, float* da, float* db) const override {
    Call call(*this, "split_samples_accumulate");
    inner_->split_samples_accumulate(dy, a_len, b_len, n, da, db);
  }
  void add(const float* a, const float* b, size_t count, float* out) const override {
    Call call(*this, "add");
    inner_->add(a, b, count, out);
  }
  void add_into(const float* x, size_t count, float* acc) const override {
    Call call(*this, "add_into");
    inner_->add_into(x, count, acc);
  }
  bool sgd_step(const SgdStep& s, float* params, const float* grads, float* momentum_buffer, size_t count) const override {
    Call call(*this, "sgd_step");
    return inner_->sgd_step(s, params, grads, momentum_buffer, count);
  }
  bool adam_step(const AdamStep& s, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, size_t count) const override {
    Call call(*this, "adam_step");
    return inner_->adam_step(s, params, grads, exp_avg, exp_avg_sq, count);
  }
  double cross_entropy(const float* logits, int n, int k, const int32_t* labels, float label_smoothing, float* grad, int* correct, int grad_rows) const override {
    Call call(*this, "cross_entropy");
    return inner_->cross_entropy(logits, n, k, labels, label_smoothing, grad, correct, grad_rows);
  }
  double regression_loss(RegressionLoss kind, const float* output, const float* target, size_t count, float* grad, size_t grad_count) const override {
    Call call(*this, "regression_loss");
    return inner_->regression_loss(kind, output, target, count, grad, grad_count);
  }
  void sum_slice_across(const Communicator& comm, float* data, size_t count) const override {
    Call call(*this, "sum_slice_across");
    inner_->sum_slice_across(comm, data, count);
  }
  void gather_across(const Communicator& comm, float* data, size_t count) const override {
    Call call(*this, "gather_across");
    inner_->gather_across(comm, data, count);
  }
  void add_noise(NoiseKind kind, float amount, bool clip, uint64_t seed, uint64_t first, const float* clean, size_t count, float* noisy) const override {
    Call call(*this, "add_noise");
    inner_->add_noise(kind, amount, clip, seed, first, clean, count, noisy);
  }

 protected:
  virtual void enter(const char* /*op*/) const {}
  virtual void leave() const {}
  virtual std::unique_ptr<ConvKernel> kernel(std::unique_ptr<ConvKernel> planned) const { return planned; }
  const Backend& inner() const { return *inner_; }

 private:
  struct Call {
    Call(const ForwardingBackend& b, const char* op) : b_(b) { b_.enter(op); }
    ~Call() { b_.leave(); }
    const ForwardingBackend& b_;
  };
  std::unique_ptr<Backend> inner_;
};

}  // namespace mnistlab
