// MPI_COMM_WORLD as a Communicator. Collectives are started non-blocking and
// polled against a deadline, so a rank that hangs or took another branch
// ends the run with an error instead of a hang; a rank that dies is seen by
// the launcher, which ends the others (mpirun names the rank).
// The C API only: Open MPI would otherwise pull in its deprecated C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "dist/launcher.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

// The shared-memory windows (sum_in_shared_memory's and the ranks' arrival
// counts and heartbeats), freed before MPI_Finalize.
MPI_Win g_window = MPI_WIN_NULL, g_arrivals = MPI_WIN_NULL;

// A rank whose heartbeat is older than this while another waits on it is
// stopped or hung as a whole process (a rank that is only slow, even in a
// long checkpoint, keeps beating).
constexpr double kSilentSeconds = 10;
constexpr auto kBeatEvery = std::chrono::milliseconds(250);

// Each rank's heartbeat: a thread that writes CLOCK_MONOTONIC (one clock
// for every process of a machine) into the rank's shared slot, stopped
// before the window is freed.
struct Heartbeat {
  std::atomic<bool> stop{false};
  std::thread thread;
  void start(int64_t* slot) {
    thread = std::thread([this, slot] {
      for (; !stop.load(); std::this_thread::sleep_for(kBeatEvery))
        std::atomic_ref<int64_t>(*slot).store(monotonic_ns());
    });
  }
  void end() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  static int64_t monotonic_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
  }
};
Heartbeat g_heartbeat;

// While it lives, this thread has SIGINT and SIGTERM blocked, and so do the
// threads it starts: MPI's and the heartbeat's, so those signals reach the
// thread a command chose to take them (train's stop-and-save), or the main
// thread, never one of these.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &before_);
  }
  ~StopSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &before_, nullptr); }

 private:
  sigset_t before_;
};

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // Only the main thread calls MPI (the prefetching loader and OpenMP's
      // workers never do).
      {
        const StopSignalsBlocked in_mpi_threads;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      }
      std::atexit([] {
        g_heartbeat.end();
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (finalized) return;
        if (g_window != MPI_WIN_NULL) MPI_Win_free(&g_window);
        if (g_arrivals != MPI_WIN_NULL) MPI_Win_free(&g_arrivals);
        MPI_Finalize();
      });
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_);
    MPI_Comm_size(node_, &local_size_);
    if (local_size_ == size_ && size_ > 1) {
      // Each rank's count of collectives entered and its heartbeat, where
      // every rank can read them: a rank that waits names the ranks that
      // never arrived, and ends the run within seconds when one of them has
      // stopped beating.
      int64_t* mine = nullptr;
      MPI_Win_allocate_shared(2 * sizeof(int64_t), int(sizeof(int64_t)), MPI_INFO_NULL, node_, &mine, &g_arrivals);
      mine[0] = 0;
      mine[1] = Heartbeat::monotonic_ns();
      arrivals_.assign(size_t(size_), nullptr);
      for (int r = 0; r < size_; ++r) {
        MPI_Aint bytes = 0;
        int unit = 0;
        MPI_Win_shared_query(g_arrivals, r, &bytes, &unit, &arrivals_[size_t(r)]);
      }
      MPI_Barrier(node_);
      const StopSignalsBlocked in_heartbeat_thread;
      g_heartbeat.start(mine + 1);
    }
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_ = std::string(version, size_t(length));
    if (const size_t comma = library_.find(','); comma != std::string::npos) library_.resize(comma);
    while (!library_.empty() && (library_.back() == '\n' || library_.back() == ' ')) library_.pop_back();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void sum(float* data, size_t count) const override {
    // Every rank on this machine: through memory they share (see sum_in_shared_memory).
    if (local_size_ == size_ && size_ > 1 && count >= kSharedMemoryMinFloats) return sum_in_shared_memory(data, count);
    allreduce(data, count, MPI_FLOAT, "sum of floats");
  }
  void sum(double* data, size_t count) const override { allreduce(data, count, MPI_DOUBLE, "sum of doubles"); }

  void sum_slice(float* data, size_t count) const override {
    if (count < size_t(size_) || count / size_t(size_) > kMaxChunk / sizeof(float)) return sum(data, count);
    if (local_size_ == size_ && count >= kSharedMemoryMinFloats) return sum_slice_in_shared_memory(data, count);
    std::vector<int> counts(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) counts[size_t(r)] = int(slice_of(r, count).end - slice_of(r, count).first);
    // MPI_IN_PLACE: the sums land at the start of data; this rank's slice is further on.
    MPI_Request request;
    MPI_Ireduce_scatter(MPI_IN_PLACE, data, counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    wait(request, "sum of gradient slices");
    const Share mine = slice(count);
    std::memmove(data + mine.first, data, (mine.end - mine.first) * sizeof(float));
  }

  void gather_slices(float* data, size_t count) const override {
    if (count / size_t(size_) > kMaxChunk / sizeof(float)) {
      // Larger than MPI's int counts: each rank's slice in turn from it.
      for (int r = 0; r < size_; ++r) {
        const Share s = slice_of(r, count);
        for (size_t done = s.first; done < s.end;) {
          const int chunk = int(std::min(s.end - done, kMaxChunk / sizeof(float)));
          MPI_Request request;
          MPI_Ibcast(data + done, chunk, MPI_FLOAT, r, MPI_COMM_WORLD, &request);
          wait(request, "gather of parameter slices");
          done += size_t(chunk);
        }
      }
      return;
    }
    if (local_size_ == size_ && count >= kSharedMemoryMinFloats) return gather_in_shared_memory(data, count);
    std::vector<int> counts(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      offsets[size_t(r)] = int(slice_of(r, count).first);
      counts[size_t(r)] = int(slice_of(r, count).end - slice_of(r, count).first);
    }
    MPI_Request request;
    MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), offsets.data(), MPI_FLOAT,
                    MPI_COMM_WORLD, &request);
    wait(request, "gather of parameter slices");
  }

  void broadcast(void* data, size_t bytes) const override {
    auto* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes;) {
      const int chunk = int(std::min<size_t>(bytes - done, kMaxChunk));
      MPI_Request request;
      MPI_Ibcast(p + done, chunk, MPI_BYTE, 0, MPI_COMM_WORLD, &request);
      wait(request, "broadcast from rank 0");
      done += size_t(chunk);
    }
  }

  [[noreturn]] void abort(int code) const override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

  std::string describe() const override {
    return std::to_string(size_) + (size_ == 1 ? " process" : " processes") + " (" + library_ + ")";
  }

 private:
  static constexpr size_t kMaxChunk = size_t(1) << 30;  // MPI counts are int
  static constexpr size_t kSharedMemoryMinFloats = size_t(1) << 16;

  // The gradients' sum when all ranks share one machine: each copies its
  // values into a window of memory every rank can read, sums its slice over
  // all ranks' windows (in rank order, so every rank gets the same bits),
  // and copies the other slices' sums back. Open MPI's MPI_Allreduce moves
  // the data through its own buffers in more passes: on a 2-core Zen 4, 2
  // ranks summed vgg-bn's 121 MB in 34 ms this way against 57 ms
  // (bench/README.md, "Data parallel").
  void sum_in_shared_memory(float* data, size_t count) const {
    sum_slice_into(data, count, true);
    gather_from_windows(data, count);
  }
  void sum_slice_in_shared_memory(float* data, size_t count) const { sum_slice_into(data, count, false); }
  void gather_in_shared_memory(float* data, size_t count) const {
    if (count > window_floats_) allocate_window(count);
    const Share mine = slice(count);
    std::memcpy(windows_[size_t(rank_)] + mine.first, data + mine.first, (mine.end - mine.first) * sizeof(float));
    node_barrier();
    gather_from_windows(data, count);
  }

  // This rank's slice of the sums, in rank order (every rank gets the same
  // bits), into data (and into its window when the others will read it).
  void sum_slice_into(float* data, size_t count, bool publish) const {
    if (count > window_floats_) allocate_window(count);
    std::memcpy(windows_[size_t(rank_)], data, count * sizeof(float));
    node_barrier();
    const Share mine = slice(count);
    constexpr size_t kBlock = 1024;  // on the stack: a step allocates nothing
    float block[kBlock];
    for (size_t at = mine.first; at < mine.end; at += kBlock) {
      const size_t n = std::min(kBlock, mine.end - at);
      std::memcpy(block, windows_[0] + at, n * sizeof(float));
      for (int r = 1; r < size_; ++r) {
        const float* theirs = windows_[size_t(r)] + at;
        for (size_t i = 0; i < n; ++i) block[i] += theirs[i];
      }
      std::memcpy(data + at, block, n * sizeof(float));
    }
    // Every rank has read this rank's window before it is written again.
    node_barrier();
    if (!publish) return;
    std::memcpy(windows_[size_t(rank_)] + mine.first, data + mine.first, (mine.end - mine.first) * sizeof(float));
    node_barrier();
  }

  // The other ranks' slices from their windows; then no rank may write its
  // window again before every rank has read it.
  void gather_from_windows(float* data, size_t count) const {
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      const Share s = slice_of(r, count);
      std::memcpy(data + s.first, windows_[size_t(r)] + s.first, (s.end - s.first) * sizeof(float));
    }
    node_barrier();
  }

  void allocate_window(size_t count) const {
    if (g_window != MPI_WIN_NULL) MPI_Win_free(&g_window);
    float* mine = nullptr;
    MPI_Win_allocate_shared(MPI_Aint(count * sizeof(float)), int(sizeof(float)), MPI_INFO_NULL, node_, &mine,
                            &g_window);
    windows_.assign(size_t(size_), nullptr);
    for (int r = 0; r < size_; ++r) {
      MPI_Aint bytes = 0;
      int unit = 0;
      MPI_Win_shared_query(g_window, r, &bytes, &unit, &windows_[size_t(r)]);
    }
    window_floats_ = count;
  }

  void node_barrier() const {
    MPI_Request request;
    MPI_Ibarrier(node_, &request);
    wait(request, "barrier of the ranks on this machine");
  }

  void allreduce(void* data, size_t count, MPI_Datatype type, const char* what) const {
    int type_size = 0;
    MPI_Type_size(type, &type_size);
    auto* p = static_cast<char*>(data);
    const size_t per_chunk = kMaxChunk / size_t(type_size);
    for (size_t done = 0; done < count;) {
      const int chunk = int(std::min(count - done, per_chunk));
      MPI_Request request;
      MPI_Iallreduce(MPI_IN_PLACE, p + done * size_t(type_size), chunk, type, MPI_SUM, MPI_COMM_WORLD, &request);
      wait(request, what);
      done += size_t(chunk);
    }
  }

  // Polls, first busily (a step's allreduce is a few milliseconds), then
  // sleeping a little between tests so a rank waiting on rank 0's
  // checkpoint does not take a core from it.
  void wait(MPI_Request& request, const char* what) const {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    ++entered_;
    if (!arrivals_.empty()) std::atomic_ref<int64_t>(*arrivals_[size_t(rank_)]).store(entered_);
    for (long polls = 0;; ++polls) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) return;
      const double waited = std::chrono::duration<double>(clock::now() - start).count();
      if (waited > timeout_seconds()) {
        std::fprintf(stderr, "error: rank %d of %d: the %s across ranks did not complete in %.0f s: %s; ending every rank\n",
                     rank_, size_, what, timeout_seconds(), missing().c_str());
        abort(1);
      }
      if (waited > 1 && polls % 1000 == 0) {
        if (const std::string silent = silent_ranks(); !silent.empty()) {
          std::fprintf(stderr,
                       "error: rank %d of %d: waiting in the %s across ranks, %s for %.0f s (stopped or hung); "
                       "ending every rank\n",
                       rank_, size_, what, silent.c_str(), kSilentSeconds);
          abort(1);
        }
      }
      if (waited > 0.01) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // "rank 1", "ranks 1, 2": the ranks for which `pick(r)` holds, as far as
  // this machine's shared slots tell; "" for none.
  template <class Pick>
  std::string ranks_where(Pick pick) const {
    std::string list;
    for (int r = 0; r < size_ && !arrivals_.empty(); ++r)
      if (pick(arrivals_[size_t(r)], r)) list += (list.empty() ? "" : ", ") + std::to_string(r);
    if (list.empty()) return "";
    return (list.find(',') == std::string::npos ? "rank " : "ranks ") + list;
  }

  // "rank 1 gave no sign of life" for the ranks whose heartbeat stopped, or "".
  std::string silent_ranks() const {
    const int64_t now = Heartbeat::monotonic_ns();
    const std::string silent = ranks_where([&](int64_t* slot, int r) {
      return r != rank_ && double(now - std::atomic_ref<int64_t>(slot[1]).load()) > kSilentSeconds * 1e9;
    });
    return silent.empty() ? "" : silent + " gave no sign of life";
  }

  // Who has not reached the collective this rank waits in.
  std::string missing() const {
    const std::string late =
        ranks_where([&](int64_t* slot, int) { return std::atomic_ref<int64_t>(slot[0]).load() < entered_; });
    return late.empty() ? "another rank hangs, died or failed" : late + " never reached it (hung or stopped)";
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::string library_;
  // Every rank's [count of collectives entered, heartbeat] (one machine only).
  std::vector<int64_t*> arrivals_;
  mutable int64_t entered_ = 0;
  MPI_Comm node_ = MPI_COMM_NULL;  // the ranks on this machine
  mutable std::vector<float*> windows_;  // every rank's part of g_window, as this rank sees it
  mutable size_t window_floats_ = 0;
};

}  // namespace

bool built_with_mpi() { return true; }

std::unique_ptr<Communicator> make_mpi_world() { return std::make_unique<MpiWorld>(); }

}  // namespace mnistlab
