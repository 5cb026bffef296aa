#include "mnistlab/image_metrics.h"

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

constexpr int kWindow = 11;
constexpr double kSigma = 1.5, kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;

const std::array<double, kWindow>& gaussian() {
  static const std::array<double, kWindow> g = [] {
    std::array<double, kWindow> w{};
    double sum = 0;
    for (int i = 0; i < kWindow; ++i) sum += w[i] = std::exp(-double((i - 5) * (i - 5)) / (2 * kSigma * kSigma));
    for (double& v : w) v /= sum;
    return w;
  }();
  return g;
}

// Separable "valid" filtering of an h x w image: (h-10) x (w-10) out.
std::vector<double> filter(const std::vector<double>& in, int h, int w) {
  const auto& g = gaussian();
  const int oh = h - kWindow + 1, ow = w - kWindow + 1;
  std::vector<double> rows(size_t(h) * ow), out(size_t(oh) * ow);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < ow; ++c) {
      double s = 0;
      for (int k = 0; k < kWindow; ++k) s += g[k] * in[size_t(r) * w + c + k];
      rows[size_t(r) * ow + c] = s;
    }
  for (int r = 0; r < oh; ++r)
    for (int c = 0; c < ow; ++c) {
      double s = 0;
      for (int k = 0; k < kWindow; ++k) s += g[k] * rows[size_t(r + k) * ow + c];
      out[size_t(r) * ow + c] = s;
    }
  return out;
}

}  // namespace

double psnr(const float* image, const float* reference, int height, int width) {
  const size_t n = size_t(height) * width;
  double mse = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(image[i]) - reference[i];
    mse += d * d;
  }
  mse /= double(n);
  return mse == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(1.0 / mse);
}

double ssim(const float* image, const float* reference, int height, int width) {
  if (height < kWindow || width < kWindow)
    throw Error("SSIM needs images of at least 11x11 (its Gaussian window), got " + std::to_string(width) + "x" +
                std::to_string(height));
  const size_t n = size_t(height) * width;
  std::vector<double> x(n), y(n), xx(n), yy(n), xy(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = image[i];
    y[i] = reference[i];
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const auto mx = filter(x, height, width), my = filter(y, height, width);
  const auto sxx = filter(xx, height, width), syy = filter(yy, height, width), sxy = filter(xy, height, width);
  double sum = 0;
  for (size_t i = 0; i < mx.size(); ++i) {
    const double vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cov = sxy[i] - mx[i] * my[i];
    sum += ((2 * mx[i] * my[i] + kC1) * (2 * cov + kC2)) /
           ((mx[i] * mx[i] + my[i] * my[i] + kC1) * (vx + vy + kC2));
  }
  return sum / double(mx.size());
}

}  // namespace mnistlab
