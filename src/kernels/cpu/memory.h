#pragma once
// The CPU backend's memory: host blocks, zero-filled, aligned for AVX-512
// loads, and the copies and fills within them.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <memory>

#include "kernels/backend.h"

#if defined(__SANITIZE_ADDRESS__)
#define MNISTLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MNISTLAB_ASAN 1
#endif
#endif

namespace mnistlab::cpu {

std::unique_ptr<Storage> allocate_host(size_t bytes);
void copy(int threads, const float* from, size_t count, float* to);
void fill(int threads, float value, size_t count, float* to);

// A kernel's own float buffer that it always writes before it reads, left
// uninitialized so that its pages stay untouched, not resident, until used:
// a oneDNN bf16 layer keeps our kernel only for partial batches.
class KernelFloats {
 public:
  KernelFloats() = default;
  explicit KernelFloats(size_t count) : data_(std::make_unique_for_overwrite<float[]>(count)), size_(count) {
#if defined(MNISTLAB_ASAN)
    // Sanitizer builds (scripts/sanitize.sh): a read before the first write
    // shows as NaN, which the tests' comparisons catch. (Not keyed on
    // NDEBUG: this project's Release flags do not define it.)
    std::fill_n(data_.get(), count, std::numeric_limits<float>::quiet_NaN());
#endif
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }
  float& operator[](size_t i) { return data_[i]; }

 private:
  std::unique_ptr<float[]> data_;
  size_t size_ = 0;
};

}  // namespace mnistlab::cpu
