#include "kernels/cpu/upsample.h"
#include "kernels/cpu/parallel.h"

#include <cmath>
#include <cstring>

namespace mnistlab::cpu {
namespace {

// Bilinear, align_corners=False, as PyTorch computes it
// (aten/src/ATen/native/UpSample.h: area_pixel_compute_source_index with the
// given scale_factor, so the step is 1/S as a float): output index o reads
// input i0 with weight l0 and i1 with weight l1; i1 = i0 at the last input.
struct Tap {
  int i0, i1;
  float l0, l1;
};

Tap bilinear_tap(int o, float step, int size) {
  float src = step * (float(o) + 0.5f) - 0.5f;
  if (src < 0) src = 0;
  Tap t;
  t.i0 = int(src);
  t.i1 = t.i0 < size - 1 ? t.i0 + 1 : t.i0;
  t.l1 = src - float(t.i0);
  t.l0 = 1.f - t.l1;
  return t;
}

float step_of(int scale) { return float(1.0 / scale); }

// Nearest: output index o reads input floor(o * (1/S as a float)), at most
// the last, as PyTorch's nearest_idx computes it (o / 2 for S = 2).
int nearest_index(int o, int scale, float step, int size) {
  if (scale == 1) return o;
  if (scale == 2) return o >> 1;
  const int i = int(std::floor(float(o) * step));
  return i < size - 1 ? i : size - 1;
}

void nearest_forward(const UpsampleShape& g, const float* in, float* out) {
  const int s = g.scale, ho = g.ho(), wo = g.wo();
  const float step = step_of(s);
  for (int oh = 0; oh < ho; ++oh) {
    const int ih = nearest_index(oh, s, step, g.h);
    float* __restrict o = out + long(oh) * wo;
    if (oh > 0 && ih == nearest_index(oh - 1, s, step, g.h)) {  // the row above again
      std::memcpy(o, o - wo, sizeof(float) * wo);
      continue;
    }
    const float* __restrict row = in + ih * g.w;
    if (s == 2)
      for (int iw = 0; iw < g.w; ++iw) o[2 * iw] = o[2 * iw + 1] = row[iw];
    else
      for (int ow = 0; ow < wo; ++ow) o[ow] = row[nearest_index(ow, s, step, g.w)];
  }
}

// Each output's gradient added to the input it copied, output by output in
// order, as PyTorch's backward does.
void nearest_backward(const UpsampleShape& g, const float* dy, float* dx) {
  const int s = g.scale, ho = g.ho(), wo = g.wo();
  const float step = step_of(s);
  std::memset(dx, 0, sizeof(float) * g.h * g.w);
  for (int oh = 0; oh < ho; ++oh) {
    float* __restrict d = dx + nearest_index(oh, s, step, g.h) * g.w;
    const float* __restrict row = dy + long(oh) * wo;
    if (s == 2)
      for (int iw = 0; iw < g.w; ++iw) d[iw] = (d[iw] + row[2 * iw]) + row[2 * iw + 1];
    else
      for (int ow = 0; ow < wo; ++ow) d[nearest_index(ow, s, step, g.w)] += row[ow];
  }
}

void bilinear_forward(const UpsampleShape& g, const float* in, float* out) {
  const int ho = g.ho(), wo = g.wo();
  const float step = step_of(g.scale);
  for (int oh = 0; oh < ho; ++oh) {
    const Tap th = bilinear_tap(oh, step, g.h);
    const float* r0 = in + th.i0 * g.w;
    const float* r1 = in + th.i1 * g.w;
    float* __restrict o = out + long(oh) * wo;
    for (int ow = 0; ow < wo; ++ow) {
      const Tap tw = bilinear_tap(ow, step, g.w);
      o[ow] = th.l0 * (tw.l0 * r0[tw.i0] + tw.l1 * r0[tw.i1]) + th.l1 * (tw.l0 * r1[tw.i0] + tw.l1 * r1[tw.i1]);
    }
  }
}

// Each output's gradient added to its four inputs with their weights, output
// by output in order, as PyTorch's backward does.
void bilinear_backward(const UpsampleShape& g, const float* dy, float* dx) {
  const int ho = g.ho(), wo = g.wo();
  const float step = step_of(g.scale);
  std::memset(dx, 0, sizeof(float) * g.h * g.w);
  for (int oh = 0; oh < ho; ++oh) {
    const Tap th = bilinear_tap(oh, step, g.h);
    float* r0 = dx + th.i0 * g.w;
    float* r1 = dx + th.i1 * g.w;
    const float* d = dy + long(oh) * wo;
    for (int ow = 0; ow < wo; ++ow) {
      const Tap tw = bilinear_tap(ow, step, g.w);
      r0[tw.i0] += th.l0 * tw.l0 * d[ow];
      r0[tw.i1] += th.l0 * tw.l1 * d[ow];
      r1[tw.i0] += th.l1 * tw.l0 * d[ow];
      r1[tw.i1] += th.l1 * tw.l1 * d[ow];
    }
  }
}

}  // namespace

void upsample_forward(int threads, const UpsampleShape& g, const float* x, int n, float* y) {
  const long in_plane = long(g.h) * g.w, out_plane = long(g.ho()) * g.wo();
  parallel_for(threads, long(n) * g.c, [&](long plane) {
    if (g.bilinear)
      bilinear_forward(g, x + plane * in_plane, y + plane * out_plane);
    else
      nearest_forward(g, x + plane * in_plane, y + plane * out_plane);
  });
}

void upsample_backward(int threads, const UpsampleShape& g, const float* dy, int n, float* dx) {
  const long in_plane = long(g.h) * g.w, out_plane = long(g.ho()) * g.wo();
  parallel_for(threads, long(n) * g.c, [&](long plane) {
    if (g.bilinear)
      bilinear_backward(g, dy + plane * out_plane, dx + plane * in_plane);
    else
      nearest_backward(g, dy + plane * out_plane, dx + plane * in_plane);
  });
}

}  // namespace mnistlab::cpu
