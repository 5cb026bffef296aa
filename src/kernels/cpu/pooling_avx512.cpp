// MaxPool2d's 2x2 stride-2 window for AVX-512 (compiled for that level):
// 16 outputs of a row at a time from two rows of 32 inputs, split into the
// even and odd columns by permutes, with masked loads and stores for rows of
// any width. The plain loop spends its time in a scalar remainder on the
// course's maps (rows of 14, 7 and 3 outputs are all remainder).
#include <immintrin.h>

#include "kernels/cpu/pooling_kernels.h"

namespace mnistlab::cpu {

void maxpool_2x2_plane_avx512(const float* in, int h, int w, float* out, int32_t* arg) {
  const int ho = h / 2, wo = w / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int oh = 0; oh < ho; ++oh) {
    const float* r0 = in + 2 * oh * w;
    const float* r1 = r0 + w;
    for (int ow = 0; ow < wo; ow += 16) {
      const int count = wo - ow < 16 ? wo - ow : 16;
      const __mmask16 lo = __mmask16(count >= 8 ? 0xffff : (1u << (2 * count)) - 1);
      const __mmask16 hi = __mmask16(count > 8 ? (1u << (2 * (count - 8))) - 1 : 0);
      const __mmask16 outs = __mmask16((1u << count) - 1);
      const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ow), a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ow + 16);
      const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ow), b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ow + 16);
      // Candidates row by row; each replaces the maximum when greater or NaN.
      const __m512 candidates[3] = {_mm512_permutex2var_ps(a0, odd, a1), _mm512_permutex2var_ps(b0, even, b1),
                                    _mm512_permutex2var_ps(b0, odd, b1)};
      const int offsets[3] = {1, w, w + 1};
      __m512 best = _mm512_permutex2var_ps(a0, even, a1);
      __m512i where = _mm512_setzero_si512();
      for (int c = 0; c < 3; ++c) {
        const __m512 v = candidates[c];
        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, take, v);
        where = _mm512_mask_mov_epi32(where, take, _mm512_set1_epi32(offsets[c]));
      }
      _mm512_mask_storeu_ps(out + oh * wo + ow, outs, best);
      if (!arg) continue;
      // Position in the plane: the window's first pixel plus the winner's offset.
      const __m512i first = _mm512_add_epi32(_mm512_set1_epi32(2 * oh * w + 2 * ow), even);
      _mm512_mask_storeu_epi32(arg + oh * wo + ow, outs, _mm512_add_epi32(first, where));
    }
  }
}

}  // namespace mnistlab::cpu
