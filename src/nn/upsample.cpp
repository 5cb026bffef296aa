// Upsample: nn.Upsample(scale_factor=S, mode='nearest' | 'bilinear',
// align_corners=False) with an integer S; shapes only, the arithmetic is the
// backend's.
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"
#include "nn/checks.h"

namespace mnistlab {
namespace {

class UpsampleLayer final : public Layer {
 public:
  UpsampleLayer(int scale, UpsampleMode mode) : scale_(scale), mode_(mode) {}
  LayerKind kind() const override { return LayerKind::Upsample; }
  // mode: UpsampleMode's value (0 nearest, 1 bilinear).
  std::vector<LayerOption> options() const override {
    return {{"scale_factor", double(scale_)}, {"mode", double(int(mode_))}};
  }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("Upsample needs an image input [C, H, W], got " + in.str());
    if (scale_ < 1) throw Error("Upsample needs scale_factor >= 1, got " + std::to_string(scale_));
    if (mode_ != UpsampleMode::Nearest && mode_ != UpsampleMode::Bilinear) throw Error("Upsample: unknown mode");
    check_at_most(scale_, limits::kKernel, "Upsample scale_factor");
    check_at_most(int64_t(in.h) * scale_, limits::kSide, "Upsample output height");
    check_at_most(int64_t(in.w) * scale_, limits::kSide, "Upsample output width");
    g_ = {in.c, in.h, in.w, scale_, mode_ == UpsampleMode::Bilinear};
    in_ = in;
    return out_ = image_shape(in.c, g_.ho(), g_.wo());
  }

  void forward(const Tensor& x, Tensor& y, Scratch&) override { backend().upsample_forward(g_, x.data, x.n, y.data); }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) backend().upsample_backward(g_, dy.data, x.n, dx->data);
  }

 private:
  int scale_;
  UpsampleMode mode_;
  UpsampleShape g_{};
};

}  // namespace

std::unique_ptr<Layer> Upsample(int scale_factor, UpsampleMode mode) {
  return std::make_unique<UpsampleLayer>(scale_factor, mode);
}

}  // namespace mnistlab
