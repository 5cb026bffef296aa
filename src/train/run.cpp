// A run: the folder (locked), the settings, the data, the task and the
// model put together, then fit() with callbacks that keep the folder
// current after every epoch, and the report at the end. Run::train reads as
// its jobs in order; each is a function below.
#include "mnistlab/run.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "io/folder_pin.h"
#include "io/input_file.h"
#include "io/sha256.h"
#include "io/text_file.h"
#include "kernels/backend.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"
#include "mnistlab/model_file.h"
#include "mnistlab/report.h"
#include "mnistlab/safetensors.h"
#include "train/memory_budget.h"
#include "train/run_data.h"
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
  // Data parallel: the ranks (null: this process alone); only rank 0 has
  // the folder and writes it.
  const Communicator* comm = nullptr;
  bool writes() const { return !comm || comm->rank() == 0; }
  fs::path file(const char* name) const { return folder.dir / name; }
};

namespace {

// The other ranks get rank 0's settings, model file and folder; a rank that
// failed before this point has ended the run (the command's main aborts).
void share_settings(Run::State& s, bool resuming) {
  if (!s.comm || s.comm->size() == 1) return;
  const Communicator& comm = *s.comm;
  const BackendKind backend = s.config.backend;
  if (comm.rank() == 0 && !resuming) s.settings = to_json(s.config);
  std::string dir = s.folder.dir.string(), origin_name = s.model_origin;
  for (std::string* text : {&s.settings, &s.model_text, &origin_name, &dir}) broadcast_string(comm, *text);
  if (comm.rank() == 0) return;
  s.config = run_config_from_json(s.settings, dir + "/run.json (from rank 0)");
  s.config.backend = backend;
  s.config.out = dir;
  s.folder.dir = dir;
  s.model_origin = origin_name;
  s.resuming = resuming;
}

}  // namespace

Run::Run(std::unique_ptr<State> state) : state_(std::move(state)) {}
Run::Run(Run&&) noexcept = default;
Run& Run::operator=(Run&&) noexcept = default;
Run::~Run() = default;

const RunConfig& Run::config() const { return state_->config; }
const fs::path& Run::dir() const { return state_->folder.dir; }

Run Run::create(RunConfig config, const std::string& command_line, bool overwrite, const Communicator* comm) {
  auto s = std::make_unique<State>();
  s->comm = comm;
  if (comm && comm->size() > 1) {
    config.processes = comm->size();
    // run.json keeps the threads each process ran with: by default the
    // machine's CPUs shared among its processes.
    if (config.threads == 0)
      config.threads = std::max(1, int(std::thread::hardware_concurrency()) / comm->local_size());
  }
  if (!s->writes()) {
    s->config = config;
    share_settings(*s, false);
    return Run(std::move(s));
  }
  const ModelSource source = resolve_model(config.model);
  s->model_text = source.text;
  s->model_origin = source.origin;
  config = checked_run_config(std::move(config));  // before the folder is claimed
  const std::string default_dir = "runs/" + fs::path(config.model).stem().string() + "-" +
                                  dataset_name(config.dataset) + make_task(config)->folder_suffix();
  s->folder = claim_new_run_folder(config.out, default_dir, overwrite, command_line);
  config.out = s->folder.dir.string();
  s->config = config;
  s->command_line = command_line;
  share_settings(*s, false);
  return Run(std::move(s));
}

Run Run::resume(const fs::path& dir, const std::string& command_line, const Communicator* comm) {
  auto s = std::make_unique<State>();
  s->comm = comm;
  if (!s->writes()) {
    share_settings(*s, true);
    return Run(std::move(s));
  }
  s->folder = claim_run_folder_to_resume(dir, command_line);
  s->settings = read_text(s->file("run.json"), "a run's settings (run.json)", limits::kRunTextBytes);
  s->config = run_config_from_json(s->settings, s->file("run.json").string());
  s->model_text = read_text(s->file("model.txt"), "a run's model file (model.txt)", limits::kRunTextBytes);
  s->model_origin = s->file("model.txt").string();
  s->command_line = command_line;
  s->resuming = true;
  share_settings(*s, true);
  return Run(std::move(s));
}

namespace {

// What a run trains with, put together by Run::train.
struct Training {
  Model model;
  std::unique_ptr<Task> task{};
  TrainOptions options{};
  std::unique_ptr<Optimizer> optimizer{};
  std::string metric{};  // the eval metric that picks the best epoch
  RunData data{};
  TrainProgress progress{};
  std::optional<RunEvents> events{};
};

// The model, the task, the loop's options and the optimizer; an unknown
// early-stopping metric fails here, before anything is written.
Training prepare(const Run::State& s, const std::atomic<bool>* stop) {
  const RunConfig& c = s.config;
  Training t{parse_model(s.model_text, s.model_origin)};
  t.model.build(c.train.seed);
  if (c.backend != BackendKind::Cpu) {
    BackendOptions o = t.model.backend_options();
    o.kind = c.backend;
    t.model.set_backend(o);  // use_threads keeps the kind
  }
  // --threads is per process (Run::create sets it under mpirun when not given).
  use_threads(t.model, c.threads, c.precision);
  t.options = train_options(c, stop);
  t.options.comm = s.comm;
  t.task = make_task(c);
  t.metric = t.task->eval_metrics()[early_stop_index(*t.task, c.train.early_stop_metric)].name;
  t.optimizer = make_optimizer(t.options.optimizer, t.model.parameter_count());
  return t;
}

// The model fits the data and the memory, before the run folder holds anything.
void check_fits(const Run::State& s, Training& t) {
  try {
    t.task->check(t.model, t.data.train);
  } catch (const Error& e) {
    throw Error(s.model_origin + ": " + e.what());
  }
  check_training_memory(t.model, *t.task, t.options, available_memory());
}

// Fine-tuning: the given weights over the seed's (strict keys, as
// PyTorch's load_state_dict), and their SHA-256 for run.json. Data
// parallel: rank 0's weights reach the others when training starts.
void start_from_weights(Run::State& s, Training& t) {
  const fs::path file = s.config.init_weights;
  check_input_file(file, "--init-weights: a safetensors state_dict", limits::kSafetensorsFileBytes);
  s.config.init_weights_sha256 = sha256_of_file(file);
  load_state_dict(t.model, file);
}

// A new run's files: the model, the command, the settings, metrics.csv's
// header and the event file.
void start_folder(Run::State& s, Training& t) {
  write_text(s.file("model.txt"), s.model_text);
  write_text(s.file("command.txt"), s.command_line + "\n");
  s.settings = to_json(s.config);
  write_text(s.file("run.json"), s.settings);
  write_text(s.file("metrics.csv"), metrics_csv(*t.task, t.data.eval_name, {}));
  t.events = RunEvents::start(s.folder.dir, s.model_text, s.command_line, s.settings);
}

// An interrupted run's checkpoint, checked against the folder's settings and
// data, and its event file cut back to where the checkpoint was saved.
void resume_folder(const Run::State& s, Training& t) {
  const fs::path checkpoint = s.file("resume.safetensors");
  const auto metadata = read_safetensors_metadata(checkpoint);
  check_run_identity(metadata, checkpoint.string(), s.settings, s.model_text, s.folder.dir.string());
  t.progress = load_checkpoint(checkpoint, t.model, *t.optimizer);
  check_progress(checkpoint, t.progress, t.optimizer->steps(), s.config.train.epochs, t.data.train.size(),
                 s.config.train.batch_size, *t.task);
  t.events = RunEvents::resume(s.folder.dir, metadata, checkpoint.string());
  const std::string commands =
      read_text(s.file("command.txt"), "a run's commands (command.txt)", limits::kRunTextBytes);
  write_text(s.file("command.txt"), commands + s.command_line + "\n");
}

RunStart run_start(const Run::State& s, Training& t) {
  RunStart start;
  start.dir = s.folder.dir;
  start.model_origin = s.model_origin;
  start.parameters = t.model.parameter_count();
  start.data_dir = t.data.dir;
  start.eval_name = t.data.eval_name;
  start.train = t.data.train.size();
  start.eval = t.data.eval_set().size();
  start.test = t.data.test.size();
  start.threads = t.model.backend().threads();
  start.precision = t.model.backend().options().precision;
  start.resumed = s.resuming;
  start.epoch = t.progress.epoch;
  start.batch = t.progress.batch;
  start.baseline = t.task->baseline(t.model, t.data.test, s.config.train.batch_size);
  start.note = s.folder.note;
  start.init_weights = s.resuming ? "" : s.config.init_weights;
  start.init_weights_sha256 = s.config.init_weights_sha256;
  start.train_metrics = t.task->train_metrics();
  start.eval_metrics = t.task->eval_metrics();
  start.best_metric = t.metric;
  start.picture = t.task->picture_name() + ".png";
  return start;
}

// last.safetensors and the checkpoint --resume continues from.
void save_resume_state(const Run::State& s, Training& t) {
  save_state_dict(t.model, s.file("last.safetensors"));
  auto metadata = t.events->checkpoint_metadata();
  metadata.merge(run_identity(s.settings, s.model_text));
  save_checkpoint(s.file("resume.safetensors"), t.model, *t.optimizer, t.progress, metadata);
}

// The loop's callbacks: the event file every few steps, and after every
// epoch metrics.csv, best.safetensors, the picture, the events, the
// checkpoint and curves.png, then the command's own.
TrainCallbacks folder_callbacks(const Run::State& s, Training& t, const RunCallbacks& callbacks) {
  const RunConfig& c = s.config;
  // By default about 50 points of the training loss per epoch.
  const int64_t batches = int64_t((t.data.train.size() + size_t(c.train.batch_size) - 1) / size_t(c.train.batch_size));
  const int64_t log_every = c.log_every_steps > 0 ? c.log_every_steps : std::max<int64_t>(1, batches / 50);
  const std::string title =
      fs::path(c.model).stem().string() + " on " + dataset_name(c.dataset) + t.task->title_suffix();
  auto warned_about_curves = std::make_shared<bool>(false);
  TrainCallbacks fit_callbacks;
  fit_callbacks.on_step = [&t, &callbacks, log_every](const StepInfo& step) {
    t.events->step(step, log_every);
    if (callbacks.on_step) callbacks.on_step(step);
  };
  fit_callbacks.on_epoch = [&s, &t, &callbacks, title, warned_about_curves](const EpochMetrics& m, bool improved) {
    Task& task = *t.task;
    const std::string& eval_name = t.data.eval_name;
    write_text(s.file("metrics.csv"), metrics_csv(task, eval_name, t.progress.history));
    if (improved) save_state_dict(t.model, s.file("best.safetensors"), {{"mnistlab.epoch", std::to_string(m.epoch)}});
    // The picture comes from the evaluation: an epoch without one keeps the last.
    const GrayImage picture =
        m.eval.empty() ? GrayImage{} : task.picture(t.model, t.data.test, s.config.train.batch_size);
    if (picture.width > 0) write_png_gray(s.folder.dir / (task.picture_name() + ".png"), picture);
    t.events->epoch(task, eval_name, m, picture, task.picture_name(), t.model);
    save_resume_state(s, t);  // after the epoch's events, so the checkpoint's event size includes them
    const std::string problem =
        draw_curves(s.folder.dir, run_curves(task, eval_name, t.progress.history, title, t.progress.best_epoch));
    if (!problem.empty() && !*warned_about_curves && callbacks.on_warning) {
      callbacks.on_warning("curves.png not drawn: " + problem);
      *warned_about_curves = true;
    }
    if (callbacks.on_epoch) callbacks.on_epoch(m, improved);
  };
  return fit_callbacks;
}

// Where the loop ended: the rest of a RunOutcome is rank 0's (finish, or
// the resume file).
RunOutcome outcome_of(const TrainProgress& p) {
  RunOutcome out;
  out.outcome = p.outcome;
  out.epochs_done = p.epoch;
  out.batch = p.batch;
  out.best_epoch = p.best_epoch;
  return out;
}

// The weights a user gets, scored on the test set, and report.txt; the
// resume checkpoint goes, the run being over.
void finish(const Run::State& s, Training& t, RunOutcome& out) {
  const RunConfig& c = s.config;
  // The best epoch's weights when the epoch was chosen (early stopping,
  // validation split), otherwise the last epoch's.
  const bool choose_best = c.train.early_stop_patience > 0 || t.data.validating;
  if (choose_best && t.progress.best_epoch > 0 && t.progress.best_epoch != t.progress.epoch)
    load_state_dict(t.model, s.file("best.safetensors"));
  out.reported_epoch = choose_best ? t.progress.best_epoch : t.progress.epoch;
  out.weights = choose_best ? "best.safetensors" : "last.safetensors";
  out.test = t.task->evaluate(t.model, t.data.test, c.train.batch_size);

  const RunData& d = t.data;
  std::string report = "model " + s.model_origin + " (" + std::to_string(t.model.parameter_count()) +
                       " parameters), " + task_name(c.task) + ", dataset " + dataset_name(c.dataset) + " (" +
                       d.dir + "): " + std::to_string(d.train.size()) + " train / " +
                       std::to_string(d.validating ? d.val.size() : 0) + " validation / " +
                       std::to_string(d.test.size()) + " test images\n";
  report += "epochs: " + std::to_string(t.progress.epoch) + " of " + std::to_string(c.train.epochs);
  if (t.progress.outcome == TrainProgress::Outcome::StoppedEarly)
    report += " (stopped early: no better " + d.eval_name + "_" + t.metric + " for " +
              std::to_string(c.train.early_stop_patience) + " epochs)";
  report += "\nbest epoch by " + d.eval_name + "_" + t.metric + ": " + std::to_string(t.progress.best_epoch) + "\n";
  report += "weights below: epoch " + std::to_string(out.reported_epoch) + " (" + out.weights + ")\n";
  report += t.task->report(t.model, d.test, c.train.batch_size);
  write_text(s.file("report.txt"), report);
  // A finished run has nothing to resume.
  if (!remove_file_in_folder(s.file("resume.safetensors")))
    throw Error(s.file("resume.safetensors").string() + ": cannot remove it (" + std::strerror(errno) + ")");
}

}  // namespace

RunOutcome Run::train(const std::atomic<bool>* stop, const RunCallbacks& callbacks) {
  State& s = *state_;
  Training t = prepare(s, stop);
  t.data = load_run_data(s.config, *t.task);
  check_fits(s, t);
  if (!s.writes()) {
    // A rank other than 0: rank 0's checkpoint, weights and progress come
    // through fit; the folder, the report and the messages are rank 0's.
    fit(t.model, *t.optimizer, *t.task, t.data.train, t.data.eval_set(), t.options, t.progress, {});
    return outcome_of(t.progress);
  }
  if (s.resuming) {
    resume_folder(s, t);
  } else {
    if (!s.config.init_weights.empty()) start_from_weights(s, t);
    start_folder(s, t);
  }
  if (callbacks.on_start) callbacks.on_start(run_start(s, t));

  fit(t.model, *t.optimizer, *t.task, t.data.train, t.data.eval_set(), t.options, t.progress,
      folder_callbacks(s, t, callbacks));
  RunOutcome out = outcome_of(t.progress);
  if (out.outcome == TrainProgress::Outcome::Interrupted) {
    save_resume_state(s, t);
    out.resume_file = s.file("resume.safetensors");
  } else {
    finish(s, t, out);
  }
  return out;
}

}  // namespace mnistlab
