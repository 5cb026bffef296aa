#pragma once
// How the convolution bake-offs (onednn_conv.cpp, conv_bakeoff.cpp) time a
// call: the median of short repeats after warm-up, repeated after a pause
// while other processes were using the CPU. Standard C++ and Linux only.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace conv_bench {

inline double g_measure_s = 0.35;  // wall time of the timed repeats of one measurement (after warm-up)

template <class F>
double median_us_once(F&& f) {
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); };
  auto t0 = clock::now();
  f();  // warm-up: page faults, JIT caches
  double est = seconds_since(t0);
  if (est < 0.05) {
    t0 = clock::now();
    f();
    est = seconds_since(t0);
  }
  est = std::max(est, 1e-7);
  const int inner = std::max(1, int(0.01 / est));  // calls per repeat: at least ~10 ms
  const int reps = std::clamp(int(g_measure_s / (inner * est)), 3, 15);
  std::vector<double> v;
  for (int r = 0; r < reps; ++r) {
    t0 = clock::now();
    for (int i = 0; i < inner; ++i) f();
    v.push_back(seconds_since(t0) / inner);
  }
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  const double med = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  return med * 1e6;
}

// CPU time other processes took while we measured, in cores (from
// /proc/stat's busy ticks minus this process's own). The machine has 2 cores
// and other work may run: a 2-thread measurement that shares a core with a
// compile is descheduled for whole scheduler ticks at every barrier.
struct CpuSample {
  std::chrono::steady_clock::time_point wall;
  long long busy = 0, self = 0;
};

inline CpuSample cpu_sample() {
  CpuSample c;
  c.wall = std::chrono::steady_clock::now();
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    long long v[10] = {};
    if (std::fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8)
      c.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  // user nice system irq softirq steal
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {
    char buf[1024] = {};
    const size_t got = std::fread(buf, 1, sizeof buf - 1, f);
    buf[got] = 0;
    std::fclose(f);
    if (const char* q = std::strrchr(buf, ')')) {
      // fields after the command name: state(3) ... utime(14) stime(15)
      std::istringstream in(q + 2);
      std::string field;
      long long ut = 0, st = 0;
      for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) ut = std::atoll(field.c_str());
        if (i == 15) st = std::atoll(field.c_str());
      }
      c.self = ut + st;
    }
  }
  return c;
}

inline double foreign_cores(const CpuSample& a, const CpuSample& b) {
  const double wall = std::chrono::duration<double>(b.wall - a.wall).count();
  const double ticks = double((b.busy - a.busy) - (b.self - a.self));
  return wall > 0 ? std::max(0.0, ticks / double(sysconf(_SC_CLK_TCK)) / wall) : 0.0;
}

inline double g_busy_threshold = 0.15;  // cores of other work that make a measurement suspect
inline double g_max_wait_s = 30;        // per measurement, waiting for the machine to be quiet
inline double g_line_foreign = 0;       // worst accepted foreign load of the current output line

// Runs measure() (which returns a time or times) again, after a pause, while
// other processes used more than g_busy_threshold cores during it; returns
// the least disturbed attempt's result.
template <class M>
auto least_disturbed(M&& measure) {
  decltype(measure()) best{};
  double best_foreign = INFINITY, waited = 0;
  for (int attempt = 0;; ++attempt) {
    const CpuSample a = cpu_sample();
    const auto result = measure();
    const double foreign = foreign_cores(a, cpu_sample());
    if (foreign < best_foreign) best = result, best_foreign = foreign;
    if (best_foreign < g_busy_threshold || waited >= g_max_wait_s) break;
    const double pause = std::min(2.0, 0.25 * (attempt + 1));
    std::this_thread::sleep_for(std::chrono::duration<double>(pause));
    waited += pause;
  }
  g_line_foreign = std::max(g_line_foreign, best_foreign);
  return best;
}

// median_us_once, while the machine is busy repeated as least_disturbed says.
template <class F>
double median_us(F&& f) {
  return least_disturbed([&] { return median_us_once(f); });
}

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Two calls that share most of their work (g = f + something): each repeat
// times f then g, so the difference is taken within one repeat, under the
// same load, and its median is far steadier than the difference of two
// medians. Returns median microseconds of f, of g, and of g - f.
template <class F, class G>
std::array<double, 3> median_pair_us_once(F&& f, G&& g) {
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); };
  double est[2];
  for (int which = 0; which < 2; ++which) {
    auto t0 = clock::now();
    which ? g() : f();  // warm-up
    est[which] = seconds_since(t0);
    if (est[which] < 0.05) {
      t0 = clock::now();
      which ? g() : f();
      est[which] = seconds_since(t0);
    }
    est[which] = std::max(est[which], 1e-7);
  }
  const int inner = std::max(1, int(0.01 / std::max(est[0], est[1])));
  const int reps = std::clamp(int(g_measure_s / (inner * (est[0] + est[1]))), 3, 15);
  std::vector<double> vf, vg, vd;
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock::now();
    for (int i = 0; i < inner; ++i) f();
    const double tf = seconds_since(t0) / inner;
    t0 = clock::now();
    for (int i = 0; i < inner; ++i) g();
    const double tg = seconds_since(t0) / inner;
    vf.push_back(tf), vg.push_back(tg), vd.push_back(tg - tf);
  }
  return {median_of(vf) * 1e6, median_of(vg) * 1e6, median_of(vd) * 1e6};
}

template <class F, class G>
std::array<double, 3> median_pair_us(F&& f, G&& g) {
  return least_disturbed([&] { return median_pair_us_once(f, g); });
}

}  // namespace conv_bench
