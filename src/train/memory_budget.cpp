#include "train/memory_budget.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

// The file's first number; nothing for a missing file or "max" (cgroup v2's no limit).
std::optional<uint64_t> read_number(const fs::path& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  if (in >> value) return value;
  return std::nullopt;
}

void lower_to(MemoryBudget& b, uint64_t limit, uint64_t used, const std::string& source) {
  const uint64_t left = limit > used ? limit - used : 0;
  if (left < b.bytes) b = {left, source};
}

bool lists(const std::string& controllers, const char* name) {
  std::istringstream list(controllers);
  for (std::string c; std::getline(list, c, ',');)
    if (c == name) return true;
  return false;
}

// The largest n in [lo, hi] with fits(n), given fits(lo): a bisection, as
// memory grows with the batch.
template <class Fits>
int largest_fitting(int lo, int hi, Fits fits) {
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// The optimizer's buffers, as optim/ creates them: Adam's two moments,
// SGD's momentum buffer once it has a momentum (onecycle cycles one in).
uint64_t optimizer_state_floats(const TrainOptions& o, uint64_t parameters) {
  if (o.optimizer.kind != OptimizerKind::Sgd) return 2 * parameters;
  return o.optimizer.momentum != 0 || o.schedule.kind == ScheduleKind::OneCycle ? parameters : 0;
}

}  // namespace

// A cgroup's limit applies to everything below it: the process's cgroup
// and each one above it, up to the hierarchy's root, may set one. v1 says
// "no limit" with a number near 2^63, v2 with "max".
uint64_t cgroup_memory_left(const std::filesystem::path& root, const std::string& cgroup, bool v1) {
  const char* limit_file = v1 ? "memory.limit_in_bytes" : "memory.max";
  const char* usage_file = v1 ? "memory.usage_in_bytes" : "memory.current";
  uint64_t left = std::numeric_limits<uint64_t>::max();
  if (!fs::exists(root)) return left;
  const fs::path below = fs::path(cgroup).relative_path().lexically_normal();
  for (fs::path dir = below.empty() || below == "." ? root : root / below;; dir = dir.parent_path()) {
    const std::optional<uint64_t> limit = read_number(dir / limit_file), used = read_number(dir / usage_file);
    if (limit && used && *limit < (uint64_t(1) << 62)) left = std::min(left, *limit > *used ? *limit - *used : 0);
    if (dir == root || !dir.has_relative_path() || dir.parent_path() == dir) return left;
  }
}

MemoryBudget available_memory() {
  MemoryBudget b;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    uint64_t kib = 0;
    if (key == "MemAvailable:" && meminfo >> kib) lower_to(b, kib * 1024, 0, "MemAvailable in /proc/meminfo");
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  // "0::/path" is the v2 cgroup, "N:memory:/path" (or "N:...,memory,...:/path") v1's memory controller.
  std::ifstream cgroups("/proc/self/cgroup");
  for (std::string line; std::getline(cgroups, line);) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
    if (controllers.empty()) {
      for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
        lower_to(b, cgroup_memory_left(root, path, false), 0, "the cgroup's memory.max less memory.current");
    } else if (lists(controllers, "memory")) {
      lower_to(b, cgroup_memory_left("/sys/fs/cgroup/memory", path, true), 0,
               "the cgroup's memory.limit_in_bytes less memory.usage_in_bytes");
    }
  }
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const std::optional<uint64_t> pages = read_number("/proc/self/statm");  // first: the address space, in pages
    lower_to(b, as.rlim_cur, pages.value_or(0) * uint64_t(sysconf(_SC_PAGESIZE)),
             "RLIMIT_AS (ulimit -v) less the address space in use");
  }
  return b;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = double(bytes) / 1024;
  int unit = 0;
  for (; value >= 1024 && unit < 4; ++unit) value /= 1024;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

TrainingMemory training_memory(Model& model, const Task& task, const TrainOptions& options) {
  // fit() reserves the arena for the larger of the two batches, with gradients.
  const uint64_t batch = uint64_t(options.batch_size);
  const uint64_t eval_batch = options.eval_batch_size > 0 ? uint64_t(options.eval_batch_size) : batch;
  const uint64_t parameters = model.parameter_count();
  TrainingMemory m;
  m.arena = model.arena_bytes_for(int(std::max(batch, eval_batch)), true);
  const uint64_t state = optimizer_state_floats(options, parameters);
  m.weights = (2 * parameters + state) * sizeof(float);
  m.other = (parameters + state) * sizeof(float) + kOtherBytes;
  // An image and its label (int32, a float's size) per sample.
  const uint64_t sample = uint64_t(model.input_shape().numel()) + 1;
  m.batches = ((2 * batch + eval_batch) * sample + task.batch_floats(model, int(batch))) * sizeof(float);
  return m;
}

void check_training_memory(Model& model, const Task& task, const TrainOptions& options, const MemoryBudget& budget) {
  const TrainingMemory need = training_memory(model, task, options);
  if (need.total() <= budget.bytes) return;
  TrainOptions smaller = options;
  const auto fits = [&](int n) {
    smaller.batch_size = n;
    return training_memory(model, task, smaller).total() <= budget.bytes;
  };
  std::string advice = "not even batch size 1 fits";
  if (options.batch_size > 1 && fits(1)) {
    const int n = largest_fitting(1, options.batch_size - 1, fits);
    smaller.batch_size = n;
    advice = "the largest batch size that fits is " + std::to_string(n) + " (" +
             format_bytes(training_memory(model, task, smaller).total()) + ")";
  }
  std::ostringstream m;
  m << "training at batch size " << options.batch_size;
  if (options.eval_batch_size > options.batch_size) m << " (evaluation batch " << options.eval_batch_size << ")";
  m << " needs " << format_bytes(need.total()) << " (" << need.total() << " bytes: activations, their gradients and "
    << "workspace " << format_bytes(need.arena) << ", parameters, gradients and optimizer state "
    << format_bytes(need.weights) << ", batches " << format_bytes(need.batches) << ", checkpoint copy and threads "
    << format_bytes(need.other) << ") but " << format_bytes(budget.bytes)
    << " (" << budget.bytes << " bytes) is available (" << budget.source << "); " << advice;
  throw Error(m.str());
}

int evaluation_batch(Model& model, int batch_size, size_t arena_budget) {
  if (batch_size <= model.capacity()) return batch_size;
  // An arena once reserved with gradients keeps them (Model::reserve).
  const auto fits = [&](int n) { return model.arena_bytes_for(n, model.has_gradients()) <= arena_budget; };
  if (fits(batch_size)) return batch_size;
  const int least = std::max(1, model.capacity());
  if (least > 1 || fits(1)) return largest_fitting(least, batch_size - 1, fits);
  const uint64_t one = model.arena_bytes_for(1, model.has_gradients());
  const MemoryBudget available = available_memory();
  if (one > available.bytes)
    throw Error("one image needs " + format_bytes(one) + " of activations and workspace, but " +
                format_bytes(available.bytes) + " is available (" + available.source + ")");
  return 1;
}

}  // namespace mnistlab
