// Elementwise activations: y = f(x) and dx = dy * f'(x), with f' written in
// terms of y, so backward needs only the output.
#include "kernels/cpu/elementwise.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

using Forward = void (*)(const float* x, size_t count, float* y);
using Backward = void (*)(const float* y, const float* dy, size_t count, float* dx);

template <Forward forward_kernel, Backward backward_kernel>
class ActivationLayer final : public Layer {
 public:
  explicit ActivationLayer(const char* name) : name_(name) {}
  std::string type() const override { return name_; }
  SampleShape configure(const SampleShape& in) override { return in_ = out_ = in; }
  void forward(const Tensor& x, Tensor& y, Scratch&) override { forward_kernel(x.data, x.numel(), y.data); }
  void backward(const Tensor&, const Tensor& y, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) backward_kernel(y.data, dy.data, y.numel(), dx->data);
  }

 private:
  const char* name_;
};

}  // namespace

std::unique_ptr<Layer> ReLU() {
  return std::make_unique<ActivationLayer<cpu::relu_forward, cpu::relu_backward>>("ReLU");
}
std::unique_ptr<Layer> Sigmoid() {
  return std::make_unique<ActivationLayer<cpu::sigmoid_forward, cpu::sigmoid_backward>>("Sigmoid");
}
std::unique_ptr<Layer> Tanh() {
  return std::make_unique<ActivationLayer<cpu::tanh_forward, cpu::tanh_backward>>("Tanh");
}

}  // namespace mnistlab
