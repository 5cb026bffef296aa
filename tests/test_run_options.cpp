// The run options' table (run_options.h) drives the commands, run.json and
// the range checks: every option is on the command line of the tasks that
// take it and nowhere else, is refused out of range with the same
// expectation on the command line and in run.json, and round-trips through
// run.json; a task's defaults are its own; a run.json written before the
// table reads back to the same text.
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "mnistlab/model_file.h"
#include "mnistlab/run.h"
#include "mnistlab/run_options.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// "mnistlab denoise train" -> "denoise train"
std::string subcommand(const TaskType& type) {
  return std::string(type.command).substr(std::string("mnistlab ").size());
}

bool help_lists(const std::string& help, const std::string& flag) {
  return help.find("\n  " + flag + " ") != std::string::npos || help.find("\n  " + flag + "\n") != std::string::npos;
}

// What follows "expected " in a message, up to ", got" or the end.
std::string expectation(const std::string& message) {
  const size_t at = message.find("expected ");
  if (at == std::string::npos) return "(no expectation in: " + message + ")";
  std::string rest = message.substr(at + 9);
  if (const size_t got = rest.find(", got"); got != std::string::npos) rest.resize(got);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '.')) rest.pop_back();
  return rest;
}

// A value outside the option's range (and not its unset value).
double outside(const RunOption& o) {
  return std::isinf(o.range.hi) ? o.range.lo - 1 : o.range.hi + 1;
}

std::string refusal_in_run_json(TaskKind task, const std::string& key, const nlohmann::json& value) {
  nlohmann::json j = nlohmann::json::parse(to_json(default_run_config(task)));
  j[key] = value;
  try {
    run_config_from_json(j.dump(2), "run.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST(RunOptions, EveryOptionIsInTheHelpOfTheTasksThatTakeItAndNoOther) {
  for (const TaskType* type : task_types()) {
    const auto help = run(subcommand(*type) + " --help");
    ASSERT_EQ(help.exit_code, 0) << help.output;
    for (const RunOption& o : run_options()) {
      SCOPED_TRACE(subcommand(*type) + " " + o.flag);
      EXPECT_EQ(help_lists(help.output, o.flag), o.taken_by(type->kind)) << help.output;
      if (o.taken_by(type->kind)) {
        const size_t line = help.output.find("\n  " + o.flag);
        // Its help text is on its line or the next.
        EXPECT_NE(help.output.find(o.help.substr(0, 30), line), std::string::npos) << help.output;
      }
    }
  }
}

TEST(RunOptions, OutOfRangeIsRefusedWithTheSameExpectationOnTheCommandLineAndInRunJson) {
  int checked = 0;
  for (const TaskType* type : task_types())
    for (const RunOption& o : run_options()) {
      if (!o.taken_by(type->kind) || (o.type != OptionType::Integer && o.type != OptionType::Number)) continue;
      SCOPED_TRACE(subcommand(*type) + " " + o.flag);
      const double bad = outside(o);
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", bad);
      const auto cli = run(subcommand(*type) + " " + o.flag + " " + text + " --data-dir /nonexistent");
      EXPECT_NE(cli.exit_code, 0) << cli.output;
      EXPECT_NE(cli.output.find(o.flag + ": expected "), std::string::npos) << cli.output;
      const std::string json = refusal_in_run_json(type->kind, o.key, bad);
      EXPECT_NE(json.find("run.json: \"" + o.key + "\" is "), std::string::npos) << json;
      if (!o.unset) {
        EXPECT_EQ(expectation(cli.output), expectation(json)) << cli.output << "\n" << json;
      } else {
        // run.json also holds the value that means "not given", which the command line refuses.
        std::snprintf(text, sizeof text, "%g", *o.unset);
        const auto unset = run(subcommand(*type) + " " + o.flag + " " + text + " --data-dir /nonexistent");
        EXPECT_NE(unset.output.find(o.flag + ": expected "), std::string::npos) << unset.output;
        EXPECT_EQ(refusal_in_run_json(type->kind, o.key, *o.unset), "(accepted)");
        EXPECT_NE(expectation(json).find(expectation(cli.output).substr(expectation(cli.output).size() - 4)),
                  std::string::npos)
            << cli.output << "\n" << json;
      }
      ++checked;
    }
  EXPECT_GE(checked, 30);
}

TEST(RunOptions, RunJsonRoundTripsEveryOptionOfEveryTask) {
  for (const TaskType* type : task_types()) {
    RunConfig c = default_run_config(type->kind);
    c.dataset = "fashion";  // flips allowed
    // Every option away from its default, inside its range.
    for (const RunOption& o : run_options()) {
      if (!o.taken_by(type->kind) || o.key == "dataset") continue;
      const OptionValue was = o.get(c);
      OptionValue value;
      switch (o.type) {
        case OptionType::Integer:
          value = int64_t(std::get<int64_t>(was) == int64_t(o.range.hi) ? o.range.lo : o.range.hi);
          break;
        case OptionType::Number:
          value = std::isinf(o.range.hi) ? 0.5 : o.range.lo + (o.range.hi - o.range.lo) * 0.375;
          break;
        case OptionType::Flag:
          value = !std::get<bool>(was);
          break;
        case OptionType::Choice: {
          std::vector<std::string> choices = o.choices();
          if (o.key == "early_stop_metric") choices = {"loss"};  // every task has it
          value = choices.back() == std::get<std::string>(was) ? choices.front() : choices.back();
          break;
        }
        case OptionType::Text:
          value = o.key == "augment" ? std::string("crop=2,hflip")
                  : o.key == "freeze" ? std::string("0,3.weight")
                                      : "some " + o.key;
          break;
      }
      ASSERT_NE(option_text(value), option_text(was)) << o.key;
      o.set(c, value);
    }
    const std::string json = to_json(c);
    const RunConfig back = run_config_from_json(json, "run.json");
    EXPECT_EQ(to_json(back), json);
    const nlohmann::json j = nlohmann::json::parse(json);
    for (const RunOption& o : run_options()) {
      SCOPED_TRACE(std::string(task_name(type->kind)) + " " + o.key);
      EXPECT_EQ(j.contains(o.key), o.in_run_json_of(type->kind));
      if (o.taken_by(type->kind)) {
        EXPECT_EQ(option_text(o.get(back)), option_text(o.get(c)));
      }
    }
  }
}

// The defaults the commands had before the table: `mnistlab train` baseline
// on mnist, 15 epochs of 64; `mnistlab denoise train` dae on fashion, 20
// epochs of 300 (README, "Denoising").
TEST(RunOptions, ATasksDefaultsAreItsOwnOnTheCommandLine) {
  const RunConfig classification = default_run_config(TaskKind::Classification);
  EXPECT_EQ(classification.model, "baseline");
  EXPECT_EQ(classification.dataset, "mnist");
  EXPECT_EQ(classification.train.epochs, 15);
  EXPECT_EQ(classification.train.batch_size, 64);
  const RunConfig denoising = default_run_config(TaskKind::Denoising);
  EXPECT_EQ(denoising.model, "dae");
  EXPECT_EQ(denoising.dataset, "fashion");
  EXPECT_EQ(denoising.train.epochs, 20);
  EXPECT_EQ(denoising.train.batch_size, 300);
  const std::string train = run("train --help").output, denoise = run("denoise train --help").output;
  // The default --help shows on an option's line: "  --epochs INT 1..100000=15 ...".
  const auto shown_default = [](const std::string& help, const std::string& flag) {
    const size_t line = help.find("\n  " + flag + " ");
    if (line == std::string::npos) return std::string("(no ") + flag + ")";
    const size_t end = help.find_first_of(" \n", help.find('=', line));
    const size_t eq = help.find('=', line);
    return eq < help.find('\n', line + 1) ? help.substr(eq + 1, end - eq - 1) : std::string("(none)");
  };
  EXPECT_EQ(shown_default(train, "--epochs"), "15");
  EXPECT_EQ(shown_default(train, "--batch-size"), "64");
  EXPECT_EQ(shown_default(train, "--model"), "baseline");
  EXPECT_EQ(shown_default(train, "--dataset"), "mnist");
  EXPECT_EQ(shown_default(denoise, "--epochs"), "20");
  EXPECT_EQ(shown_default(denoise, "--batch-size"), "300");
  EXPECT_EQ(shown_default(denoise, "--model"), "dae");
  EXPECT_EQ(shown_default(denoise, "--dataset"), "fashion");
}

// run.json files written by mnistlab before the options table (commit
// 8625aeb: `train ... --augment crop=1,hflip --label-smoothing 0.1
// --lr-schedule cosine --tta --tta-crops 1 --seed 4` and `denoise train
// --noise gaussian --clip --loss mse --seed 2`, both interrupted): read back
// and written again, they are the same text, so their runs resume.
TEST(RunOptions, RunJsonWrittenBeforeTheTableIsReadAndWrittenAgainUnchanged) {
  const std::string classification = R"({
  "augment": "crop=1,hflip",
  "batch_size": 50,
  "class_names": "",
  "data_dir": "/tmp/rodata",
  "dataset": "fashion",
  "early_stop_metric": "",
  "early_stop_patience": 0,
  "epochs": 3,
  "eval_every": 1,
  "gamma": 0.10000000149011612,
  "label_smoothing": 0.10000000149011612,
  "log_every_steps": 0,
  "lr": 0.0010000000474974513,
  "lr_schedule": "cosine",
  "model": "baseline",
  "momentum": 0.0,
  "nesterov": false,
  "optimizer": "adam",
  "out": "/tmp/oldrun-c",
  "seed": 4,
  "step_size": 5,
  "task": "classification",
  "test_limit": 0,
  "threads": 1,
  "train_limit": 0,
  "tta": true,
  "tta_crops": 1,
  "val_split": 0.0,
  "warmup_epochs": 0.0,
  "weight_decay": -1.0
}
)";
  const std::string denoising = R"({
  "augment": "",
  "batch_size": 50,
  "class_names": "",
  "data_dir": "/tmp/rodata",
  "dataset": "fashion",
  "early_stop_metric": "",
  "early_stop_patience": 0,
  "epochs": 3,
  "eval_every": 1,
  "gamma": 0.10000000149011612,
  "log_every_steps": 0,
  "loss": "mse",
  "lr": 0.0010000000474974513,
  "lr_schedule": "none",
  "model": "dae",
  "momentum": 0.0,
  "nesterov": false,
  "noise": "gaussian",
  "noise_amount": 0.10000000149011612,
  "noise_clip": true,
  "optimizer": "adam",
  "out": "/tmp/oldrun-d",
  "seed": 2,
  "step_size": 5,
  "task": "denoising",
  "test_limit": 0,
  "threads": 1,
  "train_limit": 0,
  "val_split": 0.0,
  "warmup_epochs": 0.0,
  "weight_decay": -1.0
}
)";
  for (const std::string& text : {classification, denoising})
    EXPECT_EQ(to_json(run_config_from_json(text, "run.json")), text);
}

// Every task evaluates through the one loop (task_evaluation.h): its
// evaluation, picture and report leave the model in the mode it had, and
// score a whole set the same whatever the batch size.
TEST(RunOptions, ATasksEvaluationPictureAndReportLeaveTheModelInItsMode) {
  Dataset data = synthetic(20, 3);
  for (const TaskType* type : task_types()) {
    SCOPED_TRACE(task_name(type->kind));
    const std::unique_ptr<Task> task = type->make(default_run_config(type->kind));
    // The first of these networks that fits the task's data.
    std::optional<Model> model;
    for (const char* text : {"input 1 28 28\nflatten\nlinear 10\n", "input 1 28 28\nconv 1 k=3 p=1\n"}) {
      Model m = parse_model(text, "net");
      m.build(1);
      try {
        task->check(m, data);
      } catch (const Error&) {
        continue;
      }
      model.emplace(std::move(m));
      break;
    }
    ASSERT_TRUE(model.has_value());
    for (const bool training : {true, false}) {
      model->train(training);
      const std::vector<double> whole = task->evaluate(*model, data, 20);
      EXPECT_EQ(model->is_training(), training);
      const std::vector<double> in_threes = task->evaluate(*model, data, 3);
      ASSERT_EQ(whole.size(), in_threes.size());
      for (size_t i = 0; i < whole.size(); ++i) EXPECT_NEAR(whole[i], in_threes[i], 1e-5 * (1 + std::fabs(whole[i])));
      task->picture(*model, data, 7);
      EXPECT_EQ(model->is_training(), training);
      task->report(*model, data, 7);
      EXPECT_EQ(model->is_training(), training);
    }
  }
}
