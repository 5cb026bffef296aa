// torchvision's RandomCrop, RandomAffine, RandomHorizontalFlip and
// RandomErasing (torchvision 0.14, transforms.py and functional.py), on one
// float image. Parameters are drawn as their get_params() draw them.
#include "mnistlab/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>

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

}  // namespace

bool AugmentOptions::affine() const {
  return degrees != 0 || translate != 0 || scale_min != 1 || scale_max != 1 || shear != 0;
}

bool AugmentOptions::any() const { return crop_padding > 0 || affine() || hflip || erase > 0; }

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
      float value;
      if (interpolation == Interpolation::Nearest) {
        value = pixel_or_zero(in, rows, cols, int(std::nearbyint(v)), int(std::nearbyint(u)));
      } else {
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
        // torchvision fills by also sampling an image of ones and blending
        // with the fill by that mask (_apply_grid_transform): with fill 0 a
        // border pixel is scaled by its inside weight a second time.
        value = float(sum * inside);
      }
      out[y * cols + x] = value;
    }
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
  if (d.flip) horizontal_flip(dst, rows, cols);
  if (d.erase_height > 0) erase(dst, cols, d.erase_top, d.erase_left, d.erase_height, d.erase_width);
}

uint64_t augment_stream(uint64_t seed, int epoch, uint64_t position) {
  // splitmix64 over the three, so neighbouring positions get unrelated streams.
  uint64_t z = seed * 0x9e3779b97f4a7c15ull ^ (uint64_t(epoch) << 40) ^ position;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace mnistlab
