// Elementwise activations: y = f(x) and dx = dy * f'(x), with f' written in
// terms of y, so backward needs only the output.
#include "kernels/backend.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(LayerKind kind, Activation f) : kind_(kind), f_(f) {}
  LayerKind kind() const override { return kind_; }
  SampleShape configure(const SampleShape& in) override { return in_ = out_ = in; }
  void forward(const Tensor& x, Tensor& y, Scratch&) override {
    backend().activation_forward(f_, x.data, x.numel(), y.data);
  }
  void backward(const Tensor&, const Tensor& y, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) backend().activation_backward(f_, y.data, dy.data, y.numel(), dx->data);
  }

 private:
  LayerKind kind_;
  Activation f_;
};

}  // namespace

std::unique_ptr<Layer> ReLU() { return std::make_unique<ActivationLayer>(LayerKind::ReLU, Activation::ReLU); }
std::unique_ptr<Layer> Sigmoid() { return std::make_unique<ActivationLayer>(LayerKind::Sigmoid, Activation::Sigmoid); }
std::unique_ptr<Layer> Tanh() { return std::make_unique<ActivationLayer>(LayerKind::Tanh, Activation::Tanh); }

}  // namespace mnistlab
