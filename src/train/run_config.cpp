#include <nlohmann/json.hpp>

#include "io/json_value.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/run.h"

namespace mnistlab {

RunConfig checked_run_config(RunConfig c) {
  if (c.task == TaskKind::Denoising) c.noise = checked_noise(c.noise);
  // A denoiser may see mirrored digits: only a class depends on handedness.
  if (c.task == TaskKind::Classification) {
    checked_label_smoothing(c.classification.label_smoothing);
    if (c.classification.tta.flip) check_flips_allowed(c.dataset, kTtaOption);
    if (c.classification.tta.crops < 0 || c.classification.tta.crops > kMaxTtaCrops)
      throw Error("--tta-crops " + std::to_string(c.classification.tta.crops) + ": expected 0 to " +
                  std::to_string(kMaxTtaCrops) + " pixels of padding");
    if (c.augment.hflip) check_flips_allowed(c.dataset, "--augment hflip (RandomHorizontalFlip)");
  }
  return c;
}

std::string to_json(const RunConfig& c) {
  nlohmann::json j = {{"task", task_name(c.task)},
                      {"model", c.model},
                      {"dataset", c.dataset},
                      {"data_dir", c.data_dir},
                      {"class_names", c.class_names},
                      {"out", c.out},
                      {"epochs", c.epochs},
                      {"batch_size", c.batch_size},
                      {"optimizer", optimizer_name(c.optimizer.kind)},
                      {"lr", c.optimizer.lr},
                      {"momentum", c.optimizer.momentum},
                      {"nesterov", c.optimizer.nesterov},
                      {"weight_decay", c.optimizer.weight_decay},
                      {"lr_schedule", schedule_name(c.schedule.kind)},
                      {"step_size", c.schedule.step_size},
                      {"gamma", c.schedule.gamma},
                      {"warmup_epochs", c.schedule.warmup_epochs},
                      {"early_stop_patience", c.early_stop_patience},
                      {"early_stop_metric", c.early_stop_metric},
                      {"val_split", c.val_split},
                      {"eval_every", c.eval_every},
                      {"seed", c.seed},
                      {"threads", c.threads},
                      {"train_limit", c.train_limit},
                      {"test_limit", c.test_limit},
                      {"augment", augment_spec(c.augment)},
                      {"log_every_steps", c.log_every_steps}};
  if (c.task == TaskKind::Classification) {
    j["label_smoothing"] = c.classification.label_smoothing;
    j["tta"] = c.classification.tta.flip;
    j["tta_crops"] = c.classification.tta.crops;
  }
  if (c.task == TaskKind::Denoising) {
    j["noise"] = noise_name(c.noise.kind);
    j["noise_amount"] = noise_amount(checked_noise(c.noise));
    j["noise_clip"] = c.noise.clip;
    j["loss"] = loss_name(c.loss);
  }
  return j.dump(2) + "\n";
}

RunConfig run_config_from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(origin + ": not the run.json of a mnistlab run (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(origin + ": not the run.json of a mnistlab run (not a JSON object)");
  // The same limits as the options', so a resumed run is one the command could have started.
  const auto field = [&](const char* key) { return JsonValue::member(j, key, origin); };
  RunConfig c;
  c.task = parse_named(kTaskNames, field("task").one_of(names(kTaskNames)), "task");
  c.model = field("model").string();
  const JsonValue dataset = field("dataset");
  c.dataset = dataset.string();
  if (c.dataset.empty()) dataset.bad("mnist, fashion or a dataset folder");
  c.data_dir = field("data_dir").string();
  if (j.contains("class_names")) c.class_names = field("class_names").string();  // came later (below)
  c.out = field("out").string();
  c.epochs = int(field("epochs").integer(1, 100000));
  c.batch_size = int(field("batch_size").integer(1, 65536));
  c.optimizer.kind = parse_optimizer(field("optimizer").one_of(names(kOptimizerNames)));
  c.optimizer.lr = float(field("lr").number(0, 10, true));
  c.optimizer.momentum = float(field("momentum").number(0, 1, false, true));
  c.optimizer.nesterov = field("nesterov").boolean();
  const JsonValue weight_decay = field("weight_decay");
  c.optimizer.weight_decay = float(weight_decay.number(-1, 1));
  if (c.optimizer.weight_decay < 0 && c.optimizer.weight_decay != -1)
    weight_decay.bad("-1 (the optimizer's default) or a number in [0, 1]");
  c.schedule.kind = parse_schedule(field("lr_schedule").one_of(names(kScheduleNames)));
  c.schedule.step_size = int(field("step_size").integer(1, 100000));
  c.schedule.gamma = float(field("gamma").number(0, 1, true));
  c.schedule.warmup_epochs = field("warmup_epochs").number(0, 1000);
  c.early_stop_patience = int(field("early_stop_patience").integer(0, 100000));
  c.early_stop_metric = field("early_stop_metric").one_of({"", "loss", "acc", "psnr", "ssim"});
  c.val_split = field("val_split").number(0, 0.9);
  c.seed = uint64_t(field("seed").integer(0, 2147483647));
  c.threads = int(field("threads").integer(0, 1024));
  c.train_limit = size_t(field("train_limit").integer(0, 1000000000));
  c.test_limit = size_t(field("test_limit").integer(0, 1000000000));
  // Keys that came later may be absent: a run interrupted before they came
  // resumes with their defaults, which is how it was started.
  const auto later = [&](const char* key) { return j.contains(key); };
  if (later("log_every_steps")) c.log_every_steps = int(field("log_every_steps").integer(0, 1000000000));
  if (later("eval_every")) c.eval_every = int(field("eval_every").integer(1, 100000));
  if (later("augment")) {
    const JsonValue augment = field("augment");
    try {
      c.augment = parse_augment(augment.string());
    } catch (const Error& e) {
      augment.bad(std::string("an augmentation spec (") + e.what() + ")");
    }
  }
  if (c.task == TaskKind::Classification) {
    if (later("label_smoothing"))
      c.classification.label_smoothing = float(field("label_smoothing").number(0, 1, false, true));
    if (later("tta")) c.classification.tta.flip = field("tta").boolean();
    if (later("tta_crops")) c.classification.tta.crops = int(field("tta_crops").integer(0, kMaxTtaCrops));
  }
  if (c.task == TaskKind::Denoising) {
    c.noise.kind = parse_noise(field("noise").one_of(names(kNoiseNames)));
    c.noise.amount = float(field("noise_amount").number(0, 10, true));
    c.noise.clip = field("noise_clip").boolean();
    c.loss = parse_named(kLossNames, field("loss").one_of(names(kLossNames)), "loss");
  }
  try {
    return checked_run_config(c);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

}  // namespace mnistlab
