#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

// A view: NCHW is already [N, C*H*W] in memory, so the model hands the same
// storage on and this layer does no work.
class FlattenLayer final : public Layer {
 public:
  LayerKind kind() const override { return LayerKind::Flatten; }
  SampleShape configure(const SampleShape& in) override {
    in_ = in;
    return out_ = flat_shape(int(in.numel()));
  }
  bool is_view() const override { return true; }
  void forward(const Tensor&, Tensor&, Scratch&) override {}
  void backward(const Tensor&, const Tensor&, const Tensor&, Tensor*, Scratch&) override {}
};

}  // namespace

std::unique_ptr<Layer> Flatten() { return std::make_unique<FlattenLayer>(); }

}  // namespace mnistlab
