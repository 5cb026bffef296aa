// The machine's SGEMM peak through the GEMM mnistlab calls (oneDNN's, in
// kernels/cpu/gemm.cpp): a large square single-precision GEMM, best of a
// few runs. bench/profile.sh compares training steps with it.
#include "kernels/cpu/gemm.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"SGEMM GFLOP/s of the GEMM mnistlab calls"};
  int size = 2048, threads = 2, runs = 5;
  app.add_option("--size", size)->check(CLI::Range(64, 8192));
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--runs", runs)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  const size_t count = size_t(size) * size;
  std::vector<float> a(count), b(count), c(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = float(i % 7) * 0.1f;
    b[i] = float(i % 5) * 0.2f;
  }
  double best = 0;
  for (int r = 0; r < runs + 1; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    mnistlab::cpu::gemm(threads, false, false, size, size, size, 1.f, a.data(), size, b.data(), size, 0.f,
                        c.data(), size);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::max(best, 2.0 * size * size * double(size) / s / 1e9);  // the first run warms up
  }
  std::printf("sgemm_gflop_per_s %.1f\n", best);
  return 0;
}
