// mnistlab summary: the torchsummary table of a network, or the same as JSON.
#include <charconv>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/summary.h"
#include "model/layer_table.h"

namespace mnistlab::cli {
namespace {

struct SummaryArgs {
  std::string model;
  std::string input;
  bool json = false;
};

SampleShape parse_input_option(const std::string& text) {
  int v[3];
  const char* at = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(at, end, v[i]);
    const bool separator_ok = i < 2 ? (next < end && *next == ',') : next == end;
    if (ec != std::errc() || v[i] < 1 || !separator_ok)
      throw Error("--input: expected C,H,W (three positive integers, e.g. 1,28,28), got '" + text + "'");
    at = next + 1;
  }
  return image_shape(v[0], v[1], v[2]);
}

nlohmann::json shape_json(const SampleShape& s) {
  return s.rank == 2 ? nlohmann::json{-1, s.c} : nlohmann::json{-1, s.c, s.h, s.w};
}

std::string summary_json(const Summary& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SummaryRow& r : s.rows)
    rows.push_back({{"name", r.name},
                    {"type", r.type},
                    {"output_shape", shape_json(r.output)},
                    {"params", r.params},
                    {"trainable", r.trainable}});
  nlohmann::json j = {{"input_shape", shape_json(s.input)},
                      {"layers", rows},
                      {"total_params", s.total_params},
                      {"trainable_params", s.trainable_params},
                      {"non_trainable_params", s.total_params - s.trainable_params},
                      {"input_size_mb", s.input_mb},
                      {"forward_backward_pass_size_mb", s.forward_backward_mb},
                      {"params_size_mb", s.params_mb},
                      {"estimated_total_size_mb", s.total_mb}};
  return j.dump(2) + "\n";
}

void run_summary(const SummaryArgs& a) {
  const ModelSource source = resolve_model(a.model);
  std::optional<SampleShape> input;
  if (!a.input.empty()) input = parse_input_option(a.input);
  const Summary s = summarize(parse_model(source.text, source.origin, input));
  std::cout << (a.json ? summary_json(s) : format_summary(s)) << std::flush;
}

}  // namespace

void add_summary_command(CLI::App& app) {
  auto args = std::make_shared<SummaryArgs>();
  CLI::App* cmd = app.add_subcommand(
      "summary", "A network's layers, output shapes, parameters and sizes, as torchsummary prints them");
  cmd->add_option("model", args->model, "Preset name (mnistlab --help lists them) or model file")
      ->type_name("NAME|FILE")
      ->required();
  cmd->add_option("--input", args->input, "Input shape C,H,W instead of the model file's 'input' line");
  cmd->add_flag("--json", args->json, "Print the same numbers as JSON");
  // The layers' syntax; what each computes and each key means is the
  // README's block (layer_reference()), too long for a screen.
  std::string layers;
  for (const LayerSpec& spec : layer_table()) layers += "  " + spec.usage() + "\n";
  cmd->footer("A model file is the line 'input C H W', then one layer a line ('#' starts a comment):\n" + layers +
              "A line ending 'as NAME' names its output (on the input line, the image) for a later\n"
              "concat or add. What each layer computes and its keys mean: README.md, Model files.");
  cmd->callback([args]() { run_summary(*args); });
}

}  // namespace mnistlab::cli
