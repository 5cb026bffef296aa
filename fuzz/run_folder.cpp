// `mnistlab train --resume DIR` (src/train/run.cpp) on a run folder
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

#include "fuzz_common.h"
#include "io/text_file.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/limits.h"
#include "mnistlab/model_file.h"
#include "mnistlab/run.h"
#include "mnistlab/trainer.h"
#include "train/run_lock.h"
#include "train/threads.h"

namespace {

using namespace mnistlab;

constexpr std::string_view kSeparator = "\n#resume.safetensors\n";
// The same network as fuzz/make_corpus.py's checkpoints: keys 0.*, 1.* (BatchNorm), 4.* (linear 8 -> 10).
const char* const kModel = "input 1 4 4\nconv 2 k=3 s=2 p=1\nbatchnorm\nrelu\nflatten\nlinear 10\n";

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
    // Run::train's order for a resumed run (src/train/run.cpp); the data
    // comes from tiny_dataset instead of load_split (the IDX reader has its
    // own harness), and at most two more epochs are trained.
    const RunFolder claimed = claim_run_folder_to_resume(dir, "fuzz_run_folder");
    RunConfig c = run_config_from_json(read_text(dir / "run.json", "run.json", limits::kRunTextBytes),
                                       (dir / "run.json").string());
    Model model = parse_model(read_text(dir / "model.txt", "model.txt", limits::kRunTextBytes), (dir / "model.txt").string());
    model.build(c.train.seed);
    use_threads(model, c.threads);
    static const std::atomic<bool> never_stop{false};
    TrainOptions options = train_options(c, &never_stop);
    auto task = make_task(c);
    early_stop_index(*task, c.train.early_stop_metric);
    auto optimizer = make_optimizer(options.optimizer, model.parameter_count());

    Dataset train = tiny_dataset(40), test = tiny_dataset(10);
    if (c.train_limit > 0) train = train.head(c.train_limit);
    if (c.test_limit > 0) test = test.head(c.test_limit);
    Dataset val;
    if (c.val_split > 0) std::tie(train, val) = split_validation(train, c.val_split, c.train.seed);
    const Dataset& eval_set = c.val_split > 0 ? val : test;
    task->check(model, train);

    TrainProgress progress = load_checkpoint(dir / "resume.safetensors", model, *optimizer);
    check_progress(dir / "resume.safetensors", progress, optimizer->steps(), c.train.epochs, train.size(),
                   c.train.batch_size, *task);
    options.epochs = int(std::min<int64_t>(options.epochs, int64_t(progress.epoch) + 2));
    fit(model, *optimizer, *task, train, eval_set, options, progress, {});
    task->evaluate(model, test, c.train.batch_size);
  });
  return 0;
}
