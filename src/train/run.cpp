// A run: the folder (locked), the settings, the data, the task and the
// model put together, then fit() with callbacks that keep the folder
// current after every epoch, and the report at the end.
#include "mnistlab/run.h"

#include <optional>
#include <sstream>

#include "io/text_file.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"
#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/report.h"
#include "mnistlab/safetensors.h"
#include "train/memory_budget.h"
#include "train/run_events.h"
#include "train/run_files.h"
#include "train/run_identity.h"
#include "train/run_lock.h"
#include "train/threads.h"

namespace mnistlab {

namespace fs = std::filesystem;

struct Run::State {
  RunConfig config;
  RunFolder folder;
  std::string model_text, model_origin, command_line;
  std::string settings;  // run.json's text
  bool resuming = false;
  fs::path file(const char* name) const { return folder.dir / name; }
};

Run::Run(std::unique_ptr<State> state) : state_(std::move(state)) {}
Run::Run(Run&&) noexcept = default;
Run& Run::operator=(Run&&) noexcept = default;
Run::~Run() = default;

const RunConfig& Run::config() const { return state_->config; }
const fs::path& Run::dir() const { return state_->folder.dir; }

namespace {

std::string default_run_dir(const RunConfig& c) {
  return "runs/" + fs::path(c.model).stem().string() + "-" + dataset_name(c.dataset) + make_task(c)->folder_suffix();
}

}  // namespace

Run Run::create(RunConfig config, const std::string& command_line, bool overwrite) {
  auto s = std::make_unique<State>();
  const ModelSource source = resolve_model(config.model);
  s->model_text = source.text;
  s->model_origin = source.origin;
  config = checked_run_config(std::move(config));  // before the folder is claimed
  s->folder = claim_new_run_folder(config.out, default_run_dir(config), overwrite, command_line);
  config.out = s->folder.dir.string();
  s->config = config;
  s->command_line = command_line;
  return Run(std::move(s));
}

Run Run::resume(const fs::path& dir, const std::string& command_line) {
  auto s = std::make_unique<State>();
  s->folder = claim_run_folder_to_resume(dir, command_line);
  s->settings = read_text(s->file("run.json"), "a run's settings (run.json)", limits::kRunTextBytes);
  s->config = run_config_from_json(s->settings, s->file("run.json").string());
  s->model_text = read_text(s->file("model.txt"), "a run's model file (model.txt)", limits::kRunTextBytes);
  s->model_origin = s->file("model.txt").string();
  s->command_line = command_line;
  s->resuming = true;
  return Run(std::move(s));
}

RunOutcome Run::train(const std::atomic<bool>* stop, const RunCallbacks& callbacks) {
  State& s = *state_;
  const RunConfig& c = s.config;
  const std::string data_dir = dataset_dir(c.dataset, c.data_dir).string();
  Model model = parse_model(s.model_text, s.model_origin);
  model.build(c.train.seed);
  use_threads(model, c.threads);
  const TrainOptions options = train_options(c, stop);
  auto task = make_task(c);
  // An unknown metric fails before anything is written.
  const std::string metric = task->eval_metrics()[early_stop_index(*task, c.train.early_stop_metric)].name;
  auto optimizer = make_optimizer(options.optimizer, model.parameter_count());

  Dataset train = load_split(data_dir, true), test = load_split(data_dir, false);
  if (task->uses_class_names())
    train.class_names = test.class_names =
        class_names(c.dataset, data_dir, c.class_names, train.num_classes, train.classes_source);
  if (c.train_limit > 0) train = train.head(c.train_limit);
  if (c.test_limit > 0) test = test.head(c.test_limit);
  Dataset val;
  if (c.val_split > 0) std::tie(train, val) = split_validation(train, c.val_split, c.train.seed);
  const bool validating = c.val_split > 0;
  const Dataset& eval_set = validating ? val : test;
  const std::string eval_name = validating ? "val" : "test";
  try {
    task->check(model, train);  // before the run folder holds anything
  } catch (const Error& e) {
    throw Error(s.model_origin + ": " + e.what());
  }
  check_training_memory(model, *task, options, available_memory());  // so is the memory it needs

  TrainProgress progress;
  std::optional<RunEvents> events;
  if (s.resuming) {
    const fs::path checkpoint = s.file("resume.safetensors");
    const auto metadata = read_safetensors_metadata(checkpoint);
    check_run_identity(metadata, checkpoint.string(), s.settings, s.model_text, s.folder.dir.string());
    progress = load_checkpoint(checkpoint, model, *optimizer);
    check_progress(checkpoint, progress, optimizer->steps(), c.train.epochs, train.size(), c.train.batch_size, *task);
    events = RunEvents::resume(s.folder.dir, metadata, checkpoint.string());
    const std::string commands = read_text(s.file("command.txt"), "a run's commands (command.txt)", limits::kRunTextBytes);
    write_text(s.file("command.txt"), commands + s.command_line + "\n");
  } else {
    write_text(s.file("model.txt"), s.model_text);
    write_text(s.file("command.txt"), s.command_line + "\n");
    s.settings = to_json(c);
    write_text(s.file("run.json"), s.settings);
    write_text(s.file("metrics.csv"), metrics_csv(*task, eval_name, {}));
    events = RunEvents::start(s.folder.dir, s.model_text, s.command_line, s.settings);
  }
  // By default about 50 points of the training loss per epoch.
  const int64_t batches = int64_t((train.size() + size_t(c.train.batch_size) - 1) / size_t(c.train.batch_size));
  const int64_t log_every = c.log_every_steps > 0 ? c.log_every_steps : std::max<int64_t>(1, batches / 50);

  if (callbacks.on_start) {
    RunStart start;
    start.dir = s.folder.dir;
    start.model_origin = s.model_origin;
    start.parameters = model.parameter_count();
    start.data_dir = data_dir;
    start.eval_name = eval_name;
    start.train = train.size();
    start.eval = eval_set.size();
    start.test = test.size();
    start.threads = model.backend_options().threads;
    start.resumed = s.resuming;
    start.epoch = progress.epoch;
    start.batch = progress.batch;
    start.baseline = task->baseline(test, c.train.batch_size);
    start.note = s.folder.note;
    for (const MetricInfo& m : task->train_metrics()) start.train_metrics.push_back(m.name);
    for (const MetricInfo& m : task->eval_metrics()) start.eval_metrics.push_back(m.name);
    start.best_metric = metric;
    start.picture = task->picture_name() + ".png";
    callbacks.on_start(start);
  }

  const std::string title = fs::path(c.model).stem().string() + " on " + dataset_name(c.dataset) + task->title_suffix();
  bool warned_about_curves = false;
  const auto save_resume_state = [&] {
    save_state_dict(model, s.file("last.safetensors"));
    auto metadata = events->checkpoint_metadata();
    metadata.merge(run_identity(s.settings, s.model_text));
    save_checkpoint(s.file("resume.safetensors"), model, *optimizer, progress, metadata);
  };
  TrainCallbacks fit_callbacks;
  fit_callbacks.on_step = [&](const StepInfo& step) {
    events->step(step, log_every);
    if (callbacks.on_step) callbacks.on_step(step);
  };
  fit_callbacks.on_epoch = [&](const EpochMetrics& m, bool improved) {
    write_text(s.file("metrics.csv"), metrics_csv(*task, eval_name, progress.history));
    if (improved) save_state_dict(model, s.file("best.safetensors"), {{"mnistlab.epoch", std::to_string(m.epoch)}});
    // The picture comes from the evaluation: an epoch without one keeps the last.
    const GrayImage picture = m.eval.empty() ? GrayImage{} : task->picture(model, test, c.train.batch_size);
    const fs::path picture_file = s.folder.dir / (task->picture_name() + ".png");
    if (picture.width > 0) write_png_gray(picture_file, picture);
    events->epoch(*task, eval_name, m, picture, task->picture_name(), model);
    save_resume_state();  // after the epoch's events, so the checkpoint's event size includes them
    const std::string problem =
        draw_curves(s.folder.dir, run_curves(*task, eval_name, progress.history, title, progress.best_epoch));
    if (!problem.empty() && !warned_about_curves && callbacks.on_warning) {
      callbacks.on_warning("curves.png not drawn: " + problem);
      warned_about_curves = true;
    }
    if (callbacks.on_epoch) callbacks.on_epoch(m, improved);
  };
  fit(model, *optimizer, *task, train, eval_set, options, progress, fit_callbacks);

  RunOutcome out;
  out.outcome = progress.outcome;
  out.epochs_done = progress.epoch;
  out.batch = progress.batch;
  out.best_epoch = progress.best_epoch;
  if (progress.outcome == TrainProgress::Outcome::Interrupted) {
    save_resume_state();
    out.resume_file = s.file("resume.safetensors");
    return out;
  }

  // The weights a user gets: the best epoch's when the epoch was chosen
  // (early stopping, validation split), otherwise the last epoch's.
  const bool choose_best = c.train.early_stop_patience > 0 || validating;
  if (choose_best && progress.best_epoch > 0 && progress.best_epoch != progress.epoch)
    load_state_dict(model, s.file("best.safetensors"));
  out.reported_epoch = choose_best ? progress.best_epoch : progress.epoch;
  out.weights = choose_best ? "best.safetensors" : "last.safetensors";
  out.test = task->evaluate(model, test, c.train.batch_size);

  std::ostringstream report;
  report << "model " << s.model_origin << " (" << model.parameter_count() << " parameters), " << task_name(c.task)
         << ", dataset " << dataset_name(c.dataset) << " (" << data_dir << "): " << train.size() << " train / "
         << (validating ? val.size() : 0) << " validation / " << test.size() << " test images\n";
  report << "epochs: " << progress.epoch << " of " << c.train.epochs;
  if (progress.outcome == TrainProgress::Outcome::StoppedEarly)
    report << " (stopped early: no better " << eval_name << "_" << metric << " for " << c.train.early_stop_patience
           << " epochs)";
  report << "\nbest epoch by " << eval_name << "_" << metric << ": " << progress.best_epoch << "\n";
  report << "weights below: epoch " << out.reported_epoch << " (" << out.weights << ")\n";
  report << task->report(model, test, c.train.batch_size);
  write_text(s.file("report.txt"), report.str());
  fs::remove(s.file("resume.safetensors"));
  return out;
}

}  // namespace mnistlab
