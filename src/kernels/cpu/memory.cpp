#include "kernels/cpu/memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {
namespace {

constexpr size_t kAlignment = 64;  // one cache line, one AVX-512 vector
constexpr size_t kChunk = size_t(1) << 14;  // floats a thread copies or fills at once

class HostStorage final : public Storage {
 public:
  explicit HostStorage(size_t bytes) {
    bytes_ = bytes;
    if (bytes == 0) return;
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    data_ = std::aligned_alloc(kAlignment, rounded);
    if (!data_) throw std::bad_alloc();
    std::memset(data_, 0, rounded);
  }
  ~HostStorage() override { std::free(data_); }
};

}  // namespace

std::unique_ptr<Storage> allocate_host(size_t bytes) { return std::make_unique<HostStorage>(bytes); }

void copy(int threads, const float* from, size_t count, float* to) {
  if (from == to || count == 0) return;
  const size_t chunks = (count + kChunk - 1) / kChunk;
  parallel_for(threads, chunks, [&](size_t c) {
    const size_t begin = c * kChunk;
    std::memcpy(to + begin, from + begin, sizeof(float) * std::min(kChunk, count - begin));
  });
}

void fill(int threads, float value, size_t count, float* to) {
  const size_t chunks = (count + kChunk - 1) / kChunk;
  parallel_for(threads, chunks, [&](size_t c) {
    const size_t begin = c * kChunk;
    std::fill_n(to + begin, std::min(kChunk, count - begin), value);
  });
}

}  // namespace mnistlab::cpu
