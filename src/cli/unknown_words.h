#pragma once
// The unknown command or option of a command line CLI11 refused, named with
// the closest known one: `mnistlab trian` says "unknown command 'trian'; did
// you mean 'train'?", `mnistlab train --epoch 1` "unknown option '--epoch';
// did you mean '--epochs'?" (CLI11 2.1 says only "A subcommand is required"
// or "The following arguments were not expected").
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace mnistlab::cli {

// The number of single-character edits (insert, delete, replace, swap two
// neighbours) that turn a into b (optimal string alignment distance).
size_t edit_distance(const std::string& a, const std::string& b);

// Among `known`, the name closest to `typed` when it is close enough to be
// a typo (or `typed` is the start of it), else "".
std::string closest(const std::string& typed, const std::vector<std::string>& known);

// Walks args (argv without the program) through root's subcommands and
// options as CLI11 does, and returns the message for the first word that is
// neither, with the closest name; "" when every word is known. `program`
// names the command in the hint to its --help.
std::string unknown_word_message(CLI::App& root, const std::vector<std::string>& args, const std::string& program);

}  // namespace mnistlab::cli
