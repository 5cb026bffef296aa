#include "train/task_evaluation.h"

#include <vector>

namespace mnistlab {

void for_each_batch(const Dataset& data, int batch_size, const EvalBatch& on_batch) {
  if (data.size() == 0) return;
  BatchLoader loader(data, batch_size, false, 0);
  std::vector<float> images(size_t(batch_size) * data.image_size());
  std::vector<int32_t> labels(static_cast<size_t>(batch_size));
  loader.start_epoch(0);
  size_t first = 0;
  for (int n; (n = loader.next(images.data(), labels.data())) > 0; first += size_t(n))
    on_batch(images.data(), labels.data(), n, first);
}

}  // namespace mnistlab
