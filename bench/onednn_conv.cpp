// Bake-off: oneDNN's convolution and deconvolution primitives on every
// Conv2d / ConvTranspose2d layer shape of the presets in models/, at the
// batch sizes of bench/README's rows, so they can be compared with
// mnistlab's own kernels. Standalone: links oneDNN and OpenMP only, not the
// mnistlab library.
//
// For each (shape, pass, threads) two layouts are timed:
//   plain    tensors in NCHW and weights in OIHW (ConvTranspose2d: IOHW, as
//            PyTorch and our layers hold them). Candidates: a primitive
//            created with format_tag::any plus the reorders from/to the
//            plain tensors (all included in the time, weights too), and a
//            primitive created directly on the plain descriptors; the faster
//            is reported. This is what a layer that keeps NCHW would pay.
//   blocked  the primitive alone, created with format_tag::any and fed in
//            its own formats, reorders excluded: the upper bound if the whole
//            network kept oneDNN's layouts.
// Algorithms tried: convolution_auto, convolution_direct and, where oneDNN
// offers it, convolution_winograd (deconvolution: direct, winograd).
//
// Time: median over repeats of microseconds per call, after warm-up, each
// measurement kept to about 0.4 s. GFLOP/s: 2 * multiply-adds of a direct
// convolution over all kernel taps (padding taps included), bias excluded;
// the same count for every pass.
//
// Before timing, every pass and every candidate route is checked on small
// shapes against a naive double-precision convolution.
#include <dnnl.hpp>
#include <omp.h>

#include "bench_timing.h"
#include "conv_shapes.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

using namespace conv_bench;  // Shape, all_shapes(), make_shape() (conv_shapes.h); median_us() (bench_timing.h)

// ---------------------------------------------------------------- passes

enum class Pass { fwd_train, fwd_inf, bwd_data, bwd_weights };

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::fwd_train: return "fwd_train";
    case Pass::fwd_inf: return "fwd_inf";
    case Pass::bwd_data: return "bwd_data";
    case Pass::bwd_weights: return "bwd_wgt";
  }
  return "?";
}

std::vector<Pass> passes_of(const Shape& s) {
  if (s.train) return {Pass::fwd_train, Pass::bwd_data, Pass::bwd_weights};
  return {Pass::fwd_inf};
}

const char* alg_name(algorithm a) {
  switch (a) {
    case algorithm::convolution_auto: return "auto";
    case algorithm::convolution_direct:
    case algorithm::deconvolution_direct: return "direct";
    case algorithm::convolution_winograd:
    case algorithm::deconvolution_winograd: return "winograd";
    default: return "?";
  }
}

std::vector<algorithm> algorithms_of(const Shape& s) {
  if (s.deconv) return {algorithm::deconvolution_direct, algorithm::deconvolution_winograd};
  return {algorithm::convolution_auto, algorithm::convolution_direct, algorithm::convolution_winograd};
}

bool is_winograd(algorithm a) {
  return a == algorithm::convolution_winograd || a == algorithm::deconvolution_winograd;
}

// Memory descriptors: plain (nchw, oihw / iohw) or format_tag::any.
struct Descs {
  memory::desc src, wei, bias, dst;
};

Descs descs(const Shape& s, bool plain, dt src = dt::f32, dt wei = dt::f32, dt dst = dt::f32) {
  const tag act = plain ? tag::nchw : tag::any;
  // oneDNN's weight dims are {OC, IC, KH, KW} for both primitives; a
  // ConvTranspose2d weight is stored (in, out, kh, kw), which is iohw.
  const tag wt = plain ? (s.deconv ? tag::iohw : tag::oihw) : tag::any;
  return {memory::desc({s.n, s.ic, s.ih, s.iw}, src, act), memory::desc({s.oc, s.ic, s.k, s.k}, wei, wt),
          memory::desc({s.oc}, dt::f32, tag::x), memory::desc({s.n, s.oc, s.oh, s.ow}, dst, act)};
}

// --bf16: the primitives take bfloat16 inputs (src, weights, diff_dst) and
// write float32 (dst, diff_src, diff_weights), PyTorch's CPU autocast; the
// user's tensors stay float32 NCHW, so "plain" includes the rounding reorders.
bool g_bf16 = false;

// nullopt where oneDNN has no implementation for this combination.
std::optional<primitive_desc> make_pd(const Shape& s, Pass pass, algorithm alg, bool plain, const engine& eng) {
  const dt in = g_bf16 ? dt::bf16 : dt::f32;
  const Descs d = descs(s, plain, in, in, dt::f32);  // forward; the backward passes' below
  const Descs bd = descs(s, plain, dt::f32, in, in), bw = descs(s, plain, in, dt::f32, in);
  const memory::dims st{s.s, s.s}, pl{s.p, s.p}, pr{s.pr, s.pr};
  const prop_kind fprop = pass == Pass::fwd_inf ? prop_kind::forward_inference : prop_kind::forward_training;
  try {
    if (!s.deconv) {
      const convolution_forward::primitive_desc fpd(
          convolution_forward::desc(fprop, alg, d.src, d.wei, d.bias, d.dst, st, pl, pr), eng);
      if (pass == Pass::fwd_train || pass == Pass::fwd_inf) return fpd;
      if (pass == Pass::bwd_data)
        return convolution_backward_data::primitive_desc(
            convolution_backward_data::desc(alg, bd.src, bd.wei, bd.dst, st, pl, pr), eng, fpd);
      return convolution_backward_weights::primitive_desc(
          convolution_backward_weights::desc(alg, bw.src, bw.wei, bw.bias, bw.dst, st, pl, pr), eng, fpd);
    }
    const deconvolution_forward::primitive_desc fpd(
        deconvolution_forward::desc(fprop, alg, d.src, d.wei, d.bias, d.dst, st, pl, pr), eng);
    if (pass == Pass::fwd_train || pass == Pass::fwd_inf) return fpd;
    if (pass == Pass::bwd_data)
      return deconvolution_backward_data::primitive_desc(
          deconvolution_backward_data::desc(alg, bd.src, bd.wei, bd.dst, st, pl, pr), eng, fpd);
    return deconvolution_backward_weights::primitive_desc(
        deconvolution_backward_weights::desc(alg, bw.src, bw.wei, bw.bias, bw.dst, st, pl, pr), eng, fpd);
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented) return std::nullopt;
    throw;
  }
}

// ---------------------------------------------------------------- runner

struct ArgSpec {
  int arg;
  memory::desc user;  // plain descriptor, as our layers hold the tensor
  bool input;
  bool weights;  // a weight or bias tensor (reordered per call in "plain")
};

std::vector<ArgSpec> arg_specs(const Shape& s, Pass pass) {
  const Descs d = descs(s, true);
  switch (pass) {
    case Pass::fwd_train:
    case Pass::fwd_inf:
      return {{DNNL_ARG_SRC, d.src, true, false},
              {DNNL_ARG_WEIGHTS, d.wei, true, true},
              {DNNL_ARG_BIAS, d.bias, true, true},
              {DNNL_ARG_DST, d.dst, false, false}};
    case Pass::bwd_data:
      return {{DNNL_ARG_DIFF_DST, d.dst, true, false},
              {DNNL_ARG_WEIGHTS, d.wei, true, true},
              {DNNL_ARG_DIFF_SRC, d.src, false, false}};
    case Pass::bwd_weights:
      return {{DNNL_ARG_SRC, d.src, true, false},
              {DNNL_ARG_DIFF_DST, d.dst, true, false},
              {DNNL_ARG_DIFF_WEIGHTS, d.wei, false, true},
              {DNNL_ARG_DIFF_BIAS, d.bias, false, true}};
  }
  return {};
}

float* data_of(const memory& m) { return static_cast<float*>(m.get_data_handle()); }
size_t floats_of(const memory::desc& md) { return md.get_size() / sizeof(float); }

// One primitive with its tensors: user (plain) memories and, where the
// primitive wants another format, its own memories and the reorders between.
class Runner {
 public:
  Runner(const engine& eng, stream& strm, const primitive_desc& pd, const std::vector<ArgSpec>& specs,
         std::mt19937& rng)
      : strm_(strm), prim_(pd) {
    std::uniform_real_distribution<float> uni(-1.f, 1.f);
    for (const ArgSpec& a : specs) {
      Slot slot{a, memory(a.user, eng), memory(), false, {}};
      const memory::desc want = pd.query_md(query::exec_arg_md, a.arg);
      float* u = data_of(slot.user);
      const size_t nu = floats_of(a.user);
      if (a.input)
        for (size_t i = 0; i < nu; ++i) u[i] = uni(rng);
      else
        std::memset(u, 0, nu * sizeof(float));
      if (want == a.user) {
        slot.prim = slot.user;
      } else {
        slot.prim = memory(want, eng);
        slot.reordered = true;
        slot.copy = a.input ? reorder(slot.user, slot.prim) : reorder(slot.prim, slot.user);
        if (a.input) slot.copy.execute(strm_, slot.user, slot.prim);  // fills padding with zeros
      }
      args_[a.arg] = slot.prim;
      slots_.push_back(slot);
    }
    strm_.wait();
  }

  // What a layer holding plain tensors pays: reorders in, primitive, reorders out.
  void run_plain() {
    for (Slot& s : slots_)
      if (s.spec.input && s.reordered) s.copy.execute(strm_, s.user, s.prim);
    prim_.execute(strm_, args_);
    for (Slot& s : slots_)
      if (!s.spec.input && s.reordered) s.copy.execute(strm_, s.prim, s.user);
    strm_.wait();
  }
  // The primitive alone on its own formats.
  void run_blocked() {
    prim_.execute(strm_, args_);
    strm_.wait();
  }
  // The reorders of run_plain alone (all, or those of weights and bias only).
  void run_reorders(bool weights_only) {
    for (Slot& s : slots_)
      if (s.reordered && (!weights_only || s.spec.weights)) {
        if (s.spec.input)
          s.copy.execute(strm_, s.user, s.prim);
        else
          s.copy.execute(strm_, s.prim, s.user);
      }
    strm_.wait();
  }
  bool has_reorders(bool weights_only) const {
    for (const Slot& s : slots_)
      if (s.reordered && (!weights_only || s.spec.weights)) return true;
    return false;
  }
  std::vector<float> user_data(int arg) const {
    for (const Slot& s : slots_)
      if (s.spec.arg == arg) {
        const float* p = data_of(s.user);
        return std::vector<float>(p, p + floats_of(s.spec.user));
      }
    return {};
  }
  std::string formats() const {  // which tensors are reordered, e.g. "src,wei,dst"
    std::string out;
    for (const Slot& s : slots_)
      if (s.reordered) {
        if (!out.empty()) out += ',';
        out += short_arg(s.spec.arg);
      }
    return out.empty() ? "none" : out;
  }

 private:
  static const char* short_arg(int arg) {
    switch (arg) {
      case DNNL_ARG_SRC: return "src";
      case DNNL_ARG_WEIGHTS: return "wei";
      case DNNL_ARG_BIAS: return "bias";
      case DNNL_ARG_DST: return "dst";
      case DNNL_ARG_DIFF_SRC: return "dsrc";
      case DNNL_ARG_DIFF_DST: return "ddst";
      case DNNL_ARG_DIFF_WEIGHTS: return "dwei";
      case DNNL_ARG_DIFF_BIAS: return "dbias";
    }
    return "?";
  }
  struct Slot {
    ArgSpec spec;
    memory user, prim;
    bool reordered;
    dnnl::reorder copy;
  };
  stream& strm_;
  primitive prim_;
  std::vector<Slot> slots_;
  std::unordered_map<int, memory> args_;
};

// ---------------------------------------------------------------- reference

// for_each_tap(): the naive double-precision convolution (conv_shapes.h).

struct Diff {
  double max_abs = 0, max_ref = 0;
};

void compare(const std::vector<double>& ref, const std::vector<float>& got, Diff& d) {
  if (ref.size() != got.size()) {
    d.max_abs = INFINITY;
    return;
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(ref[i] - double(got[i])));
    d.max_ref = std::max(d.max_ref, std::fabs(ref[i]));
  }
}

// Runs the primitive the way run_plain() does (the benchmark's code path)
// and compares its plain outputs with the double-precision reference.
void check_one(const Shape& s, Pass pass, Runner& r, Diff& d) {
  r.run_plain();
  const size_t nx = size_t(s.n) * s.ic * s.ih * s.iw, ny = size_t(s.n) * s.oc * s.oh * s.ow,
               nw = size_t(s.oc) * s.ic * s.k * s.k;
  if (pass == Pass::fwd_train || pass == Pass::fwd_inf) {
    const auto x = r.user_data(DNNL_ARG_SRC), w = r.user_data(DNNL_ARG_WEIGHTS), b = r.user_data(DNNL_ARG_BIAS);
    std::vector<double> y(ny);
    const size_t plane = size_t(s.oh) * s.ow;
    for (size_t i = 0; i < ny; ++i) y[i] = b[(i / plane) % s.oc];
    for_each_tap(s, [&](size_t xi, size_t yi, size_t wi) { y[yi] += double(x[xi]) * w[wi]; });
    compare(y, r.user_data(DNNL_ARG_DST), d);
  } else if (pass == Pass::bwd_data) {
    const auto dy = r.user_data(DNNL_ARG_DIFF_DST), w = r.user_data(DNNL_ARG_WEIGHTS);
    std::vector<double> dx(nx);
    for_each_tap(s, [&](size_t xi, size_t yi, size_t wi) { dx[xi] += double(dy[yi]) * w[wi]; });
    compare(dx, r.user_data(DNNL_ARG_DIFF_SRC), d);
  } else {
    const auto x = r.user_data(DNNL_ARG_SRC), dy = r.user_data(DNNL_ARG_DIFF_DST);
    std::vector<double> dw(nw), db(s.oc);
    for_each_tap(s, [&](size_t xi, size_t yi, size_t wi) { dw[wi] += double(x[xi]) * dy[yi]; });
    const size_t plane = size_t(s.oh) * s.ow;
    for (size_t i = 0; i < ny; ++i) db[(i / plane) % s.oc] += dy[i];
    compare(dw, r.user_data(DNNL_ARG_DIFF_WEIGHTS), d);
    compare(db, r.user_data(DNNL_ARG_DIFF_BIAS), d);
  }
}

void run_checks(const engine& eng, stream& strm) {
  const std::vector<Shape> shapes = {
      make_shape("check", 1, false, 2, 16, 32, 9, 3, 1, 1, 0, true),
      make_shape("check", 2, false, 3, 3, 16, 9, 3, 2, 1, 0, true),
      make_shape("check", 3, false, 2, 17, 1, 8, 3, 1, 1, 0, true),
      make_shape("check", 4, true, 2, 16, 16, 5, 3, 2, 1, 1, true),
      make_shape("check", 5, true, 2, 32, 1, 5, 3, 2, 1, 1, true),
  };
  std::mt19937 rng(7);
  for (const Shape& s : shapes)
    for (Pass pass : {Pass::fwd_train, Pass::fwd_inf, Pass::bwd_data, Pass::bwd_weights}) {
      Diff d;
      std::vector<std::string> routes;
      for (algorithm alg : algorithms_of(s))
        for (bool plain : {false, true}) {
          const auto pd = make_pd(s, pass, alg, plain, eng);
          if (!pd) continue;
          Runner r(eng, strm, *pd, arg_specs(s, pass), rng);
          check_one(s, pass, r, d);
          routes.push_back(std::string(alg_name(alg)) + (plain ? "/nchw:" : "/any:") + pd->impl_info_str());
        }
      std::string list;
      for (const auto& r : routes) list += (list.empty() ? "" : " ") + r;
      std::printf("check %-36s %-9s max|diff| %.2e (max|ref| %5.1f) over %zu routes: %s\n", s.name.c_str() + 6,
                  pass_name(pass), d.max_abs, d.max_ref, routes.size(), list.c_str());
    }
  std::fflush(stdout);
}

// ---------------------------------------------------------------- benchmark

struct Result {
  double us = 0;
  std::string impl, how;
};

struct Totals {
  double plain = 0, blocked = 0;
};

void bench_pass(const Shape& s, Pass pass, int threads, const engine& eng, stream& strm, std::mt19937& rng,
                std::map<std::string, Totals>& totals) {
  struct Cand {
    algorithm alg;
    bool plain;
    primitive_desc pd;
    std::string aliases;  // other algorithms that gave the same primitive
  };
  std::vector<Cand> cands;
  bool wino = false;
  std::string wino_impl;
  for (algorithm alg : algorithms_of(s))
    for (bool plain : {false, true}) {
      const auto pd = make_pd(s, pass, alg, plain, eng);
      if (!pd) continue;
      if (is_winograd(alg)) {
        wino = true;
        if (wino_impl.empty()) wino_impl = pd->impl_info_str();
      }
      // convolution_auto and _direct often resolve to the same primitive: time it once.
      bool dup = false;
      for (Cand& c : cands)
        if (c.plain == plain && std::string(c.pd.impl_info_str()) == pd->impl_info_str()) {
          bool same = true;
          for (const ArgSpec& a : arg_specs(s, pass))
            same = same && c.pd.query_md(query::exec_arg_md, a.arg) == pd->query_md(query::exec_arg_md, a.arg);
          if (same) {
            c.aliases += std::string("=") + alg_name(alg);
            dup = true;
            break;
          }
        }
      if (!dup) cands.push_back({alg, plain, *pd, ""});
    }

  const double gflop = 2.0 * s.macs() * 1e-9;
  g_line_foreign = 0;
  std::vector<double> us_plain(cands.size(), INFINITY);
  Result best_blocked;
  best_blocked.us = INFINITY;
  for (size_t i = 0; i < cands.size(); ++i) {
    Cand& c = cands[i];
    Runner r(eng, strm, c.pd, arg_specs(s, pass), rng);
    us_plain[i] = median_us([&] { r.run_plain(); });
    if (!c.plain) {
      const double us_blocked = r.has_reorders(false) ? median_us([&] { r.run_blocked(); }) : us_plain[i];
      if (us_blocked < best_blocked.us)
        best_blocked = {us_blocked, c.pd.impl_info_str(), std::string(alg_name(c.alg)) + c.aliases};
    }
  }
  if (cands.empty()) {
    std::printf("%-46s %-9s t%d unimplemented\n", s.name.c_str(), pass_name(pass), threads);
    return;
  }
  const size_t b = size_t(std::min_element(us_plain.begin(), us_plain.end()) - us_plain.begin());
  const Cand& bc = cands[b];
  Result best_plain{us_plain[b], bc.pd.impl_info_str(),
                    std::string(alg_name(bc.alg)) + bc.aliases + (bc.plain ? " nchw-direct" : " any+reorder")};
  const bool best_plain_is_any = !bc.plain;
  std::string reorder_note;
  if (best_plain_is_any) {
    // What the reorders of the chosen route cost by themselves.
    Runner r(eng, strm, bc.pd, arg_specs(s, pass), rng);
    char buf[160];
    if (!r.has_reorders(false))
      std::snprintf(buf, sizeof buf, " [no reorders]");
    else if (r.has_reorders(true))
      std::snprintf(buf, sizeof buf, " [reorders %s: %.1f us, of which weights %.1f us]", r.formats().c_str(),
                    median_us([&] { r.run_reorders(false); }), median_us([&] { r.run_reorders(true); }));
    else
      std::snprintf(buf, sizeof buf, " [reorders %s: %.1f us]", r.formats().c_str(),
                    median_us([&] { r.run_reorders(false); }));
    reorder_note = buf;
  }
  double other_us = INFINITY;  // best of the other plain route (any+reorder vs nchw-direct)
  std::string other_impl;
  for (size_t i = 0; i < cands.size(); ++i)
    if (cands[i].plain == best_plain_is_any && us_plain[i] < other_us)
      other_us = us_plain[i], other_impl = cands[i].pd.impl_info_str();

  char other[160] = "";
  if (std::isfinite(other_us))
    std::snprintf(other, sizeof other, " | %s: %.1f us %s", best_plain_is_any ? "nchw-direct" : "any+reorder",
                  other_us, other_impl.c_str());
  else
    std::snprintf(other, sizeof other, " | %s: unimplemented", best_plain_is_any ? "nchw-direct" : "any+reorder");
  const std::string wnote = wino ? " | wino offered: " + wino_impl : " | wino not offered";

  // ext: cores' worth of CPU other processes used during this (shape, pass,
  // threads)'s measurements, after retries (above ~0.15 the times are suspect).
  std::printf("%-46s %-9s t%d plain   %10.1f us %7.1f GF/s ext %4.2f  %-24s %s%s%s%s\n", s.name.c_str(),
              pass_name(pass), threads, best_plain.us, gflop / best_plain.us * 1e6, g_line_foreign,
              best_plain.impl.c_str(), best_plain.how.c_str(), reorder_note.c_str(), other, wnote.c_str());
  if (std::isfinite(best_blocked.us))
    std::printf("%-46s %-9s t%d blocked %10.1f us %7.1f GF/s ext %4.2f  %-24s %s\n", s.name.c_str(),
                pass_name(pass), threads, best_blocked.us, gflop / best_blocked.us * 1e6, g_line_foreign,
                best_blocked.impl.c_str(), best_blocked.how.c_str());
  else
    std::printf("%-46s %-9s t%d blocked  unimplemented\n", s.name.c_str(), pass_name(pass), threads);
  std::fflush(stdout);

  // Totals per network row: a training step needs no input gradient of L1
  // (its input is the image), so L1's bwd_data is left out of the sums.
  if (!(pass == Pass::bwd_data && s.layer == 1)) {
    char key[120];
    std::snprintf(key, sizeof key, "%s n%d %s t%d", s.net.c_str(), s.n, s.train ? "train" : "eval", threads);
    Totals& t = totals[key];
    t.plain += best_plain.us;
    t.blocked += std::isfinite(best_blocked.us) ? best_blocked.us : best_plain.us;
  }
}

const char* isa_name(cpu_isa isa) {
  switch (isa) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx512_mic: return "avx512_mic";
    case cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    default: return "other";
  }
}

void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--only SUBSTRING] [--threads \"1 2\"] [--busy-threshold CORES] [--max-wait S]\n"
               "          [--no-check] [--check-only] [--list] [--impls] [--bf16]\n"
               "  --bf16            bfloat16 src, weights and diff_dst (float32 outputs), reorders from float32 timed\n"
               "  --only SUBSTRING  benchmark only shapes whose name contains SUBSTRING (e.g. vgg-bn.L3, n1000)\n"
               "  --threads LIST    OpenMP thread counts, space separated (default \"1 2\")\n"
               "  --busy-threshold  repeat a measurement while other processes use more than this many cores\n"
               "                    (default 0.15); the output's ext column is the load that remained\n"
               "  --impls           list what oneDNN offers per shape, pass, algorithm and route (formats), no timing\n"
               "  --max-wait S      give up waiting for a quiet machine after S seconds per measurement (default 30)\n",
               argv0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  std::vector<int> threads = {1, 2};
  bool check = true, check_only = false, list = false, impls = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      threads.clear();
      std::istringstream in(argv[++i]);
      for (int t; in >> t;) {
        if (t < 1) {
          usage(argv[0]);
          return 2;
        }
        threads.push_back(t);
      }
      if (threads.empty()) {
        usage(argv[0]);
        return 2;
      }
    } else if (a == "--busy-threshold" && i + 1 < argc) {
      g_busy_threshold = std::atof(argv[++i]);
    } else if (a == "--max-wait" && i + 1 < argc) {
      g_max_wait_s = std::atof(argv[++i]);
    } else if (a == "--no-check") {
      check = false;
    } else if (a == "--check-only") {
      check_only = true;
    } else if (a == "--bf16") {
      g_bf16 = true;
    } else if (a == "--impls") {
      impls = true;
    } else if (a == "--list") {
      list = true;
    } else {
      usage(argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }

  std::vector<Shape> shapes;
  for (const Shape& s : all_shapes())
    if (only.empty() || s.name.find(only) != std::string::npos) shapes.push_back(s);
  if (list) {
    for (const Shape& s : shapes)
      std::printf("%-46s -> %dx%dx%d (pr %d) %s %.1f MMAC\n", s.name.c_str(), s.oc, s.oh, s.ow, s.pr,
                  s.train ? "train" : "eval", s.macs() * 1e-6);
    return 0;
  }

  std::string cpu = "?";
  if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "model name", 10) == 0) {
        const char* c = std::strchr(line, ':');
        cpu = c ? c + 2 : line;
        if (!cpu.empty() && cpu.back() == '\n') cpu.pop_back();
        break;
      }
    std::fclose(f);
  }
  const version_t* v = version();
  std::printf("oneDNN %d.%d.%d, effective ISA %s, CPU %s, %ld online CPUs, OpenMP max threads %d%s\n", v->major,
              v->minor, v->patch, isa_name(get_effective_cpu_isa()), cpu.c_str(), sysconf(_SC_NPROCESSORS_ONLN),
              omp_get_max_threads(), g_bf16 ? ", bf16 inputs" : "");
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);

  if (impls) {
    // What each algorithm and route resolves to, with the formats oneDNN chose (at the largest thread count).
    omp_set_num_threads(*std::max_element(threads.begin(), threads.end()));
    auto fmt = [](const memory::desc& md) {  // oneDNN-style tag: "abcd" = nchw, "aBcd16b" = nChw16c
      const dnnl_memory_desc_t& d = md.data;
      if (d.format_kind != dnnl_blocked) return std::string("?");
      const auto& bd = d.format_desc.blocking;
      std::vector<int> order(d.ndims);
      for (int i = 0; i < d.ndims; ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bd.strides[a] > bd.strides[b]; });
      std::string out;
      for (int i : order) {
        bool blocked = false;
        for (int j = 0; j < bd.inner_nblks; ++j) blocked = blocked || bd.inner_idxs[j] == i;
        out += char((blocked ? 'A' : 'a') + i);
      }
      for (int j = 0; j < bd.inner_nblks; ++j) out += std::to_string(bd.inner_blks[j]) + char('a' + bd.inner_idxs[j]);
      return out;
    };
    for (const Shape& s : shapes)
      for (Pass pass : passes_of(s))
        for (algorithm alg : algorithms_of(s))
          for (bool plain : {false, true}) {
            const auto pd = make_pd(s, pass, alg, plain, eng);
            std::string line;
            if (!pd) {
              line = "unimplemented";
            } else {
              line = std::string(pd->impl_info_str()) + " ";
              for (const ArgSpec& a : arg_specs(s, pass))
                if (a.arg != DNNL_ARG_BIAS && a.arg != DNNL_ARG_DIFF_BIAS)
                  line += " " + fmt(pd->query_md(query::exec_arg_md, a.arg));
            }
            std::printf("%-46s %-9s %-8s %-4s %s\n", s.name.c_str(), pass_name(pass), alg_name(alg),
                        plain ? "nchw" : "any", line.c_str());
          }
    return 0;
  }
  if (check || check_only) {
    omp_set_num_threads(*std::max_element(threads.begin(), threads.end()));
    run_checks(eng, strm);
  }
  if (check_only) return 0;

  std::printf("# us: median per call; GF/s: 2*MACs of a direct convolution / time; plain = nchw/oihw tensors, "
              "reorders included; blocked = oneDNN's formats, primitive only\n");
  std::mt19937 rng(1);
  std::map<std::string, Totals> totals;
  for (const Shape& s : shapes)
    for (Pass pass : passes_of(s))
      for (int t : threads) {
        omp_set_num_threads(t);  // before creating primitives: oneDNN balances work at creation
        bench_pass(s, pass, t, eng, strm, rng, totals);
      }

  std::printf("\n# sums over the benchmarked layers (training: fwd_train + bwd_data + bwd_wgt, without L1's bwd_data)\n");
  for (const auto& [key, t] : totals)
    std::printf("%-32s plain %9.2f ms   blocked %9.2f ms\n", key.c_str(), t.plain * 1e-3, t.blocked * 1e-3);
  return 0;
}
