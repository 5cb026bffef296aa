#pragma once
// The run options `mnistlab train` and `mnistlab denoise train` share, with
// the same names, written into a RunConfig (include/mnistlab/run.h); the
// denoising options besides; and the one function both commands run.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "mnistlab/run.h"

namespace mnistlab::cli {

// The noise options as typed: the amount's default depends on the kind.
struct NoiseArgs {
  NoiseKind kind = NoiseKind::Uniform;
  float amount = -1;  // < 0: the kind's default
  bool clip = false;
  NoiseOptions options() const;  // checked (checked_noise)
};

struct TrainArgs {
  RunConfig config;
  NoiseArgs noise;                // denoising
  bool overwrite = false;         // replace the run in the folder (not kept in run.json)
  std::string resume;             // run folder to continue
  std::string augment;            // --augment's spec (parse_augment)
  int64_t raise_sigterm_at = 0;   // tests: signal ourselves after this optimizer step
};

// Every run option: model, data, epochs, batch, optimizer, schedule, early
// stopping, validation split, seed, threads, out, limits, resume.
void add_run_options(CLI::App* cmd, TrainArgs& args);
// --noise, --noise-amount, --clip (pairs uses them too); --loss besides for training.
void add_noise_options(CLI::App* cmd, NoiseArgs& noise);
void add_denoise_options(CLI::App* cmd, TrainArgs& args);
// --tta and --tta-crops, for a classifier's evaluation (train and eval).
void add_tta_options(CLI::App* cmd, TestTimeAugmentation& tta);

// Trains (or resumes) and prints as it goes; the exit status of an
// interrupted run is 128 + the signal (ExitRequest).
void run_training(const TrainArgs& args);

}  // namespace mnistlab::cli
