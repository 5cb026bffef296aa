// GEMM bake-off: the single-precision GEMMs the course's networks run
// (their shapes at the batch sizes of bench/run.sh's rows), timed through
// one library per build of this file (PROVIDER_OPENBLAS, _ONEDNN, _BLIS,
// _LIBXSMM; their symbols clash, so each is its own program) on 1 and 2
// threads. bench/gemm_bakeoff.sh runs them all and joins the table.
// Prints per shape: GFLOP/s, microseconds, and the largest difference from
// a double-precision product on a few entries (a wrong call shows up).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(PROVIDER_OPENBLAS)
#include <cblas.h>
static const char* kProvider = "openblas";
static bool sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
                  float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.f, a, lda, b,
              ldb, beta, c, ldc);
  return true;
}
static void use_threads(int t) { openblas_set_num_threads(t); }
static std::string kernel() {
  char* config = openblas_get_config();
  return std::string(openblas_get_corename()) + " (" + (config ? config : "") + ")";
}
#elif defined(PROVIDER_ONEDNN)
#include <dnnl.h>
static const char* kProvider = "onednn";
static bool sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
                  float* c, int ldc) {
  return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc) == dnnl_success;
}
static void use_threads(int t) { omp_set_num_threads(t); }
static std::string kernel() { return "JIT, effective ISA code " + std::to_string(int(dnnl_get_effective_cpu_isa())); }
#elif defined(PROVIDER_BLIS)
#include <blis.h>
static const char* kProvider = "blis";
static bool sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
                  float* c, int ldc) {
  float one = 1.f;
  bli_sgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n, k, &one,
            const_cast<float*>(a), lda, 1, const_cast<float*>(b), ldb, 1, &beta, c, ldc, 1);
  return true;
}
static void use_threads(int t) { bli_thread_set_num_threads(t); }
static std::string kernel() { return bli_arch_string(bli_arch_query_id()); }
#elif defined(PROVIDER_LIBXSMM)
#include <libxsmm.h>
static const char* kProvider = "libxsmm";
// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T. libxsmm
// JIT-compiles a kernel per shape (small GEMMs); without one it has no
// fallback here (libxsmmnoblas), which the table shows as n/a.
static bool sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
                  float* c, int ldc) {
  int flags = (tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  if (beta == 0.f) flags |= LIBXSMM_GEMM_FLAG_BETA_0;
  const float alpha = 1.f;
  const libxsmm_smmfunction f = libxsmm_smmdispatch(n, m, k, &ldb, &lda, &ldc, &alpha, &beta, &flags, nullptr);
  if (!f) return false;
  // One kernel call computes the whole product on one thread; split C's
  // rows (the B^T operand's columns) between threads.
  f(b, a, c);
  return true;
}
static void use_threads(int) { libxsmm_init(); }
static std::string kernel() { return libxsmm_get_target_arch(); }
#else
#error "define PROVIDER_OPENBLAS, PROVIDER_ONEDNN, PROVIDER_BLIS or PROVIDER_LIBXSMM"
#endif

namespace {

struct Shape {
  const char* what;
  bool ta, tb;
  int m, n, k;
  float beta;
};

// Where each shape comes from: layer (preset, index as in `mnistlab info`),
// pass, batch. Per-image shapes run on one thread per image (the kernels
// split the batch); their 2-thread rows show the library's own threading.
const Shape kShapes[] = {
    {"baseline 0 conv fwd, per image, b64", false, false, 32, 784, 9, 0.f},
    {"baseline 2 conv dW, per image, b64", false, true, 32, 288, 784, 1.f},
    {"baseline 2 conv fwd im2col, per image", false, false, 32, 784, 288, 0.f},
    {"baseline 6 linear fwd, b64", false, true, 64, 256, 25088, 0.f},
    {"baseline 6 linear dW, b64", true, false, 256, 25088, 64, 0.f},
    {"baseline 6 linear dx, b64", false, false, 64, 25088, 256, 0.f},
    {"baseline 6 linear fwd, b1000", false, true, 1000, 256, 25088, 0.f},
    {"vgg-bn 3 conv s2 fwd, per image", false, false, 32, 196, 288, 0.f},
    {"vgg-bn 12 conv 7x7 dW, per image", false, true, 64, 576, 49, 1.f},
    {"vgg-bn 24 conv 4x4 interior group, b64", false, false, 128, 256, 1152, 0.f},
    {"vgg-bn 33 conv 2x2 one group fwd, b1000", false, false, 512, 1000, 2048, 0.f},
    {"vgg-bn 33 conv 2x2 one group fwd, b64", false, false, 512, 64, 2048, 0.f},
    {"vgg-bn 33 conv 2x2 one group dW, b64", false, true, 512, 2048, 64, 0.f},
    {"vgg-bn 33 conv 2x2 one group dx, b64", true, false, 2048, 64, 512, 0.f},
    {"vgg-bn 42 conv 1x1 fwd, b1000", false, false, 1024, 1000, 1024, 0.f},
    {"vgg-bn 42 conv 1x1 fwd, b64", false, false, 1024, 64, 1024, 0.f},
    {"dae 4 convt fwd, per image, b300", true, false, 144, 49, 16, 0.f},
    {"dae 4 convt dW, per image, b300", false, true, 16, 144, 49, 1.f},
    {"fast 4 conv dW, per image, b32", false, true, 32, 144, 196, 1.f},
    {"square 2048", false, false, 2048, 2048, 2048, 0.f},
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  for (int i = 1; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {1, 2};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  for (int threads : thread_counts) {
    use_threads(threads);
    std::printf("# %s, %d thread%s, kernel: %s\n", kProvider, threads, threads == 1 ? "" : "s", kernel().c_str());
    for (const Shape& s : kShapes) {
      const int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
      std::vector<float> a(size_t(s.m) * s.k), b(size_t(s.k) * s.n), c(size_t(s.m) * s.n, 0.f);
      for (float& v : a) v = uniform(rng);
      for (float& v : b) v = uniform(rng);
      // Check: C = op(A) op(B) (beta 0 for the check) on a few entries.
      bool ok = sgemm(s.ta, s.tb, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, 0.f, c.data(), s.n);
      double worst = 0;
      for (int probe = 0; ok && probe < 16; ++probe) {
        const int i = int(rng() % s.m), j = int(rng() % s.n);
        double want = 0;
        for (int p = 0; p < s.k; ++p)
          want += double(s.ta ? a[size_t(p) * lda + i] : a[size_t(i) * lda + p]) *
                  (s.tb ? b[size_t(j) * ldb + p] : b[size_t(p) * ldb + j]);
        worst = std::max(worst, std::fabs(want - c[size_t(i) * s.n + j]) / (1.0 + std::fabs(want)));
      }
      const double flops = 2.0 * s.m * s.n * s.k;
      double best = 1e30;
      if (ok) {
        const int reps = std::max(3, int(3e8 / flops));
        for (int round = 0; round < 5; ++round) {
          const auto t0 = std::chrono::steady_clock::now();
          for (int r = 0; r < reps; ++r) sgemm(s.ta, s.tb, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, s.beta, c.data(), s.n);
          best = std::min(best, seconds_since(t0) / reps);
        }
      }
      if (ok)
        std::printf("%-9s %d  %-44s %c%c %5d %5d %5d  %8.1f GFLOP/s %10.1f us  max rel diff %.1e\n", kProvider,
                    threads, s.what, s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, flops / best / 1e9, best * 1e6,
                    worst);
      else
        std::printf("%-9s %d  %-44s %c%c %5d %5d %5d  n/a (no kernel for this shape)\n", kProvider, threads, s.what,
                    s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k);
    }
  }
  return 0;
}
