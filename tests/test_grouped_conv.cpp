// Grouped and depthwise Conv2d (ConvShape::groups, kernels/cpu/grouped_conv.h)
// on every instruction set this CPU runs and on 1 and 2 threads, against
// two references: the definition, written here as the seven plain loops of
// a grouped convolution summed in double, and PyTorch's nn.Conv2d(groups=G)
// (tests/reference/make_grouped_conv.py, forward and every gradient, and an
// eval-mode BatchNorm2d + ReLU folded in as the kernels' epilogue).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "mnistlab/rng.h"
#include "reference_file.h"

using namespace mnistlab;

namespace {

struct Case {
  const char* name;
  int n;
  ConvShape s;
};

ConvShape shape(int cin, int h, int w, int cout, int k, int stride, int pad, int groups) {
  ConvShape s{cin, h, w, cout, k, stride, pad};
  s.groups = groups;
  return s;
}

// The cases of make_grouped_conv.py, in its order (the test checks the
// file's tensors have these shapes): odd widths, strides 1 and 2, padding 0
// and 1, multiplier 2, batch 1 and 3; two large enough for 2 threads; k = 5,
// 2 and 1 (the any-k route); grouped but not depthwise.
const Case kCases[] = {
    {"dw3_s1_p1", 3, shape(5, 13, 11, 5, 3, 1, 1, 5)},
    {"dw3_s1_p0_n1", 1, shape(3, 9, 19, 3, 3, 1, 0, 3)},
    {"dw3_s2_p1_mult2", 3, shape(4, 15, 17, 8, 3, 2, 1, 4)},
    {"dw3_s2_p0_mult2_n1", 1, shape(3, 12, 21, 6, 3, 2, 0, 3)},
    {"dw3_s1_p1_wide", 3, shape(6, 7, 37, 6, 3, 1, 1, 6)},
    {"dw3_s2_p1_wide", 3, shape(2, 9, 67, 2, 3, 2, 1, 2)},
    {"dw3_s1_p1_mult2_2threads", 3, shape(24, 31, 29, 48, 3, 1, 1, 24)},
    {"dw3_s2_p1_mult2_2threads", 3, shape(64, 33, 35, 128, 3, 2, 1, 64)},
    {"dw5_s1_p2", 2, shape(4, 10, 13, 4, 5, 1, 2, 4)},
    {"dw5_s2_p1_mult2", 3, shape(3, 11, 14, 6, 5, 2, 1, 3)},
    {"dw2_s2_p1_mult2", 2, shape(3, 8, 9, 6, 2, 2, 1, 3)},
    {"dw1_s1_p0", 3, shape(4, 5, 7, 4, 1, 1, 0, 4)},
    {"g3_s1_p1", 3, shape(6, 10, 11, 9, 3, 1, 1, 3)},
    {"g2_s2_p0", 2, shape(8, 9, 13, 4, 3, 2, 0, 2)},
    {"g2_k1", 3, shape(6, 5, 7, 6, 1, 1, 0, 2)},
    {"g2_s1_p1_mult", 1, shape(4, 28, 27, 8, 3, 1, 1, 2)},
};

// Shapes only the definition checks: stride 3, padding beyond k/2, a
// multiplier of 3, maps narrower than the kernel's reach, and the edges of
// the multiplier-1 routes.
const Case kMoreCases[] = {
    {"dw3_s3_p1", 2, shape(3, 10, 11, 3, 3, 3, 1, 3)},
    {"dw3_s1_p2_mult3", 2, shape(2, 6, 5, 6, 3, 1, 2, 2)},
    {"dw3_s2_p1_on_2x2", 3, shape(5, 2, 2, 5, 3, 2, 1, 5)},
    {"dw3_s1_p1_on_1x17", 2, shape(3, 1, 17, 3, 3, 1, 1, 3)},
    {"dw4_s2_p0_w33", 2, shape(2, 9, 33, 4, 4, 2, 0, 2)},
    {"g4_s1_p1_on_3x3", 2, shape(8, 3, 3, 12, 3, 1, 1, 4)},
    // Multiplier 1, padding 1 (the flat planes at stride 1): vectors that
    // span rows (28, 14, 7, 5 wide), a plane of exactly one and of several
    // vectors, planes smaller than a vector, one row, one column.
    {"dw3_s1_p1_m1_28x28", 2, shape(3, 28, 28, 3, 3, 1, 1, 3)},
    {"dw3_s1_p1_m1_14x14", 3, shape(4, 14, 14, 4, 3, 1, 1, 4)},
    {"dw3_s1_p1_m1_7x7", 2, shape(3, 7, 7, 3, 3, 1, 1, 3)},
    {"dw3_s1_p1_m1_4x4", 2, shape(2, 4, 4, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_13x16", 2, shape(2, 13, 16, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_3x5", 2, shape(3, 3, 5, 3, 3, 1, 1, 3)},
    {"dw3_s1_p1_m1_2x2", 3, shape(2, 2, 2, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_1x1", 3, shape(2, 1, 1, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_1x19", 2, shape(2, 1, 19, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_19x1", 2, shape(2, 19, 1, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_9x67", 2, shape(2, 9, 67, 2, 3, 1, 1, 2)},
    {"dw3_s1_p1_m1_2threads", 4, shape(32, 30, 33, 32, 3, 1, 1, 32)},
    // The same at stride 2: outputs 14, 7, 4, 1 wide, odd and even sizes,
    // rows of more than 16 outputs.
    {"dw3_s2_p1_m1_28x28", 2, shape(3, 28, 28, 3, 3, 2, 1, 3)},
    {"dw3_s2_p1_m1_14x14", 3, shape(4, 14, 14, 4, 3, 2, 1, 4)},
    {"dw3_s2_p1_m1_7x7", 2, shape(3, 7, 7, 3, 3, 2, 1, 3)},
    {"dw3_s2_p1_m1_15x13", 2, shape(2, 15, 13, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_5x9", 2, shape(2, 5, 9, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_3x3", 2, shape(2, 3, 3, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_1x1", 3, shape(2, 1, 1, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_1x18", 2, shape(2, 1, 18, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_18x1", 2, shape(2, 18, 1, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_11x32", 2, shape(2, 11, 32, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_6x34", 2, shape(2, 6, 34, 2, 3, 2, 1, 2)},
    {"dw3_s2_p1_m1_2threads", 8, shape(64, 30, 30, 64, 3, 2, 1, 64)},
};

struct Route {
  std::string name;
  BackendOptions options;
  Isa isa;
};

// Every ISA this CPU runs, 1 and 2 threads; for the grouped route also the
// ordinary routes it delegates to (by image and batched, im2col and Winograd).
std::vector<Route> routes() {
  std::vector<Route> all;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!cpu::runs(isa)) continue;
    for (int threads : {1, 2}) {
      const std::string tag = std::string(isa_name(isa)) + ", " + std::to_string(threads) + " threads";
      BackendOptions o;
      o.max_isa = isa;
      o.threads = threads;
      all.push_back({"defaults, " + tag, o, isa});
      o.per_image_min_pixels = 1;
      o.conv = ConvAlgorithm::Winograd;
      all.push_back({"per image, Winograd where it applies, " + tag, o, isa});
      o.per_image_min_pixels = 1 << 30;
      o.conv = ConvAlgorithm::Auto;
      o.conv_workspace_floats = 700;
      all.push_back({"batched in chunks, " + tag, o, isa});
    }
  }
  return all;
}

size_t in_len(const ConvShape& s) { return size_t(s.cin) * s.h * s.w; }
size_t out_len(const ConvShape& s) { return size_t(s.cout) * s.ho() * s.wo(); }
size_t weight_len(const ConvShape& s) { return size_t(s.cout) * (s.cin / s.groups) * s.k * s.k; }

struct Result {
  std::vector<double> y, dx, dw, db;
};

// The definition: y[i][co][oh][ow] = bias[co] + sum over the input channels
// of co's group, ki, kj of x[i][ci][oh*s-p+ki][ow*s-p+kj] w[co][ci - group
// start][ki][kj], and the gradients of sum(y * dy) by the same sums.
Result definition(const ConvShape& s, int n, const std::vector<float>& x, const std::vector<float>& w,
                  const std::vector<float>& bias, const std::vector<float>& dy) {
  const int cin_g = s.cin / s.groups, cout_g = s.cout / s.groups, ho = s.ho(), wo = s.wo();
  Result r;
  r.y.assign(n * out_len(s), 0.0);
  r.dx.assign(n * in_len(s), 0.0);
  r.dw.assign(weight_len(s), 0.0);
  r.db.assign(s.cout, 0.0);
  for (int i = 0; i < n; ++i)
    for (int co = 0; co < s.cout; ++co)
      for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) {
          const size_t yo = ((size_t(i) * s.cout + co) * ho + oh) * wo + ow;
          double acc = bias[co];
          r.db[co] += dy[yo];
          for (int cg = 0; cg < cin_g; ++cg)
            for (int ki = 0; ki < s.k; ++ki)
              for (int kj = 0; kj < s.k; ++kj) {
                const int ci = co / cout_g * cin_g + cg;
                const int ih = oh * s.stride - s.pad + ki, iw = ow * s.stride - s.pad + kj;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                const size_t xo = ((size_t(i) * s.cin + ci) * s.h + ih) * s.w + iw;
                const size_t wi = ((size_t(co) * cin_g + cg) * s.k + ki) * s.k + kj;
                acc += double(x[xo]) * w[wi];
                r.dx[xo] += double(dy[yo]) * w[wi];
                r.dw[wi] += double(dy[yo]) * x[xo];
              }
          r.y[yo] = acc;
        }
  return r;
}

// |got - want| <= tolerance * (the largest |want| + 1e-3), element by element.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t j = 0; j < want.size(); ++j)
    ASSERT_NEAR(got[j], want[j], tolerance * (scale + 1e-3)) << what << " [" << j << "] of " << want.size();
}

std::vector<double> widened(const std::vector<float>& v) { return {v.begin(), v.end()}; }

std::vector<float> random_values(size_t n, Rng& rng, float bound) {
  std::vector<float> v(n);
  for (float& f : v) f = rng.uniform(-bound, bound);
  return v;
}

struct Outputs {
  std::string route;
  std::vector<float> y, y_epilogue, dx, dw, db;
};

// One route's forward (plain, then with an affine epilogue and ReLU) and
// backward; every buffer, the workspace included, starts as NaN so a value
// the kernel should have written and did not shows up.
Outputs run(const Route& route, const ConvShape& s, int n, const std::vector<float>& x, const std::vector<float>& w,
            const std::vector<float>& bias, const std::vector<float>& dy, const std::vector<float>& scale,
            const std::vector<float>& shift) {
  auto backend = make_backend(route.options);
  Outputs o;
  auto kernel = backend->conv2d(s, n, true);
  o.route = kernel->route();
  std::vector<float> saved(kernel->saved_floats(), std::nanf("")), work(kernel->workspace_floats(), std::nanf(""));
  o.y.assign(n * out_len(s), std::nanf(""));
  o.dx.assign(n * in_len(s), std::nanf(""));
  o.dw.assign(w.size(), std::nanf(""));
  o.db.assign(s.cout, std::nanf(""));
  kernel->forward(x.data(), n, w.data(), bias.data(), {}, false, o.y.data(), {saved.data(), work.data()});
  kernel->backward(x.data(), dy.data(), n, w.data(), o.dw.data(), o.db.data(), o.dx.data(),
                   {saved.data(), work.data()});
  // Inference: no gradients kept, the epilogue folded in.
  auto eval = backend->conv2d(s, n, false);
  std::vector<float> eval_saved(eval->saved_floats()), eval_work(eval->workspace_floats(), std::nanf(""));
  o.y_epilogue.assign(n * out_len(s), std::nanf(""));
  eval->forward(x.data(), n, w.data(), bias.data(), {scale.data(), shift.data()}, true, o.y_epilogue.data(),
                {eval_saved.data(), eval_work.data()});
  return o;
}

std::vector<double> epilogue(const std::vector<double>& y, const ConvShape& s, const std::vector<float>& scale,
                             const std::vector<float>& shift) {
  std::vector<double> out(y.size());
  const size_t plane = size_t(s.ho()) * s.wo();
  for (size_t j = 0; j < y.size(); ++j) {
    const size_t c = j / plane % s.cout;
    out[j] = std::max(0.0, y[j] * scale[c] + shift[c]);
  }
  return out;
}

// The route a depthwise shape must take: the depthwise kernels for the ISA asked for.
void expect_route(const ConvShape& s, const Route& route, const std::string& taken) {
  if (s.groups != s.cin) {
    EXPECT_EQ(taken.rfind("grouped, " + std::to_string(s.groups) + " groups", 0), 0u) << taken;
    return;
  }
  EXPECT_EQ(taken.rfind("depthwise direct", 0), 0u) << taken;
  EXPECT_NE(taken.find(std::string("/") + isa_name(route.isa)), std::string::npos) << taken;
  // Multiplier 1, 3x3, padding 1: the planes read in place (stride 2:
  // AVX-512, outputs up to 16 wide).
  const bool m1 = s.cout == s.cin && s.k == 3 && s.pad == 1;
  EXPECT_EQ(taken.find("flat planes") != std::string::npos, m1 && s.stride == 1) << taken;
  EXPECT_EQ(taken.find("rows in place") != std::string::npos,
            m1 && s.stride == 2 && route.isa == Isa::Avx512 && s.wo() <= 16)
      << taken;
}

void check_against_definition(const Case& c) {
  const ConvShape& s = c.s;
  Rng rng(28);
  const std::vector<float> x = random_values(c.n * in_len(s), rng, 1.f);
  const std::vector<float> w = random_values(weight_len(s), rng, 0.5f);
  const std::vector<float> bias = random_values(s.cout, rng, 0.5f);
  const std::vector<float> dy = random_values(c.n * out_len(s), rng, 1.f);
  const std::vector<float> scale = random_values(s.cout, rng, 2.f), shift = random_values(s.cout, rng, 0.5f);
  const Result want = definition(s, c.n, x, w, bias, dy);
  const std::vector<double> want_epilogue = epilogue(want.y, s, scale, shift);
  for (const Route& route : routes()) {
    SCOPED_TRACE(std::string(c.name) + " | " + route.name);
    const Outputs got = run(route, s, c.n, x, w, bias, dy, scale, shift);
    SCOPED_TRACE(got.route);
    expect_route(s, route, got.route);
    expect_close(got.y, want.y, 1e-5, "output");
    expect_close(got.y_epilogue, want_epilogue, 1e-5, "output with the epilogue");
    expect_close(got.dx, want.dx, 1e-5, "input gradient");
    expect_close(got.dw, want.dw, 1e-5, "weight gradient");
    expect_close(got.db, want.db, 1e-5, "bias gradient");
  }
}

TEST(GroupedConv, EveryRouteMatchesTheDefinition) {
  for (const Case& c : kCases) check_against_definition(c);
  for (const Case& c : kMoreCases) check_against_definition(c);
}

// Backward without the input gradient (a network's first layer) or the
// bias gradient (a layer without bias) leaves those out and still gets the
// weight gradient right.
TEST(GroupedConv, BackwardWithoutInputOrBiasGradient) {
  for (const Case& c : {kCases[2], kCases[8], kCases[12]}) {
    const ConvShape& s = c.s;
    Rng rng(3);
    const std::vector<float> x = random_values(c.n * in_len(s), rng, 1.f);
    const std::vector<float> w = random_values(weight_len(s), rng, 0.5f);
    const std::vector<float> bias(s.cout, 0.f);
    const std::vector<float> dy = random_values(c.n * out_len(s), rng, 1.f);
    const Result want = definition(s, c.n, x, w, bias, dy);
    for (const Route& route : routes()) {
      SCOPED_TRACE(std::string(c.name) + " | " + route.name);
      auto kernel = make_backend(route.options)->conv2d(s, c.n, true);
      std::vector<float> saved(kernel->saved_floats()), work(kernel->workspace_floats(), std::nanf(""));
      std::vector<float> y(c.n * out_len(s)), dw(w.size(), std::nanf(""));
      kernel->forward(x.data(), c.n, w.data(), nullptr, {}, false, y.data(), {saved.data(), work.data()});
      kernel->backward(x.data(), dy.data(), c.n, w.data(), dw.data(), nullptr, nullptr, {saved.data(), work.data()});
      expect_close(dw, want.dw, 1e-5, "weight gradient");
      expect_close(y, want.y, 1e-5, "output without bias");
    }
  }
}

TEST(GroupedConv, EveryRouteMatchesPyTorch) {
  const std::map<std::string, StoredTensor> ref = test::load_reference("grouped_conv.safetensors");
  auto tensor = [&](const Case& c, const std::string& key, std::vector<int64_t> shape) {
    const StoredTensor& t = ref.at(std::string(c.name) + "." + key);
    EXPECT_EQ(t.shape, shape) << c.name << "." << key;
    return t.to_floats();
  };
  int compared = 0;
  for (const Case& c : kCases) {
    const ConvShape& s = c.s;
    const std::vector<int64_t> xs{c.n, s.cin, s.h, s.w}, ys{c.n, s.cout, s.ho(), s.wo()}, cs{s.cout};
    const std::vector<float> x = tensor(c, "x", xs), dy = tensor(c, "dy", ys);
    const std::vector<float> w = tensor(c, "weight", {s.cout, s.cin / s.groups, s.k, s.k});
    const std::vector<float> bias = tensor(c, "bias", cs), scale = tensor(c, "scale", cs);
    const std::vector<float> shift = tensor(c, "shift", cs);
    const std::vector<double> y = widened(tensor(c, "y", ys)), y_bn_relu = widened(tensor(c, "y_bn_relu", ys));
    const std::vector<double> dx = widened(tensor(c, "dx", xs)), db = widened(tensor(c, "dbias", cs));
    const std::vector<double> dw = widened(tensor(c, "dweight", {s.cout, s.cin / s.groups, s.k, s.k}));
    if (HasFailure()) return;
    for (const Route& route : routes()) {
      SCOPED_TRACE(std::string(c.name) + " | " + route.name);
      const Outputs got = run(route, s, c.n, x, w, bias, dy, scale, shift);
      SCOPED_TRACE(got.route);
      expect_close(got.y, y, 1e-5, "output");
      expect_close(got.y_epilogue, y_bn_relu, 1e-5, "relu(batchnorm_eval(output))");
      expect_close(got.dx, dx, 1e-5, "input gradient");
      expect_close(got.dw, dw, 1e-5, "weight gradient");
      expect_close(got.db, db, 1e-5, "bias gradient");
      ++compared;
    }
  }
  EXPECT_EQ(compared, int(std::size(kCases) * routes().size()));
}

// One thread against two, value by value: each thread's share of the weight
// gradient is summed in a fixed order, so the results differ at most by
// rounding; the forward and the input gradient do not depend on it at all.
TEST(GroupedConv, TwoThreadsAgreeWithOne) {
  for (const Case& c : {kCases[6], kCases[7]}) {
    const ConvShape& s = c.s;
    Rng rng(4);
    const std::vector<float> x = random_values(c.n * in_len(s), rng, 1.f);
    const std::vector<float> w = random_values(weight_len(s), rng, 0.5f);
    const std::vector<float> bias = random_values(s.cout, rng, 0.5f);
    const std::vector<float> dy = random_values(c.n * out_len(s), rng, 1.f);
    const std::vector<float> scale(s.cout, 1.f), shift(s.cout, 0.f);
    BackendOptions one, two;
    one.threads = 1, two.threads = 2;
    const Outputs a = run({"1 thread", one, cpu::widest_isa()}, s, c.n, x, w, bias, dy, scale, shift);
    const Outputs b = run({"2 threads", two, cpu::widest_isa()}, s, c.n, x, w, bias, dy, scale, shift);
    EXPECT_EQ(a.y, b.y) << c.name;
    EXPECT_EQ(a.dx, b.dx) << c.name;
    expect_close(b.dw, widened(a.dw), 1e-6, std::string(c.name) + " weight gradient");
    expect_close(b.db, widened(a.db), 1e-6, std::string(c.name) + " bias gradient");
  }
}

TEST(GroupedConv, GroupsThatDoNotDivideTheChannelsAreErrors) {
  auto backend = make_backend({});
  EXPECT_ANY_THROW(backend->conv2d(shape(6, 8, 8, 4, 3, 1, 1, 4), 2, true));  // 4 does not divide 6
  EXPECT_ANY_THROW(backend->conv2d(shape(6, 8, 8, 9, 3, 1, 1, 6), 2, true));  // 6 does not divide 9
  EXPECT_ANY_THROW(backend->conv2d(shape(6, 8, 8, 6, 3, 1, 1, 0), 2, true));
  EXPECT_ANY_THROW(backend->conv2d(shape(6, 8, 8, 6, 3, 1, 1, -2), 2, true));
  EXPECT_ANY_THROW(backend->conv_transpose2d(shape(6, 8, 8, 6, 3, 1, 1, 2), 2, true));
  EXPECT_NO_THROW(backend->conv2d(shape(6, 8, 8, 12, 3, 1, 1, 6), 2, true));
}

}  // namespace
