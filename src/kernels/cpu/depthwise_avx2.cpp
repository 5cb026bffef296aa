// Depthwise convolution kernels for AVX2 and FMA (depthwise_kernels.h; the
// loops are depthwise_body.h's): 8 output columns per register, the row's
// last columns by masked stores.
#include <immintrin.h>

#include "kernels/cpu/depthwise_body.h"

namespace mnistlab::cpu {
namespace {

struct Avx2 {
  using T = __m256;
  static constexpr int V = 8;
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float v) { return _mm256_set1_ps(v); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static __m256i first(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static T load_n(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_n(float* p, T v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  // Lane masks (depthwise_flat_body.h): all ones where the bit is set; a
  // masked-off lane reads nothing.
  using M = __m256i;
  static M mask(unsigned bits) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), bit), bit);
  }
  static M both(M a, M b) { return _mm256_and_si256(a, b); }
  static T load_m(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T relu(T a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }  // NaN -> 0
  // Shuffles within 128-bit lanes, then the 64-bit quarters into order.
  static void deinterleave2(T a, T b, T& e, T& o) {
    e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))),
                                               _MM_SHUFFLE(3, 1, 2, 0)));
    o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))),
                                               _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static void interleave2(T e, T o, T& first, T& second) {
    const T lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
    first = _mm256_permute2f128_ps(lo, hi, 0x20);
    second = _mm256_permute2f128_ps(lo, hi, 0x31);
  }
  static void store_interleaved2(float* p, T e, T o) {
    T first, second;
    interleave2(e, o, first, second);
    store(p, first);
    store(p + 8, second);
  }
};

}  // namespace

void depthwise_forward_avx2(const DepthwisePlan& p, const float* x, const float* weight, const float* bias,
                            bool relu, float* y, float* work) {
  depthwise::forward<Avx2>(p, x, weight, bias, relu, y, work);
}

void depthwise_backward_avx2(const DepthwisePlan& p, const float* x, const float* dy, const float* weight,
                             float* dweight, float* dbias, float* dx, float* work) {
  depthwise::backward<Avx2>(p, x, dy, weight, dweight, dbias, dx, work);
}

}  // namespace mnistlab::cpu
