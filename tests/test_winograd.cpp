// Winograd F(2x2, 3x3) against the definition of a 3x3 convolution with
// padding 1, summed in double by the loops below, with the product kernel of
// every instruction set this CPU runs (so an AVX-512 machine tests the AVX2
// and scalar routes too), the weight gradient likewise; then through Conv2d,
// whose Winograd routes must agree with its im2col ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "kernels/cpu/winograd.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

std::vector<double> direct_conv3x3(const std::vector<float>& x, const std::vector<float>& w,
                                   const std::vector<float>& bias, int cin, int cout, int h, int wd, bool relu) {
  std::vector<double> y(size_t(cout) * h * wd);
  for (int co = 0; co < cout; ++co)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < wd; ++j) {
        double sum = bias.empty() ? 0.0 : bias[co];
        for (int ci = 0; ci < cin; ++ci)
          for (int ki = 0; ki < 3; ++ki)
            for (int kj = 0; kj < 3; ++kj) {
              const int r = i + ki - 1, c = j + kj - 1;
              if (r < 0 || r >= h || c < 0 || c >= wd) continue;
              sum += double(x[(size_t(ci) * h + r) * wd + c]) * w[((size_t(co) * cin + ci) * 3 + ki) * 3 + kj];
            }
        y[(size_t(co) * h + i) * wd + j] = relu ? std::max(sum, 0.0) : sum;
      }
  return y;
}

struct Shape {
  int cin, cout, h, w;
  size_t block_floats;
};

constexpr cpu::Isa kIsas[] = {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512};

// Odd and even sizes (tiles hanging over the right and bottom edges), maps
// narrower than a tile, non-square maps, output channels that are not a
// multiple of the kernels' rows (6 for scalar and AVX2, 14 for AVX-512) or
// that take several row blocks, several blocks of tile rows per image (small
// block_floats), blocks whose tiles do not fill 8 or 16 columns, and blocks
// of exactly 16, 48 (AVX-512: a 32-column chunk, all of whose 56 channels
// take full 14-row blocks, and a 16-column one, 28-row blocks), 64 (two
// 32-column chunks) and 208 columns (six chunks and a 16-column one), and
// rows of more than 16 tiles (AVX-512 transforms: two chunks per row).
const Shape kShapes[] = {{8, 7, 5, 5, 1 << 15},     {3, 13, 28, 28, 1 << 15},  {9, 6, 7, 7, 1 << 15},
                         {8, 1, 1, 1, 1 << 15},     {5, 4, 2, 3, 1 << 15},     {4, 11, 9, 6, 256},
                         {32, 32, 14, 14, 4096},    {2, 2, 17, 3, 64},         {20, 40, 7, 7, 1 << 18},
                         {16, 29, 14, 14, 1 << 18}, {12, 16, 28, 28, 1 << 18}, {7, 45, 11, 13, 1 << 12},
                         {6, 56, 14, 10, 1 << 18},  {3, 5, 6, 37, 1 << 15},    {4, 20, 9, 66, 1 << 18}};

// One ISA, shape and ReLU setting; an ASSERT ends only this case.
void check_against_direct(cpu::Isa isa, const Shape& s, bool relu) {
  Rng rng(7);
  std::vector<float> x(size_t(s.cin) * s.h * s.w), w(size_t(s.cout) * s.cin * 9), bias(s.cout);
  for (float& v : x) v = rng.uniform(-1.f, 1.f);
  for (float& v : w) v = rng.uniform(-0.5f, 0.5f);
  for (float& v : bias) v = rng.uniform(-0.5f, 0.5f);
  const cpu::Winograd3x3 g(s.cin, s.cout, s.h, s.w, isa, s.block_floats);
  ASSERT_EQ(g.isa, isa);
  // Stale NaNs in the workspace must not reach the output.
  std::vector<float> u(g.weight_floats()), work(g.workspace_floats(), std::nanf(""));
  std::vector<float> y(size_t(s.cout) * s.h * s.w, std::nanf(""));
  cpu::winograd_weight(g, w.data(), u.data());
  cpu::winograd_conv3x3(g, u.data(), x.data(), bias.data(), relu, y.data(), work.data());
  const std::vector<double> expected = direct_conv3x3(x, w, bias, s.cin, s.cout, s.h, s.w, relu);
  const double tolerance = 1e-5 * (9 * s.cin + 1);  // rounding grows with the terms summed
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_NEAR(y[i], expected[i], tolerance) << "isa " << cpu::isa_name(isa) << " shape " << s.cin << "->" << s.cout
                                              << " " << s.h << "x" << s.w << " relu " << relu << " output " << i;
}

TEST(Winograd, MatchesTheDirectConvolutionForEveryIsa) {
  for (cpu::Isa isa : kIsas) {
    if (!cpu::runs(isa)) continue;
    SCOPED_TRACE(std::string("isa ") + cpu::isa_name(isa));
    for (const Shape& s : kShapes)
      for (bool relu : {false, true}) check_against_direct(isa, s, relu);
  }
}

// The weight gradient of two images, dW[co][ci][ki][kj] = sum dy[co][i][j] *
// x[ci][i+ki-1][j+kj-1], summed in double, through the products of every
// ISA's input transform on every shape.
void check_weight_gradient(cpu::Isa isa, const Shape& s) {
  Rng rng(9);
  const int images = 2;
  const size_t in_len = size_t(s.cin) * s.h * s.w, out_len = size_t(s.cout) * s.h * s.w;
  std::vector<float> x(images * in_len), dy(images * out_len);
  for (float& v : x) v = rng.uniform(-1.f, 1.f);
  for (float& v : dy) v = rng.uniform(-1.f, 1.f);
  const cpu::Winograd3x3 g(s.cin, s.cout, s.h, s.w, isa, s.block_floats);
  std::vector<float> mgrad(g.weight_floats(), 0.f), work(g.workspace_floats(), std::nanf(""));
  std::vector<float> dw(size_t(s.cout) * s.cin * 9, std::nanf(""));
  for (int i = 0; i < images; ++i)
    cpu::winograd_weight_products(g, x.data() + i * in_len, dy.data() + i * out_len, mgrad.data(), work.data());
  cpu::winograd_weight_gradient(g, mgrad.data(), dw.data());
  for (int co = 0; co < s.cout; ++co)
    for (int ci = 0; ci < s.cin; ++ci)
      for (int ki = 0; ki < 3; ++ki)
        for (int kj = 0; kj < 3; ++kj) {
          double want = 0;
          for (int n = 0; n < images; ++n)
            for (int i = 0; i < s.h; ++i)
              for (int j = 0; j < s.w; ++j) {
                const int r = i + ki - 1, c = j + kj - 1;
                if (r < 0 || r >= s.h || c < 0 || c >= s.w) continue;
                want += double(dy[n * out_len + (size_t(co) * s.h + i) * s.w + j]) *
                        x[n * in_len + (size_t(ci) * s.h + r) * s.w + c];
              }
          const size_t at = ((size_t(co) * s.cin + ci) * 3 + ki) * 3 + kj;
          const double tolerance = 1e-5 * (images * s.h * s.w + 1);  // rounding grows with the terms summed
          ASSERT_NEAR(dw[at], want, tolerance) << "isa " << cpu::isa_name(isa) << " shape " << s.cin << "->"
                                               << s.cout << " " << s.h << "x" << s.w << " weight " << at;
        }
}

TEST(Winograd, WeightGradientMatchesTheDirectSumForEveryIsa) {
  for (cpu::Isa isa : kIsas) {
    if (!cpu::runs(isa)) continue;
    SCOPED_TRACE(std::string("isa ") + cpu::isa_name(isa));
    for (const Shape& s : kShapes) check_weight_gradient(isa, s);
  }
}

// Blocks are whole rows of tiles padded to the ISA's column granularity.
TEST(Winograd, BlocksAreWholeTileRowsInTheIsasColumns) {
  for (cpu::Isa isa : kIsas) {
    if (!cpu::runs(isa)) {
      EXPECT_THROW(cpu::Winograd3x3(8, 8, 8, 8, isa), Error) << cpu::isa_name(isa);
      continue;
    }
    SCOPED_TRACE(std::string("isa ") + cpu::isa_name(isa));
    for (const Shape& s : kShapes) {
      const cpu::Winograd3x3 g(s.cin, s.cout, s.h, s.w, isa, s.block_floats);
      EXPECT_EQ(g.tile_cols, isa == cpu::Isa::Avx512 ? 16 : 8);
      EXPECT_EQ(g.block % g.tile_cols, 0);
      EXPECT_GE(g.block, g.block_rows * g.tiles_w);
      EXPECT_LT(g.block, g.block_rows * g.tiles_w + g.tile_cols);
    }
  }
  EXPECT_EQ(cpu::Winograd3x3(8, 8, 8, 8).isa, cpu::widest_isa());
}

TEST(Winograd, NoBiasMeansZeroBias) {
  for (cpu::Isa isa : kIsas) {
    if (!cpu::runs(isa)) continue;
    SCOPED_TRACE(std::string("isa ") + cpu::isa_name(isa));
    const cpu::Winograd3x3 g(2, 3, 4, 4, isa);
    std::vector<float> x(2 * 16), w(3 * 2 * 9), u(g.weight_floats()), work(g.workspace_floats()), y(3 * 16);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3f * i);
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.7f * i);
    cpu::winograd_weight(g, w.data(), u.data());
    cpu::winograd_conv3x3(g, u.data(), x.data(), nullptr, false, y.data(), work.data());
    const std::vector<double> expected = direct_conv3x3(x, w, {}, 2, 3, 4, 4, false);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-5) << i;
  }
}

// Through the layer: the same outputs and gradients with and without the
// Winograd routes (forward, weight gradients, and the input gradient of the
// second Conv2d, which reaches the first one's weight gradient), and a
// gradient check, whose finite differences run the Winograd forward while
// the analytic gradients come from Winograd too.
TEST(Winograd, Conv2dTakesItAndAgreesWithIm2col) {
  const std::string text = "input 8 9 8\nconv 9 k=3 p=1\nrelu\nconv 8 k=3 p=1\nflatten\nlinear 3\n";
  BackendOptions backend;
  backend.per_image_min_pixels = 1;
  std::vector<std::vector<float>> outputs, grads;
  for (bool winograd : {true, false}) {
    backend.conv = winograd ? ConvAlgorithm::Winograd : ConvAlgorithm::Im2col;
    Model m = parse_model(text, "t");
    m.build(5);
    m.set_backend(backend);
    m.reserve(3);
    std::vector<float> x(3 * 8 * 72), dy(3 * 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.9f * i);
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = 0.3f * float(i) - 1.f;
    for (bool training : {false, true}) {
      m.train(training);
      const Tensor& y = m.forward(x.data(), 3);
      outputs.emplace_back(y.data, y.data + y.numel());
    }
    m.backward(dy.data());
    grads.emplace_back(m.gradients(), m.gradients() + m.parameter_count());
  }
  test::GradCheckOptions o;
  o.input_min_abs = 0.05f;
  o.backend.per_image_min_pixels = 1;
  const auto check = test::gradcheck(Conv2d({9, 3, 1, 1, true}), image_shape(8, 9, 8), o);
  // The routes round differently, so equal bits would mean Winograd never ran.
  EXPECT_NE(outputs[0], outputs[2]);
  EXPECT_NE(grads[0], grads[1]);
  for (size_t k = 1; k < outputs.size(); ++k)
    for (size_t j = 0; j < outputs[0].size(); ++j) EXPECT_NEAR(outputs[k][j], outputs[0][j], 1e-5f) << k << " " << j;
  for (size_t j = 0; j < grads[0].size(); ++j)
    EXPECT_NEAR(grads[1][j], grads[0][j], 1e-4f * (1.f + std::fabs(grads[1][j]))) << "gradient " << j;
  EXPECT_GRADCHECK(check);
}

}  // namespace
