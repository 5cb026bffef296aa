// The run options' table (run_options.h): one entry an option, read by the
// commands, run.json and the range checks.
#include "mnistlab/run_options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>

#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/run.h"
#include "train/comma_list.h"

namespace mnistlab {
namespace {

std::string number_text(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

// The name table of each option enum (names.h).
constexpr const auto& name_table(OptimizerKind) { return kOptimizerNames; }
constexpr const auto& name_table(ScheduleKind) { return kScheduleNames; }
constexpr const auto& name_table(NoiseKind) { return kNoiseNames; }
constexpr const auto& name_table(LossKind) { return kLossNames; }
constexpr const auto& name_table(Precision) { return kPrecisionNames; }

template <class E>
std::vector<std::string> choices_of() {
  return names(name_table(E{}));
}

template <class T>
OptionValue to_value(const T& x) {
  if constexpr (std::is_same_v<T, bool>) return x;
  else if constexpr (std::is_integral_v<T>) return int64_t(x);
  else if constexpr (std::is_floating_point_v<T>) return double(x);
  else if constexpr (std::is_enum_v<T>) return std::string(name_of(name_table(T{}), x));
  else return std::string(x);
}

template <class T>
void from_value(const OptionValue& v, T& x) {
  if constexpr (std::is_same_v<T, bool>) x = std::get<bool>(v);
  else if constexpr (std::is_integral_v<T>) x = T(std::get<int64_t>(v));
  else if constexpr (std::is_floating_point_v<T>) x = T(std::get<double>(v));
  else if constexpr (std::is_enum_v<T>) x = parse_named(name_table(T{}), std::get<std::string>(v), "value");
  else x = std::get<std::string>(v);
}

// An option kept in RunConfig at the member path Path (&RunConfig::train,
// &TrainOptions::epochs): its get and set, and an enum's choices.
template <auto... Path>
RunOption field(RunOption o) {
  o.get = [](const RunConfig& c) { return to_value((c .* ... .* Path)); };
  o.set = [](RunConfig& c, const OptionValue& v) { from_value(v, (c .* ... .* Path)); };
  using T = std::remove_cvref_t<decltype((std::declval<RunConfig&>() .* ... .* Path))>;
  if constexpr (std::is_enum_v<T>) o.choices = &choices_of<T>;
  return o;
}

// --early-stop-metric takes metrics.csv's names (test_acc, val_psnr) or the bare metric (acc, psnr).
std::vector<std::string> metric_choices() {
  std::vector<std::string> choices = {""};  // "": the task's default
  for (const std::string& m : all_metric_names()) choices.push_back(m);
  return choices;
}

// "loss, acc (classification), psnr or ssim (denoising)": every task's
// metrics, those of only some tasks followed by the tasks' names.
std::string metrics_by_task() {
  std::vector<std::pair<std::string, std::vector<std::string>>> metrics;  // name, tasks
  for (const TaskType* type : task_types())
    for (const MetricInfo& m : type->make(default_run_config(type->kind))->eval_metrics()) {
      auto it = std::find_if(metrics.begin(), metrics.end(), [&](const auto& e) { return e.first == m.name; });
      if (it == metrics.end()) it = metrics.insert(metrics.end(), {m.name, {}});
      it->second.push_back(task_name(type->kind));
    }
  std::string text;
  for (size_t i = 0; i < metrics.size(); ++i) {
    const std::vector<std::string>& tasks = metrics[i].second;
    const bool last_of_group = i + 1 == metrics.size() || metrics[i + 1].second != tasks;
    const bool next_ends_group = i + 1 < metrics.size() && metrics[i + 1].second == tasks &&
                                    (i + 2 == metrics.size() || metrics[i + 2].second != tasks);
    text += metrics[i].first;
    if (last_of_group && tasks.size() < task_types().size()) text += " (" + tasks.front() + ")";
    if (i + 1 < metrics.size()) text += next_ends_group ? " or " : ", ";
  }
  return text;
}

std::string bare_metric(std::string& s) {
  for (const char* prefix : {"test_", "val_"})
    if (s.rfind(prefix, 0) == 0) s = s.substr(std::string(prefix).size());
  for (const std::string& m : all_metric_names())
    if (s == m) return "";
  return "expected " + metrics_by_task() + ", optionally as test_X or val_X; got '" + s + "'";
}

std::optional<std::string> dataset_problem(const std::string& s) {
  return s.empty() ? std::optional<std::string>("") : std::nullopt;
}

// Comma-separated keys or prefixes, each non-empty, without spaces, not
// starting or ending with a dot.
std::optional<std::string> freeze_problem(const std::string& s) {
  for (const std::string& part : comma_list(s))
    if (part.empty() || part.front() == '.' || part.back() == '.' || part.find_first_of(" \t") != std::string::npos)
      return std::optional<std::string>("");
  return std::nullopt;
}

std::optional<std::string> augment_problem(const std::string& spec) {
  try {
    parse_augment(spec);
  } catch (const Error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::vector<RunOption> make_table() {
  using enum OptionType;
  const std::vector<TaskKind> all, classification = {TaskKind::Classification}, denoising = {TaskKind::Denoising};
  std::vector<RunOption> t;
  t.push_back(field<&RunConfig::model>(
      {.flag = "--model", .key = "model", .type = Text, .help = "Preset name (mnistlab --help lists them) or model file"}));
  t.push_back(field<&RunConfig::dataset>(
      {.flag = "--dataset",
       .key = "dataset",
       .type = Text,
       .help = "mnist, fashion, or PATH: a folder of IDX files (docs/guide.md)",
       .type_name = "NAME|PATH",
       .problem = dataset_problem,
       .expected = "mnist, fashion or a dataset folder"}));
  t.push_back(field<&RunConfig::data_dir>(
      {.flag = "--data-dir",
       .key = "data_dir",
       .type = Text,
       .help = "mnist's or fashion's folder (data/mnist, data/fashion-mnist)"}));
  t.push_back(field<&RunConfig::class_names>(
      {.flag = "--class-names",
       .key = "class_names",
       .type = Text,
       .help = "Class names, one a line (default: the dataset's classes.txt)",
       .tasks = classification,
       .later = true,
       .every_run_json = true,  // written for every task since before the tasks had options of their own
       .type_name = "FILE"}));
  t.push_back(field<&RunConfig::train, &TrainOptions::epochs>(
      {.flag = "--epochs", .key = "epochs", .type = Integer, .help = "Passes over the training set",
       .range = {1, 100000}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::batch_size>(
      {.flag = "--batch-size", .key = "batch_size", .type = Integer, .help = "Images per step", .range = {1, 65536}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::optimizer, &OptimizerOptions::kind>(
      {.flag = "--optimizer", .key = "optimizer", .type = Choice, .help = "Optimizer (AdamW: decoupled weight decay)", .type_name = "NAME"}));
  t.push_back(field<&RunConfig::train, &TrainOptions::optimizer, &OptimizerOptions::lr>(
      {.flag = "--lr", .key = "lr", .type = Number, .help = "Learning rate (onecycle: the peak)",
       .range = {0, 10, true}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::optimizer, &OptimizerOptions::momentum>(
      {.flag = "--momentum", .key = "momentum", .type = Number, .help = "SGD momentum",
       .range = {0, 1, false, true}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::optimizer, &OptimizerOptions::nesterov>(
      {.flag = "--nesterov", .key = "nesterov", .type = Flag, .help = "SGD with Nesterov momentum"}));
  t.push_back(field<&RunConfig::train, &TrainOptions::optimizer, &OptimizerOptions::weight_decay>(
      {.flag = "--weight-decay",
       .key = "weight_decay",
       .type = Number,
       .help = "Weight decay (default: 0; AdamW 0.01)",
       .range = {0, 1},
       .unset = -1,
       .unset_means = "the optimizer's default"}));
  t.push_back(field<&RunConfig::train, &TrainOptions::schedule, &ScheduleOptions::kind>(
      {.flag = "--lr-schedule",
       .key = "lr_schedule",
       .type = Choice,
       .help = "StepLR, CosineAnnealingLR, OneCycleLR (peak --lr)",
       .type_name = "NAME"}));
  t.push_back(field<&RunConfig::train, &TrainOptions::schedule, &ScheduleOptions::step_size>(
      {.flag = "--step-size", .key = "step_size", .type = Integer,
       .help = "Epochs between the step schedule's decays", .range = {1, 100000}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::schedule, &ScheduleOptions::gamma>(
      {.flag = "--gamma", .key = "gamma", .type = Number, .help = "Decay factor of the step schedule",
       .range = {0, 1, true}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::schedule, &ScheduleOptions::warmup_epochs>(
      {.flag = "--warmup-epochs", .key = "warmup_epochs", .type = Number,
       .help = "Epochs of linear warmup before none, step or cosine",
       .range = {0, 1000}}));
  t.push_back(field<&RunConfig::train, &TrainOptions::early_stop_patience>(
      {.flag = "--early-stop-patience", .key = "early_stop_patience", .type = Integer,
       .help = "Stop after N epochs without a better metric; 0: never", .range = {0, 100000}}));
  RunOption metric = field<&RunConfig::train, &TrainOptions::early_stop_metric>(
      {.flag = "--early-stop-metric",
       .key = "early_stop_metric",
       .type = Choice,
       .help = "Metric that picks the best epoch: " + names_list(all_metric_names()),
       .type_name = "METRIC",
       .choices = metric_choices});
  metric.normalize = bare_metric;
  t.push_back(metric);
  t.push_back(field<&RunConfig::val_split>(
      {.flag = "--val-split",
       .key = "val_split",
       .type = Number,
       .help = "Hold out this share of the training set to pick the epoch",
       .range = {0, 0.9, true},
       .unset = 0}));
  t.push_back(field<&RunConfig::train, &TrainOptions::eval_every>(
      {.flag = "--eval-every",
       .key = "eval_every",
       .type = Integer,
       .help = "Evaluate after every Nth epoch and after the last",
       .range = {1, 100000},
       .later = true}));
  t.push_back(field<&RunConfig::train, &TrainOptions::seed>(
      {.flag = "--seed", .key = "seed", .type = Integer,
       .help = "Seed of initialization, shuffling, noise, validation split", .range = {0, 2147483647}}));
  t.push_back(field<&RunConfig::threads>({.flag = "--threads",
                                          .key = "threads",
                                          .type = Integer,
                                          .help = "CPU threads (default: all cores)",
                                          .range = {1, 1024},
                                          .unset = 0}));
  t.push_back(field<&RunConfig::train, &TrainOptions::sync_batchnorm>(
      {.flag = "--sync-batchnorm",
       .key = "sync_batchnorm",
       .type = Flag,
       .help = "Under mpirun: BatchNorm over the global batch (SyncBatchNorm)",
       .only_when_set = true}));
  t.push_back(field<&RunConfig::init_weights>(
      {.flag = "--init-weights",
       .key = "init_weights",
       .type = Text,
       .help = "Start from these weights (safetensors; fresh optimizer)",
       .only_when_set = true,
       .type_name = "FILE"}));
  t.push_back(field<&RunConfig::freeze>(
      {.flag = "--freeze",
       .key = "freeze",
       .type = Text,
       .help = "Keep these layers/keys as they are (requires_grad=False)",
       .only_when_set = true,
       .type_name = "PREFIX",
       .problem = freeze_problem,
       .expected = "state_dict keys or prefixes such as 0 or 3.weight",
       .many = true}));
  t.push_back(field<&RunConfig::precision>(
      {.flag = "--precision",
       .key = "precision",
       .type = Choice,
       .help = "bf16: as PyTorch's CPU autocast (needs AVX512_BF16)",
       .only_when_set = true,
       .type_name = "P"}));
  t.push_back(field<&RunConfig::out>(
      {.flag = "--out",
       .key = "out",
       .type = Text,
       .help = "Run folder (default runs/MODEL-DATASET, or -2, -3, ...)"}));
  t.push_back(field<&RunConfig::train_limit>({.flag = "--train-limit", .key = "train_limit", .type = Integer,
                                              .help = "Use only the first N training images (0: all)",
                                              .range = {0, 1000000000}}));
  t.push_back(field<&RunConfig::test_limit>({.flag = "--test-limit", .key = "test_limit", .type = Integer,
                                             .help = "Use only the first N test images (0: all)",
                                             .range = {0, 1000000000}}));
  RunOption augment{
      .flag = "--augment",
      .key = "augment",
      .type = Text,
      .help = "Training augmentation, e.g. crop=2,degrees=10 (docs/guide.md)",
      .later = true,
      .type_name = "SPEC",
      .problem = augment_problem,
      .expected = "an augmentation spec"};
  augment.get = [](const RunConfig& c) -> OptionValue { return augment_spec(c.train.augment); };
  augment.set = [](RunConfig& c, const OptionValue& v) { c.train.augment = parse_augment(std::get<std::string>(v)); };
  t.push_back(augment);
  t.push_back(field<&RunConfig::log_every_steps>(
      {.flag = "--log-every-steps",
       .key = "log_every_steps",
       .type = Integer,
       .help = "Loss and lr to TensorBoard every N steps (50 an epoch)",
       .range = {1, 1000000000},
       .unset = 0,
       .later = true}));
  // Classification's.
  t.push_back(field<&RunConfig::classification, &ClassificationOptions::label_smoothing>(
      {.flag = "--label-smoothing",
       .key = "label_smoothing",
       .type = Number,
       .help = "CrossEntropyLoss's label_smoothing (train_loss smoothed)",
       .tasks = classification,
       .range = {0, 1, false, true},
       .later = true}));
  t.push_back(field<&RunConfig::classification, &ClassificationOptions::tta, &TestTimeAugmentation::flip>(
      {.flag = "--tta",
       .key = "tta",
       .type = Flag,
       .help = "Test-time flips: mean softmax with the mirrored image",
       .tasks = classification,
       .later = true}));
  t.push_back(field<&RunConfig::classification, &ClassificationOptions::tta, &TestTimeAugmentation::crops>(
      {.flag = "--tta-crops",
       .key = "tta_crops",
       .type = Integer,
       .help = "Test-time crops: FiveCrop of each image padded by P pixels",
       .tasks = classification,
       .range = {0, kMaxTtaCrops},
       .later = true,
       .type_name = "P"}));
  // Denoising's.
  t.push_back(field<&RunConfig::noise, &NoiseOptions::kind>(
      {.flag = "--noise",
       .key = "noise",
       .type = Choice,
       .help = "U[0, a), N(0, sigma^2), or p of pixels set to 0/1",
       .tasks = denoising,
       .type_name = "NAME"}));
  RunOption amount{.flag = "--noise-amount",
                   .key = "noise_amount",
                   .type = Number,
                   .help = "a, sigma or p (defaults 1, 0.1, 0.1)",
                   .tasks = denoising,
                   // The kind's own range is checked with it (checked_noise).
                   .range = {0, INFINITY, true},
                   .show_default = false};
  amount.get = [](const RunConfig& c) -> OptionValue {
    return double(c.noise.amount ? *c.noise.amount : *checked_noise({c.noise.kind, std::nullopt, false}).amount);
  };
  amount.set = [](RunConfig& c, const OptionValue& v) { c.noise.amount = float(std::get<double>(v)); };
  t.push_back(amount);
  t.push_back(field<&RunConfig::noise, &NoiseOptions::clip>(
      {.flag = "--clip", .key = "noise_clip", .type = Flag, .help = "Clamp noisy images to [0, 1] (the course did not)",
       .tasks = denoising}));
  t.push_back(field<&RunConfig::loss>(
      {.flag = "--loss", .key = "loss", .type = Choice, .help = "L1Loss or MSELoss", .tasks = denoising, .type_name = "NAME"}));
  return t;
}

}  // namespace

bool OptionRange::contains(double x) const {
  return std::isfinite(x) && (open_low ? x > lo : x >= lo) && (open_high ? x < hi : x <= hi);
}

std::string OptionRange::describe(OptionType type) const {
  if (type == OptionType::Integer)
    return "an integer from " + std::to_string(int64_t(lo)) + " to " + std::to_string(int64_t(hi));
  if (std::isinf(hi)) return "a number " + std::string(open_low ? "above " : "from ") + number_text(lo);
  return "a number in " + std::string(open_low ? "(" : "[") + number_text(lo) + ", " + number_text(hi) +
         (open_high ? ")" : "]");
}

std::string option_text(const OptionValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* x = std::get_if<double>(&value)) return number_text(*x);
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  return std::get<std::string>(value);
}

bool RunOption::taken_by(TaskKind task) const {
  return tasks.empty() || std::find(tasks.begin(), tasks.end(), task) != tasks.end();
}

std::string RunOption::range_problem(double x, bool allow_unset) const {
  if (range.contains(x) || (allow_unset && unset && x == *unset)) return "";
  return "expected " + (allow_unset ? json_expected() : range.describe(type));
}

std::string RunOption::json_expected() const {
  if (!unset) return range.describe(type);
  // Next to the range: the range widened by it.
  if (type == OptionType::Integer && *unset == range.lo - 1) return OptionRange{*unset, range.hi}.describe(type);
  if (type == OptionType::Number && *unset == range.lo && range.open_low)
    return OptionRange{range.lo, range.hi, false, range.open_high}.describe(type);
  return number_text(*unset) + " (" + unset_means + ") or " + range.describe(type);
}

const std::vector<RunOption>& run_options() {
  static const std::vector<RunOption> table = make_table();
  return table;
}

const RunOption& run_option(const std::string& key) {
  for (const RunOption& o : run_options())
    if (o.key == key) return o;
  throw Error("no run option '" + key + "'");
}

std::vector<std::string> all_metric_names() {
  std::vector<std::string> names;
  for (const TaskType* type : task_types())
    for (const MetricInfo& m : type->make(default_run_config(type->kind))->eval_metrics())
      if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
  return names;
}

}  // namespace mnistlab
