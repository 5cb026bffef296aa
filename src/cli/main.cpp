// mnistlab: train, evaluate and inspect small CNNs on MNIST-family images.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <new>
#include <thread>

#include "cli/commands.h"
#include "cli/help_formatter.h"
#include "cli/unknown_words.h"
#include "io/shell_quote.h"
#include "mnistlab/distributed.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"

namespace mnistlab::cli {
static std::string g_command_line, g_program = "mnistlab";
const std::string& command_line() { return g_command_line; }
const std::string& program() { return g_program; }
void remember_command_line(int argc, char** argv) {
  // Each word quoted where bash needs it, so command.txt can be pasted back.
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + mnistlab::shell_quote(argv[i]);
  if (argc > 0 && argv[0][0] != '\0') g_program = argv[0];
}
std::string preset_list() {
  std::string list;
  for (const auto& name : preset_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}
}  // namespace mnistlab::cli

namespace {

// Started by mpirun as one of several processes: rank 0 speaks for the run.
// An error every rank meets alike (a bad option, a diverged loss) is printed
// by rank 0, which then ends them all; another rank prints its own error
// (naming itself) only when rank 0 has not ended the run by then: it failed
// alone, while rank 0 waits on it.
int fail(const std::string& message, int code) {
  const mnistlab::Communicator* comm = &mnistlab::world();  // main made it before anything could fail
  if (comm->size() == 1) {
    std::cerr << "error: " << message << "\n";
    return code;
  }
  if (comm->rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(3));
  std::cerr << "error" << (comm->rank() ? " (rank " + std::to_string(comm->rank()) + " of " + std::to_string(comm->size()) + ")" : std::string()) << ": " << message << "\n";
  comm->abort(code);
  return code;  // not reached
}

}  // namespace

int main(int argc, char** argv) {
  mnistlab::cli::remember_command_line(argc, argv);
  try {
    // Under mpirun: MPI first, and only rank 0 prints the progress and results.
    if (mnistlab::world().rank() != 0) std::freopen("/dev/null", "w", stdout);
  } catch (const mnistlab::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  CLI::App app{"mnistlab: train, evaluate and inspect small convolutional networks on MNIST-family images"};
  app.formatter(std::make_shared<mnistlab::cli::HelpFormatter>());  // before the subcommands, which copy it
  app.require_subcommand(1);
  app.footer("Presets for --model: " + mnistlab::cli::preset_list() +
             "\nEach command's options: mnistlab COMMAND --help; in depth: README.md and docs/guide.md");
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
    // Every rank parses the same command line: rank 0 says what is wrong.
    if (mnistlab::world().rank() != 0) return e.get_exit_code();
    // An unknown command or option is named, with the closest known one
    // (CLI11 says "A subcommand is required" for `mnistlab trian`).
    if (e.get_exit_code() != 0)
      if (const std::string unknown = mnistlab::cli::unknown_word_message(
              app, std::vector<std::string>(argv + 1, argv + argc), mnistlab::shell_quote(mnistlab::cli::program()));
          !unknown.empty()) {
        std::cerr << "error: " << unknown << "\n";
        return e.get_exit_code();
      }
    return app.exit(e);
  } catch (const mnistlab::cli::ExitRequest& e) {
    return e.code;
  } catch (const mnistlab::Error& e) {
    return fail(e.what(), 1);
  } catch (const std::bad_alloc&) {
    return fail("out of memory: the model, its batch and the data need more than this machine can give "
                "(try a smaller --batch-size or model)", 1);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
  return 0;
}
