#include "cli/train_args.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/dataset_option.h"
#include "cli/progress_bar.h"
#include "io/shell_quote.h"
#include "cli/stop_signal.h"
#include "cli/validators.h"
#include "mnistlab/error.h"

namespace mnistlab::cli {
namespace {

// An enum option's values, from its name table (mnistlab/names.h): the name
// becomes the enum's number for CLI11 to store; a number itself is refused.
template <class E, std::size_t N>
CLI::Validator choices(const Named<E> (&table)[N]) {
  const std::vector<std::string> list = names(table);
  std::string shown;
  for (const std::string& name : list) shown += (shown.empty() ? "{" : ",") + name;
  return CLI::Validator(
      [&table, list](std::string& s) -> std::string {
        const std::optional<E> value = find_named(table, s);
        if (!value) return "expected " + names_list(list) + "; got '" + s + "'";
        s = std::to_string(static_cast<int>(*value));
        return "";
      },
      shown + "}");
}

// --early-stop-metric takes metrics.csv's names (test_acc, val_psnr) or the bare metric (acc, psnr).
std::string bare_metric(std::string& s) {
  for (const char* prefix : {"test_", "val_"})
    if (s.rfind(prefix, 0) == 0) s = s.substr(std::string(prefix).size());
  if (s != "loss" && s != "acc" && s != "psnr" && s != "ssim")
    return "expected loss, acc (classification), psnr or ssim (denoising), optionally as test_X or val_X; got '" +
           s + "'";
  return "";
}

// "train_loss 0.1234  train_acc 98.00%  test_loss ...": a metric as people read it.
std::string format_metrics(const std::string& split, const std::vector<std::string>& names,
                           const std::vector<double>& values) {
  std::string line;
  char text[96];
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    const std::string& n = names[i];
    if (n == "acc") std::snprintf(text, sizeof text, "  %s_acc %.2f%%", split.c_str(), 100 * values[i]);
    else if (n == "psnr") std::snprintf(text, sizeof text, "  %s_psnr %.2f dB", split.c_str(), values[i]);
    else std::snprintf(text, sizeof text, "  %s_%s %.4f", split.c_str(), n.c_str(), values[i]);
    line += text;
  }
  return line;
}

}  // namespace

NoiseOptions NoiseArgs::options() const {
  NoiseOptions o{kind, std::nullopt, clip};
  if (amount >= 0) o.amount = amount;
  return checked_noise(o);
}

void add_noise_options(CLI::App* cmd, NoiseArgs& n) {
  cmd->add_option("--noise", n.kind, "uniform (adds U[0, a)), gaussian (sigma) or salt-pepper (share p of pixels)")
      ->transform(choices(kNoiseNames))
      ->type_name("NAME")
      ->default_str("uniform");
  cmd->add_option("--noise-amount", n.amount, "a, sigma or p (defaults: uniform 1, gaussian 0.1, salt-pepper 0.1)")
      ->check(number_in(0, 1e9, true, "above 0"));  // the kind's own range is checked with it (checked_noise)
  cmd->add_flag("--clip", n.clip, "Clamp noisy images to [0, 1] (the course did not)");
}

void add_run_options(CLI::App* cmd, TrainArgs& a) {
  RunConfig& c = a.config;
  cmd->add_option("--model", c.model, "Preset name (" + preset_list() + ") or model file")->capture_default_str();
  add_dataset_option(cmd, c.dataset);
  cmd->add_option("--data-dir", c.data_dir,
                  "Folder with mnist's or fashion's four IDX files (raw or .gz); default data/mnist or "
                  "data/fashion-mnist");
  if (c.task == TaskKind::Classification) add_class_names_option(cmd, c.class_names);
  cmd->add_option("--epochs", c.epochs, "Passes over the training set")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "Images per step")->check(integer_in(1, 65536))->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer.kind, "sgd, adam or adamw")
      ->transform(choices(kOptimizerNames))
      ->type_name("NAME")
      ->default_str("adam");
  cmd->add_option("--lr", c.optimizer.lr, "Learning rate (onecycle: the peak)")
      ->check(number_in(0, 10, true, "> 0 (at most 10)"))
      ->capture_default_str();
  cmd->add_option("--momentum", c.optimizer.momentum, "SGD momentum")
      ->check(number_in(0, 0.999999, false, "in [0, 1)"))
      ->capture_default_str();
  cmd->add_flag("--nesterov", c.optimizer.nesterov, "SGD with Nesterov momentum");
  cmd->add_option("--weight-decay", c.optimizer.weight_decay, "Weight decay (default: 0; AdamW 0.01)")
      ->check(number_in(0, 1, false, "in [0, 1]"));
  cmd->add_option("--lr-schedule", c.schedule.kind,
                  "none; step (StepLR: x gamma every --step-size epochs); cosine (CosineAnnealingLR over all "
                  "steps); onecycle (OneCycleLR: peak --lr, momentum/beta1 cycled)")
      ->transform(choices(kScheduleNames))
      ->type_name("NAME")
      ->default_str("none");
  cmd->add_option("--step-size", c.schedule.step_size, "Epochs between decays of the step schedule")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  cmd->add_option("--gamma", c.schedule.gamma, "Decay factor of the step schedule")
      ->check(number_in(0, 1, true, "in (0, 1]"))
      ->capture_default_str();
  cmd->add_option("--warmup-epochs", c.schedule.warmup_epochs,
                  "Linear warmup over this many epochs (may be fractional) before none/step/cosine")
      ->check(number_in(0, 1000, false, "in [0, 1000]"));
  cmd->add_option("--early-stop-patience", c.early_stop_patience,
                  "Stop after N epochs without a better --early-stop-metric; 0: never")
      ->check(integer_in(0, 100000));
  cmd->add_option("--early-stop-metric", c.early_stop_metric,
                  "The metric that picks the best epoch (best.safetensors) and early stopping: loss, acc "
                  "(classification), psnr or ssim (denoising), also as test_acc, val_psnr, ...; default acc or psnr")
      ->transform(CLI::Validator(bare_metric, "METRIC"));
  cmd->add_option("--val-split", c.val_split,
                  "Hold out this fraction of the training set to choose the epoch; the test set is then used once, "
                  "at the end")
      ->check(number_in(0, 0.9, true, "in (0, 0.9]"));
  cmd->add_option("--eval-every", c.eval_every,
                  "Evaluate (test or validation set) after every Nth epoch and after the last; the epochs between "
                  "train without it (shorter long runs; early stopping and the best epoch see evaluated epochs only)")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed for initialization, shuffling, noise and the validation split")
      ->check(integer_in(0, 2147483647))
      ->capture_default_str();
  cmd->add_option("--threads", c.threads, "CPU threads (default: all cores)")->check(integer_in(1, 1024));
  cmd->add_option("--out", c.out,
                  "Run folder (default runs/MODEL-DATASET..., or the first of -2, -3, ... that holds no run yet); a "
                  "folder that holds a run is refused");
  cmd->add_flag("--overwrite", a.overwrite, "Replace the run in the run folder: its files are removed first");
  cmd->add_option("--train-limit", c.train_limit, "Use only the first N training images (0: all)")
      ->check(integer_in(0, 1000000000));
  cmd->add_option("--test-limit", c.test_limit, "Use only the first N test images (0: all)")
      ->check(integer_in(0, 1000000000));
  cmd->add_option("--augment", a.augment,
                  "Augment the training images, torchvision's transforms in its order: crop=P (RandomCrop(size, "
                  "padding=P)), degrees=D, translate=T, scale=LO:HI, shear=S (RandomAffine; nearest, or bilinear), "
                  "elastic=ALPHA[:SIGMA] (ElasticTransform(alpha, sigma=5), bilinear), hflip (RandomHorizontalFlip, "
                  "not for digits), erase=P (RandomErasing(p=P)); e.g. "
                  "--augment crop=2,degrees=10,scale=0.9:1.1")
      ->check(CLI::Validator(
          [](std::string& spec) -> std::string {
            try {
              parse_augment(spec);
            } catch (const Error& e) {
              return e.what();
            }
            return "";
          },
          "SPEC"));
  cmd->add_option("--log-every-steps", c.log_every_steps,
                  "Write the training loss and learning rate to the TensorBoard file every N steps (default: about "
                  "50 points an epoch)")
      ->check(integer_in(1, 1000000000));
  cmd->add_option("--resume", a.resume,
                  "Continue the interrupted run in this folder, with its own settings (other options are ignored)");
  cmd->add_option("--raise-sigterm-at-step", a.raise_sigterm_at, "tests: send SIGTERM to itself at step N")
      ->group("");
}

void add_tta_options(CLI::App* cmd, TestTimeAugmentation& tta) {
  cmd->add_flag("--tta", tta.flip,
                "Test-time flips: evaluate on the mean softmax of each image and its horizontal flip (not for "
                "--dataset mnist: digits are not flip-invariant)");
  cmd->add_option("--tta-crops", tta.crops,
                  "Test-time crops: evaluate on the mean softmax of torchvision's FiveCrop of each image padded by P "
                  "pixels (the image and its four shifts by P rows and P columns; with --tta, TenCrop); for digits "
                  "too")
      ->type_name("P")
      ->check(integer_in(0, kMaxTtaCrops));
}

void add_denoise_options(CLI::App* cmd, TrainArgs& a) {
  add_noise_options(cmd, a.noise);
  cmd->add_option("--loss", a.config.loss, "l1 or mse")
      ->transform(choices(kLossNames))
      ->type_name("NAME")
      ->default_str("l1");
}

void run_training(const TrainArgs& args) {
  // Before the folder is claimed: a stop from then on leaves a run to resume.
  install_stop_handlers();
  const bool resuming = !args.resume.empty();
  RunConfig config = args.config;
  if (config.task == TaskKind::Denoising) config.noise = args.noise.options();
  config.augment = parse_augment(args.augment);
  Run run = resuming ? Run::resume(args.resume, command_line()) : Run::create(config, command_line(), args.overwrite);
  const RunConfig& c = run.config();
  const std::string command = c.task == TaskKind::Denoising ? "mnistlab denoise train" : "mnistlab train";

  ProgressBar bar(c.epochs);
  RunStart started;
  RunCallbacks callbacks;
  callbacks.on_start = [&](const RunStart& s) {
    if (!s.note.empty()) std::printf("%s\n", s.note.c_str());
    if (s.resumed && s.batch > 0)
      std::printf("resuming %s at epoch %d, batch %lld\n", s.dir.c_str(), s.epoch + 1,
                  static_cast<long long>(s.batch));
    else if (s.resumed)
      std::printf("resuming %s after epoch %d\n", s.dir.c_str(), s.epoch);
    started = s;
    std::printf("model %s (%zu parameters), %s: %zu train / %zu %s images, %s lr %g%s, batch %d, %d threads\n",
                s.model_origin.c_str(), s.parameters, s.data_dir.c_str(), s.train, s.eval, s.eval_name.c_str(),
                optimizer_name(c.optimizer.kind), c.optimizer.lr,
                c.schedule.kind == ScheduleKind::None ? "" : (std::string(" (") + schedule_name(c.schedule.kind) + ")").c_str(),
                c.batch_size, s.threads);
    if (!s.baseline.empty()) std::printf("%s\n", s.baseline.c_str());
    std::fflush(stdout);
  };
  callbacks.on_step = [&](const StepInfo& s) {
    bar.update(s.epoch, s.done, s.total, s.seconds);
    if (args.raise_sigterm_at > 0 && s.step == args.raise_sigterm_at) {
      // To the process (raise() would leave it pending on this thread, which
      // blocks it), and taken before the step ends, as a handler would have.
      kill(getpid(), SIGTERM);
      while (!stop_requested().load()) std::this_thread::yield();
    }
  };
  callbacks.on_epoch = [&](const EpochMetrics& m, bool improved) {
    bar.clear();
    std::printf("epoch %3d%s%s  %.1fs%s\n", m.epoch, format_metrics("train", started.train_metrics, m.train).c_str(),
                format_metrics(started.eval_name, started.eval_metrics, m.eval).c_str(), m.seconds, improved ? "  *best" : "");
    std::fflush(stdout);
  };
  callbacks.on_warning = [&](const std::string& text) { std::fprintf(stderr, "warning: %s\n", text.c_str()); };

  const RunOutcome out = run.train(&stop_requested(), callbacks);
  bar.clear();
  if (out.outcome == TrainProgress::Outcome::Interrupted) {
    const int sig = stop_signal();
    // Batch 0: the stop came while an epoch was closed (evaluation, saving, curves).
    const std::string where = out.batch > 0 ? "at epoch " + std::to_string(out.epochs_done + 1) + ", batch " +
                                                  std::to_string(out.batch)
                                            : "after epoch " + std::to_string(out.epochs_done);
    std::printf("interrupted by %s %s: saved %s\ncontinue with: %s --resume %s\n",
                sig == SIGINT ? "Ctrl-C" : "SIGTERM", where.c_str(), out.resume_file.c_str(), command.c_str(),
                shell_quote(run.dir().string()).c_str());
    std::fflush(stdout);
    throw ExitRequest{128 + (sig ? sig : SIGTERM)};
  }
  if (out.outcome == TrainProgress::Outcome::StoppedEarly)
    std::printf("stopped early after epoch %d: no better %s_%s for %d epochs\n", out.epochs_done,
                started.eval_name.c_str(), started.best_metric.c_str(), c.early_stop_patience);
  std::printf("done: epoch %d's weights (%s):%s%s; best %s epoch %d\n", out.reported_epoch, out.weights.c_str(),
              format_metrics("test", started.eval_metrics, out.test).c_str(),
              c.val_split > 0 ? " (the test set's only use)" : "", started.eval_name.c_str(), out.best_epoch);
  std::printf("run folder %s: metrics.csv, curves.png, %s, report.txt, best.safetensors, last.safetensors\n",
              run.dir().c_str(), started.picture.c_str());
}

}  // namespace mnistlab::cli
