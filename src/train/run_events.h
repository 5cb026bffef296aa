#pragma once
// A run's TensorBoard log (report/event_file.h): what goes in it and under
// which tags, and how it follows the checkpoints so a resumed run continues
// the same curves with no step twice.
#include <map>
#include <string>

#include "mnistlab/model.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"
#include "report/event_file.h"

namespace mnistlab {

class RunEvents {
 public:
  // A new event file in dir, with the model file, the command line and the
  // settings as text at step 0.
  static RunEvents start(const std::filesystem::path& dir, const std::string& model_text,
                         const std::string& command_line, const std::string& settings_json);
  // The event file a checkpoint's metadata names, cut back to the size it recorded.
  static RunEvents resume(const std::filesystem::path& dir, const std::map<std::string, std::string>& metadata,
                          const std::string& origin);

  // Every `every` optimizer steps: loss/train_step and lr.
  void step(const StepInfo& s, int64_t every);
  // Per epoch (step = the epoch): every metric of metrics.csv under
  // <metric>/<split> (loss/train, accuracy/test, psnr/val, ...),
  // time/epoch_seconds, time/images_per_second, the task's picture and a
  // histogram of every state_dict tensor.
  void epoch(const Task& task, const std::string& eval_name, const EpochMetrics& m, const GrayImage& picture,
             const std::string& picture_name, Model& model);
  // Flushes and returns the metadata a checkpoint keeps: the file's name and size.
  std::map<std::string, std::string> checkpoint_metadata();

 private:
  explicit RunEvents(EventFile file) : file_(std::move(file)) {}
  EventFile file_;
};

}  // namespace mnistlab
