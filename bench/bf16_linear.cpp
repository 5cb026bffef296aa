// Bake-off of the Linear layers of the presets (bench/bf16_bakeoff.sh):
// per shape and pass (forward, input gradient, weight gradient), mnistlab's
// float32 route (oneDNN's SGEMM), its bfloat16 route (kernels/cpu/
// gemm_bf16_avx512bf16.cpp, vdpbf16ps), and oneDNN 2.6's bfloat16 matmul
// primitive (created once; float32 -> bfloat16 reorders of its inputs timed
// with it, as a layer holding float32 tensors would pay them).
#include <dnnl.hpp>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "kernels/backend.h"
#include "kernels/cpu/bf16.h"
#include "mnistlab/rng.h"

using namespace mnistlab;
using namespace conv_bench;  // median_us (bench_timing.h)
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

struct LinearShape {
  const char* net;
  int n, in, out;
  bool train;
};

// models/*.model's Linear layers at bench/README's batch sizes.
const LinearShape kShapes[] = {
    {"baseline.fc1", 64, 25088, 256, true}, {"baseline.fc2", 64, 256, 10, true},
    {"vgg-bn.fc", 64, 1024, 10, true},      {"best-fashion.fc", 128, 1728, 10, true},
    {"baseline.fc1", 1000, 25088, 256, false}, {"vgg-bn.fc", 1000, 1024, 10, false},
};

std::vector<float> random(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = rng.uniform(-1.f, 1.f);
  return v;
}

// y = a b (+ bias) with a [m, k] and b [k, n] in the given plain layouts,
// bfloat16 inputs reordered from float32 each call.
struct OnednnMatmul {
  dnnl::engine& eng;
  dnnl::stream& strm;
  dnnl::memory a32, b32, a16, b16, c;
  dnnl::reorder ra, rb;
  dnnl::matmul mm;
  OnednnMatmul(dnnl::engine& e, dnnl::stream& s, int m, int n, int k, tag ta, tag tb, float* a, float* b, float* cp)
      : eng(e), strm(s) {
    const dnnl::memory::desc a32d({m, k}, dt::f32, ta), b32d({k, n}, dt::f32, tb);
    const dnnl::memory::desc a16d({m, k}, dt::bf16, ta), b16d({k, n}, dt::bf16, tb), cd({m, n}, dt::f32, tag::ab);
    a32 = dnnl::memory(a32d, eng, a);
    b32 = dnnl::memory(b32d, eng, b);
    a16 = dnnl::memory(a16d, eng);
    b16 = dnnl::memory(b16d, eng);
    c = dnnl::memory(cd, eng, cp);
    ra = dnnl::reorder(a32, a16);
    rb = dnnl::reorder(b32, b16);
    mm = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a16d, b16d, cd), eng));
  }
  void run() {
    ra.execute(strm, a32, a16);
    rb.execute(strm, b32, b16);
    mm.execute(strm, {{DNNL_ARG_SRC, a16}, {DNNL_ARG_WEIGHTS, b16}, {DNNL_ARG_DST, c}});
    strm.wait();
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"the presets' Linear layers: float32, mnistlab bf16, oneDNN bf16 matmul"};
  std::string threads_list = "1 2";
  app.add_option("--threads", threads_list, "thread counts, space separated");
  app.add_option("--measure", g_measure_s, "seconds of timed repeats per measurement");
  app.add_option("--max-wait", g_max_wait_s, "seconds to wait for a quiet machine per measurement");
  CLI11_PARSE(app, argc, argv);
  if (!cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt).empty()) {
    std::printf("# %s\n", cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt).c_str());
    return 0;
  }
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::printf("# linear: us per call (median); fp32 = mnistlab fp32, bf16 = mnistlab bf16 GEMM, dnnl = oneDNN bf16 "
              "matmul with f32->bf16 reorders\n");
  std::istringstream tin(threads_list);
  std::vector<int> threads;
  for (int t; tin >> t;) threads.push_back(t);
  for (const LinearShape& s : kShapes)
    for (int t : threads) {
      omp_set_num_threads(t);
      auto x = random(size_t(s.n) * s.in, 1), w = random(size_t(s.out) * s.in, 2), dy = random(size_t(s.n) * s.out, 3);
      std::vector<float> b(s.out, 0.1f), y(size_t(s.n) * s.out), dx(x.size()), dw(w.size()), db(s.out);
      BackendOptions o32, o16;
      o32.threads = o16.threads = t;
      o16.precision = Precision::Bf16;
      const auto f32 = make_backend(o32), f16 = make_backend(o16);
      // oneDNN: y = x W^T (W^T is W [out, in] read as [in, out] "ba"); dx = dy W; dW = dy^T x.
      OnednnMatmul fwd(eng, strm, s.n, s.out, s.in, tag::ab, tag::ba, x.data(), w.data(), y.data());
      OnednnMatmul bwd_data(eng, strm, s.n, s.in, s.out, tag::ab, tag::ab, dy.data(), w.data(), dx.data());
      OnednnMatmul bwd_wgt(eng, strm, s.out, s.in, s.n, tag::ba, tag::ab, dy.data(), x.data(), dw.data());
      struct Pass {
        const char* name;
        std::function<void()> fp32, bf16, dnnl;
      };
      std::vector<Pass> passes = {
          {s.train ? "fwd_train" : "fwd_inf",
           [&] { f32->linear_forward(x.data(), s.n, s.in, s.out, w.data(), b.data(), y.data()); },
           [&] { f16->linear_forward(x.data(), s.n, s.in, s.out, w.data(), b.data(), y.data()); },
           [&] { fwd.run(); }}};
      if (s.train) {
        // bwd_wgt: dW and db; bwd_data: the input gradient's GEMM alone is the difference.
        passes.push_back({"bwd_wgt",
                          [&] { f32->linear_backward(x.data(), dy.data(), s.n, s.in, s.out, w.data(), dw.data(), db.data(), nullptr); },
                          [&] { f16->linear_backward(x.data(), dy.data(), s.n, s.in, s.out, w.data(), dw.data(), db.data(), nullptr); },
                          [&] { bwd_wgt.run(); }});
        passes.push_back({"bwd_both",
                          [&] { f32->linear_backward(x.data(), dy.data(), s.n, s.in, s.out, w.data(), dw.data(), db.data(), dx.data()); },
                          [&] { f16->linear_backward(x.data(), dy.data(), s.n, s.in, s.out, w.data(), dw.data(), db.data(), dx.data()); },
                          [&] { bwd_wgt.run(); bwd_data.run(); }});
      }
      for (const Pass& p : passes) {
        g_line_foreign = 0;
        const double a = median_us(p.fp32), c = median_us(p.bf16), d = median_us(p.dnnl);
        const bool ours = c <= d;
        std::printf("linear %-16s %d->%d n%-4d %-9s t%d fp32 %9.1f us  bf16 %9.1f us  dnnl %9.1f us  best %s x%.2f vs fp32  ext %.2f\n",
                    s.net, s.in, s.out, s.n, p.name, t, a, c, d, ours ? "bf16-gemm" : "dnnl-matmul",
                    a / (ours ? c : d), g_line_foreign);
        std::fflush(stdout);
      }
    }
  return 0;
}
