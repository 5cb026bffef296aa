// Mini-batches in a seeded order: a function of (seed, epoch) only, and the
// same on every standard library (data/permutation.h).
#include <algorithm>
#include <array>
#include <numeric>

#include "data/permutation.h"
#include "mnistlab/data.h"
#include "mnistlab/distributed.h"
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

}  // namespace

BatchLoader::BatchLoader(const Dataset& data, int batch_size, bool shuffle, uint64_t seed,
                         const AugmentOptions& augment)
    : data_(data), batch_size_(batch_size), shuffle_(shuffle), seed_(seed), augment_(augment) {
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
  if (augment_.any()) scratch_.resize(augment_scratch_floats(data.rows, data.cols));
  start_epoch(0);
}

void BatchLoader::start_epoch(int epoch) {
  if (epoch < 0) throw Error("epoch " + std::to_string(epoch) + " is not valid; expected 0 or more");
  std::iota(order_.begin(), order_.end(), uint32_t(0));
  epoch_ = epoch;
  cursor_ = 0;
  if (!shuffle_) return;
  seeded_shuffle(order_, seed_ * 1000003u + uint64_t(epoch));
}

int BatchLoader::next(float* images, int32_t* labels) {
  if (cursor_ >= order_.size()) return 0;
  const size_t count = std::min(size_t(batch_size_), order_.size() - cursor_);
  const auto [first, end] = share_of(count, share_rank_, share_ranks_);
  const size_t pixels = data_.image_size();
  for (size_t k = first; k < end; ++k) {
    size_t index = order_[cursor_ + k];
    const uint8_t* src = data_.pixels.data() + index * pixels;
    float* dst = images + (k - first) * pixels;
    if (augment_.any()) {
      Rng rng(augment_stream(seed_, epoch_, cursor_ + k));
      const AugmentDraw draw = draw_augment(augment_, data_.rows, data_.cols, rng);
      augment_image(src, data_.rows, data_.cols, augment_, draw, dst, scratch_.data());
    } else {
      for (size_t p = 0; p < pixels; ++p) dst[p] = kByteToUnit[src[p]];
    }
    labels[k - first] = int32_t(data_.labels[index]);
  }
  cursor_ += count;
  return int(end - first);
}

void BatchLoader::set_share(int rank, int ranks) {
  if (ranks < 1 || rank < 0 || rank >= ranks)
    throw Error("rank " + std::to_string(rank) + " of " + std::to_string(ranks) + " is not valid");
  share_rank_ = rank;
  share_ranks_ = ranks;
}

void BatchLoader::skip_batches(size_t count) {
  cursor_ = std::min(order_.size(), cursor_ + count * size_t(batch_size_));
}

size_t BatchLoader::num_batches() const {
  return (order_.size() + size_t(batch_size_) - 1) / size_t(batch_size_);
}

}  // namespace mnistlab
