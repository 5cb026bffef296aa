// BatchNorm2d with PyTorch's semantics: training normalizes with the batch's
// biased variance and updates the running variance with the unbiased one
// (torch.nn.functional.batch_norm); eval uses the running statistics.
// BatchNorm1d is the same layer on a flat input [N, F]: F channels of one
// value each (hw = 1), the same kernels.
#include <cmath>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

class BatchNormLayer final : public Layer {
 public:
  BatchNormLayer(bool flat, float eps, float momentum) : flat_(flat), eps_(eps), momentum_(momentum) {}
  LayerKind kind() const override { return flat_ ? LayerKind::BatchNorm1d : LayerKind::BatchNorm2d; }
  std::vector<LayerOption> options() const override { return {{"eps", eps_}, {"momentum", momentum_}}; }

  SampleShape configure(const SampleShape& in) override {
    if (flat_ && in.rank != 2)
      throw Error("BatchNorm1d needs a flat input [F] (after flatten or linear), got " + in.str());
    if (!flat_ && in.rank != 4) throw Error("BatchNorm2d needs an image input [C, H, W], got " + in.str());
    in_ = out_ = in;
    add_param("weight", {in.c});
    add_param("bias", {in.c});
    add_param("running_mean", {in.c}, ParamKind::Buffer);
    add_param("running_var", {in.c}, ParamKind::Buffer);
    // An int64 scalar in PyTorch; a float counts exactly up to 2^24 batches.
    add_param("num_batches_tracked", {}, ParamKind::Buffer);
    return out_;
  }

  void reset_parameters(Rng&) override {
    for (int c = 0; c < in_.c; ++c) {
      weight()[c] = 1.f;
      bias()[c] = 0.f;
      running_mean()[c] = 0.f;
      running_var()[c] = 1.f;
    }
    params_[4].value[0] = 0.f;
  }

  size_t saved_floats(int) const override { return 2 * size_t(in_.c); }  // mean, invstd

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    const int c = in_.c, hw = in_.h * in_.w;
    float* mean = s.saved;
    float* invstd = s.saved + c;
    if (s.training) {
      float* var = invstd;  // becomes invstd
      const double count = backend().channel_mean_var(x.data, x.n, c, hw, mean, var, s.batchnorm_across);
      backend().batchnorm_update_running(c, momentum_, eps_, count, mean, var, running_mean(),
                                         running_var(), params_[4].value);
    } else {
      backend().batchnorm_running_stats(c, eps_, running_mean(), running_var(), mean, invstd);
    }
    backend().batchnorm_apply(x.data, x.n, c, hw, mean, invstd, weight(), bias(), y.data);
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    const int c = in_.c, hw = in_.h * in_.w;
    const float* mean = s.saved;
    const float* invstd = s.saved + c;
    backend().batchnorm_backward(x.data, dy.data, x.n, c, hw, mean, invstd, weight(), s.training,
                                 dx ? dx->data : nullptr, params_[0].grad, params_[1].grad,
                                 s.training ? s.batchnorm_across : nullptr);
  }

  // Eval mode: (x - running_mean) / sqrt(running_var + eps) * weight + bias.
  bool eval_affine(float* scale, float* shift) const override {
    backend().batchnorm_eval_affine(in_.c, eps_, params_[0].value, params_[1].value, params_[2].value,
                                    params_[3].value, scale, shift);
    return true;
  }

 private:
  float* weight() { return params_[0].value; }
  float* bias() { return params_[1].value; }
  float* running_mean() { return params_[2].value; }
  float* running_var() { return params_[3].value; }
  bool flat_;
  float eps_, momentum_;
};

}  // namespace

std::unique_ptr<Layer> BatchNorm2d(float eps, float momentum) {
  return std::make_unique<BatchNormLayer>(false, eps, momentum);
}

std::unique_ptr<Layer> BatchNorm1d(float eps, float momentum) {
  return std::make_unique<BatchNormLayer>(true, eps, momentum);
}

}  // namespace mnistlab
