// Every activation behind the seam (Backend::activation_forward and
// activation_backward) against its definition in double, over [-12, 12] and
// at 0, on 1 and 2 threads (the count is above the backend's threshold for a
// second thread), and one thread against two value by value. GELU's and
// SiLU's kernels compute exp and erf with polynomials of their own
// (kernels/cpu/elementwise.cpp), held to 1e-6 relative.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/backend.h"

using namespace mnistlab;

namespace {

struct ActivationCase {
  const char* name;
  Activation f;
  float slope;
  double (*y)(double x, double slope);
  double (*dydx)(double x, double slope);
};

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double cdf(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const ActivationCase kCases[] = {
    {"relu", Activation::ReLU, 0.f, [](double x, double) { return x > 0 ? x : 0.0; },
     [](double x, double) { return x > 0 ? 1.0 : 0.0; }},
    {"sigmoid", Activation::Sigmoid, 0.f, [](double x, double) { return sigmoid(x); },
     [](double x, double) { return sigmoid(x) * (1 - sigmoid(x)); }},
    {"tanh", Activation::Tanh, 0.f, [](double x, double) { return std::tanh(x); },
     [](double x, double) { return 1 - std::tanh(x) * std::tanh(x); }},
    {"gelu", Activation::GELU, 0.f, [](double x, double) { return x * cdf(x); },
     [](double x, double) { return cdf(x) + x * phi(x); }},
    {"silu", Activation::SiLU, 0.f, [](double x, double) { return x * sigmoid(x); },
     [](double x, double) { return sigmoid(x) * (1 + x * (1 - sigmoid(x))); }},
    {"leakyrelu", Activation::LeakyReLU, 0.01f, [](double x, double s) { return x > 0 ? x : s * x; },
     [](double x, double s) { return x > 0 ? 1.0 : s; }},
    {"leakyrelu_0.2", Activation::LeakyReLU, 0.2f, [](double x, double s) { return x > 0 ? x : s * x; },
     [](double x, double s) { return x > 0 ? 1.0 : s; }},
};

// 1e-6 relative (2e-6 here, the kernel's float arithmetic around it), and
// for |x| > 1 two float ulps of 1 times |x|: what 1 + erf(x / sqrt 2)
// (GELU, as PyTorch computes it), 1 - y (Sigmoid's backward) and 1 - y^2
// (Tanh's) lose to cancellation in their tails.
double tolerance(double reference, float x) {
  return 2e-6 * std::fabs(reference) + (std::fabs(x) > 1.f ? 1.2e-7 * std::fabs(x) : 1e-30);
}

class ActivationKernels : public ::testing::TestWithParam<ActivationCase> {};

TEST_P(ActivationKernels, MatchTheDefinitionOnOneAndTwoThreads) {
  const ActivationCase& c = GetParam();
  const size_t count = 240001;  // [-12, 12] in steps of 1e-4, 0 included
  std::vector<float> x(count), dy(count);
  for (size_t i = 0; i < count; ++i) {
    x[i] = float(-12.0 + 1e-4 * double(i));
    dy[i] = 0.5f + float(i % 7) * 0.25f;
  }
  x[120000] = 0.f;
  std::vector<std::vector<float>> ys, dxs;
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    BackendOptions o;
    o.threads = threads;
    const auto backend = make_backend(o);
    std::vector<float> y(count), dx(count);
    backend->activation_forward(c.f, c.slope, x.data(), count, y.data());
    backend->activation_backward(c.f, c.slope, x.data(), y.data(), dy.data(), count, dx.data());
    int bad = 0;
    for (size_t i = 0; i < count && bad < 5; ++i) {
      const double ry = c.y(x[i], c.slope), rdx = dy[i] * c.dydx(x[i], c.slope);
      if (!(std::fabs(y[i] - ry) <= tolerance(ry, x[i]))) {
        ++bad;
        ADD_FAILURE() << c.name << "(" << x[i] << ") = " << y[i] << ", in double " << ry;
      }
      // GELU's derivative Phi(x) + x phi(x) is a difference near its zero at
      // x = -0.75: its float terms' ulps count there (an absolute bound).
      const double dx_bound = 2e-6 * std::fabs(rdx) + 1.2e-7 * std::max(1.f, std::fabs(x[i])) * dy[i];
      if (!(std::fabs(dx[i] - rdx) <= dx_bound)) {
        ++bad;
        ADD_FAILURE() << c.name << "'(" << x[i] << ") * " << dy[i] << " = " << dx[i] << ", in double " << rdx;
      }
    }
    ys.push_back(y);
    dxs.push_back(dx);
  }
  EXPECT_EQ(ys[0], ys[1]) << "two threads compute other values than one";
  EXPECT_EQ(dxs[0], dxs[1]) << "two threads compute other gradients than one";
}

INSTANTIATE_TEST_SUITE_P(EveryActivation, ActivationKernels, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ActivationCase>& info) {
                           std::string name = info.param.name;
                           for (char& ch : name)
                             if (ch == '.') ch = '_';
                           return name;
                         });

}  // namespace
