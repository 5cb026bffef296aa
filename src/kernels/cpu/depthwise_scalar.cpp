// Depthwise convolution kernels in plain C++ for the x86-64 baseline
// (depthwise_kernels.h; the loops are depthwise_body.h's, one float at a time).
#include "kernels/cpu/depthwise_body.h"

namespace mnistlab::cpu {
namespace {

struct Scalar {
  using T = float;
  static constexpr int V = 1;
  static T zero() { return 0.f; }
  static T set1(float v) { return v; }
  static T load(const float* p) { return *p; }
  static void store(float* p, T v) { *p = v; }
  static T load_n(const float* p, int n) { return n > 0 ? *p : 0.f; }
  static void store_n(float* p, T v, int n) {
    if (n > 0) *p = v;
  }
  // Lane masks (depthwise_flat_body.h): a masked-off load reads nothing.
  using M = bool;
  static M mask(unsigned bits) { return bits & 1u; }
  static M both(M a, M b) { return a && b; }
  static T load_m(const float* p, M m) { return m ? *p : 0.f; }
  static T fma(T a, T b, T c) { return a * b + c; }
  static T add(T a, T b) { return a + b; }
  static T relu(T a) { return a > 0.f ? a : 0.f; }
  static void deinterleave2(T a, T b, T& e, T& o) { e = a, o = b; }
  static void interleave2(T e, T o, T& first, T& second) { first = e, second = o; }
  static void store_interleaved2(float* p, T e, T o) { p[0] = e, p[1] = o; }
};

}  // namespace

void depthwise_forward_scalar(const DepthwisePlan& p, const float* x, const float* weight, const float* bias,
                              bool relu, float* y, float* work) {
  depthwise::forward<Scalar>(p, x, weight, bias, relu, y, work);
}

void depthwise_backward_scalar(const DepthwisePlan& p, const float* x, const float* dy, const float* weight,
                               float* dweight, float* dbias, float* dx, float* work) {
  depthwise::backward<Scalar>(p, x, dy, weight, dweight, dbias, dx, work);
}

}  // namespace mnistlab::cpu
