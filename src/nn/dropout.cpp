#include <cstring>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/layer.h"

namespace mnistlab {
namespace {

// Inverted dropout, as PyTorch: scale kept units by 1/(1-p) in training,
// identity in eval. Each training step draws a fresh mask from (seed, step),
// so a resumed run draws the masks the uninterrupted one would have.
class DropoutLayer final : public Layer {
 public:
  DropoutLayer(float p, uint64_t seed) : p_(p), seed_(seed) {}
  LayerKind kind() const override { return LayerKind::Dropout; }
  std::vector<LayerOption> options() const override { return {{"p", p_}}; }

  SampleShape configure(const SampleShape& in) override {
    if (!(p_ >= 0.f && p_ <= 1.f)) throw Error("Dropout needs 0 <= p <= 1, got " + std::to_string(p_));
    return in_ = out_ = in;
  }
  void reset_parameters(Rng& rng) override { seed_ ^= rng.next(); }
  void plan(const Backend& backend, int max_batch, bool gradients) override {
    Layer::plan(backend, max_batch, gradients);
    keeps_mask_ = gradients;
  }
  // The mask of the last training forward, for backward; eval needs none.
  size_t saved_floats(int n) const override { return keeps_mask_ ? size_t(n) * in_.numel() : 0; }

  void forward(const Tensor& x, Tensor& y, Scratch& s) override {
    if (!s.training) {
      backend().copy(x.data, x.numel(), y.data);
      return;
    }
    // The values' positions in the whole batch, so a rank's share draws
    // what a single process would for the same samples.
    backend().dropout_forward(x.data, x.numel(), p_, seed_ + s.step * 0x9E3779B97F4A7C15ull,
                              s.first_sample * in_.numel(), s.saved, y.data);
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch& s) override {
    if (!dx) return;
    if (s.training) backend().multiply(dy.data, s.saved, x.numel(), dx->data);
    else backend().copy(dy.data, x.numel(), dx->data);
  }

 private:
  float p_;
  uint64_t seed_;
  bool keeps_mask_ = true;
};

}  // namespace

std::unique_ptr<Layer> Dropout(float p, uint64_t seed) { return std::make_unique<DropoutLayer>(p, seed); }

}  // namespace mnistlab
