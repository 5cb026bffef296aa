// Mini-batches in a seeded order. The order is a function of (seed, epoch)
// only, and the same on every standard library: std::mt19937_64 is fully
// specified by the standard, while std::shuffle and
// std::uniform_int_distribution are not, so both are written out here.
#include <array>
#include <numeric>
#include <random>

#include "mnistlab/data.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

// pixel / 255.0f, as torchvision's ToTensor computes it (a division, not a
// multiplication by 1/255, which differs in the last bit for some bytes).
constexpr std::array<float, 256> kByteToUnit = [] {
  std::array<float, 256> t{};
  for (int i = 0; i < 256; ++i) t[size_t(i)] = float(i) / 255.0f;
  return t;
}();

// Uniform in [0, n) without modulo bias: reject the lowest 2^64 mod n draws
// so the accepted range is a multiple of n.
uint64_t uniform_below(std::mt19937_64& engine, uint64_t n) {
  uint64_t threshold = (0 - n) % n;
  uint64_t r;
  do r = engine();
  while (r < threshold);
  return r % n;
}

}  // namespace

BatchLoader::BatchLoader(const Dataset& data, int batch_size, bool shuffle, uint64_t seed)
    : data_(data), batch_size_(batch_size), shuffle_(shuffle), seed_(seed) {
  if (batch_size < 1) {
    throw Error("batch size " + std::to_string(batch_size) + " is not valid; expected 1 or more");
  }
  if (data.size() > UINT32_MAX) {
    throw Error("dataset of " + std::to_string(data.size()) + " samples is too large for the loader (at most " +
                std::to_string(UINT32_MAX) + ")");
  }
  if (data.pixels.size() != data.size() * data.image_size()) {
    throw Error("dataset holds " + std::to_string(data.pixels.size()) + " pixel bytes, expected " +
                std::to_string(data.size()) + " samples of " + std::to_string(data.rows) + "x" +
                std::to_string(data.cols) + " = " + std::to_string(data.size() * data.image_size()));
  }
  order_.resize(data.size());
  start_epoch(0);
}

void BatchLoader::start_epoch(int epoch) {
  if (epoch < 0) throw Error("epoch " + std::to_string(epoch) + " is not valid; expected 0 or more");
  std::iota(order_.begin(), order_.end(), uint32_t(0));
  cursor_ = 0;
  if (!shuffle_) return;
  std::mt19937_64 engine(seed_ * 1000003u + uint64_t(epoch));
  // Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm P), from the back.
  for (size_t i = order_.size(); i > 1; --i) {
    size_t j = size_t(uniform_below(engine, i));
    std::swap(order_[i - 1], order_[j]);
  }
}

int BatchLoader::next(float* images, int32_t* labels) {
  if (cursor_ >= order_.size()) return 0;
  size_t count = std::min(size_t(batch_size_), order_.size() - cursor_);
  size_t pixels = data_.image_size();
  for (size_t k = 0; k < count; ++k) {
    size_t index = order_[cursor_ + k];
    const uint8_t* src = data_.pixels.data() + index * pixels;
    float* dst = images + k * pixels;
    for (size_t p = 0; p < pixels; ++p) dst[p] = kByteToUnit[src[p]];
    labels[k] = int32_t(data_.labels[index]);
  }
  cursor_ += count;
  return int(count);
}

size_t BatchLoader::num_batches() const {
  return (order_.size() + size_t(batch_size_) - 1) / size_t(batch_size_);
}

}  // namespace mnistlab
