#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace mnistlab::cpu {

constexpr int kShortRow = 16;  // output rows shorter than this unfold by offset tables

ConvGeometry::ConvGeometry(int c_, int h_, int w_, int kh_, int kw_, int stride_, int pad_)
    : c(c_), h(h_), w(w_), kh(kh_), kw(kw_), stride(stride_), pad(pad_) {
  // Whether some output o in [0, out) reads o*stride - pad + k inside [0, size).
  auto sees_image = [&](int k, int size, int out) {
    const long first = std::max(0L, (long(pad) - k + stride - 1) / stride);  // o*stride >= pad - k
    const long last = std::min(long(out) - 1, (long(size) - 1 + pad - k) / stride);
    return long(size) - 1 + pad - k >= 0 && first <= last;
  };
  for (int ki = 0; ki < kh; ++ki)
    for (int kj = 0; kj < kw; ++kj)
      if (sees_image(ki, h, ho()) && sees_image(kj, w, wo())) taps.push_back(ki * kw + kj);
  if (wo() >= kShortRow || size_t(ho()) * wo() * taps.size() > (size_t(1) << 16)) return;
  offsets.resize(taps.size() * ho() * wo());
  for (size_t t = 0; t < taps.size(); ++t)
    for (int oh = 0; oh < ho(); ++oh)
      for (int ow = 0; ow < wo(); ++ow) {
        const int ih = oh * stride - pad + taps[t] / kw, iw = ow * stride - pad + taps[t] % kw;
        offsets[(t * ho() + oh) * wo() + ow] = ih >= 0 && ih < h && iw >= 0 && iw < w ? ih * w + iw : -1;
      }
}

// Outputs ow in [lo, hi) read input column ow*stride + kj - pad inside the image.
static void valid_outputs(const ConvGeometry& g, int kj, int wo, int& lo, int& hi) {
  const int shift = kj - g.pad;
  lo = shift >= 0 ? 0 : (-shift + g.stride - 1) / g.stride;
  hi = std::min(wo, (g.w - 1 - shift) / g.stride + 1);
  if (g.w - 1 - shift < 0) hi = 0;
  hi = std::max(hi, lo);
}

// Stride 1 with the output as wide as the input ("same" padding): the tap's
// row is the whole plane shifted by one offset, so one long copy does it,
// then the pixels that would wrap around a row's end or fall outside the
// plane are zeroed. Output rows [oh0, oh1) go to out.
static void same_width_tap(const ConvGeometry& g, const float* plane, int ki, int shift, int lo, int hi, int oh0,
                           int oh1, float* out) {
  const int w = g.w;
  // Rows that read inside the plane.
  const int first = std::clamp(g.pad - ki, oh0, oh1), last = std::clamp(g.h + g.pad - ki, first, oh1);
  std::memset(out, 0, sizeof(float) * (first - oh0) * w);
  // Copy only what lies inside the plane: the ends of the shifted range are
  // wrapped pixels, zeroed below anyway.
  const long src = long(first - g.pad + ki) * w + shift, len = long(last - first) * w;
  const long front = std::max(0L, -src), back = std::max(0L, src + len - long(g.h) * w);
  float* body = out + (first - oh0) * w;
  if (len - front - back > 0) std::memcpy(body + front, plane + src + front, sizeof(float) * (len - front - back));
  std::memset(out + (last - oh0) * w, 0, sizeof(float) * (oh1 - last) * w);
  for (int oh = first; oh < last; ++oh) {
    float* row = out + (oh - oh0) * w;
    for (int ow = 0; ow < lo; ++ow) row[ow] = 0.f;
    for (int ow = hi; ow < w; ++ow) row[ow] = 0.f;
  }
}

// Output rows [oh0, oh1) of one image's row r of the columns.
static void unfold_rows(const ConvGeometry& g, const float* x, int r, int oh0, int oh1, float* out) {
  const int nt = int(g.taps.size()), c = r / nt, tap = g.taps[r % nt], ki = tap / g.kw, kj = tap % g.kw;
  const int wo = g.wo(), shift = kj - g.pad;
  int lo, hi;
  valid_outputs(g, kj, wo, lo, hi);
  const float* plane = x + long(c) * g.h * g.w;
  if (g.stride == 1 && wo == g.w) return same_width_tap(g, plane, ki, shift, lo, hi, oh0, oh1, out);
  for (int oh = oh0; oh < oh1; ++oh) {
    const int ih = oh * g.stride - g.pad + ki;
    float* row = out + (oh - oh0) * wo;
    if (ih < 0 || ih >= g.h) {
      std::memset(row, 0, sizeof(float) * wo);
      continue;
    }
    const float* in = plane + ih * g.w;
    for (int ow = 0; ow < lo; ++ow) row[ow] = 0.f;
    if (g.stride == 1) {
      for (int ow = lo; ow < hi; ++ow) row[ow] = in[ow + shift];  // rows of 7..28: a call to memcpy costs more
    } else if (g.stride == 2) {  // a constant stride lets the compiler vectorize the gather
      for (int ow = lo; ow < hi; ++ow) row[ow] = in[2 * ow + shift];
    } else {
      for (int ow = lo; ow < hi; ++ow) row[ow] = in[ow * g.stride + shift];
    }
    for (int ow = hi; ow < wo; ++ow) row[ow] = 0.f;
  }
}

// Stride 1, output as wide as the input: the input pixel a tap reads for
// output p is p plus this.
static long tap_shift(const ConvGeometry& g, int tap) {
  return long(tap / g.kw - g.pad) * g.w + (tap % g.kw - g.pad);
}

void im2col_band(const ConvGeometry& g, const float* x, int oh0, int oh1, float* col) {
  const long cols = long(oh1 - oh0) * g.wo();
  if (g.offsets.empty()) {
    for (int r = 0; r < g.k(); ++r) unfold_rows(g, x, r, oh0, oh1, col + r * cols);
    return;
  }
  const int nt = int(g.taps.size()), hw = g.ho() * g.wo(), plane = g.h * g.w;
  // Stride 1 with the output as wide as the input: each tap reads the plane
  // shifted by one offset, so its loads are contiguous (masked at the
  // edges) rather than gathers.
  const bool shifted = g.stride == 1 && g.wo() == g.w;
  for (int r = 0; r < g.k(); ++r) {
    const int* offsets = g.offsets.data() + long(r % nt) * hw + long(oh0) * g.wo();
    const float* in = x + long(r / nt) * plane;
    float* __restrict out = col + r * cols;
    if (shifted) {
      const long shift = tap_shift(g, g.taps[r % nt]) + long(oh0) * g.wo();
      for (long p = 0; p < cols; ++p) out[p] = offsets[p] >= 0 ? in[p + shift] : 0.f;
    } else {
      for (long p = 0; p < cols; ++p) out[p] = offsets[p] >= 0 ? in[offsets[p]] : 0.f;
    }
  }
}

void col2im_band(const ConvGeometry& g, const float* col, int oh0, int oh1, float* dx) {
  const int wo = g.wo(), nt = int(g.taps.size()), cols = (oh1 - oh0) * wo, plane = g.h * g.w;
  const int p0 = oh0 * wo, p1 = oh1 * wo;
  for (int c = 0; c < g.c; ++c) {
    float* out_plane = dx + long(c) * plane;
    for (int t = 0; t < nt; ++t) {
      const float* src = col + long(c * nt + t) * cols;  // output pixel p is src[p - p0]
      if (!g.offsets.empty()) {
        const int* offsets = g.offsets.data() + long(t) * g.ho() * wo;
        if (g.stride == 1 && wo == g.w) {  // contiguous, as in im2col_band
          const long shift = tap_shift(g, g.taps[t]);
          float* __restrict to = out_plane;
          for (int p = p0; p < p1; ++p)
            if (offsets[p] >= 0) to[p + shift] += src[p - p0];
        } else {
          for (int p = p0; p < p1; ++p)
            if (offsets[p] >= 0) out_plane[offsets[p]] += src[p - p0];
        }
        continue;
      }
      const int ki = g.taps[t] / g.kw, kj = g.taps[t] % g.kw, shift = kj - g.pad;
      int lo, hi;
      valid_outputs(g, kj, wo, lo, hi);
      for (int oh = oh0; oh < oh1; ++oh) {
        const int ih = oh * g.stride - g.pad + ki;
        if (ih < 0 || ih >= g.h) continue;
        float* out = out_plane + ih * g.w;
        const float* row = src + long(oh - oh0) * wo;
        if (g.stride == 1) {
          for (int ow = lo; ow < hi; ++ow) out[ow + shift] += row[ow];
        } else if (g.stride == 2) {
          for (int ow = lo; ow < hi; ++ow) out[2 * ow + shift] += row[ow];
        } else {
          for (int ow = lo; ow < hi; ++ow) out[ow * g.stride + shift] += row[ow];
        }
      }
    }
  }
}

void col2im(const ConvGeometry& g, const float* col, float* dx) {
  std::memset(dx, 0, sizeof(float) * size_t(g.c) * g.h * g.w);
  col2im_band(g, col, 0, g.ho(), dx);
}

void pack_taps(const ConvGeometry& g, const float* weight, size_t rows, float* packed) {
  const size_t nt = g.taps.size(), kk = size_t(g.kh) * g.kw;
  for (size_t row = 0; row < rows; ++row)
    for (size_t t = 0; t < nt; ++t) packed[row * nt + t] = weight[row * kk + size_t(g.taps[t])];
}

void unpack_taps(const ConvGeometry& g, const float* packed, size_t rows, float* weight) {
  const size_t nt = g.taps.size(), kk = size_t(g.kh) * g.kw;
  std::fill(weight, weight + rows * kk, 0.f);
  for (size_t row = 0; row < rows; ++row)
    for (size_t t = 0; t < nt; ++t) weight[row * kk + size_t(g.taps[t])] = packed[row * nt + t];
}

}  // namespace mnistlab::cpu
