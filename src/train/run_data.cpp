#include "train/run_data.h"

#include <tuple>

namespace mnistlab {
namespace {

void name_classes(const RunConfig& c, RunData& d) {
  d.train.class_names = d.test.class_names =
      class_names(c.dataset, d.dir, c.class_names, d.train.num_classes, d.train.classes_source);
}

void split_off_validation(const RunConfig& c, RunData& d) {
  d.validating = c.val_split > 0;
  d.eval_name = d.validating ? "val" : "test";
  if (d.validating) std::tie(d.train, d.val) = split_validation(d.train, c.val_split, c.train.seed);
}

}  // namespace

RunData load_run_data(const RunConfig& c, const Task& task) {
  RunData d;
  d.dir = dataset_dir(c.dataset, c.data_dir).string();
  d.train = load_split(d.dir, true);
  d.test = load_split(d.dir, false);
  if (task.uses_class_names()) name_classes(c, d);
  if (c.train_limit > 0) d.train = d.train.head(c.train_limit);
  if (c.test_limit > 0) d.test = d.test.head(c.test_limit);
  split_off_validation(c, d);
  return d;
}

}  // namespace mnistlab
