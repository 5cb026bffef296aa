// `mnistlab train --resume DIR` (src/cli/train_command.cpp) on a run folder
// whose run.json and resume.safetensors come from the input: the settings
// are read back, the model built and the checkpoint loaded
// (src/train/checkpoint.cpp) exactly as the command does, then training
// continues from the loaded progress on a tiny synthetic dataset for at
// most two more epochs (so the progress, history and batch position it
// trusts are used, and a valid run still ends in milliseconds).
//
// The input is run.json, the line "#resume.safetensors", then the bytes of
// resume.safetensors (fuzz/make_corpus.py writes such inputs). model.txt is
// fixed: the model-file parser has its own harness.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <string_view>

#include "cli/commands.h"
#include "cli/run_folder.h"
#include "cli/text_files.h"
#include "cli/threads.h"
#include "cli/train_args.h"
#include "fuzz_common.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/model_file.h"
#include "mnistlab/trainer.h"

namespace {

using namespace mnistlab;

constexpr std::string_view kSeparator = "\n#resume.safetensors\n";
// The same network as fuzz/make_corpus.py's checkpoints: keys 0.*, 1.* (BatchNorm), 4.* (linear 8 -> 10).
const char* const kModel = "input 1 4 4\nconv 2 k=3 s=2 p=1\nbatchnorm\nrelu\nflatten\nlinear 10\n";

// As train_options() in src/cli/train_command.cpp, with a stop flag of our own.
TrainOptions train_options(const cli::TrainArgs& a, const std::atomic<bool>* stop) {
  TrainOptions o;
  o.epochs = a.epochs;
  o.batch_size = a.batch_size;
  o.seed = a.seed;
  o.optimizer = cli::optimizer_options(a);
  o.schedule.name = a.lr_schedule;
  o.schedule.step_size = a.step_size;
  o.schedule.gamma = a.gamma;
  o.schedule.warmup_epochs = a.warmup_epochs;
  o.early_stop_patience = a.early_stop_patience;
  o.early_stop_on_loss = a.early_stop_metric == "test_loss";
  o.stop = stop;
  check_schedule(o.schedule);
  return o;
}

// 4x4 images, class k = a bright pixel at place k.
Dataset tiny_dataset(int count) {
  Dataset d;
  d.rows = d.cols = 4;
  d.pixels.assign(size_t(count) * 16, 10);
  for (int i = 0; i < count; ++i) {
    d.labels.push_back(uint8_t(i % 10));
    d.pixels[size_t(i) * 16 + i % 10] = 250;
  }
  return d;
}

}  // namespace

// Defined by src/cli/main.cpp, which has main() and cannot be linked here:
// train_args.cpp's help names the presets, run_folder.cpp's lock file holds
// the command line.
std::string mnistlab::cli::preset_list() { return "baseline, ..."; }
const std::string& mnistlab::cli::command_line() {
  static const std::string line = "fuzz_run_folder";
  return line;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t cut = input.find(kSeparator);
  const std::string_view run_json = input.substr(0, cut);
  const std::string_view resume =
      cut == std::string_view::npos ? std::string_view() : input.substr(cut + kSeparator.size());

  static const fs::path dir = [] {
    fs::create_directories(fuzz::temp_dir() / "run");
    return fuzz::temp_dir() / "run";
  }();
  fuzz::write_file("run/run.json", reinterpret_cast<const uint8_t*>(run_json.data()), run_json.size());
  fuzz::write_file("run/resume.safetensors", reinterpret_cast<const uint8_t*>(resume.data()), resume.size());
  fuzz::write_file("run/model.txt", reinterpret_cast<const uint8_t*>(kModel), std::strlen(kModel));

  fuzz::accepts("resume", [&] {
    // run_train() with --resume, in its order; the data comes from tiny_dataset
    // instead of load_split (the IDX reader has its own harness).
    const cli::RunFolder claimed = cli::claim_run_folder_to_resume(dir);
    const cli::TrainArgs a = cli::train_args_from_json(cli::read_text(dir / "run.json"), (dir / "run.json").string());
    Model model = parse_model(cli::read_text(dir / "model.txt"), (dir / "model.txt").string());
    model.build(a.seed);
    cli::use_threads(model, a.threads);
    static const std::atomic<bool> never_stop{false};
    TrainOptions options = train_options(a, &never_stop);
    auto optimizer = make_optimizer(options.optimizer, model.parameter_count());

    Dataset train = tiny_dataset(40), test = tiny_dataset(10);
    if (a.train_limit > 0) train = train.head(a.train_limit);
    if (a.test_limit > 0) test = test.head(a.test_limit);
    Dataset val;
    if (a.val_split > 0) std::tie(train, val) = split_validation(train, a.val_split, a.seed);
    const Dataset& eval_set = a.val_split > 0 ? val : test;
    check_classifier_fits(model, train);

    TrainProgress progress = load_checkpoint(dir / "resume.safetensors", model, *optimizer);
    check_progress(dir / "resume.safetensors", progress, optimizer->steps(), a.epochs, train.size(), a.batch_size);
    options.epochs = int(std::min<int64_t>(options.epochs, int64_t(progress.epoch) + 2));
    fit(model, *optimizer, train, eval_set, options, progress, {});
    evaluate(model, test, a.batch_size);
  });
  return 0;
}
