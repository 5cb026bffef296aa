// MaxPool2d's choice among equal values and NaNs, by hand, as PyTorch's CPU
// kernel makes it (aten/src/ATen/native/cpu/MaxPoolKernel.cpp: a candidate
// replaces the maximum when it is greater or NaN): ties go to the first
// candidate row by row, NaN to the last NaN, on the 2x2 stride-2 path and on
// the general one alike.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/isa.h"
#include "mnistlab/model.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

struct Pooled {
  std::vector<float> y, dx;
};

Pooled pool(const std::vector<float> &x, int h, int w, int k, int stride,
            Isa isa = cpu::widest_isa(), int channels = 1) {
  Model m(image_shape(channels, h, w));
  m.add(MaxPool2d(k, stride));
  m.build(0);
  BackendOptions backend;
  backend.max_isa = isa;
  m.set_backend(backend);
  m.reserve(1);
  const Tensor &y = m.forward(x.data(), 1);
  Pooled p{std::vector<float>(y.data, y.data + y.numel()),
           std::vector<float>(x.size())};
  std::vector<float> dy(p.y.size());
  for (size_t i = 0; i < dy.size(); ++i)
    dy[i] = float(i + 1); // which output sent it
  m.backward(dy.data(), p.dx.data());
  return p;
}

const float kNaN = std::nanf("");

std::vector<Isa> isas() {
  std::vector<Isa> all;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (cpu::runs(isa))
      all.push_back(isa);
  return all;
}

TEST(MaxPool2d, TiesGoToTheFirstCandidateNanToTheLastNan) {
  for (Isa isa : isas()) {
    SCOPED_TRACE(isa_name(isa));
    // Three 2x2 windows side by side and an odd last column (and row) that
    // no window covers: [1 3 | 7 7 | N 1 | 9]
    //                   [3 0 | 7 2 | 5 N | 9]
    //                   [9 9   9 9   9 9   9]
    const std::vector<float> x = {1, 3,    7, 7, kNaN, 1, 9, 3, 0, 7, 2,
                                  5, kNaN, 9, 9, 9,    9, 9, 9, 9, 9};
    const Pooled p = pool(x, 3, 7, 2, 2, isa);
    ASSERT_EQ(p.y.size(), 3u);
    EXPECT_EQ(p.y[0], 3.f);
    EXPECT_EQ(p.y[1], 7.f);
    EXPECT_TRUE(std::isnan(p.y[2]));
    const std::vector<float> want = {0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 3, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_EQ(p.dx[i], want[i]) << i;
  }
}

// Every instruction set against the scalar loop on rows of every width up
// to two 16-output chunks and beyond, with ties (values on a coarse grid).
TEST(MaxPool2d, EveryIsaAgreesWithTheScalarLoop) {
  for (int w : {2, 3, 7, 14, 15, 28, 31, 32, 33, 34, 65, 70}) {
    const int h = 6, channels = 3;
    Rng rng{uint64_t(w)};
    std::vector<float> x(size_t(channels) * h * w);
    for (float &v : x)
      v = float(int(rng.uniform(0.f, 5.f)));
    const Pooled want = pool(x, h, w, 2, 2, Isa::Scalar, channels);
    for (Isa isa : isas()) {
      const Pooled got = pool(x, h, w, 2, 2, isa, channels);
      EXPECT_EQ(got.y, want.y) << isa_name(isa) << " w " << w;
      EXPECT_EQ(got.dx, want.dx) << isa_name(isa) << " w " << w;
    }
  }
}

// One 2x2 window both ways: stride 2 (the 2x2 path) and stride 1 (the general
// loop).
TEST(MaxPool2d, BothPathsChooseTheSamePosition) {
  const std::vector<std::vector<float>> windows = {
      {5, 5, 5, 5}, {kNaN, 1, kNaN, 2}, {1, 4, 4, 2}, {-0.f, 0.f, -1, -2}};
  const int expected[] = {0, 2, 1, 0};
  for (size_t w = 0; w < windows.size(); ++w) {
    const Pooled two = pool(windows[w], 2, 2, 2, 2, cpu::widest_isa());
    const Pooled general = pool(windows[w], 2, 2, 2, 1);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(two.dx[i], i == expected[w] ? 1.f : 0.f)
          << "window " << w << " position " << i;
      EXPECT_EQ(general.dx[i], two.dx[i])
          << "window " << w << " position " << i;
    }
  }
}

} // namespace
