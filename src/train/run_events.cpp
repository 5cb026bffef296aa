#include "train/run_events.h"

#include <cmath>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

const char* const kFileKey = "mnistlab.events";
const char* const kBytesKey = "mnistlab.events_bytes";

std::string code_block(const std::string& text) { return "```\n" + text + "\n```"; }

}  // namespace

RunEvents RunEvents::start(const std::filesystem::path& dir, const std::string& model_text,
                           const std::string& command_line, const std::string& settings_json) {
  RunEvents events(EventFile::create(dir));
  events.file_.text("model", 0, code_block(model_text));
  events.file_.text("command_line", 0, code_block(command_line));
  events.file_.text("settings", 0, code_block(settings_json));
  return events;
}

RunEvents RunEvents::resume(const std::filesystem::path& dir, const std::map<std::string, std::string>& metadata,
                            const std::string& origin) {
  const auto file = metadata.find(kFileKey), bytes = metadata.find(kBytesKey);
  if (file == metadata.end() || bytes == metadata.end())
    throw Error(origin + ": its metadata lacks \"" + kFileKey + "\" and \"" + kBytesKey +
                "\" (a checkpoint of an older mnistlab?)");
  const std::string& name = file->second;
  if (name.rfind("events.out.tfevents.", 0) != 0 || name.find('/') != std::string::npos)
    throw Error(origin + ": metadata \"" + kFileKey + "\" is \"" + name.substr(0, 80) +
                "\"; expected the name of an event file in the run folder");
  const std::string& size = bytes->second;
  if (size.empty() || size.size() > 15 || size.find_first_not_of("0123456789") != std::string::npos)
    throw Error(origin + ": metadata \"" + kBytesKey + "\" is \"" + size.substr(0, 40) + "\"; expected a byte count");
  return RunEvents(EventFile::reopen(dir / name, std::stoull(size)));
}

void RunEvents::step(const StepInfo& s, int64_t every) {
  if (s.step % every != 0) return;
  file_.scalar("loss/train_step", s.step, s.loss);
  file_.scalar("lr", s.step, s.lr);
}

void RunEvents::epoch(const Task& task, const std::string& eval_name, const EpochMetrics& m, const GrayImage& picture,
                      const std::string& picture_name, Model& model) {
  const std::vector<MetricInfo> train = task.train_metrics(), eval = task.eval_metrics();
  for (size_t i = 0; i < train.size() && i < m.train.size(); ++i) file_.scalar(train[i].tag + "/train", m.epoch, m.train[i]);
  for (size_t i = 0; i < eval.size() && i < m.eval.size(); ++i)
    file_.scalar(eval[i].tag + "/" + eval_name, m.epoch, m.eval[i]);
  file_.scalar("time/epoch_seconds", m.epoch, m.seconds);
  file_.scalar("time/images_per_second", m.epoch, m.images_per_second);
  if (picture.width > 0) file_.image(picture_name, m.epoch, picture);
  const std::vector<std::vector<float>> state = model.read_state();
  size_t index = 0;
  for (const StateEntry& e : model.state_dict()) {
    const std::span<const float> values(state[index++]);
    bool finite = !values.empty();
    for (float v : values) finite = finite && std::isfinite(v);
    if (finite) file_.histogram(e.key, m.epoch, values);  // a diverged run's weights have no histogram
  }
}

std::map<std::string, std::string> RunEvents::checkpoint_metadata() {
  file_.flush();
  return {{kFileKey, file_.path().filename().string()}, {kBytesKey, std::to_string(file_.bytes())}};
}

}  // namespace mnistlab
