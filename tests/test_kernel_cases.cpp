// One table of kernel cases for every operation behind the seam (the
// Backend of kernels/backend.h), as KernelRoutes (test_kernel_routes.cpp)
// has for the convolutions' routes and ggml's test-backend-ops for its ops.
// A case is one operation on one shape: its inputs, its reference summed in
// double from the operation's published definition (PyTorch's documentation
// of the module the operation implements; never mnistlab's own output), and
// the tolerance of each output. Every case runs on every instruction set
// this CPU runs (forced through BackendOptions::max_isa, as KernelRoutes)
// and on 1 and 2 threads; each op has at least one shape above the
// backend's threshold for a second thread (cpu_backend.cpp's t(): 2^16
// floats; GEMMs and convolutions: 2^20 multiply-adds), so the 2-thread run
// really splits the work. A case checks:
// - every output (forward and backward) against its reference;
// - a linear map's backward as its forward's adjoint, <dy, f(x)> =
//   <f^T(dy), x>, so a backward that does not transpose its forward fails
//   whatever its own reference says;
// - 1 thread against 2, bit for bit wherever the kernel promises it (every
//   thread computes whole elements, planes, channels or images and no sum is
//   split: see test_thread_count.cpp); within the reference's tolerance only
//   for oneDNN's GEMM (Linear) and a convolution's backward, whose threads
//   split sums over the batch;
// - that the case calls exactly the Backend methods it declares (a
//   recording Backend in front of the CPU one: the ForwardingBackend that
//   the guarded backend also is).
// EveryOperationOfTheSeamHasACase reads class Backend's methods from
// src/kernels/backend.h and fails when one has no case here: an operation
// added to the seam needs a case in the table (cases()) before the suite
// passes, and Recording must forward it before this file compiles. The
// optimizers' steps and the losses are here too (their public wrappers,
// mnistlab/loss.h and optim.h, also in test_loss_optim.cpp). ctest runs the Linear and convolution cases again
// with oneDNN capped at AVX2 and SSE4.1 (tests/CMakeLists.txt), since
// max_isa does not reach oneDNN's GEMM. The activation cases were
// test_activation_kernels.cpp's, the pooling and upsampling ones
// test_resample_kernels.cpp's (now here, on every ISA too).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bf16_reference.h"
#include "kernels/backend.h"
#include "kernels/forwarding_backend.h"
#include "kernels/cpu/bf16.h"
#include "kernels/cpu/isa.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

// What the CPU backend measures before it wakes a second thread.
constexpr size_t kFloatsToSplit = size_t(1) << 16;  // cpu_backend.cpp, t(): elementwise, pooling, norm, joins
constexpr size_t kMacsToSplit = size_t(1) << 20;    // gemm.cpp kMinParallelMacs, CpuContext::threads_for

using Floats = std::vector<float>;
using Outputs = std::map<std::string, Floats>;

// The CPU backend, with a note of every method called on it.
class Recording final : public ForwardingBackend {
 public:
  explicit Recording(const BackendOptions& o) : ForwardingBackend(make_backend(o)) {}
  const std::set<std::string>& calls() const { return calls_; }

 protected:
  void enter(const char* op) const override { calls_.insert(op); }

 private:
  mutable std::set<std::string> calls_;
};

// An output's reference: |got - value| <= bound element by element; a bound
// of 0 means got is value rounded to float, exactly (copies, sums and
// products of two floats, which double holds exactly).
struct Want {
  std::vector<double> value, bound;
};

struct Result {
  Outputs out;
  std::string route;  // a convolution's, for the failure message
};

// <dy, f(x)> and <f^T(dy), x> of a linear map, and the sum of the products'
// magnitudes (the scale of their rounding).
struct Adjoint {
  double forward = 0, backward = 0, magnitude = 0;
};

// One case made: its inputs (held by the lambdas), references and checks.
struct Instance {
  std::function<Result(const Backend&)> run;
  std::map<std::string, Want> want;
  // Outputs that 1 and 2 threads may compute in another order (within the
  // reference's bound); every other output must be equal bit for bit.
  std::set<std::string> close_across_threads;
  // Properties of outputs no elementwise reference can give (dropout's mask).
  std::function<void(const Outputs&)> check;
  std::function<Adjoint(const Outputs&)> adjoint;
};

struct KernelCase {
  std::string op;     // what the case is named by: "conv2d", "batchnorm_train", ...
  std::string shape;  // its shape and parameters, in words
  std::vector<std::string> calls;  // the Backend methods it calls, each of them
  size_t work;                     // what the kernel's thread threshold measures for this shape
  size_t split_at;                 // that threshold; 0: a serial kernel
  std::function<Instance()> make;
};

std::string case_id(const KernelCase& c) {
  std::string id = c.op + "_" + c.shape, clean;
  for (char ch : id) {
    const bool word = std::isalnum(static_cast<unsigned char>(ch));
    if (word) clean += ch;
    else if (!clean.empty() && clean.back() != '_') clean += '_';
  }
  while (!clean.empty() && clean.back() == '_') clean.pop_back();
  return clean;
}

Floats random_values(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Rng rng(seed);
  Floats v(n);
  for (float& f : v) f = rng.uniform(lo, hi);
  return v;
}

const float kNaN = std::nanf("");

// Bounds: relative to each value, to the output's largest value, or exact.
std::vector<double> relative(const std::vector<double>& v, double rel) {
  std::vector<double> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = rel * (1 + std::fabs(v[i]));
  return b;
}
std::vector<double> of_largest(const std::vector<double>& v, double rel) {
  double scale = 0;
  for (double x : v) scale = std::max(scale, std::fabs(x));
  return std::vector<double>(v.size(), rel * (scale + 1e-3));
}
std::vector<double> exact(const std::vector<double>& v) { return std::vector<double>(v.size(), 0.0); }

Want relative_want(std::vector<double> v, double rel) {
  auto b = relative(v, rel);
  return {std::move(v), std::move(b)};
}
Want largest_want(std::vector<double> v, double rel) {
  auto b = of_largest(v, rel);
  return {std::move(v), std::move(b)};
}
Want exact_want(std::vector<double> v) {
  auto b = exact(v);
  return {std::move(v), std::move(b)};
}

// Adjoint terms: sum of a[i] * b[i] in double, and of their magnitudes.
void add_dot(const Floats& a, const std::vector<double>& b, double& dot, double& magnitude) {
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    magnitude += std::fabs(double(a[i]) * b[i]);
  }
}
std::vector<double> widen(const Floats& v) { return std::vector<double>(v.begin(), v.end()); }

// ---------------------------------------------------------------- bfloat16 references

// What a bfloat16 kernel multiplies: the inputs rounded (bf16_reference.h's
// definition), or the inputs themselves for float32.
Floats as_multiplied(const Floats& v, bool bf16) {
  if (!bf16) return v;
  Floats r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = bf16_test::nearest_bf16(v[i]);
  return r;
}

// A bfloat16 kernel's output against the double sum of the rounded inputs'
// products: each product of two bfloat16 values is exact in float32 (8 + 8
// significant bits), so the only error is float32 accumulation, whatever its
// order: |got - value| <= gamma_n * sum |terms|, gamma_n = n u / (1 - n u),
// u = 2^-24, n = the additions into that output. n is the reduction length
// plus 16, for the bias and the partial sums of bands, K panels and
// threads. (vdpbf16ps flushes denormal products to zero: none occur with
// these inputs.)
Want accumulation_want(std::vector<double> value, const std::vector<double>& magnitude, size_t reduction) {
  const double nu = double(reduction + 16) * 0x1p-24, gamma = nu / (1 - nu);
  std::vector<double> bound(value.size());
  for (size_t i = 0; i < value.size(); ++i) bound[i] = gamma * magnitude[i] + 1e-30;
  return {std::move(value), std::move(bound)};
}

// ---------------------------------------------------------------- conv2d, conv_transpose2d

// PyTorch's Conv2d (torch.nn.Conv2d's documentation, groups included):
// out[i][co] = bias[co] + sum over the cin/groups channels ci of co's group
// of weight[co][ci - first of the group] cross-correlated with input[i][ci].
// visit(i, co, oh, ow, ci, weight index, ih, iw) for every product.
template <typename F>
void conv_products(const ConvShape& s, int n, F visit) {
  const int cin_g = s.cin / s.groups, cout_g = s.cout / s.groups;
  for (int i = 0; i < n; ++i)
    for (int co = 0; co < s.cout; ++co)
      for (int oh = 0; oh < s.ho(); ++oh)
        for (int ow = 0; ow < s.wo(); ++ow)
          for (int cl = 0; cl < cin_g; ++cl)
            for (int ki = 0; ki < s.k; ++ki)
              for (int kj = 0; kj < s.k; ++kj) {
                const int ih = oh * s.stride - s.pad + ki, iw = ow * s.stride - s.pad + kj;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                const int ci = co / cout_g * cin_g + cl;
                visit(i, co, oh, ow, ci, ((size_t(co) * cin_g + cl) * s.k + ki) * s.k + kj, ih, iw);
              }
}

// A Conv2d of shape s, or the ConvTranspose2d that transposes it (PyTorch's
// ConvTranspose2d: y[i][ci][oh*stride - pad + ki][ow*stride - pad + kj] +=
// x[i][co][oh][ow] * weight[co][ci][ki][kj], weight [in, out, k, k]; its
// output size fixes output_padding). n large enough for a per-image route's
// threads to get images of their own.
//
// bf16: the products of x, weight and dy rounded to bfloat16, with the
// bound of accumulation_want; the bias and its gradient stay float32.
// plan_batch > n: the kernel is planned for a larger batch than it runs
// (an epoch's last), where a bf16 Conv2d leaves oneDNN for its own route.
KernelCase conv_case(const std::string& shape, int n, ConvShape s, bool transposed, bool bf16 = false,
                     int plan_batch = 0) {
  const size_t a_len = size_t(s.cin) * s.h * s.w, b_len = size_t(s.cout) * s.ho() * s.wo();
  const size_t macs = size_t(n) * s.cout * (s.cin / s.groups) * s.k * s.k * s.ho() * s.wo();
  KernelCase c{transposed ? "conv_transpose2d" : "conv2d", shape, {transposed ? "conv_transpose2d" : "conv2d"},
               macs, kMacsToSplit, nullptr};
  c.make = [=] {
    const size_t in_len = transposed ? b_len : a_len, out_len = transposed ? a_len : b_len;
    const int out_channels = transposed ? s.cin : s.cout;
    const size_t out_plane = out_len / out_channels;
    auto x = std::make_shared<Floats>(random_values(n * in_len, 11));
    auto w = std::make_shared<Floats>(random_values(size_t(s.cout) * (s.cin / s.groups) * s.k * s.k, 12, -.5f, .5f));
    auto bias = std::make_shared<Floats>(random_values(out_channels, 13, -.5f, .5f));
    auto dy = std::make_shared<Floats>(random_values(n * out_len, 14));
    const Floats xr = as_multiplied(*x, bf16), wr = as_multiplied(*w, bf16), dyr = as_multiplied(*dy, bf16);
    std::vector<double> y(n * out_len, 0.0), dx(n * in_len, 0.0), dw(w->size(), 0.0), db(out_channels, 0.0);
    std::vector<double> y_mag(y.size()), dx_mag(dx.size(), 0.0), dw_mag(dw.size(), 0.0), db_mag(db.size(), 0.0);
    for (size_t j = 0; j < y.size(); ++j) {
      y[j] = (*bias)[j / out_plane % out_channels];
      y_mag[j] = std::fabs(y[j]);
      db[j / out_plane % out_channels] += (*dy)[j];
      db_mag[j / out_plane % out_channels] += std::fabs((*dy)[j]);
    }
    auto a_at = [&](int i, int ci, int ih, int iw) { return i * a_len + (size_t(ci) * s.h + ih) * s.w + iw; };
    auto b_at = [&](int i, int co, int oh, int ow) {
      return i * b_len + (size_t(co) * s.ho() + oh) * s.wo() + ow;
    };
    conv_products(s, n, [&](int i, int co, int oh, int ow, int ci, size_t wi, int ih, int iw) {
      const size_t a = a_at(i, ci, ih, iw), b = b_at(i, co, oh, ow);
      const size_t in = transposed ? b : a, out = transposed ? a : b;
      y[out] += double(xr[in]) * wr[wi];
      dx[in] += double(dyr[out]) * wr[wi];
      dw[wi] += double(dyr[out]) * xr[in];
      y_mag[out] += std::fabs(double(xr[in]) * wr[wi]);
      dx_mag[in] += std::fabs(double(dyr[out]) * wr[wi]);
      dw_mag[wi] += std::fabs(double(dyr[out]) * xr[in]);
    });
    Instance inst;
    if (bf16) {
      const int cin_g = s.cin / s.groups, cout_g = s.cout / s.groups;
      const size_t y_terms = size_t(transposed ? cout_g : cin_g) * s.k * s.k;
      const size_t dx_terms = size_t(transposed ? cin_g : cout_g) * s.k * s.k;
      const size_t dw_terms = size_t(n) * s.ho() * s.wo();
      inst.want["y"] = accumulation_want(y, y_mag, y_terms);
      inst.want["dx"] = accumulation_want(dx, dx_mag, dx_terms);
      inst.want["dweight"] = accumulation_want(dw, dw_mag, dw_terms);
      inst.want["dbias"] = accumulation_want(db, db_mag, out_len / out_channels * n);
    } else {
      inst.want["y"] = largest_want(y, 1e-5);
      inst.want["dx"] = largest_want(dx, 1e-5);
      inst.want["dweight"] = largest_want(dw, 1e-5);
      inst.want["dbias"] = largest_want(db, 1e-5);
    }
    // A forward splits images (or GEMM rows) among threads; a backward's
    // weight gradient is summed over the batch in each thread's share.
    inst.close_across_threads = {"dx", "dweight", "dbias"};
    inst.run = [=](const Backend& b) {
      const int planned = std::max(n, plan_batch);
      auto kernel = transposed ? b.conv_transpose2d(s, planned, true) : b.conv2d(s, planned, true);
      Floats saved(kernel->saved_floats()), work(kernel->workspace_floats(), kNaN);
      Result r;
      r.route = kernel->route();
      Floats& yo = r.out["y"] = Floats(n * out_len, kNaN);
      Floats& dxo = r.out["dx"] = Floats(n * in_len, kNaN);
      Floats& dwo = r.out["dweight"] = Floats(w->size(), kNaN);
      Floats& dbo = r.out["dbias"] = Floats(out_channels, kNaN);
      kernel->forward(x->data(), n, w->data(), bias->data(), {}, false, yo.data(), {saved.data(), work.data()});
      kernel->backward(x->data(), dy->data(), n, w->data(), dwo.data(), dbo.data(), dxo.data(),
                       {saved.data(), work.data()});
      return r;
    };
    // bf16: the forward's map is of the rounded x, the backward's of the rounded dy.
    inst.adjoint = [=](const Outputs& o) {
      Adjoint a;
      const Floats& yo = o.at("y");
      std::vector<double> linear(yo.size());
      for (size_t j = 0; j < yo.size(); ++j) linear[j] = double(yo[j]) - (*bias)[j / out_plane % out_channels];
      add_dot(dyr, linear, a.forward, a.magnitude);
      add_dot(o.at("dx"), widen(xr), a.backward, a.magnitude);
      return a;
    };
    return inst;
  };
  return c;
}

ConvShape conv_shape(int cin, int h, int w, int cout, int k, int stride, int pad, int groups = 1) {
  ConvShape s{cin, h, w, cout, k, stride, pad};
  s.groups = groups;
  return s;
}

// ---------------------------------------------------------------- linear

// PyTorch's Linear: y = x W^T + b; gradients of <dy, y>: dW = dy^T x, db =
// the column sums of dy, dx = dy W.
KernelCase linear_case(const std::string& shape, int n, int in, int out, bool bias_and_dx, bool bf16 = false) {
  KernelCase c{"linear", shape, {"linear_forward", "linear_backward"}, size_t(n) * in * out, kMacsToSplit, nullptr};
  c.make = [=] {
    auto x = std::make_shared<Floats>(random_values(size_t(n) * in, 21));
    auto w = std::make_shared<Floats>(random_values(size_t(out) * in, 22, -.5f, .5f));
    auto b = std::make_shared<Floats>(random_values(out, 23, -.5f, .5f));
    auto dy = std::make_shared<Floats>(random_values(size_t(n) * out, 24));
    const Floats xr = as_multiplied(*x, bf16), wr = as_multiplied(*w, bf16), dyr = as_multiplied(*dy, bf16);
    std::vector<double> y(size_t(n) * out), dw(size_t(out) * in, 0.0), db(out, 0.0), dx(size_t(n) * in, 0.0);
    std::vector<double> y_mag(y.size()), dw_mag(dw.size(), 0.0), db_mag(db.size(), 0.0), dx_mag(dx.size(), 0.0);
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < out; ++o) {
        double s = bias_and_dx ? (*b)[o] : 0.0, mag = std::fabs(s);
        const double g = dyr[size_t(i) * out + o];
        for (int k = 0; k < in; ++k) {
          s += double(xr[size_t(i) * in + k]) * wr[size_t(o) * in + k];
          mag += std::fabs(double(xr[size_t(i) * in + k]) * wr[size_t(o) * in + k]);
          dw[size_t(o) * in + k] += g * xr[size_t(i) * in + k];
          dw_mag[size_t(o) * in + k] += std::fabs(g * xr[size_t(i) * in + k]);
          dx[size_t(i) * in + k] += g * wr[size_t(o) * in + k];
          dx_mag[size_t(i) * in + k] += std::fabs(g * wr[size_t(o) * in + k]);
        }
        y[size_t(i) * out + o] = s;
        y_mag[size_t(i) * out + o] = mag;
        db[o] += (*dy)[size_t(i) * out + o];
        db_mag[o] += std::fabs((*dy)[size_t(i) * out + o]);
      }
    Instance inst;
    inst.want["y"] = bf16 ? accumulation_want(y, y_mag, in) : largest_want(y, 1e-5);
    inst.want["dweight"] = bf16 ? accumulation_want(dw, dw_mag, n) : largest_want(dw, 1e-5);
    if (bias_and_dx) {
      inst.want["dbias"] = bf16 ? accumulation_want(db, db_mag, n) : largest_want(db, 1e-5);
      inst.want["dx"] = bf16 ? accumulation_want(dx, dx_mag, out) : largest_want(dx, 1e-5);
    }
    // oneDNN's threaded SGEMM promises no order of additions.
    inst.close_across_threads = {"y", "dweight", "dbias", "dx"};
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& yo = r.out["y"] = Floats(size_t(n) * out, kNaN);
      Floats& dwo = r.out["dweight"] = Floats(size_t(out) * in, kNaN);
      be.linear_forward(x->data(), n, in, out, w->data(), bias_and_dx ? b->data() : nullptr, yo.data());
      if (!bias_and_dx) {  // the first layer of a model: no input gradient, and no bias here
        be.linear_backward(x->data(), dy->data(), n, in, out, w->data(), dwo.data(), nullptr, nullptr);
        return r;
      }
      Floats& dbo = r.out["dbias"] = Floats(out, kNaN);
      Floats& dxo = r.out["dx"] = Floats(size_t(n) * in, kNaN);
      be.linear_backward(x->data(), dy->data(), n, in, out, w->data(), dwo.data(), dbo.data(), dxo.data());
      return r;
    };
    if (bias_and_dx)
      inst.adjoint = [=](const Outputs& o) {
        Adjoint a;
        const Floats& yo = o.at("y");
        std::vector<double> linear(yo.size());
        for (size_t j = 0; j < yo.size(); ++j) linear[j] = double(yo[j]) - (*b)[j % out];
        add_dot(dyr, linear, a.forward, a.magnitude);
        add_dot(o.at("dx"), widen(xr), a.backward, a.magnitude);
        return a;
      };
    return inst;
  };
  return c;
}

// ---------------------------------------------------------------- activations

// PyTorch's ReLU, Sigmoid, Tanh, GELU (approximate='none': x Phi(x)), SiLU
// (x sigmoid(x)) and LeakyReLU (x > 0 ? x : slope x), and their derivatives.
double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double cdf(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct ActivationDefinition {
  const char* name;
  Activation f;
  float slope;
  double (*y)(double x, double slope);
  double (*dydx)(double x, double slope);
};

const ActivationDefinition kActivations[] = {
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
    {"leakyrelu slope 0.2", Activation::LeakyReLU, 0.2f, [](double x, double s) { return x > 0 ? x : s * x; },
     [](double x, double s) { return x > 0 ? 1.0 : s; }},
};

// Over [-12, 12] in steps of 1e-4, 0 included (240001 values, above the
// threshold for 2 threads). GELU's and SiLU's kernels compute erf and exp
// with polynomials of their own (kernels/cpu/elementwise.cpp), held to 1e-6
// relative: 2e-6 here (the kernel's float arithmetic around them), and for
// |x| > 1 two float ulps of 1 times |x|, what 1 + erf(x / sqrt 2) (GELU, as
// PyTorch computes it), 1 - y (Sigmoid's backward) and 1 - y^2 (Tanh's) lose
// to cancellation in their tails. GELU's derivative Phi(x) + x phi(x) is a
// difference near its zero at x = -0.75: its float terms' ulps count there
// (an absolute bound).
KernelCase activation_case(const ActivationDefinition& d) {
  const size_t count = 240001;
  KernelCase c{d.name, "240001 values over [-12, 12]", {"activation_forward", "activation_backward"}, count,
               kFloatsToSplit, nullptr};
  c.make = [d, count] {
    auto x = std::make_shared<Floats>(count), dy = std::make_shared<Floats>(count);
    for (size_t i = 0; i < count; ++i) {
      (*x)[i] = float(-12.0 + 1e-4 * double(i));
      (*dy)[i] = 0.5f + float(i % 7) * 0.25f;
    }
    (*x)[120000] = 0.f;
    Want y{std::vector<double>(count), std::vector<double>(count)}, dx = y;
    for (size_t i = 0; i < count; ++i) {
      const float v = (*x)[i];
      y.value[i] = d.y(v, d.slope);
      y.bound[i] = 2e-6 * std::fabs(y.value[i]) + (std::fabs(v) > 1.f ? 1.2e-7 * std::fabs(v) : 1e-30);
      dx.value[i] = (*dy)[i] * d.dydx(v, d.slope);
      dx.bound[i] = 2e-6 * std::fabs(dx.value[i]) + 1.2e-7 * std::max(1.f, std::fabs(v)) * (*dy)[i];
    }
    Instance inst;
    inst.want["y"] = std::move(y);
    inst.want["dx"] = std::move(dx);
    inst.run = [=](const Backend& b) {
      Result r;
      Floats& yo = r.out["y"] = Floats(count, kNaN);
      Floats& dxo = r.out["dx"] = Floats(count, kNaN);
      b.activation_forward(d.f, d.slope, x->data(), count, yo.data());
      b.activation_backward(d.f, d.slope, x->data(), yo.data(), dy->data(), count, dxo.data());
      return r;
    };
    return inst;
  };
  return c;
}

// ---------------------------------------------------------------- batchnorm

// PyTorch's BatchNorm2d (BatchNorm1d: hw = 1): y = (x - E[x]) /
// sqrt(Var[x] + eps) * gamma + beta per channel over [n, hw], with the batch's
// mean and biased variance in training and the running ones in eval. The
// gradients of <dy, y>: dbeta = sum dy, dgamma = sum dy xhat, and dx =
// gamma invstd / m (m dy - sum dy - xhat sum dy xhat) with batch statistics,
// gamma invstd dy with fixed ones. invstd is made in float as the layer makes
// it (nn/batchnorm2d.cpp: 1 / sqrt(var + eps)).
KernelCase batchnorm_case(const std::string& shape, int n, int c, int hw, bool train, float offset) {
  const size_t count = size_t(n) * c * hw;
  std::vector<std::string> calls = {"batchnorm_apply", "batchnorm_backward"};
  if (train) calls.insert(calls.begin(), "channel_mean_var");
  KernelCase kc{train ? "batchnorm_train" : "batchnorm_eval", shape, calls, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    const float eps = 1e-5f;
    auto x = std::make_shared<Floats>(random_values(count, 31, offset - 1.f, offset + 1.f));
    auto dy = std::make_shared<Floats>(random_values(count, 32));
    auto gamma = std::make_shared<Floats>(random_values(c, 33, 0.5f, 1.5f));
    auto beta = std::make_shared<Floats>(random_values(c, 34, -.5f, .5f));
    auto running_mean = std::make_shared<Floats>(random_values(c, 35, offset - .5f, offset + .5f));
    auto running_var = std::make_shared<Floats>(random_values(c, 36, 0.2f, 2.f));
    const double m = double(n) * hw;
    auto at = [&](int i, int ch, int j) { return (size_t(i) * c + ch) * hw + j; };
    std::vector<double> mean(c, 0.0), var(c, 0.0), y(count), dx(count), dgamma(c, 0.0), dbeta(c, 0.0);
    for (int ch = 0; ch < c; ++ch) {
      double s = 0, ss = 0;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < hw; ++j) s += (*x)[at(i, ch, j)];
      mean[ch] = s / m;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < hw; ++j) ss += ((*x)[at(i, ch, j)] - mean[ch]) * ((*x)[at(i, ch, j)] - mean[ch]);
      var[ch] = ss / m;
      const double mu = train ? mean[ch] : (*running_mean)[ch];
      const double invstd = 1.0 / std::sqrt((train ? var[ch] : (*running_var)[ch]) + double(eps));
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < hw; ++j) {
          const double xhat = ((*x)[at(i, ch, j)] - mu) * invstd;
          y[at(i, ch, j)] = xhat * (*gamma)[ch] + (*beta)[ch];
          sum_dy += (*dy)[at(i, ch, j)];
          sum_dy_xhat += (*dy)[at(i, ch, j)] * xhat;
        }
      dgamma[ch] = sum_dy_xhat;
      dbeta[ch] = sum_dy;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < hw; ++j) {
          const double xhat = ((*x)[at(i, ch, j)] - mu) * invstd, g = (*dy)[at(i, ch, j)];
          dx[at(i, ch, j)] = train ? (*gamma)[ch] * invstd / m * (m * g - sum_dy - xhat * sum_dy_xhat)
                                   : (*gamma)[ch] * invstd * g;
        }
    }
    Instance inst;
    if (train) {
      inst.want["mean"] = relative_want(mean, 1e-6);
      inst.want["var"] = relative_want(var, 1e-5);
    }
    inst.want["y"] = largest_want(y, 1e-5);
    inst.want["dx"] = largest_want(dx, 2e-5);
    inst.want["dgamma"] = largest_want(dgamma, 1e-5);
    inst.want["dbeta"] = largest_want(dbeta, 1e-5);
    inst.want["dgamma, dx null"] = inst.want["dgamma"];
    inst.want["dbeta, dx null"] = inst.want["dbeta"];
    inst.run = [=](const Backend& b) {
      Result r;
      Floats mean_f(c), var_f(c);
      if (train) {
        b.channel_mean_var(x->data(), n, c, hw, mean_f.data(), var_f.data(), nullptr);
        r.out["mean"] = mean_f;
        r.out["var"] = var_f;
      } else {
        mean_f = *running_mean;
        var_f = *running_var;
      }
      Floats invstd(c);
      for (int ch = 0; ch < c; ++ch) invstd[ch] = 1.f / std::sqrt(var_f[ch] + eps);
      Floats& yo = r.out["y"] = Floats(count, kNaN);
      b.batchnorm_apply(x->data(), n, c, hw, mean_f.data(), invstd.data(), gamma->data(), beta->data(), yo.data());
      Floats& dxo = r.out["dx"] = Floats(count, kNaN);
      Floats& dg = r.out["dgamma"] = Floats(c, kNaN);
      Floats& dbt = r.out["dbeta"] = Floats(c, kNaN);
      b.batchnorm_backward(x->data(), dy->data(), n, c, hw, mean_f.data(), invstd.data(), gamma->data(), train,
                           dxo.data(), dg.data(), dbt.data(), nullptr);
      // The model's first layer: no input gradient.
      Floats& dg2 = r.out["dgamma, dx null"] = Floats(c, kNaN);
      Floats& db2 = r.out["dbeta, dx null"] = Floats(c, kNaN);
      b.batchnorm_backward(x->data(), dy->data(), n, c, hw, mean_f.data(), invstd.data(), gamma->data(), train,
                           nullptr, dg2.data(), db2.data(), nullptr);
      return r;
    };
    if (!train)  // with fixed statistics the map from x to y - beta is linear
      inst.adjoint = [=](const Outputs& o) {
        Adjoint a;
        const Floats& yo = o.at("y");
        std::vector<double> linear(count), centered(count);
        for (size_t j = 0; j < count; ++j) {
          const int ch = int(j / hw % c);
          linear[j] = double(yo[j]) - (*beta)[ch] +
                      double((*running_mean)[ch]) * (*gamma)[ch] / std::sqrt(double((*running_var)[ch]) + eps);
        }
        add_dot(*dy, linear, a.forward, a.magnitude);
        add_dot(o.at("dx"), widen(*x), a.backward, a.magnitude);
        return a;
      };
    return inst;
  };
  return kc;
}

// ---------------------------------------------------------------- pooling, upsampling

// A map linear in each plane of [n, c, ...]: its weights given by
// each(visit), visit(output index, input index, weight) within a plane, and
// the backend's forward and backward. Forward and backward against the
// definition, and the backward as the forward's transpose.
struct PlaneMap {
  int n, c;
  size_t in_plane, out_plane;
  std::function<void(const std::function<void(size_t, size_t, double)>&)> each;
  std::function<void(const Backend&, const float*, float*)> forward, backward;
};

Instance plane_map_instance(const PlaneMap& p, double rel) {
  const size_t planes = size_t(p.n) * p.c;
  auto x = std::make_shared<Floats>(random_values(planes * p.in_plane, 1));
  auto dy = std::make_shared<Floats>(random_values(planes * p.out_plane, 2));
  std::vector<double> y(planes * p.out_plane, 0.0), dx(planes * p.in_plane, 0.0);
  std::vector<std::pair<std::pair<size_t, size_t>, double>> weights;
  p.each([&](size_t o, size_t i, double w) { weights.push_back({{o, i}, w}); });
  for (size_t q = 0; q < planes; ++q)
    for (const auto& [oi, w] : weights) {
      y[q * p.out_plane + oi.first] += w * (*x)[q * p.in_plane + oi.second];
      dx[q * p.in_plane + oi.second] += w * (*dy)[q * p.out_plane + oi.first];
    }
  Instance inst;
  inst.want["y"] = relative_want(y, rel);
  inst.want["dx"] = relative_want(dx, rel);
  inst.run = [=](const Backend& b) {
    Result r;
    Floats& yo = r.out["y"] = Floats(planes * p.out_plane, kNaN);
    Floats& dxo = r.out["dx"] = Floats(planes * p.in_plane, kNaN);
    p.forward(b, x->data(), yo.data());
    p.backward(b, dy->data(), dxo.data());
    return r;
  };
  inst.adjoint = [=](const Outputs& o) {
    Adjoint a;
    add_dot(*dy, widen(o.at("y")), a.forward, a.magnitude);
    add_dot(o.at("dx"), widen(*x), a.backward, a.magnitude);
    return a;
  };
  return inst;
}

std::string nchw(int n, int c, int h, int w) {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

// PyTorch's AvgPool2d(k, stride, pad) with count_include_pad=True and
// ceil_mode=False: each output the sum of its window's inputs / (k * k),
// padding counted as zeros.
KernelCase avgpool_case(int n, int c, int h, int w, int k, int stride, int pad) {
  const PoolShape s{c, h, w, k, stride, pad};
  KernelCase kc{"avgpool",
                nchw(n, c, h, w) + " k" + std::to_string(k) + " s" + std::to_string(stride) + " p" +
                    std::to_string(pad),
                {"avgpool_forward", "avgpool_backward"},
                size_t(n) * c * h * w,
                kFloatsToSplit,
                nullptr};
  kc.make = [=] {
    PlaneMap p{n, c, size_t(h) * w, size_t(s.ho()) * s.wo(), nullptr, nullptr, nullptr};
    p.each = [s](const std::function<void(size_t, size_t, double)>& visit) {
      for (int oh = 0; oh < s.ho(); ++oh)
        for (int ow = 0; ow < s.wo(); ++ow)
          for (int ki = 0; ki < s.k; ++ki)
            for (int kj = 0; kj < s.k; ++kj) {
              const int ih = oh * s.stride - s.pad + ki, iw = ow * s.stride - s.pad + kj;
              if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
                visit(size_t(oh) * s.wo() + ow, size_t(ih) * s.w + iw, 1.0 / (s.k * s.k));
            }
    };
    p.forward = [s, n](const Backend& b, const float* x, float* y) { b.avgpool_forward(s, x, n, y); };
    p.backward = [s, n](const Backend& b, const float* dy, float* dx) { b.avgpool_backward(s, dy, n, dx); };
    return plane_map_instance(p, 1e-5);
  };
  return kc;
}

// PyTorch's AdaptiveAvgPool2d(1): each plane's mean.
KernelCase global_avgpool_case(int n, int c, int h, int w) {
  const size_t planes = size_t(n) * c;
  const int hw = h * w;
  KernelCase kc{"global_avgpool", nchw(n, c, h, w), {"global_avgpool_forward", "global_avgpool_backward"},
                planes * hw, kFloatsToSplit, nullptr};
  kc.make = [=] {
    PlaneMap p{n, c, size_t(hw), 1, nullptr, nullptr, nullptr};
    p.each = [hw](const std::function<void(size_t, size_t, double)>& visit) {
      for (int j = 0; j < hw; ++j) visit(0, size_t(j), 1.0 / hw);
    };
    p.forward = [=](const Backend& b, const float* x, float* y) { b.global_avgpool_forward(x, planes, hw, y); };
    p.backward = [=](const Backend& b, const float* dy, float* dx) { b.global_avgpool_backward(dy, planes, hw, dx); };
    return plane_map_instance(p, 1e-5);
  };
  return kc;
}

// PyTorch's bilinear source index (align_corners=False): (o + 0.5) / scale
// - 0.5, clamped at 0; the two inputs and the second's weight.
void bilinear_source(int o, int scale, int size, int& i0, int& i1, double& l1) {
  double src = (o + 0.5) / scale - 0.5;
  if (src < 0) src = 0;
  i0 = int(src);
  i1 = std::min(i0 + 1, size - 1);
  l1 = src - i0;
}

// PyTorch's Upsample(scale_factor=scale): nearest (output o reads input
// floor(o / scale)) or bilinear with align_corners=False.
KernelCase upsample_case(int n, int c, int h, int w, int scale, bool bilinear) {
  const UpsampleShape s{c, h, w, scale, bilinear};
  KernelCase kc{bilinear ? "upsample_bilinear" : "upsample_nearest",
                nchw(n, c, h, w) + " scale " + std::to_string(scale),
                {"upsample_forward", "upsample_backward"},
                size_t(n) * c * s.ho() * s.wo(),
                kFloatsToSplit,
                nullptr};
  kc.make = [=] {
    PlaneMap p{n, c, size_t(h) * w, size_t(s.ho()) * s.wo(), nullptr, nullptr, nullptr};
    p.each = [s](const std::function<void(size_t, size_t, double)>& visit) {
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
    p.forward = [s, n](const Backend& b, const float* x, float* y) { b.upsample_forward(s, x, n, y); };
    p.backward = [s, n](const Backend& b, const float* dy, float* dx) { b.upsample_backward(s, dy, n, dx); };
    return plane_map_instance(p, 1e-5);
  };
  return kc;
}

// PyTorch's MaxPool2d(k, stride, pad): each output its window's maximum
// (padding as -inf), the first of equal maxima row by row (PyTorch's CPU
// kernel; test_pooling.cpp has ties and NaN by hand); argmax its position in
// the plane; backward: each dy added at its argmax. The same forward without
// argmax gives the same maxima.
KernelCase maxpool_case(int n, int c, int h, int w, int k, int stride, int pad) {
  const PoolShape s{c, h, w, k, stride, pad};
  KernelCase kc{"maxpool",
                nchw(n, c, h, w) + " k" + std::to_string(k) + " s" + std::to_string(stride) + " p" +
                    std::to_string(pad),
                {"maxpool_forward", "maxpool_backward"},
                size_t(n) * c * h * w,
                kFloatsToSplit,
                nullptr};
  kc.make = [=] {
    const size_t planes = size_t(n) * c, in_plane = size_t(h) * w, out_plane = size_t(s.ho()) * s.wo();
    auto x = std::make_shared<Floats>(random_values(planes * in_plane, 41));
    auto dy = std::make_shared<Floats>(random_values(planes * out_plane, 42));
    std::vector<double> y(planes * out_plane), arg(planes * out_plane), dx(planes * in_plane, 0.0);
    for (size_t q = 0; q < planes; ++q)
      for (int oh = 0; oh < s.ho(); ++oh)
        for (int ow = 0; ow < s.wo(); ++ow) {
          double best = -INFINITY;
          long where = -1;
          for (int ki = 0; ki < k; ++ki)
            for (int kj = 0; kj < k; ++kj) {
              const int ih = oh * stride - pad + ki, iw = ow * stride - pad + kj;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              const double v = (*x)[q * in_plane + size_t(ih) * w + iw];
              if (where < 0 || v > best) best = v, where = long(ih) * w + iw;
            }
          const size_t o = q * out_plane + size_t(oh) * s.wo() + ow;
          y[o] = best;
          arg[o] = double(where);
          dx[q * in_plane + where] += (*dy)[o];
        }
    Instance inst;
    inst.want["y"] = exact_want(y);
    inst.want["y, argmax null"] = exact_want(y);
    inst.want["argmax"] = exact_want(arg);
    inst.want["dx"] = relative_want(dx, 1e-6);  // overlapping windows add in float
    inst.run = [=](const Backend& b) {
      Result r;
      Floats& yo = r.out["y"] = Floats(planes * out_plane, kNaN);
      std::vector<int32_t> argmax(planes * out_plane, -7);
      b.maxpool_forward(s, x->data(), n, yo.data(), argmax.data());
      r.out["argmax"] = Floats(argmax.begin(), argmax.end());
      Floats& y2 = r.out["y, argmax null"] = Floats(planes * out_plane, kNaN);
      b.maxpool_forward(s, x->data(), n, y2.data(), nullptr);
      Floats& dxo = r.out["dx"] = Floats(planes * in_plane, kNaN);
      b.maxpool_backward(s, dy->data(), argmax.data(), n, dxo.data());
      return r;
    };
    // Given its argmax, max pooling is a linear map (a selection).
    inst.adjoint = [=](const Outputs& o) {
      Adjoint a;
      add_dot(*dy, widen(o.at("y")), a.forward, a.magnitude);
      add_dot(o.at("dx"), widen(*x), a.backward, a.magnitude);
      return a;
    };
    return inst;
  };
  return kc;
}

// ---------------------------------------------------------------- dropout, multiply

// PyTorch's Dropout(p) in training: each element zeroed with probability p,
// the others scaled by 1 / (1 - p); the mask is drawn from the seed alone (so
// the same seed gives the same mask on any ISA and thread count, another
// seed another), and the backward multiplies dy by it. Bernoulli draws have
// no elementwise reference: the check is that each mask value is 0 or
// 1 / (1 - p), y = x * mask, and the zeros number p * count within 5
// standard deviations.
KernelCase dropout_case(size_t count, float p) {
  KernelCase kc{"dropout", std::to_string(count) + " values p " + std::to_string(p).substr(0, 4),
                {"dropout_forward", "multiply"}, count, 0 /* serial: the mask depends on the seed alone */, nullptr};
  kc.make = [=] {
    auto x = std::make_shared<Floats>(random_values(count, 51));
    auto dy = std::make_shared<Floats>(random_values(count, 52));
    Instance inst;
    inst.run = [=](const Backend& b) {
      Result r;
      Floats& mask = r.out["mask"] = Floats(count, kNaN);
      Floats& y = r.out["y"] = Floats(count, kNaN);
      b.dropout_forward(x->data(), count, p, 1234, 0, mask.data(), y.data());
      Floats& again = r.out["mask, same seed"] = Floats(count, kNaN);
      Floats& other = r.out["mask, another seed"] = Floats(count, kNaN);
      Floats scratch(count);
      b.dropout_forward(x->data(), count, p, 1234, 0, again.data(), scratch.data());
      b.dropout_forward(x->data(), count, p, 1235, 0, other.data(), scratch.data());
      // The values from the 8th on, drawn as a rank that holds them would.
      Floats& tail = r.out["mask from value 7"] = Floats(count > 7 ? count - 7 : 0, kNaN);
      if (count > 7) b.dropout_forward(x->data() + 7, count - 7, p, 1234, 7, tail.data(), scratch.data());
      Floats& dx = r.out["dx"] = Floats(count, kNaN);
      b.multiply(dy->data(), mask.data(), count, dx.data());
      return r;
    };
    inst.check = [=](const Outputs& o) {
      const Floats &mask = o.at("mask"), &y = o.at("y"), &dx = o.at("dx");
      const double keep_scale = p < 1.f ? 1.0 / (1.0 - double(p)) : 0.0;
      size_t zeros = 0, bad = 0;
      for (size_t i = 0; i < count && bad < 3; ++i) {
        zeros += mask[i] == 0.f;
        const bool mask_ok = mask[i] == 0.f || std::fabs(mask[i] - keep_scale) <= 1e-7 * keep_scale;
        if (!mask_ok || y[i] != (*x)[i] * mask[i] || dx[i] != (*dy)[i] * mask[i]) {
          ++bad;
          ADD_FAILURE() << "dropout [" << i << "]: mask " << mask[i] << " (0 or " << keep_scale << "), x " << (*x)[i]
                        << ", y " << y[i] << ", dy " << (*dy)[i] << ", dx " << dx[i];
        }
      }
      const double mean = double(p) * count, sd = std::sqrt(double(count) * p * (1.0 - p));
      EXPECT_LE(std::fabs(double(zeros) - mean), 5 * sd + 1e-9) << zeros << " of " << count << " dropped, p " << p;
      EXPECT_EQ(o.at("mask, same seed"), mask) << "the same seed drew another mask";
      if (count > 7) {
        EXPECT_EQ(o.at("mask from value 7"), Floats(mask.begin() + 7, mask.end()))
            << "a mask drawn from value 7 on is not the whole mask's tail";
      }
      if (p > 0.f && p < 1.f) {
        EXPECT_NE(o.at("mask, another seed"), mask) << "another seed drew the same mask";
      }
    };
    inst.adjoint = [=](const Outputs& o) {  // given its mask, dropout is linear
      Adjoint a;
      add_dot(*dy, widen(o.at("y")), a.forward, a.magnitude);
      add_dot(o.at("dx"), widen(*x), a.backward, a.magnitude);
      return a;
    };
    return inst;
  };
  return kc;
}

// ---------------------------------------------------------------- memory

// The backend's memory: a block it allocates reads back as zeros; what is
// uploaded reads back unchanged; a copy within it moves values bit for bit
// (the same ranges: from [0, count) to [count, 2 count)); a fill sets every
// value of its range and nothing beyond.
KernelCase memory_case(size_t count) {
  KernelCase kc{"memory", std::to_string(count) + " values",
                {"allocate", "upload", "download", "copy", "fill"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto x = std::make_shared<Floats>(random_values(count, 81, -3.f, 3.f));
    (*x)[count / 2] = kNaN;  // bytes, not values: a NaN moves as it is
    const std::vector<double> zeros(3 * count, 0.0);
    const size_t fill_from = count / 3, fill_count = count - count / 3;  // within the last third, not at its start
    Instance inst;
    inst.want["allocated"] = exact_want(zeros);
    inst.check = [=](const Outputs& out) {
      const Floats& c = out.at("copied");
      const Floats& f = out.at("filled");
      ASSERT_EQ(c.size(), 3 * count);
      ASSERT_EQ(f.size(), 3 * count);
      size_t bad = 0;
      for (size_t i = 0; i < 3 * count; ++i) {
        const float want_c = i < 2 * count ? (*x)[i % count] : 0.f;
        bad += std::memcmp(&c[i], &want_c, sizeof(float)) != 0;
        const float want_f = i >= 2 * count + fill_from && i < 2 * count + fill_from + fill_count ? 0.25f : want_c;
        bad += std::memcmp(&f[i], &want_f, sizeof(float)) != 0;
      }
      EXPECT_EQ(bad, 0u) << "values that upload, copy, fill and download did not move bit for bit";
    };
    inst.run = [=](const Backend& b) {
      Result r;
      const std::unique_ptr<Storage> block = b.allocate(3 * count * sizeof(float));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block->data()) % 64, 0u) << "not aligned for AVX-512";
      float* at = block->as<float>();
      Floats& allocated = r.out["allocated"] = Floats(3 * count, kNaN);
      b.download(at, 3 * count * sizeof(float), allocated.data());
      b.upload(x->data(), count * sizeof(float), at);
      b.copy(at, count, at + count);
      Floats& copied_out = r.out["copied"] = Floats(3 * count, kNaN);
      b.download(at, 3 * count * sizeof(float), copied_out.data());
      b.fill(0.25f, fill_count, at + 2 * count + fill_from);
      Floats& filled_out = r.out["filled"] = Floats(3 * count, kNaN);
      b.download(at, 3 * count * sizeof(float), filled_out.data());
      return r;
    };
    return inst;
  };
  return kc;
}

// BatchNorm's running statistics, as torch.nn.functional.batch_norm keeps
// them in training (running = (1 - momentum) running + momentum batch, the
// variance unbiased by m / (m - 1); num_batches_tracked + 1), and the eval
// forms: mean and invstd from them, and the affine map gamma / sqrt(var +
// eps), beta - mean * that. Each value one float rounding or a few from the
// double reference.
KernelCase batchnorm_running_case(int c, double count) {
  KernelCase kc{"batchnorm_running", std::to_string(c) + " channels, batch of " + std::to_string(long(count)),
                {"batchnorm_update_running", "batchnorm_running_stats", "batchnorm_eval_affine"}, size_t(c), 0,
                nullptr};
  kc.make = [=] {
    const float momentum = 0.1f, eps = 1e-5f;
    auto mean = std::make_shared<Floats>(random_values(c, 91, -2.f, 2.f));
    auto var = std::make_shared<Floats>(random_values(c, 92, 0.f, 3.f));
    auto rm = std::make_shared<Floats>(random_values(c, 93, -1.f, 1.f));
    auto rv = std::make_shared<Floats>(random_values(c, 94, 0.5f, 2.f));
    auto gamma = std::make_shared<Floats>(random_values(c, 95, 0.5f, 1.5f));
    auto beta = std::make_shared<Floats>(random_values(c, 96));
    std::vector<double> new_rm(c), new_rv(c), invstd(c), eval_mean(c), eval_invstd(c), scale(c), shift(c);
    const double unbias = count > 1 ? count / (count - 1) : 1.0;
    for (int i = 0; i < c; ++i) {
      new_rm[i] = (1 - double(momentum)) * (*rm)[i] + double(momentum) * (*mean)[i];
      new_rv[i] = (1 - double(momentum)) * (*rv)[i] + double(momentum) * (*var)[i] * unbias;
      invstd[i] = 1 / std::sqrt(double((*var)[i]) + eps);
      eval_mean[i] = (*rm)[i];
      eval_invstd[i] = 1 / std::sqrt(double((*rv)[i]) + eps);
      scale[i] = (*gamma)[i] * eval_invstd[i];
      shift[i] = (*beta)[i] - (*rm)[i] * scale[i];
    }
    Instance inst;
    inst.want["running_mean"] = relative_want(new_rm, 4e-7);
    inst.want["running_var"] = relative_want(new_rv, 4e-7);
    inst.want["invstd"] = relative_want(invstd, 4e-7);
    inst.want["num_batches_tracked"] = exact_want({8.0});
    inst.want["eval mean"] = exact_want(eval_mean);
    inst.want["eval invstd"] = relative_want(eval_invstd, 4e-7);
    inst.want["scale"] = relative_want(scale, 4e-7);
    inst.want["shift"] = relative_want(shift, 8e-7);
    inst.run = [=](const Backend& b) {
      Result r;
      Floats& rm_out = r.out["running_mean"] = *rm;
      Floats& rv_out = r.out["running_var"] = *rv;
      Floats& invstd_out = r.out["invstd"] = *var;
      Floats& tracked = r.out["num_batches_tracked"] = Floats{7.f};
      b.batchnorm_update_running(c, momentum, eps, count, mean->data(), invstd_out.data(), rm_out.data(),
                                 rv_out.data(), tracked.data());
      Floats& m = r.out["eval mean"] = Floats(c, kNaN);
      Floats& is = r.out["eval invstd"] = Floats(c, kNaN);
      b.batchnorm_running_stats(c, eps, rm->data(), rv->data(), m.data(), is.data());
      Floats& sc = r.out["scale"] = Floats(c, kNaN);
      Floats& sh = r.out["shift"] = Floats(c, kNaN);
      b.batchnorm_eval_affine(c, eps, gamma->data(), beta->data(), rm->data(), rv->data(), sc.data(), sh.data());
      return r;
    };
    return inst;
  };
  return kc;
}

// Elementwise products and sums: float's own rounding of the exact result.
KernelCase multiply_case(size_t count) {
  KernelCase kc{"multiply", std::to_string(count) + " values", {"multiply"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto a = std::make_shared<Floats>(random_values(count, 61, -3.f, 3.f));
    auto b = std::make_shared<Floats>(random_values(count, 62, -3.f, 3.f));
    std::vector<double> out(count);
    for (size_t i = 0; i < count; ++i) out[i] = double((*a)[i]) * (*b)[i];
    Instance inst;
    inst.want["out"] = exact_want(out);
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& o = r.out["out"] = Floats(count, kNaN);
      be.multiply(a->data(), b->data(), count, o.data());
      return r;
    };
    return inst;
  };
  return kc;
}

// Stands for the other ranks of a data-parallel run: their values, added
// by sum() as MPI_Allreduce would; `copies` further ranks hold this rank's
// very doubles (the statistics' sums), so they are multiplied by 1 + copies.
class OtherRanks final : public Communicator {
 public:
  OtherRanks(std::vector<float> theirs, int copies) : theirs_(std::move(theirs)), copies_(copies) {}
  int rank() const override { return 0; }
  int size() const override { return 1 + copies_; }
  int local_size() const override { return size(); }
  void sum(float* data, size_t count) const override {
    for (size_t i = 0; i < count; ++i) data[i] += theirs_[i];
  }
  void sum(double* data, size_t count) const override {
    for (size_t i = 0; i < count; ++i) data[i] *= 1 + copies_;
  }
  // This rank is rank 0: its slice is the first part.
  void sum_slice(float* data, size_t count) const override {
    const Share mine = slice(count);
    for (size_t i = mine.first; i < mine.end; ++i) data[i] += theirs_[i];
  }
  void gather_slices(float* data, size_t count) const override {
    for (size_t i = slice(count).end; i < count; ++i) data[i] = theirs_[i];
  }
  void broadcast(void*, size_t) const override {}
  [[noreturn]] void abort(int code) const override { std::exit(code); }
  std::string describe() const override { return "test ranks"; }

 private:
  std::vector<float> theirs_;
  int copies_;
};

// The gradients' sums over ranks of this rank's slice: each value plus the
// other rank's, one float addition (exact reference); and the other rank's
// slice gathered into this one's values.
KernelCase across_ranks_case(size_t count) {
  KernelCase kc{"sum_slice_and_gather", std::to_string(count) + " values", {"sum_slice_across", "gather_across"}, count, 0,
                nullptr};
  kc.make = [=] {
    auto mine = std::make_shared<Floats>(random_values(count, 65, -3.f, 3.f));
    auto theirs = std::make_shared<Floats>(random_values(count, 66, -3.f, 3.f));
    std::vector<double> out(count);
    for (size_t i = 0; i < count; ++i) out[i] = double((*mine)[i]) + (*theirs)[i];
    Instance inst;
    const size_t half = count / 2;  // rank 0's slice of two
    inst.want["slice"] = exact_want(std::vector<double>(out.begin(), out.begin() + std::ptrdiff_t(half)));
    std::vector<double> gathered(count);
    for (size_t i = 0; i < count; ++i) gathered[i] = i < half ? (*mine)[i] : (*theirs)[i];
    inst.want["gathered"] = exact_want(gathered);
    inst.run = [=](const Backend& be) {
      Result r;
      const OtherRanks other(*theirs, 1);
      Floats sliced = *mine;
      be.sum_slice_across(other, sliced.data(), count);
      r.out["slice"] = Floats(sliced.begin(), sliced.begin() + std::ptrdiff_t(half));
      Floats& g = r.out["gathered"] = *mine;
      be.gather_across(other, g.data(), count);
      return r;
    };
    return inst;
  };
  return kc;
}

// SyncBatchNorm with two more ranks that hold this very batch: the global
// statistics are this batch's, and so is the input gradient, while the
// count the running variance is unbiased with triples. The reference is the
// same backend without `across` (checked against float64 by batchnorm_case).
KernelCase batchnorm_across_case(int n, int c, int hw) {
  const size_t count = size_t(n) * c * hw;
  KernelCase kc{"batchnorm_across_ranks", std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(hw),
                {"channel_mean_var", "batchnorm_backward"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto x = std::make_shared<Floats>(random_values(count, 37, 1.f, 3.f));
    auto dy = std::make_shared<Floats>(random_values(count, 38));
    auto gamma = std::make_shared<Floats>(random_values(c, 39, 0.5f, 1.5f));
    Instance inst;
    inst.run = [=](const Backend& b) {
      Result r;
      const OtherRanks two_more({}, 2);
      for (const Communicator* across : {static_cast<const Communicator*>(nullptr), static_cast<const Communicator*>(&two_more)}) {
        const std::string tag = across ? " across" : "";
        Floats mean(c), var(c);
        const double values = b.channel_mean_var(x->data(), n, c, hw, mean.data(), var.data(), across);
        r.out["count" + tag] = {float(values)};
        Floats invstd(c);
        for (int ch = 0; ch < c; ++ch) invstd[ch] = 1.f / std::sqrt(var[ch] + 1e-5f);
        r.out["mean" + tag] = mean;
        r.out["var" + tag] = var;
        Floats& dx = r.out["dx" + tag] = Floats(count, kNaN);
        Floats& dg = r.out["dgamma" + tag] = Floats(c, kNaN);
        Floats& db = r.out["dbeta" + tag] = Floats(c, kNaN);
        b.batchnorm_backward(x->data(), dy->data(), n, c, hw, mean.data(), invstd.data(), gamma->data(), true,
                             dx.data(), dg.data(), db.data(), across);
      }
      return r;
    };
    inst.check = [=](const Outputs& o) {
      EXPECT_EQ(o.at("count across")[0], 3 * o.at("count")[0]);
      for (const char* name : {"mean", "var", "dx", "dgamma", "dbeta"}) {
        const Floats &local = o.at(name), &global = o.at(std::string(name) + " across");
        for (size_t i = 0; i < local.size(); ++i)
          ASSERT_NEAR(global[i], local[i], 1e-5f * (1.f + std::fabs(local[i]))) << name << "[" << i << "]";
      }
    };
    return inst;
  };
  return kc;
}

// The Add join (x + the skip's output) and its backward's accumulation into
// the skip's gradient (acc += dy).
KernelCase add_case(size_t count) {
  KernelCase kc{"add", std::to_string(count) + " values", {"add", "add_into"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto a = std::make_shared<Floats>(random_values(count, 71, -3.f, 3.f));
    auto b = std::make_shared<Floats>(random_values(count, 72));
    auto acc = std::make_shared<Floats>(random_values(count, 73));
    std::vector<double> sum(count), accumulated(count);
    for (size_t i = 0; i < count; ++i) {
      sum[i] = double((*a)[i]) + (*b)[i];
      accumulated[i] = double((*acc)[i]) + (*a)[i];
    }
    Instance inst;
    inst.want["out"] = exact_want(sum);
    inst.want["acc"] = exact_want(accumulated);
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& o = r.out["out"] = Floats(count, kNaN);
      be.add(a->data(), b->data(), count, o.data());
      Floats& ac = r.out["acc"] = *acc;
      be.add_into(a->data(), count, ac.data());
      return r;
    };
    return inst;
  };
  return kc;
}

// torch.cat([a, b], dim=1) sample by sample, and back: the first part of dy
// written to da (when not null), the second added to db (the skip's
// gradient, which other layers add to as well).
KernelCase concat_case(int n, size_t a_len, size_t b_len) {
  KernelCase kc{"concat", std::to_string(n) + " samples of " + std::to_string(a_len) + " + " + std::to_string(b_len),
                {"concat_samples", "split_samples_accumulate"}, (a_len + b_len) * n, kFloatsToSplit, nullptr};
  kc.make = [=] {
    const size_t y_len = a_len + b_len;
    auto a = std::make_shared<Floats>(random_values(n * a_len, 81));
    auto b = std::make_shared<Floats>(random_values(n * b_len, 82));
    auto dy = std::make_shared<Floats>(random_values(n * y_len, 83));
    auto db0 = std::make_shared<Floats>(random_values(n * b_len, 84));
    std::vector<double> y(n * y_len), da(n * a_len), db(n * b_len);
    for (int s = 0; s < n; ++s) {
      for (size_t i = 0; i < a_len; ++i) {
        y[s * y_len + i] = (*a)[s * a_len + i];
        da[s * a_len + i] = (*dy)[s * y_len + i];
      }
      for (size_t i = 0; i < b_len; ++i) {
        y[s * y_len + a_len + i] = (*b)[s * b_len + i];
        db[s * b_len + i] = double((*db0)[s * b_len + i]) + (*dy)[s * y_len + a_len + i];
      }
    }
    Instance inst;
    inst.want["y"] = exact_want(y);
    inst.want["da"] = exact_want(da);
    inst.want["db"] = exact_want(db);
    inst.want["db, da null"] = exact_want(db);
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& yo = r.out["y"] = Floats(n * y_len, kNaN);
      be.concat_samples(a->data(), a_len, b->data(), b_len, n, yo.data());
      Floats& dao = r.out["da"] = Floats(n * a_len, kNaN);
      Floats& dbo = r.out["db"] = *db0;
      be.split_samples_accumulate(dy->data(), a_len, b_len, n, dao.data(), dbo.data());
      Floats& db2 = r.out["db, da null"] = *db0;
      be.split_samples_accumulate(dy->data(), a_len, b_len, n, nullptr, db2.data());
      return r;
    };
    inst.adjoint = [=](const Outputs& o) {
      Adjoint r;
      add_dot(*dy, widen(o.at("y")), r.forward, r.magnitude);
      add_dot(o.at("da"), widen(*a), r.backward, r.magnitude);
      std::vector<double> db_added(n * b_len);
      const Floats& dbo = o.at("db");
      for (size_t i = 0; i < db_added.size(); ++i) db_added[i] = double(dbo[i]) - (*db0)[i];
      add_dot(*b, db_added, r.backward, r.magnitude);
      return r;
    };
    return inst;
  };
  return kc;
}

// ---------------------------------------------------------------- optimizers

// Bounds proportional to each value (0: exactly 0), plus an absolute floor.
std::vector<double> proportional(const std::vector<double>& v, double rel, double floor) {
  std::vector<double> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = v[i] == 0 && floor == 0 ? 0.0 : rel * std::fabs(v[i]) + floor;
  return b;
}
Want proportional_want(std::vector<double> v, double rel, double floor) {
  auto b = proportional(v, rel, floor);
  return {std::move(v), std::move(b)};
}

// A few steps of an optimizer on `count` parameters, each step with its own
// gradients. The reference follows torch.optim's documented algorithms
// (the pseudocode of SGD, Adam and AdamW), in double from the same float
// inputs and hyperparameters.
// SGD: g = g + wd p; if mu != 0: b = (t > 1 ? mu b + (1 - dampening) g : g),
//   g = nesterov ? g + mu b : b; p = p - lr g.
// Adam: g = g + wd p (AdamW instead: p = p - lr wd p); m = b1 m + (1 - b1) g;
//   v = b2 v + (1 - b2) g^2; m^ = m / (1 - b1^t); v^ = v / (1 - b2^t);
//   p = p - lr m^ / (sqrt(v^) + eps).
// `bad`: that many gradients of the first step are NaN, +inf or -inf, and
// only the step's "finite" answer is checked (false).
constexpr int kOptimizerSteps = 3;

KernelCase sgd_case(const std::string& shape, size_t count, SgdStep s, size_t bad = 0) {
  KernelCase kc{"sgd_step", shape, {"sgd_step"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto p0 = std::make_shared<Floats>(random_values(count, 91));
    std::vector<std::shared_ptr<Floats>> g;
    for (int t = 0; t < kOptimizerSteps; ++t) g.push_back(std::make_shared<Floats>(random_values(count, 92 + t)));
    const float kBad[] = {kNaN, INFINITY, -INFINITY};
    for (size_t j = 0; j < bad; ++j) (*g[0])[(j * 7919) % count] = kBad[j % 3];
    std::vector<double> p(p0->begin(), p0->end()), buf(count, 0.0);
    for (int t = 0; t < kOptimizerSteps; ++t)
      for (size_t i = 0; i < count; ++i) {
        double d = double((*g[t])[i]) + double(s.weight_decay) * p[i];
        if (s.momentum != 0) {
          buf[i] = t == 0 ? d : double(s.momentum) * buf[i] + (1.0 - double(s.dampening)) * d;
          d = s.nesterov ? d + double(s.momentum) * buf[i] : buf[i];
        }
        p[i] -= double(s.lr) * d;
      }
    Instance inst;
    inst.want["finite"] = exact_want({bad ? 0.0 : 1.0});
    if (!bad) {
      inst.want["params"] = relative_want(p, 2e-6);
      if (s.momentum != 0) inst.want["momentum_buffer"] = relative_want(buf, 2e-6);
    }
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& po = r.out["params"] = *p0;
      Floats buf_o(count, kNaN);
      for (int t = 0; t < kOptimizerSteps; ++t) {
        SgdStep step = s;
        step.first = t == 0;
        const bool finite =
            be.sgd_step(step, po.data(), g[t]->data(), s.momentum != 0 ? buf_o.data() : nullptr, count);
        if (t == 0) r.out["finite"] = {finite ? 1.f : 0.f};
      }
      if (bad) r.out.erase("params");
      else if (s.momentum != 0) r.out["momentum_buffer"] = buf_o;
      return r;
    };
    return inst;
  };
  return kc;
}

SgdStep sgd(float lr, float momentum, float dampening, float weight_decay, bool nesterov) {
  SgdStep s;
  s.lr = lr, s.momentum = momentum, s.dampening = dampening, s.weight_decay = weight_decay, s.nesterov = nesterov;
  return s;
}

// Steps first_step + 1 .. first_step + 3 (after first_step steps, m and v
// start from earlier values).
KernelCase adam_case(const std::string& shape, size_t count, AdamStep s, int64_t first_step, size_t bad = 0) {
  KernelCase kc{s.decoupled ? "adamw_step" : "adam_step", shape, {"adam_step"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto p0 = std::make_shared<Floats>(random_values(count, 101));
    auto m0 = std::make_shared<Floats>(first_step ? random_values(count, 102, -.1f, .1f) : Floats(count, 0.f));
    auto v0 = std::make_shared<Floats>(first_step ? random_values(count, 103, 0.f, .05f) : Floats(count, 0.f));
    std::vector<std::shared_ptr<Floats>> g;
    for (int t = 0; t < kOptimizerSteps; ++t) g.push_back(std::make_shared<Floats>(random_values(count, 104 + t)));
    const float kBad[] = {kNaN, INFINITY, -INFINITY};
    for (size_t j = 0; j < bad; ++j) (*g[0])[(j * 7919) % count] = kBad[j % 3];
    std::vector<double> p(p0->begin(), p0->end()), m(m0->begin(), m0->end()), v(v0->begin(), v0->end());
    const double lr = s.lr, b1 = s.beta1, b2 = s.beta2, eps = s.eps, wd = s.weight_decay;
    for (int t = 0; t < kOptimizerSteps; ++t) {
      const double step = double(first_step + 1 + t);
      for (size_t i = 0; i < count; ++i) {
        double grad = (*g[t])[i];
        if (s.decoupled) p[i] -= lr * wd * p[i];
        else grad += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * grad;
        v[i] = b2 * v[i] + (1 - b2) * grad * grad;
        const double m_hat = m[i] / (1 - std::pow(b1, step)), v_hat = v[i] / (1 - std::pow(b2, step));
        p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
      }
    }
    Instance inst;
    inst.want["finite"] = exact_want({bad ? 0.0 : 1.0});
    if (!bad) {
      // Every update is at most about lr; its float rounding is relative to
      // the value it changes.
      inst.want["params"] = relative_want(p, 2e-6);
      // m's two terms (b1 m, (1 - b1) g) reach about 0.2, and their float
      // roundings (up to 7.5e-9 each) stay when the terms cancel.
      inst.want["exp_avg"] = proportional_want(m, 2e-6, 1e-7);
      inst.want["exp_avg_sq"] = proportional_want(v, 2e-6, 1e-12);
    }
    inst.run = [=](const Backend& be) {
      Result r;
      Floats po = *p0, mo = *m0, vo = *v0;
      for (int t = 0; t < kOptimizerSteps; ++t) {
        AdamStep step = s;
        step.step = first_step + 1 + t;
        const bool finite = be.adam_step(step, po.data(), g[t]->data(), mo.data(), vo.data(), count);
        if (t == 0) r.out["finite"] = {finite ? 1.f : 0.f};
      }
      if (!bad) r.out["params"] = po, r.out["exp_avg"] = mo, r.out["exp_avg_sq"] = vo;
      return r;
    };
    return inst;
  };
  return kc;
}

AdamStep adam(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled) {
  AdamStep s;
  s.lr = lr, s.beta1 = beta1, s.beta2 = beta2, s.eps = eps, s.weight_decay = weight_decay, s.decoupled = decoupled;
  return s;
}

// ---------------------------------------------------------------- losses

// nn.CrossEntropyLoss(label_smoothing=eps) from its documentation: with
// log p = log_softmax(z), l_i = -sum_c q_c log p_c for the target q = (1 -
// eps) one_hot(label) + eps / K; the loss is the mean of l_i and its
// gradient (softmax(z) - q) / n. correct: rows whose argmax (the first
// maximum, as torch.argmax) is the label. The losses split their sum over
// the rows among every thread of the backend, at any size (split_at 1).
KernelCase cross_entropy_case(const std::string& shape, int n, int k, float label_smoothing, bool ties = false) {
  KernelCase kc{"cross_entropy", shape, {"cross_entropy"}, size_t(n), 1, nullptr};
  kc.make = [=] {
    auto z = std::make_shared<Floats>(random_values(size_t(n) * k, 111, -4.f, 4.f));
    auto labels = std::make_shared<std::vector<int32_t>>(n);
    Rng rng(112);
    for (int32_t& l : *labels) l = int32_t(rng.uniform(0.f, float(k))) % k;
    if (ties && k > 1)  // equal maxima: the first one is the argmax, so a label on the second is wrong
      for (int i = 0; i < n; i += 3) {
        (*z)[size_t(i) * k] = (*z)[size_t(i) * k + 1] = 5.f;
        (*labels)[i] = i % 2;
      }
    const double eps = label_smoothing;
    double total = 0;
    int right = 0;
    std::vector<double> grad(size_t(n) * k);
    for (int i = 0; i < n; ++i) {
      const float* row = z->data() + size_t(i) * k;
      double top = row[0];
      int best = 0;
      for (int c = 1; c < k; ++c)
        if (row[c] > top) top = row[c], best = c;
      right += best == (*labels)[i];
      double sum = 0;
      for (int c = 0; c < k; ++c) sum += std::exp(double(row[c]) - top);
      const double log_sum = std::log(sum) + top;
      for (int c = 0; c < k; ++c) {
        const double q = (c == (*labels)[i] ? 1 - eps : 0.0) + eps / k;
        total += -q * (double(row[c]) - log_sum);
        grad[size_t(i) * k + c] = (std::exp(double(row[c]) - log_sum) - q) / n;
      }
    }
    Instance inst;
    inst.want["loss"] = relative_want({total / n}, 1e-6);
    inst.want["loss, no gradient"] = relative_want({total / n}, 1e-6);
    inst.want["grad"] = proportional_want(grad, 1e-6, 1e-12);
    inst.want["correct"] = exact_want({double(right)});
    inst.close_across_threads = {"loss", "loss, no gradient"};  // a sum split among the threads
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& go = r.out["grad"] = Floats(size_t(n) * k, kNaN);
      int correct = -1;
      r.out["loss"] = {float(be.cross_entropy(z->data(), n, k, labels->data(), label_smoothing, go.data(), &correct, n))};
      r.out["correct"] = {float(correct)};
      r.out["loss, no gradient"] = {
          float(be.cross_entropy(z->data(), n, k, labels->data(), label_smoothing, nullptr, nullptr, n))};
      return r;
    };
    return inst;
  };
  return kc;
}

// nn.L1Loss and nn.MSELoss (reduction='mean') from their documentation: the
// mean of |x - y| or (x - y)^2 over every element; gradients sign(x - y) /
// count (torch.sign(0) = 0) and 2 (x - y) / count. Every fifth output
// equals its target.
KernelCase regression_case(RegressionLoss kind, size_t count) {
  const bool l1 = kind == RegressionLoss::L1;
  KernelCase kc{l1 ? "l1_loss" : "mse_loss", std::to_string(count) + " values", {"regression_loss"}, count, 1,
                nullptr};
  kc.make = [=] {
    auto out = std::make_shared<Floats>(random_values(count, 121, -2.f, 2.f));
    auto target = std::make_shared<Floats>(random_values(count, 122));
    for (size_t i = 0; i < count; i += 5) (*target)[i] = (*out)[i];
    double sum = 0;
    std::vector<double> grad(count);
    for (size_t i = 0; i < count; ++i) {
      const double d = double((*out)[i]) - (*target)[i];
      sum += l1 ? std::fabs(d) : d * d;
      grad[i] = (l1 ? (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) : 2 * d) / double(count);
    }
    Instance inst;
    inst.want["loss"] = relative_want({sum / double(count)}, 1e-6);
    inst.want["loss, no gradient"] = relative_want({sum / double(count)}, 1e-6);
    inst.want["grad"] = proportional_want(grad, 1e-6, 0);
    inst.close_across_threads = {"loss", "loss, no gradient"};
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& go = r.out["grad"] = Floats(count, kNaN);
      r.out["loss"] = {float(be.regression_loss(kind, out->data(), target->data(), count, go.data(), count))};
      r.out["loss, no gradient"] = {float(be.regression_loss(kind, out->data(), target->data(), count, nullptr, count))};
      return r;
    };
    return inst;
  };
  return kc;
}

// ---------------------------------------------------------------- noise

// The denoising task's noise from its definition (backend.h): SplitMix64
// as Vigna's reference splitmix64.c (prng.di.unimi.it) steps it, the top 24
// bits over 2^24 as u, Box-Muller in double. Uniform and salt-pepper are
// float's rounding of the exact value; Gaussian within float's log, sqrt
// and cos (1e-5 of 1 + |value|).
uint64_t splitmix64_reference(uint64_t state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

KernelCase noise_case(NoiseKind kind, float amount, bool clip, uint64_t first, size_t count) {
  KernelCase kc{"add_noise",
                std::string(noise_name(kind)) + " " + std::to_string(amount).substr(0, 4) + (clip ? " clipped" : "") +
                    " from " + std::to_string(first) + ", " + std::to_string(count) + " values",
                {"add_noise"}, count, kFloatsToSplit, nullptr};
  kc.make = [=] {
    auto clean = std::make_shared<Floats>(random_values(count, 131, 0.f, 1.f));
    const uint64_t seed = 0x5eed + first;
    const uint64_t stream = splitmix64_reference(seed ^ 0x6E6F697365ull);  // "noise"
    auto u = [](uint64_t bits) { return double(bits >> 40) / 16777216.0; };
    std::vector<double> noisy(count);
    for (size_t i = 0; i < count; ++i) {
      const uint64_t r1 = splitmix64_reference(stream + 2 * (first + i));
      double v = (*clean)[i];
      if (kind == NoiseKind::Uniform) v += double(amount) * u(r1);
      else if (kind == NoiseKind::Gaussian)
        v += double(amount) * std::sqrt(-2 * std::log(1 - u(r1))) *
             std::cos(2 * M_PI * u(splitmix64_reference(stream + 2 * (first + i) + 1)));
      else if (u(r1) < amount) v = (r1 & 1) ? 1.0 : 0.0;
      noisy[i] = clip ? std::min(std::max(v, 0.0), 1.0) : v;
    }
    Instance inst;
    inst.want["noisy"] = kind == NoiseKind::Gaussian ? relative_want(noisy, 1e-5) : relative_want(noisy, 1.2e-7);
    inst.run = [=](const Backend& be) {
      Result r;
      Floats& o = r.out["noisy"] = Floats(count, kNaN);
      be.add_noise(kind, amount, clip, seed, first, clean->data(), count, o.data());
      return r;
    };
    return inst;
  };
  return kc;
}

// ---------------------------------------------------------------- the table

// Every operation of the seam, small shapes with odd sizes and edges, and
// for each at least one shape above its threshold for a second thread.
// Adding an operation to Backend: add its cases here (the test below fails
// until some case calls it, and Recording must forward it).
std::vector<KernelCase> cases() {
  std::vector<KernelCase> all;
  // Convolutions (every route, on small shapes: test_kernel_routes.cpp;
  // groups against PyTorch: test_grouped_conv.cpp). Here the default route
  // of each, two large enough for 2 threads.
  all.push_back(conv_case("3x3 s1 p1 n3 8x9x9 to 10", 3, conv_shape(8, 9, 9, 10, 3, 1, 1), false));
  all.push_back(conv_case("3x3 s2 p1 n3 4x7x7 to 5", 3, conv_shape(4, 7, 7, 5, 3, 2, 1), false));
  all.push_back(conv_case("5x5 s1 p0 n2 3x9x8 to 2", 2, conv_shape(3, 9, 8, 2, 5, 1, 0), false));
  all.push_back(conv_case("3x3 s1 p1 n4 8x16x16 to 16", 4, conv_shape(8, 16, 16, 16, 3, 1, 1), false));
  all.push_back(conv_case("3x3 s2 p1 n4 16x28x28 to 32", 4, conv_shape(16, 28, 28, 32, 3, 2, 1), false));
  all.push_back(conv_case("groups 2 3x3 s2 p0 n2 8x9x13 to 4", 2, conv_shape(8, 9, 13, 4, 3, 2, 0, 2), false));
  all.push_back(conv_case("depthwise 3x3 s1 p1 n3 24x31x29 to 48", 3, conv_shape(24, 31, 29, 48, 3, 1, 1, 24), false));
  all.push_back(conv_case("3x3 s2 p1 n3 6x7x7 to 4x14x14", 3, conv_shape(4, 14, 14, 6, 3, 2, 1), true));
  all.push_back(conv_case("3x3 s2 p1 n4 16x16x16 to 8x32x32", 4, conv_shape(8, 32, 32, 16, 3, 2, 1), true));

  all.push_back(linear_case("n3 5 to 7", 3, 5, 7, true));
  all.push_back(linear_case("n1 784 to 10", 1, 784, 10, true));
  all.push_back(linear_case("n64 256 to 128", 64, 256, 128, true));
  all.push_back(linear_case("n5 33 to 9 without bias and dx", 5, 33, 9, false));

  for (const ActivationDefinition& d : kActivations) all.push_back(activation_case(d));

  all.push_back(batchnorm_case("n4 c3 5x7", 4, 3, 35, true, 0.f));
  all.push_back(batchnorm_case("n8 c16 28x28 mean 3", 8, 16, 784, true, 3.f));
  all.push_back(batchnorm_case("1d n64 c32", 64, 32, 1, true, 0.f));
  all.push_back(batchnorm_case("1d n256 c300", 256, 300, 1, true, 0.f));
  all.push_back(batchnorm_case("n2 c5 3x3", 2, 5, 9, false, 0.f));
  all.push_back(batchnorm_case("n8 c16 28x28", 8, 16, 784, false, 1.f));

  all.push_back(maxpool_case(2, 3, 6, 6, 2, 2, 0));
  all.push_back(maxpool_case(2, 3, 7, 33, 2, 2, 0));  // odd: a row and a column no window covers, a 16-wide tail
  all.push_back(maxpool_case(2, 2, 7, 7, 3, 2, 1));
  all.push_back(maxpool_case(1, 3, 9, 9, 3, 1, 1));  // overlapping windows: dx adds
  all.push_back(maxpool_case(8, 16, 28, 28, 2, 2, 0));
  all.push_back(maxpool_case(4, 16, 33, 32, 3, 2, 1));

  all.push_back(avgpool_case(2, 3, 6, 6, 2, 2, 0));
  all.push_back(avgpool_case(2, 2, 7, 7, 2, 2, 0));
  all.push_back(avgpool_case(2, 2, 7, 7, 3, 2, 1));
  all.push_back(avgpool_case(1, 3, 5, 6, 2, 1, 0));
  all.push_back(avgpool_case(2, 2, 7, 9, 4, 3, 2));
  all.push_back(avgpool_case(1, 2, 1, 1, 3, 2, 1));
  all.push_back(avgpool_case(1, 1, 9, 9, 3, 1, 1));
  all.push_back(avgpool_case(1, 2, 8, 5, 5, 4, 2));
  all.push_back(avgpool_case(8, 16, 28, 28, 2, 2, 0));
  all.push_back(avgpool_case(4, 16, 33, 31, 3, 2, 1));

  all.push_back(global_avgpool_case(2, 3, 5, 7));
  all.push_back(global_avgpool_case(3, 2, 1, 1));
  all.push_back(global_avgpool_case(1, 4, 1, 9));
  all.push_back(global_avgpool_case(8, 64, 14, 14));
  all.push_back(global_avgpool_case(2, 3, 30, 31));

  for (bool bilinear : {false, true}) {
    all.push_back(upsample_case(2, 2, 3, 4, 2, bilinear));
    all.push_back(upsample_case(2, 2, 3, 5, 3, bilinear));
    all.push_back(upsample_case(1, 3, 1, 1, 2, bilinear));
    all.push_back(upsample_case(1, 2, 1, 3, 3, bilinear));
    all.push_back(upsample_case(1, 2, 4, 2, 1, bilinear));
    all.push_back(upsample_case(1, 2, 3, 2, 5, bilinear));
    all.push_back(upsample_case(1, 1, 4, 3, 7, bilinear));
    all.push_back(upsample_case(4, 16, 16, 20, 2, bilinear));
    all.push_back(upsample_case(2, 8, 9, 11, 3, bilinear));
  }

  all.push_back(dropout_case(100003, 0.3f));
  all.push_back(dropout_case(1001, 0.5f));
  all.push_back(dropout_case(1000, 0.f));
  all.push_back(dropout_case(1000, 1.f));
  all.push_back(multiply_case(7));
  all.push_back(multiply_case(100003));
  all.push_back(across_ranks_case(7));
  all.push_back(across_ranks_case(100003));
  all.push_back(batchnorm_across_case(4, 3, 49));
  all.push_back(batchnorm_across_case(16, 64, 196));
  all.push_back(add_case(7));
  all.push_back(add_case(100003));
  all.push_back(memory_case(5));
  all.push_back(memory_case(100003));
  all.push_back(batchnorm_running_case(3, 1.0));
  all.push_back(batchnorm_running_case(1024, 128.0 * 49));
  all.push_back(concat_case(3, 5, 7));
  all.push_back(concat_case(16, 8 * 28 * 28, 4 * 28 * 28));
  all.push_back(concat_case(2, 1, 40));

  all.push_back(sgd_case("plain, 7 values", 7, sgd(0.1f, 0.f, 0.f, 0.f, false)));
  all.push_back(sgd_case("momentum 0.9 dampening 0.1 weight decay 0.01, 1001 values", 1001,
                         sgd(0.05f, 0.9f, 0.1f, 0.01f, false)));
  all.push_back(sgd_case("nesterov 0.9 weight decay 5e-4, 100003 values", 100003, sgd(0.1f, 0.9f, 0.f, 5e-4f, true)));
  all.push_back(sgd_case("weight decay without momentum, 100003 values", 100003, sgd(0.02f, 0.f, 0.f, 0.1f, false)));
  all.push_back(sgd_case("non-finite gradients, 1001 values", 1001, sgd(0.1f, 0.9f, 0.f, 0.f, false), 3));
  all.push_back(sgd_case("non-finite gradients, 100003 values", 100003, sgd(0.1f, 0.f, 0.f, 0.f, false), 5));
  all.push_back(adam_case("defaults, 7 values", 7, adam(1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, false), 0));
  all.push_back(adam_case("weight decay 0.01 from step 100, 100003 values", 100003,
                          adam(1e-2f, 0.85f, 0.99f, 1e-6f, 0.01f, false), 100));
  all.push_back(adam_case("weight decay 0.01, 1001 values", 1001, adam(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, true), 0));
  all.push_back(adam_case("weight decay 0.1 from step 7, 100003 values", 100003,
                          adam(3e-3f, 0.95f, 0.999f, 1e-8f, 0.1f, true), 7));
  all.push_back(adam_case("non-finite gradients, 100003 values", 100003,
                          adam(1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, false), 0, 4));

  all.push_back(cross_entropy_case("n3 k5", 3, 5, 0.f));
  all.push_back(cross_entropy_case("n128 k10 label smoothing 0.1", 128, 10, 0.1f));
  all.push_back(cross_entropy_case("n1000 k10 with ties", 1000, 10, 0.f, true));
  all.push_back(cross_entropy_case("n7 k1", 7, 1, 0.3f));
  all.push_back(cross_entropy_case("n64 k47 label smoothing 0.5", 64, 47, 0.5f));
  for (RegressionLoss kind : {RegressionLoss::L1, RegressionLoss::Mse}) {
    all.push_back(regression_case(kind, 7));
    all.push_back(regression_case(kind, 784));
    all.push_back(regression_case(kind, 100003));
  }
  all.push_back(noise_case(NoiseKind::Uniform, 1.f, false, 0, 7));
  all.push_back(noise_case(NoiseKind::Uniform, 0.5f, true, 3136, 100003));
  all.push_back(noise_case(NoiseKind::Gaussian, 0.1f, false, 784, 1001));
  all.push_back(noise_case(NoiseKind::Gaussian, 0.5f, true, 0, 100003));
  all.push_back(noise_case(NoiseKind::SaltPepper, 0.2f, false, 5, 100003));
  return all;
}

const std::vector<KernelCase>& table() {
  static const std::vector<KernelCase> all = cases();
  return all;
}

// Precision::Bf16's operations (convolutions, transposed convolutions,
// Linear; grouped and depthwise convolutions stay float32): the shapes of
// the table above, and shapes whose reductions cross the bfloat16 GEMM's
// 384-deep panels, have odd lengths (a pair padded with zero) and leave
// tails of its 8 x 32 register tile.
std::vector<KernelCase> bf16_cases() {
  std::vector<KernelCase> all;
  all.push_back(conv_case("3x3 s1 p1 n3 8x9x9 to 10", 3, conv_shape(8, 9, 9, 10, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s2 p1 n3 4x7x7 to 5", 3, conv_shape(4, 7, 7, 5, 3, 2, 1), false, true));
  all.push_back(conv_case("5x5 s1 p0 n2 3x9x8 to 2", 2, conv_shape(3, 9, 8, 2, 5, 1, 0), false, true));
  all.push_back(conv_case("3x3 s1 p1 n4 8x16x16 to 16", 4, conv_shape(8, 16, 16, 16, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s2 p1 n4 16x28x28 to 32", 4, conv_shape(16, 28, 28, 32, 3, 2, 1), false, true));
  all.push_back(conv_case("3x3 s1 p1 n4 32x28x28 to 32", 4, conv_shape(32, 28, 28, 32, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s1 p1 n4 1x28x28 to 32", 4, conv_shape(1, 28, 28, 32, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s1 p1 n6 64x4x4 to 40", 6, conv_shape(64, 4, 4, 40, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s2 p1 n5 48x7x7 to 72", 5, conv_shape(48, 7, 7, 72, 3, 2, 1), false, true));
  all.push_back(conv_case("3x3 s1 p1 n4 72x1x1 to 24", 4, conv_shape(72, 1, 1, 24, 3, 1, 1), false, true));
  // Planned for a larger batch: oneDNN's primitives are made for the
  // planned one, so these run mnistlab's own bf16 routes (Winograd on
  // rounded inputs, im2col and tap groups with the bfloat16 GEMM).
  all.push_back(conv_case("3x3 s1 p1 n3 8x9x9 to 10 planned for 5", 3, conv_shape(8, 9, 9, 10, 3, 1, 1), false, true, 5));
  all.push_back(conv_case("3x3 s2 p1 n4 16x28x28 to 32 planned for 6", 4, conv_shape(16, 28, 28, 32, 3, 2, 1), false,
                          true, 6));
  all.push_back(conv_case("3x3 s1 p1 n4 1x28x28 to 32 planned for 5", 4, conv_shape(1, 28, 28, 32, 3, 1, 1), false,
                          true, 5));
  all.push_back(conv_case("3x3 s1 p1 n6 64x4x4 to 40 planned for 8", 6, conv_shape(64, 4, 4, 40, 3, 1, 1), false,
                          true, 8));
  all.push_back(conv_case("3x3 s1 p1 n4 72x1x1 to 24 planned for 5", 4, conv_shape(72, 1, 1, 24, 3, 1, 1), false,
                          true, 5));
  // Batches oneDNN's primitives run in chunks of at most 32 images (64 in 2
  // of 32, 40 in 2 of 20): the weight gradient summed over the chunks.
  all.push_back(conv_case("3x3 s1 p1 n64 8x14x14 to 8 in chunks", 64, conv_shape(8, 14, 14, 8, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s1 p1 n40 24x7x7 to 16 in chunks", 40, conv_shape(24, 7, 7, 16, 3, 1, 1), false, true));
  all.push_back(conv_case("3x3 s2 p1 n3 6x7x7 to 4x14x14", 3, conv_shape(4, 14, 14, 6, 3, 2, 1), true, true));
  all.push_back(conv_case("3x3 s2 p1 n4 16x16x16 to 8x32x32", 4, conv_shape(8, 32, 32, 16, 3, 2, 1), true, true));
  all.push_back(linear_case("n3 5 to 7", 3, 5, 7, true, true));
  all.push_back(linear_case("n1 784 to 10", 1, 784, 10, true, true));
  all.push_back(linear_case("n64 256 to 128", 64, 256, 128, true, true));
  all.push_back(linear_case("n37 801 to 45", 37, 801, 45, true, true));
  all.push_back(linear_case("n5 33 to 9 without bias and dx", 5, 33, 9, false, true));
  return all;
}

// ---------------------------------------------------------------- running a case

std::vector<Isa> isas() {
  std::vector<Isa> all;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (cpu::runs(isa)) all.push_back(isa);
  return all;
}

// got against want, with the first few values out of bounds.
void expect_matches(const Floats& got, const Want& want, const std::string& where) {
  if (got.size() != want.value.size()) {
    ADD_FAILURE() << where << ": " << got.size() << " values, want " << want.value.size();
    return;
  }
  size_t bad = 0, first = 0;
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want.value[i], b = want.bound[i];
    const bool ok = b == 0 ? got[i] == float(w) : std::fabs(double(got[i]) - w) <= b;
    if (ok) continue;
    if (bad++ == 0) first = i;
    const double excess = std::isnan(got[i]) ? INFINITY : std::fabs(double(got[i]) - w) / std::max(b, 1e-300);
    if (excess > worst) worst = excess, worst_at = i;
  }
  if (bad)
    ADD_FAILURE() << where << ": " << bad << " of " << got.size() << " values off; first [" << first << "] "
                  << got[first] << ", want " << want.value[first] << " +- " << want.bound[first] << "; worst ["
                  << worst_at << "] " << got[worst_at] << ", want " << want.value[worst_at] << " +- "
                  << want.bound[worst_at];
}

bool same_bits(const Floats& a, const Floats& b, size_t& first) {
  if (a.size() != b.size()) return first = 0, false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return first = i, false;
  return true;
}

void PrintTo(const KernelCase& c, std::ostream* os) { *os << c.op << " | " << c.shape; }

class KernelCases : public ::testing::TestWithParam<KernelCase> {};

// Runs a case at `precision` on each of `isas` and 1 and 2 threads.
void run_case(const KernelCase& c, Precision precision, const std::vector<Isa>& isa_list) {
  const Instance inst = c.make();
  const std::set<std::string> declared(c.calls.begin(), c.calls.end());
  for (Isa isa : isa_list) {
    Outputs one_thread;
    for (int threads : {1, 2}) {
      const std::string where = c.op + " | " + c.shape + " | " + precision_name(precision) + ", " + isa_name(isa) +
                                ", " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : "");
      SCOPED_TRACE(where);
      BackendOptions o;
      o.max_isa = isa;
      o.threads = threads;
      o.precision = precision;
      const Recording backend(o);
      const Result run = inst.run(backend);
      const std::string at = where + (run.route.empty() ? "" : " (" + run.route + ")");
      EXPECT_EQ(backend.calls(), declared) << at << ": the case calls other Backend methods than it declares";
      for (const auto& [name, got] : run.out) {
        const auto w = inst.want.find(name);
        if (w != inst.want.end()) expect_matches(got, w->second, at + " | " + name);
        else if (!inst.check) ADD_FAILURE() << at << ": output " << name << " has no reference";
      }
      for (const auto& [name, want] : inst.want)
        if (!run.out.count(name)) ADD_FAILURE() << at << ": no output " << name;
      if (inst.check) inst.check(run.out);
      if (inst.adjoint) {
        const Adjoint a = inst.adjoint(run.out);
        EXPECT_LE(std::fabs(a.forward - a.backward), 1e-5 * a.magnitude + 1e-30)
            << at << ": the backward is not the forward's transpose, <dy, f(x)> = " << a.forward
            << ", <f^T(dy), x> = " << a.backward;
      }
      if (threads == 1) {
        one_thread = run.out;
        continue;
      }
      for (const auto& [name, got] : run.out) {
        if (inst.close_across_threads.count(name)) continue;
        size_t first = 0;
        if (!same_bits(one_thread.at(name), got, first))
          ADD_FAILURE() << at << " | " << name << ": 2 threads differ from 1 at [" << first << "]: "
                        << one_thread.at(name)[first] << " and " << got[first];
      }
    }
  }
}

TEST_P(KernelCases, MatchTheDefinitionOnEveryIsaAndOneAndTwoThreads) {
  run_case(GetParam(), Precision::Fp32, isas());
}

class Bf16KernelCases : public ::testing::TestWithParam<KernelCase> {};

// bfloat16 kernels are AVX-512 code: they run at the widest level only.
TEST_P(Bf16KernelCases, MatchTheDefinitionOnRoundedInputsOnOneAndTwoThreads) {
  const std::string why = cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt);
  if (!why.empty()) GTEST_SKIP() << why;
  run_case(GetParam(), Precision::Bf16, {Isa::Avx512});
}

INSTANTIATE_TEST_SUITE_P(Seam, Bf16KernelCases, ::testing::ValuesIn(bf16_cases()),
                         [](const ::testing::TestParamInfo<KernelCase>& info) { return case_id(info.param); });

INSTANTIATE_TEST_SUITE_P(Seam, KernelCases, ::testing::ValuesIn(table()),
                         [](const ::testing::TestParamInfo<KernelCase>& info) { return case_id(info.param); });

// class Backend's methods, read from its declaration in src/kernels/backend.h.
std::set<std::string> seam_operations() {
  std::ifstream in(MNISTLAB_BACKEND_HEADER);
  std::stringstream text;
  text << in.rdbuf();
  std::string source = std::regex_replace(text.str(), std::regex("//[^\n]*"), "");
  const size_t begin = source.find("class Backend {");
  const size_t end = source.find("\n};", begin);
  if (begin == std::string::npos || end == std::string::npos) return {};
  const std::string body = source.substr(begin, end - begin);
  const std::regex method(R"(virtual\s+[^;{}]*?\b([A-Za-z_]\w*)\s*\()");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), method); it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  // What describes the backend rather than computing.
  for (const char* not_an_operation : {"Backend", "options", "threads", "describe"}) names.erase(not_an_operation);
  return names;
}

TEST(KernelCases, EveryOperationOfTheSeamHasACase) {
  const std::set<std::string> seam = seam_operations();
  ASSERT_GE(seam.size(), 20u) << "could not read class Backend's methods from " << MNISTLAB_BACKEND_HEADER;
  std::set<std::string> covered, ids;
  for (const KernelCase& c : table()) {
    covered.insert(c.calls.begin(), c.calls.end());
    EXPECT_TRUE(ids.insert(case_id(c)).second) << "two cases named " << case_id(c);
  }
  for (const std::string& op : seam)
    EXPECT_TRUE(covered.count(op)) << "Backend::" << op
                                   << " has no case: add one to the table in tests/test_kernel_cases.cpp";
  for (const std::string& op : covered)
    EXPECT_TRUE(seam.count(op)) << "a case declares Backend::" << op << ", which backend.h does not";
  std::cout << seam.size() << " operations of the seam, " << table().size() << " cases, on "
            << isas().size() << " instruction sets and 1 and 2 threads\n";
}

// Each threaded operation has a case above its kernel's threshold for a
// second thread, so "2 threads" splits work somewhere.
TEST(KernelCases, EveryThreadedOperationHasACaseThatSplits) {
  std::map<std::string, size_t> largest, threshold;
  for (const KernelCase& c : table())
    for (const std::string& op : c.calls) {
      if (c.split_at == 0) continue;
      threshold[op] = c.split_at;
      if (c.work >= c.split_at) largest[op] = std::max(largest[op], c.work);
    }
  for (const auto& [op, at] : threshold)
    EXPECT_TRUE(largest.count(op)) << "no case of Backend::" << op << " reaches " << at
                                   << ", where its kernel wakes a second thread";
}

}  // namespace
