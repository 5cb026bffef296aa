#include "kernels/cpu/elementwise.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

class ReLULayer final : public Layer {
 public:
  std::string type() const override { return "ReLU"; }
  SampleShape configure(const SampleShape& in) override { return in_ = out_ = in; }
  void forward(const Tensor& x, Tensor& y, Scratch&) override { cpu::relu_forward(x.data, x.numel(), y.data); }
  void backward(const Tensor&, const Tensor& y, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) cpu::relu_backward(y.data, dy.data, y.numel(), dx->data);
  }
};

}  // namespace

std::unique_ptr<Layer> ReLU() { return std::make_unique<ReLULayer>(); }

}  // namespace mnistlab
