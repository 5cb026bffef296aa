#include "mnistlab/checkpoint.h"

#include <algorithm>
#include <cfloat>
#include <nlohmann/json.hpp>

#include "io/json_value.h"
#include "mnistlab/error.h"
#include "mnistlab/run_options.h"
#include "mnistlab/safetensors.h"

namespace mnistlab {
namespace {

const char* const kOptimizerPrefix = "optimizer.";

nlohmann::json progress_json(const TrainProgress& p) {
  nlohmann::json history = nlohmann::json::array();
  for (const EpochMetrics& m : p.history)
    history.push_back({{"epoch", m.epoch},
                       {"train", m.train},
                       {"eval", m.eval},
                       {"seconds", m.seconds},
                       {"images_per_second", m.images_per_second}});
  return {{"epoch", p.epoch},          {"batch", p.batch},           {"sums", p.sums},
          {"seconds", p.seconds},      {"best_epoch", p.best_epoch}, {"best_metric", p.best_metric},
          {"history", history}};
}

constexpr int64_t kMaxCount = 1000000000000;  // batches, steps, images: far beyond any run
constexpr size_t kMaxMetrics = 16;

// Every value checked: types, finite, integers in range, one history row per
// finished epoch. Whether they fit the run (its task, epochs and batches) is
// check_progress's. Metrics may be null: NaN, as JSON writes it.
TrainProgress progress_from_json(const nlohmann::json& j, const std::string& origin) {
  const JsonValue root = JsonValue::document(j, "mnistlab.progress", origin);
  if (!j.is_object()) root.bad("a JSON object");
  const auto field = [&](const char* key) { return root.member(key); };
  TrainProgress p;
  p.epoch = int(field("epoch").integer(0, int64_t(run_option("epochs").range.hi)));  // as `train --epochs`
  p.batch = field("batch").integer(0, kMaxCount);
  p.sums = field("sums").numbers_or_nan(kMaxMetrics, 0, DBL_MAX);
  p.seconds = field("seconds").number(0, DBL_MAX);
  p.best_epoch = int(field("best_epoch").integer(0, p.epoch));  // 0 until an epoch is evaluated (--eval-every)
  p.best_metric = field("best_metric").number_or_nan(-DBL_MAX, DBL_MAX);
  const JsonValue history = field("history");
  if (!history.is_array_of(size_t(p.epoch)))
    history.bad("one row per finished epoch (\"epoch\" is " + std::to_string(p.epoch) + ")");
  for (int e = 0; e < p.epoch; ++e) {
    const JsonValue row = history.element(size_t(e));
    EpochMetrics m;
    m.epoch = int(row.member("epoch").integer(e + 1, e + 1));
    m.train = row.member("train").numbers_or_nan(kMaxMetrics, 0, DBL_MAX);
    m.eval = row.member("eval").numbers_or_nan(kMaxMetrics, -DBL_MAX, DBL_MAX);
    m.seconds = row.member("seconds").number(0, DBL_MAX);
    m.images_per_second = row.member("images_per_second").number(0, DBL_MAX);
    p.history.push_back(m);
  }
  return p;
}

// The metadata's step count: digits only, no sign, no trailing text.
int64_t steps_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& origin) {
  const auto it = metadata.find("mnistlab.optimizer_steps");
  if (it == metadata.end())
    throw Error(origin + ": not a mnistlab checkpoint (its metadata lacks \"mnistlab.optimizer_steps\")");
  const std::string& text = it->second;
  const bool digits = !text.empty() && text.size() <= 15 && text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoll(text) > kMaxCount)
    throw Error(origin + ": metadata \"mnistlab.optimizer_steps\" is \"" + text.substr(0, 40) +
                "\"; expected a whole number of steps from 0 to " + std::to_string(kMaxCount));
  return std::stoll(text);
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, Model& model, Optimizer& optimizer,
                     const TrainProgress& progress, const std::map<std::string, std::string>& extra) {
  std::map<std::string, StoredTensor> tensors;
  const std::vector<StateEntry> entries = model.state_dict();
  const std::vector<std::vector<float>> state = model.read_state();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Param& p = *entries[i].param;
    tensors.emplace(entries[i].key, f32_tensor(state[i].data(), {p.shape.begin(), p.shape.end()}));
  }
  for (const std::string& name : optimizer.buffer_names()) {
    const std::vector<float> values = optimizer.read_buffer(model.backend(), name);
    if (values.empty()) continue;
    size_t offset = 0;
    for (const StateEntry& e : entries) {
      if (e.param->kind != ParamKind::Parameter) continue;
      tensors.emplace(kOptimizerPrefix + e.key + "." + name,
                      f32_tensor(values.data() + offset, {e.param->shape.begin(), e.param->shape.end()}));
      offset += e.param->numel();
    }
  }
  std::map<std::string, std::string> metadata = extra;
  metadata["mnistlab.optimizer_steps"] = std::to_string(optimizer.steps());
  metadata["mnistlab.model_training_steps"] = std::to_string(model.training_steps());
  metadata["mnistlab.progress"] = progress_json(progress).dump();
  write_safetensors(path, tensors, metadata);
}

TrainProgress load_checkpoint(const std::filesystem::path& path, Model& model, Optimizer& optimizer) {
  const std::string origin = path.string();
  // One read for tensors and metadata: the file cannot change in between.
  SafetensorsFile file = read_safetensors_file(path);
  auto& tensors = file.tensors;
  const auto& metadata = file.metadata;
  // read_safetensors_file checked the CRC if there is one; a resume needs one,
  // or a flipped bit in the weights would resume silently.
  if (!metadata.count(kDataCrc32cKey))
    throw Error(origin + ": its metadata lacks \"" + kDataCrc32cKey +
                "\", the checksum of its data that every checkpoint mnistlab writes has; refusing to resume from it");
  const int64_t steps = steps_from_metadata(metadata, origin);
  const auto progress_it = metadata.find("mnistlab.progress");
  if (progress_it == metadata.end())
    throw Error(origin + ": not a mnistlab checkpoint (its metadata lacks \"mnistlab.progress\")");
  nlohmann::json progress_json;
  try {
    progress_json = nlohmann::json::parse(progress_it->second);
  } catch (const std::exception& e) {
    throw Error(origin + ": metadata \"mnistlab.progress\" is not JSON (" + e.what() + ")");
  }
  const TrainProgress progress = progress_from_json(progress_json, origin);
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
  for (const std::string& name : optimizer.buffer_names()) {
    size_t present = 0, expected = 0;
    for (const StateEntry& e : entries) {
      if (e.param->kind != ParamKind::Parameter) continue;
      ++expected;
      const std::string key = kOptimizerPrefix + e.key + "." + name;
      const auto it = optimizer_tensors.find(key);
      if (it == optimizer_tensors.end()) continue;
      ++present;
      if (it->second.numel() != e.param->numel() || it->second.dtype != "F32")
        throw Error(origin + ": '" + key + "' does not match the parameter " + e.key);
    }
    if (present != 0 && present != expected)
      throw Error(origin + ": optimizer buffer '" + name + "' is there for " + std::to_string(present) + " of " +
                  std::to_string(expected) + " parameters");
  }
  load_state_dict(model, tensors, origin);
  for (const std::string& name : optimizer.buffer_names()) {
    std::vector<float> loaded;
    for (const StateEntry& e : entries) {
      if (e.param->kind != ParamKind::Parameter) continue;
      const auto it = optimizer_tensors.find(kOptimizerPrefix + e.key + "." + name);
      if (it == optimizer_tensors.end()) break;
      const auto values = it->second.to_floats();
      loaded.insert(loaded.end(), values.begin(), values.end());
    }
    // Absent: not created yet when the checkpoint was written (SGD's momentum buffer).
    if (loaded.size() == model.parameter_count()) optimizer.write_buffer(model.backend(), name, loaded);
  }
  optimizer.set_steps(steps);
  model.set_training_steps(uint64_t(steps));
  return progress;
}

void check_progress(const std::filesystem::path& path, const TrainProgress& progress, int64_t optimizer_steps,
                    int epochs, size_t train_size, int batch_size, const Task& task) {
  const std::string origin = path.string();
  const int64_t batches = int64_t((train_size + size_t(batch_size) - 1) / size_t(batch_size));
  const std::string run = std::to_string(epochs) + " epochs of " + std::to_string(batches) + " batches (" +
                          std::to_string(train_size) + " images in batches of " + std::to_string(batch_size) + ")";
  if (progress.epoch > epochs || (progress.epoch == epochs && progress.batch > 0))
    throw Error(origin + ": \"mnistlab.progress\".epoch is " + std::to_string(progress.epoch) + " and .batch " +
                std::to_string(progress.batch) + "; expected a point within a run of " + run);
  if (progress.batch > batches)
    throw Error(origin + ": \"mnistlab.progress\".batch is " + std::to_string(progress.batch) + "; expected 0 to " +
                std::to_string(batches) + ", for a run of " + run);
  const int64_t images = std::min(int64_t(train_size), progress.batch * batch_size);
  const std::vector<MetricInfo> train = task.train_metrics(), eval = task.eval_metrics();
  if (progress.sums.size() != train.size())
    throw Error(origin + ": \"mnistlab.progress\".sums has " + std::to_string(progress.sums.size()) +
                " values; expected " + std::to_string(train.size()) + ", one per metric of " + task_name(task.kind()));
  for (size_t i = 0; i < train.size(); ++i)
    if (progress.sums[i] > train[i].max_per_sample * double(images))
      throw Error(origin + ": \"mnistlab.progress\".sums[" + std::to_string(i) + "] (" + train[i].name + ") is " +
                  std::to_string(progress.sums[i]) + "; expected at most " +
                  std::to_string(train[i].max_per_sample * double(images)) + " for the epoch's first " +
                  std::to_string(images) + " images");
  for (const EpochMetrics& m : progress.history)
    if (m.train.size() != train.size() || (m.eval.size() != eval.size() && !m.eval.empty()))
      throw Error(origin + ": \"mnistlab.progress\".history of epoch " + std::to_string(m.epoch) + " has " +
                  std::to_string(m.train.size()) + " train and " + std::to_string(m.eval.size()) +
                  " evaluation metrics; expected " + std::to_string(train.size()) + " and " +
                  std::to_string(eval.size()) + " (or 0: not evaluated), those of " + task_name(task.kind()));
  const int64_t expected_steps = int64_t(progress.epoch) * batches + progress.batch;
  if (optimizer_steps != expected_steps)
    throw Error(origin + ": metadata \"mnistlab.optimizer_steps\" is " + std::to_string(optimizer_steps) +
                "; expected " + std::to_string(expected_steps) + " = " + std::to_string(progress.epoch) +
                " epochs x " + std::to_string(batches) + " batches + " + std::to_string(progress.batch) +
                " batches, from its progress");
}

}  // namespace mnistlab
