// mnistlab train: the classification experiments of the course, in a run
// folder (include/mnistlab/run.h).
#include "cli/commands.h"
#include "cli/train_args.h"

namespace mnistlab::cli {

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  args->config = default_run_config(TaskKind::Classification);
  CLI::App* cmd = app.add_subcommand("train", "Train a classifier on MNIST, Fashion-MNIST or another MNIST-family dataset");
  // Each line at most 100 columns; the run folder and every option in depth: README.md, docs/guide.md.
  cmd->footer(
      "The run folder gets metrics.csv, curves.png, report.txt, weights and a TensorBoard log; a run is\n"
      "never written over (--overwrite does). Ctrl-C or SIGTERM saves; --resume DIR continues.\n"
      "In depth: README.md (the run folder) and docs/guide.md (training options, datasets).");
  add_run_options(cmd, *args);
  cmd->callback([args]() { run_training(*args); });
}

}  // namespace mnistlab::cli
