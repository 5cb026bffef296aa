#include "train/class_log_probs.h"

#include <algorithm>
#include <cmath>

#include "loss/log_softmax.h"
#include "mnistlab/augment.h"

namespace mnistlab {
namespace {

// The model's last output, copied to the host, as log-probabilities.
void log_softmax(Model& model, const Tensor& logits, std::vector<float>& host, double* out) {
  const int k = int(logits.shape.numel());
  host.resize(logits.numel());
  model.read_output(host.data());
  for (int i = 0; i < logits.n; ++i) {
    const float* z = host.data() + size_t(i) * k;
    const double log_sum = log_sum_exp(z, k, z[argmax(z, k)]);
    for (int j = 0; j < k; ++j) out[long(i) * k + j] = double(z[j]) - log_sum;
  }
}

// log(e^a + e^b); a class that a view finds impossible (-inf, from an
// overflowing logit) adds nothing instead of making -inf - -inf = NaN.
double log_add_exp(double a, double b) {
  if (b == -INFINITY) return a;
  if (a == -INFINITY) return b;
  const double top = std::max(a, b);
  return top + std::log(std::exp(a - top) + std::exp(b - top));
}

// torchvision's five_crop of the image padded by p (zeros): the corners, top
// left to bottom right, then the centre (crop_top = round(2p / 2) = p), as
// shifts of the view against the image.
constexpr int kFiveCrop[5][2] = {{0, 0}, {0, 2}, {2, 0}, {2, 2}, {1, 1}};  // in units of p: top, left

}  // namespace

std::string TestTimeAugmentation::describe() const {
  if (crops > 0) return std::string(flip ? "TenCrop" : "FiveCrop") + " with padding " + std::to_string(crops);
  return flip ? "the image and its horizontal flip" : "";
}

void class_log_probs(Model& model, float* images, int n, const TestTimeAugmentation& tta, std::vector<double>& out) {
  const size_t k = model.output_shape().numel();
  out.resize(size_t(n) * k);
  if (tta.views() == 1) {
    std::vector<float> host;
    log_softmax(model, model.forward(images, n), host, out.data());
    return;
  }
  const SampleShape in = model.input_shape();
  const int planes = n * in.c;
  std::vector<float> view(tta.crops > 0 ? size_t(n) * in.numel() : 0);
  std::vector<double> view_log_p(out.size());
  std::vector<float> host;
  // log of the sum over views of the softmax, one view at a time in log
  // space, so a class every view finds unlikely keeps its tiny probability.
  std::fill(out.begin(), out.end(), -INFINITY);
  for (int flipped = 0; flipped < (tta.flip ? 2 : 1); ++flipped) {
    if (flipped) horizontal_flip(images, planes * in.h, in.w);  // every row of every plane
    for (int c = 0; c < (tta.crops > 0 ? 5 : 1); ++c) {
      const float* batch = images;
      if (tta.crops > 0) {  // the crop augmentation's, at FiveCrop's fixed places, plane by plane
        const size_t plane = size_t(in.h) * in.w;
        for (int i = 0; i < planes; ++i)
          random_crop(images + i * plane, in.h, in.w, tta.crops, kFiveCrop[c][0] * tta.crops,
                      kFiveCrop[c][1] * tta.crops, view.data() + i * plane);
        batch = view.data();
      }
      log_softmax(model, model.forward(batch, n), host, view_log_p.data());
      for (size_t i = 0; i < out.size(); ++i) out[i] = log_add_exp(out[i], view_log_p[i]);
    }
  }
  const double log_views = std::log(double(tta.views()));
  for (double& v : out) v -= log_views;
}

}  // namespace mnistlab
