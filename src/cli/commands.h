#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace mnistlab::cli {

// Thrown to end the command with this exit status (after its own message).
struct ExitRequest {
  int code;
};

// The command line as typed, for the run folder's command.txt.
const std::string& command_line();
// The program as it was started (argv[0]: "build/mnistlab", "mnistlab", a
// full path), for the commands we print.
const std::string& program();
void remember_command_line(int argc, char** argv);

// "baseline, vgg-bn, ...", for help texts.
std::string preset_list();

// Each subcommand registers its options and the function that runs it.
void add_train_command(CLI::App& app);
void add_summary_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_pairs_command(CLI::App& app);
void add_denoise_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_export_command(CLI::App& app);

}  // namespace mnistlab::cli
