// Elementwise activations: y = f(x) and dx = dy * f'(x). Backward hands the
// backend both the input and the output (the model keeps every layer's
// input for its backward); each activation's kernel reads the one its
// derivative is written from (kernels/backend.h).
#include "kernels/backend.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(LayerKind kind, Activation f, float slope = 0.f) : kind_(kind), f_(f), slope_(slope) {}
  LayerKind kind() const override { return kind_; }
  std::vector<LayerOption> options() const override {
    if (f_ == Activation::LeakyReLU) return {{"negative_slope", double(slope_)}};
    return {};
  }
  SampleShape configure(const SampleShape& in) override { return in_ = out_ = in; }
  void forward(const Tensor& x, Tensor& y, Scratch&) override {
    backend().activation_forward(f_, slope_, x.data, x.numel(), y.data);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) backend().activation_backward(f_, slope_, x.data, y.data, dy.data, y.numel(), dx->data);
  }

 private:
  LayerKind kind_;
  Activation f_;
  float slope_;
};

}  // namespace

std::unique_ptr<Layer> ReLU() { return std::make_unique<ActivationLayer>(LayerKind::ReLU, Activation::ReLU); }
std::unique_ptr<Layer> Sigmoid() { return std::make_unique<ActivationLayer>(LayerKind::Sigmoid, Activation::Sigmoid); }
std::unique_ptr<Layer> Tanh() { return std::make_unique<ActivationLayer>(LayerKind::Tanh, Activation::Tanh); }
std::unique_ptr<Layer> GELU() { return std::make_unique<ActivationLayer>(LayerKind::GELU, Activation::GELU); }
std::unique_ptr<Layer> SiLU() { return std::make_unique<ActivationLayer>(LayerKind::SiLU, Activation::SiLU); }
std::unique_ptr<Layer> LeakyReLU(float negative_slope) {
  return std::make_unique<ActivationLayer>(LayerKind::LeakyReLU, Activation::LeakyReLU, negative_slope);
}

}  // namespace mnistlab
