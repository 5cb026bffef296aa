#pragma once
// The run options, one table: each option's command-line flag, run.json
// key, type, range, help and the tasks that take it. The commands' options
// (src/cli/train_args.cpp), run.json's writing and reading (to_json,
// run_config_from_json) and the range checks all read this table, so an
// option, its range and its help are written once (src/train/run_options.cpp).
// Defaults are RunConfig's, and a task's own come from its TaskType (task.h).
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mnistlab/task.h"

namespace mnistlab {

struct RunConfig;

enum class OptionType {
  Integer,  // run.json: a whole number
  Number,   // a finite number
  Flag,     // true or false; on the command line present or not
  Choice,   // one of choices()
  Text,     // a string, checked by problem()
};

// lo <= x <= hi, either end open; hi infinite: no upper limit.
struct OptionRange {
  double lo = 0, hi = 0;
  bool open_low = false, open_high = false;
  bool contains(double x) const;
  // "an integer from 1 to 65536", "a number in (0, 10]", "a number above 0"
  std::string describe(OptionType type) const;
};

using OptionValue = std::variant<int64_t, double, bool, std::string>;
// "15", "0.001", "true", "adam": as the command line takes it.
std::string option_text(const OptionValue& value);

struct RunOption {
  std::string flag{};  // "--batch-size"
  std::string key{};   // "batch_size" in run.json
  OptionType type = OptionType::Text;
  std::string help{};
  std::vector<TaskKind> tasks{};  // the tasks whose runs take it; none: every task
  OptionRange range{};            // Integer, Number
  // A value run.json holds when the option was not given, which the command
  // line does not take (--threads 0); explained by unset_means where it is
  // not next to the range.
  std::optional<double> unset{};
  std::string unset_means{};
  bool show_default = true;  // in --help, the default's value
  bool later = false;        // may be absent from run.json (older runs): then the default
  // Written to run.json only when not the default (implies later): run.json
  // files from before the option came are what mnistlab writes for them
  // still, so those runs resume.
  bool only_when_set = false;
  bool every_run_json = false;  // in every task's run.json, not only the tasks' that take it
  std::string type_name{};        // --help's placeholder ("NAME", "P"); "" for the type's own
  std::vector<std::string> (*choices)() = nullptr;  // Choice: run.json's values
  // Choice, on the command line instead of choices(): "" when `text` is
  // fine (it may rewrite it: test_acc -> acc), else the message.
  std::string (*normalize)(std::string& text) = nullptr;
  // Text: nullopt when fine, else what is wrong with it ("" when nothing more
  // than `expected` says it).
  std::optional<std::string> (*problem)(const std::string& text) = nullptr;
  std::string expected{};  // Text: what the value should have been ("an augmentation spec")
  // Text: one or more values on the command line (--freeze 0 3), each
  // checked by problem(), kept joined by commas.
  bool many = false;
  OptionValue (*get)(const RunConfig&) = nullptr;
  void (*set)(RunConfig&, const OptionValue&) = nullptr;

  bool taken_by(TaskKind task) const;
  bool in_run_json_of(TaskKind task) const { return every_run_json || taken_by(task); }
  // The range check: "" or "expected an integer from 1 to 65536" (unset counts as inside when allowed).
  std::string range_problem(double x, bool allow_unset) const;
  // run.json's expectation for an Integer or Number: the range, with the unset value.
  std::string json_expected() const;
};

// Every run option, in --help's order.
const std::vector<RunOption>& run_options();
// The option with this run.json key; Error when there is none.
const RunOption& run_option(const std::string& key);
// Every metric name of every task, in order of first appearance ("loss", "acc", "psnr", "ssim").
std::vector<std::string> all_metric_names();

}  // namespace mnistlab
