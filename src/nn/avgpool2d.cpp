// AvgPool2d (count_include_pad=True, ceil_mode=False, PyTorch's defaults)
// and AdaptiveAvgPool2d(1), the global average: shapes only; the arithmetic
// is the backend's.
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"
#include "nn/checks.h"

namespace mnistlab {
namespace {

class AvgPool2dLayer final : public Layer {
 public:
  AvgPool2dLayer(int k, int stride, int pad) : k_(k), stride_(stride > 0 ? stride : k), pad_(pad) {}
  LayerKind kind() const override { return LayerKind::AvgPool2d; }
  std::vector<LayerOption> options() const override {
    return {{"kernel_size", double(k_)}, {"stride", double(stride_)}, {"padding", double(pad_)}};
  }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("AvgPool2d needs an image input [C, H, W], got " + in.str());
    // PyTorch's rule: padding at most half the kernel.
    if (k_ < 1 || stride_ < 1 || pad_ < 0 || 2 * pad_ > k_)
      throw Error("AvgPool2d needs kernel_size >= 1, stride >= 1 and 0 <= padding <= kernel_size/2");
    check_window("AvgPool2d", k_, stride_, pad_);
    if (in.h + 2 * pad_ < k_ || in.w + 2 * pad_ < k_)
      throw Error("AvgPool2d kernel " + std::to_string(k_) + " does not fit the input " + in.str() +
                  ": output size would be below 1");
    g_ = {in.c, in.h, in.w, k_, stride_, pad_};
    in_ = in;
    return out_ = image_shape(in.c, g_.ho(), g_.wo());
  }

  void forward(const Tensor& x, Tensor& y, Scratch&) override { backend().avgpool_forward(g_, x.data, x.n, y.data); }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) backend().avgpool_backward(g_, dy.data, x.n, dx->data);
  }

 private:
  int k_, stride_, pad_;
  PoolShape g_{};
};

class AdaptiveAvgPool2dLayer final : public Layer {
 public:
  explicit AdaptiveAvgPool2dLayer(int output_size) : output_size_(output_size) {}
  LayerKind kind() const override { return LayerKind::AdaptiveAvgPool2d; }
  std::vector<LayerOption> options() const override { return {{"output_size", double(output_size_)}}; }

  SampleShape configure(const SampleShape& in) override {
    if (in.rank != 4) throw Error("AdaptiveAvgPool2d needs an image input [C, H, W], got " + in.str());
    if (output_size_ != 1)
      throw Error("AdaptiveAvgPool2d takes output_size 1 only (the global average), got " +
                  std::to_string(output_size_));
    in_ = in;
    return out_ = image_shape(in.c, 1, 1);
  }

  void forward(const Tensor& x, Tensor& y, Scratch&) override {
    backend().global_avgpool_forward(x.data, size_t(x.n) * in_.c, in_.h * in_.w, y.data);
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx) backend().global_avgpool_backward(dy.data, size_t(x.n) * in_.c, in_.h * in_.w, dx->data);
  }

 private:
  int output_size_;
};

}  // namespace

std::unique_ptr<Layer> AvgPool2d(int kernel_size, int stride, int padding) {
  return std::make_unique<AvgPool2dLayer>(kernel_size, stride, padding);
}

std::unique_ptr<Layer> AdaptiveAvgPool2d(int output_size) {
  return std::make_unique<AdaptiveAvgPool2dLayer>(output_size);
}

}  // namespace mnistlab
