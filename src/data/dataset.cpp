// Datasets: an images file and a labels file that agree, found in a folder
// under the original MNIST names (raw or .gz).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "data/permutation.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

constexpr int kNumClasses = 10;
const char* const kHowToGetData =
    "run scripts/setup.sh to download MNIST and Fashion-MNIST into data/";

// The original name first, then the same name with .gz (as torchvision and
// the Debian package ship them).
fs::path find_idx_file(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  fs::path raw = dir / name;
  if (fs::exists(raw, ec)) return raw;
  fs::path gz = dir / (name + ".gz");
  if (fs::exists(gz, ec)) return gz;
  throw Error(raw.string() + ": no such file, nor " + gz.string() + "; " + kHowToGetData);
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
    Dataset d;
    d.rows = train.rows;
    d.cols = train.cols;
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
  Dataset out;
  out.rows = rows;
  out.cols = cols;
  out.pixels.assign(pixels.begin(), pixels.begin() + std::ptrdiff_t(n * image_size()));
  out.labels.assign(labels.begin(), labels.begin() + std::ptrdiff_t(n));
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
  for (size_t i = 0; i < lab.size(); ++i) {
    if (lab[i] >= kNumClasses) {
      throw Error("label " + std::to_string(lab[i]) + " at index " + std::to_string(i) + " in " +
                  labels.string() + " is out of range 0.." + std::to_string(kNumClasses - 1));
    }
  }
  Dataset data;
  data.rows = img.rows;
  data.cols = img.cols;
  data.pixels = std::move(img.pixels);
  data.labels = std::move(lab);
  return data;
}

Dataset load_split(const std::filesystem::path& dir, bool train) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error(dir.string() + ": no such folder; " + kHowToGetData);
  if (!fs::is_directory(dir, ec)) {
    throw Error(dir.string() + ": is not a folder; expected a folder holding the MNIST IDX files "
                "(train-images-idx3-ubyte, ...)");
  }
  std::string prefix = train ? "train" : "t10k";
  fs::path images = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  fs::path labels = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  return load_idx_pair(images, labels);
}

}  // namespace mnistlab
