#pragma once
#include <CLI/CLI.hpp>

namespace mnistlab::cli {

#include <string>

// The command line as typed, for the run folder's command.txt.
const std::string& command_line();
void remember_command_line(int argc, char** argv);

// Each subcommand registers its options and the function that runs it.
void add_train_command(CLI::App& app);

}  // namespace mnistlab::cli
