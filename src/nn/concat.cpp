// torch.cat([x, skip], dim=1): a U-Net decoder takes the encoder's maps
// beside its own.
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

class ConcatLayer final : public JoinLayer {
 public:
  using JoinLayer::JoinLayer;
  LayerKind kind() const override { return LayerKind::Concat; }

  SampleShape configure_join(const SampleShape& in, const SampleShape& other) override {
    if (in.rank != other.rank || in.h != other.h || in.w != other.w)
      throw Error("Concat joins along channels, so the sizes after the channels must agree: input " + in.str() +
                  ", '" + source() + "' " + other.str());
    in_ = in;
    out_ = in.rank == 2 ? flat_shape(in.c + other.c) : image_shape(in.c + other.c, in.h, in.w);
    return out_;
  }

  void forward_join(const Tensor& x, const Tensor& other, Tensor& y) override {
    backend().concat_samples(x.data, x.shape.numel(), other.data, other.shape.numel(), x.n, y.data);
  }

  void backward_join(const Tensor& dy, Tensor* dx, Tensor& dother) override {
    backend().split_samples_accumulate(dy.data, in_.numel(), dother.shape.numel(), dy.n, dx ? dx->data : nullptr,
                                  dother.data);
  }
};

}  // namespace

std::unique_ptr<Layer> Concat(const std::string& source) { return std::make_unique<ConcatLayer>(source); }

}  // namespace mnistlab
