#include <cstdint>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"
#include "nn/checks.h"

namespace mnistlab {
namespace {

class MaxPool2dLayer final : public Layer {
 public:
  MaxPool2dLayer(int k, int stride, int pad) : k_(k), stride_(stride > 0 ? stride : k), pad_(pad) {}
  LayerKind kind() const override { return LayerKind::MaxPool2d; }
  std::vector<LayerOption> options() const override {
    return {{"kernel_size", double(k_)}, {"stride", double(stride_)}, {"padding", double(pad_)}};
  }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("MaxPool2d needs an image input [C, H, W], got " + in.str());
    if (k_ < 1 || stride_ < 1 || pad_ < 0 || 2 * pad_ > k_)
      throw Error("MaxPool2d needs kernel_size >= 1, stride >= 1 and 0 <= padding <= kernel_size/2");
    check_window("MaxPool2d", k_, stride_, pad_);
    g_ = {in.c, in.h, in.w, k_, stride_, pad_};
    if (in.h + 2 * pad_ < k_ || in.w + 2 * pad_ < k_)
      throw Error("MaxPool2d kernel " + std::to_string(k_) + " does not fit the input " + in.str() +
                  ": output size would be below 1");
    in_ = in;
    return out_ = image_shape(in.c, g_.ho(), g_.wo());
  }

  void plan(const Backend& backend, int max_batch, bool gradients) override {
    Layer::plan(backend, max_batch, gradients);
    keeps_argmax_ = gradients;
  }
  // Indices of the maxima, for backward.
  size_t saved_int32s(int n) const override { return keeps_argmax_ ? size_t(n) * out_.numel() : 0; }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    backend().maxpool_forward(g_, x.data, x.n, y.data, keeps_argmax_ ? s.saved_indices : nullptr);
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    if (dx) backend().maxpool_backward(g_, dy.data, s.saved_indices, x.n, dx->data);
  }

 private:
  int k_, stride_, pad_;
  bool keeps_argmax_ = true;
  PoolShape g_{};
};

}  // namespace

std::unique_ptr<Layer> MaxPool2d(int kernel_size, int stride, int padding) {
  return std::make_unique<MaxPool2dLayer>(kernel_size, stride, padding);
}

}  // namespace mnistlab
