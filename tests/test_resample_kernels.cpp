// The seam's averaging and upsampling operations (AvgPool2d, the global
// average, Upsample nearest and bilinear) on a table of shapes, on 1 and 2
// threads, against their definitions summed in double; and each backward
// against its forward: <dy, forward(x)> = <backward(dy), x> for the linear
// maps they are, so a backward that does not transpose its forward fails
// whatever its own reference says. Shapes include batches above the
// backend's 64K-float threshold, where a second thread really runs, and
// 1 and 2 threads must agree bit for bit (every plane is one thread's).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

std::vector<float> random_values(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = rng.uniform(-1.f, 1.f);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << what << " [" << i << "]";
}

std::unique_ptr<Backend> backend_with(int threads) {
  BackendOptions o;
  o.threads = threads;
  return make_backend(o);
}

// A linear map's forward and backward through the backend, checked against
// the definition (the weight of input j in output i, visited as
// each(i_plane_offset_out, j_plane_offset_in, weight)) on every plane.
struct Case {
  std::string name;
  int n, c;
  size_t in_plane, out_plane;
  // visit(o, i, weight) for every (output, input) pair of one plane
  std::function<void(const std::function<void(size_t, size_t, double)>&)> each;
  std::function<void(const Backend&, const float*, float*)> forward;
  std::function<void(const Backend&, const float*, float*)> backward;
};

void check(const Case& c) {
  SCOPED_TRACE(c.name);
  const size_t planes = size_t(c.n) * c.c;
  const std::vector<float> x = random_values(planes * c.in_plane, 1), dy = random_values(planes * c.out_plane, 2);
  std::vector<double> y_want(planes * c.out_plane, 0.0), dx_want(planes * c.in_plane, 0.0);
  for (size_t p = 0; p < planes; ++p)
    c.each([&](size_t o, size_t i, double w) {
      y_want[p * c.out_plane + o] += w * x[p * c.in_plane + i];
      dx_want[p * c.in_plane + i] += w * dy[p * c.out_plane + o];
    });
  std::vector<float> first_y, first_dx;
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    const auto b = backend_with(threads);
    std::vector<float> y(y_want.size(), NAN), dx(dx_want.size(), NAN);
    c.forward(*b, x.data(), y.data());
    c.backward(*b, dy.data(), dx.data());
    expect_close(y, y_want, "y");
    expect_close(dx, dx_want, "dx");
    const double forward_side = dot(dy, y), backward_side = dot(dx, x);
    EXPECT_NEAR(forward_side, backward_side, 1e-4 * (1 + std::fabs(forward_side))) << "backward is not forward's transpose";
    if (threads == 1) {
      first_y = y;
      first_dx = dx;
    } else {
      EXPECT_EQ(y, first_y) << "2 threads differ from 1";
      EXPECT_EQ(dx, first_dx) << "2 threads differ from 1";
    }
  }
}

Case avgpool_case(int n, int c, int h, int w, int k, int stride, int pad) {
  const PoolShape s{c, h, w, k, stride, pad};
  Case r{"avgpool " + std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) +
             " k" + std::to_string(k) + " s" + std::to_string(stride) + " p" + std::to_string(pad),
         n, c, size_t(h) * w, size_t(s.ho()) * s.wo(), nullptr, nullptr, nullptr};
  r.each = [s](const std::function<void(size_t, size_t, double)>& visit) {
    for (int oh = 0; oh < s.ho(); ++oh)
      for (int ow = 0; ow < s.wo(); ++ow)
        for (int ki = 0; ki < s.k; ++ki)
          for (int kj = 0; kj < s.k; ++kj) {
            const int ih = oh * s.stride - s.pad + ki, iw = ow * s.stride - s.pad + kj;
            if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
              visit(size_t(oh) * s.wo() + ow, size_t(ih) * s.w + iw, 1.0 / (s.k * s.k));  // padding counts
          }
  };
  r.forward = [s, n](const Backend& b, const float* x, float* y) { b.avgpool_forward(s, x, n, y); };
  r.backward = [s, n](const Backend& b, const float* dy, float* dx) { b.avgpool_backward(s, dy, n, dx); };
  return r;
}

Case global_case(int n, int c, int h, int w) {
  const int hw = h * w;
  Case r{"global average " + std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
             std::to_string(w),
         n, c, size_t(hw), 1, nullptr, nullptr, nullptr};
  r.each = [hw](const std::function<void(size_t, size_t, double)>& visit) {
    for (int j = 0; j < hw; ++j) visit(0, size_t(j), 1.0 / hw);
  };
  const size_t planes = size_t(n) * c;
  r.forward = [planes, hw](const Backend& b, const float* x, float* y) { b.global_avgpool_forward(x, planes, hw, y); };
  r.backward = [planes, hw](const Backend& b, const float* dy, float* dx) {
    b.global_avgpool_backward(dy, planes, hw, dx);
  };
  return r;
}

// PyTorch's bilinear source (align_corners=False), in double: the two inputs
// and their weights.
void bilinear_source(int o, int scale, int size, int& i0, int& i1, double& l1) {
  double src = (o + 0.5) / scale - 0.5;
  if (src < 0) src = 0;
  i0 = int(src);
  i1 = std::min(i0 + 1, size - 1);
  l1 = src - i0;
}

Case upsample_case(int n, int c, int h, int w, int scale, bool bilinear) {
  const UpsampleShape s{c, h, w, scale, bilinear};
  Case r{std::string(bilinear ? "bilinear " : "nearest ") + std::to_string(n) + "x" + std::to_string(c) + "x" +
             std::to_string(h) + "x" + std::to_string(w) + " scale " + std::to_string(scale),
         n, c, size_t(h) * w, size_t(s.ho()) * s.wo(), nullptr, nullptr, nullptr};
  r.each = [s](const std::function<void(size_t, size_t, double)>& visit) {
    for (int oh = 0; oh < s.ho(); ++oh)
      for (int ow = 0; ow < s.wo(); ++ow) {
        const size_t o = size_t(oh) * s.wo() + ow;
        if (!s.bilinear) {
          visit(o, size_t(oh / s.scale) * s.w + ow / s.scale, 1.0);
          continue;
        }
        int h0, h1, w0, w1;
        double lh, lw;
        bilinear_source(oh, s.scale, s.h, h0, h1, lh);
        bilinear_source(ow, s.scale, s.w, w0, w1, lw);
        visit(o, size_t(h0) * s.w + w0, (1 - lh) * (1 - lw));
        visit(o, size_t(h0) * s.w + w1, (1 - lh) * lw);
        visit(o, size_t(h1) * s.w + w0, lh * (1 - lw));
        visit(o, size_t(h1) * s.w + w1, lh * lw);
      }
  };
  r.forward = [s, n](const Backend& b, const float* x, float* y) { b.upsample_forward(s, x, n, y); };
  r.backward = [s, n](const Backend& b, const float* dy, float* dx) { b.upsample_backward(s, dy, n, dx); };
  return r;
}

}  // namespace

TEST(ResampleKernels, AvgPoolMatchesTheDefinition) {
  for (const Case& c : {avgpool_case(2, 3, 6, 6, 2, 2, 0), avgpool_case(2, 2, 7, 7, 2, 2, 0),
                        avgpool_case(2, 2, 7, 7, 3, 2, 1), avgpool_case(1, 3, 5, 6, 2, 1, 0),
                        avgpool_case(2, 2, 7, 9, 4, 3, 2), avgpool_case(1, 2, 1, 1, 3, 2, 1),
                        avgpool_case(1, 1, 9, 9, 3, 1, 1), avgpool_case(1, 2, 8, 5, 5, 4, 2),
                        avgpool_case(8, 16, 28, 28, 2, 2, 0), avgpool_case(4, 16, 33, 31, 3, 2, 1)})
    check(c);
}

TEST(ResampleKernels, GlobalAveragePoolMatchesTheDefinition) {
  for (const Case& c : {global_case(2, 3, 5, 7), global_case(3, 2, 1, 1), global_case(1, 4, 1, 9),
                        global_case(8, 64, 14, 14), global_case(2, 3, 30, 31)})
    check(c);
}

TEST(ResampleKernels, UpsampleMatchesTheDefinition) {
  for (bool bilinear : {false, true})
    for (const Case& c : {upsample_case(2, 2, 3, 4, 2, bilinear), upsample_case(2, 2, 3, 5, 3, bilinear),
                          upsample_case(1, 3, 1, 1, 2, bilinear), upsample_case(1, 2, 1, 3, 3, bilinear),
                          upsample_case(1, 2, 4, 2, 1, bilinear), upsample_case(1, 2, 3, 2, 5, bilinear),
                          upsample_case(1, 1, 4, 3, 7, bilinear), upsample_case(4, 16, 16, 20, 2, bilinear),
                          upsample_case(2, 8, 9, 11, 3, bilinear)})
      check(c);
}
