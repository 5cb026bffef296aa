#pragma once
// MNIST-family data: IDX files (raw or gzip), datasets and a batch loader.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mnistlab/augment.h"

namespace mnistlab {

// Images as bytes (scaled to [0,1] only when a batch is made), labels 0..9.
struct Dataset {
  int rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // size() * rows * cols
  std::vector<uint8_t> labels;
  size_t size() const { return labels.size(); }
  size_t image_size() const { return size_t(rows) * cols; }
  // The first `limit` samples (all when limit is 0 or >= size()).
  Dataset head(size_t limit) const;
};

struct IdxImages {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
};

// Read an IDX file, raw or gzip (detected from content, not the name).
// Throws mnistlab::Error naming the file and what is wrong: missing, wrong
// magic number, dimensions, or fewer bytes than the header promises.
IdxImages read_idx_images(const std::filesystem::path& path);
std::vector<uint8_t> read_idx_labels(const std::filesystem::path& path);

// A validation set of round(fraction * size) samples drawn from `train` by a
// seeded permutation; returns {rest, validation}.
std::pair<Dataset, Dataset> split_validation(const Dataset& train, double fraction, uint64_t seed);

// Images and labels of one split; checks the counts agree and labels < 10.
Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels);

// A folder with the four files under their original names, each raw or .gz:
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte. A missing folder or file is an error that names
// it and says how to get the data (scripts/setup.sh).
Dataset load_split(const std::filesystem::path& dir, bool train);

// Write an IDX file (raw, or gzip when the name ends in .gz); for tests
// and tools that make small datasets.
void write_idx_images(const std::filesystem::path& path, const IdxImages& images);
void write_idx_labels(const std::filesystem::path& path, const std::vector<uint8_t>& labels);

// Shuffled (seeded) mini-batches, augmented when asked; the last partial
// batch is kept.
class BatchLoader {
 public:
  BatchLoader(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, const AugmentOptions& augment = {});
  BatchLoader(Dataset&&, int, bool, uint64_t, const AugmentOptions& = {}) = delete;  // it keeps a reference
  // Start epoch `epoch` (0-based): the order depends only on (seed, epoch).
  void start_epoch(int epoch);
  // Fill images (count * rows * cols floats in [0,1], NCHW with C=1) and
  // labels for the next batch; returns the batch's size, 0 at the end.
  int next(float* images, int32_t* labels);
  // Pass over the next `count` batches without filling them (resuming mid-epoch).
  void skip_batches(size_t count);
  size_t num_batches() const;
  int batch_size() const { return batch_size_; }
  size_t image_size() const { return data_.image_size(); }

 private:
  const Dataset& data_;
  int batch_size_;
  bool shuffle_;
  uint64_t seed_;
  AugmentOptions augment_;
  std::vector<float> scratch_;
  std::vector<uint32_t> order_;
  int epoch_ = 0;
  size_t cursor_ = 0;
};

}  // namespace mnistlab
