// mnistlab export: a network with its weights as an ONNX file.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/train_args.h"
#include "mnistlab/model_file.h"
#include "mnistlab/onnx.h"
#include "mnistlab/safetensors.h"

namespace mnistlab::cli {
namespace {

struct ExportArgs {
  std::string model = "baseline";
  std::string weights;
  std::string out;
  int batch_size = 1;
  bool dynamic_batch = false;
  bool softmax = false;
};

std::string dims(const std::string& batch, const SampleShape& s) {
  std::string text = "[" + batch + ", " + std::to_string(s.c);
  if (s.rank == 4) text += ", " + std::to_string(s.h) + ", " + std::to_string(s.w);
  return text + "]";
}

void run_export(const ExportArgs& a) {
  const ModelSource source = resolve_model(a.model);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  load_state_dict(model, a.weights);
  model.eval();
  OnnxOptions options;
  options.batch_size = a.dynamic_batch ? 0 : a.batch_size;
  options.softmax = a.softmax;
  options.doc = "mnistlab " + source.origin + " with the weights of " +
                std::filesystem::path(a.weights).filename().string() + "\n\n" + source.text;
  export_onnx(model, a.out, options);
  const std::string batch = a.dynamic_batch ? "batch_size" : std::to_string(a.batch_size);
  std::printf("%s: ONNX opset 13, input %s, output %s%s, %.2f MB\n", a.out.c_str(),
              dims(batch, model.input_shape()).c_str(), dims(batch, model.output_shape()).c_str(),
              a.softmax ? " (softmax)" : "", double(std::filesystem::file_size(a.out)) / 1e6);
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a network and its weights as ONNX (opset 13) for OpenCV, ONNX Runtime, TensorRT");
  cmd->add_option("--model", args->model, "Preset name (mnistlab --help lists them) or model file")
      ->type_name("NAME|FILE")
      ->capture_default_str();
  cmd->add_option("--weights", args->weights, "safetensors file (best.safetensors, ...)")
      ->type_name("FILE")
      ->required();
  cmd->add_option("--out", args->out, "The ONNX file to write (replaced whole)")->type_name("FILE")->required();
  auto* batch = cmd->add_option("--batch-size", args->batch_size, "Fixed batch size of the graph")
                    ->check(run_option_check("batch_size"))
                    ->capture_default_str();
  cmd->add_flag("--dynamic-batch", args->dynamic_batch,
                "A dynamic batch dimension, batch_size (dynamic_axes)")
      ->excludes(batch);
  cmd->add_flag("--softmax", args->softmax, "End a classifier with Softmax, so the output is probabilities");
  // Each line at most 100 columns.
  cmd->footer(
      "The graph: input \"input\" [N, C, H, W], output \"output\"; initializers named by the state_dict\n"
      "keys (0.weight, 1.running_mean, ...); BatchNorm2d as BatchNormalization with its running\n"
      "statistics, Linear as Gemm, Dropout left out. Checked with ONNX's checker before it is written.");
  cmd->callback([args]() { run_export(*args); });
}

}  // namespace mnistlab::cli
