// mnistlab eval and mnistlab predict: use saved weights.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>

#include "cli/commands.h"
#include "cli/dataset_option.h"
#include "cli/image_input.h"
#include "cli/train_args.h"
#include "cli/validators.h"
#include "io/temporary_file.h"
#include "train/threads.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/report.h"
#include "mnistlab/safetensors.h"
#include "mnistlab/trainer.h"

namespace mnistlab::cli {
namespace {

struct UseArgs {
  std::string model = "baseline";
  std::string weights;
  std::string dataset = "mnist";
  std::string data_dir, class_names;
  size_t test_limit = 0;
  int batch_size = 1000;
  int threads = 0;
  int top = 3;
  RunConfig settings = default_run_config(TaskKind::Classification);  // its test-time augmentation
  std::string predictions;
  std::vector<std::string> images;
};

// The model and its origin ("baseline (preset)", or the file given).
std::pair<Model, std::string> load_trained(const UseArgs& a) {
  const ModelSource source = resolve_model(a.model);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  use_threads(model, a.threads, a.settings.precision);
  load_state_dict(model, a.weights);
  model.eval();
  return {std::move(model), source.origin};
}

void run_eval(const UseArgs& a) {
  if (a.settings.classification.tta.flip) check_flips_allowed(a.dataset, kTtaOption);
  auto [model, origin] = load_trained(a);
  Dataset test = load_split(dataset_dir(a.dataset, a.data_dir), false);
  try {
    check_classifier_fits(model, test);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
  if (a.test_limit > 0) test = test.head(a.test_limit);
  // Opened before the evaluation: a folder that cannot take the file fails
  // at once, with the reason, not after the results are printed.
  std::optional<TemporaryFile> csv;
  if (!a.predictions.empty()) csv.emplace(a.predictions);
  std::vector<int> predicted;
  const EvalResult r = evaluate(model, test, a.batch_size, nullptr, a.predictions.empty() ? nullptr : &predicted,
                                a.settings.classification.tta);
  std::printf("test_loss %.6f test_acc %.6f\n", r.loss, r.acc);
  if (a.predictions.empty()) return;
  std::string text = "index,label,predicted\n";
  for (size_t i = 0; i < predicted.size(); ++i)
    text += std::to_string(i) + ',' + std::to_string(int(test.labels[i])) + ',' + std::to_string(predicted[i]) + '\n';
  csv->write(text);
  csv->commit();
}

void run_predict(const UseArgs& a) {
  auto [model, origin] = load_trained(a);
  const size_t k = model.output_shape().numel();
  const std::vector<std::string> names = class_names(a.dataset, dataset_dir(a.dataset, a.data_dir), a.class_names,
                                                     int(k), "the outputs of " + origin);
  for (const std::string& path : a.images) {
    const std::vector<float> x = png_as_input(path, model.input_shape());
    model.forward(x.data(), 1);
    std::vector<float> logits(k);
    model.read_output(logits.data());
    // softmax with the max subtracted, as log-softmax in the loss
    const float top_logit = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(k);
    double sum = 0;
    for (size_t c = 0; c < k; ++c) sum += p[c] = std::exp(double(logits[c] - top_logit));
    std::vector<size_t> order(k);
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t l, size_t r) { return p[l] > p[r]; });
    std::printf("%s:", path.c_str());
    for (int i = 0; i < std::min<int>(a.top, int(k)); ++i) {
      const size_t c = order[size_t(i)];
      std::printf("%s %s %.2f%%", i ? "," : "", c < names.size() ? names[c].c_str() : std::to_string(c).c_str(),
                  100 * p[c] / sum);
    }
    std::printf("\n");
  }
}

void add_model_options(CLI::App* cmd, UseArgs& a) {
  cmd->add_option("--model", a.model, "Preset name (mnistlab --help lists them) or model file")
      ->type_name("NAME|FILE")
      ->capture_default_str();
  cmd->add_option("--weights", a.weights, "safetensors file (best.safetensors, ...)")->type_name("FILE")->required();
  add_dataset_option(cmd, a.dataset);
  cmd->add_option("--data-dir", a.data_dir, "mnist's or fashion's folder (data/mnist, data/fashion-mnist)")
      ->type_name("DIR");
  cmd->add_option("--threads", a.threads, "CPU threads (default: all cores)")->check(run_option_check("threads"));
  add_run_option(cmd, a.settings, "precision");
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<UseArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Test loss and accuracy of saved weights; prints `test_loss X test_acc Y`");
  add_model_options(cmd, *args);
  cmd->add_option("--test-limit", args->test_limit, "Use only the first N test images (0: all)")
      ->check(run_option_check("test_limit"));
  cmd->add_option("--predictions", args->predictions, "Also write each test image's predicted class here")
      ->type_name("CSV");
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass (fewer past 256 MiB)")
      ->check(run_option_check("batch_size"))
      ->capture_default_str();
  for (const char* key : {"tta", "tta_crops"}) add_run_option(cmd, args->settings, key);
  cmd->callback([args]() { run_eval(*args); });
}

void add_predict_command(CLI::App& app) {
  auto args = std::make_shared<UseArgs>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Classify grayscale PNGs of the model's input size (never resized)");
  cmd->footer("Images are light on dark, as in MNIST; PNGs of 1 to 16 bits, samples as stored\n"
              "(v / 255, or v / 65535 at 16 bits). Prints `FILE: CLASS PROBABILITY, ...`.");
  add_model_options(cmd, *args);
  add_class_names_option(cmd, args->class_names);
  cmd->add_option("--top", args->top, "How many classes to print per image")
      ->check(integer_in(1, 10))
      ->capture_default_str();
  cmd->add_option("images", args->images, "Grayscale PNG files")->type_name("PNG")->required();
  cmd->callback([args]() { run_predict(*args); });
}

}  // namespace mnistlab::cli
