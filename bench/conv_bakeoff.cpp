// Bake-off, our side: mnistlab's own convolution routes, reached through the
// seam (kernels/backend.h: Backend::conv2d / conv_transpose2d), on every
// Conv2d / ConvTranspose2d layer shape of the presets (conv_shapes.h, the
// table onednn_conv.cpp times), timed the same way (bench_timing.h), so that
// bench/conv_bakeoff.sh can set each shape's fastest route against oneDNN.
//
// Routes: every BackendOptions that forces one, i.e. max_isa (each level this
// CPU runs) x conv (Auto, Im2col, Winograd) x per_image_min_pixels (the
// default, 1: image by image, huge: the batched tap groups). Options that
// give the same kernel->route() are timed once; the route the defaults give
// (what a model gets) is marked `auto`.
//
// Passes, per (shape, threads, route):
//   fwd_train  forward of a kernel planned with gradients (training rows)
//   fwd_inf    forward of a kernel planned without (evaluation rows)
//   bwd_wgt    backward with dx = nullptr: weight and bias gradients
//   bwd_both   backward with dx: weight, bias and input gradients
//   bwd_data   bwd_both - bwd_wgt: what asking for the input gradient adds.
//              Routes share work between the two (the per-image routes
//              unfold x once for both), so this is the marginal cost, which
//              is what a training step pays; oneDNN's bwd_data is a
//              primitive of its own. Measured as the median of differences
//              within each repeat (bench_timing.h: median_pair_us), so
//              both calls see the same load.
// GF/s: 2 * multiply-adds of a direct convolution over all kernel taps, as
// onednn_conv counts them (bwd_both: twice that).
//
// Before timing, each route is checked: its forward output and input
// gradient on the first two images against the double-precision reference
// (conv_shapes.h's for_each_tap), and the whole batch's output and
// gradients against the auto route's. A route off by more than 1e-4 of the
// largest reference value is marked BAD, and the script leaves it out. A
// forced route whose first forward call takes over 0.1 s and 10 times the
// auto route's forward is marked slow: that one call is reported, no more.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "conv_shapes.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "mnistlab/error.h"
#include "mnistlab/rng.h"

using namespace mnistlab;
using namespace conv_bench;

namespace {

constexpr double kTolerance = 1e-4;  // of the largest reference value
// --precision bf16 against the same float32 references: the inputs' rounding
// (2^-9 relative each) shows; the exact bound is tests/test_kernel_cases.cpp's.
constexpr double kBf16Tolerance = 2e-2;
Precision g_precision = Precision::Fp32;
bool g_auto_only = false;  // the defaults' route alone (bench/bf16_bakeoff.sh)
// A forced route whose first forward call takes longer than both of these is not timed further.
constexpr double kSlowUs = 1e5, kSlowFactor = 10;

// The ConvShape our kernels are planned with. A ConvTranspose2d is described
// by the Conv2d it transposes: that conv's input is the layer's output.
ConvShape conv_shape(const Shape& s) {
  if (!s.deconv) return {s.ic, s.ih, s.iw, s.oc, s.k, s.s, s.p};
  return {s.oc, s.oh, s.ow, s.ic, s.k, s.s, s.p};
}

// A short name for a route, without spaces (the joined table's column).
std::string route_id(std::string r) {
  const std::pair<const char*, const char*> subs[] = {
      {"per-image col2im forward, im2col backward", "convt:img-col2im"},
      {"per image, ", "img:"},
      {" forward, ", "+"},
      {" forward", ""},
      {" input gradient", ""},
      {"winograd/", "wino-"},
      {"flipped im2col", "flip"},
      {"batched, ", "batched:"},
      {" tap groups (exact im2col + GEMM)", "groups"},
      {" tap group (exact im2col + GEMM)", "group"},
  };
  for (const auto& [from, to] : subs)
    for (size_t at; (at = r.find(from)) != std::string::npos;) r.replace(at, std::string(from).size(), to);
  std::replace(r.begin(), r.end(), ' ', '_');
  return r;
}

std::string describe(const BackendOptions& o, const BackendOptions& defaults) {
  std::string d = std::string("isa=") + (o.max_isa ? isa_name(*o.max_isa) : "default");
  d += std::string(" conv=") +
       (o.conv == ConvAlgorithm::Auto ? "auto" : o.conv == ConvAlgorithm::Im2col ? "im2col" : "winograd");
  const int p = o.per_image_min_pixels;
  d += " per_image_min_pixels=" +
       (p == defaults.per_image_min_pixels ? std::string("default") : p == 1 << 30 ? "2^30" : std::to_string(p));
  return d;
}

struct Candidate {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ConvKernel> kernel;
  std::string route, forced;
  bool is_auto = false;
};

// The defaults first (the auto route), then every forcing that gives a route not seen yet.
std::vector<Candidate> candidates(const Shape& s, int threads, const std::vector<Isa>& isas) {
  BackendOptions defaults;
  defaults.threads = threads;
  defaults.precision = g_precision;
  std::vector<BackendOptions> options{defaults};
  for (Isa isa : g_auto_only ? std::vector<Isa>{} : isas)
    for (ConvAlgorithm conv : {ConvAlgorithm::Auto, ConvAlgorithm::Im2col, ConvAlgorithm::Winograd})
      for (int min_pixels : {defaults.per_image_min_pixels, 1, 1 << 30}) {
        BackendOptions o = defaults;
        o.max_isa = isa;
        o.conv = conv;
        o.per_image_min_pixels = min_pixels;
        options.push_back(o);
      }
  std::vector<Candidate> out;
  for (const BackendOptions& o : options) {
    Candidate c;
    c.backend = make_backend(o);
    c.kernel = s.deconv ? c.backend->conv_transpose2d(conv_shape(s), s.n, s.train)
                        : c.backend->conv2d(conv_shape(s), s.n, s.train);
    c.route = c.kernel->route();
    if (std::any_of(out.begin(), out.end(), [&](const Candidate& d) { return d.route == c.route; })) continue;
    c.forced = out.empty() ? "defaults" : describe(o, defaults);
    c.is_auto = out.empty();
    out.push_back(std::move(c));
  }
  return out;
}

// ---------------------------------------------------------------- data and checks

struct Tensors {
  std::vector<float> x, w, bias, dy;
};

Tensors random_tensors(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  auto fill = [&](size_t n, float bound) {
    std::vector<float> v(n);
    for (float& f : v) f = rng.uniform(-bound, bound);
    return v;
  };
  const float wb = 1.f / std::sqrt(float(s.ic * s.k * s.k));  // outputs of order 1, as PyTorch's init gives
  return {fill(size_t(s.n) * s.ic * s.ih * s.iw, 1.f), fill(size_t(s.oc) * s.ic * s.k * s.k, wb),
          fill(s.oc, 0.1f), fill(size_t(s.n) * s.oc * s.oh * s.ow, 1.f)};
}

// Output and input gradient of the first `images` images, in double.
struct Reference {
  int images = 0;
  std::vector<double> y, dx;
};

Reference reference(const Shape& s, const Tensors& t, int images) {
  Shape few = s;
  few.n = images;
  Reference r;
  r.images = images;
  const size_t plane = size_t(s.oh) * s.ow;
  r.y.resize(size_t(images) * s.oc * plane);
  for (size_t i = 0; i < r.y.size(); ++i) r.y[i] = t.bias[(i / plane) % s.oc];
  r.dx.assign(size_t(images) * s.ic * s.ih * s.iw, 0.0);
  for_each_tap(few, [&](size_t xi, size_t yi, size_t wi) {
    r.y[yi] += double(t.x[xi]) * t.w[wi];
    r.dx[xi] += double(t.dy[yi]) * t.w[wi];
  });
  return r;
}

// max |got - want| over the first want.size() values, relative to max |want|.
template <class T>
double rel_diff(const std::vector<float>& got, const std::vector<T>& want) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return std::isfinite(diff) ? diff / std::max(scale, 1e-30) : INFINITY;
}

struct Outputs {
  std::vector<float> y, dx, dw, db;
};

// ---------------------------------------------------------------- benchmark

// The check column: ok, BAD (failed its check) or slow (one call, see bench_shape).
void print_line(const Shape& s, const char* pass, int threads, double us, double flop_factor, const Candidate& c,
                bool ok, const char* mark = "ok") {
  const double gflop = 2.0 * s.macs() * 1e-9 * flop_factor;
  std::printf("%-46s %-9s t%d %10.1f us %7.1f GF/s ext %4.2f  %-4s %-4s %s\n", s.name.c_str(), pass, threads, us,
              gflop / us * 1e6, g_line_foreign, c.is_auto ? "auto" : "-", ok ? mark : "BAD", route_id(c.route).c_str());
}

void bench_shape(const Shape& s, int threads, const std::vector<Isa>& isas, bool list_only) {
  std::vector<Candidate> cands = candidates(s, threads, isas);
  if (list_only) {
    for (const Candidate& c : cands)
      std::printf("%-46s t%d %-4s %-40s %s  [%s]\n", s.name.c_str(), threads, c.is_auto ? "auto" : "-",
                  route_id(c.route).c_str(), c.route.c_str(), c.forced.c_str());
    return;
  }
  const Tensors t = random_tensors(s, 1000 + s.layer);
  const Reference ref = reference(s, t, std::min(s.n, 2));
  const size_t y_len = size_t(s.n) * s.oc * s.oh * s.ow, x_len = t.x.size();
  Outputs want;  // the auto route's
  double auto_fwd_us = 0;
  for (Candidate& c : cands) {
    ConvKernel& k = *c.kernel;
    std::vector<float> saved(k.saved_floats()), work(k.workspace_floats());
    const KernelMemory mem{saved.data(), work.data()};
    Outputs got{std::vector<float>(y_len, NAN), std::vector<float>(), std::vector<float>(), std::vector<float>()};
    auto forward = [&] { k.forward(t.x.data(), s.n, t.w.data(), t.bias.data(), {}, false, got.y.data(), mem); };
    const CpuSample before = cpu_sample();
    forward();
    const CpuSample after = cpu_sample();
    const double once_us = std::chrono::duration<double, std::micro>(after.wall - before.wall).count();
    // Check: against double on the first images, against the auto route on the whole batch.
    double worst = rel_diff(got.y, ref.y);
    char buf[240];
    std::snprintf(buf, sizeof buf, "vs double (%d images): y %.1e", ref.images, worst);
    std::string note = buf;
    if (s.train) {
      got.dx.assign(x_len, NAN), got.dw.assign(t.w.size(), NAN), got.db.assign(s.oc, NAN);
      k.backward(t.x.data(), t.dy.data(), s.n, t.w.data(), got.dw.data(), got.db.data(), got.dx.data(), mem);
      const double dx = rel_diff(got.dx, ref.dx);
      worst = std::max(worst, dx);
      std::snprintf(buf, sizeof buf, " dx %.1e", dx);
      note += buf;
    }
    if (c.is_auto) {
      want = got;
    } else {
      double vy = rel_diff(got.y, want.y), vdx = 0, vdw = 0, vdb = 0;
      if (s.train) vdx = rel_diff(got.dx, want.dx), vdw = rel_diff(got.dw, want.dw), vdb = rel_diff(got.db, want.db);
      worst = std::max({worst, vy, vdx, vdw, vdb});
      std::snprintf(buf, sizeof buf, "; vs auto (%d images): y %.1e", s.n, vy);
      note += buf;
      if (s.train) {
        std::snprintf(buf, sizeof buf, " dx %.1e dw %.1e db %.1e", vdx, vdw, vdb);
        note += buf;
      }
    }
    const bool ok = worst <= (g_precision == Precision::Bf16 ? kBf16Tolerance : kTolerance);
    std::printf("check %-46s t%d %-4s %-3s %-34s %s | %s [%s]\n", s.name.c_str(), threads, c.is_auto ? "auto" : "-",
                ok ? "ok" : "BAD", route_id(c.route).c_str(), note.c_str(), c.route.c_str(), c.forced.c_str());
    std::fflush(stdout);

    // A forced route far slower than auto (image by image on VGG-BN's 2x2
    // maps at batch 1000: seconds per call) cannot win: its one call is
    // reported, marked slow, and it is not timed further.
    if (!c.is_auto && once_us > kSlowUs && once_us > kSlowFactor * auto_fwd_us) {
      g_line_foreign = foreign_cores(before, after);
      print_line(s, s.train ? "fwd_train" : "fwd_inf", threads, once_us, 1, c, ok, "slow");
      continue;
    }
    g_line_foreign = 0;
    const double fwd = median_us(forward);
    if (c.is_auto) auto_fwd_us = fwd;
    print_line(s, s.train ? "fwd_train" : "fwd_inf", threads, fwd, 1, c, ok);
    if (s.train) {
      g_line_foreign = 0;
      auto backward = [&](float* dx) {
        k.backward(t.x.data(), t.dy.data(), s.n, t.w.data(), got.dw.data(), got.db.data(), dx, mem);
      };
      const auto [wgt, both, data] = median_pair_us([&] { backward(nullptr); }, [&] { backward(got.dx.data()); });
      print_line(s, "bwd_wgt", threads, wgt, 1, c, ok);
      print_line(s, "bwd_both", threads, both, 2, c, ok);
      print_line(s, "bwd_data", threads, data, 1, c, ok);
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mnistlab's convolution routes on every conv/convt shape of the presets (see bench/README.md)"};
  std::string only, threads_list = "1 2", isa_list = "all";
  bool list = false, routes = false;
  app.add_option("--only", only, "only shapes whose name contains this (e.g. vgg-bn.L3, n1000)");
  app.add_option("--threads", threads_list, "thread counts, space separated");
  app.add_option("--isa", isa_list, "instruction sets to force, space separated (scalar avx2 avx512), or all");
  app.add_option("--measure", g_measure_s, "seconds of timed repeats per measurement");
  app.add_option("--busy-threshold", g_busy_threshold,
                 "repeat a measurement while other processes use more than this many cores");
  app.add_option("--max-wait", g_max_wait_s, "seconds to wait for a quiet machine per measurement");
  std::string precision = "fp32";
  app.add_option("--precision", precision, "fp32 or bf16 (the defaults' routes at that precision)");
  app.add_flag("--auto-only", g_auto_only, "time the defaults' route only, no forced routes");
  app.add_flag("--list", list, "the shape table only");
  app.add_flag("--routes", routes, "the distinct routes per shape and what forces them, no timing");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::optional<Precision> p = parse_precision(precision);
    if (!p) throw Error("--precision: fp32 or bf16, got \"" + precision + "\"");
    g_precision = *p;
    std::vector<int> threads;
    std::istringstream tin(threads_list);
    for (int n; tin >> n;) {
      if (n < 1) throw Error("--threads: thread counts are 1 or more, got " + std::to_string(n));
      threads.push_back(n);
    }
    if (threads.empty()) throw Error("--threads: no thread count in \"" + threads_list + "\"");
    std::vector<Isa> isas;
    std::istringstream iin(isa_list == "all" ? std::string("avx512 avx2 scalar") : isa_list);
    for (std::string name; iin >> name;) {
      const std::optional<Isa> isa = parse_isa(name);
      if (!isa) throw Error("--isa: unknown instruction set \"" + name + "\" (scalar, avx2, avx512)");
      if (cpu::runs(*isa))
        isas.push_back(*isa);
      else if (isa_list != "all")
        throw Error(std::string("--isa: this CPU does not run ") + isa_name(*isa));
    }

    std::vector<Shape> shapes;
    for (const Shape& s : all_shapes())
      if (only.empty() || s.name.find(only) != std::string::npos) shapes.push_back(s);
    if (list) {
      for (const Shape& s : shapes)
        std::printf("%-46s -> %dx%dx%d %s %.1f MMAC\n", s.name.c_str(), s.oc, s.oh, s.ow, s.train ? "train" : "eval",
                    s.macs() * 1e-6);
      return 0;
    }
    std::printf("mnistlab %s\n", describe_backend().c_str());
    std::printf("# us: median per call; GF/s: 2*MACs of a direct convolution / time (bwd_both: twice); "
                "bwd_data = bwd_both - bwd_wgt; columns after ext: auto = the defaults' route, check, route\n");
    for (const Shape& s : shapes)
      for (int t : threads) bench_shape(s, t, isas, routes);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
