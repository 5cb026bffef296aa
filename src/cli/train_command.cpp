// mnistlab train: the classification experiments of the course, in a run
// folder (include/mnistlab/run.h).
#include "cli/commands.h"
#include "cli/train_args.h"

namespace mnistlab::cli {

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  args->config = default_run_config(TaskKind::Classification);
  CLI::App* cmd = app.add_subcommand("train", "Train a classifier on MNIST, Fashion-MNIST or another MNIST-family dataset");
  cmd->footer(
      "The run folder gets metrics.csv, curves.png, misclassified.png, report.txt (per-class accuracy, confusion "
      "matrix), best.safetensors and last.safetensors (PyTorch state_dict keys), resume.safetensors and a "
      "TensorBoard event file (`tensorboard --logdir runs`). Ctrl-C or "
      "SIGTERM stops after the current step and saves (a second Ctrl-C stops at once, without saving); "
      "`mnistlab train --resume DIR` continues.\n\nA folder that "
      "holds a run is never replaced silently: without --out a new run goes to the first free runs/MODEL-DATASET, "
      "runs/MODEL-DATASET-2, ...; --out DIR that holds a run is refused (choose another, continue it with --resume, "
      "or add --overwrite). While a training runs, its folder is locked (DIR/run.lock holds its PID): a second "
      "training into it is refused.");
  add_run_options(cmd, *args);
  cmd->callback([args]() { run_training(*args); });
}

}  // namespace mnistlab::cli
