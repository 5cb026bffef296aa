// Every route a convolution can take, on every instruction set this CPU
// runs, against the definition summed in double: one table of layer shapes
// drives all of them (as ggml's test-backend-ops does), so a route added
// behind the seam is tested on every shape without a new test. The AVX2 and
// scalar kernels are forced through BackendOptions::max_isa, so an AVX-512
// machine tests them too; ctest runs this file again with oneDNN capped at
// AVX2 and SSE4.1 (tests/CMakeLists.txt) for its GEMM.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bf16_reference.h"
#include "kernels/backend.h"
#include "kernels/cpu/bf16.h"
#include "kernels/cpu/isa.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

struct ConvCase {
  const char* name;
  ConvShape s;  // a Conv2d, or the Conv2d a ConvTranspose2d transposes
  bool transposed;
};

// {cin, h, w, cout, k, stride, pad}
const ConvCase kCases[] = {
    {"3x3 s1 p1, Winograd's shape", {9, 9, 8, 10, 3, 1, 1}, false},
    {"3x3 s1 p1, few channels", {2, 7, 7, 3, 3, 1, 1}, false},
    {"3x3 s1 p1 on 2x2 (every output sees 4 taps)", {5, 2, 2, 7, 3, 1, 1}, false},
    {"3x3 s1 p1 on 1x1 (centre tap only)", {6, 1, 1, 4, 3, 1, 1}, false},
    {"3x3 s1 p1 on 4x4", {8, 4, 4, 8, 3, 1, 1}, false},
    {"3x3 s2 p1, odd map", {4, 7, 7, 5, 3, 2, 1}, false},
    {"3x3 s2 p1 on 2x2", {3, 2, 2, 4, 3, 2, 1}, false},
    {"5x5 s1 p0", {3, 9, 8, 2, 5, 1, 0}, false},
    {"2x2 s1 p2, padding beyond the kernel", {2, 4, 4, 3, 2, 1, 2}, false},
    {"3x3 s3 p0, edge unused", {2, 8, 8, 2, 3, 3, 0}, false},
    {"1x1 s2 p1 on 1x1: no tap sees the image (the output is the bias)", {1, 1, 1, 2, 1, 2, 1}, false},
    {"1x1", {7, 5, 5, 3, 1, 1, 0}, false},
    {"ConvTranspose2d 3x3 s2 p1 op1 (dae)", {4, 14, 14, 6, 3, 2, 1}, true},
    {"ConvTranspose2d 3x3 s2 p1, 1 output channel", {1, 8, 8, 5, 3, 2, 1}, true},
    {"ConvTranspose2d 3x3 s1 p1", {3, 6, 6, 4, 3, 1, 1}, true},
};

struct Route {
  std::string name;
  BackendOptions options;
};

std::vector<Route> routes() {
  std::vector<Route> all;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!cpu::runs(isa)) continue;
    for (int threads : {1, 2}) {
      const std::string tag = std::string(isa_name(isa)) + ", " + std::to_string(threads) + " threads";
      BackendOptions o;
      o.max_isa = isa;
      o.threads = threads;
      o.per_image_min_pixels = 1;
      o.conv = ConvAlgorithm::Winograd;
      all.push_back({"per image, Winograd where it applies, " + tag, o});
      o.conv = ConvAlgorithm::Im2col;
      all.push_back({"per image, im2col, " + tag, o});
      o.image_column_floats = 60;  // backward (and ConvTranspose2d) in bands of a row or two
      all.push_back({"per image, im2col, backward in bands, " + tag, o});
      o.image_column_floats = BackendOptions{}.image_column_floats;
      o.conv = ConvAlgorithm::Auto;
      o.per_image_min_pixels = 1 << 30;
      all.push_back({"batched, " + tag, o});
      o.conv_workspace_floats = 700;  // an image or two per chunk
      all.push_back({"batched in chunks, " + tag, o});
    }
  }
  return all;
}

// x[n][cin][h][w] (*) weight[cout][cin][k][k]: visit(n, co, oh, ow, ci, ih, iw, ki, kj) for every product.
template <typename F>
void each_product(const ConvShape& s, int n, F visit) {
  for (int i = 0; i < n; ++i)
    for (int co = 0; co < s.cout; ++co)
      for (int oh = 0; oh < s.ho(); ++oh)
        for (int ow = 0; ow < s.wo(); ++ow)
          for (int ci = 0; ci < s.cin; ++ci)
            for (int ki = 0; ki < s.k; ++ki)
              for (int kj = 0; kj < s.k; ++kj) {
                const int ih = oh * s.stride - s.pad + ki, iw = ow * s.stride - s.pad + kj;
                if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) visit(i, co, oh, ow, ci, ih, iw, ki, kj);
              }
}

struct Reference {
  std::vector<double> y, dx, dw, db;
};

// The Conv2d of shape s, its input a = [n, cin, h, w] and output b = [n,
// cout, ho, wo]. A ConvTranspose2d maps b to a with the same weight, so its
// forward is this conv's input gradient and its gradients follow the same sums.
Reference reference(const ConvCase& c, int n, const std::vector<float>& in, const std::vector<float>& w,
                    const std::vector<float>& bias, const std::vector<float>& dy) {
  const ConvShape& s = c.s;
  const size_t a_len = size_t(s.cin) * s.h * s.w, b_len = size_t(s.cout) * s.ho() * s.wo();
  auto a_at = [&](int i, int ci, int ih, int iw) { return i * a_len + (size_t(ci) * s.h + ih) * s.w + iw; };
  auto b_at = [&](int i, int co, int oh, int ow) { return i * b_len + (size_t(co) * s.ho() + oh) * s.wo() + ow; };
  auto w_at = [&](int co, int ci, int ki, int kj) { return ((size_t(co) * s.cin + ci) * s.k + ki) * s.k + kj; };
  Reference r;
  r.dw.assign(w.size(), 0.0);
  const int out_channels = c.transposed ? s.cin : s.cout;
  r.db.assign(out_channels, 0.0);
  if (!c.transposed) {
    r.y.assign(n * b_len, 0.0);
    r.dx.assign(n * a_len, 0.0);
    for (int i = 0; i < n; ++i)
      for (int co = 0; co < s.cout; ++co)
        for (int p = 0; p < s.ho() * s.wo(); ++p) {
          r.y[i * b_len + size_t(co) * s.ho() * s.wo() + p] = bias[co];
          r.db[co] += dy[i * b_len + size_t(co) * s.ho() * s.wo() + p];
        }
    each_product(s, n, [&](int i, int co, int oh, int ow, int ci, int ih, int iw, int ki, int kj) {
      r.y[b_at(i, co, oh, ow)] += double(in[a_at(i, ci, ih, iw)]) * w[w_at(co, ci, ki, kj)];
      r.dx[a_at(i, ci, ih, iw)] += double(dy[b_at(i, co, oh, ow)]) * w[w_at(co, ci, ki, kj)];
      r.dw[w_at(co, ci, ki, kj)] += double(dy[b_at(i, co, oh, ow)]) * in[a_at(i, ci, ih, iw)];
    });
  } else {
    r.y.assign(n * a_len, 0.0);
    r.dx.assign(n * b_len, 0.0);
    for (int i = 0; i < n; ++i)
      for (int ci = 0; ci < s.cin; ++ci)
        for (int p = 0; p < s.h * s.w; ++p) {
          r.y[i * a_len + size_t(ci) * s.h * s.w + p] = bias[ci];
          r.db[ci] += dy[i * a_len + size_t(ci) * s.h * s.w + p];
        }
    each_product(s, n, [&](int i, int co, int oh, int ow, int ci, int ih, int iw, int ki, int kj) {
      r.y[a_at(i, ci, ih, iw)] += double(in[b_at(i, co, oh, ow)]) * w[w_at(co, ci, ki, kj)];
      r.dx[b_at(i, co, oh, ow)] += double(dy[a_at(i, ci, ih, iw)]) * w[w_at(co, ci, ki, kj)];
      r.dw[w_at(co, ci, ki, kj)] += double(in[b_at(i, co, oh, ow)]) * dy[a_at(i, ci, ih, iw)];
    });
  }
  return r;
}

// Worst |got - want| / (1e-5 + |want|), with the index where it occurs.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t j = 0; j < want.size(); ++j)
    ASSERT_NEAR(got[j], want[j], tolerance * (scale + 1e-3)) << what << " [" << j << "] of " << want.size();
}

std::vector<float> random_values(size_t n, Rng& rng, float bound) {
  std::vector<float> v(n);
  for (float& f : v) f = rng.uniform(-bound, bound);
  return v;
}

TEST(KernelRoutes, EveryConvolutionRouteMatchesTheDefinition) {
  const int n = 3;
  int checked = 0;
  for (const ConvCase& c : kCases) {
    const ConvShape& s = c.s;
    const size_t a_len = size_t(s.cin) * s.h * s.w, b_len = size_t(s.cout) * s.ho() * s.wo();
    const size_t in_len = c.transposed ? b_len : a_len, out_len = c.transposed ? a_len : b_len;
    const int out_channels = c.transposed ? s.cin : s.cout;
    Rng rng(11);
    const std::vector<float> x = random_values(n * in_len, rng, 1.f);
    const std::vector<float> w = random_values(size_t(s.cout) * s.cin * s.k * s.k, rng, 0.5f);
    const std::vector<float> bias = random_values(out_channels, rng, 0.5f);
    const std::vector<float> dy = random_values(n * out_len, rng, 1.f);
    const Reference want = reference(c, n, x, w, bias, dy);
    for (const Route& route : routes()) {
      SCOPED_TRACE(std::string(c.name) + " | " + route.name);
      auto backend = make_backend(route.options);
      auto kernel = c.transposed ? backend->conv_transpose2d(s, n, true) : backend->conv2d(s, n, true);
      SCOPED_TRACE(kernel->route());
      std::vector<float> saved(kernel->saved_floats()), work(kernel->workspace_floats(), std::nanf(""));
      std::vector<float> y(n * out_len, std::nanf("")), dx(n * in_len, std::nanf(""));
      std::vector<float> dw(w.size(), std::nanf("")), db(out_channels, std::nanf(""));
      kernel->forward(x.data(), n, w.data(), bias.data(), {}, false, y.data(), {saved.data(), work.data()});
      expect_close(y, want.y, 1e-5, "output");
      kernel->backward(x.data(), dy.data(), n, w.data(), dw.data(), db.data(), dx.data(), {saved.data(), work.data()});
      expect_close(dx, want.dx, 1e-5, "input gradient");
      expect_close(dw, want.dw, 1e-5, "weight gradient");
      expect_close(db, want.db, 1e-5, "bias gradient");
      ++checked;
    }
  }
  EXPECT_EQ(checked, int(std::size(kCases) * routes().size()));
}

// The eval epilogue (a BatchNorm2d and ReLU folded into the convolution):
// max(0, (conv + bias) * scale + shift), per output channel, on every route.
TEST(KernelRoutes, EpilogueScalesShiftsAndClamps) {
  const int n = 2;
  for (const ConvCase& c : kCases) {
    const ConvShape& s = c.s;
    const size_t a_len = size_t(s.cin) * s.h * s.w, b_len = size_t(s.cout) * s.ho() * s.wo();
    const size_t in_len = c.transposed ? b_len : a_len, out_len = c.transposed ? a_len : b_len;
    const int out_channels = c.transposed ? s.cin : s.cout;
    const size_t plane = out_len / out_channels;
    Rng rng(5);
    const std::vector<float> x = random_values(n * in_len, rng, 1.f);
    const std::vector<float> w = random_values(size_t(s.cout) * s.cin * s.k * s.k, rng, 0.5f);
    const std::vector<float> bias = random_values(out_channels, rng, 0.5f);
    const std::vector<float> scale = random_values(out_channels, rng, 2.f);
    const std::vector<float> shift = random_values(out_channels, rng, 0.5f);
    const Reference plain = reference(c, n, x, w, bias, std::vector<float>(n * out_len, 0.f));
    std::vector<double> want(plain.y.size());
    for (size_t j = 0; j < want.size(); ++j) {
      const size_t ch = j / plane % out_channels;
      want[j] = std::max(0.0, plain.y[j] * scale[ch] + shift[ch]);
    }
    for (const Route& route : routes()) {
      SCOPED_TRACE(std::string(c.name) + " | " + route.name);
      auto backend = make_backend(route.options);
      auto kernel = c.transposed ? backend->conv_transpose2d(s, n, false) : backend->conv2d(s, n, false);
      std::vector<float> saved(kernel->saved_floats()), work(kernel->workspace_floats());
      std::vector<float> y(n * out_len, std::nanf(""));
      kernel->forward(x.data(), n, w.data(), bias.data(), {scale.data(), shift.data()}, true, y.data(),
                      {saved.data(), work.data()});
      expect_close(y, want, 1e-5, "output with epilogue");
    }
  }
}

// At Precision::Bf16 a folded BatchNorm's scale multiplies the weight
// before it is rounded to bfloat16 (conv_fold.h): y = max(0, conv(bf16(x),
// bf16(w * scale)) + bias * scale + shift). Both bf16 Conv2d routes: oneDNN's
// (the planned batch) and the own fallback (a smaller batch). Tolerance:
// float32 sums of exact bfloat16 products, 1e-4 of the largest output.
TEST(KernelRoutes, Bf16EpilogueScalesTheWeightBeforeRounding) {
  const std::string why = cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt);
  if (!why.empty()) GTEST_SKIP() << why;
  const int n = 2;
  for (const ConvCase& c : kCases) {
    if (c.transposed) continue;
    const ConvShape& s = c.s;
    const size_t out_len = size_t(s.cout) * s.ho() * s.wo(), plane = size_t(s.ho()) * s.wo();
    const size_t per_row = size_t(s.cin) * s.k * s.k;
    Rng rng(6);
    const std::vector<float> x = random_values(n * size_t(s.cin) * s.h * s.w, rng, 1.f);
    const std::vector<float> w = random_values(s.cout * per_row, rng, 0.5f);
    const std::vector<float> bias = random_values(s.cout, rng, 0.5f);
    const std::vector<float> scale = random_values(s.cout, rng, 2.f);
    const std::vector<float> shift = random_values(s.cout, rng, 0.5f);
    std::vector<float> xr(x.size()), wr(w.size()), zero_bias(s.cout, 0.f);
    for (size_t i = 0; i < x.size(); ++i) xr[i] = bf16_test::nearest_bf16(x[i]);
    for (size_t i = 0; i < w.size(); ++i) wr[i] = bf16_test::nearest_bf16(w[i] * scale[i / per_row]);
    const Reference products = reference(c, n, xr, wr, zero_bias, std::vector<float>(n * out_len, 0.f));
    std::vector<double> want(products.y.size());
    for (size_t j = 0; j < want.size(); ++j) {
      const size_t ch = j / plane % s.cout;
      want[j] = std::max(0.0, products.y[j] + double(bias[ch]) * scale[ch] + shift[ch]);
    }
    for (int planned : {n, n + 3}) {
      BackendOptions o;
      o.precision = Precision::Bf16;
      auto backend = make_backend(o);
      auto kernel = backend->conv2d(s, planned, false);
      SCOPED_TRACE(std::string(c.name) + " | " + kernel->route());
      std::vector<float> saved(kernel->saved_floats()), work(kernel->workspace_floats());
      std::vector<float> y(n * out_len, std::nanf(""));
      kernel->forward(x.data(), n, w.data(), bias.data(), {scale.data(), shift.data()}, true, y.data(),
                      {saved.data(), work.data()});
      expect_close(y, want, 1e-4, "bf16 output with epilogue");
    }
  }
}

TEST(KernelRoutes, BadOptionsAreErrors) {
  BackendOptions o;
  o.threads = -1;
  EXPECT_ANY_THROW(make_backend(o));
  if (!cpu::runs(Isa::Avx512)) {
    o.threads = 0;
    o.max_isa = Isa::Avx512;
    EXPECT_ANY_THROW(make_backend(o));
  }
}

}  // namespace
