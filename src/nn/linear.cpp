#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "nn/checks.h"
#include "nn/init.h"

namespace mnistlab {
namespace {

class LinearLayer final : public Layer {
 public:
  LinearLayer(int out_features, bool bias, int in_features)
      : out_features_(out_features), in_features_(in_features), bias_(bias) {}
  LayerKind kind() const override { return LayerKind::Linear; }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 2)
      throw Error("Linear needs a flat input [features], got " + in.str() + "; add a flatten line before it");
    if (out_features_ < 1) throw Error("Linear needs out_features >= 1");
    check_at_most(out_features_, limits::kChannels, "Linear out_features");
    if (in_features_ > 0 && in_features_ != in.c)
      throw Error("Linear expects " + std::to_string(in_features_) + " input features, but its input " + in.str() +
                  " has " + std::to_string(in.c));
    in_ = in;
    out_ = flat_shape(out_features_);
    add_param("weight", {out_features_, in.c});
    if (bias_) add_param("bias", {out_features_});
    return out_;
  }

  void reset_parameters(Rng& rng) override {
    for (Param& p : params_) init_uniform_fan_in(p, in_.c, rng);
  }

  // y[N, out] = x[N, in] W^T + b
  void forward(const Tensor& x, Tensor& y, Scratch&) override {
    backend().linear_forward(x.data, x.n, in_.c, out_features_, params_[0].value, bias_ ? params_[1].value : nullptr,
                             y.data);
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch&) override {
    backend().linear_backward(x.data, dy.data, x.n, in_.c, out_features_, params_[0].value, params_[0].grad,
                              bias_ ? params_[1].grad : nullptr, dx ? dx->data : nullptr);
  }

 private:
  int out_features_, in_features_;
  bool bias_;
};

}  // namespace

std::unique_ptr<Layer> Linear(int out_features, bool bias, int in_features) {
  return std::make_unique<LinearLayer>(out_features, bias, in_features);
}

}  // namespace mnistlab
