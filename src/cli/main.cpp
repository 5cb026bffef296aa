// mnistlab: train, evaluate and inspect small CNNs on MNIST-family images.
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"

namespace mnistlab::cli {
static std::string g_command_line;
const std::string& command_line() { return g_command_line; }
void remember_command_line(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + std::string(argv[i]);
}
std::string preset_list() {
  std::string list;
  for (const auto& name : preset_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}
}  // namespace mnistlab::cli

int main(int argc, char** argv) {
  mnistlab::cli::remember_command_line(argc, argv);
  CLI::App app{"mnistlab: train, evaluate and inspect small convolutional networks on MNIST-family images"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return "mnistlab 0.1\n" + mnistlab::describe_backend(); });
  mnistlab::cli::add_train_command(app);
  mnistlab::cli::add_eval_command(app);
  mnistlab::cli::add_predict_command(app);
  mnistlab::cli::add_summary_command(app);
  mnistlab::cli::add_pairs_command(app);
  mnistlab::cli::add_denoise_command(app);
  mnistlab::cli::add_info_command(app);
  mnistlab::cli::add_export_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mnistlab::cli::ExitRequest& e) {
    return e.code;
  } catch (const mnistlab::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory: the model, its batch and the data need more than this machine can give "
                 "(try a smaller --batch-size or model)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
