#include "cli/train_args.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "mnistlab/distributed.h"
#include "cli/progress_bar.h"
#include "io/shell_quote.h"
#include "cli/stop_signal.h"
#include "mnistlab/error.h"
#include "mnistlab/run_options.h"

namespace mnistlab::cli {
namespace {

// A run option's value as typed, checked (and rewritten where the option
// rewrites it), with the message the command prints.
std::string problem(const RunOption& o, std::string& s) {
  const std::string got = ", got '" + s + "'";
  switch (o.type) {
    case OptionType::Integer:
    case OptionType::Number: {
      // from_chars: no leading space, no hexadecimal, no trailing text (stod took " 5" and 0x10).
      int64_t i = 0;
      double x = 0;
      const char* end = s.data() + s.size();
      const auto parsed = o.type == OptionType::Integer ? std::from_chars(s.data(), end, i)
                                                        : std::from_chars(s.data(), end, x);
      if (parsed.ec != std::errc() || parsed.ptr != end) return "expected " + o.range.describe(o.type) + got;
      const std::string out_of_range = o.range_problem(o.type == OptionType::Integer ? double(i) : x, false);
      return out_of_range.empty() ? "" : out_of_range + got;
    }
    case OptionType::Choice: {
      if (o.normalize) return o.normalize(s);
      const std::vector<std::string> list = o.choices();
      if (std::find(list.begin(), list.end(), s) == list.end())
        return "expected " + names_list(list) + "; got '" + s + "'";
      return "";
    }
    case OptionType::Text:
      if (const std::optional<std::string> p = o.problem ? o.problem(s) : std::nullopt)
        return p->empty() ? "expected " + o.expected + got : *p;
      return "";
    case OptionType::Flag:
      return "";
  }
  return "";
}

// --help's placeholder: the range or the choices.
std::string placeholder(const RunOption& o) {
  switch (o.type) {
    case OptionType::Integer:
      return "INT " + std::to_string(int64_t(o.range.lo)) + ".." + std::to_string(int64_t(o.range.hi));
    case OptionType::Number:
      return "NUMBER " + o.range.describe(o.type).substr(std::string("a number ").size());
    case OptionType::Choice: {
      if (o.normalize) return "";
      std::string shown;
      for (const std::string& name : o.choices()) shown += (shown.empty() ? "{" : ",") + name;
      return shown + "}";
    }
    default:
      return "";
  }
}

// The value of a checked option's text.
OptionValue typed(const RunOption& o, const std::string& s) {
  if (o.type == OptionType::Integer) {
    int64_t i = 0;
    std::from_chars(s.data(), s.data() + s.size(), i);
    return i;
  }
  if (o.type == OptionType::Number) {
    double x = 0;
    std::from_chars(s.data(), s.data() + s.size(), x);
    return x;
  }
  return s;
}

// "train_loss 0.1234  train_acc 98.00%  test_loss ...": a metric as people read it.
std::string format_metrics(const std::string& split, const std::vector<MetricInfo>& metrics,
                           const std::vector<double>& values) {
  std::string line;
  char text[96];
  for (size_t i = 0; i < metrics.size() && i < values.size(); ++i) {
    const MetricInfo& m = metrics[i];
    std::snprintf(text, sizeof text, "  %s_%s %.*f%s", split.c_str(), m.name.c_str(), m.decimals,
                  m.axis_scale * values[i], m.unit.c_str());
    line += text;
  }
  return line;
}

}  // namespace

CLI::Validator run_option_check(const std::string& key) {
  const RunOption& o = run_option(key);
  return CLI::Validator([&o](std::string& s) { return problem(o, s); }, placeholder(o));
}

CLI::Option* add_run_option(CLI::App* cmd, RunConfig& config, const std::string& key) {
  const RunOption& o = run_option(key);
  RunConfig* c = &config;
  if (o.type == OptionType::Flag)
    return cmd->add_flag_function(o.flag, [c, &o](int64_t count) { o.set(*c, count > 0); }, o.help);
  CLI::Option* option =
      o.many ? cmd->add_option_function<std::vector<std::string>>(
                      o.flag,
                      [c, &o](const std::vector<std::string>& values) {
                        std::string joined;
                        for (const std::string& v : values) joined += (joined.empty() ? "" : ",") + v;
                        o.set(*c, joined);
                      },
                      o.help)
                   ->delimiter(',')
                   ->transform(run_option_check(key))
             : cmd->add_option_function<std::string>(
                      o.flag, [c, &o](const std::string& s) { o.set(*c, typed(o, s)); }, o.help)
                   ->transform(run_option_check(key));
  if (!o.type_name.empty()) option->type_name(o.type_name);
  else if (o.type == OptionType::Integer) option->type_name("INT");
  else if (o.type == OptionType::Number) option->type_name("FLOAT");
  if (o.show_default && !o.unset)
    if (const std::string value = option_text(o.get(config)); !value.empty()) option->default_str(value);
  return option;
}

void add_run_options(CLI::App* cmd, TrainArgs& a) {
  for (const RunOption& o : run_options())
    if (o.taken_by(a.config.task)) add_run_option(cmd, a.config, o.key);
  cmd->add_flag("--overwrite", a.overwrite, "Replace the run in the run folder (removes its files first)");
  cmd->add_option("--resume", a.resume, "Continue the interrupted run in DIR, with its own settings")
      ->type_name("DIR");
  cmd->add_option("--collective-timeout", a.collective_timeout, "tests: seconds a process waits on the others")
      ->check(CLI::PositiveNumber)
      ->group("");
  cmd->add_option("--raise-sigterm-at-step", a.raise_sigterm_at, "tests: send SIGTERM to itself at step N")
      ->group("");
}

void run_training(const TrainArgs& args) {
  // Before the folder is claimed: a stop from then on leaves a run to resume.
  install_stop_handlers();
  const bool resuming = !args.resume.empty();
  Communicator& comm = world();
  if (args.collective_timeout > 0) comm.set_timeout_seconds(args.collective_timeout);
  Run run = resuming ? Run::resume(args.resume, command_line(), &comm)
                     : Run::create(args.config, command_line(), args.overwrite, &comm);
  const RunConfig& c = run.config();
  // "build/mnistlab denoise train": the task's command as this one was started, to paste.
  const std::string command =
      shell_quote(program()) + std::string(task_type(c.task).command).substr(std::string("mnistlab").size());

  ProgressBar bar(c.train.epochs);
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
    if (comm.size() > 1)
      std::printf("data parallel: %s, %d threads each, batch %d split among them\n", comm.describe().c_str(),
                  s.threads, c.train.batch_size);
    std::printf("model %s: %zu parameters; %s: %zu train / %zu %s images, %s lr %g%s, batch %d, %d threads%s\n",
                s.model_origin.c_str(), s.parameters, s.data_dir.c_str(), s.train, s.eval, s.eval_name.c_str(),
                optimizer_name(c.train.optimizer.kind), c.train.optimizer.lr,
                c.train.schedule.kind == ScheduleKind::None
                    ? ""
                    : (std::string(" (") + schedule_name(c.train.schedule.kind) + ")").c_str(),
                c.train.batch_size, s.threads, s.precision == Precision::Bf16 ? ", bf16" : "");
    if (!s.init_weights.empty())
      std::printf("starting from %s (sha256 %s), a fresh optimizer and schedule%s%s\n", s.init_weights.c_str(),
                  s.init_weights_sha256.c_str(), c.freeze.empty() ? "" : "; frozen: ", c.freeze.c_str());
    else if (!c.freeze.empty())
      std::printf("frozen: %s\n", c.freeze.c_str());
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
    // Under mpirun the line keeps the launcher: the run was data parallel.
    const std::string launcher = comm.size() > 1 ? "mpirun -np " + std::to_string(comm.size()) + " " : "";
    std::printf("interrupted by %s %s: saved %s\ncontinue with: %s%s --resume %s\n",
                sig == SIGINT ? "Ctrl-C" : "SIGTERM", where.c_str(), out.resume_file.c_str(), launcher.c_str(),
                command.c_str(), shell_quote(run.dir().string()).c_str());
    if (!launcher.empty())
      std::printf("(with the launcher's other options as before; another number of processes works too)\n");
    std::fflush(stdout);
    throw ExitRequest{128 + (sig ? sig : SIGTERM)};
  }
  if (out.outcome == TrainProgress::Outcome::StoppedEarly)
    std::printf("stopped early after epoch %d: no better %s_%s for %d epochs\n", out.epochs_done,
                started.eval_name.c_str(), started.best_metric.c_str(), c.train.early_stop_patience);
  std::printf("done: epoch %d's weights (%s):%s%s; best %s epoch %d\n", out.reported_epoch, out.weights.c_str(),
              format_metrics("test", started.eval_metrics, out.test).c_str(),
              c.val_split > 0 ? " (the test set's only use)" : "", started.eval_name.c_str(), out.best_epoch);
  std::printf("run folder %s: metrics.csv, curves.png, %s, report.txt, best.safetensors, last.safetensors\n",
              run.dir().c_str(), started.picture.c_str());
}

}  // namespace mnistlab::cli
