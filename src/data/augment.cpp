// torchvision's RandomCrop, RandomAffine, ElasticTransform,
// RandomHorizontalFlip and RandomErasing (torchvision 0.14, transforms.py and functional.py), on one
// float image. Parameters are drawn as their get_params() draw them.
#include "mnistlab/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

namespace mnistlab {
namespace {

double radians(double degrees) { return degrees * std::numbers::pi / 180.0; }

int uniform_int(Rng& rng, int lo, int hi_inclusive) {  // torch.randint(lo, hi + 1)
  return lo + int(rng.next() % uint64_t(hi_inclusive - lo + 1));
}

double uniform(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * double(rng.next() >> 11) * 0x1.0p-53;
}

// torchvision's _get_inverse_affine_matrix with the center at the origin:
// output point -> input point, both relative to the image center.
std::array<double, 6> inverse_affine(const AugmentDraw& d) {
  const double rot = radians(d.angle), sx = radians(d.shear_x), sy = 0.0;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double dd = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {dd / d.scale, -b / d.scale, 0.0, -c / d.scale, a / d.scale, 0.0};
  m[2] = m[0] * -d.translate_x + m[1] * -d.translate_y;
  m[5] = m[3] * -d.translate_x + m[4] * -d.translate_y;
  return m;
}

float pixel_or_zero(const float* in, int rows, int cols, int y, int x) {
  return (y >= 0 && y < rows && x >= 0 && x < cols) ? in[y * cols + x] : 0.0f;
}

// grid_sample(mode="bilinear", padding_mode="zeros") at pixel coordinates
// (u, v), then torchvision's fill: it also samples an image of ones and
// blends with the fill by that mask (_apply_grid_transform), so with fill 0
// a border pixel is scaled by its inside weight a second time.
float bilinear_or_zero(const float* in, int rows, int cols, double u, double v) {
  const double x0 = std::floor(u), y0 = std::floor(v), fx = u - x0, fy = v - y0;
  const int ix = int(x0), iy = int(y0);
  const double w[4] = {(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx};
  const int dy[4] = {0, 0, 1, 1}, dx[4] = {0, 1, 0, 1};
  double sum = 0, inside = 0;
  for (int k = 0; k < 4; ++k) {
    const int py = iy + dy[k], px = ix + dx[k];
    if (py < 0 || py >= rows || px < 0 || px >= cols) continue;
    sum += w[k] * in[py * cols + px];
    inside += w[k];
  }
  return float(sum * inside);
}

// torch.nn.functional.pad(mode="reflect"): the edge pixel is not repeated.
int reflect(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// _get_gaussian_kernel1d: exp(-x^2 / (2 sigma^2)) at integer offsets, normalized.
std::vector<double> gaussian_kernel(double sigma) {
  int size = int(8 * sigma + 1);
  if (size % 2 == 0) ++size;
  std::vector<double> k(size_t(size), 0.0);
  double sum = 0;
  for (int i = 0; i < size; ++i) {
    const double x = i - (size - 1) / 2.0;
    sum += k[size_t(i)] = std::exp(-0.5 * (x / sigma) * (x / sigma));
  }
  for (double& v : k) v /= sum;
  return k;
}

// gaussian_blur with reflect padding, separably (the 2-D kernel is the outer
// product of the 1-D one), scaled by `scale`; in and out may not alias tmp.
// Each pass runs over whole rows, so the inner loops are contiguous and
// vectorize: the prefetching thread shares two cores with the training.
void blur(const float* in, int rows, int cols, const std::vector<double>& k, double scale, float* out, float* tmp) {
  const int half = int(k.size() / 2), taps = int(k.size());
  thread_local std::vector<double> padded, sum;
  padded.resize(size_t(cols + 2 * half));
  sum.resize(size_t(cols));
  for (int y = 0; y < rows; ++y) {
    for (int i = 0; i < cols + 2 * half; ++i) padded[size_t(i)] = in[y * cols + reflect(i - half, cols)];
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int j = 0; j < taps; ++j)
      for (int x = 0; x < cols; ++x) sum[size_t(x)] += k[size_t(j)] * padded[size_t(x + j)];
    for (int x = 0; x < cols; ++x) tmp[y * cols + x] = float(sum[size_t(x)]);
  }
  for (int y = 0; y < rows; ++y) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int j = 0; j < taps; ++j) {
      const float* row = tmp + size_t(reflect(y + j - half, rows)) * cols;
      for (int x = 0; x < cols; ++x) sum[size_t(x)] += k[size_t(j)] * row[x];
    }
    for (int x = 0; x < cols; ++x) out[y * cols + x] = float(sum[size_t(x)] * scale);
  }
}

}  // namespace

bool AugmentOptions::affine() const {
  return degrees != 0 || translate != 0 || scale_min != 1 || scale_max != 1 || shear != 0;
}

bool AugmentOptions::any() const { return crop_padding > 0 || affine() || elastic() || hflip || erase > 0; }

AugmentDraw draw_augment(const AugmentOptions& o, int rows, int cols, Rng& rng) {
  AugmentDraw d;
  if (o.crop_padding > 0) {
    d.crop_top = uniform_int(rng, 0, 2 * o.crop_padding);
    d.crop_left = uniform_int(rng, 0, 2 * o.crop_padding);
  }
  if (o.affine()) {
    d.angle = uniform(rng, -o.degrees, o.degrees);
    const double max_dx = o.translate * cols, max_dy = o.translate * rows;
    d.translate_x = int(std::nearbyint(uniform(rng, -max_dx, max_dx)));  // Python's round: half to even
    d.translate_y = int(std::nearbyint(uniform(rng, -max_dy, max_dy)));
    d.scale = uniform(rng, o.scale_min, o.scale_max);
    d.shear_x = uniform(rng, -o.shear, o.shear);
  }
  if (o.elastic()) d.elastic_stream = rng.next();
  if (o.hflip) d.flip = uniform(rng, 0, 1) < 0.5;
  if (o.erase > 0 && uniform(rng, 0, 1) < o.erase) {
    const double area = double(rows) * cols, log_lo = std::log(0.3), log_hi = std::log(3.3);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * uniform(rng, 0.02, 0.33);
      const double aspect = std::exp(uniform(rng, log_lo, log_hi));
      const int h = int(std::nearbyint(std::sqrt(erase_area * aspect)));
      const int w = int(std::nearbyint(std::sqrt(erase_area / aspect)));
      if (!(h < rows && w < cols)) continue;
      d.erase_top = uniform_int(rng, 0, rows - h);
      d.erase_left = uniform_int(rng, 0, cols - w);
      d.erase_height = h;
      d.erase_width = w;
      break;
    }
  }
  return d;
}

void random_crop(const float* in, int rows, int cols, int padding, int top, int left, float* out) {
  // out[y][x] = padded[y + top][x + left] = in[y + top - padding][x + left - padding], zero outside.
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) out[y * cols + x] = pixel_or_zero(in, rows, cols, y + top - padding, x + left - padding);
}

void affine(const float* in, int rows, int cols, const AugmentDraw& draw, Interpolation interpolation, float* out) {
  const std::array<double, 6> m = inverse_affine(draw);
  // affine_grid(align_corners=False) + grid_sample(padding_mode="zeros"), as
  // torchvision's tensor path: pixel centers at x + 0.5, the origin at the center.
  const double cx = 0.5 * cols, cy = 0.5 * rows;
  for (int y = 0; y < rows; ++y) {
    const double Y = y + 0.5 - cy;
    for (int x = 0; x < cols; ++x) {
      const double X = x + 0.5 - cx;
      const double u = m[0] * X + m[1] * Y + m[2] + cx - 0.5;
      const double v = m[3] * X + m[4] * Y + m[5] + cy - 0.5;
      out[y * cols + x] = interpolation == Interpolation::Nearest
                              ? pixel_or_zero(in, rows, cols, int(std::nearbyint(v)), int(std::nearbyint(u)))
                              : bilinear_or_zero(in, rows, cols, u, v);
    }
  }
}

void elastic_displacement(const float* noise_x, const float* noise_y, int rows, int cols, double alpha, double sigma,
                          float* dx, float* dy, float* tmp) {
  // sigma 0: no blur, as get_params skips it. Every image of a run blurs
  // with the same sigma: the kernel is made once per thread, not per image
  // (a training step allocates nothing, tests/test_no_allocation.cpp).
  thread_local double kernel_sigma = -1;
  thread_local std::vector<double> k;
  if (sigma != kernel_sigma) {
    k = sigma > 0 ? gaussian_kernel(sigma) : std::vector<double>{1.0};
    kernel_sigma = sigma;
  }
  // torchvision 0.14 scales x by alpha / size[0] (the height) and y by
  // alpha / size[1] (the width); the same on square images, copied as it is.
  blur(noise_x, rows, cols, k, alpha / rows, dx, tmp);
  blur(noise_y, rows, cols, k, alpha / cols, dy, tmp);
}

void elastic(const float* in, int rows, int cols, const float* dx, const float* dy, float* out) {
  // The identity grid puts pixel x at (2x + 1 - W) / W; grid_sample
  // (align_corners=False) maps g back to ((g + 1) W - 1) / 2, so a
  // displacement d moves the sample by d * W / 2 pixels.
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const size_t p = size_t(y) * cols + x;
      out[p] = bilinear_or_zero(in, rows, cols, x + dx[p] * cols * 0.5, y + dy[p] * rows * 0.5);
    }
}

void horizontal_flip(float* image, int rows, int cols) {
  for (int y = 0; y < rows; ++y) std::reverse(image + y * cols, image + (y + 1) * cols);
}

void erase(float* image, int cols, int top, int left, int height, int width) {
  for (int y = top; y < top + height; ++y) std::fill(image + y * cols + left, image + y * cols + left + width, 0.0f);
}

void augment_image(const uint8_t* src, int rows, int cols, const AugmentOptions& o, const AugmentDraw& d, float* dst,
                   float* scratch) {
  const size_t pixels = size_t(rows) * cols;
  // pixel / 255.0f, as ToTensor divides (geometry first on bytes or floats
  // gives the same values: crop, nearest and flip only move pixels).
  for (size_t p = 0; p < pixels; ++p) dst[p] = float(src[p]) / 255.0f;
  if (o.crop_padding > 0) {
    random_crop(dst, rows, cols, o.crop_padding, d.crop_top, d.crop_left, scratch);
    std::memcpy(dst, scratch, pixels * sizeof(float));
  }
  if (o.affine()) {
    affine(dst, rows, cols, d, o.interpolation, scratch);
    std::memcpy(dst, scratch, pixels * sizeof(float));
  }
  if (o.elastic()) {
    float *noise_x = scratch + pixels, *noise_y = noise_x + pixels, *tmp = noise_y + pixels;
    Rng rng(d.elastic_stream);
    for (size_t p = 0; p < pixels; ++p) noise_x[p] = float(uniform(rng, -1, 1));  // torch.rand(...) * 2 - 1
    for (size_t p = 0; p < pixels; ++p) noise_y[p] = float(uniform(rng, -1, 1));
    elastic_displacement(noise_x, noise_y, rows, cols, o.elastic_alpha, o.elastic_sigma, noise_x, noise_y, tmp);
    elastic(dst, rows, cols, noise_x, noise_y, scratch);
    std::memcpy(dst, scratch, pixels * sizeof(float));
  }
  if (d.flip) horizontal_flip(dst, rows, cols);
  if (d.erase_height > 0) erase(dst, cols, d.erase_top, d.erase_left, d.erase_height, d.erase_width);
}

size_t augment_scratch_floats(int rows, int cols) { return 4 * size_t(rows) * size_t(cols); }

uint64_t augment_stream(uint64_t seed, int epoch, uint64_t position) {
  // splitmix64 over the three, so neighbouring positions get unrelated streams.
  uint64_t z = seed * 0x9e3779b97f4a7c15ull ^ (uint64_t(epoch) << 40) ^ position;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace mnistlab
