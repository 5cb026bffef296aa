#include "train/class_log_probs.h"

#include <algorithm>
#include <cmath>

#include "loss/log_softmax.h"
#include "mnistlab/augment.h"

namespace mnistlab {
namespace {

void log_softmax(const Tensor& logits, double* out) {
  const int k = int(logits.shape.numel());
  for (int i = 0; i < logits.n; ++i) {
    const float* z = logits.sample(i);
    const double log_sum = log_sum_exp(z, k, z[argmax(z, k)]);
    for (int j = 0; j < k; ++j) out[long(i) * k + j] = double(z[j]) - log_sum;
  }
}

// log((e^a + e^b) / 2) without leaving log space, so a class both views
// find unlikely keeps its tiny probability instead of underflowing to 0.
double log_mean_exp(double a, double b) {
  const double top = std::max(a, b);
  return top + std::log((std::exp(a - top) + std::exp(b - top)) / 2);
}

}  // namespace

void class_log_probs(Model& model, float* images, int n, bool tta_flip, std::vector<double>& out) {
  const size_t k = model.output_shape().numel();
  out.resize(size_t(n) * k);
  log_softmax(model.forward(images, n), out.data());
  if (!tta_flip) return;
  const SampleShape in = model.input_shape();
  horizontal_flip(images, n * in.c * in.h, in.w);  // every row of every plane, as augmentation's flip
  std::vector<double> flipped(out.size());
  log_softmax(model.forward(images, n), flipped.data());
  for (size_t i = 0; i < out.size(); ++i) out[i] = log_mean_exp(out[i], flipped[i]);
}

}  // namespace mnistlab
