#pragma once
// Makes the next batch (shuffled, augmented) on its own thread while the
// caller trains on the current one, so augmentation costs the training step
// nothing. The batches are the loader's, whatever the timing: each image's
// augmentation stream depends on its place in the epoch only.
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "mnistlab/data.h"

namespace mnistlab {

class PrefetchLoader {
 public:
  explicit PrefetchLoader(BatchLoader& loader);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  // Start epoch `epoch` (0-based) after its first `skip` batches (a resume).
  void start_epoch(int epoch, size_t skip);
  // The next batch; its buffers stay valid until the following call.
  // Returns its size, 0 at the end of the epoch.
  int next(const float** images, const int32_t** labels);

 private:
  struct Slot {
    std::vector<float> images;
    std::vector<int32_t> labels;
    int count = 0;
  };
  void work();
  void request(int slot);        // with mutex_ held
  void wait_idle(std::unique_lock<std::mutex>& lock);

  BatchLoader& loader_;
  Slot slots_[2];
  int current_ = 0;
  int pending_ = -1;  // the slot the worker is to fill, -1: none
  bool ready_[2] = {false, false};
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable wake_worker_, wake_caller_;
  std::thread worker_;
};

}  // namespace mnistlab
