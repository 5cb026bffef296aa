// Does a model fit a dataset? Checked before a run writes anything, with the
// change to the model file that would make it fit.
#include <algorithm>

#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/trainer.h"

namespace mnistlab {
namespace {

void check_input_fits(const Model& model, const Dataset& data) {
  const SampleShape in = model.input_shape();
  if (in.c != 1 || in.h != data.rows || in.w != data.cols) {
    const std::string size = std::to_string(data.rows) + " " + std::to_string(data.cols);
    throw Error("the model takes inputs " + in.str() + " but the dataset has 1x" + std::to_string(data.rows) + "x" +
                std::to_string(data.cols) + " images; the model file's input line would read `input 1 " + size + "`");
  }
}

}  // namespace

void check_classifier_fits(const Model& model, const Dataset& data) {
  check_input_fits(model, data);
  const int64_t outputs = model.output_shape().numel();
  // A dataset made in memory has no class count: every label needs a score.
  const int top_label = data.labels.empty() ? 0 : *std::max_element(data.labels.begin(), data.labels.end());
  const bool known = data.num_classes > 0;
  const int classes = known ? data.num_classes : top_label + 1;
  if (known ? outputs == classes : outputs > top_label) return;
  const std::string source = known ? data.classes_source : "labels 0.." + std::to_string(top_label);
  throw Error("the network's output has " + std::to_string(outputs) + " values, but the dataset has " +
              std::to_string(classes) + " classes (" + source + "); change the last linear layer to `linear " +
              std::to_string(classes) + "`");
}

void check_denoiser(const Model& model, const Dataset& data) {
  const SampleShape in = model.input_shape(), out = model.output_shape();
  if (!(in == out))
    throw Error("a denoiser must give back the shape it takes: the model takes " + in.str() + " and gives " +
                out.str());
  check_input_fits(model, data);
}

}  // namespace mnistlab
