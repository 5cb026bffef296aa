#pragma once
// 3x3 convolution, stride 1, padding 1, by Winograd's minimal filtering
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015): each 2x2 block of outputs comes from a 4x4 block of
// input through 16 products per channel pair instead of 36. The transforms
// use only 0, +-1 and +-1/2, so the rounding stays that of a direct sum.
//
// Layout: the input transform V is [16][Cin][tiles], the weight transform U
// is [16][Cin][Cout], and the 16 products M = U^T V are small GEMMs (K =
// Cin) computed by a register-blocked kernel while V stays in L1, one kernel
// per instruction set (winograd_products.h), chosen at construction; the
// AVX-512 route has its own transforms too (winograd_transforms.h). Tiles are
// processed in blocks of whole rows of tiles, as large as block_floats
// allows: every block reads all of U again, and bench/conv3x3 found 1 MiB
// of V and M per block (the default) faster than L2-sized blocks, by up to
// 1.4x for 28x28 maps and 3x for 256x256 channels.
#include <cstddef>

#include "kernels/cpu/isa.h"

namespace mnistlab::cpu {

struct Winograd3x3 {
  int cin = 0, cout = 0, h = 0, w = 0;  // output size = input size
  int tiles_h = 0, tiles_w = 0;         // 2x2 output tiles; the last row/column may hang over the edge
  Isa isa = Isa::Scalar;                // the product kernel's instruction set
  int tile_cols = 8;                    // its column granularity: one register (8 floats; 16 for AVX-512)
  int block_rows = 1;                   // rows of tiles per block
  int block = 8;                        // product columns per block: its tiles, rounded up to tile_cols

  Winograd3x3() = default;
  // isa: a level this CPU runs (cpu::runs), else mnistlab::Error. block_floats:
  // the V and M of one block together stay within it (at least one row of
  // tiles per block).
  Winograd3x3(int cin, int cout, int h, int w, Isa isa = widest_isa(), size_t block_floats = size_t(1) << 18);
  size_t weight_floats() const { return size_t(16) * cin * cout; }  // U, and the weight gradient's products
  // Floats from one of the 16 planes of V (or M) to the next. A multiple of
  // 4 KiB would put the 16 streams the transforms read or write at once in
  // the same L1 set, so one cache line is added.
  size_t v_step() const { return size_t(cin) * block + 16; }
  size_t m_step() const { return size_t(cout) * block + 16; }
  // A row of the input transform: a zero, the w pixels, then zeros for up to
  // tile_cols - 1 tiles past the last (two columns each) and the last tile's reach.
  int padded_row() const { return 2 * (tiles_w + tile_cols - 1) + 4; }
  size_t workspace_floats() const;  // per image being convolved at once (per thread)
};

// U[16][Cin][Cout] from weight[Cout][Cin][3][3].
void winograd_weight(const Winograd3x3& g, const float* weight, float* u);
// One image: y[Cout][h][w] = conv(x[Cin][h][w]) + bias (may be null), then
// ReLU if relu. Single-threaded; work holds workspace_floats().
void winograd_conv3x3(const Winograd3x3& g, const float* u, const float* x, const float* bias, bool relu,
                      float* y, float* work);

// The weight gradient by the same algorithm read backwards: the forward
// computes y = A^T [(G g G^T) . (B^T d B)] A exactly, so the gradient of
// sum(dy * y) with respect to g is dW = G^T [(A dy A^T) . (B^T d B)] G for
// each 2x2 tile of dy and the 4x4 tile d of input under it. The products
// are summed over tiles and images first, 16 GEMMs with K = tiles, and G^T
// . G is applied once at the end: 16 multiplies per tile and channel pair
// instead of the 36 of im2col's GEMM.
//
// One image: adds to mgrad[16][Cout][Cin] the products of its tiles.
// Single-threaded; work holds workspace_floats() (V takes the Cin rows, the
// transformed dy the Cout rows).
void winograd_weight_products(const Winograd3x3& g, const float* x, const float* dy, float* mgrad, float* work);
// dweight[Cout][Cin][3][3] = G^T M G from the summed mgrad[16][Cout][Cin].
void winograd_weight_gradient(const Winograd3x3& g, const float* mgrad, float* dweight);

}  // namespace mnistlab::cpu
