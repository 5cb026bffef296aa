// mnistlab info: what the kernels run on here (CPU, instruction set,
// threads, GEMM library and kernel) and, for a network, the route each
// layer's kernels take at a batch size.
#include <cstdio>

#include "cli/commands.h"
#include "mnistlab/distributed.h"
#include "train/threads.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"

namespace mnistlab::cli {
namespace {

struct InfoArgs {
  int threads = 0;
  std::string isa;
  std::string precision = "fp32";
  std::string model;
  int batch_size = 64;
  bool eval = false;
};

BackendOptions backend_options(const InfoArgs& a) {
  BackendOptions o;
  o.threads = a.threads;
  if (!a.isa.empty()) {
    o.max_isa = parse_isa(a.isa);
    if (!o.max_isa) throw Error("--isa: expected " + names_list(names(kIsaNames)) + ", got '" + a.isa + "'");
  }
  o.precision = parse_named(kPrecisionNames, a.precision, "--precision");
  return o;
}

void run_info(const InfoArgs& a) {
  const BackendOptions options = backend_options(a);
  std::printf("%s\n", describe_backend(options).c_str());
  // Under mpirun: the processes and their threads (each runs this command).
  const Communicator& comm = world();
  std::printf("processes: %s%s\n", comm.describe().c_str(),
              built_with_mpi() ? "" : "; built without MPI: mpirun runs need it (libopenmpi-dev)");
  if (a.model.empty()) return;
  const ModelSource source = resolve_model(a.model);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  model.set_backend(options);
  model.reserve(a.batch_size, !a.eval);
  const std::vector<std::string> routes = model.kernel_routes();
  std::printf("%s, batch %d, %s:\n", source.origin.c_str(), a.batch_size, a.eval ? "inference" : "training");
  for (size_t i = 0; i < routes.size(); ++i)
    if (!routes[i].empty())
      std::printf("  %3zu %-16s %s\n", i, model.layers()[i]->type().c_str(), routes[i].c_str());
  const double mib = 1024.0 * 1024.0;
  const double weights = double(model.parameter_count()) * sizeof(float) * (a.eval ? 1 : 2);
  std::printf("memory: %.1f MiB of activations%s and workspace, %.1f MiB of parameters%s\n",
              double(model.arena_bytes()) / mib, a.eval ? "" : ", their gradients", weights / mib,
              a.eval ? "" : " and gradients");
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "info", "CPU, instruction set, threads and GEMM kernel; with --model, each convolution's route");
  cmd->add_option("--threads", args->threads, "Threads (0: every CPU)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--isa", args->isa, "Cap the hand-written kernels at " + names_list(names(kIsaNames)));
  cmd->add_option("--precision", args->precision,
                  "Plan for " + names_list(names(kPrecisionNames)) + " convolutions and linear layers")
      ->capture_default_str();
  cmd->add_option("--model", args->model, "Preset name (mnistlab --help lists them) or model file")
      ->type_name("NAME|FILE");
  cmd->add_option("--batch-size", args->batch_size, "Batch size the routes are planned for")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--eval", args->eval, "Plan for inference (no gradients) instead of training");
  cmd->callback([args]() { run_info(*args); });
}

}  // namespace mnistlab::cli
