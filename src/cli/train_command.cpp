// mnistlab train: the classification experiments of the course, with
// checkpoints, early stopping, curves and a report in the run folder.
#include <omp.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "cli/run_folder.h"
#include "cli/stop_signal.h"
#include "cli/text_files.h"
#include "cli/train_args.h"
#include "cli/validators.h"
#include "cli/threads.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/report.h"
#include "mnistlab/safetensors.h"
#include "mnistlab/trainer.h"

namespace mnistlab::cli {
namespace {

namespace fs = std::filesystem;

// Files of a run folder.
struct RunFiles {
  fs::path dir;
  fs::path file(const char* name) const { return dir / name; }
};

std::string metrics_csv(const std::vector<EpochMetrics>& history, const std::string& eval) {
  std::string csv = "epoch,train_loss,train_acc," + eval + "_loss," + eval + "_acc,seconds\n";
  char row[256];
  for (const EpochMetrics& m : history) {
    std::snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", m.epoch, m.train_loss, m.train_acc, m.test_loss,
                  m.test_acc, m.seconds);
    csv += row;
  }
  return csv;
}

TrainOptions train_options(const TrainArgs& a) {
  TrainOptions o;
  o.epochs = a.epochs;
  o.batch_size = a.batch_size;
  o.seed = a.seed;
  o.optimizer = optimizer_options(a);
  o.schedule.name = a.lr_schedule;
  o.schedule.step_size = a.step_size;
  o.schedule.gamma = a.gamma;
  o.schedule.warmup_epochs = a.warmup_epochs;
  o.early_stop_patience = a.early_stop_patience;
  o.early_stop_on_loss = a.early_stop_metric == "test_loss";
  o.stop = &stop_requested();
  check_schedule(o.schedule);
  return o;
}

struct Extras {
  std::string resume;           // run folder to continue
  int64_t raise_sigterm_at = 0;  // tests: signal ourselves after this optimizer step
};

void run_train(TrainArgs a, const Extras& extras) {
  const bool resuming = !extras.resume.empty();
  RunFiles run;
  std::string model_text, model_origin;
  // Held until the command ends: no other training writes here meanwhile.
  RunFolder claimed;
  if (resuming) {
    claimed = claim_run_folder_to_resume(extras.resume);
    run.dir = claimed.dir;
    a = train_args_from_json(read_text(run.file("run.json")), run.file("run.json").string());
    model_text = read_text(run.file("model.txt"));
    model_origin = run.file("model.txt").string();
  } else {
    const ModelSource source = resolve_model(a.model);
    model_text = source.text;
    model_origin = source.origin;
    claimed = claim_new_run_folder(a.out, "runs/" + fs::path(a.model).stem().string() + "-" + a.dataset, a.overwrite);
    run.dir = claimed.dir;
    a.out = run.dir.string();
  }
  const std::string data_dir = a.data_dir.empty() ? default_data_dir(a.dataset) : a.data_dir;

  Model model = parse_model(model_text, model_origin);
  model.build(a.seed);
  use_threads(model, a.threads);
  const TrainOptions options = train_options(a);
  auto optimizer = make_optimizer(options.optimizer, model.parameter_count());

  Dataset train = load_split(data_dir, true);
  Dataset test = load_split(data_dir, false);
  if (a.train_limit > 0) train = train.head(a.train_limit);
  if (a.test_limit > 0) test = test.head(a.test_limit);
  Dataset val;
  if (a.val_split > 0) std::tie(train, val) = split_validation(train, a.val_split, a.seed);
  const bool validating = a.val_split > 0;
  const Dataset& eval_set = validating ? val : test;
  const std::string eval_name = validating ? "val" : "test";
  check_classifier_fits(model, train);  // before the run folder holds anything

  TrainProgress progress;
  if (resuming) {
    progress = load_checkpoint(run.file("resume.safetensors"), model, *optimizer);
    check_progress(run.file("resume.safetensors"), progress, optimizer->steps(), a.epochs, train.size(),
                   a.batch_size);
    std::ofstream(run.file("command.txt"), std::ios::app) << command_line() << "\n";
    std::printf("resuming %s at epoch %d, batch %lld\n", run.dir.c_str(), progress.epoch + 1,
                static_cast<long long>(progress.batch));
  } else {
    write_text(run.file("model.txt"), model_text);
    write_text(run.file("command.txt"), command_line() + "\n");
    write_text(run.file("run.json"), to_json(a));
    write_text(run.file("metrics.csv"), metrics_csv({}, eval_name));
  }

  std::printf("model %s (%zu parameters), %s: %zu train / %zu %s images, %s lr %g%s, batch %d, %d threads\n",
              model_origin.c_str(), model.parameter_count(), data_dir.c_str(), train.size(), eval_set.size(),
              eval_name.c_str(), a.optimizer.c_str(), a.lr,
              a.lr_schedule == "none" ? "" : (" (" + a.lr_schedule + ")").c_str(), a.batch_size, model.backend_options().threads);
  std::fflush(stdout);

  install_stop_handlers();
  ProgressBar bar(a.epochs);
  bool warned_about_curves = false;
  const std::string curves_title = fs::path(a.model).stem().string() + " on " + a.dataset;
  auto save_resume_state = [&] {
    save_state_dict(model, run.file("last.safetensors"));
    save_checkpoint(run.file("resume.safetensors"), model, *optimizer, progress);
  };
  TrainCallbacks callbacks;
  callbacks.on_step = [&](int epoch, size_t done, size_t total, double seconds) {
    bar.update(epoch, done, total, seconds);
    if (extras.raise_sigterm_at > 0 && optimizer->steps() == extras.raise_sigterm_at) raise(SIGTERM);
  };
  callbacks.on_epoch = [&](const EpochMetrics& m, bool improved) {
    bar.clear();
    std::printf("epoch %3d  train_loss %.4f  train_acc %.2f%%  %s_loss %.4f  %s_acc %.2f%%  %.1fs%s\n", m.epoch,
                m.train_loss, 100 * m.train_acc, eval_name.c_str(), m.test_loss, eval_name.c_str(), 100 * m.test_acc,
                m.seconds, improved ? "  *best" : "");
    std::fflush(stdout);
    write_text(run.file("metrics.csv"), metrics_csv(progress.history, eval_name));
    if (improved) save_state_dict(model, run.file("best.safetensors"), {{"mnistlab.epoch", std::to_string(m.epoch)}});
    save_resume_state();
    const std::string problem =
        draw_curves(run.dir, classification_curves(progress.history, curves_title,
                                                   validating ? "validation" : "test", progress.best_epoch));
    if (!problem.empty() && !warned_about_curves) {
      std::fprintf(stderr, "warning: curves.png not drawn: %s\n", problem.c_str());
      warned_about_curves = true;
    }
  };

  fit(model, *optimizer, train, eval_set, options, progress, callbacks);
  bar.clear();

  if (progress.outcome == TrainProgress::Outcome::Interrupted) {
    save_resume_state();
    const int sig = stop_signal();
    std::printf("interrupted by %s at epoch %d, batch %lld: saved %s\ncontinue with: mnistlab train --resume %s\n",
                sig == SIGINT ? "Ctrl-C" : "SIGTERM", progress.epoch + 1, static_cast<long long>(progress.batch),
                run.file("resume.safetensors").c_str(), run.dir.c_str());
    std::fflush(stdout);
    throw ExitRequest{128 + (sig ? sig : SIGTERM)};
  }

  // The weights a user gets: the best epoch's when the epoch was chosen
  // (early stopping, validation split), otherwise the last epoch's.
  const bool choose_best = a.early_stop_patience > 0 || validating;
  if (choose_best && progress.best_epoch > 0 && progress.best_epoch != progress.epoch)
    load_state_dict(model, run.file("best.safetensors"));
  const int reported_epoch = choose_best ? progress.best_epoch : progress.epoch;
  std::vector<int64_t> confusion;
  const EvalResult final_test = evaluate(model, test, a.batch_size, &confusion);

  std::ostringstream report;
  report << "model " << model_origin << " (" << model.parameter_count() << " parameters), dataset " << a.dataset
         << " (" << data_dir << "): " << train.size() << " train / " << (validating ? val.size() : 0)
         << " validation / " << test.size() << " test images\n";
  report << "epochs: " << progress.epoch << " of " << a.epochs;
  if (progress.outcome == TrainProgress::Outcome::StoppedEarly)
    report << " (stopped early: no better " << eval_name << (options.early_stop_on_loss ? "_loss" : "_acc")
           << " for " << a.early_stop_patience << " epochs)";
  report << "\nbest epoch by " << eval_name << (options.early_stop_on_loss ? "_loss" : "_acc") << ": "
         << progress.best_epoch << "\n";
  report << "weights below: epoch " << reported_epoch << " ("
         << (choose_best ? "best.safetensors" : "last.safetensors") << ")\n";
  char line[128];
  std::snprintf(line, sizeof line, "test_loss %.6f test_acc %.6f\n\n", final_test.loss, final_test.acc);
  report << line << class_report(confusion, class_names(a.dataset));
  write_text(run.file("report.txt"), report.str());
  fs::remove(run.file("resume.safetensors"));

  if (progress.outcome == TrainProgress::Outcome::StoppedEarly)
    std::printf("stopped early after epoch %d: no better %s for %d epochs\n", progress.epoch, eval_name.c_str(),
                a.early_stop_patience);
  std::printf("done: epoch %d's weights, test accuracy %.2f%% (test loss %.4f)%s; best %s epoch %d\n", reported_epoch,
              100 * final_test.acc, final_test.loss, validating ? ", the test set's only use" : "",
              eval_name.c_str(), progress.best_epoch);
  std::printf("run folder %s: metrics.csv, curves.png, report.txt, best.safetensors, last.safetensors\n",
              run.dir.c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto extras = std::make_shared<Extras>();
  CLI::App* cmd = app.add_subcommand("train", "Train a classifier on MNIST or Fashion-MNIST");
  cmd->footer(
      "\nThe run folder gets metrics.csv, curves.png, report.txt (per-class accuracy, confusion matrix), "
      "best.safetensors and last.safetensors (PyTorch state_dict keys) and resume.safetensors. Ctrl-C or SIGTERM "
      "stops after the current step and saves; `mnistlab train --resume DIR` continues.\n\nA folder that holds a "
      "run is never replaced silently: without --out a new run goes to the first free runs/MODEL-DATASET, "
      "runs/MODEL-DATASET-2, ...; --out DIR that holds a run is refused (choose another, continue it with --resume, "
      "or add --overwrite). While a training runs, its folder is locked (DIR/run.lock holds its PID): a second "
      "training into it is refused.");
  add_train_options(cmd, *args);
  cmd->add_option("--resume", extras->resume,
                  "Continue the interrupted run in this folder, with its own settings (other options are ignored)");
  cmd->add_option("--raise-sigterm-at-step", extras->raise_sigterm_at, "tests: send SIGTERM to itself at step N")
      ->group("");
  cmd->callback([args, extras]() { run_train(*args, *extras); });
}

}  // namespace mnistlab::cli
