#pragma once
// The Conv2d / ConvTranspose2d layer shapes of the presets in models/, at the
// batch sizes of bench/README's rows: one table for every convolution
// bake-off (onednn_conv.cpp, conv_bakeoff.cpp), so they time the same shapes
// under the same names. Standard C++ only: onednn_conv links no mnistlab code.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace conv_bench {

struct Shape {
  std::string net;  // preset name
  int layer = 0;    // 1-based index among the preset's conv/convt layers
  bool deconv = false;
  int n = 0, ic = 0, oc = 0, ih = 0, iw = 0, k = 0, s = 0, p = 0, op = 0;
  bool train = false;
  int oh = 0, ow = 0, pr = 0;  // output size, oneDNN's right/bottom padding
  std::string name;

  double macs() const {
    return deconv ? double(n) * ic * ih * iw * oc * k * k : double(n) * oc * oh * ow * ic * k * k;
  }
};

inline Shape make_shape(const std::string& net, int layer, bool deconv, int n, int ic, int oc, int hw, int k, int s,
                        int p, int op, bool train) {
  Shape sh;
  sh.net = net;
  sh.layer = layer;
  sh.deconv = deconv;
  sh.n = n, sh.ic = ic, sh.oc = oc, sh.ih = sh.iw = hw, sh.k = k, sh.s = s, sh.p = p, sh.op = op;
  sh.train = train;
  if (deconv) {
    // ConvTranspose2d: out = (in - 1) * s - 2p + k + op. oneDNN expresses
    // output_padding as a smaller right padding: pr = p - op.
    sh.oh = (hw - 1) * s - 2 * p + k + op;
    sh.pr = (hw - 1) * s + k - sh.oh - p;
  } else {
    // Conv2d: out = floor((in + 2p - k) / s) + 1; oneDNN wants the right
    // padding that makes the division exact (taps never read are dropped).
    sh.oh = (hw + 2 * p - k) / s + 1;
    sh.pr = (sh.oh - 1) * s + k - hw - p;
  }
  sh.ow = sh.oh;
  char buf[200];
  if (deconv)
    std::snprintf(buf, sizeof buf, "%s.L%d convt %d->%d %dx%d k%d s%d p%d op%d n%d", net.c_str(), layer, ic, oc, hw,
                  hw, k, s, p, op, n);
  else
    std::snprintf(buf, sizeof buf, "%s.L%d conv %d->%d %dx%d k%d s%d p%d n%d", net.c_str(), layer, ic, oc, hw, hw, k,
                  s, p, n);
  sh.name = buf;
  return sh;
}

// The conv/convt layers of models/*.model (input 1x28x28), with the input
// size each one sees. Keep in step with the model files.
struct LayerSpec {
  bool deconv;
  int ic, oc, hw, k, s, p, op;
};
struct NetSpec {
  const char* net;
  std::vector<LayerSpec> layers;
  std::vector<std::pair<int, bool>> batches;  // (batch, training?)
};

inline std::vector<NetSpec> presets() {
  return {
      {"baseline",
       {{false, 1, 32, 28, 3, 1, 1, 0}, {false, 32, 32, 28, 3, 1, 1, 0}, {false, 32, 32, 28, 3, 1, 1, 0}},
       {{64, true}, {1000, false}}},
      {"vgg-bn",
       {{false, 1, 32, 28, 3, 1, 1, 0},
        {false, 32, 32, 28, 3, 2, 1, 0},
        {false, 32, 32, 14, 3, 1, 1, 0},
        {false, 32, 64, 14, 3, 2, 1, 0},
        {false, 64, 64, 7, 3, 1, 1, 0},
        {false, 64, 64, 7, 3, 1, 1, 0},
        {false, 64, 128, 7, 3, 2, 1, 0},
        {false, 128, 128, 4, 3, 1, 1, 0},
        {false, 128, 128, 4, 3, 1, 1, 0},
        {false, 128, 256, 4, 3, 2, 1, 0},
        {false, 256, 512, 2, 3, 1, 1, 0},
        {false, 512, 512, 2, 3, 1, 1, 0},
        {false, 512, 512, 2, 3, 1, 1, 0},
        {false, 512, 1024, 2, 3, 2, 1, 0},
        {false, 1024, 1024, 1, 3, 1, 1, 0},
        {false, 1024, 1024, 1, 3, 1, 1, 0}},
       {{64, true}, {1000, false}}},
      {"best-fashion",  // three VGG stages, maxpool k=2 after each: 28 -> 14 -> 7
       {{false, 1, 48, 28, 3, 1, 1, 0},
        {false, 48, 48, 28, 3, 1, 1, 0},
        {false, 48, 96, 14, 3, 1, 1, 0},
        {false, 96, 96, 14, 3, 1, 1, 0},
        {false, 96, 192, 7, 3, 1, 1, 0},
        {false, 192, 192, 7, 3, 1, 1, 0}},
       {{128, true}}},
      {"fast",  // conv + batchnorm + relu + maxpool k=2: 28 -> 14 -> 7
       {{false, 1, 16, 28, 3, 1, 1, 0}, {false, 16, 32, 14, 3, 1, 1, 0}, {false, 32, 64, 7, 3, 1, 1, 0}},
       {{32, true}}},
      {"dae",
       {{false, 1, 16, 28, 3, 2, 1, 0},
        {false, 16, 16, 14, 3, 2, 1, 0},
        {true, 16, 16, 7, 3, 2, 1, 1},
        {true, 16, 1, 14, 3, 2, 1, 1}},
       {{300, true}}},
      {"dae-unet",  // L4 sees concat(16 + down14's 16), L5 concat(16 + image)
       {{false, 1, 16, 28, 3, 2, 1, 0},
        {false, 16, 16, 14, 3, 2, 1, 0},
        {true, 16, 16, 7, 3, 2, 1, 1},
        {true, 32, 16, 14, 3, 2, 1, 1},
        {false, 17, 1, 28, 3, 1, 1, 0}},
       {{300, true}}},
  };
}

inline std::vector<Shape> all_shapes() {
  std::vector<Shape> out;
  for (const NetSpec& net : presets())
    for (auto [n, train] : net.batches)
      for (size_t i = 0; i < net.layers.size(); ++i) {
        const LayerSpec& l = net.layers[i];
        out.push_back(make_shape(net.net, int(i) + 1, l.deconv, n, l.ic, l.oc, l.hw, l.k, l.s, l.p, l.op, train));
      }
  return out;
}

// Naive double-precision convolution (or transposed convolution) on plain
// tensors: x nchw [n][ic][ih][iw], y nchw [n][oc][oh][ow], w oihw (conv) or
// iohw (deconv). Calls tap(xi, yi, wi) for every multiply-add of the layer.
template <class F>
void for_each_tap(const Shape& s, F&& tap) {
  for (int n = 0; n < s.n; ++n)
    for (int o = 0; o < s.oc; ++o)
      for (int i = 0; i < s.ic; ++i)
        for (int kh = 0; kh < s.k; ++kh)
          for (int kw = 0; kw < s.k; ++kw) {
            const size_t wi = s.deconv ? ((size_t(i) * s.oc + o) * s.k + kh) * s.k + kw
                                       : ((size_t(o) * s.ic + i) * s.k + kh) * s.k + kw;
            if (!s.deconv) {
              for (int oh = 0; oh < s.oh; ++oh) {
                const int ih = oh * s.s - s.p + kh;
                if (ih < 0 || ih >= s.ih) continue;
                for (int ow = 0; ow < s.ow; ++ow) {
                  const int iw = ow * s.s - s.p + kw;
                  if (iw < 0 || iw >= s.iw) continue;
                  tap(((size_t(n) * s.ic + i) * s.ih + ih) * s.iw + iw, ((size_t(n) * s.oc + o) * s.oh + oh) * s.ow + ow,
                      wi);
                }
              }
            } else {
              for (int ih = 0; ih < s.ih; ++ih) {
                const int oh = ih * s.s - s.p + kh;
                if (oh < 0 || oh >= s.oh) continue;
                for (int iw = 0; iw < s.iw; ++iw) {
                  const int ow = iw * s.s - s.p + kw;
                  if (ow < 0 || ow >= s.ow) continue;
                  tap(((size_t(n) * s.ic + i) * s.ih + ih) * s.iw + iw, ((size_t(n) * s.oc + o) * s.oh + oh) * s.ow + ow,
                      wi);
                }
              }
            }
          }
}

}  // namespace conv_bench
