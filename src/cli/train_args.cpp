#include "cli/train_args.h"

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/validators.h"
#include "io/json_value.h"
#include "mnistlab/error.h"

namespace mnistlab::cli {

std::string default_data_dir(const std::string& dataset) {
  return dataset == "fashion" ? "data/fashion-mnist" : "data/mnist";
}

void add_common_training_options(CLI::App* cmd, TrainArgs& a) {
  cmd->add_option("--model", a.model, "Preset name (" + preset_list() + ") or model file")->capture_default_str();
  cmd->add_option("--dataset", a.dataset, "mnist or fashion")
      ->check(CLI::IsMember({"mnist", "fashion"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", a.data_dir,
                  "Folder with the dataset's four IDX files (raw or .gz); default data/mnist or data/fashion-mnist");
  cmd->add_option("--epochs", a.epochs, "Passes over the training set")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch-size", a.batch_size, "Images per step")
      ->check(integer_in(1, 65536))
      ->capture_default_str();
  cmd->add_option("--optimizer", a.optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", a.lr, "Learning rate (onecycle: the peak)")
      ->check(number_in(0, 10, true, "> 0 (at most 10)"))
      ->capture_default_str();
  cmd->add_option("--momentum", a.momentum, "SGD momentum")
      ->check(number_in(0, 0.999999, false, "in [0, 1)"))
      ->capture_default_str();
  cmd->add_flag("--nesterov", a.nesterov, "SGD with Nesterov momentum");
  cmd->add_option("--weight-decay", a.weight_decay, "Weight decay (default: 0; AdamW 0.01)")
      ->check(number_in(0, 1, false, "in [0, 1]"));
  cmd->add_option("--seed", a.seed, "Seed for initialization, shuffling and the validation split")
      ->check(integer_in(0, 2147483647))
      ->capture_default_str();
  cmd->add_option("--threads", a.threads, "CPU threads (default: all cores)")->check(integer_in(1, 1024));
  cmd->add_option("--out", a.out,
                  "Run folder (default runs/MODEL-DATASET, or the first of runs/MODEL-DATASET-2, -3, ... that "
                  "holds no run yet); a folder that holds a run is refused");
  cmd->add_flag("--overwrite", a.overwrite,
                "Replace the run in the run folder (--out, or the default runs/MODEL-DATASET): its files are "
                "removed first");
  cmd->add_option("--train-limit", a.train_limit, "Use only the first N training images (0: all)")
      ->check(integer_in(0, 1000000000));
  cmd->add_option("--test-limit", a.test_limit, "Use only the first N test images (0: all)")
      ->check(integer_in(0, 1000000000));
}

void add_train_options(CLI::App* cmd, TrainArgs& a) {
  add_common_training_options(cmd, a);
  cmd->add_option("--lr-schedule", a.lr_schedule,
                  "none; step (StepLR: x gamma every --step-size epochs); cosine (CosineAnnealingLR over all "
                  "steps); onecycle (OneCycleLR: peak --lr, momentum/beta1 cycled)")
      ->check(CLI::IsMember({"none", "step", "cosine", "onecycle"}))
      ->capture_default_str();
  cmd->add_option("--step-size", a.step_size, "Epochs between decays of the step schedule")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  cmd->add_option("--gamma", a.gamma, "Decay factor of the step schedule")
      ->check(number_in(0, 1, true, "in (0, 1]"))
      ->capture_default_str();
  cmd->add_option("--warmup-epochs", a.warmup_epochs,
                  "Linear warmup over this many epochs (may be fractional) before none/step/cosine")
      ->check(number_in(0, 1000, false, "in [0, 1000]"));
  cmd->add_option("--early-stop-patience", a.early_stop_patience,
                  "Stop after N epochs without a better --early-stop-metric; 0: never")
      ->check(integer_in(0, 100000));
  cmd->add_option("--early-stop-metric", a.early_stop_metric,
                  "test_acc or test_loss (on the validation set when --val-split is given); also picks best.safetensors")
      ->check(CLI::IsMember({"test_acc", "test_loss"}))
      ->capture_default_str();
  cmd->add_option("--val-split", a.val_split,
                  "Hold out this fraction of the training set to choose the epoch; the test set is then used once, "
                  "at the end")
      ->check(number_in(0, 0.9, true, "in (0, 0.9]"));
}

OptimizerOptions optimizer_options(const TrainArgs& a) {
  OptimizerOptions o;
  o.name = a.optimizer;
  o.lr = a.lr;
  o.momentum = a.momentum;
  o.nesterov = a.nesterov;
  o.weight_decay = a.weight_decay;
  return o;
}

std::string to_json(const TrainArgs& a) {
  const nlohmann::json j = {{"model", a.model},
                            {"dataset", a.dataset},
                            {"data_dir", a.data_dir},
                            {"out", a.out},
                            {"epochs", a.epochs},
                            {"batch_size", a.batch_size},
                            {"optimizer", a.optimizer},
                            {"lr", a.lr},
                            {"momentum", a.momentum},
                            {"nesterov", a.nesterov},
                            {"weight_decay", a.weight_decay},
                            {"lr_schedule", a.lr_schedule},
                            {"step_size", a.step_size},
                            {"gamma", a.gamma},
                            {"warmup_epochs", a.warmup_epochs},
                            {"early_stop_patience", a.early_stop_patience},
                            {"early_stop_metric", a.early_stop_metric},
                            {"val_split", a.val_split},
                            {"seed", a.seed},
                            {"threads", a.threads},
                            {"train_limit", a.train_limit},
                            {"test_limit", a.test_limit}};
  return j.dump(2) + "\n";
}

TrainArgs train_args_from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(origin + ": not the run.json of a mnistlab train run (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(origin + ": not the run.json of a mnistlab train run (not a JSON object)");
  // The same limits as the options', so a resumed run is one the command could have started.
  const auto field = [&](const char* key) { return JsonValue::member(j, key, origin); };
  TrainArgs a;
  a.model = field("model").string();
  a.dataset = field("dataset").one_of({"mnist", "fashion"});
  a.data_dir = field("data_dir").string();
  a.out = field("out").string();
  a.epochs = int(field("epochs").integer(1, 100000));
  a.batch_size = int(field("batch_size").integer(1, 65536));
  a.optimizer = field("optimizer").one_of({"sgd", "adam", "adamw"});
  a.lr = float(field("lr").number(0, 10, true));
  a.momentum = float(field("momentum").number(0, 1, false, true));
  a.nesterov = field("nesterov").boolean();
  const JsonValue weight_decay = field("weight_decay");
  a.weight_decay = float(weight_decay.number(-1, 1));
  if (a.weight_decay < 0 && a.weight_decay != -1)
    weight_decay.bad("-1 (the optimizer's default) or a number in [0, 1]");
  a.lr_schedule = field("lr_schedule").one_of({"none", "step", "cosine", "onecycle"});
  a.step_size = int(field("step_size").integer(1, 100000));
  a.gamma = float(field("gamma").number(0, 1, true));
  a.warmup_epochs = field("warmup_epochs").number(0, 1000);
  a.early_stop_patience = int(field("early_stop_patience").integer(0, 100000));
  a.early_stop_metric = field("early_stop_metric").one_of({"test_acc", "test_loss"});
  a.val_split = field("val_split").number(0, 0.9);
  a.seed = uint64_t(field("seed").integer(0, 2147483647));
  a.threads = int(field("threads").integer(0, 1024));
  a.train_limit = size_t(field("train_limit").integer(0, 1000000000));
  a.test_limit = size_t(field("test_limit").integer(0, 1000000000));
  return a;
}

}  // namespace mnistlab::cli
