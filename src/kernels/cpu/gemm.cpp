#include "kernels/cpu/gemm.h"

#include <dnnl.h>
#include <omp.h>

namespace mnistlab::cpu {

constexpr double kMinParallelMacs = 1 << 20;

// oneDNN's SGEMM: JIT kernels for the widest instruction set CPUID reports
// (AVX-512, AVX2 or SSE4.1), on AMD as on Intel; OpenBLAS picks its kernels
// from a table of CPU models and falls back to SSE3 on models it does not
// know (bench/README.md has the bake-off). oneDNN threads with OpenMP: it
// takes omp_get_max_threads() threads, or only the calling one inside a
// parallel region. oneDNN 2.6's OpenMP build has no other way to be given a
// thread count (dnnl_threadpool_interop_sgemm serves only its threadpool
// build; dnnl_sgemm takes no attribute), so the backend's count is set for
// the call and the caller's restored right after. That setting belongs to
// the calling thread (its task), not to the process, and nothing outside
// src/kernels/ changes it any more (use_threads only sets
// BackendOptions::threads).
void gemm(int threads, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // BLAS's meaning: C = beta * C (a pixel no tap reaches gets only its bias)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[long(i) * ldc + j] = beta == 0.f ? 0.f : beta * c[long(i) * ldc + j];
    return;
  }
  // Below about a million multiply-adds a second thread costs more in
  // wake-up and barrier than it saves (and on a loaded machine far more).
  if (double(m) * n * k < kMinParallelMacs) threads = 1;
  const bool serial = omp_in_parallel();
  const int before = serial ? 0 : omp_get_max_threads();
  if (!serial && before != threads) omp_set_num_threads(threads);
  dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (!serial && before != threads) omp_set_num_threads(before);
}

std::string gemm_provider() {
  const dnnl_version_t* v = dnnl_version();
  std::string isa;
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: isa = "sse41"; break;
    case dnnl_cpu_isa_avx: isa = "avx"; break;
    case dnnl_cpu_isa_avx2: isa = "avx2"; break;
    case dnnl_cpu_isa_avx2_vnni: isa = "avx2_vnni"; break;
    case dnnl_cpu_isa_avx512_core: isa = "avx512_core"; break;
    case dnnl_cpu_isa_avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl_cpu_isa_avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl_cpu_isa_avx512_core_amx: isa = "avx512_core_amx"; break;
    default: isa = "isa " + std::to_string(int(dnnl_get_effective_cpu_isa()));
  }
  // SGEMM is float32 on every level: AMX and bfloat16 only serve lower precisions.
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         " sgemm, JIT " + isa;
}

}  // namespace mnistlab::cpu
