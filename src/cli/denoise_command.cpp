// mnistlab pairs, mnistlab denoise train, mnistlab denoise apply: the
// course's "Noisy Fashion-MNIST" and its denoising autoencoders.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/image_input.h"
#include "cli/progress_bar.h"
#include "cli/run_folder.h"
#include "cli/stop_signal.h"
#include "cli/text_files.h"
#include "cli/train_args.h"
#include "cli/validators.h"
#include "cli/threads.h"
#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/image_grid.h"
#include "mnistlab/model_file.h"
#include "mnistlab/report.h"
#include "mnistlab/safetensors.h"

namespace mnistlab::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kSampleRows = 8;  // samples.png: fixed test images 0..7

struct NoiseArgs {
  std::string kind = "uniform";
  float amount = -1;  // < 0: the kind's default
  bool clip = false;
  NoiseOptions options() const {
    NoiseOptions o{kind, std::nullopt, clip};
    if (amount >= 0) o.amount = amount;
    return checked_noise(o);
  }
};

void add_noise_options(CLI::App* cmd, NoiseArgs& n) {
  cmd->add_option("--noise", n.kind, "uniform (adds U[0, a)), gaussian (sigma) or salt-pepper (share p of pixels)")
      ->check(CLI::IsMember({"uniform", "gaussian", "salt-pepper"}))
      ->capture_default_str();
  cmd->add_option("--noise-amount", n.amount, "a, sigma or p (defaults: uniform 1, gaussian 0.1, salt-pepper 0.1)")
      ->check(number_in(0, 1e9, true, "above 0"));  // the kind's own range is checked with it (checked_noise)
  cmd->add_flag("--clip", n.clip, "Clamp noisy images to [0, 1] (the course did not)");
}

std::string data_dir_of(const TrainArgs& a) { return a.data_dir.empty() ? default_data_dir(a.dataset) : a.data_dir; }

// --- pairs ---------------------------------------------------------------

struct PairsArgs {
  std::string dataset = "fashion", data_dir, out = "pairs.png";
  NoiseArgs noise;
  int count = 40, per_row = 5;
  uint64_t seed = 0;
};

void run_pairs(const PairsArgs& a) {
  DenoiseOptions o;
  o.noise = a.noise.options();
  o.seed = a.seed;
  const Dataset test = load_split(a.data_dir.empty() ? default_data_dir(a.dataset) : a.data_dir, false);
  const size_t count = std::min(size_t(a.count), test.size()), pixels = test.image_size();
  std::vector<float> noisy(count * pixels), clean(count * pixels);
  for (size_t i = 0; i < count; ++i) {
    noisy_test_image(test, i, o.noise, o.seed, noisy.data() + i * pixels);
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

// --- denoise train -------------------------------------------------------

std::string metrics_csv(const std::vector<DenoiseMetrics>& history) {
  std::string csv = "epoch,train_loss,test_loss,test_psnr,test_ssim,seconds\n";
  char row[256];
  for (const DenoiseMetrics& m : history) {
    std::snprintf(row, sizeof row, "%d,%.6f,%.6f,%.4f,%.6f,%.3f\n", m.epoch, m.train_loss, m.test_loss, m.test_psnr,
                  m.test_ssim, m.seconds);
    csv += row;
  }
  return csv;
}

// Rows "noisy | output | clean" for the first test images.
void write_samples(Model& model, const Dataset& test, const DenoiseOptions& o, const fs::path& path) {
  const size_t count = std::min<size_t>(kSampleRows, test.size()), pixels = test.image_size();
  std::vector<float> noisy(count * pixels), clean(count * pixels), output(count * pixels);
  for (size_t i = 0; i < count; ++i) {
    noisy_test_image(test, i, o.noise, o.seed, noisy.data() + i * pixels);
    for (size_t p = 0; p < pixels; ++p) clean[i * pixels + p] = float(test.pixels[i * pixels + p]) / 255.0f;
  }
  model.eval();
  const Tensor& y = model.forward(noisy.data(), int(count));
  std::copy(y.data, y.data + y.numel(), output.data());
  model.train();
  std::vector<std::vector<const float*>> rows;
  for (size_t i = 0; i < count; ++i)
    rows.push_back({noisy.data() + i * pixels, output.data() + i * pixels, clean.data() + i * pixels});
  GridLayout layout;
  layout.group_size = 3;
  write_png_gray(path, image_grid(rows, test.rows, test.cols, layout));
}

void run_denoise_train(const TrainArgs& a, const NoiseArgs& noise, const std::string& loss) {
  DenoiseOptions o;
  o.epochs = a.epochs;
  o.batch_size = a.batch_size;
  o.seed = a.seed;
  o.optimizer = optimizer_options(a);
  o.noise = noise.options();
  o.loss = loss;
  o.stop = &stop_requested();

  const ModelSource source = resolve_model(a.model);
  // Held until the command ends: no other training writes here meanwhile.
  const RunFolder claimed = claim_new_run_folder(
      a.out, "runs/" + fs::path(a.model).stem().string() + "-" + a.dataset + "-" + noise.kind, a.overwrite);
  const fs::path& out = claimed.dir;
  Model model = parse_model(source.text, source.origin);
  model.build(a.seed);
  use_threads(model, a.threads);
  auto optimizer = make_optimizer(o.optimizer, model.parameter_count());
  const std::string data_dir = data_dir_of(a);
  Dataset train = load_split(data_dir, true), test = load_split(data_dir, false);
  if (a.train_limit > 0) train = train.head(a.train_limit);
  if (a.test_limit > 0) test = test.head(a.test_limit);
  check_denoiser(model, train);
  model.reserve(std::max(a.batch_size, kSampleRows));

  write_text(out / "model.txt", source.text);
  write_text(out / "command.txt", command_line() + "\n");
  write_text(out / "metrics.csv", metrics_csv({}));

  const DenoiseEval baseline = evaluate_denoiser(nullptr, test, o, a.batch_size);
  std::printf("model %s (%zu parameters), %s: %zu train / %zu test images, %s noise %g%s, %s loss, %s lr %g, "
              "batch %d\n",
              source.origin.c_str(), model.parameter_count(), data_dir.c_str(), train.size(), test.size(),
              o.noise.kind.c_str(), noise_amount(o.noise), o.noise.clip ? " clipped" : "", loss.c_str(),
              a.optimizer.c_str(), a.lr, a.batch_size);
  std::printf("noisy test input itself: %s %.4f  PSNR %.2f dB  SSIM %.4f\n", loss.c_str(), baseline.loss,
              baseline.psnr, baseline.ssim);
  std::fflush(stdout);

  install_stop_handlers();
  ProgressBar bar(a.epochs);
  double best_psnr = -1;
  int best_epoch = 0;
  std::vector<DenoiseMetrics> history;
  bool warned = false;
  const std::string title = fs::path(a.model).stem().string() + " on noisy " + a.dataset + " (" + o.noise.kind + ")";
  fit_denoiser(
      model, *optimizer, train, test, o,
      [&](const DenoiseMetrics& m) {
        bar.clear();
        history.push_back(m);
        const bool improved = m.test_psnr > best_psnr;
        if (improved) best_psnr = m.test_psnr, best_epoch = m.epoch;
        std::printf("epoch %3d  train_loss %.4f  test_loss %.4f  test_psnr %.2f dB  test_ssim %.4f  %.1fs%s\n",
                    m.epoch, m.train_loss, m.test_loss, m.test_psnr, m.test_ssim, m.seconds, improved ? "  *best" : "");
        std::fflush(stdout);
        write_text(out / "metrics.csv", metrics_csv(history));
        save_state_dict(model, out / "last.safetensors");
        if (improved) save_state_dict(model, out / "best.safetensors", {{"mnistlab.epoch", std::to_string(m.epoch)}});
        write_samples(model, test, o, out / "samples.png");
        CurvesSpec spec;
        spec.title = title;
        spec.columns = {"epoch", "train_loss", "test_loss", "test_psnr", "test_ssim"};
        for (const auto& h : history) spec.rows.push_back({double(h.epoch), h.train_loss, h.test_loss, h.test_psnr, h.test_ssim});
        spec.panels = {{loss + " loss", {{"train", 1}, {"test", 2}}},
                       {"test PSNR (dB)", {{"PSNR", 3}}},
                       {"test SSIM", {{"SSIM", 4}}}};
        spec.best_epoch = best_epoch;
        const std::string problem = draw_curves(out, spec);
        if (!problem.empty() && !warned) {
          std::fprintf(stderr, "warning: curves.png not drawn: %s\n", problem.c_str());
          warned = true;
        }
      },
      [&](int epoch, size_t done, size_t total, double seconds) { bar.update(epoch, done, total, seconds); });
  bar.clear();
  std::ostringstream report;
  report << "noisy test input: " << loss << " " << baseline.loss << "  PSNR " << baseline.psnr << " dB  SSIM "
         << baseline.ssim << "\n";
  if (!history.empty()) {
    const DenoiseMetrics& last = history.back();
    report << "after epoch " << last.epoch << ": " << loss << " " << last.test_loss << "  PSNR " << last.test_psnr
           << " dB  SSIM " << last.test_ssim << "\n";
  }
  report << "best PSNR at epoch " << best_epoch << " (best.safetensors)\n";
  write_text(out / "report.txt", report.str());
  if (stop_requested().load()) {
    std::printf("interrupted: weights of the last finished epoch in %s\n", (out / "last.safetensors").c_str());
    throw ExitRequest{128 + stop_signal()};
  }
  std::printf("done: run folder %s: metrics.csv, curves.png, samples.png, report.txt, best/last.safetensors\n",
              out.c_str());
}

// --- denoise apply -------------------------------------------------------

struct ApplyArgs {
  std::string model = "dae", weights, in, out;
  int threads = 0;
};

void run_denoise_apply(const ApplyArgs& a) {
  const ModelSource source = resolve_model(a.model);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  use_threads(model, a.threads);
  if (!(model.input_shape() == model.output_shape()))
    throw Error("a denoiser must give back the shape it takes: " + source.origin + " takes " +
                model.input_shape().str() + " and gives " + model.output_shape().str());
  load_state_dict(model, a.weights);
  model.eval();
  const std::vector<float> x = png_as_input(a.in, model.input_shape());
  const Tensor& y = model.forward(x.data(), 1);
  GrayImage out{model.input_shape().w, model.input_shape().h, std::vector<uint8_t>(x.size())};
  for (size_t i = 0; i < x.size(); ++i)
    out.pixels[i] = uint8_t(std::lround(std::clamp(y.data[i], 0.f, 1.f) * 255.f));
  write_png_gray(a.out, out);
  std::printf("wrote %s\n", a.out.c_str());
}

}  // namespace

void add_pairs_command(CLI::App& app) {
  auto a = std::make_shared<PairsArgs>();
  CLI::App* cmd = app.add_subcommand("pairs", "Draw Noisy Fashion-MNIST pairs (noisy | clean) from the test set");
  cmd->add_option("--dataset", a->dataset, "mnist or fashion")
      ->check(CLI::IsMember({"mnist", "fashion"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "Folder with the dataset's IDX files");
  add_noise_options(cmd, a->noise);
  cmd->add_option("--count", a->count, "Pairs to draw")->check(integer_in(1, 1000))->capture_default_str();
  cmd->add_option("--per-row", a->per_row, "Pairs per row")->check(integer_in(1, 50))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the test set's noise")->check(integer_in(0, 2147483647));
  cmd->add_option("--out", a->out, "PNG file to write")->capture_default_str();
  cmd->callback([a]() { run_pairs(*a); });
}

void add_denoise_command(CLI::App& app) {
  CLI::App* denoise = app.add_subcommand("denoise", "Denoising autoencoders on noisy images");
  denoise->require_subcommand(1);

  auto args = std::make_shared<TrainArgs>();
  args->model = "dae";
  args->dataset = "fashion";
  args->epochs = 20;
  args->batch_size = 300;
  auto noise = std::make_shared<NoiseArgs>();
  auto loss = std::make_shared<std::string>("l1");
  CLI::App* train = denoise->add_subcommand(
      "train", "Train on (noisy, clean) pairs: fresh noise each epoch, a fixed noisy test set");
  train->footer("\nThe run folder gets metrics.csv (epoch,train_loss,test_loss,test_psnr,test_ssim,seconds), "
                "samples.png (noisy | output | clean), curves.png, report.txt, best.safetensors, last.safetensors.\n\n"
                "As with `mnistlab train`, a folder that holds a run is never replaced silently (without --out: "
                "the first free runs/MODEL-DATASET-NOISE, ...-2, ...; --out DIR that holds a run is refused unless "
                "--overwrite), and a folder in use by a running training is refused.");
  add_common_training_options(train, *args);
  add_noise_options(train, *noise);
  train->add_option("--loss", *loss, "l1 or mse")->check(CLI::IsMember({"l1", "mse"}))->capture_default_str();
  train->callback([args, noise, loss]() { run_denoise_train(*args, *noise, *loss); });

  auto apply = std::make_shared<ApplyArgs>();
  CLI::App* cmd = denoise->add_subcommand("apply", "Denoise one grayscale PNG with saved weights");
  cmd->add_option("--model", apply->model, "Preset name or model file")->capture_default_str();
  cmd->add_option("--weights", apply->weights, "safetensors file (best.safetensors, ...)")->required();
  cmd->add_option("in", apply->in, "noisy grayscale PNG")->required();
  cmd->add_option("out", apply->out, "PNG to write")->required();
  cmd->add_option("--threads", apply->threads, "CPU threads (default: all cores)")->check(integer_in(1, 1024));
  cmd->callback([apply]() { run_denoise_apply(*apply); });
}

}  // namespace mnistlab::cli
