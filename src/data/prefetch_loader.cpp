#include "data/prefetch_loader.h"

#include <utility>

namespace mnistlab {

PrefetchLoader::PrefetchLoader(BatchLoader& loader) : loader_(loader) {
  for (Slot& s : slots_) {
    s.images.resize(size_t(loader.batch_size()) * loader.image_size());
    s.labels.resize(size_t(loader.batch_size()));
  }
  worker_ = std::thread([this] { work(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_worker_.notify_one();
  worker_.join();
}

void PrefetchLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_worker_.wait(lock, [&] { return stop_ || pending_ >= 0; });
    if (stop_) return;
    const int slot = pending_;
    pending_ = -1;
    busy_ = true;
    lock.unlock();
    Slot& s = slots_[slot];
    try {
      s.count = loader_.next(s.images.data(), s.labels.data());
    } catch (...) {
      s.count = 0;
      lock.lock();
      error_ = std::current_exception();
      lock.unlock();
    }
    lock.lock();
    busy_ = false;
    ready_[slot] = true;
    wake_caller_.notify_one();
  }
}

void PrefetchLoader::request(int slot) {
  ready_[slot] = false;
  pending_ = slot;
  wake_worker_.notify_one();
}

void PrefetchLoader::wait_idle(std::unique_lock<std::mutex>& lock) {
  wake_caller_.wait(lock, [&] { return !busy_ && pending_ < 0; });
}

void PrefetchLoader::start_epoch(int epoch, size_t skip) {
  std::unique_lock<std::mutex> lock(mutex_);
  wait_idle(lock);  // the loader is the worker's while it fills a slot
  loader_.start_epoch(epoch);
  loader_.skip_batches(skip);
  current_ = 0;
  ready_[1] = false;
  request(0);
}

int PrefetchLoader::next(const float** images, const int32_t** labels) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_caller_.wait(lock, [&] { return ready_[current_]; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  const Slot& s = slots_[current_];
  if (s.count == 0) return 0;
  // The other slot held the batch before this one, which the caller is done with.
  request(1 - current_);
  *images = s.images.data();
  *labels = s.labels.data();
  current_ = 1 - current_;
  return s.count;
}

}  // namespace mnistlab
