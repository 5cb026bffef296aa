#pragma once
// Depthwise convolution (groups == input channels, kernels/cpu/grouped_conv.h)
// by direct kernels, one (image, input channel) plane per call, in one
// translation unit per instruction set (depthwise_{scalar,avx2,avx512}.cpp,
// each compiled for its level by CMakeLists.txt; the loops themselves are
// written once, in depthwise_body.h). A depthwise 3x3 layer does 9
// multiply-adds per output: it is bound by memory, not arithmetic, so
// the kernels read each input and output plane once, vectorized over the width.
//
// How a plane is laid out for the loops (the zero padding is written once
// per call, only the image's pixels per plane):
//
//   x's phase planes: the input zero-padded by `pad` on every side, its
//   columns split by their remainder modulo the stride (`stride` planes of
//   hp rows by xq columns): phase r, column q holds padded column
//   q * stride + r. Output column ow's tap (ki, kj) reads phase kj % stride,
//   row oh * stride + ki, column ow + kj / stride: contiguous for every tap
//   and stride, so both strides take the same unmasked vector loads.
//
//   dy planes (backward): dy_rows rows by dq columns, dy's row oh at row
//   dy_top + oh, column lq = (k - 1) / stride, zeros around it. A stride-1
//   layer with pad <= k - 1 has k - 1 - pad zero rows above and dy_rows =
//   h + k - 1, so its input gradient is a convolution of the padded dy
//   with the flipped kernel (k = 3: the forward's loops).
//
//   Input gradient: padded row R = ih + pad, column C = t * stride + r takes
//   w[ki][kj] * dy[(R - ki) / stride][t - (kj - r) / stride] for the taps with
//   R - ki a multiple of the stride inside dy and kj = r (mod stride): a
//   gathered sum per phase r, interleaved into a row of stride * tq columns
//   (no scattered adds), whose columns pad .. pad + w - 1 are dx's row.
//
// Arguments are plain values (no member functions, nothing inline): the
// files share no inline code compiled for another level
// (winograd_products.h says why).
#include <cstddef>
#include <cstdint>

namespace mnistlab::cpu {

// Every width in it is a multiple of 16 floats, so the layout serves every
// instruction set's vectors (AVX-512's 16, AVX2's 8, scalar's 1).
constexpr int kDepthwiseColumns = 16;

// The flat route's lane masks per vector (depthwise_flat_body.h): left,
// right, and the rows above, at and below.
constexpr int kFlatMasks = 5;

struct DepthwisePlan {
  int k, stride, pad;
  int h, w, ho, wo;
  int multiplier;          // output channels per input channel (cout / cin)
  int hp, xq;              // each phase plane of x: hp rows of xq floats
  int lq, dq, tq;          // dy planes: rows of dq floats, dy's row at column lq; tq input-gradient columns per phase
  int dy_top, dy_rows;     // dy planes: zero rows above dy's first, rows in all
  std::size_t phase_floats;  // hp * xq
  std::size_t dy_floats;     // dy_rows * dq, one dy plane
  std::size_t work_floats;   // one call's work: stride phase planes, multiplier dy planes, a row of stride * tq
  // 3x3, stride 1, padding 1, multiplier 1: the plane read in place, no
  // work (depthwise_flat_body.h); masks: kFlatMasks per vector of the
  // instruction set's width over the h * w pixels.
  bool flat;
  const std::uint32_t* masks;
  // AVX-512 only: 3x3, stride 2, padding 1, multiplier 1, wo <= 16, read in
  // place (depthwise_s2_body.h): s2_rows output rows per vector, tap kj's
  // permute of the two input registers and its lanes.
  bool s2;
  int s2_rows;
  std::int32_t s2_index[3][16];
  std::uint32_t s2_mask[3];
};

// y[j] (j < multiplier output planes, ho * wo each) = the depthwise
// convolution of one input plane x (h * w) with weight[j] (k * k floats,
// already scaled by an eval-mode affine), + bias[j] (null: 0), then max(0,
// .) when relu. work: plan.work_floats, whose padding is zero (zero_work).
void depthwise_forward_scalar(const DepthwisePlan& p, const float* x, const float* weight, const float* bias,
                              bool relu, float* y, float* work);
void depthwise_forward_avx2(const DepthwisePlan& p, const float* x, const float* weight, const float* bias,
                            bool relu, float* y, float* work);
void depthwise_forward_avx512(const DepthwisePlan& p, const float* x, const float* weight, const float* bias,
                              bool relu, float* y, float* work);

// One input plane x, its multiplier output gradients dy (ho * wo each) and
// weight[j]: adds to dweight[j] (k * k times kDepthwiseColumns partial
// sums, [tap][lane]) and dbias[j] (kDepthwiseColumns partial sums, unless
// null), and overwrites dx (h * w, unless null). The caller adds the lanes up.
void depthwise_backward_scalar(const DepthwisePlan& p, const float* x, const float* dy, const float* weight,
                               float* dweight, float* dbias, float* dx, float* work);
void depthwise_backward_avx2(const DepthwisePlan& p, const float* x, const float* dy, const float* weight,
                             float* dweight, float* dbias, float* dx, float* work);
void depthwise_backward_avx512(const DepthwisePlan& p, const float* x, const float* dy, const float* weight,
                               float* dweight, float* dbias, float* dx, float* work);

}  // namespace mnistlab::cpu
