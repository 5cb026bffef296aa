// Datasets: an images file and a labels file that agree (the folder's files
// are found by dataset_files.cpp), their classes, a validation split.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "data/permutation.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

// A dataset with `from`'s image size and classes, and no samples.
Dataset empty_like(const Dataset& from) {
  Dataset d;
  d.rows = from.rows;
  d.cols = from.cols;
  d.num_classes = from.num_classes;
  d.classes_source = from.classes_source;
  d.class_names = from.class_names;
  return d;
}

std::string classes_source(int num_classes, const std::filesystem::path& labels) {
  return "labels 0.." + std::to_string(num_classes - 1) + " in " + labels.string();
}

}  // namespace

std::pair<Dataset, Dataset> split_validation(const Dataset& train, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1))
    throw Error("the validation split must be a fraction in (0, 1), got " + std::to_string(fraction));
  const size_t val_count = size_t(std::llround(fraction * double(train.size())));
  if (val_count == 0 || val_count == train.size())
    throw Error("a validation split of " + std::to_string(fraction) + " of " + std::to_string(train.size()) +
                " training images leaves one side empty");
  std::vector<uint32_t> order(train.size());
  std::iota(order.begin(), order.end(), uint32_t(0));
  seeded_shuffle(order, seed ^ 0x5eed5a1177ull);
  // Each side keeps the original order, so the loader's shuffle is all the randomness.
  std::sort(order.begin(), order.begin() + long(val_count));
  std::sort(order.begin() + long(val_count), order.end());
  auto take = [&](size_t from, size_t to) {
    Dataset d = empty_like(train);
    for (size_t k = from; k < to; ++k) {
      const size_t i = order[k];
      d.pixels.insert(d.pixels.end(), train.pixels.begin() + long(i * train.image_size()),
                      train.pixels.begin() + long((i + 1) * train.image_size()));
      d.labels.push_back(train.labels[i]);
    }
    return d;
  };
  return {take(val_count, order.size()), take(0, val_count)};
}

Dataset Dataset::head(size_t limit) const {
  size_t n = (limit == 0 || limit >= size()) ? size() : limit;
  Dataset out = empty_like(*this);
  out.pixels.assign(pixels.begin(), pixels.begin() + std::ptrdiff_t(n * image_size()));
  out.labels.assign(labels.begin(), labels.begin() + std::ptrdiff_t(n));
  out.origin = origin;
  return out;
}

Dataset Dataset::slice(size_t begin, size_t end) const {
  end = std::min(end, size());
  begin = std::min(begin, end);
  Dataset out = empty_like(*this);
  out.pixels.assign(pixels.begin() + std::ptrdiff_t(begin * image_size()),
                    pixels.begin() + std::ptrdiff_t(end * image_size()));
  out.labels.assign(labels.begin() + std::ptrdiff_t(begin), labels.begin() + std::ptrdiff_t(end));
  out.origin = origin + begin;
  return out;
}

Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels) {
  IdxImages img = read_idx_images(images);
  // An empty split would train nothing and evaluate to a meaningless 0%.
  if (img.count == 0) throw Error(images.string() + ": holds no images; expected at least one");
  std::vector<uint8_t> lab = read_idx_labels(labels);
  if (size_t(img.count) != lab.size()) {
    throw Error("images (" + std::to_string(img.count) + " in " + images.string() + ") and labels (" +
                std::to_string(lab.size()) + " in " + labels.string() + ") differ in count");
  }
  Dataset data;
  data.rows = img.rows;
  data.cols = img.cols;
  data.pixels = std::move(img.pixels);
  data.labels = std::move(lab);
  data.num_classes = *std::max_element(data.labels.begin(), data.labels.end()) + 1;
  data.classes_source = classes_source(data.num_classes, labels);
  return data;
}

Dataset load_split(const std::filesystem::path& dir, bool train) {
  const DatasetFiles files = find_dataset_files(dir);
  Dataset data = train ? load_idx_pair(files.train_images, files.train_labels)
                       : load_idx_pair(files.test_images, files.test_labels);
  // The other split's labels may hold a class this one lacks; on a tie the
  // training labels are the ones named.
  const std::filesystem::path& other = train ? files.test_labels : files.train_labels;
  const std::vector<uint8_t> labels = read_idx_labels(other);
  const int other_classes = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  if (other_classes > data.num_classes || (!train && other_classes == data.num_classes)) {
    data.num_classes = other_classes;
    data.classes_source = classes_source(other_classes, other);
  }
  return data;
}

}  // namespace mnistlab
