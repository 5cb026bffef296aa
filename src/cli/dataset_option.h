#pragma once
// --dataset and --class-names, the same for every command that reads a
// dataset (train, denoise train, eval, predict, pairs).
#include <CLI/CLI.hpp>
#include <string>

namespace mnistlab::cli {

inline CLI::Option* add_dataset_option(CLI::App* cmd, std::string& dataset) {
  return cmd
      ->add_option("--dataset", dataset,
                   "mnist, fashion, or PATH: a folder of IDX files (raw or .gz) of any image size and number of "
                   "classes, such as EMNIST or KMNIST, found by name: *train-images-idx3-ubyte, "
                   "*train-labels-idx1-ubyte, *t10k-images-idx3-ubyte or *test-images-idx3-ubyte, "
                   "*t10k-labels-idx1-ubyte or *test-labels-idx1-ubyte (one of each); classes.txt there, if any, "
                   "names the classes, one per line")
      ->type_name("NAME|PATH")
      ->check(CLI::Validator(
          [](std::string& s) { return s.empty() ? std::string("expected mnist, fashion or a folder; got ''") : ""; },
          ""))
      ->capture_default_str();
}

inline CLI::Option* add_class_names_option(CLI::App* cmd, std::string& file) {
  return cmd->add_option("--class-names", file,
                         "Text file with one class name per line, in label order (default: classes.txt in the "
                         "dataset's folder; mnist and fashion have their own)")
      ->type_name("FILE");
}

}  // namespace mnistlab::cli
