#pragma once
// What `--resume` reads: one safetensors file holding the model's
// state_dict (PyTorch keys), the optimizer's buffers under
// "optimizer.<key>.<buffer>" (exp_avg, exp_avg_sq, momentum_buffer), and in
// its metadata the optimizer's step count and the TrainProgress as JSON.
// One file, written atomically, so weights and optimizer never disagree.
#include <filesystem>
#include <map>
#include <string>

#include "mnistlab/model.h"
#include "mnistlab/optim.h"
#include "mnistlab/trainer.h"

namespace mnistlab {

// `extra` adds metadata entries (the run folder's event file and its size).
void save_checkpoint(const std::filesystem::path& path, Model& model, Optimizer& optimizer,
                     const TrainProgress& progress, const std::map<std::string, std::string>& extra = {});
// Loads into model and optimizer (which must be built for the same network
// and optimizer) and returns the progress; errors name the file and key.
// Every value of the progress is checked (types, ranges, one history row per
// epoch) before anything is loaded, and the data against the CRC-32C in the
// metadata (kDataCrc32cKey), which must be there.
TrainProgress load_checkpoint(const std::filesystem::path& path, Model& model, Optimizer& optimizer);
// Whether the progress read from `path` belongs to a run of the task with
// `epochs` epochs over train_size images in batches of batch_size, and the
// optimizer's step count to that progress; an Error naming the file, key and
// value otherwise.
void check_progress(const std::filesystem::path& path, const TrainProgress& progress, int64_t optimizer_steps,
                    int epochs, size_t train_size, int batch_size, const Task& task);

}  // namespace mnistlab
