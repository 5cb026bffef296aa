// Kernel experiment: one image's 3x3 stride-1 padding-1 convolution, single
// thread, by the two routes Conv2d can take: im2col in L2-sized bands of
// rows + SGEMM (kernels/cpu/gemm: oneDNN's), the general route, and Winograd
// F(2x2, 3x3) (kernels/cpu/winograd) with the product kernel of each
// instruction set the CPU runs (--isa). Prints microseconds per image (the
// best of 5 passes), nominal GFLOP/s (9 taps per output, as PyTorch counts)
// and the largest difference between the two outputs, for the course
// networks' layer shapes (forward, then the input gradient's: channels
// swapped), then shapes that place the channel threshold and large layers.
// Then the same for the weight gradient of a batch (--weight-gradient-images
// images): im2col + SGEMM as backward runs it against Winograd's products
// and its final transform, for the presets' layer shapes.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_info.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/winograd.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

template <class F>
double microseconds_per_image(int images, F&& run) {
  run(0);  // warm up
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < images; ++i) run(i);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best / images * 1e6;
}

void compare(int cin, int cout, int size, int images, size_t block_floats, const std::vector<cpu::Isa>& isas) {
  Rng rng(1);
  const size_t plane = size_t(size) * size;
  std::vector<float> x(size_t(images) * cin * plane), weight(size_t(cout) * cin * 9), bias(cout);
  for (float& v : x) v = rng.uniform(-1.f, 1.f);
  for (float& v : weight) v = rng.uniform(-0.2f, 0.2f);
  for (float& v : bias) v = rng.uniform(-0.2f, 0.2f);
  std::vector<float> y_gemm(size_t(cout) * plane), y_wino(y_gemm.size());

  const cpu::ConvGeometry g(cin, size, size, 3, 3, 1, 1);
  const int band_rows = std::clamp(int((size_t(1) << 16) / (size_t(g.k()) * size)), 1, size);
  std::vector<float> col(size_t(g.k()) * plane);
  const double us_gemm = microseconds_per_image(images, [&](int i) {
    const float* xi = x.data() + size_t(i) * cin * plane;
    for (int oh0 = 0; oh0 < size; oh0 += band_rows) {
      const int oh1 = std::min(size, oh0 + band_rows), cols = (oh1 - oh0) * size;
      cpu::im2col_band(g, xi, oh0, oh1, col.data());
      cpu::gemm(1, false, false, cout, cols, g.k(), 1.f, weight.data(), g.k(), col.data(), cols, 0.f,
                y_gemm.data() + oh0 * size, int(plane));
    }
    for (int co = 0; co < cout; ++co)
      for (size_t p = 0; p < plane; ++p) y_gemm[co * plane + p] += bias[co];
  });

  const double flop = 2.0 * cout * cin * 9 * plane;
  for (cpu::Isa isa : isas) {
    const cpu::Winograd3x3 w(cin, cout, size, size, isa, block_floats);
    std::vector<float> u(w.weight_floats()), work(w.workspace_floats());
    cpu::winograd_weight(w, weight.data(), u.data());
    const double us_wino = microseconds_per_image(images, [&](int i) {
      cpu::winograd_conv3x3(w, u.data(), x.data() + size_t(i) * cin * plane, bias.data(), false, y_wino.data(),
                            work.data());
    });
    double diff = 0;
    for (size_t i = 0; i < y_gemm.size(); ++i) diff = std::max(diff, double(std::fabs(y_gemm[i] - y_wino[i])));
    std::printf("%4d -> %-4d %2dx%-2d | im2col+gemm %8.1f us %6.1f GFLOP/s | winograd %-6s block %3d %8.1f us"
                " %6.1f GFLOP/s | %.2fx | max diff %.2g\n",
                cin, cout, size, size, us_gemm, flop / us_gemm / 1e3, cpu::isa_name(isa), w.block, us_wino,
                flop / us_wino / 1e3, us_gemm / us_wino, diff);
    std::fflush(stdout);
  }
}

// The weight gradient summed over `images` images: im2col bands + SGEMM
// (conv2d_per_image.cpp's backward) against winograd_weight_products per
// image and winograd_weight_gradient once.
void compare_weight_gradient(int cin, int cout, int size, int images, size_t block_floats,
                             const std::vector<cpu::Isa>& isas) {
  Rng rng(2);
  const size_t plane = size_t(size) * size;
  std::vector<float> x(size_t(images) * cin * plane), dy(size_t(images) * cout * plane);
  for (float& v : x) v = rng.uniform(-1.f, 1.f);
  for (float& v : dy) v = rng.uniform(-1.f, 1.f);
  const cpu::ConvGeometry g(cin, size, size, 3, 3, 1, 1);
  const int band_rows = std::clamp(int((size_t(1) << 22) / (size_t(g.k()) * size)), 1, size);
  std::vector<float> col(size_t(g.k()) * band_rows * size), dw_gemm(size_t(cout) * g.k()), dw_wino(dw_gemm.size());
  const auto batch_gemm = [&] {
    std::fill(dw_gemm.begin(), dw_gemm.end(), 0.f);
    for (int i = 0; i < images; ++i)
      for (int oh0 = 0; oh0 < size; oh0 += band_rows) {
        const int oh1 = std::min(size, oh0 + band_rows), cols = (oh1 - oh0) * size;
        cpu::im2col_band(g, x.data() + size_t(i) * cin * plane, oh0, oh1, col.data());
        cpu::gemm(1, false, true, cout, g.k(), cols, 1.f, dy.data() + size_t(i) * cout * plane + oh0 * size,
                  int(plane), col.data(), cols, 1.f, dw_gemm.data(), g.k());
      }
  };
  const double us_gemm = microseconds_per_image(1, [&](int) { batch_gemm(); }) / images;
  const double flop = 2.0 * cout * cin * 9 * plane;
  for (cpu::Isa isa : isas) {
    const cpu::Winograd3x3 w(cin, cout, size, size, isa, block_floats);
    std::vector<float> mgrad(w.weight_floats()), work(w.workspace_floats());
    const double us_wino = microseconds_per_image(1, [&](int) {
      std::fill(mgrad.begin(), mgrad.end(), 0.f);
      for (int i = 0; i < images; ++i)
        cpu::winograd_weight_products(w, x.data() + size_t(i) * cin * plane, dy.data() + size_t(i) * cout * plane,
                                      mgrad.data(), work.data());
      cpu::winograd_weight_gradient(w, mgrad.data(), dw_wino.data());
    }) / images;
    double diff = 0, scale = 0;
    for (size_t i = 0; i < dw_gemm.size(); ++i) {
      diff = std::max(diff, double(std::fabs(dw_gemm[i] - dw_wino[i])));
      scale = std::max(scale, double(std::fabs(dw_gemm[i])));
    }
    std::printf("%4d -> %-4d %2dx%-2d | im2col+gemm %8.1f us %6.1f GFLOP/s | winograd %-6s block %3d %8.1f us"
                " %6.1f GFLOP/s | %.2fx | max diff %.2g of %.3g\n",
                cin, cout, size, size, us_gemm, flop / us_gemm / 1e3, cpu::isa_name(isa), w.block, us_wino,
                flop / us_wino / 1e3, us_gemm / us_wino, diff, scale);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"3x3 convolution of one image: im2col + SGEMM against Winograd F(2x2,3x3), one thread"};
  int images = 64;
  size_t block_floats = size_t(1) << 18;
  std::string isa_option = "all", shapes_option = "all";
  app.add_option("--images", images, "images per timed pass")->check(CLI::PositiveNumber);
  app.add_option("--block-floats", block_floats, "Winograd: floats of V and M per block of tiles");
  app.add_option("--isa", isa_option, "Winograd product kernel: scalar, avx2, avx512 or all (those this CPU runs)");
  app.add_option("--shapes", shapes_option, "course (the course networks' Winograd layers) or all")
      ->check(CLI::IsMember({"course", "all"}));
  int gradient_images = 64;
  app.add_option("--weight-gradient-images", gradient_images, "images per weight gradient (0: skip that table)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  std::vector<cpu::Isa> isas;
  if (isa_option == "all") {
    for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512})
      if (cpu::runs(isa)) isas.push_back(isa);
  } else if (const auto isa = mnistlab::parse_isa(isa_option)) {
    if (!cpu::runs(*isa)) {
      std::fprintf(stderr, "--isa %s: this CPU's widest is %s\n", isa_option.c_str(), cpu::isa_name(cpu::widest_isa()));
      return 1;
    }
    isas.push_back(*isa);
  } else {
    std::fprintf(stderr, "--isa %s: expected scalar, avx2, avx512 or all\n", isa_option.c_str());
    return 1;
  }
  std::printf("CPU: %s\n", cpu::cpu_info().model.c_str());
  // Forward and input-gradient (channels swapped) shapes of baseline, vgg-bn and fast.
  const int course[][3] = {{32, 32, 28}, {32, 32, 14}, {64, 64, 7}, {128, 128, 4},
                           {16, 32, 14}, {32, 16, 14}, {32, 64, 7}, {64, 32, 7}};
  const int others[][3] = {{1, 32, 28},   {4, 32, 28},   {8, 32, 28},    {64, 64, 14},  {32, 64, 14},
                           {128, 128, 7}, {256, 256, 7}, {256, 256, 14}, {512, 512, 7}, {17, 1, 28}};
  for (const auto& s : course) compare(s[0], s[1], s[2], images, block_floats, isas);
  if (shapes_option == "all")
    for (const auto& s : others) compare(s[0], s[1], s[2], images, block_floats, isas);
  if (gradient_images == 0) return 0;
  std::printf("weight gradient of %d images, per image:\n", gradient_images);
  // baseline and vgg-bn's layers, then best-fashion's and best-mnist's.
  const int gradient_shapes[][3] = {{32, 32, 28}, {32, 32, 14}, {64, 64, 7},   {48, 48, 28},
                                    {48, 96, 14}, {96, 96, 14}, {96, 192, 7}, {192, 192, 7}};
  for (const auto& s : gradient_shapes) compare_weight_gradient(s[0], s[1], s[2], gradient_images, block_floats, isas);
  return 0;
}
