// The bfloat16 GEMM of gemm_bf16.h with vdpbf16ps (AVX512_BF16): per
// instruction 16 float32 lanes each gain a[2i] b[2i] + a[2i+1] b[2i+1], so
// both operands are packed as pairs of bfloat16 along K, the pair of A
// broadcast to all lanes, 16 columns of B in a register.
//
// Goto's loop nest: panels of NC columns and KC depth of B packed (and
// rounded) once, blocks of MC rows of A, and a register tile of MR x NR
// (8 x 32: 16 accumulators, enough to cover vdpbf16ps's latency on two
// pipes). Tails of M and K are packed with zeros; tails of N are masked.
//
// vdpbf16ps flushes denormal inputs and outputs to zero (it does not read
// MXCSR): bfloat16 values below 2^-126 count as 0 in the products, where
// the rounded inputs themselves keep PyTorch's denormals.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/bf16.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {
namespace {

constexpr int MR = 8, NR = 32;
// KC even: pairs never straddle a panel. NC 512, not 128: A (a weight) is
// repacked once per panel of B, a quarter as often.
constexpr int KC = 384, MC = 64, NC = 512;
constexpr int KP = KC / 2;

// Shifts by a constant, written masked: GCC 12's plain intrinsics start
// from an "undefined" register and warn that it may be uninitialized.
inline __m512i srl(__m512i v, unsigned n) { return _mm512_maskz_srli_epi32(0xFFFF, v, n); }
inline __m512i sll(__m512i v, unsigned n) { return _mm512_maskz_slli_epi32(0xFFFF, v, n); }

// 16 floats to bfloat16 bits in the low half of each 32-bit lane, rounded
// as bf16_bits (kernels/cpu/bf16.h).
inline __m512i bf16_lanes(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(srl(u, 16), _mm512_set1_epi32(1));
  const __m512i r = srl(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  return _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
}
// Lane i: lo[i] in the low bfloat16, hi[i] in the high one.
inline __m512i pairs(__m512 lo, __m512 hi) {
  return _mm512_or_si512(bf16_lanes(lo), sll(bf16_lanes(hi), 16));
}
inline uint32_t pair(float lo, float hi) { return uint32_t(bf16_bits(lo)) | uint32_t(bf16_bits(hi)) << 16; }
// 32 consecutive floats of one row as 16 pairs: (2i, 2i+1) in lane i.
inline __m512i row_pairs(__m512 a, __m512 b) {
  const __m512i ia = bf16_lanes(a), ib = bf16_lanes(b);
  const __m512i even = _mm512_permutex2var_epi32(
      ia, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), ib);
  const __m512i odd = _mm512_permutex2var_epi32(
      ia, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), ib);
  return _mm512_or_si512(even, sll(odd, 16));
}

// v[j] lane t -> v[t] lane j: 32-bit elements within 128-bit lanes by two
// unpacks, then the four 128-bit lanes by two rounds of shuffle_i32x4 (all
// written masked, for the same GCC 12 warning as srl and sll).
inline void transpose16(__m512i (&v)[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_epi32(0xFFFF, v[i], v[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_epi32(0xFFFF, v[i], v[i + 1]);
  }
  // u[4g + c]: rows 4g..4g+3 of columns 4L + c in lane L.
  for (int g = 0; g < 4; ++g) {
    u[4 * g + 0] = _mm512_maskz_unpacklo_epi64(0xFF, t[4 * g], t[4 * g + 2]);
    u[4 * g + 1] = _mm512_maskz_unpackhi_epi64(0xFF, t[4 * g], t[4 * g + 2]);
    u[4 * g + 2] = _mm512_maskz_unpacklo_epi64(0xFF, t[4 * g + 1], t[4 * g + 3]);
    u[4 * g + 3] = _mm512_maskz_unpackhi_epi64(0xFF, t[4 * g + 1], t[4 * g + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    // Rows 0-7 and 8-15 of columns c, c+8 (0x88) and c+4, c+12 (0xDD).
    const __m512i lo_even = _mm512_maskz_shuffle_i32x4(0xFFFF, u[c], u[4 + c], 0x88), lo_odd = _mm512_maskz_shuffle_i32x4(0xFFFF, u[c], u[4 + c], 0xDD);
    const __m512i hi_even = _mm512_maskz_shuffle_i32x4(0xFFFF, u[8 + c], u[12 + c], 0x88),
                  hi_odd = _mm512_maskz_shuffle_i32x4(0xFFFF, u[8 + c], u[12 + c], 0xDD);
    v[c] = _mm512_maskz_shuffle_i32x4(0xFFFF, lo_even, hi_even, 0x88);
    v[c + 8] = _mm512_maskz_shuffle_i32x4(0xFFFF, lo_even, hi_even, 0xDD);
    v[c + 4] = _mm512_maskz_shuffle_i32x4(0xFFFF, lo_odd, hi_odd, 0x88);
    v[c + 12] = _mm512_maskz_shuffle_i32x4(0xFFFF, lo_odd, hi_odd, 0xDD);
  }
}
inline __mmask16 first(int count) {
  return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// One operand's element (row r, depth p) of op(X): X[r][p], or X[p][r] when transposed.
struct Operand {
  const float* x;
  int ld;
  bool trans;  // op(X)'s depth runs along memory rows: elements (r, p), (r, p+1) are ld apart
};

// Packs rows [r0, r0 + rows) x depth [p0, p0 + depth) of an operand into
// strips of W rows: strip s, pair q, row j at out[(s * KP' + q) * W + j]
// (KP' = pairs in this panel), zeros beyond `rows` and `depth`.
template <int W>
void pack(const Operand& o, int r0, int rows, int p0, int depth, uint32_t* out) {
  const int pairs_n = (depth + 1) / 2, strips = (rows + W - 1) / W;
  if (o.trans) {
    // Depth along memory rows, the rows of a strip contiguous: 16 rows per
    // vector. Pair by pair across all strips, so each memory row is read
    // from start to end (strip by strip, a panel's rows were read in
    // 128-byte pieces a row apart, slower than the products on Linear's
    // input gradient).
    for (int q = 0; q < pairs_n; ++q) {
      const float* lo = o.x + size_t(p0 + 2 * q) * o.ld;
      const bool has_hi = 2 * q + 1 < depth;
      for (int s = 0; s < strips; ++s) {
        uint32_t* dst = out + (size_t(s) * pairs_n + q) * W;
        const int rs = r0 + s * W, live = std::min(W, r0 + rows - rs);
        for (int j = 0; j < W; j += 16) {
          const __mmask16 mask = first(live - j);
          const __m512 l = _mm512_maskz_loadu_ps(mask, lo + rs + j);
          const __m512 h = has_hi ? _mm512_maskz_loadu_ps(mask, lo + o.ld + rs + j) : _mm512_setzero_ps();
          _mm512_mask_storeu_epi32(dst + j, first(W - j), pairs(l, h));
        }
      }
    }
    return;
  }
  for (int s = 0; s < strips; ++s) {
    uint32_t* dst = out + size_t(s) * pairs_n * W;
    const int rs = r0 + s * W, live = std::min(W, r0 + rows - rs);
    // Depth contiguous in memory: 16 rows at a time, each row's 16 pairs
    // one vector, then a 16 x 16 transpose puts each pair's rows side by
    // side (storing them one by one cost more than the products on
    // Linear's forward, where B is the 25088 x 256 weight).
    for (int j0 = 0; j0 < W; j0 += 16) {
      const int width = std::min(16, W - j0), rows_live = std::clamp(live - j0, 0, width);
      int q = 0;
      for (; 2 * q + 32 <= depth; q += 16) {
        __m512i v[16];
        for (int j = 0; j < 16; ++j) {
          if (j >= rows_live) {
            v[j] = _mm512_setzero_si512();
            continue;
          }
          const float* row = o.x + size_t(rs + j0 + j) * o.ld + p0 + 2 * q;
          v[j] = row_pairs(_mm512_loadu_ps(row), _mm512_loadu_ps(row + 16));
        }
        transpose16(v);
        for (int t = 0; t < 16; ++t) {
          uint32_t* to = dst + size_t(q + t) * W + j0;
          _mm512_mask_storeu_epi32(to, first(width), v[t]);
        }
      }
      for (int j = 0; j < width; ++j) {
        const float* row = o.x + size_t(rs + j0 + j) * o.ld + p0;
        for (int qq = q; qq < pairs_n; ++qq)
          dst[qq * W + j0 + j] =
              j < rows_live ? pair(row[2 * qq], 2 * qq + 1 < depth ? row[2 * qq + 1] : 0.f) : 0u;
      }
    }
  }
}

// C[MR x NR] tile (rows `mr`, columns `nr` of it live) = or += A strip x B strip.
void tile(const uint32_t* a, const uint32_t* b, int pairs_n, float* c, int ldc, int mr, int nr, bool add) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int q = 0; q < pairs_n; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * NR), b1 = (__m512bh)_mm512_loadu_si512(b + q * NR + 16);
    for (int r = 0; r < MR; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(int(a[q * MR + r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
    }
  }
  const __mmask16 m0 = first(nr), m1 = first(nr - 16);
  for (int r = 0; r < mr; ++r) {
    float* row = c + size_t(r) * ldc;
    if (add) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(m0, row));
      if (nr > 16) acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, acc[r][0]);
    if (nr > 16) _mm512_mask_storeu_ps(row + 16, m1, acc[r][1]);
  }
}

void gemm_serial(const Operand& A, const Operand& B, int m, int n, int k, float beta, float* c, int ldc) {
  // 384 KiB of B panel on the stack (within libgomp's default thread stack):
  // a thread_local array would be zeroed, so resident, in every thread.
  alignas(64) uint32_t bpack[KP * NC];
  alignas(64) uint32_t apack[KP * MC];
  if (beta != 0.f && beta != 1.f)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[size_t(i) * ldc + j] *= beta;
  // A of one block (M <= MC, K <= KC: a convolution's weight, a Linear's
  // batch of 64) is packed once for all panels of B, not once per panel:
  // on Linear's input gradient (N = 25088) that repacking cost more than
  // the products.
  const bool a_once = m <= MC && k <= KC;
  if (a_once) pack<MR>(A, 0, m, 0, k, apack);
  for (int jc = 0; jc < n; jc += NC) {
    const int nc = std::min(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc), pairs_n = (kc + 1) / 2;
      const bool add = pc > 0 || beta != 0.f;
      // B's element (depth p, column j) is op(B)[p][j]: as an Operand its rows are columns.
      pack<NR>(B, jc, nc, pc, kc, bpack);
      for (int ic = 0; ic < m; ic += MC) {
        const int mc = std::min(MC, m - ic);
        if (!a_once) pack<MR>(A, ic, mc, pc, kc, apack);
        for (int jr = 0; jr < nc; jr += NR)
          for (int ir = 0; ir < mc; ir += MR)
            tile(apack + size_t(ir / MR) * pairs_n * MR, bpack + size_t(jr / NR) * pairs_n * NR, pairs_n,
                 c + size_t(ic + ir) * ldc + jc + jr, ldc, std::min(MR, mc - ir), std::min(NR, nc - jr), add);
      }
    }
  }
}

}  // namespace

void gemm_bf16(int threads, bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b,
               int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[size_t(i) * ldc + j] = beta == 0.f ? 0.f : beta * c[size_t(i) * ldc + j];
    return;
  }
  // op(A)[i][p]: memory a[i*lda + p], or a[p*lda + i] transposed. op(B)[p][j]
  // seen as rows j: b[p*ldb + j] has depth along memory rows (trans in
  // Operand's sense) when B is not transposed.
  const Operand A{a, lda, trans_a}, B{b, ldb, !trans_b};
  if (double(m) * n * k < double(1 << 20)) threads = 1;
  if (threads <= 1) return gemm_serial(A, B, m, n, k, beta, c, ldc);
  // Split the larger side in whole register tiles.
  const bool split_n = n >= m;
  const int unit = split_n ? NR : MR, side = split_n ? n : m;
  const int tiles = (side + unit - 1) / unit, parts = std::min(threads, tiles);
  parallel_for(parts, parts, [&](int t) {
    const int t0 = tiles * t / parts * unit, t1 = std::min(side, tiles * (t + 1) / parts * unit);
    if (t0 >= t1) return;
    if (split_n) {
      const Operand Bt{B.trans ? b + t0 : b + size_t(t0) * ldb, ldb, B.trans};
      gemm_serial(A, Bt, m, t1 - t0, k, beta, c + t0, ldc);
    } else {
      const Operand At{A.trans ? a + t0 : a + size_t(t0) * lda, lda, A.trans};
      gemm_serial(At, B, t1 - t0, n, k, beta, c + size_t(t0) * ldc, ldc);
    }
  });
}

void round_bf16_floats(const float* x, size_t count, float* out) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_si512(out + i, sll(bf16_lanes(_mm512_loadu_ps(x + i)), 16));
  for (; i < count; ++i) out[i] = round_bf16(x[i]);
}

}  // namespace mnistlab::cpu
