// x + skip: a residual connection.
#include <algorithm>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

class AddLayer final : public JoinLayer {
 public:
  using JoinLayer::JoinLayer;
  LayerKind kind() const override { return LayerKind::Add; }

  SampleShape configure_join(const SampleShape& in, const SampleShape& other) override {
    if (!(in == other))
      throw Error("Add needs two tensors of the same shape: input " + in.str() + ", '" + source() + "' " +
                  other.str());
    in_ = out_ = in;
    return out_;
  }

  void forward_join(const Tensor& x, const Tensor& other, Tensor& y) override {
    backend().add(x.data, other.data, x.numel(), y.data);
  }

  void backward_join(const Tensor& dy, Tensor* dx, Tensor& dother) override {
    if (dx) backend().copy(dy.data, dy.numel(), dx->data);
    backend().add_into(dy.data, dy.numel(), dother.data);
  }
};

}  // namespace

std::unique_ptr<Layer> Add(const std::string& source) { return std::make_unique<AddLayer>(source); }

}  // namespace mnistlab
