// Depthwise 3x3 Conv2d (groups = channels, kernels/cpu/grouped_conv.h), our
// side of bench/depthwise.sh (PyTorch's side: pytorch_depthwise.py, the same
// shapes and lines): one layer through the seam (make_backend,
// Backend::conv2d with ConvShape::groups), timed as bench_timing.h times
// (median of short repeats after warm-up, repeated while other processes
// load the CPU).
//
// Passes, per (shape, threads):
//   fwd      forward of a kernel planned with gradients, bias added
//   fwd_bwd  that forward, then backward with the input, weight and bias
//            gradients (what a training step pays for the layer)
//
// Before timing, each shape's output and gradients on the whole batch are
// checked against a double-precision direct convolution; a shape off by
// more than 1e-4 of the largest reference value prints BAD and exits 1.
//
// stdout, one line per measurement (depthwise.sh parses them):
//   row <name> <pass> t<threads> mnistlab <isa> <microseconds> us foreign <cores>
//   row <name> <pass> t<threads> floor stream <microseconds> us foreign <cores>
// The floor is the time of a loop that only moves the bytes the pass must
// move at the least (forward: read x, write y; forward + backward: that,
// then read x and dy, write dx), each summed 16 floats at a time, on the
// same threads and the same buffers' sizes: no depthwise kernel on this
// machine can take less, so PyTorch's best time / 2 below it means 2x
// PyTorch is out of reach for that row.
// name: n<N>_c<C>_<H>_s<stride>_m<multiplier>; "foreign": the other
// processes' CPU use during the measurement (bench_timing.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_info.h"
#include "kernels/cpu/isa.h"
#include "mnistlab/rng.h"

using namespace mnistlab;
using namespace conv_bench;

namespace {

struct Shape {
  int n, c, hw, stride, multiplier;
  std::string name() const {
    return "n" + std::to_string(n) + "_c" + std::to_string(c) + "_" + std::to_string(hw) + "_s" +
           std::to_string(stride) + "_m" + std::to_string(multiplier);
  }
  ConvShape conv() const {
    ConvShape s{c, hw, hw, c * multiplier, 3, stride, 1};
    s.groups = c;
    return s;
  }
};

// The largest |got - want| over the largest |want|, want from the definition in double.
double check(const ConvShape& s, int n, const std::vector<float>& x, const std::vector<float>& w,
             const std::vector<float>& b, const std::vector<float>& dy, const std::vector<float>& y,
             const std::vector<float>& dx, const std::vector<float>& dw, const std::vector<float>& db) {
  const int ho = s.ho(), wo = s.wo(), m = s.cout / s.cin;
  std::vector<double> ry(y.size()), rdx(dx.size(), 0.0), rdw(dw.size(), 0.0), rdb(db.size(), 0.0);
  for (int i = 0; i < n; ++i)
    for (int co = 0; co < s.cout; ++co)
      for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) {
          const size_t yo = ((size_t(i) * s.cout + co) * ho + oh) * wo + ow;
          double acc = b[co];
          rdb[co] += dy[yo];
          for (int ki = 0; ki < 3; ++ki)
            for (int kj = 0; kj < 3; ++kj) {
              const int ih = oh * s.stride - s.pad + ki, iw = ow * s.stride - s.pad + kj;
              if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
              const size_t xo = ((size_t(i) * s.cin + co / m) * s.h + ih) * s.w + iw, wi = size_t(co) * 9 + ki * 3 + kj;
              acc += double(x[xo]) * w[wi];
              rdx[xo] += double(dy[yo]) * w[wi];
              rdw[wi] += double(dy[yo]) * x[xo];
            }
          ry[yo] = acc;
        }
  double worst = 0;
  auto compare = [&](const std::vector<float>& got, const std::vector<double>& want) {
    double scale = 1e-30, diff = 0;
    for (size_t j = 0; j < want.size(); ++j) {
      scale = std::max(scale, std::fabs(want[j]));
      diff = std::max(diff, std::fabs(got[j] - want[j]));
    }
    worst = std::max(worst, diff / scale);
  };
  compare(y, ry), compare(dx, rdx), compare(dw, rdw), compare(db, rdb);
  return worst;
}

// 16 floats, unaligned; GCC lowers it to the widest vectors the build targets.
typedef float Floats16 __attribute__((vector_size(64), aligned(4)));

// Reads in and extra once and writes out once, in blocks of whole
// 16-float vectors (each array's block: its size / the smallest size * 16
// floats), OpenMP's static schedule on `threads`.
void stream_sweep(int threads, const float* in, size_t in_count, const float* extra, size_t extra_count, float* out,
                  size_t out_count) {
  const size_t blocks = std::min({in_count, out_count, extra ? extra_count : in_count}) / 16;
  const size_t in_per = in_count / blocks, extra_per = extra ? extra_count / blocks : 0, out_per = out_count / blocks;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t blk = 0; blk < blocks; ++blk) {
    Floats16 acc = *reinterpret_cast<const Floats16*>(in + blk * in_per);
    for (size_t j = 16; j < in_per; j += 16) acc += *reinterpret_cast<const Floats16*>(in + blk * in_per + j);
    for (size_t j = 0; j < extra_per; j += 16) acc += *reinterpret_cast<const Floats16*>(extra + blk * extra_per + j);
    for (size_t j = 0; j < out_per; j += 16) *reinterpret_cast<Floats16*>(out + blk * out_per + j) = acc;
  }
}

bool measure(const Shape& shape, int threads) {
  const ConvShape s = shape.conv();
  const int n = shape.n;
  BackendOptions o;
  o.threads = threads;
  auto backend = make_backend(o);
  auto kernel = backend->conv2d(s, n, true);
  Rng rng(1);
  auto values = [&](size_t count, float bound) {
    std::vector<float> v(count);
    for (float& f : v) f = rng.uniform(-bound, bound);
    return v;
  };
  const size_t in = size_t(n) * s.cin * s.h * s.w, out = size_t(n) * s.cout * s.ho() * s.wo();
  const std::vector<float> x = values(in, 1.f), w = values(size_t(s.cout) * 9, 0.3f), b = values(s.cout, 0.1f);
  const std::vector<float> dy = values(out, 1.f);
  std::vector<float> y(out), dx(in), dw(w.size()), db(b.size());
  std::vector<float> saved(kernel->saved_floats()), work(kernel->workspace_floats());
  const KernelMemory mem{saved.data(), work.data()};
  auto forward = [&] { kernel->forward(x.data(), n, w.data(), b.data(), {}, false, y.data(), mem); };
  auto forward_backward = [&] {
    forward();
    kernel->backward(x.data(), dy.data(), n, w.data(), dw.data(), db.data(), dx.data(), mem);
  };
  forward_backward();
  const double error = check(s, n, x, w, b, dy, y, dx, dw, db);
  if (error > 1e-4) {
    std::printf("check %s t%d BAD %.3g (%s)\n", shape.name().c_str(), threads, error, kernel->route().c_str());
    return false;
  }
  const char* isa = isa_name(cpu::widest_isa());
  for (int pass = 0; pass < 2; ++pass) {
    g_line_foreign = 0;
    const double us = pass == 0 ? median_us(forward) : median_us(forward_backward);
    std::printf("row %s %s t%d mnistlab %s %.1f us foreign %.2f\n", shape.name().c_str(), pass ? "fwd_bwd" : "fwd",
                threads, isa, us, g_line_foreign);
    std::vector<float> sink_y(out), sink_dx(in);
    auto floor_pass = [&] {
      stream_sweep(threads, x.data(), in, nullptr, 0, sink_y.data(), out);
      if (pass) stream_sweep(threads, x.data(), in, dy.data(), out, sink_dx.data(), in);
    };
    g_line_foreign = 0;
    const double floor_us = median_us(floor_pass);
    std::printf("row %s %s t%d floor stream %.1f us foreign %.2f\n", shape.name().c_str(), pass ? "fwd_bwd" : "fwd",
                threads, floor_us, g_line_foreign);
    std::fflush(stdout);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Depthwise 3x3 Conv2d through the seam, forward and forward + backward (bench/depthwise.sh)"};
  std::string threads_option = "2", only;
  int batch = 128;
  app.add_option("--threads", threads_option, "thread counts, e.g. \"1 2\"");
  app.add_option("--batch", batch, "images per call")->check(CLI::PositiveNumber);
  app.add_option("--only", only, "only the shapes whose name contains this");
  app.add_option("--measure-s", g_measure_s, "seconds of timed repeats per measurement");
  app.add_option("--max-wait", g_max_wait_s, "seconds to wait per measurement for a quiet machine");
  CLI11_PARSE(app, argc, argv);
  std::vector<int> threads;
  std::istringstream in(threads_option);
  for (int t; in >> t;) threads.push_back(t);
  std::printf("mnistlab %s\n", describe_backend().c_str());
  bool ok = true;
  // MNIST-like layers: 28x28 and 14x14, 32 and 64 channels, stride 1 and 2, then a multiplier of 2.
  std::vector<Shape> shapes;
  for (int c : {32, 64})
    for (int hw : {28, 14})
      for (int stride : {1, 2}) shapes.push_back({batch, c, hw, stride, 1});
  shapes.push_back({batch, 32, 28, 1, 2});
  for (const Shape& shape : shapes) {
    if (!only.empty() && shape.name().find(only) == std::string::npos) continue;
    for (int t : threads) ok = measure(shape, t) && ok;
  }
  return ok ? 0 : 1;
}
