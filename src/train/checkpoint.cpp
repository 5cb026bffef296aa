#include "mnistlab/checkpoint.h"

#include <nlohmann/json.hpp>

#include "mnistlab/error.h"
#include "mnistlab/safetensors.h"

namespace mnistlab {
namespace {

const char* const kOptimizerPrefix = "optimizer.";

nlohmann::json progress_json(const TrainProgress& p) {
  nlohmann::json history = nlohmann::json::array();
  for (const EpochMetrics& m : p.history)
    history.push_back({m.epoch, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.seconds});
  return {{"epoch", p.epoch},
          {"batch", p.batch},
          {"loss_sum", p.loss_sum},
          {"correct", p.correct},
          {"seconds", p.seconds},
          {"best_epoch", p.best_epoch},
          {"best_metric", p.best_metric},
          {"history", history}};
}

TrainProgress progress_from_json(const nlohmann::json& j) {
  TrainProgress p;
  p.epoch = j.at("epoch");
  p.batch = j.at("batch");
  p.loss_sum = j.at("loss_sum");
  p.correct = j.at("correct");
  p.seconds = j.at("seconds");
  p.best_epoch = j.at("best_epoch");
  p.best_metric = j.at("best_metric");
  for (const auto& row : j.at("history"))
    p.history.push_back({row.at(0), row.at(1), row.at(2), row.at(3), row.at(4), row.at(5)});
  return p;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, Model& model, Optimizer& optimizer,
                     const TrainProgress& progress) {
  std::map<std::string, StoredTensor> tensors;
  for (const StateEntry& e : model.state_dict()) {
    StoredTensor t = f32_tensor(e.param->value, {e.param->shape.begin(), e.param->shape.end()});
    tensors.emplace(e.key, std::move(t));
  }
  for (const Optimizer::Buffer& b : optimizer.buffers()) {
    if (b.values->empty()) continue;
    size_t offset = 0;
    for (const StateEntry& e : model.state_dict()) {
      if (e.param->kind != ParamKind::Parameter) continue;
      tensors.emplace(kOptimizerPrefix + e.key + "." + b.name,
                      f32_tensor(b.values->data() + offset, {e.param->shape.begin(), e.param->shape.end()}));
      offset += e.param->numel();
    }
  }
  write_safetensors(path, tensors,
                    {{"mnistlab.optimizer_steps", std::to_string(optimizer.steps())},
                     {"mnistlab.model_training_steps", std::to_string(model.training_steps())},
                     {"mnistlab.progress", progress_json(progress).dump()}});
}

TrainProgress load_checkpoint(const std::filesystem::path& path, Model& model, Optimizer& optimizer) {
  const std::string origin = path.string();
  auto tensors = read_safetensors(path);
  const auto metadata = read_safetensors_metadata(path);
  TrainProgress progress;
  int64_t steps = 0;
  try {
    steps = std::stoll(metadata.at("mnistlab.optimizer_steps"));
    progress = progress_from_json(nlohmann::json::parse(metadata.at("mnistlab.progress")));
  } catch (const std::exception& e) {
    throw Error(origin + ": not a mnistlab checkpoint (its metadata lacks the optimizer step count or the run's "
                "progress: " + e.what() + ")");
  }
  // Optimizer buffers out first: what remains must be exactly the state_dict.
  std::map<std::string, StoredTensor> optimizer_tensors;
  for (auto it = tensors.begin(); it != tensors.end();) {
    if (it->first.rfind(kOptimizerPrefix, 0) == 0) {
      optimizer_tensors.insert(tensors.extract(it++));
    } else {
      ++it;
    }
  }
  // Check the buffers before anything is loaded.
  const auto entries = model.state_dict();
  for (const Optimizer::Buffer& b : optimizer.buffers()) {
    size_t present = 0, expected = 0;
    for (const StateEntry& e : entries) {
      if (e.param->kind != ParamKind::Parameter) continue;
      ++expected;
      const std::string key = kOptimizerPrefix + e.key + "." + b.name;
      const auto it = optimizer_tensors.find(key);
      if (it == optimizer_tensors.end()) continue;
      ++present;
      if (it->second.numel() != e.param->numel() || it->second.dtype != "F32")
        throw Error(origin + ": '" + key + "' does not match the parameter " + e.key);
    }
    if (present != 0 && present != expected)
      throw Error(origin + ": optimizer buffer '" + b.name + "' is there for " + std::to_string(present) + " of " +
                  std::to_string(expected) + " parameters");
  }
  load_state_dict(model, tensors, origin);
  for (const Optimizer::Buffer& b : optimizer.buffers()) {
    std::vector<float> loaded;
    for (const StateEntry& e : entries) {
      if (e.param->kind != ParamKind::Parameter) continue;
      const auto it = optimizer_tensors.find(kOptimizerPrefix + e.key + "." + b.name);
      if (it == optimizer_tensors.end()) break;
      const auto values = it->second.to_floats();
      loaded.insert(loaded.end(), values.begin(), values.end());
    }
    // Absent: not created yet when the checkpoint was written (SGD's momentum buffer).
    if (loaded.size() == model.parameter_count()) *b.values = std::move(loaded);
  }
  optimizer.set_steps(steps);
  model.set_training_steps(uint64_t(steps));
  return progress;
}

}  // namespace mnistlab
