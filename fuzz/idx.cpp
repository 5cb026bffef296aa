// The IDX reader (raw or gzip, told apart by content) on one file, as
// load_split reads a dataset's image and label files (src/data/idx_read.cpp).
#include "fuzz_common.h"
#include "mnistlab/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mnistlab;
  const auto path = fuzz::write_file("train-images-idx3-ubyte", data, size);
  fuzz::accepts("read_idx_images", [&] {
    const IdxImages images = read_idx_images(path);
    if (images.pixels.size() != size_t(images.count) * size_t(images.rows) * size_t(images.cols)) std::abort();
  });
  fuzz::accepts("read_idx_labels", [&] { read_idx_labels(path); });
  return 0;
}
