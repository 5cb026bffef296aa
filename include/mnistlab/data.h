#pragma once
// MNIST-family data: IDX files (raw or gzip), datasets and a batch loader.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mnistlab/augment.h"

namespace mnistlab {

// Images as bytes (scaled to [0,1] only when a batch is made), labels
// 0..num_classes-1.
struct Dataset {
  int rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // size() * rows * cols
  std::vector<uint8_t> labels;
  // Max label + 1 over the folder's train and test labels (the loaders set
  // it); 0: not known, the labels alone say. classes_source says where it
  // comes from, for errors: "labels 0..46 in DIR/emnist-balanced-train-labels-idx1-ubyte.gz".
  int num_classes = 0;
  std::string classes_source;
  // One per class in label order (torchvision's Dataset.classes); empty: the class numbers.
  std::vector<std::string> class_names;
  size_t size() const { return labels.size(); }
  size_t image_size() const { return size_t(rows) * cols; }
  // Where sample 0 stands in the set this one was cut from (slice): what
  // is drawn per sample (the denoising task's test noise) follows it, so a
  // rank evaluating its slice sees what one process sees.
  size_t origin = 0;
  // The first `limit` samples (all when limit is 0 or >= size()).
  Dataset head(size_t limit) const;
  // Samples [begin, end), end clamped to size().
  Dataset slice(size_t begin, size_t end) const;
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

// Images and labels of one split; checks the counts agree. num_classes:
// its max label + 1.
Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels);

// The four IDX files of a dataset folder, found by name, each raw or .gz (the
// raw one when both are there): *train-images-idx3-ubyte,
// *train-labels-idx1-ubyte, *t10k-images-idx3-ubyte or *test-images-idx3-ubyte,
// *t10k-labels-idx1-ubyte or *test-labels-idx1-ubyte, where * is any prefix
// (MNIST's own names, EMNIST's emnist-balanced-train-images-idx3-ubyte.gz,
// ...). A missing folder, or a pattern that matches no file or more than one,
// is an error naming the folder, the pattern and the candidates.
struct DatasetFiles {
  std::filesystem::path train_images, train_labels, test_images, test_labels;
};
DatasetFiles find_dataset_files(const std::filesystem::path& dir);

// One split of the folder's dataset (find_dataset_files), of any image size;
// num_classes counts the labels of both splits, so a test set that lacks the
// last class still has it.
Dataset load_split(const std::filesystem::path& dir, bool train);

// What a command's --dataset names: "mnist" and "fashion" are the built-in
// datasets in data/mnist and data/fashion-mnist (or `data_dir`, when given);
// anything else is the path of a dataset folder, and data_dir must be empty.
bool is_builtin_dataset(const std::string& dataset);
std::filesystem::path dataset_dir(const std::string& dataset, const std::string& data_dir);
// For run folders and titles: "mnist", "fashion", or the folder's own name.
std::string dataset_name(const std::string& dataset);

// The names of a dataset's `classes` classes, in label order: from
// `names_file` when given, else from DIR/classes.txt when there is one (one
// name per line), else the built-in names of mnist (digits) and fashion
// (torchvision's FashionMNIST.classes) when there are 10 classes, else none
// (the class numbers stand for them). A file whose line count is not
// `classes` is an error naming it, its line count and the class count, with
// `classes_source` (where the count comes from).
std::vector<std::string> class_names(const std::string& dataset, const std::filesystem::path& dir,
                                     const std::string& names_file, int classes, const std::string& classes_source);

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
  // Data parallel: next() fills and returns only rank `rank`'s share of each
  // batch (share_of, distributed.h); the order and each
  // image's augmentation stay those of the whole batch.
  void set_share(int rank, int ranks);
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
  int share_rank_ = 0, share_ranks_ = 1;
};

}  // namespace mnistlab
