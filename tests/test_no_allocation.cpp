// A training step allocates nothing once the run has started: the real
// step of fit() (trainer.h), that is the prefetching loader (its worker
// thread making the next batch, augmented), the schedule, Task::train_step
// and the optimizer, measured in the steady state: from the end of epoch
// 2's first step to the end of its last (the partial batch), between two
// on_step callbacks, after a first epoch and an evaluation.
//
// This test binary replaces every allocation function so that it can count
// calls while a window is open: operator new and new[] in all their forms
// (plain, nothrow, aligned with std::align_val_t, aligned nothrow) and the
// C allocator (malloc, calloc, realloc, aligned_alloc, posix_memalign,
// memalign), which oneDNN, OpenMP and the standard library call directly.
// The C functions forward to glibc's own entry points (__libc_malloc, ...);
// under AddressSanitizer or ThreadSanitizer, whose runtimes own malloc, only
// operator new is counted. An allocation in the window records its stack,
// printed when the test fails.
#include <gtest/gtest.h>

#include <errno.h>
#include <link.h>
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "mnistlab/model_file.h"
#include "mnistlab/optim.h"
#include "mnistlab/rng.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"
#include "kernels/cpu/bf16.h"
#include "train/threads.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MNISTLAB_HOOK_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define MNISTLAB_HOOK_MALLOC 0
#endif
#endif
#ifndef MNISTLAB_HOOK_MALLOC
#define MNISTLAB_HOOK_MALLOC 1
#endif

namespace {

enum Kind { New, NewArray, NewNothrow, NewAligned, Malloc, Calloc, Realloc, AlignedAlloc, kKinds };
constexpr const char* kKindNames[kKinds] = {"operator new", "operator new[]", "operator new (nothrow)",
                                            "operator new (align_val_t)", "malloc", "calloc", "realloc",
                                            "aligned_alloc/posix_memalign/memalign"};

// Who called the allocation function: mnistlab, the C++ library or anything
// else (Own), or the code of libgomp or oneDNN (see "Allocations inside
// libgomp and oneDNN" below).
enum Caller { Own, Gomp, Dnnl, kCallers };
constexpr const char* kCallerNames[kCallers] = {"mnistlab or the C++ library", "libgomp", "oneDNN"};

struct TextRange {
  uintptr_t begin = UINTPTR_MAX, end = 0;
  bool contains(const void* p) const { return uintptr_t(p) >= begin && uintptr_t(p) < end; }
};
TextRange g_text[kCallers];  // Gomp's and Dnnl's executable segments

// Finds the libraries' code before any window opens (dl_iterate_phdr may allocate).
void find_library_text() {
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void*) {
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        const Caller c = name.find("/libgomp.so") != std::string::npos   ? Gomp
                         : name.find("/libdnnl.so") != std::string::npos ? Dnnl
                                                                         : Own;
        if (c == Own) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
          g_text[c].begin = std::min(g_text[c].begin, uintptr_t(info->dlpi_addr + ph.p_vaddr));
          g_text[c].end = std::max(g_text[c].end, uintptr_t(info->dlpi_addr + ph.p_vaddr + ph.p_memsz));
        }
        return 0;
      },
      nullptr);
}

Caller caller_of(const void* return_address) {
  for (int c = Gomp; c < kCallers; ++c)
    if (g_text[c].contains(return_address)) return Caller(c);
  return Own;
}

std::atomic<bool> g_counting{false};
std::atomic<long> g_counts[kCallers][kKinds];
// A hooked function that calls another (operator new calls malloc) counts once.
thread_local bool t_inside = false;

struct Site {
  Kind kind;
  size_t size;
  int depth;
  void* frames[32];
};
constexpr int kSites = 8;
Site g_sites[kSites];  // the window's first allocations by mnistlab or the C++ library
std::atomic<int> g_site_count{0};

// The outermost allocation call on a thread, while the window is open;
// `from`: the address the allocation function returns to.
class Counted {
 public:
  Counted(Kind kind, size_t size, const void* from) {
    if (t_inside || !g_counting.load(std::memory_order_relaxed)) return;
    t_inside = owner_ = true;
    const Caller caller = caller_of(from);
    g_counts[caller][kind].fetch_add(1, std::memory_order_relaxed);
    if (caller != Own) return;
    const int i = g_site_count.fetch_add(1);
    if (i < kSites) {
      g_sites[i].kind = kind;
      g_sites[i].size = size;
      g_sites[i].depth = backtrace(g_sites[i].frames, 32);  // primed before the window: allocates nothing
    }
  }
  ~Counted() {
    if (owner_) t_inside = false;
  }

 private:
  bool owner_ = false;
};
#define COUNTED(kind, size) Counted counted_(kind, size, __builtin_return_address(0))

long counted_by(Caller caller) {
  long sum = 0;
  for (const auto& c : g_counts[caller]) sum += c.load();
  return sum;
}

void open_window() {
  for (auto& row : g_counts)
    for (auto& c : row) c.store(0);
  g_site_count.store(0);
  g_counting.store(true);
}

void close_window() { g_counting.store(false); }

// What the window saw from `caller`, with the stacks of mnistlab's first allocations.
std::string describe_window(Caller caller) {
  std::string text;
  for (int k = 0; k < kKinds; ++k)
    if (long n = g_counts[caller][k].load()) text += std::string(kKindNames[k]) + ": " + std::to_string(n) + "\n";
  const int sites = caller == Own ? std::min(g_site_count.load(), kSites) : 0;
  for (int i = 0; i < sites; ++i) {
    const Site& s = g_sites[i];
    std::fprintf(stderr, "--- %s of %zu bytes:\n", kKindNames[s.kind], s.size);
    backtrace_symbols_fd(s.frames, s.depth, STDERR_FILENO);
  }
  if (sites) text += "(stacks of the first " + std::to_string(sites) + " on stderr: addr2line -f -C -e mnistlab_tests)";
  return text;
}

void* aligned(size_t size, size_t alignment) {
  // aligned_alloc wants a multiple of the alignment.
  const size_t rounded = (std::max<size_t>(size, 1) + alignment - 1) / alignment * alignment;
  return std::aligned_alloc(std::max(alignment, sizeof(void*)), rounded);
}

}  // namespace

// ---- The C allocator ---------------------------------------------------

#if MNISTLAB_HOOK_MALLOC
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t size) noexcept {
  COUNTED(Malloc, size);
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) noexcept {
  COUNTED(Calloc, count * size);
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) noexcept {
  COUNTED(Realloc, size);
  return __libc_realloc(p, size);
}
void free(void* p) noexcept { __libc_free(p); }
void* memalign(size_t alignment, size_t size) noexcept {
  COUNTED(AlignedAlloc, size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  COUNTED(AlignedAlloc, size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  COUNTED(AlignedAlloc, size);
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

// ---- operator new and delete, every form -------------------------------

void* operator new(size_t size) {
  COUNTED(New, size);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) {
  COUNTED(NewArray, size);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  COUNTED(NewNothrow, size);
  return std::malloc(size ? size : 1);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  COUNTED(NewNothrow, size);
  return std::malloc(size ? size : 1);
}
void* operator new(size_t size, std::align_val_t alignment) {
  COUNTED(NewAligned, size);
  if (void* p = aligned(size, size_t(alignment))) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size, std::align_val_t alignment) {
  COUNTED(NewAligned, size);
  if (void* p = aligned(size, size_t(alignment))) return p;
  throw std::bad_alloc();
}
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  COUNTED(NewAligned, size);
  return aligned(size, size_t(alignment));
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  COUNTED(NewAligned, size);
  return aligned(size, size_t(alignment));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

using namespace mnistlab;

namespace {

// The hooks themselves: each form is seen (a compiler may not elide these:
// the pointers escape into a volatile).
void* volatile g_sink;
template <class T>
T* keep(T* p) {
  g_sink = p;
  return p;
}
// Counts f's allocations; true when it made exactly one, of this kind.
template <class F>
bool one_of(Kind kind, F&& f) {
  open_window();
  f();
  close_window();
  return g_counts[Own][kind].load() == 1 && counted_by(Own) == 1 && counted_by(Gomp) + counted_by(Dnnl) == 0;
}

// What the windows need done before they open: backtrace loads libgcc on
// its first call, and dl_iterate_phdr may allocate.
void prepare() {
  static const bool done = [] {
    void* frames[4];
    backtrace(frames, 4);
    find_library_text();
    return true;
  }();
  (void)done;
}

TEST(NoAllocation, TheHooksSeeEveryForm) {
  prepare();
  struct alignas(64) Wide {
    float v[16];
  };
  EXPECT_TRUE(one_of(New, [] { delete keep(new int(1)); }));
  EXPECT_TRUE(one_of(NewArray, [] { delete[] keep(new int[3]); }));
  EXPECT_TRUE(one_of(NewNothrow, [] { delete keep(new (std::nothrow) int(1)); }));
  EXPECT_TRUE(one_of(NewNothrow, [] { delete[] keep(new (std::nothrow) int[3]); }));
  EXPECT_TRUE(one_of(NewAligned, [] { delete keep(new Wide()); }));
  EXPECT_TRUE(one_of(NewAligned, [] { delete[] keep(new Wide[2]); }));
  EXPECT_TRUE(one_of(NewAligned, [] { delete keep(new (std::nothrow) Wide()); }));
  EXPECT_TRUE(one_of(New, [] { std::vector<float> v(100); keep(v.data()); }));
  EXPECT_TRUE(one_of(New, [] { std::string s(1000, 'x'); keep(s.data()); }));
#if MNISTLAB_HOOK_MALLOC
  EXPECT_TRUE(one_of(Malloc, [] { std::free(keep(std::malloc(10))); }));
  EXPECT_TRUE(one_of(Calloc, [] { std::free(keep(std::calloc(3, 10))); }));
  EXPECT_TRUE(one_of(Realloc, [] { std::free(keep(std::realloc(nullptr, 10))); }));
  EXPECT_TRUE(one_of(AlignedAlloc, [] { std::free(keep(std::aligned_alloc(64, 128))); }));
  EXPECT_TRUE(one_of(AlignedAlloc, [] {
    void* p = nullptr;
    if (posix_memalign(&p, 64, 100) == 0) std::free(keep(p));
  }));
#endif
}

Dataset synthetic(size_t count, int side, uint64_t seed) {
  Dataset d;
  d.rows = d.cols = side;
  d.num_classes = 10;
  Rng rng(seed);
  for (size_t i = 0; i < count; ++i) {
    for (int p = 0; p < side * side; ++p) d.pixels.push_back(uint8_t(rng.next() % 256));
    d.labels.push_back(uint8_t(rng.next() % 10));
  }
  return d;
}

// Trains two epochs with fit() and counts allocations from on_step of epoch
// 2's first step to on_step of its last. Returns the steps measured.
int measure_epoch_two(Model& model, Task& task, const TrainOptions& options, const Dataset& train,
                      const Dataset& test) {
  prepare();
  use_threads(model, 2);  // the backend's parallel paths
  auto optimizer = make_optimizer(options.optimizer, model.parameter_count());
  TrainProgress progress;
  TrainCallbacks callbacks;
  int measured = 0;
  callbacks.on_step = [&](const StepInfo& s) {
    if (s.epoch != 2) return;
    if (s.done <= size_t(options.batch_size)) {
      open_window();  // the steady state: after the epoch's first step
      return;
    }
    ++measured;
    if (s.done == s.total) close_window();
  };
  fit(model, *optimizer, task, train, test, options, progress, callbacks);
  close_window();
  EXPECT_EQ(progress.history.size(), 2u);
  return measured;
}

// mnistlab's own code, the C++ library and libgomp allocate nothing in the
// window; what oneDNN allocates is shown per step (see the top). libgomp
// made a 1568-byte team for every OpenMP region of one thread (about 178 a
// step in the classification step, 91 in the denoising one) until the
// kernels stopped opening regions for one thread (kernels/cpu/parallel.h).
// oneDNN's dnnl_sgemm posix_memaligns its packing workspace on every call
// (about 107 and 61 a step); dnnl_sgemm takes no workspace from its caller.
void expect_no_allocation(int measured) {
  EXPECT_EQ(counted_by(Own), 0) << describe_window(Own);
  EXPECT_EQ(counted_by(Gomp), 0) << describe_window(Gomp);
  for (Caller c : {Dnnl}) {
    if (counted_by(c) == 0) continue;
    std::printf("known, not counted against the step: %s allocated %.1f times per step\n%s", kCallerNames[c],
                double(counted_by(c)) / measured, describe_window(c).c_str());
    ::testing::Test::RecordProperty(std::string(kCallerNames[c]) + "_allocations", int(counted_by(c)));
  }
}

class NoAllocationInFit : public ::testing::Test {
 protected:
  void TearDown() override { close_window(); }
};

TEST_F(NoAllocationInFit, ClassificationStep) {
  // Joins, BatchNorm, pooling, dropout, per-image (28x28, on both threads)
  // and batched (4x4) convolutions; augmented batches; Adam with OneCycle
  // (lr and beta1 set every step); label smoothing.
  Model model = parse_model(
      "input 1 28 28\nconv 8 k=3 p=1\nbatchnorm\nrelu as a\nconv 8 k=3 p=1\nadd a\nconcat a\nmaxpool k=2\n"
      "conv 8 k=3 s=2 p=1\nrelu\nconv 8 k=3 s=2 p=1\nrelu\ndropout p=0.2\nflatten\nlinear 10\n",
      "no-allocation test");
  model.build(0);
  ClassificationOptions c;
  c.label_smoothing = 0.1f;
  auto task = make_classification_task(c);
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 32;
  o.seed = 5;
  o.augment = parse_augment("crop=2,degrees=10,translate=0.1,scale=0.9:1.1,shear=5,elastic=20:4,hflip,erase=0.5");
  o.schedule.kind = ScheduleKind::OneCycle;
  const Dataset train = synthetic(5 * 32 + 3, 28, 1), test = synthetic(20, 28, 2);
  const int measured = measure_epoch_two(model, *task, o, train, test);
  EXPECT_EQ(measured, 5);  // steps 2..6, the last one partial
  expect_no_allocation(measured);
}

// The same step at Precision::Bf16: the bfloat16 GEMM packs on the stack,
// the rounded Winograd inputs and oneDNN's bf16 convolutions' reordered
// tensors and scratchpads live in the kernels' workspace, and those
// primitives run through the C API with arguments fixed at planning (the
// C++ API's execute() builds a vector per call). oneDNN's own execute
// allocates inside the library (about 500 times a step here), shown as
// known like its SGEMM's.
TEST_F(NoAllocationInFit, ClassificationStepAtBf16) {
  const std::string why = cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt);
  if (!why.empty()) GTEST_SKIP() << why;
  Model model = parse_model(
      "input 1 28 28\nconv 8 k=3 p=1\nbatchnorm\nrelu as a\nconv 8 k=3 p=1\nadd a\nconcat a\nmaxpool k=2\n"
      "conv 16 k=3 p=1\nrelu\nconv 8 k=3 s=2 p=1\nrelu\nconv 8 k=3 s=2 p=1\nrelu\nflatten\nlinear 10\n",
      "no-allocation test");
  model.build(0);
  BackendOptions backend = model.backend_options();
  backend.precision = Precision::Bf16;
  model.set_backend(backend);
  auto task = make_classification_task(ClassificationOptions{});
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 32;
  o.seed = 5;
  const Dataset train = synthetic(5 * 32 + 3, 28, 1), test = synthetic(20, 28, 2);
  const int measured = measure_epoch_two(model, *task, o, train, test);
  EXPECT_EQ(measured, 5);
  expect_no_allocation(measured);
  EXPECT_EQ(model.backend_options().precision, Precision::Bf16);
}

TEST_F(NoAllocationInFit, DenoisingStep) {
  // A small U-Net (transposed convolutions, concat) with Gaussian noise made
  // per step, SGD with momentum and a cosine schedule, MSE.
  Model model = parse_model(
      "input 1 16 16 as image\nconv 8 k=3 s=2 p=1\nrelu as down\nconv 8 k=3 s=2 p=1\nrelu\n"
      "convt 8 k=3 s=2 p=1 op=1\nrelu\nconcat down\nconvt 8 k=3 s=2 p=1 op=1\nrelu\nconcat image\n"
      "conv 1 k=3 p=1\nsigmoid\n",
      "no-allocation test");
  model.build(0);
  DenoiseOptions d;
  d.noise.kind = NoiseKind::Gaussian;
  d.noise = checked_noise(d.noise);
  d.loss = LossKind::Mse;
  d.seed = 3;
  auto task = make_denoising_task(d);
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 8;
  o.optimizer.kind = OptimizerKind::Sgd;
  o.optimizer.lr = 0.01f;
  o.optimizer.momentum = 0.9f;
  o.schedule.kind = ScheduleKind::Cosine;
  const Dataset train = synthetic(4 * 8 + 5, 16, 3), test = synthetic(10, 16, 4);
  const int measured = measure_epoch_two(model, *task, o, train, test);
  EXPECT_EQ(measured, 4);
  expect_no_allocation(measured);
}

}  // namespace
