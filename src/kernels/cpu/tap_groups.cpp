#include "kernels/cpu/tap_groups.h"
#include "kernels/cpu/parallel.h"

#include <map>

namespace mnistlab::cpu {

std::vector<TapGroup> tap_groups(const ConvGeometry& g) {
  // A tap sees the image for output (oh, ow) when its row sees it for oh and
  // its column for ow, so a pixel's tap set is fixed by its row's and its
  // column's sets: the groups are products of row and column classes.
  auto valid = [&](int o, int k, int size) {
    std::vector<bool> v(k);
    for (int j = 0; j < k; ++j) {
      const int at = o * g.stride - g.pad + j;
      v[j] = at >= 0 && at < size;
    }
    return v;
  };
  std::map<std::pair<std::vector<bool>, std::vector<bool>>, size_t> index;
  std::vector<TapGroup> groups;
  for (int oh = 0; oh < g.ho(); ++oh)
    for (int ow = 0; ow < g.wo(); ++ow) {
      auto key = std::make_pair(valid(oh, g.kh, g.h), valid(ow, g.kw, g.w));
      auto [it, fresh] = index.emplace(key, groups.size());
      if (fresh) {
        TapGroup group;
        for (int ki = 0; ki < g.kh; ++ki)
          for (int kj = 0; kj < g.kw; ++kj)
            if (key.first[ki] && key.second[kj]) group.taps.push_back(ki * g.kw + kj);
        groups.push_back(std::move(group));
      }
      groups[it->second].pixels.push_back(oh * g.wo() + ow);
    }
  for (TapGroup& group : groups) {
    const int P = group.size();
    group.offsets.resize(group.taps.size() * P);
    for (size_t t = 0; t < group.taps.size(); ++t)
      for (int p = 0; p < P; ++p) {
        const int oh = group.pixels[p] / g.wo(), ow = group.pixels[p] % g.wo();
        const int ki = group.taps[t] / g.kw, kj = group.taps[t] % g.kw;
        group.offsets[t * P + p] = (oh * g.stride - g.pad + ki) * g.w + (ow * g.stride - g.pad + kj);
      }
  }
  return groups;
}

void gather_rows(int threads, const ConvGeometry& g, const TapGroup& group, const float* x, int n, float* rows) {
  const int T = int(group.taps.size()), P = group.size(), plane = g.h * g.w, k = g.c * T;
  parallel_for(threads, n, [&](int i) {
    const float* image = x + long(i) * g.c * plane;
    for (int p = 0; p < P; ++p) {
      float* row = rows + (long(i) * P + p) * k;
      for (int t = 0; t < T; ++t) {
        const float* in = image + group.offsets[size_t(t) * P + p];
        for (int c = 0; c < g.c; ++c) row[c * T + t] = in[long(c) * plane];
      }
    }
  });
}

void scatter_rows_add(int threads, const ConvGeometry& g, const TapGroup& group, const float* rows, int n,
                      float* dx) {
  const int T = int(group.taps.size()), P = group.size(), plane = g.h * g.w, k = g.c * T;
  parallel_for(threads, n, [&](int i) {
    float* image = dx + long(i) * g.c * plane;
    for (int p = 0; p < P; ++p) {
      const float* row = rows + (long(i) * P + p) * k;
      for (int t = 0; t < T; ++t) {
        float* out = image + group.offsets[size_t(t) * P + p];
        for (int c = 0; c < g.c; ++c) out[long(c) * plane] += row[c * T + t];
      }
    }
  });
}

void gather_pixels(int threads, const TapGroup& group, const float* nchw, int n, int channels, int plane, float* m) {
  const int P = group.size();
  parallel_for(threads, n, [&](int i) {
    for (int p = 0; p < P; ++p) {
      const float* in = nchw + long(i) * channels * plane + group.pixels[p];
      float* out = m + (long(i) * P + p) * channels;
      for (int ch = 0; ch < channels; ++ch) out[ch] = in[long(ch) * plane];
    }
  });
}

void scatter_pixels(int threads, const TapGroup& group, const float* m, int n, int channels, int plane,
                    const float* bias, float* nchw) {
  const int P = group.size();
  parallel_for(threads, n, [&](int i) {
    for (int p = 0; p < P; ++p) {
      const float* in = m + (long(i) * P + p) * channels;
      float* out = nchw + long(i) * channels * plane + group.pixels[p];
      for (int ch = 0; ch < channels; ++ch) out[long(ch) * plane] = in[ch] + (bias ? bias[ch] : 0.f);
    }
  });
}

void pack_group_weight(int threads, const ConvGeometry& g, const TapGroup& group, const float* weight, int rows,
                       float* packed) {
  const int T = int(group.taps.size()), kk = g.kh * g.kw;
  parallel_for(threads, long(rows) * g.c, [&](long r) {
    for (int t = 0; t < T; ++t) packed[r * T + t] = weight[r * kk + group.taps[t]];
  });
}

void unpack_group_weight_add(int threads, const ConvGeometry& g, const TapGroup& group, const float* packed, int rows,
                             float* weight) {
  const int T = int(group.taps.size()), kk = g.kh * g.kw;
  parallel_for(threads, long(rows) * g.c, [&](long r) {
    for (int t = 0; t < T; ++t) weight[r * kk + group.taps[t]] += packed[r * T + t];
  });
}

}  // namespace mnistlab::cpu
