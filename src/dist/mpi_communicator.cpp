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

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "dist/launcher.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // MPI's own threads start with SIGINT and SIGTERM blocked, so those
      // signals reach the thread a command chose to take them (train's
      // stop-and-save), or the main thread, never one of MPI's.
      sigset_t stop_signals, before;
      sigemptyset(&stop_signals);
      sigaddset(&stop_signals, SIGINT);
      sigaddset(&stop_signals, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &stop_signals, &before);
      // Only the main thread calls MPI (the prefetching loader and OpenMP's
      // workers never do).
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      pthread_sigmask(SIG_SETMASK, &before, nullptr);
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
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

  void sum(float* data, size_t count) const override { allreduce(data, count, MPI_FLOAT, "sum of floats"); }
  void sum(double* data, size_t count) const override { allreduce(data, count, MPI_DOUBLE, "sum of doubles"); }

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
    for (long polls = 0;; ++polls) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) return;
      const double waited = std::chrono::duration<double>(clock::now() - start).count();
      if (waited > timeout_seconds()) {
        std::fprintf(stderr,
                     "error: rank %d of %d: the %s across ranks did not complete in %.0f s: another rank hangs, "
                     "died or failed; ending every rank\n",
                     rank_, size_, what, timeout_seconds());
        abort(1);
      }
      if (waited > 0.01) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::string library_;
};

}  // namespace

bool built_with_mpi() { return true; }

std::unique_ptr<Communicator> make_mpi_world() { return std::make_unique<MpiWorld>(); }

}  // namespace mnistlab
