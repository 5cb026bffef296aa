#pragma once
// Memory is counted before it is taken: a training batch that cannot fit is
// refused before its run folder holds anything, and an evaluation runs in
// chunks whose arena stays within a fixed budget, whatever --batch-size says.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "mnistlab/model.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"

namespace mnistlab {

struct MemoryBudget {
  uint64_t bytes = std::numeric_limits<uint64_t>::max();  // the maximum: nothing could be read
  std::string source;                                     // what sets it, for messages
};
// What this process may still take: the smallest of MemAvailable
// (/proc/meminfo), the cgroup's limit less its usage (v2 memory.max -
// memory.current, v1 memory.limit_in_bytes - memory.usage_in_bytes, on the
// process's cgroup and those above it) and RLIMIT_AS less the address space
// in use.
MemoryBudget available_memory();
// The least room the cgroup `cgroup` (a path as /proc/self/cgroup gives it)
// and those above it leave, in the hierarchy mounted at `root`: the maximum
// when none sets a limit.
uint64_t cgroup_memory_left(const std::filesystem::path& root, const std::string& cgroup, bool v1);

inline constexpr uint64_t kOtherBytes = uint64_t(256) << 20;
// What a training at options.batch_size allocates (fit and the run around it).
struct TrainingMemory {
  uint64_t arena = 0;    // activations, their gradients, saved floats and workspace (Model::arena_bytes_for)
  uint64_t weights = 0;  // parameters, their gradients and the optimizer's state
  uint64_t batches = 0;  // the loader's two batches, evaluation's one and the task's buffers
  // A checkpoint's copy of the weights and optimizer state while it is
  // written, and kOtherBytes for threads (stacks, malloc's arenas) and libraries.
  uint64_t other = 0;
  uint64_t total() const { return arena + weights + batches + other; }
};
TrainingMemory training_memory(Model& model, const Task& task, const TrainOptions& options);

// Throws Error when training_memory() is above the budget, with both
// figures and the largest batch size that fits.
void check_training_memory(Model& model, const Task& task, const TrainOptions& options, const MemoryBudget& budget);

// The arena an evaluation may size for its chunks.
inline constexpr size_t kEvaluationArenaBytes = size_t(256) << 20;
// The batch an evaluation asked for `batch_size` runs at: at most that, and
// at most what keeps a new arena within arena_budget (at least one image),
// or the batch the arena holds already, which costs nothing more. It moves
// the outputs no more than any batch size does (a GEMM's last bits). Throws
// Error when one image's arena is above both the budget and the memory
// available.
int evaluation_batch(Model& model, int batch_size, size_t arena_budget = kEvaluationArenaBytes);

// "12.3 GiB", "512.0 MiB", "300 bytes".
std::string format_bytes(uint64_t bytes);

}  // namespace mnistlab
