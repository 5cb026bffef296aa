// Depthwise convolution kernels for AVX-512 (depthwise_kernels.h; the loops
// are depthwise_body.h's): 16 output columns per register, the row's last
// columns by masked stores.
#include <immintrin.h>

#include "kernels/cpu/depthwise_body.h"
#include "kernels/cpu/depthwise_s2_body.h"

namespace mnistlab::cpu {
namespace {

struct Avx512 {
  using T = __m512;
  static constexpr int V = 16;
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p); }
  static void store_n(float* p, T v, int n) { _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), v); }
  // Lane masks (depthwise_flat_body.h): a masked-off lane reads nothing.
  using M = __mmask16;
  static M mask(unsigned bits) { return M(bits); }
  static M both(M a, M b) { return _kand_mask16(a, b); }
  static T load_m(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  // 16 of the 32 floats of a:b (depthwise_s2_body.h), zero where m is clear.
  using I = __m512i;
  static I index(const int* p) { return _mm512_loadu_si512(p); }
  static T permute2(T a, I index, T b, M m) { return _mm512_maskz_permutex2var_ps(m, a, index, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  // NaN -> 0. (The masked form: GCC 12 warns that the plain one's header
  // reads an uninitialized value.)
  static T relu(T a) { return _mm512_mask_max_ps(a, __mmask16(0xffff), a, _mm512_setzero_ps()); }
  static void deinterleave2(T a, T b, T& e, T& o) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    e = _mm512_permutex2var_ps(a, even, b);
    o = _mm512_permutex2var_ps(a, odd, b);
  }
  static void interleave2(T e, T o, T& lo, T& hi) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    lo = _mm512_permutex2var_ps(e, first, o);
    hi = _mm512_permutex2var_ps(e, second, o);
  }
  static void store_interleaved2(float* p, T e, T o) {
    T lo, hi;
    interleave2(e, o, lo, hi);
    store(p, lo);
    store(p + 16, hi);
  }
};

}  // namespace

void depthwise_forward_avx512(const DepthwisePlan& p, const float* x, const float* weight, const float* bias,
                              bool relu, float* y, float* work) {
  if (p.s2) return depthwise::forward_s2<Avx512>(p, x, weight, bias, relu, y);
  depthwise::forward<Avx512>(p, x, weight, bias, relu, y, work);
}

void depthwise_backward_avx512(const DepthwisePlan& p, const float* x, const float* dy, const float* weight,
                               float* dweight, float* dbias, float* dx, float* work) {
  if (p.s2) {
    depthwise::weight_gradient_s2<Avx512>(p, x, dy, dweight, dbias);
    if (dx) depthwise::input_gradient_s2_3x3<Avx512>(p, dy, weight, dx);
    return;
  }
  depthwise::backward<Avx512>(p, x, dy, weight, dweight, dbias, dx, work);
}

}  // namespace mnistlab::cpu
