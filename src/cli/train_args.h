#pragma once
// The run options on the command line, written into a RunConfig
// (include/mnistlab/run.h), and the one function both training commands run.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "mnistlab/run.h"

namespace mnistlab::cli {

struct TrainArgs {
  RunConfig config;               // the task's defaults (default_run_config), then the options given
  bool overwrite = false;         // replace the run in the folder (not kept in run.json)
  std::string resume;             // run folder to continue
  int64_t raise_sigterm_at = 0;   // tests: signal ourselves after this optimizer step
  double collective_timeout = 0;  // tests: seconds a rank waits on the others (0: Communicator's default)
};

// The run options of config.task's runs (run_options.h), and --overwrite,
// --resume: `mnistlab train` and `mnistlab denoise train` share them, with
// the same names.
void add_run_options(CLI::App* cmd, TrainArgs& args);
// One run option on a command, written into `config` (pairs takes the noise
// options, eval the test-time augmentation).
CLI::Option* add_run_option(CLI::App* cmd, RunConfig& config, const std::string& key);
// A run option's check, for a command that keeps the value elsewhere
// (eval's --threads, --batch-size).
CLI::Validator run_option_check(const std::string& key);

// Trains (or resumes) and prints as it goes; the exit status of an
// interrupted run is 128 + the signal (ExitRequest).
void run_training(const TrainArgs& args);

}  // namespace mnistlab::cli
