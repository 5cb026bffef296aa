// mnistlab pairs, mnistlab denoise train, mnistlab denoise apply: the
// course's "Noisy Fashion-MNIST" and its denoising autoencoders.
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/dataset_option.h"
#include "cli/image_input.h"
#include "cli/train_args.h"
#include "cli/validators.h"
#include "kernels/backend.h"
#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/image_grid.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"
#include "train/threads.h"

namespace mnistlab::cli {
namespace {

// --- pairs ---------------------------------------------------------------

struct PairsArgs {
  std::string dataset = "fashion", data_dir, out = "pairs.png";
  RunConfig noise = default_run_config(TaskKind::Denoising);  // its noise options
  int count = 40, per_row = 5;
  uint64_t seed = 0;
};

void run_pairs(const PairsArgs& a) {
  DenoiseOptions o;
  o.noise = checked_noise(a.noise.noise);
  o.seed = a.seed;
  const Dataset test = load_split(dataset_dir(a.dataset, a.data_dir), false);
  const size_t count = std::min(size_t(a.count), test.size()), pixels = test.image_size();
  std::vector<float> noisy(count * pixels), clean(count * pixels);
  const std::unique_ptr<Backend> backend = make_backend({});  // no model here: every CPU
  for (size_t i = 0; i < count; ++i) {
    noisy_test_image(*backend, test, i, o.noise, o.seed, noisy.data() + i * pixels);
    for (size_t p = 0; p < pixels; ++p) clean[i * pixels + p] = float(test.pixels[i * pixels + p]) / 255.0f;
  }
  std::vector<std::vector<const float*>> rows;
  for (size_t i = 0; i < count; ++i) {
    if (i % size_t(a.per_row) == 0) rows.emplace_back();
    rows.back().push_back(noisy.data() + i * pixels);
    rows.back().push_back(clean.data() + i * pixels);
  }
  write_png_gray(a.out, image_grid(rows, test.rows, test.cols));
  std::printf("wrote %s: %zu pairs of the test set, noisy | clean, %d pairs per row\n", a.out.c_str(), count,
              a.per_row);
}

// --- denoise apply -------------------------------------------------------

struct ApplyArgs {
  std::string model = "dae", weights, in, out;
  int threads = 0;
  RunConfig settings = default_run_config(TaskKind::Denoising);  // its precision
};

void run_denoise_apply(const ApplyArgs& a) {
  const ModelSource source = resolve_model(a.model);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  use_threads(model, a.threads, a.settings.precision);
  if (!(model.input_shape() == model.output_shape()))
    throw Error("a denoiser must give back the shape it takes: " + source.origin + " takes " +
                model.input_shape().str() + " and gives " + model.output_shape().str());
  load_state_dict(model, a.weights);
  model.eval();
  const std::vector<float> x = png_as_input(a.in, model.input_shape());
  model.forward(x.data(), 1);
  std::vector<float> y(x.size());
  model.read_output(y.data());
  GrayImage out{model.input_shape().w, model.input_shape().h, std::vector<uint8_t>(x.size())};
  for (size_t i = 0; i < x.size(); ++i)
    out.pixels[i] = uint8_t(std::lround(std::clamp(y[i], 0.f, 1.f) * 255.f));
  write_png_gray(a.out, out);
  std::printf("wrote %s\n", a.out.c_str());
}

}  // namespace

void add_pairs_command(CLI::App& app) {
  auto a = std::make_shared<PairsArgs>();
  CLI::App* cmd = app.add_subcommand("pairs", "Draw Noisy Fashion-MNIST pairs (noisy | clean) from the test set");
  add_dataset_option(cmd, a->dataset);
  cmd->add_option("--data-dir", a->data_dir, "mnist's or fashion's folder (data/mnist, data/fashion-mnist)")
      ->type_name("DIR");
  for (const char* key : {"noise", "noise_amount", "noise_clip"}) add_run_option(cmd, a->noise, key);
  cmd->add_option("--count", a->count, "Pairs to draw")->check(integer_in(1, 1000))->capture_default_str();
  cmd->add_option("--per-row", a->per_row, "Pairs per row")->check(integer_in(1, 50))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the test set's noise")->check(run_option_check("seed"));
  cmd->add_option("--out", a->out, "PNG file to write")->type_name("FILE")->capture_default_str();
  cmd->callback([a]() { run_pairs(*a); });
}

void add_denoise_command(CLI::App& app) {
  CLI::App* denoise = app.add_subcommand("denoise", "Denoising autoencoders on noisy images");
  denoise->require_subcommand(1);

  auto args = std::make_shared<TrainArgs>();
  args->config = default_run_config(TaskKind::Denoising);
  CLI::App* train = denoise->add_subcommand(
      "train", "Train on (noisy, clean) pairs: fresh noise each epoch, a fixed noisy test set");
  // Each line at most 100 columns; the run folder and every option in depth: README.md, docs/guide.md.
  train->footer("The run options are train's. The run folder gets metrics.csv (loss, PSNR, SSIM), samples.png\n"
                "(noisy | output | clean), curves.png, report.txt, weights and a TensorBoard log; Ctrl-C or\n"
                "SIGTERM saves; --resume DIR continues. In depth: docs/guide.md (denoising, training options).");
  add_run_options(train, *args);
  train->callback([args]() { run_training(*args); });

  auto apply = std::make_shared<ApplyArgs>();
  CLI::App* cmd = denoise->add_subcommand("apply", "Denoise one grayscale PNG with saved weights");
  cmd->add_option("--model", apply->model, "Preset name or model file")->type_name("NAME|FILE")->capture_default_str();
  cmd->add_option("--weights", apply->weights, "safetensors file (best.safetensors, ...)")
      ->type_name("FILE")
      ->required();
  cmd->add_option("in", apply->in, "Noisy grayscale PNG, 1 to 16 bits")->type_name("PNG")->required();
  cmd->add_option("out", apply->out, "8-bit PNG to write")->type_name("PNG")->required();
  cmd->add_option("--threads", apply->threads, "CPU threads (default: all cores)")->check(run_option_check("threads"));
  add_run_option(cmd, apply->settings, "precision");
  cmd->callback([apply]() { run_denoise_apply(*apply); });
}

}  // namespace mnistlab::cli
