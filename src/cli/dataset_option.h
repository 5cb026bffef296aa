#pragma once
// --dataset and --class-names for the commands that read a dataset outside a
// run (eval, predict, pairs), with the run options' help and check.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/train_args.h"
#include "mnistlab/run_options.h"

namespace mnistlab::cli {

inline CLI::Option* add_dataset_option(CLI::App* cmd, std::string& dataset) {
  const RunOption& o = run_option("dataset");
  return cmd->add_option(o.flag, dataset, o.help)
      ->type_name(o.type_name)
      ->check(run_option_check(o.key))
      ->capture_default_str();
}

inline CLI::Option* add_class_names_option(CLI::App* cmd, std::string& file) {
  const RunOption& o = run_option("class_names");
  return cmd->add_option(o.flag, file, o.help)->type_name(o.type_name);
}

}  // namespace mnistlab::cli
