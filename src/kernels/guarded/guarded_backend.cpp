#include "kernels/guarded/guarded_backend.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <utility>

#include "kernels/forwarding_backend.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// The blocks of one guarded backend, open (readable and writable) only
// while `depth` calls are under way. Its blocks may outlive the backend
// (a model keeps its storage), so they share it.
class Guard {
 public:
  void enter() {
    std::lock_guard lock(mutex_);
    if (depth_++ == 0)
      for (const auto& [at, bytes] : blocks_) protect(at, bytes, PROT_READ | PROT_WRITE);
  }
  void leave() {
    std::lock_guard lock(mutex_);
    if (--depth_ == 0)
      for (const auto& [at, bytes] : blocks_) protect(at, bytes, PROT_NONE);
  }
  // Blocks of 2 MiB or more are huge-page aligned and asked to be huge
  // pages: opening and closing 480 MB of 4 KiB pages took 35 ms on the
  // machine this was written on, of 2 MiB pages 0.16 ms, and a network's
  // parameters are opened for every call.
  void* map(size_t bytes) {
    void* at = nullptr;
    if (bytes >= kHugePage) {
      char* raw = static_cast<char*>(
          mmap(nullptr, bytes + kHugePage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      if (raw == MAP_FAILED) throw std::bad_alloc();
      char* aligned = raw + (kHugePage - reinterpret_cast<uintptr_t>(raw) % kHugePage) % kHugePage;
      if (aligned > raw) munmap(raw, size_t(aligned - raw));
      if (aligned + bytes < raw + bytes + kHugePage) munmap(aligned + bytes, size_t(raw + kHugePage - aligned));
      madvise(aligned, bytes, MADV_HUGEPAGE);  // advice: without it the guard is only slower
      at = aligned;
    } else {
      at = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (at == MAP_FAILED) throw std::bad_alloc();
    }
    std::lock_guard lock(mutex_);
    blocks_.insert({at, bytes});
    if (depth_ > 0) protect(at, bytes, PROT_READ | PROT_WRITE);  // allocated inside a call
    return at;
  }
  void unmap(void* at, size_t bytes) {
    std::lock_guard lock(mutex_);
    blocks_.erase({at, bytes});
    munmap(at, bytes);
  }

 private:
  static void protect(void* at, size_t bytes, int prot) {
    if (mprotect(at, bytes, prot) != 0)
      throw Error(std::string("guarded backend: mprotect failed: ") + std::strerror(errno));
  }
  std::mutex mutex_;
  int depth_ = 0;
  std::set<std::pair<void*, size_t>> blocks_;
};

size_t whole_pages(size_t bytes) {
  const size_t page = bytes >= kHugePage ? kHugePage : size_t(sysconf(_SC_PAGESIZE));
  return (std::max<size_t>(bytes, 1) + page - 1) / page * page;
}

class GuardedStorage final : public Storage {
 public:
  GuardedStorage(std::shared_ptr<Guard> guard, size_t bytes) : guard_(std::move(guard)), mapped_(whole_pages(bytes)) {
    bytes_ = bytes;
    data_ = guard_->map(mapped_);  // anonymous pages are zero
  }
  ~GuardedStorage() override { guard_->unmap(data_, mapped_); }

 private:
  std::shared_ptr<Guard> guard_;
  size_t mapped_;
};

class GuardedKernel final : public ConvKernel {
 public:
  GuardedKernel(std::unique_ptr<ConvKernel> inner, std::shared_ptr<Guard> guard)
      : inner_(std::move(inner)), guard_(std::move(guard)) {}
  std::string route() const override { return inner_->route(); }
  size_t saved_floats() const override { return inner_->saved_floats(); }
  size_t workspace_floats() const override { return inner_->workspace_floats(); }
  void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine, bool relu,
               float* y, KernelMemory memory) override {
    Open open(*guard_);
    inner_->forward(x, n, weight, bias, affine, relu, y, memory);
  }
  void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias, float* dx,
                KernelMemory memory) override {
    Open open(*guard_);
    inner_->backward(x, dy, n, weight, dweight, dbias, dx, memory);
  }

 private:
  struct Open {
    explicit Open(Guard& g) : g_(g) { g_.enter(); }
    ~Open() { g_.leave(); }
    Guard& g_;
  };
  std::unique_ptr<ConvKernel> inner_;
  std::shared_ptr<Guard> guard_;
};

class GuardedBackend final : public ForwardingBackend {
 public:
  explicit GuardedBackend(std::unique_ptr<Backend> inner)
      : ForwardingBackend(std::move(inner)), guard_(std::make_shared<Guard>()) {}

  std::unique_ptr<Storage> allocate(size_t bytes) const override {
    return std::make_unique<GuardedStorage>(guard_, bytes);
  }

 protected:
  void enter(const char*) const override { guard_->enter(); }
  void leave() const override { guard_->leave(); }
  std::unique_ptr<ConvKernel> kernel(std::unique_ptr<ConvKernel> planned) const override {
    return std::make_unique<GuardedKernel>(std::move(planned), guard_);
  }

 private:
  std::shared_ptr<Guard> guard_;
};

}  // namespace

std::unique_ptr<Backend> make_guarded_backend(std::unique_ptr<Backend> inner) {
  return std::make_unique<GuardedBackend>(std::move(inner));
}

}  // namespace mnistlab
